"""Guided go-to a confirmed sighting: the guard's check of the target and the pilot's confirmation.

:func:`check_target` (no Qt) runs the toolkit's validator on the leg from the vehicle's home to
the target at the chosen altitude (120 m rule, geozones, the VLOS distance, terrain when a DEM
is loaded): nothing is sent to a target it refuses. :class:`GotoDialog` shows the target, the
distances, the guard's verdict and asks the pilot to confirm; the sighting is recorded to the
current deployment.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from PyQt5.QtWidgets import (
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QVBoxLayout,
    QWidget,
)

from dronekit_plzen.geo import geodesic_distance_m
from dronekit_plzen.i18n import _
from gui import backend
from gui.models import VehicleView
from gui.plan_widgets import WARNING_COLOUR
from gui.qtutil import must

MAV_CMD_NAV_TAKEOFF, MAV_CMD_NAV_WAYPOINT = 22, 16
DEFAULT_GOTO_ALT_M = 30.0


@dataclass(frozen=True)
class TargetCheck:
    """The guard's verdict on a go-to target: ``problems`` empty means it may be flown to;
    ``warnings`` (a conditional zone) do not stop it but are shown to the pilot."""

    lon: float
    lat: float
    alt_m: float
    distance_vehicle_m: float | None
    distance_home_m: float | None
    problems: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return not self.problems


def check_target(
    v: VehicleView,
    lon: float,
    lat: float,
    alt_m: float,
    *,
    zones: Any = None,
    dem: Any = None,
    max_distance_m: float | None = None,
) -> TargetCheck:
    """Validate the leg home → target at ``alt_m`` above home with the toolkit's validator."""
    problems: list[str] = []
    warnings: list[str] = []
    d_vehicle = (
        float(geodesic_distance_m(v.lon, v.lat, lon, lat))
        if v.lon is not None and v.lat is not None
        else None
    )
    d_home = None
    if v.home is None:
        problems.append(_("the vehicle has not reported its home position yet"))
    else:
        lat_h, lon_h, alt_h = v.home
        d_home = float(geodesic_distance_m(lon_h, lat_h, lon, lat))
        mission_cls = backend.require("missions.model", "Mission", _("Validation"))
        item_cls = backend.require("dronekit_plzen.mission_items", "MissionItem", _("Validation"))
        validate = backend.require("missions.validation", "validate", _("Validation"))
        items = [
            item_cls(command=MAV_CMD_NAV_TAKEOFF, lat_deg=lat_h, lon_deg=lon_h, alt_m=alt_m),
            item_cls(command=MAV_CMD_NAV_WAYPOINT, lat_deg=lat, lon_deg=lon, alt_m=alt_m),
        ]
        mission = mission_cls(items=items, home=(lon_h, lat_h, alt_h))
        report = validate(mission, zones=zones, dem=dem, max_distance_m=max_distance_m)
        problems += [str(x) for x in report.violations]
        warnings += [str(x) for x in report.warnings]
    return TargetCheck(lon, lat, alt_m, d_vehicle, d_home, tuple(problems), tuple(warnings))


class GotoDialog(QDialog):
    """Confirm a guided go-to a sighting: target, distances, the guard's verdict, a note."""

    def __init__(
        self,
        v: VehicleView,
        lon: float,
        lat: float,
        check: Any,
        *,
        deployment_id: int | None,
        parent: QWidget | None = None,
    ):
        super().__init__(parent)
        self.setObjectName("gotoDialog")
        self.setWindowTitle(_("Guided go-to: vehicle {sysid}").format(sysid=v.sysid))
        self.vehicle, self.lon, self.lat = v, lon, lat
        self._check = check  # (alt_m) -> TargetCheck
        lay = QVBoxLayout(self)
        form = QFormLayout()
        form.addRow(_("Target"), QLabel(f"{lat:.6f}° N, {lon:.6f}° E"))
        self.alt = QDoubleSpinBox()
        self.alt.setRange(2.0, 500.0)
        self.alt.setSuffix(" m")
        alt0 = v.alt_rel_m if v.alt_rel_m is not None and v.alt_rel_m > 5 else DEFAULT_GOTO_ALT_M
        self.alt.setValue(round(alt0))
        self.alt.valueChanged.connect(self.recheck)
        form.addRow(_("Altitude above home"), self.alt)
        self.distances = QLabel("")
        form.addRow(_("Distance"), self.distances)
        self.note = QLineEdit()
        self.note.setPlaceholderText(_("what was seen, e.g. person lying, red jacket"))
        form.addRow(_("Sighting"), self.note)
        self.record = QCheckBox(
            _("Record the sighting to deployment {id}").format(id=deployment_id)
            if deployment_id is not None
            else _("No deployment selected: the sighting is not recorded")
        )
        self.record.setChecked(deployment_id is not None)
        self.record.setEnabled(deployment_id is not None)
        form.addRow(self.record)
        lay.addLayout(form)
        self.verdict = QLabel("")
        self.verdict.setWordWrap(True)
        lay.addWidget(self.verdict)
        self.buttons = QDialogButtonBox(QDialogButtonBox.Cancel)
        self.fly_button = self.buttons.addButton(
            _("Fly there"), QDialogButtonBox.ButtonRole.AcceptRole
        )
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        lay.addWidget(self.buttons)
        self.result_check: TargetCheck | None = None
        self.recheck()

    def recheck(self) -> None:
        """Run the guard again for the altitude shown; "Fly there" only when it passes."""
        chk: TargetCheck = self._check(self.alt.value())
        self.result_check = chk
        parts = []
        if chk.distance_vehicle_m is not None:
            parts.append(_("{d:.0f} m from the vehicle").format(d=chk.distance_vehicle_m))
        if chk.distance_home_m is not None:
            parts.append(_("{d:.0f} m from home").format(d=chk.distance_home_m))
        self.distances.setText(", ".join(parts) or "—")
        if chk.ok and chk.warnings:
            self.verdict.setText(
                _("Guard: the target passes, with warnings:") + "\n" + "\n".join(chk.warnings)
            )
            self.verdict.setStyleSheet(f"color: {WARNING_COLOUR}; font-weight: bold;")
        elif chk.ok:
            self.verdict.setText(_("Guard: the target passes (altitude, geozones, VLOS)."))
            self.verdict.setStyleSheet("color: #2e7d32; font-weight: bold;")
        else:
            self.verdict.setText(
                _("Guard: the target is refused:") + "\n" + "\n".join(chk.problems)
            )
            self.verdict.setStyleSheet("color: #c62828; font-weight: bold;")
        must(self.fly_button).setEnabled(chk.ok)
