"""Mission micro-service (server side) for MISSION, FENCE and RALLY.

PX4 requests items with MISSION_REQUEST_INT; ArduPilot with the legacy MISSION_REQUEST and
reports its home position as item 0 of the MISSION type. Items may arrive as MISSION_ITEM_INT
or legacy MISSION_ITEM. Errors end the transfer with a MISSION_ACK carrying the
MAV_MISSION_RESULT (bad sequence, no space, unsupported frame or command).
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from pymavlink.dialects.v20 import ardupilotmega as mav

from dronekit_plzen import mission_items as mi
from simulators.mission_store import (
    MAX_ITEMS,
    MISSION_ACCEPTED,
    MISSION_INVALID_SEQUENCE,
    MISSION_NO_SPACE,
    MISSION_OPERATION_CANCELLED,
    check_item,
)

if TYPE_CHECKING:
    from simulators.protocol import Link, VehicleServer

RETRY_S = 1.5
MAX_RETRIES = 5


def _ack(link: Link, partner: tuple[int, int], result: int, mission_type: int) -> None:
    link.send(link.codec.mission_ack_encode(partner[0], partner[1], result, mission_type))


def _request(server: VehicleServer, link: Link) -> None:
    up = link.upload
    assert up is not None
    seq = len(up.items)
    c = link.codec
    if server.vm.px4:
        link.send(c.mission_request_int_encode(up.partner[0], up.partner[1], seq, up.mission_type))
    else:
        link.send(c.mission_request_encode(up.partner[0], up.partner[1], seq, up.mission_type))
    up.last_request_wall = time.monotonic()


def retry(server: VehicleServer, link: Link) -> None:
    """Re-request the awaited item after a silence (wall clock: this faces the network)."""
    up = link.upload
    if up is None or time.monotonic() - up.last_request_wall < RETRY_S:
        return
    up.retries += 1
    if up.retries > MAX_RETRIES:
        _ack(link, up.partner, MISSION_OPERATION_CANCELLED, up.mission_type)
        link.upload = None
        return
    _request(server, link)


def _home_item(server: VehicleServer) -> mi.MissionItem:
    vm = server.vm
    lat, lon, alt = vm.geo.to_lla(*vm.home)
    return mi.MissionItem(
        mi.CMD_NAV_WAYPOINT, frame=mi.FRAME_GLOBAL, lat_deg=lat, lon_deg=lon, alt_m=alt
    )


def _stored(server: VehicleServer, mission_type: int) -> list[mi.MissionItem]:
    items = list(server.vm.missions[mission_type])
    if mission_type == mi.MISSION_TYPE_MISSION and not server.vm.px4:
        home = _home_item(server)
        items = [home, *items[1:]]
    return items


def _store(server: VehicleServer, mission_type: int, items: list[mi.MissionItem]) -> None:
    vm = server.vm
    vm.missions[mission_type] = items
    if mission_type == mi.MISSION_TYPE_MISSION:
        vm.runner.reset(clear_reached=True)
        vm.events.append(_mc_event())


def _mc_event() -> Any:
    from simulators.state import Event

    return Event("mission_current", {"seq": 0})


def handle(server: VehicleServer, link: Link, msg: Any) -> None:
    t = msg.get_type()
    vm = server.vm
    partner = (msg.get_srcSystem(), msg.get_srcComponent())
    mtype = int(getattr(msg, "mission_type", 0))
    c = link.codec
    if t == "MISSION_COUNT":
        if mtype not in MAX_ITEMS:
            _ack(link, partner, mav.MAV_MISSION_UNSUPPORTED, mtype)
        elif msg.count > MAX_ITEMS[mtype]:
            _ack(link, partner, MISSION_NO_SPACE, mtype)
        elif msg.count == 0:
            _store(server, mtype, [])
            _ack(link, partner, MISSION_ACCEPTED, mtype)
        else:
            from simulators.protocol import Transfer

            link.upload = Transfer(mtype, int(msg.count), partner=partner)
            _request(server, link)
    elif t in ("MISSION_ITEM_INT", "MISSION_ITEM"):
        up = link.upload
        if up is None or up.mission_type != mtype:
            _ack(link, partner, mav.MAV_MISSION_ERROR, mtype)
            return
        expected = len(up.items)
        if msg.seq == expected - 1:
            return  # duplicate of the last item (our request crossed its retry): ignore
        if msg.seq != expected:
            _ack(link, partner, MISSION_INVALID_SEQUENCE, mtype)
            link.upload = None
            return
        item = mi.MissionItem.from_wire(msg, int_coords=t == "MISSION_ITEM_INT")
        is_home_slot = mtype == mi.MISSION_TYPE_MISSION and not vm.px4 and msg.seq == 0
        result = MISSION_ACCEPTED if is_home_slot else check_item(item, vm.autopilot)
        if result != MISSION_ACCEPTED:
            _ack(link, partner, result, mtype)
            link.upload = None
            return
        up.items.append(item)
        up.retries = 0
        if len(up.items) == up.count:
            _store(server, mtype, up.items)
            link.upload = None
            _ack(link, partner, MISSION_ACCEPTED, mtype)
        else:
            _request(server, link)
    elif t == "MISSION_REQUEST_LIST":
        link.send(
            c.mission_count_encode(partner[0], partner[1], vm.runner.wire_count(mtype), mtype)
        )
    elif t in ("MISSION_REQUEST_INT", "MISSION_REQUEST"):
        items = _stored(server, mtype)
        if not 0 <= msg.seq < len(items):
            _ack(link, partner, MISSION_INVALID_SEQUENCE, mtype)
            return
        w = (
            items[msg.seq]
            .with_(mission_type=mtype)
            .to_wire(msg.seq, current=msg.seq == vm.runner.seq)
        )
        if t == "MISSION_REQUEST_INT":
            link.send(c.mission_item_int_encode(partner[0], partner[1], **w))
        else:
            w["x"], w["y"] = w["x"] / 1e7, w["y"] / 1e7
            link.send(c.mission_item_encode(partner[0], partner[1], **w))
    elif t == "MISSION_CLEAR_ALL":
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
