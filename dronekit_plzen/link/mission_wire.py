"""The mission protocol's messages on the wire, packed and unpacked by hand for the hot path.

A mission transfer is one round trip per item, so the time our side takes to answer is the
transfer's speed. Building a pymavlink message object per request and per item costs more than
the rest of the answer, so the transfer reads the few messages it waits for straight from
checked frames (:class:`~dronekit_plzen.link.codec.Frame`: CRC, CRC_EXTRA and, when signing is
on, the signature already verified by :meth:`Codec.frames
<dronekit_plzen.link.codec.Codec.frames>`) with one ``struct`` unpack into a small
:class:`MissionMessage`; the pymavlink message is built later, off the hot path, only if
someone else on the link wants it. On an unsigned datagram link even the codec is skipped:
:func:`peek` recognises a datagram that is one mission reply from its header, checks its CRC
and reads the two fields the transfer acts on; downloaded items are decoded later, a chunk at
a time, into one numpy record array (:func:`items_of`). Layouts come from pymavlink's
generated classes (the MAVLink 2 wire order, fields by size), so this module holds no layout of
its own.

Outgoing items and item requests are packed here too (:func:`item_int_payload`,
:func:`request_int_payload`); the link frames them once and only patches the sequence number,
CRC and signature per send.
"""

from __future__ import annotations

import operator
import re
import struct
from collections.abc import Sequence
from typing import Any, NamedTuple

import numpy as np

from dronekit_plzen.link.codec import HEADER_LEN_V2, MESSAGE_TYPES, STX_V2, Frame, _crc, _tuple_new

MISSION_ITEM = 39
MISSION_REQUEST = 40
MISSION_REQUEST_LIST = 43
MISSION_COUNT = 44
MISSION_ACK = 47
MISSION_REQUEST_INT = 51
MISSION_ITEM_INT = 73
#: message ids of the replies a transfer waits for
MISSION_REPLY_IDS = frozenset(
    {
        MISSION_ITEM,
        MISSION_REQUEST,
        MISSION_COUNT,
        MISSION_ACK,
        MISSION_REQUEST_INT,
        MISSION_ITEM_INT,
    }
)
REQUEST_IDS = frozenset({MISSION_REQUEST, MISSION_REQUEST_INT})
ITEM_IDS = frozenset({MISSION_ITEM, MISSION_ITEM_INT})
CRC_EXTRA = {mid: int(MESSAGE_TYPES[mid].crc_extra) for mid in MISSION_REPLY_IDS}


class WireItem(NamedTuple):
    """A MISSION_ITEM_INT / MISSION_ITEM's fields, with pymavlink's names (``MissionItem.from_wire``
    reads it as it reads the message). ``x``/``y`` are 1e7 degrees (INT) or degrees (legacy)."""

    seq: int
    frame: int
    command: int
    current: int
    autocontinue: int
    param1: float
    param2: float
    param3: float
    param4: float
    x: float
    y: float
    z: float
    mission_type: int


class MissionMessage(NamedTuple):
    """One of the vehicle's mission-protocol replies, as the transfer needs it."""

    msgid: int
    sysid: int
    mission_type: int
    #: the item asked for (MISSION_REQUEST*) or sent (MISSION_ITEM*)
    seq: int = 0
    #: MISSION_COUNT's count
    item_count: int = 0
    #: MISSION_ACK's MAV_MISSION_RESULT (its ``type`` field)
    result: int = 0
    #: MISSION_ITEM*'s fields
    item: WireItem | None = None
    #: MISSION_ITEM* recognised by :func:`peek`: the datagram, decoded by :func:`item_of` later
    raw: bytes | None = None

    @property
    def int_coords(self) -> bool:
        return self.msgid == MISSION_ITEM_INT

    @classmethod
    def of(cls, msg: Any) -> MissionMessage | None:
        """From a pymavlink message (the transfer's slow path: a queue, not the socket)."""
        mid = msg.get_msgId()
        mt = int(getattr(msg, "mission_type", 0))
        sysid = msg.get_srcSystem()
        if mid in REQUEST_IDS:
            return cls(mid, sysid, mt, seq=int(msg.seq))
        if mid == MISSION_COUNT:
            return cls(mid, sysid, mt, item_count=int(msg.count))
        if mid == MISSION_ACK:
            return cls(mid, sysid, mt, result=int(msg.type))
        if mid in ITEM_IDS:
            item = WireItem._make([*(getattr(msg, f) for f in _ITEM_FIELDS[:-1]), mt])
            return cls(mid, sysid, mt, seq=item.seq, item=item)
        return None


_ITEM_FIELDS = WireItem._fields


