"""MAVLink 2 codec with no I/O: bytes in, messages out; bad bytes counted, never raised.

Messages of the ``common``, ``development`` and ``ardupilotmega`` dialects all decode (PX4
sends ``development`` messages, ArduPilot its own): :data:`MESSAGE_TYPES` merges pymavlink's
generated tables once at import, and :data:`_PLANS` holds, per message id, everything the
decoder needs (payload struct, CRC extra, field order), so decoding a frame is one dictionary
look-up, one CRC, one ``struct.unpack`` and the message's constructor. Encoding uses
pymavlink's ``ardupilotmega`` factory (:attr:`Codec.mav`). The framing is our own so that
noise never costs a real message: after a bad frame (wrong CRC, impossible header, unknown
message id whose CRC cannot be checked) the parser re-synchronises one byte after the false
start marker, where pymavlink's robust parser drops the whole false frame and any real message
inside it.

Signing (MAVLink 2, https://mavlink.io/en/guide/message_signing.html, see
:mod:`dronekit_plzen.link.signing`): outgoing frames are signed with the key of their target
system or with the connection's key (:attr:`Codec.signing`) and carry the connection's link id
(:attr:`Codec.link_id`); incoming frames from a system whose key is *required* are verified
here: the signature first, then the stream's timestamp (per system, component and link id)
must increase; only then is the timestamp recorded. Failures are counted, the frame dropped.
Unsigned frames pass only for the allow-list :data:`UNSIGNED_ALLOWED` (RADIO_STATUS).
"""

from __future__ import annotations

import operator
import struct
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NamedTuple

from pymavlink.dialects.v20 import ardupilotmega as mavlink2
from pymavlink.dialects.v20 import common as _common

from dronekit_plzen.link.signing import (
    IFLAG_SIGNED,
    SIGNATURE_LEN,
    SIGNING_EPOCH_S,
    UNSIGNED_ALLOWED,
    SigningKey,
    StreamTable,
    frame_signature,
    sign_frame,
    signature_valid,
    signing_timestamp,
)

try:  # PX4's in-progress messages (present in every pymavlink of the last years)
    from pymavlink.dialects.v20 import development as _development
except ImportError:  # pragma: no cover - an old pymavlink
    _development = None

MAVLink_message = mavlink2.MAVLink_message

STX_V1 = 0xFE
STX_V2 = 0xFD
HEADER_LEN_V1 = 6
HEADER_LEN_V2 = 10


def _merged_types() -> dict[int, Any]:
    """Message id -> generated class over common, development and ardupilotmega.

    The three agree on every shared id (same CRC extra); ardupilotmega's class wins, then
    development's, so a message keeps the class the rest of the toolkit already knows.
    """
    out: dict[int, Any] = {}
    for module in (_common, _development, mavlink2):
        if module is not None:
            out.update(module.mavlink_map)
    return out


#: every message id this codec decodes, with its pymavlink class
MESSAGE_TYPES: dict[int, Any] = _merged_types()


class _Plan(NamedTuple):
    cls: type
    unpacker: struct.Struct
    size: int
    crc_extra: bytes
    reorder: Callable[[tuple[Any, ...]], list[Any]]
    strings: tuple[int, ...]


def _plan(cls: Any) -> _Plan:
    orders: list[int] = list(cls.orders)
    lengths: list[int] = list(cls.lengths)
    reorder: Callable[[tuple[Any, ...]], list[Any]]
    if sum(lengths) == len(lengths):  # no arrays: a permutation of the unpacked tuple
        if len(orders) == 1:
            only = orders[0]

            def reorder(t: tuple[Any, ...], _i: int = only) -> list[Any]:
                return [t[_i]]

        else:
            get = operator.itemgetter(*orders)

            def reorder(t: tuple[Any, ...], _g: Any = get) -> list[Any]:
                return list(_g(t))

    else:  # arrays: (start, length) of each field in declaration order
        spans = tuple((sum(lengths[:o]), lengths[o]) for o in orders)

        def reorder(t: tuple[Any, ...], _s: Any = spans) -> list[Any]:
            return [t[a] if n == 1 else list(t[a : a + n]) for a, n in _s]

    strings = tuple(i for i, ft in enumerate(cls.fieldtypes) if ft == "char")
    return _Plan(cls, cls.unpacker, cls.unpacker.size, bytes([cls.crc_extra]), reorder, strings)


