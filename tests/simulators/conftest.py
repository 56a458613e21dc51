"""Fixtures for the simulator tests: random port offsets and a small pymavlink ground station."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from pymavlink import mavutil
from pymavlink.dialects.v20 import ardupilotmega as mav

from dronekit_plzen import mission_items as mi


def _offset() -> int:
    from dkp_testkit import free_simulator_offset

    return free_simulator_offset()


@pytest.fixture
def port_offset() -> int:
    """A random port offset so parallel socket tests do not collide."""
    return _offset()


class Gcs:
    """A plain pymavlink ground station, as QGroundControl or a script would talk."""

    def __init__(self, url: str, sysid: int = 255) -> None:
        self.m = mavutil.mavlink_connection(
            url, source_system=sysid, source_component=190, dialect="ardupilotmega"
        )
        self.last_hb = 0.0
        self.seen: list[Any] = []
        self.target = 1

    def close(self) -> None:
        self.m.close()

    def heartbeat(self) -> None:
        now = time.monotonic()
        if now - self.last_hb >= 0.5:
            self.m.mav.heartbeat_send(mav.MAV_TYPE_GCS, mav.MAV_AUTOPILOT_INVALID, 0, 0, 0)
            self.last_hb = now

    def recv(
        self,
        types: str | list[str] | None = None,
        cond: Callable[[Any], bool] | None = None,
        timeout: float = 10.0,
    ) -> Any:
        deadline = time.monotonic() + timeout
        want = [types] if isinstance(types, str) else types
        while time.monotonic() < deadline:
            self.heartbeat()
            msg = self.m.recv_match(blocking=True, timeout=0.1)
            if msg is None or msg.get_type() == "BAD_DATA":
                continue
            self.seen.append(msg)
            if want is not None and msg.get_type() not in want:
                continue
            if cond is None or cond(msg):
                return msg
        raise AssertionError(f"no {types} within {timeout} s")

    def wait_state(self, pred: Callable[[], bool], timeout: float = 30.0) -> bool:
        """Wait for a simulator condition while reading telemetry (as a real GCS keeps doing)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if pred():
                return True
            self.heartbeat()
            msg = self.m.recv_match(blocking=True, timeout=0.05)
            if msg is not None and msg.get_type() != "BAD_DATA":
                self.seen.append(msg)
        return pred()

    def command(self, cmd: int, *params: float, timeout: float = 5.0) -> int:
        p = list(params) + [0.0] * (7 - len(params))
        self.m.mav.command_long_send(self.target, 1, cmd, 0, *p)
        ack = self.recv("COMMAND_ACK", lambda a: a.command == cmd, timeout)
        return int(ack.result)

    def upload(self, items: list[mi.MissionItem], mission_type: int = 0) -> tuple[int, list[str]]:
        """Upload; returns (MAV_MISSION_RESULT, the request message types the vehicle used)."""
        self.m.mav.mission_count_send(self.target, 1, len(items), mission_type)
        used: list[str] = []
        while True:
            msg = self.recv(["MISSION_REQUEST", "MISSION_REQUEST_INT", "MISSION_ACK"], timeout=5)
            if msg.get_type() == "MISSION_ACK":
                return int(msg.type), used
            used.append(msg.get_type())
            w = items[msg.seq].with_(mission_type=mission_type).to_wire(msg.seq)
            self.m.mav.mission_item_int_send(self.target, 1, **w)

    def download(self, mission_type: int = 0) -> list[mi.MissionItem]:
        self.m.mav.mission_request_list_send(self.target, 1, mission_type)
        count = self.recv("MISSION_COUNT", timeout=5).count
        out = []
        for seq in range(count):
            self.m.mav.mission_request_int_send(self.target, 1, seq, mission_type)
            out.append(
                mi.MissionItem.from_wire(
                    self.recv("MISSION_ITEM_INT", lambda x, s=seq: x.seq == s, 5)
                )
            )
        self.m.mav.mission_ack_send(self.target, 1, 0, mission_type)
        return out


@pytest.fixture
def gcs_factory() -> Iterator[Callable[[str], Gcs]]:
    made: list[Gcs] = []

    def make(url: str, sysid: int = 255) -> Gcs:
        g = Gcs(url, sysid)
        made.append(g)
        return g

    yield make
    for g in made:
        g.close()
