"""Mission micro-service (server side) for MISSION, FENCE and RALLY.

PX4 requests items with MISSION_REQUEST_INT; ArduPilot with the legacy MISSION_REQUEST and
reports its home position as item 0 of the MISSION type. Items may arrive as MISSION_ITEM_INT
or legacy MISSION_ITEM. An invalid item ends the transfer with a MISSION_ACK carrying the
MAV_MISSION_RESULT (no space, unsupported frame or command, invalid parameter).

Upload robustness follows the MAVLink mission protocol and what the two firmwares do
(PX4 ``src/modules/mavlink/mavlink_mission.cpp``, ArduPilot
``libraries/GCS_MAVLink/MissionItemProtocol.cpp``); the differences matter to a GCS:

=========================  ===========================================  ===========================
situation                  PX4 flavour                                  ArduPilot flavour
=========================  ===========================================  ===========================
item re-request timer      0.25 s (MAVLINK_MISSION_RETRY_TIMEOUT)       1 s (wp_recv_timeout)
abort after no progress    5 s: STATUSTEXT "Operation timeout", no ACK  8 s: ACK OPERATION_CANCELLED
older/duplicate item       dropped silently (the timer re-requests)     ACK INVALID_SEQUENCE, kept
item ahead of the awaited  ACK INVALID_SEQUENCE (*), kept               ACK INVALID_SEQUENCE, kept
last item again after ACK  final ACK ACCEPTED re-sent (lost ACK)        ACK ERROR (not receiving)
MISSION_COUNT, at item 0   request for item 0 re-sent (**)              transfer restarted
MISSION_COUNT, later       ACK ERROR + "Busy", transfer continues       transfer restarted
MISSION_COUNT, other GCS   ACK ERROR                                    ACK DENIED
download/clear meanwhile   ignored with a STATUSTEXT                    ACK DENIED / ACK ERROR
GCS ACK CANCELLED          transfer ended                               (ignored)
=========================  ===========================================  ===========================

(*) PX4 drops an item *ahead* of the awaited one silently too; we NACK it (without ending
the transfer) because only a faulty GCS sends one: items go out on request, so loss,
duplication and reordering only ever deliver older items.
(**) when the repeated MISSION_COUNT carries another count or type we restart with it
(PX4 would keep the first count).

Items are stored as each firmware stores them (:func:`simulators.mission_store.store_item`:
ArduPilot packs every command and reports plain frames; PX4 keeps floats and the fields of the
command, refuses terrain frames, and reports *_INT frames to MISSION_REQUEST_INT), so a download
returns what the real vehicle would, not the bytes that were uploaded. For tests only,
``VehicleModel.corrupt_mission_items = {seq: {"alt_m": 60.0}}`` stores item ``seq`` with those
fields changed (a vehicle that stored something else than it was sent), and
``VehicleModel.stale_mission_reads = N`` answers the next N downloads with the mission before the
last upload (as PX4 v1.16 SITL now and then answers a download sent right after its final ACK).

Timers run on ``server.clock_s`` (see :class:`simulators.protocol.VehicleServer`), the
vehicle's simulated clock as in SITL: deterministic in lockstep, the wall clock times the
speedup in real time (at 20x PX4 re-requests every 12.5 ms of wall time). Because the GCS
at the other end of a socket lives in wall time, each timer also waits for a floor of
``server.wall_clock_s`` (10 ms before a re-request, 2 s before an abort): without it a
lockstep fleet running hundreds of times faster than real time would abort every upload
between two packets. The abort timer is checked before the re-request timer, so
re-requesting never postpones the abort (PX4 issue #27132); a late copy of an item after an
aborted upload is answered with an error, never with ACCEPTED (PX4 pull request #28738).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pymavlink.dialects.v20 import ardupilotmega as mav

from dronekit_plzen import mission_items as mi
from simulators.mission_store import (
    MAX_ITEMS,
    MISSION_ACCEPTED,
    MISSION_DENIED,
    MISSION_ERROR,
    MISSION_INVALID_SEQUENCE,
    MISSION_NO_SPACE,
    MISSION_OPERATION_CANCELLED,
    check_item,
    reported_frame,
    upload_result,
)

if TYPE_CHECKING:
    from simulators.protocol import Link, Transfer, VehicleServer

PX4_RETRY_S = 0.25  # MAVLINK_MISSION_RETRY_TIMEOUT_DEFAULT
PX4_TIMEOUT_S = 5.0  # MAVLINK_MISSION_PROTOCOL_TIMEOUT_DEFAULT
#: PX4 takes a mission just uploaded as valid this long after it (simulated seconds): the
#: navigator's feasibility check runs in its next cycle, commander re-reads it every 100 ms
PX4_MISSION_CHECK_S = 0.15
ARDUPILOT_RETRY_S = 1.0  # wp_recv_timeout_ms (1000 + stream slowdown)
ARDUPILOT_TIMEOUT_S = 8.0  # upload_timeout_ms
# Floors on the GCS's (wall) clock: never re-request faster than a loopback GCS can answer,
# never abort a GCS silent for less than this (lockstep runs far faster than real time)
MIN_RETRY_WALL_S = 0.01
MIN_TIMEOUT_WALL_S = 2.0

_CRITICAL = mav.MAV_SEVERITY_CRITICAL
_INFO = mav.MAV_SEVERITY_INFO


def timers_s(px4: bool) -> tuple[float, float]:
    """(item re-request interval, abort after no progress) of a flavour, in seconds."""
    return (PX4_RETRY_S, PX4_TIMEOUT_S) if px4 else (ARDUPILOT_RETRY_S, ARDUPILOT_TIMEOUT_S)


def _ack(link: Link, partner: tuple[int, int], result: int, mission_type: int) -> None:
    link.send(link.codec.mission_ack_encode(partner[0], partner[1], result, mission_type))


def _text(link: Link, severity: int, text: str) -> None:
    link.send(link.codec.statustext_encode(severity, text.encode()[:50]))


def _request(server: VehicleServer, link: Link) -> None:
    """Request the awaited item (PX4: MISSION_REQUEST_INT; ArduPilot: legacy MISSION_REQUEST)."""
    up = link.upload
    assert up is not None
    seq = len(up.items)
    c = link.codec
    if server.vm.px4:
        link.send(c.mission_request_int_encode(up.partner[0], up.partner[1], seq, up.mission_type))
    else:
        link.send(c.mission_request_encode(up.partner[0], up.partner[1], seq, up.mission_type))
    up.last_request_s = server.clock_s()
    up.last_request_wall_s = server.wall_clock_s()


def _progress(server: VehicleServer, up: Transfer) -> None:
    up.last_recv_s = server.clock_s()
    up.last_recv_wall_s = server.wall_clock_s()


def retry(server: VehicleServer, link: Link) -> None:
    """Abort a stalled upload, else re-request the awaited item after the flavour's interval.

    Both timers count simulated time, and also wait for a floor of the GCS's wall time.
    """
    up = link.upload
    if up is None:
        return
    now, wall = server.clock_s(), server.wall_clock_s()
    retry_s, timeout_s = timers_s(server.vm.px4)
    if now - up.last_recv_s > timeout_s and wall - up.last_recv_wall_s > MIN_TIMEOUT_WALL_S:
        link.upload = None
        if server.vm.px4:
            _text(link, _CRITICAL, "Operation timeout")
        else:
            _ack(link, up.partner, MISSION_OPERATION_CANCELLED, up.mission_type)
        return
    if now - up.last_request_s > retry_s and wall - up.last_request_wall_s > MIN_RETRY_WALL_S:
        _request(server, link)


def _corrupted(vm: Any, seq: int, item: mi.MissionItem) -> mi.MissionItem:
    """Test-only fault: ``vm.corrupt_mission_items[seq]`` holds field changes for stored item."""
    changes = getattr(vm, "corrupt_mission_items", {}).get(seq)
    return item.with_(**changes) if changes else item


def _home_item(server: VehicleServer) -> mi.MissionItem:
    vm = server.vm
    lat, lon, alt = vm.geo.to_lla(*vm.home)
    return mi.MissionItem(
        mi.CMD_NAV_WAYPOINT, frame=mi.FRAME_GLOBAL, lat_deg=lat, lon_deg=lon, alt_m=alt
    )


def _stored(
    server: VehicleServer, mission_type: int, previous: bool = False
) -> list[mi.MissionItem]:
    vm = server.vm
    if previous and mission_type in vm.previous_missions:
        items = list(vm.previous_missions[mission_type])
    else:
        items = list(vm.missions[mission_type])
    if mission_type == mi.MISSION_TYPE_MISSION and not server.vm.px4:
        home = _home_item(server)
        items = [home, *items[1:]]
    return items


def _store(server: VehicleServer, mission_type: int, items: list[mi.MissionItem]) -> None:
    vm = server.vm
    vm.previous_missions[mission_type] = vm.missions[mission_type]
    vm.missions[mission_type] = items
    if mission_type == mi.MISSION_TYPE_MISSION:
        vm.runner.reset(clear_reached=True)
        vm.px4_mission_checked_s = vm.t_s + PX4_MISSION_CHECK_S
        vm.events.append(_mc_event())


def _mc_event() -> Any:
    from simulators.state import Event

    return Event("mission_current", {"seq": 0})


def _busy(server: VehicleServer, link: Link, partner: tuple[int, int], mtype: int) -> bool:
    """True (and the firmware's answer sent) when an upload blocks a download or a clear."""
    up = link.upload
    if up is None:
        return False
    if server.vm.px4:
        _text(link, _INFO, "Mission download request ignored, already active")
        return True
    if up.mission_type != mtype:  # ArduPilot keeps one transfer state per mission type
        return False
    _ack(link, partner, MISSION_DENIED, mtype)
    return True


def _on_count(
    server: VehicleServer, link: Link, msg: Any, partner: tuple[int, int], mtype: int
) -> None:
    vm = server.vm
    count = int(msg.count)
    up = link.upload
    if up is not None:
        if partner != up.partner:
            _ack(link, partner, MISSION_ERROR if vm.px4 else MISSION_DENIED, mtype)
            return
        if vm.px4:
            _progress(server, up)
            if up.items:  # PX4 refuses a second MISSION_COUNT mid-transfer and carries on
                _text(link, _CRITICAL, "WPM: REJ. CMD: Busy")
                _ack(link, partner, MISSION_ERROR, mtype)
                return
            if (count, mtype) == (up.count, up.mission_type):
                _request(server, link)  # our request for item 0 was lost: ask again
                return
        link.upload = None  # ArduPilot restarts for the same GCS; PX4 at item 0, new count
    elif vm.px4 and any(other.upload is not None for other in server.links if other is not link):
        _ack(link, partner, MISSION_ERROR, mtype)  # a transfer on another MAVLink instance
        return
    if mtype not in MAX_ITEMS:
        _ack(link, partner, mav.MAV_MISSION_UNSUPPORTED, mtype)
    elif count > MAX_ITEMS[mtype]:
        _ack(link, partner, MISSION_NO_SPACE, mtype)
    elif count == 0:
        from simulators.protocol import Transfer

        _store(server, mtype, [])
        link.last_upload = Transfer(mtype, 0, partner=partner)
        _ack(link, partner, MISSION_ACCEPTED, mtype)
    else:
        from simulators.protocol import Transfer

        link.last_upload = None
        link.upload = Transfer(mtype, count, partner=partner)
        _progress(server, link.upload)
        _request(server, link)


def _on_idle_item(link: Link, px4: bool, msg: Any, partner: tuple[int, int], mtype: int) -> None:
    """An item with no transfer running: PX4 re-ACKs a resent final item (its ACK was lost)."""
    done: Transfer | None = link.last_upload
    if (
        px4
        and done is not None
        and done.count > 0
        and done.partner == partner
        and done.mission_type == mtype
        and int(msg.seq) == done.count - 1
    ):
        _ack(link, partner, MISSION_ACCEPTED, mtype)
        return
    if px4:
        _text(link, _CRITICAL, "IGN MISSION_ITEM: No transfer")
    _ack(link, partner, MISSION_ERROR, mtype)


def _on_item(
    server: VehicleServer, link: Link, msg: Any, partner: tuple[int, int], mtype: int
) -> None:
    vm = server.vm
    up = link.upload
    if up is None:
        _on_idle_item(link, vm.px4, msg, partner, mtype)
        return
    if partner != up.partner:
        if vm.px4:
            _text(link, _CRITICAL, "REJ. MIS ITEM: partner id mismatch")
        else:
            _ack(link, partner, MISSION_DENIED, mtype)
        return
    if mtype != up.mission_type:
        _ack(link, partner, MISSION_ERROR, mtype)
        return
    expected = len(up.items)
    seq = int(msg.seq)
    if vm.px4:
        _progress(server, up)  # PX4 counts any item from the partner as activity
    if seq != expected:
        # PX4 drops an older copy silently (its timer re-requests the awaited item); ArduPilot
        # NACKs every unexpected item; neither ends the transfer
        if seq > expected or not vm.px4:
            _ack(link, partner, MISSION_INVALID_SEQUENCE, mtype)
        return
    item = mi.MissionItem.from_wire(msg, int_coords=msg.get_type() == "MISSION_ITEM_INT")
    is_home_slot = mtype == mi.MISSION_TYPE_MISSION and not vm.px4 and seq == 0
    if is_home_slot:
        result = MISSION_ACCEPTED
    elif mtype == mi.MISSION_TYPE_MISSION:
        result, stored = upload_result(item, vm.autopilot)  # packed as the firmware stores it
        item = _corrupted(vm, seq, stored) if stored is not None else item
    else:
        result = check_item(item, vm.autopilot)
    if mtype == mi.MISSION_TYPE_FENCE or (mtype == mi.MISSION_TYPE_RALLY and not vm.px4):
        # fence vertices (both firmwares) and ArduPilot's rally points come back with
        # autocontinue 0; PX4 keeps a rally point's flag (ArduCopter 4.7-dev, PX4 v1.16 SITL)
        item = item.with_(autocontinue=False)
    if result != MISSION_ACCEPTED:
        _ack(link, partner, result, mtype)
        link.upload = None
        return
    up.items.append(item)
    _progress(server, up)
    if len(up.items) == up.count:
        _store(server, mtype, up.items)
        link.upload = None
        link.last_upload = up
        _ack(link, partner, MISSION_ACCEPTED, mtype)
    else:
        _request(server, link)


def _on_request(
    server: VehicleServer, link: Link, msg: Any, partner: tuple[int, int], mtype: int
) -> None:
    vm = server.vm
    if _busy(server, link, partner, mtype):
        return
    items = _stored(server, mtype, previous=link.reading_previous)
    if not 0 <= msg.seq < len(items):
        _ack(link, partner, MISSION_INVALID_SEQUENCE, mtype)
        return
    int_request = msg.get_type() == "MISSION_REQUEST_INT"
    w = items[msg.seq].with_(mission_type=mtype).to_wire(msg.seq, current=msg.seq == vm.runner.seq)
    w["frame"] = reported_frame(w["frame"], vm.px4, int_request)
    c = link.codec
    if int_request:
        link.send(c.mission_item_int_encode(partner[0], partner[1], **w))
    else:
        w["x"], w["y"] = w["x"] / 1e7, w["y"] / 1e7
        link.send(c.mission_item_encode(partner[0], partner[1], **w))


def handle(server: VehicleServer, link: Link, msg: Any) -> None:
    t = msg.get_type()
    vm = server.vm
    partner = (msg.get_srcSystem(), msg.get_srcComponent())
    mtype = int(getattr(msg, "mission_type", 0))
    c = link.codec
    if t == "MISSION_COUNT":
        _on_count(server, link, msg, partner, mtype)
    elif t in ("MISSION_ITEM_INT", "MISSION_ITEM"):
        _on_item(server, link, msg, partner, mtype)
    elif t == "MISSION_REQUEST_LIST":
        if not _busy(server, link, partner, mtype):
            link.reading_previous = vm.stale_mission_reads > 0 and mtype in vm.previous_missions
            if link.reading_previous:
                vm.stale_mission_reads -= 1
                n = len(_stored(server, mtype, previous=True))
            else:
                n = vm.runner.wire_count(mtype)
            link.send(c.mission_count_encode(partner[0], partner[1], n, mtype))
    elif t in ("MISSION_REQUEST_INT", "MISSION_REQUEST"):
        _on_request(server, link, msg, partner, mtype)
    elif t == "MISSION_ACK":
        up = link.upload
        if (
            vm.px4
            and up is not None
            and partner == up.partner
            and int(msg.type) == MISSION_OPERATION_CANCELLED
        ):
            link.upload = None  # the GCS cancelled its upload
    elif t == "MISSION_CLEAR_ALL":
        if link.upload is not None:
            if vm.px4:
                _text(link, _CRITICAL, "WPM: IGN CLEAR CMD: Busy")
            else:
                _ack(link, partner, MISSION_ERROR, mtype)
            return
        types = list(MAX_ITEMS) if mtype == mav.MAV_MISSION_TYPE_ALL else [mtype]
        for mt in types:
            _store(server, mt, [])
        _ack(link, partner, MISSION_ACCEPTED, mtype)
    elif t == "MISSION_SET_CURRENT":
        if vm.runner.set_current(int(msg.seq)):
            from simulators import telemetry

            link.send(telemetry.mission_current(c, vm))
        else:
            link.send(c.statustext_encode(4, b"Mission: invalid sequence"))
