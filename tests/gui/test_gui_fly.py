"""The fly panel against the real simulator over real loopback UDP, through the link layer."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import contextlib
import threading
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from dkp_testkit import free_simulator_offset
from shapely.geometry import LineString, Point

from dronekit_plzen.errors import LinkError
from dronekit_plzen.geo import geodesic_distance_m, lonlat_to_utm
from dronekit_plzen.i18n import set_language
from gui.checklist import CREW_ITEMS
from gui.mainwindow import MainWindow
from simulators import SimFleet

HOME = (49.8000, 13.3980, 330.0)  # lat, lon, alt AMSL (the simulator's order)
DATUM = (13.3985, 49.8003)  # lon, lat


def _offset() -> int:
    return free_simulator_offset()


@contextlib.contextmanager
def _fleet(**kwargs: object) -> Iterator[int]:
    """A running SimFleet on a random port offset (another one when the ports are taken)."""
    for _attempt in range(10):
        off = _offset()
        fleet = SimFleet(port_offset=off, **kwargs)  # type: ignore[arg-type]
        try:
            fleet.__enter__()
        except LinkError as exc:
            if "bind" not in str(exc):
                raise
            continue
        try:
            yield off
        finally:
            fleet.__exit__(None, None, None)
        return
    raise AssertionError("no free port offset for the simulator after 10 attempts")


@pytest.fixture
def window(qtbot, tmp_path: Path) -> Iterator[MainWindow]:  # type: ignore[no-untyped-def]
    set_language("en")
    win = MainWindow(tmp_path / "flights.sqlite")
    qtbot.addWidget(win)
    win.resize(1300, 850)
    win.show()
    yield win
    win.fly_panel.shutdown()


def _plan(qtbot, panel):  # type: ignore[no-untyped-def]
    """Press Plan; wait for the result or fail with the error the panel reported."""
    assert panel.plan_button.isEnabled()
    views: list[object] = []
    errors: list[str] = []
    panel.planReady.connect(views.append)
    panel.statusMessage.connect(lambda m: errors.append(m) if m.startswith("Error") else None)
    panel.plan_button.click()
    qtbot.waitUntil(lambda: bool(views or errors), timeout=120_000)
    assert not errors, errors
    return views[0]


def _command(qtbot, panel, name: str, timeout: int = 20_000) -> tuple[bool, str]:  # type: ignore[no-untyped-def]
    with qtbot.waitSignal(
        panel.commandFinished, timeout=timeout, check_params_cb=lambda n, *_: n == name
    ) as blocker:
        if name == "upload":
            panel.upload_button.click()
        else:
            panel.buttons[name].click()
    _name, _sysid, ok, message = blocker.args
    return ok, message


#: per autopilot flavour: the URL a ground station uses, the initial mode, the hold mode
FLAVOURS = {
    "px4": ("udpin://127.0.0.1:{port}", 14540, "AUTO", "AUTO.LOITER"),
    "ardupilot": ("tcp://127.0.0.1:{port}", 5760, "STABILIZE", "LOITER"),
}


@pytest.mark.parametrize("autopilot", sorted(FLAVOURS))
def test_fly_a_planned_mission_on_the_simulator(  # type: ignore[no-untyped-def]
    qtbot, window: MainWindow, tmp_path: Path, autopilot: str
) -> None:
    url, base_port, first_mode, hold_mode = FLAVOURS[autopilot]
    fly = window.fly_panel
    plan = window.plan_panel
    # the deployment comes first: flights recorded from now on are attributed to it
    dep_panel = window.deploy_panel
    dep_panel.location.setText("Bolevec")
    with qtbot.waitSignal(dep_panel.deploymentCreated, timeout=10_000) as created:
        dep_panel.register_button.click()
    dep_id = created.args[0].id
    assert fly.deployment_id == dep_id
    with _fleet(n_vehicles=1, autopilot=autopilot, speedup=20, home=HOME) as off:
        with qtbot.waitSignal(fly.commandFinished, timeout=30_000) as connected:
            fly.connect_to(url.format(port=base_port + off))
        assert connected.args[0] == "connect" and connected.args[2], connected.args
        assert "recording flights" in connected.args[3]
        # the fleet table and the map fill from the poller's signals
        qtbot.waitUntil(lambda: fly.table.rowCount() == 1, timeout=10_000)
        qtbot.waitUntil(lambda: window.map.vehicle_position(1) is not None, timeout=10_000)
        lon, lat = window.map.vehicle_position(1)  # type: ignore[misc]
        assert geodesic_distance_m(lon, lat, HOME[1], HOME[0]) < 5.0
        assert fly.table.item(0, 0).text() == "1"
        qtbot.waitUntil(lambda: fly.table.item(0, 1).text().startswith(first_mode), timeout=10_000)
        qtbot.waitUntil(lambda: fly.table.item(0, 3).text().endswith("%"), timeout=10_000)
        # the autopilot has settled after boot: it knows its home (ArduPilot takes ~40 s sim)
        qtbot.waitUntil(lambda: fly.session.vehicle(1).state.home is not None, timeout=30_000)
        # upload before planning: refused with a visible failure
        fly.table.selectRow(0)
        ok, message = _command(qtbot, fly, "upload")
        assert not ok and "plan a mission first" in message
        assert "FAILED" in fly.log.item(fly.log.count() - 1).text()
        # start with no validated sortie uploaded from here: refused, whatever is on board
        ok, message = _command(qtbot, fly, "start")
        assert not ok and "no validated sortie" in message
        assert "FAILED" in fly.log.item(fly.log.count() - 1).text()
        # plan an expanding square near home with the real planner
        plan.pattern.setCurrentIndex(plan.pattern.findData("expanding-square"))
        plan.camera.setCurrentIndex(plan.camera.findData("mavic3t-thermal"))
        plan.spacing_mode.setCurrentIndex(plan.spacing_mode.findData("spacing"))
        plan.spacing_m.setValue(40.0)
        plan.radius_m.setValue(100.0)
        plan.alt_m.setValue(30.0)
        plan.start_picking("datum")
        window.map.clicked.emit(*DATUM)
        mission = _plan(qtbot, plan).missions[0]
        assert fly.missions == [mission]
        sortie = fly.sorties[0][0]
        assert sortie.clearance is not None and sortie.clearance.covers(sortie.items)
        # a sortie that failed validation is not uploaded without an explicit override
        fly.set_plan([mission], [[replace(sortie, clearance=None)]])
        ok, message = _command(qtbot, fly, "upload")
        assert not ok and "override" in message
        # nor one changed after validation (400 m): the guard runs again at the vehicle
        high = [it.with_(alt_m=400.0) if it.has_position else it for it in sortie.items]
        fly.set_plan([mission], [[replace(sortie, mission=replace(sortie.mission, items=high))]])
        ok, message = _command(qtbot, fly, "upload")
        assert not ok and "unsafe" in message and "max_agl" in message, message
        assert fly.session.vehicle(1).download_mission() == []
        fly.set_plan([mission], [[sortie]])
        # upload + verify, arm, start: every step acknowledged
        ok, message = _command(qtbot, fly, "upload")
        assert ok, message
        assert f"{len(sortie.items)} items uploaded and verified" in message
        ok, message = _command(qtbot, fly, "arm")
        assert ok, message
        ok, message = _command(qtbot, fly, "start")
        assert ok, message

        # the vehicle flies the pattern: it moves away from home on the map, leaving a track
        def away() -> bool:
            pos = window.map.vehicle_position(1)
            return pos is not None and geodesic_distance_m(pos[0], pos[1], HOME[1], HOME[0]) > 40

        qtbot.waitUntil(away, timeout=60_000)
        assert window.map.track_length(1) >= 3  # distinct positions drawn as a track
        track = window.map.layer_items("tracks")[0].path()
        assert track.elementCount() == window.map.track_length(1)
        qtbot.waitUntil(lambda: fly.table.item(0, 2).text() == "yes", timeout=5000)
        assert fly.table.item(0, 6).text() != "—"  # mission progress n/count
        # pause (PX4 hold), then return to launch
        ok, message = _command(qtbot, fly, "pause")
        assert ok, message
        qtbot.waitUntil(lambda: fly.table.item(0, 1).text() == hold_mode, timeout=10_000)
        ok, message = _command(qtbot, fly, "rtl")
        assert ok, message
        qtbot.waitUntil(lambda: "RTL" in fly.table.item(0, 1).text(), timeout=10_000)
        # the autopilot's own messages (STATUSTEXT) reached the command log
        texts = fly.vehicles[1].statustexts
        assert texts
        log_lines = [fly.log.item(i).text() for i in range(fly.log.count())]
        assert any(
            f"[1] INFO: {texts[-1][2]}" in line or texts[-1][2] in line for line in log_lines
        )
        fly.disconnect_link()
        assert fly.session is None and fly.table.rowCount() == 0
        assert fly.connect_button.text() == "Connect"
        # clean shutdown: the link's I/O thread and the recorder's writer have ended
        names = [t.name for t in threading.enumerate()]
        assert not any(n.startswith("mavlink-io") or n == "telemetry-writer" for n in names), names
    # the flight was recorded into the database under the deployment, with a track
    from telemetry.store import open_store

    with open_store(tmp_path / "flights.sqlite") as store:
        flights = store.flights(deployment_id=dep_id)
        samples = store.flight_samples(flights[0]["id"]) if flights else []
    assert len(flights) == 1
    assert flights[0]["vehicle"] is not None
    assert len(samples) > 10
    assert any((tmp_path / "tlogs").glob("*.tlog"))


def test_connect_failure_is_shown(qtbot, window: MainWindow) -> None:  # type: ignore[no-untyped-def]
    fly = window.fly_panel
    fly.wait_s = 1.0
    port = 14540 + _offset()  # nobody sends there
    with qtbot.waitSignal(fly.commandFinished, timeout=20_000) as blocker:
        fly.connect_to(f"udpin://127.0.0.1:{port}")
    name, _sysid, ok, message = blocker.args
    assert name == "connect" and not ok and message
    qtbot.waitUntil(lambda: fly.session is None)
    assert fly.connect_button.isEnabled() and fly.connect_button.text() == "Connect"
    assert not fly.buttons["arm"].isEnabled()
    failed = [fly.log.item(i).text() for i in range(fly.log.count())]
    assert any("connect: FAILED" in t for t in failed)


def _utm_line(path: list[tuple[float, float]]) -> LineString:
    e, n = lonlat_to_utm([p[0] for p in path], [p[1] for p in path], 32633)
    return LineString(list(zip(e, n)))


def test_fleet_of_two_flies_a_split_plan(qtbot, window: MainWindow, answer_modal) -> None:  # type: ignore[no-untyped-def]
    fly = window.fly_panel
    plan = window.plan_panel
    with qtbot.waitSignal(plan.areaLoaded, timeout=20_000):
        plan.load_area(
            Path(__file__).resolve().parents[2]
            / "dronekit_plzen"
            / "demo"
            / "data"
            / "sar_area_bolevec.geojson"
        )
    plan.pattern.setCurrentIndex(plan.pattern.findData("survey"))
    plan.camera.setCurrentIndex(plan.camera.findData("mavic3t-thermal"))
    plan.alt_m.setValue(100.0)
    plan.side_overlap.setValue(20.0)
    plan.front_overlap.setValue(20.0)
    plan.drones.setValue(2)
    view = _plan(qtbot, plan)
    launch = view.homes[0]
    # two PX4 vehicles at the launch point; the ground-station port hears the whole fleet
    with _fleet(
        n_vehicles=2, autopilot="px4", speedup=40, home=(launch[1], launch[0], 330.0)
    ) as off:
        with qtbot.waitSignal(fly.commandFinished, timeout=30_000) as connected:
            fly.connect_to(f"udpin://127.0.0.1:{14550 + off}")
        assert connected.args[2], connected.args
        qtbot.waitUntil(lambda: fly.table.rowCount() == 2, timeout=15_000)
        for sysid in (1, 2):
            v = fly.session.vehicle(sysid)
            qtbot.waitUntil(lambda v=v: v.state.home is not None, timeout=30_000)
        results: list[tuple[str, int, bool, str]] = []
        fly.commandFinished.connect(lambda *a: results.append(a))
        fly.buttons["upload_all"].click()
        qtbot.waitUntil(lambda: len(results) == 2, timeout=60_000)
        assert all(r[0] == "upload" and r[2] for r in results), results
        assert sorted(r[1] for r in results) == [1, 2]
        for sysid, sorties in zip((1, 2), view.sorties):
            msg = next(r[3] for r in results if r[1] == sysid)
            assert f"{len(sorties[0].items)} items uploaded and verified" in msg
        for sysid in (1, 2):  # the crew ticked each vehicle's checklist (the cockpit's tab)
            window.cockpit.checklist.ticks[sysid] = set(CREW_ITEMS)
        dialogs = answer_modal(lambda d: d.start_button.click())  # the summary, confirmed
        fly.buttons["start_all"].click()
        qtbot.waitUntil(lambda: len(results) == 6, timeout=60_000)
        assert all(r[2] for r in results), results
        assert not dialogs[0].crew_open and not dialogs[0].crew_override
        assert not any("crew checklist open" in t for t in fly.log.lines())

        def both_away() -> bool:
            for sysid in (1, 2):
                pos = window.map.vehicle_position(sysid)
                if pos is None or geodesic_distance_m(pos[0], pos[1], *launch) < 60:
                    return False
            return True

        qtbot.waitUntil(both_away, timeout=60_000)
        # each flies its own part: past the transit, each is on its own path, not the other's
        qtbot.waitUntil(
            lambda: all((fly.vehicles[s].mission_seq or 0) >= 5 for s in (1, 2)), timeout=60_000
        )
        lines = [_utm_line(p) for p in view.paths]
        for i, sysid in enumerate((1, 2)):
            pos = window.map.vehicle_position(sysid)
            assert pos is not None
            e, n = lonlat_to_utm([pos[0]], [pos[1]], 32633)
            here = Point(float(e[0]), float(n[0]))
            assert lines[i].distance(here) < 15.0 < lines[1 - i].distance(here)
        fly.buttons["rtl_all"].click()
        qtbot.waitUntil(lambda: len(results) == 8, timeout=30_000)
        assert all(r[2] for r in results[6:]), results
        fly.disconnect_link()


def test_arm_take_off_and_land(qtbot, window: MainWindow) -> None:  # type: ignore[no-untyped-def]
    fly = window.fly_panel
    with _fleet(n_vehicles=1, autopilot="px4", speedup=20, home=HOME) as off:
        with qtbot.waitSignal(fly.commandFinished, timeout=30_000) as connected:
            fly.connect_to(f"udpin://127.0.0.1:{14540 + off}")
        assert connected.args[2], connected.args
        qtbot.waitUntil(lambda: fly.table.rowCount() == 1, timeout=10_000)
        qtbot.waitUntil(lambda: fly.session.vehicle(1).state.home is not None, timeout=30_000)
        fly.table.selectRow(0)
        fly.takeoff_alt.setValue(15.0)
        ok, message = _command(qtbot, fly, "arm")
        assert ok, message
        ok, message = _command(qtbot, fly, "takeoff")
        assert ok and "15 m" in message, message
        qtbot.waitUntil(lambda: (fly.vehicles[1].alt_rel_m or 0.0) > 12.0, timeout=30_000)
        assert fly.vehicles[1].armed
        ok, message = _command(qtbot, fly, "land")
        assert ok, message
        qtbot.waitUntil(lambda: not fly.vehicles[1].armed, timeout=60_000)  # landed, disarmed
        assert (fly.vehicles[1].alt_rel_m or 0.0) < 1.0
        fly.disconnect_link()


def test_arm_and_start_all_staggers_a_probability_search_as_planned(  # type: ignore[no-untyped-def]
    qtbot, window: MainWindow, answer_modal
) -> None:
    """A probability search's drones share the launch point: its plan starts the second
    drone a few seconds after the first (no two over one cell at once). "Arm and start all"
    keeps that delay, says so in the log, and any command to the waiting vehicle cancels it."""
    import time

    fly = window.fly_panel
    plan = window.plan_panel
    plan.pattern.setCurrentIndex(plan.pattern.findData("poa"))
    plan.camera.setCurrentIndex(plan.camera.findData("mavic3t-thermal"))
    plan.subject.setCurrentIndex(plan.subject.findData("child-4-6"))
    plan.alt_m.setValue(40.0)
    plan.drones.setValue(2)
    plan.budget_km.setValue(1.0)
    plan.start_picking("datum")
    window.map.clicked.emit(*DATUM)  # the launch point is the last known position
    view = _plan(qtbot, plan)
    delay = view.sorties[1][0].mission.metadata["start_delay_s"]
    assert view.sorties[0][0].mission.metadata["start_delay_s"] == 0.0 and delay > 0
    with _fleet(n_vehicles=2, autopilot="px4", speedup=20, home=(DATUM[1], DATUM[0], 330.0)) as off:
        with qtbot.waitSignal(fly.commandFinished, timeout=30_000) as connected:
            fly.connect_to(f"udpin://127.0.0.1:{14550 + off}")
        assert connected.args[2], connected.args
        qtbot.waitUntil(lambda: fly.table.rowCount() == 2, timeout=15_000)
        for sysid in (1, 2):
            v = fly.session.vehicle(sysid)
            qtbot.waitUntil(lambda v=v: v.state.home is not None, timeout=30_000)
            window.cockpit.checklist.ticks[sysid] = set(CREW_ITEMS)
        results: list[tuple[float, str, int, bool, str]] = []
        fly.commandFinished.connect(lambda *a: results.append((time.monotonic(), *a)))
        fly.buttons["upload_all"].click()
        qtbot.waitUntil(lambda: len(results) == 2, timeout=60_000)
        assert all(r[1] == "upload" and r[3] for r in results), results
        # the second vehicle is taken over while it waits: its start is cancelled
        dialogs = answer_modal(lambda d: d.start_button.click())
        fly.buttons["start_all"].click()
        assert dialogs[0].stagger_label.text() == (
            f"Staggered as planned: [2] {delay:g} s after the start."
        )
        assert any(f"[2] arms and starts in {delay:g} s, as planned" in t for t in fly.log.lines())
        fly.table.selectRow(1)
        fly.upload_button.click()  # its sortie uploaded again
        assert "[2] planned start cancelled: upload sent" in fly.log.lines()
        qtbot.waitUntil(lambda: any(r[1] == "start" and r[2] == 1 for r in results), timeout=30_000)
        qtbot.wait(round(1000 * delay) + 1500)
        assert not any(r[1] in ("arm", "start") and r[2] == 2 for r in results), results
        assert [r[3] for r in results if r[1] == "upload" and r[2] == 2] == [True, True]
        assert not fly.vehicles[2].armed
        # started again alone: it arms and starts the plan's delay after the pilot's go
        answer_modal(lambda d: d.start_button.click())
        go = time.monotonic()
        fly.start_all([2])
        qtbot.waitUntil(
            lambda: any(r[1] == "start" and r[2] == 2 for r in results),
            timeout=round(1000 * delay) + 30_000,
        )
        arm2 = next(r for r in results if r[1] == "arm" and r[2] == 2)
        start2 = next(r for r in results if r[1] == "start" and r[2] == 2)
        assert arm2[3] and start2[3], (arm2, start2)
        assert arm2[0] - go >= delay - 0.2
        fly.buttons["rtl_all"].click()
        fly.disconnect_link()
