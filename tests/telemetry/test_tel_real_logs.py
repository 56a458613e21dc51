"""Regressions found by importing a corpus of real public flight logs.

Each fixture is written here in the layout the real log had (the ArduCopter 3.0.1 text lines
are those of ArduPilot's LogAnalyzer example ``tradheli_brownout.log``); the real files are
not in the repository. ``DKP_LOG_CORPUS`` (default ``/work/data/logs_corpus``) points the
last tests at the real logs where they are at hand.
"""

from __future__ import annotations

import struct
from pathlib import Path
from typing import Any

import pytest

from telemetry.dataflash import FORMAT_CHARS, read_binary, read_text
from telemetry.importer import import_file
from telemetry.logreaders import read_log
from telemetry.store import open_store
from telemetry.ulog import scan_ulog

# -- ArduCopter 3.0: no boot time in any record, GPS time of week only ----------------------------
AC301_HEAD = """58

ArduCopter V3.0.1
Free RAM: 1273
ArduPilot 2
FMT, 128, 89, FMT, BBnNZ, Type,Length,Name,Format
FMT, 129, 23, PARM, Nf, Name,Value
FMT, 130, 35, GPS, BIBcLLeeEe, Status,Time,NSats,HDop,Lat,Lng,RelAlt,Alt,Spd,GCrs
FMT, 132, 67, MSG, Z, Message
FMT, 9, 19, CURR, hIhhhf, Thr,ThrInt,Volt,Curr,Vcc,CurrTot
FMT, 3, 6, MODE, Mh, Mode,ThrCrs
FMT, 13, 4, EV, B, Id
PARM, SYSID_THISMAV, 1.000000
EV, 10
EV, 15
MODE, LOITER, 494
"""
TOW0_MS = 308900200
LAT0, LON0 = 24.2398205, 54.5793101


def _ac301_gps(k: int) -> dict[str, Any]:
    """GPS record ``k`` (5 Hz): up 1 m/s for 20 s, down again, along the latitude."""
    h = max(0, min(k, 200 - k)) * 0.2
    return {
        "Status": 3,
        "Time": TOW0_MS + 200 * k,
        "NSats": 10,
        "HDop": 1.49,
        "Lat": LAT0 + 1e-6 * k,
        "Lng": LON0,
        "RelAlt": h,
        "Alt": 9.5 + h,
        "Spd": 0.5,
        "GCrs": 0.0,
    }


def _ac301_text() -> bytes:
    cols = ["Status", "Time", "NSats", "HDop", "Lat", "Lng", "RelAlt", "Alt", "Spd", "GCrs"]
    lines = AC301_HEAD.splitlines()
    for k in range(202):
        if k == 201:
            lines.append("EV, 11")
        g = _ac301_gps(k)
        lines.append(
            "GPS, " + ", ".join(f"{g[c]:.7f}" if c in ("Lat", "Lng") else str(g[c]) for c in cols)
        )
        if k % 10 == 0:
            lines.append(f"CURR, 337, 2021, {1232 - k}, 1500, 4772, {float(k):.6f}")
    return ("\r\n".join(lines) + "\r\n").encode()


def _fmt_record(ftype: int, name: str, fmt: str, cols: str) -> bytes:
    size = struct.calcsize("<" + "".join(FORMAT_CHARS[c][0] for c in fmt)) + 3
    body = struct.pack("<BB4s16s64s", ftype, size, name.encode(), fmt.encode(), cols.encode())
    return bytes([0xA3, 0x95, 128]) + body


def _record(ftype: int, fmt: str, *values: Any) -> bytes:
    return bytes([0xA3, 0x95, ftype]) + struct.pack(
        "<" + "".join(FORMAT_CHARS[c][0] for c in fmt), *values
    )


