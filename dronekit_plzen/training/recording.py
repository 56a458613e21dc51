"""A training session's recorded telemetry, read back from its SQLite file for scoring.

The session's recorder stamps every message with ``t0 + simulated time``, so ``t_s - t0`` below
is simulated seconds since the simulator started, whatever the speed-up was.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from dronekit_plzen.errors import BadInputError, CorruptFileError
from dronekit_plzen.i18n import _
from dronekit_plzen.inputs import read_reason
from simulators.scenario import SIGHTING_PREFIX

#: flight-mode names (PX4 as pymavlink names them, ArduCopter) by what they do
MODE_GROUPS: dict[str, frozenset[str]] = {
    "rtl": frozenset({"RTL", "AUTO.RTL", "SMART_RTL"}),
    "land": frozenset({"LAND", "AUTO.LAND", "PRECLAND"}),
    "mission": frozenset({"MISSION", "AUTO.MISSION", "AUTO"}),
    "hold": frozenset({"LOITER", "AUTO.LOITER", "POSCTL", "POSHOLD", "BRAKE", "CIRCLE"}),
    "altitude": frozenset({"ALTCTL", "ALT_HOLD"}),
    "manual": frozenset({"MANUAL", "STABILIZE", "STABILIZED", "ACRO", "DRIFT", "SPORT"}),
    "guided": frozenset({"GUIDED", "OFFBOARD"}),
    "takeoff": frozenset({"TAKEOFF", "AUTO.TAKEOFF"}),
}
_SIGHTING = re.compile(re.escape(SIGHTING_PREFIX) + r"(-?\d+\.\d+) (-?\d+\.\d+)")


def mode_group(mode: str | None) -> str:
    """The group of a recorded mode name (``'rtl'``...), or the name itself in lower case."""
    for group, names in MODE_GROUPS.items():
        if mode in names:
            return group
    return (mode or "").lower()


@dataclass(frozen=True)
class Event:
    t_s: float  # simulated seconds
    kind: str  # armed disarmed mode statustext failsafe item_reached ...
    text: str
    value: float
    lat_deg: float
    lon_deg: float


@dataclass
class VehicleTrack:
    """One vehicle: samples as numpy columns (simulated seconds) and its events in order."""

    index: int
    sysid: int
    t_s: np.ndarray
    lat_deg: np.ndarray
    lon_deg: np.ndarray
    rel_alt_m: np.ndarray
    battery_pct: np.ndarray
    armed: np.ndarray
    events: list[Event] = field(default_factory=list)

    def at(self, t_s: float) -> tuple[float, float, float, float]:
        """(lat, lon, rel alt, battery %) of the last sample at or before ``t_s``."""
        if self.t_s.size == 0:
            return math.nan, math.nan, math.nan, math.nan
        i = max(0, int(np.searchsorted(self.t_s, t_s + 1e-6)) - 1)
        return (
            float(self.lat_deg[i]),
            float(self.lon_deg[i]),
            float(self.rel_alt_m[i]),
            float(self.battery_pct[i]),
        )

    def mode_at(self, t_s: float) -> str:
        mode = ""
        for ev in self.events:
            if ev.t_s > t_s + 1e-6:
                break
            if ev.kind == "mode":
                mode = ev.text
        return mode

    def first(self, kind: str, contains: str | None = None, after_s: float = -math.inf) -> Event:
        for ev in self.events:
            if (
                ev.kind == kind
                and ev.t_s >= after_s - 1e-6
                and (contains is None or contains.lower() in ev.text.lower())
            ):
                return ev
        raise LookupError(kind)


@dataclass
class Recording:
    """Everything scoring needs: tracks, fired faults, sightings, the placed target, homes."""

    vehicles: dict[int, VehicleTrack]
    faults: list[dict[str, Any]]
    target: tuple[float, float] | None
    homes: list[tuple[float, float]]
    end_s: float

    def sightings(self) -> list[tuple[float, int, float, float]]:
        """(t_s, vehicle index, lat, lon) of every reported sighting, in time order."""
        out = []
        for v in self.vehicles.values():
            for ev in v.events:
                if ev.kind == "statustext":
                    m = _SIGHTING.search(ev.text)
                    if m:
                        out.append((ev.t_s, v.index, float(m.group(1)), float(m.group(2))))
        return sorted(out)

    def fault_times(self, fault_id: str, vehicle: int | None) -> list[tuple[float, int]]:
        return [
            (float(f["t_s"]), int(f["vehicle"]))
            for f in self.faults
            if f["id"] == fault_id and vehicle in (None, f["vehicle"])
        ]


def load_recording(db_path: str | Path, session: dict[str, Any]) -> Recording:
    """Read a session's samples and events (sysid ``k + 1`` is vehicle ``k``)."""
    from telemetry.store import open_store

    t0 = float(session["t0_s"])
    n = int(session["vehicles"])
    vehicles: dict[int, VehicleTrack] = {}
    _check_database(Path(db_path))
    with open_store(db_path, readonly=True) as store:
        for k in range(n):
            sysid = k + 1
            rows = store.query(
                "SELECT s.t_s, s.lat_deg, s.lon_deg, s.rel_alt_m, s.battery_pct, s.armed "
                "FROM samples s JOIN vehicles v ON v.id = s.vehicle_id "
                "WHERE v.system_id = ? ORDER BY s.t_s, s.id",
                (sysid,),
            )
            arr = (
                np.array(
                    [
                        [
                            r["t_s"] - t0,
                            _f(r["lat_deg"]),
                            _f(r["lon_deg"]),
                            _f(r["rel_alt_m"]),
                            _f(r["battery_pct"]),
                            _f(r["armed"]),
                        ]
                        for r in rows
                    ],
                    dtype=float,
                )
                if rows
                else np.zeros((0, 6))
            )
            evs = store.query(
                "SELECT e.t_s, e.kind, e.text, e.value, e.lat_deg, e.lon_deg "
                "FROM events e JOIN vehicles v ON v.id = e.vehicle_id "
                "WHERE v.system_id = ? ORDER BY e.t_s, e.id",
                (sysid,),
            )
            _check_readings(arr, db_path)
            vehicles[k] = VehicleTrack(
                k,
                sysid,
                arr[:, 0],
                arr[:, 1],
                arr[:, 2],
                arr[:, 3],
                arr[:, 4],
                arr[:, 5],
                [
                    Event(
                        e["t_s"] - t0,
                        e["kind"],
                        e["text"] or "",
                        _f(e["value"]),
                        _f(e["lat_deg"]),
                        _f(e["lon_deg"]),
                    )
                    for e in evs
                ],
            )
    target = session.get("target")
    return Recording(
        vehicles=vehicles,
        faults=list(session.get("faults", [])),
        target=None if target is None else (float(target[0]), float(target[1])),
        homes=[(float(h[0]), float(h[1])) for h in session["homes"]],
        end_s=float(session["end_s"]),
    )


