"""One mission transfer's side of the conversation with a vehicle: the port it talks through,
its policy and retry budget, its round-trip timer, its counters, and the wire it reads and
writes (:class:`_Wire`: the socket read on the transfer's own thread, frames packed once).

The protocol itself (what to send when, every case of a lossy link) is in
:mod:`dronekit_plzen.link.mission`; the express lane for in-order round trips in
:mod:`dronekit_plzen.link.express`.
"""

from __future__ import annotations

import contextlib
import math
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from dronekit_plzen.link.express import Lane
from dronekit_plzen.link.mission_wire import (
    CRC_EXTRA,
    MISSION_ITEM_INT,
    MISSION_REPLY_IDS,
    MISSION_REQUEST_INT,
    MissionMessage,
    decode,
    item_int_payload,
    peek,
    request_int_payload,
)
from dronekit_plzen.mission_items import MissionItem

_REQUEST_INT_CRC = CRC_EXTRA[MISSION_REQUEST_INT]
#: the longest a timeout backs off to (x the adaptive timeout), Karn's exponential backoff
_MAX_BACKOFF = 8.0


class MissionPort(Protocol):
    """What the mission client needs: send to the vehicle, receive its mission messages."""

    def send_to_vehicle(self, msg: Any) -> None: ...

    def next_mission_message(self, timeout_s: float) -> Any | None: ...

    @property
    def mav(self) -> Any: ...

    @property
    def target(self) -> tuple[int, int]: ...

    @property
    def loss_fraction(self) -> float: ...


@dataclass(frozen=True)
class TransferPolicy:
    timeout_s: float = 1.5
    item_timeout_s: float = 0.25
    retries: int = 5
    #: lower bound of the adaptive item timeout
    min_item_timeout_s: float = 0.02
    adaptive: bool = True


#: what a transfer uses when the caller gives no policy
DEFAULT_POLICY = TransferPolicy()


def retry_budget(policy: TransferPolicy, loss_fraction: float, n_items: int) -> int:
    """Retries per message so that ``n_items`` round trips all succeed with P > 0.999."""
    if not policy.adaptive or loss_fraction <= 0.0:
        return policy.retries
    loss = min(max(loss_fraction, 0.0), 0.9)
    p_fail = 1.0 - (1.0 - loss) ** 2
    needed = math.ceil(math.log(1e-3 / max(n_items, 1)) / math.log(p_fail)) - 1
    return max(policy.retries, min(needed, 60))


class _Rto:
    """Round-trip estimate → retransmission timeout, clamped to [min, spec value].

    Karn's algorithm: the caller samples only round trips of messages sent once; a timeout
    doubles :attr:`backoff` (the next waits), a clean sample resets it.
    """

    def __init__(self, policy: TransferPolicy, seed: tuple[float, float] | None = None) -> None:
        self.policy = policy
        self.srtt: float | None = None
        self.rttvar = 0.0
        if seed is not None and math.isfinite(seed[0]) and math.isfinite(seed[1]):
            self.srtt, self.rttvar = seed
        self.backoff = 1.0
        self.timeouts = 0  # of the message under way
        self.samples = 0
        self.min_rtt = math.inf

    def sample(self, rtt: float) -> None:
        self.samples += 1
        self.min_rtt = min(self.min_rtt, rtt)
        if self.srtt is None:
            self.srtt, self.rttvar = rtt, rtt / 2
        else:
            self.rttvar = 0.75 * self.rttvar + 0.25 * abs(self.srtt - rtt)
            self.srtt = 0.875 * self.srtt + 0.125 * rtt

    def timed_out(self) -> None:
        self.timeouts += 1
        if self.timeouts >= 5:
            self.backoff = min(self.backoff * 2.0, _MAX_BACKOFF)

    def next_message(self) -> None:
        """A new message (item, request) is under way: its first wait is not backed off."""
        self.backoff = 1.0
        self.timeouts = 0

    def item_timeout(self) -> float:
        p = self.policy
        if not p.adaptive or self.srtt is None:
            return p.item_timeout_s
        base = max(p.min_item_timeout_s, self.srtt + 4 * self.rttvar)
        return min(p.item_timeout_s, base * self.backoff)

    def default_timeout(self) -> float:
        p = self.policy
        if not p.adaptive or self.srtt is None:
            return p.timeout_s
        base = max(4 * p.min_item_timeout_s, 2 * (self.srtt + 4 * self.rttvar))
        return min(p.timeout_s, base * self.backoff)

    def dup_window(self) -> float:
        """A request repeated sooner than this after our answer is a duplicate of the first.

        Twice the shortest round trip seen (a copy travels with the original), at least 1 ms;
        never the smoothed round trip, which a lost request can inflate past the vehicle's
        re-request interval (the vehicle asking again would then go unanswered).
        """
        base = self.min_rtt if math.isfinite(self.min_rtt) else (self.srtt or 0.0025)
        return max(0.001, 2 * base)


