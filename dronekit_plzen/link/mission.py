"""The MAVLink mission protocol (https://mavlink.io/en/services/mission.html), client side.

Upload (MISSION_COUNT → the vehicle pulls every item with MISSION_REQUEST_INT, or the legacy
MISSION_REQUEST, → MISSION_ACK), download (MISSION_REQUEST_LIST → MISSION_COUNT → we pull every
item → we send MISSION_ACK) and clear (MISSION_CLEAR_ALL → MISSION_ACK), for the mission, fence
and rally types.

Timeouts and retries follow the specification's recommendation (1500 ms default, 250 ms per
item, 5 retries) with two refinements for lossy links, both bounded by those values:

* the per-item timeout adapts to the measured round trip (Jacobson's estimator, as TCP does),
  never above 250 ms; a round trip is measured only on a message sent once (Karn's algorithm:
  the answer to a re-sent one may answer either copy, and the wait it includes would inflate
  the timeout); from the fifth timeout of the same message on, each doubles the next wait, up
  to 8x (a round trip longer than the timeout costs a few frames, not a storm; earlier backoff
  only slows a lossy link down, where each timeout is a real loss); the backoff ends
  with that message (on a radio loss is random, not congestion: one loss says nothing about the
  next message); a transfer starts from the round trip the vehicle's last transfer measured;
* the retry budget grows with the link's measured packet loss, so that the chance that a
  transfer of ``n`` items fails on retries alone stays below 1e-3 (at 30 % loss each way a
  round trip fails 51 % of the time and 5 retries would lose a 500-item transfer almost surely).

Duplicated and reordered requests are answered idempotently; out-of-sequence items are dropped
and the expected one re-requested; an ACK that is not ours (a late duplicate of an earlier
transfer's ACK) is ignored until the final item has been sent.

Retransmissions are what loss makes necessary, no more. During an upload the vehicle drives: an
item goes out again when the vehicle asks for it again (its own timer covers a lost item and a
lost request), a duplicated request in the same burst is not answered twice, and our timer only
re-sends what the vehicle cannot ask for (the count, the final item whose ACK was lost), or
backs a silent vehicle up after four times its measured re-request interval. During a download we
drive, one request at a time, and re-send a request after the adaptive timeout. Every transfer
counts what it sent (:class:`TransferStats`).

Per-item latency is the transfer time (one round trip per item), so on a
:class:`~dronekit_plzen.link.connection.Link` the transfer reads the socket on its own thread
(:meth:`~dronekit_plzen.link.connection.Link.direct_reader`, waiting inside ``recvfrom`` on
UDP) and answers each request where it arrives: a datagram that is one unsigned mission reply
from the vehicle is recognised from its header (:func:`~dronekit_plzen.link.mission_wire.peek`:
header, CRC with CRC_EXTRA, seq and mission type; no message object), the answer goes out at
once, and only then is the datagram handed to the rest of the link (state, queues, listeners:
in batches, in arrival order). A signed link, or a stream (TCP, serial), takes the general way:
the codec checks every frame (signature and timestamp included) and the replies are decoded
from the checked frames (:func:`~dronekit_plzen.link.mission_wire.decode`). Each item frame is
packed once, a chunk ahead of the vehicle's requests, and an item request once for the whole
download; only the sequence number, CRC and signature are redone per send
(:meth:`~dronekit_plzen.link.connection.Link.send_frame`; the CRC covers the sequence number).
Downloaded items are decoded a chunk at a time, together
(:func:`~dronekit_plzen.link.mission_wire.items_of`), while the vehicle finds the next one.
"""

from __future__ import annotations

import contextlib
import itertools
import math
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from dronekit_plzen.errors import LinkTimeout, MissionTransferError
from dronekit_plzen.i18n import _
from dronekit_plzen.link.express import Lane
from dronekit_plzen.link.mission_wire import (
    CRC_EXTRA,
    ITEM_IDS,
    MISSION_ACK,
    MISSION_COUNT,
    MISSION_ITEM_INT,
    MISSION_REPLY_IDS,
    MISSION_REQUEST_INT,
    REQUEST_IDS,
    MissionMessage,
    decode,
    item_int_payload,
    items_of,
    peek,
    request_int_payload,
)
from dronekit_plzen.mission_items import MissionItem