_PLANS: dict[int, _Plan] = {mid: _plan(cls) for mid, cls in MESSAGE_TYPES.items()}
_mcrf4xx = getattr(mavlink2, "mcrf4xx", None)


def _crc_slow(body: bytes | bytearray, crc_extra: bytes) -> int:
    c = mavlink2.x25crc(body)
    c.accumulate(crc_extra)
    return int(c.crc)


def _crc_fast(body: bytes | bytearray, crc_extra: bytes) -> int:
    return int(_mcrf4xx(crc_extra, _mcrf4xx(body, 0xFFFF)))  # type: ignore[misc]


#: CRC-16/MCRF4XX of ``body`` then ``crc_extra`` (pymavlink's C implementation when present)
_crc = _crc_fast if _mcrf4xx is not None else _crc_slow


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


class Frame(NamedTuple):
    """A frame whose CRC (and, when a key applies, signature and freshness) checked out.

    ``raw`` is the whole frame; its payload is ``raw[header_len:payload_end]`` (MAVLink 2 cuts
    trailing zero bytes: pad it to the message's size before unpacking).
    """

    msgid: int
    src: int
    comp: int
    raw: bytes
    header_len: int
    payload_end: int
    #: signed, and the signature checked against our key
    verified: bool

    @property
    def seq(self) -> int:
        """The sender's packet sequence number."""
        return self.raw[4] if self.header_len == HEADER_LEN_V2 else self.raw[2]


