"""A truncated copy of a log imported before the whole log: the stored flight is replaced by
the fuller one (same id, deployment and pilot kept), whatever the import order; a partial
overlap of two different logs is still skipped; a failure mid-replacement loses nothing."""

from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from dkp_testkit import db_state

from telemetry.deployments import create_deployment, link_flight
from telemetry.importer import import_file
from telemetry.store import Store, open_store

REPO = Path(__file__).resolve().parents[2]
BIN = "df_uob_2023-07-06_10-12-18.bin"
TLOG = "tlog_dronekit_flight.tlog"
#: what must not depend on the import order
FIELDS = ("start_utc", "end_utc", "duration_s", "distance_m", "sample_count", "max_height_m")


def _flight(store: Store, fid: int) -> dict[str, Any]:
    row = store.flight(fid)
    assert row is not None
    return row


def _stored(store: Store) -> list[tuple[Any, ...]]:
    """Every flight's order-independent fields, samples (without ids) and events."""
    out = []
    for f in store.flights():
        samples = [s[3:] for s in store.flight_samples(f["id"])]
        events = store.conn.execute(
            "SELECT t_s, kind, text FROM events WHERE flight_id = ? ORDER BY t_s, kind",
            (f["id"],),
        ).fetchall()
        out.append((tuple(f[k] for k in FIELDS), samples, events))
    return out


def _cut(src: Path, dst: Path, share: float) -> Path:
    data = src.read_bytes()
    dst.write_bytes(data[: int(len(data) * share)])
    return dst


@pytest.mark.parametrize(("name", "share", "replaced"), [(BIN, 0.6, 1), (TLOG, 0.65, 2)])
def test_real_log_cut_first_then_whole_keeps_the_whole_flight(
    name: str, share: float, replaced: int, shared_data: Path, tmp_path: Path
) -> None:
    src = shared_data / "logs" / name
    cut = _cut(src, tmp_path / f"cut-{name}", share)
    with open_store(tmp_path / "whole-first.db") as store:
        import_file(store, src)
        assert import_file(store, cut).duplicate
        expected = _stored(store)
    with open_store(tmp_path / "cut-first.db") as store:
        first = import_file(store, cut)
        fid = first.flight_ids[-1]
        assert fid == replaced
        cut_flight = _flight(store, fid)
        dep = create_deployment(
            store,
            organisation="HZS",
            category="sar",
            location="Bory",
            requested_at=str(store.flight(fid)["start_utc"]),  # type: ignore[index]
        )
        link_flight(store, dep.id, fid)
        pilot = store.add_pilot("Jana Nováková")
        store.update_flight(fid, {"pilot_id": pilot})
        r = import_file(store, src)
        assert r.replaced_flights == [fid] and r.replaced_from == [str(cut)]
        assert fid in r.flight_ids and not r.duplicate
        assert _stored(store) == expected
        after = _flight(store, fid)
        assert after["sample_count"] > cut_flight["sample_count"]
        assert after["end_utc"] > cut_flight["end_utc"]
        assert (after["deployment_id"], after["pilot_id"]) == (dep.id, pilot)
        assert after["source_id"] == r.source_id
        assert store.count("sources") == 2  # the cut copy's source row stays
        (first_takeoff,) = store.conn.execute(
            "SELECT first_takeoff_at FROM deployments WHERE id = ?", (dep.id,)
        ).fetchone()
        assert first_takeoff == (after["takeoff_utc"] or after["start_utc"])