@dataclass
class TransferStats:
    """What one transfer sent, counted on our side (see ``Link.transfer_stats``)."""

    kind: str
    mission_type: int = 0
    items: int = 0
    #: every frame we sent: count/list requests, items or item requests, ACKs
    frames_sent: int = 0
    #: items (upload) or item requests (download) sent for the first time
    first_sends: int = 0
    #: frames sent again: items, item requests, the count, the request for the list
    retransmissions: int = 0
    #: of those, sent again because the vehicle asked again (upload)
    on_request: int = 0
    #: of those, sent again because our timer ran out (or a refusal is asked again)
    on_timeout: int = 0
    #: requests or items not answered: duplicated, reordered, stale
    ignored: int = 0
    #: whole uploads started again (the vehicle dropped the transfer)
    restarts: int = 0
    rtt_samples: int = 0
    srtt_s: float = math.nan
    rttvar_s: float = math.nan
    min_rtt_s: float = math.inf
    #: the socket was read on the transfer's own thread (no hand-off between threads)
    direct: bool = False
    #: round trips answered in the express lane (:mod:`~dronekit_plzen.link.express`)
    express: int = 0
    elapsed_s: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}

    def measured(self, rto: _Rto) -> None:
        self.rtt_samples = rto.samples
        self.min_rtt_s = rto.min_rtt
        if rto.srtt is not None:
            self.srtt_s, self.rttvar_s = rto.srtt, rto.rttvar


def _link_of(port: Any) -> Any:
    """The :class:`~dronekit_plzen.link.connection.Link` behind a vehicle's port, if any."""
    from dronekit_plzen.link.connection import Link

    link = getattr(getattr(port, "vehicle", None), "link", None)
    return link if isinstance(link, Link) else None


