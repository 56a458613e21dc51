"""The ``.tlog`` format: each MAVLink frame preceded by its receive time, 8 bytes big-endian µs.

This is what MAVProxy, QGroundControl, Mission Planner and pymavlink's ``mavlogfile`` write and
read. :func:`iter_tlog` is a codec over bytes (no I/O): it yields ``(offset, t_s, msg)`` and
records every bad stretch (bad CRC, garbage, a truncated last frame) as a :class:`LogIssue`
with its byte offset, resynchronising on the next plausible record instead of giving up.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, cast

from dronekit_plzen.errors import raised_by_library
from dronekit_plzen.i18n import _

_TS = struct.Struct(">Q")
_V1, _V2 = 0xFE, 0xFD
#: timestamps further than this from the last good one mark a false sync (3 days, as pymavlink)
_MAX_JUMP_US = 3 * 24 * 3600 * 1_000_000
_MIN_US, _MAX_US = 946684800 * 1_000_000, 4102444800 * 1_000_000  # 2000-01-01 .. 2100-01-01


@dataclass(frozen=True)
class LogIssue:
    offset: int  # the byte where it is; -1 when it is not at one place in the file
    message: str

    def to_dict(self) -> dict[str, Any]:
        """As JSON: the offset null for an issue not at one place in the file (-1)."""
        return {"offset": self.offset if self.offset >= 0 else None, "message": self.message}


@dataclass
class ParseStats:
    messages: int = 0
    bad_crc: int = 0
    bad_bytes: int = 0
    issues: list[LogIssue] = field(default_factory=list)
    #: at most this many issues are listed individually (the counters keep counting)
    max_issues: int = 50

    #: the longest run of consecutive records with one timestamp: its first record's offset,
    #: its length and the timestamp (µs)
    still_at: int = 0
    still_records: int = 0
    still_us: int = 0
    #: records stamped earlier than the record before them, and the first one's offset
    backward: int = 0
    backward_at: int = -1
    _prev_us: int = -1
    _run_at: int = 0
    _run: int = 0

    def add(self, offset: int, message: str) -> None:
        if len(self.issues) < self.max_issues:
            self.issues.append(LogIssue(offset, message))

    def clock(self, offset: int, us: int) -> None:
        """Note the timestamp of the record at ``offset`` (runs of one stamp, steps back)."""
        prev = self._prev_us
        self._prev_us = us
        if us == prev:
            self._run += 1
            if self._run > self.still_records:
                self.still_at, self.still_records, self.still_us = self._run_at, self._run, us
            return
        if us < prev:
            self.backward += 1
            if self.backward_at < 0:
                self.backward_at = offset
        self._run_at, self._run = offset, 1
        if self.still_records == 0:
            self.still_at, self.still_records, self.still_us = offset, 1, us


def make_codec() -> Any:
    """A pymavlink MAVLink codec (ardupilotmega dialect, v1 and v2 frames) with no I/O."""
    from pymavlink.dialects.v20 import ardupilotmega as mavlink

    mav = mavlink.MAVLink(None)
    mav.robust_parsing = True
    return mav


def _frame_len(data: bytes | memoryview, p: int) -> int:
    """Length of the MAVLink frame starting at ``p`` (0 when the magic is wrong).

    A header cut off by the end of the data gives a length reaching past the end.
    """
    if p + 3 > len(data):
        return len(data) - p + 1
    magic = data[p]
    if magic == _V1:
        return data[p + 1] + 8
    if magic == _V2:
        signed = data[p + 2] & 0x01
        return data[p + 1] + 12 + (13 if signed else 0)
    return 0


def _plausible(data: bytes, p: int, last_us: int | None) -> bool:
    if p + 9 > len(data):
        return False
    if data[p + 8] not in (_V1, _V2):
        return False
    (us,) = _TS.unpack_from(data, p)
    if last_us is not None:
        return abs(us - last_us) <= _MAX_JUMP_US
    return _MIN_US <= us <= _MAX_US


def _msg_id(frame: bytes | bytearray) -> int:
    if frame[0] == _V1:
        return frame[5]
    return frame[7] | frame[8] << 8 | frame[9] << 16


def _crc16() -> Callable[[bytes], int]:
    """CRC-16/MCRF4XX as the decoder computes it: fastcrc's C function when installed."""
    from pymavlink.generator import mavcrc

    fast = mavcrc.mcrf4xx
    if fast is not None:
        return cast(Callable[[bytes], int], fast)
    return lambda body: int(mavcrc.x25crc(body).crc)


