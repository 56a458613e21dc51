"""Readers for autopilot logs: each turns a file into per-vehicle :class:`~telemetry.track.Track`s.

- ``.tlog`` (MAVLink with timestamps): :mod:`telemetry.tlog` + :class:`MavlinkTrackBuilder`.
- ArduPilot DataFlash ``.bin`` and text ``.log``: pymavlink's ``DFReader``, after a structural
  scan of the binary format that finds bad and truncated records and their byte offsets.
- PX4 ``.ulg``: pyulog, after a structural scan of the ULog message stream.

All readers keep the good data of a damaged file and return the problems as ``LogIssue``s.
"""

from __future__ import annotations

import contextlib
import io
import math
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from telemetry.tlog import LogIssue, ParseStats, iter_tlog
from telemetry.track import MavlinkTrackBuilder, Track, empty_columns, tracks_from_builder

GPS_EPOCH_S = 315964800  # 1980-01-06 in Unix time
GPS_LEAP_S = 18  # GPS - UTC since 2017


@dataclass
class LogContent:
    kind: str
    tracks: list[Track]
    messages: int = 0
    bad_messages: int = 0
    issues: list[LogIssue] = field(default_factory=list)


def detect_kind(path: Path, head: bytes) -> str:
    if head.startswith(b"ULog\x01\x12\x35"):
        return "ulog"
    if head[:2] == b"\xa3\x95":
        return "dataflash-bin"
    if head.lstrip()[:4] == b"FMT,":
        return "dataflash-log"
    if len(head) > 8 and head[8] in (0xFE, 0xFD):
        return "tlog"
    ext = path.suffix.lower()
    return {".tlog": "tlog", ".bin": "dataflash-bin", ".log": "dataflash-log", ".ulg": "ulog"}.get(
        ext, "unknown"
    )


def read_log(path: Path, data: bytes) -> LogContent:
    kind = detect_kind(path, data[:64])
    if kind == "tlog":
        return read_tlog_content(data)
    if kind == "dataflash-bin":
        return read_dataflash(path, data, binary=True)
    if kind == "dataflash-log":
        return read_dataflash(path, data, binary=False)
    if kind == "ulog":
        from telemetry.ulog import read_ulog

        return read_ulog(path, data)
    from dronekit_plzen.errors import BadInputError

    raise BadInputError("not a .tlog, DataFlash .bin/.log or .ulg file", where=str(path))


# -- tlog ------------------------------------------------------------------------------------------
def read_tlog_content(data: bytes) -> LogContent:
    st = ParseStats()
    builder = MavlinkTrackBuilder()
    feed = builder.feed
    for _off, t_s, msg in iter_tlog(data, st):
        feed(msg, t_s)
    return LogContent(
        "tlog", tracks_from_builder(builder), st.messages, st.bad_crc, list(st.issues)
    )


# -- DataFlash -------------------------------------------------------------------------------------
#: DataFlash format characters pymavlink's DFReader understands, and message-name syntax
_FMT_CHARS = set(b"BCEHILMNQZabcdefghinq")
_FMT_NAME = re.compile(rb"[A-Z0-9_]{1,4}")


def scan_dataflash(data: bytes, max_issues: int = 50) -> tuple[int, list[LogIssue], list[slice]]:
    """Walk the binary DataFlash records by their FMT lengths.

    Returns (records, issues, good): ``good`` are the byte ranges of well-formed records.
    """
    good: list[slice] = []
    run_start = 0
    lengths = {128: 89}
    n, p, count = len(data), 0, 0
    issues: list[LogIssue] = []
    while p + 3 <= n:
        if data[p] != 0xA3 or data[p + 1] != 0x95 or data[p + 2] not in lengths:
            q = p + 1
            while True:
                q = data.find(b"\xa3\x95", q)
                if q < 0 or (q + 2 < n and data[q + 2] in lengths):
                    break
                q += 1
            q = n if q < 0 else q
            if p > run_start:
                good.append(slice(run_start, p))
            run_start = q
            if len(issues) < max_issues:
                issues.append(LogIssue(p, f"bad DataFlash record header; {q - p} bytes skipped"))
            p = q
            continue
        mtype = data[p + 2]
        rlen = lengths[mtype]
        if p + rlen > n:
            issues.append(
                LogIssue(p, f"truncated DataFlash record at end of file ({n - p} of {rlen} bytes)")
            )
            break
        if mtype == 128:
            ftype, flen = data[p + 3], data[p + 4]
            name = data[p + 5 : p + 9].rstrip(b"\0")
            fmt = data[p + 9 : p + 25].rstrip(b"\0")
            if flen < 3 or not _FMT_NAME.fullmatch(name) or not set(fmt) <= _FMT_CHARS:
                # a damaged format definition would derail the reader: leave it out
                if p > run_start:
                    good.append(slice(run_start, p))
                run_start = p + rlen
                if len(issues) < max_issues:
                    issues.append(LogIssue(p, "bad DataFlash FMT record; left out"))
                p += rlen
                continue
            lengths[ftype] = flen
        count += 1
        p += rlen
    if min(p, n) > run_start:
        good.append(slice(run_start, min(p, n)))
    return count, issues, good


