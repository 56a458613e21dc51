"""Telemetry benchmarks → bench/results/telemetry.json.

1. Ingest of the sample .tlog into SQLite (import: parse, segment, batched inserts) against the
   raw pymavlink parse rate of the same file (mavutil.mavlink_connection + recv_msg), same run.
   Target: ingest ≥ 50 % of the raw parse rate. The recorder's own path (queue → writer thread →
   SQLite + .tlog archive) is measured on the same file too.
2. Live recording of N simulated PX4 vehicles (simulator in its own process, real UDP): messages
   per second recorded, drops, and this process's CPU use (link I/O threads + recorder).

Usage: python bench/bench_telemetry.py [--vehicles 20] [--seconds 30]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
TLOG = REPO.parent / "shared" / "data" / "logs" / "tlog_dronekit_flight.tlog"


def _cpu_s() -> float:
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime + ru.ru_stime


def raw_parse_rate(path: Path, repeats: int = 3) -> dict[str, float]:
    from pymavlink import mavutil

    best = float("inf")
    n = 0
    for _ in range(repeats):
        t0 = time.perf_counter()
        mlog = mavutil.mavlink_connection(str(path))
        n = 0
        while mlog.recv_msg() is not None:
            n += 1
        best = min(best, time.perf_counter() - t0)
        mlog.close()
    return {"messages": n, "seconds": best, "messages_per_s": n / best}


def codec_parse_rate(path: Path, repeats: int = 3) -> dict[str, float]:
    """Our own .tlog codec (telemetry.tlog.iter_tlog) with nothing else: the parse floor."""
    from telemetry.tlog import iter_tlog

    best, n = float("inf"), 0
    for _ in range(repeats):
        t0 = time.perf_counter()
        n = sum(1 for _ in iter_tlog(path.read_bytes()))
        best = min(best, time.perf_counter() - t0)
    return {"messages": n, "seconds": best, "messages_per_s": n / best}


def ingest_rate(path: Path, repeats: int = 3) -> dict[str, float]:
    from telemetry.importer import import_file
    from telemetry.store import open_store

    best, res = float("inf"), None
    for _ in range(repeats):
        with tempfile.TemporaryDirectory() as d, open_store(Path(d) / "b.db") as store:
            t0 = time.perf_counter()
            res = import_file(store, path)
            best = min(best, time.perf_counter() - t0)
    assert res is not None
    total = res.messages + res.bad_messages
    return {
        "messages": total,
        "samples": res.samples,
        "flights": len(res.flight_ids),
        "seconds": best,
        "messages_per_s": total / best,
    }


def recorder_rate(path: Path) -> dict[str, float]:
    from telemetry.recorder import Recorder, replay_tlog

    with tempfile.TemporaryDirectory() as d:
        t0 = time.perf_counter()
        with Recorder(Path(d) / "r.db", tlog_path=Path(d) / "r.tlog", queue_size=200_000) as rec:
            n = replay_tlog(path, rec.on_message, speed=0)
        dt = time.perf_counter() - t0
    return {
        "messages": n,
        "seconds": dt,
        "messages_per_s": n / dt,
        "dropped": rec.status.dropped,
        "samples": rec.status.samples_written,
    }


def live(n_vehicles: int, seconds: float) -> dict[str, object]:
    from dronekit_plzen.link import connect
    from telemetry.recorder import Recorder

    off = 1000 + random.randrange(0, 200) * 100
    sim = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "dronekit_plzen",
            "sim",
            "--vehicles",
            str(n_vehicles),
            "--autopilot",
            "px4",
            "--port-offset",
            str(off),
            "--no-gcs-link",
        ],
        cwd=REPO,
        env=dict(os.environ, PYTHONPATH=str(REPO)),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        with tempfile.TemporaryDirectory() as d:
            links = [connect(f"udpin://127.0.0.1:{14540 + off + i}") for i in range(n_vehicles)]
            for link in links:
                link.__enter__()
            try:
                for link in links:
                    link.wait_vehicle(timeout_s=30)
                with Recorder(Path(d) / "live.db", tlog_path=Path(d) / "live.tlog") as rec:
                    for link in links:
                        rec.attach(link)
                    c0, w0, m0 = _cpu_s(), time.perf_counter(), rec.status.received
                    time.sleep(seconds)
                    c1, w1, m1 = _cpu_s(), time.perf_counter(), rec.status.received
                st = rec.status
            finally:
                for link in links:
                    link.__exit__(None, None, None)
    finally:
        sim.terminate()
        sim.wait(20)
    return {
        "vehicles": n_vehicles,
        "seconds": w1 - w0,
        "messages_per_s": (m1 - m0) / (w1 - w0),
        "samples_written": st.samples_written,
        "dropped": st.dropped,
        "storage_errors": st.errors,
        "cpu_percent_of_one_core": 100.0 * (c1 - c0) / (w1 - w0),
        "note": "CPU of this process: link I/O threads (decode) + recorder writer thread",
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--vehicles", type=int, default=20)
    ap.add_argument("--seconds", type=float, default=30.0)
    ap.add_argument("--skip-live", action="store_true")
    args = ap.parse_args()
    raw = raw_parse_rate(TLOG)
    codec = codec_parse_rate(TLOG)
    ing = ingest_rate(TLOG)
    rec = recorder_rate(TLOG)
    out: dict[str, object] = {
        "file": TLOG.name,
        "raw_pymavlink_parse": raw,
        "telemetry_codec_parse_only": codec,
        "import_ingest": ing,
        "recorder_replay_ingest": rec,
        "ingest_vs_raw_parse_pct": 100.0 * ing["messages_per_s"] / raw["messages_per_s"],
        "recorder_vs_raw_parse_pct": 100.0 * rec["messages_per_s"] / raw["messages_per_s"],
        "ingest_vs_own_codec_parse_pct": 100.0 * ing["messages_per_s"] / codec["messages_per_s"],
        "target_pct": 50.0,
    }
    if not args.skip_live:
        out["live_recording"] = live(args.vehicles, args.seconds)
    res = REPO / "bench" / "results"
    res.mkdir(parents=True, exist_ok=True)
    (res / "telemetry.json").write_text(json.dumps(out, indent=2))
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
