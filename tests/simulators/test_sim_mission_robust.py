"""Mission upload robustness of the simulated vehicle, driven without sockets (deterministic).

A ground station codec talks to one :class:`~simulators.protocol.VehicleServer` link; the
server's protocol timers run on the simulated clock, advanced step by step here. Each case
runs for both firmware flavours, whose real behaviour differs (see ``simulators.mission_proto``).
"""

from __future__ import annotations

from typing import Any

import pytest
from pymavlink.dialects.v20 import ardupilotmega as mav

from dronekit_plzen import mission_items as mi
from simulators.mission_proto import timers_s
from simulators.protocol import VehicleServer
from simulators.vehicle import VehicleModel

HOME = (49.7475, 13.3776, 310.0)
DT_S = 0.02
MISSION_TYPES = {"MISSION_ACK", "MISSION_REQUEST", "MISSION_REQUEST_INT", "MISSION_COUNT"}
MISSION_TYPES |= {"MISSION_ITEM_INT", "MISSION_ITEM", "STATUSTEXT"}


def waypoints(n: int) -> list[mi.MissionItem]:
    return [
        mi.MissionItem(
            mi.CMD_NAV_WAYPOINT,
            frame=mi.FRAME_GLOBAL_RELATIVE_ALT_INT,
            lat_deg=49.7475 + 1e-4 * (i + 1),
            lon_deg=13.3776,
            alt_m=20.0 + i,
        )
        for i in range(n)
    ]


class Bench:
    """A GCS codec wired to one link of a simulated vehicle; no sockets, simulated time."""

    def __init__(self, autopilot: str, sysid: int = 255) -> None:
        self.vm = VehicleModel(1, autopilot, HOME, 0, boot_settle_s=3.0)
        self.server = VehicleServer(self.vm)  # its timers follow the simulated clock ...
        self.server.wall_clock_s = self.server.clock_s  # ... and so does "the GCS" here
        self.out: list[bytes] = []
        self.link = self.server.add_link("api", self.out.append)
        self.parser = mav.MAVLink(None)
        self.parser.robust_parsing = True
        self.gcs = {s: mav.MAVLink(None, srcSystem=s, srcComponent=190) for s in (sysid, 254)}
        self.sysid = sysid
        self.items = waypoints(5)

    @property
    def px4(self) -> bool:
        return self.vm.px4

    def send(self, build: str, *args: Any, sysid: int | None = None) -> list[Any]:
        codec = self.gcs[sysid or self.sysid]
        msg = getattr(codec, f"{build}_encode")(*args)
        self.server.receive(self.link, bytes(msg.pack(codec)))
        return self.take()

    def count(self, n: int, mission_type: int = 0, sysid: int | None = None) -> list[Any]:
        return self.send("mission_count", 1, 1, n, mission_type, sysid=sysid)

    def item(self, seq: int, mission_type: int = 0, sysid: int | None = None) -> list[Any]:
        w = self.items[seq].with_(mission_type=mission_type).to_wire(seq)
        return self.send("mission_item_int", 1, 1, *_args(w), sysid=sysid)

    def take(self) -> list[Any]:
        """Mission messages (and STATUSTEXTs) the vehicle sent since the last call."""
        data = b"".join(self.out)
        self.out.clear()  # the link keeps appending to this very list
        msgs = self.parser.parse_buffer(data) or []
        return [m for m in msgs if m.get_type() in MISSION_TYPES]

    def advance(self, seconds: float) -> list[Any]:
        got: list[Any] = []
        for _ in range(round(seconds / DT_S)):
            self.vm.step(DT_S)
            self.server.tick()
            got += self.take()
        return got

    def upload(self, n: int) -> list[Any]:
        got = self.count(n)
        for seq in range(n):
            got += self.item(seq)
        return got


def _args(w: dict[str, Any]) -> list[Any]:
    keys = ["seq", "frame", "command", "current", "autocontinue"]
    keys += ["param1", "param2", "param3", "param4", "x", "y", "z", "mission_type"]
    return [w[k] for k in keys]


def requests(msgs: list[Any]) -> list[int]:
    return [int(m.seq) for m in msgs if m.get_type().startswith("MISSION_REQUEST")]


def acks(msgs: list[Any]) -> list[int]:
    return [int(m.type) for m in msgs if m.get_type() == "MISSION_ACK"]


def texts(msgs: list[Any]) -> list[str]:
    return [m.text for m in msgs if m.get_type() == "STATUSTEXT"]


@pytest.fixture(params=["px4", "ardupilot"])
def bench(request: pytest.FixtureRequest) -> Bench:
    b = Bench(str(request.param))
    b.advance(0.1)
    return b