def _ac301_binary() -> bytes:
    gps_fmt = "BIBcLLeeEe"
    parts = [
        _fmt_record(128, "FMT", "BBnNZ", "Type,Length,Name,Format,Columns"),
        _fmt_record(130, "GPS", gps_fmt, "Status,Time,NSats,HDop,Lat,Lng,RelAlt,Alt,Spd,GCrs"),
        _fmt_record(13, "EV", "B", "Id"),
        _record(13, "B", 10),
    ]
    for k in range(202):
        if k == 201:
            parts.append(_record(13, "B", 11))
        g = _ac301_gps(k)
        parts.append(
            _record(
                130,
                gps_fmt,
                *(g["Status"], g["Time"], g["NSats"], round(g["HDop"] * 100)),
                *(round(g["Lat"] * 1e7), round(g["Lng"] * 1e7)),
                *(round(g["RelAlt"] * 100), round(g["Alt"] * 100), 50, 0),
            )
        )
    return b"".join(parts)


@pytest.mark.parametrize("kind", ["text", "binary"])
def test_arducopter_30_log_times_come_from_the_gps_time_of_week(kind: str, tmp_path: Path) -> None:
    """ArduCopter 3.0.1 logs carry no boot time: every record had one time, so a 40 s flight
    was imported with a duration of 0 s (and the dump's banner and FMT's own 4-column
    definition were reported as damage)."""
    path = tmp_path / ("ac301.log" if kind == "text" else "ac301.bin")
    path.write_bytes(_ac301_text() if kind == "text" else _ac301_binary())
    with open_store(tmp_path / "f.db") as store:
        r = import_file(store, path)
        assert [i.message for i in r.issues] == [
            "no GPS time in the log; times are based on the file date"
        ]
        (f,) = store.flights()
        t = [s["t_s"] for s in store.query("SELECT t_s FROM samples ORDER BY t_s")]
    assert t[-1] - t[0] == pytest.approx(40.2, abs=1e-3)  # 202 GPS records at 5 Hz
    # the disarm is dated at the GPS record before it: the last armed sample precedes that one
    assert f["duration_s"] == pytest.approx(39.8, abs=1e-3)
    assert f["airborne_s"] > 30 and f["ground_run"] == 0
    assert f["max_height_m"] == pytest.approx(20.0, abs=0.01)
    if kind == "text":  # CURR in centivolts, its CurrTot in mAh
        assert f["battery_used_mah"] == pytest.approx(190.0, abs=0.01)  # CURR every 2 s


def test_arducopter_30_text_log_modes_and_banner() -> None:
    recs = read_text(_ac301_text())
    assert not recs.issues
    assert recs.preamble == ["58", "ArduCopter V3.0.1", "Free RAM: 1273", "ArduPilot 2"]
    assert len(recs.rows["GPS"]) == 202
    assert recs.rows["GPS"][1][0] == pytest.approx((TOW0_MS + 200) * 1e-3)
    # the records before the first GPS are at its time, not days before it
    assert [t for t, _v in recs.rows["EV"]][:2] == [pytest.approx(TOW0_MS * 1e-3)] * 2


def test_gps_time_of_week_is_no_clock_where_records_have_a_boot_time() -> None:
    """ArduCopter 3.1+: ``T``/``TimeMS`` boot times are the clock, never a GPS time of week."""
    data = b"".join(
        [
            _fmt_record(128, "FMT", "BBnNZ", "Type,Length,Name,Format,Columns"),
            _fmt_record(131, "ATT", "Icc", "TimeMS,Roll,Pitch"),
            _fmt_record(130, "GPS", "BIBLL", "Status,Time,NSats,Lat,Lng"),
            _record(131, "Icc", 1000, 0, 0),
            _record(130, "BIBLL", 3, TOW0_MS, 10, 0, 0),
        ]
    )
    recs = read_binary(data)
    assert recs.rows["GPS"][0][0] == pytest.approx(1.0)


