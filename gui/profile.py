"""The altitude profile of the selected mission: AMSL along the path over the DEM's ground.

Brown is the ground (the DEM), the green band runs from the ground to 120 m above it (where a
drone may fly in the open category), the line is the planned altitude in the drone's colour
with its waypoints; red marks where the path leaves the band or meets the ground.
"""

from __future__ import annotations

import logging
import math
from pathlib import Path
from typing import Any

import numpy as np
from PyQt5.QtCore import QPointF, QRectF, Qt
from PyQt5.QtGui import QBrush, QColor, QFont, QPainter, QPainterPath, QPaintEvent, QPen, QPolygonF
from PyQt5.QtWidgets import QComboBox, QHBoxLayout, QLabel, QVBoxLayout, QWidget

from dronekit_plzen.i18n import _
from gui import backend
from gui.map.items import drone_colour
from gui.models import PlanView
from gui.profile_data import MAX_AGL_M, Profile, mission_profile

log = logging.getLogger(__name__)


class ProfileChart(QWidget):
    """Paints one :class:`~gui.profile_data.Profile`."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.profile: Profile | None = None
        self.colour = drone_colour(0)
        self.setMinimumHeight(170)

    def axis_label(self) -> str:
        """The datum of the height axis: above mean sea level, or above home when home has no
        altitude (no DEM and none in the plan)."""
        if self.profile is not None and not self.profile.home_known:
            return _("m above home")
        return _("m AMSL")

    def set_profile(self, profile: Profile | None, colour: QColor) -> None:
        self.profile = profile
        self.colour = colour
        self.update()

    def paintEvent(self, event: QPaintEvent | None) -> None:
        p = QPainter(self)
        p.setRenderHint(QPainter.Antialiasing, True)
        p.fillRect(self.rect(), QColor("white"))
        pr = self.profile
        if pr is None:
            p.setPen(QColor("#777777"))
            p.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter, _("No mission to profile"))
            p.end()
            return
        left, right, top, bottom = 52.0, 12.0, 18.0, 26.0  # the axis label above the frame
        w = max(self.width() - left - right, 10.0)
        h = max(self.height() - top - bottom, 10.0)
        ground = pr.ground_amsl_m if pr.has_dem else np.full_like(pr.distance_m, pr.home_amsl_m)
        g_ok = np.where(np.isfinite(ground), ground, pr.home_amsl_m)
        lo = float(min(np.nanmin(g_ok), np.nanmin(pr.alt_amsl_m))) - 10.0
        hi = float(max(np.nanmax(g_ok) + MAX_AGL_M, np.nanmax(pr.alt_amsl_m))) + 10.0
        dmax = max(float(pr.distance_m[-1]), 1.0)

        def pt(d: float, z: float) -> QPointF:
            return QPointF(left + w * d / dmax, top + h * (1 - (z - lo) / (hi - lo)))

        d = pr.distance_m
        band = QPolygonF([pt(a, b + MAX_AGL_M) for a, b in zip(d, g_ok)])
        band += QPolygonF([pt(a, b) for a, b in zip(d[::-1], g_ok[::-1])])
        p.setPen(Qt.PenStyle.NoPen)
        p.setBrush(QBrush(QColor(46, 160, 67, 45)))
        p.drawPolygon(band)
        earth = QPolygonF([pt(a, b) for a, b in zip(d, g_ok)])
        earth += QPolygonF([pt(d[-1], lo), pt(d[0], lo)])
        p.setBrush(QBrush(QColor("#a1887f") if pr.has_dem else QColor("#d7ccc8")))
        p.drawPolygon(earth)
        limit = QPainterPath()
        limit.addPolygon(QPolygonF([pt(a, b + MAX_AGL_M) for a, b in zip(d, g_ok)]))
        p.setPen(QPen(QColor("#2e7d32"), 1, Qt.PenStyle.DashLine))
        p.setBrush(Qt.BrushStyle.NoBrush)
        p.drawPath(limit)
        path = QPainterPath()
        path.addPolygon(QPolygonF([pt(a, b) for a, b in zip(d, pr.alt_amsl_m)]))
        p.setPen(QPen(self.colour, 2))
        p.drawPath(path)
        p.setBrush(QBrush(self.colour))
        alt_at = np.interp(pr.item_distance_m, d, pr.alt_amsl_m)
        for a, b in zip(pr.item_distance_m, alt_at):
            p.drawEllipse(pt(a, b), 2.5, 2.5)
        p.setPen(QPen(QColor("#c62828"), 3))
        for bad in (pr.above_band(), pr.below_ground()):
            for a in bad:
                z = float(np.interp(a, d, pr.alt_amsl_m))
                p.drawPoint(pt(a, z))
        # axes
        p.setPen(QPen(QColor("black"), 1))
        p.setBrush(Qt.BrushStyle.NoBrush)
        p.setFont(QFont("Sans", 8))
        p.drawRect(QRectF(left, top, w, h))
        step = _nice_step(hi - lo, 4)
        z = math.ceil(lo / step) * step
        while z <= hi:
            y = pt(0, z).y()
            p.drawLine(QPointF(left - 4, y), QPointF(left, y))
            p.drawText(QRectF(0, y - 8, left - 6, 16), Qt.AlignmentFlag.AlignRight, f"{z:.0f}")
            z += step
        dstep = _nice_step(dmax, 6)
        x = 0.0
        while x <= dmax:
            px = pt(x, lo).x()
            p.drawLine(QPointF(px, top + h), QPointF(px, top + h + 4))
            label = f"{x / 1000:.1f} km" if dmax >= 2000 else f"{x:.0f} m"
            p.drawText(QRectF(px - 30, top + h + 5, 60, 16), Qt.AlignmentFlag.AlignHCenter, label)
            x += dstep
        p.drawText(QPointF(4, top - 5), self.axis_label())
        p.end()


def _nice_step(span: float, n: int) -> float:
    raw = max(span, 1e-6) / n
    mag = 10 ** math.floor(math.log10(raw))
    for m in (1, 2, 5, 10):
        if m * mag >= raw:
            return float(m * mag)
    return float(10 * mag)


class ProfileWidget(QWidget):
    """A mission picker and its profile chart; fed with the plan and the panel's DEM."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        lay = QVBoxLayout(self)
        row = QHBoxLayout()
        row.addWidget(QLabel(_("Mission")))
        self.choice = QComboBox()
        self.choice.currentIndexChanged.connect(self._redraw)
        row.addWidget(self.choice, 1)
        self.summary = QLabel("")
        row.addWidget(self.summary, 2)
        lay.addLayout(row)
        self.chart = ProfileChart()
        lay.addWidget(self.chart, 1)
        self.view: PlanView | None = None
        self.dem_path: Path | None = None
        self._dem: Any = None
        self._dem_key: Any = None

    def set_plan(self, view: PlanView | None, dem_path: Path | None = None) -> None:
        keep = self.choice.currentData()
        self.view = view
        self.dem_path = dem_path
        self.choice.blockSignals(True)
        self.choice.clear()
        if view is not None:
            for d, row in enumerate(view.sorties):
                for s in row:
                    label = _("Drone {d}").format(d=d + 1)
                    if s.count > 1:
                        label += " " + _("sortie {i}/{n}").format(i=s.index, n=s.count)
                    self.choice.addItem(label, (d, s.index - 1))
        same = [i for i in range(self.choice.count()) if self.choice.itemData(i) == keep]
        self.choice.setCurrentIndex(same[0] if same else 0)
        self.choice.blockSignals(False)
        self._redraw()

    def retranslate(self) -> None:
        """The missions' names ("Drone 1", "sortie 1/2") and the summary in the language now
        set (the window's retranslation cannot find a formatted text's message)."""
        self.set_plan(self.view, self.dem_path)

    def selected_profile(self) -> Profile | None:
        return self.chart.profile

    def _load_dem(self, mission: Any) -> Any:
        if self.dem_path is None:
            return None
        bbox_fn = backend.optional("missions.terrain", "mission_bbox")
        key = (self.dem_path, bbox_fn(mission) if bbox_fn else None)
        if key != self._dem_key:
            raster: Any = backend.require("missions.terrain", "Raster", _("Terrain"))
            try:
                self._dem = raster.open(self.dem_path, bbox_lonlat=key[1])
            except Exception as exc:  # the profile shows without ground; the guard reports it
                log.warning("DEM %s: %s", self.dem_path, exc)
                self._dem = None
            self._dem_key = key
        return self._dem

    def _redraw(self) -> None:
        sel = self.choice.currentData()
        if self.view is None or sel is None:
            self.chart.set_profile(None, drone_colour(0))
            self.summary.setText("")
            return
        d, s = sel
        mission = self.view.sorties[d][s].mission
        profile = mission_profile(mission, self._load_dem(mission))
        self.chart.set_profile(profile, drone_colour(d))
        if profile is None:
            self.summary.setText("")
            return
        above = profile.above_band()
        agl = profile.agl_m[np.isfinite(profile.agl_m)]
        if not profile.has_dem or agl.size == 0:
            text = _("no DEM: relative to home")
        else:
            text = _("max {agl:.0f} m above ground").format(agl=float(agl.max()))
        if above.size:
            text += " — " + _("above 120 m from {d:.0f} m").format(d=float(above[0]))
        self.summary.setText(text)