#: (column, name, least, greatest) of a sample: beyond, a reading the recorder never stores
_READINGS = (
    (0, "time", -1e10, 1e10),
    (1, "latitude", -90.0, 90.0),
    (2, "longitude", -180.0, 180.0),
    (3, "altitude", -1e5, 1e5),
    (4, "battery charge", -1.0, 100.0),
    (5, "armed flag", 0.0, 1.0),
)


def _check_readings(arr: np.ndarray, db_path: str | Path) -> None:
    """A sample beyond what a vehicle can report (a latitude of 1e308) is a damaged recording:
    the report's map had been an internal error (NaN pixels), the scores nonsense."""
    labels = {
        "time": _("time"),
        "latitude": _("latitude"),
        "longitude": _("longitude"),
        "altitude": _("altitude"),
        "battery charge": _("battery charge"),
        "armed flag": _("armed flag"),
    }
    for col, what, lo, hi in _READINGS:
        v = arr[:, col]
        bad = ~((v >= lo) & (v <= hi)) & ~(np.isnan(v) if col else False)
        if bad.any():
            raise CorruptFileError(
                _("the recording holds an impossible {what}: {value:g} (a damaged file)").format(
                    what=labels[what], value=float(v[np.argmax(bad)])
                ),
                where=str(db_path),
            )


#: how every SQLite database file begins
SQLITE_HEAD = b"SQLite format 3\x00"


def _check_database(path: Path) -> None:
    """A recording that is no database is refused before the store opens it: the store takes
    an empty file for a new database and writes its tables into it (a report had changed a
    damaged session's file, then scored it as a session without a flight)."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(len(SQLITE_HEAD))
    except FileNotFoundError:
        return  # the store says it: no flight database here
    except OSError as exc:
        raise BadInputError(
            _("cannot read the session's recording ({reason})").format(reason=read_reason(exc)),
            where=str(path),
        ) from None
    if head != SQLITE_HEAD:
        raise CorruptFileError(
            _("the session's recording is empty or damaged (not a SQLite database)"),
            where=str(path),
            offset=0,
        )


def _f(v: Any) -> float:
    return math.nan if v is None else float(v)
