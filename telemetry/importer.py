"""Import flight logs into the store: idempotent (by file and by content), damage-tolerant,
one transaction per file."""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from dronekit_plzen.errors import BadInputError, DronekitPlzenError
from dronekit_plzen.i18n import _
from dronekit_plzen.inputs import read_reason
from telemetry.fuller_copy import SAME_SHARE as _SAME_SHARE
from telemetry.fuller_copy import SAME_T_S as _SAME_T_S
from telemetry.fuller_copy import contained_flight, held_by_fuller_copies, replace_flight
from telemetry.logreaders import read_log
from telemetry.segment import DEFAULT_PARAMS, Segment, SegmentParams, find_flights, summarize
from telemetry.store import Store
from telemetry.tlog import LogIssue
from telemetry.track import Track

log = logging.getLogger(__name__)


@dataclass
class ImportResult:
    path: str
    kind: str = "unknown"
    source_id: int | None = None
    duplicate: bool = False
    flight_ids: list[int] = field(default_factory=list)
    messages: int = 0
    bad_messages: int = 0
    samples: int = 0
    issues: list[LogIssue] = field(default_factory=list)
    error: str | None = None
    #: the CLI exit code of the error (2: the file is bad input, 1: anything else)
    exit_code: int = 0
    #: flights of this file already in the database (found by content) and their sources
    skipped_flights: int = 0
    skipped_from: list[str] = field(default_factory=list)
    #: stored flights (ids, also in ``flight_ids``) this file holds in full and more: they now
    #: have its samples, events and summary; ``replaced_from``: where they had come from
    replaced_flights: list[int] = field(default_factory=list)
    replaced_from: list[str] = field(default_factory=list)
    #: a file imported before whose flights a fuller copy has replaced since: those stored
    #: flights (ids, also in ``flight_ids``) and the files they come from now
    in_fuller_copy: list[int] = field(default_factory=list)
    fuller_copy_from: list[str] = field(default_factory=list)
    #: replaced flights whose camera coverage could not be computed again (no field of view
    #: stored with them): dropped, not left covering the shorter copy only
    coverage_dropped: list[int] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.error is None

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "kind": self.kind,
            "source_id": self.source_id,
            "duplicate": self.duplicate,
            "flight_ids": self.flight_ids,
            "messages": self.messages,
            "bad_messages": self.bad_messages,
            "samples": self.samples,
            "issues": [i.to_dict() for i in self.issues],
            "error": self.error,
            "skipped_flights": self.skipped_flights,
            "skipped_from": self.skipped_from,
            "replaced_flights": self.replaced_flights,
            "replaced_from": self.replaced_from,
            "in_fuller_copy": self.in_fuller_copy,
            "fuller_copy_from": self.fuller_copy_from,
            "coverage_dropped": self.coverage_dropped,
        }


