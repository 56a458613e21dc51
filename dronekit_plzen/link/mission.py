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
The round trips that come in order, nearly all of a clean transfer's, are answered in the
express lane (:mod:`~dronekit_plzen.link.express`): one tight loop on the socket that hands
anything else back to the loops below. The transfer's port, policy, timer, counters and wire
are in :mod:`~dronekit_plzen.link.transfer`.
"""

from __future__ import annotations

import itertools
import math
import time
from collections import deque
from collections.abc import Callable, Sequence

from dronekit_plzen.errors import LinkTimeout, MissionTransferError, ProtocolError
from dronekit_plzen.i18n import _
from dronekit_plzen.link.mission_wire import (
    ITEM_IDS,
    MISSION_ACK,
    MISSION_COUNT,
    REQUEST_IDS,
    MissionMessage,
    items_of,
)
from dronekit_plzen.link.transfer import (
    _CHUNK,
    DEFAULT_POLICY,
    MissionPort,
    TransferPolicy,
    TransferStats,
    _ItemFrames,
    _Rto,
    _Wire,
    retry_budget,
)
from dronekit_plzen.mission_items import MISSION_TYPE_RALLY, MissionItem

MAV_MISSION_ACCEPTED = 0
MAV_MISSION_ERROR = 1
MAV_MISSION_INVALID_SEQUENCE = 13
MAV_MISSION_OPERATION_CANCELLED = 15
#: the most items of a mission type a vehicle can hold: rally points are indexed by a byte in
#: ArduPilot (``AP_Rally``) and PX4 keeps 32 (``DM_KEY_SAFE_POINTS_MAX``); a larger count is
#: refused before the transfer
MOST_ITEMS = {MISSION_TYPE_RALLY: 255}
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


def result_name(code: int) -> str:
    return MISSION_RESULT_NAMES.get(code, str(code))


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
    policy: TransferPolicy = DEFAULT_POLICY,
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
        attempt = unsure = 0
        while True:
            outcome = _upload_once(
                wire, frames, mission_type, policy, on_progress, last=attempt == max_restarts
            )
            if outcome == _ACCEPTED:
                return st
            if outcome == _UNSURE:
                unsure += 1
                if unsure > MAX_UNSURE_RESTARTS:
                    raise MissionTransferError(
                        _(
                            "the vehicle's answer to the final item was lost {n} times in a row;"
                            " the upload may not be complete"
                        ).format(n=unsure),
                        mission_result=MAV_MISSION_ERROR,
                        mission_type=mission_type,
                    )
            else:
                attempt += 1
            # the count, and every item asked for again, are sent again
            st.restarts += 1
            st.retransmissions += 1


# outcomes of one upload attempt
_ACCEPTED = "accepted"
_DROPPED = "dropped"  # the vehicle dropped the transfer: start again (counts as a restart)
# the final item was sent, then MAV_MISSION_ERROR came instead of the ACK: the vehicle may have
# stored the mission and answered a late copy of the final item (ArduPilot NACKs an item that
# arrives with no transfer running) after an ACK that was lost. Starting again is safe (the
# upload replaces the mission) and does not use up the restarts meant for real refusals.
_UNSURE = "unsure"
MAX_UNSURE_RESTARTS = 8


def _upload_once(
    wire: _Wire,
    frames: _ItemFrames,
    mission_type: int,
    policy: TransferPolicy,
    on_progress: Callable[[int, int], None] | None,
    *,
    last: bool,
) -> str:
    """One attempt: :data:`_ACCEPTED`, :data:`_DROPPED` or :data:`_UNSURE` (restart)."""
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
                    return _DROPPED
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
                    return _ACCEPTED
                continue  # a stale ACK (earlier transfer, duplicated packet)
            if code == MAV_MISSION_INVALID_SEQUENCE:
                nacked = True  # ArduPilot keeps going after this NACK; others drop the transfer
                continue
            if code in (MAV_MISSION_ERROR, MAV_MISSION_OPERATION_CANCELLED) and last_sent is None:
                continue  # a stale answer to an earlier transfer
            if code == MAV_MISSION_ERROR and count > 0 and highest_requested == count - 1:
                return _UNSURE
            if code in (MAV_MISSION_ERROR, MAV_MISSION_OPERATION_CANCELLED) and not last:
                return _DROPPED  # the vehicle dropped the transfer (NACK, its retries): again
            err = _ack_error(code, mission_type, _("upload"))
            if last_sent is not None:  # the vehicle answers the item it could not take
                err.seq, err.command = last_sent, frames.items[last_sent].command
            raise err


def _cancel(wire: _Wire, mission_type: int) -> None:
    ack = wire.mav.mission_ack_encode(
        wire.ts, wire.tc, MAV_MISSION_OPERATION_CANCELLED, mission_type
    )
    wire.send(ack)


def download(
    port: MissionPort,
    mission_type: int = 0,
    *,
    policy: TransferPolicy = DEFAULT_POLICY,
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
    most = MOST_ITEMS.get(mission_type)
    if most is not None and count > most:
        # a damaged or hostile answer: 65,535 "rally points" took 8 s and 147 MB on loopback,
        # and a vehicle answering each just before the timeout could hold the link for hours
        _cancel(wire, mission_type)
        raise ProtocolError(
            _(
                "the vehicle announced {n} rally points; no autopilot holds more than {most}: "
                "download cancelled"
            ).format(n=count, most=most)
        )
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
                        seq=seq + 1, n=count, r=attempts - 1
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
    port: MissionPort, mission_type: int = 0, *, policy: TransferPolicy = DEFAULT_POLICY
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


__all__ = [
    "MISSION_MESSAGES",
    "MISSION_RESULT_NAMES",
    "MISSION_TYPE_NAMES",
    "REFUSALS_FINAL",
    "MissionPort",
    "TransferPolicy",
    "TransferStats",
    "clear",
    "download",
    "result_name",
    "retry_budget",
    "upload",
]
