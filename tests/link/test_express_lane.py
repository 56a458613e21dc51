"""The express lane of a mission transfer answers only what it may: in-order round trips.

A scripted vehicle on real loopback UDP slips in what a busy or faulty link delivers between
the clean round trips: a request with a broken CRC, one for another mission type, one from
another system, one that skips ahead, a request packed in one datagram with a heartbeat, an
item with a broken CRC, an item out of order. Each must go to the transfer's general loop
(dropped, ignored or answered by its rules), never be answered by the lane; the transfer must
still end with every item sent once and the mission the vehicle stores equal to ours.
"""

from __future__ import annotations

import time
from typing import Any

import pytest
from pymavlink.dialects.v20 import ardupilotmega as mavlink2

from dronekit_plzen.link import connect
from dronekit_plzen.safety import Clearance

N = 60


def _meddling(base: type) -> type:
    """The scripted vehicle (PX4 flavour), sending extra datagrams before some replies."""
    return type("MeddlingVehicle", (_Meddling, base), {})


class _Meddling:
    """What :func:`_meddling` puts in front of the scripted vehicle (a mixin)."""

    sysid: int
    mav: Any
    missions: dict[int, list[dict[str, Any]]]
    _raw_send: Any

    def _frame(self, msg: Any, *, sysid: int | None = None, bad_crc: bool = False) -> bytes:
        out = mavlink2.MAVLink(None, srcSystem=sysid or self.sysid, srcComponent=1)
        out.seq = self.mav.seq
        data = bytearray(msg.pack(out))
        if bad_crc:
            data[-1] ^= 0x5A
        return bytes(data)

    def _request(self, seq: int, mission_type: int) -> None:
        req = mavlink2.MAVLink_mission_request_int_message
        if seq == 10:  # a broken copy first: must not be answered
            self._raw_send(self._frame(req(255, 190, seq, mission_type), bad_crc=True))
        elif seq == 20:  # a request for the rally points: another transfer's
            self._raw_send(self._frame(req(255, 190, seq, 2)))
        elif seq == 30:  # another system asking: not our vehicle
            self._raw_send(self._frame(req(255, 190, seq, mission_type), sysid=7))
        elif seq == 40:  # a request that skips ahead (a stale or forged one)
            self._raw_send(self._frame(req(255, 190, seq + 1, mission_type)))
        if seq == 50:  # the request in one datagram behind a heartbeat
            hb = mavlink2.MAVLink_heartbeat_message(2, 12, 0, 0, 4, 3)
            self._raw_send(self._frame(hb) + self._frame(req(255, 190, seq, mission_type)))
            self.mav.seq = (self.mav.seq + 1) % 256
            return
        super()._request(seq, mission_type)  # type: ignore[misc]

    def _handle(self, m: Any) -> None:
        if m.get_type() == "MISSION_REQUEST_INT" and m.seq in (10, 20, 30):
            item = self.missions[m.mission_type]
            if m.seq < len(item):
                it = item[m.seq]
                msg = mavlink2.MAVLink_mission_item_int_message(
                    255, 190, m.seq, it["frame"], it["command"], 0, it["autocontinue"],
                    it["param1"], it["param2"], it["param3"], it["param4"], it["x"], it["y"],
                    it["z"], m.mission_type,
                )  # fmt: skip
                if m.seq == 10:  # a broken copy of the item first
                    self._raw_send(self._frame(msg, bad_crc=True))
                elif m.seq == 20:  # the next item before this one (reordered)
                    nxt = item[m.seq + 1]
                    msg.seq, msg.x = m.seq + 1, nxt["x"]
                    self._raw_send(self._frame(msg))
                else:  # the same item, but of the fence
                    msg.mission_type = 1
                    self._raw_send(self._frame(msg))
        super()._handle(m)  # type: ignore[misc]