def _crc_ok(frame: bytes | bytearray, crc_extra: int, crc16: Callable[[bytes], int]) -> bool:
    """The frame's checksum (CRC-16/MCRF4XX of header and payload, then the message's extra
    byte) is right: what the decoder checks first, without decoding the payload."""
    end = (6 if frame[0] == _V1 else 10) + frame[1]
    body = bytes(frame[1:end]) + bytes([crc_extra])
    return int(crc16(body)) == frame[end] | frame[end + 1] << 8


def iter_tlog(
    data: bytes, stats: ParseStats | None = None, *, wanted: Collection[str] | None = None
) -> Iterator[tuple[int, float, Any]]:
    """Decode a whole ``.tlog`` held in memory; yields ``(offset, t_s, msg)``.

    Bad frames never raise: CRC failures are counted in ``stats.bad_crc`` and skipped,
    unparseable stretches are skipped to the next plausible record (``stats.bad_bytes``), and a
    frame cut off by the end of the file is reported with its offset.

    ``wanted`` (message names) limits what is decoded and yielded: the other frames are only
    checked by their checksum and counted (decoding every frame of a 45 MB tlog took most of a
    minute, for the 5 % of its messages a track uses), counted as the decoder counts them.
    """
    st = stats if stats is not None else ParseStats()
    mav = make_codec()
    decode = mav.decode
    keep: set[int] | None = None  # the message ids decoded (None: all)
    crc_extra: dict[int, int] = {}  # every message id the dialect knows → its CRC extra byte
    crc16 = _crc16()
    if wanted is not None:
        from pymavlink.dialects.v20 import ardupilotmega as dialect

        crc_extra = {i: int(c.crc_extra) for i, c in dialect.mavlink_map.items()}
        keep = {i for i, c in dialect.mavlink_map.items() if c.msgname in set(wanted)}
    n = len(data)
    p = 0
    last_us: int | None = relative_start_us(data)
    while p < n:
        if n - p < 9:
            st.add(p, _("truncated record at end of file ({n} bytes)").format(n=n - p))
            st.bad_bytes += n - p
            return
        if not _plausible(data, p, last_us):
            q = _resync(data, p + 1, last_us)
            st.add(p, _("{n} bytes of garbage skipped").format(n=q - p))
            st.bad_bytes += q - p
            p = q
            continue
        (us,) = _TS.unpack_from(data, p)
        flen = _frame_len(data, p + 8)
        end = p + 8 + flen
        if end > n:
            st.add(
                p,
                _("truncated MAVLink frame at end of file ({n} of {size} bytes)").format(
                    n=n - p, size=8 + flen
                ),
            )
            st.bad_bytes += n - p
            return
        if keep is not None:
            frame = data[p + 8 : end]
            mid = _msg_id(frame)
            if mid not in keep:
                extra = crc_extra.get(mid)
                if extra is None or _crc_ok(frame, extra, crc16):
                    st.messages += 1
                else:
                    st.bad_crc += 1
                    if st.bad_crc <= 3:
                        st.add(p, _("invalid MAVLink CRC in msgID {mid}").format(mid=mid))
                st.clock(p, us)
                last_us = us
                p = end
                continue
        try:
            msg = decode(bytearray(data[p + 8 : end]))
        except Exception as exc:  # pymavlink raises MAVError (and struct.error) on bad frames
            if not raised_by_library(exc):
                raise
            text = str(exc)
            if "CRC" in text:
                st.bad_crc += 1
                if st.bad_crc <= 3:
                    st.add(p, text)
                st.clock(p, us)
                p = end
                last_us = us
            else:
                q = _resync(data, p + 1, last_us)
                st.add(p, _("{text}; {n} bytes skipped").format(text=text, n=q - p))
                st.bad_bytes += q - p
                p = q
            continue
        st.messages += 1
        st.clock(p, us)
        last_us = us
        yield p, us * 1e-6, msg
        p = end