# -- ArduPilot logs that begin armed and are cut off before the disarm ----------------------------
def _copter4_binary(*, events: tuple[int, ...], stat: list[int] | None = None) -> bytes:
    """An ArduCopter 4.x log begun at arming (no ARM record), climbing to 10 m and cut off in
    flight: POS at 1 Hz, the given EV ids at its start, STAT ``Armed`` values if given."""
    pos_fmt, ev_fmt, stat_fmt = "QLLfff", "QB", "QBfBBBBBB"
    parts = [
        _fmt_record(128, "FMT", "BBnNZ", "Type,Length,Name,Format,Columns"),
        _fmt_record(131, "POS", pos_fmt, "TimeUS,Lat,Lng,Alt,RelHomeAlt,RelOriginAlt"),
        _fmt_record(132, "EV", ev_fmt, "TimeUS,Id"),
        _fmt_record(
            133, "STAT", stat_fmt, "TimeUS,isFlying,isFlyProb,Armed,Safety,Crash,Still,Stage,Hit"
        ),
    ]
    for k in range(60):
        t_us = (100 + k) * 1_000_000
        if k == 1:
            parts += [_record(132, ev_fmt, t_us, ev) for ev in events]
        if stat is not None:
            parts.append(_record(133, stat_fmt, t_us, 0, 0.0, stat[k], 2, 0, 0, 3, 0))
        h = min(float(k), 10.0)
        parts.append(_record(131, pos_fmt, t_us, 497475000 + 10 * k, 133776000, 310 + h, h, h))
    return b"".join(parts)


@pytest.mark.parametrize("events", [(15,), (28,), (57, 15, 28)])
def test_copter_log_begun_armed_and_cut_off_keeps_its_flight(
    events: tuple[int, ...], tmp_path: Path
) -> None:
    """A copter log holds no ARM record when logging starts at arming; cut off in flight (a
    crash, a flat battery) it holds no disarm either, and its flight was not imported at all.
    AUTO_ARMED (EV 15) and NOT_LANDED (EV 28) are logged only while armed."""
    path = tmp_path / "cut.bin"
    path.write_bytes(_copter4_binary(events=events))
    with open_store(tmp_path / "f.db") as store:
        import_file(store, path)
        (f,) = store.flights()
    assert f["ground_run"] == 0 and f["max_height_m"] == pytest.approx(10.0)
    assert f["duration_s"] == pytest.approx(59.0)


def test_log_without_arming_records_or_evidence_has_no_flight(tmp_path: Path) -> None:
    path = tmp_path / "bench.bin"
    path.write_bytes(_copter4_binary(events=(57,)))
    with open_store(tmp_path / "f.db") as store:
        import_file(store, path)
        assert store.flights() == []


@pytest.mark.parametrize(
    ("stat", "flights"), [([0] * 60, 0), ([0] * 5 + [1] * 50 + [0] * 5, 1), ([1] * 60, 1)]
)
def test_stat_armed_gives_the_arming_state(stat: list[int], flights: int, tmp_path: Path) -> None:
    """STAT (Plane, Copter 4.x) says whether the vehicle is armed: a plane logging on the
    ground never armed has no flight, an armed one has it, even with no ARM record."""
    data = _copter4_binary(events=(15,) if flights else (), stat=stat)
    content = read_log(tmp_path / "s.bin", data)
    (track,) = content.tracks
    assert track.columns["armed"].tolist() == [float(a) for a in stat]
    path = tmp_path / "s.bin"
    path.write_bytes(data)
    with open_store(tmp_path / "f.db") as store:
        import_file(store, path)
        assert len(store.flights()) == flights


# -- PX4 ULog: long info records (crash dumps) are data, not damage --------------------------------
def _urec(t: str, body: bytes) -> bytes:
    return struct.pack("<HB", len(body), ord(t)) + body


