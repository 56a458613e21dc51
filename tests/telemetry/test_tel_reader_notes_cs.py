"""What the log readers note about a file (times from the file date, a record cut off at the end)
is shown in the chosen language by ``import``: Czech under ``--lang cs``, English otherwise."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def _no_gps_time_log() -> bytes:
    """An ArduPilot 4.x text log, 1 Hz, 60 s, armed from 5 s to 55 s, its GPS without a fix (no
    GPS time: the reader dates it by the file) and positions from POS."""
    lines = [
        "FMT, 128, 89, FMT, BBnNZ, Type,Length,Name,Format,Columns",
        "FMT, 130, 0, GPS, QBIHBcLLeffffB, TimeUS,Status,GMS,GWk,NSats,HDop,Lat,Lng,Alt,Spd,GCrs,"
        "VZ,Yaw,U",
        "FMT, 131, 0, POS, QLLfff, TimeUS,Lat,Lng,Alt,RelHomeAlt,RelOriginAlt",
        "FMT, 132, 0, EV, QB, TimeUS,Id",
    ]
    for k in range(60):
        us, h, lat = (100 + k) * 1_000_000, min(10.0, max(0.0, k - 10.0)), 49.7475 + 1e-5 * k
        lines.append(f"GPS, {us}, 1, 0, 0, 3, 9.9, 0, 0, 0, 0, 0, 0, 0, 1")
        lines.append(f"POS, {us}, {lat:.7f}, 13.3776, {300 + h}, {h}, {h}")
        if k in (5, 55):
            lines.append(f"EV, {us}, {10 if k == 5 else 11}")
    return ("\n".join(lines) + "\n").encode()


def _import(lang: str, db: Path, *files: Path) -> list[str]:
    p = subprocess.run(
        [sys.executable, "-m", "dronekit_plzen", "--lang", lang, "import", "--db", str(db)]
        + [str(f) for f in files],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=120,
    )
    assert p.returncode == 0, p.stderr
    return p.stdout.splitlines()


def test_reader_notes_in_czech_and_english(shared_data: Path, tmp_path: Path) -> None:
    dated = tmp_path / "no-gps-time.log"
    dated.write_bytes(_no_gps_time_log())
    data = (shared_data / "logs" / "df_uob_2023-07-06_10-12-18.bin").read_bytes()
    cut = tmp_path / "cut.bin"
    cut.write_bytes(data[:2071756])  # 8 bytes into a 207-byte record
    cs = _import("cs", tmp_path / "cs.db", dated, cut)
    assert "  pozice 0: v logu není čas GPS; časy jsou odvozeny od data souboru" in cs, cs
    assert "  pozice 2071748: useknutý záznam DataFlash na konci souboru (8 z 207 bajtů)" in cs, cs
    en = _import("en", tmp_path / "en.db", dated, cut)
    assert "  offset 0: no GPS time in the log; times are based on the file date" in en, en
    assert "  offset 2071748: truncated DataFlash record at end of file (8 of 207 bytes)" in en, en
