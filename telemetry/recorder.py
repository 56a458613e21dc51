"""The live recorder: MAVLink messages in, flights and samples in SQLite, a raw ``.tlog`` beside.

Transport-independent: anything that calls :meth:`Recorder.on_message` with ``(msg, recv_time_s)``
feeds it — the link layer's listener, a ``.tlog`` replay (:func:`replay_tlog`), a test.

Threads: ``on_message`` runs on the caller's (I/O) thread and only puts the message into a
bounded queue (never blocks; when full the message is counted as dropped). One writer thread owns
the SQLite connection and the ``.tlog`` file: it drains the queue, writes the raw frames, turns
messages into samples/events and commits them in one transaction every ``commit_interval_s``.
A crash (even SIGKILL) therefore loses at most the last interval; WAL mode keeps the file
consistent. A locked database or a full disk is reported through ``status`` / ``on_error`` and
the batch is retried with back-off; nothing already queued is lost while the retry buffer lasts.
"""

from __future__ import annotations

import contextlib
import logging
import math
import queue
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from dronekit_plzen.errors import StorageError
from telemetry.segment import DEFAULT_PARAMS, SegmentParams, iso_utc
from telemetry.store import (
    Store,
    is_transient,
    open_store,
    storage_error,
    summary_from_samples,
)
from telemetry.tlog import TlogWriter, iter_tlog
from telemetry.track import MavlinkTrackBuilder

log = logging.getLogger(__name__)
_STOP = object()


@dataclass
class RecorderStatus:
    received: int = 0
    dropped: int = 0
    samples_written: int = 0
    events_written: int = 0
    flights_opened: int = 0
    flights_closed: int = 0
    commits: int = 0
    pending: int = 0
    last_error: str | None = None
    errors: int = 0


