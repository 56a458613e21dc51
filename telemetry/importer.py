"""Import flight logs into the store: idempotent, damage-tolerant, one transaction per file."""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from dronekit_plzen.errors import DronekitPlzenError
from dronekit_plzen.i18n import _
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
    """Import one log file. A file already imported (same SHA-256 of its content) is skipped.

    ``camera_fov_deg`` (horizontal, vertical) turns camera trigger events into a covered area.
    Raises :class:`~dronekit_plzen.errors.DronekitPlzenError` for a file that cannot be read at
    all; damage inside a readable file is reported in ``issues`` and the good data is kept.
    """
    p = Path(path)
    try:
        data = p.read_bytes()
    except OSError as exc:
        msg = _("cannot read the file") + f": {exc.strerror}"
        raise DronekitPlzenError(msg, where=str(p)) from exc
    digest = file_sha256(data)
    res = ImportResult(path=str(p))
    old = store.source_by_hash(digest)
    if old is not None:
        res.kind, res.source_id, res.duplicate = old["kind"], old["id"], True
        res.flight_ids = [
            r["id"] for r in store.query("SELECT id FROM flights WHERE source_id = ?", (old["id"],))
        ]
        return res
    live = store.query(
        "SELECT id, kind FROM sources WHERE kind = 'live' AND path = ?", (str(p.resolve()),)
    )
    if live:  # the recorder's own archive: its flights are in the database already
        res.kind, res.source_id, res.duplicate = "tlog", live[0]["id"], True
        res.flight_ids = [
            r["id"]
            for r in store.query("SELECT id FROM flights WHERE source_id = ?", (live[0]["id"],))
        ]
        return res
    content = read_log(p, data)
    res.kind, res.messages = content.kind, content.messages
    res.bad_messages, res.issues = content.bad_messages, content.issues
    with store.transaction():
        res.source_id = store.insert_source(
            path=str(p.resolve()),
            kind=content.kind,
            sha256=digest,
            size_bytes=len(data),
            messages=content.messages,
            bad_messages=content.bad_messages,
            issues=[i.to_dict() for i in content.issues],
        )
        for track in content.tracks:
            ids, n = store_track(
                store,
                track,
                source_id=res.source_id,
                vehicle_name=vehicle,
                deployment_id=deployment_id,
                pilot_id=pilot_id,
                params=params,
            )
            res.flight_ids += ids
            res.samples += n
        if camera_fov_deg is not None:
            for fid in res.flight_ids:
                update_camera_coverage(store, fid, *camera_fov_deg)
    if deployment_id is not None and res.flight_ids:
        from telemetry.deployments import link_flight

        for fid in res.flight_ids:
            link_flight(store, deployment_id, fid)
    return res


def import_files(store: Store, paths: Iterable[str | Path], **kw: Any) -> list[ImportResult]:
    """Import many files; a file that fails is reported in its result, the batch goes on."""
    out = []
    for p in paths:
        try:
            out.append(import_file(store, p, **kw))
        except DronekitPlzenError as exc:
            out.append(ImportResult(path=str(p), error=str(exc)))
        except Exception as exc:  # a reader bug must not stop the batch; the file is named
            log.exception("import of %s failed", p)
            out.append(ImportResult(path=str(p), error=f"{type(exc).__name__}: {exc}"))
    return out


def store_track(
    store: Store,
    track: Track,
    *,
    source_id: int | None,
    vehicle_name: str | None = None,
    deployment_id: int | None = None,
    pilot_id: int | None = None,
    params: SegmentParams = DEFAULT_PARAMS,
) -> tuple[list[int], int]:
    """Segment a track into flights and write flights, samples and events (caller's transaction).

    Returns the new flight ids and the number of samples written.
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
    segs: list[Segment] = (
        find_flights(c["t_s"], c["armed"], c["rel_alt_m"], c["groundspeed_m_s"], params)
        if track.n
        else []
    )
    flight_of = np.zeros(track.n, dtype=np.int64)
    spans: list[tuple[float, float, int]] = []
    ids = []
    for seg in segs:
        summ = summarize(c, seg)
        row = summ.to_row()
        row.update(
            vehicle_id=vid,
            source_id=source_id,
            deployment_id=deployment_id,
            pilot_id=pilot_id,
            complete=1,
        )
        fid = store.insert_flight(row)
        ids.append(fid)
        flight_of[seg.start : seg.stop] = fid
        spans.append((summ.start_t_s, summ.end_t_s, fid))
    from telemetry.store import SAMPLE_COLUMNS

    names = SAMPLE_COLUMNS[3:]
    cols = [c[n].tolist() for n in names]
    fids = [int(f) if f else None for f in flight_of.tolist()]
    store.insert_samples((vid, f, source_id, *vals) for f, *vals in zip(fids, *cols))
    ev_rows = []
    for ev in track.events:
        fid2 = next((f for a, b, f in spans if a <= ev[0] <= b), None)
        ev_rows.append((vid, fid2, source_id, *ev))
    store.insert_events(ev_rows)
    return ids, track.n


def flight_issues(store: Store, source_id: int) -> list[dict[str, Any]]:
    rows = store.query("SELECT issues FROM sources WHERE id = ?", (source_id,))
    return json.loads(rows[0]["issues"]) if rows else []


def update_camera_coverage(
    store: Store, flight_id: int, hfov_deg: float, vfov_deg: float
) -> float | None:
    """Area covered by the camera on a flight, from its trigger events (caller's transaction).

    Each trigger's footprint is a nadir rectangle from the camera's field of view, its height
    above ground (the event's, else the nearest sample's height above home) and the heading at
    that moment. Stores ``camera_area_m2`` and ``coverage_geojson``; returns the area (None when
    the flight has no camera triggers).
    """
    from telemetry.segment import camera_coverage

    ev = store.conn.execute(
        "SELECT t_s, lat_deg, lon_deg, alt_m FROM events WHERE flight_id = ? AND kind = 'camera'"
        " ORDER BY t_s",
        (int(flight_id),),
    ).fetchall()
    if not ev:
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
