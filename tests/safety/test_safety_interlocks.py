"""Interlocks: a refused arming names the vehicle's reasons; the flight watch folds link-loss
bursts, throttles progress without a terminal and gives up on a silent vehicle."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import pytest

from dronekit_plzen.cli.fly_sorties import FlightWatch, arm_or_explain
from dronekit_plzen.errors import CommandError, LinkError
from dronekit_plzen.link import VehicleState, connect

from .conftest import GROUND_M, ORIGIN, sim_url


def test_refused_arming_names_the_prearm_reason(sim_factory: Any) -> None:
    sim = sim_factory(1, "px4", home=(ORIGIN[1], ORIGIN[0], GROUND_M))
    sim.vehicles[0].set_battery(5000.0, remaining_pct=3.0)  # below PX4's critical threshold
    with connect(sim_url(sim), heartbeat_hz=10) as link:
        v = link.wait_vehicle(timeout_s=15)
        v.wait_for(lambda s: s.home is not None, 30, "home")
        with pytest.raises(CommandError) as err:
            arm_or_explain(v)
    assert "vehicle 1 refused to arm" in str(err.value)
    assert "Battery critically low" in str(err.value)
    assert not sim.vehicles[0].state.armed


@dataclass
class _Clock:
    t: float = 0.0

    def __call__(self) -> float:
        return self.t


@dataclass
class _Named:
    """Only what the watch reads of a vehicle: its system id."""

    sysid: int = 7


def _state(
    age_s: float, seq: int = 3, alt: float = 30.0, mode: str = "AUTO.MISSION"
) -> VehicleState:
    return VehicleState(
        sysid=7,
        heartbeat_age_s=age_s,
        mission_seq=seq,
        relative_alt_m=alt,
        mode=mode,
        armed=True,
        lat_deg=49.77,
        lon_deg=13.26,
        battery_remaining_pct=80.0,
    )


def _watch(interactive: bool, clock: _Clock, lines: list[str]) -> FlightWatch:
    return FlightWatch(
        _Named(),  # type: ignore[arg-type]
        10,
        link_loss_s=30.0,
        interactive=interactive,
        echo=lines.append,
        every_s=5.0,
        clock=clock,
    )


def test_progress_without_a_terminal_is_throttled() -> None:
    clock, lines = _Clock(), []
    w = _watch(False, clock, lines)
    for k in range(100):  # 10 s at 10 Hz, altitude changing every time, same item and mode
        clock.t = k * 0.1
        w.step(_state(0.1, alt=30.0 + k * 0.1))
    assert len(lines) == 2  # at 0 s and 5 s
    w.step(_state(0.1, seq=4))
    assert len(lines) == 3  # a new item is shown at once


def test_progress_on_a_terminal_on_every_change() -> None:
    clock, lines = _Clock(), []
    w = _watch(True, clock, lines)
    for k in range(10):
        clock.t = k * 0.1
        w.step(_state(0.1, alt=30.0 + k))
        w.step(_state(0.1, alt=30.0 + k))  # unchanged: not repeated
    assert len(lines) == 10


def test_link_loss_bursts_fold_into_one_line() -> None:
    clock, lines = _Clock(), []
    w = _watch(False, clock, lines)
    w.step(_state(0.1))
    for k in range(20):  # 20 losses and recoveries within 4 s
        clock.t = 0.1 + k * 0.2
        w.step(_state(6.0 if k % 2 == 0 else 0.1))
    clock.t = 10.0
    w.step(_state(0.1))
    link_lines = [ln for ln in lines if "link to vehicle 7" in ln]
    assert link_lines[0] == "link to vehicle 7 lost"
    assert len(link_lines) == 2 and "lost 9 times and regained 10" in link_lines[1]


def test_silent_vehicle_ends_the_watch_naming_it() -> None:
    clock, lines = _Clock(), []
    w = _watch(False, clock, lines)
    w.step(_state(0.1, mode="AUTO.MISSION"))
    w.step(_state(10.0))
    with pytest.raises(LinkError) as err:
        w.step(_state(31.0, alt=math.nan, mode="?"))
    msg = str(err.value)
    assert "vehicle 7 silent for 31 s" in msg and "limit 30 s" in msg
    assert "49.770000, 13.260000" in msg and "mode AUTO.MISSION" in msg  # last known, not "?"


def test_progress_says_the_altitude_datum_and_never_shows_an_unknown_one_as_0() -> None:
    clock, lines = _Clock(), []
    w = _watch(True, clock, lines)
    w.step(_state(0.1, alt=math.nan))
    w.step(_state(0.1, alt=28.84))
    assert lines == [
        "item 4/10  mode AUTO.MISSION  alt ? m above home  battery 80%  link 0.1 s",
        "item 4/10  mode AUTO.MISSION  alt 28.8 m above home  battery 80%  link 0.1 s",
    ]
