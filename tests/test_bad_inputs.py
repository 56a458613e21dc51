"""Bad inputs across every command group: one clear error line, the right exit code, no output.

Each case runs the real CLI as a subprocess (``python -m dronekit_plzen ...``) on input files
made here, and checks:

* the exit code (2 bad input, 1 storage/link failure, 0 for a warning case);
* stderr is exactly one line (click's own usage errors: the ``Error:`` line of its three) that
  matches the case's pattern, with no ``Traceback``, no ``internal error`` and no raw library
  log lines (``ERROR laspy...``, ``WARNING rasterio...``, GDAL's ``CPLE_...``);
* no file is left in the case's output folder (no partial GeoTIFF/LAZ/plan), unless the case
  expects one.

Tests run as root, so permissions cannot make a path unwritable: ``/proc`` (no new files),
``/sys`` (permission denied even for root), a path under a regular file (not a directory), an
existing directory or file as the output; a full disk is a file-size limit (``RLIMIT_FSIZE``,
the kernel's ``EFBIG``, which Python turns into an error rather than a signal).
Telemetry commands (import, flights, report, record, deployments) have their own table.
"""

from __future__ import annotations

import json
import os
import re
import resource
import socket
import subprocess
import sys
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path

import laspy
import numpy as np
import pytest
import rasterio
from pyproj import CRS
from rasterio.transform import from_origin

SQUARE = [[13.37, 49.74], [13.375, 49.74], [13.375, 49.743], [13.37, 49.743], [13.37, 49.74]]
HOME = "49.7401,13.3701"
CAMERA = ("--camera", "generic-1in-20mp", "--alt-m", "80")


@dataclass(frozen=True)
class Case:
    """One bad input: argv (``{d}`` inputs folder, ``{o}`` a fresh output folder), expectations."""

    id: str
    argv: tuple[str, ...]
    code: int
    pattern: str
    usage: bool = False  # a click usage error (one line pointing at --help)
    fsize: int | None = None  # RLIMIT_FSIZE in bytes: the disk is "full" after that many
    creates: tuple[str, ...] = ()  # files the case does write (warning cases)
    max_s: float | None = None  # the command must fail within this many seconds
    #: (file in {d}, name in {o}) copied into the output folder first; each must be unchanged
    seed: tuple[tuple[str, str], ...] = ()


def _gj(coords: object, **extra: object) -> str:
    d: dict[str, object] = {
        "type": "Feature",
        "properties": {},
        "geometry": {"type": "Polygon", "coordinates": coords},
    }
    d.update(extra)
    return json.dumps(d)


def _ed269(**volume: object) -> str:
    vol = {
        "uomDimensions": "M",
        "lowerLimit": 0,
        "upperLimit": 120,
        "lowerVerticalReference": "AGL",
        "upperVerticalReference": "AGL",
        "horizontalProjection": {"type": "Polygon", "coordinates": [SQUARE]},
    }
    vol.update(volume)
    return json.dumps(
        {"features": [{"identifier": "Z1", "restriction": "PROHIBITED", "geometry": [vol]}]}
    )


def _las(
    path: Path,
    x: np.ndarray,
    y: np.ndarray,
    *,
    crs: bool = True,
) -> None:
    header = laspy.LasHeader(point_format=1, version="1.2")
    header.scales = np.array([0.01, 0.01, 0.01])
    header.offsets = np.array([0.0, 0.0, 0.0])
    if crs:
        header.add_crs(CRS.from_epsg(32633))
    rec = laspy.ScaleAwarePointRecord.zeros(len(x), header=header)
    rec.x, rec.y = x, y
    rec.z = 300.0 + np.sin(x) + np.cos(y)
    rec.return_number[:] = 1
    rec.number_of_returns[:] = 1
    rec.classification[:] = 2
    with laspy.open(str(path), mode="w", header=header) as w:
        w.write_points(rec)


def _tif(path: Path, crs: str | None, data: np.ndarray | None = None, **kw: object) -> None:
    a = np.full((20, 20), 300.0, np.float32) if data is None else data
    transform = kw.get("transform") or from_origin(13.36, 49.76, 0.001, 0.001)
    with rasterio.open(
        path,
        "w",
        driver="GTiff",
        width=a.shape[1],
        height=a.shape[0],
        count=1,
        dtype=a.dtype,
        crs=crs,
        transform=transform,
        nodata=kw.get("nodata"),
    ) as dst:
        dst.write(a, 1)


