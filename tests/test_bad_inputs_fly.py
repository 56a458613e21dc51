"""``fly`` with a bad option or input file: refused before the link is opened, at once.

Every option, the plan, the terrain model, the zones and the vehicle profile used to be checked
only once a vehicle had answered: with no vehicle on the link, a NaN speed or a missing DEM
waited the 15 s for a heartbeat and then reported the link, not the mistake (and values such
as ``--takeoff-alt nan`` or ``--heartbeat-hz 0`` were never checked at all). Each case runs the
real CLI as a subprocess against a closed loopback port (``udpin://127.0.0.1:<free port>``,
nobody sends there) and checks the exit code, exactly one ``error:`` line naming the option or
the file, no traceback, and that it took seconds, not the 15 s wait for a vehicle.
"""

from __future__ import annotations

import re
import socket
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import rasterio
from dkp_testkit import run_dkp
from rasterio.transform import from_origin

from tests.test_bad_inputs import _plan

#: far below the 15 s wait for a heartbeat; the Python start-up and imports take most of it
FAST_S = 5.0


@dataclass(frozen=True)
class Case:
    """argv (``{d}`` inputs folder, ``{url}`` the closed loopback link) and what must happen."""

    id: str
    argv: tuple[str, ...]
    code: int
    pattern: str
    max_s: float = FAST_S


def _dem(path: Path, west: float, north: float) -> None:
    """A 20 × 20 terrain model in WGS 84 with its north-west corner at (west, north)."""
    with rasterio.open(
        path,
        "w",
        driver="GTiff",
        width=20,
        height=20,
        count=1,
        dtype="float32",
        crs="EPSG:4326",
        transform=from_origin(west, north, 1e-3, 1e-3),
    ) as dst:
        dst.write(np.full((20, 20), 300.0, dtype=np.float32), 1)


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("fly_bad_inputs")
    (d / "good.plan").write_text(_plan(49.7405))  # take-off and one waypoint in Plzeň
    (d / "garbage.json").write_text("{ not json")
    (d / "zones.txt").write_text("this is not a zones file\n")
    _dem(d / "elsewhere.tif", 14.5, 50.1)  # Prague: the mission in Plzeň lies outside it
    return d


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


FLY = ("fly", "{d}/good.plan", "--connect", "{url}")


def _num(opt: str, value: str, pattern: str) -> Case:
    return Case(f"{opt.strip('-')}-{value}", (*FLY, opt, value), 2, rf"^error: {pattern}$")


