"""The map's tools in the main window: the Edit menu (undo/redo, drawing, editing), the layer
switcher and the altitude profile docks. Installed by :func:`install_map_tools`."""

from __future__ import annotations

from typing import Any

from PyQt5.QtCore import QObject, Qt
from PyQt5.QtGui import QKeySequence
from PyQt5.QtWidgets import QAction, QDockWidget, QMainWindow, QScrollArea, QShortcut

from dronekit_plzen.i18n import _
from gui.editing import PlanEditor
from gui.map.layer_panel import LayerPanel
from gui.models import PlanView
from gui.profile import ProfileWidget
from gui.qtutil import UpDownScrollArea, must


class MapTools(QObject):
    """What :func:`install_map_tools` adds to a window, kept for tests and shutdown."""

    def __init__(self, window: Any):
        super().__init__(window)
        self.window = window
        canvas, panel = window.map, window.plan_panel
        self.editor = PlanEditor(canvas, panel, self)
        self.layers = LayerPanel(canvas)
        self.profile = ProfileWidget()
        self.layers_dock = self._dock(_("Layers"), "layers", self.layers)
        self.profile_dock = self._dock(_("Altitude profile"), "profile", self.profile)
        window.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, self.layers_dock)
        window.addDockWidget(Qt.DockWidgetArea.BottomDockWidgetArea, self.profile_dock)
        # as tabs beside the window's own docks: the map keeps its size
        for name, mine in (("cockpit", self.layers_dock), ("instruments", self.profile_dock)):
            other = window.findChild(QDockWidget, name)
            if other is not None:
                window.tabifyDockWidget(other, mine)
                other.raise_()
        self._build_menu(window)

        self.editor.statusMessage.connect(window.show_message)
        self.layers.statusMessage.connect(window.show_message)
        self.editor.planEdited.connect(self._plan_edited)
        self.editor.areaEdited.connect(panel.set_edited_area)
        panel.areaLoaded.connect(self.editor.set_area)
        panel.planReady.connect(self._plan_ready)
        self.profile.choice.currentIndexChanged.connect(
            lambda _i: self.editor.select(self.profile.choice.currentData())
        )
        for key, slot in (
            (Qt.Key.Key_Return, self.editor.finish_drawing),
            (Qt.Key.Key_Enter, self.editor.finish_drawing),
            (Qt.Key.Key_Delete, self._delete_selected),
        ):
            sc = QShortcut(QKeySequence(key), canvas)
            sc.setContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
            sc.activated.connect(slot)

    def _dock(self, title: str, name: str, widget: Any) -> QDockWidget:
        dock = QDockWidget(title, self.window)
        dock.setObjectName(name)
        dock.setFeatures(QDockWidget.DockWidgetMovable | QDockWidget.DockWidgetFloatable)
        # scrolls on a small screen instead of widening the window; the layer switcher up and
        # down only, never cut off at its right edge (the profile sideways too)
        area = QScrollArea() if name == "profile" else UpDownScrollArea()
        area.setWidget(widget)
        area.setWidgetResizable(True)
        if name != "profile":
            area.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        dock.setWidget(area)
        return dock

    def _build_menu(self, window: QMainWindow) -> None:
        bar = must(window.menuBar())
        menu = must(bar.addMenu(_("&Edit")))
        stack = self.editor.undo_stack
        self.undo_action = must(stack.createUndoAction(self, _("Undo")))
        self.undo_action.setShortcut(QKeySequence.Undo)
        self.redo_action = must(stack.createRedoAction(self, _("Redo")))
        self.redo_action.setShortcut(QKeySequence.Redo)
        menu.addAction(self.undo_action)
        menu.addAction(self.redo_action)
        menu.addSeparator()
        self.edit_action = QAction(_("Edit plan on map"), self)
        self.edit_action.setCheckable(True)
        self.edit_action.setShortcut("Ctrl+E")
        self.edit_action.toggled.connect(self.editor.set_enabled)
        menu.addAction(self.edit_action)
        for text, what in ((_("Draw area"), "area"), (_("Draw hole"), "hole")):
            act = QAction(text, self)
            act.triggered.connect(lambda _c=False, w=what: self.editor.start_drawing(w))
            menu.addAction(act)
        finish = QAction(_("Finish drawing"), self)
        finish.triggered.connect(self.editor.finish_drawing)
        menu.addAction(finish)
        menu.addSeparator()
        new = QAction(_("New plan"), self)
        new.setShortcut(QKeySequence.New)
        new.triggered.connect(self.editor.new_plan)
        menu.addAction(new)
        view_menu = (
            next(
                (a.menu() for a in bar.actions() if a.menu() is not None and "View" in a.text()),
                None,
            )
            or menu
        )
        view_menu.addSeparator()
        view_menu.addAction(self.layers_dock.toggleViewAction())
        view_menu.addAction(self.profile_dock.toggleViewAction())

    # ------------------------------------------------------------------ plan updates
    def _plan_ready(self, view: PlanView) -> None:
        self.profile.set_plan(view, self.window.plan_panel.dem_path)
        self.editor.selected = self.profile.choice.currentData()
        self.editor.set_plan(view)

    def _plan_edited(self, view: PlanView) -> None:
        """An edit validated again: redraw (without moving the view) and hand it on."""
        w = self.window
        w.map.show_plan(view.paths, view.footprints, view.homes)
        w.show_findings(view)
        w.plan_panel.show_edited(view)
        w.fly_panel.set_plan(view.missions, view.sorties)
        if hasattr(w, "_plan_view"):
            w._plan_view = view
        self.profile.set_plan(view, w.plan_panel.dem_path)
        self.editor.selected = self.profile.choice.currentData()

    def _delete_selected(self) -> None:
        for h in [h for h in self.window.map.layer_items("edit") if h.isSelected()]:
            h._callback("delete", h.handle_group, h.key, h.pos())

    def shutdown(self) -> None:
        self.editor.runner.shutdown()
        self.layers.runner.shutdown()
        self.window.map.basemap.shutdown()


def install_map_tools(window: Any) -> MapTools:
    """Add the map's editing, layer and profile tools to the main window."""
    return MapTools(window)