class Codec:
    """Encode/decode MAVLink frames for one local identity (system id, component id).

    Not thread-safe by itself: the link calls :meth:`feed` from its I/O thread only and
    :meth:`encode` under its send lock.
    """

    def __init__(self, system_id: int = 255, component_id: int = 190, link_id: int = 0) -> None:
        self._mav = mavlink2.MAVLink(None, srcSystem=system_id, srcComponent=component_id)
        self._mav.robust_parsing = True
        self._buf = bytearray()
        self.stats = CodecStats()
        #: per peer system id: its key (overrides :attr:`signing`)
        self.keys: dict[int, SigningKey] = {}
        #: the connection's key: signs everything we send, required from every peer
        self.signing: SigningKey | None = None
        #: the link id our signed frames carry (one per connection)
        self.link_id = link_id
        #: our signing clock and the last accepted timestamp of every incoming stream
        self.streams = StreamTable()

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

    def set_key(self, sysid: int | None, key: SigningKey | None) -> None:
        """Key for one peer (``sysid``) or, with ``sysid`` None, for the whole connection."""
        if sysid is None:
            self.signing = key
            self.streams.streams.clear()
        else:
            if key is None:
                self.keys.pop(sysid, None)
            else:
                self.keys[sysid] = key
            self.streams.forget_system(sysid)
        if key is not None and key.timestamp > self.streams.timestamp:
            self.streams.timestamp = key.timestamp

    # ---------------------------------------------------------------- decoding
    def feed(self, data: bytes, *, datagram: bool = False) -> list[Any]:
        """Parse ``data``; return every complete, valid message.

        With ``datagram=True`` (UDP) a frame cut at the end of the datagram is dropped and
        counted instead of being joined with the next datagram.
        """
        out: list[Any] = []
        message = self.message
        for frame in self.frames(data, datagram=datagram):
            msg = message(frame)
            if msg is not None:
                out.append(msg)
        return out

    def frames(self, data: bytes, *, datagram: bool = False) -> list[Frame]:
        """Parse ``data`` into checked frames (CRC, signature) without decoding the payloads.

        The first half of :meth:`feed`: a hot path decodes the few frames it waits for itself
        (:mod:`dronekit_plzen.link.mission_wire`) and builds the messages of the others with
        :meth:`message` later. A datagram is parsed where it lies, with no copy.
        """
        stats = self.stats
        n = len(data)
        stats.bytes_in += n
        buf: bytes | bytearray
        pos = 0
        if datagram and not self._buf:  # nothing held back: parse the datagram in place
            if (
                n >= 12
                and data[0] == STX_V2
                and not data[2] & ~IFLAG_SIGNED
                and n == 12 + data[1] + (SIGNATURE_LEN if data[2] else 0)
            ):  # one MAVLink 2 frame, the whole datagram: the usual case
                first = self._check(data, 0, n)
                if first is _REJECTED:
                    return []
                if first is not None:
                    return [first]  # type: ignore[list-item]
                pos = 1  # not a frame after all: look for one further on
            buf = data
        else:
            buf = self._buf
            buf.extend(data)
        out: list[Frame] = []
        n = len(buf)
        while pos < n:
            b = buf[pos]
            if b != STX_V2 and b != STX_V1:
                nxt = _next_stx(buf, pos + 1)
                stats.noise_bytes += nxt - pos
                pos = nxt
                continue
            total = _frame_length(buf, pos)
            if total is None:  # impossible header
                stats.bad_frames += 1
                pos += 1
                continue
            if total == 0 or pos + total > n:  # incomplete
                if datagram:  # a datagram never continues in the next one: resync
                    stats.bad_frames += 1
                    pos += 1
                    continue
                break
            frame = self._check(buf, pos, total)
            if frame is None:
                pos += 1
                continue
            if frame is not _REJECTED:
                out.append(frame)  # type: ignore[arg-type]
            pos += total
        if buf is self._buf:
            del self._buf[:pos]
        return out

    def flush(self) -> list[Any]:
        """End of stream: decode what a false start marker was holding back; drop the rest."""
        out = self.feed(b"", datagram=True)
        self._buf.clear()
        return out

    def _check(self, buf: bytes | bytearray, pos: int, total: int) -> Frame | _Rejected | None:
        """Check one frame; None = not a frame (resync), _REJECTED = valid frame dropped."""
        if buf[pos] == STX_V2:
            hl = HEADER_LEN_V2
            msgid = buf[pos + 7] | buf[pos + 8] << 8 | buf[pos + 9] << 16
            src, comp = buf[pos + 5], buf[pos + 6]
            sig_len = SIGNATURE_LEN if buf[pos + 2] & IFLAG_SIGNED else 0
        else:
            hl = HEADER_LEN_V1
            msgid = buf[pos + 5]
            src, comp = buf[pos + 3], buf[pos + 4]
            sig_len = 0
        plan = _PLANS.get(msgid)
        if plan is None:
            self.stats.unknown_ids += 1
            return None
        raw = bytes(buf[pos : pos + total]) if pos or total != len(buf) else bytes(buf)
        end = total - sig_len - 2
        crc = (
            _mcrf4xx(plan.crc_extra, _mcrf4xx(raw[1:end], 0xFFFF))
            if _mcrf4xx is not None
            else _crc_slow(raw[1:end], plan.crc_extra)
        )
        if crc != raw[end] | raw[end + 1] << 8:
            self.stats.bad_frames += 1
            return None
        verified = False
        sk = (self.keys.get(src) if self.keys else None) or self.signing
        if sk is not None and sk.require_incoming:
            if not sig_len:
                if msgid not in UNSIGNED_ALLOWED:
                    self.stats.unsigned_rejected += 1
                    return _REJECTED
            elif not signature_valid(sk.key, raw) or not self.streams.accept(
                (src, comp, raw[-SIGNATURE_LEN]), int.from_bytes(raw[-12:-6], "little")
            ):
                self.stats.bad_signatures += 1  # forged, replayed or stale: nothing recorded
                return _REJECTED
            else:
                verified = True
        self.stats.frames_ok += 1
        return _tuple_new(Frame, (msgid, src, comp, raw, hl, end, verified))

    def message(self, frame: Frame) -> Any:
        """The pymavlink message of a checked frame (None if its payload does not unpack)."""
        raw, hl, end = frame.raw, frame.header_len, frame.payload_end
        plan = _PLANS[frame.msgid]
        payload = raw[hl:end]
        size = plan.size
        body = payload + bytes(size - len(payload)) if len(payload) < size else payload[:size]
        try:
            vals = plan.reorder(plan.unpacker.unpack(body))
            for i in plan.strings:
                vals[i] = vals[i].rstrip(b"\x00")
            msg = plan.cls(*vals)
        except (struct.error, ValueError, TypeError, AttributeError):  # pragma: no cover
            self.stats.frames_ok -= 1
            self.stats.bad_frames += 1
            return None
        msg._signed = frame.verified
        if end + 2 < len(raw):
            msg._link_id = raw[-SIGNATURE_LEN]
        msg._msgbuf = bytearray(raw)
        msg._payload = payload
        msg._crc = raw[end] | raw[end + 1] << 8
        if hl == HEADER_LEN_V2:
            incompat, compat, seq = raw[2], raw[3], raw[4]
        else:
            incompat = compat = 0
            seq = raw[2]
        msg._header = mavlink2.MAVLink_header(
            frame.msgid, incompat, compat, end - hl, seq, frame.src, frame.comp
        )
        if frame.verified:
            msg._dkp_verified = True  # the signature was checked against our key
        return msg

    # ---------------------------------------------------------------- encoding
    def encode(self, msg: Any, *, target_system: int | None = None) -> bytes:
        """Pack ``msg`` as a MAVLink 2 frame from our identity; sign it when a key applies.

        The key is the target system's, else the connection's (:attr:`signing`); a broadcast
        (``target_system`` None or 0) with no connection key is signed with the first
        per-system key, so that a vehicle requiring signatures still accepts our heartbeat.
        """
        self._mav.signing.sign_outgoing = False
        raw = bytearray(msg.pack(self._mav))
        self._mav.seq = (self._mav.seq + 1) % 256
        self.stats.frames_out += 1
        sk = (self.keys.get(target_system) if target_system else None) or self.signing
        if sk is None and not target_system and self.keys:
            sk = next(iter(self.keys.values()))
        if sk is None:
            return bytes(raw)
        table = self.streams
        if sk.timestamp > table.timestamp:
            table.timestamp = sk.timestamp
        link_id = self.link_id if sk.link_id is None else sk.link_id
        return sign_frame(raw, msg.crc_extra, sk.key, link_id, table.next_timestamp())


#: builds a NamedTuple from a tuple without its Python-level ``__new__`` (hot paths)
_tuple_new = tuple.__new__


class _Rejected:
    pass


_REJECTED = _Rejected()


def _next_stx(buf: bytes | bytearray, start: int) -> int:
    a = buf.find(STX_V2, start)
    b = buf.find(STX_V1, start)
    if a < 0:
        return b if b >= 0 else len(buf)
    if b < 0:
        return a
    return min(a, b)


def _frame_length(buf: bytes | bytearray, pos: int) -> int | None:
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


__all__ = [
    "IFLAG_SIGNED",
    "MESSAGE_TYPES",
    "SIGNATURE_LEN",
    "SIGNING_EPOCH_S",
    "UNSIGNED_ALLOWED",
    "Codec",
    "CodecStats",
    "Frame",
    "SigningKey",
    "frame_signature",
    "signing_timestamp",
]
