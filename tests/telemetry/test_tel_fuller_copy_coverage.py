"""The camera coverage of a flight replaced by a fuller copy: computed again from the whole
track with the field of view kept from the first import; dropped with a warning when that field
of view was never kept (a database from before schema 6), and computed again when the file is
imported again with --camera-fov."""

from __future__ import annotations

import math
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from telemetry.importer import import_file
from telemetry.store import open_store

REPO = Path(__file__).resolve().parents[2]
FOV = (84.0, 62.0)
#: one footprint 40 m up: 2·40·tan 42° across, 2·40·tan 31° along the track
FOOTPRINT_M2 = (2 * 40 * math.tan(math.radians(42))) * (2 * 40 * math.tan(math.radians(31)))


def _survey_log(last: int) -> bytes:
    """An ArduPilot 4.x text log, 1 Hz, seconds 0..``last`` of a survey flight armed from 5 s to
    55 s: 40 m up from 15 s, north at about 22 m/s from 15 s to 50 s, a photo every 5 s from
    20 s to 45 s (111 m apart: the footprints do not overlap)."""
    lines = [
        "FMT, 128, 89, FMT, BBnNZ, Type,Length,Name,Format,Columns",
        "FMT, 130, 0, GPS, QBIHBcLLeffffB, TimeUS,Status,GMS,GWk,NSats,HDop,Lat,Lng,Alt,Spd,GCrs,"
        "VZ,Yaw,U",
        "FMT, 131, 0, POS, QLLfff, TimeUS,Lat,Lng,Alt,RelHomeAlt,RelOriginAlt",
        "FMT, 132, 0, EV, QB, TimeUS,Id",
        "FMT, 133, 0, CAM, QHLLff, TimeUS,Img,Lat,Lng,Alt,RelAlt",
    ]
    for k in range(last):
        us = (100 + k) * 1_000_000
        h = min(40.0, max(0.0, (k - 5) * 4.0), max(0.0, (55 - k) * 4.0))
        lat = 49.7475 + 2e-4 * min(max(k - 15, 0), 35)
        lines.append(
            f"GPS, {us}, 3, {300_000_000 + k * 1000}, 2269, 10, 0.8, {lat:.7f}, "
            f"13.3776, {300 + h}, 1.1, 0, 0, 0, 1"
        )
        lines.append(f"POS, {us}, {lat:.7f}, 13.3776, {300 + h}, {h}, {h}")
        if k in (5, 55):
            lines.append(f"EV, {us}, {10 if k == 5 else 11}")
        if k in (20, 25, 30, 35, 40, 45):
            lines.append(f"CAM, {us}, {k // 5}, {lat:.7f}, 13.3776, {300 + h}, {h}")
    return ("\n".join(lines) + "\n").encode()


def _logs(tmp_path: Path) -> tuple[Path, Path]:
    cut, whole = tmp_path / "cut.log", tmp_path / "whole.log"
    cut.write_bytes(_survey_log(33))  # cut off in the air after the third photo
    whole.write_bytes(_survey_log(60))
    return cut, whole


def _coverage(db: Path) -> list[tuple[Any, ...]]:
    conn = sqlite3.connect(db)
    try:
        return conn.execute("SELECT id, camera_area_m2, coverage_geojson FROM flights").fetchall()
    finally:
        conn.close()


def _reference(tmp_path: Path, whole: Path) -> tuple[Any, ...]:
    """The whole log's coverage imported on its own with the same camera."""
    with open_store(tmp_path / "ref.db") as store:
        import_file(store, whole, camera_fov_deg=FOV)
    (ref,) = _coverage(tmp_path / "ref.db")
    assert ref[1] == pytest.approx(6 * FOOTPRINT_M2, rel=0.02)
    return ref


def test_replaced_flight_coverage_follows_the_whole_track(tmp_path: Path) -> None:
    cut, whole = _logs(tmp_path)
    ref = _reference(tmp_path, whole)
    db = tmp_path / "f.db"
    with open_store(db) as store:
        import_file(store, cut, camera_fov_deg=FOV)
        ((fid, area, _gj),) = _coverage(db)
        assert area == pytest.approx(3 * FOOTPRINT_M2, rel=0.02)
        r = import_file(store, whole)  # no --camera-fov this time: the kept one is used
        assert r.replaced_flights == [fid] and r.coverage_dropped == []
    assert _coverage(db) == [ref]


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "dronekit_plzen", *args],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=120,
    )


def test_coverage_without_a_kept_field_of_view_is_dropped_with_a_warning(tmp_path: Path) -> None:
    cut, whole = _logs(tmp_path)
    ref = _reference(tmp_path, whole)
    db = tmp_path / "old.db"
    p = _cli("import", "--db", str(db), str(cut), "--camera-fov", "84,62")
    assert p.returncode == 0, p.stderr
    conn = sqlite3.connect(db)  # as imported before schema 6: no field of view kept
    conn.execute("DELETE FROM flight_cameras")
    conn.commit()
    conn.close()
    p = _cli("import", "--db", str(db), str(whole))
    assert p.returncode == 0, p.stderr
    assert p.stderr.splitlines() == [
        f"warning: {whole}: the camera coverage of flight #1 is dropped: it was computed for "
        "the shorter copy, with a field of view not kept in the database; import this file "
        "again with --camera-fov H,V to compute it for the whole flight"
    ]
    assert _coverage(db) == [(1, None, None)]
    p = _cli("import", "--db", str(db), str(whole), "--camera-fov", "84,62")
    assert p.returncode == 0, p.stderr
    assert "already imported" in p.stdout
    assert _coverage(db) == [ref]
