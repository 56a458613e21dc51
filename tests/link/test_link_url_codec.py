"""Connection strings, the transport registry and the codec (framing, noise, signing)."""

from __future__ import annotations

import random

import pytest
from pymavlink.dialects.v20 import ardupilotmega as mavlink2

from dronekit_plzen.errors import BadInputError, LinkError
from dronekit_plzen.link import TRANSPORTS, Codec, ConnectionSpec, SigningKey, parse_url
from dronekit_plzen.link.transports import open_transport


@pytest.mark.parametrize(
    ("url", "spec"),
    [
        ("udpin://127.0.0.1:14540", ConnectionSpec("udpin", "127.0.0.1", 14540)),
        ("udpout://10.0.0.2:14550", ConnectionSpec("udpout", "10.0.0.2", 14550)),
        ("tcp://127.0.0.1:5760", ConnectionSpec("tcp", "127.0.0.1", 5760)),
        ("udpin://:14540", ConnectionSpec("udpin", "0.0.0.0", 14540)),
        ("udp://:14540", ConnectionSpec("udpin", "0.0.0.0", 14540)),
        ("udpin://127.0.0.1:0", ConnectionSpec("udpin", "127.0.0.1", 0)),  # a free port
        (
            "serial:///dev/ttyUSB0:57600",
            ConnectionSpec("serial", device="/dev/ttyUSB0", baud=57600),
        ),
        ("serial:///dev/ttyACM0", ConnectionSpec("serial", device="/dev/ttyACM0", baud=57600)),
        ("serial:///dev/ttyS1:921600", ConnectionSpec("serial", device="/dev/ttyS1", baud=921600)),
    ],
)
def test_parse_url(url: str, spec: ConnectionSpec) -> None:
    assert parse_url(url) == spec


@pytest.mark.parametrize(
    ("url", "fragment"),
    [
        ("127.0.0.1:14540", "scheme"),
        ("http://x:1", "unknown connection scheme"),
        ("udpin://127.0.0.1:port", "not a number"),
        ("tcp://127.0.0.1:70000", "out of range"),
        ("tcp://127.0.0.1", "HOST:PORT"),
        ("tcp://127.0.0.1:0", "port 0 cannot be sent to"),
        ("udpout://127.0.0.1:0", "port 0 cannot be sent to"),
        # went to the resolver as a name: "no heartbeat" after the wait, nothing said
        ("udpout://256.1.1.1:14550", "'256.1.1.1' is not an IP address"),
        ("tcp://10.0.0:5760", "'10.0.0' is not an IP address"),
        ("udpout://[::1::2]:14550", "'::1::2' is not an IP address"),
    ],
)
def test_parse_url_errors_name_the_problem(url: str, fragment: str) -> None:
    with pytest.raises(BadInputError) as err:
        parse_url(url)
    assert fragment in str(err.value)
    assert url in str(err.value)


def test_transport_registry_covers_every_scheme() -> None:
    assert set(TRANSPORTS) == {"udpin", "udpout", "tcp", "serial"}


def test_tcp_connect_refused_is_a_link_error() -> None:
    import socket

    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()  # nobody listens there now
    with pytest.raises(LinkError):
        open_transport(parse_url(f"tcp://127.0.0.1:{port}"))


def _frames(n: int, sysid: int = 1) -> list[bytes]:
    enc = Codec(sysid, 1)
    out = []
    for i in range(n):
        m = enc.mav.global_position_int_encode(
            i, 497475000 + i, 133776000, 310000, 1000 * i, 1, 2, 3, 9000
        )
        out.append(enc.encode(m))
    return out


def test_codec_roundtrip_converts_nothing_and_counts() -> None:
    frames = _frames(10)
    dec = Codec(255, 190)
    msgs = dec.feed(b"".join(frames))
    assert [m.time_boot_ms for m in msgs] == list(range(10))
    assert [m.get_seq() for m in msgs] == list(range(10))
    assert dec.stats.frames_ok == 10
    assert dec.stats.noise_bytes == 0


