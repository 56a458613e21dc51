"""Alerts a pilot must not miss: coloured banners, a folded event log, and the rules behind them.

:class:`AlertMonitor` (no Qt) turns successive vehicle snapshots into :class:`Alert` events: link
lost for longer than the link-loss time, link regained, battery low/critical, a failsafe (the
vehicle switched itself to RTL/LAND), autopilot messages of severity WARNING or worse, and the
short link drop-outs that only go to the log. :class:`BannerStack` shows the alerts as coloured
bars above the fleet table; :class:`FoldingLog` folds a burst of identical lines into one with a
count ("link lost ×5").
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from PyQt5.QtCore import Qt, QTimer, pyqtSignal
from PyQt5.QtGui import QColor
from PyQt5.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from dronekit_plzen.i18n import _
from gui.fly_sorties import LOW_BATTERY_PCT
from gui.models import VehicleView

#: default time without a heartbeat after which a vehicle is reported lost (banner and sound)
LINK_LOSS_S = 30.0
#: a heartbeat older than this is a drop-out: shown in the table and logged (folded)
LINK_WARN_S = 3.0
CRITICAL_BATTERY_PCT = 15.0
#: MAV_SEVERITY_WARNING: this and more severe STATUSTEXTs raise a banner
SEVERITY_WARNING = 4
#: an autopilot message's banner stays this long (it is in the log for good)
TEXT_TTL_S = 60.0
#: MAV_SEVERITY_CRITICAL: this and more severe STATUSTEXTs are red banners (with a sound)
SEVERITY_CRITICAL = 2
#: MAV_SEVERITY_INFO: NOTICE and INFO are short blue banners; DEBUG only goes to the log
SEVERITY_INFO = 6
#: an informational message's banner goes away after this long
INFO_TTL_S = 8.0
#: MAV_SEVERITY names as a ground station shows them
SEVERITY_NAMES = {
    0: "EMERGENCY",
    1: "ALERT",
    2: "CRITICAL",
    3: "ERROR",
    4: "WARNING",
    5: "NOTICE",
    6: "INFO",
    7: "DEBUG",
}

CRITICAL, WARNING, INFO = "critical", "warning", "info"
_STYLE = {
    CRITICAL: ("#c62828", "#ffffff"),
    WARNING: ("#f9a825", "#000000"),
    INFO: ("#1565c0", "#ffffff"),
}


@dataclass(frozen=True)
class Alert:
    """One event for the pilot. ``key`` identifies the banner it replaces or clears."""

    key: str
    sysid: int
    level: str  # critical | warning | info
    text: str
    banner: bool = True  # False: a log line only
    sound: bool = False
    clear: bool = False  # the condition ended: remove the banner ``key``
    log: bool = True  # False: no log line
    log_text: str = ""  # the log line, when it differs from the banner's text
    ttl_s: float | None = None  # the banner goes away by itself after this long
    #: the text again in the language chosen later (a banner shown when it is switched)
    render: Callable[[], str] | None = None


def _said(sysid: int, text: str) -> str:
    return _("vehicle {sysid}: {text}").format(sysid=sysid, text=text)


def _is_return(mode: str) -> bool:
    m = mode.upper()
    return "RTL" in m or "LAND" in m


@dataclass
class _Seen:
    lost: bool = False  # beyond the link-loss time
    dropped: bool = False  # beyond the drop-out time
    battery: str = ""  # "", "low", "critical"
    mode: str = ""
    text_t: float = -1.0


@dataclass
class AlertMonitor:
    """Edge-triggered alert rules over successive snapshots (one instance per link)."""

    link_loss_s: float = LINK_LOSS_S
    link_warn_s: float = LINK_WARN_S
    low_pct: float = LOW_BATTERY_PCT
    critical_pct: float = CRITICAL_BATTERY_PCT
    _seen: dict[int, _Seen] = field(default_factory=dict)
    _commanded: dict[int, float] = field(default_factory=dict)

    def commanded_return(self, sysid: int) -> None:
        """The pilot commanded RTL/LAND: the next such mode change is not a failsafe."""
        self._commanded[sysid] = time.monotonic()

    def update(self, views: Iterable[VehicleView]) -> list[Alert]:
        out: list[Alert] = []
        for v in views:
            seen = self._seen.setdefault(v.sysid, _Seen(mode=v.mode))
            out.extend(self._link(v, seen))
            out.extend(self._battery(v, seen))
            out.extend(self._failsafe(v, seen))
            out.extend(self._texts(v, seen))
        return out

    def _link(self, v: VehicleView, seen: _Seen) -> list[Alert]:
        age = v.heartbeat_age_s
        out = []
        dropped = age is None or age > min(self.link_warn_s, self.link_loss_s)
        lost = age is None or age > self.link_loss_s
        if dropped and not seen.dropped:
            out.append(Alert(f"drop-{v.sysid}", v.sysid, WARNING, _("link lost"), banner=False))
        elif not dropped and seen.dropped:
            out.append(Alert(f"drop-{v.sysid}", v.sysid, INFO, _("link regained"), banner=False))
        if lost and not seen.lost:
            lat, lon, mode, sysid = v.lat, v.lon, v.mode, v.sysid
            since = age if age is not None else 0.0

            def no_link() -> str:
                where = (
                    _("last position {lat:.5f}, {lon:.5f}").format(lat=lat, lon=lon)
                    if lat is not None and lon is not None
                    else _("position unknown")
                )
                return _("vehicle {sysid}: NO LINK for {age:.0f} s ({where}, mode {mode})").format(
                    sysid=sysid, age=since, where=where, mode=mode
                )

            out.append(
                Alert(f"link-{sysid}", sysid, CRITICAL, no_link(), sound=True, render=no_link)
            )
        elif not lost and seen.lost:
            out.append(Alert(f"link-{v.sysid}", v.sysid, INFO, "", clear=True))
        seen.dropped, seen.lost = dropped, lost
        return out

    def _battery(self, v: VehicleView, seen: _Seen) -> list[Alert]:
        pct = v.battery_pct
        if pct is None:
            return []
        level = "critical" if pct < self.critical_pct else "low" if pct < self.low_pct else ""
        if level == seen.battery:
            return []
        seen.battery = level
        key = f"battery-{v.sysid}"
        if not level:
            return [Alert(key, v.sysid, INFO, "", clear=True)]
        sysid = v.sysid
        if level == "critical":

            def critical() -> str:
                return _("vehicle {sysid}: battery CRITICAL ({pct:.0f} %), land now").format(
                    sysid=sysid, pct=pct
                )

            return [Alert(key, sysid, CRITICAL, critical(), sound=True, render=critical)]

        def low() -> str:
            return _("vehicle {sysid}: battery low ({pct:.0f} %)").format(sysid=sysid, pct=pct)

        return [Alert(key, sysid, WARNING, low(), render=low)]

    def _failsafe(self, v: VehicleView, seen: _Seen) -> list[Alert]:
        before, seen.mode = seen.mode, v.mode
        if before == v.mode or not _is_return(v.mode) or _is_return(before):
            return []
        asked = self._commanded.pop(v.sysid, None)
        if asked is not None and time.monotonic() - asked < 30.0:
            return []
        last = v.mission_count is not None and (v.mission_seq or 0) >= v.mission_count - 1
        if last and v.mission_count:  # the mission's own final RTL / LAND item
            return []
        sysid, mode = v.sysid, v.mode

        def failsafe() -> str:
            return _("vehicle {sysid}: FAILSAFE, the vehicle switched itself to {mode}").format(
                sysid=sysid, mode=mode
            )

        return [
            Alert(f"failsafe-{sysid}", sysid, CRITICAL, failsafe(), sound=True, render=failsafe)
        ]

    def _texts(self, v: VehicleView, seen: _Seen) -> list[Alert]:
        out = []
        for t, severity, text in v.statustexts:
            if t <= seen.text_t:
                continue
            seen.text_t = t
            line = f"{SEVERITY_NAMES.get(severity, '?')}: {text}"
            # the vehicle's own words stay as it sent them; our prefix follows the language
            said = functools.partial(_said, v.sysid, text)
            msg = said()
            if severity <= SEVERITY_WARNING:
                red = severity <= SEVERITY_CRITICAL
                out.append(
                    Alert(
                        f"text-{v.sysid}",
                        v.sysid,
                        CRITICAL if red else WARNING,
                        msg,
                        log_text=line,
                        ttl_s=TEXT_TTL_S,
                        sound=red,
                        render=said,
                    )
                )
            else:  # NOTICE/INFO: a transient banner; DEBUG: the log only
                info = severity <= SEVERITY_INFO
                out.append(
                    Alert(
                        f"msg-{v.sysid}",
                        v.sysid,
                        INFO,
                        msg if info else line,
                        banner=info,
                        log_text=line,
                        ttl_s=INFO_TTL_S,
                        render=said if info else None,
                    )
                )
        return out


class Banner(QFrame):
    """One coloured bar: the text, an optional action button, and a dismiss button."""

    #: its time to live ran out (its own timer's timeout, relayed signal to signal)
    expired = pyqtSignal()
    #: the pilot dismissed it (its ✕ button's click, relayed signal to signal)
    dismissed = pyqtSignal()

    def __init__(
        self, level: str, text: str | Callable[[], str], parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.level = level
        #: renders the text again in the language chosen later (None: a fixed text)
        self.text_render = text if callable(text) else None
        text = text() if callable(text) else text
        self.setObjectName("alertBanner")
        bg, fg = _STYLE.get(level, _STYLE[INFO])
        self.setStyleSheet(
            f"QFrame#alertBanner {{ background: {bg}; border-radius: 3px; }}"
            f"QFrame#alertBanner QLabel {{ color: {fg}; font-weight: bold; }}"
        )
        lay = QHBoxLayout(self)
        lay.setContentsMargins(8, 4, 4, 4)
        self.label = QLabel(text)
        self.label.setWordWrap(True)
        self.label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        lay.addWidget(self.label, 1)
        self.action: QPushButton | None = None
        self.action_render: Callable[[], str] | None = None
        self.dismiss = QPushButton("✕")
        self.dismiss.setToolTip(_("Dismiss"))
        self.dismiss.setFixedWidth(28)
        lay.addWidget(self.dismiss)
        self.dismiss.clicked.connect(self.dismissed)

    def text(self) -> str:
        return self.label.text()

    def add_action(self, text: str | Callable[[], str], fn: Callable[[], object]) -> QPushButton:
        self.action_render = text if callable(text) else None
        self.action = QPushButton(text() if callable(text) else text)

        def run(_checked: bool = False) -> None:
            fn()

        self.action.clicked.connect(run)
        layout = self.layout()
        assert isinstance(layout, QHBoxLayout)
        layout.insertWidget(1, self.action)
        return self.action


class BannerStack(QWidget):
    """The banners shown above the fleet table, one per key (a newer one replaces it)."""

    #: a banner was raised: its level (the window brings a critical one into view)
    raised = pyqtSignal(str)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self._lay = QVBoxLayout(self)
        self._lay.setContentsMargins(0, 0, 0, 0)
        self._lay.setSpacing(2)
        self.banners: dict[str, Banner] = {}
        self.setVisible(False)

    def raise_alert(
        self,
        key: str,
        level: str,
        text: str | Callable[[], str],
        action: tuple[str | Callable[[], str], Callable[[], object]] | None = None,
        ttl_s: float | None = None,
    ) -> Banner:
        """Show ``text`` under ``key`` (replacing that key's banner); ``ttl_s``: then remove it.
        A function as ``text`` renders it, again when the language is switched."""
        self.clear(key)
        banner = Banner(level, text, self)
        # signal to signal and bound methods of Qt objects only, no Python closure: a closure
        # holding this stack and its banner, kept by the banner's timer, made a reference
        # cycle that Python's garbage collector broke while the widgets lived on (a window
        # closed and dropped), and the timer then fired into it: a segmentation fault
        if ttl_s is not None:
            # a timer of the banner's own: it goes with the banner (a free single shot fired
            # into a window already closed, its layout deleted)
            timer = QTimer(banner)
            timer.setSingleShot(True)
            timer.timeout.connect(banner.expired)
            timer.start(int(ttl_s * 1000))
        banner.expired.connect(self._expired)
        banner.dismissed.connect(self._dismissed)
        if action is not None:
            banner.add_action(*action)
        self.banners[key] = banner
        self._lay.insertWidget(0, banner)  # the newest on top
        self.setVisible(True)
        banner.show()  # at once, also when other banners already show the stack
        self.raised.emit(level)
        return banner

    def retranslate(self) -> None:
        """The banners' texts in the language now chosen (their action buttons too)."""
        for banner in self.banners.values():
            if banner.text_render is not None:
                banner.label.setText(banner.text_render())
            if banner.action is not None and banner.action_render is not None:
                banner.action.setText(banner.action_render())

    def _key_of_sender(self) -> str | None:
        sender = self.sender()
        return next((k for k, b in self.banners.items() if b is sender), None)

    def _expired(self) -> None:
        key = self._key_of_sender()  # None: the banner was replaced or cleared before
        if key is not None:
            self.clear(key)

    def _dismissed(self) -> None:
        key = self._key_of_sender()
        if key is not None:
            self.clear(key)

    def clear(self, key: str) -> None:
        banner = self.banners.pop(key, None)
        if banner is not None:
            self._lay.removeWidget(banner)
            banner.hide()
            banner.deleteLater()
        self.setVisible(bool(self.banners))

    def clear_all(self) -> None:
        for key in list(self.banners):
            self.clear(key)

    def texts(self) -> dict[str, str]:
        return {k: b.text() for k, b in self.banners.items()}


class FoldingLog(QListWidget):
    """The command log: a line identical to a recent one increments that line's count."""

    #: look this many lines back for an identical one (lost/regained alternate)
    FOLD_LINES = 3
    FOLD_WINDOW_S = 120.0

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setTextElideMode(Qt.TextElideMode.ElideMiddle)  # the whole line is the tooltip
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self._recent: list[tuple[str, float, QListWidgetItem]] = []
        self._counts: dict[int, int] = {}
        self._renderers: dict[int, tuple[QListWidgetItem, Callable[[], str]]] = {}

    def add(
        self,
        text: str | Callable[[], str],
        color: str | None = None,
        *,
        fold: bool = False,
    ) -> QListWidgetItem:
        """Add a line; ``text`` may be a function giving it in the current language, so that
        :meth:`retranslate` can show the whole log in a newly chosen language."""
        render = text if callable(text) else None
        text = text() if callable(text) else text
        now = time.monotonic()
        if fold:
            for base, t, item in self._recent[-self.FOLD_LINES :]:
                if base == text and now - t < self.FOLD_WINDOW_S:
                    n = self._counts.get(id(item), 1) + 1
                    self._counts[id(item)] = n
                    item.setText(f"{text} ×{n}")
                    item.setToolTip(f"{text} ×{n}")
                    self._scroll_down()
                    return item
        item = QListWidgetItem(text)
        item.setToolTip(text)
        if color:
            item.setForeground(QColor(color))
        self.addItem(item)
        if render is not None:
            self._renderers[id(item)] = (item, render)
        self._recent = [*self._recent[-(self.FOLD_LINES - 1) :], (text, now, item)]
        self._scroll_down()
        return item

    def retranslate(self) -> None:
        """Render again every line added as a function (in the language now chosen)."""
        for key, (item, render) in self._renderers.items():
            n = self._counts.get(key)
            text = render() + (f" ×{n}" if n else "")
            item.setText(text)
            item.setToolTip(text)
        self._recent = []

    def _scroll_down(self) -> None:
        self.scrollToBottom()

    def lines(self) -> list[str]:
        return [self.item(i).text() for i in range(self.count())]  # type: ignore[union-attr]