def _ulog_with_crash_dump(n_long: int = 3, long_size: int = 17000) -> bytes:
    """A ULog with ``vehicle_status`` data around a crash dump written as ``n_long`` info
    records of ``long_size`` bytes (PX4 appends ``hardfault_plain`` like this)."""
    out = [b"ULog\x01\x12\x35\x01" + struct.pack("<Q", 1000)]
    out.append(_urec("F", b"vehicle_status:uint64_t timestamp;uint8_t arming_state"))
    out.append(_urec("A", struct.pack("<BH", 0, 0) + b"vehicle_status"))
    data = [_urec("D", struct.pack("<HQB", 0, 1_000_000 * (k + 1), 1)) for k in range(8)]
    key = f"char[{long_size}] hardfault_plain".encode()
    dump = [
        _urec("M", struct.pack("<BB", int(i > 0), len(key)) + key + b"x" * long_size)
        for i in range(n_long)
    ]
    return b"".join(out + data[:5] + dump + data[5:])


@pytest.mark.parametrize("n_long", [1, 3])
def test_ulog_crash_dump_records_are_not_damage(n_long: int) -> None:
    """pyulog's ``sample_appended_multiple.ulg``: three 17 KB ``hardfault_plain`` records were
    reported as a bad record and 52 KB of the file skipped."""
    data = _ulog_with_crash_dump(n_long)
    count, issues, repaired = scan_ulog(data)
    assert issues == [] and repaired == data
    assert count == 2 + 8 + n_long


def test_ulog_damaged_long_size_is_still_skipped() -> None:
    """A size field damaged into a long record that runs into garbage is not believed."""
    data = bytearray(_ulog_with_crash_dump(1))
    first_d = data.find(b"D\x00\x00")  # the first data record: size (2 bytes) before its type
    struct.pack_into("<HB", data, first_d - 2, 9000, ord("I"))
    count, issues, _ = scan_ulog(bytes(data))
    assert len(issues) == 1 and "bad ULog record" in issues[0].message
    assert count >= 2 + 7 + 1  # the record whose size was damaged is lost, the rest kept


# -- .tlog: only the messages a track uses are decoded ---------------------------------------------
def _tlog_frames() -> tuple[bytes, int]:
    """A tlog of ATTITUDE (not used by the track) and GLOBAL_POSITION_INT, one ATTITUDE with a
    flipped payload byte, and one v2 frame of a message id no dialect knows (60000)."""
    from pymavlink.dialects.v20 import ardupilotmega as mavlink

    mav = mavlink.MAVLink(None, srcSystem=1, srcComponent=1)
    t0_us = 1_717_000_000_000_000
    out = []
    for k in range(20):
        t_us = t0_us + k * 100_000
        att = bytearray(mavlink.MAVLink_attitude_message(k, 0, 0, 0, 0, 0, 0).pack(mav))
        if k == 7:
            att[12] ^= 0xFF  # a damaged payload: a bad checksum
        pos = mavlink.MAVLink_global_position_int_message(
            k * 100, 497475000, 133776000, 310000, 1000 * k, 0, 0, 0, 0
        ).pack(mav)
        out += [struct.pack(">Q", t_us) + bytes(att), struct.pack(">Q", t_us) + bytes(pos)]
        if k == 12:  # v2 header: magic, len, flags, flags, seq, sys, comp, msgid (3 bytes)
            unknown = bytes([0xFD, 2, 0, 0, k, 1, 1]) + (60000).to_bytes(3, "little")
            out.append(struct.pack(">Q", t_us) + unknown + b"\x01\x02" + b"\x00\x00")
    return b"".join(out), 41


def test_tlog_reader_decodes_only_track_messages_and_still_checks_the_rest() -> None:
    """A 45 MB tlog took 46 s to import, most of it decoding messages the track never reads;
    the rest are now checked by their checksum only, and counted as the decoder counts them
    (a message id the dialect does not know has no checksum to check)."""
    from telemetry.tlog import ParseStats, iter_tlog
    from telemetry.track import MAVLINK_TRACK_MESSAGES

    data, frames = _tlog_frames()
    st = ParseStats()
    msgs = list(iter_tlog(data, st, wanted=MAVLINK_TRACK_MESSAGES))
    assert {m.get_type() for _o, _t, m in msgs} == {"GLOBAL_POSITION_INT"} and len(msgs) == 20
    assert st.messages == frames - 1 and st.bad_crc == 1 and st.bad_bytes == 0
    assert [i.message for i in st.issues] == ["invalid MAVLink CRC in msgID 30"]
    full = ParseStats()  # every frame decoded: the same counts
    assert sum(1 for _ in iter_tlog(data, full)) == frames - 1
    assert (full.messages, full.bad_crc, full.bad_bytes) == (st.messages, 1, 0)
    content = read_log(Path("t.tlog"), data)
    (track,) = content.tracks
    assert track.n == 20 and content.messages == frames - 1 and content.bad_messages == 1


