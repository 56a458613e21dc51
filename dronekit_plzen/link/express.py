"""The express lane of a mission transfer: in-order round trips answered in one tight loop.

A mission transfer is one round trip per item, and on a ground computer with few cores every
microsecond our side spends per round trip is a microsecond the vehicle waits (the vehicle's
process is woken on the core that sent to it, so even the work done after our send delays its
answer). :class:`~dronekit_plzen.link.transfer._Wire` already reads the socket on the transfer's
own thread; this module removes the layers between reading a request and sending its answer
for the case that is nearly every round trip of a clean link: the vehicle asks for exactly the
next item (upload), or sends exactly the item asked for (download).

The lane reads the UDP socket itself and recognises such a datagram from its header (one
unsigned MAVLink 2 frame from the vehicle, message id, length, CRC with CRC_EXTRA, mission
type, sequence number), answers it at once with a frame packed ahead (only its MAVLink sequence
number and CRC change per send) and keeps the datagram for the rest of the link, which gets it
after the answer, as on the direct path (:class:`~dronekit_plzen.link.direct.DirectReader`).
A datagram with no mission message for the transfer (telemetry, another system's traffic) is
parsed and queued for the link, CRC checked, as the general loop would, and the lane goes on;
anything else it reads (a repeated or reordered request, an ACK, a datagram from an unknown
sender, a timeout, a socket error) ends the lane: the datagram goes to the transfer's general
loop, which handles every case of the protocol as before, and enters the lane again once the
exchange is back in order. The timings the general loop learns from (round trips,
progress) are handed over in one batch when the lane ends.

It runs only where it is exact: a datagram link (UDP) with no signing key; signed, TCP and
serial links keep the general loop.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from dronekit_plzen.link.codec import _crc, _tuple_new
from dronekit_plzen.link.direct import DEFER_MAX
from dronekit_plzen.link.mission_wire import (
    _PEEK,
    MISSION_ITEM_INT,
    MISSION_REQUEST,
    MISSION_REQUEST_INT,
    MissionMessage,
)

if TYPE_CHECKING:
    from dronekit_plzen.link.transfer import _ItemFrames, _Wire

_REQ_EXTRA, _REQ_SEQ, _, _REQ_MT = _PEEK[MISSION_REQUEST_INT]
#: ArduPilot asks with the legacy MISSION_REQUEST: the same fields in the same places
_LEGACY_EXTRA = _PEEK[MISSION_REQUEST][0]
assert _PEEK[MISSION_REQUEST][1:] == _PEEK[MISSION_REQUEST_INT][1:]
_ITEM_EXTRA, _ITEM_SEQ, _, _ITEM_MT = _PEEK[MISSION_ITEM_INT]


@dataclass
class LaneRun:
    """What one pass of the lane did: the round trips it completed and when."""

    #: first sequence number handled (an item sent on upload, an item received on download)
    first: int
    #: monotonic time of each round trip's end (a request read on upload, an item on download)
    times: list[float] = field(default_factory=list)
    #: download: the items received, in order
    items: list[MissionMessage] = field(default_factory=list)

    @property
    def count(self) -> int:
        return len(self.times)


class Lane:
    """The socket, the sender and the link state one transfer's express lane works with."""

    def __init__(self, wire: _Wire) -> None:
        link = wire.link
        assert link is not None
        self.wire = wire
        self.link = link
        self.reader = wire._reader
        io = link._transport.datagram_io()
        assert io is not None
        self.recvfrom, self.send, self.peers, self.remember = io
        self.ts = wire.ts
        self.mav = link.codec._mav
        self.send_lock = link._send_lock

    @classmethod
    def of(cls, wire: _Wire) -> Lane | None:
        """A lane for ``wire``'s transfer, or None where the general loop must run."""
        link, reader = wire.link, wire._reader
        io_of = None if link is None else getattr(link._transport, "datagram_io", None)
        if reader is None or io_of is None or io_of() is None or not reader.fast:
            wire.express = False  # for the whole transfer: not a datagram link, or signed
            return None
        if not reader.active or reader.broken:  # not yet: at the first read
            return None
        return cls(wire)

    def _idle(self, deadline: float) -> bool:
        """The socket had nothing for one slice: upkeep; True when the lane must end."""
        now = time.monotonic()
        link = self.link
        if now >= link._next_hb:
            link._tick(now)
        reader = self.reader
        if reader._undispatched:
            reader.flush()
        return now >= deadline or link._stop.is_set() or reader.broken

    def _give_back(self, data: bytes, addr: Any) -> None:
        """A datagram the lane does not handle: to the general loop, as read."""
        if self.peers is not None and addr not in self.peers:
            self.remember(data, addr)  # a new sender: a peer to send to, as the transport does
            io = self.link._transport.datagram_io()
            if io is not None:
                self.peers = io.peers
        self.wire._take(data)

    def _aside(self, data: bytes, addr: Any) -> bool:
        """A datagram from a known peer that is not the next round trip's: parsed (CRC checked)
        and queued for the link as the general loop would; True when it held nothing for the
        transfer (telemetry, another system's traffic), so the lane may go on; False when it
        holds a mission message for the general loop (an ACK, a repeated or reordered request,
        a request packed behind telemetry)."""
        self._give_back(data, addr)
        return not self.wire._pending

    def upload(
        self,
        frames: _ItemFrames,
        expect: int,
        last: int,
        deadline: float,
        wait_s: float,
        on_progress: Callable[[int, int], None] | None,
    ) -> LaneRun:
        """Answer the vehicle's requests for items ``expect``, ``expect + 1``, ... up to ``last``
        (inclusive) while they come in order: the first by ``deadline`` (monotonic), each
        next within ``wait_s`` of the one before."""
        run = LaneRun(expect)
        times = run.times
        recvfrom, send, peers = self.recvfrom, self.send, self.peers
        ts, mav, lock, reader = self.ts, self.mav, self.send_lock, self.reader
        undispatched = reader._undispatched
        packed, sends, count = frames.packed, frames.sends, len(frames.items)
        mission_type = frames.mission_type
        monotonic = time.monotonic
        next_hb = self.link._next_hb
        while expect <= last:
            try:
                data, addr = recvfrom(512)
            except (BlockingIOError, InterruptedError):
                if self._idle(deadline):
                    break
                undispatched = reader._undispatched
                next_hb = self.link._next_hb
                continue
            except OSError:
                break  # the general loop meets the error and handles it
            n = len(data)
            mid = data[7] if n >= 12 else -1
            if peers is not None and addr not in peers:
                self._give_back(data, addr)
                break
            if (
                (mid != MISSION_REQUEST_INT and mid != MISSION_REQUEST)
                or data[5] != ts
                or data[0] != 0xFD
                or data[2]
                or data[8]
                or data[9]
                or n != data[1] + 12
            ):
                if self._aside(data, addr):
                    undispatched = reader._undispatched
                    continue  # telemetry: the link's, read in order; the lane goes on
                break
            size = n - 12
            seq = data[10] if size > _REQ_SEQ else 0
            if size > _REQ_SEQ + 1:
                seq |= data[11] << 8
            mt = data[10 + _REQ_MT] if size > _REQ_MT else 0
            if (
                seq != expect
                or mt != mission_type
                or seq >= len(packed)
                or sends[seq]
                or _crc(
                    data[1 : n - 2], _REQ_EXTRA if mid == MISSION_REQUEST_INT else _LEGACY_EXTRA
                )
                != data[n - 2] | data[n - 1] << 8
            ):
                self._give_back(data, addr)
                break
            now = monotonic()
            f = packed[seq][0]
            with lock:
                s = mav.seq
                f[4] = s
                mav.seq = (s + 1) & 0xFF
                end = len(f) - 2
                c = _crc(f[1:end], _ITEM_EXTRA)
                f[end] = c & 0xFF
                f[end + 1] = c >> 8
                send(f)
            # after the answer: what the link and the general loop need
            sends[seq] = 1
            times.append(now)
            undispatched.append(data)
            expect = seq + 1
            deadline = now + wait_s
            if len(undispatched) >= DEFER_MAX:
                reader.flush()
                undispatched = reader._undispatched
            if seq + 32 >= len(packed):
                frames.pack_ahead(seq)
                packed = frames.packed
            if now >= next_hb:
                self.link._tick(now)
                next_hb = self.link._next_hb
            if on_progress is not None:
                on_progress(seq, count)
        self._account(run.count)
        return run

    def download(
        self,
        expect: int,
        last: int,
        deadline: float,
        wait_s: float,
        mission_type: int,
        on_progress: Callable[[int, int], None] | None,
        count: int,
    ) -> LaneRun:
        """Take items ``expect``, ``expect + 1``, ... (item ``expect`` already asked for), asking
        for the next one as each arrives; the lane takes items up to ``last`` (inclusive) and
        asks for ``last + 1``."""
        run = LaneRun(expect)
        wire = self.wire
        req = wire._request_frame
        if req is None or wire._request_type != mission_type:
            return run  # the general loop packs the request frame at its first request
        times, items = run.times, run.items
        recvfrom, send, peers = self.recvfrom, self.send, self.peers
        ts, mav, lock, reader = self.ts, self.mav, self.send_lock, self.reader
        undispatched = reader._undispatched
        monotonic = time.monotonic
        next_hb = self.link._next_hb
        while expect <= last:
            try:
                data, addr = recvfrom(512)
            except (BlockingIOError, InterruptedError):
                if self._idle(deadline):
                    break
                undispatched = reader._undispatched
                next_hb = self.link._next_hb
                continue
            except OSError:
                break
            n = len(data)
            if peers is not None and addr not in peers:
                self._give_back(data, addr)
                break
            if (
                n < 12
                or data[7] != MISSION_ITEM_INT
                or data[5] != ts
                or data[0] != 0xFD
                or data[2]
                or data[8]
                or data[9]
                or n != data[1] + 12
            ):
                if self._aside(data, addr):
                    undispatched = reader._undispatched
                    continue  # telemetry: the link's, read in order; the lane goes on
                break
            size = n - 12
            seq = data[10 + _ITEM_SEQ] if size > _ITEM_SEQ else 0
            if size > _ITEM_SEQ + 1:
                seq |= data[11 + _ITEM_SEQ] << 8
            mt = data[10 + _ITEM_MT] if size > _ITEM_MT else 0
            if (
                seq != expect
                or mt != mission_type
                or _crc(data[1 : n - 2], _ITEM_EXTRA) != data[n - 2] | data[n - 1] << 8
            ):
                self._give_back(data, addr)
                break
            now = monotonic()
            nxt = seq + 1
            with lock:
                req[10] = nxt & 0xFF  # MISSION_REQUEST_INT.seq, the payload's first field
                req[11] = nxt >> 8
                s = mav.seq
                req[4] = s
                mav.seq = (s + 1) & 0xFF
                end = len(req) - 2
                c = _crc(req[1:end], _REQ_EXTRA)
                req[end] = c & 0xFF
                req[end + 1] = c >> 8
                send(req)
            # after the request for the next item: what the link and the general loop need
            times.append(now)
            items.append(
                _tuple_new(MissionMessage, (MISSION_ITEM_INT, ts, mt, seq, 0, 0, None, data))
            )
            undispatched.append(data)
            expect = nxt
            deadline = now + wait_s
            if len(undispatched) >= DEFER_MAX:
                reader.flush()
                undispatched = reader._undispatched
            if now >= next_hb:
                self.link._tick(now)
                next_hb = self.link._next_hb
            if on_progress is not None:
                on_progress(nxt, count)
        self._account(run.count)
        return run

    def _account(self, n: int) -> None:
        """The frames the lane sent, in the transfer's and the codec's counters."""
        if n:
            st = self.wire.stats
            st.frames_sent += n
            st.first_sends += n
            st.express += n
            self.link.codec.stats.frames_out += n


__all__ = ["Lane", "LaneRun"]
