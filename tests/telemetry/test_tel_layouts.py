"""DataFlash layouts of ArduPilot 3.1 … 4.x, binary and text (CRLF), and damaged FMT records.

Each log is written here, record by record, from one scripted flight (the layouts' formats and
column names as ArduPilot's LogStructure defined them in each version), imported, and the track
checked against the script: positions, UTC times (GPS week/time of week, leap seconds of the
year), heights, battery units, modes by number and by name.
"""

from __future__ import annotations

import struct
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest

from telemetry.dataflash import FORMAT_CHARS, read_binary, read_text
from telemetry.importer import import_file
from telemetry.logreaders import GPS_EPOCH_S, read_log
from telemetry.store import open_store

UTC0 = datetime(2013, 12, 3, 10, 0, 0, tzinfo=timezone.utc).timestamp()  # leap seconds: 16
BOOT0_S = 100.0
LAT0, LON0, ALT0 = 49.7475, 13.3776, 310.0  # Plzeň
ARM_S, DISARM_S, END_S = 5, 58, 61


def _height(k: int) -> float:
    return max(0.0, min(20.0, 2.0 * (k - 10), 2.0 * (55 - k)))


#: (message, format characters, columns) per layout; values come from _values()
LAYOUTS: dict[str, dict[str, tuple[str, str]]] = {
    "3.1": {
        "GPS": ("BIHBcLLeeEefI", "Status,TimeMS,Week,NSats,HDop,Lat,Lng,RelAlt,Alt,Spd,GCrs,VZ,T"),
        "CURR": ("IhIhhhf", "TimeMS,ThrOut,ThrInt,Volt,Curr,Vcc,CurrTot"),
        "MODE": ("Mh", "Mode,ThrCrs"),
        "EV": ("B", "Id"),
        "MSG": ("Z", "Message"),
    },
    "3.3": {
        "GPS": (
            "QBIHBcLLeeEefB",
            "TimeUS,Status,GMS,GWk,NSats,HDop,Lat,Lng,RAlt,Alt,Spd,GCrs,VZ,U",
        ),
        "CURR": ("QhIhhhf", "TimeUS,Throttle,ThrInt,Volt,Curr,Vcc,CurrTot"),
        "MODE": ("QMB", "TimeUS,Mode,ModeNum"),
        "EV": ("QB", "TimeUS,Id"),
        "MSG": ("QZ", "TimeUS,Message"),
    },
    "3.5": {
        "GPS": ("QBIHBcLLefffB", "TimeUS,Status,GMS,GWk,NSats,HDop,Lat,Lng,Alt,Spd,GCrs,VZ,U"),
        "POS": ("QLLff", "TimeUS,Lat,Lng,Alt,RelAlt"),
        "CURR": ("Qffffffcf", "TimeUS,Volt,VoltR,Curr,CurrTot,EnrgTot,Temp,Res,Extra"),
        "MODE": ("QMB", "TimeUS,Mode,ModeNum"),
        "EV": ("QB", "TimeUS,Id"),
        "MSG": ("QZ", "TimeUS,Message"),
    },
    "4.0": {
        "GPS": ("QBIHBcLLeffffB", "TimeUS,Status,GMS,GWk,NSats,HDop,Lat,Lng,Alt,Spd,GCrs,VZ,Yaw,U"),
        "POS": ("QLLfff", "TimeUS,Lat,Lng,Alt,RelHomeAlt,RelOriginAlt"),
        "BAT": ("Qfffffcf", "TimeUS,Volt,VoltR,Curr,CurrTot,EnrgTot,Temp,Res"),
        "MODE": ("QMBB", "TimeUS,Mode,ModeNum,Rsn"),
        "ARM": ("QBH", "TimeUS,ArmState,ArmChecks"),
        "MSG": ("QZ", "TimeUS,Message"),
    },
    "4.3": {
        "GPS": (
            "QBBIHBcLLeffffB",
            "TimeUS,I,Status,GMS,GWk,NSats,HDop,Lat,Lng,Alt,Spd,GCrs,VZ,Yaw,U",
        ),
        "POS": ("QLLfff", "TimeUS,Lat,Lon,Alt,RelHomeAlt,RelOriginAlt"),
        "BAT": ("QBfffffcfB", "TimeUS,Inst,Volt,VoltR,Curr,CurrTot,EnrgTot,Temp,Res,RemPct"),
        "MODE": ("QMBB", "TimeUS,Mode,ModeNum,Rsn"),
        "ARM": ("QBIBB", "TimeUS,ArmState,ArmChecks,Forced,Method"),
        "MSG": ("QZ", "TimeUS,Message"),
        "XKF9": ("QBff", "TimeUS,C,Unknown1,Unknown2"),  # a message the reader does not know
    },
}


