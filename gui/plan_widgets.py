"""Pieces of the planning panel: labels, the metrics rows and the safety-override dialog."""

from __future__ import annotations

import getpass
from typing import Any

from PyQt5.QtCore import QEvent, QObject, Qt
from PyQt5.QtGui import QColor
from PyQt5.QtWidgets import (
    QAbstractScrollArea,
    QAbstractSpinBox,
    QApplication,
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QLabel,
    QListView,
    QListWidget,
    QListWidgetItem,
    QPlainTextEdit,
    QVBoxLayout,
    QWidget,
)

from dronekit_plzen.i18n import _, ngettext
from gui.models import ViolationView
from gui.qtutil import must

#: a warning in the findings list (the instruments' amber)
WARNING_COLOUR = "#e65100"


def N_(text: str) -> str:
    """Mark ``text`` for translation; it is translated where it is shown."""
    return text


PATTERN_LABELS = {
    "survey": N_("Survey (lawnmower)"),
    "expanding-square": N_("Expanding square (IAMSAR)"),
    "sector": N_("Sector search (IAMSAR)"),
    "creeping-line": N_("Creeping line"),
    "corridor": N_("Corridor"),
    "perimeter": N_("Perimeter spiral"),
    "poa": N_("Probability search (POA)"),
}

TARGET_LABELS = {
    "person-thermal": N_("person (thermal)"),
    "person-visual": N_("person (visual)"),
    "vehicle-visual": N_("car (visual)"),
}
#: the missing person's categories of a probability search (ISRID's groups, as
#: :data:`missions.poa_map.SUBJECTS` names them); the portal's terms where it has them
SUBJECT_LABELS = {
    "hiker": N_("hiker"),
    "dementia": N_("person with dementia"),
    "despondent": N_("despondent person"),
    "child-1-3": N_("child 1–3 years"),
    "child-4-6": N_("child 4–6 years"),
    "child-7-9": N_("child 7–9 years"),
    "child-10-12": N_("child 10–12 years"),
    "child-13-15": N_("child 13–15 years"),
    "autistic": N_("autistic person"),
    "intellectual-disability": N_("person with an intellectual disability"),
    "mental-illness": N_("person with a mental illness"),
    "gatherer": N_("gatherer (mushrooms, berries)"),
    "hunter": N_("hunter"),
    "angler": N_("angler"),
    "camper": N_("camper"),
    "mountain-biker": N_("mountain biker"),
    "skier-nordic": N_("cross-country skier"),
    "snowboarder": N_("snowboarder"),
}
#: the terrain a probability search's statistics are of (:data:`missions.poa_map.TERRAINS`)
TERRAIN_LABELS = {
    "flat": N_("flat land"),
    "mountain": N_("mountains"),
    "urban": N_("town"),
    "dry-flat": N_("flat land, dry climate"),
    "dry-mountain": N_("mountains, dry climate"),
}
#: a probability search's land-cover kinds (missions.poa_map), as the panel names them
FEATURE_KIND_LABELS = {
    "path": N_("paths"),
    "road": N_("roads"),
    "stream": N_("streams"),
    "forest": N_("woodland"),
    "water": N_("water"),
    "cliff": N_("cliffs"),
}
DATUM_PATTERNS = ("expanding-square", "sector", "poa")
AREA_PATTERNS = ("survey", "creeping-line", "perimeter")
#: patterns without a track spacing (the sector's legs cross the datum at 120°; a probability
#: search's paths are a footprint apart where they sweep)
UNSPACED_PATTERNS = ("sector", "poa")
#: patterns flown by several drones at once (an area split among them, or one path each)
FLEET_PATTERNS = (*AREA_PATTERNS, "poa")

AREA_FILTER = "Areas (*.geojson *.json *.kml *.kmz *.wkt *.txt);;All files (*)"
MISSION_FILTER = (
    "Missions (*.plan *.waypoints *.mission *.kml *.kmz *.geojson *.json *.csv);;All files (*)"
)
ZONES_FILTER = "Geozones (*.json *.geojson);;All files (*)"
FEATURES_FILTER = "Land cover (*.gpkg *.geojson *.json);;All files (*)"


def features_text(counts: dict[str, int]) -> str:
    """How many features of each kind a land-cover file gave, in the panel's order."""
    shown = [(label, counts[kind]) for kind, label in FEATURE_KIND_LABELS.items() if kind in counts]
    return ", ".join(f"{_(label)} {n}" for label, n in shown)