# -- no GPS (indoors): the flight is still a flight ------------------------------------------------
def test_dataflash_log_without_gps_has_its_flight_from_the_barometer(tmp_path: Path) -> None:
    """An ArduPilot log with no GPS position (no receiver, or never a fix) gave no samples, or
    heights of 0 m, so its flight was missing or a ground run."""
    baro_fmt, ev_fmt, gps_fmt = "QBfff", "QB", "QBBIHBcLLeffffB"
    gps_cols = "TimeUS,I,Status,GMS,GWk,NSats,HDop,Lat,Lng,Alt,Spd,GCrs,VZ,Yaw,U"
    parts = [
        _fmt_record(128, "FMT", "BBnNZ", "Type,Length,Name,Format,Columns"),
        _fmt_record(131, "BARO", baro_fmt, "TimeUS,I,Alt,Press,Temp"),
        _fmt_record(132, "EV", ev_fmt, "TimeUS,Id"),
        _fmt_record(133, "GPS", gps_fmt, gps_cols),
    ]
    for k in range(600):  # 10 Hz for 60 s: armed at 5 s, up to 12 m, disarmed at 55 s
        t_us = (100_000 + 100 * k) * 1000
        if k in (50, 550):
            parts.append(_record(132, ev_fmt, t_us, 10 if k == 50 else 11))
        h = max(0.0, min(12.0, (k - 100) * 0.1, (500 - k) * 0.1))
        parts.append(_record(131, baro_fmt, t_us, 0, h, 101325.0, 20.0))
        if k % 2 == 0:  # a receiver without a fix: position 0, 0
            parts.append(_record(133, gps_fmt, t_us, 0, 1, 0, 0, 0, 9999, 0, 0, 0, 0, 0, 0, 0, 0))
    path = tmp_path / "indoor.bin"
    path.write_bytes(b"".join(parts))
    with open_store(tmp_path / "f.db") as store:
        r = import_file(store, path)
        assert "no GPS position in the log; heights from the barometer" in [
            i.message for i in r.issues
        ]
        (f,) = store.flights()
    assert f["ground_run"] == 0 and f["max_height_m"] == pytest.approx(12.0, abs=0.01)
    assert f["duration_s"] == pytest.approx(49.9, abs=0.01)
    assert f["start_lat"] is None and f["distance_m"] == 0


def test_ulog_without_gps_has_its_flight_from_the_local_position(
    shared_data: Path, tmp_path: Path
) -> None:
    """A PX4 log with no GPS topic (indoors, optical flow) was imported with no samples and no
    flight ("no position topic")."""
    from pyulog import ULog

    u = ULog(str(shared_data / "logs" / "ulg_pyulog_sample_log_small.ulg"))
    gps_topics = {"vehicle_gps_position", "vehicle_global_position", "sensor_gps"}
    u._data_list = [d for d in u.data_list if d.name not in gps_topics]
    for name in gps_topics:
        u._message_formats.pop(name, None)
    path = tmp_path / "indoor.ulg"
    with open(path, "wb") as fh:
        u.write_ulog(fh)
    with open_store(tmp_path / "f.db") as store:
        r = import_file(store, path)
        assert "no GPS position in the log; heights from the local position" in [
            i.message for i in r.issues
        ]
        (f,) = store.flights()
    assert f["ground_run"] == 1 and f["duration_s"] == pytest.approx(5.2, abs=0.3)
    assert f["start_lat"] is None
