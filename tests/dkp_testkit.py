"""Helpers shared by several test folders (importable as ``dkp_testkit``: tests/conftest.py puts
this folder on ``sys.path``). Real files only: GeoTIFF DEMs written with rasterio."""

from __future__ import annotations

import math
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import rasterio
from rasterio.transform import Affine

from dronekit_plzen.geo import transform

#: a point in a forest west of Plzeň, away from the sample zones (lon, lat)
FOREST_LONLAT = (13.2600, 49.7700)

DemFn = Callable[[np.ndarray, np.ndarray], np.ndarray]


def offset(lonlat: tuple[float, float], east_m: float, north_m: float) -> tuple[float, float]:
    """(lon, lat) ``east_m``/``north_m`` metres from ``lonlat`` (UTM 33N)."""
    x, y = transform([lonlat[0]], [lonlat[1]], 4326, 32633)
    lo, la = transform([float(x[0]) + east_m], [float(y[0]) + north_m], 32633, 4326)
    return float(lo[0]), float(la[0])


def write_geotiff(
    path: Path,
    fn: DemFn,
    *,
    epsg: int = 32633,
    center_lonlat: tuple[float, float] = FOREST_LONLAT,
    half_m: float = 3000.0,
    res_m: float = 10.0,
    nodata: float | None = -9999.0,
) -> Path:
    """A GeoTIFF around ``center_lonlat`` whose value at metric (x, y) is ``fn(dx, dy)``
    (metres east/north of the centre, in the raster's CRS)."""
    cx, cy = transform([center_lonlat[0]], [center_lonlat[1]], 4326, epsg)
    x0, y1 = float(cx[0]) - half_m, float(cy[0]) + half_m
    n = int(2 * half_m / res_m)
    xs = x0 + (np.arange(n) + 0.5) * res_m
    ys = y1 - (np.arange(n) + 0.5) * res_m
    gx, gy = np.meshgrid(xs, ys)
    data = fn(gx - float(cx[0]), gy - float(cy[0])).astype(np.float32)
    with rasterio.open(
        path,
        "w",
        driver="GTiff",
        height=n,
        width=n,
        count=1,
        dtype="float32",
        crs=f"EPSG:{epsg}",
        transform=Affine(res_m, 0.0, x0, 0.0, -res_m, y1),
        nodata=nodata,
    ) as ds:
        ds.write(data, 1)
    return path


def sparse_raster(path: Path, n: int, bands: int = 1) -> Path:
    """An ``n`` × ``n`` GeoTIFF (UTM 33N, 1 m cells, tiled, no overviews) of a few hundred kB:
    only one tile is written (GDAL's SPARSE_OK), every other reads as 0. Reading it whole,
    or block-averaged without overviews, is what a huge raster costs."""
    from rasterio.windows import Window

    dtype = "uint8" if bands >= 3 else "float32"
    with rasterio.open(
        path,
        "w",
        driver="GTiff",
        width=n,
        height=n,
        count=bands,
        dtype=dtype,
        crs="EPSG:32633",
        transform=Affine(1.0, 0.0, 380_000.0, 0.0, -1.0, 5_520_000.0),
        tiled=True,
        compress="deflate",
        SPARSE_OK=True,
    ) as ds:
        ds.write(np.ones((bands, 256, 256), dtype), window=Window(0, 0, 256, 256))
    return path