def _plan(lat: float, alt: float = 30.0) -> str:
    """A small QGroundControl .plan; ``lat`` and ``alt`` of the second waypoint (NaN makes bad
    JSON)."""
    items = [
        {
            "type": "SimpleItem",
            "command": 22,
            "frame": 3,
            "params": [0, 0, 0, None, 49.7401, 13.3701, 30],
            "autoContinue": True,
            "doJumpId": 1,
        },
        {
            "type": "SimpleItem",
            "command": 16,
            "frame": 3,
            "params": [0, 0, 0, None, lat, 13.3705, alt],
            "autoContinue": True,
            "doJumpId": 2,
        },
    ]
    doc = {
        "fileType": "Plan",
        "version": 1,
        "groundStation": "QGroundControl",
        "geoFence": {"circles": [], "polygons": [], "version": 2},
        "rallyPoints": {"points": [], "version": 2},
        "mission": {
            "version": 2,
            "firmwareType": 12,
            "vehicleType": 2,
            "cruiseSpeed": 10,
            "hoverSpeed": 5,
            "plannedHomePosition": [49.7401, 13.3701, 300],
            "items": items,
        },
    }
    return json.dumps(doc)


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Every input file of the table, made once."""
    d = tmp_path_factory.mktemp("bad_inputs")
    rng = np.random.default_rng(7)
    # areas
    (d / "sq.geojson").write_text(_gj([SQUARE]))
    (d / "garbage.geojson").write_bytes(bytes(rng.integers(128, 256, 300, dtype=np.uint8)))
    (d / "huge.geojson").write_text(_gj([[[0, 40], [15, 40], [15, 55], [0, 55], [0, 40]]]))
    nan_ring = [[13.37, 49.74], [float("nan"), 49.74], [13.375, 49.743], [13.37, 49.74]]
    (d / "nan.geojson").write_text(_gj([nan_ring]))
    (d / "empty.geojson").write_text(_gj([]))
    (d / "unkcrs.geojson").write_text(
        _gj([SQUARE], crs={"type": "name", "properties": {"name": "EPSG:999999"}})
    )
    (d / "badcrs.geojson").write_text(_gj([SQUARE], crs={"type": "name", "properties": [1]}))
    (d / "features.geojson").write_text(json.dumps({"type": "FeatureCollection", "features": 5}))
    (d / "nopoly.kml").write_text(
        "<kml><Placemark><Point><coordinates>13.37,49.74</coordinates></Point></Placemark></kml>"
    )
    (d / "bomb.kml").write_text(
        '<?xml version="1.0"?><!DOCTYPE k [<!ENTITY a "aaaaaaaaaa">'
        '<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">]><kml>&b;</kml>'
    )
    (d / "garbage.kmz").write_bytes(b"PK not a zip at all")
    # a zip bomb: 300 MiB of KML inflated from about 300 kB (written in chunks: no 300 MiB here)
    with (
        zipfile.ZipFile(d / "bomb.kmz", "w", zipfile.ZIP_DEFLATED) as z,
        z.open("doc.kml", "w") as f,
    ):
        f.write(b"<kml>")
        for _ in range(300):
            f.write(b" " * 1024**2)
        f.write(b"</kml>")
    (d / "bad.wkt").write_text("POLYGON ((13.37 49.74, 13.38 49.74")
    (d / "area_dir.geojson").mkdir()
    # zones
    (d / "abc_ed269.json").write_text(_ed269(upperLimit="abc"))
    (d / "nan_circle.json").write_text(
        _ed269(
            horizontalProjection={"type": "Circle", "center": [float("nan"), 49.7], "radius": 50}
        )
    )
    (d / "bad.yaml").write_text("vehicles: [\n")
    (d / "garbage_zones.json").write_bytes(bytes(rng.integers(128, 256, 200, dtype=np.uint8)))
    (d / "zones_features.json").write_text(json.dumps({"type": "FeatureCollection"}))
    (d / "zones_sjtsk.json").write_text(
        json.dumps(
            {
                "type": "FeatureCollection",
                "crs": {"type": "name", "properties": {"name": "EPSG:5514"}},
                "features": [json.loads(_gj([SQUARE]))],
            }
        )
    )
    # terrain
    _tif(
        d / "local.tif", 'LOCAL_CS["site grid",UNIT["metre",1]]', transform=from_origin(0, 99, 1, 1)
    )
    _tif(d / "nocrs.tif", None)
    _tif(d / "nodata.tif", "EPSG:4326", np.full((20, 20), -9999.0, np.float32), nodata=-9999.0)
    _tif(d / "ok.tif", "EPSG:4326")
    _tif(d / "elev1e30.tif", "EPSG:4326", np.full((20, 20), 1e30, np.float32))
    good = (d / "ok.tif").read_bytes()
    corrupt = bytearray(good)
    corrupt[200:400] = bytes(rng.integers(0, 256, 200, dtype=np.uint8))
    (d / "corrupt.tif").write_bytes(bytes(corrupt))
    (d / "garbage.tif").write_bytes(bytes(rng.integers(0, 256, 4000, dtype=np.uint8)))
    # a copy cut short: the header whole, half of the cells missing
    big = np.full((400, 400), 300.0, np.float32)
    _tif(d / "big.tif", "EPSG:4326", big, transform=from_origin(13.36, 49.76, 0.0001, 0.0001))
    whole = (d / "big.tif").read_bytes()
    (d / "cut.tif").write_bytes(whole[: len(whole) // 2])
    # missions
    (d / "good.plan").write_text(_plan(49.7405))
    (d / "nan.plan").write_text(_plan(float("nan")))
    (d / "alt1e308.plan").write_text(_plan(49.7405, 1e308))
    (d / "garbage.plan").write_text("this is not JSON")
    # our KML mission with a Data renamed or dropped (edited in another program): that field
    # was left at its default without a word
    from missions.formats import load_mission
    from missions.formats.kml import mission_to_kml

    kml = mission_to_kml(load_mission(d / "good.plan")).decode()
    assert '<Data name="param1">' in kml
    # a CSV mission whose meta column is not a JSON object (edited by hand)
    from missions.formats.csvfmt import dump_csv

    rows = dump_csv(load_mission(d / "good.plan")).splitlines()
    for name, meta in (("metabroken", '"{"'), ("metalist", '"[1,2]"')):
        edited = [r + meta if r.startswith("mission,1,") else r for r in rows]
        (d / f"{name}.csv").write_text("\n".join(edited) + "\n")
    (d / "renamed.kml").write_text(kml.replace('<Data name="param1">', '<Data name="parm1">', 1))
    (d / "dropped.kml").write_text(
        re.sub(r'<Data name="alt_m">\s*<value>[^<]*</value>', '<Data name="alt_m">', kml, count=1)
    )
    wpl = "QGC WPL 110\n0\t1\t0\t16\t0\t0\t0\t0\t{home}\t13.3701\t300\t1\n"
    wp = "1\t0\t{frame}\t{cmd}\t0\t0\t0\t0\t49.7405\t13.3705\t{alt}\t1\n"
    (d / "nanhome.waypoints").write_text(
        wpl.format(home="nan") + wp.format(frame=3, cmd=16, alt=30)
    )
    (d / "cmd70000.waypoints").write_text(
        wpl.format(home=49.7401) + wp.format(frame=3, cmd=70000, alt=30)
    )
    (d / "infalt.waypoints").write_text(
        wpl.format(home=49.7401) + wp.format(frame=3, cmd=16, alt="inf")
    )
    (d / "header.waypoints").write_text("QGC WPL 110\n")
    (d / "nan.waypoints").write_text(
        "QGC WPL 110\n0\t1\t0\t16\t0\t0\t0\t0\t49.7401\t13.3701\t300\t1\n"
        "1\t0\t3\t16\t0\t0\t0\t0\tnan\t13.3705\t30\t1\n"
    )
    # a take-off "here" as MAVLink's no value (nan, nan) reads as 0, 0; half of it is damage,
    # and so is an ROI without a place (both were "no UTM zone for lon=nan", naming nothing)
    for name, lat, lon in (("nantakeoff", "nan", "nan"), ("halfnan", "nan", 0)):
        (d / f"{name}.waypoints").write_text(
            "QGC WPL 110\n0\t1\t0\t16\t0\t0\t0\t0\t49.7401\t13.3701\t300\t1\n"
            f"1\t0\t3\t22\t0\t0\t0\t0\t{lat}\t{lon}\t30\t1\n"
            "2\t0\t3\t16\t0\t0\t0\t0\t49.7405\t13.3705\t30\t1\n"
            "3\t0\t3\t195\t0\t0\t0\t0\tnan\tnan\t0\t1\n"
        )
    # point clouds
    n = 1500
    x = 400_000 + rng.uniform(0, 40, n)
    y = 5_500_000 + rng.uniform(0, 40, n)
    _las(d / "ok.las", x, y)
    _las(d / "ok.laz", x, y)
    _las(d / "nocrs.las", x, y, crs=False)
    far = np.r_[x[: n // 2], x[: n // 2] + 1_000_000]
    _las(d / "far2d.las", far, np.r_[y[: n // 2], y[: n // 2] + 1_000_000])
    _las(d / "far1d.las", far, np.r_[y[: n // 2], y[: n // 2]])
    laz = (d / "ok.laz").read_bytes()
    (d / "trunc.laz").write_bytes(laz[: len(laz) * 2 // 3])
    middle = bytearray(laz)  # whole, with its chunk table, but with garbage inside the points
    middle[len(laz) // 3 : len(laz) // 3 + 200] = bytes(rng.integers(0, 256, 200, dtype=np.uint8))
    (d / "damaged.laz").write_bytes(bytes(middle))
    raw = bytearray((d / "ok.las").read_bytes())
    raw[131:139] = np.float64(np.nan).tobytes()  # X scale factor
    (d / "nanscale.las").write_bytes(bytes(raw))
    raw = bytearray((d / "ok.las").read_bytes())
    raw[163:171] = np.float64(np.inf).tobytes()  # Y offset
    (d / "infoffset.las").write_bytes(bytes(raw))
    (d / "garbage.las").write_bytes(b"LASF" + bytes(rng.integers(0, 256, 400, dtype=np.uint8)))
    (d / "garbage_pipeline.json").write_text("{ not json")
    (d / "png_pipeline.json").write_text(json.dumps([str(d / "ok.las"), str(d / "out.png")]))
    # things in the way
    (d / "a_file").write_text("I am a regular file\n")
    (d / "a_dir.tif").mkdir()
    (d / "a_dir.laz").mkdir()
    # found from outside (sweep 2): an integer of 5,000 digits, a fractional or huge command,
    # an infinite hold time, more items than MAVLink holds
    big = "1" + "0" * 5000
    (d / "bigint.geojson").write_text(_gj([SQUARE]).replace("13.375", big, 1))
    (d / "bigint.plan").write_text(_plan(49.7405).replace('"command": 16', f'"command": {big}'))
    (d / "cmdfrac.plan").write_text(_plan(49.7405).replace('"command": 16', '"command": 16.7'))
    (d / "infparam.waypoints").write_text(
        wpl.format(home=49.7401) + "1\t0\t3\t16\t1e400\t0\t0\t0\t49.7405\t13.3705\t30\t1\n"
    )
    doc = json.loads(_plan(49.7405))
    doc["mission"]["items"] = [
        {**doc["mission"]["items"][1], "doJumpId": k + 1} for k in range(70_000)
    ]
    (d / "items70000.plan").write_text(json.dumps(doc))
    world = [[-179.0, -80.0], [179.0, -80.0], [179.0, 80.0], [-179.0, 80.0], [-179.0, -80.0]]
    (d / "world_ed269.json").write_text(
        _ed269(horizontalProjection={"type": "Polygon", "coordinates": [world]})
    )
    # found from outside (sweep 3)
    t = np.linspace(0.0, 2.0 * np.pi, 1_000_000, endpoint=False)  # a circle of a million vertices
    ring = np.column_stack([13.37 + 0.0018 * np.cos(t), 49.75 + 0.0012 * np.sin(t)])
    ring = np.vstack([ring, ring[:1]])
    (d / "dense.geojson").write_text(
        json.dumps({"type": "Polygon", "coordinates": [ring.tolist()]})
    )
    side = 0.01 / 111_320.0  # 1 cm
    cm2 = [[13.37, 49.74], [13.37 + 1.55 * side, 49.74], [13.37 + 1.55 * side, 49.74 + side]]
    (d / "cm2.geojson").write_text(_gj([[*cm2, [13.37, 49.74 + side], [13.37, 49.74]]]))
    (d / "nan.wkt").write_text("POLYGON ((13.37 49.74, nan 49.74, 13.375 49.743, 13.37 49.74))")
    nan_line = [[13.37, 49.74], [float("nan"), 49.745], [13.38, 49.75]]
    line = {"type": "Feature", "properties": {}}
    (d / "nan_line.geojson").write_text(
        json.dumps({**line, "geometry": {"type": "LineString", "coordinates": nan_line}})
    )
    forest = json.loads(_gj([SQUARE]))
    forest["properties"] = {"landuse": "forest"}
    track = {
        "type": "Feature",
        "properties": {"highway": "track"},
        "geometry": {"type": "LineString", "coordinates": nan_line},
    }
    (d / "nan_features.geojson").write_text(
        json.dumps({"type": "FeatureCollection", "features": [forest, track]})
    )
    _tif(d / "zeropix.tif", "EPSG:4326", transform=from_origin(13.36, 49.76, 0, 0))
    for name, home in (("text", '["a", "b", 300]'), ("short", "[49.74]"), ("null", "null")):
        (d / f"home_{name}.plan").write_text(
            _plan(49.7405).replace("[49.7401, 13.3701, 300]", home)
        )
    (d / "home_nan.plan").write_text(
        _plan(49.7405).replace("[49.7401, 13.3701, 300]", "[NaN, 13.3701, 300]")
    )
    # found by the file-content mutation sweep (2026-12-05): a parameter beyond a 32-bit float,
    # an x beyond int32 in 1e-7 degrees, an autocontinue of inf, a hold time of 1e30 s, a
    # forest ring that does not close
    (d / "param1e308.waypoints").write_text(
        wpl.format(home=49.7401) + "1\t0\t3\t16\t1e308\t0\t0\t0\t49.7405\t13.3705\t30\t1\n"
    )
    (d / "x1e308.waypoints").write_text(
        wpl.format(home=49.7401)
        + "1\t0\t3\t16\t0\t0\t0\t0\t49.7405\t13.3705\t30\t1\n"
        + "2\t0\t2\t206\t20\t0\t1\t0\t-1e308\t0\t0\t1\n"
    )
    (d / "param1e23.waypoints").write_text(
        wpl.format(home=49.7401) + "1\t0\t3\t16\t0\t0\t0\t1e23\t49.7405\t13.3705\t30\t1\n"
    )
    (d / "acinf.waypoints").write_text(
        wpl.format(home=49.7401) + "1\t0\t3\t16\t0\t0\t0\t0\t49.7405\t13.3705\t30\tinf\n"
    )
    (d / "hold1e30.waypoints").write_text(
        wpl.format(home=49.7401) + "1\t0\t3\t16\t1e30\t0\t0\t0\t49.7405\t13.3705\t30\t1\n"
    )
    # values ArduCopter SITL stored as others (a hold of -1 s as 65535 s, -2 loiter turns of
    # 25 m as 254 turns of 255 m) and a NAV_DELAY until 25:00 UTC
    (d / "hold_negative.waypoints").write_text(
        wpl.format(home=49.7401) + "1\t0\t3\t16\t-1\t0\t0\t0\t49.7405\t13.3705\t30\t1\n"
    )
    (d / "turns_negative.waypoints").write_text(
        wpl.format(home=49.7401) + "1\t0\t3\t18\t-2\t0\t25\t0\t49.7405\t13.3705\t30\t1\n"
    )
    (d / "delay_25h.waypoints").write_text(
        wpl.format(home=49.7401)
        + "1\t0\t3\t16\t0\t0\t0\t0\t49.7405\t13.3705\t30\t1\n"
        + "2\t0\t2\t93\t0\t25\t0\t0\t0\t0\t0\t1\n"
    )
    # NaN where an integer is read: an internal error each (2026-12-05)
    body = (
        "1\t0\t3\t22\t0\t0\t0\t0\t0\t0\t30\t1\n2\t0\t3\t16\t0\t0\t0\t0\t49.7405\t13.3705\t30\t1\n"
    )
    (d / "jump_nan.waypoints").write_text(
        wpl.format(home=49.7401) + body + "3\t0\t2\t177\t1\tnan\t0\t0\t0\t0\t0\t1\n"
    )
    (d / "capture_nan.waypoints").write_text(
        wpl.format(home=49.7401)
        + body
        + "3\t0\t2\t2000\t0\t2\tnan\t0\t0\t0\t0\t1\n"
        + "4\t0\t3\t16\t0\t0\t0\t0\t49.7410\t13.3705\t30\t1\n"
    )
    (d / "jump_home.waypoints").write_text(  # seq 0 is home: ArduPilot ends the mission there
        wpl.format(home=49.7401) + body + "3\t0\t2\t177\t0\t2\t0\t0\t0\t0\t0\t1\n"
    )
    (d / "fence_nan.waypoints").write_text(
        wpl.format(home=49.7401) + body + "3\t0\t3\t5001\tnan\t0\t0\t0\t49.741\t13.3705\t0\t1\n"
    )
    open_ring = json.loads(_gj([SQUARE]))
    open_ring["properties"] = {"landuse": "forest"}
    open_ring["geometry"]["coordinates"][0][-1] = [13.3712, 49.7433]
    (d / "open_ring_features.geojson").write_text(
        json.dumps({"type": "FeatureCollection", "features": [open_ring]})
    )
    text_xy = json.loads(_gj([SQUARE]))
    text_xy["properties"] = {"natural": "water"}
    text_xy["geometry"]["coordinates"][0][2] = [13.3712, "49.7433"]
    (d / "text_coordinate_features.geojson").write_text(
        json.dumps({"type": "FeatureCollection", "features": [forest, text_xy]})
    )
    utm_lake = json.loads(_gj([[[382000, 5510000], [382500, 5510000], [382500, 5510500],
                               [382000, 5510000]]]))  # fmt: skip
    utm_lake["properties"] = {"natural": "water"}
    (d / "utm_without_crs_features.geojson").write_text(
        json.dumps({"type": "FeatureCollection", "features": [forest, utm_lake]})
    )
    return d


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


SURVEY = ("plan", "survey", *CAMERA, "--home", HOME)


def _poa_map_with(features: str) -> tuple[str, ...]:
    """``plan poa-map`` around a hiker's LKP with land-cover features from the inputs folder."""
    return (
        *("plan", "poa-map", "--lkp", "49.741,13.372", "--subject", "hiker"),
        *("--features", f"{{d}}/{features}", "-o", "{o}/poa.tif"),
    )


