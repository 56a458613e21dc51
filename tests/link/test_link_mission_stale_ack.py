"""Download after an upload: a stale error ACK (an answer to a late duplicate of the finished
upload) must not abort the verification; a refusal the vehicle repeats still does."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from typing import Any

import pytest
from pymavlink.dialects.v20 import ardupilotmega as mav

from dronekit_plzen.errors import MissionTransferError, ProtocolError
from dronekit_plzen.link.mission import REFUSALS_FINAL, TransferPolicy, download


class ScriptedVehicle:
    """An in-process MissionPort: answers each message we send with the script's replies."""

    def __init__(self, script: Callable[[Any, int], list[Any]]) -> None:
        self.script = script
        self.gcs = mav.MAVLink(None, srcSystem=255, srcComponent=190)
        self.vehicle = mav.MAVLink(None, srcSystem=1, srcComponent=1)
        self.inbox: deque[Any] = deque()
        self.sent: list[Any] = []

    @property
    def mav(self) -> Any:
        return self.gcs

    @property
    def target(self) -> tuple[int, int]:
        return (1, 1)

    @property
    def loss_fraction(self) -> float:
        return 0.0

    def send_to_vehicle(self, msg: Any) -> None:
        self.sent.append(msg)
        n = sum(1 for m in self.sent if m.get_type() == msg.get_type())
        self.inbox.extend(self.script(msg, n))

    def next_mission_message(self, timeout_s: float) -> Any | None:
        return self.inbox.popleft() if self.inbox else None


def _item(v: mav.MAVLink, seq: int) -> Any:
    return v.mission_item_int_encode(
        255,
        190,
        seq,
        6,
        16,
        0,
        1,
        0,
        0,
        0,
        float("nan"),
        int((49.79 + seq * 1e-4) * 1e7),
        int(13.39 * 1e7),
        60.0,
        0,
    )


POLICY = TransferPolicy(timeout_s=0.05, item_timeout_s=0.02, retries=3)


def test_a_stale_error_ack_before_the_count_is_asked_again() -> None:
    def script(msg: Any, n: int) -> list[Any]:
        v = port.vehicle
        if msg.get_type() == "MISSION_REQUEST_LIST":
            if n == 1:  # the NACK of a late duplicate item, then the lost first answer
                return [v.mission_ack_encode(255, 190, mav.MAV_MISSION_ERROR, 0)]
            return [v.mission_count_encode(255, 190, 3, 0)]
        if msg.get_type() == "MISSION_REQUEST_INT":
            return [_item(v, msg.seq)]
        return []

    port = ScriptedVehicle(script)
    items = download(port, 0, policy=POLICY)
    assert [round(it.lat_deg, 4) for it in items] == [49.79, 49.7901, 49.7902]
    assert sum(m.get_type() == "MISSION_REQUEST_LIST" for m in port.sent) == 2


def test_two_stale_error_acks_before_the_count_are_asked_again() -> None:
    """A vehicle that re-requested the upload's last items under load NACKs each late duplicate:
    two stale NACKs (seen on the ArduPilot flavour at 12x on a busy machine) are not a refusal."""

    def script(msg: Any, n: int) -> list[Any]:
        v = port.vehicle
        if msg.get_type() == "MISSION_REQUEST_LIST":
            if n == 1:
                return [v.mission_ack_encode(255, 190, mav.MAV_MISSION_ERROR, 0)] * 2
            return [v.mission_count_encode(255, 190, 2, 0)]
        if msg.get_type() == "MISSION_REQUEST_INT":
            return [_item(v, msg.seq)]
        return []

    port = ScriptedVehicle(script)
    assert len(download(port, 0, policy=POLICY)) == 2


def test_a_stale_error_ack_during_the_items_is_asked_again() -> None:
    def script(msg: Any, n: int) -> list[Any]:
        v = port.vehicle
        if msg.get_type() == "MISSION_REQUEST_LIST":
            return [v.mission_count_encode(255, 190, 2, 0)]
        if msg.get_type() == "MISSION_REQUEST_INT":
            if msg.seq == 1 and n == 2:
                return [v.mission_ack_encode(255, 190, mav.MAV_MISSION_ERROR, 0)]
            return [_item(v, msg.seq)]
        return []

    port = ScriptedVehicle(script)
    assert len(download(port, 0, policy=POLICY)) == 2


@pytest.mark.parametrize("stage", ["count", "item"])
def test_a_repeated_refusal_is_final_and_typed(stage: str) -> None:
    def script(msg: Any, n: int) -> list[Any]:
        v = port.vehicle
        deny = [v.mission_ack_encode(255, 190, mav.MAV_MISSION_DENIED, 0)]
        if msg.get_type() == "MISSION_REQUEST_LIST":
            return deny if stage == "count" else [v.mission_count_encode(255, 190, 2, 0)]
        if msg.get_type() == "MISSION_REQUEST_INT":
            return deny
        return []

    port = ScriptedVehicle(script)
    with pytest.raises(MissionTransferError) as ei:
        download(port, 0, policy=POLICY)
    assert ei.value.mission_result == mav.MAV_MISSION_DENIED
    asked = [
        m for m in port.sent if m.get_type() in ("MISSION_REQUEST_LIST", "MISSION_REQUEST_INT")
    ]
    # refused REFUSALS_FINAL times (after the count: plus the list request), not retried to the
    # end of the retry budget
    assert len(asked) <= REFUSALS_FINAL + (stage == "item")


@pytest.mark.parametrize(("count", "refused"), [(255, False), (256, True), (65535, True)])
def test_more_rally_points_than_any_autopilot_holds_are_not_downloaded(
    count: int, refused: bool
) -> None:
    """A hostile or damaged vehicle announced 65,535 rally points: ``fly`` downloaded them all
    (8 s, 147 MB on loopback; one answered just before each timeout would hold the link for
    hours). ArduPilot indexes rally points by a byte, PX4 keeps 32: more than 255 is refused
    and the transfer cancelled."""

    def script(msg: Any, n: int) -> list[Any]:
        v = port.vehicle
        if msg.get_type() == "MISSION_REQUEST_LIST":
            return [v.mission_count_encode(255, 190, count, 2)]
        if msg.get_type() == "MISSION_REQUEST_INT":
            it = _item(v, msg.seq)
            it.mission_type = 2
            return [it]
        return []

    port = ScriptedVehicle(script)
    if not refused:
        assert len(download(port, 2, policy=POLICY)) == count
        return
    with pytest.raises(ProtocolError, match=f"announced {count} rally points"):
        download(port, 2, policy=POLICY)
    assert not any(m.get_type() == "MISSION_REQUEST_INT" for m in port.sent)
    cancel = [m for m in port.sent if m.get_type() == "MISSION_ACK"]
    assert [(m.type, m.mission_type) for m in cancel] == [(mav.MAV_MISSION_OPERATION_CANCELLED, 2)]