def file_sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def import_file(
    store: Store,
    path: str | Path,
    *,
    vehicle: str | None = None,
    deployment_id: int | None = None,
    pilot_id: int | None = None,
    params: SegmentParams = DEFAULT_PARAMS,
    camera_fov_deg: tuple[float, float] | None = None,
) -> ImportResult:
    """Import one log file; what the database holds already is not added again.

    The same file (SHA-256) or the recorder's own archive is skipped at once. Otherwise the
    data are compared by content (:func:`stored_already`): the flights of a truncated or
    re-exported copy, or of a killed recording's ``.tlog``, are reported in
    ``skipped_flights`` / ``skipped_from``, and a file with nothing new is a ``duplicate``.
    A stored flight this file holds in full, with more samples (the truncated copy was imported
    first), is replaced in place by the fuller one (``replaced_flights`` / ``replaced_from``):
    it keeps its id, deployment, pilot and missions. The truncated copy imported again is a
    ``duplicate`` whose flights are the replaced ones (``in_fuller_copy`` /
    ``fuller_copy_from``); nothing is written.

    ``camera_fov_deg`` (horizontal, vertical) turns camera trigger events into a covered area
    and is kept with each flight. A replaced flight's coverage is computed again from its whole
    track with the field of view kept from its first import (or with ``camera_fov_deg`` when
    given): a coverage map shows what the flight saw, not what the shorter copy held. A replaced
    flight with a coverage but no kept field of view (imported before it was kept) has its
    coverage dropped and is listed in ``coverage_dropped``: a footprint of part of the flight
    passed off as the whole is worse than none. Importing a file again with ``camera_fov_deg``
    computes the coverage of its flights.

    Raises :class:`~dronekit_plzen.errors.DronekitPlzenError` for a file that cannot be read at
    all; damage inside a readable file is reported in ``issues`` and the good data is kept.
    """
    p = Path(path)
    data = read_input(p)
    digest = file_sha256(data)
    res = ImportResult(path=str(p))
    if _known_file(store, p, digest, res):
        if not _has_flights(store, res.source_id):  # replaced before schema 6 recorded it?
            _find_fuller_copies(store, read_log(p, data).tracks, params, res)
        if camera_fov_deg is not None and res.flight_ids:
            with store.transaction():
                for fid in res.flight_ids:
                    update_camera_coverage(store, fid, *camera_fov_deg)
        return res
    content = read_log(p, data)
    res.kind, res.messages = content.kind, content.messages
    res.bad_messages, res.issues = content.bad_messages, content.issues
    # BEGIN IMMEDIATE waits (busy timeout) for another import of the same file to finish …
    with store.transaction():
        if _known_file(store, p, digest, res):  # … which then has imported it
            return res
        res.source_id = store.insert_source(
            path=str(p.resolve()),
            kind=content.kind,
            sha256=digest,
            size_bytes=len(data),
            messages=content.messages,
            bad_messages=content.bad_messages,
            issues=[i.to_dict() for i in content.issues],
        )
        skipped: dict[int, str] = {}
        replaced: dict[int, tuple[str, ...]] = {}
        new_rows = 0
        for track in content.tracks:
            stored = store_track(
                store,
                track,
                source_id=res.source_id,
                vehicle_name=vehicle,
                deployment_id=deployment_id,
                pilot_id=pilot_id,
                params=params,
            )
            res.flight_ids += stored.flight_ids
            res.samples += stored.samples
            res.skipped_flights += stored.skipped_flights
            skipped |= stored.skipped_sources
            replaced |= stored.replaced
            new_rows += stored.samples + stored.events
        res.skipped_from = sorted(set(skipped.values()))
        res.replaced_flights = sorted(replaced)
        res.replaced_from = sorted({path for paths in replaced.values() for path in paths})
        if content.tracks and skipped and not new_rows:
            # every flight of the file is in the database already: keep nothing of it
            res.duplicate = True
            store.conn.execute("DELETE FROM sources WHERE id = ?", (res.source_id,))
            res.source_id = next(iter(skipped), None)
            return res
        if camera_fov_deg is not None:
            for fid in res.flight_ids:
                update_camera_coverage(store, fid, *camera_fov_deg)
        else:
            res.coverage_dropped = _recompute_coverage(store, res.replaced_flights)
        linked = _refresh_deployments(store, res.replaced_flights)
        # a replaced flight keeps the deployment it was linked to; refused, nothing is kept
        new = [fid for fid in res.flight_ids if fid not in linked]
        if deployment_id is not None and new:
            from telemetry.deployments import attach_flights

            attach_flights(
                store, deployment_id, new, what=_("a flight of {name}").format(name=p.name)
            )
    return res


def _refresh_deployments(store: Store, flight_ids: list[int]) -> set[int]:
    """The deployments of replaced flights follow their new times; the flights linked to one."""
    from telemetry.deployments import refresh_times

    linked: set[int] = set()
    for fid in flight_ids:
        sql = "SELECT deployment_id FROM flights WHERE id = ?"
        row = store.conn.execute(sql, (fid,)).fetchone()
        if row is not None and row[0] is not None:
            refresh_times(store, int(row[0]))
            linked.add(fid)
    return linked


def read_input(p: Path) -> bytes:
    """The bytes of a log file; a missing file, a folder or an unreadable file is bad input."""
    if p.is_dir():
        raise BadInputError(_("this is a folder, not a log file"), where=str(p))
    if not p.exists():
        raise BadInputError(_("no such file"), where=str(p))
    try:
        return p.read_bytes()
    except OSError as exc:
        raise BadInputError(
            _("cannot read the file") + f": {read_reason(exc)}", where=str(p)
        ) from exc


