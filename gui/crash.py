"""Crash containment: a bug in one slot must not take the ground station down mid-flight.

PyQt5 calls ``sys.excepthook`` for an exception that escapes a slot (a timer, a button, a
worker's done-callback); when that hook is Python's default it calls ``qFatal`` and the whole
process aborts (exit 134, a core dump): the link, the heartbeat and the pilot's view go with it.
:func:`guard_slots` installs a hook for as long as the window runs. An exception escaping a slot
is then

* logged with its full traceback (logger ``gui.crash``; on standard error as well),
* shown once in the window as an amber banner naming what failed in one line, saying that the
  flight and the link go on and that the details are in the log; the same error again only
  counts on that banner (×N) and in the log, it never floods the window,
* and the application runs on.

``KeyboardInterrupt`` and ``SystemExit`` keep their meaning: the previous hook reports them and
the application's event loop ends (exit code 130, or the ``SystemExit`` code), as a Python
program ends on them.

Work off the GUI thread fails the same way and is shown the same way: a slot of a worker living
in a ``QThread`` (PyQt calls the hook on that thread) and a plain Python thread (through
``threading.excepthook``, installed for the same block) hand their error to the GUI thread by a
queued signal, where it is logged and shown. The hook had built the banner on the failing thread
(Qt widgets may only be touched on the GUI thread), and a Python thread's error had gone to
standard error only, never to the pilot. A ``SystemExit`` off the GUI thread ends that thread
only, as in Python.
"""

from __future__ import annotations

import contextlib
import logging
import sys
import threading
import traceback
from collections.abc import Iterator
from dataclasses import dataclass
from types import TracebackType
from typing import Any

from PyQt5.QtCore import QCoreApplication, QObject, QThread, pyqtSignal

from dronekit_plzen.i18n import _
from gui.fly_alerts import WARNING, BannerStack

log = logging.getLogger(__name__)

#: distinct internal errors given a banner of their own (more only go to the log and the count)
MAX_BANNERS = 3
#: KeyboardInterrupt's exit code, as a shell reports a program ended by Ctrl+C
SIGINT_EXIT = 130


@dataclass
class _Seen:
    kind: str
    message: str
    count: int = 1


def _key(exc: BaseException, tb: TracebackType | None) -> str:
    """The same error: the same type and message raised at the same line."""
    frames = traceback.extract_tb(tb) if tb is not None else []
    where = f"{frames[-1].filename}:{frames[-1].lineno}" if frames else ""
    return f"internal-{type(exc).__name__}-{exc}-{where}"


def _reaches_stderr(logger: logging.Logger) -> bool:
    """Whether a record of ``logger`` is written to standard error by some handler (logging's
    last-resort handler does when no handler is configured at all)."""
    found = False
    lg: logging.Logger | None = logger
    while lg is not None:
        for h in lg.handlers:
            found = True
            if isinstance(h, logging.StreamHandler) and h.stream in (sys.stderr, sys.__stderr__):
                return True
        if not lg.propagate:
            break
        lg = lg.parent
    return not found


class _ToGuiThread(QObject):
    """Carries an error raised on another thread to the GUI thread (a queued connection)."""

    raised = pyqtSignal(object, object, object)


def _on_gui_thread() -> bool:
    app = QCoreApplication.instance()
    return app is None or QThread.currentThread() is app.thread()