def _text_log(first: int = 0, last: int = 60, lat0: float = 49.7475) -> bytes:
    """An ArduPilot 4.x text log, 1 Hz, seconds ``first``..``last`` of a flight armed from 5 s to
    55 s, up to 10 m."""
    lines = [
        "FMT, 128, 89, FMT, BBnNZ, Type,Length,Name,Format,Columns",
        "FMT, 130, 0, GPS, QBIHBcLLeffffB, TimeUS,Status,GMS,GWk,NSats,HDop,Lat,Lng,Alt,Spd,GCrs,"
        "VZ,Yaw,U",
        "FMT, 131, 0, POS, QLLfff, TimeUS,Lat,Lng,Alt,RelHomeAlt,RelOriginAlt",
        "FMT, 132, 0, EV, QB, TimeUS,Id",
        "FMT, 133, 0, MODE, QMBB, TimeUS,Mode,ModeNum,Rsn",
    ]
    for k in range(first, last):
        us, h, lat = (100 + k) * 1_000_000, min(10.0, max(0.0, k - 10.0)), lat0 + 1e-5 * k
        lines.append(
            f"GPS, {us}, 3, {300_000_000 + k * 1000}, 2269, 10, 0.8, {lat:.7f}, "
            f"13.3776, {300 + h}, 1.1, 0, 0, 0, 1"
        )
        lines.append(f"POS, {us}, {lat:.7f}, 13.3776, {300 + h}, {h}, {h}")
        if k in (5, 55):
            lines.append(f"EV, {us}, {10 if k == 5 else 11}")
        if k in (8, 40):
            lines.append(f"MODE, {us}, {5 if k == 8 else 6}, {5 if k == 8 else 6}, 1")
    return ("\n".join(lines) + "\n").encode()


def test_synthetic_cut_then_whole_and_idempotent_reimport(tmp_path: Path) -> None:
    cut, whole = tmp_path / "cut.log", tmp_path / "whole.log"
    cut.write_bytes(_text_log(last=30))  # cut off in the air, 25 s into the flight
    whole.write_bytes(_text_log())
    with open_store(tmp_path / "a.db") as store:
        import_file(store, whole)
        expected = _stored(store)
    db = tmp_path / "b.db"
    with open_store(db) as store:
        (fid,) = import_file(store, cut).flight_ids
        assert _flight(store, fid)["duration_s"] == pytest.approx(24, abs=0.01)
        r = import_file(store, whole)
        assert r.replaced_flights == [fid] and r.flight_ids == [fid]
        assert _stored(store) == expected
        assert _flight(store, fid)["duration_s"] == pytest.approx(49, abs=0.01)
        # one MODE event at 40 s now, the one at 8 s not twice; samples not doubled
        (n_ev,) = store.conn.execute("SELECT COUNT(*) FROM events WHERE kind = 'mode'").fetchone()
        assert n_ev == 2
        assert store.count("samples") == 60
    before = db_state(db)
    with open_store(db) as store:
        assert import_file(store, whole).duplicate  # the same file
        assert import_file(store, cut).duplicate  # the cut copy again
        again = tmp_path / "again.log"  # another file with the whole flight: nothing more
        again.write_bytes(_text_log() + b"\n")
        r = import_file(store, again)
        assert r.duplicate and r.skipped_flights == 1 and not r.replaced_flights
    assert db_state(db) == before


def test_partial_overlap_of_two_logs_is_skipped_not_merged(tmp_path: Path) -> None:
    """The first log holds 0–40 s, the second 20–60 s: neither holds the other's flight, which
    is skipped (its samples after the first log's end are kept outside any flight, as before)."""
    a, b = tmp_path / "a.log", tmp_path / "b.log"
    a.write_bytes(_text_log(last=40))
    b.write_bytes(_text_log(first=20))
    with open_store(tmp_path / "p.db") as store:
        (fid,) = import_file(store, a).flight_ids
        flight, samples = _flight(store, fid), store.flight_samples(fid)
        r = import_file(store, b)
        assert r.skipped_flights == 1 and not r.replaced_flights and not r.flight_ids
        assert [f["id"] for f in store.flights()] == [fid]
        assert (_flight(store, fid), store.flight_samples(fid)) == (flight, samples)