def _layout(msgid: int, fields: tuple[str, ...]) -> tuple[struct.Struct, Any]:
    """The payload's struct and a getter of ``fields`` (in that order) from its unpacked tuple."""
    cls = MESSAGE_TYPES[msgid]
    order = list(cls.ordered_fieldnames)
    idx = [order.index(f) for f in fields]
    return cls.unpacker, operator.itemgetter(*idx)


_ZEROS = bytes(64)


_LAYOUTS = {
    **{mid: _layout(mid, ("seq", "mission_type")) for mid in REQUEST_IDS},
    **{mid: _layout(mid, _ITEM_FIELDS) for mid in ITEM_IDS},
    MISSION_COUNT: _layout(MISSION_COUNT, ("count", "mission_type")),
    MISSION_ACK: _layout(MISSION_ACK, ("type", "mission_type")),
}


def decode(frame: Frame) -> MissionMessage | None:
    """The mission reply in a checked frame; None for any other message."""
    mid, src, _comp, raw, hl, end, _verified = frame
    layout = _LAYOUTS.get(mid)
    if layout is None:
        return None
    unpacker, get = layout
    size = unpacker.size
    if end - hl >= size:
        vals = get(unpacker.unpack_from(raw, hl))
    else:  # MAVLink 2 cut the payload's trailing zero bytes: put them back
        vals = get(unpacker.unpack(raw[hl:end] + _ZEROS[: size - (end - hl)]))
    if mid in ITEM_IDS:
        item = _tuple_new(WireItem, vals)
        return _tuple_new(MissionMessage, (mid, src, vals[-1], vals[0], 0, 0, item, None))
    value, mt = vals
    if mid in REQUEST_IDS:
        return _tuple_new(MissionMessage, (mid, src, mt, value, 0, 0, None, None))
    if mid == MISSION_COUNT:
        return _tuple_new(MissionMessage, (mid, src, mt, 0, value, 0, None, None))
    return _tuple_new(MissionMessage, (mid, src, mt, 0, 0, value, None, None))  # MISSION_ACK


# ---------------------------------------------------------------------------- header only
def _offsets(msgid: int) -> dict[str, int]:
    """Each field's offset in the payload (MAVLink 2 wire order), from pymavlink's layout."""
    cls = MESSAGE_TYPES[msgid]
    tokens = re.findall(r"\d*[a-zA-Z]", cls.unpacker.format.lstrip("<"))
    out, pos = {}, 0
    for name, token in zip(cls.ordered_fieldnames, tokens, strict=True):
        out[name] = pos
        pos += struct.calcsize("<" + token)
    return out


def _peek_spec(msgid: int, value: str) -> tuple[bytes, int, bool, int]:
    """(CRC_EXTRA, offset of the value field, is it 16 bits, offset of mission_type)."""
    off = _offsets(msgid)
    wide = MESSAGE_TYPES[msgid].fieldtypes[MESSAGE_TYPES[msgid].fieldnames.index(value)]
    return bytes((CRC_EXTRA[msgid],)), off[value], wide == "uint16_t", off["mission_type"]


#: msgid -> how :func:`peek` reads it: the item's or request's seq, the count, the ACK's result
_PEEK = {
    **{mid: _peek_spec(mid, "seq") for mid in (*REQUEST_IDS, *ITEM_IDS)},
    MISSION_COUNT: _peek_spec(MISSION_COUNT, "count"),
    MISSION_ACK: _peek_spec(MISSION_ACK, "type"),
}


def peek(data: bytes, sysid: int) -> MissionMessage | None:
    """The mission reply from ``sysid`` in ``data``, read from its header and two fields.

    The hot path of a transfer: the datagram must be exactly one unsigned MAVLink 2 frame (the
    caller makes sure no signing key applies) of a mission reply from ``sysid``, with a good CRC
    (CRC_EXTRA included); only the fields a transfer acts on are read: the seq of
    MISSION_REQUEST*/MISSION_ITEM*, the count of MISSION_COUNT, the MAV_MISSION_RESULT of
    MISSION_ACK, and the mission type. An item keeps its datagram (``raw``) for :func:`item_of`.
    Anything else (None) goes the general way (:meth:`Codec.frames
    <dronekit_plzen.link.codec.Codec.frames>` and :func:`decode`).
    """
    n = len(data)
    if n < 12 or data[0] != STX_V2 or data[2] or data[5] != sysid or n != data[1] + 12:
        return None
    mid = data[7] | data[8] << 8 | data[9] << 16
    spec = _PEEK.get(mid)
    if spec is None:
        return None
    extra, voff, wide, moff = spec
    end = n - 2
    if _crc(data[1:end], extra) != data[end] | data[end + 1] << 8:
        return None
    size = end - HEADER_LEN_V2  # MAVLink 2 cut the payload's trailing zeros
    p = HEADER_LEN_V2 + voff
    value = data[p] if voff < size else 0
    if wide and voff + 1 < size:
        value |= data[p + 1] << 8
    mt = data[HEADER_LEN_V2 + moff] if moff < size else 0
    if mid in REQUEST_IDS:
        return _tuple_new(MissionMessage, (mid, sysid, mt, value, 0, 0, None, None))
    if mid in ITEM_IDS:
        return _tuple_new(MissionMessage, (mid, sysid, mt, value, 0, 0, None, data))
    if mid == MISSION_COUNT:
        return _tuple_new(MissionMessage, (mid, sysid, mt, 0, value, 0, None, None))
    return _tuple_new(MissionMessage, (mid, sysid, mt, 0, 0, value, None, None))  # MISSION_ACK


