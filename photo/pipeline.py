"""The ``photo process`` job: a list of named steps over one small state object.

``process(paths, options)`` validates the options completely, then runs :data:`STEPS` in order:
read metadata → features → matching → mapping → georeferencing → surface → orthophoto →
products. Each step records its wall time; long steps report progress through a
:class:`Progress` (the CLI's is a rich bar; the default is silent). The result is the report
dictionary also written to ``report.json``.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from dronekit_plzen.errors import BadInputError, StorageError
from dronekit_plzen.i18n import _, ngettext
from dronekit_plzen.inputs import read_reason
from dronekit_plzen.outputs import (
    OutputGroup,
    note_input,
    output_error,
    prepare_output_dir,
    remove_output,
    write_failure,
)
from photo import dense, georef, ortho, products, sfm, surface
from photo.dtm import GroundFilter, dtm_from_cloud
from photo.exif import (
    JobNames,
    PhotoMeta,
    PhotoSkip,
    SkippedPhoto,
    check_photo_size,
    read_photo,
    too_few_photos,
)
from photo.report import camera_rows, report

log = logging.getLogger(__name__)

#: memory (MB) the orthophoto may take by default, made and written: its cell is coarsened
#: to fit (a warning and report.json's ``orthophoto_memory`` say so)
ORTHO_MEMORY_MB = 2048
#: bytes per orthophoto cell while it is written (the products step): the RGB + alpha kept,
#: the 4-band copy, GDAL's in-memory dataset and the COG's overviews
PRODUCTS_BYTES_PER_CELL = 16

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".tif", ".tiff", ".png")

#: widest spread (metres) of one capture's GPS positions: beyond it the photos are not one
#: capture (another flight's folder, a photo with a wrong fix) and would never be matched
MAX_CAPTURE_EXTENT_M = 100_000.0
#: GPS positions all closer than this (metres) to their mean give the model no scale
MIN_CAPTURE_SPREAD_M = 1.0


def physical_memory_mb() -> int | None:
    """This computer's memory in MB (None where the OS does not say)."""
    import os

    try:
        return int(os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE") // (1024 * 1024))
    except (AttributeError, OSError, ValueError):
        return None


class Progress(Protocol):
    def start(self, label: str, total: int | None) -> None: ...
    def advance(self, n: int = 1) -> None: ...
    def done(self) -> None: ...


class SilentProgress:
    def start(self, label: str, total: int | None) -> None:
        pass

    def advance(self, n: int = 1) -> None:
        pass

    def done(self) -> None:
        pass


@dataclass(frozen=True)
class ProcessOptions:
    """Options of ``photo process``. ``resolution_cm``: orthophoto cell (None: the GSD)."""

    out_dir: Path
    crs: str | None = None
    dem: Path | None = None
    resolution_cm: float | None = None
    sfm: sfm.SfmOptions = field(default_factory=sfm.SfmOptions)
    dense: dense.DenseOptions | None = field(default_factory=dense.DenseOptions)
    keep_work: bool = False
    #: memory budget (MB) of the orthophoto (see :data:`ORTHO_MEMORY_MB`)
    ortho_memory_mb: int = ORTHO_MEMORY_MB
    #: ``(x, y, z) -> ground mask`` for the DTM (e.g. ``lidar.ground.smrf``); None: no DTM
    ground_filter: GroundFilter | None = None

    def check(self) -> list[str]:
        errs = list(self.sfm.check()) + (self.dense.check() if self.dense else [])
        if self.resolution_cm is not None and not (0.5 <= self.resolution_cm <= 10000):
            errs.append(_("--resolution-cm must be between 0.5 and 10000"))
        ram_mb = physical_memory_mb()
        if self.ortho_memory_mb < 256:
            errs.append(
                _("--ortho-memory-mb must be at least 256, got {n}").format(n=self.ortho_memory_mb)
            )
        elif ram_mb is not None and self.ortho_memory_mb > max(ram_mb, ORTHO_MEMORY_MB):
            errs.append(
                _(
                    "--ortho-memory-mb must be at most this computer's memory ({ram} MB), got {n}"
                ).format(ram=ram_mb, n=self.ortho_memory_mb)
            )
        if self.dem is not None and not Path(self.dem).is_file():
            errs.append(_("--dem {path}: no such file").format(path=self.dem))
        return errs


@dataclass
class Job:
    """The state the steps share."""

    paths: list[Path]
    opts: ProcessOptions
    progress: Progress
    work: Path = Path()
    photos: list[PhotoMeta] = field(default_factory=list)
    skipped: list[SkippedPhoto] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    times_s: dict[str, float] = field(default_factory=dict)
    frame: georef.Frame | None = None
    priors: dict[str, np.ndarray] = field(default_factory=dict)
    rec: Any = None
    alignment: georef.Alignment | None = None
    alignment_before_ba: georef.Alignment | None = None
    prior_ba: sfm.PriorBaResult | None = None
    points: surface.ModelPoints | None = None
    dense_xyz: np.ndarray | None = None
    dense_rgb: np.ndarray | None = None
    dense_pairs: int = 0
    views: list[ortho.View] = field(default_factory=list)
    ground_z: float = 0.0
    gsd_m: float = 0.0
    grid: surface.Grid | None = None
    dsm_grid: surface.Grid | None = None
    dsm: np.ndarray | None = None
    dsm_measured: np.ndarray | None = None  # cells near measured points (written as data)
    surface_source: str = "sparse"
    dtm: np.ndarray | None = None
    ground: np.ndarray | None = None  # ground mask of the written cloud
    dtm_info: dict[str, Any] = field(default_factory=dict)
    rgb: np.ndarray | None = None
    alpha: np.ndarray | None = None
    hidden_fraction: float = 0.0  # of the orthophoto: seen by photos, none of them unoccluded
    ortho_memory: dict[str, Any] = field(default_factory=dict)  # budget, estimate, coarsening
    outputs: dict[str, str] = field(default_factory=dict)


#: the images a run writes into its output folder: when that folder is also the photos' folder
#: (``photo process DIR -o DIR``), an earlier run's products there are not photos
PRODUCT_IMAGES = ("orthophoto.tif", "dsm.tif", "dtm.tif", "orthophoto_preview.png")


def _same_folder(a: Path, b: Path | None) -> bool:
    try:
        return b is not None and b.is_dir() and a.samefile(b)
    except OSError:
        return False


def expand_inputs(items: Sequence[str | Path], out_dir: Path | None = None) -> list[Path]:
    """Files as given; a folder stands for the images directly in it (sorted). In the output
    folder ``out_dir`` the products of an earlier run (:data:`PRODUCT_IMAGES`) are left out:
    they would be skipped as photos, then refused as outputs ("it is an input") at the end."""
    out: list[Path] = []
    for it in items:
        p = Path(it)
        if p.is_dir():
            products = PRODUCT_IMAGES if _same_folder(p, out_dir) else ()
            try:
                found = sorted(
                    q
                    for q in p.iterdir()
                    if q.suffix.lower() in IMAGE_SUFFIXES and q.name not in products
                )
            except OSError as exc:
                raise BadInputError(
                    _("cannot list the folder ({err})").format(err=read_reason(exc)),
                    where=str(p),
                ) from exc
            if not found:  # a DCIM folder (photos in 100MEDIA/...), an empty or wrong folder
                raise BadInputError(
                    _(
                        "no photos ({suffixes}) directly in this folder; "
                        "its subfolders are not searched"
                    ).format(suffixes=", ".join(IMAGE_SUFFIXES)),
                    where=str(p),
                )
            out.extend(found)
        elif p.exists() or p.is_symlink():  # a symlink loop or a dangling link: named, skipped
            out.append(p)
        else:
            raise BadInputError(_("no such file or directory"), where=str(p))
    if not out:
        raise BadInputError(_("no images given"))
    return out


#: the rasters a run writes into its output folder (any of them may be an earlier run's)
RASTER_PRODUCTS = ("orthophoto.tif", "dsm.tif", "dtm.tif")


def check_dem_not_replaced(dem: Path, out: Path) -> None:
    """Fail before any work when ``--dem`` is a raster this run would write over (an earlier
    run's ``dsm.tif`` in the same output folder): it would be read, then destroyed."""
    for name in RASTER_PRODUCTS:
        try:
            same = (out / name).exists() and (out / name).samefile(dem)
        except OSError:
            same = False
        if same:
            raise BadInputError(
                _(
                    "--dem is the {name} this run writes into {out}: copy it elsewhere or "
                    "choose another output folder"
                ).format(name=name, out=out),
                where=str(dem),
            )


def _local_photo(meta: PhotoMeta) -> PhotoMeta:
    """``meta`` if the local engine can use its pixels. Its images are read as 8-bit (Pillow
    clips wider samples: a 16-bit band TIFF would come out white); NodeODM reads them."""
    if meta.sample_bits > 8:
        raise PhotoSkip(
            _(
                "{bits}-bit samples (the local engine would read them as white): "
                "save it as 8-bit RGB, or use --engine nodeodm"
            ).format(bits=meta.sample_bits)
        )
    return check_photo_size(meta)


def check_capture_extent(photos: Sequence[PhotoMeta], world_xyz: np.ndarray) -> None:
    """Fail when the photos' GPS positions (``world_xyz``, metres in the output CRS) are not one
    capture: spread over more than :data:`MAX_CAPTURE_EXTENT_M` (the photo farthest from the
    median is named) or all within :data:`MIN_CAPTURE_SPREAD_M` of their mean (no scale)."""
    xyz = np.asarray(world_xyz, dtype=np.float64)
    far = np.hypot(*(xyz[:, :2] - np.median(xyz[:, :2], axis=0)).T)
    i = int(np.argmax(far))
    extent = float(np.hypot(*np.ptp(xyz[:, :2], axis=0)))
    if extent > MAX_CAPTURE_EXTENT_M:
        raise BadInputError(
            _(
                "the photos' GPS positions span {km:.0f} km, more than one capture "
                "({most:.0f} km); the farthest from the others lies {d:.0f} km away"
            ).format(km=extent / 1000.0, most=MAX_CAPTURE_EXTENT_M / 1000.0, d=far[i] / 1000.0),
            where=str(photos[i].path),
        )
    spread = float(np.max(np.linalg.norm(xyz - xyz.mean(axis=0), axis=1)))
    if spread < MIN_CAPTURE_SPREAD_M:
        raise BadInputError(
            _(
                "the photos all have the same GPS position (within {d:.1f} m): the model "
                "cannot be scaled and placed"
            ).format(d=spread)
        )


#: skipped photos named one per line on the console; the rest are counted, and listed with
#: ``-v`` (and in report.json, which a run that stops early does not write)
MAX_SKIP_LINES = 10


def skip_lines(skipped: Sequence[SkippedPhoto], limit: int = MAX_SKIP_LINES) -> list[str]:
    """The console lines for the skipped photos: the first ``limit`` named with their reason,
    then one line counting the rest (a folder of 5,000 thumbnails is not 5,000 lines)."""
    lines = [s.message() for s in skipped[:limit]]
    rest = len(skipped) - limit
    if rest > 0:
        lines.append(
            ngettext(
                "{n} more photo skipped (-v lists it, and so does report.json when the run "
                "completes)",
                "{n} more photos skipped (-v lists them, and so does report.json when the run "
                "completes)",
                rest,
            ).format(n=rest)
        )
    return lines


def step_read(job: Job) -> None:
    job.progress.start(_("reading photo metadata"), len(job.paths))
    names = JobNames()
    for p in job.paths:
        try:
            names.check(p)
            job.photos.append(names.take(_local_photo(read_photo(p))))
        except PhotoSkip as exc:
            job.skipped.append(SkippedPhoto(p, str(exc)))
        job.progress.advance()
    job.progress.done()
    for line in skip_lines(job.skipped):
        log.warning("%s", line)
    for s in job.skipped[MAX_SKIP_LINES:]:  # with -v: a run that stops here writes no report
        log.info("%s", s.message())
    job.warnings.extend(s.message() for s in job.skipped)  # every one in report.json
    if len(job.photos) < 3:
        raise BadInputError(too_few_photos(len(job.photos), job.skipped))
    if job.opts.dem is not None:
        surface.check_dem_covers(
            str(job.opts.dem),
            np.array([p.lon_deg for p in job.photos]),
            np.array([p.lat_deg for p in job.photos]),
        )
    crs = georef.output_crs(job.photos, job.opts.crs)
    world = georef.gps_positions(job.photos, crs)
    check_capture_extent(job.photos, world)
    job.frame = georef.make_frame(world, crs)
    model = job.frame.to_world(np.zeros(3))
    job.priors = {sfm.image_name(p): world[i] - model for i, p in enumerate(job.photos)}
    if any(p.alt_m is None for p in job.photos):
        job.warnings.append(_("some photos have no GPS altitude: the median altitude is used"))


#: What a run writes, measured on the Toledo photos of the shared test data (57 photos, 1600 ×
#: 1200, ``--features 8192``, COLMAP 4.2 via pycolmap, 2026-12-05): SIFT kept up to 2 orientations
#: per keypoint, so up to 2 × ``--features`` per photo (12,265 on average there, of 16,384), and
#: the database took 152.6 bytes per feature (keypoint 6 × 4 bytes, descriptor 128 bytes, SQLite's
#: pages): 106.7 MB for 699,106 features. The estimate takes every slot as filled.
DB_BYTES_PER_FEATURE = 153
SIFT_ORIENTATIONS = 2
#: Matching then added 12.9 MB for 547 pairs, 23.6 kB a pair (the raw and the verified matches,
#: 8 bytes each); the estimate takes twice that, at ``--features 8192``, for each photo's
#: ``max_neighbors`` pairs: 186 MB for those 57 photos, which wrote 120 MB.
DB_BYTES_PER_PAIR = 48 * 1024
#: SQLite's write-ahead log beside the database (``colmap.db-wal``): 6.2 MB at most there
DB_WAL_BYTES = 8 * 2**20
#: the products, measured on seven Toledo photos at 800 × 600 (the tests' subset, dense on):
#: points.laz 11.2 MB (the dense cloud is made from 800-pixel images whatever the photos' size:
#: 1.6 MB a photo), orthophoto.tif, its preview, dsm.tif and dtm.tif 4.7 MB for 3.4 megapixels
#: of photos (1.4 bytes a photo pixel: the orthophoto has about the photos' ground resolution)
PRODUCT_BYTES_PER_PHOTO = 2 * 2**20
PRODUCT_BYTES_PER_PHOTO_PIXEL = 2.0


def work_bytes(n_photos: int, opts: sfm.SfmOptions) -> int:
    """Estimated size of the COLMAP database (the largest file of the run) for ``n_photos``
    photos: every photo's features at :attr:`~photo.sfm.SfmOptions.max_features` and the
    matches of each with its :attr:`~photo.sfm.SfmOptions.max_neighbors` neighbours."""
    features = n_photos * opts.max_features * SIFT_ORIENTATIONS * DB_BYTES_PER_FEATURE
    pairs = n_photos * min(opts.max_neighbors, max(n_photos - 1, 0))
    return features + pairs * DB_BYTES_PER_PAIR * opts.max_features // 8192


def run_bytes(photos: Sequence[PhotoMeta], opts: ProcessOptions) -> int:
    """Estimated bytes the whole run writes into the output folder at its peak: the COLMAP
    workspace (:func:`work_bytes` and its write-ahead log) and the products."""
    pixels = sum(p.width_px * p.height_px for p in photos)
    made = len(photos) * PRODUCT_BYTES_PER_PHOTO + int(pixels * PRODUCT_BYTES_PER_PHOTO_PIXEL)
    return work_bytes(len(photos), opts.sfm) + DB_WAL_BYTES + made


def _mb(n: float) -> str:
    return f"{n / 2**20:.1f} MB" if n < 10 * 2**20 else f"{n / 2**20:.0f} MB"


def check_space(job: Job) -> None:
    """Refuse the run before COLMAP starts when its output folder cannot take what it will
    write (:func:`run_bytes`), or the process's file size limit (``ulimit -f``) cannot take its
    database (:func:`work_bytes`): COLMAP's database code aborts the whole process on a failed
    write (a C++ stack dump, the workspace left behind), which no Python code can catch."""
    import resource

    out = job.opts.out_dir
    try:
        free = shutil.disk_usage(job.work).free
    except OSError:
        free = None
    need = run_bytes(job.photos, job.opts)
    if free is not None and free < need:
        raise StorageError(
            _(
                "not enough space in {folder}: this run writes about {need} (the COLMAP "
                "database of {n} photos and the products), {free} are free"
            ).format(folder=out, need=_mb(need), n=len(job.photos), free=_mb(free))
        )
    limit = resource.getrlimit(resource.RLIMIT_FSIZE)[0]
    db = work_bytes(len(job.photos), job.opts.sfm)
    if limit != resource.RLIM_INFINITY and limit < db:
        raise StorageError(
            _(
                "not enough space in {folder}: the COLMAP database of {n} photos takes about "
                "{need} in one file, the file size limit (ulimit -f) is {free}"
            ).format(folder=out, need=_mb(db), n=len(job.photos), free=_mb(limit))
        )


def step_features(job: Job) -> None:
    check_space(job)
    root = sfm.prepare_workspace(job.photos, job.work)
    job.progress.start(_("extracting features"), len(job.photos))
    sfm.extract(job.photos, job.work / "colmap.db", root, job.opts.sfm, job.progress.advance)
    job.progress.done()
    sfm.write_priors(job.work / "colmap.db", job.priors, job.opts.sfm)


def _pair_distance_m(job: Job) -> float:
    if job.opts.sfm.max_distance_m > 0:
        return job.opts.sfm.max_distance_m
    xyz = np.array(list(job.priors.values()))
    h = float(np.median(xyz[:, 2]) - np.min(xyz[:, 2])) if len(xyz) else 0.0
    # footprint of a nadir photo is about the flight height across: pair within 1.5 footprints
    height = max(30.0, h if h > 30.0 else 100.0)
    return 1.5 * height


def step_match(job: Job) -> None:
    job.progress.start(_("matching features"), None)
    sfm.match(job.work / "colmap.db", job.opts.sfm, _pair_distance_m(job))
    job.progress.done()


def step_map(job: Job) -> None:
    job.progress.start(_("building the model"), len(job.photos))
    job.rec = sfm.reconstruct(
        job.work / "colmap.db",
        job.work / "images",
        job.work / "sparse",
        job.opts.sfm,
        lambda: job.progress.advance(),
    )
    job.progress.done()
    registered = {im.name for im in job.rec.images.values() if im.has_pose}
    missing = [p.job_name for p in job.photos if sfm.image_name(p) not in registered]
    if missing:
        job.warnings.append(
            ngettext(
                "{n} photo not registered: {names}",
                "{n} photos not registered: {names}",
                len(missing),
            ).format(n=len(missing), names=", ".join(missing))
        )


def step_georef(job: Job) -> None:
    job.alignment_before_ba = georef.align(job.rec, job.priors)
    if job.opts.sfm.use_prior_position:
        job.progress.start(_("adjusting the model to the GPS positions"), None)
        job.prior_ba = sfm.refine_with_priors(job.rec, job.priors, job.opts.sfm)
        job.progress.done()
        if not job.prior_ba.usable:
            job.warnings.append(_("the final bundle adjustment with the GPS positions failed"))
        job.alignment = georef.align(job.rec, job.priors)  # residuals after that adjustment
    else:
        job.alignment = job.alignment_before_ba
    pts = surface.model_points(job.rec)
    keep = surface.remove_outliers(pts.xyz)
    job.points = surface.ModelPoints(
        pts.xyz[keep], pts.rgb[keep], pts.error_px[keep], pts.track_len[keep]
    )
    if len(job.points.xyz) < 10:
        raise sfm.ReconstructionError(_("too few reliable 3D points to build a surface"))
    sources = {sfm.image_name(p): str(p.path) for p in job.photos}
    job.views = ortho.views_of(job.rec, sources)
    job.ground_z = float(np.median(job.points.xyz[:, 2]))
    job.gsd_m = ortho.gsd_m(job.views, job.ground_z)


def _load_scaled(view: ortho.View, scale: float, mode: str) -> np.ndarray:
    from PIL import Image

    with Image.open(view.source) as im:
        img = im.convert(mode)
        if scale < 1.0:
            w, h = img.size
            img = img.resize((round(w * scale), round(h * scale)), Image.Resampling.BILINEAR)
        return np.ascontiguousarray(np.asarray(img))


def step_dense(job: Job) -> None:
    assert job.points is not None
    if job.opts.dense is None:
        return
    pairs = dense.choose_pairs(job.views, job.ground_z, job.opts.dense)
    job.progress.start(_("dense matching"), len(pairs))
    xyz, rgb, used = dense.dense_points(
        job.views,
        pairs,
        lambda v, s: _load_scaled(v, s, "L"),
        lambda v, s: _load_scaled(v, s, "RGB"),
        job.points.xyz,
        job.opts.dense,
        lambda: job.progress.advance(),
    )
    job.progress.done()
    if len(xyz) < 10 * len(job.points.xyz):
        job.warnings.append(
            _("dense matching found too few points ({n}): the sparse points are used").format(
                n=len(xyz)
            )
        )
        return
    keep = surface.remove_outliers(xyz, k=12)
    job.dense_xyz, job.dense_rgb, job.dense_pairs = xyz[keep], rgb[keep], used


def step_surface(job: Job) -> None:
    assert job.points is not None and job.frame is not None
    fps = np.vstack([v.footprint(job.ground_z) for v in job.views])
    fps = fps[np.isfinite(fps).all(axis=1)]
    xy = job.points.xyz[:, :2]
    lo = np.minimum(fps.min(axis=0), xy.min(axis=0))
    hi = np.maximum(fps.max(axis=0), xy.max(axis=0))
    res = job.gsd_m
    if job.opts.resolution_cm is not None:
        want = job.opts.resolution_cm / 100.0
        if want < job.gsd_m * 0.999:
            job.warnings.append(
                _("--resolution-cm {r} is finer than the GSD {g:.1f} cm: the GSD is used").format(
                    r=job.opts.resolution_cm, g=job.gsd_m * 100
                )
            )
        else:
            res = want
    job.grid = ortho_grid(job, lo, hi, res)
    res = job.grid.res
    if job.opts.dem is not None:
        job.dsm_grid = job.grid.resampled(max(res, 0.25))
        dem = surface.sample_dem(str(job.opts.dem), job.frame, job.dsm_grid)
        at_pts = surface.sample_raster(dem, job.dsm_grid, xy[:, 0], xy[:, 1])
        ok = np.isfinite(at_pts)
        if ok.sum() < 10:
            raise BadInputError(
                _("the DEM does not cover the photographed area"), where=str(job.opts.dem)
            )
        dz = float(np.median(job.points.xyz[ok, 2] - at_pts[ok]))
        if abs(dz) > 0.5:
            job.warnings.append(
                _(
                    "the DEM lies {dz:.1f} m from the photo model (GPS altitudes): "
                    "the DEM was shifted by this offset for the orthophoto"
                ).format(dz=dz)
            )
        job.dsm = dem + dz
        job.surface_source = "dem"
    elif job.dense_xyz is not None:
        dxy = job.dense_xyz
        spacing = float(np.sqrt((hi[0] - lo[0]) * (hi[1] - lo[1]) / max(len(dxy), 1)))
        dres = max(res, spacing * 2.0, 0.25)
        job.dsm_grid = job.grid.resampled(dres)
        job.dsm = surface.grid_dsm(dxy, job.dsm_grid)
        job.dsm_measured = surface.coverage(dxy, job.dsm_grid, 4.0)
        job.surface_source = "dense"
        job.warnings.append(
            _(
                "the DSM comes from CPU stereo (OpenCV semi-global matching, {p} pairs, "
                "{res:.2f} m cells)"
            ).format(p=job.dense_pairs, res=dres)
        )
    else:
        spacing = float(np.sqrt((hi[0] - lo[0]) * (hi[1] - lo[1]) / max(len(xy), 1)))
        dres = max(res * 4.0, spacing * 1.5, 0.5)
        job.dsm_grid = job.grid.resampled(dres)
        job.dsm = surface.grid_dsm(job.points.xyz, job.dsm_grid)
        job.surface_source = "sparse"
        job.warnings.append(
            _(
                "the DSM is derived from the sparse SfM points ({n} points, {res:.2f} m cells, "
                "interpolated between them): no dense matching was run; give --dem for a "
                "detailed surface"
            ).format(n=len(xy), res=dres)
        )


def image_cache_bytes(opts: ProcessOptions) -> int:
    """Decoded photos the orthophoto keeps between tiles: a quarter of its budget at most."""
    return min(ortho.IMAGE_CACHE_BYTES, opts.ortho_memory_mb * 1024 * 1024 // 4)


def ortho_memory_bytes(grid: surface.Grid, views: Sequence[ortho.View], cache: int) -> int:
    """Estimated peak bytes of making the orthophoto on ``grid`` and of writing it.

    The DSM is taken as fine as the grid (at least 0.25 m, as every surface path makes it),
    the most its occlusion test can cost."""
    made = ortho.memory_estimate(grid, views, max(grid.res, 0.25), image_cache_bytes=cache)
    return max(made, PRODUCTS_BYTES_PER_CELL * grid.rows * grid.cols)


def ortho_grid(job: Job, lo: np.ndarray, hi: np.ndarray, res: float) -> surface.Grid:
    """The orthophoto's grid over ``lo``..``hi`` at ``res`` m, coarsened until its estimated
    memory (:func:`ortho_memory_bytes`) fits the budget; recorded in ``job.ortho_memory``."""
    budget = job.opts.ortho_memory_mb * 1024 * 1024
    cache = image_cache_bytes(job.opts)
    grid = surface.Grid.covering(lo[0], lo[1], hi[0], hi[1], res)
    need = ortho_memory_bytes(grid, job.views, cache)
    first = need
    while need > budget:
        if ortho_memory_bytes(surface.Grid(0.0, 0.0, 1.0, 1, 1), job.views, cache) > budget:
            raise BadInputError(
                _("the photos are too large for the orthophoto's memory budget of {b} MB").format(
                    b=job.opts.ortho_memory_mb
                )
            )
        grid = surface.Grid.covering(
            lo[0], lo[1], hi[0], hi[1], grid.res * max(1.05, float(np.sqrt(need / budget)))
        )
        need = ortho_memory_bytes(grid, job.views, cache)
    mb = 1024 * 1024
    job.ortho_memory = {
        "budget_mb": job.opts.ortho_memory_mb,
        "estimated_peak_mb": round(need / mb),
        "resolution_cm_wanted": round(res * 100.0, 3),
        "resolution_cm": round(grid.res * 100.0, 3),
        "coarsened": grid.res != res,
    }
    if grid.res != res:
        job.ortho_memory["estimated_peak_mb_wanted"] = round(first / mb)
        msg = _(
            "the orthophoto at {r:.1f} cm would need about {need} MB, more than its memory "
            "budget of {b} MB: it is made at {new:.1f} cm"
        ).format(
            r=res * 100.0, need=round(first / mb), b=job.opts.ortho_memory_mb, new=grid.res * 100.0
        )
        job.warnings.append(msg)
    return grid


def _cloud(job: Job) -> tuple[np.ndarray, np.ndarray]:
    """The cloud written to points.laz: the dense one, else the sparse points."""
    assert job.points is not None
    if job.dense_xyz is not None and job.dense_rgb is not None:
        return job.dense_xyz, job.dense_rgb
    return job.points.xyz, job.points.rgb


def step_dtm(job: Job) -> None:
    """Ground points of the cloud (the injected filter) gridded into a DTM on the DSM grid."""
    assert job.dsm_grid is not None
    if job.opts.ground_filter is None:
        job.dtm_info = {"made": False, "reason": "no ground filter given"}
        return
    xyz, _rgb = _cloud(job)
    job.progress.start(_("separating the ground"), None)
    measured = job.dsm_measured
    if measured is None and job.dsm is not None:
        measured = np.isfinite(job.dsm)
    dtm, why = dtm_from_cloud(xyz, job.dsm_grid, job.opts.ground_filter, measured)
    job.progress.done()
    if dtm is None:
        job.dtm_info = {"made": False, "reason": why}
        job.warnings.append(_("no DTM: {why}").format(why=why))
        return
    job.dtm = dtm.z
    job.ground = dtm.ground
    job.dtm_info = {
        "made": True,
        "ground_points": dtm.ground_points,
        "ground_fraction": round(dtm.ground_fraction, 4),
        "resolution_m": job.dsm_grid.res,
    }


def _load_rgb(view: ortho.View) -> np.ndarray:
    from PIL import Image

    with Image.open(view.source) as im:
        arr = np.asarray(im.convert("RGB"))
    w, h = view.size
    if arr.shape[1] != w or arr.shape[0] != h:  # never expected: the model was built on it
        raise BadInputError(_("the photo changed size while processing"), where=view.source)
    return np.ascontiguousarray(arr)


def step_ortho(job: Job) -> None:
    assert job.grid is not None and job.dsm is not None and job.dsm_grid is not None
    job.progress.start(_("projecting the orthophoto"), len(ortho.tiles(job.grid)))
    res = ortho.orthophoto(
        job.views,
        None,  # heights sampled from the DSM tile by tile: no grid-sized float arrays
        job.grid,
        _load_rgb,
        lambda: job.progress.advance(),
        dsm=job.dsm,
        dsm_grid=job.dsm_grid,
        image_cache_bytes=image_cache_bytes(job.opts),
    )
    job.progress.done()
    job.rgb, job.alpha, job.hidden_fraction = res.rgb, res.alpha, res.hidden_fraction


def step_products(job: Job) -> None:
    assert job.frame is not None and job.points is not None and job.grid is not None
    assert job.rgb is not None and job.alpha is not None and job.dsm is not None
    assert job.dsm_grid is not None
    out = job.opts.out_dir
    o = job.frame.origin_m
    job.progress.start(_("writing products"), 5)
    # inside the job's OutputGroup (see process): the files are put in place after report.html
    written = [
        products.write_orthophoto(
            out / "orthophoto.tif", job.rgb, job.alpha, job.grid, job.frame.crs, o
        )
    ]
    job.progress.advance()
    measured = job.dsm if job.dsm_measured is None else np.where(job.dsm_measured, job.dsm, np.nan)
    written.append(products.write_dsm(out / "dsm.tif", measured, job.dsm_grid, job.frame.crs, o))
    job.progress.advance()
    if job.dtm is not None:
        written.append(products.write_dsm(out / "dtm.tif", job.dtm, job.dsm_grid, job.frame.crs, o))
    else:  # an earlier run's DTM would pass for this survey's: removed with the group's commit
        remove_output(out / "dtm.tif")
    cloud_xyz, cloud_rgb = _cloud(job)
    written.append(
        products.write_points(
            out / "points.laz", job.frame.to_world(cloud_xyz), cloud_rgb, job.frame.crs, job.ground
        )
    )
    job.progress.advance()
    written.append(
        products.write_json(out / "cameras.geojson", products.cameras_geojson(camera_rows(job)))
    )
    job.progress.advance()
    products.write_preview_png(out / "orthophoto_preview.png", job.rgb, job.alpha)
    job.progress.advance()
    job.progress.done()
    # the products of this run (not a dtm.tif an earlier run left: this one may have made none)
    for path in written:
        job.outputs[path.name.split(".")[0]] = str(path)


STEPS: list[tuple[str, Callable[[Job], None]]] = [
    ("read", step_read),
    ("features", step_features),
    ("matching", step_match),
    ("mapping", step_map),
    ("georeferencing", step_georef),
    ("dense", step_dense),
    ("surface", step_surface),
    ("dtm", step_dtm),
    ("orthophoto", step_ortho),
    ("products", step_products),
]


@contextlib.contextmanager
def _workspace_errors(work: Path) -> Iterator[None]:
    """A write into the COLMAP workspace that fails (the disk filled up after
    :func:`check_space`: the workspace's links and folders, COLMAP's database where pycolmap
    raises instead of aborting) as the one line of :func:`~dronekit_plzen.outputs.write_failure`:
    ``cannot write <file>: <reason>``; the workspace is removed by the caller."""
    db = work / "colmap.db"
    try:
        yield
    except OSError as exc:
        names = [Path(os.fsdecode(f)) for f in (exc.filename, exc.filename2) if f is not None]
        inside = [f for f in names if f.is_relative_to(work)]
        if not inside and exc.errno not in (errno.ENOSPC, errno.EFBIG, errno.EDQUOT):
            raise  # not a write of the workspace (a photo that cannot be read)
        raise output_error(inside[0] if inside else work, exc) from exc
    except RuntimeError as exc:  # pycolmap: "[database_sqlite.cc:603] SQLite error: disk I/O error"
        if "SQLite error" not in str(exc):
            raise
        raise write_failure(db, written=db, detail=str(exc)) from exc


def process(
    paths: Sequence[str | Path], opts: ProcessOptions, progress: Progress | None = None
) -> dict[str, Any]:
    """Run the whole job; return the report (also written as report.json and report.html)."""
    errs = opts.check()
    if errs:
        raise BadInputError("; ".join(errs))
    if opts.dem is not None:  # before minutes of matching, not after
        surface.check_dem(str(opts.dem))
    files = expand_inputs(paths, opts.out_dir)
    out = prepare_output_dir(opts.out_dir)
    if opts.dem is not None:
        check_dem_not_replaced(opts.dem, out)
        note_input(opts.dem)
    for f in files:
        note_input(f)  # never replaced by a product (a folder of outputs given as photos)
    job = Job(paths=files, opts=opts, progress=progress or SilentProgress())
    # the COLMAP workspace is scratch, not a product: removed at the end (kept with keep_work)
    try:
        job.work = Path(tempfile.mkdtemp(prefix=".photo-work-", dir=out))
    except OSError as exc:
        raise output_error(out, exc) from exc
    # every product and both reports are put in place together when all have been written: a
    # failure late in the run (a full disk at points.laz) leaves the folder as it was, never
    # a new orthophoto beside the previous run's cloud and report
    with OutputGroup.all_or_nothing():
        try:  # COLMAP's own log into the workspace, not onto the console
            with sfm.colmap_log(job.work / "colmap.log"), _workspace_errors(job.work):
                for name, step in STEPS:
                    t0 = time.perf_counter()
                    step(job)
                    job.times_s[name] = round(time.perf_counter() - t0, 3)
        finally:
            if not opts.keep_work:
                shutil.rmtree(job.work, ignore_errors=True)
        rep = report(job)
        rep["orthophoto_memory"] = job.ortho_memory
        products.write_json(out / "report.json", rep)
        products.write_report_html(out / "report.html", rep, "orthophoto_preview.png")
    rep["outputs"]["report"] = str(out / "report.json")
    return rep
