"""MAVLink 2 signing on the simulator, attacked over real sockets, on both firmware flavours.

Each test is an attack that worked before the simulator kept ONE signing state per vehicle
(see ``simulators.signing``): a captured signed ARM replayed on another link, a forged
far-future timestamp that locked the ground station out, an unsigned flood that hijacked the
telemetry. The ground station and the attacker are plain sockets framing with pymavlink (an
implementation independent of the simulator's checks).
"""

from __future__ import annotations

import select
import socket
import time
from collections.abc import Iterator
from typing import Any

import pytest
from pymavlink.dialects.v20 import ardupilotmega as mav

from simulators import SimFleet
from simulators.signing import now_timestamp

HOME = (49.7475, 13.3776, 310.0)
KEY = bytes(range(100, 132))
WRONG_KEY = bytes(32 * [0x5A])
FORCE = 21196  # MAV_CMD_COMPONENT_ARM_DISARM param2: skip the pre-arm checks
ONE_YEAR = 365 * 24 * 3600 * 100_000  # in signing timestamp units (10 µs)


class Peer:
    """A ground station (or an attacker) on a real socket; frames built with pymavlink."""

    def __init__(
        self,
        to: tuple[str, int] | None = None,
        *,
        bind_port: int = 0,
        tcp_port: int | None = None,
        key: bytes | None = KEY,
        link_id: int = 3,
        sysid: int = 255,
    ) -> None:
        self.to = to
        if tcp_port is not None:
            self.sock = socket.create_connection(("127.0.0.1", tcp_port), timeout=5)
            self.udp = False
        else:
            self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            self.sock.bind(("127.0.0.1", bind_port))
            self.udp = True
        self.sock.setblocking(False)
        self.mav = mav.MAVLink(None, srcSystem=sysid, srcComponent=190)
        if key is not None:
            self.mav.signing.secret_key = key
            self.mav.signing.sign_outgoing = True
            self.mav.signing.link_id = link_id
            self.mav.signing.timestamp = now_timestamp()
        # what we receive is checked against the right key: only the vehicle's frames count
        self.parser = mav.MAVLink(None)
        self.parser.robust_parsing = True
        self.parser.signing.secret_key = KEY
        self.parser.signing.allow_unsigned_callback = lambda _m, _mid: False
        self.bytes_in = 0

    def frame(self, msg: Any) -> bytes:
        data = bytes(msg.pack(self.mav))
        self.mav.seq = (self.mav.seq + 1) % 256
        return data

    def send(self, data: bytes) -> None:
        if self.udp:
            assert self.to is not None
            self.sock.sendto(data, self.to)
        else:
            self.sock.sendall(data)

    def command(self, cmd: int, *params: float) -> bytes:
        p = [*params, *[0.0] * (7 - len(params))]
        data = self.frame(self.mav.command_long_encode(1, 1, cmd, 0, *p))
        self.send(data)
        return data

    def poll(self, timeout_s: float = 0.0) -> list[Any]:
        """Every correctly signed message from the vehicle that arrived (waits ``timeout_s``)."""
        out: list[Any] = []
        ready, _, _ = select.select([self.sock], [], [], timeout_s)
        while ready:
            try:
                data = self.sock.recv(65536)
            except (BlockingIOError, InterruptedError):
                break
            if not data:
                break
            self.bytes_in += len(data)
            for m in self.parser.parse_buffer(data) or []:
                if m.get_type() != "BAD_DATA" and m.get_srcSystem() == 1:
                    out.append(m)
            ready, _, _ = select.select([self.sock], [], [], 0)
        return out

    def wait_for(self, mtype: str, timeout_s: float = 5.0, cond: Any = None) -> Any:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            for m in self.poll(0.05):
                if m.get_type() == mtype and (cond is None or cond(m)):
                    return m
        raise AssertionError(f"no signed {mtype} from the vehicle within {timeout_s} s")

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def peers() -> Iterator[Any]:
    made: list[Peer] = []

    def make(*args: Any, **kw: Any) -> Peer:
        p = Peer(*args, **kw)
        made.append(p)
        return p

    yield make
    for p in made:
        p.close()


@pytest.fixture(params=["px4", "ardupilot"])
def fleet(request: pytest.FixtureRequest, port_offset: int) -> Iterator[SimFleet]:
    f = SimFleet(autopilot=request.param, home=HOME, speedup=4, port_offset=port_offset)
    f.start()
    try:
        f.vehicles[0].set_signing_key(KEY)
        yield f
    finally:
        f.stop()


