"""Structure from motion with pycolmap: SIFT, spatial matching on GPS priors, incremental mapping.

Why pycolmap: COLMAP is the reference incremental SfM (the one OpenSfM and ODM results are
compared against), its CPU wheels install from PyPI with no compiler, and its database keeps
every stage inspectable. The steps here are thin: :func:`prepare_workspace` lays out one folder
per physical camera, :func:`extract` runs SIFT once per camera with that camera's EXIF
intrinsics (so two cameras in one capture are two intrinsics), :func:`write_priors` replaces the
GPS priors by Cartesian ones in the output CRS (relative to an origin, for conditioning),
:func:`match` pairs photos by GPS distance, :func:`reconstruct` maps with the focal length held
fixed (free self-calibration on a flat nadir capture drifts the focal length and the height) and
the prior positions in the bundle adjustment; :func:`refine_with_priors` is the final bundle
adjustment with the GPS priors, after georeferencing, which also refines each camera's principal
point.

Why the principal point: on Toledo the cameras' GPS residuals alternated by ±1.5 m across
the track from one flight line to the next (the drone turns 180° between lines). A principal
point off by Δ px shifts a nadir camera's estimated centre sideways by height × Δ / f in the
image's frame, which turns with the heading: no similarity of the model can absorb it, but the
GPS priors of lines flown both ways make it observable. Refining it (the focal length stays
fixed) moved the FC350's principal point by 11 px and brought the horizontal RMS from 1.38 to
0.79 m at the same reprojection error (bench/bench_photo.py).
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from dronekit_plzen.errors import DronekitPlzenError
from dronekit_plzen.i18n import _
from photo.exif import PhotoMeta, cameras_of

log = logging.getLogger(__name__)


class ReconstructionError(DronekitPlzenError):
    """Structure from motion could not build a model from the photos (exit code 1)."""


#: COLMAP's log lines (glog): severity letter, date, time, thread, ``file:line] message``
_GLOG_LINE = re.compile(r"^([IWEF])\d{8} [\d:.]+ +\d+ ([^\]]*)\] ?(.*)$")


@contextlib.contextmanager
def colmap_log(path: Path) -> Iterator[None]:
    """COLMAP's own log (C++ glog) goes to the file ``path`` while the block runs, not to the
    console: a failing step is one line of ours ("no model could be built …"), not COLMAP's
    ``E… sfm.cc:…] Failed to create any sparse model`` before it, and glog leaves no
    ``*.log.INFO.*`` files in /tmp. Warnings and errors are kept in the file (in the workspace:
    see ``--keep-work``); the errors are passed on to this module's logger (shown with
    ``-v``). glog's settings are the process's: they are restored after the block (its files
    stay off)."""
    import pycolmap

    glog = pycolmap.logging
    saved = (glog.minloglevel, glog.stderrthreshold, glog.alsologtostderr, glog.logtostderr)
    path.parent.mkdir(parents=True, exist_ok=True)
    glog.logtostderr = False
    glog.alsologtostderr = False
    glog.stderrthreshold = 3  # FATAL only: COLMAP aborts the process on those anyway
    glog.minloglevel = 1  # warnings and errors into the file; INFO is per-image chatter
    # glog writes a message into the file of its severity and of every lower one: one file
    # (INFO's, named from ``path``) holds them all; the others are turned off
    glog.set_log_destination(glog.INFO, f"{path}.")
    for level in (glog.WARNING, glog.ERROR, glog.FATAL):
        glog.set_log_destination(level, "")
    try:
        yield
    finally:
        glog.set_log_destination(glog.INFO, "")  # closes the file; no files in /tmp either
        glog.minloglevel, glog.stderrthreshold, glog.alsologtostderr, glog.logtostderr = saved
        for line in _colmap_errors(path.parent, path.name):
            log.info("COLMAP: %s", line)


def _colmap_errors(folder: Path, prefix: str) -> list[str]:
    """The error lines (``file:line] message``) of the COLMAP logs ``prefix.*`` in ``folder``."""
    out = []
    for f in sorted(folder.glob(prefix + ".*")):
        try:
            text = f.read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue
        for line in text.splitlines():
            m = _GLOG_LINE.match(line)
            if m and m.group(1) in "EF":
                out.append(f"{m.group(2)}] {m.group(3)}")
    return out


#: the longest image side features may be extracted at: the largest photo Pillow reads
#: (179 megapixels) is about 16,000 pixels long
MAX_IMAGE_PX = 20_000
#: the most SIFT features per photo (COLMAP's default is 8,192; 65,536 is already slow)
MAX_FEATURES = 200_000


@dataclass(frozen=True)
class SfmOptions:
    """Options of the SfM stage. Lengths in metres, sizes in pixels."""

    max_image_px: int = 1600
    max_features: int = 8192
    max_neighbors: int = 16
    max_distance_m: float = 0.0  # 0: from the footprint (2.5 × the mean flight height)
    prior_sigma_h_m: float = 3.0
    prior_sigma_v_m: float = 6.0
    use_prior_position: bool = True
    refine_focal_length: bool = False
    #: the final bundle adjustment with the GPS priors refines each camera's principal point
    refine_principal_point: bool = True
    #: fewest photos of one camera for its principal point to be refined
    min_photos_principal_point: int = 8
    num_threads: int = -1
    seed: int = 0

    def check(self) -> list[str]:
        errs = []
        if self.max_image_px < 200:
            errs.append(_("max_image_px must be at least 200"))
        elif self.max_image_px > MAX_IMAGE_PX:  # COLMAP's int: an overflow, not a bigger image
            errs.append(
                _("--max-image-px must be at most {most}, got {n}").format(
                    most=MAX_IMAGE_PX, n=self.max_image_px
                )
            )
        if self.max_features < 500:
            errs.append(_("max_features must be at least 500"))
        elif self.max_features > MAX_FEATURES:
            errs.append(
                _("--features must be at most {most}, got {n}").format(
                    most=MAX_FEATURES, n=self.max_features
                )
            )
        if self.prior_sigma_h_m <= 0 or self.prior_sigma_v_m <= 0:
            errs.append(_("prior sigmas must be positive"))
        return errs


def image_name(photo: PhotoMeta) -> str:
    """The name of a photo inside the workspace: ``<camera>/<name in the job>``."""
    return f"{photo.camera_key}/{photo.job_name}"


def prepare_workspace(photos: Sequence[PhotoMeta], work: Path) -> Path:
    """Symlink each photo into ``work/images/<camera>/``; return the image root."""
    root = work / "images"
    for p in photos:
        d = root / p.camera_key
        d.mkdir(parents=True, exist_ok=True)
        link = d / p.job_name
        if link.is_symlink() or link.exists():
            link.unlink()
        os.symlink(p.path.resolve(), link)
    return root


def extract(
    photos: Sequence[PhotoMeta],
    db_path: Path,
    image_root: Path,
    opts: SfmOptions,
    tick: Callable[[int], None] | None = None,
) -> None:
    """SIFT features into the database, one camera (EXIF intrinsics) per physical camera."""
    import pycolmap

    ext = pycolmap.FeatureExtractionOptions()
    ext.max_image_size = opts.max_image_px
    ext.num_threads = opts.num_threads
    ext.use_gpu = False
    ext.sift.max_num_features = opts.max_features
    for _key, group in sorted(cameras_of(photos).items()):
        first = group[0]
        reader = pycolmap.ImageReaderOptions()
        reader.camera_model = "SIMPLE_RADIAL"
        reader.camera_params = (
            f"{first.focal_px:.3f},{first.width_px / 2.0:.3f},{first.height_px / 2.0:.3f},0"
        )
        pycolmap.extract_features(
            db_path,
            image_root,
            image_names=[image_name(p) for p in group],
            camera_mode=pycolmap.CameraMode.SINGLE,
            reader_options=reader,
            extraction_options=ext,
            device=pycolmap.Device.cpu,
        )
        if tick:
            tick(len(group))


def write_priors(
    db_path: Path,
    names: dict[str, np.ndarray],
    opts: SfmOptions,
) -> None:
    """Replace the database's pose priors by Cartesian ones (``names``: image name → xyz)."""
    import pycolmap

    cov = np.diag([opts.prior_sigma_h_m**2, opts.prior_sigma_h_m**2, opts.prior_sigma_v_m**2])
    db = pycolmap.Database.open(db_path)
    try:
        db.clear_pose_priors()
        for img in db.read_all_images():
            xyz = names.get(img.name)
            if xyz is None:
                continue
            prior = pycolmap.PosePrior(
                position=np.asarray(xyz, dtype=np.float64),
                position_covariance=cov,
                coordinate_system=pycolmap.PosePriorCoordinateSystem.CARTESIAN,
                corr_data_id=img.data_id,
            )
            db.write_pose_prior(prior)
    finally:
        db.close()