def sigint_as_at_a_terminal() -> None:
    """``preexec_fn`` for a child that a test interrupts with SIGINT: pytest-xdist's workers
    ignore SIGINT and an ignored signal stays ignored across exec, so the child would never see
    the Ctrl-C a pilot's terminal sends; restore the default disposition first."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def simulator_ports_free(off: int) -> bool:
    """Whether every port a simulator on offset ``off`` binds (either flavour, up to 3 vehicles)
    and its clients listen on is free on loopback now (TCP and UDP)."""
    import socket

    ports = [p + off + 10 * i for p in (5760, 5762) for i in range(3)] + [
        p + off + i for p in (14540, 14550, 14580, 18570) for i in range(3)
    ]
    for port in ports:
        for kind in (socket.SOCK_STREAM, socket.SOCK_DGRAM):
            with socket.socket(socket.AF_INET, kind) as sock:
                try:
                    sock.bind(("127.0.0.1", port))
                except OSError:
                    return False
    return True


#: offsets 1000-5900 are the training class's (18 sessions at once, tests/training), 6000-13900
#: every other test's; 18570 + 13900 + 2 < 32768
TRAINING_OFFSETS = range(1000, 6000, 100)
TEST_OFFSETS = range(6000, 14000, 100)


def free_simulator_offset(band: range = TEST_OFFSETS) -> int:
    """A random port offset of ``band`` (of this test worker's share of it) whose simulator
    ports are free now. Every port stays below 32768, out of Linux's ephemeral range
    (32768-60999) where the other worker's client sockets get their ports; the training class
    has a band of its own, so a test of the other worker never takes a range the class has
    chosen but not bound yet."""
    import random

    # each pytest-xdist worker draws from its own share of the band: between the check here and
    # the simulator binding its ports (seconds, for a subprocess) the other worker saw the same
    # offset free, and two simulators or clients on one TCP port kept closing each other's link
    count = max(int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1")), 1)
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0")[2:]
    mine = [off for k, off in enumerate(band) if k % count == (int(worker or 0) % count)]
    start = random.SystemRandom().randrange(0, len(mine))
    for k in range(len(mine)):
        off = mine[(start + k) % len(mine)]
        if simulator_ports_free(off):
            return off
    raise RuntimeError(f"no free simulator port range in {band}")


def db_state(db: Path) -> str:
    """A digest of every table's rows of a SQLite file (read-only: the check changes nothing)."""
    import hashlib
    import sqlite3

    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        h = hashlib.sha256()
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        for t in sorted(tables):
            rows = conn.execute(f"SELECT * FROM [{t}] ORDER BY rowid").fetchall()
            h.update(f"{t}:{len(rows)}:{rows!r}".encode())
        return h.hexdigest()
    finally:
        conn.close()


def zone_file(
    path: Path,
    restriction: str,
    ring: list[list[float]] | None = None,
    identifier: str = "CZ-TEST-ZONE",
) -> Path:
    """A one-zone GeoJSON file (ED-318 style properties) over ``ring`` (lon/lat; by default a
    box north of Bolevec, Plzeň), from the ground to 300 m above it."""
    import json

    ring = ring or [
        [13.39, 49.795], [13.406, 49.795], [13.406, 49.805], [13.39, 49.805], [13.39, 49.795]
    ]  # fmt: skip
    layer = {"lower": 0, "lowerReference": "AGL", "upper": 300, "upperReference": "AGL"}
    feature = {
        "type": "Feature",
        "geometry": {"type": "Polygon", "coordinates": [ring], "layer": {**layer, "uom": "m"}},
        "properties": {
            "identifier": identifier,
            "name": "Bolevec reserve (test)",
            "type": "COMMON",
            "restriction": restriction,
            "reason": ["NATURE"],
        },
    }
    path.write_text(json.dumps({"type": "FeatureCollection", "features": [feature]}))
    return path


def run_dkp(
    argv: list[str],
    cwd: Path,
    *,
    env: dict[str, str] | None = None,
    drop: tuple[str, ...] = (),
    timeout_s: float = 120.0,
) -> tuple[subprocess.CompletedProcess[str], float]:
    """``python -m dronekit_plzen *argv`` in ``cwd`` as a user runs it (English UTF-8 locale,
    no DKP_DEBUG, the variables ``drop`` removed, ``env`` added): the process and seconds."""
    full = {**os.environ, "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8"}
    for name in ("DKP_DEBUG", *drop):
        full.pop(name, None)
    full.update(env or {})
    t0 = time.monotonic()
    proc = subprocess.run(
        [sys.executable, "-m", "dronekit_plzen", *argv],
        capture_output=True,
        text=True,
        env=full,
        cwd=cwd,
        timeout=timeout_s,
    )
    return proc, time.monotonic() - t0


# --------------------------------------------------------------------------- the vehicle model
#: where the simulator tests put the vehicle model's home (lat, lon, alt AMSL)
SIM_HOME = (49.7475, 13.3776, 310.0)
#: the model's step (s)
SIM_DT = 0.02


def sim_run(vm: Any, seconds: float, until: Callable[[Any], bool] | None = None) -> float:
    """Step the vehicle model ``vm``; stop early when ``until(vm)`` holds. Returns the sim time
    spent."""
    t0 = vm.t_s
    for _ in range(int(seconds / SIM_DT)):
        vm.step(SIM_DT)
        if until is not None and until(vm):
            break
    return float(vm.t_s - t0)


def sim_airborne(
    autopilot: str, alt_m: float = 30.0, home: tuple[float, float, float] = SIM_HOME
) -> Any:
    """A vehicle model (PX4 or ArduCopter flavour) with a GPS fix, armed, taken off and holding
    ``alt_m`` above home (PX4 in AUTO.LOITER, ArduCopter in GUIDED)."""
    from simulators.vehicle import RESULT_ACCEPTED, VehicleModel

    vm = VehicleModel(1, autopilot, home, seed=1, boot_settle_s=3.0)
    sim_run(vm, 4.0)  # GPS fix
    if autopilot == "px4":
        assert vm.arm() == RESULT_ACCEPTED
        assert vm.takeoff(home[2] + alt_m) == RESULT_ACCEPTED
    else:
        assert vm.set_mode("GUIDED") == RESULT_ACCEPTED
        assert vm.arm() == RESULT_ACCEPTED
        assert vm.takeoff(alt_m) == RESULT_ACCEPTED
    sim_run(vm, 60.0, lambda v: v.rel_alt_m > alt_m - 0.4)
    sim_run(vm, 2.0)
    assert abs(vm.rel_alt_m - alt_m) < 0.5
    assert vm.mode == ("AUTO.LOITER" if autopilot == "px4" else "GUIDED")
    return vm


def sim_with_mission(
    items: list[Any], autopilot: str = "ardupilot", home: tuple[float, float, float] = SIM_HOME
) -> Any:
    """A vehicle model on the ground holding ``items`` as its firmware stores them (each item
    accepted; ArduPilot's home at seq 0), its mission reset to the start."""
    from dronekit_plzen import mission_items as mi
    from simulators.mission_store import upload_result
    from simulators.vehicle import VehicleModel

    vm = VehicleModel(1, autopilot, home, 0, boot_settle_s=1.0)
    ap = autopilot == "ardupilot"
    stored = [mi.MissionItem(16, 0, lat_deg=home[0], lon_deg=home[1], alt_m=home[2])] if ap else []
    for it in items:
        result, kept = upload_result(it, autopilot)
        assert result == 0 and kept is not None, (it, result)
        stored.append(kept)
    vm.missions[0] = stored
    vm.runner.reset(clear_reached=True)
    return vm


def start_sim_mission(vm: Any, settle_s: float = 6.0, dt_s: float = 0.05) -> None:
    """Let ``vm`` (:func:`sim_with_mission`) settle ``settle_s`` on the ground, then start its
    mission as a ground station does: ArduCopter GUIDED, armed, MISSION_START; PX4
    AUTO.MISSION, armed (it takes off by itself)."""
    for _ in range(round(settle_s / dt_s)):
        vm.step(dt_s)
    if vm.autopilot == "ardupilot":
        assert (vm.set_mode("GUIDED"), vm.arm(), vm.mission_start()) == (0, 0, 0)
    else:
        assert (vm.set_mode("AUTO.MISSION"), vm.arm()) == (0, 0)


def loiter_turns(
    lat_deg: float, lon_deg: float, alt_m: float, turns: float, radius_m: float
) -> Any:
    """A LOITER_TURNS item (relative altitude): ``turns`` round a circle of ``radius_m``
    (negative: counter-clockwise)."""
    from dronekit_plzen import mission_items as mi

    return mi.MissionItem(
        mi.CMD_NAV_LOITER_TURNS,
        frame=3,
        lat_deg=lat_deg,
        lon_deg=lon_deg,
        alt_m=alt_m,
        param1=turns,
        param3=radius_m,
    )


def circle_jump_mission(home: tuple[float, float, float]) -> list[Any]:
    """``make fuzz``'s circle case around ``home`` (lat, lon, alt): a take-off to 14 m, one turn
    of a 16 m circle at 10 m round the take-off point, a DO_JUMP back to the take-off twice, a
    waypoint 128 m south, RTL (DO_JUMP targets are item indices)."""
    from dronekit_plzen import mission_items as mi

    lat, lon = home[0], home[1]
    south = lat - 128.0 / 111_200.0
    return [
        mi.MissionItem(mi.CMD_NAV_TAKEOFF, frame=3, lat_deg=lat, lon_deg=lon, alt_m=14.0),
        loiter_turns(lat, lon, 10.0, 1.0, 16.0),
        mi.MissionItem(mi.CMD_DO_JUMP, frame=2, param1=0.0, param2=2.0),
        mi.MissionItem(16, frame=3, lat_deg=south, lon_deg=lon, alt_m=10.0),
        mi.MissionItem(mi.CMD_NAV_RETURN_TO_LAUNCH, frame=2),
    ]


def circle_aside_jump_mission(home: tuple[float, float, float]) -> list[Any]:
    """``make fuzz``'s second circle case around ``home`` (lat, lon, alt): a take-off to 10 m,
    one turn of a 28 m circle round a point 22 m east (the take-off inside it), a DO_JUMP back to
    the take-off twice, a waypoint 90 m east and 12 m north, RTL (the simulator flew 15 m off the
    guard's walk at 19 m east, 12 m south)."""
    from dronekit_plzen import mission_items as mi

    lat, lon = home[0], home[1]
    m_per_deg_lon = 111_200.0 * math.cos(math.radians(lat))
    aside = lon + 22.0 / m_per_deg_lon
    far = (lat + 12.0 / 111_200.0, lon + 90.0 / m_per_deg_lon)
    return [
        mi.MissionItem(mi.CMD_NAV_TAKEOFF, frame=3, lat_deg=lat, lon_deg=lon, alt_m=10.0),
        loiter_turns(lat, aside, 10.0, 1.0, 28.0),
        mi.MissionItem(mi.CMD_DO_JUMP, frame=2, param1=0.0, param2=2.0),
        mi.MissionItem(16, frame=3, lat_deg=far[0], lon_deg=far[1], alt_m=10.0),
        mi.MissionItem(mi.CMD_NAV_RETURN_TO_LAUNCH, frame=2),
    ]


def _east_north_of(
    home: tuple[float, float, float], east_m: float, north_m: float
) -> tuple[float, float]:
    """(lat, lon) ``east_m`` east and ``north_m`` north of ``home`` (lat, lon, alt)."""
    return (
        home[0] + north_m / 111_200.0,
        home[1] + east_m / (111_200.0 * math.cos(math.radians(home[0]))),
    )


def wide_then_far_circle_mission(home: tuple[float, float, float]) -> list[Any]:
    """A circle-heavy search's case around ``home`` (lat, lon, alt): a take-off to 10 m, a
    quarter of an 80 m circle round a point 60 m east and 79 m south at 10 m, two turns of a
    16 m circle round a point 51 m west and 133 m south at 40 m, RTL."""
    from dronekit_plzen import mission_items as mi

    first, second = _east_north_of(home, 60.0, -79.0), _east_north_of(home, -51.0, -133.0)
    return [
        mi.MissionItem(mi.CMD_NAV_TAKEOFF, frame=3, lat_deg=home[0], lon_deg=home[1], alt_m=10.0),
        loiter_turns(first[0], first[1], 10.0, 0.25, 80.0),
        loiter_turns(second[0], second[1], 40.0, 2.0, 16.0),
        mi.MissionItem(mi.CMD_NAV_RETURN_TO_LAUNCH, frame=2),
    ]


def wide_circle_then_back_mission(home: tuple[float, float, float]) -> list[Any]:
    """A circle-heavy search's case around ``home`` (lat, lon, alt): a take-off to 14 m, half
    of an 80 m circle counter-clockwise round a point 106 m east and 15 m south at 20 m, a
    waypoint 81 m west and 77 m north at 10 m (behind the aircraft), a landing at home."""
    from dronekit_plzen import mission_items as mi

    centre, back = _east_north_of(home, 106.0, -15.0), _east_north_of(home, -81.0, 77.0)
    return [
        mi.MissionItem(mi.CMD_NAV_TAKEOFF, frame=3, lat_deg=home[0], lon_deg=home[1], alt_m=14.0),
        loiter_turns(centre[0], centre[1], 20.0, 0.5, -80.0),
        mi.MissionItem(16, frame=3, lat_deg=back[0], lon_deg=back[1], alt_m=10.0),
        mi.MissionItem(mi.CMD_NAV_LAND, frame=3, lat_deg=home[0], lon_deg=home[1]),
    ]


def spline_jump_mission(home: tuple[float, float, float]) -> list[Any]:
    """``make fuzz``'s spline case around ``home`` (lat, lon, alt): a take-off to 10 m, a
    spline waypoint 106 m east and 108 m south at 10 m, a DO_JUMP back to the take-off once, a
    waypoint 139 m south at 10 m, RTL (DO_JUMP targets are item indices)."""
    from dronekit_plzen import mission_items as mi

    lat, lon = home[0], home[1]
    m_per_deg_lon = 111_200.0 * math.cos(math.radians(lat))
    far = (lat - 108.0 / 111_200.0, lon + 106.0 / m_per_deg_lon)
    south = lat - 139.0 / 111_200.0
    return [
        mi.MissionItem(mi.CMD_NAV_TAKEOFF, frame=3, lat_deg=lat, lon_deg=lon, alt_m=10.0),
        mi.MissionItem(82, frame=3, lat_deg=far[0], lon_deg=far[1], alt_m=10.0),
        mi.MissionItem(mi.CMD_DO_JUMP, frame=2, param1=0.0, param2=1.0),
        mi.MissionItem(16, frame=3, lat_deg=south, lon_deg=lon, alt_m=10.0),
        mi.MissionItem(mi.CMD_NAV_RETURN_TO_LAUNCH, frame=2),
    ]


def circle_inside_radius_mission(home: tuple[float, float, float]) -> list[Any]:
    """``make fuzz``'s second circle case around ``home`` (lat, lon, alt): a take-off to 10 m,
    a waypoint there, one 1 m north (inside WPNAV_RADIUS), one turn of a 16 m circle round the
    take-off point at 10 m, RTL."""
    from dronekit_plzen import mission_items as mi

    lat, lon = home[0], home[1]
    north = lat + 1.0 / 111_200.0
    return [
        mi.MissionItem(mi.CMD_NAV_TAKEOFF, frame=3, lat_deg=lat, lon_deg=lon, alt_m=10.0),
        mi.MissionItem(16, frame=3, lat_deg=lat, lon_deg=lon, alt_m=10.0),
        mi.MissionItem(16, frame=3, lat_deg=north, lon_deg=lon, alt_m=10.0),
        loiter_turns(lat, lon, 10.0, 1.0, 16.0),
        mi.MissionItem(mi.CMD_NAV_RETURN_TO_LAUNCH, frame=2),
    ]


def random_mission(
    rng: Any,
    ap: bool,
    home: tuple[float, float, float],
    reach_m: float = 200.0,
    alt_m: tuple[float, float] = (10.0, 60.0),
    ends: tuple[str, ...] = ("rtl", "land", "none"),
) -> list[Any]:
    """A random mission (``rng``: a ``random.Random``) for the autopilot (``ap``: ArduCopter,
    else PX4) around ``home`` (lat, lon, alt): a take-off (always on ArduCopter, which does not
    start a mission on the ground without one; on PX4 sometimes placed up to 40 m away), one to
    five of waypoints with or without a hold, loiters, speed changes of every type, DO_JUMP
    and, on ArduCopter, NAV_DELAY, altitude-0 waypoints, loiter circles and spline waypoints; then
    one of ``ends``. Altitudes above home; DO_JUMP targets are item indices (the link shifts
    them for ArduPilot)."""
    import math

    from dronekit_plzen import mission_items as mi

    def place(east: float, north: float) -> tuple[float, float]:
        m_per_deg = 111_200.0
        lon_scale = m_per_deg * math.cos(math.radians(home[0]))
        return home[0] + north / m_per_deg, home[1] + east / lon_scale

    def pos() -> tuple[float, float]:
        return place(rng.uniform(-reach_m, reach_m), rng.uniform(-reach_m, reach_m))

    def alt() -> float:
        return rng.uniform(*alt_m)

    items: list[Any] = []
    if ap or rng.random() < 0.85:
        la, lo = (
            place(0.0, 0.0)
            if ap or rng.random() < 0.5
            else place(rng.uniform(-40, 40), rng.uniform(-40, 40))
        )
        items.append(
            mi.MissionItem(mi.CMD_NAV_TAKEOFF, frame=3, lat_deg=la, lon_deg=lo, alt_m=alt())
        )
    # NAV_DELAY: ArduCopter only, the guard refuses it for PX4 (it may descend while waiting)
    kinds = ["wp", "wp", "loiter_time", "speed"] + (["delay"] if ap else []) + ["jump"]
    kinds += ["alt0", "turns", "spline"] if ap else []
    for _ in range(rng.randint(1, 5)):
        kind = rng.choice(kinds)
        if kind == "wp":
            la, lo = pos()
            hold = rng.choice([0.0, 0.0, 2.0])
            items.append(
                mi.MissionItem(16, frame=3, lat_deg=la, lon_deg=lo, alt_m=alt(), param1=hold)
            )
        elif kind == "alt0":
            la, lo = pos()
            items.append(mi.MissionItem(16, frame=3, lat_deg=la, lon_deg=lo, alt_m=0.0))
        elif kind == "spline":
            la, lo = pos()
            items.append(
                mi.MissionItem(
                    mi.CMD_NAV_SPLINE_WAYPOINT, frame=3, lat_deg=la, lon_deg=lo, alt_m=alt()
                )
            )
        elif kind == "loiter_time":
            la, lo = pos()
            items.append(
                mi.MissionItem(
                    mi.CMD_NAV_LOITER_TIME,
                    frame=3,
                    lat_deg=la,
                    lon_deg=lo,
                    alt_m=alt(),
                    param1=rng.uniform(0.0, 8.0),
                )
            )
        elif kind == "turns":
            la, lo = pos()
            items.append(
                mi.MissionItem(
                    mi.CMD_NAV_LOITER_TURNS,
                    frame=3,
                    lat_deg=la,
                    lon_deg=lo,
                    alt_m=alt(),
                    param1=float(rng.choice([1, 2])),
                    param3=rng.uniform(10.0, 30.0),
                )
            )
        elif kind == "speed":
            items.append(
                mi.MissionItem(
                    mi.CMD_DO_CHANGE_SPEED,
                    frame=2,
                    param1=float(rng.choice([0, 1, 2, 3])),
                    param2=float(rng.choice([-1, 2, 4, 8, 12])),
                )
            )
        elif kind == "delay":
            items.append(
                mi.MissionItem(
                    mi.CMD_NAV_DELAY,
                    frame=2,
                    param1=rng.uniform(0.0, 5.0),
                    param2=-1.0,
                    param3=-1.0,
                    param4=-1.0,
                )
            )
        elif kind == "jump" and items:
            target = float(rng.randrange(len(items)))
            repeat = float(rng.choice([1, 2]))
            items.append(mi.MissionItem(mi.CMD_DO_JUMP, frame=2, param1=target, param2=repeat))
    if not any(it.is_nav and it.command != mi.CMD_NAV_DELAY for it in items):
        la, lo = pos()  # PX4 refuses a mission with nowhere to go
        items.append(mi.MissionItem(16, frame=3, lat_deg=la, lon_deg=lo, alt_m=alt()))
    end = rng.choice(ends)
    if end == "rtl":
        items.append(mi.MissionItem(mi.CMD_NAV_RETURN_TO_LAUNCH, frame=2))
    elif end == "land":
        items.append(
            mi.MissionItem(mi.CMD_NAV_LAND, frame=3, lat_deg=home[0], lon_deg=home[1], alt_m=0)
        )
    return items


def off_the_walk(
    walk: np.ndarray,
    walk_top_m: np.ndarray,
    flown: np.ndarray,
    near_m: float = 12.0,
    alt_tol_m: float = 5.0,
) -> str | None:
    """The first flown position (rows of east, north, height above home in metres) farther than
    ``near_m`` from the guard's walk (the same, ``walk_top_m`` the highest height each sample may
    be flown at) or more than ``alt_tol_m`` below the lowest / above the highest height the walk
    has within ``near_m`` of it; None when the whole flight lies where the guard walked.
    Positions below 1 m (take-off, touchdown) are judged horizontally only."""
    for e, n, u in flown:
        d = np.hypot(walk[:, 0] - e, walk[:, 1] - n)
        near = d < near_m
        where = f"({e:.0f} m E, {n:.0f} m N, {u:.1f} m up)"
        if not near.any():
            return f"flown {d.min():.0f} m off the guard's walk at {where}"
        low, high = float(walk[near, 2].min()), float(walk_top_m[near].max())
        if u > 1.0 and u < low - alt_tol_m:
            return f"flown below the walk ({low:.1f} m) at {where}"
        if u > high + alt_tol_m:
            return f"flown above the walk ({high:.1f} m) at {where}"
    return None
