"""Start the application: a QApplication, the main window, an optional offscreen screenshot."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dronekit_plzen.i18n import _, set_language


@dataclass(frozen=True)
class StartPlan:
    """A plan to compute as soon as the area is loaded (from the command line)."""

    pattern: str
    camera: str | None = None
    alt_m: float | None = None
    drones: int = 1


def run(
    *,
    db_path: Path,
    lang: str = "en",
    area: Path | None = None,
    zones: Path | None = None,
    screenshot: Path | None = None,
    start_plan: StartPlan | None = None,
    dem: Path | None = None,
    link_loss_s: float = 30.0,
    max_distance_m: float | None = None,
) -> int:
    """Run the GUI; with ``screenshot`` render the window to a PNG (offscreen) and return.

    Returns the process exit code (0 on success, 1 when the screenshot could not be written).
    """
    set_language(lang)
    if screenshot is not None:
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PyQt5.QtWidgets import QApplication

    from gui.crash import guard_slots
    from gui.mainwindow import MainWindow

    app = QApplication.instance() or QApplication(sys.argv[:1])
    window = MainWindow(db_path)
    # from here on an exception escaping a slot is logged and shown, not fatal (qFatal)
    with guard_slots(window):
        window.plan_panel.dem_path = dem
        window.plan_panel.max_distance_m = max_distance_m
        window.fly_panel.link_loss_s = link_loss_s
        window.show()
        if start_plan is not None:
            _plan_when_loaded(window, start_plan)
        if area is not None:
            window.plan_panel.load_area(area)
        if zones is not None:
            window.plan_panel.load_zones(zones)
        if screenshot is None:
            return int(app.exec_())
        return 0 if render_when_idle(app, window, screenshot) else 1


def _plan_when_loaded(window: Any, start: StartPlan) -> None:
    """Set the planning panel from ``start`` and press Plan once the area has arrived."""
    panel = window.plan_panel

    def go(_geom: object) -> None:
        panel.areaLoaded.disconnect(go)
        panel.pattern.setCurrentIndex(max(0, panel.pattern.findData(start.pattern)))
        if start.camera:
            idx = panel.camera.findData(start.camera)
            if idx < 0:
                panel.statusMessage.emit(_("unknown camera {name!r}").format(name=start.camera))
                return
            panel.camera.setCurrentIndex(idx)
        if start.alt_m is not None:
            panel.by_alt.setChecked(True)
            panel.alt_m.setValue(start.alt_m)
        panel.drones.setValue(start.drones)
        panel.start_plan()

    panel.areaLoaded.connect(go)


def render_when_idle(app: object, window: object, path: Path, timeout_ms: int = 20_000) -> bool:
    """Let background loads finish, then write the window to ``path``."""
    from PyQt5.QtCore import QDeadlineTimer, QEventLoop, QTimer
    from PyQt5.QtWidgets import QApplication

    from gui.mainwindow import MainWindow

    assert isinstance(app, QApplication) and isinstance(window, MainWindow)
    deadline = QDeadlineTimer(timeout_ms)
    loop = QEventLoop()
    while not deadline.hasExpired():
        QTimer.singleShot(50, loop.quit)
        loop.exec_()
        if not window.plan_panel.runner.busy and not window.plan_panel.planning:
            break
    app.processEvents()
    window.map.fit_all()
    app.processEvents()
    ok = window.save_screenshot(path)
    window.close()
    return ok
