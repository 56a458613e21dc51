"""Every message of the common, development and ardupilotmega dialects decodes in our codec.

Frames are encoded by pymavlink's own generated modules (one per dialect) with a distinct
value in every field, so a field put in the wrong place, a lost array element or a string
not terminated shows up; pymavlink's decoder of the same dialect is the oracle.
"""

from __future__ import annotations

import math
from types import ModuleType
from typing import Any

import pytest
from pymavlink.dialects.v20 import ardupilotmega, common, development

from dronekit_plzen.link.codec import MESSAGE_TYPES, Codec, SigningKey, signing_timestamp

DIALECTS = {"common": common, "development": development, "ardupilotmega": ardupilotmega}
_INT_MAX = {"int8_t": 127, "uint8_t": 255, "int16_t": 32767, "uint16_t": 65535}


def _value(ftype: str, n: int, k: int) -> Any:
    """A distinct, exactly representable value for field ``k`` (an array when ``n`` > 0)."""
    if ftype == "char":
        return ("abcdefghijklmnopqrstuvwxyz"[k % 26] * max(1, min(n, 5))).encode()
    if ftype in ("float", "double"):
        one = lambda j: (k + 1) * 0.5 + j  # noqa: E731
    else:
        top = _INT_MAX.get(ftype, 2**31 - 1)
        one = lambda j: ((k + 1) * 7 + j) % top + 1  # noqa: E731
    return [one(j) for j in range(n)] if n else one(0)


def _args(cls: Any) -> list[Any]:
    # fieldtypes follow the declaration order, array_lengths the wire order
    wire = list(cls.ordered_fieldnames)
    return [
        _value(t, cls.array_lengths[wire.index(name)], k)
        for k, (name, t) in enumerate(zip(cls.fieldnames, cls.fieldtypes, strict=True))
    ]


def _frames(module: ModuleType) -> list[tuple[bytes, type, list[Any]]]:
    mav = module.MAVLink(None, srcSystem=1, srcComponent=1)
    out = []
    for cls in module.mavlink_map.values():
        args = _args(cls)
        out.append((bytes(cls(*args).pack(mav)), cls, args))
        mav.seq = (mav.seq + 1) % 256
    return out


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, float) or isinstance(b, float):
        return bool(a == b or (math.isnan(a) and math.isnan(b)))
    if isinstance(a, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)


def test_the_merged_table_holds_all_three_dialects() -> None:
    ids = set(MESSAGE_TYPES)
    for module in DIALECTS.values():
        assert set(module.mavlink_map) <= ids
    # messages only PX4's development dialect has (AVAILABLE_MODES, CURRENT_MODE, ...)
    assert set(development.mavlink_map) - set(ardupilotmega.mavlink_map)


@pytest.mark.parametrize("name", list(DIALECTS))
def test_every_message_of_the_dialect_decodes_field_for_field(name: str) -> None:
    module = DIALECTS[name]
    frames = _frames(module)
    oracle = module.MAVLink(None)
    dec = Codec(255, 190)
    got = dec.feed(b"".join(f for f, _c, _a in frames))
    assert len(got) == len(frames), f"{len(frames) - len(got)} {name} messages dropped"
    assert dec.stats.unknown_ids == 0 and dec.stats.bad_frames == 0
    for msg, (frame, cls, _args) in zip(got, frames, strict=True):
        ref = oracle.decode(bytearray(frame))
        assert msg.get_msgId() == cls.id and msg.get_type() == cls.msgname
        for field in cls.fieldnames:
            assert _same(getattr(msg, field), getattr(ref, field)), (cls.msgname, field)
        assert bytes(msg.get_msgbuf()) == frame
        assert (msg.get_srcSystem(), msg.get_srcComponent()) == (1, 1)


def test_development_only_and_common_messages_from_a_signed_px4() -> None:
    key = bytes(range(32))
    px4 = development.MAVLink(None, srcSystem=1, srcComponent=1)
    px4.signing.secret_key = key
    px4.signing.sign_outgoing = True
    px4.signing.timestamp = signing_timestamp()
    modes = px4.available_modes_encode(3, 1, 4, 0x4040000, 0, b"Mission")
    current = px4.current_mode_encode(4, 0x4040000, 0x4040000)
    hb = common.MAVLink_heartbeat_message(2, 12, 1, 0x4040000, 4, 3)
    data = b"".join(bytes(m.pack(px4)) for m in (modes, current, hb))
    dec = Codec(255, 190)
    dec.keys[1] = SigningKey(key)
    got = dec.feed(data)
    assert [m.get_type() for m in got] == ["AVAILABLE_MODES", "CURRENT_MODE", "HEARTBEAT"]
    assert got[0].mode_name in ("Mission", b"Mission") and got[0].number_modes == 3
    assert got[1].custom_mode == 0x4040000
    assert all(m._signed for m in got)