def _known_file(store: Store, p: Path, digest: str, res: ImportResult) -> bool:
    """The same file (by SHA-256), or the recorder's own archive: fill ``res`` as a duplicate."""
    old = store.source_by_hash(digest)
    if old is None:
        live = store.query(
            "SELECT id, kind FROM sources WHERE kind = 'live' AND path = ?", (str(p.resolve()),)
        )
        if not live:
            return False
        old = {"id": live[0]["id"], "kind": "tlog"}
    res.kind, res.source_id, res.duplicate = old["kind"], old["id"], True
    res.flight_ids = [
        r["id"] for r in store.query("SELECT id FROM flights WHERE source_id = ?", (old["id"],))
    ]
    held = held_by_fuller_copies(store, int(old["id"]))
    res.in_fuller_copy = sorted({fid for fid, _path in held} - set(res.flight_ids))
    res.fuller_copy_from = sorted({path for _fid, path in held if path})
    res.flight_ids = sorted({*res.flight_ids, *res.in_fuller_copy})
    return True


def _has_flights(store: Store, source_id: int | None) -> bool:
    """The source has flights of its own or recorded as held by a fuller copy."""
    if source_id is None:
        return True
    sql = (
        "SELECT 1 FROM flights WHERE source_id = ? UNION ALL "
        "SELECT 1 FROM replaced_sources WHERE source_id = ? LIMIT 1"
    )
    return store.conn.execute(sql, (source_id, source_id)).fetchone() is not None


def _find_fuller_copies(
    store: Store, tracks: list[Track], params: SegmentParams, res: ImportResult
) -> None:
    """A file with no flight of its own stored whose flights lie each inside one stored flight
    of another file, by content: those flights were replaced by a fuller copy before the
    database recorded it (``replaced_sources``, schema 6). Fills ``in_fuller_copy``."""
    found: set[int] = set()
    vids = [int(r[0]) for r in store.conn.execute("SELECT id FROM vehicles").fetchall()]
    marks = ",".join("?" * len(vids))
    for track in tracks:
        c = track.columns
        if not track.n or not vids:
            continue
        known = stored_already(store, vids, c)
        for seg in find_flights(c["t_s"], c["armed"], c["rel_alt_m"], c["groundspeed_m_s"], params):
            if known.mask[seg.start : seg.stop].mean() < _SAME_SHARE:
                continue
            t0, t1 = float(c["t_s"][seg.start]), float(c["t_s"][seg.stop - 1])
            rows = store.conn.execute(
                f"SELECT DISTINCT flight_id FROM samples WHERE vehicle_id IN ({marks}) "
                "AND flight_id IS NOT NULL AND t_s BETWEEN ? AND ?",
                (*vids, t0, t1),
            ).fetchall()
            if len(rows) != 1:
                continue
            fid = int(rows[0][0])
            sql = "SELECT MIN(t_s), MAX(t_s) FROM samples WHERE flight_id = ?"
            lo, hi = store.conn.execute(sql, (fid,)).fetchone()
            if lo <= t0 + _SAME_T_S and hi >= t1 - _SAME_T_S:  # all of it, not a partial overlap
                found.add(fid)
    if not found:
        return
    marks = ",".join("?" * len(found))
    rows = store.conn.execute(
        f"SELECT DISTINCT COALESCE(s.path, '') FROM flights f LEFT JOIN sources s "
        f"ON s.id = f.source_id WHERE f.id IN ({marks})",
        sorted(found),
    ).fetchall()
    res.flight_ids, res.in_fuller_copy = sorted(found), sorted(found)
    res.fuller_copy_from = sorted(str(r[0]) for r in rows if r[0])


def import_files(store: Store, paths: Iterable[str | Path], **kw: Any) -> list[ImportResult]:
    """Import many files; a file that fails is reported in its result, the batch goes on."""
    out = []
    for p in paths:
        try:
            out.append(import_file(store, p, **kw))
        except DronekitPlzenError as exc:
            out.append(ImportResult(path=str(p), error=str(exc), exit_code=exc.exit_code))
        except Exception as exc:  # a reader bug must not stop the batch; the file is named
            log.exception("import of %s failed", p)
            out.append(ImportResult(path=str(p), error=f"{type(exc).__name__}: {exc}", exit_code=1))
    return out


