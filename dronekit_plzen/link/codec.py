"""MAVLink 2 codec with no I/O: bytes in, messages out; bad bytes counted, never raised.

Built on pymavlink's generated ``ardupilotmega`` dialect (a superset of ``common``, so PX4 and
ArduPilot messages both decode). The framing is our own so that noise never costs a real
message: after a bad frame (wrong CRC, impossible header, unknown message id whose CRC cannot be
checked) the parser re-synchronises one byte after the false start marker, where pymavlink's
robust parser drops the whole false frame and any real message inside it.

Signing (MAVLink 2, https://mavlink.io/en/guide/message_signing.html) is handled here per peer
system id: outgoing frames addressed to a system with a key are signed, incoming frames from a
system whose key is *required* are verified (SHA-256 signature, per-stream timestamp that must
increase, new streams at most one minute old); failures are counted, the frame is dropped.
"""

from __future__ import annotations

import hashlib
import struct
import time
from dataclasses import dataclass, field
from typing import Any

from pymavlink.dialects.v20 import ardupilotmega as mavlink2

MAVLink_message = mavlink2.MAVLink_message

STX_V1 = 0xFE
STX_V2 = 0xFD
IFLAG_SIGNED = 0x01
SIGNATURE_LEN = 13
HEADER_LEN_V1 = 6
HEADER_LEN_V2 = 10
#: 1 January 2015 00:00:00 UTC, the epoch of signing timestamps (10 µs units)
SIGNING_EPOCH_S = 1420070400
#: messages that a vehicle requiring signatures accepts unsigned (the specification's exemption)
UNSIGNED_ALLOWED = frozenset({mavlink2.MAVLINK_MSG_ID_RADIO_STATUS})


def signing_timestamp(now_s: float | None = None) -> int:
    """Current signing timestamp: 10 µs units since 2015-01-01 UTC."""
    now = time.time() if now_s is None else now_s
    return max(0, int((now - SIGNING_EPOCH_S) * 100_000))


def frame_signature(key: bytes, frame: bytes, link_id: int, timestamp: int) -> bytes:
    """The 6-byte signature: SHA-256(key + header + payload + CRC + link id + timestamp)[:6]."""
    h = hashlib.sha256()
    h.update(key)
    h.update(frame)
    h.update(struct.pack("<B", link_id))
    h.update(timestamp.to_bytes(6, "little"))
    return h.digest()[:6]


