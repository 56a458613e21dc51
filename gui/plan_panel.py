"""The planning panel: area, pattern, camera, vehicle, spacing → plan, metrics, checks, export."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from PyQt5.QtCore import QSignalBlocker, Qt, QTimer, pyqtSignal
from PyQt5.QtWidgets import (
    QButtonGroup,
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QListWidgetItem,
    QPushButton,
    QRadioButton,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from dronekit_plzen.errors import DronekitPlzenError
from dronekit_plzen.i18n import _, ngettext
from gui import backend
from gui.models import FeaturesView, PlanRequest, PlanView, ZoneView
from gui.plan_export import PlanExportMixin
from gui.plan_picking import MapPickingMixin
from gui.plan_widgets import (
    AREA_FILTER,
    DATUM_PATTERNS,
    FEATURES_FILTER,
    FLEET_PATTERNS,
    MISSION_FILTER,
    PATTERN_LABELS,
    SUBJECT_LABELS,
    TARGET_LABELS,
    TERRAIN_LABELS,
    UNSPACED_PATTERNS,
    ZONES_FILTER,
    ValidationList,
    WheelGuard,
    features_text,
    guard_wheel,
    metric_rows,
)
from gui.qtutil import CompactComboBox, must
from gui.workers import ThreadRunner


class PlanPanel(MapPickingMixin, PlanExportMixin, QWidget):
    """Load an area, set the pattern and its parameters, plan in a worker, show the result."""

    areaLoaded = pyqtSignal(object)  # shapely geometry in lon/lat
    draftChanged = pyqtSignal(object, object)  # [(lon, lat, label)], [(lon, lat)] centreline
    zonesLoaded = pyqtSignal(object)  # list[ZoneView]
    featuresLoaded = pyqtSignal(object)  # FeaturesView of a probability search, None: dropped
    planReady = pyqtSignal(object)  # PlanView
    findingsRetranslated = pyqtSignal(object)  # PlanView: the same plan, its findings anew
    overrideRecorded = pyqtSignal(object)  # dronekit_plzen.safety.Override
    centreRequested = pyqtSignal(float, float)
    statusMessage = pyqtSignal(str)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.runner = ThreadRunner(self)
        self.area: Any = None
        self.area_path: Path | None = None
        self.zones: list[ZoneView] = []
        self.zones_source: Any = None
        self.plan_view: PlanView | None = None
        self.override_reason: str | None = None
        self._planning = False
        self.datum: tuple[float, float] | None = None
        self.launch: tuple[float, float] | None = None
        self.polyline: list[tuple[float, float]] = []
        self.picking: str | None = None
        self._dem_path: Path | None = None
        self.max_distance_m: float | None = None  # VLOS limit from the configuration
        self._cameras: dict[str, Any] = {}  # key → camera profile (its geometry)
        self._poa_tmp: tempfile.TemporaryDirectory[str] | None = None
        self.features: FeaturesView | None = None  # a probability search's land cover
        self._build()
        QTimer.singleShot(0, self._fill_profiles)  # after the window has connected our signals

    # ------------------------------------------------------------------ layout
    def _build(self) -> None:
        lay = QVBoxLayout(self)
        files = QGroupBox(_("Area and zones"))
        fl = QFormLayout(files)
        self.area_button = QPushButton(_("Load area…"))
        self.area_button.clicked.connect(self._choose_area)
        self.area_label = QLabel(_("no area loaded"))
        self.area_label.setWordWrap(True)
        fl.addRow(self.area_button, self.area_label)
        self.mission_button = QPushButton(_("Open mission file…"))
        self.mission_button.clicked.connect(self._choose_mission)
        self.mission_label = QLabel(_("or plan one below"))
        fl.addRow(self.mission_button, self.mission_label)
        self.zones_button = QPushButton(_("Load zones…"))
        self.zones_button.clicked.connect(self._choose_zones)
        self.zones_label = QLabel(_("no zones loaded"))
        fl.addRow(self.zones_button, self.zones_label)
        self.dem_button = QPushButton(_("Terrain model (DEM)…"))
        self.dem_button.clicked.connect(self._choose_dem)
        self.dem_label = QLabel(_("no DEM: heights against the home elevation"))
        self.dem_label.setWordWrap(True)
        fl.addRow(self.dem_button, self.dem_label)
        lay.addWidget(files)

        params = QGroupBox(_("Pattern"))
        pf = QFormLayout(params)
        self.pattern = QComboBox()
        for p in backend.PATTERNS:
            self.pattern.addItem(_(PATTERN_LABELS[p]), p)
        pf.addRow(_("Pattern"), self.pattern)
        self.camera = QComboBox()
        pf.addRow(_("Camera"), self.camera)
        self.vehicle = QComboBox()
        pf.addRow(_("Vehicle"), self.vehicle)

        self.by_alt = QRadioButton(_("Altitude above ground"))
        self.by_gsd = QRadioButton(_("GSD"))
        self.by_alt.setChecked(True)
        self._height_group = QButtonGroup(self)
        self._height_group.addButton(self.by_alt)
        self._height_group.addButton(self.by_gsd)
        self.alt_m = QDoubleSpinBox()
        self.alt_m.setRange(5.0, 500.0)
        self.alt_m.setValue(60.0)
        self.alt_m.setSuffix(" m")
        self.gsd_cm = QDoubleSpinBox()
        self.gsd_cm.setRange(0.1, 50.0)
        self.gsd_cm.setValue(2.0)
        self.gsd_cm.setSuffix(" cm/px")
        # one choice a line (side by side they held the panel at 585 px in Czech, wider than
        # its dock on a 1366 px laptop, where the GSD was cut off)
        row = QGridLayout()
        row.addWidget(self.by_alt, 0, 0)
        row.addWidget(self.alt_m, 0, 1)
        row.addWidget(self.by_gsd, 1, 0)
        row.addWidget(self.gsd_cm, 1, 1)
        row.setColumnStretch(1, 1)
        pf.addRow(_("Height"), row)

        self.spacing_mode = QComboBox()
        self.spacing_mode.addItem(_("Overlaps"), "overlap")
        self.spacing_mode.addItem(_("Spacing"), "spacing")
        self.spacing_mode.addItem(_("POD"), "pod")
        pf.addRow(_("Spacing from"), self.spacing_mode)
        self.side_overlap = QDoubleSpinBox()
        self.side_overlap.setRange(0.0, 95.0)
        self.side_overlap.setValue(70.0)
        self.side_overlap.setSuffix(" %")
        self.front_overlap = QDoubleSpinBox()
        self.front_overlap.setRange(0.0, 95.0)
        self.front_overlap.setValue(80.0)
        self.front_overlap.setSuffix(" %")
        ov = QGridLayout()
        ov.addWidget(QLabel(_("side")), 0, 0)
        ov.addWidget(self.side_overlap, 0, 1)
        ov.addWidget(QLabel(_("front")), 1, 0)
        ov.addWidget(self.front_overlap, 1, 1)
        ov.setColumnStretch(1, 1)
        pf.addRow(_("Overlaps"), ov)
        self.spacing_m = QDoubleSpinBox()
        self.spacing_m.setRange(1.0, 2000.0)
        self.spacing_m.setValue(40.0)
        self.spacing_m.setSuffix(" m")
        pf.addRow(_("Spacing"), self.spacing_m)
        self.pod = QDoubleSpinBox()
        self.pod.setRange(1.0, 99.9)
        self.pod.setValue(80.0)
        self.pod.setSuffix(" %")
        pf.addRow(_("POD"), self.pod)
        self.angle_auto = QCheckBox(_("automatic"))
        self.angle_auto.setChecked(True)
        self.angle_deg = QDoubleSpinBox()
        self.angle_deg.setRange(0.0, 179.9)
        self.angle_deg.setSuffix("°")
        self.angle_deg.setEnabled(False)
        self.angle_auto.toggled.connect(self._angle_toggled)
        ang = QHBoxLayout()
        ang.addWidget(self.angle_auto)
        ang.addWidget(self.angle_deg)
        pf.addRow(_("Angle"), ang)
        self.drones = QSpinBox()
        self.drones.setRange(1, 10)
        pf.addRow(_("Drones"), self.drones)
        # a probability search: whom the map's statistics are of, and how far each drone flies
        # (compact: the longest Czech category had held the panel wider than its dock)
        self.subject = CompactComboBox(12)
        self.subject.addItem(_("choose…"), None)  # the statistics are a choice, never a default
        for key, label in SUBJECT_LABELS.items():
            self.subject.addItem(_(label), key)
        self.subject.setToolTip(
            _(
                "The lost-person statistics (ISRID) the probability map is made of, around the "
                "last known position"
            )
        )
        pf.addRow(_("Subject category"), self.subject)
        self.terrain = QComboBox()
        for key, label in TERRAIN_LABELS.items():
            self.terrain.addItem(_(label), key)
        self.terrain.setToolTip(
            _("Lost people are found nearer in towns and mountains than on flat land")
        )
        pf.addRow(_("Terrain"), self.terrain)
        # paths, streams, woodland draw the probability to them; water and cliffs take it away
        self.features_button = QPushButton(_("Land cover…"))
        self.features_button.setToolTip(
            _(
                "Paths, roads, streams and woodland (.gpkg or .geojson, a kind property or "
                "OpenStreetMap tags): lost people are found along them; water and cliffs are "
                "not searched"
            )
        )
        self.features_button.clicked.connect(self._choose_features)
        self.features_label = QLabel(_("none: by distance alone"))
        self.features_label.setWordWrap(True)
        self.features_clear = QPushButton("×")
        self.features_clear.setToolTip(_("Plan without the land cover"))
        self.features_clear.setFixedWidth(28)
        self.features_clear.clicked.connect(self.clear_features)
        cover = QHBoxLayout()
        cover.addWidget(self.features_label, 1)
        cover.addWidget(self.features_clear)
        pf.addRow(self.features_button, cover)
        self.budget_km = QDoubleSpinBox()
        self.budget_km.setRange(0.5, 500.0)
        self.budget_km.setValue(10.0)
        self.budget_km.setDecimals(1)
        self.budget_km.setSuffix(" km")
        self.budget_km.setToolTip(
            _("The path each drone searches along; cut into sorties of one battery each")
        )
        pf.addRow(_("Path per drone"), self.budget_km)
        self.target = QComboBox()
        self.target.addItem(_("person (matching the camera)"), "person")
        for key, label in TARGET_LABELS.items():
            self.target.addItem(_(label), key)
        pf.addRow(_("Target"), self.target)
        lay.addWidget(params)

        place = QGroupBox(_("Datum, launch and centreline"))
        gl = QFormLayout(place)
        self.datum_button = QPushButton(_("Pick datum on map"))
        self.datum_button.clicked.connect(lambda: self.start_picking("datum"))
        self.datum_label = QLabel(_("area centre"))
        gl.addRow(self.datum_button, self.datum_label)
        self.radius_m = QDoubleSpinBox()
        self.radius_m.setRange(20.0, 20_000.0)
        self.radius_m.setValue(500.0)
        self.radius_m.setSuffix(" m")
        gl.addRow(_("Radius"), self.radius_m)
        self.line_button = QPushButton(_("Draw centreline on map"))
        self.line_button.clicked.connect(lambda: self.start_picking("line"))
        self.line_label = QLabel(_("no centreline"))
        gl.addRow(self.line_button, self.line_label)
        self.width_m = QDoubleSpinBox()
        self.width_m.setRange(5.0, 5000.0)
        self.width_m.setValue(100.0)
        self.width_m.setSuffix(" m")
        gl.addRow(_("Corridor width"), self.width_m)
        self.launch_button = QPushButton(_("Pick launch point on map"))
        self.launch_button.clicked.connect(lambda: self.start_picking("launch"))
        self.launch_label = QLabel(_("planner's choice"))
        gl.addRow(self.launch_button, self.launch_label)
        self.clear_places = QPushButton(_("Clear datum, launch and centreline"))
        self.clear_places.clicked.connect(self.clear_picks)
        gl.addRow(self.clear_places)
        lay.addWidget(place)
        self.spacing_mode.currentIndexChanged.connect(self._spacing_mode_changed)
        self.pattern.currentIndexChanged.connect(self._pattern_changed)
        # the field a choice sets shows what it gives (it showed its default: "GSD 2.00 cm/px"
        # beside a thermal camera at 80 m, 10.5 cm/px; a GSD typed there was ignored)
        derived = (self.alt_m, self.gsd_cm, self.spacing_m, self.pod)
        self._input_ranges = {b: (b.minimum(), b.maximum()) for b in derived}
        self._input_defaults = {b: b.value() for b in derived}
        self.by_alt.toggled.connect(self._refresh_derived)
        for box in (self.alt_m, self.gsd_cm, self.side_overlap, self.spacing_m, self.pod):
            box.valueChanged.connect(self._refresh_derived)
        for combo in (self.camera, self.target):
            combo.currentIndexChanged.connect(self._refresh_derived)
        self._spacing_mode_changed()

        self.plan_button = QPushButton(_("Compute plan"))
        self.plan_button.clicked.connect(self.start_plan)
        lay.addWidget(self.plan_button)

        self.metrics = QTableWidget(0, 2)
        self.metrics.setHorizontalHeaderLabels([_("Metric"), _("Value")])
        must(self.metrics.horizontalHeader()).setStretchLastSection(True)
        must(self.metrics.verticalHeader()).setVisible(False)
        self.metrics.setEditTriggers(QTableWidget.NoEditTriggers)
        lay.addWidget(QLabel(_("Metrics")))
        lay.addWidget(self.metrics, 2)

        self.validation = ValidationList()
        self.validation_label = self.validation.label
        self.violations = self.validation.findings
        self.violations.itemClicked.connect(self._violation_clicked)
        lay.addWidget(self.validation, 1)

        ex = QHBoxLayout()
        self.export_format = QComboBox()
        for fmt in backend.EXPORT_FORMATS:
            self.export_format.addItem(fmt, fmt)
        self.export_button = QPushButton(_("Export…"))
        self.export_button.clicked.connect(self._choose_export)
        self.override_button = QPushButton(_("Override safety…"))
        self.override_button.clicked.connect(self._override_clicked)
        ex.addWidget(self.export_format)
        ex.addWidget(self.export_button)
        ex.addWidget(self.override_button)
        lay.addLayout(ex)
        self._pattern_changed()
        self._wheel_guard = WheelGuard(self)
        guard_wheel(self, self._wheel_guard)

    def _pattern_changed(self) -> None:
        pattern = self.pattern.currentData()
        datum = pattern in DATUM_PATTERNS
        poa = pattern == "poa"
        self.datum_button.setEnabled(datum)
        self.datum_button.setText(
            _("Pick last known position on map") if poa else _("Pick datum on map")
        )
        # the map reaches the category's 95 % distance (plan poa-map's default)
        self.radius_m.setEnabled(datum and not poa)
        self.subject.setEnabled(poa)
        self.terrain.setEnabled(poa)
        self.budget_km.setEnabled(poa)
        self.features_button.setEnabled(poa)
        self.features_clear.setEnabled(poa and self.features is not None)
        self.line_button.setEnabled(pattern == "corridor")
        self.width_m.setEnabled(pattern == "corridor")
        self.angle_auto.setEnabled(pattern == "survey")
        self.angle_deg.setEnabled(pattern == "survey" and not self.angle_auto.isChecked())
        self.drones.setEnabled(pattern in FLEET_PATTERNS)
        if pattern not in FLEET_PATTERNS:
            self.drones.setValue(1)
        self._spacing_mode_changed()
        self._emit_draft()  # the datum's marker is named as the pattern names it
        self._update_buttons()

    @property
    def planning(self) -> bool:
        """A plan is being computed."""
        return self._planning

    def _angle_toggled(self, automatic: bool) -> None:
        self.angle_deg.setEnabled(not automatic)

    def _spacing_mode_changed(self) -> None:
        mode = self.spacing_mode.currentData()
        spaced = self.pattern.currentData() not in UNSPACED_PATTERNS
        self.spacing_mode.setEnabled(spaced)
        self.side_overlap.setEnabled(spaced and mode == "overlap")
        self.front_overlap.setEnabled(backend.takes_photos(str(self.pattern.currentData())))
        self.spacing_m.setEnabled(spaced and mode == "spacing")
        self.pod.setEnabled(spaced and mode == "pod")
        self._refresh_derived()

    def _show_derived(self, box: QDoubleSpinBox, value: float) -> None:
        """``value`` in a field the user does not set now, without its signals; its input range
        is widened for it (a GSD of 40 cm/px is 3,000 m up with a 35 mm lens)."""
        lo, hi = self._input_ranges[box]
        with QSignalBlocker(box):
            box.setSpecialValueText("")
            box.setRange(min(lo, value), max(hi, value))
            box.setValue(value)

    def _show_unknown(self, box: QDoubleSpinBox) -> None:
        """A dash in a derived field with no value (a subject too small to be seen at this
        height has no POD: the last one shown would have been a stale figure)."""
        hi = self._input_ranges[box][1]
        with QSignalBlocker(box):
            box.setRange(0.0, hi)
            box.setSpecialValueText("—")
            box.setValue(0.0)

    def _refresh_derived(self) -> None:
        """The altitude or GSD the user sets is editable, the other shows what it gives with
        the camera; of the track spacing and the POD for the target, the one not set shows what
        the rule chosen gives. A plan's own figures replace these when it arrives."""
        by_alt = self.by_alt.isChecked()
        chosen = self.alt_m if by_alt else self.gsd_cm
        self.alt_m.setEnabled(by_alt)
        self.gsd_cm.setEnabled(not by_alt)
        mode = self.spacing_mode.currentData()
        inputs = [chosen, {"spacing": self.spacing_m, "pod": self.pod}.get(mode)]
        for box in inputs:  # a range widened to show a derived value is the input's again
            if box is not None:
                with QSignalBlocker(box):
                    unknown = box.specialValueText() == "—" and box.value() == box.minimum()
                    box.setSpecialValueText("")
                    box.setRange(*self._input_ranges[box])
                    if unknown:  # an input again: its default, not the range's floor
                        box.setValue(self._input_defaults[box])
        cam = self._cameras.get(self.camera.currentData())
        if cam is None:
            return
        try:
            if by_alt:
                alt = self.alt_m.value()
                self._show_derived(self.gsd_cm, cam.gsd_cm(alt))
            else:
                alt = cam.alt_for_gsd_m(self.gsd_cm.value())
                self._show_derived(self.alt_m, alt)
            if self.pattern.currentData() in UNSPACED_PATTERNS:
                return
            spacing, pod = backend.track_figures(
                cam,
                alt,
                target=str(self.target.currentData() or "person"),
                side_overlap_pct=self.side_overlap.value(),
                spacing_m=self.spacing_m.value() if mode == "spacing" else None,
                pod=self.pod.value() / 100.0 if mode == "pod" else None,
            )
        except (ArithmeticError, ValueError, backend.BackendMissing):  # the planner says why
            if mode == "pod":  # no spacing gives that POD here (a subject too small to see)
                self._show_unknown(self.spacing_m)
            return
        if mode != "spacing":
            self._show_derived(self.spacing_m, spacing)
        if mode != "pod":
            if pod is None:
                self._show_unknown(self.pod)
            else:
                self._show_derived(self.pod, 100.0 * pod)

    def _show_plan_figures(self, metrics: dict[str, Any]) -> None:
        """The figures the plan was made with, in the fields the user did not set."""
        figures = {
            self.gsd_cm: metrics.get("gsd_cm") if self.by_alt.isChecked() else None,
            self.alt_m: None if self.by_alt.isChecked() else metrics.get("alt_m"),
        }
        if self.pattern.currentData() not in UNSPACED_PATTERNS:
            mode = self.spacing_mode.currentData()
            if mode != "spacing":
                figures[self.spacing_m] = metrics.get("spacing_m")
            pod = metrics.get("pod")
            if mode != "pod" and isinstance(pod, int | float):
                figures[self.pod] = 100.0 * float(pod)
        for box, value in figures.items():
            if isinstance(value, int | float) and value > 0:
                self._show_derived(box, float(value))

    def _fill_profiles(self) -> None:
        try:
            cameras = backend.camera_profiles()
            vehicles = backend.list_vehicles()
        except backend.BackendMissing as exc:
            self.statusMessage.emit(str(exc))
            return
        self._cameras = cameras
        for key, cam in cameras.items():
            self.camera.addItem(str(getattr(cam, "name", key)), key)
        self.vehicle.addItem(_("the camera's vehicle"), None)
        for key, name in vehicles:
            self.vehicle.addItem(name, key)

    def _update_buttons(self) -> None:
        busy = self._planning
        pattern = self.pattern.currentData()
        if pattern == "corridor":
            ready = len(self.polyline) >= 2 and self.picking != "line"
        elif pattern == "poa":  # the map is made around the last known position
            ready = self.datum is not None
        elif pattern in DATUM_PATTERNS:
            ready = self.area is not None or self.datum is not None
        else:
            ready = self.area is not None
        self.plan_button.setEnabled(ready and not busy)
        has_plan = self.plan_view is not None
        self.export_button.setEnabled(has_plan and not busy)
        unsafe = has_plan and bool(self.plan_view and self.plan_view.violations)
        self.override_button.setEnabled(unsafe)

    # ------------------------------------------------------------------ area and zones
    def _choose_area(self) -> None:
        path, _filter = QFileDialog.getOpenFileName(self, _("Load area"), "", AREA_FILTER)
        if path:
            self.load_area(Path(path))

    def load_area(self, path: Path) -> None:
        """Load an area file in a worker; the map draws it when it arrives."""
        self.statusMessage.emit(_("Loading area {path}…").format(path=path))
        self.runner.run(
            lambda: backend.load_area(path),
            lambda res: self._area_loaded(path, res),
            self._load_failed,
        )

    def _area_loaded(self, path: Path, result: tuple[Any, Any]) -> None:
        self.area, geom = result
        self.area_path = path
        self.plan_view = None
        self.area_label.setText(path.name)
        self.validation.clear()
        notes = backend.area_warnings(self.area)
        self.validation.show_warnings(notes)
        if notes:
            self.statusMessage.emit(
                ngettext(
                    "Area loaded: {name}, with {n} warning (see the list).",
                    "Area loaded: {name}, with {n} warnings (see the list).",
                    len(notes),
                ).format(name=path.name, n=len(notes))
            )
        else:
            self.statusMessage.emit(_("Area loaded: {name}").format(name=path.name))
        self.areaLoaded.emit(geom)
        self._update_buttons()

    def _choose_mission(self) -> None:
        path, _filter = QFileDialog.getOpenFileName(
            self, _("Open mission file"), "", MISSION_FILTER
        )
        if path:
            self.open_mission(Path(path))

    def open_mission(self, path: Path) -> None:
        """Load a mission file, validate it and show it like a plan (ready to fly)."""
        zones, dem = self.zones_source, self.dem_path
        self.statusMessage.emit(_("Loading mission {path}…").format(path=path))
        self._planning = True
        self._update_buttons()

        def done(view: PlanView) -> None:
            meta = getattr(view.missions[0], "metadata", None) if view.missions else None
            shown = self._form_from_file(meta or {})
            self.mission_label.setText(
                path.name
                if shown
                else _("{name} (planned elsewhere: the form is for a new plan)").format(
                    name=path.name
                )
            )
            self.override_reason = None  # a new plan: the shown one's override is not its own
            self._planned(view)

        vehicle, camera = self.vehicle.currentData(), self.camera.currentData()
        self.runner.run(
            lambda: backend.open_mission(
                path, zones, dem, vehicle, camera, max_distance_m=self.max_distance_m
            ),
            done,
            self._failed,
        )

    def _form_from_file(self, meta: dict[str, Any]) -> bool:
        """Show in the form what an opened mission file was planned with, where the file says
        (the toolkit's own files do: pattern, camera, vehicle, height, target): the form had
        kept its own values, 60 m beside a file flown at 100 m. False: the file says none of
        them (a QGroundControl or DJI file)."""

        def pick(combo: QComboBox, value: Any) -> bool:
            i = combo.findData(value) if isinstance(value, str) and value else -1
            if i >= 0:
                combo.setCurrentIndex(i)
            return i >= 0

        shown = [
            pick(self.pattern, meta.get("pattern")),
            pick(self.camera, meta.get("camera")),
            pick(self.vehicle, meta.get("vehicle")),
            pick(self.target, meta.get("target")),
        ]
        alt = meta.get("alt_m")
        if isinstance(alt, int | float) and self.alt_m.minimum() <= alt <= self.alt_m.maximum():
            self.by_alt.setChecked(True)
            self.alt_m.setValue(float(alt))
            shown.append(True)
        return any(shown)

    def _choose_zones(self) -> None:
        path, _filter = QFileDialog.getOpenFileName(self, _("Load zones"), "", ZONES_FILTER)
        if path:
            self.load_zones(Path(path))

    def load_zones(self, path: Path) -> None:
        self.runner.run(
            lambda: backend.load_zones(path),
            lambda res: self._zones_loaded(path, res),
            self._load_failed,
        )

    def _zones_loaded(self, path: Path, result: tuple[Any, list[ZoneView]]) -> None:
        self.zones_source, self.zones = result
        self.zones_label.setText(f"{path.name} ({len(self.zones)})")
        n = len(self.zones)
        self.statusMessage.emit(ngettext("{n} zone loaded", "{n} zones loaded", n).format(n=n))
        self.zonesLoaded.emit(self.zones)

    def _choose_features(self) -> None:
        path, _filter = QFileDialog.getOpenFileName(self, _("Land cover"), "", FEATURES_FILTER)
        if path:
            self.load_features(Path(path))

    def load_features(self, path: Path) -> None:
        """Read a probability search's land cover (checked as ``plan poa-map --features``
        checks it); a refused file leaves the one loaded before."""
        self.runner.run(
            lambda: backend.load_features(path),
            self._features_loaded,
            self._load_failed,
        )

    @property
    def features_path(self) -> Path | None:
        return None if self.features is None else self.features.path

    def _show_features(self) -> None:
        """The land cover's label: the file and what it holds, or none."""
        f = self.features
        self.features_label.setText(
            _("none: by distance alone")
            if f is None
            else f"{f.path.name}: {features_text(f.counts)}"
        )

    def _features_loaded(self, view: FeaturesView) -> None:
        self.features = view
        n = len(view.features)
        self._show_features()
        self.features_clear.setEnabled(self.pattern.currentData() == "poa")
        self.statusMessage.emit(
            ngettext(
                "Land cover loaded: {n} feature ({kinds}).",
                "Land cover loaded: {n} features ({kinds}).",
                n,
            ).format(n=n, kinds=features_text(view.counts))
        )
        self.featuresLoaded.emit(view)

    def clear_features(self) -> None:
        """Plan the probability search on the rings alone."""
        self.features = None
        self._show_features()
        self.features_clear.setEnabled(False)
        self.featuresLoaded.emit(None)

    # ------------------------------------------------------------------ planning
    def request(self) -> PlanRequest:
        """The planning request the widgets describe."""
        mode = self.spacing_mode.currentData()
        poa = self.pattern.currentData() == "poa"
        return PlanRequest(
            pattern=str(self.pattern.currentData()),
            area=self.area,
            camera=self.camera.currentData(),
            vehicle=self.vehicle.currentData(),
            alt_m=self.alt_m.value() if self.by_alt.isChecked() else None,
            gsd_cm=self.gsd_cm.value() if self.by_gsd.isChecked() else None,
            side_overlap_pct=self.side_overlap.value() if mode == "overlap" else None,
            front_overlap_pct=self.front_overlap.value(),
            spacing_m=self.spacing_m.value() if mode == "spacing" else None,
            pod=self.pod.value() / 100.0 if mode == "pod" else None,
            angle_deg=None if self.angle_auto.isChecked() else self.angle_deg.value(),
            drones=self.drones.value(),
            zones=tuple(self.zones),
            zones_source=self.zones_source,
            # what is searched for sets the POD of a spacing, and a probability search's
            target=self.target.currentData() if mode == "pod" or poa else None,
            datum=self.datum,
            radius_m=None if poa else self.radius_m.value(),
            width_m=self.width_m.value(),
            polyline=tuple(self.polyline),
            launch=self.launch,
            dem=self.dem_path,
            max_distance_m=self.max_distance_m,
            subject=self.subject.currentData() if poa else None,
            terrain=str(self.terrain.currentData()),
            budget_m=1000.0 * self.budget_km.value() if poa else None,
            features=self.features_path if poa else None,
        )

    def start_plan(self) -> None:
        pattern = self.pattern.currentData()
        if self.area is None and pattern not in DATUM_PATTERNS and pattern != "corridor":
            self.statusMessage.emit(_("Load an area first."))
            return
        if pattern == "poa" and self.subject.currentData() is None:
            self.statusMessage.emit(_("Pick the missing person's category first."))
            return
        req = self.request()
        self.statusMessage.emit(_("Planning…"))
        self._planning = True

        def done(view: PlanView) -> None:
            self.override_reason = None  # a new plan: the shown one's override is not its own
            self._planned(view)

        poa_dir = self._poa_dir()
        self.runner.run(lambda: backend.plan(req, poa_dir), done, self._failed)
        self._update_buttons()

    def _poa_dir(self) -> Path:
        """Where a probability search's POA maps are written while the window is open (each
        export copies the map beside its missions)."""
        if self._poa_tmp is None:
            self._poa_tmp = tempfile.TemporaryDirectory(prefix="dkp-poa-")
        return Path(self._poa_tmp.name)

    def _fill_metrics(self, view: PlanView) -> None:
        rows = metric_rows(view.metrics)
        self.metrics.setRowCount(len(rows))
        for i, (label, value) in enumerate(rows):
            self.metrics.setItem(i, 0, QTableWidgetItem(label))
            self.metrics.setItem(i, 1, QTableWidgetItem(value))
        self.metrics.resizeColumnToContents(0)

    def retranslate(self) -> None:
        """The plan's figures in the language now set (the window's retranslation does not
        reach a table's cells: "Path length" had stayed English in Czech)."""
        if self.plan_view is not None and self.metrics.rowCount():
            self._fill_metrics(self.plan_view)
        self._show_features()
        view = self.plan_view
        if view is None or not view.sorties or not (view.violations or view.warnings):
            return
        # the guard wrote its findings in the language of the time ("max_agl: 150 m nad…" had
        # stayed Czech in English): their sorties are checked again for the words, at once
        # (milliseconds a sortie; the switch is rare and the panel must not show both)
        try:
            new = backend.retranslated(view)
        except DronekitPlzenError as exc:  # a DEM deleted since: the findings stay as they were
            self.statusMessage.emit(_("Error: {message}").format(message=exc))
            return
        self.plan_view = new
        self._show_validation(new)
        self.findingsRetranslated.emit(new)

    def _planned(self, view: PlanView) -> None:
        self._planning = False
        self.plan_view = view
        self._fill_metrics(view)
        self._show_plan_figures(view.metrics)
        self._show_validation(view)
        self.planReady.emit(view)
        if view.violations:
            n = len(view.violations)
            text = ngettext(
                "Plan ready, but it FAILED validation: {n} problem (see the list).",
                "Plan ready, but it FAILED validation: {n} problems (see the list).",
                n,
            )
        elif view.validated and view.warnings:
            n = len(view.warnings)
            text = ngettext(
                "Plan ready; validation passed with {n} warning (see the list).",
                "Plan ready; validation passed with {n} warnings (see the list).",
                n,
            )
        elif view.validated:
            n, text = 0, _("Plan ready; validation passed.")
        else:
            n, text = 0, _("Plan ready (not validated: the validator is missing).")
        self.statusMessage.emit(text.format(n=n))
        self._update_buttons()

    def _show_validation(self, view: PlanView) -> None:
        self.validation.show_view(view)

    def show_edited(self, view: PlanView) -> None:
        """A plan edited on the map and validated again (no new metrics: the map changed it)."""
        self.plan_view = view
        self.override_reason = None
        self._show_validation(view)
        self._update_buttons()

    def clear_plan(self) -> None:
        self.plan_view = None
        self.override_reason = None
        self.metrics.setRowCount(0)
        self.validation.clear()
        self._update_buttons()

    def _violation_clicked(self, item: QListWidgetItem) -> None:
        lon, lat = item.data(Qt.ItemDataRole.UserRole)
        if lon is not None and lat is not None:
            self.centreRequested.emit(float(lon), float(lat))

    def _failed(self, message: str) -> None:
        """A plan, a mission file or an export failed: the plan shown (and its override) stays."""
        self._planning = False
        self.statusMessage.emit(_("Error: {message}").format(message=message))
        self._update_buttons()

    def _load_failed(self, message: str) -> None:
        """An area, zones or terrain file was refused: what was loaded before stays, and a plan
        being computed meanwhile goes on (its button stays disabled)."""
        self.statusMessage.emit(_("Error: {message}").format(message=message))