def metric_rows(metrics: dict[str, Any]) -> list[tuple[str, str]]:
    """Human rows (label, value) of the planner's metrics, in a pilot's order."""
    spec: list[tuple[str, str, str]] = [
        ("path_length_m", _("Path length"), "{:.0f} m"),
        ("flight_time_s", _("Flight time"), "time"),
        ("photo_count", _("Photos"), "{:d}"),
        ("gsd_cm", _("GSD"), "{:.2f} cm/px"),
        ("alt_m", _("Altitude above ground"), "{:.0f} m"),
        ("spacing_m", _("Line spacing"), "{:.1f} m"),
        ("sweep_width_m", _("Sweep width"), "{:.1f} m"),
        ("trigger_distance_m", _("Photo every"), "{:.1f} m"),
        ("area_m2", _("Area"), "area"),
        ("coverage_pct", _("Coverage"), "{:.1f} %"),
        ("pod", _("POD"), "pct"),
        ("probability_covered", _("Probability covered"), "pct"),
        ("expected_time_to_detection_s", _("Expected time to detection"), "time"),
        ("turns", _("Turns"), "{:d}"),
        ("sorties", _("Sorties"), "{:d}"),
        ("angle_deg", _("Sweep angle"), "{:.0f}°"),
        ("drones", _("Drones"), "{:d}"),
    ]
    rows: list[tuple[str, str]] = []
    for key, label, fmt in spec:
        value = metrics.get(key)
        if value is None:
            continue
        try:
            if fmt == "time":
                s = round(float(value))
                text = f"{s // 60} min {s % 60:02d} s"
            elif fmt == "area":
                text = f"{float(value) / 1e6:.3f} km²" if value >= 1e5 else f"{float(value):.0f} m²"
            elif fmt == "pct":
                text = f"{100.0 * float(value):.1f} %"
            elif fmt == "{:d}":
                text = f"{int(value):d}"
            else:
                text = fmt.format(float(value))
        except (TypeError, ValueError):
            text = str(value)
        rows.append((label, text))
    return rows


