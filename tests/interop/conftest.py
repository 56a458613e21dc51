"""Interop checks against real firmware: ArduCopter SITL (``SITL_BIN``) and PX4 SITL (``PX4_DIR``).

Not part of ``make test`` (CI cannot fetch the firmwares' sources): the files here are collected
only when ``DKP_INTEROP=1``, which ``make interop`` (``scripts/interop/run.py``) sets. Each test
runs once per firmware the environment points at, on a freshly started instance.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

if os.environ.get("DKP_INTEROP") != "1":
    collect_ignore_glob = ["*.py"]  # make test: nothing here is collected
else:
    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "scripts" / "interop"))

    import firmware
    from harness import Observer

    firmware.stop_on_sigterm()  # a killed run still stops the firmware it started

    def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
        if "fw_kind" in metafunc.fixturenames:
            kinds = firmware.enabled_firmwares()
            assert kinds, "set SITL_BIN and/or PX4_DIR (see README, 'Real firmware (interop)')"
            if metafunc.definition.get_closest_marker("arducopter_only"):
                # checks of what only ArduCopter flies (LOITER_TURNS circles): not collected for
                # PX4 rather than skipped there
                kinds = [k for k in kinds if k == "arducopter"]
            metafunc.parametrize("fw_kind", kinds)

    def _base() -> int:
        return int(os.environ.get("DKP_INTEROP_INSTANCE", "0"))

    def _speedup() -> float:
        return float(os.environ.get("SPEEDUP", "3"))

    @pytest.fixture(scope="session")
    def out_dir() -> Path:
        d = Path(os.environ.get("DKP_INTEROP_OUT", "build/interop")).resolve()
        d.mkdir(parents=True, exist_ok=True)
        return d

    class Running:
        """A started firmware instance and its observer."""

        def __init__(self, inst: Any, obs: Observer) -> None:
            self.inst = inst
            self.obs = obs

        @property
        def kind(self) -> str:
            return str(self.inst.kind)

        @property
        def url(self) -> str:
            return str(self.inst.url)

    def _start(kind: str, number: int, out_dir: Path, test_name: str) -> Running:
        wd = out_dir / "instances" / f"{test_name}-{kind}-{number}"
        inst = firmware.start(kind, number, wd, speedup=_speedup())
        try:
            obs = Observer(inst.url2, kind=kind, source_system=246 - number)
        except Exception:
            inst.stop()
            raise
        return Running(inst, obs)

    def _stop(r: Running) -> None:
        r.obs.close()
        r.inst.stop()

    @pytest.fixture
    def booted(fw_kind: str, out_dir: Path, request: pytest.FixtureRequest) -> Iterator[Running]:
        """Instance ``DKP_INTEROP_INSTANCE`` of the firmware, just started (not yet ready)."""
        r = _start(fw_kind, _base(), out_dir, request.node.originalname)
        try:
            yield r
        finally:
            _stop(r)

    @pytest.fixture
    def ready(booted: Running) -> Running:
        """The same, once ready to arm (pre-arm bit, 3D fix, home) as the observer sees it."""
        t0 = time.monotonic()
        booted.obs.wait_ready(180.0)
        print(f"{booted.kind}: ready to arm {time.monotonic() - t0:.1f} s after start-up")
        return booted

    @pytest.fixture
    def ready_pair(
        fw_kind: str, out_dir: Path, request: pytest.FixtureRequest
    ) -> Iterator[list[Running]]:
        """Two instances of the firmware at once (N and N+1), both ready to arm."""
        runs: list[Running] = []
        try:
            for k in (0, 1):
                runs.append(_start(fw_kind, _base() + k, out_dir, request.node.originalname))
            for r in runs:
                r.obs.wait_ready(180.0)
            yield runs
        finally:
            for r in runs:
                _stop(r)