def udp_port(fleet: SimFleet, name: str) -> int:
    """The local port of the vehicle's UDP link ``name`` ("api" on PX4, "gcs" on both)."""
    for ep, link in fleet.vehicles[0].endpoints:
        if link.name == name:
            return int(ep.local_port)
    raise AssertionError(f"no link {name}")


def gcs_on_udp_link(fleet: SimFleet, peers: Any, **kw: Any) -> Peer:
    """A ground station where the vehicle's "gcs" UDP link sends (port 14550 + offset)."""
    g = peers(("127.0.0.1", udp_port(fleet, "gcs")), bind_port=fleet.ports(0)["gcs_remote"], **kw)
    g.wait_for("HEARTBEAT")
    return g


def armed(fleet: SimFleet) -> bool:
    return fleet.vehicles[0].state.armed


def stays(fleet: SimFleet, pred: Any, wall_s: float) -> bool:
    deadline = time.monotonic() + wall_s
    while time.monotonic() < deadline:
        if not pred():
            return False
        time.sleep(0.02)
    return True


def test_a_signed_arm_replayed_on_another_link_is_refused(fleet: SimFleet, peers: Any) -> None:
    # the ground station on the first link: PX4's API UDP port, ArduPilot's TCP port
    if fleet.autopilot == "px4":
        p = fleet.ports(0)
        gcs = peers(("127.0.0.1", p["api_local"]), bind_port=p["api_remote"])
    else:
        gcs = peers(tcp_port=fleet.ports(0)["tcp"])
    gcs.wait_for("HEARTBEAT")
    captured = gcs.command(mav.MAV_CMD_COMPONENT_ARM_DISARM, 1, FORCE)
    assert gcs.wait_for("COMMAND_ACK").result == mav.MAV_RESULT_ACCEPTED
    assert fleet.wait_until(lambda: armed(fleet), 5)
    gcs.command(mav.MAV_CMD_COMPONENT_ARM_DISARM, 0, FORCE)
    assert fleet.wait_until(lambda: not armed(fleet), 5)

    # the attacker replays the captured ARM on the vehicle's other link (UDP "gcs" port) ...
    attacker = peers(("127.0.0.1", udp_port(fleet, "gcs")), key=None)
    attacker.send(captured)
    assert stays(fleet, lambda: not armed(fleet), 1.0)
    # ... and on the same link (refused there even before the fix)
    gcs.send(captured)
    assert stays(fleet, lambda: not armed(fleet), 0.5)
    assert attacker.poll(0.2) == [] and attacker.bytes_in == 0  # no answer, no telemetry
    stats = fleet.call(lambda: fleet.vehicles[0].server.signing.stats())
    assert stats["replays"] >= 2
    # the real ground station is not affected
    gcs.command(mav.MAV_CMD_COMPONENT_ARM_DISARM, 1, FORCE)
    assert fleet.wait_until(lambda: armed(fleet), 5)


def test_a_forged_future_timestamp_does_not_lock_the_ground_station_out(
    fleet: SimFleet, peers: Any
) -> None:
    gcs = gcs_on_udp_link(fleet, peers, link_id=3)
    # under the GCS's (system, component, link id), a wrong key and a timestamp a year ahead
    forger = peers(("127.0.0.1", udp_port(fleet, "gcs")), key=WRONG_KEY, link_id=3)
    forger.mav.signing.timestamp = now_timestamp() + ONE_YEAR
    for _ in range(3):
        forger.command(mav.MAV_CMD_COMPONENT_ARM_DISARM, 1, FORCE)
    assert stays(fleet, lambda: not armed(fleet), 0.5)
    # the real ground station, signing with the current time, is still obeyed
    gcs.command(mav.MAV_CMD_COMPONENT_ARM_DISARM, 1, FORCE)
    ack = gcs.wait_for("COMMAND_ACK", cond=lambda a: a.command == 400)
    assert ack.result == mav.MAV_RESULT_ACCEPTED
    assert fleet.wait_until(lambda: armed(fleet), 5)
    stats = fleet.call(lambda: fleet.vehicles[0].server.signing.stats())
    assert stats["bad_signatures"] == 3
    # the vehicle's own clock was not dragged a year ahead by the forgery
    assert fleet.call(lambda: fleet.vehicles[0].server.signing.timestamp) < now_timestamp() + (
        60 * 100_000
    )