MAV_MISSION_ACCEPTED = 0
MAV_MISSION_ERROR = 1
MAV_MISSION_INVALID_SEQUENCE = 13
MAV_MISSION_OPERATION_CANCELLED = 15
MISSION_RESULT_NAMES = {
    0: "ACCEPTED",
    1: "ERROR",
    2: "UNSUPPORTED_FRAME",
    3: "UNSUPPORTED",
    4: "NO_SPACE",
    5: "INVALID",
    6: "INVALID_PARAM1",
    7: "INVALID_PARAM2",
    8: "INVALID_PARAM3",
    9: "INVALID_PARAM4",
    10: "INVALID_PARAM5_X",
    11: "INVALID_PARAM6_Y",
    12: "INVALID_PARAM7",
    13: "INVALID_SEQUENCE",
    14: "DENIED",
    15: "OPERATION_CANCELLED",
}
MISSION_TYPE_NAMES = {0: "mission", 1: "fence", 2: "rally"}
#: the mission protocol's messages (a transfer subscribes to these)
MISSION_MESSAGES = frozenset(
    {
        "MISSION_REQUEST_INT",
        "MISSION_REQUEST",
        "MISSION_ACK",
        "MISSION_COUNT",
        "MISSION_ITEM_INT",
        "MISSION_ITEM",
    }
)
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


def result_name(code: int) -> str:
    return MISSION_RESULT_NAMES.get(code, str(code))


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
            x, y = round(item.lat_deg * 1e7), round(item.lon_deg * 1e7)
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


#: error ACKs in one download after which the vehicle's refusal is taken as final (the ones
#: before may answer late duplicates of the upload just finished)
REFUSALS_FINAL = 3


def _ack_error(code: int, mission_type: int, what: str) -> MissionTransferError:
    return MissionTransferError(
        _("{what} of the {kind} refused by the vehicle: {result}").format(
            what=what,
            kind=MISSION_TYPE_NAMES.get(mission_type, mission_type),
            result=result_name(code),
        ),
        mission_result=code,
        mission_type=mission_type,
    )


def _is_refusal(msg: MissionMessage) -> bool:
    """A MISSION_ACK that ends a transfer (not ACCEPTED, not the recoverable INVALID_SEQUENCE)."""
    return msg.msgid == MISSION_ACK and msg.result not in (
        MAV_MISSION_ACCEPTED,
        MAV_MISSION_INVALID_SEQUENCE,
    )


def upload(
    port: MissionPort,
    items: Sequence[MissionItem],
    mission_type: int = 0,
    *,
    policy: TransferPolicy = TransferPolicy(),
    on_progress: Callable[[int, int], None] | None = None,
    max_restarts: int = 3,
    stats: TransferStats | None = None,
) -> TransferStats:
    """Upload ``items`` (already in wire order; seq = index). Raises on error/timeout.

    A vehicle that abandons the transfer (it cancels after its own retries, answers our items
    with MAV_MISSION_ERROR after an out-of-sequence NACK, or goes silent after a NACK) gets the
    whole upload again, from MISSION_COUNT, at most ``max_restarts`` times. Returns the
    transfer's counters (also filled into ``stats`` when given).
    """
    st = stats if stats is not None else TransferStats("upload")
    st.kind, st.mission_type, st.items = "upload", mission_type, len(items)
    with _Wire(port, st) as wire:
        frames = _ItemFrames(wire, items, mission_type)
        for attempt in range(max_restarts + 1):
            if attempt:  # the count, and every item asked for again, are sent again
                st.restarts += 1
                st.retransmissions += 1
            if _upload_once(
                wire, frames, mission_type, policy, on_progress, last=attempt == max_restarts
            ):
                return st
    return st  # pragma: no cover - the last attempt raises instead of returning False


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


