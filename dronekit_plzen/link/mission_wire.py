"""The mission protocol's messages on the wire, packed and unpacked by hand for the hot path.

A mission transfer is one round trip per item, so the time our side takes to answer is the
transfer's speed. Building a pymavlink message object per request and per item costs more than
the rest of the answer, so the transfer reads the few messages it waits for straight from
checked frames (:class:`~dronekit_plzen.link.codec.Frame`: CRC, CRC_EXTRA and, when signing is
on, the signature already verified by :meth:`Codec.frames
<dronekit_plzen.link.codec.Codec.frames>`) with one ``struct`` unpack into a small
:class:`MissionMessage`; the pymavlink message is built later, off the hot path, only if
someone else on the link wants it. Layouts come from pymavlink's generated classes (the
MAVLink 2 wire order, fields by size), so this module holds no layout of its own.

Outgoing items and item requests are packed here too (:func:`item_int_payload`,
:func:`request_int_payload`); the link frames them once and only patches the sequence number,
CRC and signature per send.
"""

from __future__ import annotations

import operator
import struct
from typing import Any, NamedTuple

from dronekit_plzen.link.codec import MESSAGE_TYPES, Frame, _tuple_new

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
        return _tuple_new(MissionMessage, (mid, src, vals[-1], vals[0], 0, 0, item))
    value, mt = vals
    if mid in REQUEST_IDS:
        return _tuple_new(MissionMessage, (mid, src, mt, value, 0, 0, None))
    if mid == MISSION_COUNT:
        return _tuple_new(MissionMessage, (mid, src, mt, 0, value, 0, None))
    return _tuple_new(MissionMessage, (mid, src, mt, 0, 0, value, None))  # MISSION_ACK


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
        round(item.lat_deg * 1e7), round(item.lon_deg * 1e7), float(item.alt_m),
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
    "request_int_payload",
]
