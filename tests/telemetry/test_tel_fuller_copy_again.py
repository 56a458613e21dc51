"""The shorter copy of a log imported again after a fuller copy replaced its flights: one line
naming the stored flight(s) and the fuller copy, exit 0, the database unchanged (also for a
database whose replacement predates the record of it: found by content)."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from pathlib import Path

from dkp_testkit import db_state

from telemetry.importer import import_file
from telemetry.store import open_store

REPO = Path(__file__).resolve().parents[2]


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "dronekit_plzen", *args],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=120,
    )


def _cut(src: Path, dst: Path, share: float) -> Path:
    data = src.read_bytes()
    dst.write_bytes(data[: int(len(data) * share)])
    return dst


def test_cli_says_the_cut_copy_is_stored_as_part_of_the_fuller_copy(
    shared_data: Path, tmp_path: Path
) -> None:
    """A real DataFlash log cut at 60 %, then the whole log, then the cut copy again."""
    whole = (shared_data / "logs" / "df_uob_2023-07-06_10-12-18.bin").resolve()
    cut = _cut(whole, tmp_path / "cut.bin", 0.6)
    db = tmp_path / "f.db"
    with open_store(db) as store:
        import_file(store, cut)
        assert import_file(store, whole).replaced_flights == [1]
    before = db_state(db)
    p = _cli("import", "--db", str(db), str(cut))
    assert p.returncode == 0, p.stderr
    assert p.stdout.splitlines() == [
        f"{cut}: already imported: its flight is stored as flight #1, part of a fuller copy "
        f"({whole})"
    ]
    p = _cli("--lang", "cs", "import", "--db", str(db), str(cut))
    assert p.returncode == 0, p.stderr
    assert p.stdout.splitlines() == [
        f"{cut}: již importováno: jeho let je uložen jako let #1, součást úplnější kopie ({whole})"
    ]
    p = _cli("import", "--db", str(db), str(cut), "--json")
    assert p.returncode == 0, p.stderr
    (res,) = json.loads(p.stdout)
    assert res["duplicate"] and res["flight_ids"] == [1] and res["in_fuller_copy"] == [1]
    assert res["fuller_copy_from"] == [str(whole)]
    assert db_state(db) == before


def test_a_cut_copy_with_one_of_its_two_flights_replaced(shared_data: Path, tmp_path: Path) -> None:
    """A real .tlog cut at 65 % holds two flights; the whole log replaces the second (the first
    is whole in both): the cut copy imported again has both, the second in the fuller copy."""
    whole = (shared_data / "logs" / "tlog_dronekit_flight.tlog").resolve()
    cut = _cut(whole, tmp_path / "cut.tlog", 0.65)
    db = tmp_path / "t.db"
    with open_store(db) as store:
        assert import_file(store, cut).flight_ids == [1, 2]
        assert import_file(store, whole).replaced_flights == [2]
    before = db_state(db)
    with open_store(db) as store:
        r = import_file(store, cut)
    assert r.duplicate and r.flight_ids == [1, 2] and r.in_fuller_copy == [2]
    assert r.fuller_copy_from == [str(whole)]
    assert db_state(db) == before


def _text_log(last: int) -> bytes:
    """An ArduPilot 4.x text log, 1 Hz, seconds 0..``last`` of a flight armed from 5 s to 55 s."""
    lines = [
        "FMT, 128, 89, FMT, BBnNZ, Type,Length,Name,Format,Columns",
        "FMT, 130, 0, GPS, QBIHBcLLeffffB, TimeUS,Status,GMS,GWk,NSats,HDop,Lat,Lng,Alt,Spd,GCrs,"
        "VZ,Yaw,U",
        "FMT, 131, 0, POS, QLLfff, TimeUS,Lat,Lng,Alt,RelHomeAlt,RelOriginAlt",
        "FMT, 132, 0, EV, QB, TimeUS,Id",
    ]
    for k in range(last):
        us, h, lat = (100 + k) * 1_000_000, min(10.0, max(0.0, k - 10.0)), 49.7475 + 1e-5 * k
        lines.append(
            f"GPS, {us}, 3, {300_000_000 + k * 1000}, 2269, 10, 0.8, {lat:.7f}, "
            f"13.3776, {300 + h}, 1.1, 0, 0, 0, 1"
        )
        lines.append(f"POS, {us}, {lat:.7f}, 13.3776, {300 + h}, {h}, {h}")
        if k in (5, 55):
            lines.append(f"EV, {us}, {10 if k == 5 else 11}")
    return ("\n".join(lines) + "\n").encode()


def test_a_database_replaced_before_it_kept_the_record_finds_it_by_content(
    tmp_path: Path,
) -> None:
    """A database whose fuller copy replaced the flight before schema 6 has no record of where
    the cut copy's data went (emptied here): the cut copy is read and matched by content."""
    cut, whole = tmp_path / "cut.log", tmp_path / "whole.log"
    cut.write_bytes(_text_log(30))
    whole.write_bytes(_text_log(60))
    db = tmp_path / "old.db"
    with open_store(db) as store:
        import_file(store, cut)
        assert import_file(store, whole).replaced_flights == [1]
    conn = sqlite3.connect(db)
    conn.execute("DELETE FROM replaced_sources")
    conn.commit()
    conn.close()
    before = db_state(db)
    with open_store(db) as store:
        r = import_file(store, cut)
    assert r.duplicate and r.flight_ids == [1] and r.in_fuller_copy == [1]
    assert r.fuller_copy_from == [str(whole.resolve())]
    assert db_state(db) == before