def _gps_time(t_boot: float) -> tuple[int, int]:
    gps_s = UTC0 + (t_boot - BOOT0_S) - GPS_EPOCH_S + 16
    week = int(gps_s // 604800)
    return week, round((gps_s - week * 604800) * 1000)


def _script(layout: str) -> list[tuple[str, dict[str, Any]]]:
    """The flight as (message, values) in log order: 1 Hz GPS/POS/battery, events at 5/10/58 s."""
    out: list[tuple[str, dict[str, Any]]] = []
    fmts = LAYOUTS[layout]
    out.append(("MSG", {"Message": "ArduCopter V3.1.5 (3c57e771)", "TimeUS": 0}))
    for k in range(END_S):
        t = BOOT0_S + k
        week, tow = _gps_time(t)
        h = _height(k)
        lat = LAT0 + 1e-5 * k
        common = {"TimeUS": int(t * 1e6), "TimeMS": int(t * 1000), "T": int(t * 1000)}
        gps = {
            **common,
            "I": 0,
            "Status": 3,
            "NSats": 10,
            "HDop": 0.8,
            "Lat": lat,
            "Lng": LON0,
            "RelAlt": h,
            "RAlt": h,
            "Alt": ALT0 + h,
            "Spd": 1.11,
            "GCrs": 0.0,
            "VZ": 0.0,
            "Yaw": 0.0,
            "U": 1,
            "Week": week,
            "GWk": week,
            "GMS": tow,
        }
        if layout == "3.1":
            gps["TimeMS"] = tow  # the GPS time of week; T is the boot time
        out.append(("GPS", gps))
        if "POS" in fmts:
            pos = {**common, "Lat": lat, "Lng": LON0, "Lon": LON0, "Alt": ALT0 + h}
            pos |= {"RelAlt": h, "RelHomeAlt": h, "RelOriginAlt": h}
            out.append(("POS", pos))
        bat = {**common, "Volt": 12.3, "VoltR": 12.4, "Curr": 4.5, "CurrTot": 10.0 * k}
        bat |= {"ThrOut": 0, "Throttle": 0, "ThrInt": 0, "Vcc": 5.0, "EnrgTot": 0, "Temp": 0}
        bat |= {"Res": 0, "Extra": 0, "Inst": 0, "RemPct": 100 - k}
        out.append(("BAT" if "BAT" in fmts else "CURR", bat))
        out.append(("XKF9", {**common, "C": 0, "Unknown1": 1.0, "Unknown2": 2.0}))
        for at, ev, mode in ((ARM_S, 10, None), (10, None, 5), (DISARM_S, 11, None), (2, None, 0)):
            if k != at:
                continue
            if mode is not None:
                out.append(
                    ("MODE", {**common, "Mode": mode, "ModeNum": mode, "Rsn": 1, "ThrCrs": 0})
                )
            elif "ARM" in fmts:
                out.append(("ARM", {**common, "ArmState": int(ev == 10), "ArmChecks": 0}))
                out[-1][1].update(Forced=0, Method=0)
            else:
                out.append(("EV", {**common, "Id": ev}))
    return [(m, v) for m, v in out if m in fmts]


def _binary(layout: str) -> bytes:
    fmts = LAYOUTS[layout]
    ids = {name: 130 + i for i, name in enumerate(fmts)}
    parts = [_fmt_record(128, "FMT", "BBnNZ", "Type,Length,Name,Format,Columns")]
    parts += [_fmt_record(ids[n], n, f, c) for n, (f, c) in fmts.items()]
    for name, vals in _script(layout):
        fmt, cols = fmts[name]
        parts.append(bytes([0xA3, 0x95, ids[name]]) + _pack(fmt, cols, vals))
    return b"".join(parts)


def _fmt_record(ftype: int, name: str, fmt: str, cols: str) -> bytes:
    size = struct.calcsize("<" + "".join(FORMAT_CHARS[c][0] for c in fmt)) + 3
    body = struct.pack("<BB4s16s64s", ftype, size, name.encode(), fmt.encode(), cols.encode())
    return bytes([0xA3, 0x95, 128]) + body


def _pack(fmt: str, cols: str, vals: dict[str, Any]) -> bytes:
    out = []
    for ch, col in zip(fmt, cols.split(",")):
        code, mult = FORMAT_CHARS[ch]
        v = vals[col]
        if code.endswith("s"):
            out.append(struct.pack("<" + code, str(v).encode()))
        elif code in "fde":
            out.append(struct.pack("<" + code, float(v)))
        else:
            raw = round(v / mult) if mult else round(v)
            if col in ("Volt", "Curr") and code in "hHiI":
                raw = round(v * 100)  # centivolts, centiamps before 3.3
            out.append(struct.pack("<" + code, raw))
    return b"".join(out)


def _text(layout: str, *, mode_names: bool) -> bytes:
    """A text log as ArduPilot 3.1's CLI dump / Mission Planner write it: CRLF, scaled values."""
    fmts = LAYOUTS[layout]
    lines = ["FMT, 128, 89, FMT, BBnNZ, Type,Length,Name,Format,Columns"]
    for i, (n, (f, c)) in enumerate(fmts.items()):
        lines.append(f"FMT, {130 + i}, 0, {n}, {f}, {c}")
    names = {0: "STABILIZE", 5: "LOITER"}
    for name, vals in _script(layout):
        fmt, cols = fmts[name]
        out = []
        for ch, col in zip(fmt, cols.split(",")):
            v = vals[col]
            if col in ("Volt", "Curr") and ch in "hHiI":
                v = round(v * 100)
            if col == "Mode" and mode_names:
                v = names[v]
            out.append(f"{v:.7f}" if isinstance(v, float) and ch == "L" else str(v))
        lines.append(", ".join([name, *out]))
    return ("\r\n".join(lines) + "\r\n").encode()


def _check_flight(store: Any, *, battery_pct: bool) -> None:
    (f,) = store.flights()
    assert f["ground_run"] == 0
    start = datetime.fromisoformat(f["start_utc"].replace("Z", "+00:00")).timestamp()
    assert start == pytest.approx(UTC0 + ARM_S, abs=0.01)  # GPS week/TOW, 16 leap seconds
    # the last armed sample is the one before the disarm (1 Hz samples)
    assert f["duration_s"] == pytest.approx(DISARM_S - 1 - ARM_S, abs=0.01)
    assert f["max_height_m"] == pytest.approx(20.0, abs=0.01)
    assert f["start_lat"] == pytest.approx(LAT0 + 1e-5 * ARM_S, abs=1e-7)
    assert f["start_lon"] == pytest.approx(LON0, abs=1e-7)
    # the horizontal path flown while airborne: 1e-5° of latitude per second ≈ 1.11 m/s
    assert 30 < f["distance_m"] < 60
    assert f["battery_used_mah"] == pytest.approx(10.0 * (DISARM_S - 1 - ARM_S), abs=0.01)
    if battery_pct:
        assert f["battery_used_pct"] == pytest.approx(DISARM_S - 1 - ARM_S, abs=0.01)
    samples = store.query("SELECT voltage_v, current_a, alt_amsl_m FROM samples")
    assert {round(s["voltage_v"], 3) for s in samples} == {12.3}
    assert {round(s["current_a"], 3) for s in samples} == {4.5}
    assert max(s["alt_amsl_m"] for s in samples) == pytest.approx(ALT0 + 20, abs=0.01)
    modes = store.query("SELECT text FROM events WHERE kind = 'mode' ORDER BY t_s")
    assert [m["text"] for m in modes] == ["STABILIZE", "LOITER"]


@pytest.mark.parametrize("layout", sorted(LAYOUTS))
def test_binary_layouts(layout: str, tmp_path: Path) -> None:
    path = tmp_path / f"ac{layout}.bin"
    path.write_bytes(_binary(layout))
    with open_store(tmp_path / "f.db") as store:
        r = import_file(store, path)
        assert r.kind == "dataflash-bin" and not r.issues, r.issues
        _check_flight(store, battery_pct=layout == "4.3")


@pytest.mark.parametrize("layout", sorted(LAYOUTS))
@pytest.mark.parametrize("mode_names", [False, True])
def test_text_layouts_crlf(layout: str, mode_names: bool, tmp_path: Path) -> None:
    """The ArduCopter 3.1 text log (CRLF, Week/TimeMS GPS, CURR in centivolts) that failed
    with ``AttributeError: GWk``, and every later layout, modes by number or by name."""
    path = tmp_path / f"ac{layout}.log"
    path.write_bytes(_text(layout, mode_names=mode_names))
    with open_store(tmp_path / "f.db") as store:
        r = import_file(store, path)
        assert r.kind == "dataflash-log" and not r.issues, r.issues
        _check_flight(store, battery_pct=layout == "4.3")


def test_text_log_damage_is_skipped_per_line(tmp_path: Path) -> None:
    text = _text("3.1", mode_names=True).split(b"\r\n")
    text[3] = b"FMT, 999, x, G?S, B, Status"  # a damaged FMT line
    text[40] = b"GPS, 3, 1, 2"  # a record with too few fields
    text[41] = b"\xff\xfe garbage"
    recs = read_text(b"\r\n".join(text))
    assert [i.message.split(":")[0] for i in recs.issues] == ["line 4", "line 41", "line 42"]
    assert len(recs.rows["GPS"]) == END_S - 1


def _damaged_fmt(kind: str) -> bytes:
    """The failing example of the property test: FMT/FMTU records whose columns, unit ids or
    multiplier ids disagree with their format (pymavlink's DFReader raised IndexError)."""
    data = bytearray(_binary("4.3"))
    gps_fmt = data.find(b"QBBIHBcLLeffffB")
    if kind == "columns":  # a GPS FMT whose column list lost its end
        at = data.find(b"TimeUS,I,Status")
        data[at + 6 : at + 30] = b"\0" * 24
    elif kind == "length":
        data[gps_fmt - 5] = 7
    else:  # the format string itself overwritten
        data[gps_fmt : gps_fmt + 4] = b"\xff\x00zz"
    return bytes(data)


@pytest.mark.parametrize("kind", ["columns", "length", "format"])
def test_damaged_fmt_is_left_out_and_the_rest_kept(kind: str, tmp_path: Path) -> None:
    data = _damaged_fmt(kind)
    recs = read_binary(data)
    assert any("bad DataFlash FMT record" in i.message for i in recs.issues)
    assert "GPS" not in recs.rows and len(recs.rows["POS"]) == END_S
    path = tmp_path / "d.bin"
    path.write_bytes(data)
    content = read_log(path, data)
    (track,) = content.tracks
    assert track.n == END_S  # the positions come from POS


# -- PX4 ULog versions -----------------------------------------------------------------------
def _ulog_variant(src: Path, dst: Path, layout: str) -> None:
    """The sample ULog rewritten with another PX4 version's topic and field names.

    ``new``: PX4 1.15+ ``sensor_gps`` with ``latitude_deg``/``longitude_deg``/``altitude_msl_m``
    in degrees and metres (doubles). ``old``: only the ``voltage_filtered_v`` and
    ``current_filtered_a`` battery fields, ``yaw`` in ``vehicle_local_position`` (PX4 ≤ 1.8).
    """
    import numpy as np
    from pyulog import ULog

    u = ULog(str(src))
    fmts = u._message_formats  # pyulog's writer reads the formats from here

    def rename(
        topic: str, old: str, new: str, type_str: str | None = None, scale: float = 1.0
    ) -> None:
        fmt = fmts[topic]
        fmt.fields = [
            (type_str or t, n, new) if name == old else (t, n, name) for t, n, name in fmt.fields
        ]
        for d in u.data_list:
            if d.name != topic:
                continue
            d.field_data = [
                type(f)(new, type_str or f.type_str) if f.field_name == old else f
                for f in d.field_data
            ]
            values = d.data.pop(old)
            d.data[new] = values.astype(np.float64) * scale if type_str else values

    def drop(topic: str, old: str) -> None:
        fmts[topic].fields = [f for f in fmts[topic].fields if f[2] != old]
        for d in u.data_list:
            if d.name == topic:
                d.field_data = [f for f in d.field_data if f.field_name != old]
                d.data.pop(old)

    if layout == "new":
        rename("vehicle_gps_position", "lat", "latitude_deg", "double", 1e-7)
        rename("vehicle_gps_position", "lon", "longitude_deg", "double", 1e-7)
        rename("vehicle_gps_position", "alt", "altitude_msl_m", "double", 1e-3)
        fmts["sensor_gps"] = fmts.pop("vehicle_gps_position")
        fmts["sensor_gps"].name = "sensor_gps"
        for d in u.data_list:
            if d.name == "vehicle_gps_position":
                d.name = "sensor_gps"
    else:
        drop("battery_status", "voltage_v")
        drop("battery_status", "current_a")
        rename("vehicle_local_position", "heading", "yaw")
    with open(dst, "wb") as fh:
        u.write_ulog(fh)


@pytest.mark.parametrize("layout", ["old", "new"])
def test_ulog_versions(layout: str, shared_data: Path, tmp_path: Path) -> None:
    src = shared_data / "logs" / "ulg_pyulog_sample_log_small.ulg"
    dst = tmp_path / f"{layout}.ulg"
    _ulog_variant(src, dst, layout)
    with open_store(tmp_path / "u.db") as store:
        r = import_file(store, dst)
        assert r.kind == "ulog" and r.error is None
        (f,) = store.flights()
        volts = store.query("SELECT MIN(voltage_v) AS v, MAX(heading_deg) AS h FROM samples")[0]
    assert f["ground_run"] == 1 and f["duration_s"] == pytest.approx(5.19, abs=0.05)
    assert f["start_lat"] == pytest.approx(63.41706, abs=1e-5)
    assert f["start_lon"] == pytest.approx(10.40822, abs=1e-5)
    assert f["start_utc"].startswith("2021-04-21T06:30:58")
    assert volts["v"] > 10 and volts["h"] is not None
