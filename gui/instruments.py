"""Flight instruments: what a pilot reads per vehicle, and the widgets that show it.

:func:`readings` (no Qt) turns one :class:`~gui.models.VehicleView` into labelled values with a
level (``ok``/``warn``/``bad``): altitude above home and AMSL, ground speed, climb, heading,
distance to home, flight time, battery, GPS, link quality, mode and mission progress.
:class:`FlightClock` measures flight time from the armed state. :class:`InstrumentStrip` shows
one compact row per vehicle (a click focuses the vehicle); :class:`FocusView` shows the focused
vehicle's instruments large.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from PyQt5.QtCore import Qt, pyqtSignal
from PyQt5.QtGui import QFont, QMouseEvent
from PyQt5.QtWidgets import QFrame, QGridLayout, QLabel, QVBoxLayout, QWidget

from dronekit_plzen.geo import geodesic_distance_m
from dronekit_plzen.i18n import _
from gui.fly_sorties import GPS_FIX_3D, LOW_BATTERY_PCT, gps_text
from gui.models import VehicleView

OK, WARN, BAD = "ok", "warn", "bad"
COLOURS = {OK: "#1b5e20", WARN: "#e65100", BAD: "#c62828", "": "#212121"}
#: horizontal dilution of precision above this is poor for a survey
POOR_HDOP = 2.0
LOW_SATELLITES = 6
#: link: heartbeat older than this (s) or loss above this (%) is shown as a warning
LINK_SLOW_S = 1.5
LINK_LOSSY_PCT = 10.0
#: keys in display order (the strip's columns, the focus view's tiles)
#: readings side by side in the vehicle-in-focus panel
COLUMNS = 2
KEYS = (
    "mode",
    "alt_rel",
    "alt_amsl",
    "speed",
    "climb",
    "heading",
    "home",
    "time",
    "battery",
    "gps",
    "link",
    "progress",
)


def labels() -> dict[str, str]:
    """The instruments' names in the current language (one term per concept)."""
    return {
        "mode": _("Mode"),
        "alt_rel": _("Altitude above home"),
        "alt_amsl": _("Altitude AMSL"),
        "speed": _("Ground speed"),
        "climb": _("Climb"),
        "heading": _("Heading"),
        "home": _("Distance to home"),
        "time": _("Flight time"),
        "battery": _("Battery"),
        "gps": _("GPS"),
        "link": _("Link (loss, last heard)"),
        "progress": _("Mission"),
    }


@dataclass(frozen=True)
class Reading:
    """One instrument's value as text with its level (``ok``, ``warn``, ``bad`` or "")."""

    key: str
    label: str
    text: str
    level: str = ""


def fmt_reading(value: float | None, pattern: str) -> str:
    """``value`` in ``pattern``; "—" when unknown. A value that rounds to zero is shown
    without a sign (a climb of -0.01 m/s read "-0.0 m/s")."""
    if value is None or not math.isfinite(value):
        return "—"
    text = pattern.format(value)
    if text in (pattern.format(-0.0), pattern.format(0.0)):
        return pattern.format(0.0).replace("+", "", 1)
    return text


def distance_home_m(v: VehicleView) -> float | None:
    """Geodesic distance from the vehicle to its HOME_POSITION, None while either is unknown."""
    if v.home is None or v.lon is None or v.lat is None:
        return None
    lat_h, lon_h, _alt = v.home
    return float(geodesic_distance_m(v.lon, v.lat, lon_h, lat_h))


def flight_time_text(seconds: float | None) -> str:
    """``m:ss`` (``h:mm:ss`` past an hour); — before the first arming."""
    if seconds is None:
        return "—"
    s = int(seconds)
    h, rest = divmod(s, 3600)
    m, sec = divmod(rest, 60)
    return f"{h}:{m:02d}:{sec:02d}" if h else f"{m}:{sec:02d}"


def progress_text(v: VehicleView, sortie_label: str | None = None) -> str:
    """``item k/n`` of the mission on board, and the sortie ``s/S`` when one was uploaded."""
    if v.mission_seq is None or not v.mission_count:
        item = "—"
    else:
        # the item flown to, numbered from 1 as QGroundControl and Mission Planner number them
        k = min(v.mission_seq + 1, v.mission_count)
        item = _("item {k}/{n}").format(k=k, n=v.mission_count)
    if sortie_label and sortie_label != "—":
        return _("{item}, sortie {sortie}").format(item=item, sortie=sortie_label)
    return item


