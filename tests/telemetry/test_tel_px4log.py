"""PX4 sdlog2 logs (``.px4log``, PX4 before 2017): the DataFlash record walker reads them, the
flight comes from PX4's own messages (TIME clock, GPS UTC time, GPOS, STAT arming, BATT).

The log is written here in the layout of a real one (PX4 v1.6, PX4FMU_V2, 2017; the real file
is not in the repository): FMT records without FMT's own, a ``TIME`` record before each batch.
"""

from __future__ import annotations

import struct
from pathlib import Path
from typing import Any

import pytest

from telemetry.dataflash import FORMAT_CHARS
from telemetry.importer import import_file
from telemetry.logreaders import read_log
from telemetry.store import open_store

#: the real log's formats (types, names, format characters and columns) for the messages read
FORMATS = {
    "TIME": (129, "Q", "StartTime"),
    "GPS": (
        8,
        "QBffLLfffffBHHH",
        "GPSTime,Fix,EPH,EPV,Lat,Lon,Alt,VelN,VelE,VelD,Cog,nSat,SNR,N,J",
    ),
    "GPOS": (16, "LLfffffff", "Lat,Lon,Alt,VelN,VelE,VelD,EPH,EPV,TALT"),
    "STAT": (10, "BBBBB", "MainState,NavState,ArmS,Failsafe,IsRotWing"),
    "BATT": (20, "fffffffB", "V,VFilt,C,CFilt,Discharged,Remaining,Scale,Warning"),
    "PARM": (131, "Nf", "Name,Value"),
    "ATT": (2, "fffffffffffff", "qw,qx,qy,qz,Roll,Pitch,Yaw,RollRate,PitchRate,YawRate,GX,GY,GZ"),
}
BOOT_US = 116_897_327
UTC0_US = 1_499_874_584_925_643  # 2017-07-12T15:49:44.926Z
LAT0, LON0, ALT0 = 49.7475, 13.3776, 330.0


def _fmt(name: str) -> bytes:
    ftype, fmt, cols = FORMATS[name]
    size = struct.calcsize("<" + "".join(FORMAT_CHARS[c][0] for c in fmt)) + 3
    body = struct.pack("<BB4s16s64s", ftype, size, name.encode(), fmt.encode(), cols.encode())
    return bytes([0xA3, 0x95, 0x80]) + body


def _rec(name: str, *values: Any) -> bytes:
    ftype, fmt, _cols = FORMATS[name]
    return bytes([0xA3, 0x95, ftype]) + struct.pack(
        "<" + "".join(FORMAT_CHARS[c][0] for c in fmt), *values
    )


def px4log(seconds: int = 60, armed: tuple[int, int] = (5, 55), fix: bool = True) -> bytes:
    """10 Hz, armed from ``armed[0]`` to ``armed[1]`` s, climbing to 10 m and flying north at
    2 m/s, AUTO_MISSION (3) after take-off, one battery record a second."""
    out = [_fmt(n) for n in FORMATS]
    out.append(_rec("PARM", b"MAV_SYS_ID", 7.0))
    for k in range(seconds * 10):
        s = k / 10
        on = armed[0] <= s < armed[1]
        h = min(10.0, max(0.0, s - armed[0] - 2)) if on else 0.0
        north = max(0.0, s - armed[0] - 8) * 2.0 if on else 0.0
        lat = LAT0 + north / 111_320
        out.append(_rec("TIME", BOOT_US + k * 100_000))
        out.append(_rec("ATT", *([0.0] * 13)))
        out.append(
            _rec(
                "GPOS", round(lat * 1e7), round(LON0 * 1e7), ALT0 + h, 2.0, 0.0, 0.0, 0.5, 0.3, -1.0
            )
        )
        if k % 10 == 0:
            utc = UTC0_US + k * 100_000 if fix else 0
            vals = (utc, 3 if fix else 1, 1.4, 1.5, round(lat * 1e7), round(LON0 * 1e7), ALT0 + h)
            out.append(_rec("GPS", *vals, 2.0, 0.0, 0.0, 0.0, 18, 0, 104, 112))
            mode = 3 if on and s >= armed[0] + 8 else 2
            out.append(_rec("STAT", mode, mode, 2 if on else 1, 0, 1))
            out.append(_rec("BATT", 24.8 - s * 0.01, 24.8, 10.0, 10.0, s * 3.0, 1 - s / 600, 1, 0))
    return b"".join(out)


def test_px4log_flight_from_px4_messages(tmp_path: Path) -> None:
    log = tmp_path / "15_49_43.px4log"
    log.write_bytes(px4log())
    with open_store(tmp_path / "p.db") as store:
        r = import_file(store, log)
        assert r.kind == "px4log" and r.error is None
        (f,) = store.flights()
        kinds = store.query("SELECT kind, text FROM events ORDER BY t_s")
        (vehicle,) = store.query("SELECT key, autopilot FROM vehicles")
    assert f["start_utc"].startswith("2017-07-12T15:49:49.9")  # the GPS UTC time, 5 s in
    assert f["duration_s"] == pytest.approx(50, abs=0.2)
    assert f["ground_run"] == 0 and f["max_height_m"] == pytest.approx(10, abs=0.1)
    assert f["distance_m"] == pytest.approx(84, abs=3)  # 42 s north at 2 m/s
    assert f["start_lat"] == pytest.approx(LAT0, abs=1e-6)
    assert f["battery_used_mah"] == pytest.approx(150, abs=4)
    assert vehicle == {"key": "sysid-7", "autopilot": "px4"}
    assert [k["kind"] for k in kinds if k["kind"] in ("armed", "disarmed")] == ["armed", "disarmed"]
    assert [k["text"] for k in kinds if k["kind"] == "mode"] == ["POSCTL", "AUTO_MISSION", "POSCTL"]


def test_px4log_without_gps_time_is_dated_by_the_file(tmp_path: Path) -> None:
    log = tmp_path / "nofix.px4log"
    log.write_bytes(px4log(fix=False))
    content = read_log(log, log.read_bytes())
    assert any("no GPS time" in i.message for i in content.issues)
    (track,) = content.tracks
    assert track.columns["t_s"][-1] == pytest.approx(log.stat().st_mtime, abs=0.2)


def test_px4log_cut_copy_first_then_whole(tmp_path: Path) -> None:
    """The fuller-copy rule holds for sdlog2 logs too (their records have no time of their own)."""
    data = px4log()
    cut, whole = tmp_path / "cut.px4log", tmp_path / "whole.px4log"
    cut.write_bytes(data[: len(data) // 2])
    whole.write_bytes(data)
    with open_store(tmp_path / "c.db") as store:
        (fid,) = import_file(store, cut).flight_ids
        r = import_file(store, whole)
        assert r.replaced_flights == [fid]
        assert store.flights()[0]["duration_s"] == pytest.approx(50, abs=0.2)