@dataclass
class SigningKey:
    """Signing set-up for one peer system."""

    key: bytes
    link_id: int = 0
    #: reject unsigned / badly signed frames from this system
    require_incoming: bool = True
    #: our outgoing timestamp (monotonic, 10 µs units)
    timestamp: int = field(default_factory=signing_timestamp)
    #: last accepted timestamp per (link id, system, component)
    streams: dict[tuple[int, int, int], int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if len(self.key) != 32:
            raise ValueError("a MAVLink signing key has 32 bytes")

    def next_timestamp(self) -> int:
        self.timestamp = max(self.timestamp + 1, signing_timestamp())
        return self.timestamp


@dataclass
class CodecStats:
    """Counters; never reset while the codec lives."""

    bytes_in: int = 0
    frames_ok: int = 0
    noise_bytes: int = 0
    bad_frames: int = 0
    unknown_ids: int = 0
    bad_signatures: int = 0
    unsigned_rejected: int = 0
    frames_out: int = 0


class Codec:
    """Encode/decode MAVLink frames for one local identity (system id, component id).

    Not thread-safe by itself: the link calls :meth:`feed` from its I/O thread only and
    :meth:`encode` under its send lock.
    """

    def __init__(self, system_id: int = 255, component_id: int = 190) -> None:
        self._mav = mavlink2.MAVLink(None, srcSystem=system_id, srcComponent=component_id)
        self._mav.robust_parsing = True
        self._buf = bytearray()
        self.stats = CodecStats()
        self.keys: dict[int, SigningKey] = {}

    @property
    def system_id(self) -> int:
        return int(self._mav.srcSystem)

    @property
    def component_id(self) -> int:
        return int(self._mav.srcComponent)

    @property
    def mav(self) -> Any:
        """pymavlink's generated message factory (``mav.heartbeat_encode(...)`` etc.)."""
        return self._mav

    # ---------------------------------------------------------------- decoding
    def feed(self, data: bytes, *, datagram: bool = False) -> list[Any]:
        """Parse ``data``; return every complete, valid message.

        With ``datagram=True`` (UDP) a frame cut at the end of the datagram is dropped and
        counted instead of being joined with the next datagram.
        """
        self.stats.bytes_in += len(data)
        buf = self._buf
        buf.extend(data)
        out: list[Any] = []
        pos = 0
        n = len(buf)
        while pos < n:
            b = buf[pos]
            if b != STX_V2 and b != STX_V1:
                nxt = _next_stx(buf, pos + 1)
                self.stats.noise_bytes += nxt - pos
                pos = nxt
                continue
            total = _frame_length(buf, pos)
            if total is None:  # impossible header
                self.stats.bad_frames += 1
                pos += 1
                continue
            if total == 0 or pos + total > n:  # incomplete
                if datagram:  # a datagram never continues in the next one: resync
                    self.stats.bad_frames += 1
                    pos += 1
                    continue
                break
            msg = self._decode(buf, pos, total)
            if msg is None:
                pos += 1
                continue
            if msg is not _REJECTED:
                out.append(msg)
            pos += total
        del buf[:pos]
        return out

    def flush(self) -> list[Any]:
        """End of stream: decode what a false start marker was holding back; drop the rest."""
        out = self.feed(b"", datagram=True)
        self._buf.clear()
        return out

    def _decode(self, buf: bytearray, pos: int, total: int) -> Any:
        """Decode one frame; None = not a frame (resync), _REJECTED = valid frame dropped."""
        v2 = buf[pos] == STX_V2
        msgid = (buf[pos + 7] | buf[pos + 8] << 8 | buf[pos + 9] << 16) if v2 else buf[pos + 5]
        if msgid not in mavlink2.mavlink_map:
            self.stats.unknown_ids += 1
            return None
        frame = bytearray(buf[pos : pos + total])
        try:
            msg = self._mav.decode(frame)
        except (mavlink2.MAVError, struct.error, ValueError, TypeError):
            self.stats.bad_frames += 1
            return None
        if not self._signature_ok(frame, msg, v2):
            return _REJECTED
        self.stats.frames_ok += 1
        return msg

    def _signature_ok(self, frame: bytearray, msg: Any, v2: bool) -> bool:
        src = msg.get_srcSystem()
        sk = self.keys.get(src)
        if sk is None or not sk.require_incoming:
            return True
        signed = v2 and bool(frame[2] & IFLAG_SIGNED)
        if not signed:
            if msg.get_msgId() in UNSIGNED_ALLOWED:
                return True
            self.stats.unsigned_rejected += 1
            return False
        link_id = frame[-SIGNATURE_LEN]
        timestamp = int.from_bytes(frame[-12:-6], "little")
        expected = frame_signature(sk.key, bytes(frame[:-SIGNATURE_LEN]), link_id, timestamp)
        if expected != bytes(frame[-6:]):
            self.stats.bad_signatures += 1
            return False
        stream = (link_id, src, msg.get_srcComponent())
        last = sk.streams.get(stream)
        if last is not None and timestamp <= last:
            self.stats.bad_signatures += 1  # replay
            return False
        if last is None and timestamp + 60 * 100_000 < sk.timestamp:
            self.stats.bad_signatures += 1  # a "new" stream more than a minute old
            return False
        sk.streams[stream] = timestamp
        sk.timestamp = max(sk.timestamp, timestamp)
        msg._dkp_verified = True  # the signature was checked against our key
        return True

    # ---------------------------------------------------------------- encoding
    def encode(self, msg: Any, *, target_system: int | None = None) -> bytes:
        """Pack ``msg`` as a MAVLink 2 frame from our identity; sign it when the target has a key.

        A broadcast (``target_system`` None or 0) is signed with the first configured key, so
        that a vehicle requiring signatures still accepts our heartbeat.
        """
        self._mav.signing.sign_outgoing = False
        raw = bytearray(msg.pack(self._mav))
        self._mav.seq = (self._mav.seq + 1) % 256
        self.stats.frames_out += 1
        sk = self.keys.get(target_system or 0) if target_system else None
        if sk is None and not target_system and self.keys:
            sk = next(iter(self.keys.values()))
        if sk is None:
            return bytes(raw)
        return sign_frame(raw, msg.crc_extra, sk)


class _Rejected:
    pass


_REJECTED = _Rejected()


def sign_frame(raw: bytearray, crc_extra: int, sk: SigningKey) -> bytes:
    """Turn an unsigned MAVLink 2 frame into a signed one (flag, CRC, signature block)."""
    raw[2] |= IFLAG_SIGNED
    body = raw[:-2]
    crc = mavlink2.x25crc(body[1:])
    crc.accumulate(struct.pack("B", crc_extra))
    framed = bytes(body) + struct.pack("<H", crc.crc)
    ts = sk.next_timestamp()
    sig = frame_signature(sk.key, framed, sk.link_id, ts)
    return framed + struct.pack("<B", sk.link_id) + ts.to_bytes(6, "little") + sig


def _next_stx(buf: bytearray, start: int) -> int:
    a = buf.find(STX_V2, start)
    b = buf.find(STX_V1, start)
    if a < 0:
        return b if b >= 0 else len(buf)
    if b < 0:
        return a
    return min(a, b)


def _frame_length(buf: bytearray, pos: int) -> int | None:
    """Total frame length at ``pos``; 0 when the header is not complete yet, None if impossible."""
    avail = len(buf) - pos
    if buf[pos] == STX_V2:
        if avail < 3:
            return 0
        incompat = buf[pos + 2]
        if incompat & ~IFLAG_SIGNED:
            return None
        length = HEADER_LEN_V2 + buf[pos + 1] + 2
        if incompat & IFLAG_SIGNED:
            length += SIGNATURE_LEN
        return length if avail >= HEADER_LEN_V2 else 0
    if avail < 2:
        return 0
    length = HEADER_LEN_V1 + buf[pos + 1] + 2
    return length if avail >= HEADER_LEN_V1 else 0
