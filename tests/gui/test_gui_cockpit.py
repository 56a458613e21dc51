"""The pilot's cockpit against the real simulator fleet over loopback UDP: instruments, focus,
checklist, reconnecting and restarting vehicles, guided go-to a sighting, and the language
switched at run time. One simulator fleet serves the whole module."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from PyQt5.QtCore import Qt

from dronekit_plzen.geo import geodesic_distance_m
from dronekit_plzen.i18n import set_language
from gui.fly_links import preset_urls
from gui.instruments import FlightClock, flight_time_text, readings
from gui.mainwindow import MainWindow
from gui.models import VehicleView
from tests.gui.conftest import _sim_fleet

# one worker builds this module's expensive fixture once (make test runs --dist loadgroup)
pytestmark = pytest.mark.xdist_group("gui_cockpit")

HOME = (49.8000, 13.3980, 330.0)  # lat, lon, alt AMSL (the simulator's order)
DATUM = (13.3985, 49.8003)  # lon, lat
#: README screenshots are refreshed only on request (DKP_DOCS_SCREENSHOTS=1); a plain test run
#: writes them to its temporary folder and leaves the clone as it was
DOCS_IMG = Path(__file__).resolve().parents[2] / "docs" / "img"


def _shots(tmp_path: Path) -> Path:
    return DOCS_IMG if os.environ.get("DKP_DOCS_SCREENSHOTS") == "1" else tmp_path


@pytest.fixture(scope="module")
def fleet() -> Iterator[tuple[Any, int]]:
    with _sim_fleet(n_vehicles=2, autopilot="px4", speedup=20, home=HOME) as (sim, off):
        yield sim, off


def _cmd(qtbot, fly, name: str, sysid: int, timeout: int = 30_000) -> tuple[bool, str]:  # type: ignore[no-untyped-def]
    for row in range(fly.table.rowCount()):
        if fly.table.item(row, 0).text() == str(sysid):
            fly.table.selectRow(row)
    with qtbot.waitSignal(
        fly.commandFinished, timeout=timeout, check_params_cb=lambda n, s, *_: n == name
    ) as blocker:
        if name == "upload":
            fly.upload_button.click()
        else:
            fly.buttons[name].click()
    return blocker.args[2], blocker.args[3]


def _plan(qtbot, window: MainWindow) -> Any:  # type: ignore[no-untyped-def]
    plan = window.plan_panel
    plan.pattern.setCurrentIndex(plan.pattern.findData("expanding-square"))
    plan.camera.setCurrentIndex(plan.camera.findData("mavic3t-thermal"))
    plan.spacing_mode.setCurrentIndex(plan.spacing_mode.findData("spacing"))
    plan.spacing_m.setValue(40.0)
    plan.radius_m.setValue(100.0)
    plan.alt_m.setValue(30.0)
    plan.start_picking("datum")
    window.map.clicked.emit(*DATUM)
    with qtbot.waitSignal(plan.planReady, timeout=120_000) as ready:
        plan.plan_button.click()
    return ready.args[0]


def _ink(image: Any, window: MainWindow, widget: Any) -> int:
    """Dark (text) pixels of ``image`` (the window grabbed) inside ``widget``."""
    top_left = widget.mapTo(window, widget.rect().topLeft())
    n = 0
    for x in range(top_left.x(), top_left.x() + widget.width()):
        for y in range(top_left.y(), top_left.y() + widget.height()):
            n += image.pixelColor(x, y).lightness() < 110
    return n


def _reading(window: MainWindow, sysid: int, key: str) -> str:
    return window.strip.rows[sysid].values[key].text()


def _connect(qtbot, window: MainWindow, off: int) -> None:  # type: ignore[no-untyped-def]
    fly = window.fly_panel
    with qtbot.waitSignal(
        fly.commandFinished, timeout=30_000, check_params_cb=lambda n, *_: n == "connect"
    ) as connected:
        fly.connect_fleet("sim", 2, port_offset=off)
    assert connected.args[2], connected.args
    qtbot.waitUntil(lambda: set(window.strip.rows) == {1, 2}, timeout=15_000)
    qtbot.waitUntil(lambda: set(fly.on_board) == {1, 2}, timeout=30_000)


@pytest.mark.slow
def test_fly_with_instruments_restart_reconnect_and_go_to_a_sighting(  # type: ignore[no-untyped-def]
    qtbot, main_window: MainWindow, fleet, answer_modal, tmp_path: Path
) -> None:
    window = main_window
    window.resize(1600, 1000)
    _sim, off = fleet
    fly = window.fly_panel
    dep = window.deploy_panel
    dep.location.setText("Bolevec, lesy u rybníků")
    with qtbot.waitSignal(dep.deploymentCreated, timeout=10_000) as created:
        dep.register_button.click()
    dep_id = created.args[0].id
    plan = _plan(qtbot, window)
    sortie = plan.sorties[0][0]
    fly.set_plan([plan.missions[0]] * 2, [plan.sorties[0], plan.sorties[0]])

    # one step: the simulator fleet preset fills the links (the GCS port + offset) and connects
    _connect(qtbot, window, off)
    assert fly.connect_box.urls() == [f"udpin://127.0.0.1:{14550 + off}"]
    for sysid in (1, 2):
        qtbot.waitUntil(lambda s=sysid: fly.vehicles[s].home is not None, timeout=30_000)
    # the strip shows each vehicle's instruments, the datum of altitudes named
    qtbot.waitUntil(lambda: _reading(window, 1, "alt_amsl").endswith(" m"), timeout=10_000)
    amsl = float(_reading(window, 1, "alt_amsl").split()[0])
    assert abs(amsl - HOME[2]) < 3.0
    assert window.strip.rows[1].names["alt_amsl"].text() == "Altitude AMSL"
    assert " V" in _reading(window, 1, "battery") and "%" in _reading(window, 1, "battery")
    assert "HDOP" in _reading(window, 1, "gps")
    assert float(_reading(window, 2, "home").split()[0]) < 10.0
    assert "% lost" in _reading(window, 1, "link")
    # a click on vehicle 2's row focuses it: large instruments in the cockpit
    qtbot.mouseClick(window.strip.rows[2].values["mode"], Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.cockpit.focus.title.text() == "Vehicle 2", timeout=5000)

    # upload to both (the same sortie: they stand 5 m apart), then fly vehicle 1
    for sysid in (1, 2):
        ok, message = _cmd(qtbot, fly, "upload", sysid)
        assert ok, message
    n_items = len(sortie.items)
    qtbot.waitUntil(lambda: f"item 1/{n_items}" in _reading(window, 1, "progress"), timeout=5000)
    assert "sortie 1/1" in _reading(window, 1, "progress")
    # the checklist of the focused vehicle: the crew's five ticks close five items
    check = window.cockpit.checklist
    open_before = len(check.open_items())
    for box in check.boxes.values():
        box.setChecked(True)
    assert len(check.open_items()) == open_before - 5
    # they were vehicle 2's (in focus); arming vehicle 1 is not blocked, but its open items are
    # logged in red
    assert check.sysid == 2 and check.open_crew(2) == [] and len(check.open_crew(1)) == 5
    ok, message = _cmd(qtbot, fly, "arm", 1)
    assert ok, message
    assert any("[1] arming with the crew checklist open: Take-off" in t for t in fly.log.lines())
    ok, message = _cmd(qtbot, fly, "start", 1)
    assert ok, message
    qtbot.waitUntil(lambda: (fly.vehicles[1].groundspeed_m_s or 0) > 2.0, timeout=30_000)
    qtbot.waitUntil(lambda: (fly.vehicles[1].mission_seq or 0) >= 3, timeout=30_000)
    assert _reading(window, 1, "time") != "—"
    # the planned camera's footprint follows the flying vehicle on the map (30 m, thermal)
    ring = fly.footprint_of(fly.vehicles[1])
    assert ring is not None and len(ring) == 5
    width = geodesic_distance_m(ring[0][0], ring[0][1], ring[1][0], ring[1][1])
    assert 20.0 < width < 60.0, width
    assert window.map._camera[1].polygon().count() >= 4
    assert fly.footprint_of(fly.vehicles[2]) is None  # on the ground: none
    assert float(_reading(window, 1, "speed").split()[0]) > 2.0
    # the screenshot for the README: flying, the fly tab, the strip and the focused vehicle
    window.set_focus(1)
    window.tabs.setCurrentIndex(1)
    qtbot.wait(300)
    _shots(tmp_path).mkdir(parents=True, exist_ok=True)
    shot = _shots(tmp_path) / "gui-flying.png"
    image = window.grab().toImage()
    # the strip's speed cell is drawn where the widget says, in the level colour (dark text)
    cell = window.strip.rows[1].values["speed"]
    assert cell.isVisible() and cell.text().endswith("m/s")
    assert _ink(image, window, cell) > 15  # its text is in the window's picture
    assert _ink(image, window, window.cockpit.focus.values["alt_rel"]) > 30  # large figures
    image.scaledToWidth(1280, Qt.TransformationMode.SmoothTransformation).save(str(shot), "PNG", 0)
    assert shot.stat().st_size < 300_000

    # a confirmed sighting: the guard checks the target, the pilot confirms, it is recorded
    window.set_focus(1)
    window.plan_panel.max_distance_m = 500.0
    target = (HOME[1] + 0.0012, HOME[0] + 0.0008)  # ~130 m from home
    seen: list[Any] = []

    def confirm(d: Any) -> None:
        seen.append((d.fly_button.isEnabled(), d.verdict.text()))
        d.note.setText("osoba, červená bunda")
        d.fly_button.click()

    answer_modal(confirm)
    window.cockpit.goto_button.click()
    with qtbot.waitSignal(
        fly.commandFinished, timeout=20_000, check_params_cb=lambda n, *_: n == "goto"
    ) as went:
        window.map.mapClicked.emit(*target)
    assert went.args[2], went.args
    assert seen and seen[0][0] and "passes" in seen[0][1]
    qtbot.waitUntil(lambda: "osoba" in dep.editor.sightings.text(), timeout=10_000)
    # and drawn on the map at once, where it was seen
    qtbot.waitUntil(lambda: len(window.map.layer_items("sightings")) == 1, timeout=10_000)
    seen_at = window.map.layer_items("sightings")[0].pos()
    assert (
        geodesic_distance_m(
            *window.map.projection.point_to_lonlat(seen_at.x(), seen_at.y()), *target
        )
        < 0.01
    )

    def near_target() -> bool:
        v = fly.vehicles[1]
        return geodesic_distance_m(v.lon, v.lat, *target) < 15.0

    qtbot.waitUntil(near_target, timeout=60_000)
    from telemetry.deployments import list_sightings
    from telemetry.store import open_store

    with open_store(tmp_path / "flights.sqlite") as store:
        rows = list_sightings(store, dep_id)
    assert len(rows) == 1 and abs(rows[0]["lon_deg"] - target[0]) < 1e-9
    # a target beyond the VLOS limit is refused by the guard: "Fly there" stays disabled
    refused: list[Any] = []

    def cancel(d: Any) -> None:
        refused.append((d.fly_button.isEnabled(), d.verdict.text()))
        d.reject()

    answer_modal(cancel)
    assert not window.confirm_goto(1, HOME[1] + 0.02, HOME[0])
    assert refused and not refused[0][0] and "max_distance" in refused[0][1]

    # vehicle 2 restarts on the ground: its sortie progress is reset, the mission read again
    fly.session.vehicle(2).reboot()
    qtbot.waitUntil(lambda: 2 not in fly.progress, timeout=20_000)
    assert any("vehicle 2 restarted" in line for line in fly.log.lines())
    qtbot.waitUntil(lambda: 2 in fly.on_board, timeout=30_000)
    assert "sortie" not in _reading(window, 2, "progress")

    # language switched while flying: every panel and the log in Czech, then back
    metrics = window.plan_panel.metrics
    english = [metrics.item(r, 0).text() for r in range(metrics.rowCount())]
    assert "Path length" in english
    window.switch_language("cs")
    czech = [metrics.item(r, 0).text() for r in range(metrics.rowCount())]
    assert "Délka trasy" in czech and not set(czech) & set(english) - {"GSD"}, czech
    assert window.tabs.tabText(1) == "Let"
    assert window.strip.rows[1].names["alt_rel"].text() == "Výška nad místem startu"
    assert fly.connect_button.text() == "Odpojit"
    lines = fly.log.lines()
    assert not any("upload: OK" in line for line in lines)
    assert any("nahrání: OK" in line for line in lines), lines
    profile = window.map_tools.profile.choice  # formatted names too (it had kept "Drone 1")
    assert profile.itemText(0) == "Dron 1", profile.itemText(0)
    window.switch_language("en")
    assert window.tabs.tabText(1) == "Fly" and fly.connect_button.text() == "Disconnect"
    assert profile.itemText(0) == "Drone 1"
    assert [metrics.item(r, 0).text() for r in range(metrics.rowCount())] == english
    assert any("upload: OK" in line for line in fly.log.lines())

    # reconnect after a new plan was drawn: the map shows what the vehicles hold
    ok, message = _cmd(qtbot, fly, "rtl", 1)
    assert ok, message
    fly.disconnect_link()
    window.map.show_plan([[(13.40, 49.81), (13.41, 49.82)]])
    _connect(qtbot, window, off)
    on_board = fly.on_board[1]
    assert len(on_board) == n_items
    paths = window.map.layer_items("paths")
    positioned = [it for it in on_board if it.has_position]
    assert paths and paths[0].path().elementCount() == len(positioned)
    # the on-board mission is the plan's sortie: its progress comes back
    qtbot.waitUntil(lambda: 1 in fly.progress, timeout=5000)
    assert fly.progress[1].label() == "1/1"
    fly.disconnect_link()
    set_language("en")


def test_readings_units_levels_and_flight_clock() -> None:
    set_language("en")
    v = VehicleView(
        sysid=3,
        mode="AUTO.MISSION",
        armed=True,
        lon=13.3980,
        lat=49.8009,
        alt_rel_m=35.04,
        alt_amsl_m=365.0,
        groundspeed_m_s=7.26,
        climb_m_s=-0.44,
        heading_deg=87.0,
        battery_pct=22.0,
        battery_v=14.61,
        gps_fix=3,
        satellites=5,
        hdop=2.6,
        heartbeat_age_s=0.2,
        packet_loss_pct=1.0,
        mission_seq=4,
        mission_count=17,
        home=(49.8000, 13.3980, 330.0),
    )
    got = {r.key: (r.text, r.level) for r in readings(v, flight_s=75.0, sortie_label="2/3")}
    assert got["alt_rel"] == ("35.0 m", "")
    assert got["climb"] == ("-0.4 m/s", "")
    for still in (-0.01, 0.0, 0.04):  # a vehicle on the ground: no "-0.0 m/s"
        level = {r.key: r.text for r in readings(replace(v, climb_m_s=still, alt_rel_m=-0.02))}
        assert level["climb"] == "0.0 m/s" and level["alt_rel"] == "0.0 m", level
    assert {r.key: r.text for r in readings(replace(v, climb_m_s=0.06))}["climb"] == "+0.1 m/s"
    assert got["heading"][0] == "087°"
    assert got["home"][0] == "100 m"
    assert got["time"][0] == "1:15"
    assert got["battery"] == ("22 % · 14.6 V", "bad")  # below the low-battery level
    assert got["gps"] == ("3D (5) HDOP 2.6", "warn")  # few satellites, poor HDOP
    assert got["progress"][0] == "item 5/17, sortie 2/3"
    assert got["link"][1] == "ok"
    lost = {r.key: r for r in readings(v, link_ok=False)}
    assert lost["link"].text == "lost" and lost["link"].level == "bad"
    assert flight_time_text(3725) == "1:02:05" and flight_time_text(None) == "—"
    clock = FlightClock()
    clock.update([v], now_s=100.0)
    clock.update([VehicleView(sysid=3, armed=False)], now_s=160.0)
    assert clock.flight_s(3, now_s=500.0) == 60.0  # only the time armed counts
    clock.update([v], now_s=600.0)
    assert clock.flight_s(3, now_s=610.0) == 70.0
    clock.reset(3)
    assert clock.flight_s(3) is None


def test_fleet_presets_follow_the_port_conventions() -> None:
    assert preset_urls("sim", 3, port_offset=200) == ["udpin://127.0.0.1:14750"]
    assert preset_urls("px4", 3) == [
        "udpin://127.0.0.1:14540",
        "udpin://127.0.0.1:14541",
        "udpin://127.0.0.1:14542",
    ]
    assert preset_urls("ardupilot", 2) == ["tcp://127.0.0.1:5760", "tcp://127.0.0.1:5770"]
    from dronekit_plzen.errors import BadInputError

    with pytest.raises(BadInputError, match="unknown fleet preset"):
        preset_urls("mavros", 2)
    with pytest.raises(BadInputError, match="1 to 64"):
        preset_urls("sim", 0)


def test_a_field_laptop_screen_shows_the_fleet_and_every_fly_control(  # type: ignore[no-untyped-def]
    qtbot, main_window: MainWindow, fleet: tuple[Any, int], tmp_path: Path
) -> None:
    """On a 1366 × 768 screen, with the vehicles connected and in either language: the window
    fits the screen, the fly panel needs no sideways scrolling (its fleet preset, signing row
    and fourth column of buttons had pushed "Start mission" and the take-off altitude out of
    view) and the map shows the vehicles, heard kilometres from the planning view (the pilot
    had seen an empty map)."""
    _sim, off = fleet
    win = main_window
    win.resize(1366, 768)
    lon0, lat0 = win.map.view_center_lonlat()
    assert geodesic_distance_m(lon0, lat0, HOME[1], HOME[0]) > 3000  # far from the vehicles
    _connect(qtbot, win, off)
    fly = win.fly_panel
    qtbot.waitUntil(lambda: win.map.has_vehicle(1) and win.map.has_vehicle(2), timeout=15_000)
    for lang in ("en", "cs"):
        win.switch_language(lang)
        qtbot.wait(300)
        assert win.minimumSizeHint().width() <= 1366, lang
        assert win.width() <= 1366, lang
        view = fly.parentWidget()  # the scroll area's viewport
        assert fly.minimumSizeHint().width() <= view.width(), (lang, fly.minimumSizeHint())
        for b in [fly.upload_button, *fly.buttons.values(), fly.takeoff_alt]:
            right = b.mapTo(view, b.rect().topRight()).x()
            assert b.mapTo(view, b.rect().topLeft()).x() >= 0 and right < view.width(), (
                lang,
                b.text() if hasattr(b, "text") else b,
            )
        for sysid in (1, 2):
            v = fly.vehicles[sysid]
            assert win.map.shows_lonlat(v.lon, v.lat), (lang, sysid)
            # each vehicle's row whole in the fleet table and in the instruments strip (the
            # table had shown one of two vehicles, the strip half of the second's row)
            cell = win.strip.rows[sysid].values["mode"]
            bottom = cell.mapTo(win.strip_area.viewport(), cell.rect().bottomLeft()).y()
            assert bottom < win.strip_area.viewport().height(), (lang, sysid)
            rect = fly.table.visualRect(fly.table.model().index(sysid - 1, 0))
            assert rect.bottom() < fly.table.viewport().height(), (lang, sysid)
        win.grab().save(str(tmp_path / f"laptop-{lang}.png"))
    win.switch_language("en")
    fly.disconnect_link()


def _shown_texts(win: MainWindow) -> list[tuple[str, str]]:
    """Every text a person sees in the window: labels, buttons and their tips, placeholders,
    choices, group and dock titles, tabs, table headers and cells."""
    from PyQt5.QtWidgets import (
        QAbstractButton,
        QComboBox,
        QDockWidget,
        QGroupBox,
        QLabel,
        QLineEdit,
        QTableWidget,
        QTabWidget,
        QWidget,
    )

    out: list[tuple[str, str]] = []
    for w in win.findChildren(QWidget):
        if not w.isVisibleTo(win):
            continue
        name = f"{type(w).__name__} {w.objectName()}".strip()
        if isinstance(w, (QLabel, QAbstractButton)):
            out += [(name, w.text()), (name + " tip", w.toolTip())]
        elif isinstance(w, QLineEdit):
            out.append((name, w.placeholderText()))
        elif isinstance(w, QComboBox):
            out += [(name, w.itemText(i)) for i in range(w.count())]
        elif isinstance(w, QGroupBox):
            out.append((name, w.title()))
        elif isinstance(w, QDockWidget):
            out.append((name, w.windowTitle()))
        elif isinstance(w, QTabWidget):
            out += [(name, w.tabText(i)) for i in range(w.count())]
        if isinstance(w, QTableWidget):
            heads = [w.horizontalHeaderItem(c) for c in range(w.columnCount())]
            out += [(name, h.text()) for h in heads if h is not None]
            cells = [w.item(r, c) for r in range(w.rowCount()) for c in range(w.columnCount())]
            out += [(name, it.text()) for it in cells if it is not None]
    return [(n, t) for n, t in out if t]


def test_switched_language_leaves_no_text_in_the_other(  # type: ignore[no-untyped-def]
    qtbot, main_window: MainWindow, fleet: tuple[Any, int]
) -> None:
    """Planned, a deployment registered, vehicles connected, then Czech: no text shown on any
    tab is still an English message (the plan's figures and the altitude profile's missions had
    stayed English); back in English, none is Czech."""
    import re

    from gui.i18n_switch import reverse_catalogue

    _sim, off = fleet
    win = main_window
    win.resize(1366, 768)
    _plan(qtbot, win)
    dep = win.deploy_panel
    dep.location.setText("Bolevec")
    with qtbot.waitSignal(dep.deploymentCreated, timeout=10_000):
        dep.register_button.click()
    _connect(qtbot, win, off)
    czech = reverse_catalogue("cs")  # Czech text -> English message
    english = set(czech.values())
    formats = [
        re.compile("^" + re.sub(r"\\\{[^}]*\\\}", ".+", re.escape(m)) + "$")
        for m in english  # a message with words of its own: "{a}: {b}" matches anything
        if "{" in m and sum(c.isalpha() for c in re.sub(r"\{[^}]*\}", "", m)) >= 6
    ]

    def left_over(lang: str) -> list[tuple[str, str]]:
        found = []
        for tab in range(win.tabs.count()):
            win.tabs.setCurrentIndex(tab)
            qtbot.wait(50)
            for name, text in _shown_texts(win):
                if lang == "cs":
                    stale = text not in czech and (
                        text in english or any(f.match(text) for f in formats)
                    )
                else:
                    stale = text in czech and text not in english
                if stale:
                    found.append((name, text))
        return sorted(set(found))

    table = win.fly_panel.table
    armed = [table.item(r, 2).text() for r in range(table.rowCount())]
    assert len(armed) == 2 and set(armed) <= {"yes", "no"}, armed
    win.switch_language("cs")  # at once, without waiting for the next telemetry
    armed = [table.item(r, 2).text() for r in range(table.rowCount())]
    assert set(armed) <= {"ano", "ne"}, armed
    assert left_over("cs") == []
    win.switch_language("en")
    assert left_over("en") == []
    win.fly_panel.disconnect_link()
