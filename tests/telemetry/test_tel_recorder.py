"""The recorder: replay into SQLite, the .tlog archive, locked DB / full disk, SIGKILL."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from telemetry.recorder import Recorder, close_open_flights, replay_tlog
from telemetry.store import open_store
from telemetry.tlog import iter_tlog

TLOG = "tlog_dronekit_flight.tlog"
REPO = Path(__file__).resolve().parents[2]


def _first_messages(path: Path, n: int) -> list:  # type: ignore[type-arg]
    out = []
    for _off, t, msg in iter_tlog(path.read_bytes()):
        out.append((msg, t))
        if len(out) >= n:
            break
    return out


def test_replay_matches_import_and_archive_reads_back(shared_data: Path, tmp_path: Path) -> None:
    from pymavlink import mavutil

    src = shared_data / "logs" / TLOG
    archive = tmp_path / "arch.tlog"
    with Recorder(tmp_path / "r.db", tlog_path=archive, queue_size=200_000) as rec:
        fed = replay_tlog(src, rec.on_message, speed=0)
    assert fed == 75477 and rec.status.dropped == 0
    assert rec.status.flights_closed == 7
    with open_store(tmp_path / "r.db") as store:
        live = store.flights()
        assert store.count("samples") == 2833
    from telemetry.importer import import_file

    with open_store(tmp_path / "i.db") as store:
        import_file(store, src)
        imported = store.flights()
    for a, b in zip(live, imported, strict=True):
        for k in ("start_utc", "duration_s", "distance_m", "max_height_m", "ground_run"):
            assert a[k] == b[k], k
        assert a["complete"] == 1
    # the archive is a standard .tlog: pymavlink reads every frame with its timestamp
    mlog = mavutil.mavlink_connection(str(archive))
    n, first_t = 0, None
    while (m := mlog.recv_msg()) is not None:
        first_t = first_t or m._timestamp
        n += 1
    assert n == 75477
    # importing the recorder's own archive into the same database adds nothing
    from telemetry.importer import import_file as _imp

    with open_store(tmp_path / "r.db") as store:
        again = _imp(store, archive)
        assert again.duplicate and len(again.flight_ids) == 7
        assert store.count("flights") == 7
    src_t0 = next(iter_tlog(src.read_bytes()))[1]
    assert first_t == pytest.approx(src_t0, abs=1e-6)  # the receive times are kept to the µs


def test_locked_database_is_reported_and_recording_resumes(
    shared_data: Path, tmp_path: Path
) -> None:
    db = tmp_path / "lock.db"
    msgs = _first_messages(shared_data / "logs" / TLOG, 6000)
    errors: list[str] = []
    with open_store(db):
        pass
    blocker = sqlite3.connect(db, isolation_level=None)
    with Recorder(db, tlog_path=False, on_error=lambda e: errors.append(str(e))) as rec:
        for m, t in msgs[:3000]:
            rec.on_message(m, t)
        deadline = time.monotonic() + 20
        while rec.status.samples_written == 0 and time.monotonic() < deadline:
            time.sleep(0.05)
        written_before = rec.status.samples_written
        blocker.execute("BEGIN EXCLUSIVE")  # another program holds the database
        for m, t in msgs[3000:]:
            rec.on_message(m, t)
        deadline = time.monotonic() + 20
        while not errors and time.monotonic() < deadline:
            time.sleep(0.05)
        assert errors and "locked" in errors[0]
        assert rec.status.last_error and "locked" in rec.status.last_error
        blocker.execute("COMMIT")  # released: the recorder catches up
    blocker.close()
    assert rec.status.last_error is None
    assert written_before > 0
    expected = sum(1 for m, _t in msgs if m.get_type() == "GLOBAL_POSITION_INT")
    with open_store(db) as store:
        assert store.count("samples") == expected


def test_full_disk_is_reported_and_recording_resumes(shared_data: Path, tmp_path: Path) -> None:
    """SQLITE_FULL, made real with max_page_count, then lifted (as when space is freed)."""
    db = tmp_path / "full.db"
    msgs = _first_messages(shared_data / "logs" / TLOG, 20000)
    conn_box: list[sqlite3.Connection] = []
    errors: list[str] = []

    def hook(conn: sqlite3.Connection) -> None:
        (pages,) = conn.execute("PRAGMA page_count").fetchone()
        conn.execute(f"PRAGMA max_page_count = {pages + 2}")
        conn_box.append(conn)

    rec = Recorder(
        db, tlog_path=False, connection_hook=hook, on_error=lambda e: errors.append(str(e))
    )
    with rec:
        for m, t in msgs:
            rec.on_message(m, t)
        deadline = time.monotonic() + 20
        while not errors and time.monotonic() < deadline:
            time.sleep(0.05)
        assert errors and "full" in errors[0]
        # free space: the writer's connection may grow again
        conn_box[0].execute("PRAGMA max_page_count = 1073741823")
    assert rec.status.last_error is None
    expected = sum(1 for m, _t in msgs if m.get_type() == "GLOBAL_POSITION_INT")
    with open_store(db) as store:
        assert store.count("samples") == expected
        assert store.conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_bounded_queue_drops_and_counts(shared_data: Path, tmp_path: Path) -> None:
    msgs = _first_messages(shared_data / "logs" / TLOG, 500)
    rec = Recorder(tmp_path / "q.db", tlog_path=False, queue_size=100)
    # not started: nothing drains the queue, so it fills and then drops
    for m, t in msgs:
        rec.on_message(m, t)
    assert rec.status.received == 500
    assert rec.status.dropped == 400


def test_a_replay_waits_for_the_writer_and_drops_nothing(shared_data: Path, tmp_path: Path) -> None:
    """``record --replay F --speed 0`` fed a queue of 10,000 faster than the writer drained it
    and dropped thousands of samples (3,360 of 75,477 messages on a loaded machine): a file can
    wait, so the replay's sink blocks while the queue is full."""
    src = shared_data / "logs" / TLOG
    with Recorder(tmp_path / "r.db", tlog_path=False, queue_size=16) as rec:
        fed = replay_tlog(src, rec.on_replayed, speed=0)
    assert fed == 75477 and rec.status.received == 75477 and rec.status.dropped == 0
    assert rec.status.flights_closed == 7
    with open_store(tmp_path / "r.db") as store:
        assert store.count("samples") == 2833
    # the live link's sink still never blocks: the same tiny queue drops with it
    msgs = _first_messages(src, 100)
    live = Recorder(tmp_path / "l.db", tlog_path=False, queue_size=16)
    for m, t in msgs:
        live.on_message(m, t)
    assert live.status.dropped == 84
    # a writer that has stopped makes the replay drop (and count) instead of waiting for ever
    dead = Recorder(tmp_path / "d.db", tlog_path=False, queue_size=4)
    for m, t in msgs[:10]:
        dead.on_replayed(m, t)
    assert dead.status.received == 10 and dead.status.dropped == 6