SQUARE_CMD = ("plan", "expanding-square", "--datum", HOME)
SECTOR_CMD = ("plan", "sector", "--datum", HOME, "--camera", "generic-1in-20mp")
GSD_SURVEY = ("plan", "survey", "--camera", "generic-1in-20mp")
OK_SURVEY = (*SURVEY, "--area", "{d}/sq.geojson", "--out", "{o}/plans")

CASES = [
    # ---- plan: areas -------------------------------------------------------------------
    Case(
        "area-garbage",
        (*SURVEY, "--area", "{d}/garbage.geojson", "--out", "{o}"),
        2,
        r"garbage\.geojson: not a UTF-8 text file",
    ),
    Case(
        "area-huge",
        (*SURVEY, "--area", "{d}/huge.geojson", "--out", "{o}"),
        2,
        r"huge\.geojson: the area is too large for a drone mission \([\d,]+ km²",
    ),
    Case(
        "area-nan",
        (*SURVEY, "--area", "{d}/nan.geojson", "--out", "{o}"),
        2,
        r"nan\.geojson: the area has a non-finite coordinate",
    ),
    # found from outside: these ran for minutes writing gigabytes, or crashed (angle NaN)
    Case(
        "survey-spacing-cm",
        (*SURVEY, "--area", "{d}/sq.geojson", "--spacing-m", "0.01", "--out", "{o}"),
        2,
        r"tracks 0\.01 m apart over 0\.12 km² would be about 12,020 km long \(at most 2,000 km",
        max_s=30.0,
    ),
    # these wrote a mission with exit 0 (a square of 1 µm legs; a plan at 0.8 mm above ground)
    Case(
        "square-spacing-micrometre",
        (*SQUARE_CMD, "--legs", "20", "--spacing-m", "1e-6", *CAMERA, "--out", "{o}"),
        2,
        r"tracks 1e-06 m apart: no sensor needs them closer than 0\.01 m",
    ),
    Case(
        "survey-gsd-micrometre",
        (*GSD_SURVEY, "--gsd-cm", "0.0001", "--area", "{d}/sq.geojson", "--out", "{o}"),
        2,
        r"an altitude of [\d.e+-]+ m above ground is not a flight altitude \(1–10,000 m\)",
    ),
    Case(  # found from outside: the creeping line takes no photos; the overlap was dropped
        "creeping-line-front-overlap-without-photos",
        (
            "plan",
            "creeping-line",
            *CAMERA,
            "--home",
            HOME,
            "--area",
            "{d}/sq.geojson",
            "--front-overlap",
            "90",
            "--out",
            "{o}",
        ),
        2,
        r"^error: --front-overlap sets how often photos are taken: the creeping-line plan takes "
        r"none \(give --trigger distance\)$",
    ),
    Case(  # found from outside: the sector had been flown without the POD asked for
        "sector-pod",
        (
            *SECTOR_CMD,
            "--radius-m",
            "300",
            "--alt-m",
            "60",
            "--pod",
            "0.9",
            "--target",
            "person",
            "--out",
            "{o}",
        ),
        2,
        r"--pod: not used by the sector pattern \(its legs cross the datum at 120° out to "
        r"--radius-m\); leave it out",
    ),
    Case(  # found from outside: --spacing-m won and --side-overlap was dropped without a word
        "survey-spacing-and-side-overlap",
        (
            *SURVEY,
            "--area",
            "{d}/sq.geojson",
            "--spacing-m",
            "30",
            "--side-overlap",
            "60",
            "--out",
            "{o}",
        ),
        2,
        r"--spacing-m, --side-overlap each set the track spacing: give one of them",
    ),
    Case(
        "sector-altitude-1e9",
        (*SECTOR_CMD, "--radius-m", "300", "--alt-m", "1e9", "--out", "{o}"),
        2,
        r"an altitude of 1e\+09 m above ground is not a flight altitude",
    ),
    Case(  # found from outside: a QGC WPL text was written as out.kml (exit 0)
        "convert-to-against-the-name",
        ("plan", "convert", "{d}/good.plan", "{o}/out.kml", "--to", "waypoints"),
        2,
        r"^error: .*out\.kml: the name says kml, not waypoints: name it \.waypoints or leave "
        r"out --to$",
    ),
    Case(  # found from outside: the camera was dropped without a word, the swath used
        "coverage-camera-and-swath",
        (
            "plan",
            "coverage",
            "{d}/good.plan",
            "--area",
            "{d}/sq.geojson",
            "--camera",
            "generic-1in-20mp",
            "--swath-m",
            "5",
        ),
        2,
        r"^error: give --camera or --swath-m, not both$",
    ),
    Case(  # was ignored: "no photos found: give --camera ... or --swath-m"
        "coverage-swath-negative",
        ("plan", "coverage", "{d}/good.plan", "--area", "{d}/sq.geojson", "--swath-m", "-5"),
        2,
        r"--swath-m must be > 0, got -5",
    ),
    Case(
        "survey-side-overlap-99.999",
        (*SURVEY, "--area", "{d}/sq.geojson", "--side-overlap", "99.999", "--out", "{o}"),
        2,
        r"tracks [\d.e-]+ m apart .* widen the spacing",
        max_s=30.0,
    ),
    Case(
        "survey-front-overlap-99.99",
        (*SURVEY, "--area", "{d}/sq.geojson", "--front-overlap", "99.99", "--out", "{o}"),
        2,
        r"a photo every [\d.]+ m along about [\d,]+ km is [\d,]+ photos \(at most 200,000\)",
        max_s=30.0,
    ),
    Case(  # found from outside: these ran past 60 s (sorties and the guard sampling the legs)
        "expanding-square-spacing-50-km",
        (
            "plan",
            "expanding-square",
            "--datum",
            "49.74,13.37",
            "--alt-m",
            "60",
            "--spacing-m",
            "5e4",
            "--legs",
            "12",
            "--out",
            "{o}",
        ),
        2,
        r"the expanding-square path reaches [\d,]+ km from its start .*\(at most 100 km away\)",
        max_s=30.0,
    ),
    Case(
        "sector-radius-500-km",
        (
            "plan",
            "sector",
            "--datum",
            "49.74,13.37",
            "--alt-m",
            "60",
            "--radius-m",
            "5e5",
            "--out",
            "{o}",
        ),
        2,
        r"the sector path reaches 500 km from its start",
        max_s=30.0,
    ),
    # found from outside: the output replaced the input (the area became the plan's GeoJSON;
    # the .plan became a waypoints file)
    Case(
        "survey-writes-over-its-area",
        (*SURVEY, "--area", "{o}/survey_sortie1.geojson", "--out", "{o}", "--format", "geojson"),
        2,
        r"cannot write .*survey_sortie1\.geojson: it is an input of this command",
        creates=("survey_sortie1.geojson",),
        seed=(("sq.geojson", "survey_sortie1.geojson"),),
    ),
    Case(
        "convert-onto-its-source",
        ("plan", "convert", "{o}/m.plan", "{o}/m.plan", "--to", "waypoints"),
        2,
        r"cannot write .*m\.plan: it is an input of this command",
        creates=("m.plan",),
        seed=(("good.plan", "m.plan"),),
    ),
    Case(
        "survey-angle-nan",
        (*SURVEY, "--area", "{d}/sq.geojson", "--angle", "nan", "--out", "{o}"),
        2,
        r"angle must be 'auto' or degrees, got 'nan'",
    ),
    Case(
        "area-empty",
        (*SURVEY, "--area", "{d}/empty.geojson", "--out", "{o}"),
        2,
        r"empty\.geojson: polygon without coordinates",
    ),
    Case(
        "area-unknown-crs",
        (*SURVEY, "--area", "{d}/unkcrs.geojson", "--out", "{o}"),
        2,
        r"unkcrs\.geojson: unknown coordinate reference system 'EPSG:999999'",
    ),
    Case(
        "area-bad-crs-member",
        (*SURVEY, "--area", "{d}/badcrs.geojson", "--out", "{o}"),
        2,
        r"badcrs\.geojson: the GeoJSON 'crs' member does not name a CRS",
    ),
    Case(
        "area-features-not-list",
        (*SURVEY, "--area", "{d}/features.geojson", "--out", "{o}"),
        2,
        r"features\.geojson: a FeatureCollection needs a 'features' list",
    ),
    Case(
        "area-kml-no-polygon",
        (*SURVEY, "--area", "{d}/nopoly.kml", "--out", "{o}"),
        2,
        r"nopoly\.kml: no Polygon in the KML",
    ),
    Case(
        "area-kml-entities",
        (*SURVEY, "--area", "{d}/bomb.kml", "--out", "{o}"),
        2,
        r"bomb\.kml: KML with DTD entity declarations",
    ),
    Case(
        "area-kmz-garbage",
        (*SURVEY, "--area", "{d}/garbage.kmz", "--out", "{o}"),
        2,
        r"garbage\.kmz: not a valid KMZ",
    ),
    Case(
        "area-kmz-bomb",
        (*SURVEY, "--area", "{d}/bomb.kmz", "--out", "{o}"),
        2,
        r"bomb\.kmz!doc\.kml: the document is 300 MiB, over the 256 MiB",
        max_s=20,
    ),
    Case(
        "mission-kmz-bomb",
        ("plan", "validate", "{d}/bomb.kmz"),
        2,
        r"bomb\.kmz!doc\.kml: the document is 300 MiB, over the 256 MiB",
        max_s=20,
    ),
    Case(
        "area-wkt-broken",
        (*SURVEY, "--area", "{d}/bad.wkt", "--out", "{o}"),
        2,
        r"bad\.wkt: unbalanced parentheses",
    ),
    Case(
        "area-directory",
        (*SURVEY, "--area", "{d}/area_dir.geojson", "--out", "{o}"),
        2,
        r"area_dir\.geojson: cannot read the area file",
    ),
    Case(
        "creeping-line-garbage",
        ("plan", "creeping-line", *CAMERA, "--area", "{d}/garbage.geojson", "--out", "{o}"),
        2,
        r"garbage\.geojson: not a UTF-8 text file",
    ),
    Case(
        "perimeter-no-polygon",
        ("plan", "perimeter", *CAMERA, "--area", "{d}/nopoly.kml", "--out", "{o}"),
        2,
        r"nopoly\.kml: no Polygon",
    ),
    Case(
        "coverage-garbage-area",
        ("plan", "coverage", "{d}/good.plan", "--area", "{d}/garbage.geojson"),
        2,
        r"garbage\.geojson: not a UTF-8 text file",
    ),
    Case(
        "corridor-garbage-line",
        ("plan", "corridor", "--polyline", "garbage", "--width-m", "50", *CAMERA, "--out", "{o}"),
        2,
        r"--polyline: cannot split 'garbage'",
    ),
    # ---- plan: zones ---------------------------------------------------------------------
    # without --home the launch-point warning came first, then the error: two lines
    Case(
        "survey-no-home-bad-when",
        (
            "plan",
            "survey",
            *CAMERA,
            "--area",
            "{d}/sq.geojson",
            "--when",
            "yesterday",
            "--out",
            "{o}",
        ),
        2,
        r"--when must be an ISO date-time, got 'yesterday'",
    ),
    Case(
        "survey-no-home-garbage-zones",
        (
            "plan",
            "survey",
            *CAMERA,
            "--area",
            "{d}/sq.geojson",
            "--zones",
            "{d}/garbage_zones.json",
            "--out",
            "{o}",
        ),
        2,
        r"garbage_zones\.json: not a UTF-8 JSON file",
    ),
    Case(
        "zones-ed269-abc",
        (*OK_SURVEY, "--zones", "{d}/abc_ed269.json"),
        2,
        r"abc_ed269\.json: feature 1 \(Z1\): upperLimit must be a finite number, got 'abc'",
    ),
    Case(
        "zones-circle-nan",
        (*OK_SURVEY, "--zones", "{d}/nan_circle.json"),
        2,
        r"nan_circle\.json: feature 1 \(Z1\): longitude must be a finite number",
    ),
    Case(
        "zones-garbage",
        (*OK_SURVEY, "--zones", "{d}/garbage_zones.json"),
        2,
        r"garbage_zones\.json: not a UTF-8 JSON file",
    ),
    Case(
        "zones-no-features",
        (*OK_SURVEY, "--zones", "{d}/zones_features.json"),
        2,
        r"zones_features\.json: a FeatureCollection needs a 'features' list",
    ),
    Case(
        "zones-not-wgs84",
        (*OK_SURVEY, "--zones", "{d}/zones_sjtsk.json"),
        2,
        r"zones_sjtsk\.json: zones must be in WGS84 lon/lat.*EPSG:5514",
    ),
    Case(
        "validate-zones-abc",
        ("plan", "validate", "{d}/good.plan", "--zones", "{d}/abc_ed269.json"),
        2,
        r"abc_ed269\.json: feature 1",
    ),
    # ---- plan: terrain -------------------------------------------------------------------
    Case(
        "dem-local-crs",
        (*OK_SURVEY, "--dem", "{d}/local.tif"),
        2,
        r"local\.tif: the terrain raster's CRS 'site grid' cannot be related to WGS84",
    ),
    Case(
        "dem-corrupt",
        (*OK_SURVEY, "--dem", "{d}/corrupt.tif"),
        2,
        r"corrupt\.tif: damaged GeoTIFF: ",
    ),
    Case(
        "dem-garbage",
        (*OK_SURVEY, "--dem", "{d}/garbage.tif"),
        2,
        r"garbage\.tif: cannot read the terrain raster",
    ),
    Case(
        "dem-cut-short",
        (*OK_SURVEY, "--dem", "{d}/cut.tif"),
        2,
        r"cut\.tif: cannot read the terrain raster: the file ends before its cells do \(an "
        r"incomplete copy\? copy the whole file again\)$",
    ),
    Case(
        "dem-no-crs",
        (*OK_SURVEY, "--dem", "{d}/nocrs.tif"),
        2,
        r"nocrs\.tif: terrain raster has no CRS",
    ),
    Case(
        "dem-all-nodata",
        (*OK_SURVEY, "--dem", "{d}/nodata.tif"),
        2,
        r"nodata\.tif: the terrain raster has no elevation data",
    ),
    Case(
        "dsm-directory",
        (*OK_SURVEY, "--dsm", "{d}/a_dir.tif"),
        2,
        r"a_dir\.tif: the terrain file is a directory",
    ),
    Case(
        "validate-dem-corrupt",
        ("plan", "validate", "{d}/good.plan", "--dem", "{d}/corrupt.tif"),
        2,
        r"corrupt\.tif: damaged GeoTIFF",
    ),
    # ---- plan: missions and outputs ------------------------------------------------------
    Case(
        "validate-home-nan",
        ("plan", "validate", "{d}/nanhome.waypoints"),
        2,
        r"nanhome\.waypoints: the home position \(nan, 13\.3701\) is not a latitude/longitude",
    ),
    Case(  # found from outside: an internal JSONDecodeError / TypeError, no line named
        "validate-csv-meta-not-json",
        ("plan", "validate", "{d}/metabroken.csv"),
        2,
        r"metabroken\.csv:4: the item's meta is not JSON",
    ),
    Case(
        "convert-csv-meta-not-an-object",
        ("plan", "convert", "{d}/metalist.csv", "{o}/m.plan"),
        2,
        r"metalist\.csv:4: the item's meta is not a JSON object \(it is list\)",
    ),
    Case(
        "validate-kml-renamed-data",
        ("plan", "validate", "{d}/renamed.kml"),
        2,
        r"renamed\.kml: Placemark \d+: mission item Data 'parm1' is not a field of a mission item",
    ),
    Case(
        "validate-kml-dropped-value",
        ("plan", "validate", "{d}/dropped.kml"),
        2,
        r"dropped\.kml: Placemark \d+: mission item lacks Data 'alt_m'",
    ),
    Case(
        "validate-command-out-of-range",
        ("plan", "validate", "{d}/cmd70000.waypoints"),
        2,
        r"cmd70000\.waypoints: item 1: command 70000 in frame 3 is not a MAVLink command",
    ),
    Case(
        "convert-altitude-inf",
        ("plan", "convert", "{d}/infalt.waypoints", "{o}/m.plan"),
        2,
        r"infalt\.waypoints: item 1: altitude inf m is not a flight altitude",
    ),
    Case(
        "validate-header-only",
        ("plan", "validate", "{d}/header.waypoints"),
        2,
        r"header\.waypoints: mission has no home and no positioned items",
    ),
    Case(
        "validate-nan-plan",
        ("plan", "validate", "{d}/nan.plan"),
        2,
        r"nan\.plan: NaN is not valid JSON",
    ),
    Case(  # found from outside: an internal error (a leg sampled every 5 m up to 1e308 m)
        "validate-altitude-1e308",
        ("plan", "validate", "{d}/alt1e308.plan"),
        2,
        r"item 2: altitude 1e\+308 m is not a flight altitude \(a damaged file\?\)",
    ),
    Case(
        "validate-nan-waypoints",
        ("plan", "validate", "{d}/nan.waypoints"),
        2,
        r"nan\.waypoints: item \d+: the position \(nan, 13\.3705\) is not a latitude/longitude",
    ),
    Case(
        "validate-takeoff-half-nan",
        ("plan", "validate", "{d}/halfnan.waypoints"),
        2,
        r"halfnan\.waypoints: item 1: the position \(nan, 0(\.0)?\) is not a latitude/longitude",
    ),
    Case(
        "validate-roi-nan",
        ("plan", "validate", "{d}/nantakeoff.waypoints"),
        2,
        r"nantakeoff\.waypoints: item 3: the position \(nan, nan\) is not a latitude/longitude",
    ),
    Case(
        "validate-hold-1e30",
        ("plan", "validate", "{d}/hold1e30.waypoints"),
        2,
        r"hold1e30\.waypoints: item 1 \(NAV_WAYPOINT\): parameter 1 is 1e\+30 s, outside 0 to "
        r"65535 s: ArduPilot stores it in 16 bits",
    ),
    Case(
        "validate-hold-negative",
        ("plan", "validate", "{d}/hold_negative.waypoints"),
        2,
        r"hold_negative\.waypoints: item 1 \(NAV_WAYPOINT\): parameter 1 is -1 s, outside 0 to",
    ),
    Case(
        "convert-turns-negative",
        ("plan", "convert", "{d}/turns_negative.waypoints", "{o}/m.plan"),
        2,
        r"turns_negative\.waypoints: item 1 \(NAV_LOITER_TURNS\): parameter 1 is -2, outside 0 "
        r"to 255: ArduPilot stores it in 8 bits",
    ),
    Case(
        "validate-delay-25h",
        ("plan", "validate", "{d}/delay_25h.waypoints"),
        2,
        r"delay_25h\.waypoints: item 2 \(NAV_DELAY\): 25:0:0 is not a time of day",
    ),
    Case(
        "validate-jump-repeat-nan",
        ("plan", "validate", "{d}/jump_nan.waypoints"),
        2,
        r"jump_nan\.waypoints: item 3 \(DO_JUMP\): parameter 2 is not a number",
    ),
    Case(
        "validate-jump-to-home",
        ("plan", "validate", "{d}/jump_home.waypoints"),
        2,
        r"jump_home\.waypoints: item 3 \(DO_JUMP\): jumps to an item the mission does not have",
    ),
    Case(
        "coverage-capture-count-nan",
        ("plan", "coverage", "{d}/capture_nan.waypoints", "--area", "{d}/sq.geojson"),
        2,
        r"no photos found",
    ),
    Case(
        "validate-fence-count-nan",
        ("plan", "validate", "{d}/fence_nan.waypoints"),
        2,
        r"fence_nan\.waypoints #0: fence polygon with nan vertices",
    ),
    Case(
        "validate-garbage-plan",
        ("plan", "validate", "{d}/garbage.plan"),
        2,
        r"garbage\.plan: invalid JSON",
    ),
    Case(
        "validate-directory",
        ("plan", "validate", "{d}/a_dir.tif"),
        2,
        r"a_dir\.tif: a directory, not a mission file",
    ),
    Case(
        "survey-out-proc",
        (*SURVEY, "--area", "{d}/sq.geojson", "--out", "/proc/dkp_out"),
        2,
        r"^error: cannot write /proc/dkp_out: ",
    ),
    Case(
        "survey-out-sys",
        (*SURVEY, "--area", "{d}/sq.geojson", "--out", "/sys/dkp_out"),
        2,
        r"^error: cannot write /sys/dkp_out: permission denied",
    ),
    Case(
        "survey-out-is-file",
        (*SURVEY, "--area", "{d}/sq.geojson", "--out", "{d}/a_file"),
        2,
        r"cannot write .*a_file: it exists and is not a directory",
    ),
    Case(
        "survey-out-named-like-a-plan",
        (*SURVEY, "--area", "{d}/sq.geojson", "--out", "{d}/area.plan"),
        2,
        r"cannot write .*area\.plan: a folder is asked for here, and the name ends in \.plan",
    ),
    Case(
        "survey-out-under-file",
        (*SURVEY, "--area", "{d}/sq.geojson", "--out", "{d}/a_file/plans"),
        2,
        r"cannot write .*a_file/plans: a part of the path is not a directory",
    ),
    Case(
        "survey-disk-full",
        OK_SURVEY,
        1,
        r"cannot write .*plans/survey_sortie1\.plan: the file is too large",
        fsize=600,
    ),
    Case(
        "expanding-square-out-sys",
        (
            "plan",
            "expanding-square",
            *CAMERA,
            "--datum",
            HOME,
            "--home",
            HOME,
            "--legs",
            "4",
            "--out",
            "/sys/dkp_out",
        ),
        2,
        r"cannot write /sys/dkp_out: permission denied",
    ),
    Case(
        "convert-out-proc",
        ("plan", "convert", "{d}/good.plan", "/proc/dkp.waypoints"),
        2,
        r"cannot write /proc/dkp\.waypoints",
    ),
    Case(
        "convert-out-under-file",
        ("plan", "convert", "{d}/good.plan", "{d}/a_file/x.waypoints"),
        2,
        r"cannot write .*a_file: it exists and is not a directory",
    ),
    Case(
        "convert-unknown-format",
        ("plan", "convert", "{d}/good.plan", "{o}/x.png"),
        2,
        r"x\.png: cannot tell the mission format",
    ),
    # ---- found from outside (sweep 2) ----------------------------------------------------
    # NaN passed every size check: missions written with exit 0 (no VLOS limit, a NaN
    # turnaround) or internal errors (NaN radius, width, altitude, bearing)
    Case(
        "survey-turnaround-nan",
        (*OK_SURVEY, "--turnaround-m", "nan"),
        2,
        r"^error: --turnaround-m must be a finite number, got nan$",
    ),
    Case(
        "survey-max-distance-nan",
        (*OK_SURVEY, "--max-distance-m", "nan"),
        2,
        r"^error: --max-distance-m must be a finite number, got nan$",
    ),
    Case(
        "expanding-square-radius-nan",
        (*SQUARE_CMD, *CAMERA, "--radius-m", "nan", "--out", "{o}"),
        2,
        r"--radius-m must be a finite number, got nan",
    ),
    Case(
        "expanding-square-bearing-1e308",
        (*SQUARE_CMD, *CAMERA, "--legs", "4", "--first-bearing", "1e308", "--out", "{o}"),
        2,
        r"--first-bearing must be an angle from -360 to 360°, got 1e\+308",
    ),
    Case(
        "sector-radius-inf",
        (*SECTOR_CMD, "--alt-m", "60", "--radius-m", "inf", "--out", "{o}"),
        2,
        r"--radius-m must be a finite number, got inf",
    ),
    Case(
        "corridor-width-nan",
        (
            "plan",
            "corridor",
            "--polyline",
            "49.7401,13.3701;49.745,13.375",
            "--width-m",
            "nan",
            *CAMERA,
            "--out",
            "{o}",
        ),
        2,
        r"--width-m must be a finite number, got nan",
    ),
    Case(  # an internal error (float('a'))
        "survey-alt-layers-letters",
        (
            *OK_SURVEY,
            "--drones",
            "2",
            "--launch",
            HOME,
            "--launch",
            "49.7402,13.3702",
            "--alt-layers",
            "a,b",
        ),
        2,
        r"--alt-layers: 'a' is not an altitude in metres",
    ),
    Case(  # wrote the plan's files beside the output folder, not in it
        "survey-name-with-folder",
        (*OK_SURVEY, "--name", "../elsewhere"),
        2,
        r"--name must be a file name without a folder, got '\.\./elsewhere'",
    ),
    # ---- found by the CLI mutation sweep (2026-12-04) -------------------------------------
    Case(  # an internal error: the file system refused the 5,000-character file name
        "survey-name-too-long",
        (*OK_SURVEY, "--name", "x" * 5000),
        2,
        r"^error: --name is too long for a file name \(5000 bytes, at most 120\)$",
    ),
    Case(  # was ignored: the one drone flew --alt-m, not the layer asked for
        "survey-alt-layers-one-drone",
        (*OK_SURVEY, "--alt-layers", "60"),
        2,
        r"^error: --alt-layers gives one altitude per drone: use it with --drones N",
    ),
    Case(  # found from outside: --alt-m was dropped without a word, each drone flew its layer
        "survey-alt-layers-and-alt-m",
        (
            *OK_SURVEY,
            "--drones",
            "2",
            "--launch",
            HOME,
            "--launch",
            "49.7402,13.3702",
            "--alt-layers",
            "60,90",
        ),
        2,
        r"^error: --alt-layers sets each drone's altitude: leave out --alt-m$",
    ),
    Case(  # numpy's overflow warning on stderr before the error line
        "survey-turnaround-1e308",
        (*OK_SURVEY, "--turnaround-m", "1e308"),
        2,
        r"^error: --turnaround-m 1e\+308 m is beyond any flight \(at most 1e\+06 m\)$",
    ),
    Case(
        "sector-radius-huge",
        (*SECTOR_CMD, "--alt-m", "60", "--radius-m", "2e6", "--out", "{o}"),
        2,
        r"--radius-m 2e\+06 m is beyond any flight",
    ),
    Case(
        "validate-max-agl-nan",
        ("plan", "validate", "{d}/good.plan", "--max-agl-m", "nan"),
        2,
        r"--max-agl-m must be a finite number, got nan",
    ),
    Case(  # validated as "max 0 m above ground", exit 0
        "validate-home-amsl-1e308",
        ("plan", "validate", "{d}/good.plan", "--home-amsl-m", "1e308"),
        2,
        r"--home-amsl-m: altitude 1e\+308 m AMSL is not on the Earth's surface",
    ),
    Case(  # every item refused as "not a flight altitude", the raster not named
        "dem-elevation-1e30",
        (*OK_SURVEY, "--dem", "{d}/elev1e30.tif"),
        2,
        r"elev1e30\.tif: the terrain raster holds an elevation of 1e\+30 m, not on the Earth",
    ),
    Case(  # a DSM "clearance" of -1e30 m, exit 3
        "validate-dsm-elevation-1e30",
        ("plan", "validate", "{d}/good.plan", "--dsm", "{d}/elev1e30.tif"),
        2,
        r"elev1e30\.tif: the terrain raster holds an elevation of 1e\+30 m, not on the Earth",
    ),
    # Python's integer digit limit: internal errors
    Case(
        "area-integer-5000-digits",
        (*SURVEY, "--area", "{d}/bigint.geojson", "--out", "{o}"),
        2,
        r"bigint\.geojson: the area has a non-finite coordinate",
    ),
    Case(
        "validate-command-5000-digits",
        ("plan", "validate", "{d}/bigint.plan"),
        2,
        r"bigint\.plan: mission item 2: SimpleItem needs integer 'command' and 'frame' \(inf is",
    ),
    Case(  # read as command 16, exit 0
        "validate-command-fraction",
        ("plan", "validate", "{d}/cmdfrac.plan"),
        2,
        r"cmdfrac\.plan: mission item 2: .*\(16\.7 is not a whole number\)",
    ),
    Case(  # a hold time of inf s: an internal error in the validation's clock
        "validate-param-inf",
        ("plan", "validate", "{d}/infparam.waypoints"),
        2,
        r"infparam\.waypoints: item 1: parameter 1 is inf, not a value",
    ),
    Case(  # walked for 12 s and reported "DO_JUMP repeats" (exit 3)
        "validate-too-many-items",
        ("plan", "validate", "{d}/items70000.plan"),
        2,
        r"items70000\.plan: the mission has 70,000 items, more than a MAVLink mission holds",
    ),
    # ---- found from outside (sweep 3) ----------------------------------------------------
    Case(  # planned for minutes (2 million vertices: killed after 2 minutes)
        "area-million-vertices",
        (
            "plan",
            "survey",
            *CAMERA,
            "--home",
            "49.75,13.37",
            "--dem",
            "{d}/ok.tif",
            "--area",
            "{d}/dense.geojson",
            "--format",
            "plan",
            "--out",
            "{o}",
        ),
        0,
        r"^warning: .*dense\.geojson: the area's 1,000,001 vertices were simplified to \d+ for "
        r"planning \(the boundary moved at most 0\.1 m",
        creates=("survey.plan",),
        max_s=60.0,
    ),
    Case(  # a "survey" of two photos at one point, exit 0
        "area-one-square-centimetre",
        (*SURVEY, "--area", "{d}/cm2.geojson", "--out", "{o}"),
        2,
        r"cm2\.geojson: the area is only 0\.0001 m², smaller than 1 m²: wrong units",
    ),
    Case(  # "exterior ring has 2 distinct points": the NaN vertex was skipped
        "area-wkt-nan",
        (*SURVEY, "--area", "{d}/nan.wkt", "--out", "{o}"),
        2,
        r"nan\.wkt: the area has a non-finite coordinate \(NaN or infinity\): vertex 2 of the "
        r"exterior ring is \(nan, 49\.74\)",
    ),
    Case(  # numpy's RuntimeWarning, then "no UTM zone for lon=nan" naming no file
        "corridor-polyline-file-nan",
        (
            "plan",
            "corridor",
            "--polyline",
            "{d}/nan_line.geojson",
            "--width-m",
            "50",
            *CAMERA,
            "--out",
            "{o}",
        ),
        2,
        r"nan_line\.geojson: vertex 2 of the line is \(nan, 49\.745\): not a finite number",
    ),
    Case(  # "latitude nan out of range"
        "corridor-polyline-nan",
        (
            "plan",
            "corridor",
            "--polyline",
            "49.74,13.37;nan,13.38",
            "--width-m",
            "50",
            *CAMERA,
            "--out",
            "{o}",
        ),
        2,
        r"--polyline: point 2 \('nan,13\.38'\) is not a finite position",
    ),
    Case(  # numpy's RuntimeWarning, then the map written with exit 0
        "poa-map-features-nan",
        _poa_map_with("nan_features.geojson"),
        2,
        r"nan_features\.geojson: feature 2: vertex 2 is \(nan, 49\.745\), not a finite",
    ),
    Case(  # shapely's overflow warning, then "coverage 0.00 %" with exit 0
        "coverage-swath-1e300",
        ("plan", "coverage", "{d}/good.plan", "--area", "{d}/sq.geojson", "--swath-m", "1e300"),
        2,
        r"--swath-m 1e\+300 m is wider than any drone sensor sees \(at most 10,000 m\)",
    ),
    Case(  # GeoJSON text written as g.png, exit 0
        "coverage-gaps-png",
        (
            "plan",
            "coverage",
            "{d}/good.plan",
            "--area",
            "{d}/sq.geojson",
            "--swath-m",
            "30",
            "--gaps",
            "{o}/g.png",
        ),
        2,
        r"^error: cannot write .*g\.png: the extension must be \.geojson or \.json$",
    ),
    Case(  # rasterio's two divide-by-zero warnings, then "Bounds and transform are inconsistent"
        "dem-zero-size-pixels",
        (*OK_SURVEY, "--dem", "{d}/zeropix.tif"),
        2,
        r"zeropix\.tif: the terrain raster's geotransform is degenerate: its pixels have no area",
    ),
    Case(  # named the longitude 'b' though the latitude 'a' came first
        "validate-home-text",
        ("plan", "validate", "{d}/home_text.plan"),
        2,
        r"home_text\.plan: plannedHomePosition: the latitude is \"a\", not a number",
    ),
    Case(  # read as a plan without home, exit 0
        "validate-home-one-value",
        ("plan", "validate", "{d}/home_short.plan"),
        2,
        r"home_short\.plan: plannedHomePosition must be \[latitude, longitude, altitude\], "
        r"got \[49\.74\]",
    ),
    Case(  # converted as a plan without home, exit 0
        "convert-home-null",
        ("plan", "convert", "{d}/home_null.plan", "{o}/m.waypoints"),
        2,
        r"home_null\.plan: plannedHomePosition must be \[latitude, longitude, altitude\], "
        r"got null",
    ),
    Case(  # "NaN is not valid JSON" without saying where
        "validate-plan-home-nan",
        ("plan", "validate", "{d}/home_nan.plan"),
        2,
        r"home_nan\.plan: NaN is not valid JSON .*; found at mission\.plannedHomePosition\[0\]",
    ),
    Case(  # a crashed scheduler, five lines, exit 1
        "sim-speedup-nan",
        ("sim", "--speedup", "nan"),
        2,
        r"^error: Invalid value for '--speedup': nan is not a finite number",
        usage=True,
    ),
    # ---- lidar ---------------------------------------------------------------------------
    Case(
        "lidar-info-nan-scale",
        ("lidar", "info", "{d}/nanscale.las"),
        2,
        r"nanscale\.las: the header's X scale is nan",
    ),
    Case(
        "lidar-info-garbage",
        ("lidar", "info", "{d}/garbage.las"),
        2,
        r"garbage\.las: the header's LAS version is \d+\.\d+: unknown",
    ),
    Case(
        "lidar-pipeline-garbage",
        ("lidar", "pipeline", "{d}/garbage_pipeline.json"),
        2,
        r"garbage_pipeline\.json: pipeline is not valid JSON/YAML",
    ),
    Case(
        "lidar-pipeline-png",
        ("lidar", "pipeline", "{d}/png_pipeline.json"),
        2,
        r"invalid pipeline: stage 2: cannot tell the stage type of .*out\.png",
    ),
    Case(
        "lidar-ground-truncated",
        ("lidar", "ground", "{d}/trunc.laz", "-o", "{o}/g.laz"),
        2,
        r"trunc\.laz: truncated: the LAZ chunk table is due at byte [\d,]+, the file has",
    ),
    Case(
        "lidar-ground-damaged-chunk",
        ("lidar", "ground", "{d}/damaged.laz", "-o", "{o}/g.laz"),
        2,
        r"damaged\.laz: damaged or truncated point data",
    ),
    Case(
        "lidar-dtm-far-2d",
        ("lidar", "dtm", "{d}/far2d.las", "-o", "{o}/dtm.tif"),
        2,
        r"far2d\.las: the grid is too large: the points span 1,000,\d+ m × 1,000,\d+ m, at 1 m "
        # the budget, or less when the machine has less memory available at the moment
        r"per cell that is [\d,]+ cells needing about [\d.]+ TiB of memory, "
        r"(over the budget|more than the [\d.]+ [GM]iB this machine has available)",
    ),
    Case(
        "lidar-dsm-far-1d",
        ("lidar", "dsm", "{d}/far1d.las", "-o", "{o}/dsm.tif"),
        2,
        r"far1d\.las: the grid is too large: .* GiB of memory",
    ),
    Case(
        "lidar-dsm-budget",
        (
            "lidar",
            "dsm",
            "{d}/ok.las",
            "-o",
            "{o}/dsm.tif",
            "--resolution",
            "0.02",
            "--memory-budget",
            "16",
        ),
        2,
        r"ok\.las: the grid is too large: .*over the budget of 16\.0 MiB",
    ),
    Case(
        "lidar-dsm-resolution-nan",
        ("lidar", "dsm", "{d}/ok.las", "-o", "{o}/dsm.tif", "--resolution", "nan"),
        2,
        r"option 'resolution' must be a finite number \(nan\)",
    ),
    Case(
        "lidar-dsm-nan-offset",
        ("lidar", "dsm", "{d}/infoffset.las", "-o", "{o}/dsm.tif"),
        2,
        r"infoffset\.las: the header's Y offset is inf",
    ),
    Case(
        "lidar-dsm-png",
        ("lidar", "dsm", "{d}/ok.las", "-o", "{o}/dsm.png"),
        2,
        r"^error: cannot write .*dsm\.png: the extension must be \.tif or \.tiff$",
    ),
    Case(
        "lidar-dsm-out-dir",
        ("lidar", "dsm", "{d}/ok.las", "-o", "{d}/a_dir.tif"),
        2,
        r"cannot write .*a_dir\.tif: it is a directory",
    ),
    Case(
        "lidar-dsm-out-proc",
        ("lidar", "dsm", "{d}/ok.las", "-o", "/proc/dsm.tif"),
        2,
        r"^error: cannot write /proc/dsm\.tif: ",
    ),
    Case(
        "lidar-dsm-out-sys",
        ("lidar", "dsm", "{d}/ok.las", "-o", "/sys/dsm.tif"),
        2,
        r"^error: cannot write /sys/dsm\.tif: permission denied",
    ),
    Case(
        "lidar-dsm-out-under-file",
        ("lidar", "dsm", "{d}/ok.las", "-o", "{d}/a_file/d.tif"),
        2,
        r"cannot write .*a_file/d\.tif: .*a_file is not a directory",
    ),
    Case(
        "lidar-dsm-disk-full",
        ("lidar", "dsm", "{d}/ok.las", "-o", "{o}/dsm.tif"),
        1,
        r"^error: cannot write .*dsm\.tif: the file is too large for the file system",
        fsize=1024,
    ),
    Case(
        "lidar-dsm-no-crs",
        ("-q", "lidar", "dsm", "{d}/nocrs.las", "-o", "{o}/dsm.tif"),
        0,
        r"^WARNING lidar\.products: no CRS in .*nocrs\.las; .*dsm\.tif will have none; "
        r"give --crs EPSG:",
        creates=("dsm.tif",),
    ),
    Case(
        "lidar-chm-truncated",
        ("lidar", "chm", "{d}/trunc.laz", "-o", "{o}/chm.tif"),
        2,
        r"trunc\.laz: truncated: the LAZ chunk table",
    ),
    Case(
        "lidar-raster-contours-tif",
        ("lidar", "raster", "{d}/ok.las", "--product", "contours", "-o", "{o}/c.tif"),
        2,
        r"cannot write .*c\.tif: the extension must be \.geojson or \.json",
    ),
    Case(
        "lidar-hag-tif",
        ("lidar", "hag", "{d}/ok.las", "-o", "{o}/h.tif"),
        2,
        r"cannot write .*h\.tif: the extension must be \.las or \.laz",
    ),
    Case(
        "lidar-classify-truncated",
        ("lidar", "classify", "{d}/trunc.laz", "-o", "{o}/c.laz"),
        2,
        r"trunc\.laz: truncated: the LAZ chunk table",
    ),
    Case(
        "lidar-thin-out-dir",
        ("lidar", "thin", "{d}/ok.las", "-o", "{d}/a_dir.laz"),
        2,
        r"cannot write .*a_dir\.laz: it is a directory",
    ),
    Case(
        "lidar-thin-disk-full",
        ("lidar", "thin", "{d}/ok.laz", "-o", "{o}/t.laz"),
        1,
        r"cannot write .*t\.laz: the file is too large for the file system",
        fsize=2048,
    ),
    Case(
        "lidar-reproject-unknown-crs",
        ("lidar", "reproject", "{d}/ok.las", "-o", "{o}/r.laz", "--to", "EPSG:999999"),
        2,
        r"unknown coordinate reference system 'EPSG:999999'",
    ),
    Case(
        "lidar-tile-far",
        ("lidar", "tile", "{d}/far2d.las", "-o", "{o}/tiles"),
        2,
        r"far2d\.las: the grid is too large",
    ),
    Case(
        "lidar-tile-out-file",
        ("lidar", "tile", "{d}/ok.las", "-o", "{d}/a_file"),
        2,
        r"cannot write .*a_file: it exists and is not a directory",
    ),
    Case(
        "lidar-tile-no-scheduler",
        ("lidar", "tile", "{d}/ok.las", "-o", "{o}/tiles", "--scheduler", "tcp://127.0.0.1:{port}"),
        1,
        r"^error: cannot reach the Dask scheduler tcp://127\.0\.0\.1:\d+ within 5 s$",
        max_s=20.0,
    ),
    Case(
        "lidar-volume-garbage",
        ("lidar", "volume", "{d}/garbage.tif", "{d}/ok.tif"),
        2,
        r"garbage\.tif: cannot read raster",
    ),
    Case(
        "lidar-volume-cut-short",
        ("lidar", "volume", "{d}/cut.tif", "{d}/big.tif"),
        2,
        r"cut\.tif: cannot read raster: the file ends before its cells do",
    ),
    Case(
        "lidar-diff-png",
        ("lidar", "diff", "{d}/ok.tif", "{d}/ok.tif", "-o", "{o}/d.png"),
        2,
        r"cannot write .*d\.png: the extension must be \.tif or \.tiff",
    ),
    Case(
        "lidar-products-far",
        ("lidar", "products", "{d}/far2d.las", "-o", "{o}/products"),
        2,
        r"far2d\.las: the grid is too large",
    ),
    Case(
        "lidar-products-out-file",
        ("lidar", "products", "{d}/ok.las", "-o", "{d}/a_file"),
        2,
        r"cannot write .*a_file: it exists and is not a directory",
    ),
    Case(
        "lidar-missing-input",
        ("lidar", "dsm", "{d}/missing.las", "-o", "{o}/d.tif"),
        2,
        r"^error: Invalid value for 'INPUT_PATH'",
        usage=True,
    ),
    # ---- sim, fly, gui, demo ---------------------------------------------------------------
    Case(
        "sim-faults-missing",
        ("sim", "--faults", "{d}/missing.yaml"),
        2,
        r"missing\.yaml: cannot read fault schedule",
    ),
    Case("sim-unknown-exercise", ("sim", "--exercise", "nosuch"), 2, r"unknown exercise 'nosuch'"),
    Case(  # lockstep had run as fast as it could, the speed-up given dropped
        "sim-lockstep-and-speedup",
        ("sim", "--lockstep", "--speedup", "5"),
        2,
        r"--speedup paces the real-time mode; --lockstep runs as fast as it can",
    ),
    # found from outside: a crashed scheduler with the CLI left running, an internal error, and
    # a name or a foreign address told to "try another --port-offset" (exit 1)
    Case(
        "sim-home-altitude-1e308",
        ("sim", "--home", "49.7,13.3,1e308"),
        2,
        r"--home: altitude 1e\+308 m AMSL is not on the Earth's surface",
        max_s=20.0,
    ),
    Case(
        "sim-faults-binary",
        ("sim", "--faults", "{d}/garbage.tif"),
        2,
        r"garbage\.tif: fault schedule: not a UTF-8 text file",
    ),
    Case("sim-bind-name", ("sim", "--bind", "nonsense"), 2, r"--bind: 'nonsense' is not an IP"),
    Case(
        "train-check-binary",
        ("train", "check", "{d}/garbage.tif"),
        2,
        r"garbage\.tif: not a UTF-8 text file \(an exercise is YAML\)",
    ),
    Case(
        "sim-exercise-binary",
        ("sim", "--exercise", "{d}/garbage.tif"),
        2,
        r"garbage\.tif: not a UTF-8 text file \(an exercise is YAML\)",
    ),
    Case(
        "sim-bind-foreign",
        ("sim", "--bind", "192.0.2.1"),  # TEST-NET-1: never an address of this machine
        2,
        r"--bind: 192\.0\.2\.1 is not an address of this machine",
    ),
    Case(
        "sim-key-missing",
        ("sim", "--signing-key-file", "{d}/missing.key"),
        2,
        r"missing\.key: signing key file not found",
    ),
    Case(
        "fly-bad-url",
        ("fly", "{d}/good.plan", "--connect", "garbage://x"),
        2,
        r"garbage://x: unknown connection scheme 'garbage'",
    ),
    Case(  # had waited for a heartbeat from a host that cannot exist
        "status-not-an-address",
        ("status", "--connect", "udpout://256.1.1.1:14550", "--wait", "1"),
        2,
        r"udpout://256\.1\.1\.1:14550: '256\.1\.1\.1' is not an IP address",
    ),
    Case(  # the refresh interval of a table printed once had been dropped
        "status-interval-with-once",
        ("status", "--connect", "udpin://127.0.0.1:{port}", "--once", "--interval", "5"),
        2,
        r"--interval is the live table's refresh: not used with --once or --json",
    ),
    Case(
        "fly-missing-plan",
        ("fly", "{d}/missing.plan", "--connect", "udpin://127.0.0.1:{port}"),
        2,
        r"missing\.plan: file not found",
        max_s=10.0,
    ),
    Case(
        "fly-nan-plan",
        ("fly", "{d}/nan.plan", "--connect", "udpin://127.0.0.1:{port}"),
        2,
        r"nan\.plan: NaN is not valid JSON",
        max_s=10.0,
    ),
    Case(
        "sim-faults-bad-yaml",
        ("sim", "--faults", "{d}/bad.yaml"),
        2,
        r"bad\.yaml: not valid YAML: .*\(line 2, column 1\)",
    ),
    Case(
        "gui-garbage-area",
        ("gui", "--area", "{d}/garbage.geojson", "--offscreen-screenshot", "{o}/s.png"),
        2,
        r"garbage\.geojson: not a UTF-8 text file",
    ),
    Case(
        "gui-garbage-zones",
        ("gui", "--zones", "{d}/garbage_zones.json", "--offscreen-screenshot", "{o}/s.png"),
        2,
        r"garbage_zones\.json",
    ),
    Case(
        "gui-screenshot-proc",
        ("gui", "--offscreen-screenshot", "/proc/dkp_shot.png"),
        2,
        r"^error: cannot write /proc/dkp_shot\.png: ",
    ),
    Case(
        "gui-screenshot-not-png",
        ("gui", "--offscreen-screenshot", "{o}/shot.tif"),
        2,
        r"shot\.tif: the extension must be \.png",
    ),
    Case(
        "gui-too-many-drones",
        ("gui", "--drones", "99"),
        2,
        r"^error: Invalid value for '--drones'",
        usage=True,
    ),
    # ---- found by the file-content mutation sweep (2026-12-05) -----------------------------
    Case(  # OverflowError in the clearance digest (1e308 × 1e7 is inf)
        "validate-param-1e308",
        ("plan", "validate", "{d}/param1e308.waypoints"),
        2,
        r"param1e308\.waypoints: item 1: parameter 1 is 1e\+308, not a value",
    ),
    Case(  # struct.error in the clearance digest (1e23 × 1e4 is beyond int64)
        "convert-param-1e23",
        ("plan", "convert", "{d}/param1e23.waypoints", "{o}/m.plan"),
        0,
        r"^1 item written to .*m\.plan",
        creates=("m.plan",),
    ),
    Case(  # written to .plan with exit 0, then an internal error when packed for upload
        "convert-x-1e308",
        ("plan", "convert", "{d}/x1e308.waypoints", "{o}/m.plan"),
        2,
        r"x1e308\.waypoints: item 2: x \(param5\) is -1e\+308, more than MAVLink can carry",
    ),
    Case(  # OverflowError converting the autocontinue flag
        "validate-autocontinue-inf",
        ("plan", "validate", "{d}/acinf.waypoints"),
        2,
        r"acinf\.waypoints:3: not a number",
    ),
    Case(  # GEOSException: an internal error naming no feature
        "poa-map-features-open-ring",
        _poa_map_with("open_ring_features.geojson"),
        2,
        r"open_ring_features\.geojson: feature 1: its geometry is not valid \(a polygon ring "
        r"does not end where it starts\)",
    ),
    Case(  # the leg "from (382564, 5511327)": UTM metres with no CRS, no distance, no way out
        "survey-area-out-of-reach",
        (
            *("plan", "survey", *CAMERA, "--home", "49.80,13.37", "--area", "{d}/sq.geojson"),
            *("--out", "{o}/plans"),
        ),
        2,
        r"the leg from 49\.74\d+, 13\.37\d+ \(6\.\d km from home\) cannot be flown at 80 m "
        r"within one battery \(13\.3 min usable\): move home nearer",
    ),
    Case(  # read as degrees, the lake transformed to nowhere: the map written without it, exit 0
        "poa-map-features-utm-without-crs",
        _poa_map_with("utm_without_crs_features.geojson"),
        2,
        r"utm_without_crs_features\.geojson: feature 2: vertex \(382000, 5510000\) is not a "
        r"longitude and latitude",
    ),
    Case(  # OGR gave the lake no geometry, and no warning: the map written without it, exit 0
        "poa-map-features-text-coordinate",
        _poa_map_with("text_coordinate_features.geojson"),
        2,
        r"text_coordinate_features\.geojson: feature 2: its geometry cannot be read \(coordinate "
        r"'49\.7433' is not a number\)",
    ),
    Case(
        "demo-out-is-file",
        ("demo", "--out", "{d}/a_file"),
        2,
        r"cannot write .*a_file: it exists and is not a directory",
    ),
    Case(
        "demo-lidar-out-proc",
        ("demo", "lidar", "--out", "/proc/dkp_demo"),
        2,
        r"^error: cannot write /proc/dkp_demo: ",
    ),
]