def test_unsigned_or_badly_signed_flood_does_not_hijack_the_telemetry(
    fleet: SimFleet, peers: Any
) -> None:
    gcs = gcs_on_udp_link(fleet, peers)
    port = udp_port(fleet, "gcs")
    unsigned = peers(("127.0.0.1", port), key=None)
    wrong = peers(("127.0.0.1", port), key=WRONG_KEY)
    hb = (mav.MAV_TYPE_GCS, mav.MAV_AUTOPILOT_INVALID, 0, 0, 0)
    arrivals: list[float] = []
    t0 = time.monotonic()
    while time.monotonic() - t0 < 3.0:  # 3 s of flood, ~200 datagrams a second from each
        unsigned.send(unsigned.frame(unsigned.mav.heartbeat_encode(*hb)))
        unsigned.send(b"\xfd\x09junk that is no MAVLink at all")
        wrong.send(wrong.frame(wrong.mav.heartbeat_encode(*hb)))
        for m in gcs.poll(0.005):
            if m.get_type() == "HEARTBEAT":
                arrivals.append(time.monotonic())
    gaps = [b - a for a, b in zip([t0, *arrivals], [*arrivals, time.monotonic()], strict=True)]
    # heartbeats come at 1 Hz of simulated time (4 Hz of wall time at speedup 4); hijacked,
    # the ground station heard none for the whole flood
    assert max(gaps) < 1.5, f"the ground station heard no heartbeat for {max(gaps):.1f} s"
    assert len(arrivals) >= 5
    assert unsigned.poll(0.2) == [] and unsigned.bytes_in == 0
    assert wrong.poll(0.0) == [] and wrong.bytes_in == 0
    # RADIO_STATUS is on the allow-list: accepted unsigned, yet it does not redirect either
    unsigned.send(unsigned.frame(unsigned.mav.radio_status_encode(200, 180, 90, 40, 35, 0, 0)))
    gcs.wait_for("HEARTBEAT")
    stats = fleet.call(lambda: fleet.vehicles[0].server.signing.stats())
    assert stats["allowed_unsigned"] == 1
    assert stats["unsigned_rejected"] > 100 and stats["bad_signatures"] > 100
    assert unsigned.poll(0.3) == [] and unsigned.bytes_in == 0
    # a correctly signed packet from a new address does move the telemetry (a GCS restart)
    moved = peers(("127.0.0.1", port), link_id=4)
    moved.send(moved.frame(moved.mav.heartbeat_encode(*hb)))
    moved.wait_for("HEARTBEAT")


def test_without_signing_any_sender_gets_the_telemetry(port_offset: int, peers: Any) -> None:
    """With signing off the UDP link answers whoever last sent a valid message (PX4 SITL)."""
    with SimFleet(autopilot="px4", home=HOME, speedup=4, port_offset=port_offset) as fleet:
        newcomer = peers(("127.0.0.1", fleet.ports(0)["api_local"]), key=None)
        newcomer.parser.signing.secret_key = None
        newcomer.send(b"noise only: no MAVLink here")
        assert newcomer.poll(0.5) == [] and newcomer.bytes_in == 0
        hb = (mav.MAV_TYPE_GCS, mav.MAV_AUTOPILOT_INVALID, 0, 0, 0)
        newcomer.send(newcomer.frame(newcomer.mav.heartbeat_encode(*hb)))
        newcomer.wait_for("HEARTBEAT")


def test_signing_can_be_turned_off_only_by_a_signed_setup_signing(
    fleet: SimFleet, peers: Any
) -> None:
    gcs = gcs_on_udp_link(fleet, peers)
    attacker = peers(("127.0.0.1", udp_port(fleet, "gcs")), key=None)
    attacker.send(attacker.frame(attacker.mav.setup_signing_encode(1, 1, [0] * 32, 0)))
    time.sleep(0.3)
    assert fleet.call(lambda: fleet.vehicles[0].server.signing.enabled)
    gcs.send(gcs.frame(gcs.mav.setup_signing_encode(1, 1, [0] * 32, 0)))
    assert fleet.wait_until(lambda: not fleet.vehicles[0].state.signing_enabled, 5)