@pytest.mark.parametrize("seed", range(8))
def test_noise_between_frames_never_costs_a_real_message(seed: int) -> None:
    rng = random.Random(seed)
    frames = _frames(60)
    stream = bytearray()
    for f in frames:
        junk = bytes(rng.randrange(256) for _ in range(rng.randrange(0, 50)))
        # false start markers with plausible lengths, the worst case for a parser
        stream += junk + bytes([0xFD, rng.randrange(256), 0]) + b"\xfe\x21" + f
    stream = b"boot: NuttShell (NSH)\r\nnsh> " + stream
    dec = Codec(255, 190)
    got = []
    for i in range(0, len(stream), 37):  # arbitrary chunking, as a serial port delivers it
        got += dec.feed(bytes(stream[i : i + 37]))
    got += dec.flush()  # end of stream: a false marker may still hold the last frame back
    assert [m.time_boot_ms for m in got] == list(range(60))
    assert dec.stats.noise_bytes > 0
    assert dec.stats.bad_frames + dec.stats.unknown_ids > 0


def test_corrupted_and_truncated_frames_are_counted_not_raised() -> None:
    frames = _frames(3)
    bad = bytearray(frames[1])
    bad[12] ^= 0xFF  # payload byte: CRC no longer matches
    dec = Codec(255, 190)
    msgs = dec.feed(frames[0] + bytes(bad) + frames[2][:7], datagram=False)
    assert [m.time_boot_ms for m in msgs] == [0]
    assert dec.stats.bad_frames >= 1
    # the rest of the truncated frame arrives: decoded
    msgs = dec.feed(frames[2][7:])
    assert [m.time_boot_ms for m in msgs] == [2]


def test_datagram_mode_drops_a_frame_cut_at_the_datagram_end() -> None:
    frames = _frames(2)
    dec = Codec(255, 190)
    assert dec.feed(frames[0][:-3], datagram=True) == []
    msgs = dec.feed(frames[1], datagram=True)
    assert [m.time_boot_ms for m in msgs] == [1]


def test_mavlink1_frames_decode() -> None:
    mav = mavlink2.MAVLink(None, 7, 1)
    hb = mav.heartbeat_encode(2, 12, 0, 0, 4)
    raw = hb.pack(mav, force_mavlink1=True)
    assert raw[0] == 0xFE
    msgs = Codec().feed(raw)
    assert msgs[0].get_type() == "HEARTBEAT" and msgs[0].get_srcSystem() == 7


KEY = bytes(range(32))


def test_our_signatures_verify_with_pymavlink() -> None:
    enc = Codec(255, 190)
    enc.keys[1] = SigningKey(KEY)
    raw = enc.encode(
        enc.mav.command_long_encode(1, 1, 400, 0, 1, 0, 0, 0, 0, 0, 0), target_system=1
    )
    assert raw[2] & 0x01 and len(raw) == 10 + raw[1] + 2 + 13
    peer = mavlink2.MAVLink(None, 1, 1)
    peer.signing.secret_key = KEY
    peer.signing.allow_unsigned_callback = lambda mav, msgid: False
    msg = peer.parse_char(raw)
    assert msg is not None and msg.get_type() == "COMMAND_LONG" and msg._signed
    wrong = mavlink2.MAVLink(None, 1, 1)
    wrong.signing.secret_key = bytes(32)
    wrong.signing.allow_unsigned_callback = lambda mav, msgid: False
    wrong.robust_parsing = True
    assert wrong.parse_char(raw).get_type() == "BAD_DATA"


def _pymavlink_signed(key: bytes, n: int, timestamp: int | None = None) -> list[bytes]:
    out = []
    mav = mavlink2.MAVLink(None, 1, 1)
    mav.signing.secret_key = key
    mav.signing.sign_outgoing = True
    if timestamp is not None:
        mav.signing.timestamp = timestamp
    for i in range(n):
        out.append(bytes(mav.heartbeat_encode(2, 12, 0, i, 4).pack(mav)))
        mav.seq += 1
    return out


def test_incoming_signatures_checked_per_system() -> None:
    from dronekit_plzen.link.codec import signing_timestamp

    good = _pymavlink_signed(KEY, 3, signing_timestamp())
    bad = _pymavlink_signed(bytes(32), 2, signing_timestamp())
    dec = Codec(255, 190)
    dec.keys[1] = SigningKey(KEY)
    assert len(dec.feed(b"".join(good))) == 3
    assert dec.feed(b"".join(bad)) == []
    assert dec.stats.bad_signatures == 2
    assert dec.feed(good[1]) == []  # a replayed frame: its timestamp is not newer
    assert dec.stats.bad_signatures == 3
    unsigned = Codec(1, 1)
    assert dec.feed(unsigned.encode(unsigned.mav.heartbeat_encode(2, 12, 0, 0, 4))) == []
    assert dec.stats.unsigned_rejected == 1


def test_signing_key_must_have_32_bytes() -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        SigningKey(b"short")