@dataclass
class StoredTrack:
    flight_ids: list[int] = field(default_factory=list)
    samples: int = 0
    events: int = 0
    skipped_flights: int = 0
    #: source id → path of the flights found already stored
    skipped_sources: dict[int, str] = field(default_factory=dict)
    #: stored flight id → the path(s) it came from, of the flights replaced by fuller copies
    replaced: dict[int, tuple[str, ...]] = field(default_factory=dict)


def store_track(
    store: Store,
    track: Track,
    *,
    source_id: int | None,
    vehicle_name: str | None = None,
    deployment_id: int | None = None,
    pilot_id: int | None = None,
    params: SegmentParams = DEFAULT_PARAMS,
) -> StoredTrack:
    """Segment a track into flights and write flights, samples and events (caller's transaction).

    Data the database holds already (the same vehicle at the same times with the same
    positions: a truncated or re-exported copy of an imported log, the archive of a recording)
    is skipped by content; a flight that overlaps stored data is skipped whole, unless it holds
    all of a stored flight's samples and more (a fuller copy, :mod:`telemetry.fuller_copy`):
    the stored flight then takes its samples, events and summary, and keeps its id and links.
    """
    key = f"name-{vehicle_name}" if vehicle_name else track.key
    vid = store.vehicle_id(
        key,
        name=vehicle_name or track.key,
        system_id=track.system_id,
        autopilot=track.autopilot,
        vehicle_type=track.vehicle_type,
    )
    c = track.columns
    out = StoredTrack()
    segs: list[Segment] = (
        find_flights(c["t_s"], c["armed"], c["rel_alt_m"], c["groundspeed_m_s"], params)
        if track.n
        else []
    )
    vids = _vehicle_ids(store, vid)
    known = stored_already(store, vids, c)
    keep = ~known.mask
    flight_of = np.zeros(track.n, dtype=np.int64)
    spans: list[tuple[float, float, int]] = []
    skipped_spans: list[tuple[float, float]] = []
    for seg in segs:
        fuller = None
        if known.mask[seg.start : seg.stop].any():
            fuller = contained_flight(store, vids, c, seg)
            if fuller is None:
                keep[seg.start : seg.stop] = False
                out.skipped_flights += 1
                skipped_spans.append((float(c["t_s"][seg.start]), float(c["t_s"][seg.stop - 1])))
                continue
            keep[seg.start : seg.stop] = True  # the new flight's samples replace the stored
        summ = summarize(c, seg)
        row = summ.to_row()
        row.update(
            vehicle_id=vid,
            source_id=source_id,
            deployment_id=deployment_id,
            pilot_id=pilot_id,
            # 0: the log ends before the disarm (as a recording stopped in flight), or a gap
            # in it cuts the flight (its landing or take-off not seen)
            complete=1 if seg.complete else 0,
        )
        if fuller is None:
            fid = store.insert_flight(row)
        else:
            fid = replace_flight(store, fuller, vids, (summ.start_t_s, summ.end_t_s), row)
            if fuller.flight_id is not None:
                out.replaced[fid] = fuller.paths
        out.flight_ids.append(fid)
        flight_of[seg.start : seg.stop] = fid
        spans.append((summ.start_t_s, summ.end_t_s, fid))
    out.skipped_sources = known.sources
    from telemetry.store import SAMPLE_COLUMNS

    names = SAMPLE_COLUMNS[3:]
    idx = np.flatnonzero(keep)
    cols = [c[n][idx].tolist() for n in names]
    fids = [int(f) if f else None for f in flight_of[idx].tolist()]
    store.insert_samples((vid, f, source_id, *vals) for f, *vals in zip(fids, *cols))
    out.samples = int(idx.size)
    ev_rows = []
    stored_events = _stored_events(store, vids, track.events)
    for ev in track.events:
        if any(a <= ev[0] <= b for a, b in skipped_spans) or stored_events.has(ev):
            continue
        fid2 = next((f for a, b, f in spans if a <= ev[0] <= b), None)
        ev_rows.append((vid, fid2, source_id, *ev))
    store.insert_events(ev_rows)
    out.events = len(ev_rows)
    return out


@dataclass
class _EventIndex:
    """Stored events by (kind, text), their times sorted."""

    times: dict[tuple[str, str], np.ndarray]

    def has(self, ev: tuple[Any, ...]) -> bool:
        t = self.times.get((str(ev[1]), str(ev[2])))
        if t is None or t.size == 0:
            return False
        i = int(np.clip(np.searchsorted(t, ev[0]), 1, max(t.size - 1, 1)))
        near = t[max(i - 1, 0) : i + 1]
        return bool((np.abs(near - ev[0]) <= _SAME_T_S).any())


