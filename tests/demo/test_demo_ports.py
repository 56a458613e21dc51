"""The demo's simulator ports: a port taken between the check and the bind is not a failure."""

from __future__ import annotations

import socket
from dataclasses import dataclass
from typing import Any

import pytest

from dronekit_plzen.demo import sar
from dronekit_plzen.errors import LinkError


@dataclass
class _Opts:
    drones: int = 2
    port_offset: int | None = None
    speedup: float = 10.0
    fast: bool = True


def test_a_port_taken_after_the_check_moves_the_fleet_to_the_next_free_offset(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Another program binds the chosen ports first (the race CI saw): the real simulator's bind
    fails, and the demo starts on another offset instead of failing."""
    from simulators import SimFleet

    first = sar.free_port_offset(2)
    squatter = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    checks: list[int] = []
    real_free = sar.free_port_offset

    def free_then_taken(n: int, skip: frozenset[int] = frozenset()) -> int:
        off = real_free(n, skip)
        if not checks:  # taken right after the check, before the simulator binds
            squatter.bind(("127.0.0.1", 14580 + off))
        checks.append(off)
        return off

    monkeypatch.setattr(sar, "free_port_offset", free_then_taken)
    try:
        sim, off = sar._start_fleet(_Opts(), SimFleet)
        try:
            assert checks[0] == first and off != first and len(checks) == 2
            assert sim.ports(0)["api_local"] == 14580 + off
        finally:
            sim.stop()
    finally:
        squatter.close()


def test_an_explicit_offset_whose_port_is_taken_fails_with_one_line() -> None:
    from simulators import SimFleet

    off = sar.free_port_offset(1)
    squatter = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    squatter.bind(("127.0.0.1", 14580 + off))
    try:
        with pytest.raises(LinkError, match="cannot bind port"):
            opts: Any = _Opts(drones=1, port_offset=off)
            sar._start_fleet(opts, SimFleet)
    finally:
        squatter.close()


def test_the_cli_default_offset_0_means_find_free_ports(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`demo` without --port-offset (0) lets the demo find free ports; an offset is kept."""
    from dronekit_plzen.cli.main import main

    seen: list[Any] = []

    def capture(opts: Any) -> Any:
        seen.append(opts.port_offset)
        raise LinkError("stop here")  # the options are what this test is about

    monkeypatch.setattr(sar, "run_sar_demo", capture)
    assert main(["demo", "--fast"]) == 1
    assert main(["demo", "--fast", "--port-offset", "300"]) == 1
    assert seen == [None, 300]
    assert "stop here" in capsys.readouterr().err


def test_the_summary_counts_deployments_in_the_right_number() -> None:
    """ "1 deployments" in the demo's summary: one deployment is singular (Czech: nasazení)."""
    from types import SimpleNamespace

    from dronekit_plzen.demo.report import print_summary
    from dronekit_plzen.i18n import set_language

    drone = SimpleNamespace(
        name="SITMP-1", sysid=1, planned_length_m=9390.0, planned_time_s=1578.0,
        flown_time_s=1524.0, flown_distance_m=11070.0, battery_used_pct=59.0, max_height_m=95.0,
        spacing_m=72.0, flown_coverage_pct=99.0, planned_pod=0.63, flown_pod=0.62,
        reached=[1, 2], nav_seqs=[1, 2],
    )  # fmt: skip
    quarter = {"period": "2026-Q4", "count": 1, "exercises": 0, "by_organisation": {"PCR": 1}}
    ind = {"year": 2026, "quarters": [quarter], "baseline": {"value": 10}, "target": {"value": 30}}
    for n, text in ((1, "1 deployment ("), (2, "2 deployments (")):
        lines: list[str] = []
        set_language("en")
        print_summary(lines.append, [drone], 99.0, 0.62, ind | {"total": n}, {})
        assert any(text in line for line in lines), lines
        assert "     2026-Q4: 1  (PCR 1)" in lines, lines  # not a Python dict