class Recorder:
    """Record every vehicle seen on a link into the store at ``store_path``.

    Parameters
    ----------
    store
        An open :class:`Store` (only its path is used: the writer thread opens its own
        connection) or a database path.
    deployment_id
        Attribute every flight recorded to this deployment.
    tlog_path
        Raw archive; default ``<db folder>/tlogs/<UTC start>.tlog``. ``False`` disables it.
    """

    def __init__(
        self,
        store: Store | str | Path,
        *,
        deployment_id: int | None = None,
        pilot_id: int | None = None,
        tlog_path: str | Path | bool | None = None,
        queue_size: int = 50_000,
        commit_interval_s: float = 0.25,
        max_pending: int = 500_000,
        params: SegmentParams = DEFAULT_PARAMS,
        on_error: Callable[[StorageError], None] | None = None,
        connection_hook: Callable[[sqlite3.Connection], None] | None = None,
        camera_fov_deg: tuple[float, float] | None = None,
    ) -> None:
        self.db_path = Path(store.path if isinstance(store, Store) else store)
        self.deployment_id = deployment_id
        self.pilot_id = pilot_id
        if tlog_path is None or tlog_path is True:
            stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
            self.tlog_path: Path | None = self.db_path.parent / "tlogs" / f"{stamp}.tlog"
        elif tlog_path is False:
            self.tlog_path = None
        else:
            self.tlog_path = Path(tlog_path)
        self.commit_interval_s = commit_interval_s
        self.max_pending = max_pending
        self.params = replace(params, max_gap_s=math.inf)
        self.on_error = on_error
        self.connection_hook = connection_hook
        self.camera_fov_deg = camera_fov_deg
        self.status = RecorderStatus()
        self._q: queue.Queue[Any] = queue.Queue(maxsize=queue_size)
        self._thread: threading.Thread | None = None
        self._builder = MavlinkTrackBuilder()
        self._pending: list[tuple[str, tuple[Any, ...]]] = []
        self._open: dict[int, int] = {}  # sysid → open flight id
        self._vehicle_ids: dict[int, int] = {}
        self._source_id: int | None = None
        self._ready = threading.Event()
        self._startup_error: BaseException | None = None
        self._backoff_s = 0.0
        self._stop_deadline = math.inf
        self._count_lock = threading.Lock()
        self._last_report_s = -math.inf

    # -- lifecycle -----------------------------------------------------------------------------
    def start(self) -> Recorder:
        if self._thread is not None:
            return self
        self._thread = threading.Thread(target=self._run, name="telemetry-writer", daemon=True)
        self._thread.start()
        self._ready.wait()
        if self._startup_error is not None:
            raise self._startup_error
        return self

    def stop(self, timeout_s: float = 30.0) -> RecorderStatus:
        """Drain the queue, close open flights (as incomplete if still armed) and stop."""
        if self._thread is None:
            return self.status
        self._stop_deadline = time.monotonic() + timeout_s
        try:
            self._q.put(_STOP, timeout=timeout_s)
        except queue.Full:  # the writer is gone or stuck: do not hang the caller
            log.error("recorder writer did not drain its queue; stopping without it")
        self._thread.join(timeout_s + 1.0)
        self._thread = None
        return self.status

    def __enter__(self) -> Recorder:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def attach(self, link: Any) -> Any:
        """``link.add_listener(self.on_message)``; returns the handle (``.remove()`` detaches)."""
        return link.add_listener(self.on_message)

    # -- input (any thread) --------------------------------------------------------------------
    def on_message(self, msg: Any, recv_time_s: float) -> None:
        """Queue one decoded message; never blocks (a full queue drops and counts)."""
        with self._count_lock:  # several links may call from their own I/O threads
            self.status.received += 1
        try:
            self._q.put_nowait((msg, recv_time_s))
        except queue.Full:
            with self._count_lock:
                self.status.dropped += 1

    __call__ = on_message

    def on_replayed(self, msg: Any, recv_time_s: float) -> None:
        """Queue one message read from a file: waits while the queue is full (a file can wait,
        a live link cannot), so a replay as fast as possible loses nothing. Drops and counts
        only when the writer has stopped."""
        with self._count_lock:
            self.status.received += 1
        while True:
            try:
                self._q.put((msg, recv_time_s), timeout=0.5)
                return
            except queue.Full:
                writer = self._thread
                if writer is None or not writer.is_alive():
                    with self._count_lock:
                        self.status.dropped += 1
                    return

    # -- writer thread -------------------------------------------------------------------------
    def _run(self) -> None:
        tlog: TlogWriter | None = None
        try:
            with open_store(self.db_path, busy_timeout_s=1.0) as store:
                if self.connection_hook is not None:
                    self.connection_hook(store.conn)
                if self.tlog_path is not None:  # a bad archive path fails before any write
                    tlog = TlogWriter(self.tlog_path)
                close_open_flights(store, self.params)
                with store.transaction():
                    # the archive's full path: importing it later is recognised as this recording
                    self._source_id = store.insert_source(
                        path=str(tlog.path.resolve()) if tlog is not None else "live", kind="live"
                    )
                self._ready.set()
                self._loop(store, tlog)
        except BaseException as exc:  # reported to start() or logged; the thread must not die
            if not self._ready.is_set():
                self._startup_error = exc
                self._ready.set()
            else:
                log.exception("recorder writer stopped")
                self.status.last_error = str(exc)
        finally:
            if tlog is not None:
                tlog.close()
                with contextlib.suppress(OSError):  # nothing received: no empty archive
                    if tlog.frames == 0 and tlog.path.stat().st_size == 0:
                        tlog.path.unlink()

    def _loop(self, store: Store, tlog: TlogWriter | None) -> None:
        backoff = 0.0
        stopping = False
        while True:
            deadline = time.monotonic() + (backoff or self.commit_interval_s)
            while True:
                left = deadline - time.monotonic()
                try:
                    item = self._q.get(timeout=max(left, 0.0)) if left > 0 else self._q.get_nowait()
                except queue.Empty:
                    break
                if item is _STOP:
                    stopping = True
                    break
                msg, t_s = item
                frame = msg.get_msgbuf() if hasattr(msg, "get_msgbuf") else None
                if tlog is not None and frame:
                    try:
                        tlog.write(t_s, bytes(frame))
                    except OSError as exc:
                        self._report(storage_error(exc, tlog.path))
                self._builder.feed(msg, t_s)
            if self._builder.out:
                self._pending.extend(self._builder.out)
                self._builder.out.clear()
                self._trim_pending()
            if tlog is not None:
                try:
                    tlog.flush()
                except OSError as exc:
                    self._report(storage_error(exc, tlog.path))
            backoff = self._commit(store, final=stopping) if self._pending or stopping else 0.0
            if stopping:
                if not backoff:
                    return
                if time.monotonic() > self._stop_deadline:
                    log.error("recorder stopped with %d items not written", len(self._pending))
                    return
                threading.Event().wait(backoff)  # a final-flush retry; nothing else to wait for

    def _trim_pending(self) -> None:
        over = len(self._pending) - self.max_pending
        if over > 0:  # keep events, drop the oldest samples
            keep: list[tuple[str, tuple[Any, ...]]] = []
            for item in self._pending:
                if over > 0 and item[0] == "S":
                    over -= 1
                    self.status.dropped += 1
                    continue
                keep.append(item)
            self._pending = keep
        self.status.pending = len(self._pending)

    def _commit(self, store: Store, *, final: bool) -> float:
        """Write the pending items in one transaction; returns a back-off delay on failure."""
        open_before = dict(self._open)
        vids_before = dict(self._vehicle_ids)
        stats = [0, 0, 0, 0]
        new_flights: list[int] = []
        try:
            store.conn.execute("BEGIN IMMEDIATE")
            self._apply(store, self._pending, stats, new_flights)
            if final:
                for sysid in list(self._open):
                    self._close_flight(store, sysid, complete=False)
                    stats[3] += 1
            store.conn.execute("COMMIT")
        except sqlite3.Error as exc:
            if store.conn.in_transaction:
                store.conn.execute("ROLLBACK")
            self._open, self._vehicle_ids = open_before, vids_before
            err = storage_error(exc, store.path)
            self._report(err)
            if not is_transient(exc):
                log.error("recorder: %s", err)
            self._backoff_s = min(5.0, max(0.25, self._backoff_s * 2))
            return self._backoff_s
        self.status.samples_written += stats[0]
        self.status.events_written += stats[1]
        self.status.flights_opened += stats[2]
        self.status.flights_closed += stats[3]
        self.status.commits += 1
        self.status.last_error = None
        self._backoff_s = 0.0
        self._pending = []
        self.status.pending = 0
        if self.deployment_id is not None:
            from telemetry.deployments import link_flight

            for fid in new_flights:
                try:
                    link_flight(store, self.deployment_id, fid)
                except Exception as exc:  # the flight is stored; attribution can be redone
                    log.warning("could not link flight %s to deployment: %s", fid, exc)
        return 0.0

    def _report(self, err: StorageError) -> None:
        self.status.errors += 1
        now = time.monotonic()
        fresh = self.status.last_error != str(err) or now - self._last_report_s >= 5.0
        self.status.last_error = str(err)
        if not fresh:  # the same problem again: at most one report every 5 s
            return
        self._last_report_s = now
        log.warning("recorder: %s", err)
        if self.on_error is not None:
            self.on_error(err)

    def _vehicle(self, store: Store, sysid: int) -> int:
        vid = self._vehicle_ids.get(sysid)
        if vid is None:
            info = self._builder.vehicles.get(sysid)
            vid = store.vehicle_id(
                info.key if info else f"sysid-{sysid}",
                system_id=sysid,
                autopilot=info.autopilot if info else None,
                vehicle_type=None
                if info is None or info.vehicle_type is None
                else str(info.vehicle_type),
            )
            self._vehicle_ids[sysid] = vid
        return vid

    def _apply(
        self,
        store: Store,
        items: list[tuple[str, tuple[Any, ...]]],
        stats: list[int],
        new_flights: list[int],
    ) -> None:
        samples: list[tuple[Any, ...]] = []
        events: list[tuple[Any, ...]] = []
        for kind, row in items:
            sysid = row[0]
            vid = self._vehicle(store, sysid)
            if kind == "S":
                samples.append((vid, self._open.get(sysid), self._source_id, *row[1:]))
                continue
            t_s, ev = row[1], row[2]
            if ev == "armed" and sysid not in self._open:
                fid = store.insert_flight(
                    {
                        "vehicle_id": vid,
                        "deployment_id": self.deployment_id,
                        "pilot_id": self.pilot_id,
                        "source_id": self._source_id,
                        "start_utc": iso_utc(t_s),
                        "complete": 0,
                        "ground_run": 0,
                    }
                )
                self._open[sysid] = fid
                new_flights.append(fid)
                stats[2] += 1
            events.append((vid, self._open.get(sysid), self._source_id, *row[1:]))
            if ev == "disarmed" and sysid in self._open:
                store.insert_samples(samples)  # the flight's last samples before summarising
                stats[0] += len(samples)
                samples = []
                self._close_flight(store, sysid, complete=True)
                stats[3] += 1
        store.insert_samples(samples)
        store.insert_events(events)
        stats[0] += len(samples)
        stats[1] += len(events)

    def _close_flight(self, store: Store, sysid: int, *, complete: bool) -> None:
        fid = self._open.pop(sysid)
        finalize_flight(store, fid, self.params, complete=complete)
        if self.camera_fov_deg is not None:
            from telemetry.importer import update_camera_coverage

            update_camera_coverage(store, fid, *self.camera_fov_deg)