_RAW_LOG = re.compile(r"^(ERROR|WARNING) (laspy|rasterio)|CPLE_|^Traceback|internal error", re.M)


def _limit_file_size(limit: int) -> None:
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))


@pytest.mark.parametrize("case", [pytest.param(c, id=c.id) for c in CASES])
def test_bad_input_gives_one_clear_error(case: Case, inputs: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    port = str(_free_port())
    argv = [a.format(d=inputs, o=out, port=port) for a in case.argv]
    for src, dst in case.seed:
        (out / dst).write_bytes((inputs / src).read_bytes())
    env = {**os.environ, "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8", "QT_QPA_PLATFORM": "offscreen"}
    env.pop("DKP_LIDAR_MEMORY_MB", None)
    env.pop("DKP_DEBUG", None)
    limit = case.fsize
    t0 = time.monotonic()
    proc = subprocess.run(
        [sys.executable, "-m", "dronekit_plzen", *argv],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        preexec_fn=(lambda: _limit_file_size(limit)) if limit else None,
    )
    took = time.monotonic() - t0
    err = proc.stderr.strip()
    lines = err.splitlines()
    detail = f"exit {proc.returncode}, stderr:\n{proc.stderr}"
    assert proc.returncode == case.code, detail
    assert not _RAW_LOG.search(err), detail
    assert len(lines) == 1, detail
    line = lines[0]
    if case.usage:  # click's usage errors: one line that points at --help
        assert "--help'" in line, detail
    assert re.search(case.pattern, line), f"{case.pattern!r} not in {line!r}"
    if case.max_s is not None:
        assert took < case.max_s, f"took {took:.1f} s"
    left = sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file())
    assert left == sorted(case.creates), f"files left behind: {left}"
    for src, dst in case.seed:
        assert (out / dst).read_bytes() == (inputs / src).read_bytes(), f"{dst} was changed"


