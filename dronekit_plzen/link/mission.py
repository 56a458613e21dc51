"""The MAVLink mission protocol (https://mavlink.io/en/services/mission.html), client side.

Upload (MISSION_COUNT → the vehicle pulls every item with MISSION_REQUEST_INT, or the legacy
MISSION_REQUEST, → MISSION_ACK), download (MISSION_REQUEST_LIST → MISSION_COUNT → we pull every
item → we send MISSION_ACK) and clear (MISSION_CLEAR_ALL → MISSION_ACK), for the mission, fence
and rally types.

Timeouts and retries follow the specification's recommendation (1500 ms default, 250 ms per
item, 5 retries) with two refinements for lossy links, both bounded by those values:

* the per-item timeout adapts to the measured round trip (Jacobson's estimator, as TCP does),
  never above 250 ms;
* the retry budget grows with the link's measured packet loss, so that the chance that a
  transfer of ``n`` items fails on retries alone stays below 1e-3 (at 30 % loss each way a
  round trip fails 51 % of the time and 5 retries would lose a 500-item transfer almost surely).

Duplicated and reordered requests are answered idempotently; out-of-sequence items are dropped
and the expected one re-requested; an ACK that is not ours (a late duplicate of an earlier
transfer's ACK) is ignored until the final item has been sent.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from dronekit_plzen.errors import LinkTimeout, MissionTransferError
from dronekit_plzen.i18n import _
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
    """Round-trip estimate → retransmission timeout, clamped to [min, spec value]."""

    def __init__(self, policy: TransferPolicy) -> None:
        self.policy = policy
        self.srtt: float | None = None
        self.rttvar = 0.0

    def sample(self, rtt: float) -> None:
        if self.srtt is None:
            self.srtt, self.rttvar = rtt, rtt / 2
        else:
            self.rttvar = 0.75 * self.rttvar + 0.25 * abs(self.srtt - rtt)
            self.srtt = 0.875 * self.srtt + 0.125 * rtt

    def item_timeout(self) -> float:
        p = self.policy
        if not p.adaptive or self.srtt is None:
            return p.item_timeout_s
        return min(p.item_timeout_s, max(p.min_item_timeout_s, self.srtt + 4 * self.rttvar))

    def default_timeout(self) -> float:
        p = self.policy
        if not p.adaptive or self.srtt is None:
            return p.timeout_s
        return min(p.timeout_s, max(4 * p.min_item_timeout_s, 2 * (self.srtt + 4 * self.rttvar)))


def _ack_error(ack: Any, mission_type: int, what: str) -> MissionTransferError:
    code = int(ack.type)
    return MissionTransferError(
        _("{what} of the {kind} refused by the vehicle: {result}").format(
            what=what,
            kind=MISSION_TYPE_NAMES.get(mission_type, mission_type),
            result=result_name(code),
        ),
        mission_result=code,
        mission_type=mission_type,
    )


def _is_refusal(msg: Any) -> bool:
    """A MISSION_ACK that ends a transfer (not ACCEPTED, not the recoverable INVALID_SEQUENCE)."""
    return msg.get_type() == "MISSION_ACK" and int(msg.type) not in (
        MAV_MISSION_ACCEPTED,
        MAV_MISSION_INVALID_SEQUENCE,
    )


def _of_type(msg: Any, mission_type: int) -> bool:
    return int(getattr(msg, "mission_type", 0)) == mission_type


def upload(
    port: MissionPort,
    items: Sequence[MissionItem],
    mission_type: int = 0,
    *,
    policy: TransferPolicy = TransferPolicy(),
    on_progress: Callable[[int, int], None] | None = None,
    max_restarts: int = 3,
) -> None:
    """Upload ``items`` (already in wire order; seq = index). Raises on error/timeout.

    A vehicle that abandons the transfer (it cancels after its own retries, answers our items
    with MAV_MISSION_ERROR after an out-of-sequence NACK, or goes silent after a NACK) gets the
    whole upload again, from MISSION_COUNT, at most ``max_restarts`` times.
    """
    for attempt in range(max_restarts + 1):
        if _upload_once(
            port, items, mission_type, policy, on_progress, last=attempt == max_restarts
        ):
            return


def _upload_once(
    port: MissionPort,
    items: Sequence[MissionItem],
    mission_type: int,
    policy: TransferPolicy,
    on_progress: Callable[[int, int], None] | None,
    *,
    last: bool,
) -> bool:
    """One attempt; True when accepted, False when the vehicle dropped it (restart)."""
    ts, tc = port.target
    mav = port.mav
    count = len(items)
    retries = retry_budget(policy, port.loss_fraction, count)
    # give up after as long as the specification's retries would wait for the vehicle
    stall_limit_s = (retries + 1) * policy.timeout_s
    rto = _Rto(policy)
    port.send_to_vehicle(mav.mission_count_encode(ts, tc, count, mission_type))
    last_sent: int | None = None
    sent_at: dict[int, float] = {}
    highest_requested = -1
    restart_pos: int | None = None
    progress_at = time.monotonic()
    nacked = False
    while True:
        msg = port.next_mission_message(rto.default_timeout())
        if msg is None:
            if time.monotonic() - progress_at > stall_limit_s:
                if nacked and not last:
                    return False
                _cancel(port, mission_type)
                raise LinkTimeout(
                    _("mission upload stalled at item {seq} of {n} for {t:.1f} s").format(
                        seq=highest_requested + 1, n=count, t=stall_limit_s
                    )
                )
            if last_sent is None:
                port.send_to_vehicle(mav.mission_count_encode(ts, tc, count, mission_type))
            else:
                _send_item(port, items[last_sent], last_sent, mission_type)
            continue
        mtype = msg.get_type()
        if not _of_type(msg, mission_type):
            continue
        if mtype in ("MISSION_REQUEST_INT", "MISSION_REQUEST"):
            seq = int(msg.seq)
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
                    continue
                restart_pos = max(restart_pos, seq)
                progress_at = now
                if restart_pos >= highest_requested:  # caught up: one window again
                    highest_requested, restart_pos = restart_pos, None
                _send_item(port, items[seq], seq, mission_type)
                sent_at[seq] = now
                last_sent = seq
                continue
            if seq == last_sent and now - sent_at.get(seq, -math.inf) < policy.min_item_timeout_s:
                continue  # a duplicated request in the same burst: the item is on its way
            if last_sent is not None and seq == last_sent + 1 and last_sent in sent_at:
                rto.sample(now - sent_at[last_sent])
            if seq > highest_requested:
                highest_requested = seq
                progress_at = now
                if on_progress is not None:
                    on_progress(seq, count)
            _send_item(port, items[seq], seq, mission_type)
            sent_at[seq] = now
            last_sent = seq
        elif mtype == "MISSION_ACK":
            code = int(msg.type)
            final_sent = count == 0 or highest_requested == count - 1
            if code == MAV_MISSION_ACCEPTED:
                if final_sent:
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
            raise _ack_error(msg, mission_type, _("upload"))


def _send_item(port: MissionPort, item: MissionItem, seq: int, mission_type: int) -> None:
    ts, tc = port.target
    w = item.to_wire(seq)
    port.send_to_vehicle(
        port.mav.mission_item_int_encode(
            ts,
            tc,
            seq,
            w["frame"],
            w["command"],
            w["current"],
            w["autocontinue"],
            w["param1"],
            w["param2"],
            w["param3"],
            w["param4"],
            w["x"],
            w["y"],
            w["z"],
            mission_type,
        )
    )


def _cancel(port: MissionPort, mission_type: int) -> None:
    ts, tc = port.target
    port.send_to_vehicle(
        port.mav.mission_ack_encode(ts, tc, MAV_MISSION_OPERATION_CANCELLED, mission_type)
    )


def download(
    port: MissionPort,
    mission_type: int = 0,
    *,
    policy: TransferPolicy = TransferPolicy(),
    on_progress: Callable[[int, int], None] | None = None,
) -> list[MissionItem]:
    """Download the vehicle's items of ``mission_type`` (wire order, home included)."""
    ts, tc = port.target
    mav = port.mav
    rto = _Rto(policy)
    # 1. the count
    count: int | None = None
    # A refusal is final only when the vehicle repeats it: a single error ACK may be a stale
    # answer to a late duplicate of the upload that has just finished (PX4 and ArduPilot both
    # NACK an item that arrives after their final ACK).
    refusal: Any = None
    retries = retry_budget(policy, port.loss_fraction, 1)
    for _attempt in range(retries + 1):
        port.send_to_vehicle(mav.mission_request_list_encode(ts, tc, mission_type))
        deadline = time.monotonic() + policy.timeout_s
        while (left := deadline - time.monotonic()) > 0:
            msg = port.next_mission_message(left)
            if msg is None:
                break
            if not _of_type(msg, mission_type):
                continue
            if msg.get_type() == "MISSION_COUNT":
                count = int(msg.count)
                break
            if _is_refusal(msg):
                if refusal is not None:
                    raise _ack_error(msg, mission_type, _("download"))
                refusal = msg
                break  # ask again: a real refusal repeats
        if count is not None:
            break
    if count is None:
        if refusal is not None:
            raise _ack_error(refusal, mission_type, _("download"))
        raise LinkTimeout(_("no MISSION_COUNT after {n} requests").format(n=retries + 1))
    # 2. the items, one at a time, in order
    retries = retry_budget(policy, port.loss_fraction, count)
    items: list[MissionItem] = []
    for seq in range(count):
        item = None
        for _attempt in range(retries + 1):
            port.send_to_vehicle(mav.mission_request_int_encode(ts, tc, seq, mission_type))
            sent = time.monotonic()
            deadline = sent + rto.item_timeout()
            while (left := deadline - time.monotonic()) > 0:
                msg = port.next_mission_message(left)
                if msg is None:
                    break
                mt = msg.get_type()
                if not _of_type(msg, mission_type):
                    continue
                if mt in ("MISSION_ITEM_INT", "MISSION_ITEM") and int(msg.seq) == seq:
                    rto.sample(time.monotonic() - sent)
                    item = MissionItem.from_wire(msg, int_coords=mt == "MISSION_ITEM_INT")
                    break
                if _is_refusal(msg):
                    if refusal is not None:
                        raise _ack_error(msg, mission_type, _("download"))
                    refusal = msg
                    break  # ask for the item again: a real refusal repeats
            if item is not None:
                break
        if item is None:
            _cancel(port, mission_type)
            raise LinkTimeout(
                _("mission download: item {seq} of {n} not received after {r} retries").format(
                    seq=seq, n=count, r=retries
                )
            )
        items.append(item)
        if on_progress is not None:
            on_progress(seq + 1, count)
    port.send_to_vehicle(mav.mission_ack_encode(ts, tc, MAV_MISSION_ACCEPTED, mission_type))
    return items


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
            if msg.get_type() != "MISSION_ACK" or not _of_type(msg, mission_type):
                continue
            code = int(msg.type)
            if code == MAV_MISSION_ACCEPTED:
                return
            if code == MAV_MISSION_INVALID_SEQUENCE:
                continue
            raise _ack_error(msg, mission_type, _("clearing"))
    raise LinkTimeout(
        _("no MISSION_ACK to MISSION_CLEAR_ALL after {n} attempts").format(n=retries + 1)
    )