def test_sigkill_mid_flight_loses_at_most_a_second(shared_data: Path, tmp_path: Path) -> None:
    """``record --connect`` in a real process, fed over UDP, killed with SIGKILL mid-flight.

    The test is the vehicle: it sends the sample flight's frames at 5× real time to the
    recorder's UDP port and knows what it sent when. After ``kill -9``: the database passes
    ``PRAGMA integrity_check`` and holds every position sample sent more than 1 s before the kill.
    """
    import socket

    db = tmp_path / "crash.db"
    speed = 5.0
    # the log's first arming is 462 s in: send from 10 s before it (records are aligned)
    data = (shared_data / "logs" / TLOG).read_bytes()
    t_arm = next(
        t for _o, t, msg in iter_tlog(data) if msg.get_type() == "HEARTBEAT" and msg.base_mode & 128
    )
    frames = [
        (t, bytes(msg.get_msgbuf()), msg.get_type() == "GLOBAL_POSITION_INT")
        for _o, t, msg in iter_tlog(data)
        if t >= t_arm - 10.0
    ]
    probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "dronekit_plzen",
            "record",
            "--connect",
            f"udpin://127.0.0.1:{port}",
            "--db",
            str(db),
            "--tlog",
            str(tmp_path / "crash.tlog"),
        ],
        stderr=subprocess.PIPE,
        text=True,
        cwd=tmp_path,
        env=dict(os.environ, PYTHONPATH=str(REPO)),
    )
    assert proc.stderr is not None
    for line in proc.stderr:
        if "listening on" in line:
            break
    threading.Thread(target=proc.stderr.read, daemon=True).start()
    tx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sent: list[tuple[float, bool]] = []  # (wall time sent, is a position sample)
    wall0, log0 = time.monotonic(), frames[0][0]
    kill_at = wall0 + 40.0 / speed  # armed at +10 s of log time, landing ~122 s later
    try:
        for t, frame, is_pos in frames:
            due = wall0 + (t - log0) / speed
            now = time.monotonic()
            if due > kill_at:
                break
            if due > now:
                time.sleep(due - now)
            tx.sendto(frame, ("127.0.0.1", port))
            sent.append((time.monotonic(), is_pos))
        while time.monotonic() < kill_at:
            time.sleep(0.01)
        wall_kill = time.monotonic()
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    finally:
        tx.close()
        if proc.poll() is None:
            proc.kill()
    conn = sqlite3.connect(db)
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    (n,) = conn.execute("SELECT COUNT(*) FROM samples").fetchone()
    open_rows = conn.execute("SELECT COUNT(*) FROM flights WHERE complete = 0").fetchone()[0]
    conn.close()
    sent_pos = sum(1 for _w, p in sent if p)
    sent_before_last_second = sum(1 for w, p in sent if p and w <= wall_kill - 1.0)
    assert sent_before_last_second > 50
    assert sent_before_last_second <= n <= sent_pos
    assert open_rows == 1  # killed in the air: the flight is open, its samples are kept
    # the next recorder start summarises the interrupted flight (kept as incomplete)
    with open_store(db) as store:
        ids = close_open_flights(store)
        (f,) = [store.flight(i) for i in ids]
    assert f is not None and f["complete"] == 0 and f["duration_s"] > 10


@pytest.mark.parametrize(("lang", "one"), [("en", "1 flight;"), ("cs", "1 let;")])
def test_the_summary_of_one_recorded_flight_is_singular(
    tmp_path: Path, shared_data: Path, lang: str, one: str
) -> None:
    """The real tlog's first half holds one flight: "1 flight" ("1 let"), not "1 flights"."""
    from dkp_testkit import run_dkp

    whole = (shared_data / "logs" / "tlog_dronekit_flight.tlog").read_bytes()
    half = tmp_path / "half.tlog"
    half.write_bytes(whole[: len(whole) // 2])
    argv = ["--lang", lang, "record", "--replay", str(half), "--speed", "0"]
    r, _s = run_dkp([*argv, "--db", str(tmp_path / "r.db")], tmp_path)
    assert r.returncode == 0, r.stderr
    assert one in r.stderr, r.stderr