def test_request_flavour_and_ardupilot_home_at_zero(bench: Bench) -> None:
    got = bench.count(3)
    want = "MISSION_REQUEST_INT" if bench.px4 else "MISSION_REQUEST"
    assert [m.get_type() for m in got] == [want] and requests(got) == [0]
    got = bench.item(0) + bench.item(1) + bench.item(2)
    assert requests(got) == [1, 2] and acks(got) == [mav.MAV_MISSION_ACCEPTED]
    assert len(bench.vm.missions[0]) == 3
    item0 = bench.send("mission_request_int", 1, 1, 0, 0)
    lat0 = item0[0].x / 1e7
    if bench.px4:
        assert lat0 == pytest.approx(bench.items[0].lat_deg, abs=1e-7)
    else:  # ArduPilot reports its home position as item 0, whatever was uploaded there
        assert lat0 == pytest.approx(HOME[0], abs=1e-6)


def test_older_duplicate_item_does_not_end_the_upload(bench: Bench) -> None:
    bench.count(4)
    assert requests(bench.item(0)) == [1]
    got = bench.item(0)  # a duplicated or late copy of item 0 while item 1 is awaited
    if bench.px4:  # dropped silently
        assert acks(got) == [] and requests(got) == []
    else:  # ArduPilot NACKs it but keeps the transfer
        assert acks(got) == [mav.MAV_MISSION_INVALID_SEQUENCE] and requests(got) == []
    assert bench.link.upload is not None and len(bench.link.upload.items) == 1
    retry_s, _ = timers_s(bench.px4)
    assert requests(bench.advance(retry_s + 0.04)) == [1]  # the timer asks for item 1 again
    got = bench.item(1) + bench.item(2) + bench.item(3)
    assert acks(got) == [mav.MAV_MISSION_ACCEPTED]
    assert [it.alt_m for it in bench.vm.missions[0][1:]] == [21.0, 22.0, 23.0]


def test_item_ahead_is_refused_but_the_upload_goes_on(bench: Bench) -> None:
    bench.count(3)
    got = bench.item(2)  # skipped ahead: a GCS bug, never loss or reordering
    assert acks(got) == [mav.MAV_MISSION_INVALID_SEQUENCE] and requests(got) == []
    got = bench.item(0) + bench.item(1) + bench.item(2)
    assert acks(got) == [mav.MAV_MISSION_ACCEPTED] and len(bench.vm.missions[0]) == 3


def test_last_item_resent_after_a_lost_ack(bench: Bench) -> None:
    assert acks(bench.upload(3)) == [mav.MAV_MISSION_ACCEPTED]
    got = bench.item(2)  # the GCS did not get our ACK and sends the last item again
    if bench.px4:
        assert acks(got) == [mav.MAV_MISSION_ACCEPTED]  # PX4 answers with the ACK again
    else:
        assert acks(got) == [mav.MAV_MISSION_ERROR]  # ArduPilot: not receiving
    assert len(bench.vm.missions[0]) == 3
    # any other item with no transfer running is an error, for both
    assert acks(bench.item(1)) == [mav.MAV_MISSION_ERROR]


def test_item_after_an_aborted_upload_is_never_accepted(bench: Bench) -> None:
    bench.count(3)
    bench.item(0)
    bench.item(1)
    bench.advance(timers_s(bench.px4)[1] + 0.5)
    assert bench.link.upload is None
    assert acks(bench.item(1)) == [mav.MAV_MISSION_ERROR]  # not ACCEPTED (PX4 PR #28738)
    assert bench.vm.missions[0] == []


def test_rerequest_interval_and_abort(bench: Bench) -> None:
    retry_s, timeout_s = timers_s(bench.px4)
    assert (retry_s, timeout_s) == ((0.25, 5.0) if bench.px4 else (1.0, 8.0))
    bench.count(3)
    bench.item(0)
    assert requests(bench.advance(retry_s - 0.06)) == []
    assert requests(bench.advance(0.1)) == [1]  # the request for item 1 was lost: again
    got = bench.advance(timeout_s - retry_s)
    n = len(requests(got))
    assert set(requests(got)) == {1}
    assert round(timeout_s / retry_s) - 3 <= n + 1 <= round(timeout_s / retry_s)
    if bench.px4:  # PX4 gives up silently (STATUSTEXT only)
        assert acks(got) == [] and texts(got) == ["Operation timeout"]
    else:
        assert acks(got) == [mav.MAV_MISSION_OPERATION_CANCELLED]
    assert bench.link.upload is None
    assert requests(bench.advance(2.0)) == []  # and stops asking
    assert bench.vm.missions[0] == []  # the old (empty) mission is kept


def test_slow_but_steady_gcs_is_not_aborted(bench: Bench) -> None:
    _, timeout_s = timers_s(bench.px4)
    bench.count(4)
    got: list[Any] = []
    for seq in range(4):
        got += bench.advance(timeout_s * 0.8)  # each item answered late, after re-requests
        got += bench.item(seq)
    assert acks(got) == [mav.MAV_MISSION_ACCEPTED] and len(bench.vm.missions[0]) == 4


def test_duplicated_count_at_item_zero(bench: Bench) -> None:
    assert requests(bench.count(3)) == [0]
    assert requests(bench.count(3)) == [0]  # our request was lost: the GCS repeats COUNT
    got = bench.item(0) + bench.item(1) + bench.item(2)
    assert acks(got) == [mav.MAV_MISSION_ACCEPTED] and len(bench.vm.missions[0]) == 3


