"""Orthophoto: every photo projected onto the surface, the most nadir view winning per pixel.

For each ground cell (x, y, z from the surface) and each registered photo the cell is projected
into the photo with the photo's own camera model. Its weight is ``cos(off-nadir angle) ** 256``
(the ray from the cell to the camera: the most nadir view dominates, near-ties blend, which hides
the seams) times a feather towards the photo's border. Cells no photo sees are transparent
(alpha 0). Arrays in, arrays out; the photo pixels come from the ``load`` callable.
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


def _border_weight(uv: FloatArray, w: int, h: int) -> FloatArray:
    d = np.minimum.reduce([uv[:, 0], w - uv[:, 0], uv[:, 1], h - uv[:, 1]])
    return np.asarray(np.clip(d / (FEATHER * min(w, h)), 0.0, 1.0))


def orthophoto(
    views: Sequence[View],
    surface: FloatArray,
    grid: Grid,
    load: Callable[[View], NDArray[np.uint8]],
    tick: Callable[[], None] | None = None,
) -> tuple[NDArray[np.uint8], NDArray[np.uint8], NDArray[np.int16]]:
    """RGB (rows, cols, 3), alpha (rows, cols) and the index of the dominant view per cell.

    ``surface`` holds the height of each cell of ``grid`` (NaN: no surface, transparent).
    """
    import cv2

    acc = np.zeros((grid.rows, grid.cols, 3), dtype=np.float32)
    wsum = np.zeros((grid.rows, grid.cols), dtype=np.float32)
    best_w = np.zeros((grid.rows, grid.cols), dtype=np.float32)
    best = np.full((grid.rows, grid.cols), -1, dtype=np.int16)
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
        ).astype(np.float32)
        img = load(v)
        shape = gx.shape
        mx = (np.nan_to_num(uv[:, 0], nan=-10.0) - 0.5).astype(np.float32).reshape(shape)
        my = (np.nan_to_num(uv[:, 1], nan=-10.0) - 0.5).astype(np.float32).reshape(shape)
        rgb = cv2.remap(img, mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        wt = weight.reshape(shape)
        acc[r0:r1, c0:c1] += rgb.astype(np.float32) * wt[..., None]
        wsum[r0:r1, c0:c1] += wt
        better = wt > best_w[r0:r1, c0:c1]
        best_w[r0:r1, c0:c1][better] = wt[better]
        best[r0:r1, c0:c1][better] = k
        if tick:
            tick()
    valid = wsum > 0.0
    out = np.zeros((grid.rows, grid.cols, 3), dtype=np.uint8)
    out[valid] = np.clip(acc[valid] / wsum[valid][:, None] + 0.5, 0, 255).astype(np.uint8)
    alpha = np.where(valid, 255, 0).astype(np.uint8)
    return out, alpha, best