class _Wire:
    """One transfer's side of the conversation: sends, packed frames, the vehicle's messages.

    On a :class:`~dronekit_plzen.link.connection.Link` it reads the socket directly (the
    vehicle's answer is handled where it is decoded) and sends frames packed once; on any other
    :class:`MissionPort` it uses the port's methods.
    """

    def __init__(self, port: MissionPort, stats: TransferStats) -> None:
        self.port = port
        self.stats = stats
        self.mav = port.mav
        self.ts, self.tc = port.target
        self.link = _link_of(port)
        self._send_frame = None if self.link is None else self.link.send_frame
        self._request_frame: bytearray | None = None
        self._request_type = -1
        self._reader: Any = None
        self._first_read = True
        self._pending: deque[Any] = deque()
        self._lane: Lane | None = None
        #: may the express lane answer in-order round trips (:mod:`~dronekit_plzen.link.express`)
        self.express = True
        self._stack = contextlib.ExitStack()
        self._t0 = time.monotonic()

    def __enter__(self) -> _Wire:
        if self.link is not None:
            # the port's own subscription gets nothing while the reader hands us the messages
            skip = getattr(self.port, "sub", None)
            self._reader = self._stack.enter_context(self.link.direct_reader(skip))
        return self

    def __exit__(self, *exc: object) -> None:
        self._stack.close()
        self.stats.direct = self._reader is not None and self._reader.active
        self.stats.elapsed_s = time.monotonic() - self._t0
        if self.link is not None:
            self.link.transfer_stats[(self.ts, self.stats.kind)] = self.stats
            # a download times clean round trips; an upload's may include a lost request's wait
            # for the vehicle's timer (the vehicle asks, we cannot tell a repeat): only its
            # shortest round trip is clean, and seeds the next transfer until a download's
            st, known = self.stats, self.link.rtt_estimates
            if st.kind == "download" and math.isfinite(st.srtt_s):
                known[self.ts] = (st.srtt_s, st.rttvar_s)
            elif self.ts not in known and math.isfinite(st.min_rtt_s):
                known[self.ts] = (st.min_rtt_s, st.min_rtt_s / 2)

    def rtt_seed(self) -> tuple[float, float] | None:
        """(srtt, rttvar) the vehicle's last transfers on this link measured, if any."""
        if self.link is None:
            return None
        seed: tuple[float, float] | None = self.link.rtt_estimates.get(self.ts)
        return seed

    # ---------------------------------------------------------------- sending
    def send(self, msg: Any) -> None:
        self.stats.frames_sent += 1
        self.port.send_to_vehicle(msg)

    def pack_item(self, item: MissionItem, seq: int, mission_type: int) -> Any:
        """What :meth:`send_packed` sends for item ``seq``: a frame (on a link) or a message."""
        if self.link is None:
            x, y = item.wire_xy()
            ac = 1 if item.autocontinue else 0
            return self.mav.mission_item_int_encode(
                self.ts, self.tc, seq, item.frame, item.command, 0, ac, item.param1,
                item.param2, item.param3, item.param4, x, y, float(item.alt_m), mission_type,
            )  # fmt: skip
        payload = item_int_payload(seq, (self.ts, self.tc), item, mission_type)
        frame = self.link.pack_frame(MISSION_ITEM_INT, payload)
        return (frame, CRC_EXTRA[MISSION_ITEM_INT])

    def pack_request(self, seq: int, mission_type: int) -> Any:
        """What :meth:`send_packed` sends to ask for item ``seq``."""
        if self.link is None:
            return self.mav.mission_request_int_encode(self.ts, self.tc, seq, mission_type)
        payload = request_int_payload(seq, (self.ts, self.tc), mission_type)
        return (self.link.pack_frame(MISSION_REQUEST_INT, payload), CRC_EXTRA[MISSION_REQUEST_INT])

    def send_request(self, seq: int, mission_type: int) -> None:
        """Ask for item ``seq``: on a link, one frame packed once and re-numbered per send."""
        if self._send_frame is None:
            self.send(self.mav.mission_request_int_encode(self.ts, self.tc, seq, mission_type))
            return
        frame = self._request_frame
        if frame is None or self._request_type != mission_type:
            # packed with a sequence of 0xFFFF, so the payload is never cut inside it
            frame = self.pack_request(0xFFFF, mission_type)[0]
            self._request_frame, self._request_type = frame, mission_type
        frame[10] = seq & 0xFF  # MISSION_REQUEST_INT.seq, the payload's first field
        frame[11] = seq >> 8
        self.stats.frames_sent += 1
        self._send_frame(frame, _REQUEST_INT_CRC, self.ts)

    def send_packed(self, packed: Any) -> None:
        self.stats.frames_sent += 1
        if self._send_frame is None:
            self.port.send_to_vehicle(packed)
        else:
            self._send_frame(packed[0], packed[1], self.ts)

    # ---------------------------------------------------------------- receiving
    def next(self, timeout_s: float) -> MissionMessage | None:
        """The vehicle's next mission message within ``timeout_s`` (None: none came).

        Read from the socket, a datagram that is one unsigned mission reply from the vehicle is
        recognised from its header (:func:`~dronekit_plzen.link.mission_wire.peek`); anything
        else is parsed and checked by the codec (signatures included) and the replies in it
        decoded (:func:`~dronekit_plzen.link.mission_wire.decode`). Everything read is
        dispatched to the rest of the link by the reader, after our answer.
        """
        pending = self._pending
        if pending:
            return pending.popleft()
        reader = self._reader
        if reader is None or reader.broken:
            return self._from_port(timeout_s)
        deadline = time.monotonic() + timeout_s
        ts = self.ts
        recv = reader.recv_datagram
        wait = timeout_s
        while True:
            data = recv(wait)
            if self._first_read:  # what the I/O thread read for us before it parked comes first
                self._first_read = False
                for early in map(MissionMessage.of, reader.early()):
                    if early is not None:
                        pending.append(early)
            if data:
                m = peek(data, ts) if reader.fast else None
                if m is not None:  # the usual case: answered before anything else is done
                    reader.defer(data)
                    if not pending:
                        return m
                    pending.append(m)
                else:
                    self._parse(data)
            if pending:
                return pending.popleft()
            if reader.broken:  # the transport failed: the I/O thread reconnects, use the queue
                return self._from_port(max(0.0, deadline - time.monotonic()))
            wait = deadline - time.monotonic()
            if wait <= 0.0:
                return None

    def _parse(self, data: bytes) -> None:
        """The mission replies from the vehicle in a datagram parsed and checked by the codec
        (signatures included), to the pending queue."""
        ts, pending = self.ts, self._pending
        for f in self._reader.frames(data):
            if f[1] == ts and f[0] in MISSION_REPLY_IDS:  # from the vehicle
                m = decode(f)
                if m is not None:
                    pending.append(m)

    def _take(self, data: bytes) -> None:
        """A datagram the express lane read and did not handle: its replies to the pending
        queue (:meth:`next` returns them first), as :meth:`next` would have taken it."""
        reader = self._reader
        m = peek(data, self.ts) if reader.fast else None
        if m is not None:
            reader.defer(data)
            self._pending.append(m)
        else:
            self._parse(data)

    def lane(self) -> Lane | None:
        """The express lane for the round trips that come in order (see
        :mod:`~dronekit_plzen.link.express`), where it applies now (nothing pending, the
        socket read on this thread, no signing)."""
        if self._pending or not self.express:
            return None
        lane = self._lane
        if lane is None:
            lane = self._lane = Lane.of(self)
            if lane is None:
                return None
        reader = self._reader
        return None if reader.broken or not reader.fast else lane

    def _from_port(self, timeout_s: float) -> MissionMessage | None:
        """The next mission message from the port's queue (pymavlink messages)."""
        deadline = time.monotonic() + timeout_s
        while True:
            msg = self.port.next_mission_message(max(0.0, deadline - time.monotonic()))
            if msg is None:
                return None
            m = MissionMessage.of(msg)
            if m is not None:
                return m