_EV_ARMED, _EV_DISARMED = 10, 11


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """pymavlink's DFReader prints diagnostics; keep stdout/stderr for our own output."""
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        yield


def read_dataflash(path: Path, data: bytes, *, binary: bool) -> LogContent:
    from pymavlink import DFReader, mavutil

    issues: list[LogIssue] = []
    tmp: Path | None = None
    if binary:
        _count, issues, good = scan_dataflash(data)
        src = path
        if issues:  # the reader sees only well-formed records (its C indexer prints on fd 2)
            import tempfile

            fd, name = tempfile.mkstemp(suffix=".bin")
            with open(fd, "wb") as fh:
                for sl in good:
                    fh.write(data[sl])
            src = tmp = Path(name)
        with _quiet():
            try:
                reader: Any = DFReader.DFReader_binary(str(src), zero_time_base=True)
            finally:
                if tmp is not None:
                    tmp.unlink()
    else:
        with _quiet():
            reader = DFReader.DFReader_text(str(path), zero_time_base=True)
    want = {"GPS", "POS", "BAT", "EV", "ARM", "MODE", "MSG", "ERR", "CAM", "TRIG", "PARM"}
    rows: dict[str, list[Any]] = {k: [] for k in want}
    messages = 0
    with _quiet():
        while True:
            try:
                m = reader.recv_msg()
            except Exception as exc:  # DFReader raises assorted errors on damaged records
                issues.append(LogIssue(int(getattr(reader, "offset", 0)), f"unreadable: {exc}"))
                break
            if m is None:
                break
            messages += 1
            mt = m.get_type()
            if mt in want:
                rows[mt].append(m)
    gps = [g for g in rows["GPS"] if getattr(g, "I", 0) == 0]
    fixed = [g for g in gps if g.Status >= 3 and g.GWk > 0]
    if fixed:
        offs = [
            GPS_EPOCH_S + g.GWk * 604800 + g.GMS * 1e-3 - GPS_LEAP_S - g.TimeUS * 1e-6
            for g in fixed
        ]
        offset = float(np.median(offs))
    else:
        offset = path.stat().st_mtime - (gps[-1].TimeUS * 1e-6 if gps else 0.0)
        issues.append(LogIssue(0, "no GPS time in the log; times are based on the file date"))
    pos = rows["POS"]
    if pos:
        t = np.array([m.TimeUS for m in pos], float) * 1e-6 + offset
        cols = empty_columns(t.size)
        cols["t_s"] = t
        cols["lat_deg"] = np.array([m.Lat for m in pos], float)
        cols["lon_deg"] = np.array([m.Lng for m in pos], float)
        cols["alt_amsl_m"] = np.array([m.Alt for m in pos], float)
        # RelHomeAlt since ArduPilot 3.6; older logs: RelAlt; else relative to the first fix
        rel = [getattr(m, "RelHomeAlt", getattr(m, "RelAlt", math.nan)) for m in pos]
        cols["rel_alt_m"] = np.array(rel, float)
        if not np.isfinite(cols["rel_alt_m"]).any():
            cols["rel_alt_m"] = cols["alt_amsl_m"] - cols["alt_amsl_m"][0]
    else:
        t = np.array([m.TimeUS for m in gps], float) * 1e-6 + offset
        cols = empty_columns(t.size)
        cols["t_s"] = t
        cols["lat_deg"] = np.array([m.Lat for m in gps], float)
        cols["lon_deg"] = np.array([m.Lng for m in gps], float)
        alt = np.array([m.Alt for m in gps], float)
        cols["alt_amsl_m"] = alt
        cols["rel_alt_m"] = alt - (alt[0] if alt.size else 0.0)
    bad = ~(np.isfinite(cols["lat_deg"]) & ((cols["lat_deg"] != 0) | (cols["lon_deg"] != 0)))
    cols["lat_deg"][bad] = np.nan
    cols["lon_deg"][bad] = np.nan
    if gps:
        gt = np.array([m.TimeUS for m in gps], float) * 1e-6 + offset
        cols["groundspeed_m_s"] = _ffill(gt, np.array([m.Spd for m in gps], float), t)
        cols["climb_m_s"] = _ffill(gt, -np.array([getattr(m, "VZ", math.nan) for m in gps]), t)
        cols["heading_deg"] = _ffill(gt, np.array([m.GCrs for m in gps], float), t)
    bat = [b for b in rows["BAT"] if getattr(b, "Instance", 0) == 0]
    if bat:
        bt = np.array([m.TimeUS for m in bat], float) * 1e-6 + offset
        cols["voltage_v"] = _ffill(bt, np.array([m.Volt for m in bat], float), t)
        cols["current_a"] = _ffill(bt, np.array([m.Curr for m in bat], float), t)
        cols["consumed_mah"] = _ffill(bt, np.array([m.CurrTot for m in bat], float), t)
        pct = [getattr(m, "RemPct", math.nan) for m in bat]
        cols["battery_pct"] = _ffill(bt, np.array(pct, float), t)
    # armed state: ARM messages and EV 10/11, stepwise
    changes: list[tuple[float, bool]] = []
    for m in rows["ARM"]:
        changes.append((m.TimeUS * 1e-6 + offset, bool(m.ArmState)))
    for m in rows["EV"]:
        if m.Id in (_EV_ARMED, _EV_DISARMED):
            changes.append((m.TimeUS * 1e-6 + offset, m.Id == _EV_ARMED))
    changes.sort()
    cols["armed"] = _armed_steps(changes, t)
    events: list[tuple[Any, ...]] = []
    firmware = " ".join(str(m.Message) for m in rows["MSG"][:20])
    table = (
        mavutil.mode_mapping_apm
        if "ArduPlane" in firmware
        else mavutil.mode_mapping_rover
        if "ArduRover" in firmware
        else mavutil.mode_mapping_acm
    )
    modes = dict(table)  # number → name
    for tt, a in changes:
        events.append((tt, "armed" if a else "disarmed", None, math.nan, *_at(cols, tt)))
    for m in rows["MODE"]:
        tt = m.TimeUS * 1e-6 + offset
        events.append(
            (tt, "mode", modes.get(m.ModeNum, str(m.ModeNum)), float(m.ModeNum), *_at(cols, tt))
        )
    for m in rows["MSG"]:
        tt = m.TimeUS * 1e-6 + offset
        events.append((tt, "statustext", str(m.Message), math.nan, *_at(cols, tt)))
    for m in rows["ERR"]:
        tt = m.TimeUS * 1e-6 + offset
        events.append(
            (tt, "failsafe", f"subsystem {m.Subsys} code {m.ECode}", float(m.ECode), *_at(cols, tt))
        )
    for m in rows["CAM"] or rows["TRIG"]:
        tt = m.TimeUS * 1e-6 + offset
        cam_alt = float(getattr(m, "RelAlt", getattr(m, "Alt", math.nan)))
        events.append(
            (
                tt,
                "camera",
                None,
                float(getattr(m, "Img", math.nan)),
                float(m.Lat),
                float(m.Lng),
                cam_alt,
            )
        )
    events.sort(key=lambda e: e[0])
    key = _ardupilot_key(rows["MSG"], rows["PARM"])
    sysid = next((int(p.Value) for p in rows["PARM"] if p.Name == "SYSID_THISMAV"), 1)
    track = Track(key, sysid, "ardupilot", None, cols, events)
    kind = "dataflash-bin" if binary else "dataflash-log"
    return LogContent(kind, [track] if track.n or events else [], messages, 0, issues)


