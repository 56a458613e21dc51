"""The fly panel's take-off is the one the guard walked, on real widgets offscreen and the
simulator over real TCP.

An ArduCopter mission without a take-off item starts in the air where the pilot's GUIDED
take-off left it: the upload clears it from the panel's take-off altitude (the first leg a
diagonal from there), and a take-off to another altitude is refused until the sortie is uploaded
again. A mission's own take-off item sets the altitude itself, converted to metres above home
(an AMSL item was climbed as metres above home by ``fly``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from dronekit_plzen.mission_items import (
    CMD_NAV_RETURN_TO_LAUNCH,
    CMD_NAV_TAKEOFF,
    CMD_NAV_WAYPOINT,
    FRAME_GLOBAL,
    FRAME_MISSION,
    MissionItem,
)
from missions.formats import save_mission
from missions.model import AUTOPILOT_ARDUPILOT, Mission

HOME = (49.8000, 13.3980, 330.0)  # lat, lon, alt AMSL (the simulator's order)
AP_TCP = 5760


def _mission(path: Path) -> Path:
    """ArduCopter: no take-off item, a waypoint 200 m north at 40 m, RTL."""
    lat0, lon0, amsl = HOME
    items = [
        MissionItem(command=CMD_NAV_WAYPOINT, lat_deg=lat0 + 0.0018, lon_deg=lon0, alt_m=40.0),
        MissionItem(command=CMD_NAV_RETURN_TO_LAUNCH, frame=FRAME_MISSION),
    ]
    m = Mission(items=items, home=(lon0, lat0, amsl))
    m.autopilot = AUTOPILOT_ARDUPILOT
    return Path(save_mission(m, path, "plan"))


def _run(qtbot: Any, fly: Any, name: str, press: Any) -> Any:
    with qtbot.waitSignal(
        fly.commandFinished, timeout=30_000, check_params_cb=lambda n, *_: n == name
    ) as blocker:
        press()
    return blocker.args


def test_an_ardupilot_mission_is_cleared_from_the_panel_s_take_off(  # type: ignore[no-untyped-def]
    qtbot, main_window, sim_fleet, tmp_path: Path
) -> None:
    plan, fly = main_window.plan_panel, main_window.fly_panel
    views: list[Any] = []
    plan.planReady.connect(views.append)
    plan.open_mission(_mission(tmp_path / "no_takeoff.plan"))
    qtbot.waitUntil(lambda: bool(views), timeout=60_000)
    with sim_fleet(n_vehicles=1, autopilot="ardupilot", speedup=20, home=HOME) as (fleet, off):
        fly.window().show_fly_panel()
        with qtbot.waitSignal(fly.commandFinished, timeout=30_000):
            fly.connect_to(f"tcp://127.0.0.1:{AP_TCP + off}")
        qtbot.waitUntil(lambda: fly.table.rowCount() == 1, timeout=10_000)
        qtbot.waitUntil(lambda: fly.vehicles[1].autopilot == "ardupilot", timeout=10_000)
        v = fly.session.vehicle(1)
        qtbot.waitUntil(lambda: v.state.home is not None, timeout=30_000)
        fly.table.selectRow(0)
        fly.takeoff_alt.setValue(20.0)
        _n, _s, ok, message = _run(qtbot, fly, "upload", fly.upload_button.click)
        assert ok, message
        assert fly.cleared_takeoff_m[1] == 20.0
        assert "cleared from a take-off to 20 m: take off to it" in message, message
        fly.takeoff_alt.setValue(35.0)
        _n, sysid, ok, message = _run(qtbot, fly, "takeoff", fly.buttons["takeoff"].click)
        assert (sysid, ok) == (1, False)
        assert "cleared for a take-off to 20 m" in message and "35 m" in message, message
        assert not fleet.vehicles[0].state.armed
        fly.disconnect_link()


def test_a_mission_s_take_off_item_sets_the_gui_take_off_above_home() -> None:
    """The session's take-off with the mission on board: its take-off item's altitude above
    home (an AMSL item less the home's altitude), whatever the panel's spin box says."""
    from gui.flysession import FlySession

    class _State:
        home = (49.8, 13.398, 330.0)

    class _Vehicle:
        def __init__(self) -> None:
            self.state = _State()
            self.sent: list[float] = []

        def takeoff(self, alt_m: float) -> None:
            self.sent.append(alt_m)

    veh = _Vehicle()
    item = MissionItem(command=CMD_NAV_TAKEOFF, frame=FRAME_GLOBAL, alt_m=355.0)
    text = FlySession._takeoff(None, veh, 20.0, [item])  # type: ignore[arg-type]
    assert veh.sent == [25.0] and "the mission's take-off" in text
    assert FlySession._takeoff(None, veh, 20.0, None) == "climbing to 20 m"  # type: ignore[arg-type]
    assert veh.sent == [25.0, 20.0]
