"""Serve the vehicle's terrain requests from a DEM: the MAVLink terrain protocol, GCS side.

ArduPilot keeps a terrain database of grid blocks (``libraries/AP_Terrain``); what it lacks it
asks the ground station for with ``TERRAIN_REQUEST`` (the block's south-west corner in degE7,
the grid spacing ``TERRAIN_SPACING`` in metres, and a 56-bit mask of the 4 × 4 sub-blocks still
missing), and the ground station answers one ``TERRAIN_DATA`` per sub-block: 16 heights in
metres AMSL (int16). A block is 28 points north by 32 east (7 × 8 sub-blocks); sub-block
``gridbit`` starts at point (``gridbit // 8 · 4``, ``gridbit % 8 · 4``) and ``data[4·x + y]``
is the height ``x`` points north and ``y`` points east of that
(``AP_Terrain::handle_terrain_data``).
A point ``(x, y)`` lies ``x · spacing`` metres north and ``y · spacing`` east of the corner,
measured as ArduPilot measures (``Location::get_distance_NE``: 0.011131884502145034 m per degE7
of latitude, the longitude scaled by the cosine of the mean latitude), so the heights land on
the points the firmware interpolates between.

ArduCopter needs the database before it arms when a return or a mission flies above the terrain
(``RTL_ALT_TYPE`` 1, terrain-frame items): "PreArm: waiting for terrain data" until every
requested block is filled. See https://mavlink.io/en/services/terrain.html.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import threading
import time
from collections.abc import Callable
from typing import Any

import numpy as np
from numpy.typing import NDArray

from dronekit_plzen.geo import ap_from_degree
from dronekit_plzen.geo import ap_node_latlon as node_latlon

log = logging.getLogger(__name__)

#: AP_Terrain.h: a block is MUL_X × MUL_Y sub-blocks of SIZE × SIZE points
GRID_BLOCK_MUL_X = 7
GRID_BLOCK_MUL_Y = 8
GRID_MAVLINK_SIZE = 4
SUBBLOCKS = GRID_BLOCK_MUL_X * GRID_BLOCK_MUL_Y
#: a sub-block answered within this many seconds is not sent again for a repeated request
RESEND_AFTER_S = 2.0
#: blocks whose heights are kept (a block is about 2.4 × 2.8 km at the default spacing)
MAX_CACHED_BLOCKS = 64

#: heights (metres AMSL, NaN where unknown) at WGS84 (lat, lon) in degrees
HeightsFn = Callable[[NDArray[np.float64], NDArray[np.float64]], NDArray[np.float64]]


def subblock_points(
    lat_e7: int, lon_e7: int, spacing_m: float, gridbits: NDArray[np.int64] | list[int]
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """(lat, lon) in degrees of the 16 points of each sub-block ``gridbits`` of the block whose
    south-west corner is (``lat_e7``, ``lon_e7``): shape (len(gridbits), 16), in the order of
    ``TERRAIN_DATA.data``. The points are placed where the firmware looks them up: the corner's
    distance from its whole-degree reference plus whole grid steps (:func:`node_latlon`).

    >>> lat, lon = subblock_points(497475000, 133776000, 100.0, [0, 9])
    >>> lat.shape, round(float(lat[0, 0]), 7), round(float(lon[0, 0]), 7)
    ((2, 16), 49.7475, 13.3776)
    >>> from dronekit_plzen.geo import AP_LATLON_TO_M
    >>> round((float(lat[1, 0]) - 49.7475) * 1e7 * AP_LATLON_TO_M, 3)  # sub-block 9: 4 north
    400.0
    """
    bits = np.asarray(gridbits, np.int64)
    k = np.arange(GRID_MAVLINK_SIZE * GRID_MAVLINK_SIZE)
    x = (bits // GRID_BLOCK_MUL_Y)[:, None] * GRID_MAVLINK_SIZE + k[None, :] // GRID_MAVLINK_SIZE
    y = (bits % GRID_BLOCK_MUL_Y)[:, None] * GRID_MAVLINK_SIZE + k[None, :] % GRID_MAVLINK_SIZE
    ref_lat, ref_lon, dn, de = ap_from_degree(lat_e7 * 1e-7, lon_e7 * 1e-7)
    return node_latlon(ref_lat, ref_lon, dn + x * spacing_m, de + y * spacing_m)


class TerrainServer:
    """Answer ``TERRAIN_REQUEST`` from ``heights`` on a worker thread (the link's reader only
    queues the request). A sub-block with a height unknown to ``heights`` (outside the DEM) is
    not sent: the vehicle then keeps waiting, and :attr:`missing` says where."""

    def __init__(self, link: Any, heights: HeightsFn, *, sysid: int | None = None) -> None:
        self.link = link
        self.heights = heights
        self.sysid = sysid
        self.sent = 0  #: TERRAIN_DATA messages sent
        self.requests = 0  #: TERRAIN_REQUEST messages seen
        #: (lat, lon) in degrees of a block corner with sub-blocks ``heights`` cannot fill
        self.missing: tuple[float, float] | None = None
        self.error: str | None = None  #: why ``heights`` failed (once)
        self._recent: dict[tuple[int, int, int, int], float] = {}
        self._blocks: dict[tuple[int, int, int], NDArray[np.float64]] = {}
        self._q: queue.Queue[Any] = queue.Queue(maxsize=256)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="dkp-terrain", daemon=True)
        self._handle: Any = None

    def __enter__(self) -> TerrainServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def start(self) -> None:
        self._thread.start()
        self._handle = self.link.add_listener(self._on_message)

    def close(self) -> None:
        if self._handle is not None:
            self._handle.remove()
            self._handle = None
        self._stop.set()
        self._q.put(None)
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(timeout=5.0)

    def _on_message(self, msg: Any, _recv_time_s: float) -> None:
        if msg.get_type() != "TERRAIN_REQUEST":
            return
        if self.sysid is not None and msg.get_srcSystem() != self.sysid:
            return
        self.requests += 1
        with contextlib.suppress(queue.Full):  # the vehicle repeats its requests
            self._q.put_nowait((msg.get_srcSystem(), msg.lat, msg.lon, msg.grid_spacing, msg.mask))

    def _run(self) -> None:
        while not self._stop.is_set():
            item = self._q.get()
            if item is None:
                return
            try:
                self.answer(*item)
            except Exception as exc:  # a bad DEM read must not end the link
                if self.error is None:
                    self.error = str(exc)
                    log.warning("terrain data not served: %s", exc)

    def block_heights(self, lat_e7: int, lon_e7: int, spacing_m: int) -> NDArray[np.float64]:
        """The heights of all 56 sub-blocks of a block (56 × 16), read once per block: the
        vehicle repeats its request for what it still lacks, and a DEM window read each time
        would cost a second of I/O per request on a 1 m city DEM."""
        key = (lat_e7, lon_e7, spacing_m)
        h = self._blocks.get(key)
        if h is None:
            lat, lon = subblock_points(lat_e7, lon_e7, float(spacing_m), list(range(SUBBLOCKS)))
            h = np.asarray(self.heights(lat.ravel(), lon.ravel()), np.float64).reshape(lat.shape)
            if len(self._blocks) >= MAX_CACHED_BLOCKS:
                self._blocks.pop(next(iter(self._blocks)))
            self._blocks[key] = h
        return h

    def answer(self, sysid: int, lat_e7: int, lon_e7: int, spacing_m: int, mask: int) -> int:
        """Send the sub-blocks of ``mask`` (not sent in the last :data:`RESEND_AFTER_S`);
        returns how many were sent."""
        if spacing_m <= 0:
            return 0
        now = time.monotonic()
        bits = [
            b
            for b in range(SUBBLOCKS)
            if mask >> b & 1
            and now - self._recent.get((lat_e7, lon_e7, spacing_m, b), -1e9) > RESEND_AFTER_S
        ]
        if not bits:
            return 0
        h = self.block_heights(lat_e7, lon_e7, spacing_m)[bits]
        ok = np.all(np.isfinite(h) & (np.abs(h) < 32767), axis=1)
        if not ok.all() and self.missing is None:
            self.missing = (lat_e7 * 1e-7, lon_e7 * 1e-7)
        mav = self.link.mav
        n = 0
        for b, row, good in zip(bits, np.rint(np.where(np.isfinite(h), h, 0)), ok, strict=True):
            if not good:
                continue
            data = [int(v) for v in row.astype(np.int16)]
            self.link.send(mav.terrain_data_encode(lat_e7, lon_e7, spacing_m, b, data), sysid)
            self._recent[(lat_e7, lon_e7, spacing_m, b)] = now
            n += 1
        self.sent += n
        return n