#: items packed (upload) or decoded (download) at a time, while the vehicle works on one
_CHUNK = 64


class _ItemFrames:
    """The items' MISSION_ITEM_INT frames, each packed once, a chunk at a time ahead of the
    vehicle's requests (:meth:`pack_ahead`); a send only numbers, checksums (and signs) one."""

    def __init__(self, wire: _Wire, items: Sequence[MissionItem], mission_type: int) -> None:
        self.wire = wire
        self.items = items
        self.mission_type = mission_type
        self.packed: list[Any] = []
        self.sends = [0] * len(items)

    def pack_ahead(self, seq: int) -> None:
        """Pack the next chunk when fewer than :data:`_CHUNK` / 2 items past ``seq`` are."""
        if seq + _CHUNK // 2 >= len(self.packed):
            self._pack_to(seq + _CHUNK)

    def _pack_to(self, seq: int) -> None:
        n, end = len(self.packed), min(seq + 1, len(self.items))
        if n < end:
            pack, mt, items = self.wire.pack_item, self.mission_type, self.items
            self.packed += [pack(items[i], i, mt) for i in range(n, end)]

    def send(self, seq: int) -> bool:
        """Send item ``seq``; True when it had been sent before (a retransmission)."""
        if seq >= len(self.packed):  # not expected yet (a vehicle that skips ahead)
            self._pack_to(seq)
        self.wire.send_packed(self.packed[seq])
        sends = self.sends[seq] + 1
        self.sends[seq] = sends
        if sends > 1:
            self.wire.stats.retransmissions += 1
            return True
        self.wire.stats.first_sends += 1
        return False
