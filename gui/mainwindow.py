"""The main window: the map in the middle, the Plan / Fly / Deployment panels beside it, the
instrument strip under the map and the focused vehicle's cockpit (instruments, guided go-to,
checklist, video) on the right. The language is switched from the menu at run time."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PyQt5.QtCore import Qt, QTimer
from PyQt5.QtGui import QCloseEvent, QKeySequence
from PyQt5.QtWidgets import (
    QAction,
    QActionGroup,
    QDialog,
    QDockWidget,
    QFileDialog,
    QLabel,
    QMainWindow,
    QScrollArea,
    QTabBar,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from dronekit_plzen.i18n import _, get_language, set_language
from gui.crash import SlotErrorGuard
from gui.deploy_panel import DeploymentPanel
from gui.fly_alerts import CRITICAL, WARNING, BannerStack
from gui.fly_cockpit import Cockpit
from gui.fly_goto import GotoDialog, check_target
from gui.fly_panel import FlyPanel
from gui.i18n_switch import Retranslator
from gui.instruments import InstrumentStrip, fmt_reading
from gui.map.tools import install_map_tools
from gui.mapcanvas import MapCanvas
from gui.models import PlanView, VehicleView
from gui.plan_panel import PlanPanel
from gui.plan_widgets import FEATURE_KIND_LABELS
from gui.projection import MapProjection, sjtsk_of
from gui.qtutil import UpDownScrollArea, must
from gui.requests_panel import RequestsPanel

STATUS_TIMEOUT_MS = 15_000
#: the last error of a door (a file, a save) shown above the map this long, or until dismissed
ERROR_BANNER_S = 60.0
ERROR_BANNER_KEY = "door-error"
#: the panels' starting width: the fly panel's fleet table shows all its columns
PANELS_WIDTH_PX = 780


def _scrolled(widget: QWidget, *, sideways: bool = False) -> QScrollArea:
    """``widget`` in a scroll area: it fills the area when there is room and scrolls when
    there is not (a laptop's 1366 × 768 screen), instead of squeezing its rows over each other.
    ``sideways``: scroll horizontally too (the fly panel's ten-column fleet table); otherwise
    the area is as wide as the widget needs."""
    area = QScrollArea() if sideways else UpDownScrollArea()
    area.setWidget(widget)
    area.setWidgetResizable(True)
    if not sideways:
        area.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
    return area


class MainWindow(QMainWindow):
    """The application window. ``db_path`` is the telemetry database for deployments."""

    def __init__(self, db_path: Path, parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle(_("dronekit-plzen — mission planning and flight"))
        self.resize(1400, 900)
        self.map = MapCanvas(self)
        #: the window's own banners above the map, whatever tab is open (an internal error)
        self.alerts = BannerStack()
        centre = QWidget()
        centre_lay = QVBoxLayout(centre)
        centre_lay.setContentsMargins(0, 0, 0, 0)
        centre_lay.setSpacing(0)
        centre_lay.addWidget(self.alerts)
        centre_lay.addWidget(self.map, 1)
        self.setCentralWidget(centre)
        #: the slot-error hook while :func:`gui.crash.guard_slots` runs (None otherwise)
        self.slot_guard: SlotErrorGuard | None = None

        self.plan_panel = PlanPanel()
        self.fly_panel = FlyPanel()
        self.deploy_panel = DeploymentPanel(db_path)
        self.tabs = QTabWidget()
        self.tabs.addTab(_scrolled(self.plan_panel), _("Plan"))
        self.fly_tab = self._fly_tab()
        self.tabs.addTab(self.fly_tab, _("Fly"))
        self.tabs.addTab(_scrolled(self.deploy_panel), _("Deployment"))
        self.requests_panel = RequestsPanel(db_path)  # the web portal's queue (issue 18)
        self.requests_panel.attach_plan_panel(self.plan_panel)
        self.requests_panel.statusMessage.connect(self.show_message)
        self.requests_panel.planRequested.connect(lambda _r: self.tabs.setCurrentIndex(0))
        self.tabs.addTab(self.requests_panel, _("Requests"))
        dock = QDockWidget(_("Mission"), self)
        dock.setObjectName("panels")
        dock.setFeatures(QDockWidget.DockWidgetMovable | QDockWidget.DockWidgetFloatable)
        dock.setWidget(self.tabs)
        self.addDockWidget(Qt.DockWidgetArea.LeftDockWidgetArea, dock)
        # wide enough at the start for the fly panel's fleet table to show all its columns
        # (:meth:`showEvent`); it was forced so wide, and the window 1708 px at least, wider
        # than a field laptop's screen: a narrower screen now gets a scroll bar instead
        self.panels_dock = dock
        self._sized = False

        self.strip = InstrumentStrip()
        strip_dock = QDockWidget(_("Instruments"), self)
        strip_dock.setObjectName("instruments")
        strip_dock.setFeatures(QDockWidget.DockWidgetMovable | QDockWidget.DockWidgetFloatable)
        strip_area = QScrollArea()
        strip_area.setWidget(self.strip)
        strip_area.setWidgetResizable(True)
        strip_dock.setWidget(strip_area)
        self.addDockWidget(Qt.DockWidgetArea.BottomDockWidgetArea, strip_dock)
        self.resizeDocks([strip_dock], [120], Qt.Orientation.Vertical)
        self.strip_dock, self.strip_area = strip_dock, strip_area
        self._strip_rows = 0  # the rows the strip's height was last fitted to
        self.cockpit = Cockpit()
        cockpit_dock = QDockWidget(_("Vehicle in focus"), self)
        cockpit_dock.setObjectName("cockpit")
        cockpit_dock.setFeatures(QDockWidget.DockWidgetMovable | QDockWidget.DockWidgetFloatable)
        cockpit_dock.setWidget(_scrolled(self.cockpit))
        cockpit_dock.setMinimumWidth(400)
        self.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, cockpit_dock)
        # shown once vehicles are on the link: planning keeps the map wide
        self.flight_docks = (strip_dock, cockpit_dock)
        for d in self.flight_docks:
            d.hide()
        self.focused: int | None = None
        self.goto_pick: int | None = None  # the vehicle waiting for its go-to target click
        #: dialog class for the guided go-to (a test may answer it like a pilot)
        self.goto_dialog: type[GotoDialog] = GotoDialog
        self._plan_view: PlanView | None = None
        self._retranslator = Retranslator()
        self._flight_docks_shown = False

        self.coords = QLabel("")
        self.coords.setMinimumWidth(470)
        must(self.statusBar()).addPermanentWidget(self.coords)
        self._build_menu()

        self.map.cursorMoved.connect(self.show_cursor)
        for panel in (self.plan_panel, self.fly_panel, self.deploy_panel):
            panel.statusMessage.connect(self.show_message)
        self.plan_panel.areaLoaded.connect(self._area_loaded)
        self.plan_panel.zonesLoaded.connect(self._zones_loaded)
        self.plan_panel.featuresLoaded.connect(self._features_loaded)
        self.plan_panel.planReady.connect(self._plan_ready)
        self.plan_panel.findingsRetranslated.connect(self._findings_retranslated)
        self.plan_panel.overrideRecorded.connect(self.fly_panel.log_override)
        self.fly_panel.crew_open = self.cockpit.checklist.open_crew
        self.plan_panel.centreRequested.connect(self.map.focus_on)
        self.plan_panel.draftChanged.connect(self.map.show_draft)
        self.map.clicked.connect(self.plan_panel.map_clicked)
        self.fly_panel.vehiclesUpdated.connect(self._vehicles_updated)
        self.fly_panel.onboardMission.connect(self._onboard_mission)
        self.fly_panel.table.itemSelectionChanged.connect(self._table_selected)
        self.strip.vehicleClicked.connect(self.set_focus)
        self.cockpit.gotoRequested.connect(self.start_goto_pick)
        self.map.mapClicked.connect(self._map_clicked)
        self.fly_panel.record_db = db_path
        self.deploy_panel.deploymentSelected.connect(self._deployment_selected)
        self.deploy_panel.sightingsShown.connect(self.map.show_sightings)
        self.map.vehicleClicked.connect(self._map_vehicle_clicked)
        self.map_tools = install_map_tools(self)  # edit menu, layers, altitude profile
        self.show_message(_("Ready. Load an area to plan, or connect to fly."))

    def _build_menu(self) -> None:
        bar = must(self.menuBar())
        file_menu = must(bar.addMenu(_("&File")))
        open_area = QAction(_("Open area…"), self)
        open_area.setShortcut(QKeySequence.Open)
        open_area.triggered.connect(self.plan_panel._choose_area)
        file_menu.addAction(open_area)
        open_zones = QAction(_("Open zones…"), self)
        open_zones.triggered.connect(self.plan_panel._choose_zones)
        file_menu.addAction(open_zones)
        shot = QAction(_("Save screenshot…"), self)
        shot.triggered.connect(self._choose_screenshot)
        file_menu.addAction(shot)
        file_menu.addSeparator()
        quit_action = QAction(_("Quit"), self)
        keys = [k for k in QKeySequence.keyBindings(QKeySequence.Quit) if not k.isEmpty()]
        ctrl_q = QKeySequence("Ctrl+Q")
        quit_action.setShortcuts(keys if ctrl_q in keys else [*keys, ctrl_q])
        self.quit_action = quit_action
        quit_action.triggered.connect(self._quit)
        file_menu.addAction(quit_action)
        view_menu = must(bar.addMenu(_("&View")))
        fit = QAction(_("Zoom to data"), self)
        fit.setShortcut("Ctrl+0")
        fit.triggered.connect(self.map.fit_all)
        view_menu.addAction(fit)
        zin = QAction(_("Zoom in"), self)
        zin.setShortcut(QKeySequence.ZoomIn)
        zin.triggered.connect(lambda: self.map.zoom_by(1.5))
        view_menu.addAction(zin)
        zout = QAction(_("Zoom out"), self)
        zout.setShortcut(QKeySequence.ZoomOut)
        zout.triggered.connect(lambda: self.map.zoom_by(1 / 1.5))
        view_menu.addAction(zout)
        view_menu.addSeparator()
        layer_names = {
            "landcover": _("Land cover"),
            "zones": _("Geozones"),
            "area": _("Area"),
            "footprints": _("Camera footprints"),
            "paths": _("Planned paths"),
            "tracks": _("Flown tracks"),
            "violations": _("Validation findings"),
            "sightings": _("Sightings"),
        }
        self.layer_actions: dict[str, QAction] = {}
        for layer, label in layer_names.items():
            act = QAction(label, self)
            act.setCheckable(True)
            act.setChecked(True)
            act.toggled.connect(lambda on, name=layer: self.map.set_layer_visible(name, on))
            view_menu.addAction(act)
            self.layer_actions[layer] = act
        view_menu.addSeparator()
        for d in getattr(self, "flight_docks", ()):
            view_menu.addAction(d.toggleViewAction())
        lang_menu = must(bar.addMenu(_("&Language")))
        group = QActionGroup(self)
        self.language_actions: dict[str, QAction] = {}
        for code, name in (("en", "English"), ("cs", "Čeština")):
            act = QAction(name, self)
            act.setCheckable(True)
            act.setChecked(get_language() == code)
            act.triggered.connect(lambda _on=False, c=code: self.switch_language(c))
            group.addAction(act)
            lang_menu.addAction(act)
            self.language_actions[code] = act

    # ------------------------------------------------------------------ slots
    def _quit(self) -> None:
        self.close()

    def show_message(self, text: str) -> None:
        """``text`` in the status bar; an error also above the map, wrapped in full: the status
        bar cut a long one (a file's path first, the problem after it) at the window's edge,
        and takes it away after 15 s."""
        must(self.statusBar()).showMessage(text, STATUS_TIMEOUT_MS)
        if text.startswith(_("Error: {message}").format(message="")):
            self.alerts.raise_alert(ERROR_BANNER_KEY, WARNING, text, ttl_s=ERROR_BANNER_S)

    def show_cursor(self, lon: float, lat: float) -> None:
        self.coords.setText(cursor_text(lon, lat))

    def _area_loaded(self, geom: Any) -> None:
        x0, y0, x1, y1 = geom.bounds
        proj = MapProjection.for_lonlat((x0 + x1) / 2, (y0 + y1) / 2)
        if proj != self.map.projection:
            self.map.projection = proj  # a new zone: older layers are redrawn when re-sent
        self.map.show_area(geom)
        self.map.clear_layer("paths")
        self.map.clear_layer("footprints")
        self.map.clear_layer("homes")
        self.map.clear_layer("violations")
        self.map.fit_all()

    def _zones_loaded(self, zones: Any) -> None:
        self.map.show_zones(zones)

    def _features_loaded(self, view: Any) -> None:
        """A probability search's land cover drawn under the zones (None: taken away)."""
        if view is None:
            self.map.clear_layer("landcover")
            return
        labels = {k: _(label) for k, label in FEATURE_KIND_LABELS.items()}
        self.map.show_features(view.features, labels)

    def switch_language(self, lang: str) -> None:
        """Show every text in ``lang`` (en/cs) from now on; panels keep their state."""
        old = get_language()
        if lang == old:
            return
        set_language(lang)
        self._retranslator.run(self, old)
        self.fly_panel.log.retranslate()
        self.fly_panel.retranslate()
        self.fly_panel.banners.retranslate()
        self.alerts.retranslate()
        self.strip.retranslate()
        self.cockpit.retranslate()
        self.map_tools.profile.retranslate()
        self.plan_panel.retranslate()
        self.deploy_panel.refresh()
        self.deploy_panel.chart.update()
        if self.slot_guard is not None:
            self.slot_guard.retranslate()
        for code, act in self.language_actions.items():
            act.setChecked(code == lang)
        self._vehicles_updated(list(self.fly_panel.vehicles.values()))
        self.show_message(_("Language: English") if lang == "en" else _("Language: Czech"))

    # ------------------------------------------------------------------ flying
    def set_focus(self, sysid: int) -> None:
        """Show vehicle ``sysid`` in the cockpit (large instruments, checklist, video)."""
        self.focused = sysid
        self.strip.focused = sysid
        self._vehicles_updated(list(self.fly_panel.vehicles.values()))

    def _map_vehicle_clicked(self, sysid: Any) -> None:
        """A click on a vehicle's icon focuses it (not while a go-to target is being picked:
        that click is the target)."""
        if self.goto_pick is None and isinstance(sysid, int) and sysid != self.focused:
            self.set_focus(sysid)

    def _table_selected(self) -> None:
        sysid = self.fly_panel.table.selected_sysid()
        if sysid is not None and sysid != self.focused:
            self.set_focus(sysid)

    def start_goto_pick(self, sysid: int) -> None:
        self.goto_pick = sysid
        self.show_message(
            _("Click the confirmed sighting on the map for vehicle {sysid}.").format(sysid=sysid)
        )

    def _map_clicked(self, lon: float, lat: float) -> None:
        if self.goto_pick is None:
            return
        sysid, self.goto_pick = self.goto_pick, None
        self.confirm_goto(sysid, lon, lat)

    def confirm_goto(self, sysid: int, lon: float, lat: float) -> bool:
        """Ask the pilot to confirm a go-to ``lon``/``lat`` (the guard checks it); True: sent."""
        v = self.fly_panel.vehicles.get(sysid)
        if v is None:
            self.show_message(_("Vehicle {sysid} is not on the link.").format(sysid=sysid))
            return False
        plan = self.plan_panel

        def check(alt_m: float) -> Any:
            return check_target(
                v,
                lon,
                lat,
                alt_m,
                zones=plan.zones_source,
                dem=plan.dem_path,
                max_distance_m=plan.max_distance_m,
            )

        dlg = self.goto_dialog(v, lon, lat, check, deployment_id=self.deploy_panel.current_id)
        dlg.setParent(self, dlg.windowFlags())
        if dlg.exec_() != QDialog.Accepted or dlg.result_check is None:
            self.show_message(_("Guided go-to cancelled."))
            return False
        chk = dlg.result_check
        if not chk.ok:  # the button is disabled then; never send a refused target
            return False
        self.fly_panel.goto(sysid, lat, lon, chk.alt_m)
        if dlg.record.isChecked():
            self.deploy_panel.record_sighting(lat, lon, sysid, dlg.note.text().strip())
        return True

    def _onboard_mission(self, _sysid: int, _items: object) -> None:
        """Draw what the vehicles hold (read back from them), not a newer plan."""
        held = {s: items for s, items in self.fly_panel.on_board.items() if items}
        if not held:
            return
        paths = [
            [(it.lon_deg, it.lat_deg) for it in held[s] if it.has_position] for s in sorted(held)
        ]
        view = self._plan_view
        self.map.show_plan(paths, view.footprints if view else (), view.homes if view else ())

    def _plan_ready(self, view: PlanView) -> None:
        self._plan_view = view
        if view.overlay is not None:  # a probability search's map under its paths
            self.map.add_raster_image(view.overlay, opacity=0.6)
        self.map.show_plan(view.paths, view.footprints, view.homes)
        self.show_findings(view)
        self.fly_panel.set_plan(view.missions, view.sorties)
        self.map.fit_all()

    def _findings_retranslated(self, view: PlanView) -> None:
        """The plan's findings in the language now set: the map's markers say them anew."""
        self._plan_view = view
        self.show_findings(view)

    def show_findings(self, view: PlanView) -> None:
        """The plan's located findings as markers on the map."""
        self.map.show_violations(
            [
                (v.lon, v.lat, f"{v.rule}: {v.message}")
                for v in view.violations
                if v.lon is not None and v.lat is not None
            ]
        )

    def _deployment_selected(self, deployment_id: int) -> None:
        self.fly_panel.deployment_id = deployment_id
        if self.fly_panel.session is not None:
            self.show_message(
                _("Flights are attributed to deployment {id} from the next connection.").format(
                    id=deployment_id
                )
            )

    def _fly_tab(self) -> QWidget:
        """The fly panel's banners on top, always in view and wrapped to the tab's width, and
        the rest of the panel under them, scrolled both ways on a small screen."""
        fly = self.fly_panel
        must(fly.layout()).removeWidget(fly.banners)
        tab = QWidget()
        lay = QVBoxLayout(tab)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(fly.banners)
        lay.addWidget(_scrolled(fly, sideways=True), 1)
        fly.banners.raised.connect(self._banner_raised)
        return tab

    def _banner_raised(self, level: str) -> None:
        """A critical banner (link lost, battery critical, an autopilot's CRITICAL or
        EMERGENCY) is brought into view whatever tab the pilot is on; its sound already
        plays. Warnings and information wait on the Fly tab."""
        if level == CRITICAL and self.tabs.currentWidget() is not self.fly_tab:
            self.show_fly_panel()

    def show_fly_panel(self) -> None:
        """Bring the Fly tab to the front."""
        self.tabs.setCurrentWidget(self.fly_tab)

    def showEvent(self, event: Any) -> None:
        super().showEvent(event)
        if not self._sized:  # docks take their sizes once the window has its own
            self._sized = True
            self.resizeDocks([self.panels_dock], [PANELS_WIDTH_PX], Qt.Orientation.Horizontal)

    def _vehicles_updated(self, views: list[VehicleView]) -> None:
        fly = self.fly_panel
        if views and not self._flight_docks_shown:
            self._flight_docks_shown = True
            for d in self.flight_docks:
                d.show()
                d.raise_()  # in front of docks tabified with it (layers, profile)
            # the docks take their room from the map: the plan fitted to the wider map had
            # its far side cut off; fitted again once the window is laid out (plan, vehicles)
            QTimer.singleShot(0, self.map.fit_all)
        self.strip.show_vehicles({v.sysid: fly.readings_of(v) for v in views})
        if len(views) != self._strip_rows:
            self._strip_rows = len(views)
            QTimer.singleShot(0, self._fit_strip)
        if self.focused is None and views:
            self.focused = self.strip.focused = min(v.sysid for v in views)
        focus = fly.vehicles.get(self.focused) if self.focused is not None else None
        if focus is None:
            self.cockpit.show_vehicle(None, [], None)
        else:
            self.cockpit.show_vehicle(
                focus.sysid, fly.readings_of(focus), fly.preflight_of(focus.sysid)
            )
        # a vehicle heard with its position for the first time and out of view brings the
        # map to it (with the plan): a pilot who connected saw an empty map, the vehicle
        # kilometres away from the view of the planning
        first = [
            v
            for v in views
            if v.lon is not None and v.lat is not None and not self.map.has_vehicle(v.sysid)
        ]
        for v in views:
            if v.lon is None or v.lat is None:
                continue
            self.map.set_vehicle_footprint(v.sysid, fly.footprint_of(v))
            alt = "" if v.alt_rel_m is None else " " + fmt_reading(v.alt_rel_m, "{:.0f} m")
            self.map.update_vehicle(
                v.sysid, v.lon, v.lat, v.heading_deg, f"{v.sysid} {v.mode}{alt}"
            )
        if any(not self.map.shows_lonlat(v.lon, v.lat) for v in first):  # type: ignore[arg-type]
            self.map.fit_all()

    def _fit_strip(self) -> None:
        """The instruments dock as tall as its rows (at most a third of the window): at its
        first 120 px a second vehicle's row was cut in half and a third hidden."""
        dock, area = self.strip_dock, self.strip_area
        if dock.isHidden() or dock.isFloating():
            return
        # room for the sideways scroll bar too: the strip is often wider than the window, and
        # the bar appearing with the first long reading had cut the last row again
        bar = must(area.horizontalScrollBar()).sizeHint().height()
        around = dock.height() - area.height() + 2 * area.frameWidth()
        want = around + self.strip.sizeHint().height() + bar
        # tabified (with the altitude profile), the size given is the group's: its tab bar too
        title = dock.windowTitle()
        for tabs in self.findChildren(QTabBar):
            mine = tabs.parent() is self and tabs.isVisible()
            if mine and any(tabs.tabText(i) == title for i in range(tabs.count())):
                want += tabs.height()
        self.resizeDocks([dock], [min(want, self.height() // 3)], Qt.Orientation.Vertical)

    def _choose_screenshot(self) -> None:
        path, _filter = QFileDialog.getSaveFileName(self, _("Save screenshot"), "map.png", "*.png")
        if path:
            self.save_screenshot(Path(path))

    def save_screenshot(self, path: Path) -> bool:
        """Render the whole window into a PNG; True when written.

        The path is checked first and the image written to a temporary file renamed into
        place, so a refused path (a directory, a missing folder, ``/proc``) leaves no file and
        the message says why (it had said only "Could not write")."""
        from dronekit_plzen.errors import DronekitPlzenError, StorageError
        from dronekit_plzen.outputs import atomic_output

        try:
            with atomic_output(path, suffixes=(".png",)) as tmp:
                if not self.grab().save(str(tmp), "PNG"):
                    raise StorageError(_("the image could not be encoded"), where=str(path))
        except DronekitPlzenError as exc:
            self.show_message(_("Error: {message}").format(message=exc))
            return False
        self.show_message(_("Screenshot saved: {path}").format(path=path))
        return True

    def closeEvent(self, event: QCloseEvent | None) -> None:
        if not self.fly_panel.confirm_leaving():
            if event is not None:
                event.ignore()
            return
        self.fly_panel.shutdown()
        self.cockpit.video.stop()
        self.plan_panel.runner.shutdown()
        self.map_tools.shutdown()
        self.deploy_panel.runner.shutdown()
        self.requests_panel.shutdown()
        super().closeEvent(event)


def cursor_text(lon: float, lat: float) -> str:
    """Status-bar text: WGS84 degrees and S-JTSK metres of the cursor."""
    try:
        e, n = sjtsk_of(lon, lat)
        sjtsk = f"S-JTSK {e:.1f}, {n:.1f}"
    except Exception:  # outside S-JTSK's area of use: show WGS84 only
        sjtsk = "S-JTSK —"
    return f"WGS84 {lat:.6f}° N, {lon:.6f}° E   {sjtsk}"
