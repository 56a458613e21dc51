"""GUI test fixtures: the main window offscreen, the simulator fleet, answering modal dialogs."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import contextlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from dkp_testkit import free_simulator_offset

from dronekit_plzen.errors import LinkError
from dronekit_plzen.i18n import set_language
from simulators import SimFleet

#: where the screenshots of the safety tests go (looked at by a person)
SHOTS = Path("/tmp/gui-shots")
#: a modal dialog nobody answers for this long fails the test (instead of hanging the worker:
#: pytest-timeout's alarm cannot interrupt a modal dialog's event loop)
MODAL_LIMIT_S = 20.0


@contextlib.contextmanager
def _sim_fleet(**kwargs: Any) -> Iterator[tuple[SimFleet, int]]:
    """A running SimFleet on a random port offset (another one when the ports are taken)."""
    for _attempt in range(10):
        off = free_simulator_offset()
        fleet = SimFleet(port_offset=off, **kwargs)
        try:
            fleet.__enter__()
        except LinkError as exc:
            if "bind" not in str(exc):
                raise
            continue
        try:
            yield fleet, off
        finally:
            fleet.__exit__(None, None, None)
        return
    raise AssertionError("no free port offset for the simulator after 10 attempts")


@pytest.fixture(autouse=True)
def _no_stuck_modal(qapp) -> Iterator[None]:  # type: ignore[no-untyped-def]
    """Watch for a modal dialog left open, e.g. by pytest-qt closing a window that still has
    vehicles airborne at teardown: reject it after ``MODAL_LIMIT_S`` and fail the test with its
    title and text."""
    import time

    from PyQt5.QtCore import QTimer
    from PyQt5.QtWidgets import QApplication, QDialog, QMessageBox

    stuck: list[str] = []
    seen: dict[int, float] = {}

    def check() -> None:
        w = QApplication.activeModalWidget()
        if w is None or not w.isVisible():
            seen.clear()
            return
        first = seen.setdefault(id(w), time.monotonic())
        if time.monotonic() - first < MODAL_LIMIT_S:
            return
        text = w.text() if isinstance(w, QMessageBox) else ""
        stuck.append(f"{w.windowTitle()}: {text}".strip())
        if isinstance(w, QDialog):
            w.reject()
        else:
            w.close()

    timer = QTimer()
    timer.setInterval(500)
    timer.timeout.connect(check)
    timer.start()
    yield
    timer.stop()
    if stuck:
        pytest.fail(f"modal dialog left unanswered for {MODAL_LIMIT_S:.0f} s: {stuck[0]}")


@pytest.fixture
def sim_fleet() -> Callable[..., Any]:
    """``with sim_fleet(n_vehicles=…, autopilot=…) as (fleet, port_offset):`` a running fleet."""
    return _sim_fleet


@pytest.fixture
def shots() -> Path:
    SHOTS.mkdir(parents=True, exist_ok=True)
    return SHOTS


@pytest.fixture
def main_window(qtbot, tmp_path: Path) -> Iterator[Any]:  # type: ignore[no-untyped-def]
    from gui.mainwindow import MainWindow

    set_language("en")
    win = MainWindow(tmp_path / "flights.sqlite")
    win.resize(1300, 850)
    win.show()
    yield win
    # disconnect first, then close: closing a window still connected to an airborne vehicle
    # asks the pilot what to do (pytest-qt's own teardown closes before the fixtures end)
    win.fly_panel.shutdown()
    win.close()
    win.deleteLater()


@pytest.fixture
def answer_modal(qtbot) -> Iterator[Callable[..., list[Any]]]:  # type: ignore[no-untyped-def]
    """``answer_modal(fn)``: when a modal dialog opens, call ``fn(dialog)`` on it (once).

    Returns a list that receives the dialog, so the test can check what it showed. The dialog
    is the real widget; ``fn`` presses its buttons as a pilot would.
    """
    from PyQt5.QtCore import QTimer
    from PyQt5.QtWidgets import QApplication

    timers: list[QTimer] = []

    def arm(fn: Callable[[Any], None]) -> list[Any]:
        seen: list[Any] = []
        timer = QTimer()
        timer.setInterval(50)

        def poll() -> None:
            w = QApplication.activeModalWidget()
            if w is None or not w.isVisible():
                return
            timer.stop()
            seen.append(w)
            fn(w)

        timer.timeout.connect(poll)
        timer.start()
        timers.append(timer)
        return seen

    yield arm
    for t in timers:
        t.stop()