def match(db_path: Path, opts: SfmOptions, max_distance_m: float) -> None:
    """Spatial matching: each photo against its GPS neighbours, then geometric verification."""
    import pycolmap

    mopts = pycolmap.FeatureMatchingOptions()
    mopts.num_threads = opts.num_threads
    mopts.use_gpu = False
    pairing = pycolmap.SpatialPairingOptions()
    pairing.ignore_z = True
    pairing.max_num_neighbors = opts.max_neighbors
    pairing.max_distance = max_distance_m
    pycolmap.match_spatial(
        db_path, matching_options=mopts, pairing_options=pairing, device=pycolmap.Device.cpu
    )


def reconstruct(
    db_path: Path,
    image_root: Path,
    out: Path,
    opts: SfmOptions,
    tick: Callable[[], None] | None = None,
) -> object:
    """Incremental mapping; returns the largest pycolmap.Reconstruction."""
    import pycolmap

    pipe = pycolmap.IncrementalPipelineOptions()
    pipe.num_threads = opts.num_threads
    pipe.random_seed = opts.seed
    pipe.multiple_models = True
    pipe.min_model_size = 3
    pipe.ba_refine_focal_length = opts.refine_focal_length
    pipe.ba_refine_principal_point = False
    pipe.ba_refine_extra_params = True
    pipe.mapper.abs_pose_refine_focal_length = opts.refine_focal_length
    pipe.use_prior_position = opts.use_prior_position
    pipe.use_robust_loss_on_prior_position = True
    out.mkdir(parents=True, exist_ok=True)
    maps = pycolmap.incremental_mapping(
        db_path,
        image_root,
        out,
        options=pipe,
        next_image_callback=tick or (lambda: None),
    )
    if not maps:
        raise ReconstructionError(
            _("no model could be built: the photos do not overlap enough or have too few features")
        )
    best = max(maps.values(), key=lambda r: r.num_reg_images())
    return best


