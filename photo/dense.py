"""Dense points on the CPU: OpenCV semi-global matching on rectified neighbouring pairs.

COLMAP's PatchMatch stereo needs CUDA, which this machine (and CI) lacks; OpenCV's StereoSGBM
(Hirschmüller's semi-global matching) runs on the CPU in about a second per pair at 800 px.
For each registered photo, :func:`choose_pairs` picks the neighbour with a useful base-to-height
ratio (0.12–0.6, nearest 0.3) and nearly parallel viewing direction; :func:`pair_points`
rectifies the pair with the model's poses and intrinsics, limits the disparity search to the
depths of the sparse points, matches, and triangulates every second pixel into world points with
the colour of the first photo. The surface step grids all pairs' points (median per cell), which
also removes most single-pair blunders.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from photo.ortho import View

FloatArray = NDArray[np.float64]


@dataclass(frozen=True)
class DenseOptions:
    max_image_px: int = 800
    block_size: int = 5
    step_px: int = 2  # keep every n-th pixel of a disparity map
    base_height_min: float = 0.12
    base_height_max: float = 0.6
    base_height_best: float = 0.3

    def check(self) -> list[str]:
        from dronekit_plzen.i18n import _

        errs = []
        if self.max_image_px < 200 or self.step_px < 1 or self.block_size not in (3, 5, 7, 9, 11):
            errs.append(_("dense: max_image_px >= 200, step_px >= 1, odd block_size 3–11"))
        if not 0 < self.base_height_min < self.base_height_best < self.base_height_max:
            errs.append(_("dense: base-to-height ratios must be 0 < min < best < max"))
        return errs


def choose_pairs(
    views: Sequence[View], ground_z: float, opts: DenseOptions
) -> list[tuple[int, int]]:
    """One partner per photo (pairs listed once), by base-to-height ratio and view angle."""
    pairs: set[tuple[int, int]] = set()
    centres = np.array([v.centre for v in views])
    looks = np.array([v.rotation[2] for v in views])  # viewing direction in world (row 3 of R)
    for i in range(len(views)):
        h = max(centres[i, 2] - ground_z, 1.0)
        b = np.linalg.norm(centres - centres[i], axis=1) / h
        ang = np.degrees(np.arccos(np.clip(looks @ looks[i], -1.0, 1.0)))
        ok = (b >= opts.base_height_min) & (b <= opts.base_height_max) & (ang < 15.0)
        ok[i] = False
        if not ok.any():
            continue
        cand = np.flatnonzero(ok)
        j = int(cand[np.argmin(np.abs(b[cand] - opts.base_height_best))])
        pairs.add((min(i, j), max(i, j)))
    return sorted(pairs)


def _k_and_dist(view: View, scale: float) -> tuple[FloatArray, FloatArray]:
    """OpenCV intrinsics (pixel-centre convention) of a SIMPLE_RADIAL/RADIAL/PINHOLE camera."""
    cam = view.camera
    name = cam.model_name
    p = [float(x) for x in cam.params]
    if name in ("SIMPLE_PINHOLE", "SIMPLE_RADIAL", "RADIAL"):
        fx = fy = p[0]
        cx, cy = p[1], p[2]
        k1 = p[3] if len(p) > 3 else 0.0
        k2 = p[4] if name == "RADIAL" else 0.0
    elif name in ("PINHOLE", "OPENCV"):
        fx, fy, cx, cy = p[:4]
        k1 = p[4] if name == "OPENCV" else 0.0
        k2 = p[5] if name == "OPENCV" else 0.0
    else:
        raise ValueError(f"camera model {name} not supported by dense matching")
    k = np.array(
        [[fx * scale, 0.0, cx * scale - 0.5], [0.0, fy * scale, cy * scale - 0.5], [0, 0, 1.0]]
    )
    return k, np.array([k1, k2, 0.0, 0.0, 0.0])


def pair_points(
    a: View,
    b: View,
    load_gray: Callable[[View, float], NDArray[np.uint8]],
    load_rgb: Callable[[View, float], NDArray[np.uint8]],
    sparse_xyz: FloatArray,
    opts: DenseOptions,
    swapped: bool = False,
) -> tuple[FloatArray, NDArray[np.uint8]]:
    """World points (N, 3) and colours (N, 3) matched between photos ``a`` and ``b``."""
    import cv2

    w, h = a.size
    scale = min(1.0, opts.max_image_px / max(w, h))
    size = (round(w * scale), round(h * scale))
    # the rectified frame is rotated relative to the photo: a larger canvas keeps all of it
    big = round(float(np.hypot(*size)))
    out_size = (big, big)
    k1, d1 = _k_and_dist(a, scale)
    k2, d2 = _k_and_dist(b, scale)
    r_rel = b.rotation @ a.rotation.T
    t_rel = b.translation - r_rel @ a.translation
    r1, r2, p1, p2, _q, _roi1, _roi2 = cv2.stereoRectify(
        k1,
        d1,
        k2,
        d2,
        size,
        r_rel,
        t_rel.reshape(3, 1),
        flags=cv2.CALIB_ZERO_DISPARITY,
        alpha=1,
        newImageSize=out_size,
    )
    vertical = abs(p2[1, 3]) > abs(p2[0, 3])
    f = float(p1[0, 0])
    base = -float(p2[1, 3] if vertical else p2[0, 3]) / f
    m1 = cv2.initUndistortRectifyMap(k1, d1, r1, p1, out_size, cv2.CV_32FC1)
    m2 = cv2.initUndistortRectifyMap(k2, d2, r2, p2, out_size, cv2.CV_32FC1)
    g1 = cv2.remap(load_gray(a, scale), m1[0], m1[1], cv2.INTER_LINEAR)
    g2 = cv2.remap(load_gray(b, scale), m2[0], m2[1], cv2.INTER_LINEAR)
    c1 = cv2.remap(load_rgb(a, scale), m1[0], m1[1], cv2.INTER_LINEAR)
    valid1 = cv2.remap(
        np.full((size[1], size[0]), 255, np.uint8),
        m1[0],
        m1[1],
        cv2.INTER_NEAREST,
        borderMode=cv2.BORDER_CONSTANT,
        borderValue=0,
    )
    # depth range from the sparse points in front of the rectified first camera
    xr = (sparse_xyz @ a.rotation.T + a.translation) @ r1.T
    z = xr[:, 2]
    z = z[z > 0]
    if len(z) < 20 or abs(base) < 1e-6:
        return np.empty((0, 3)), np.empty((0, 3), np.uint8)
    zlo, zhi = np.percentile(z, [1, 99])
    if base < 0:  # the second camera is on the other side: swap the photos' roles
        if swapped:
            return np.empty((0, 3)), np.empty((0, 3), np.uint8)
        return pair_points(b, a, load_gray, load_rgb, sparse_xyz, opts, swapped=True)
    dmin = f * base / (zhi * 1.15)
    dmax = f * base / (zlo * 0.85)
    if vertical:
        g1, g2 = np.ascontiguousarray(g1.T), np.ascontiguousarray(g2.T)
    nd = int(np.ceil((dmax - dmin) / 16.0)) * 16
    if nd <= 0 or nd > 512:
        return np.empty((0, 3)), np.empty((0, 3), np.uint8)
    bs = opts.block_size
    sgbm = cv2.StereoSGBM_create(  # type: ignore[attr-defined]
        minDisparity=int(np.floor(dmin)),
        numDisparities=nd,
        blockSize=bs,
        P1=8 * bs * bs,
        P2=32 * bs * bs,
        disp12MaxDiff=1,
        uniquenessRatio=10,
        speckleWindowSize=100,
        speckleRange=2,
        mode=cv2.STEREO_SGBM_MODE_SGBM_3WAY,
    )
    disp = sgbm.compute(g1, g2).astype(np.float32) / 16.0
    if vertical:
        disp = disp.T
    s = opts.step_px
    dd = disp[::s, ::s]
    ys, xs = np.mgrid[0 : out_size[1] : s, 0 : out_size[0] : s]
    ok = (dd > np.floor(dmin)) & (dd < dmax) & (valid1[::s, ::s] > 0)
    d = dd[ok].astype(np.float64)
    zc = f * base / d
    cx, cy = float(p1[0, 2]), float(p1[1, 2])
    x_rect = np.column_stack([(xs[ok] - cx) * zc / f, (ys[ok] - cy) * zc / float(p1[1, 1]), zc])
    x_cam = x_rect @ r1  # R1^T applied row-wise
    world = (x_cam - a.translation) @ a.rotation  # R^T (x - t)
    rgb = c1[::s, ::s][ok]
    return world, rgb


def dense_points(
    views: Sequence[View],
    pairs: Sequence[tuple[int, int]],
    load_gray: Callable[[View, float], NDArray[np.uint8]],
    load_rgb: Callable[[View, float], NDArray[np.uint8]],
    sparse_xyz: FloatArray,
    opts: DenseOptions,
    tick: Callable[[], None] | None = None,
) -> tuple[FloatArray, NDArray[np.uint8], int]:
    """All pairs' points, kept within the sparse cloud's height range (± 10 m)."""
    zlo, zhi = np.percentile(sparse_xyz[:, 2], [0.5, 99.5])
    out_x, out_c, used = [], [], 0
    for i, j in pairs:
        xyz, rgb = pair_points(views[i], views[j], load_gray, load_rgb, sparse_xyz, opts)
        keep = (xyz[:, 2] > zlo - 10.0) & (xyz[:, 2] < zhi + 10.0) if len(xyz) else []
        if len(xyz):
            out_x.append(xyz[keep])
            out_c.append(rgb[keep])
            used += 1
        if tick:
            tick()
    if not out_x:
        return np.empty((0, 3)), np.empty((0, 3), np.uint8), 0
    return np.vstack(out_x), np.vstack(out_c), used
