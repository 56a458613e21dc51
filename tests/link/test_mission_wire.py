"""The mission transfer's hot-path decoder agrees with pymavlink, and the link still sees it all.

:func:`dronekit_plzen.link.mission_wire.decode` reads MISSION_REQUEST(_INT), MISSION_ITEM(_INT),
MISSION_COUNT and MISSION_ACK straight from the frames :meth:`Codec.frames` checked (CRC with
CRC_EXTRA, signature): the properties below hold it to pymavlink's own decoder (bytes in, the
same fields out, or a rejection), and show that corrupted, cut and badly signed frames never
get through. :func:`peek`, the header-only fast path that skips the codec on an unsigned
datagram link, is held to the codec plus :func:`decode`: whatever the codec would reject (a
flipped bit, a cut frame, a signed frame, two frames in one datagram, another sender) never
takes it, and :func:`items_of` decodes the items it only peeked at to the same fields. The
end-to-end test shows that what the transfer decodes on its own thread still
reaches the rest of the link (listeners, subscriptions, counters) after the answer.
"""

from __future__ import annotations

import math
import socket
import struct
import threading
import time
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pymavlink.dialects.v20 import ardupilotmega as mavlink2

from dronekit_plzen.link import connect
from dronekit_plzen.link.codec import Codec, SigningKey, signing_timestamp
from dronekit_plzen.link.mission_wire import (
    ITEM_IDS,
    MISSION_ACK,
    MISSION_COUNT,
    REQUEST_IDS,
    MissionMessage,
    WireItem,
    decode,
    items_of,
    peek,
)
from dronekit_plzen.safety import Clearance

KEY = bytes(range(32))
u8 = st.integers(0, 255)
u16 = st.integers(0, 65535)
f32 = st.floats(width=32, allow_nan=True, allow_infinity=True)
i32 = st.integers(-(2**31), 2**31 - 1)


@st.composite
def mission_messages(draw: Any) -> Any:
    """A pymavlink mission-protocol message with arbitrary field values."""
    kind = draw(st.sampled_from(["req_int", "req", "item_int", "item", "count", "ack"]))
    t = (draw(u8), draw(u8))
    mt = draw(u8)
    if kind in ("req_int", "req"):
        cls = mavlink2.MAVLink_mission_request_int_message
        if kind == "req":
            cls = mavlink2.MAVLink_mission_request_message
        return cls(*t, draw(u16), mt)
    if kind == "count":
        return mavlink2.MAVLink_mission_count_message(*t, draw(u16), mt)
    if kind == "ack":
        return mavlink2.MAVLink_mission_ack_message(*t, draw(u8), mt)
    head = (*t, draw(u16), draw(u8), draw(u16), draw(u8), draw(u8))
    params = [draw(f32) for _ in range(4)]
    if kind == "item_int":
        xyz = (draw(i32), draw(i32), draw(f32))
        return mavlink2.MAVLink_mission_item_int_message(*head, *params, *xyz, mt)
    xyz = (draw(f32), draw(f32), draw(f32))
    return mavlink2.MAVLink_mission_item_message(*head, *params, *xyz, mt)


def _pack(msg: Any, sysid: int, compid: int, seq: int, signed: bool) -> bytes:
    mav = mavlink2.MAVLink(None, srcSystem=sysid, srcComponent=compid)
    mav.seq = seq
    if signed:
        mav.signing.secret_key = KEY
        mav.signing.sign_outgoing = True
        mav.signing.link_id = 3
        mav.signing.timestamp = signing_timestamp() + seq + 1  # fresh: within a minute
    return bytes(msg.pack(mav))


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, float) and math.isnan(a):
        return isinstance(b, float) and math.isnan(b)
    return bool(a == b)


def _flat(m: MissionMessage) -> list[Any]:
    """The header fields and the item's fields one by one (a NaN z compares field by field; the
    whole item tuple never equals itself then: found by `make fuzz`)."""
    return [*m[:-2], *(m.item or ())]