def _stored_events(
    store: Store, vehicle_ids: list[int], events: list[tuple[Any, ...]]
) -> _EventIndex:
    """The events already stored for the vehicle over the time range of ``events``."""
    if not events:
        return _EventIndex({})
    ts = [float(e[0]) for e in events]
    marks = ",".join("?" * len(vehicle_ids))
    rows = store.conn.execute(
        f"SELECT kind, COALESCE(text, 'None'), t_s FROM events WHERE vehicle_id IN ({marks}) "
        "AND t_s BETWEEN ? AND ? ORDER BY t_s",
        (*vehicle_ids, min(ts) - _SAME_T_S, max(ts) + _SAME_T_S),
    ).fetchall()
    by: dict[tuple[str, str], list[float]] = {}
    for kind, text, t in rows:
        by.setdefault((str(kind), str(text)), []).append(float(t))
    return _EventIndex({k: np.array(v) for k, v in by.items()})


def _vehicle_ids(store: Store, vid: int) -> list[int]:
    """The vehicles whose stored data a new log is compared with: every one. A name given at
    import (``--vehicle``) keeps no board identity, and the same log imported once with a name
    and once without (or under two names) had been stored twice; the comparison is by content
    (the same times and positions), so two vehicles' data never match each other."""
    rows = store.conn.execute("SELECT id FROM vehicles").fetchall()
    return sorted({vid, *(int(r[0]) for r in rows)})


@dataclass
class KnownData:
    mask: np.ndarray  #: samples the database holds already
    spans: list[tuple[float, float]]
    sources: dict[int, str]


#: (``_SAME_T_S``, ``_SAME_SHARE``, from :mod:`telemetry.fuller_copy`) stored and new samples
#: are the same when their times agree to the first and their fingerprints (position, height)
#: agree; a span is the same data when the second's share of its samples matches


def stored_already(store: Store, vehicle_ids: list[int], cols: dict[str, np.ndarray]) -> KnownData:
    """Which samples of ``cols`` the database holds already for the same vehicle.

    Per stored source overlapping the track in time, the new samples inside its time range
    are matched to the stored ones by time, and compared by their fingerprint (latitude,
    longitude, height above home). Two vehicles sharing a system id (``sysid-1``) at the same
    time do not match: their positions differ.
    """
    t = cols["t_s"]
    known = KnownData(np.zeros(t.size, dtype=bool), [], {})
    if t.size == 0:
        return known
    marks = ",".join("?" * len(vehicle_ids))
    spans = store.conn.execute(
        f"SELECT s.source_id, MIN(s.t_s), MAX(s.t_s), COALESCE(src.path, '') FROM samples s "
        f"LEFT JOIN sources src ON src.id = s.source_id WHERE s.vehicle_id IN ({marks}) "
        "AND s.t_s BETWEEN ? AND ? GROUP BY s.source_id",
        (*vehicle_ids, float(np.nanmin(t)) - _SAME_T_S, float(np.nanmax(t)) + _SAME_T_S),
    ).fetchall()
    fp_new = np.column_stack([cols["lat_deg"], cols["lon_deg"], cols["rel_alt_m"]])
    for source_id, lo, hi, path in spans:
        inside = (t >= lo - _SAME_T_S) & (t <= hi + _SAME_T_S)
        if not inside.any():
            continue
        rows = store.conn.execute(
            f"SELECT t_s, lat_deg, lon_deg, rel_alt_m FROM samples WHERE source_id IS ? "
            f"AND vehicle_id IN ({marks}) AND t_s BETWEEN ? AND ? ORDER BY t_s",
            (source_id, *vehicle_ids, lo, hi),
        ).fetchall()
        old = np.array(rows, dtype=float).reshape(-1, 4)
        if old.shape[0] == 0:
            continue
        sel = np.flatnonzero(inside)
        j = np.clip(np.searchsorted(old[:, 0], t[sel]), 1, max(old.shape[0] - 1, 1))
        j = np.clip(j, 0, old.shape[0] - 1)
        prev = np.clip(j - 1, 0, old.shape[0] - 1)
        nearer = np.abs(old[prev, 0] - t[sel]) <= np.abs(old[j, 0] - t[sel])
        j = np.where(nearer, prev, j)
        same_t = np.abs(old[j, 0] - t[sel]) <= _SAME_T_S
        same_fp = np.isclose(fp_new[sel], old[j, 1:], rtol=0, atol=1e-5, equal_nan=True).all(axis=1)
        match = same_t & same_fp
        if match.mean() >= _SAME_SHARE:
            known.mask[sel] = True
            known.spans.append((float(lo), float(hi)))
            known.sources[int(source_id) if source_id is not None else 0] = str(path)
    return known


