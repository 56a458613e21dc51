"""Crash containment: an exception escaping a slot is logged, shown once, and survived.

Without the hook PyQt5 calls qFatal for such an exception and the whole ground station aborts
(exit 134, a core dump) with its link and the pilot's view. Real slots raise here: a button's
``clicked`` handler and a timer's callback, in the window the tests build offscreen, with the
hook installed by the same :func:`gui.crash.guard_slots` that :func:`gui.app.run` uses; and the
real entry ``gui.app.run`` in its own process.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest
from PyQt5.QtCore import QObject, QThread, QTimer, pyqtSignal, pyqtSlot
from PyQt5.QtWidgets import QApplication, QPushButton

from gui.crash import guard_slots

TEXT = {
    "en": (
        "Internal error in the ground station: ",
        "the details are in the log",
    ),
    "cs": ("Vnitřní chyba pozemní stanice: ", "podrobnosti jsou v logu"),
}


def _divide(n: int) -> float:
    return 1 / n  # the bug: called with 0


def _lookup(key: str) -> int:
    return {"heartbeat": 1}[key]  # the bug: a key that is not there


@pytest.mark.parametrize("lang", ["en", "cs"])
def test_a_raising_slot_is_shown_once_logged_and_the_window_lives_on(  # type: ignore[no-untyped-def]
    qtbot, main_window, caplog, shots: Path, lang: str
) -> None:
    win = main_window
    win.switch_language(lang)
    previous = sys.excepthook
    caplog.set_level(logging.ERROR, logger="gui.crash")
    button = QPushButton("bug", win)
    button.clicked.connect(lambda _checked=False: _divide(0))
    with guard_slots(win) as guard:
        assert sys.excepthook is guard
        for _ in range(5):  # the same bug five times: one banner, counted
            button.click()
        QTimer.singleShot(0, lambda: _lookup("battery"))  # a timer's slot, from the event loop
        qtbot.wait(200)
        assert win.isVisible()
        banners = {k: t for k, t in win.alerts.texts().items() if k.startswith("internal-")}
        assert len(banners) == 2, banners  # the button's line and the timer's line
        head, tail = TEXT[lang]
        divide, lookup = sorted(banners.values(), key=lambda t: "KeyError" in t)
        assert divide.startswith(head + "ZeroDivisionError: division by zero. "), divide
        assert lookup.startswith(head + "KeyError: 'battery'. "), lookup
        assert tail in divide and tail in lookup
        assert divide.endswith(" ×5") and not lookup.endswith("×1"), banners
        assert head in win.statusBar().currentMessage()
        win.alerts.setMinimumWidth(400)
        win.grab().save(str(shots / f"internal-error-{lang}.png"))
        # the cockpit still works: a language switch re-renders the banner
        win.switch_language("cs" if lang == "en" else "en")
        other = TEXT["cs" if lang == "en" else "en"][0]
        texts = win.alerts.texts()
        # (the message in full: pytest cut the dict's middle, where the odd banner was, when
        # this failed once more in CI under load, session 41)
        assert all(t.startswith(other) for t in texts.values()), "\n".join(
            f"{k!r}: {v!r}" for k, v in texts.items()
        )
    assert sys.excepthook is previous  # given back when the run ends
    tracebacks = [r for r in caplog.records if r.name == "gui.crash" and "Traceback" in r.message]
    assert len(tracebacks) == 2, [r.message for r in caplog.records]
    logged = " ".join(r.message for r in tracebacks)
    assert "in _divide" in logged and "ZeroDivisionError" in logged
    assert "in _lookup" in logged and "KeyError: 'battery'" in logged


class _Worker(QObject):
    """A worker living in a QThread, as the fly panel's link workers do."""

    go = pyqtSignal()

    @pyqtSlot()
    def fail(self) -> None:
        raise ValueError("the worker's bug")


def _decode_frames() -> None:
    raise OSError("the video decoder's bug")


def test_errors_off_the_gui_thread_are_shown_on_it(  # type: ignore[no-untyped-def]
    qtbot, main_window, caplog
) -> None:
    """A worker's slot in a QThread and a plain Python thread (the video decoder's kind) raise:
    each error is logged and shown as a banner built on the GUI thread, and the window lives on.
    The hook had built the worker's banner on the worker's thread (Qt widgets belong to the GUI
    thread) and left a Python thread's error to standard error, never shown to the pilot."""
    win = main_window
    win.switch_language("en")
    caplog.set_level(logging.ERROR, logger="gui.crash")
    previous_thread_hook = threading.excepthook
    thread, worker = QThread(), _Worker()
    worker.moveToThread(thread)
    worker.go.connect(worker.fail)  # queued: the slot runs on the worker's thread
    thread.start()
    try:
        with guard_slots(win):
            assert threading.excepthook is not previous_thread_hook
            worker.go.emit()
            py_thread = threading.Thread(target=_decode_frames, name="video-decoder")
            py_thread.start()
            py_thread.join(10)

            def both_shown() -> None:
                texts = win.alerts.texts()
                assert any("ValueError: the worker's bug" in t for t in texts.values()), texts
                assert any("OSError: the video decoder's bug" in t for t in texts.values()), texts

            qtbot.waitUntil(both_shown, timeout=5000)
            gui_thread = QApplication.instance().thread()
            for key, banner in win.alerts.banners.items():
                if key.startswith("internal-"):
                    assert banner.thread() is gui_thread, key
            assert win.isVisible()
        assert threading.excepthook is previous_thread_hook  # given back when the run ends
    finally:
        thread.quit()
        thread.wait(5000)
    logged = " ".join(r.message for r in caplog.records if r.name == "gui.crash")
    assert "in fail" in logged and "in _decode_frames" in logged


PROGRAM = textwrap.dedent(
    """
    import sys
    from pathlib import Path

    from PyQt5.QtCore import QTimer
    from PyQt5.QtWidgets import QApplication

    from gui.app import run

    app = QApplication(sys.argv[:1])

    def slot() -> None:
        raise RuntimeError("a slot failed on purpose")

    QTimer.singleShot(0, slot)  # fires inside run(), while the window renders
    out = Path(sys.argv[1])
    sys.exit(run(db_path=out.with_suffix(".sqlite"), lang="cs", screenshot=out))
    """
)


def test_the_real_entry_survives_a_raising_slot(tmp_path: Path) -> None:
    """``gui.app.run`` (what ``dronekit-plzen gui`` calls) in its own process: the slot raises,
    the process writes its screenshot and ends normally (it had aborted: exit 134)."""
    shot = tmp_path / "window.png"
    proc = subprocess.run(
        [sys.executable, "-c", PROGRAM, str(shot)],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "QT_QPA_PLATFORM": "offscreen"},
    )
    assert proc.returncode == 0, (proc.returncode, proc.stderr[-2000:])
    assert "Traceback" in proc.stderr and "a slot failed on purpose" in proc.stderr
    assert shot.is_file() and shot.stat().st_size > 0