def _agrees(ours: MissionMessage, ref: Any) -> None:
    """Our decoded message carries exactly pymavlink's field values."""
    # the slow path's conversion of pymavlink's message gives the same record
    slow = MissionMessage.of(ref)
    assert slow is not None
    assert all(_same(a, b) for a, b in zip(_flat(ours), _flat(slow), strict=True))
    assert ours.msgid == ref.get_msgId()
    assert ours.sysid == ref.get_srcSystem()
    assert ours.mission_type == ref.mission_type
    if ours.msgid in REQUEST_IDS:
        assert ours.seq == ref.seq
    elif ours.msgid == MISSION_COUNT:
        assert ours.item_count == ref.count
    elif ours.msgid == MISSION_ACK:
        assert ours.result == ref.type
    else:
        assert ours.msgid in ITEM_IDS and ours.item is not None
        assert ours.seq == ref.seq
        for name, value in ours.item._asdict().items():
            assert _same(value, getattr(ref, name)), name


def _reference(raw: bytes, signed: bool) -> Any:
    """pymavlink's decode of one frame (its signature checked with KEY when signed)."""
    mav = mavlink2.MAVLink(None)
    if signed:
        mav.signing.secret_key = KEY
    return mav.decode(bytearray(raw))


def _decoder(signed: bool) -> Codec:
    codec = Codec(255, 190)
    if signed:
        codec.set_key(None, SigningKey(KEY))
    return codec


@given(
    mission_messages(),
    st.integers(1, 255),
    u8,
    u8,
    st.booleans(),
)
def test_fast_decode_gives_pymavlinks_fields(
    msg: Any, sysid: int, compid: int, seq: int, signed: bool
) -> None:
    raw = _pack(msg, sysid, compid, seq, signed)
    frames = _decoder(signed).frames(raw, datagram=True)
    assert len(frames) == 1
    frame = frames[0]
    assert (frame.src, frame.comp, frame.seq, frame.verified) == (sysid, compid, seq, signed)
    ours = decode(frame)
    assert ours is not None
    _agrees(ours, _reference(raw, signed))


def test_an_item_with_a_nan_altitude_decodes_as_pymavlink_does() -> None:
    """The example `make fuzz` found: MISSION_ITEM_INT with every field 0 and z NaN (an unused
    altitude), decoded by the fast path and by pymavlink, compared field by field."""
    msg = mavlink2.MAVLink_mission_item_int_message(
        1, 0, 0, 0, 0, 0, 0, 0.0, 0.0, 0.0, 0.0, 0, 0, float("nan"), 0
    )
    raw = _pack(msg, 1, 0, 0, False)
    (frame,) = _decoder(False).frames(raw, datagram=True)
    ours = decode(frame)
    assert ours is not None and ours.item is not None and math.isnan(ours.item.z)
    _agrees(ours, _reference(raw, False))
    fast = peek(raw, 1)
    assert fast is not None and fast.raw == raw and fast.seq == 0


