"""Editing the plan on the map: the search area, waypoints and launch points, with undo/redo.

:class:`PlanEditor` turns the canvas' handle events, clicks and double clicks into edits of
:mod:`gui.editing_model`; each edit is a :class:`QUndoCommand` holding the state before and
after, so undo and redo simply put a state back. After an edit of waypoints or launch points the
sorties are validated again through the toolkit's one guard (:func:`gui.clearance.clear_drones`,
in a worker) and :attr:`PlanEditor.planEdited` carries the new plan: an edited mission keeps no
old clearance.

Gestures (while "Edit on map" is on): drag a handle to move it; right-click it to delete it;
double-click on an edge of the area or a leg of a path to insert a vertex or waypoint there.
"Draw area" and "Draw hole" collect map clicks until "Finish drawing" (or a double click).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from PyQt5.QtCore import QObject, pyqtSignal
from PyQt5.QtGui import QColor
from PyQt5.QtWidgets import QUndoCommand, QUndoStack

from dronekit_plzen.errors import DronekitPlzenError
from dronekit_plzen.i18n import _
from gui import backend, clearance
from gui import editing_model as em
from gui.map.items import drone_colour
from gui.mapcanvas import MapCanvas
from gui.models import PlanView
from gui.workers import ThreadRunner

#: how close (screen pixels) a double click must be to an edge or a leg to insert there
PICK_PX = 10.0


@dataclass(frozen=True)
class EditState:
    """Everything an edit changes; immutable so the undo stack can hold it."""

    area: Any = None  #: shapely (Multi)Polygon in lon/lat, or None
    drones: em.Drones = ()  #: per drone, its sortie missions


class _Edit(QUndoCommand):
    def __init__(self, editor: PlanEditor, text: str, before: EditState, after: EditState):
        super().__init__(text)
        self.editor, self.before, self.after = editor, before, after

    def redo(self) -> None:
        self.editor._apply(self.after, self.before)

    def undo(self) -> None:
        self.editor._apply(self.before, self.after)


class PlanEditor(QObject):
    """Edits of the area and of the planned missions on ``canvas``, for the planning panel."""

    planEdited = pyqtSignal(object)  # PlanView, validated again
    areaEdited = pyqtSignal(object)  # shapely geometry or None
    statusMessage = pyqtSignal(str)

    def __init__(self, canvas: MapCanvas, panel: Any, parent: QObject | None = None):
        super().__init__(parent)
        self.canvas = canvas
        self.panel = panel
        self.undo_stack = QUndoStack(self)
        self.runner = ThreadRunner(self)
        self.state = EditState()
        self.view: PlanView | None = None
        self.enabled = False
        self.drawing: str | None = None  # "area" | "hole" while collecting clicks
        self.draft: list[tuple[float, float]] = []
        self._validating = 0
        #: only this (drone, sortie)'s waypoints get handles (the selected mission); None: all
        self.selected: tuple[int, int] | None = None
        canvas.handleEvent.connect(self._handle_event)
        canvas.clicked.connect(self.map_clicked)
        canvas.doubleClicked.connect(self.map_double_clicked)

    # ------------------------------------------------------------------ inputs
    def set_area(self, geom: Any) -> None:
        """A new area loaded from a file: the starting point of edits (not itself undoable)."""
        self.state = replace(self.state, area=geom, drones=())
        self.view = None
        self.undo_stack.clear()
        self._draw_handles()

    def set_plan(self, view: PlanView) -> None:
        """A newly computed or opened plan (from the panel)."""
        self.view = view
        drones = tuple(tuple(s.mission for s in row) for row in view.sorties)
        self.state = replace(self.state, drones=drones)
        self.undo_stack.clear()
        self._draw_handles()

    def select(self, selected: tuple[int, int] | None) -> None:
        """Edit the waypoints of this (drone, sortie) only: a survey has hundreds."""
        self.selected = selected
        self._draw_handles()

    def set_enabled(self, on: bool) -> None:
        self.enabled = on
        self._draw_handles()
        if on:
            self.statusMessage.emit(
                _(
                    "Editing: drag a point to move it, right-click it to delete it, "
                    "double-click an edge or a leg to add a point."
                )
            )

    # ------------------------------------------------------------------ edits
    def push(self, text: str, after: EditState) -> None:
        if after != self.state:
            self.undo_stack.push(_Edit(self, text, self.state, after))

    def _try(self, text: str, make: Any) -> None:
        try:
            after = make()
        except DronekitPlzenError as exc:
            self.statusMessage.emit(str(exc))
            self._draw_handles()  # a refused drag: the handle goes back
            return
        self.push(text, after)

    def _handle_event(self, event: str, group: str, key: Any, lon: float, lat: float) -> None:
        s = self.state
        if group == "area" and event == "moved":
            self._try(
                _("Move area corner"),
                lambda: replace(s, area=em.move_vertex(s.area, key, (lon, lat))),
            )
        elif group == "area" and event == "delete":
            self._try(
                _("Delete area corner"), lambda: replace(s, area=em.delete_vertex(s.area, key))
            )
        elif group == "waypoints" and event == "moved":
            self._try(
                _("Move waypoint"),
                lambda: replace(s, drones=em.move_waypoint(s.drones, key, (lon, lat))),
            )
        elif group == "waypoints" and event == "delete":
            self._try(
                _("Delete waypoint"), lambda: replace(s, drones=em.delete_waypoint(s.drones, key))
            )
        elif group == "homes" and event == "moved":
            self._try(
                _("Move launch point"),
                lambda: replace(s, drones=em.move_home(s.drones, int(key), (lon, lat))),
            )

    def map_double_clicked(self, lon: float, lat: float) -> None:
        if self.drawing is not None:
            self.finish_drawing()
            return
        if not self.enabled:
            return
        tol = PICK_PX * self.canvas.metres_per_pixel()
        s = self.state
        leg = em.nearest_leg(s.drones, (lon, lat), tol)
        if leg is not None:
            self._try(
                _("Insert waypoint"),
                lambda: replace(s, drones=em.insert_waypoint(s.drones, leg, (lon, lat))),
            )
            return
        edge = em.nearest_edge(s.area, (lon, lat), tol)
        if edge is not None:
            self._try(
                _("Insert area corner"),
                lambda: replace(s, area=em.insert_vertex(s.area, edge, (lon, lat))),
            )

    # ------------------------------------------------------------------ drawing
    def start_drawing(self, what: str) -> None:
        """Collect map clicks as a new area outline (``"area"``) or a hole (``"hole"``)."""
        self.drawing = what
        self.draft = []
        self.canvas.show_draft([], [])
        self.statusMessage.emit(
            _("Click the corners on the map; double-click or press Enter to finish.")
        )

    def map_clicked(self, lon: float, lat: float) -> None:
        if self.drawing is None:
            return
        self.draft.append((lon, lat))
        pts = [(lo, la, str(i + 1)) for i, (lo, la) in enumerate(self.draft)]
        ring = self.draft + self.draft[:1] if len(self.draft) > 2 else self.draft
        self.canvas.show_draft(pts, ring)

    def finish_drawing(self) -> None:
        what, ring = self.drawing, list(self.draft)
        self.drawing = None
        self.draft = []
        self.canvas.show_draft([], [])
        if what is None:
            return
        s = self.state
        if what == "area":
            self._try(_("Draw area"), lambda: EditState(area=em.new_area(ring), drones=()))
        else:
            self._try(_("Draw hole"), lambda: replace(s, area=em.add_hole(s.area, ring)))

    def new_plan(self) -> None:
        """Start again: no area, no plan (undoable)."""
        self.drawing = None
        self.push(_("New plan"), EditState())

    # ------------------------------------------------------------------ applying a state
    def _apply(self, state: EditState, previous: EditState) -> None:
        self.state = state
        if state.area is not previous.area:
            self.canvas.show_area(state.area)
            self.areaEdited.emit(state.area)
        if state.drones is not previous.drones:
            self._revalidate(state.drones)
        self._draw_handles()

    def _revalidate(self, drones: em.Drones) -> None:
        view = self.view
        if not drones:
            self.view = None
            self.canvas.show_plan([], [], [])
            self.canvas.show_violations([])
            return
        self.canvas.show_plan(em.paths(drones), view.footprints if view else [], em.homes(drones))
        panel = self.panel
        zones, dem, max_d = panel.zones_source, panel.dem_path, panel.max_distance_m
        vehicle = panel.vehicle.currentData()
        camera = panel.camera.currentData()
        self._validating += 1

        def work() -> list[list[clearance.SortieView]]:
            veh = clearance.vehicle_profile(vehicle, camera) if vehicle else None
            rows = [list(row) for row in drones]
            return clearance.clear_drones(
                rows, zones=zones, dem=dem, vehicle=veh, max_distance_m=max_d
            )

        def done(sorties: list[list[clearance.SortieView]]) -> None:
            self._validating -= 1
            if drones is not self.state.drones:
                return  # a newer edit is being validated
            missions = [
                row[0].mission if len(row) == 1 else m
                for row, m in zip(sorties, self._missions(view, drones))
            ]
            self.view = backend._view(
                sorties,
                missions=missions,
                paths=em.paths(drones),
                footprints=view.footprints if view else [],
                homes=em.homes(drones),
                metrics=dict(view.metrics) if view else {},
                area=view.area if view else None,
                raw=view.raw if view else None,
            )
            self.planEdited.emit(self.view)

        def failed(message: str) -> None:
            self._validating -= 1
            self.statusMessage.emit(_("Error: {message}").format(message=message))

        self.runner.run(work, done, failed)

    @staticmethod
    def _missions(view: PlanView | None, drones: em.Drones) -> list[Any]:
        if view is not None and len(view.missions) == len(drones):
            return list(view.missions)
        return [row[0] for row in drones]

    @property
    def validating(self) -> bool:
        return self._validating > 0

    # ------------------------------------------------------------------ handles
    def _draw_handles(self) -> None:
        for group in ("area", "waypoints", "homes"):
            self.canvas.clear_handles(group)
        if not self.enabled:
            return
        s = self.state
        green = QColor("#1b5e20")
        self.canvas.show_handles(
            "area", [(k, lo, la, green) for k, lo, la in em.area_vertices(s.area)]
        )
        self.canvas.show_handles(
            "waypoints",
            [
                (k, lo, la, drone_colour(k[0]))
                for k, lo, la in em.waypoints(s.drones)
                if self.selected is None or k[:2] == self.selected
            ],
        )
        self.canvas.show_handles(
            "homes",
            [(d, lo, la, drone_colour(d)) for d, (lo, la) in enumerate(em.homes(s.drones))],
            square=True,
        )