#: a mission that is unsafe, not bad input: exit 3, the violation then the error line
UNSAFE = [
    # found from outside: a PROHIBITED zone spanning the globe folded when its far corners were
    # projected into UTM 33N, and the mission inside it was converted with exit 0
    (
        "zone-spanning-the-globe",
        ("plan", "convert", "{d}/good.plan", "{o}/m.waypoints", "--zones", "{d}/world_ed269.json"),
        r"^error: mission is unsafe \(1 problem\): \[zone_prohibited\] .*"
        r"enters prohibited zone Z1$",
    ),
]


@pytest.mark.parametrize(("argv", "pattern"), [pytest.param(*c[1:], id=c[0]) for c in UNSAFE])
def test_unsafe_mission_exits_3(
    argv: tuple[str, ...], pattern: str, inputs: Path, tmp_path: Path
) -> None:
    args = [a.format(d=inputs, o=tmp_path) for a in argv]
    env = {**os.environ, "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8"}
    env.pop("DKP_DEBUG", None)
    proc = subprocess.run(
        [sys.executable, "-m", "dronekit_plzen", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    detail = f"exit {proc.returncode}, stderr:\n{proc.stderr}"
    assert proc.returncode == 3, detail
    assert not _RAW_LOG.search(proc.stderr), detail
    assert re.search(pattern, proc.stderr.strip().splitlines()[-1]), detail
    assert not list(tmp_path.iterdir()), "a file was written"
