"""MAVLink 2 signing for the ground-station side: keys, signatures, link ids, stream records.

Per https://mavlink.io/en/guide/message_signing.html:

* the signature is SHA-256(key + header + payload + CRC + link id + timestamp)[:6], checked
  here (not with pymavlink's ``check_signature``, which records a stream's timestamp before it
  checks the signature: one forged packet with a far-future timestamp then locks the real
  sender out);
* a stream is (system id, component id, link id); its timestamp must increase, and it is
  recorded only after the signature verified (:class:`StreamTable`);
* every connection gets its own link id (:func:`allocate_link_id`), so that a vehicle that
  hears us on two links keeps two streams;
* keys live in files only their owner can read (:mod:`dronekit_plzen.signing_keys`).
"""

from __future__ import annotations

import hashlib
import secrets
import struct
import threading
import time
from dataclasses import dataclass

from pymavlink.dialects.v20 import ardupilotmega as mavlink2

#: 1 January 2015 00:00:00 UTC, the epoch of signing timestamps (10 µs units)
SIGNING_EPOCH_S = 1420070400
IFLAG_SIGNED = 0x01
SIGNATURE_LEN = 13
#: a stream seen for the first time may start at most this far behind our clock (one minute)
NEW_STREAM_WINDOW = 60 * 100_000
#: messages accepted unsigned from a system whose signatures we require: the explicit
#: allow-list. RADIO_STATUS is injected by telemetry radios, which cannot sign.
UNSIGNED_ALLOWED = frozenset({mavlink2.MAVLINK_MSG_ID_RADIO_STATUS})


def signing_timestamp(now_s: float | None = None) -> int:
    """Current signing timestamp: 10 µs units since 2015-01-01 UTC."""
    now = time.time() if now_s is None else now_s
    return max(0, int((now - SIGNING_EPOCH_S) * 100_000))


def frame_signature(key: bytes, frame: bytes, link_id: int, timestamp: int) -> bytes:
    """The 6-byte signature: SHA-256(key + header + payload + CRC + link id + timestamp)[:6]."""
    h = hashlib.sha256(key)
    h.update(frame)
    h.update(struct.pack("<B", link_id))
    h.update(timestamp.to_bytes(6, "little"))
    return h.digest()[:6]


def signature_valid(key: bytes, frame: bytes | bytearray | memoryview) -> bool:
    """Does the signed frame's signature block match ``key``? (no state is read or written)"""
    h = hashlib.sha256(key)
    h.update(frame[:-6])
    return h.digest()[:6] == bytes(frame[-6:])


@dataclass
class SigningKey:
    """A key for one peer system (or, as a connection's key, for every peer).

    ``link_id`` None signs with the connection's own link id; ``timestamp`` is the lowest
    outgoing timestamp to use (the connection's clock never goes back).
    """

    key: bytes
    link_id: int | None = None
    #: reject unsigned / badly signed frames from this system
    require_incoming: bool = True
    timestamp: int = 0

    def __post_init__(self) -> None:
        if len(self.key) != 32:
            raise ValueError("a MAVLink signing key has 32 bytes")

    def __repr__(self) -> str:  # never print the key
        return f"SigningKey(link_id={self.link_id}, require_incoming={self.require_incoming})"


class StreamTable:
    """Last accepted timestamp per (system id, component id, link id), and our own clock."""

    def __init__(self) -> None:
        self.timestamp = signing_timestamp()
        self.streams: dict[tuple[int, int, int], int] = {}

    def next_timestamp(self) -> int:
        """The timestamp for the next frame we send (increasing, at least the wall clock)."""
        ts = self.timestamp + 1
        now = signing_timestamp()
        self.timestamp = ts if ts > now else now
        return self.timestamp

    def accept(self, stream: tuple[int, int, int], timestamp: int) -> bool:
        """Record ``timestamp`` for a frame whose signature ALREADY verified, if it is fresh."""
        last = self.streams.get(stream)
        if last is not None and timestamp <= last:
            return False  # a replay (or an old frame)
        if last is None and timestamp + NEW_STREAM_WINDOW < self.timestamp:
            return False  # a "new" stream more than a minute behind us
        self.streams[stream] = timestamp
        if timestamp > self.timestamp:
            self.timestamp = timestamp
        return True

    def forget_system(self, sysid: int) -> None:
        """Drop the records of ``sysid`` (its key changed)."""
        for stream in [s for s in self.streams if s[0] == sysid]:
            del self.streams[stream]


def sign_frame(raw: bytearray, crc_extra: int, key: bytes, link_id: int, timestamp: int) -> bytes:
    """Turn an unsigned MAVLink 2 frame into a signed one (flag, CRC, signature block)."""
    raw[2] |= IFLAG_SIGNED
    body = raw[:-2]
    crc = mavlink2.x25crc(body[1:])
    crc.accumulate(struct.pack("B", crc_extra))
    framed = bytes(body) + struct.pack("<H", crc.crc)
    sig = frame_signature(key, framed, link_id, timestamp)
    return framed + struct.pack("<B", link_id) + timestamp.to_bytes(6, "little") + sig


# ---------------------------------------------------------------------- link ids
_ids_lock = threading.Lock()
_ids_in_use: set[int] = set()
#: where this process starts counting: two programs on one machine (the GUI and ``fly``) with
#: the same GCS system id then rarely share a stream at the vehicle
_ids_base = secrets.randbelow(256)


def allocate_link_id() -> int:
    """A link id no other open connection of this process uses (0..255, reused after 256)."""
    with _ids_lock:
        for i in range(256):
            cand = (_ids_base + i) % 256
            if cand not in _ids_in_use:
                _ids_in_use.add(cand)
                return cand
        return _ids_base  # 256 open connections: share (the vehicle keeps one stream)


def release_link_id(link_id: int) -> None:
    with _ids_lock:
        _ids_in_use.discard(link_id)


__all__ = [
    "IFLAG_SIGNED",
    "SIGNATURE_LEN",
    "SIGNING_EPOCH_S",
    "UNSIGNED_ALLOWED",
    "SigningKey",
    "StreamTable",
    "allocate_link_id",
    "frame_signature",
    "release_link_id",
    "sign_frame",
    "signature_valid",
    "signing_timestamp",
]