def _upload_once(
    wire: _Wire,
    frames: _ItemFrames,
    mission_type: int,
    policy: TransferPolicy,
    on_progress: Callable[[int, int], None] | None,
    *,
    last: bool,
) -> bool:
    """One attempt; True when accepted, False when the vehicle dropped it (restart)."""
    ts, tc, mav, st = wire.ts, wire.tc, wire.mav, wire.stats
    count = len(frames.items)
    retries = retry_budget(policy, wire.port.loss_fraction, count)
    # give up after as long as the specification's retries would wait for the vehicle
    stall_limit_s = (retries + 1) * policy.timeout_s
    rto = _Rto(policy, wire.rtt_seed())
    count_msg = mav.mission_count_encode(ts, tc, count, mission_type)
    wire.send(count_msg)
    frames.pack_ahead(0)  # while the vehicle takes the count (and the I/O thread hands over)
    last_sent: int | None = None
    sent_at: dict[int, float] = {}
    asked_at: dict[int, float] = {}  # when the vehicle last asked for an item
    reask_s = math.inf  # the vehicle's re-request interval: median of the last intervals seen
    reasks: deque[float] = deque(maxlen=15)
    highest_requested = -1
    restart_pos: int | None = None
    now = time.monotonic()
    progress_at = tx_at = now
    nacked = False
    while True:
        # Our timer: the count (nothing asked yet) and the final item (its ACK may be lost) are
        # ours to repeat; for the others the vehicle asks again itself, we only back it up.
        if last_sent is None:
            wait_s = rto.default_timeout()
        elif highest_requested == count - 1:
            wait_s = rto.item_timeout()
        else:
            wait_s = max(rto.default_timeout(), min(4 * reask_s, policy.timeout_s))
        if (
            last_sent is not None
            and last_sent == highest_requested < count - 1
            and restart_pos is None
            and (lane := wire.lane()) is not None
        ):  # the requests that come in order, answered in the express lane
            run = lane.upload(
                frames, highest_requested + 1, count - 1, tx_at + wait_s, wait_s, on_progress
            )
            if run.count:
                t = run.times
                last_sent = highest_requested = run.first + run.count - 1
                # the round trips the general loop would have timed (Karn: items sent once)
                prev_t = sent_at.get(run.first - 1) if frames.sends[run.first - 1] == 1 else None
                limit = reask_s / 2
                if prev_t is not None and t[0] - prev_t < limit:
                    rto.sample(t[0] - prev_t)
                for a, b in itertools.pairwise(t):
                    if b - a < limit:
                        rto.sample(b - a)
                rto.next_message()
                progress_at = tx_at = sent_at[last_sent] = asked_at[last_sent] = t[-1]
                continue
        msg = wire.next(max(0.0, tx_at + wait_s - time.monotonic()))
        if msg is None:
            now = time.monotonic()
            if now < tx_at + wait_s:
                continue
            if now - progress_at > stall_limit_s:
                if nacked and not last:
                    return False
                _cancel(wire, mission_type)
                raise LinkTimeout(
                    _("mission upload stalled at item {seq} of {n} for {t:.1f} s").format(
                        seq=highest_requested + 1, n=count, t=stall_limit_s
                    )
                )
            if last_sent is None:
                wire.send(count_msg)
                st.retransmissions += 1
            else:
                frames.send(last_sent)
            st.on_timeout += 1
            rto.timed_out()
            tx_at = now
            continue
        if msg.mission_type != mission_type:
            continue
        mid = msg.msgid
        if mid in REQUEST_IDS:
            seq = msg.seq
            # a vehicle asks in order: only the awaited item or the next one is a live request;
            # older ones are reordered/duplicated packets and answering them would only confuse.
            # A request for item 0 after progress may mean the vehicle restarted the transfer
            # (some do on a duplicated MISSION_COUNT): follow that second window too.
            if seq >= count:
                continue
            now = time.monotonic()
            live = highest_requested <= seq <= highest_requested + 1
            if not live:
                if restart_pos is None and seq == 0 and highest_requested > 0:
                    restart_pos = 0
                elif restart_pos is None or not restart_pos <= seq <= restart_pos + 1:
                    st.ignored += 1
                    continue
                restart_pos = max(restart_pos, seq)
                progress_at = now
                if restart_pos >= highest_requested:  # caught up: one window again
                    highest_requested, restart_pos = restart_pos, None
                if frames.send(seq):
                    st.on_request += 1
                sent_at[seq] = tx_at = now
                last_sent = seq
                continue
            if seq == last_sent and now - sent_at.get(seq, -math.inf) < min(
                rto.dup_window(), reask_s / 2
            ):
                st.ignored += 1
                continue  # a duplicated request in the same burst: the item is on its way
            # answer first, learn from the request after (the vehicle waits for the item)
            prev = last_sent
            if frames.send(seq):
                st.on_request += 1
            if seq == prev and seq in asked_at:  # the vehicle asked again: learn its timer
                reasks.append(now - asked_at[seq])
                reask_s = sorted(reasks)[len(reasks) // 2]
            asked_at[seq] = now
            if (
                prev is not None
                and seq == prev + 1
                and prev in sent_at
                and frames.sends[prev] == 1  # Karn: a re-sent item's round trip is ambiguous
                and now - sent_at[prev] < reask_s / 2  # else the vehicle asked twice
            ):
                rto.sample(now - sent_at[prev])
            advanced = seq > highest_requested
            if advanced:
                highest_requested = seq
                progress_at = now
                rto.next_message()
            sent_at[seq] = tx_at = now
            last_sent = seq
            frames.pack_ahead(seq)  # while the vehicle stores this one
            if advanced and on_progress is not None:
                on_progress(seq, count)
        elif mid == MISSION_ACK:
            code = msg.result
            final_sent = count == 0 or highest_requested == count - 1
            if code == MAV_MISSION_ACCEPTED:
                if final_sent:
                    st.measured(rto)
                    if on_progress is not None:
                        on_progress(count, count)
                    return True
                continue  # a stale ACK (earlier transfer, duplicated packet)
            if code == MAV_MISSION_INVALID_SEQUENCE:
                nacked = True  # ArduPilot keeps going after this NACK; others drop the transfer
                continue
            if code in (MAV_MISSION_ERROR, MAV_MISSION_OPERATION_CANCELLED) and last_sent is None:
                continue  # a stale answer to an earlier transfer
            if code in (MAV_MISSION_ERROR, MAV_MISSION_OPERATION_CANCELLED) and not last:
                return False  # the vehicle dropped the transfer (NACK, its retries): start again
            raise _ack_error(code, mission_type, _("upload"))


def _cancel(wire: _Wire, mission_type: int) -> None:
    ack = wire.mav.mission_ack_encode(
        wire.ts, wire.tc, MAV_MISSION_OPERATION_CANCELLED, mission_type
    )
    wire.send(ack)


def download(
    port: MissionPort,
    mission_type: int = 0,
    *,
    policy: TransferPolicy = TransferPolicy(),
    on_progress: Callable[[int, int], None] | None = None,
    stats: TransferStats | None = None,
) -> list[MissionItem]:
    """Download the vehicle's items of ``mission_type`` (wire order, home included).

    The transfer's counters go into ``stats`` when given (and, on a link, into
    ``link.transfer_stats[(sysid, "download")]``).
    """
    st = stats if stats is not None else TransferStats("download")
    st.kind, st.mission_type = "download", mission_type
    with _Wire(port, st) as wire:
        return _download(wire, mission_type, policy, on_progress)


def _download(
    wire: _Wire,
    mission_type: int,
    policy: TransferPolicy,
    on_progress: Callable[[int, int], None] | None,
) -> list[MissionItem]:
    ts, tc, mav, st = wire.ts, wire.tc, wire.mav, wire.stats
    rto = _Rto(policy, wire.rtt_seed())
    # 1. the count
    count: int | None = None
    # A refusal is final only when the vehicle repeats it: an error ACK may be a stale answer
    # to a late duplicate of the upload that has just finished (PX4 and ArduPilot both NACK an
    # item that arrives after their final ACK; a vehicle that re-requested the last items under
    # load NACKs each duplicate), so the request is repeated until REFUSALS_FINAL came
    refusal: MissionMessage | None = None
    refusals = 0
    retries = retry_budget(policy, wire.port.loss_fraction, 1)
    list_msg = mav.mission_request_list_encode(ts, tc, mission_type)
    # the adaptive timeout asks again soon on a fast link, but we give up only after the
    # specification's retries at its fixed timeout: a vehicle (or a busy ground computer) that
    # stalls for a second is not a vehicle without a mission
    give_up_s = (retries + 1) * policy.timeout_s
    first_at = time.monotonic()
    attempt = 0
    while attempt <= retries or time.monotonic() - first_at < give_up_s:
        attempt += 1
        if attempt > 1:
            st.retransmissions += 1
            st.on_timeout += 1
            rto.timed_out()
        wire.send(list_msg)
        deadline = time.monotonic() + rto.default_timeout()
        while (left := deadline - time.monotonic()) > 0:
            msg = wire.next(left)
            if msg is None:
                break
            if msg.mission_type != mission_type:
                continue
            if msg.msgid == MISSION_COUNT:
                count = msg.item_count
                break
            if _is_refusal(msg):
                refusals += 1
                if refusals >= REFUSALS_FINAL:
                    raise _ack_error(msg.result, mission_type, _("download"))
                refusal = msg
                break  # ask again: a real refusal repeats
        if count is not None:
            break
    if count is None:
        if refusal is not None:
            raise _ack_error(refusal.result, mission_type, _("download"))
        raise LinkTimeout(_("no MISSION_COUNT after {n} requests").format(n=attempt))
    st.items = count
    # 2. the items, one at a time, in order; the next request goes out before this item is read
    retries = retry_budget(policy, wire.port.loss_fraction, count)
    give_up_s = retries * policy.item_timeout_s
    request = wire.send_request
    next_msg = wire.next
    monotonic = time.monotonic
    received: list[MissionMessage] = []
    items: list[MissionItem] = []
    if count:
        request(0, mission_type)
        st.first_sends += 1
    tx_at = monotonic()
    seq = 0
    while seq < count:
        if seq + 1 < count and (lane := wire.lane()) is not None:
            # the items that come in order, each asked for next in the express lane
            wait_s = rto.item_timeout()
            run = lane.download(
                seq, count - 2, tx_at + wait_s, wait_s, mission_type, on_progress, count
            )
            if run.count:
                t = run.times
                rto.sample(t[0] - tx_at)  # each request sent once (Karn)
                for a, b in itertools.pairwise(t):
                    rto.sample(b - a)
                received += run.items
                if len(received) >= _CHUNK:
                    items += _items(received)
                    received.clear()
                seq += run.count
                tx_at = t[-1]
                continue
        got: MissionMessage | None = None
        first_at = tx_at
        attempts = 1
        while True:
            refused = False
            deadline = tx_at + rto.item_timeout()
            while (left := deadline - monotonic()) > 0:
                msg = next_msg(left)
                if msg is None:
                    break
                if msg.mission_type != mission_type:
                    continue
                if msg.msgid in ITEM_IDS:
                    if msg.seq == seq:
                        got = msg
                        break
                    st.ignored += 1  # a duplicate or a late answer to a re-sent request
                    continue
                if _is_refusal(msg):
                    refusals += 1
                    if refusals >= REFUSALS_FINAL:
                        raise _ack_error(msg.result, mission_type, _("download"))
                    refusal = msg
                    refused = True
                    break  # ask for the item again: a real refusal repeats
            if got is not None:
                break
            # out of retries, and waited at least as long as the specification's fixed
            # timeouts would (the adaptive ones are far shorter: a pause of a busy machine
            # must not end the transfer)
            if attempts > retries and time.monotonic() - first_at >= give_up_s:
                _cancel(wire, mission_type)
                raise LinkTimeout(
                    _("mission download: item {seq} of {n} not received after {r} retries").format(
                        seq=seq, n=count, r=attempts - 1
                    )
                )
            if not refused:
                rto.timed_out()
            request(seq, mission_type)
            attempts += 1
            st.retransmissions += 1
            st.on_timeout += 1
            tx_at = monotonic()
        now = monotonic()
        if seq + 1 < count:  # ask for the next item first, learn from this one after
            request(seq + 1, mission_type)
            st.first_sends += 1
        else:
            wire.send(mav.mission_ack_encode(ts, tc, MAV_MISSION_ACCEPTED, mission_type))
        if attempts == 1:  # Karn: only a request sent once times the round trip
            rto.sample(now - first_at)
        if rto.timeouts:
            rto.next_message()
        tx_at = now
        received.append(got)
        if len(received) >= _CHUNK:  # decoded together, while the vehicle finds the next one
            items += _items(received)
            received.clear()
        if on_progress is not None:
            on_progress(seq + 1, count)
        seq += 1
    if not count:
        wire.send(mav.mission_ack_encode(ts, tc, MAV_MISSION_ACCEPTED, mission_type))
    st.measured(rto)
    return items + _items(received)


def _items(replies: list[MissionMessage]) -> list[MissionItem]:
    """The downloaded items: those only peeked at during the transfer are decoded now, together."""
    peeked = items_of([m.raw for m in replies if m.item is None and m.raw is not None])
    fields = iter(peeked)
    return [
        MissionItem.from_wire(
            m.item if m.item is not None else next(fields), int_coords=m.int_coords
        )
        for m in replies
    ]


def clear(
    port: MissionPort, mission_type: int = 0, *, policy: TransferPolicy = TransferPolicy()
) -> None:
    """MISSION_CLEAR_ALL, resent until a MISSION_ACK settles it."""
    ts, tc = port.target
    retries = retry_budget(policy, port.loss_fraction, 1)
    for _attempt in range(retries + 1):
        port.send_to_vehicle(port.mav.mission_clear_all_encode(ts, tc, mission_type))
        deadline = time.monotonic() + policy.timeout_s
        while (left := deadline - time.monotonic()) > 0:
            msg = port.next_mission_message(left)
            if msg is None:
                break
            if msg.get_type() != "MISSION_ACK" or int(getattr(msg, "mission_type", 0)) != (
                mission_type
            ):
                continue
            code = int(msg.type)
            if code == MAV_MISSION_ACCEPTED:
                return
            if code == MAV_MISSION_INVALID_SEQUENCE:
                continue
            raise _ack_error(code, mission_type, _("clearing"))
    raise LinkTimeout(
        _("no MISSION_ACK to MISSION_CLEAR_ALL after {n} attempts").format(n=retries + 1)
    )