def test_samples_of_a_cut_copy_that_never_showed_the_arming_become_the_flight(
    tmp_path: Path,
) -> None:
    """A log begun armed (its disarm record shows it) cut before the disarm: no flight in the
    cut copy, its samples outside any flight; the whole log's flight takes their place."""
    cut, whole = tmp_path / "cut.log", tmp_path / "whole.log"
    cut.write_bytes(_text_log(first=6, last=30))
    whole.write_bytes(_text_log(first=6))
    with open_store(tmp_path / "n.db") as store:
        assert import_file(store, cut).flight_ids == []
        r = import_file(store, whole)
        (fid,) = r.flight_ids
        assert r.skipped_flights == 0 and not r.replaced_flights  # a new flight, none replaced
        assert _flight(store, fid)["duration_s"] == pytest.approx(48, abs=0.01)
        assert store.count("samples") == 54  # not the cut copy's 24 twice


def test_an_open_flight_is_not_replaced(tmp_path: Path) -> None:
    """A flight still open (a recording in progress, or a killed recorder's) keeps its data."""
    cut, whole = tmp_path / "cut.log", tmp_path / "whole.log"
    cut.write_bytes(_text_log(last=30))
    whole.write_bytes(_text_log())
    db = tmp_path / "o.db"
    with open_store(db) as store:
        (fid,) = import_file(store, cut).flight_ids
        store.update_flight(fid, {"complete": 0, "end_utc": None})
        r = import_file(store, whole)
        assert r.skipped_flights == 1 and not r.replaced_flights
        assert _flight(store, fid)["sample_count"] == 25


def test_a_failure_during_the_replacement_loses_nothing(tmp_path: Path) -> None:
    """The disk fills up while the fuller copy replaces the stored flight (a real EFBIG: the
    import runs with RLIMIT_FSIZE of 4 KiB, so SQLite cannot write its journal): one line,
    exit 1, and the database holds what it held; with space again the replacement goes through."""
    import resource

    cut, whole = tmp_path / "cut.log", tmp_path / "whole.log"
    cut.write_bytes(_text_log(last=30))
    whole.write_bytes(_text_log())
    db = tmp_path / "f.db"
    with open_store(db) as store:
        import_file(store, cut)
    before = db_state(db)

    def small_disk() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (4096, 4096))

    p = subprocess.run(
        [sys.executable, "-m", "dronekit_plzen", "import", str(whole), "--db", str(db)],
        capture_output=True,
        text=True,
        timeout=120,
        preexec_fn=small_disk,
    )
    assert p.returncode == 1, p.stderr
    assert len(p.stderr.strip().splitlines()) == 1 and "Traceback" not in p.stderr, p.stderr
    assert db_state(db) == before
    with open_store(db) as store:
        assert import_file(store, whole).replaced_flights == [1]


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "dronekit_plzen", *args],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=120,
    )


def test_cli_reports_the_replacement_in_english_czech_and_json(tmp_path: Path) -> None:
    cut, whole = tmp_path / "cut.log", tmp_path / "whole.log"
    cut.write_bytes(_text_log(last=30))
    whole.write_bytes(_text_log())
    for lang, db in (("en", tmp_path / "en.db"), ("cs", tmp_path / "cs.db")):
        assert _cli("import", "--db", str(db), str(cut)).returncode == 0
        shutil.copy(db, tmp_path / "json.db")
        p = _cli("--lang", lang, "import", "--db", str(db), str(whole))
        assert p.returncode == 0, p.stderr
        text = {
            "en": f"replaced 1 stored flight (#1) by this fuller copy of it (it came from {cut})",
            "cs": f"nahrazen 1 uložený let (#1) touto úplnější kopií (pocházel z {cut})",
        }[lang]
        assert text in p.stdout, p.stdout
    p = _cli("import", "--db", str(tmp_path / "json.db"), str(whole), "--json")
    (res,) = json.loads(p.stdout)
    assert res["replaced_flights"] == [1] and res["replaced_from"] == [str(cut)]
    assert res["flight_ids"] == [1] and res["skipped_flights"] == 0
    conn = sqlite3.connect(tmp_path / "json.db")
    assert conn.execute("SELECT sample_count FROM flights").fetchall() == [(50,)]
    conn.close()
