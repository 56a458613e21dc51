"""MAVLink 2 signing as a vehicle does it: one state for the whole vehicle, across all its links.

Follows https://mavlink.io/en/guide/message_signing.html, written out here rather than taken
from pymavlink's ``check_signature`` (which stores a stream's timestamp *before* it checks the
signature, so one forged packet with a far-future timestamp locks the real sender out):

* the signature, SHA-256(key + header + payload + CRC + link id + timestamp)[:6], is checked
  first; a bad one changes nothing;
* there is ONE timestamp record per (system id, component id, link id) stream for the vehicle,
  shared by every link (UDP port, TCP, radio), so a packet captured on one link and replayed
  on another is as old as it was and is refused;
* a stream's timestamp must increase; a stream never seen before is accepted only if its
  timestamp is at most one minute behind the vehicle's own;
* the vehicle's timestamp becomes the newest accepted one (``max``);
* unsigned packets are accepted only for the message ids in :data:`UNSIGNED_ALLOWED`
  (RADIO_STATUS: a radio modem injects it and cannot sign), and they never authenticate a
  sender (they do not move the telemetry destination, see :mod:`simulators.net`).
"""

from __future__ import annotations

import enum
import hashlib
import time

from pymavlink.dialects.v20 import ardupilotmega as mav

#: 2015-01-01 00:00:00 UTC: MAVLink signing timestamps count 10 µs units from here
SIGNING_EPOCH_S = 1420070400
IFLAG_SIGNED = 0x01
SIGNATURE_LEN = 13
#: how far behind the vehicle's clock a new stream may start (the specification's one minute)
NEW_STREAM_WINDOW = 60 * 100_000
#: message ids a vehicle with signing on still accepts unsigned (the explicit allow-list)
UNSIGNED_ALLOWED = frozenset({mav.MAVLINK_MSG_ID_RADIO_STATUS})


def now_timestamp() -> int:
    """The signing timestamp of the wall clock (10 µs units since 2015-01-01 UTC)."""
    return int((time.time() - SIGNING_EPOCH_S) * 100_000)


class Verdict(enum.Enum):
    """What the vehicle does with one received message."""

    #: signing off: accepted (and any valid frame identifies the sender)
    OPEN = "open"
    #: correctly signed and newer than its stream: accepted, the sender is authenticated
    SIGNED = "signed"
    #: unsigned but on the allow-list: accepted, the sender is NOT authenticated
    ALLOWED_UNSIGNED = "allowed-unsigned"
    #: refused (unsigned, bad signature, replayed or stale timestamp)
    REJECTED = "rejected"


class VehicleSigning:
    """The signing state of one vehicle: key, clock and stream table, shared by all links."""

    def __init__(self) -> None:
        self.key: bytes | None = None
        self.timestamp = now_timestamp()
        #: (system id, component id, link id) -> last accepted timestamp
        self.streams: dict[tuple[int, int, int], int] = {}
        self.accepted = 0
        self.unsigned_rejected = 0
        self.bad_signatures = 0
        self.replays = 0
        self.allowed_unsigned = 0

    @property
    def enabled(self) -> bool:
        return self.key is not None

    def set_key(self, key: bytes | None, initial_timestamp: int = 0) -> None:
        """Install (or with None remove) the key; a different key starts a new stream table."""
        if key != self.key:
            self.streams.clear()
        self.key = key
        self.timestamp = max(self.timestamp, now_timestamp(), initial_timestamp)

    def check(self, frame: bytes | bytearray, msg_id: int, src: int, comp: int) -> Verdict:
        """Decide on one complete frame (header .. signature) that parsed as ``msg_id``."""
        key = self.key
        if key is None:
            return Verdict.OPEN
        if frame[0] != 0xFD or not frame[2] & IFLAG_SIGNED or len(frame) < SIGNATURE_LEN + 12:
            if msg_id in UNSIGNED_ALLOWED:
                self.allowed_unsigned += 1
                return Verdict.ALLOWED_UNSIGNED
            self.unsigned_rejected += 1
            return Verdict.REJECTED
        h = hashlib.sha256(key)
        h.update(frame[:-6])
        if h.digest()[:6] != bytes(frame[-6:]):
            self.bad_signatures += 1  # nothing stored: a forgery cannot move any clock
            return Verdict.REJECTED
        link_id = frame[-SIGNATURE_LEN]
        ts = int.from_bytes(frame[-12:-6], "little")
        stream = (src, comp, link_id)
        last = self.streams.get(stream)
        if last is not None and ts <= last:
            self.replays += 1
            return Verdict.REJECTED
        if last is None and ts + NEW_STREAM_WINDOW < self.timestamp:
            self.replays += 1
            return Verdict.REJECTED
        self.streams[stream] = ts
        if ts > self.timestamp:
            self.timestamp = ts
        self.accepted += 1
        return Verdict.SIGNED

    def stats(self) -> dict[str, int]:
        return {
            "accepted": self.accepted,
            "unsigned_rejected": self.unsigned_rejected,
            "bad_signatures": self.bad_signatures,
            "replays": self.replays,
            "allowed_unsigned": self.allowed_unsigned,
        }