def finalize_flight(store: Store, flight_id: int, params: SegmentParams, *, complete: bool) -> None:
    """Compute a flight's summary from its stored samples (inside the caller's transaction)."""
    row = summary_from_samples(store, flight_id, params)
    if row is None:
        store.update_flight(flight_id, {"complete": int(complete), "sample_count": 0})
        return
    row["complete"] = int(complete)
    store.update_flight(flight_id, row)


def close_open_flights(store: Store, params: SegmentParams = DEFAULT_PARAMS) -> list[int]:
    """Summarise flights left open by a crash; they stay marked incomplete (``complete = 0``)."""
    ids = [
        r["id"]
        for r in store.query("SELECT id FROM flights WHERE complete = 0 AND end_utc IS NULL")
    ]
    if ids:
        with store.transaction():
            for fid in ids:
                finalize_flight(store, fid, replace(params, max_gap_s=math.inf), complete=False)
    return ids


def replay_tlog(
    path: str | Path,
    sink: Callable[[Any, float], None],
    *,
    speed: float = 1.0,
    stop: threading.Event | None = None,
    on_start: Callable[[float, float], None] | None = None,
) -> int:
    """Feed a ``.tlog`` to ``sink(msg, t_s)`` at ``speed`` × real time (``0``: as fast as possible).

    Messages keep their original timestamps. ``on_start(wall_time_s, log_start_s)`` is called
    before the first message. Returns the number of messages fed.
    """
    stop = stop or threading.Event()
    data = Path(path).read_bytes()
    n = 0
    wall0 = log0 = None
    for _off, t_s, msg in iter_tlog(data):
        if stop.is_set():
            break
        if wall0 is None or log0 is None:
            wall0, log0 = time.time(), t_s
            if on_start is not None:
                on_start(wall0, log0)
        elif speed > 0:
            due = wall0 + (t_s - log0) / speed
            delay = due - time.time()
            if delay > 0 and stop.wait(delay):
                break
        sink(msg, t_s)
        n += 1
    return n