class SlotErrorGuard:
    """The hook :func:`guard_slots` installs: log, tell the pilot once, go on."""

    def __init__(self, banners: BannerStack, status: Any = None) -> None:
        self.banners = banners
        self.status = status  # a callable showing a status-bar message, or None
        self.seen: dict[str, _Seen] = {}
        self.previous: Any = sys.excepthook
        # built on the GUI thread, so a signal emitted on any other is queued to it
        self._relay = _ToGuiThread()
        self._relay.raised.connect(self._on_gui)

    # the hook itself: it must never raise (PyQt would abort on that too)
    def __call__(
        self, typ: type[BaseException], exc: BaseException, tb: TracebackType | None
    ) -> None:
        if not _on_gui_thread():
            if not issubclass(typ, SystemExit):  # ends that thread only, as in Python
                try:
                    self._relay.raised.emit(typ, exc, tb)
                except Exception:  # the relay gone (the window closing): standard error
                    sys.__excepthook__(typ, exc, tb)
            return
        if issubclass(typ, KeyboardInterrupt | SystemExit):
            self._stop(typ, exc, tb)
            return
        self._on_gui(typ, exc, tb)

    def thread_hook(self, args: threading.ExceptHookArgs) -> None:
        """``threading.excepthook``: a Python thread's error, shown as a slot's is."""
        if args.exc_value is None or issubclass(args.exc_type, SystemExit):
            return
        self(args.exc_type, args.exc_value, args.exc_traceback)

    def _on_gui(self, typ: Any, exc: BaseException, tb: TracebackType | None) -> None:
        try:
            self._report(exc, tb)
        except Exception:  # a failing report must not abort the process either
            sys.__excepthook__(typ, exc, tb)
            with contextlib.suppress(Exception):
                traceback.print_exc()

    def _stop(self, typ: type[BaseException], exc: BaseException, tb: TracebackType | None) -> None:
        if typ is KeyboardInterrupt:
            self.previous(typ, exc, tb)
            code = SIGINT_EXIT
        else:
            raw = exc.code if isinstance(exc, SystemExit) else None
            code = raw if isinstance(raw, int) else 0 if raw is None else 1
            if not isinstance(raw, int) and raw is not None:
                sys.stderr.write(f"{raw}\n")
        QCoreApplication.exit(code)

    def _report(self, exc: BaseException, tb: TracebackType | None) -> None:
        key = _key(exc, tb)
        seen = self.seen.get(key)
        if seen is not None:
            seen.count += 1
            if seen.count & (seen.count - 1) == 0:  # 2, 4, 8, …: the log says it goes on
                log.error(
                    "internal error again (%d times in all): %s: %s",
                    seen.count,
                    type(exc).__name__,
                    exc,
                )
            banner = self.banners.banners.get(key)
            if banner is not None:
                banner.label.setText(self._text(seen))
            return
        seen = self.seen[key] = _Seen(type(exc).__name__, str(exc))
        text = "".join(traceback.format_exception(type(exc), exc, tb))
        log.error("internal error in a slot, the application goes on:\n%s", text.rstrip())
        if not _reaches_stderr(log):
            sys.stderr.write(text)
        if len([k for k in self.banners.banners if k.startswith("internal-")]) >= MAX_BANNERS:
            return
        self.banners.raise_alert(key, WARNING, self._text(seen))
        if self.status is not None:
            self.status(self._text(seen))

    @staticmethod
    def _text(seen: _Seen) -> str:
        what = f"{seen.kind}: {seen.message}" if seen.message else seen.kind
        text = _(
            "Internal error in the ground station: {error}. The flight and the link go on; "
            "the details are in the log."
        ).format(error=what)
        return text + (f" ×{seen.count}" if seen.count > 1 else "")

    def retranslate(self) -> None:
        """Show the banners' texts in the language now set."""
        for key, seen in self.seen.items():
            banner = self.banners.banners.get(key)
            if banner is not None:
                banner.label.setText(self._text(seen))


@contextlib.contextmanager
def guard_slots(window: Any) -> Iterator[SlotErrorGuard]:
    """Install the slot-error hooks for ``window`` (a :class:`gui.mainwindow.MainWindow`) for
    the block; the previous ``sys.excepthook`` and ``threading.excepthook`` come back when it
    ends."""
    guard = SlotErrorGuard(window.alerts, window.show_message)
    previous, previous_thread_hook = sys.excepthook, threading.excepthook
    guard.previous = previous
    sys.excepthook = guard
    threading.excepthook = guard.thread_hook
    window.slot_guard = guard
    try:
        yield guard
    finally:
        sys.excepthook = previous
        threading.excepthook = previous_thread_hook
        window.slot_guard = None