@dataclass(frozen=True)
class PriorBaResult:
    """What the final bundle adjustment with GPS priors changed."""

    usable: bool
    principal_point_shift_px: dict[int, float]  # camera id → |Δ(cx, cy)|
    cameras_fixed: tuple[int, ...]  # cameras with too few photos: intrinsics held


def refine_with_priors(
    rec: Any, prior_xyz: dict[str, np.ndarray], opts: SfmOptions
) -> PriorBaResult:
    """Bundle-adjust ``rec`` (in place, already in the priors' frame) with the GPS priors.

    The position priors carry :attr:`SfmOptions.prior_sigma_h_m` / ``prior_sigma_v_m`` under a
    Cauchy loss (a bad GPS fix is down-weighted, not followed); the focal length stays fixed,
    the principal point and radial distortion are refined for cameras with enough photos.
    """
    import pycolmap

    ba = pycolmap.BundleAdjustmentOptions()
    ba.refine_focal_length = opts.refine_focal_length
    ba.refine_principal_point = opts.refine_principal_point
    ba.refine_extra_params = True
    ba.print_summary = False
    ba.ceres.solver_options.num_threads = opts.num_threads
    prior_opts = pycolmap.PosePriorBundleAdjustmentOptions()
    prior_opts.ceres.prior_position_loss_function_type = pycolmap.LossFunctionType.CAUCHY
    cov = np.diag([opts.prior_sigma_h_m**2, opts.prior_sigma_h_m**2, opts.prior_sigma_v_m**2])
    config = pycolmap.BundleAdjustmentConfig()
    priors = []
    count: dict[int, int] = {}
    for im in rec.images.values():
        if not im.has_pose:
            continue
        config.add_image(im.image_id)
        count[im.camera_id] = count.get(im.camera_id, 0) + 1
        xyz = prior_xyz.get(im.name)
        if xyz is not None:
            priors.append(
                pycolmap.PosePrior(
                    position=np.asarray(xyz, dtype=np.float64),
                    position_covariance=cov,
                    coordinate_system=pycolmap.PosePriorCoordinateSystem.CARTESIAN,
                    corr_data_id=im.data_id,
                )
            )
    fixed = tuple(sorted(c for c, n in count.items() if n < opts.min_photos_principal_point))
    for cam_id in fixed:
        config.set_constant_cam_intrinsics(cam_id)
    before = {c: _pp(rec.cameras[c]) for c in count}
    summary = pycolmap.create_pose_prior_bundle_adjuster(
        ba, prior_opts, config, priors, rec
    ).solve()
    shift = {c: float(np.linalg.norm(_pp(rec.cameras[c]) - before[c])) for c in count}
    return PriorBaResult(bool(summary.is_solution_usable()), shift, fixed)


def _pp(cam: Any) -> np.ndarray:
    return np.array([float(cam.principal_point_x), float(cam.principal_point_y)])