def test_the_lane_answers_only_in_order_round_trips(
    survey: Any, scripted_vehicle_class: type
) -> None:
    link = connect("udpin://127.0.0.1:0", heartbeat_hz=5)
    with link:
        assert link.local_address is not None
        peer = _meddling(scripted_vehicle_class)(
            "px4", 1, udp_target=("127.0.0.1", link.local_address[1])
        )
        try:
            v = link.wait_vehicle(timeout_s=5)
            v.wait_for(lambda s: s.home is not None, 5, "telemetry")
            items = survey(N)
            v.upload_mission(items, verify=False, clearance=Clearance.passed(items))
            up = link.transfer_stats[(v.sysid, "upload")]
            back = v.download_mission()
            down = link.transfer_stats[(v.sysid, "download")]
        finally:
            peer.close()
    sent = [m.seq for m in peer.received if m.get_type() == "MISSION_ITEM_INT"]
    # every item once, in order: none answered to the broken, foreign or skipping requests
    assert sent == list(range(len(items)))
    assert up.retransmissions == 0 and up.ignored >= 1  # the request that skipped ahead
    assert len(back) == len(items) and all(a.same_as(b) for a, b in zip(items, back))
    # the item out of order and the fence's item were seen and set aside; the broken one
    # never passed the codec
    assert down.ignored >= 1
    requests = [m.seq for m in peer.received if m.get_type() == "MISSION_REQUEST_INT"]
    assert requests.count(10) == 1 and requests.count(20) == 1  # no request needed again
    # and the lane did most of the work, not all of it
    assert 0.5 * N < up.express < N and 0.5 * N < down.express < N


@pytest.mark.parametrize("flavour", ["ardupilot"])  # the pair's ArduPilot flavour is on TCP
def test_no_lane_on_a_stream_link(pair: Any, survey: Any) -> None:
    """TCP (and serial) deliver a byte stream, not datagrams: the general loop, checked by the
    codec, runs every round trip."""
    link, v, _peer = pair
    items = survey(12)
    v.upload_mission(items, clearance=Clearance.passed(items))  # verified: a download
    up = link.transfer_stats[(v.sysid, "upload")]
    down = link.transfer_stats[(v.sysid, "download")]
    assert (up.express, down.express) == (0, 0)
    assert up.first_sends == len(items) + 1  # ArduPilot's home first


class _Chatty:
    """A vehicle streaming telemetry between its mission replies, each in a datagram of its
    own (as PX4 does at tens of messages a second): an ATTITUDE before every request and every
    item, numbered by its time_boot_ms (a mixin for the scripted vehicle)."""

    sysid: int
    mav: Any
    _raw_send: Any
    told = 0

    def _attitude(self) -> None:
        self.told += 1
        out = mavlink2.MAVLink(None, srcSystem=self.sysid, srcComponent=1)
        out.seq = self.mav.seq
        self.mav.seq = (self.mav.seq + 1) % 256
        msg = mavlink2.MAVLink_attitude_message(self.told, 0.0, 0.0, 0.1, 0.0, 0.0, 0.0)
        self._raw_send(bytes(msg.pack(out)))

    def _request(self, seq: int, mission_type: int) -> None:
        self._attitude()
        super()._request(seq, mission_type)  # type: ignore[misc]

    def _handle(self, m: Any) -> None:
        if m.get_type() == "MISSION_REQUEST_INT":
            self._attitude()
        super()._handle(m)  # type: ignore[misc]


def test_telemetry_between_round_trips_stays_in_the_lane_and_reaches_the_link(
    survey: Any, scripted_vehicle_class: type
) -> None:
    """Telemetry read by the lane is the link's, in order and CRC-checked; it does not end the
    lane (every round trip but the first is answered there)."""
    link = connect("udpin://127.0.0.1:0", heartbeat_hz=5)
    seen: list[int] = []
    with link:
        assert link.local_address is not None
        peer = type("ChattyVehicle", (_Chatty, scripted_vehicle_class), {})(
            "px4", 1, udp_target=("127.0.0.1", link.local_address[1])
        )
        try:
            v = link.wait_vehicle(timeout_s=5)
            v.wait_for(lambda s: s.home is not None, 5, "telemetry")
            items = survey(N)
            with link.subscribe({"ATTITUDE"}, sysid=v.sysid) as sub:
                v.upload_mission(items, verify=False, clearance=Clearance.passed(items))
                back = v.download_mission()
                deadline = time.monotonic() + 5.0
                while (got := sub.get(timeout_s=1.0)) is not None and len(seen) < 2 * N:
                    if time.monotonic() > deadline:
                        break
                    if got[0].time_boot_ms > 0:  # the vehicle's own telemetry is numbered 0
                        seen.append(int(got[0].time_boot_ms))
            up = link.transfer_stats[(v.sysid, "upload")]
            down = link.transfer_stats[(v.sysid, "download")]
        finally:
            peer.close()
    assert len(back) == len(items) and all(a.same_as(b) for a, b in zip(items, back))
    assert up.retransmissions == 0 and down.retransmissions == 0
    assert up.express >= N - 1 and down.express >= N - 2
    # every ATTITUDE sent during the transfers reached the subscriber, in order
    assert len(seen) >= 2 * N - 2 and seen == sorted(seen) and len(set(seen)) == len(seen)
