"""The main window: the map in the middle, the Plan / Fly / Deployment panels beside it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PyQt5.QtCore import Qt
from PyQt5.QtGui import QCloseEvent, QKeySequence
from PyQt5.QtWidgets import (
    QAction,
    QDockWidget,
    QFileDialog,
    QLabel,
    QMainWindow,
    QScrollArea,
    QTabWidget,
    QWidget,
)

from dronekit_plzen.i18n import _
from gui.deploy_panel import DeploymentPanel
from gui.fly_panel import FlyPanel
from gui.mapcanvas import MapCanvas
from gui.models import PlanView, VehicleView
from gui.plan_panel import PlanPanel
from gui.projection import MapProjection, sjtsk_of
from gui.qtutil import must

STATUS_TIMEOUT_MS = 15_000


def _scrolled(widget: QWidget) -> QScrollArea:
    area = QScrollArea()
    area.setWidget(widget)
    area.setWidgetResizable(True)
    area.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
    return area


class MainWindow(QMainWindow):
    """The application window. ``db_path`` is the telemetry database for deployments."""

    def __init__(self, db_path: Path, parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle(_("dronekit-plzen — mission planning and flight"))
        self.resize(1400, 900)
        self.map = MapCanvas(self)
        self.setCentralWidget(self.map)

        self.plan_panel = PlanPanel()
        self.fly_panel = FlyPanel()
        self.deploy_panel = DeploymentPanel(db_path)
        self.tabs = QTabWidget()
        self.tabs.addTab(_scrolled(self.plan_panel), _("Plan"))
        self.tabs.addTab(self.fly_panel, _("Fly"))
        self.tabs.addTab(_scrolled(self.deploy_panel), _("Deployment"))
        dock = QDockWidget(_("Mission"), self)
        dock.setObjectName("panels")
        dock.setFeatures(QDockWidget.DockWidgetMovable | QDockWidget.DockWidgetFloatable)
        dock.setWidget(self.tabs)
        dock.setMinimumWidth(780)  # the fly panel's fleet table shows all its columns
        self.addDockWidget(Qt.DockWidgetArea.LeftDockWidgetArea, dock)

        self.coords = QLabel("")
        self.coords.setMinimumWidth(470)
        must(self.statusBar()).addPermanentWidget(self.coords)
        self._build_menu()

        self.map.cursorMoved.connect(self.show_cursor)
        for panel in (self.plan_panel, self.fly_panel, self.deploy_panel):
            panel.statusMessage.connect(self.show_message)
        self.plan_panel.areaLoaded.connect(self._area_loaded)
        self.plan_panel.zonesLoaded.connect(self._zones_loaded)
        self.plan_panel.planReady.connect(self._plan_ready)
        self.plan_panel.overrideRecorded.connect(self.fly_panel.log_override)
        self.plan_panel.centreRequested.connect(self.map.focus_on)
        self.plan_panel.draftChanged.connect(self.map.show_draft)
        self.map.clicked.connect(self.plan_panel.map_clicked)
        self.fly_panel.vehiclesUpdated.connect(self._vehicles_updated)
        self.fly_panel.record_db = db_path
        self.deploy_panel.deploymentSelected.connect(self._deployment_selected)
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
            "zones": _("Geozones"),
            "area": _("Area"),
            "footprints": _("Camera footprints"),
            "paths": _("Planned paths"),
            "tracks": _("Flown tracks"),
            "violations": _("Validation findings"),
        }
        self.layer_actions: dict[str, QAction] = {}
        for layer, label in layer_names.items():
            act = QAction(label, self)
            act.setCheckable(True)
            act.setChecked(True)
            act.toggled.connect(lambda on, name=layer: self.map.set_layer_visible(name, on))
            view_menu.addAction(act)
            self.layer_actions[layer] = act

    # ------------------------------------------------------------------ slots
    def _quit(self) -> None:
        self.close()

    def show_message(self, text: str) -> None:
        must(self.statusBar()).showMessage(text, STATUS_TIMEOUT_MS)

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

    def _plan_ready(self, view: PlanView) -> None:
        self.map.show_plan(view.paths, view.footprints, view.homes)
        self.map.show_violations(
            [
                (v.lon, v.lat, f"{v.rule}: {v.message}")
                for v in view.violations
                if v.lon is not None and v.lat is not None
            ]
        )
        self.fly_panel.set_plan(view.missions, view.sorties)
        self.map.fit_all()

    def _deployment_selected(self, deployment_id: int) -> None:
        self.fly_panel.deployment_id = deployment_id
        if self.fly_panel.session is not None:
            self.show_message(
                _("Flights are attributed to deployment {id} from the next connection.").format(
                    id=deployment_id
                )
            )

    def _vehicles_updated(self, views: list[VehicleView]) -> None:
        for v in views:
            if v.lon is None or v.lat is None:
                continue
            alt = "" if v.alt_rel_m is None else f" {v.alt_rel_m:.0f} m"
            self.map.update_vehicle(
                v.sysid, v.lon, v.lat, v.heading_deg, f"{v.sysid} {v.mode}{alt}"
            )

    def _choose_screenshot(self) -> None:
        path, _filter = QFileDialog.getSaveFileName(self, _("Save screenshot"), "map.png", "*.png")
        if path:
            self.save_screenshot(Path(path))

    def save_screenshot(self, path: Path) -> bool:
        """Render the whole window into a PNG; True when written."""
        ok = bool(self.grab().save(str(path), "PNG"))
        self.show_message(
            _("Screenshot saved: {path}").format(path=path)
            if ok
            else _("Could not write {path}").format(path=path)
        )
        return ok

    def closeEvent(self, event: QCloseEvent | None) -> None:
        if not self.fly_panel.confirm_leaving():
            if event is not None:
                event.ignore()
            return
        self.fly_panel.shutdown()
        self.plan_panel.runner.shutdown()
        self.deploy_panel.runner.shutdown()
        super().closeEvent(event)


def cursor_text(lon: float, lat: float) -> str:
    """Status-bar text: WGS84 degrees and S-JTSK metres of the cursor."""
    try:
        e, n = sjtsk_of(lon, lat)
        sjtsk = f"S-JTSK {e:.1f}, {n:.1f}"
    except Exception:  # outside S-JTSK's area of use: show WGS84 only
        sjtsk = "S-JTSK —"
    return f"WGS84 {lat:.6f}° N, {lon:.6f}° E   {sjtsk}"
