"""The MAVLink terrain protocol, ground-station side (``dronekit_plzen.link.terrain``): which
points a TERRAIN_DATA carries, and that they are the nodes ArduPilot's terrain lookup
interpolates between (``AP_Terrain::calculate_grid_info``), so the guard's model of the
terrain the vehicle follows (``missions.terrain.ardupilot_terrain``) matches what it is served."""

from __future__ import annotations

import math
import time
from typing import Any

import numpy as np
import pytest

from dronekit_plzen.geo import AP_LATLON_TO_M
from dronekit_plzen.link.codec import Codec
from dronekit_plzen.link.terrain import SUBBLOCKS, TerrainServer, subblock_points
from simulators.vehicle import terrain_block_corner

HOME = (49.7475, 13.3776)


class _Link:
    """Collects what the server sends."""

    def __init__(self) -> None:
        self.mav = Codec().mav
        self.sent: list[tuple[Any, int]] = []

    def send(self, msg: Any, target: int) -> None:
        self.sent.append((msg, target))


def _plane(lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
    """A tilted plane: 300 m + 10 m per km north + 5 m per km east of HOME."""
    n = (lat - HOME[0]) * 111_320.0
    e = (lon - HOME[1]) * 111_320.0 * math.cos(math.radians(HOME[0]))
    return 300.0 + 0.01 * n + 0.005 * e


def test_every_requested_subblock_is_answered_with_its_points_heights() -> None:
    link = _Link()
    srv = TerrainServer(link, _plane)
    lat7, lon7, spacing = terrain_block_corner(*HOME, 100)
    mask = (1 << 0) | (1 << 9) | (1 << 55)
    assert srv.answer(7, lat7, lon7, spacing, mask) == 3
    got = {m.gridbit: (m, t) for m, t in link.sent}
    assert sorted(got) == [0, 9, 55] and {t for _m, t in got.values()} == {7}
    lat, lon = subblock_points(lat7, lon7, float(spacing), [0, 9, 55])
    for row, bit in enumerate((0, 9, 55)):
        m = got[bit][0]
        assert (m.lat, m.lon, m.grid_spacing) == (lat7, lon7, spacing)
        assert list(m.data) == [int(v) for v in np.rint(_plane(lat[row], lon[row]))]
    # sub-block 55 is the north-east one: 24 + 3 steps north, 28 + 3 east of the corner
    dn = (lat[2, 15] * 1e7 - lat7) * AP_LATLON_TO_M
    assert dn == pytest.approx(27 * 100.0, abs=0.01)
    # repeated at once: not sent again; the full block is 56 messages
    assert srv.answer(7, lat7, lon7, spacing, mask) == 0
    assert srv.answer(7, lat7, lon7, spacing, (1 << SUBBLOCKS) - 1) == SUBBLOCKS - 3


def test_points_outside_the_dem_are_not_sent_and_named() -> None:
    link = _Link()

    def half(lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
        return np.where(lon < HOME[1], _plane(lat, lon), np.nan)

    srv = TerrainServer(link, half)
    lat7, lon7, spacing = terrain_block_corner(*HOME, 100)
    n = srv.answer(1, lat7, lon7, spacing, (1 << SUBBLOCKS) - 1)
    assert 0 < n < SUBBLOCKS and srv.missing == pytest.approx((lat7 * 1e-7, lon7 * 1e-7))


def test_served_nodes_are_where_the_firmware_looks_them_up() -> None:
    """Node (x, y) of the block holding HOME lies x · 100 m north and y · 100 m east of the
    whole-degree reference's grid, measured as ArduPilot measures (Location::get_distance_NE):
    the lookup of that point lands exactly on the node (fractions 0)."""
    lat7, lon7, spacing = terrain_block_corner(*HOME, 100)
    lat, lon = subblock_points(lat7, lon7, float(spacing), list(range(SUBBLOCKS)))
    ref_lat, ref_lon = math.floor(HOME[0]) * 1e7, math.floor(HOME[1]) * 1e7
    la7, lo7 = lat.ravel() * 1e7, lon.ravel() * 1e7
    dn = (la7 - ref_lat) * AP_LATLON_TO_M / spacing
    de = (lo7 - ref_lon) * AP_LATLON_TO_M * np.cos(np.radians((la7 + ref_lat) / 2e7)) / spacing
    assert np.allclose(dn, np.rint(dn), atol=1e-6) and np.allclose(de, np.rint(de), atol=1e-6)
    # and the block holds home
    h_dn = (HOME[0] * 1e7 - ref_lat) * AP_LATLON_TO_M / spacing
    assert dn.min() <= h_dn <= dn.max()


def test_link_listener_answers_on_its_worker() -> None:
    link = _Link()
    handles: list[Any] = []

    class _Handle:
        def remove(self) -> None:
            handles.clear()

    def add_listener(fn: Any) -> _Handle:
        handles.append(fn)
        return _Handle()

    link.add_listener = add_listener  # type: ignore[attr-defined]
    lat7, lon7, spacing = terrain_block_corner(*HOME, 100)
    req = Codec(system_id=3, component_id=1).mav.terrain_request_encode(lat7, lon7, spacing, 0b111)
    req._header = type("H", (), {"srcSystem": 3, "srcComponent": 1})()  # as received
    with TerrainServer(link, _plane, sysid=3) as srv:
        handles[0](req, 0.0)
        for _ in range(100):
            if len(link.sent) == 3:
                break
            time.sleep(0.02)
    assert len(link.sent) == 3 and srv.requests == 1 and not handles


def test_a_block_is_read_from_the_dem_once() -> None:
    """The vehicle repeats its request for what it still lacks: the DEM is read once per
    block, not once per request (a window of a 1 m city DEM is a second of I/O)."""
    link = _Link()
    calls: list[int] = []

    def counted(lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
        calls.append(lat.size)
        return np.where(lon < HOME[1], _plane(lat, lon), np.nan)

    srv = TerrainServer(link, counted)
    lat7, lon7, spacing = terrain_block_corner(*HOME, 100)
    for _ in range(5):
        srv.answer(1, lat7, lon7, spacing, (1 << SUBBLOCKS) - 1)
    assert calls == [SUBBLOCKS * 16]
