"""A stored flight replaced by a fuller copy of the same flight (caller's transaction).

A truncated copy of a log (a recording cut short, a log downloaded while the vehicle was still
writing it) imported first stores a shorter flight. When the whole log comes later, its flight
overlaps the stored one: :func:`contained_flight` finds the stored flight whose samples are all
(to the content-match tolerance of :mod:`telemetry.importer`) among the new flight's, with fewer
of them, and :func:`replace_flight` gives it the new samples, events and summary in place. The
flight keeps its id, so its deployment, pilot, missions and manual fields stay with it; it now
comes from the new source (the old source row is kept, recorded in ``replaced_sources`` as held
by the flight: the shorter copy imported again is named as stored in it). Its camera coverage is
computed again by the importer from the whole track (``telemetry.importer.import_file``).

Not replaced (the new flight is skipped, as before): a stored flight that only partly overlaps
the new one (two different logs sharing a stretch), several stored flights inside one new
flight, and a flight still open (a recording in progress or killed: its recorder may still
write to it).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from telemetry.segment import Segment
from telemetry.store import Store

#: stored and new samples are the same when their times agree to this and their fingerprints
#: (position, height above home) agree; a stored flight is contained in a new one when this
#: share of its samples is among the new flight's (the tolerances of ``stored_already``)
SAME_T_S = 0.5
SAME_SHARE = 0.8
_FP_ATOL = 1e-5


@dataclass(frozen=True)
class Contained:
    """Stored data the new flight holds entirely, with more samples."""

    flight_id: int | None  #: None: stored samples outside any flight
    samples: int  #: the stored sample count
    source_ids: tuple[int | None, ...]  #: the sources of its samples
    paths: tuple[str, ...]  #: their files, for the report


def match_mask(
    t_old: np.ndarray, fp_old: np.ndarray, t_new: np.ndarray, fp_new: np.ndarray
) -> np.ndarray:
    """For each old sample: the nearest new sample in time has the same time and fingerprint.

    ``t_new`` must be sorted. Fingerprints are rows of (latitude, longitude, height above home);
    NaN matches NaN (a sample without a position in both copies).
    """
    if t_new.size == 0 or t_old.size == 0:
        return np.zeros(t_old.size, dtype=bool)
    j = np.clip(np.searchsorted(t_new, t_old), 0, t_new.size - 1)
    prev = np.clip(j - 1, 0, t_new.size - 1)
    nearer = np.abs(t_new[prev] - t_old) <= np.abs(t_new[j] - t_old)
    j = np.where(nearer, prev, j)
    same_t = np.abs(t_new[j] - t_old) <= SAME_T_S
    same_fp = np.isclose(fp_old, fp_new[j], rtol=0, atol=_FP_ATOL, equal_nan=True).all(axis=1)
    return np.asarray(same_t & same_fp)


def contained_flight(
    store: Store, vehicle_ids: list[int], cols: dict[str, np.ndarray], seg: Segment
) -> Contained | None:
    """What the new flight ``seg`` of ``cols`` holds entirely and outnumbers, if anything.

    The one stored flight overlapping it; or, with no stored flight there, the stored samples
    outside any flight in its time range (a cut copy whose arming was never seen: a log begun
    armed, cut before the records that show it). None when more than one stored flight
    overlaps, when the stored one reaches outside the new flight, has as many samples or more,
    is still open, or its samples are not (to :data:`SAME_SHARE`) the new flight's.
    """
    t = cols["t_s"][seg.start : seg.stop]
    if t.size == 0:
        return None
    lo, hi = float(t[0]) - SAME_T_S, float(t[-1]) + SAME_T_S
    marks = ",".join("?" * len(vehicle_ids))
    ids = store.conn.execute(
        f"SELECT DISTINCT flight_id FROM samples WHERE vehicle_id IN ({marks}) "
        "AND flight_id IS NOT NULL AND t_s BETWEEN ? AND ?",
        (*vehicle_ids, lo, hi),
    ).fetchall()
    if len(ids) > 1:
        return None
    fid: int | None = None
    args: tuple[int | float, ...]
    if ids:
        fid = int(ids[0][0])
        flight = store.conn.execute(
            "SELECT complete, end_utc FROM flights WHERE id = ?", (fid,)
        ).fetchone()
        if flight is None or (not flight[0] and flight[1] is None):
            return None  # open: being recorded, or the recorder was killed
        where, args = "s.flight_id = ?", (fid,)
    else:
        # the samples of the new flight's own time range (those just before it stay)
        where = f"s.flight_id IS NULL AND s.vehicle_id IN ({marks}) AND s.t_s BETWEEN ? AND ?"
        args = (*vehicle_ids, float(t[0]), float(t[-1]))
    rows = store.conn.execute(
        f"SELECT s.t_s, s.lat_deg, s.lon_deg, s.rel_alt_m FROM samples s WHERE {where} "
        "ORDER BY s.t_s",
        args,
    ).fetchall()
    old = np.array(rows, dtype=float).reshape(-1, 4)
    if old.shape[0] == 0 or old.shape[0] >= t.size:
        return None
    if old[0, 0] < lo or old[-1, 0] > hi:
        return None  # it reaches outside the new flight: a partial overlap
    fp_new = np.column_stack(
        [cols[n][seg.start : seg.stop] for n in ("lat_deg", "lon_deg", "rel_alt_m")]
    )
    if match_mask(old[:, 0], old[:, 1:], t, fp_new).mean() < SAME_SHARE:
        return None
    src = store.conn.execute(
        f"SELECT DISTINCT s.source_id, COALESCE(src.path, '') FROM samples s "
        f"LEFT JOIN sources src ON src.id = s.source_id WHERE {where} ORDER BY s.source_id",
        args,
    ).fetchall()
    source_ids = tuple(None if r[0] is None else int(r[0]) for r in src)
    paths = tuple(str(r[1]) for r in src if r[1])
    return Contained(fid, old.shape[0], source_ids, paths)


def replace_flight(
    store: Store,
    old: Contained,
    vehicle_ids: list[int],
    t_range: tuple[float, float],
    row: dict[str, object],
) -> int:
    """Clear the stored data ``old`` and give its flight the new summary ``row``; its id.

    ``row`` is the new flight's ``flights`` row as for a new flight. A stored flight keeps its
    vehicle, deployment and pilot (a pilot is set only where none was); with no stored flight
    (``old.flight_id`` None) the row is inserted. The old sources' samples and events outside
    any flight inside ``t_range`` (the new flight's first and last sample time) go too: the new
    flight's samples stand for them. The old source rows stay.

    The caller then inserts the new flight's samples and events under the id returned, in the
    same transaction: a failure anywhere leaves the stored data as it was. The old sources are
    recorded as held by the flight (``replaced_sources``, :func:`held_by_fuller_copies`): the
    shorter copy imported again is named as part of it.
    """
    fid = _replace(store, old, vehicle_ids, t_range, row)
    store.conn.executemany(
        "INSERT OR IGNORE INTO replaced_sources (source_id, flight_id) VALUES (?, ?)",
        [(s, fid) for s in old.source_ids if s is not None],
    )
    return fid


def _replace(
    store: Store,
    old: Contained,
    vehicle_ids: list[int],
    t_range: tuple[float, float],
    row: dict[str, object],
) -> int:
    fid = old.flight_id
    if fid is not None:
        store.conn.execute("DELETE FROM samples WHERE flight_id = ?", (fid,))
        store.conn.execute("DELETE FROM events WHERE flight_id = ?", (fid,))
    if old.source_ids:
        vmarks = ",".join("?" * len(vehicle_ids))
        sources = " OR ".join("source_id IS ?" for _ in old.source_ids)
        for table in ("samples", "events"):
            store.conn.execute(
                f"DELETE FROM {table} WHERE flight_id IS NULL AND vehicle_id IN ({vmarks}) "
                f"AND ({sources}) AND t_s BETWEEN ? AND ?",
                (*vehicle_ids, *old.source_ids, *t_range),
            )
    if fid is None:
        return store.insert_flight(dict(row))
    kept = {"vehicle_id", "deployment_id", "pilot_id"}
    values = {k: v for k, v in row.items() if k not in kept}
    if row.get("pilot_id") is not None:
        sql = "SELECT pilot_id FROM flights WHERE id = ?"
        (pilot,) = store.conn.execute(sql, (fid,)).fetchone()
        if pilot is None:
            values["pilot_id"] = row["pilot_id"]
    store.update_flight(fid, values)
    return fid


def held_by_fuller_copies(store: Store, source_id: int) -> list[tuple[int, str]]:
    """The stored flights holding data of the source ``source_id`` since a fuller copy replaced
    them, other than its own flights: (flight id, the file the flight comes from now)."""
    rows = store.conn.execute(
        "SELECT r.flight_id, COALESCE(src.path, '') FROM replaced_sources r "
        "JOIN flights f ON f.id = r.flight_id LEFT JOIN sources src ON src.id = f.source_id "
        "WHERE r.source_id = ? AND f.source_id IS NOT r.source_id ORDER BY r.flight_id",
        (int(source_id),),
    ).fetchall()
    return [(int(fid), str(path)) for fid, path in rows]
