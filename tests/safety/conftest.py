"""The safety matrix's real inputs: GeoTIFF DEMs written here, mission/area/zone files, the CLI
as a subprocess, and the project's simulator over UDP."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from dkp_testkit import DemFn, free_simulator_offset, offset, write_geotiff

from dronekit_plzen.mission_items import (
    CMD_NAV_RETURN_TO_LAUNCH,
    CMD_NAV_TAKEOFF,
    CMD_NAV_WAYPOINT,
    MissionItem,
)

#: a forest west of Plzeň, away from the sample zones; the ground there is 300 m AMSL in our DEMs
ORIGIN = (13.2600, 49.7700)  # lon, lat
GROUND_M = 300.0


def write_dem(
    path: Path,
    fn: DemFn,
    *,
    epsg: int = 32633,
    center: tuple[float, float] = ORIGIN,
    half_m: float = 4000.0,
    res_m: float = 10.0,
) -> Path:
    """A GeoTIFF around ``center`` whose height at (dx, dy) metres from it is ``fn(dx, dy)``."""
    return write_geotiff(path, fn, epsg=epsg, center_lonlat=center, half_m=half_m, res_m=res_m)


def flat(dx: np.ndarray, _dy: np.ndarray) -> np.ndarray:
    return np.full(dx.shape, GROUND_M)


def hill(dx: np.ndarray, dy: np.ndarray) -> np.ndarray:
    """A 200 m hill 600 m east of the origin (Gaussian, sigma 250 m)."""
    return GROUND_M + 200.0 * np.exp(-((dx - 600.0) ** 2 + dy**2) / (2 * 250.0**2))


def valley(dx: np.ndarray, _dy: np.ndarray) -> np.ndarray:
    """A north-south valley 200 m deep centred 1 km east of the origin, 2 km wide."""
    return GROUND_M - 200.0 * np.exp(-((dx - 1000.0) ** 2) / (2 * 400.0**2))


@pytest.fixture
def dems(tmp_path: Path) -> dict[str, Path]:
    """flat, hill, valley (UTM 33N) and sjtsk (flat, EPSG:5514 S-JTSK / Krovak East North)."""
    return {
        "flat": write_dem(tmp_path / "flat.tif", flat),
        "hill": write_dem(tmp_path / "hill.tif", hill),
        "valley": write_dem(tmp_path / "valley.tif", valley),
        "sjtsk": write_dem(tmp_path / "sjtsk.tif", flat, epsg=5514),
    }


def square_area(path: Path, center: tuple[float, float], half_m: float, swap: bool = False) -> Path:
    """A GeoJSON square; ``swap`` writes [lat, lon] pairs (the classic mistake)."""
    pts = [
        offset(center, sx * half_m, sy * half_m) for sx, sy in ((-1, -1), (1, -1), (1, 1), (-1, 1))
    ]
    pts.append(pts[0])
    ring = [[la, lo] if swap else [lo, la] for lo, la in pts]
    doc = {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "properties": {},
                "geometry": {"type": "Polygon", "coordinates": [ring]},
            }
        ],
    }
    path.write_text(json.dumps(doc), encoding="utf-8")
    return path


def zone_file(path: Path, center: tuple[float, float], half_m: float) -> Path:
    """A plain GeoJSON polygon (a PROHIBITED zone from the ground up) around ``center``."""
    return square_area(path, center, half_m)


def simple_items(
    home: tuple[float, float], points: list[tuple[float, float]], alt_m: float, frame: int = 3
) -> list[MissionItem]:
    items = [MissionItem(command=CMD_NAV_TAKEOFF, alt_m=alt_m, frame=frame)]
    items += [
        MissionItem(command=CMD_NAV_WAYPOINT, lon_deg=lo, lat_deg=la, alt_m=alt_m, frame=frame)
        for lo, la in points
    ]
    items.append(MissionItem(command=CMD_NAV_RETURN_TO_LAUNCH, frame=2))  # MAV_FRAME_MISSION
    return items


def run_cli(
    *args: str, stdin: Any = subprocess.DEVNULL, timeout: float = 180
) -> tuple[int, str, str]:
    """``python -m dronekit_plzen ARGS`` as a pilot runs it: exit code, stdout, stderr."""
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    p = subprocess.run(
        [sys.executable, "-m", "dronekit_plzen", *args],
        capture_output=True,
        text=True,
        stdin=stdin,
        env=env,
        timeout=timeout,
        check=False,
    )
    return p.returncode, p.stdout, p.stderr


def last_error(stderr: str) -> str:
    lines = stderr.strip().splitlines()
    assert lines, "no message on stderr"
    assert "Traceback" not in stderr, stderr
    return lines[-1]


@pytest.fixture
def sim_factory() -> Iterator[Any]:
    """``simulators.SimFleet`` on a random port offset, ready to arm at once (no boot settle)."""
    from simulators import SimFleet

    made: list[Any] = []

    def factory(n: int = 1, autopilot: str = "px4", **kw: Any) -> Any:
        last: Exception | None = None
        for _attempt in range(5):
            off = free_simulator_offset()
            kw.setdefault("speedup", 20.0)
            kw.setdefault("boot_settle_s", 0.0)
            fleet = SimFleet(n_vehicles=n, autopilot=autopilot, port_offset=off, **kw)
            try:
                fleet.start()
            except Exception as exc:  # a port taken by another helper's run: another offset
                last = exc
                continue
            made.append(fleet)
            return fleet
        raise RuntimeError(f"no free port offset: {last}")

    yield factory
    for f in made:
        f.stop()


def sim_url(fleet: Any, i: int = 0) -> str:
    if fleet.autopilot == "px4":
        return f"udpin://127.0.0.1:{fleet.ports(i)['api_remote']}"
    return f"tcp://127.0.0.1:{fleet.ports(i)['tcp']}"