@given(mission_messages(), st.booleans(), st.data())
def test_a_flipped_bit_or_a_cut_frame_is_rejected(msg: Any, signed: bool, data: Any) -> None:
    raw = _pack(msg, 1, 1, 0, signed)
    bad = bytearray(raw)
    if data.draw(st.booleans(), "cut"):
        bad = bad[: data.draw(st.integers(0, len(raw) - 1), "length")]
    else:
        bit = data.draw(st.integers(0, 8 * len(raw) - 1), "bit")
        bad[bit // 8] ^= 1 << (bit % 8)
    codec = _decoder(signed)
    assert codec.frames(bytes(bad), datagram=True) == []
    if not signed:  # pymavlink agrees (it verifies no signature without a key)
        ref = mavlink2.MAVLink(None)
        ref.robust_parsing = True
        decoded = [
            m
            for m in ref.parse_buffer(bytes(bad)) or []
            # a message id it does not know it hands up undecoded, its CRC unchecked
            if m.get_type() != "BAD_DATA" and not isinstance(m, mavlink2.MAVLink_unknown)
        ]
        assert decoded == []


@given(mission_messages(), st.binary(max_size=40), st.binary(max_size=40))
def test_noise_around_a_frame_never_yields_anything_pymavlink_would_not(
    msg: Any, before: bytes, after: bytes
) -> None:
    raw = _pack(msg, 9, 1, 5, False)
    frames = Codec(255, 190).frames(before + raw + after, datagram=True)
    for frame in frames:  # every frame we accept, pymavlink decodes to the same fields
        ours = decode(frame)
        if ours is not None:
            _agrees(ours, _reference(frame.raw, False))
    if not any(b in (0xFD, 0xFE) for b in before + after):  # no false start: found, intact
        assert [f.raw for f in frames] == [raw]


def test_signing_holds_on_the_hot_path() -> None:
    """A key on the codec: only correctly signed, fresh frames reach the decoder."""
    msg = mavlink2.MAVLink_mission_request_int_message(255, 190, 7, 0)
    good = _pack(msg, 1, 1, 0, True)
    codec = _decoder(True)
    assert [decode(f) for f in codec.frames(good, datagram=True)] == [
        MissionMessage(51, 1, 0, seq=7)
    ]
    assert codec.frames(good, datagram=True) == []  # replayed: the timestamp is not newer
    assert codec.frames(_pack(msg, 1, 1, 1, False), datagram=True) == []  # unsigned
    forged = bytearray(_pack(msg, 1, 1, 2, True))
    forged[-1] ^= 1  # a wrong signature (the CRC still holds)
    assert codec.frames(bytes(forged), datagram=True) == []
    assert (codec.stats.bad_signatures, codec.stats.unsigned_rejected) == (2, 1)


def test_short_payloads_are_padded_as_mavlink2_cuts_them() -> None:
    """Trailing zero bytes are cut on the wire; the decoder puts them back (not CRC bytes)."""
    item = mavlink2.MAVLink_mission_item_int_message(255, 190, 0, 0, 16, 0, 0, 0, 0, 0, 0, 0, 0, 0)
    raw = _pack(item, 1, 1, 0, False)
    assert raw[1] < struct.calcsize("<ffffiifHHBBBBBB")  # the payload was cut
    (frame,) = Codec().frames(raw, datagram=True)
    got = decode(frame)
    assert got is not None and got.item is not None
    assert (got.item.command, got.item.x, got.item.z, got.mission_type) == (16, 0, 0.0, 0)


def test_what_the_transfer_decodes_still_reaches_the_link(sim_factory: Any, survey: Any) -> None:
    """During a transfer the socket is read on the caller's thread and the mission replies are
    decoded by hand; listeners, other subscriptions and the counters still get every one."""
    sim = sim_factory(1, "px4")
    n = 40
    with connect(f"udpin://127.0.0.1:{sim.ports(0)['api_remote']}", heartbeat_hz=5) as link:
        v = link.wait_vehicle(timeout_s=10)
        v.wait_for(lambda s: s.messages_received > 10, 10, "telemetry")
        seen: list[str] = []
        handle = link.add_listener(lambda m, _t: seen.append(m.get_type()))
        got: list[Any] = []
        sub = link.subscribe({"MISSION_ITEM_INT"}, v.sysid)
        reader = threading.Thread(
            target=lambda: got.extend(iter(lambda: sub.get(2.0), None)), daemon=True
        )
        reader.start()
        items = survey(n)
        before = v.state.messages_received
        v.upload_mission(items, clearance=Clearance.passed(items))  # verified: a download
        handle.remove()
        reader.join(timeout=10)
        sub.close()
        assert link.transfer_stats[(v.sysid, "upload")].direct
        assert link.transfer_stats[(v.sysid, "download")].direct
        # (a busy machine may make the vehicle ask twice, or us: counts are "at least")
        assert seen.count("MISSION_REQUEST_INT") >= n and seen.count("MISSION_ACK") >= 1
        assert seen.count("MISSION_COUNT") >= 1
        # the other subscription got the same items the listener saw, every one of them
        assert len(got) == seen.count("MISSION_ITEM_INT")
        assert sorted({m.seq for m, _t in got}) == list(range(n))
        # with no listener, a mission reply is only counted (never built), and still counted
        after_listener = v.state.messages_received
        assert after_listener - before >= 2 * n + 2
        v.download_mission()
        assert v.state.messages_received - after_listener >= n + 1


def test_held_back_telemetry_gives_the_state_every_message_would() -> None:
    """ATTITUDE & co. that nobody else takes are counted at once and reduced when the state is
    read (only the latest matters); a listener still gets every one of them, and one taken by
    a listener is never overwritten by an older one held back."""
    import socket
    import time

    vehicle = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    vehicle.bind(("127.0.0.1", 0))
    mav = mavlink2.MAVLink(None, srcSystem=1, srcComponent=1)
    with connect(f"udpout://127.0.0.1:{vehicle.getsockname()[1]}", heartbeat_hz=20) as link:
        _data, gcs = vehicle.recvfrom(4096)  # our heartbeat tells the vehicle where we are

        def send(msg: Any) -> None:
            vehicle.sendto(bytes(msg.pack(mav)), gcs)
            mav.seq = (mav.seq + 1) % 256

        def wait(cond: Any) -> None:  # polled: a subscription would take every message
            deadline = time.monotonic() + 5
            while not cond() and time.monotonic() < deadline:
                time.sleep(0.01)

        send(mav.heartbeat_encode(2, 12, 0, 0, 4))
        v = link.wait_vehicle(timeout_s=5)
        base = v.state.messages_received
        rolls = [0.1, -0.2, 0.3, 0.4]
        for roll in rolls:
            send(mav.attitude_encode(0, roll, 0.05, 1.0, 0, 0, 0))
        send(mav.gps_raw_int_encode(0, 3, 0, 0, 0, 120, 65535, 0, 0, 11))
        wait(lambda: v.state.messages_received >= base + 5)
        st = v.state
        assert st.roll_deg == pytest.approx(math.degrees(rolls[-1]))
        assert (st.gps_fix_type, st.satellites, st.hdop) == (3, 11, 1.2)
        assert st.messages_received == base + 5 and st.packet_loss_pct == 0.0
        # held back, unread ...
        ok = link.codec.stats.frames_ok
        send(mav.attitude_encode(0, 0.9, 0.05, 1.0, 0, 0, 0))
        wait(lambda: link.codec.stats.frames_ok > ok)
        # ... then newer ones to a listener: those are the state
        seen: list[float] = []
        handle = link.add_listener(lambda m, _t: seen.append(m.roll) if m.id == 30 else None)
        for roll in rolls:
            send(mav.attitude_encode(0, -roll, 0.05, 1.0, 0, 0, 0))
        wait(lambda: len(seen) >= len(rolls))
        handle.remove()
        assert seen == pytest.approx([-r for r in rolls])
        assert v.state.roll_deg == pytest.approx(math.degrees(-rolls[-1]))
        assert v.state.messages_received == base + 10
    vehicle.close()


# ---------------------------------------------------------------- the header-only fast path
def _general(raw: bytes, sysid: int) -> Any:
    """What the general path makes of a datagram: the codec's frames, then :func:`decode`."""
    frames = Codec(255, 190).frames(raw, datagram=True)
    if len(frames) != 1 or frames[0].src != sysid:
        return None
    return decode(frames[0])


def _same_item(a: WireItem, b: WireItem) -> bool:
    return all(
        (isinstance(x, float) and math.isnan(x) and math.isnan(y)) or x == y
        for x, y in zip(a, b, strict=True)
    )


@given(mission_messages(), st.integers(1, 255), st.integers(0, 255), st.integers(0, 255))
def test_peek_reads_what_the_codec_and_decode_read(
    msg: Any, sysid: int, compid: int, seq: int
) -> None:
    raw = _pack(msg, sysid, compid, seq, False)
    fast, general = peek(raw, sysid), _general(raw, sysid)
    assert fast is not None and general is not None
    assert fast[:6] == general[:6]  # msgid, sender, mission type, seq, count, result
    if fast.msgid in ITEM_IDS:  # the item's fields are decoded later, from the datagram
        assert fast.item is None and fast.raw == raw
        (item,) = items_of([raw])
        assert _same_item(item, general.item)
    assert peek(raw, sysid % 255 + 1) is None  # from another system: not a reply to us


@given(mission_messages(), st.data())
def test_a_damaged_datagram_never_takes_the_fast_path(msg: Any, data: Any) -> None:
    raw = _pack(msg, 1, 1, 0, False)
    bad = bytearray(raw)
    if data.draw(st.booleans(), "cut"):
        bad = bad[: data.draw(st.integers(0, len(raw) - 1), "length")]
    else:
        bit = data.draw(st.integers(0, 8 * len(raw) - 1), "bit")
        bad[bit // 8] ^= 1 << (bit % 8)
    fast = peek(bytes(bad), 1)
    # the codec rejects it, or (a changed id whose CRC_EXTRA happens to match) both agree
    assert fast is None or fast[:6] == _general(bytes(bad), 1)[:6]


@given(mission_messages())
def test_signed_and_multi_frame_datagrams_take_the_general_path(msg: Any) -> None:
    assert peek(_pack(msg, 1, 1, 0, True), 1) is None  # the signature must be checked
    raw = _pack(msg, 1, 1, 0, False)
    assert peek(raw + raw, 1) is None  # a second frame must not be missed


def test_items_of_decodes_a_mixed_download_in_order() -> None:
    """Legacy and INT items in one download (each decoded as its own type), cut payloads."""
    msgs = [
        mavlink2.MAVLink_mission_item_int_message(
            255, 190, i, 6, 16, 0, 1, 0, 0, 0, math.nan, 497475000 + i, 133776000, 40.0, 0
        )
        if i % 3
        else mavlink2.MAVLink_mission_item_message(
            255, 190, i, 3, 16, 0, 1, 0, 0, 0, 0, 49.7475, 13.3776 + i, 0.0, 0
        )
        for i in range(7)
    ]
    raws = [_pack(m, 1, 1, i, False) for i, m in enumerate(msgs)]
    want = [_general(r, 1).item for r in raws]
    got = items_of(raws)
    assert all(_same_item(a, b) for a, b in zip(got, want, strict=True))
    uniform = [r for r in raws if r[7] == 73]
    assert all(
        _same_item(a, _general(r, 1).item) for a, r in zip(items_of(uniform), uniform, strict=True)
    )
    assert items_of([]) == []


def test_a_reply_read_before_the_loan_began_reaches_the_reader() -> None:
    """The I/O thread parks only at the reader's first read: what it read for the transfer's
    own subscription until then is handed over (:meth:`DirectReader.early`), not lost."""
    with connect("udpin://127.0.0.1:0", heartbeat_hz=0, request_streams=False) as link:
        port = link.local_address[1] if link.local_address else 0
        vehicle = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            mav = mavlink2.MAVLink(None, srcSystem=1, srcComponent=1)
            hb = mavlink2.MAVLink_heartbeat_message(2, 12, 0, 0, 3, 3)
            vehicle.sendto(bytes(hb.pack(mav)), ("127.0.0.1", port))
            link.wait_vehicle(1, timeout_s=5)
            with link.subscribe({"MISSION_COUNT"}, 1) as sub:
                count = mavlink2.MAVLink_mission_count_message(255, 190, 12, 0)
                vehicle.sendto(bytes(count.pack(mav)), ("127.0.0.1", port))
                deadline = time.monotonic() + 5
                while sub.queue.empty() and time.monotonic() < deadline:
                    time.sleep(0.005)  # the I/O thread has read it (into our queue)
                with link.direct_reader(sub) as reader:
                    assert reader is not None
                    assert reader.recv_datagram(0.01) == b""
                    (early,) = reader.early()
                    assert early.get_type() == "MISSION_COUNT" and early.count == 12
                    assert reader.early() == []  # handed over once
                    assert sub.queue.empty()
        finally:
            vehicle.close()


def test_an_item_without_a_position_goes_with_int32_max() -> None:
    """x/y may be NaN where a command takes no position (a QGC WPL file says "nan"), and
    MISSION_ITEM_INT has no NaN: MAVLink's "no value" for an integer is INT32_MAX. In
    MAV_FRAME_MISSION x/y are plain parameters, and PX4 keeps them in a float, returning
    INT32_MAX as INT32_MIN (PX4 SITL: the upload failed its verification): 0 goes there.
    Both used to stop the upload with an internal error (round(NaN))."""
    from dronekit_plzen.link.mission_wire import item_int_payload
    from dronekit_plzen.mission_items import INT32_MAX, MissionItem

    mav = mavlink2.MAVLink(None, 255, 190)
    cases = (
        (MissionItem(command=206, frame=2, param1=20.0, lat_deg=math.nan), 0),
        (MissionItem(command=22, frame=3, alt_m=20.0, lat_deg=math.nan), INT32_MAX),
    )
    for it, x in cases:
        payload = item_int_payload(3, (1, 1), it, 0)
        sent = mav.mission_item_int_encode(
            1, 1, 3, it.frame, it.command, 0, 1, it.param1, 0, 0, 0, x, 0, it.alt_m, 0
        )
        assert payload == sent.pack(mav)[10:-2].ljust(len(payload), b"\0")[: len(payload)]
        assert it.to_wire(3)["x"] == x and it.wire_xy() == (x, 0)
