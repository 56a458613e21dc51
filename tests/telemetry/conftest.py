"""Fixtures of the telemetry tests: a simulated fleet on free ports."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from dkp_testkit import free_simulator_offset

HOME = (49.7230, 13.3500, 330.0)  # Plzeň-Bory


@pytest.fixture
def sim_fleet() -> Iterator[Callable[..., Any]]:
    """``sim_fleet(n, autopilot)`` starts a simulated fleet (20× speed) on a free port offset;
    every fleet started is stopped after the test."""
    from simulators import SimFleet

    started: list[Any] = []

    def start(n: int = 1, autopilot: str = "px4") -> Any:
        last: Exception | None = None
        for _ in range(5):
            off = free_simulator_offset()
            fleet = SimFleet(
                n_vehicles=n, autopilot=autopilot, home=HOME, speedup=20.0, port_offset=off
            )
            try:
                fleet.start()
            except Exception as exc:  # port taken by a parallel test run: another offset
                last = exc
                continue
            started.append(fleet)
            return fleet
        raise RuntimeError(f"no free port offset: {last}")

    yield start
    for fleet in started:
        fleet.stop()