def readings(
    v: VehicleView,
    *,
    flight_s: float | None = None,
    sortie_label: str | None = None,
    link_ok: bool = True,
) -> list[Reading]:
    """Every instrument of vehicle ``v`` in :data:`KEYS` order."""
    names = labels()
    out: dict[str, Reading] = {}

    def put(key: str, text: str, level: str = "") -> None:
        out[key] = Reading(key, names[key], text, level)

    put("mode", (v.mode or "?") + (" · " + _("ARMED") if v.armed else ""), BAD if v.armed else "")
    put("alt_rel", fmt_reading(v.alt_rel_m, "{:.1f} m"), BAD if (v.alt_rel_m or 0) > 120 else "")
    put("alt_amsl", fmt_reading(v.alt_amsl_m, "{:.1f} m"))
    put("speed", fmt_reading(v.groundspeed_m_s, "{:.1f} m/s"))
    put("climb", fmt_reading(v.climb_m_s, "{:+.1f} m/s"))
    put("heading", f"{v.heading_deg:03.0f}°")
    put("home", fmt_reading(distance_home_m(v), "{:.0f} m"))
    put("time", flight_time_text(flight_s))
    if v.battery_pct is None and v.battery_v is None:
        put("battery", "—", WARN)
    else:
        pct = "" if v.battery_pct is None else f"{v.battery_pct:.0f} %"
        volts = "" if v.battery_v is None else f"{v.battery_v:.1f} V"
        low = v.battery_pct is not None and v.battery_pct < LOW_BATTERY_PCT
        put("battery", " · ".join(t for t in (pct, volts) if t), BAD if low else OK)
    hdop = "" if v.hdop is None else f" HDOP {v.hdop:.1f}"
    gps_bad = v.gps_fix is None or v.gps_fix < GPS_FIX_3D
    gps_warn = (v.satellites or 0) < LOW_SATELLITES or (v.hdop or 0) > POOR_HDOP
    put("gps", gps_text(v) + hdop, BAD if gps_bad else WARN if gps_warn else OK)
    put("link", *_link(v, link_ok))
    put("progress", progress_text(v, sortie_label))
    return [out[k] for k in KEYS]


def _link(v: VehicleView, link_ok: bool) -> tuple[str, str]:
    age = v.heartbeat_age_s
    if not link_ok or age is None or not math.isfinite(age):
        return _("lost"), BAD
    loss = v.packet_loss_pct or 0.0
    text = _("{loss:.0f} % lost, {age:.1f} s").format(loss=loss, age=age)
    return text, WARN if loss > LINK_LOSSY_PCT or age > LINK_SLOW_S else OK


#: metres per degree of latitude (enough for drawing a footprint a few hundred metres wide)
M_PER_DEG = 111_320.0


def camera_footprint_lonlat(
    lon: float, lat: float, heading_deg: float, across_m: float, along_m: float
) -> list[tuple[float, float]]:
    """The ground rectangle a nadir camera sees: ``across_m`` × ``along_m`` centred on the
    vehicle, its long side across the heading (lon/lat corners, closed ring)."""
    h = math.radians(heading_deg)
    fwd = (math.sin(h), math.cos(h))  # east, north of the heading
    right = (math.cos(h), -math.sin(h))
    corners = []
    for a, b in ((-1, -1), (1, -1), (1, 1), (-1, 1), (-1, -1)):
        e = a * across_m / 2 * right[0] + b * along_m / 2 * fwd[0]
        n = a * across_m / 2 * right[1] + b * along_m / 2 * fwd[1]
        corners.append((lon + e / (M_PER_DEG * math.cos(math.radians(lat))), lat + n / M_PER_DEG))
    return corners


@dataclass
class FlightClock:
    """Flight time per vehicle: the time armed, summed over the armings since connecting."""

    _armed_at: dict[int, float] = field(default_factory=dict)
    _flown_s: dict[int, float] = field(default_factory=dict)

    def update(self, views: Iterable[VehicleView], now_s: float | None = None) -> None:
        now = time.monotonic() if now_s is None else now_s
        for v in views:
            since = self._armed_at.get(v.sysid)
            if v.armed and since is None:
                self._armed_at[v.sysid] = now
                self._flown_s.setdefault(v.sysid, 0.0)
            elif not v.armed and since is not None:
                self._flown_s[v.sysid] = self._flown_s.get(v.sysid, 0.0) + now - since
                del self._armed_at[v.sysid]

    def flight_s(self, sysid: int, now_s: float | None = None) -> float | None:
        """Seconds flown (armed); None when never armed while we watched."""
        now = time.monotonic() if now_s is None else now_s
        if sysid not in self._flown_s:
            return None
        since = self._armed_at.get(sysid)
        return self._flown_s[sysid] + (now - since if since is not None else 0.0)

    def reset(self, sysid: int) -> None:
        """The vehicle restarted: its flight time starts again."""
        self._armed_at.pop(sysid, None)
        self._flown_s.pop(sysid, None)


def _style(level: str, size_pt: int | None = None) -> str:
    size = f"font-size: {size_pt}pt;" if size_pt else ""
    return f"color: {COLOURS.get(level, COLOURS[''])}; font-weight: bold; {size}"


class _Cell(QLabel):
    """A strip cell: a click on it focuses its vehicle."""

    def __init__(self, text: str, on_click: Callable[[], None]):
        super().__init__(text)
        self._on_click = on_click
        self.setCursor(Qt.CursorShape.PointingHandCursor)

    def mousePressEvent(self, e: QMouseEvent | None) -> None:
        self._on_click()
        super().mousePressEvent(e)