def _ardupilot_key(msgs: list[Any], params: list[Any]) -> str:
    import re

    for m in msgs:
        text = str(m.Message)
        if re.fullmatch(r"\S+ [0-9A-F]{8} [0-9A-F]{8} [0-9A-F]{8}", text):
            return "ardupilot-" + text.replace(" ", "-")
    sysid = next((int(p.Value) for p in params if p.Name == "SYSID_THISMAV"), 1)
    return f"sysid-{sysid}"


def _ffill(src_t: np.ndarray, src_v: np.ndarray, t: np.ndarray) -> np.ndarray:
    """The latest value at or before each ``t`` (the first value before it starts)."""
    if src_t.size == 0:
        return np.full(t.size, np.nan)
    order = np.argsort(src_t, kind="stable")
    st, sv = src_t[order], src_v[order]
    idx = np.clip(np.searchsorted(st, t, side="right") - 1, 0, st.size - 1)
    return sv[idx]


def _armed_steps(changes: list[tuple[float, bool]], t: np.ndarray) -> np.ndarray:
    if not changes:
        return np.zeros(t.size)
    ct = np.array([c[0] for c in changes])
    cv = np.array([c[1] for c in changes], float)
    idx = np.searchsorted(ct, t, side="right") - 1
    # before the first change the vehicle was in the opposite state (logging began armed)
    return np.where(idx >= 0, cv[np.clip(idx, 0, None)], 1.0 - cv[0])


def _at(cols: dict[str, np.ndarray], tt: float) -> tuple[float, float, float]:
    t = cols["t_s"]
    if t.size == 0:
        return math.nan, math.nan, math.nan
    i = int(np.clip(np.searchsorted(t, tt) - 1, 0, t.size - 1))
    return float(cols["lat_deg"][i]), float(cols["lon_deg"][i]), float(cols["alt_amsl_m"][i])