def item_of(data: bytes) -> WireItem:
    """The MISSION_ITEM* in a datagram :func:`peek` accepted."""
    n = len(data)
    mid = data[7] | data[8] << 8 | data[9] << 16
    frame = _tuple_new(Frame, (mid, data[5], data[6], data, HEADER_LEN_V2, n - 2, False))
    msg = decode(frame)
    if msg is None or msg.item is None:
        raise ValueError("not a MISSION_ITEM datagram")
    return msg.item


_NP_CODES = {"f": "<f4", "d": "<f8", "i": "<i4", "I": "<u4", "h": "<i2", "H": "<u2", "b": "i1"}


def _dtype(msgid: int) -> np.dtype[Any]:
    """The payload as a numpy record (MAVLink 2 wire order, little-endian, no padding)."""
    cls = MESSAGE_TYPES[msgid]
    codes = cls.unpacker.format.lstrip("<")
    return np.dtype([(f, _NP_CODES.get(c, "u1")) for f, c in zip(cls.ordered_fieldnames, codes)])


_ITEM_DTYPES = {mid: _dtype(mid) for mid in ITEM_IDS}


def items_of(datagrams: Sequence[bytes]) -> list[WireItem]:
    """The MISSION_ITEM*s in datagrams :func:`peek` accepted, decoded together (one numpy
    record array per message type instead of one ``struct`` unpack and tuple per item)."""
    if not datagrams:
        return []
    mid = datagrams[0][7]
    if any(d[7] != mid for d in datagrams):  # mixed legacy and INT items: one at a time
        return [item_of(d) for d in datagrams]
    dtype = _ITEM_DTYPES[mid]
    size = dtype.itemsize
    payloads = b"".join([d[HEADER_LEN_V2 : len(d) - 2].ljust(size, b"\0") for d in datagrams])
    rec = np.frombuffer(payloads, dtype=dtype)
    columns = [rec[f].tolist() for f in _ITEM_FIELDS]
    return list(map(WireItem._make, zip(*columns, strict=True)))


# ---------------------------------------------------------------------------- packing
_ITEM_INT_PACK = MESSAGE_TYPES[MISSION_ITEM_INT].unpacker
_REQUEST_INT_PACK = MESSAGE_TYPES[MISSION_REQUEST_INT].unpacker


def item_int_payload(
    seq: int,
    target: tuple[int, int],
    item: Any,
    mission_type: int,
    current: int = 0,
) -> bytes:
    """MISSION_ITEM_INT's payload (untruncated) for a :class:`MissionItem`."""
    return _ITEM_INT_PACK.pack(
        item.param1, item.param2, item.param3, item.param4,
        *item.wire_xy(), float(item.alt_m),
        seq, item.command, target[0], target[1], item.frame, current,
        1 if item.autocontinue else 0, mission_type,
    )  # fmt: skip


def request_int_payload(seq: int, target: tuple[int, int], mission_type: int) -> bytes:
    """MISSION_REQUEST_INT's payload (untruncated)."""
    return _REQUEST_INT_PACK.pack(seq, target[0], target[1], mission_type)


__all__ = [
    "CRC_EXTRA",
    "ITEM_IDS",
    "MISSION_ACK",
    "MISSION_COUNT",
    "MISSION_ITEM",
    "MISSION_ITEM_INT",
    "MISSION_REPLY_IDS",
    "MISSION_REQUEST",
    "MISSION_REQUEST_INT",
    "REQUEST_IDS",
    "MissionMessage",
    "WireItem",
    "decode",
    "item_int_payload",
    "item_of",
    "items_of",
    "peek",
    "request_int_payload",
]
