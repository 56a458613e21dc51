"""Placing things on the map for the planning panel: the datum, the launch point, a centreline,
the area as edited on the map, and the terrain model the plan is checked against.

A mixin of :class:`gui.plan_panel.PlanPanel`: map clicks arrive through :meth:`map_clicked`
(the main window connects the canvas' ``clicked`` signal); the panel's ``draftChanged`` signal
carries what to draw.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PyQt5.QtWidgets import QFileDialog, QLabel, QPushButton, QWidget

from dronekit_plzen.i18n import _, ngettext
from gui import backend
from gui.workers import ThreadRunner


class MapPickingMixin:
    """Datum, launch and centreline picking (state and slots; the widgets are the panel's)."""

    datum: tuple[float, float] | None
    launch: tuple[float, float] | None
    polyline: list[tuple[float, float]]
    picking: str | None
    datum_label: QLabel
    launch_label: QLabel
    line_label: QLabel
    line_button: QPushButton
    statusMessage: Any
    draftChanged: Any

    area: Any
    area_path: Path | None
    area_label: QLabel
    dem_label: QLabel
    _dem_path: Path | None

    runner: ThreadRunner

    def _update_buttons(self) -> None:  # provided by the panel
        raise NotImplementedError

    def _load_failed(self, message: str) -> None:  # provided by the panel
        raise NotImplementedError

    def clear_plan(self) -> None:  # provided by the panel
        raise NotImplementedError

    def set_edited_area(self, geom: Any) -> None:
        """The area as edited (drawn) on the map becomes the one planned over."""
        self.clear_plan()
        if geom is None or geom.is_empty:
            self.area = None
            self.area_label.setText(_("no area loaded"))
        else:
            area_cls = backend.require("missions.area", "Area", _("Loading areas"))
            name = self.area_path.stem if self.area_path is not None else _("drawn on the map")
            self.area = area_cls(geom_lonlat=geom, name=name)
            self.area_label.setText(_("{name} (edited on the map)").format(name=name))
        self._update_buttons()

    # ------------------------------------------------------------------ terrain
    @property
    def dem_path(self) -> Path | None:
        """The terrain model the plan is validated against (None: heights against home)."""
        return self._dem_path

    @dem_path.setter
    def dem_path(self, path: Path | None) -> None:
        self._dem_path = None if path is None else Path(path)
        if path is None:
            self.dem_label.setText(_("no DEM: heights against the home elevation"))
        else:
            self.dem_label.setText(Path(path).name)
            self.dem_label.setToolTip(str(path))

    def _choose_dem(self) -> None:
        path, _filter = QFileDialog.getOpenFileName(
            self if isinstance(self, QWidget) else None,
            _("Terrain model (DEM)"),
            "",
            "GeoTIFF (*.tif *.tiff);;All files (*)",
        )
        if path:
            self.load_dem(Path(path))

    def load_dem(self, path: Path) -> None:
        """Check the terrain model in a worker (a GeoTIFF with a usable CRS and elevations);
        only then plans are checked against it. A refused file leaves the previous one."""
        self.runner.run(
            lambda: backend.check_dem(path),
            lambda _ok: self._dem_checked(path),
            self._load_failed,
        )

    def _dem_checked(self, path: Path) -> None:
        self.dem_path = path
        self.statusMessage.emit(_("Terrain model: {name}").format(name=path.name))

    def start_picking(self, what: str) -> None:
        """The next map click(s) set the datum, the launch point or the centreline."""
        self.picking = what
        if what == "line":
            self.polyline = []
            self.statusMessage.emit(
                _("Click the centreline's points on the map; click the button again to finish.")
            )
            self.line_button.setText(_("Finish centreline"))
            self.line_button.clicked.disconnect()
            self.line_button.clicked.connect(self.finish_line)
        else:
            self.statusMessage.emit(_("Click on the map to place it."))
        self._emit_draft()

    def finish_line(self) -> None:
        self.picking = None
        self.line_button.setText(_("Draw centreline on map"))
        self.line_button.clicked.disconnect()
        self.line_button.clicked.connect(lambda: self.start_picking("line"))
        self.line_label.setText(
            ngettext("{n} point", "{n} points", len(self.polyline)).format(n=len(self.polyline))
        )
        self._update_buttons()

    def map_clicked(self, lon: float, lat: float) -> None:
        """A click on the map (connected by the main window)."""
        text = f"{lat:.5f}, {lon:.5f}"
        if self.picking == "datum":
            self.datum = (lon, lat)
            self.datum_label.setText(text)
            self.picking = None
        elif self.picking == "launch":
            self.launch = (lon, lat)
            self.launch_label.setText(text)
            self.picking = None
        elif self.picking == "line":
            self.polyline.append((lon, lat))
            self.line_label.setText(
                ngettext("{n} point", "{n} points", len(self.polyline)).format(n=len(self.polyline))
            )
        else:
            return
        self._emit_draft()
        self._update_buttons()

    def clear_picks(self) -> None:
        if self.picking == "line":
            self.finish_line()
        self.picking = None
        self.datum = self.launch = None
        self.polyline = []
        self.datum_label.setText(_("area centre"))
        self.launch_label.setText(_("planner's choice"))
        self.line_label.setText(_("no centreline"))
        self._emit_draft()
        self._update_buttons()

    def _emit_draft(self) -> None:
        points = []
        if self.datum is not None:
            pattern = getattr(self, "pattern", None)
            lkp = pattern is not None and pattern.currentData() == "poa"
            name = _("last known position") if lkp else _("datum")
            points.append((self.datum[0], self.datum[1], name))
        if self.launch is not None:
            points.append((self.launch[0], self.launch[1], _("launch")))
        self.draftChanged.emit(points, list(self.polyline))
