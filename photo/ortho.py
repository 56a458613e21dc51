"""True orthophoto: every photo projected onto the surface, the most nadir UNOCCLUDED view wins.

For each ground cell (x, y, z from the surface) and each registered photo the cell is projected
into the photo with the photo's own camera model. Its weight is ``cos(off-nadir angle) ** 256``
(the ray from the cell to the camera: the most nadir view dominates, near-ties blend, which hides
the seams) times a feather towards the photo's border.

Occlusion: when a DSM is given, :func:`visible` decides per DSM cell and photo whether the ray
from the cell to the camera passes above the surface (the height-field form of a per-photo
z-buffer: a 2.5D DSM's walls are the jumps between cells, which a point-splatted depth map
misses but a ray marched over the DSM meets). An occluded view keeps only a token weight, so a
cell takes its colour from the most nadir view that really sees it; the visibility mask is
feathered over a few DSM cells so that the seams at occlusion edges blend too. Cells that every
photo sees only through an obstacle keep the least bad colour and are counted
(:attr:`OrthoResult.hidden`). Cells no photo sees are transparent (alpha 0). Arrays in, arrays
out; the photo pixels come from the ``load`` callable.

Memory: the grid is built in tiles of :data:`TILE_SIZE`² cells, photo by photo, and each
photo's geometry is computed only for the tile cells it may see; a decoded photo is kept while
later tiles need it (within a byte budget). Besides its 7-byte-a-cell output the step holds one
tile's arrays, so :func:`memory_estimate` can say what a grid will take before it is made. A
tile's result does not depend on the tiling (the occlusion test marches a halo around it).
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from photo.surface import Grid, sample_raster

log = logging.getLogger(__name__)

FloatArray = NDArray[np.float64]

#: exponent on cos(off-nadir angle): at 256, a view 2° off weighs 0.86 of the nadir one, 5° off
#: 0.38, 10° off 0.02: near-ties blend (hiding seams), otherwise the most nadir view wins
NADIR_POWER = 256.0
#: smallest weight of a view that sees a cell at all (so an oblique-only cell stays valid)
MIN_WEIGHT = 1e-30
#: feather width at a photo's border, as a fraction of its shorter side
FEATHER = 0.06
#: weight of a view whose ray to the cell is blocked: below any visible view's weight
#: (MIN_WEIGHT × the 1e-3 border floor = 1e-33), above float32's smallest normal (1.2e-38)
OCCLUDED_WEIGHT = 1e-36
#: feather of the visibility mask, in DSM cells from the nearest occluded cell
VIS_FEATHER_CELLS = 3.0
#: DSM cells marched around a tile's cells, beyond the feather: a tile's visibility is exact
VIS_HALO = int(np.ceil(VIS_FEATHER_CELLS)) + 1
#: longest ray march (DSM cells) towards a camera
MAX_MARCH_CELLS = 400
#: rows and columns of a tile: the orthophoto is built tile by tile, photo by photo, so that
#: besides its output only one tile's accumulators and per-photo arrays are held at once
TILE_SIZE = 512
#: bytes per cell the output keeps: RGB, alpha, dominant view (int16), hidden flag
OUT_BYTES_PER_CELL = 7
#: grid cells sampled for the median surface height (the footprints' plane) without a surface
MEDIAN_SAMPLES = 65_536
#: peak working bytes of one tile per cell (accumulators and one photo's float64 geometry,
#: weights and colours) and per DSM cell its occlusion test marches; measured with
#: tracemalloc: 180–206 and up to 200 (tiles of 256² and 512² cells, DSM as fine as the grid:
#: 456 and 285 a cell)
TILE_BYTES_PER_CELL = 240
VIS_BYTES_PER_DSM_CELL = 220
#: bytes per cell sampled for the median height (coordinates, bilinear sample; measured 117)
MEDIAN_BYTES_PER_SAMPLE = 130
#: decoded photos kept between tiles (bytes); beyond it the least recently used is dropped
#: and decoded again when a later tile needs it
IMAGE_CACHE_BYTES = 768 * 1024 * 1024
#: bytes of the loader's transient copies while one photo is decoded, per byte of the photo
LOAD_COPIES = 2


@dataclass(frozen=True)
class View:
    """A registered photo: its name, pose (camera from world) and pycolmap camera."""

    name: str
    rotation: FloatArray  # (3, 3) camera from world
    translation: FloatArray  # (3,)
    camera: Any  # pycolmap.Camera
    source: str  # file to read the pixels from

    @property
    def centre(self) -> FloatArray:
        return np.asarray(-self.rotation.T @ self.translation)

    @property
    def size(self) -> tuple[int, int]:
        return int(self.camera.width), int(self.camera.height)

    def project(self, xyz: FloatArray) -> FloatArray:
        """(N, 2) pixel coordinates (COLMAP convention: (0, 0) = top-left corner); NaN behind."""
        cam = xyz @ self.rotation.T + self.translation
        uv = np.asarray(self.camera.img_from_cam(np.ascontiguousarray(cam)), dtype=np.float64)
        uv[cam[:, 2] <= 0] = np.nan
        return uv

    def footprint(self, ground_z: float) -> FloatArray:
        """(4, 2) x/y where the image corners' rays meet the plane ``z = ground_z``.

        Corners looking above the horizon are NaN; far ones are pulled in to 3 × the height.
        """
        w, h = self.size
        corners = np.array([[0.0, 0.0], [w, 0.0], [w, h], [0.0, h]])
        rays_cam = np.column_stack(
            [np.asarray(self.camera.cam_from_img(corners), dtype=np.float64), np.ones(4)]
        )
        rays = rays_cam @ self.rotation  # world directions (R^T applied row-wise)
        c = self.centre
        dz = rays[:, 2]
        dz = np.where(np.abs(dz) < 1e-9, -1e-9, dz)
        s = (ground_z - c[2]) / dz
        s = np.where(s > 0, s, np.nan)
        xy = rays[:, :2] * s[:, None]
        # an oblique photo's upper corners meet the ground far away: cut at 3 × the height
        reach = 3.0 * max(float(c[2] - ground_z), 1.0)
        dist = np.hypot(xy[:, 0], xy[:, 1])
        xy *= np.minimum(1.0, reach / np.maximum(dist, 1e-9))[:, None]
        return c[:2] + xy


def views_of(rec: Any, sources: dict[str, str]) -> list[View]:
    """The registered photos of a pycolmap reconstruction as :class:`View` objects."""
    out = []
    for im in sorted(rec.images.values(), key=lambda i: i.name):
        if not im.has_pose or im.name not in sources:
            continue
        pose = im.cam_from_world()
        out.append(
            View(
                name=im.name,
                rotation=np.asarray(pose.rotation.matrix(), dtype=np.float64),
                translation=np.asarray(pose.translation, dtype=np.float64),
                camera=rec.cameras[im.camera_id],
                source=sources[im.name],
            )
        )
    return out


def gsd_m(views: Sequence[View], ground_z: float) -> float:
    """Median ground sampling distance (m/pixel) of ``views`` over the plane ``ground_z``."""
    vals = [max(v.centre[2] - ground_z, 1e-3) / float(v.camera.mean_focal_length()) for v in views]
    return float(np.median(vals))


def visible(
    centre: FloatArray,
    x: FloatArray,
    y: FloatArray,
    z: FloatArray,
    dsm: FloatArray,
    dsm_grid: Grid,
    tol_m: float = 0.5,
) -> NDArray[np.bool_]:
    """Mask of the surface points ``x, y, z`` (1-D) whose ray to ``centre`` clears the DSM.

    The ray is sampled every DSM cell along its horizontal track, from 1.5 cells off the point
    up to where it rises above the highest DSM cell; the point is occluded when the DSM stands
    more than ``tol_m`` above the ray at any sample (NaN DSM cells never occlude).
    """
    n = len(x)
    vis = np.ones(n, dtype=bool)
    if n == 0 or not np.isfinite(dsm).any():
        return vis
    zmax = float(np.nanmax(dsm))
    dx, dy, dz = centre[0] - x, centre[1] - y, centre[2] - z
    dh = np.hypot(dx, dy)
    up = dz > 1e-6
    # horizontal run per metre of rise, and how far the ray must go to clear the highest cell
    run = np.where(up, dh / np.where(up, dz, 1.0), np.inf)
    reach = np.minimum((zmax + tol_m - z) * run, dh)
    step = dsm_grid.res
    active = np.flatnonzero(up & (reach > 1.5 * step) & np.isfinite(z))
    vis[~up] = False  # the camera is below the point
    k = 1.5
    while active.size and k <= MAX_MARCH_CELLS:
        s = k * step
        a = active
        f = s / dh[a]
        h = sample_raster(dsm, dsm_grid, x[a] + dx[a] * f, y[a] + dy[a] * f)
        ray_z = z[a] + dz[a] * f
        blocked = np.isfinite(h) & (h > ray_z + tol_m)
        vis[a[blocked]] = False
        active = a[~blocked & (reach[a] > s + step)]
        k += 1.0
    return vis


def _visibility_weight(
    v: View, dsm: FloatArray, dsm_grid: Grid, ri: NDArray[np.int64], ci: NDArray[np.int64]
) -> FloatArray:
    """Feathered visibility (0 occluded … 1 clear) of ``v`` at the DSM cells ``ri, ci``.

    The rays are marched from the cells' bounding window plus :data:`VIS_HALO` cells: the
    feather reaches :data:`VIS_FEATHER_CELLS`, so a cell's value is the one a mask over the
    whole DSM would give, whatever window (tile) it is computed in.
    """
    from scipy.ndimage import distance_transform_edt

    r0 = max(0, int(ri.min()) - VIS_HALO)
    r1 = min(dsm_grid.rows, int(ri.max()) + VIS_HALO + 1)
    c0 = max(0, int(ci.min()) - VIS_HALO)
    c1 = min(dsm_grid.cols, int(ci.max()) + VIS_HALO + 1)
    xs, ys = dsm_grid.centres()
    gx, gy = np.meshgrid(xs[c0:c1], ys[r0:r1])
    gz = dsm[r0:r1, c0:c1]
    tol = max(0.5, 2.0 * dsm_grid.res)
    vis = visible(v.centre, gx.ravel(), gy.ravel(), gz.ravel(), dsm, dsm_grid, tol).reshape(
        gz.shape
    )
    if vis.all():
        return np.ones(len(ri))
    dist = np.asarray(distance_transform_edt(vis))[ri - r0, ci - c0]
    return np.asarray(np.clip(dist / VIS_FEATHER_CELLS, 0.0, 1.0))


def _border_weight(uv: FloatArray, w: int, h: int) -> FloatArray:
    d = np.minimum.reduce([uv[:, 0], w - uv[:, 0], uv[:, 1], h - uv[:, 1]])
    return np.asarray(np.clip(d / (FEATHER * min(w, h)), 0.0, 1.0))


@dataclass(frozen=True)
class OrthoResult:
    """The orthophoto and how it was made, cell by cell."""

    rgb: NDArray[np.uint8]  # (rows, cols, 3)
    alpha: NDArray[np.uint8]  # (rows, cols): 255 where some photo sees the cell
    best: NDArray[np.int16]  # index of the dominant view (-1: none)
    hidden: NDArray[np.bool_]  # seen by photos, but by none of them unoccluded

    @property
    def hidden_fraction(self) -> float:
        n = int(np.count_nonzero(self.alpha))
        return float(np.count_nonzero(self.hidden & (self.alpha > 0))) / n if n else 0.0


def tiles(grid: Grid, tile: int = TILE_SIZE) -> list[tuple[int, int, int, int]]:
    """``(r0, r1, c0, c1)`` of the tiles of ``grid``, row of tiles after row of tiles."""
    return [
        (r, min(r + tile, grid.rows), c, min(c + tile, grid.cols))
        for r in range(0, grid.rows, tile)
        for c in range(0, grid.cols, tile)
    ]


def memory_estimate(
    grid: Grid,
    views: Sequence[View],
    dsm_res: float | None = None,
    tile: int = TILE_SIZE,
    image_cache_bytes: int = IMAGE_CACHE_BYTES,
) -> int:
    """Bytes :func:`orthophoto` holds at its peak on ``grid`` (DSM cells of ``dsm_res`` m, None:
    no occlusion test): the output, one tile's working arrays (or the median's samples), the
    decoded photos kept between tiles and the copies made while one photo is decoded."""
    cells = grid.rows * grid.cols
    rows, cols = min(tile, grid.rows), min(tile, grid.cols)
    work = TILE_BYTES_PER_CELL * rows * cols
    if dsm_res is not None:
        k = grid.res / dsm_res
        dsm_cells = (rows * k + 2 * VIS_HALO + 1) * (cols * k + 2 * VIS_HALO + 1)
        work += int(VIS_BYTES_PER_DSM_CELL * dsm_cells)
    median = MEDIAN_BYTES_PER_SAMPLE * min(cells, MEDIAN_SAMPLES)
    photos = [3 * w * h for w, h in (v.size for v in views)] or [0]
    held = min(sum(photos), max(image_cache_bytes, max(photos)))
    return OUT_BYTES_PER_CELL * cells + max(work, median) + held + LOAD_COPIES * max(photos)


class _Photos:
    """Decoded photos kept while tiles need them, within ``budget`` bytes (least recently used
    dropped first; a dropped photo is decoded again when a later tile needs it)."""

    def __init__(self, load: Callable[[View], NDArray[np.uint8]], budget: int) -> None:
        self.load, self.budget = load, budget
        self.held: OrderedDict[int, NDArray[np.uint8]] = OrderedDict()
        self.loads = 0

    def get(self, k: int, v: View) -> NDArray[np.uint8]:
        if k in self.held:
            self.held.move_to_end(k)
            return self.held[k]
        w, h = v.size
        while self.held and sum(a.nbytes for a in self.held.values()) + 3 * w * h > self.budget:
            self.held.popitem(last=False)
        img = self.load(v)
        self.loads += 1
        self.held[k] = img
        return img

    def drop(self, k: int) -> None:
        self.held.pop(k, None)


def _window(v: View, grid: Grid, zmed: float) -> tuple[int, int, int, int]:
    """``(r0, r1, c0, c1)`` of the cells of ``grid`` ``v`` may see (its footprint, padded);
    empty when it sees none."""
    fp = v.footprint(zmed)
    if not np.isfinite(fp).all():
        return (0, 0, 0, 0)
    pad = 0.15 * float(np.ptp(fp[:, 0]) + np.ptp(fp[:, 1]))
    c0 = max(0, int((fp[:, 0].min() - pad - grid.left) / grid.res))
    c1 = min(grid.cols, int((fp[:, 0].max() + pad - grid.left) / grid.res) + 1)
    r0 = max(0, int((grid.top - fp[:, 1].max() - pad) / grid.res))
    r1 = min(grid.rows, int((grid.top - fp[:, 1].min() + pad) / grid.res) + 1)
    return (r0, max(r1, r0), c0, max(c1, c0))


def _median_height(
    surface: FloatArray | None, grid: Grid, dsm: FloatArray | None, dsm_grid: Grid | None
) -> float:
    """Median surface height; without ``surface``, of the DSM sampled on about
    :data:`MEDIAN_SAMPLES` cells of ``grid`` (every cell of a grid up to that size)."""
    if surface is None:
        assert dsm is not None and dsm_grid is not None
        step = max(1, int(np.ceil(np.sqrt(grid.rows * grid.cols / MEDIAN_SAMPLES))))
        xs, ys = grid.centres()
        gx, gy = np.meshgrid(xs[::step], ys[::step])
        surface = sample_raster(dsm, dsm_grid, gx, gy)
    return float(np.nanmedian(surface)) if np.isfinite(surface).any() else 0.0


def _remap(img: NDArray[np.uint8], uv: FloatArray) -> NDArray[np.uint8]:
    """(N, 3) bilinear colours of ``img`` at the pixel coordinates ``uv`` (OpenCV's remap, fed
    in rows of at most 4096: it takes no side of 32767 or more)."""
    import cv2

    n = len(uv)
    width = min(n, 4096)
    rows = -(-n // width)
    maps = np.full((2, rows * width), -10.0, dtype=np.float32)
    maps[:, :n] = (uv.T - 0.5).astype(np.float32)
    out = cv2.remap(
        img,
        maps[0].reshape(rows, width),
        maps[1].reshape(rows, width),
        cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_REPLICATE,
    )
    return np.asarray(out, dtype=np.uint8).reshape(-1, 3)[:n]


@dataclass
class _Tile:
    """Accumulators of one tile (float32: the weights are float32 already)."""

    acc: NDArray[np.float32]  # (n, 3) weighted colour sums
    wsum: NDArray[np.float32]
    best_w: NDArray[np.float32]
    best: NDArray[np.int16]
    clear: NDArray[np.bool_]

    @staticmethod
    def of(n: int) -> _Tile:
        return _Tile(
            np.zeros((n, 3), dtype=np.float32),
            np.zeros(n, dtype=np.float32),
            np.zeros(n, dtype=np.float32),
            np.full(n, -1, dtype=np.int16),
            np.zeros(n, dtype=bool),
        )


def _add_view(
    t: _Tile,
    k: int,
    v: View,
    photos: _Photos,
    gx: FloatArray,
    gy: FloatArray,
    gz: FloatArray,
    cells: NDArray[np.int64],
    zmed: float,
    dsm: FloatArray | None,
    dsm_grid: Grid | None,
) -> None:
    """Add photo ``k`` to the tile cells ``cells`` (flat indices) at ``gx, gy, gz``."""
    pts = np.column_stack([gx, gy, gz])
    ok_z = np.isfinite(gz)
    pts[~ok_z, 2] = zmed
    uv = v.project(pts)
    w, h = v.size
    inside = (
        ok_z
        & np.isfinite(uv).all(axis=1)
        & (uv[:, 0] >= 0)
        & (uv[:, 0] < w)
        & (uv[:, 1] >= 0)
        & (uv[:, 1] < h)
    )
    sel = np.flatnonzero(inside)
    if sel.size == 0:
        return
    pts, uv, cells = pts[sel], uv[sel], cells[sel]
    del inside, ok_z, sel
    ray = v.centre[None, :] - pts
    cos = ray[:, 2] / np.linalg.norm(ray, axis=1)
    del ray
    weight = np.maximum(np.clip(cos, 0.0, 1.0) ** NADIR_POWER, MIN_WEIGHT) * np.maximum(
        _border_weight(uv, w, h), 1e-3
    )
    del cos
    seen: NDArray[np.bool_] | bool = True
    if dsm is not None and dsm_grid is not None:
        ci = np.clip(((pts[:, 0] - dsm_grid.left) / dsm_grid.res).astype(np.int64), 0, None)
        ri = np.clip(((dsm_grid.top - pts[:, 1]) / dsm_grid.res).astype(np.int64), 0, None)
        ci = np.minimum(ci, dsm_grid.cols - 1)
        ri = np.minimum(ri, dsm_grid.rows - 1)
        f = _visibility_weight(v, dsm, dsm_grid, ri, ci)
        weight = np.where(f > 0.0, weight * f, OCCLUDED_WEIGHT)
        seen = f > 0.0
    del pts
    wt = weight.astype(np.float32)
    rgb = _remap(photos.get(k, v), uv)
    t.acc[cells] += rgb.astype(np.float32) * wt[:, None]
    t.wsum[cells] += wt
    t.clear[cells] |= seen
    better = wt > t.best_w[cells]
    t.best_w[cells[better]] = wt[better]
    t.best[cells[better]] = k


def orthophoto(
    views: Sequence[View],
    surface: FloatArray | None,
    grid: Grid,
    load: Callable[[View], NDArray[np.uint8]],
    tick: Callable[[], None] | None = None,
    dsm: FloatArray | None = None,
    dsm_grid: Grid | None = None,
    tile: int = TILE_SIZE,
    image_cache_bytes: int = IMAGE_CACHE_BYTES,
) -> OrthoResult:
    """The orthophoto of ``views`` on ``grid``, built tile by tile (``tick`` after each tile).

    ``surface`` holds the height of each cell of ``grid`` (NaN: no surface, transparent); None:
    the heights are sampled (bilinearly) from ``dsm`` tile by tile, so no grid-sized float
    array exists. ``dsm`` on ``dsm_grid`` (usually the same surface, coarser) is what may
    occlude a view; without it no occlusion test is made. Besides the output (7 bytes a cell)
    the step holds one tile's arrays and the decoded photos the coming tiles need (at most
    ``image_cache_bytes``, or the largest photo): :func:`memory_estimate`.
    """
    if surface is None and (dsm is None or dsm_grid is None):
        raise ValueError("orthophoto: no surface and no DSM")
    rgb = np.zeros((grid.rows, grid.cols, 3), dtype=np.uint8)
    alpha = np.zeros((grid.rows, grid.cols), dtype=np.uint8)
    best = np.full((grid.rows, grid.cols), -1, dtype=np.int16)
    hidden = np.zeros((grid.rows, grid.cols), dtype=bool)
    xs, ys = grid.centres()
    zmed = _median_height(surface, grid, dsm, dsm_grid)
    win = np.array([_window(v, grid, zmed) for v in views], dtype=np.int64).reshape(-1, 4)
    tl = tiles(grid, tile)
    tt = np.array(tl, dtype=np.int64).reshape(-1, 4)
    # which photo may see which tile, and the last tile each is needed in (then it is dropped)
    hits = (
        (win[None, :, 0] < tt[:, None, 1])
        & (tt[:, None, 0] < win[None, :, 1])
        & (win[None, :, 2] < tt[:, None, 3])
        & (tt[:, None, 2] < win[None, :, 3])
        & (win[None, :, 1] > win[None, :, 0])
        & (win[None, :, 3] > win[None, :, 2])
    )
    last = np.where(hits.any(axis=0), len(tl) - 1 - np.argmax(hits[::-1], axis=0), -1)
    photos = _Photos(load, image_cache_bytes)
    for ti, (r0, r1, c0, c1) in enumerate(tl):
        if surface is not None:
            z = np.asarray(surface[r0:r1, c0:c1], dtype=np.float64)
        else:
            assert dsm is not None and dsm_grid is not None
            tx, ty = np.meshgrid(xs[c0:c1], ys[r0:r1])
            z = sample_raster(dsm, dsm_grid, tx, ty)
            del tx, ty
        tcols = c1 - c0
        t = _Tile.of((r1 - r0) * tcols)
        for k in map(int, np.flatnonzero(hits[ti])):
            a0, a1 = max(r0, int(win[k, 0])), min(r1, int(win[k, 1]))
            b0, b1 = max(c0, int(win[k, 2])), min(c1, int(win[k, 3]))
            gx, gy = np.meshgrid(xs[b0:b1], ys[a0:a1])
            cc, rr = np.meshgrid(np.arange(b0 - c0, b1 - c0), np.arange(a0 - r0, a1 - r0))
            _add_view(
                t,
                k,
                views[k],
                photos,
                gx.ravel(),
                gy.ravel(),
                z[a0 - r0 : a1 - r0, b0 - c0 : b1 - c0].ravel(),
                (rr * tcols + cc).ravel(),
                zmed,
                dsm,
                dsm_grid,
            )
            if last[k] == ti:
                photos.drop(k)
        valid = t.wsum > 0.0
        out = np.zeros((len(valid), 3), dtype=np.uint8)
        out[valid] = np.clip(t.acc[valid] / t.wsum[valid][:, None] + 0.5, 0, 255).astype(np.uint8)
        shape = (r1 - r0, tcols)
        rgb[r0:r1, c0:c1] = out.reshape((*shape, 3))
        alpha[r0:r1, c0:c1] = np.where(valid, 255, 0).reshape(shape)
        best[r0:r1, c0:c1] = t.best.reshape(shape)
        hidden[r0:r1, c0:c1] = (valid & ~t.clear).reshape(shape)
        if tick:
            tick()
    log.debug("orthophoto: %d tiles, %d decodes of %d photos", len(tl), photos.loads, len(views))
    return OrthoResult(rgb, alpha, best, hidden)
