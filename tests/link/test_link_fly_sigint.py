"""Ctrl-C during ``dronekit-plzen fly``: a real SIGINT to a real process flying the simulator.

The pilot is asked whether to return to launch; "y" commands RTL, "n" leaves the vehicle flying
its mission. Either way the command exits 130 without a traceback.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from dkp_testkit import sigint_as_at_a_terminal

from dronekit_plzen.mission_items import (
    CMD_NAV_RETURN_TO_LAUNCH,
    CMD_NAV_TAKEOFF,
    CMD_NAV_WAYPOINT,
    MissionItem,
)


def _long_plan(path: Path, lat: float, lon: float, amsl: float) -> Path:
    from missions.formats import save_mission
    from missions.model import Mission

    items = [MissionItem(command=CMD_NAV_TAKEOFF, alt_m=30.0)]
    items += [  # a 1.6 km zig-zag: minutes of simulated flight, within px4-quad's endurance
        # at its cruise speed of 5 m/s (PX4's MPC_XY_CRUISE), which the guard times it at
        MissionItem(
            command=CMD_NAV_WAYPOINT,
            lat_deg=lat + 2e-3 * k,
            lon_deg=lon + (2e-3 if k % 2 else 0.0),
            alt_m=30.0,
        )
        for k in range(1, 7)
    ]
    items.append(MissionItem(command=CMD_NAV_RETURN_TO_LAUNCH, frame=2))  # MAV_FRAME_MISSION
    return save_mission(Mission(items=items, home=(lon, lat, amsl)), path)


@pytest.mark.parametrize(("answer", "mode_after"), [("y", "AUTO.RTL"), ("n", "AUTO.MISSION")])
def test_sigint_asks_whether_to_rtl(
    tmp_path: Path, sim_factory: Any, sim_url_of: Any, answer: str, mode_after: str
) -> None:
    sim = sim_factory(1, "px4", speedup=5.0)
    st = sim.vehicles[0].state
    lat, lon, amsl = st.home_lat_deg, st.home_lon_deg, st.home_alt_amsl_m
    plan = _long_plan(tmp_path / "long.plan", lat, lon, amsl)
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "dronekit_plzen",
            "fly",
            str(plan),
            "--connect",
            sim_url_of(sim, 0),
            "--heartbeat-hz",
            "5",
        ],
        stdin=subprocess.PIPE,
        preexec_fn=sigint_as_at_a_terminal,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        flying = sim.wait_until(
            lambda: (
                sim.vehicles[0].state.mode == "AUTO.MISSION"
                and sim.vehicles[0].state.relative_alt_m > 10.0
            ),
            60.0,
        )
        assert flying, "the vehicle never climbed into its mission"
        proc.send_signal(signal.SIGINT)
        _out, err = proc.communicate(input=f"{answer}\n", timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, err
    assert "Return to launch now?" in err
    assert "Traceback" not in err
    changed = sim.wait_until(lambda: sim.vehicles[0].state.mode == mode_after, 10.0)
    assert changed, f"mode is {sim.vehicles[0].state.mode}, expected {mode_after}"
    assert sim.vehicles[0].state.armed  # still flying: RTL or the mission goes on
