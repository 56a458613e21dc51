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
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from photo.surface import Grid

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
#: longest ray march (DSM cells) towards a camera
MAX_MARCH_CELLS = 400


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
    from photo.surface import sample_raster

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
    v: View, dsm: FloatArray, dsm_grid: Grid, x0: float, y0: float, x1: float, y1: float
) -> tuple[FloatArray, Grid]:
    """Feathered visibility (0 occluded … 1 clear) of ``v`` on the DSM cells of a window."""
    from scipy.ndimage import distance_transform_edt

    c0 = max(0, int((x0 - dsm_grid.left) / dsm_grid.res) - 1)
    c1 = min(dsm_grid.cols, int((x1 - dsm_grid.left) / dsm_grid.res) + 2)
    r0 = max(0, int((dsm_grid.top - y1) / dsm_grid.res) - 1)
    r1 = min(dsm_grid.rows, int((dsm_grid.top - y0) / dsm_grid.res) + 2)
    sub = Grid(
        dsm_grid.left + c0 * dsm_grid.res,
        dsm_grid.top - r0 * dsm_grid.res,
        dsm_grid.res,
        max(c1 - c0, 1),
        max(r1 - r0, 1),
    )
    if c1 <= c0 or r1 <= r0:
        return np.ones((1, 1)), sub
    xs, ys = sub.centres()
    gx, gy = np.meshgrid(xs, ys)
    gz = dsm[r0:r1, c0:c1]
    tol = max(0.5, 2.0 * dsm_grid.res)
    vis = visible(v.centre, gx.ravel(), gy.ravel(), gz.ravel(), dsm, dsm_grid, tol).reshape(
        gz.shape
    )
    if vis.all():
        return np.ones(gz.shape), sub
    dist = np.asarray(distance_transform_edt(vis))
    return np.asarray(np.clip(dist / VIS_FEATHER_CELLS, 0.0, 1.0)), sub


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


def orthophoto(
    views: Sequence[View],
    surface: FloatArray,
    grid: Grid,
    load: Callable[[View], NDArray[np.uint8]],
    tick: Callable[[], None] | None = None,
    dsm: FloatArray | None = None,
    dsm_grid: Grid | None = None,
) -> OrthoResult:
    """The orthophoto of ``views`` on ``grid``.

    ``surface`` holds the height of each cell of ``grid`` (NaN: no surface, transparent);
    ``dsm`` on ``dsm_grid`` (usually the same surface, coarser) is what may occlude a view.
    Without it no occlusion test is made.
    """
    import cv2

    acc = np.zeros((grid.rows, grid.cols, 3), dtype=np.float32)
    wsum = np.zeros((grid.rows, grid.cols), dtype=np.float32)
    best_w = np.zeros((grid.rows, grid.cols), dtype=np.float32)
    best = np.full((grid.rows, grid.cols), -1, dtype=np.int16)
    clear = np.zeros((grid.rows, grid.cols), dtype=bool)
    xs, ys = grid.centres()
    zmed = float(np.nanmedian(surface)) if np.isfinite(surface).any() else 0.0
    for k, v in enumerate(views):
        fp = v.footprint(zmed)
        if not np.isfinite(fp).all():
            if tick:
                tick()
            continue
        pad = 0.15 * float(np.ptp(fp[:, 0]) + np.ptp(fp[:, 1]))
        c0 = max(0, int((fp[:, 0].min() - pad - grid.left) / grid.res))
        c1 = min(grid.cols, int((fp[:, 0].max() + pad - grid.left) / grid.res) + 1)
        r0 = max(0, int((grid.top - fp[:, 1].max() - pad) / grid.res))
        r1 = min(grid.rows, int((grid.top - fp[:, 1].min() + pad) / grid.res) + 1)
        if c1 <= c0 or r1 <= r0:
            if tick:
                tick()
            continue
        gx, gy = np.meshgrid(xs[c0:c1], ys[r0:r1])
        gz = surface[r0:r1, c0:c1]
        pts = np.column_stack([gx.ravel(), gy.ravel(), gz.ravel()])
        ok_z = np.isfinite(pts[:, 2])
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
        if not inside.any():
            if tick:
                tick()
            continue
        ray = v.centre[None, :] - pts
        cos = ray[:, 2] / np.linalg.norm(ray, axis=1)
        weight = np.where(
            inside,
            np.maximum(np.clip(cos, 0.0, 1.0) ** NADIR_POWER, MIN_WEIGHT)
            * np.maximum(_border_weight(np.nan_to_num(uv), w, h), 1e-3),
            0.0,
        )
        seen = inside.copy()
        if dsm is not None and dsm_grid is not None:
            sel = np.flatnonzero(inside)
            vw, sub = _visibility_weight(
                v,
                dsm,
                dsm_grid,
                float(pts[sel, 0].min()),
                float(pts[sel, 1].min()),
                float(pts[sel, 0].max()),
                float(pts[sel, 1].max()),
            )
            ci = np.clip(((pts[sel, 0] - sub.left) / sub.res).astype(np.int64), 0, sub.cols - 1)
            ri = np.clip(((sub.top - pts[sel, 1]) / sub.res).astype(np.int64), 0, sub.rows - 1)
            f = vw[ri, ci]
            weight[sel] = np.where(f > 0.0, weight[sel] * f, OCCLUDED_WEIGHT)
            seen[sel] = f > 0.0
        img = load(v)
        shape = gx.shape
        mx = (np.nan_to_num(uv[:, 0], nan=-10.0) - 0.5).astype(np.float32).reshape(shape)
        my = (np.nan_to_num(uv[:, 1], nan=-10.0) - 0.5).astype(np.float32).reshape(shape)
        rgb = cv2.remap(img, mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        wt = weight.astype(np.float32).reshape(shape)
        acc[r0:r1, c0:c1] += rgb.astype(np.float32) * wt[..., None]
        wsum[r0:r1, c0:c1] += wt
        clear[r0:r1, c0:c1] |= seen.reshape(shape)
        better = wt > best_w[r0:r1, c0:c1]
        best_w[r0:r1, c0:c1][better] = wt[better]
        best[r0:r1, c0:c1][better] = k
        if tick:
            tick()
    valid = wsum > 0.0
    out = np.zeros((grid.rows, grid.cols, 3), dtype=np.uint8)
    out[valid] = np.clip(acc[valid] / wsum[valid][:, None] + 0.5, 0, 255).astype(np.uint8)
    alpha = np.where(valid, 255, 0).astype(np.uint8)
    return OrthoResult(out, alpha, best, valid & ~clear)