def test_count_with_another_count_at_item_zero_restarts(bench: Bench) -> None:
    bench.count(4)
    assert requests(bench.count(2)) == [0]
    got = bench.item(0) + bench.item(1)
    assert acks(got) == [mav.MAV_MISSION_ACCEPTED] and len(bench.vm.missions[0]) == 2


def test_duplicated_count_mid_transfer(bench: Bench) -> None:
    bench.count(3)
    bench.item(0)
    bench.item(1)
    got = bench.count(3)  # a late duplicate of MISSION_COUNT
    if bench.px4:  # refused, the transfer carries on at item 2
        assert acks(got) == [mav.MAV_MISSION_ERROR] and texts(got) == ["WPM: REJ. CMD: Busy"]
        assert len(bench.link.upload.items) == 2  # type: ignore[union-attr]
        got = bench.item(2)
    else:  # ArduPilot restarts the upload for the same GCS
        assert acks(got) == [] and requests(got) == [0]
        got = bench.item(0) + bench.item(1) + bench.item(2)
    assert acks(got) == [mav.MAV_MISSION_ACCEPTED] and len(bench.vm.missions[0]) == 3


def test_second_gcs_cannot_take_over_an_upload(bench: Bench) -> None:
    bench.count(2)
    bench.item(0)
    got = bench.count(5, sysid=254)
    assert acks(got) == [mav.MAV_MISSION_ERROR if bench.px4 else mav.MAV_MISSION_DENIED]
    got = bench.item(1, sysid=254)
    assert acks(got) == ([] if bench.px4 else [mav.MAV_MISSION_DENIED])
    assert acks(bench.item(1)) == [mav.MAV_MISSION_ACCEPTED] and len(bench.vm.missions[0]) == 2


def test_download_and_clear_wait_for_the_upload(bench: Bench) -> None:
    bench.upload(2)
    bench.count(3)
    got = bench.send("mission_request_list", 1, 1, 0)
    assert [m.get_type() for m in got if m.get_type() == "MISSION_COUNT"] == []
    assert acks(got) == ([] if bench.px4 else [mav.MAV_MISSION_DENIED])
    got = bench.send("mission_clear_all", 1, 1, 0)
    assert acks(got) == ([] if bench.px4 else [mav.MAV_MISSION_ERROR])
    assert len(bench.vm.missions[0]) == 2  # nothing cleared
    got = bench.item(0) + bench.item(1) + bench.item(2)
    assert acks(got) == [mav.MAV_MISSION_ACCEPTED]
    got = bench.send("mission_request_list", 1, 1, 0)
    assert [m.count for m in got if m.get_type() == "MISSION_COUNT"] == [3]


def test_px4_gcs_cancel_ends_the_upload() -> None:
    bench = Bench("px4")
    bench.advance(0.1)
    bench.count(3)
    bench.item(0)
    bench.send("mission_ack", 1, 1, mav.MAV_MISSION_OPERATION_CANCELLED, 0)
    assert bench.link.upload is None
    assert requests(bench.advance(1.0)) == []
    assert requests(bench.count(2)) == [0]  # a new upload starts at once


def test_fence_upload_with_duplicates_keeps_types_apart(bench: Bench) -> None:
    fence = [
        mi.MissionItem(5001, param1=3, lat_deg=49.747 + 1e-3 * a, lon_deg=13.377 + 1e-3 * b)
        for a, b in ((0, 0), (0, 1), (1, 1))
    ]
    bench.items = fence
    bench.count(3, mission_type=1)
    bench.item(0, mission_type=1)
    got = bench.item(0, mission_type=0)  # wrong type inside a fence upload
    assert acks(got) == [mav.MAV_MISSION_ERROR]
    got = bench.item(0, mission_type=1) + bench.item(1, mission_type=1)
    got += bench.item(2, mission_type=1)
    assert acks(got)[-1] == mav.MAV_MISSION_ACCEPTED and len(bench.vm.missions[1]) == 3
    assert bench.vm.missions[0] == []


def test_timers_wait_for_the_gcs_wall_clock_floor(bench: Bench) -> None:
    """Lockstep runs far faster than real time: a GCS gets its wall time before an abort."""
    from simulators.mission_proto import MIN_RETRY_WALL_S, MIN_TIMEOUT_WALL_S

    wall = [100.0]
    bench.server.wall_clock_s = lambda: wall[0]
    _, timeout_s = timers_s(bench.px4)
    bench.count(3)
    bench.item(0)
    got = bench.advance(timeout_s * 3)  # much simulated time, no wall time at all
    assert requests(got) == [] and acks(got) == [] and bench.link.upload is not None
    wall[0] += MIN_RETRY_WALL_S * 2
    assert requests(bench.advance(DT_S)) == [1]  # both clocks agree now: re-request
    wall[0] += MIN_TIMEOUT_WALL_S
    got = bench.advance(DT_S)
    assert bench.link.upload is None
    assert acks(got) == ([] if bench.px4 else [mav.MAV_MISSION_OPERATION_CANCELLED])