class OverrideDialog(QDialog):
    """Asks for an explicit confirmation and a reason before an unsafe mission is exported."""

    def __init__(self, violations: list[ViolationView], parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle(_("Override safety checks"))
        lay = QVBoxLayout(self)
        warn = QLabel(
            _(
                "This mission FAILED validation. Overriding is your decision as pilot in "
                "command and is recorded in the mission file with your reason."
            )
        )
        warn.setWordWrap(True)
        lay.addWidget(warn)
        listing = QListWidget()
        for v in violations:
            listing.addItem(f"{v.rule}: {v.message}")
        lay.addWidget(listing)
        lay.addWidget(QLabel(_("Reason (required):")))
        self.reason = QPlainTextEdit()
        lay.addWidget(self.reason)
        self.confirm = QCheckBox(_("I understand the risks and take responsibility"))
        lay.addWidget(self.confirm)
        self.buttons = QDialogButtonBox(QDialogButtonBox.Ok | QDialogButtonBox.Cancel)
        ok = must(self.buttons.button(QDialogButtonBox.Ok))
        ok.setText(_("Override"))
        ok.setEnabled(False)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        lay.addWidget(self.buttons)
        self.reason.textChanged.connect(self._update)
        self.confirm.toggled.connect(self._update)

    def _update(self) -> None:
        ok = must(self.buttons.button(QDialogButtonBox.Ok))
        ok.setEnabled(self.confirm.isChecked() and bool(self.reason_text()))

    def reason_text(self) -> str:
        return self.reason.toPlainText().strip()


def user_name() -> str:
    """Who is at the controls (the login name), for override records."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


#: the validator's check names (missions.validation) as a pilot reads them
CHECK_LABELS = {
    "commands": N_("mission commands known"),
    "altitude_unresolved": N_("altitudes known"),
    "max_agl": N_("120 m above ground"),
    "home_altitude": N_("home altitude"),
    "terrain_clearance": N_("terrain clearance"),
    "dsm_clearance": N_("obstacle clearance (DSM)"),
    "geofence": N_("geofence"),
    "zones": N_("geozones"),
    "endurance": N_("battery endurance"),
    "plausibility": N_("plausibility"),
    "max_distance": N_("VLOS distance"),
}


def checks_text(reports: list[Any]) -> str:
    """The checks that ran on every sortie, in the validator's order, as one line."""
    names: list[str] = []
    for r in reports:
        for c in getattr(r, "checked", []) or []:
            if c not in names:
                names.append(c)
    return ", ".join(_(CHECK_LABELS[c]) if c in CHECK_LABELS else c for c in names)


def notes_text(reports: list[Any]) -> str:
    """How the validator checked where it had to assume (no DEM: heights against the home
    elevation), each note once, as the CLI prints them."""
    notes: list[str] = []
    for r in reports:
        for n in getattr(r, "notes", []) or []:
            if str(n) not in notes:
                notes.append(str(n))
    return "; ".join(notes)


class ValidationList(QWidget):
    """The validation verdict, every finding in full (wrapped, with a tooltip), the checks run."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        self.label = QLabel(_("Validation: not run"))
        self.label.setWordWrap(True)
        lay.addWidget(self.label)
        self.findings = QListWidget()
        self.findings.setWordWrap(True)  # a finding is read whole, never cut at the edge
        self.findings.setTextElideMode(Qt.TextElideMode.ElideNone)
        self.findings.setResizeMode(QListView.ResizeMode.Adjust)
        self.findings.setMinimumHeight(90)
        lay.addWidget(self.findings, 1)
        self.checks = QLabel("")
        self.checks.setWordWrap(True)
        self.checks.setStyleSheet("color: #555555")
        lay.addWidget(self.checks)

    def show_view(self, view: Any) -> None:
        self.findings.clear()
        violations = view.violations
        if not view.validated:
            self.label.setText(_("Validation: not available"))
            self.label.setStyleSheet("")
        elif violations:
            self.label.setText(
                ngettext(
                    "Validation FAILED: {n} problem",
                    "Validation FAILED: {n} problems",
                    len(violations),
                ).format(n=len(violations))
            )
            self.label.setStyleSheet("color: #c62828; font-weight: bold")
        else:
            self.label.setText(_("Validation passed"))
            self.label.setStyleSheet("color: #2e7d32; font-weight: bold")
        for v in violations:
            self._add(v)
        self.show_warnings(getattr(view, "warnings", []))
        ran = checks_text(view.reports)
        text = _("Checks run: {checks}").format(checks=ran) if ran else ""
        notes = notes_text(view.reports)
        if notes:
            text += ("\n" if text else "") + _("Notes: {notes}").format(notes=notes)
        self.checks.setText(text)

    def show_warnings(self, warnings: Any) -> None:
        """Warnings below the findings, in amber: the plan may fly, the pilot reads them."""
        for w in warnings:
            self._add(w, prefix=_("Warning") + " – ", colour=WARNING_COLOUR)

    def _add(self, v: Any, *, prefix: str = "", colour: str | None = None) -> None:
        where = f" ({v.lat:.5f}, {v.lon:.5f})" if v.lat is not None and v.lon is not None else ""
        text = f"{prefix}{v.rule}: {v.message}{where}"
        item = QListWidgetItem(text)
        item.setToolTip(text)
        item.setData(Qt.ItemDataRole.UserRole, (v.lon, v.lat))
        if colour:
            item.setForeground(QColor(colour))
        self.findings.addItem(item)

    def clear(self) -> None:
        self.findings.clear()
        self.label.setText(_("Validation: not run"))
        self.label.setStyleSheet("")
        self.checks.setText("")


class WheelGuard(QObject):
    """Wheel over a spin box or a combo box that has no focus scrolls the panel, not the value.

    (Scrolling the panel once changed "Drones" from 3 to 1.) The event goes to the enclosing
    scroll area's scroll bar instead. Click into the field first to use the wheel on it.
    """

    def eventFilter(self, obj: QObject | None, event: QEvent | None) -> bool:
        if (
            event is not None
            and event.type() == QEvent.Type.Wheel
            and isinstance(obj, QAbstractSpinBox | QComboBox)
            and not obj.hasFocus()
        ):
            area = obj.parentWidget()
            while area is not None and not isinstance(area, QAbstractScrollArea):
                area = area.parentWidget()
            if area is not None:  # the panel's scroll area scrolls, as over any other field
                QApplication.sendEvent(must(area.verticalScrollBar()), event)
            return True
        return False


def guard_wheel(root: QWidget, guard: WheelGuard) -> None:
    """Install ``guard`` on every spin box and combo box under ``root`` (focus on click only)."""
    for w in root.findChildren(QAbstractSpinBox) + root.findChildren(QComboBox):
        w.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        w.installEventFilter(guard)