def flight_issues(store: Store, source_id: int) -> list[dict[str, Any]]:
    rows = store.query("SELECT issues FROM sources WHERE id = ?", (source_id,))
    return json.loads(rows[0]["issues"]) if rows else []


def update_camera_coverage(
    store: Store, flight_id: int, hfov_deg: float, vfov_deg: float
) -> float | None:
    """Area covered by the camera on a flight, from its trigger events (caller's transaction).

    Each trigger's footprint is a nadir rectangle from the camera's field of view, its height
    above ground (the event's, else the nearest sample's height above home) and the heading at
    that moment. Stores ``camera_area_m2`` and ``coverage_geojson`` (both NULL without camera
    triggers) and keeps the field of view with the flight (``flight_cameras``: a fuller copy
    replacing the flight has its coverage computed again); returns the area (None when the
    flight has no camera triggers).
    """
    from telemetry.segment import camera_coverage

    store.conn.execute(
        "INSERT OR REPLACE INTO flight_cameras (flight_id, hfov_deg, vfov_deg) VALUES (?, ?, ?)",
        (int(flight_id), float(hfov_deg), float(vfov_deg)),
    )
    ev = store.conn.execute(
        "SELECT t_s, lat_deg, lon_deg, alt_m FROM events WHERE flight_id = ? AND kind = 'camera'"
        " ORDER BY t_s",
        (int(flight_id),),
    ).fetchall()
    if not ev:
        store.update_flight(flight_id, {"camera_area_m2": None, "coverage_geojson": None})
        return None
    smp = store.conn.execute(
        "SELECT t_s, rel_alt_m, heading_deg FROM samples WHERE flight_id = ? ORDER BY t_s",
        (int(flight_id),),
    ).fetchall()
    e = np.array(ev, dtype=float)
    if smp:
        s = np.array(smp, dtype=float)
        idx = np.clip(np.searchsorted(s[:, 0], e[:, 0]), 0, len(s) - 1)
        h0 = s[np.isfinite(s[:, 1]), 1]
        rel = s[idx, 1] - (h0[0] if h0.size else 0.0)
        heading = s[idx, 2]
    else:
        rel = np.full(len(e), np.nan)
        heading = np.zeros(len(e))
    height = np.where(np.isfinite(e[:, 3]), e[:, 3], rel)
    area, gj = camera_coverage(e[:, 2], e[:, 1], height, heading, hfov_deg, vfov_deg)
    store.update_flight(
        flight_id,
        {"camera_area_m2": round(area, 1), "coverage_geojson": json.dumps(gj) if gj else None},
    )
    return area


def _recompute_coverage(store: Store, flight_ids: list[int]) -> list[int]:
    """The camera coverage of flights replaced by a fuller copy, computed again from their whole
    track with the field of view kept with them (caller's transaction). A flight with a coverage
    but no kept field of view (imported before the database kept it) cannot have it computed
    again: its coverage is dropped (NULL), not left covering the shorter copy only. Returns the
    flights whose coverage was dropped."""
    dropped = []
    for fid in flight_ids:
        sql = "SELECT hfov_deg, vfov_deg FROM flight_cameras WHERE flight_id = ?"
        fov = store.conn.execute(sql, (fid,)).fetchone()
        if fov is not None:
            update_camera_coverage(store, fid, float(fov[0]), float(fov[1]))
            continue
        sql = "SELECT camera_area_m2, coverage_geojson FROM flights WHERE id = ?"
        row = store.conn.execute(sql, (fid,)).fetchone()
        if row is not None and (row[0] is not None or row[1] is not None):
            store.update_flight(fid, {"camera_area_m2": None, "coverage_geojson": None})
            dropped.append(fid)
    return dropped
