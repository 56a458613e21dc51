"""What real firmware answered and stored for every mission command we probed, and both of our
models of it: the link layer's verification (``mission_packing``) and the simulator.

``data/firmware_command_probe.json`` is written by the interop check
``test_command_acceptance_and_storage_match_the_models`` (``make interop``): on ArduCopter
4.7.0-dev and PX4 v1.16.0 SITL each of 67 commands was uploaded alone (after a takeoff and a
waypoint), in the mission frame and in a global frame, with fractional and signed parameters,
and downloaded again. Before this table the simulator refused 27 commands ArduCopter takes
(DO_SET_SERVO, DO_GRIPPER, NAV_PAYLOAD_PLACE, DO_WINCH ...) and 12 PX4 takes, and the link's
verification would have failed a correct upload of DO_MOUNT_CONTROL, LOITER_TO_ALT, a spline
waypoint or an ROI to real ArduCopter (their stored form was mispredicted).
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest

from dronekit_plzen.link import mission_packing as packing
from dronekit_plzen.mission_items import MissionItem, canonical_frame
from simulators.mission_store import MISSION_ACCEPTED, upload_result

TABLE = json.loads((Path(__file__).parent / "data" / "firmware_command_probe.json").read_text())
AUTOPILOT = {"arducopter": "ardupilot", "px4": "px4"}


def _rows() -> list[Any]:
    out = []
    for fw in ("arducopter", "px4"):
        for row in TABLE[fw]:
            out.append(pytest.param(fw, row, id=f"{fw}-{row[0]}-{row[1]}-frame{row[2]}"))
    return out


def _item(command: int, frame: int, params: list[float], xyz: list[float]) -> MissionItem:
    return MissionItem(command, frame, *params, *xyz)  # type: ignore[arg-type]


def _differs(expected: MissionItem, got: MissionItem) -> list[str]:
    out = [] if canonical_frame(expected.frame) == canonical_frame(got.frame) else ["frame"]
    if expected.command != got.command:
        out.append("command")
    for name, tol in packing.TOLERANCES.items():
        e, g = getattr(expected, name), getattr(got, name)
        same = (math.isnan(e) and math.isnan(g)) or abs(e - g) <= max(
            tol[0], tol[1] * max(abs(e), abs(g))
        )
        if not same:
            out.append(name)
    return out


@pytest.mark.parametrize(("fw", "row"), _rows())
def test_models_match_the_firmware(fw: str, row: list[Any]) -> None:
    command, _name, frame, params, xyz, wire_frame, result = row[:7]
    autopilot = AUTOPILOT[fw]
    sent = _item(command, frame, params, xyz)
    wire = packing.for_autopilot(sent, autopilot)
    assert wire.frame == wire_frame  # PX4: a command without a position goes in frame 2
    sim_result, sim_stored = upload_result(wire, autopilot)
    assert sim_result == result
    if result != MISSION_ACCEPTED:
        return
    back_frame, back_params, back_xyz = row[7:]
    back = _item(command, back_frame, back_params, back_xyz)
    back = back.with_(command=201 if command == 80 and fw == "px4" else command)  # NAV_ROI
    # the link's verification expects exactly what the firmware read back ...
    assert packing.item_diffs(wire, back, autopilot) == ()
    # ... and the simulator stores it so
    assert sim_stored is not None
    assert _differs(back, sim_stored) == []


def test_the_table_covers_what_the_toolkit_writes() -> None:
    """Every command the planners and file readers produce was probed on both firmwares."""
    from dronekit_plzen import mission_items as mi

    probed = {row[0] for row in TABLE["arducopter"]} & {row[0] for row in TABLE["px4"]}
    ours = mi.NAV_COMMANDS | mi.QUIET_COMMANDS | {mi.CMD_DO_JUMP, mi.CMD_DO_SET_HOME}
    missing = ours - probed - {mi.CMD_NAV_TAKEOFF, mi.CMD_NAV_RETURN_TO_LAUNCH}
    assert not missing, sorted(missing)