FINITE = r"{o} must be a finite number, got {v}"
CASES = [
    # ---- NaN and infinite values: never checked, or checked only after the link was up ------
    *[
        _num(opt, v, FINITE.format(o=re.escape(opt), v=v))
        for opt in (
            "--takeoff-alt",
            "--timeout",
            "--heartbeat-hz",
            "--min-battery",
            "--max-range-m",
            "--max-distance-m",
            "--max-launch-offset-m",
        )
        for v in ("nan",)
    ],
    *[
        _num(opt, "inf", FINITE.format(o=re.escape(opt), v="inf"))
        for opt in ("--timeout", "--link-loss-s", "--wait-ready", "--wait-vehicle", "--max-range-m")
    ],
    # ---- negative, zero and absurd values ---------------------------------------------------
    _num("--takeoff-alt", "-5", r"--takeoff-alt must be more than 0 and at most 120, got -5"),
    _num("--takeoff-alt", "500", r"--takeoff-alt must be more than 0 and at most 120, got 500"),
    _num("--timeout", "-1", r"--timeout must be more than 0 and at most 86400, got -1"),
    _num("--heartbeat-hz", "0", r"--heartbeat-hz must be from 0\.2 to 50, got 0"),
    _num("--heartbeat-hz", "1e9", r"--heartbeat-hz must be from 0\.2 to 50, got 1e\+09"),
    _num("--min-battery", "150", r"--min-battery must be from 0 to 100, got 150"),
    _num("--min-battery", "-1", r"--min-battery must be from 0 to 100, got -1"),
    _num("--max-distance-m", "-1", r"--max-distance-m must be > 0, got -1"),
    _num("--max-launch-offset-m", "0", r"--max-launch-offset-m must be > 0, got 0"),
    _num("--link-loss-s", "1e6", r"--link-loss-s must be more than 0 and at most 3600, got 1e\+06"),
    _num("--wait-ready", "1e300", r"--wait-ready must be from 0 to 3600, got 1e\+300"),
    _num("--wait-vehicle", "0", r"--wait-vehicle must be more than 0 and at most 3600, got 0"),
    _num("--wait-vehicle", "nan", FINITE.format(o="--wait-vehicle", v="nan")),
    _num("--vehicle", "0", r"--vehicle must be from 1 to 255, got 0"),
    _num("--vehicle", "300", r"--vehicle must be from 1 to 255, got 300"),
    Case(  # found from outside: the mission's own take-off won, the altitude was dropped
        "takeoff-alt-with-a-takeoff-item",
        (*FLY, "--takeoff-alt", "40"),
        2,
        r"^error: .*good\.plan: --takeoff-alt is for a mission without a take-off item; this "
        r"one takes off at item 1 \(\d+ m above home\): change it in the plan$",
    ),
    # ---- a link that cannot reach a vehicle -------------------------------------------------
    Case(
        "udpout-port-0",
        ("fly", "{d}/good.plan", "--connect", "udpout://127.0.0.1:0"),
        2,
        r"^error: udpout://127\.0\.0\.1:0: port 0 cannot be sent to: give the vehicle's port",
    ),
    Case(  # the same check in every command that opens a link (it was in fly alone)
        "status-tcp-port-0",
        ("status", "--connect", "tcp://127.0.0.1:0", "--once"),
        2,
        r"^error: tcp://127\.0\.0\.1:0: port 0 cannot be sent to: give the vehicle's port",
    ),
    Case(
        "record-udpout-port-0",
        ("record", "--connect", "udpout://127.0.0.1:0", "--db", "{d}/rec.sqlite"),
        2,
        r"^error: udpout://127\.0\.0\.1:0: port 0 cannot be sent to: give the vehicle's port",
    ),
    # ---- files and names the guard needs: read before connecting ----------------------------
    Case(
        "dem-missing",
        (*FLY, "--dem", "{d}/missing.tif"),
        2,
        r"^error: .*missing\.tif: terrain file not found$",
    ),
    Case(
        "dem-not-a-raster",
        (*FLY, "--dem", "{d}/garbage.json"),
        2,
        r"^error: .*garbage\.json: cannot read the terrain raster",
    ),
    Case(
        "zones-missing",
        (*FLY, "--zones", "{d}/missing.json"),
        2,
        r"^error: .*missing\.json: zones file not found$",
    ),
    Case(
        "zones-not-zones",
        (*FLY, "--zones", "{d}/zones.txt"),
        2,
        r"^error: .*zones\.txt: ",
    ),
    Case(
        "profile-unknown",
        (*FLY, "--profile", "nosuch"),
        2,
        r"^error: unknown vehicle 'nosuch'; known: ",
    ),
    # the mission outside the terrain model is the guard's verdict (exit 3), given at once too
    Case(
        "dem-elsewhere-unsafe",
        (*FLY, "--dem", "{d}/elsewhere.tif"),
        3,
        r"^error: the mission lies outside the terrain model .*elsewhere\.tif",
    ),
    # the control: valid options reach the link and wait there for a vehicle (exit 1), as
    # long as --wait-vehicle says (15 s by default)
    Case(
        "valid-options-wait-for-the-vehicle",
        (
            *FLY,
            "--heartbeat-hz",
            "2",
            "--vehicle",
            "1",
            "--wait-vehicle",
            "2",
        ),
        1,
        r"^error: udpin://127\.0\.0\.1:\d+: no heartbeat from vehicle 1 within 2\.0 s$",
        max_s=30.0,
    ),
]


@pytest.mark.parametrize("case", [pytest.param(c, id=c.id) for c in CASES])
def test_fly_refuses_bad_input_before_connecting(case: Case, inputs: Path) -> None:
    url = f"udpin://127.0.0.1:{_free_port()}"
    argv = [a.format(d=inputs, url=url) for a in case.argv]
    before = sorted(p.name for p in inputs.iterdir())
    proc, took = run_dkp(argv, inputs)
    detail = f"exit {proc.returncode} after {took:.1f} s, stderr:\n{proc.stderr}"
    assert proc.returncode == case.code, detail
    assert "Traceback" not in proc.stderr and "internal error" not in proc.stderr, detail
    lines = [ln for ln in proc.stderr.splitlines() if ln.startswith("error:")]
    assert len(lines) == 1, detail
    assert re.search(case.pattern, lines[0]), f"{case.pattern!r} not in {lines[0]!r}"
    assert took < case.max_s, detail
    # nothing written beside the plan (no sortie progress file, no cleared mission)
    assert sorted(p.name for p in inputs.iterdir()) == before