def relative_start_us(data: bytes) -> int | None:
    """The first timestamp of a ``.tlog`` whose clock is not Unix time (µs since some start, as
    some tools write), when its first record is a whole MAVLink frame with a right checksum and
    the next record (if any) is on the same clock; None otherwise (Unix times, or no such
    frame: the reader then resynchronises as for damage).

    Later records must follow within the usual jump of this clock, as they do of a Unix one.
    """
    if len(data) < 9 or data[8] not in (_V1, _V2) or _plausible(data, 0, None):
        return None
    end = 8 + _frame_len(data, 8)
    if end > len(data):
        return None
    from pymavlink.dialects.v20 import ardupilotmega as dialect

    frame = data[8:end]
    cls = dialect.mavlink_map.get(_msg_id(frame))
    if cls is None or not _crc_ok(frame, int(cls.crc_extra), _crc16()):
        return None
    (us,) = _TS.unpack_from(data, 0)
    if end + 9 <= len(data):  # the next record follows on the same clock (a damaged stamp of a
        (nxt,) = _TS.unpack_from(data, end)  # Unix-timed log does not set the clock)
        if data[end + 8] not in (_V1, _V2) or _plausible(data, end, None):
            return None
        if abs(nxt - us) > _MAX_JUMP_US:
            return None
    return int(us)


def is_unix_time_us(us: float) -> bool:
    """A ``.tlog`` timestamp (µs) in Unix time (2000–2100), not a relative clock."""
    return _MIN_US <= us <= _MAX_US


def _resync(data: bytes, p: int, last_us: int | None) -> int:
    """The next offset ≥ p where a timestamp + MAVLink magic plausibly starts (or len(data))."""
    n = len(data)
    while p < n - 8:
        i1 = data.find(b"\xfe", p + 8)
        i2 = data.find(b"\xfd", p + 8)
        cands = [i for i in (i1, i2) if i >= 0]
        if not cands:
            return n
        q = min(cands) - 8
        if _plausible(data, q, last_us):
            nxt = q + 8 + _frame_len(data, q + 8)
            # confirm with the following record when there is one
            if nxt >= n or _plausible(data, nxt, last_us) or nxt + 9 > n:
                return q
        p = q + 1
    return n


def read_tlog(
    path: str | Path, stats: ParseStats | None = None
) -> Iterator[tuple[int, float, Any]]:
    """:func:`iter_tlog` over a file (read whole: tlogs are small next to memory)."""
    data = Path(path).read_bytes()
    yield from iter_tlog(data, stats)


class TlogWriter:
    """Appends raw frames in ``.tlog`` format; ``flush`` after each batch for crash safety."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._fh: IO[bytes] = open(self.path, "ab")  # noqa: SIM115 (closed in close())
        except OSError as exc:  # a folder in its place, no permission: named, not a traceback
            from dronekit_plzen.outputs import output_error

            raise output_error(self.path, exc) from exc
        self.frames = 0

    def write(self, t_s: float, frame: bytes) -> None:
        self._fh.write(_TS.pack(int(t_s * 1e6)) + frame)
        self.frames += 1

    def flush(self) -> None:
        self._fh.flush()

    def close(self) -> None:
        if not self._fh.closed:
            self._fh.flush()
            self._fh.close()