class _Row:
    """One vehicle's cells in the strip's shared grid (so columns line up across vehicles)."""

    def __init__(self, sysid: int, title: QLabel, names: dict[str, QLabel]):
        self.sysid = sysid
        self.title = title
        self.names = names  # the strip's column headers
        self.values: dict[str, QLabel] = {}

    def widgets(self) -> list[QLabel]:
        return [self.title, *self.values.values()]

    def show_readings(self, rows: list[Reading], focused: bool) -> None:
        back = "background: #e3f2fd;" if focused else ""
        self.title.setStyleSheet(f"font-weight: bold; font-size: 13pt; {back}")
        for r in rows:
            self.values[r.key].setText(r.text)
            self.values[r.key].setStyleSheet(_style(r.level) + back)


class InstrumentStrip(QWidget):
    """One row of instruments per vehicle under shared column headers, sorted by system id;
    clicking a vehicle's row focuses it."""

    vehicleClicked = pyqtSignal(int)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(2, 2, 2, 2)
        self.placeholder = QLabel(_("No vehicles: connect on the Fly tab."))
        outer.addWidget(self.placeholder)
        self._grid = QGridLayout()
        self._grid.setHorizontalSpacing(14)
        self._grid.setVerticalSpacing(2)
        outer.addLayout(self._grid)
        outer.addStretch(1)
        self.names: dict[str, QLabel] = {}
        for col, key in enumerate(KEYS, start=1):
            name = QLabel("")
            name.setStyleSheet("color: #616161; font-size: 8pt;")
            self._grid.addWidget(name, 0, col)
            self.names[key] = name
        self._set_names()
        self.rows: dict[int, _Row] = {}
        self.focused: int | None = None

    def _set_names(self) -> None:
        for key, text in labels().items():
            self.names[key].setText(text)
            self.names[key].setVisible(bool(getattr(self, "rows", None)))

    def _new_row(self, sysid: int) -> _Row:
        def click() -> None:
            self.vehicleClicked.emit(sysid)

        row = _Row(sysid, _Cell(f"#{sysid}", click), self.names)
        for key in KEYS:
            row.values[key] = _Cell("—", click)
        return row

    def _relayout(self) -> None:
        for r, sysid in enumerate(sorted(self.rows), start=1):
            row = self.rows[sysid]
            self._grid.addWidget(row.title, r, 0)
            for col, key in enumerate(KEYS, start=1):
                self._grid.addWidget(row.values[key], r, col)

    def show_vehicles(self, shown: dict[int, list[Reading]]) -> None:
        """``shown`` maps system id → its readings; rows of vanished vehicles are removed."""
        changed = False
        for sysid in [s for s in self.rows if s not in shown]:
            for w in self.rows.pop(sysid).widgets():
                self._grid.removeWidget(w)
                w.deleteLater()
            changed = True
        for sysid in shown:
            if sysid not in self.rows:
                self.rows[sysid] = self._new_row(sysid)
                changed = True
        if changed:
            self._relayout()
        for sysid, rows in shown.items():
            self.rows[sysid].show_readings(rows, sysid == self.focused)
        self.placeholder.setVisible(not shown)
        for name in self.names.values():
            name.setVisible(bool(shown))

    def retranslate(self) -> None:
        self.placeholder.setText(_("No vehicles: connect on the Fly tab."))
        self._set_names()
        for name in self.names.values():
            name.setVisible(bool(self.rows))


class FocusView(QFrame):
    """The focused vehicle's instruments, large (a 3-column grid of tiles)."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.sysid: int | None = None
        self.setFrameShape(QFrame.StyledPanel)
        grid = QGridLayout(self)
        self.title = QLabel("")
        font = QFont()
        font.setPointSize(15)
        font.setBold(True)
        self.title.setFont(font)
        self.title.setWordWrap(True)  # (cut off at the dock's 400 px: "click one in …")
        grid.addWidget(self.title, 0, 0, 1, COLUMNS)
        self.names: dict[str, QLabel] = {}
        self.values: dict[str, QLabel] = {}
        for i, key in enumerate(KEYS):
            # two columns: the dock's 400 px showed two of three, battery and mission cut off
            r, c = 1 + 2 * (i // COLUMNS), i % COLUMNS
            name, value = QLabel(""), QLabel("—")
            name.setStyleSheet("color: #616161; font-size: 9pt;")
            name.setWordWrap(True)
            value.setStyleSheet(_style("", 16))
            value.setWordWrap(True)
            grid.addWidget(name, r, c)
            grid.addWidget(value, r + 1, c)
            self.names[key], self.values[key] = name, value
        self.show_readings(None, [])

    def show_readings(self, sysid: int | None, rows: list[Reading]) -> None:
        self.sysid = sysid
        self.title.setText(
            _("Vehicle {sysid}").format(sysid=sysid)
            if sysid is not None
            else _("No vehicle in focus: click one in the instrument strip")
        )
        names = labels()
        for key in KEYS:
            self.names[key].setText(names[key])
        for r in rows:
            self.values[r.key].setText(r.text)
            self.values[r.key].setStyleSheet(_style(r.level, 16))
        if not rows:
            for value in self.values.values():
                value.setText("—")
