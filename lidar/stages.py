"""The named pipeline stages: options dataclasses and the functions that apply them.

Each stage is ``apply(cloud, options) -> cloud`` over :mod:`lidar.filters`, :mod:`lidar.ground`,
:mod:`lidar.classify`; options are frozen dataclasses whose fields are the PDAL-style option
names, so a pipeline can be validated completely (names, types, values) before anything runs.
Length options are in metres and converted with the cloud's ``xy_unit_m``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from dronekit_plzen.errors import BadInputError
from dronekit_plzen.geo import as_crs
from dronekit_plzen.i18n import _
from lidar.cloud import GROUND, NOISE, UNCLASSIFIED, PointCloud
from lidar.io import DEFAULT_CHUNK

HAG = "HeightAboveGround"


# The filters' modules (numba kernels, scipy) are imported by the stages that run or check
# them: a pipeline refused at its reader or its options answers without loading them (half a
# second of each ``lidar`` command)
def _parse_ranges(text: str) -> Any:
    from lidar import filters

    return filters.parse_ranges(text)


def z_in_xy_units(cloud: PointCloud) -> np.ndarray:
    """Heights expressed in the horizontal unit (for slope-aware algorithms)."""
    if cloud.z_unit_m == cloud.xy_unit_m:
        return cloud.z
    return np.asarray(cloud.z * (cloud.z_unit_m / cloud.xy_unit_m))


@dataclass(frozen=True)
class ReaderOptions:
    filename: str = ""
    #: the CRS of the points, over the file's (PDAL's ``override_srs``, ``spatialreference``)
    spatialreference: str | None = None
    chunk_size: int = DEFAULT_CHUNK
    # PDAL's readers.las options
    default_srs: str | None = None  # the CRS when the file names none
    nosrs: bool | None = None  # the file's CRS is not read
    count: int | None = None  # at most this many points are read (the first ones)
    use_eb_vlr: bool | None = None  # extra bytes are read from their VLR in every LAS version
    threads: int | None = None  # accepted; decoding here does not take a thread count

    def check(self) -> list[str]:
        errs = []
        if not MIN_CHUNK <= self.chunk_size <= MAX_CHUNK:
            errs.append(
                _("chunk_size must be between {lo:,} and {hi:,} points, got {v:,}").format(
                    lo=MIN_CHUNK, hi=MAX_CHUNK, v=self.chunk_size
                )
            )
        if self.count is not None and self.count < 1:
            errs.append(_("count must be at least 1 point, got {v:,}").format(v=self.count))
        if self.threads is not None and self.threads < 1:
            errs.append(_("threads must be at least 1"))
        if self.use_eb_vlr is False:
            errs.append(_("use_eb_vlr false: extra bytes are always read from their VLR here"))
        return errs + _crs_refusal("default_srs", self.default_srs)


#: points read at a time by ``readers.las`` (``chunk_size``): at least one thousand (one
#: point a time would take hours on a real cloud), at most a hundred million (a few GiB)
MIN_CHUNK, MAX_CHUNK = 1_000, 100_000_000


def _at_most(name: str, value: float, limit: float) -> list[str]:
    """``name must be at most … m`` when a length option exceeds ``limit`` metres."""
    if value > limit:
        return [
            _("{name} must be at most {m:,.0f} m, got {v:g}").format(name=name, m=limit, v=value)
        ]
    return []


#: the finest grid cell of a ground filter in metres (1e-300 m underflowed to a zero area)
MIN_CELL_M = 1e-3


def _at_least(name: str, value: float, limit: float = MIN_CELL_M) -> list[str]:
    """``name must be at least … m`` when a length option is below ``limit`` metres."""
    if value < limit:
        return [_("{name} must be at least {m:g} m, got {v:g}").format(name=name, m=limit, v=value)]
    return []


def _refusal(check: Callable[..., Any], *args: Any) -> list[str]:
    """``check(*args)``'s refusal as an option check's list (empty when it passes)."""
    try:
        check(*args)
    except BadInputError as exc:
        return [exc.message]
    return []


def _crs_refusal(name: str, value: str | None) -> list[str]:
    """``name: unknown CRS …`` for a CRS option that names none (empty when unset or known)."""
    if value is None:
        return []
    try:
        as_crs(value)
    except Exception:
        return [_("{k}: unknown CRS {v!r}").format(k=name, v=value)]
    return []


def _where_merge_refusal(value: str | bool | None) -> list[str]:
    """PDAL's ``where_merge`` (auto, true, false). The points a writer's ``where`` leaves out
    reach the later stages whatever it says: writers here change no point."""
    if isinstance(value, str) and value not in ("auto", "true", "false"):
        return [_("where_merge must be auto, true or false, got {v!r}").format(v=value)]
    return []


def _expression_refusal(text: str | None) -> list[str]:
    from lidar import expression

    return [] if text is None else _refusal(expression.parse, text)


#: the outlier filters' largest neighbour count (PDAL's default mean_k is 8): every point's
#: k nearest cost time as k² (CSite4's 518,000 points: k 8 0.3 s, 100 5.8 s, 400 55 s; 5,000
#: ran for hours)
MAX_NEIGHBOURS = 100


@dataclass(frozen=True)
class OutlierOptions:
    method: str = "statistical"
    mean_k: int = 8
    multiplier: float = 2.5
    radius: float = 1.0
    min_k: int = 2
    #: leave a cloud that already has ground (class 2) as it is (``--ground-method auto``)
    keep_existing: bool = False

    def check(self) -> list[str]:
        errs = []
        if self.method not in ("statistical", "radius"):
            errs.append(_("method must be statistical or radius"))
        if self.mean_k < 1 or self.min_k < 0 or self.radius <= 0 or self.multiplier <= 0:
            errs.append(_("mean_k, radius and multiplier must be positive"))
        if max(self.mean_k, self.min_k) > MAX_NEIGHBOURS:
            errs.append(
                _(
                    "mean_k and min_k must be at most {m}, got {k:,}: every point's {k:,} "
                    "nearest neighbours cost time as their square"
                ).format(m=MAX_NEIGHBOURS, k=max(self.mean_k, self.min_k))
            )
        return errs


@dataclass(frozen=True)
class SMRFOptions:
    cell: float = 1.0
    slope: float = 0.15
    window: float = 18.0
    threshold: float = 0.5
    scalar: float = 1.25
    cut: float = 0.0
    #: Pingel's SMRF on one grid, without the growth; the default averages four grid
    #: orientations
    single_grid: bool = False
    #: the steeper slope whose ground joins where it continues the thin-plate surface of the
    #: ground (``lidar.ground.grow_ground``); 0, or not above ``slope``: no growth
    grow_slope: float = 0.4
    #: drop ground points standing above the plane of their nearest ground neighbours by more
    #: than those scatter, and small pieces of ground standing above the ground around them
    #: (``lidar.ground_clean``); false: SMRF's (and the growth's) ground
    clean: bool = True
    returns: str = "last,only"
    #: leave a cloud that already has ground (class 2) as it is (``--ground-method auto``)
    keep_existing: bool = False
    #: PDAL's ``ignore``: points in these ranges (``Classification[7:7]``) are left as they are
    ignore: str | None = None

    def check(self) -> list[str]:
        if self.ignore is not None and (bad := _refusal(_parse_ranges, self.ignore)):
            return bad
        if (
            min(self.cell, self.window, self.threshold) <= 0
            or min(self.slope, self.cut, self.grow_slope) < 0
        ):
            return [
                _(
                    "cell, window and threshold must be positive; slope, grow_slope and cut "
                    "not negative"
                )
            ]
        errs = _at_most("cell", self.cell, MAX_CELL_M) + _at_least("cell", self.cell)
        errs += _at_most("window", self.window, MAX_SMRF_WINDOW_M)
        errs += _at_most("cut", self.cut, MAX_SMRF_WINDOW_M)
        if not errs and self.window / self.cell > MAX_SMRF_RADII:
            errs.append(
                _(
                    "window {w:g} m is {n:,.0f} cells of {c:g} m: at most {m:,} (each cell of "
                    "the window is one more opening of the surface); use a larger cell or a "
                    "smaller window"
                ).format(w=self.window, n=self.window / self.cell, c=self.cell, m=MAX_SMRF_RADII)
            )
        return errs


#: largest SMRF ``window`` (and ``cut``) in metres: the widest object (a roof) the filter
#: removes; PDAL's default is 18 m, the largest halls span a few hundred metres (each step of
#: the window is one more grey-scale opening of the whole surface: 10 km took hours)
MAX_SMRF_WINDOW_M = 500.0
#: most window steps (``window / cell``) of one SMRF run
MAX_SMRF_RADII = 1000


@dataclass(frozen=True)
class CSFOptions:
    resolution: float = 1.0
    rigidness: int = 2
    step: float = 0.65
    threshold: float = 0.5
    hdiff: float = 0.3
    iterations: int = 500
    smooth: bool = True
    returns: str = "last,only"
    #: leave a cloud that already has ground (class 2) as it is (``--ground-method auto``)
    keep_existing: bool = False
    #: PDAL's ``ignore``: points in these ranges (``Classification[7:7]``) are left as they are
    ignore: str | None = None

    def check(self) -> list[str]:
        if self.ignore is not None and (bad := _refusal(_parse_ranges, self.ignore)):
            return bad
        errs = []
        if self.rigidness not in (1, 2, 3):
            errs.append(_("rigidness must be 1, 2 or 3"))
        if min(self.resolution, self.step, self.threshold) <= 0 or self.iterations < 1:
            errs.append(_("resolution, step, threshold and iterations must be positive"))
        else:
            errs += _at_most("resolution", self.resolution, MAX_CELL_M)
            errs += _at_least("resolution", self.resolution)
        return errs


@dataclass(frozen=True)
class HagOptions:
    cell: float = 1.0

    def check(self) -> list[str]:
        if not self.cell > 0:
            return [_("cell must be positive")]
        return _at_most("cell", self.cell, MAX_CELL_M)


@dataclass(frozen=True)
class ClassifyOptions:
    min_height: float = 0.15
    low_veg_max: float = 0.5
    medium_veg_max: float = 2.0
    building_min_height: float = 2.0
    k: int = 12

    def check(self) -> list[str]:
        if not MIN_CLASSIFY_K <= self.k <= MAX_CLASSIFY_K:
            return [
                _("k must be between {lo} and {hi} neighbours, got {v:,}").format(
                    lo=MIN_CLASSIFY_K, hi=MAX_CLASSIFY_K, v=self.k
                )
            ]
        return []


#: neighbours of the roof test of ``filters.classify`` (``k``): three span a plane; beyond a
#: hundred the neighbourhood is wider than a roof, and the time and memory grow with ``k``
#: (``k`` 1000 took 2 GB for 37,000 points)
MIN_CLASSIFY_K, MAX_CLASSIFY_K = 3, 100


@dataclass(frozen=True)
class RangeOptions:
    limits: str = ""

    def check(self) -> list[str]:
        from lidar import filters

        return _refusal(filters.parse_ranges, self.limits)


@dataclass(frozen=True)
class ReturnsOptions:
    groups: str = "last,only"

    def check(self) -> list[str]:
        from lidar import filters

        return _refusal(filters.returns_mask, np.ones(1), np.ones(1), self.groups)


@dataclass(frozen=True)
class VoxelOptions:
    cell: float = 0.5

    def check(self) -> list[str]:
        if not self.cell > 0:
            return [_("cell must be positive")]
        # a voxel beyond any survey: distances would overflow
        return _at_most("cell", self.cell, MAX_VOXEL_M)


#: largest voxel edge or grid cell of a stage in metres (1000 km: larger than any cloud, and
#: still finite squared)
MAX_CELL_M = MAX_VOXEL_M = 1e6


@dataclass(frozen=True)
class ReprojectOptions:
    out_srs: str = ""
    in_srs: str | None = None

    def check(self) -> list[str]:
        errs = []
        for v in (self.out_srs, self.in_srs):
            if v is None:
                continue
            try:
                as_crs(v)
            except BadInputError as exc:
                errs.append(exc.message)
        return errs


#: PDAL's ``filters.crop`` bounds: ``([xmin, xmax], [ymin, ymax])``, optionally ``, [zmin, zmax]``
_PDAL_BOUNDS = re.compile(
    r"^\s*\(\s*"
    + r"\s*,\s*".join([r"\[\s*([^],\s]+)\s*,\s*([^]\s]+)\s*\]"] * 2)
    + r"(?:\s*,\s*\[\s*([^],\s]+)\s*,\s*([^]\s]+)\s*\])?\s*\)\s*$"
)


def crop_box(bounds: list[float] | str) -> tuple[float, ...]:
    """(minx, miny, maxx, maxy) or (minx, miny, maxx, maxy, minz, maxz) of ``filters.crop``'s
    ``bounds``: a list [minx, miny, maxx, maxy], or PDAL's text ``([xmin, xmax], [ymin, ymax])``
    with an optional ``[zmin, zmax]`` (a pipeline written for PDAL runs as it is).

    >>> crop_box("([0, 10.5], [-2, 3])")
    (0.0, -2.0, 10.5, 3.0)
    >>> crop_box("([0,1],[2,3],[100,200])")
    (0.0, 2.0, 1.0, 3.0, 100.0, 200.0)
    """
    if isinstance(bounds, str):
        m = _PDAL_BOUNDS.match(bounds)
        try:
            v = [float(t) for t in m.groups() if t is not None] if m else []
        except ValueError:
            v = []
        if not v or not all(math.isfinite(t) for t in v):
            raise BadInputError(
                _(
                    "bounds {b!r} is neither [minx, miny, maxx, maxy] nor PDAL's "
                    "([xmin, xmax], [ymin, ymax]) or ([xmin, xmax], [ymin, ymax], [zmin, zmax])"
                ).format(b=bounds[:80])
            )
        box = (v[0], v[2], v[1], v[3], *v[4:])
    else:
        if len(bounds) != 4:
            raise BadInputError(_("bounds must be [minx, miny, maxx, maxy] with min < max"))
        box = tuple(float(t) for t in bounds)
    if not (box[0] < box[2] and box[1] < box[3]) or (len(box) == 6 and not box[4] <= box[5]):
        raise BadInputError(_("bounds must be [minx, miny, maxx, maxy] with min < max"))
    return box


@dataclass(frozen=True)
class CropOptions:
    bounds: list[float] | str | None = None
    polygon: str | None = None

    def check(self) -> list[str]:
        from lidar import filters

        if (self.bounds is None) == (self.polygon is None):
            return [_("give exactly one of bounds [minx, miny, maxx, maxy] or polygon (WKT)")]
        if self.bounds is not None:
            try:
                crop_box(self.bounds)
            except BadInputError as exc:
                return [exc.message]
        if self.polygon is not None:
            try:
                filters.crop_polygon_mask(np.zeros(1), np.zeros(1), self.polygon)
            except BadInputError as exc:
                return [exc.message]
            except Exception as exc:
                return [_("polygon is not valid WKT: {e}").format(e=exc)]
        return []


#: PDAL's ``filters.assign`` ``value``: ``Dimension = number`` (no WHERE clause)
_ASSIGN_VALUE = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s*=\s*([-+0-9.eE]+)\s*$")
#: its ``assignment``: ``Dimension[lo:hi]=number``
_ASSIGNMENT = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*\s*[\[(][^\])]*[\])])\s*=\s*(\S+)\s*$")


@dataclass(frozen=True)
class AssignOptions:
    """Every point's class (``classification``, ours), or PDAL's ``assignment``
    (``"Classification[:]=0"``: the points in the range get the value; a list applies in
    order) or ``value`` (``"Classification = 2"``; PDAL's WHERE expressions are refused)."""

    classification: int | None = None
    assignment: str | list[str] | None = None
    value: str | list[str] | None = None

    def rules(self) -> list[tuple[str, str | None, float]]:
        """(dimension, range or None for every point, value) in the order they apply."""
        from lidar import filters

        given = [
            k for k in ("classification", "assignment", "value") if getattr(self, k) is not None
        ]
        if len(given) > 1:
            raise BadInputError(_("give one of {k}").format(k=", ".join(given)))
        if self.classification is not None or not given:
            c = 1 if self.classification is None else self.classification
            if not 0 <= c <= 255:
                raise BadInputError(_("classification must be 0–255"))
            return [("Classification", None, float(c))]
        out: list[tuple[str, str | None, float]] = []
        if self.assignment is not None:
            items = [self.assignment] if isinstance(self.assignment, str) else self.assignment
            for item in items:
                m = _ASSIGNMENT.match(str(item))
                number = _number(m.group(2)) if m else None
                if m is None or number is None:
                    raise BadInputError(
                        _("assignment {a!r} is not Dimension[min:max]=value").format(a=item)
                    )
                (r,) = filters.parse_ranges(m.group(1))  # a bad range is named by the parser
                out.append((r.name, m.group(1), number))
        else:
            items = [self.value] if isinstance(self.value, str) else list(self.value or [])
            for item in items:
                if " where " in f" {str(item).lower()} ":
                    raise BadInputError(
                        _(
                            "value {v!r}: PDAL's WHERE expressions are not supported: give "
                            "assignment with a range (Classification[1:1]=2)"
                        ).format(v=item)
                    )
                m = _ASSIGN_VALUE.match(str(item))
                number = _number(m.group(2)) if m else None
                if m is None or number is None:
                    raise BadInputError(_("value {v!r} is not Dimension = number").format(v=item))
                out.append((m.group(1), None, number))
        for dim, _r, number in out:
            if filters.dimension_key(dim) == "classification" and not (
                0 <= number <= 255 and number == int(number)
            ):
                raise BadInputError(_("classification must be 0–255"))
        return out

    def check(self) -> list[str]:
        return _refusal(self.rules)


def _number(text: str) -> float | None:
    try:
        v = float(text)
    except ValueError:
        return None
    return v if math.isfinite(v) else None


@dataclass(frozen=True)
class LasWriterOptions:
    filename: str = ""
    scale: float | None = None
    # PDAL's writers.las options (lidar.io.LasLayout); None keeps the toolkit's defaults
    forward: str | list[str] | None = None
    minor_version: int | None = None
    dataformat_id: int | None = None
    scale_x: float | str | None = None
    scale_y: float | str | None = None
    scale_z: float | str | None = None
    offset_x: float | str | None = None
    offset_y: float | str | None = None
    offset_z: float | str | None = None
    a_srs: str | None = None
    compression: bool | str | None = None
    software_id: str | None = None
    system_id: str | None = None
    creation_doy: int | None = None
    creation_year: int | None = None
    global_encoding: int | None = None
    project_id: str | None = None
    filesource_id: int | None = None
    extra_dims: str | None = None
    discard_high_return_numbers: bool | None = None
    pdal_metadata: bool | None = None
    vlrs: list[dict] | None = None  # type: ignore[type-arg]
    where: str | None = None
    where_merge: str | bool | None = None

    @property
    def whole_cloud(self) -> bool:
        """An "auto" scale or offset needs every point's extent before the header is written."""
        return "auto" in (
            self.scale_x,
            self.scale_y,
            self.scale_z,
            self.offset_x,
            self.offset_y,
            self.offset_z,
        )

    def check(self) -> list[str]:
        from lidar.io import MAX_SCALE, MIN_SCALE

        errs = []
        if self.scale is not None and not MIN_SCALE <= self.scale <= MAX_SCALE:
            errs.append(
                _(
                    "scale is {v:g}: it must lie between {lo:g} and {hi:g} (0.01 and 0.001 are "
                    "usual)"
                ).format(v=self.scale, lo=MIN_SCALE, hi=MAX_SCALE)
            )
        return errs + _refusal(self.layout)

    def layout(self) -> Any:
        """The :class:`lidar.io.LasLayout` these options ask for; a refused value is a
        :class:`BadInputError` naming it."""
        import datetime as dt
        import uuid
        from pathlib import Path

        from lidar.io import EXTRA_TYPES, MAX_SCALE, MIN_SCALE, LasLayout, expand_forward

        if self.where is not None:
            from lidar import expression

            expression.parse(self.where)
        if bad := _where_merge_refusal(self.where_merge):
            raise BadInputError(bad[0])
        if self.pdal_metadata:
            raise BadInputError(
                _("pdal_metadata: PDAL's own metadata and pipeline records are not written here")
            )
        scales = (self.scale_x, self.scale_y, self.scale_z)
        if self.scale is not None and any(v is not None for v in scales):
            raise BadInputError(_("give scale or scale_x/scale_y/scale_z, not both"))
        for name, v in zip(("scale_x", "scale_y", "scale_z"), scales):
            if isinstance(v, str) and v != "auto":
                raise BadInputError(
                    _("{k} must be a number or auto, got {v!r}").format(k=name, v=v)
                )
            if isinstance(v, int | float) and not MIN_SCALE <= v <= MAX_SCALE:
                raise BadInputError(
                    _("{k} is {v:g}: it must lie between {lo:g} and {hi:g}").format(
                        k=name, v=v, lo=MIN_SCALE, hi=MAX_SCALE
                    )
                )
        offsets = (self.offset_x, self.offset_y, self.offset_z)
        for name, v in zip(("offset_x", "offset_y", "offset_z"), offsets):
            if isinstance(v, str) and v != "auto":
                raise BadInputError(
                    _("{k} must be a number or auto, got {v!r}").format(k=name, v=v)
                )
        if self.minor_version is not None and self.minor_version not in (1, 2, 3, 4):
            raise BadInputError(
                _("minor_version must be 1 to 4, got {v}").format(v=self.minor_version)
            )
        fmt = self.dataformat_id
        if fmt is not None and fmt not in (0, 1, 2, 3, 6, 7, 8):
            raise BadInputError(
                _(
                    "dataformat_id {v}: point formats 0–3 and 6–8 are written (4, 5, 9 and 10 "
                    "carry waveforms)"
                ).format(v=fmt)
            )
        if fmt is not None and fmt >= 6 and self.minor_version not in (None, 4):
            raise BadInputError(
                _("point format {f} needs LAS 1.4, not 1.{m}: give minor_version 4").format(
                    f=fmt, m=self.minor_version
                )
            )
        compress = _truth(self.compression, "compression", ("laszip", "lazperf"))
        suffix = Path(self.filename).suffix.lower()
        if compress is True and suffix == ".las":
            raise BadInputError(_("compression writes LAZ: name the file .laz"))
        if compress is False and suffix == ".laz":
            raise BadInputError(_("compression is false but the file is named .laz"))
        for name, text in (("software_id", self.software_id), ("system_id", self.system_id)):
            if text is not None and (len(text.encode("utf-8")) > 32 or not text.isascii()):
                raise BadInputError(
                    _("{k} must be at most 32 ASCII characters, got {v!r}").format(k=name, v=text)
                )
        if self.creation_doy is not None and not 1 <= self.creation_doy <= 366:
            raise BadInputError(_("creation_doy must be 1 to 366"))
        if self.creation_year is not None and not 1900 <= self.creation_year <= 9999:
            raise BadInputError(_("creation_year must be 1900 to 9999"))
        if self.creation_doy is not None:
            year = self.creation_year or dt.date.today().year
            if self.creation_doy > (dt.date(year, 12, 31) - dt.date(year, 1, 1)).days + 1:
                raise BadInputError(
                    _("creation_doy {d} is not a day of {y}").format(d=self.creation_doy, y=year)
                )
        if self.global_encoding is not None and not 0 <= self.global_encoding <= 65535:
            raise BadInputError(_("global_encoding must be 0 to 65535"))
        if self.filesource_id is not None and not 0 <= self.filesource_id <= 65535:
            raise BadInputError(_("filesource_id must be 0 to 65535"))
        if self.project_id is not None:
            try:
                uuid.UUID(self.project_id)
            except ValueError:
                raise BadInputError(
                    _("project_id must be a UUID, got {v!r}").format(v=self.project_id)
                ) from None
        fwd = self.forward
        forward = expand_forward(
            tuple(",".join([fwd] if isinstance(fwd, str) else fwd or []).split(","))
        )
        extra = None
        if self.extra_dims is not None and self.extra_dims.strip() != "all":
            pairs = []
            for part in self.extra_dims.split(","):
                name, eq, kind = part.strip().partition("=")
                if not eq or kind.strip().lower() not in EXTRA_TYPES or not name.strip():
                    raise BadInputError(
                        _("extra_dims {p!r} is not NAME=TYPE (types {t}) or all").format(
                            p=part.strip(), t=", ".join(EXTRA_TYPES)
                        )
                    )
                pairs.append((name.strip(), EXTRA_TYPES[kind.strip().lower()]))
            extra = tuple(pairs)
        records = [_vlr(entry, i) for i, entry in enumerate(self.vlrs or [])]
        if bad := _crs_refusal("a_srs", self.a_srs):
            raise BadInputError(bad[0])
        crs = None if self.a_srs is None else as_crs(self.a_srs)
        return LasLayout(
            minor_version=self.minor_version,
            point_format=fmt,
            scales=scales if self.scale is None else (self.scale,) * 3,
            offsets=offsets,
            crs=crs,
            system_id=self.system_id,
            software_id=self.software_id,
            creation_doy=self.creation_doy,
            creation_year=self.creation_year,
            global_encoding=self.global_encoding,
            project_id=self.project_id,
            file_source_id=self.filesource_id,
            forward=forward,
            extra_dims=extra,
            discard_high_returns=bool(self.discard_high_return_numbers),
            vlrs=tuple(records),
        )


def _truth(value: bool | str | None, name: str, also_true: tuple[str, ...] = ()) -> bool | None:
    """PDAL's boolean option: true/false as JSON or text (and a few words meaning true)."""
    if value is None or isinstance(value, bool):
        return value
    if not isinstance(value, str):  # 1, a list: not PDAL's true or false
        raise BadInputError(_("{k} must be true or false, got {v!r}").format(k=name, v=value))
    text = value.strip().lower()
    if text in ("true", *also_true):
        return True
    if text == "false":
        return False
    raise BadInputError(_("{k} must be true or false, got {v!r}").format(k=name, v=value))


#: the largest VLR (EVLR) payload read from a file: a VLR holds 65,535 bytes, an EVLR is for
#: a waveform or a large CRS, and /dev/zero as the source filled the memory
MAX_VLR_BYTES = 64 << 20


def _vlr(v: Any, i: int) -> tuple[str, int, str, bytes, bool]:
    """One of PDAL's ``vlrs`` entries: ``user_id``, ``record_id``, ``description``, and
    ``data`` (base64) or ``filename`` (its bytes); ``evlr`` for an extended record."""
    import base64
    from pathlib import Path

    where = _("vlrs[{i}]").format(i=i)
    if not isinstance(v, dict):
        raise BadInputError(_("{w}: a VLR is an object").format(w=where))
    unknown = set(v) - {"user_id", "record_id", "description", "data", "filename", "evlr"}
    if "metadata" in v:
        raise BadInputError(
            _("{w}: metadata VLRs (PDAL's own metadata) are not written here").format(w=where)
        )
    if unknown:
        raise BadInputError(_("{w}: unknown key {k}").format(w=where, k=", ".join(sorted(unknown))))
    uid, rid = v.get("user_id"), v.get("record_id")
    if not isinstance(uid, str) or not uid or len(uid.encode()) > 16 or not uid.isascii():
        raise BadInputError(_("{w}: user_id must be 1 to 16 ASCII characters").format(w=where))
    if not isinstance(rid, int) or isinstance(rid, bool) or not 0 <= rid <= 65535:
        raise BadInputError(_("{w}: record_id must be 0 to 65535").format(w=where))
    desc = v.get("description", "")
    if not isinstance(desc, str) or len(desc.encode()) > 32 or not desc.isascii():
        raise BadInputError(
            _("{w}: description must be at most 32 ASCII characters").format(w=where)
        )
    if ("data" in v) == ("filename" in v):
        raise BadInputError(_("{w}: give one of data (base64) and filename").format(w=where))
    if "data" in v:
        try:
            data = base64.b64decode(str(v["data"]), validate=True)
        except ValueError:
            raise BadInputError(_("{w}: data is not base64").format(w=where)) from None
    else:
        from lidar.paths import read_small_file

        try:
            data = read_small_file(Path(str(v["filename"])), MAX_VLR_BYTES, where)
        except BadInputError as exc:
            raise BadInputError(f"{exc.message}: {v['filename']}") from None
    evlr = bool(_truth(v.get("evlr", False), _("{w}: evlr").format(w=where)))  # "no" was true
    if len(data) > 65535 and not evlr:
        raise BadInputError(
            _("{w}: {n:,} bytes: a VLR holds at most 65,535 (give evlr true)").format(
                w=where, n=len(data)
            )
        )
    return uid, rid, desc, data, evlr


#: ``writers.gdal`` options of PDAL's gridding (:mod:`lidar.pdal_grid`): any of them makes the
#: writer grid the points as PDAL does instead of computing a ``product``
PDAL_GRID_OPTIONS = (
    "output_type",
    "radius",
    "power",
    "window_size",
    "dimension",
    "binmode",
    "data_type",
    "nodata",
    "gdaldriver",
    "gdalopts",
    "bounds",
    "origin_x",
    "origin_y",
    "width",
    "height",
    "override_srs",
    "default_srs",
    "spatialreference",
    "metadata",
)
#: PDAL's type names for ``data_type`` → numpy's, with PDAL's default nodata for each
DATA_TYPES: dict[str, tuple[str, float]] = {
    "double": ("float64", -9999.0),
    "float64": ("float64", -9999.0),
    "float": ("float32", -9999.0),
    "float32": ("float32", -9999.0),
    "int64": ("int64", -9999.0),
    "int32": ("int32", -9999.0),
    "int16": ("int16", -9999.0),
    "int8": ("int8", -128.0),
    "uint64": ("uint64", 9999.0),
    "uint32": ("uint32", 9999.0),
    "uint16": ("uint16", 9999.0),
    "uint8": ("uint8", 255.0),
}


@dataclass(frozen=True)
class GdalWriterOptions:
    filename: str = ""
    #: a product (dtm, dsm, chm, …); None: "dtm", unless PDAL's gridding options are given
    product: str | None = None
    resolution: float = 1.0
    method: str = "tin"
    interval: float = 1.0
    #: memory budget of the grid in MiB (default: DKP_LIDAR_MEMORY_MB or min(2 GiB, RAM/2))
    memory_mb: float | None = None
    # PDAL's gridding (lidar.pdal_grid), its option names and defaults
    output_type: str | list[str] | None = None
    radius: float | None = None
    power: float | None = None
    window_size: int | None = None
    dimension: str | None = None
    binmode: bool | None = None
    data_type: str | None = None
    nodata: float | None = None
    gdaldriver: str | None = None
    gdalopts: str | list[str] | None = None
    bounds: str | None = None
    origin_x: float | None = None
    origin_y: float | None = None
    width: int | None = None
    height: int | None = None
    override_srs: str | None = None
    default_srs: str | None = None
    spatialreference: str | None = None
    metadata: str | None = None
    #: PDAL's writer ``where``: only the points the expression holds for are written
    where: str | None = None
    where_merge: str | bool | None = None

    @property
    def pdal_grid(self) -> bool:
        """The points are gridded as PDAL's writers.gdal does (an option of its given)."""
        return any(getattr(self, k) is not None for k in PDAL_GRID_OPTIONS)

    @property
    def product_name(self) -> str:
        return self.product or "dtm"

    def check(self) -> list[str]:
        errs = _expression_refusal(self.where) + _where_merge_refusal(self.where_merge)
        if self.memory_mb is not None and not (0 < self.memory_mb < float("inf")):
            errs.append(_("memory_mb must be a positive number of MiB"))
        if self.resolution <= 0:
            errs.append(_("resolution must be positive"))
        if self.pdal_grid:
            return errs + self._check_pdal()
        if self.product_name not in PRODUCTS:
            errs.append(_("product must be one of {p}").format(p=", ".join(sorted(PRODUCTS))))
        if self.method not in ("tin", "idw"):
            errs.append(_("method must be tin or idw"))
        if not self.interval > 0:
            errs.append(_("the contour interval must be positive"))
        return errs

    def _check_pdal(self) -> list[str]:
        from lidar.pdal_grid import parse_output_types

        given = [k for k in PDAL_GRID_OPTIONS if getattr(self, k) is not None]
        errs = []
        if self.product is not None:
            errs.append(
                _(
                    "product {p!r} and PDAL's gridding ({given}) are two ways to make the raster: "
                    "give one"
                ).format(p=self.product, given=", ".join(given))
            )
        errs += _refusal(parse_output_types, self.output_type)
        if self.radius is not None and not self.radius > 0:
            errs.append(_("radius must be positive"))
        if self.power is not None and not self.power > 0:
            errs.append(_("power must be positive"))
        if self.window_size is not None and not 0 <= self.window_size <= 100:
            errs.append(_("window_size must be 0 to 100 cells"))
        if self.data_type is not None and self.data_type.lower() not in DATA_TYPES:
            errs.append(
                _("data_type {t!r} is not one of {k}").format(
                    t=self.data_type, k=", ".join(DATA_TYPES)
                )
            )
        elif self.nodata is not None:
            kind = np.dtype(DATA_TYPES[(self.data_type or "double").lower()][0])
            if kind.kind == "f":  # float32's range is ±3.4e38 (the file holds it rounded)
                with np.errstate(over="ignore"):
                    fits = bool(np.isfinite(kind.type(self.nodata)))
            else:
                info = np.iinfo(kind)
                fits = info.min <= self.nodata <= info.max and self.nodata == int(self.nodata)
            if not fits:
                errs.append(
                    _("nodata {v:g} does not fit data_type {t}").format(
                        v=self.nodata, t=self.data_type
                    )
                )
        if self.gdaldriver is not None and self.gdaldriver.lower() != "gtiff":
            errs.append(
                _("gdaldriver {d!r}: only GTiff (GeoTIFF) is written").format(d=self.gdaldriver)
            )
        errs += _refusal(gdal_creation_options, self.gdalopts)
        errs += _refusal(gdal_options, self.metadata)
        if not errs and self.gdalopts is not None:  # the values, as GDAL takes them
            dtype = DATA_TYPES[(self.data_type or "double").lower()][0]
            bands = len(parse_output_types(self.output_type))
            errs += _refusal(gdal_trial_write, gdal_creation_options(self.gdalopts), dtype, bands)
        fixed = [self.origin_x, self.origin_y, self.width, self.height]
        if any(v is not None for v in fixed) and not all(v is not None for v in fixed):
            errs.append(_("give all or none of origin_x, origin_y, width and height"))
        if all(v is not None for v in fixed) and self.bounds is not None:
            errs.append(_("give bounds or origin_x/origin_y/width/height, not both"))
        if (
            self.width is not None
            and self.height is not None
            and (self.width < 1 or self.height < 1)
        ):
            errs.append(_("width and height must be at least 1 cell"))
        if self.bounds is not None:
            try:
                box = crop_box(self.bounds)
                if len(box) != 4:
                    errs.append(_("bounds of writers.gdal are ([xmin, xmax], [ymin, ymax])"))
            except BadInputError as exc:
                errs.append(exc.message)
        srs = [self.override_srs, self.default_srs, self.spatialreference]
        if sum(v is not None for v in srs) > 1:
            errs.append(_("give one of override_srs (spatialreference) and default_srs"))
        for name, value in zip(("override_srs", "default_srs", "spatialreference"), srs):
            errs += _crs_refusal(name, value)
        return errs


def gdal_options(value: str | list[str] | None) -> dict[str, str]:
    """PDAL's ``gdalopts``/``metadata``: ``NAME=VALUE,NAME2=VALUE2`` (or a list of such)."""
    items = [value] if isinstance(value, str) else list(value or [])
    out: dict[str, str] = {}
    for item in items:
        for part in str(item).split(","):
            if not part.strip():
                continue
            name, eq, val = part.partition("=")
            if not eq or not name.strip():
                raise BadInputError(
                    _("{p!r} is not NAME=VALUE (gdalopts and metadata are NAME=VALUE,…)").format(
                        p=part.strip()
                    )
                )
            out[name.strip()] = val.strip()
    return out


#: the settings of a GeoTIFF the writer makes itself (rasterio's own arguments, not GDAL
#: creation options for ``gdalopts``) → the writers.gdal option that sets each (None: none does)
WRITER_OWN_SETTINGS: dict[str, str | None] = {
    "driver": "gdaldriver",
    "count": "output_type",
    "dtype": "data_type",
    "nodata": "nodata",
    "crs": "override_srs or default_srs",
    "transform": "resolution with bounds or origin_x/origin_y",
    "affine": "resolution with bounds or origin_x/origin_y",
    "width": "width or bounds",
    "height": "height or bounds",
    **dict.fromkeys(("gcps", "rpcs", "fp", "mode", "sharing", "opener")),
}


def gdal_creation_options(value: str | list[str] | None) -> dict[str, str]:
    """PDAL's ``gdalopts``: GDAL creation options (``COMPRESS=DEFLATE,TILED=YES``), names in
    any case; the writer's own settings (``WRITER_OWN_SETTINGS``) are refused, naming the
    option that sets them."""
    out = gdal_options(value)
    for name in out:
        if name.lower() not in WRITER_OWN_SETTINGS:
            continue
        instead = WRITER_OWN_SETTINGS[name.lower()]
        if instead is None:
            raise BadInputError(
                _(
                    "gdalopts {k!r} is not a GDAL creation option but the writer's own setting"
                ).format(k=name)
            )
        raise BadInputError(
            _(
                "gdalopts {k!r} is not a GDAL creation option but the writer's own setting: "
                "give {o} instead"
            ).format(k=name, o=_(instead))
        )
    return out


def gdal_trial_write(options: dict[str, str], dtype: str, bands: int) -> None:
    """A small GeoTIFF of ``bands`` bands of ``dtype`` made in memory with GDAL's creation
    ``options``: a value GDAL cannot make a file with (PREDICTOR=3 for integers, COMPRESS=JPEG
    for doubles) is refused before any work, not reported as a failed (full?) disk."""
    from rasterio._err import CPLE_BaseError
    from rasterio.errors import RasterioError
    from rasterio.io import MemoryFile
    from rasterio.transform import from_origin

    from lidar.io import quiet_library_logs

    data = np.ones((bands, 32, 32), dtype=dtype)
    given = ",".join(f"{k}={v}" for k, v in options.items())
    reason = ""
    try:
        with quiet_library_logs("rasterio"), MemoryFile() as mem:
            with mem.open(
                driver="GTiff",
                width=32,
                height=32,
                count=bands,
                dtype=dtype,
                transform=from_origin(0.0, 32.0, 1.0, 1.0),
                **{k.lower(): v for k, v in options.items()},
            ) as dst:
                dst.write(data)
            with mem.open() as back:
                if np.array_equal(back.read(), data):
                    return
    except (RasterioError, CPLE_BaseError) as exc:  # GDAL's reason, less the file's name
        text = str(exc)
        reason = "" if "previous exception" in text else text.split(".tif: ", 1)[-1]
    if reason:
        raise BadInputError(
            _("gdalopts {o}: GDAL cannot write {t} bands with them: {e}").format(
                o=given, t=dtype, e=reason
            )
        )
    raise BadInputError(
        _("gdalopts {o}: GDAL cannot write {t} bands with them").format(o=given, t=dtype)
    )


PRODUCTS = {"dtm", "dsm", "chm", "intensity", "density", "hillshade", "contours"}


def _candidates(cloud: PointCloud, returns: str) -> np.ndarray:
    from lidar import filters

    rn = cloud.dim("return_number", 1)
    nr = cloud.dim("number_of_returns", 1)
    mask = filters.returns_mask(rn, nr, returns) if returns else np.ones(len(cloud), bool)
    return np.asarray(mask & (cloud.classification != NOISE))


def _set_ground(
    cloud: PointCloud, ground: np.ndarray, ignored: np.ndarray | None = None
) -> PointCloud:
    cls = cloud.classification.copy()
    was_ground = cls == GROUND
    if ignored is not None:  # PDAL's ignore: those points keep their class
        was_ground &= ~ignored
    cls[was_ground & ~ground] = UNCLASSIFIED
    cls[ground] = GROUND
    return cloud.with_dims(classification=cls)


def _ground_candidates(
    cloud: PointCloud, returns: str, ignore: str | None
) -> tuple[np.ndarray, np.ndarray | None]:
    """The points a ground filter may take (the returns asked for, no noise, none PDAL's
    ``ignore`` names) and the ignored ones (they keep their class)."""
    from lidar import filters

    cand = _candidates(cloud, returns)
    if ignore is None:
        return cand, None
    ignored = filters.range_mask(cloud, ignore)
    return cand & ~ignored, ignored


def _has_ground(cloud: PointCloud) -> bool:
    return bool((cloud.classification == GROUND).any())


def apply_outlier(cloud: PointCloud, o: OutlierOptions) -> PointCloud:
    from lidar import filters

    if o.keep_existing and _has_ground(cloud):
        return cloud
    if o.method == "statistical":
        cols = (cloud.x, cloud.y, z_in_xy_units(cloud))
        out = filters.statistical_outliers(cols, k=o.mean_k, multiplier=o.multiplier)
    else:
        xyz = np.column_stack([cloud.x, cloud.y, z_in_xy_units(cloud)])
        out = filters.radius_outliers(xyz, radius=o.radius / cloud.xy_unit_m, min_k=o.min_k)
    return cloud.with_dims(classification=filters.mark_noise(cloud.classification, out))


def apply_smrf(cloud: PointCloud, o: SMRFOptions) -> PointCloud:
    from lidar.ground import SMRFParams, smrf

    if o.keep_existing and _has_ground(cloud):
        return cloud
    grids = 1 if o.single_grid else SMRFParams.grids
    p = SMRFParams(
        o.cell,
        o.slope,
        o.window,
        o.threshold,
        o.scalar,
        o.cut,
        grids,
        grow_slope=0.0 if o.single_grid else o.grow_slope,
        clean_rounds=SMRFParams.clean_rounds if o.clean and not o.single_grid else 0,
    ).scaled(cloud.xy_unit_m)
    cand, ignored = _ground_candidates(cloud, o.returns, o.ignore)
    g = smrf(cloud.x, cloud.y, z_in_xy_units(cloud), p, cand)
    return _set_ground(cloud, g, ignored)


def apply_csf(cloud: PointCloud, o: CSFOptions) -> PointCloud:
    from lidar.ground import CSFParams, csf

    if o.keep_existing and _has_ground(cloud):
        return cloud
    p = CSFParams(
        o.resolution, o.rigidness, o.step, o.threshold, o.hdiff, o.iterations, o.smooth
    ).scaled(cloud.xy_unit_m)
    cand, ignored = _ground_candidates(cloud, o.returns, o.ignore)
    g = csf(cloud.x, cloud.y, z_in_xy_units(cloud), p, cand)
    return _set_ground(cloud, g, ignored)


def ground_mask(cloud: PointCloud) -> np.ndarray:
    if len(cloud) == 0:  # not "no ground": no points at all
        raise BadInputError(_("the point cloud is empty"), where=cloud.source or None)
    g = cloud.classification == GROUND
    if not g.any():
        raise BadInputError(
            _(
                "no ground points (class 2) among {n:,} points: a ground filter (filters.smrf, "
                "filters.csf) has not run or found none in so few or so scattered points"
            ).format(n=len(cloud)),
            where=cloud.source,
        )
    return np.asarray(g)


def apply_hag(cloud: PointCloud, o: HagOptions) -> PointCloud:
    from lidar.classify import height_above_ground

    zx = z_in_xy_units(cloud)
    h = height_above_ground(cloud.x, cloud.y, zx, ground_mask(cloud), cell=o.cell / cloud.xy_unit_m)
    return cloud.with_dims(**{HAG: h * (cloud.xy_unit_m / cloud.z_unit_m)})


@dataclass(frozen=True)
class HagNnOptions:
    """PDAL's ``filters.hag_nn``: the height above the ``count`` nearest ground points (in
    plan), weighted by 1 / squared distance, those beyond ``max_distance`` (0: no limit) left
    out; a point beyond the ground's bounding box keeps height 0 unless
    ``allow_extrapolation`` (PDAL's default: true)."""

    count: int = 1
    max_distance: float = 0.0
    allow_extrapolation: bool = True

    def check(self) -> list[str]:
        errs = []
        if not 1 <= self.count <= MAX_CLASSIFY_K:
            errs.append(
                _("count must be between 1 and {hi} ground points, got {v:,}").format(
                    hi=MAX_CLASSIFY_K, v=self.count
                )
            )
        if self.max_distance < 0:
            errs.append(_("max_distance must not be negative"))
        return errs


def apply_hag_nn(cloud: PointCloud, o: HagNnOptions) -> PointCloud:
    """PDAL's HagNnFilter, vectorised: ground points 0; every other point its height over the
    nearest ground point (``count`` 1, or a ground point at the same x, y), else over the
    inverse-squared-distance mean of those within ``max_distance`` (none: 0)."""
    from scipy.spatial import cKDTree

    g = ground_mask(cloud)
    hag = np.zeros(len(cloud))
    gx, gy, gz = cloud.x[g], cloud.y[g], cloud.z[g]
    rest = np.flatnonzero(~g)
    if not len(rest):
        return cloud.with_dims(**{HAG: hag})
    k = min(o.count, len(gx))
    tree = cKDTree(np.column_stack([gx, gy]))
    px, py, pz = cloud.x[rest], cloud.y[rest], cloud.z[rest]
    dist, idx = tree.query(np.column_stack([px, py]), k=k)
    dist, idx = dist.reshape(len(rest), k), idx.reshape(len(rest), k)
    nearest = gz[idx[:, 0]]
    same = (gx[idx[:, 0]] == px) & (gy[idx[:, 0]] == py)
    d2 = dist * dist
    with np.errstate(divide="ignore", invalid="ignore"):
        w = np.where(d2 > 0, 1.0 / d2, 0.0)
        if o.max_distance > 0:
            w[d2 > o.max_distance * o.max_distance] = 0.0
        wsum = w.sum(axis=1)
        ground_z = np.where(wsum > 0, (w * gz[idx]).sum(axis=1) / wsum, pz)
    if k == 1:
        ground_z = nearest
    ground_z = np.where(same, nearest, ground_z)
    if not o.allow_extrapolation and k > 1:
        outside = (px < gx.min()) | (px > gx.max()) | (py < gy.min()) | (py > gy.max())
        ground_z = np.where(outside & ~same, pz, ground_z)
    hag[rest] = pz - ground_z
    return cloud.with_dims(**{HAG: hag})


@dataclass(frozen=True)
class FerryOptions:
    """PDAL's ``filters.ferry``: ``dimensions`` ``"A=>B, C=>D"`` copies A into B (a new
    dimension, or X, Y, Z, Classification, …); ``"=>B"`` makes B, filled with 0."""

    dimensions: str | list[str] = ""

    def pairs(self) -> list[tuple[str, str]]:
        items = [self.dimensions] if isinstance(self.dimensions, str) else self.dimensions
        out = []
        for item in items:
            for part in str(item).split(","):
                if not part.strip():
                    continue
                src, arrow, dst = part.partition("=>")
                if not arrow or not dst.strip():
                    raise BadInputError(
                        _("dimensions {p!r} is not SOURCE=>TARGET").format(p=part.strip())
                    )
                out.append((src.strip(), dst.strip()))
        if not out:
            raise BadInputError(_("dimensions is empty: give SOURCE=>TARGET, …"))
        return out

    def check(self) -> list[str]:
        return _refusal(self.pairs)


def apply_ferry(cloud: PointCloud, o: FerryOptions) -> PointCloud:
    from lidar import filters

    for src, dst in o.pairs():
        values = (
            np.zeros(len(cloud))
            if not src
            else np.array(filters.dimension(cloud, src), dtype=np.float64, copy=True)
        )
        key = filters.dimension_key(dst)
        if key == "x":
            cloud = replace(cloud, x=values)
        elif key == "y":
            cloud = replace(cloud, y=values)
        elif key == "z":
            cloud = replace(cloud, z=values)
        elif key in cloud.dims:  # a field of the format keeps its type
            _check_fits(dst, cloud.dims[key].dtype, values, src)
            cloud = cloud.with_dims(**{key: values.astype(cloud.dims[key].dtype)})
        else:
            cloud = cloud.with_dims(**{key: values})
    return cloud


def _check_fits(dim: str, dtype: np.dtype, values: np.ndarray, src: str | None = None) -> None:
    """Values bound for an integer field fit its type (numpy wrapped 481,349 into Intensity as
    22,597, or raised OverflowError)."""
    if not np.issubdtype(dtype, np.integer) or not len(values):
        return
    info = np.iinfo(dtype)
    lo, hi = float(np.min(values)), float(np.max(values))
    if not (info.min <= lo and hi <= info.max):  # NaN: not within either
        bad = lo if not info.min <= lo else hi
        raise BadInputError(
            _("{d} holds {lo:,} to {hi:,}: {v:,.10g}{src} does not fit").format(
                d=dim,
                lo=int(info.min),
                hi=int(info.max),
                v=bad,
                src="" if src is None else " (" + _("from {s}").format(s=src) + ")",
            )
        )


def apply_classify(cloud: PointCloud, o: ClassifyOptions) -> PointCloud:
    from lidar.classify import ClassifyParams, classify_objects

    if HAG not in cloud.dims:
        cloud = apply_hag(cloud, HagOptions())
    hag_m = cloud.dims[HAG] * cloud.z_unit_m
    xyz_m = np.column_stack([cloud.x, cloud.y, z_in_xy_units(cloud)]) * cloud.xy_unit_m
    p = ClassifyParams(o.min_height, o.low_veg_max, o.medium_veg_max, o.building_min_height, o.k)
    xyz_m -= xyz_m.min(axis=0)
    return cloud.with_dims(classification=classify_objects(xyz_m, hag_m, cloud.classification, p))


def apply_range(cloud: PointCloud, o: RangeOptions) -> PointCloud:
    from lidar import filters

    return cloud.select(filters.range_mask(cloud, o.limits))


def apply_returns(cloud: PointCloud, o: ReturnsOptions) -> PointCloud:
    from lidar import filters

    m = filters.returns_mask(
        cloud.dim("return_number", 1), cloud.dim("number_of_returns", 1), o.groups
    )
    return cloud.select(m)


def apply_voxel(cloud: PointCloud, o: VoxelOptions) -> PointCloud:
    from lidar import filters

    xyz = np.column_stack([cloud.x, cloud.y, z_in_xy_units(cloud)])
    return cloud.select(filters.voxel_thin(xyz, o.cell / cloud.xy_unit_m))


@dataclass(frozen=True)
class VoxelCenterOptions:
    """PDAL's ``filters.voxelcenternearestneighbor``: the point nearest each voxel's centre,
    ``cell`` in the cloud's own units (PDAL's; ``filters.voxel`` takes metres)."""

    cell: float = 1.0

    def check(self) -> list[str]:
        if not self.cell > 0:
            return [_("cell must be positive")]
        return _at_most("cell", self.cell, MAX_VOXEL_M)


def apply_voxel_center(cloud: PointCloud, o: VoxelCenterOptions) -> PointCloud:
    from lidar import filters

    xyz = np.column_stack([cloud.x, cloud.y, cloud.z])
    return cloud.select(filters.voxel_thin(xyz, o.cell))


def apply_reproject(cloud: PointCloud, o: ReprojectOptions) -> PointCloud:
    from lidar import filters

    return filters.reproject(cloud, o.out_srs, src_crs=o.in_srs)


def apply_crop(cloud: PointCloud, o: CropOptions) -> PointCloud:
    from lidar import filters

    if o.bounds is not None:
        b = crop_box(o.bounds)
        m = filters.crop_bounds_mask(cloud.x, cloud.y, (b[0], b[1], b[2], b[3]))
        if len(b) == 6:  # PDAL's 3-D bounds: the heights too, in the cloud's own units
            m &= (cloud.z >= b[4]) & (cloud.z <= b[5])
        return cloud.select(m)
    assert o.polygon is not None
    return cloud.select(filters.crop_polygon_mask(cloud.x, cloud.y, o.polygon))


@dataclass(frozen=True)
class ExpressionOptions:
    """PDAL's ``filters.expression``: the points the expression holds for
    (``Classification == 2 && Z > 100``; :mod:`lidar.expression`)."""

    expression: str = ""

    def check(self) -> list[str]:
        return _expression_refusal(self.expression)


def apply_expression(cloud: PointCloud, o: ExpressionOptions) -> PointCloud:
    return cloud.select(where_mask(cloud, o.expression))


def where_mask(cloud: PointCloud, text: str) -> np.ndarray:
    """The points a PDAL expression holds for."""
    from lidar import expression

    return np.asarray(expression.evaluate(expression.parse(text), cloud), dtype=bool)


@dataclass(frozen=True)
class ElmOptions:
    """PDAL's ``filters.elm`` (Extended Local Minimum, Chen et al. 2012): in cells of ``cell``
    (metres), the lowest points are low noise (class ``class``, 7) while the next point above
    each is more than ``threshold`` (metres) higher; ``maximum`` marks high noise alike from the
    top."""

    cell: float = 10.0
    threshold: float = 1.0
    maximum: bool = False
    noise_class: int = NOISE

    def check(self) -> list[str]:
        errs = []
        if not self.cell > 0 or not self.threshold > 0:
            errs.append(_("cell and threshold must be positive"))
        errs += _at_most("cell", self.cell, MAX_CELL_M)
        if not 0 <= self.noise_class <= 255:
            errs.append(_("class must be 0–255"))
        return errs


#: the most ELM cells along an axis (their keys, row × columns, stay within int64)
ELM_MAX_CELLS = 2**30


def elm_noise(
    x: np.ndarray, y: np.ndarray, z: np.ndarray, cell: float, threshold: float
) -> np.ndarray:
    """The points ELM marks as low noise, vectorised: per cell, ascending heights; a point is
    noise while every gap from it up to the next point is at least ``threshold`` (the walk up
    stops at the first smaller gap; the cell's top point is never noise)."""
    n = len(z)
    if n < 2:
        return np.zeros(n, bool)
    across = max(float(np.ptp(x)), float(np.ptp(y))) / cell
    if not across < ELM_MAX_CELLS:  # the cells' keys would overflow int64
        raise BadInputError(
            _("cell {c:g} is far below the cloud's extent: more than {n:,} cells along an axis")
            .format(c=cell, n=ELM_MAX_CELLS)
        )  # fmt: skip
    col = np.floor((x - x.min()) / cell).astype(np.int64)
    row = np.floor((y - y.min()) / cell).astype(np.int64)
    key = col * (int(row.max()) + 1) + row
    order = np.lexsort((z, key))
    k, zs = key[order], z[order]
    starts = np.flatnonzero(np.r_[True, k[1:] != k[:-1]])
    ends = np.r_[starts[1:], n]
    pos = np.arange(n)
    # gap_ok[i]: the step from sorted point i to i + 1 (same cell) is below the threshold
    same = np.r_[k[1:] == k[:-1], False]
    gap_ok = same & (np.abs(np.r_[np.diff(zs), 0.0]) < threshold)
    stop = np.minimum.reduceat(np.where(gap_ok, pos, n), starts)  # first small gap per cell
    limit = np.minimum(stop, ends - 1)  # noise: positions before the limit
    cell_of = np.repeat(np.arange(len(starts)), ends - starts)
    noise_sorted = pos < limit[cell_of]
    out = np.zeros(n, bool)
    out[order] = noise_sorted
    return out


def apply_elm(cloud: PointCloud, o: ElmOptions) -> PointCloud:
    if not len(cloud):
        return cloud
    cell = o.cell / cloud.xy_unit_m
    zx = z_in_xy_units(cloud)
    thr = o.threshold / cloud.xy_unit_m
    noise = elm_noise(cloud.x, cloud.y, zx, cell, thr)
    if o.maximum:
        noise |= elm_noise(cloud.x, cloud.y, -zx, cell, thr)
    cls = cloud.classification.copy()
    cls[noise] = o.noise_class
    return cloud.with_dims(classification=cls)


@dataclass(frozen=True)
class SampleOptions:
    """PDAL's ``filters.sample`` (Poisson sampling): the points in file order, each kept when no
    point kept before lies closer than ``radius`` (3-D; ``cell`` gives it as cell·√3/2, PDAL's
    voxel); ``dimension``: kept points flagged 1, the others 0, none removed. Lengths in the
    cloud's units, as PDAL's."""

    radius: float | None = None
    cell: float | None = None
    dimension: str | None = None

    @property
    def min_distance(self) -> float:
        return float(self.radius) if self.radius is not None else float(self.cell or 0) * 3**0.5 / 2

    def check(self) -> list[str]:
        if (self.radius is None) == (self.cell is None):
            return [_("give one of radius and cell")]
        if not self.min_distance > 0:
            return [_("radius and cell must be positive")]
        return _at_most("radius", self.min_distance, MAX_VOXEL_M)


def apply_sample(cloud: PointCloud, o: SampleOptions) -> PointCloud:
    from lidar import filters

    keep = filters.poisson_sample(cloud.x, cloud.y, cloud.z, o.min_distance)
    if o.dimension is not None:
        return cloud.with_dims(**{filters.dimension_key(o.dimension): keep.astype(np.uint8)})
    return cloud.select(keep)


@dataclass(frozen=True)
class DecimationOptions:
    """PDAL's ``filters.decimation``: every ``step``-th point from ``offset``, at most ``limit``
    of them (0: no limit)."""

    step: int = 1
    offset: int = 0
    limit: int = 0

    def check(self) -> list[str]:
        if self.step < 1 or self.offset < 0 or self.limit < 0:
            return [_("step must be at least 1; offset and limit not negative")]
        return []


def apply_decimation(cloud: PointCloud, o: DecimationOptions) -> PointCloud:
    n = len(cloud)  # a step or offset beyond the cloud (2**63, 1e30) is the cloud's length
    keep = np.arange(min(o.offset, n), n, min(o.step, max(n, 1)))
    return cloud.select(keep[: min(o.limit, n)] if o.limit else keep)


def apply_assign(cloud: PointCloud, o: AssignOptions) -> PointCloud:
    from lidar import filters

    for dim, rng, number in o.rules():
        key = filters.dimension_key(dim)
        where = np.ones(len(cloud), bool) if rng is None else filters.range_mask(cloud, rng)
        if key in ("x", "y", "z"):
            values = np.array(getattr(cloud, key), copy=True)
            values[where] = number
            cloud = replace(cloud, **{key: values})  # type: ignore[arg-type]
            continue
        current: np.ndarray
        if key == "classification":
            current = cloud.classification.copy()
        elif key in cloud.dims:
            current = np.array(cloud.dims[key], copy=True)
        else:
            current = np.zeros(len(cloud))
        if where.any():
            _check_fits(dim, current.dtype, np.array([number]))
        current[where] = number
        cloud = cloud.with_dims(**{key: current})
    return cloud


@dataclass(frozen=True)
class StageSpec:
    """A stage type: its options class, its function, whether it can run chunk by chunk."""

    options: type
    apply: Callable[[PointCloud, Any], PointCloud] | None
    kind: str  # reader | filter | writer
    streamable: bool


STAGES: dict[str, StageSpec] = {
    "readers.las": StageSpec(ReaderOptions, None, "reader", True),
    "filters.outlier": StageSpec(OutlierOptions, apply_outlier, "filter", False),
    "filters.smrf": StageSpec(SMRFOptions, apply_smrf, "filter", False),
    "filters.csf": StageSpec(CSFOptions, apply_csf, "filter", False),
    "filters.hag": StageSpec(HagOptions, apply_hag, "filter", False),
    "filters.hag_nn": StageSpec(HagNnOptions, apply_hag_nn, "filter", False),
    "filters.ferry": StageSpec(FerryOptions, apply_ferry, "filter", True),
    "filters.classify": StageSpec(ClassifyOptions, apply_classify, "filter", False),
    "filters.range": StageSpec(RangeOptions, apply_range, "filter", True),
    "filters.returns": StageSpec(ReturnsOptions, apply_returns, "filter", True),
    "filters.voxel": StageSpec(VoxelOptions, apply_voxel, "filter", False),
    "filters.voxelcenternearestneighbor": StageSpec(
        VoxelCenterOptions, apply_voxel_center, "filter", False
    ),
    "filters.reprojection": StageSpec(ReprojectOptions, apply_reproject, "filter", True),
    "filters.reproject": StageSpec(ReprojectOptions, apply_reproject, "filter", True),
    "filters.crop": StageSpec(CropOptions, apply_crop, "filter", True),
    "filters.assign": StageSpec(AssignOptions, apply_assign, "filter", True),
    "filters.elm": StageSpec(ElmOptions, apply_elm, "filter", False),
    # each point is judged against every point kept before it, over the whole cloud
    "filters.sample": StageSpec(SampleOptions, apply_sample, "filter", False),
    "filters.expression": StageSpec(ExpressionOptions, apply_expression, "filter", True),
    # the points' order counts across the whole cloud: not chunk by chunk
    "filters.decimation": StageSpec(DecimationOptions, apply_decimation, "filter", False),
    "writers.las": StageSpec(LasWriterOptions, None, "writer", True),
    "writers.gdal": StageSpec(GdalWriterOptions, None, "writer", False),
}


def with_defaults(options: Any, **kw: Any) -> Any:
    """A copy of an options dataclass with some fields replaced."""
    return replace(options, **kw)
