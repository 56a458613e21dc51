"""LAS/LAZ input and output at the edges of the pipeline (laspy with the lazrs backend).

Reading is chunked (``laspy``'s ``chunk_iterator``) so files larger than memory can be streamed;
the CRS comes from the header (WKT or GeoTIFF keys) or from the caller; horizontal and vertical
units are recorded in metres per unit. Writing goes to a temporary file beside the target and is
renamed on success, so a failed run never leaves a partial output that looks complete.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import logging
import math
import os
import struct
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import laspy
import numpy as np
from pyproj import CRS

from dronekit_plzen.errors import (
    BadInputError,
    CorruptFileError,
    DronekitPlzenError,
    UnknownCRSError,
    raised_by_library,
)
from dronekit_plzen.geo import as_crs
from dronekit_plzen.i18n import _
from dronekit_plzen.outputs import atomic_output, check_output_path, note_input, write_failure
from dronekit_plzen.quiet_logs import quiet
from lidar.cloud import PointCloud, concat
from lidar.lasfile import laz_pointwise, laz_table_offset, point_capacity

log = logging.getLogger(__name__)

#: points decoded at a time. A whole cloud read into memory is held once plus one chunk's
#: record and coordinates (about 60 bytes a point): 250,000 rather than 1,000,000 takes a
#: 1 M-point cloud's read from 90 to 80 bytes a point at its peak, at the same speed
DEFAULT_CHUNK = 250_000
_SKIP = {"X", "Y", "Z"}


@contextlib.contextmanager
def quiet_library_logs(*names: str) -> Iterator[None]:
    """Keep the records of third-party readers (laspy by default, rasterio) off the console
    inside the block.

    laspy logs a decoding failure at ERROR level before raising it, and rasterio logs GDAL's
    warnings; the CLI shows WARNING and above, so the user would see raw library lines before
    our one error line. Inside the block this thread's records are dropped (other threads' are
    not: see :mod:`dronekit_plzen.quiet_logs`); our error names the file.
    """
    with quiet(*(names or ("laspy",))):
        yield


@contextlib.contextmanager
def las_write_errors(
    target: str | os.PathLike[str], *, written: str | os.PathLike[str] | None = None
) -> Iterator[None]:
    """Turn a LAS/LAZ writer's failure into the error of a failed write naming ``target``.

    laspy's LAZ backend (lazrs) reports a failed write (a full disk, a file size limit) as its
    own exception type, not :class:`OSError`: its cause is found from the file system (see
    :func:`dronekit_plzen.outputs.write_failure`; ``written``: the file being written).
    :class:`OSError` and the toolkit's errors pass through (the atomic output turns the former
    into ``cannot write <path>: <reason>``).
    """
    try:
        yield
    except (DronekitPlzenError, OSError):
        raise
    except Exception as exc:
        if "IoError" not in str(exc) and "write" not in str(exc).lower():
            raise
        raise write_failure(target, written=written, detail=str(exc)) from exc


def _units(crs: CRS | None) -> tuple[float, float]:
    """Metres per unit horizontally and vertically (vertical defaults to horizontal)."""
    if crs is None or crs.is_geographic:
        return 1.0, 1.0
    axes = crs.axis_info
    xy = float(axes[0].unit_conversion_factor) if axes else 1.0
    z = float(axes[2].unit_conversion_factor) if len(axes) > 2 else xy
    return xy, z


def header_crs(header: laspy.LasHeader, path: str) -> CRS | None:
    """The CRS stored in a LAS header (WKT or GeoTIFF keys), or None when there is none."""
    try:
        return header.parse_crs()
    except Exception as exc:  # laspy/pyproj raise various types for unreadable VLRs
        if not raised_by_library(exc):
            raise
        if _blank_crs_records(header):
            # PDAL's warsaw_small.las carries a WKT record holding an empty string: that is no
            # CRS (as PDAL reads it), not an unreadable one; --crs gives one
            log.warning(
                _("{path}: the header's CRS record is empty; the file has no CRS").format(path=path)
            )
            return None
        raise UnknownCRSError(_("the CRS record in the header cannot be read"), where=path) from exc


def _blank_crs_records(header: laspy.LasHeader) -> bool:
    """Whether the header's only CRS records are WKT records with no text (and no GeoTIFF keys)."""
    recs = [*header.vlrs, *(getattr(header, "evlrs", None) or [])]
    wkt = [v for v in recs if type(v).__name__ == "WktCoordinateSystemVlr"]
    geokeys = [v for v in recs if type(v).__name__ == "GeoKeyDirectoryVlr"]
    return bool(wkt) and not geokeys and all(not str(v.string).strip(" '\"\x00") for v in wkt)


def resolve_crs(
    header: laspy.LasHeader,
    path: str,
    user_crs: Any = None,
    *,
    default_crs: Any = None,
    use_header: bool = True,
) -> CRS | None:
    """The user's CRS if given (it overrides the header), else the header's (unless
    ``use_header`` is false: PDAL's ``nosrs``), else ``default_crs`` (PDAL's ``default_srs``)."""
    if user_crs is not None:
        try:
            return as_crs(user_crs)
        except UnknownCRSError as exc:
            raise UnknownCRSError(exc.message, where=path) from exc
    found = header_crs(header, path) if use_header else None
    if found is None and default_crs is not None:
        try:
            return as_crs(default_crs)
        except UnknownCRSError as exc:
            raise UnknownCRSError(exc.message, where=path) from exc
    return found


def check_crs_plausible(crs: CRS | None, bounds: tuple[float, ...], path: str) -> None:
    """Fail when the data's centre lies far outside the CRS's area of use (a wrong CRS); a CRS
    with none (a PROJ string such as ``+proj=longlat``) is checked against the globe, so metres
    taken for degrees are refused as with ``EPSG:4326``."""
    if crs is None or not np.all(np.isfinite(bounds)):
        return
    if crs.area_of_use is None and not (crs.is_geographic or crs.is_projected):
        return  # a local (engineering) CRS: no link to the globe to check against
    from dronekit_plzen.geo import transform

    cx = (bounds[0] + bounds[3]) / 2.0
    cy = (bounds[1] + bounds[4]) / 2.0
    try:
        lon, lat = transform([cx], [cy], crs, 4326)
    except BadInputError as exc:
        raise BadInputError(
            _("coordinates cannot be transformed with CRS {crs}").format(crs=crs.name), where=path
        ) from exc
    # no area of use: the globe (longitudes up to 360, as some geographic data count them)
    w, s, e, n = crs.area_of_use.bounds if crs.area_of_use is not None else (-180, -90, 360, 90)
    margin = 5.0
    ok = (
        np.isfinite(lon[0])
        and w - margin <= lon[0] <= e + margin
        and s - margin <= lat[0] <= n + margin
    )
    if not ok:
        raise UnknownCRSError(
            _(
                "the data ({x:.1f}, {y:.1f}) lie outside the area of use of {crs}: wrong CRS?"
            ).format(x=cx, y=cy, crs=crs.name if crs.name != "unknown" else crs.srs),
            where=path,
        )


def _check_layout(p: Path) -> None:
    """Fail on a file cut short: its header, VLRs and (LAS 1.4) EVLRs must lie inside it.

    laspy opens such a file without complaint (it reads EVLRs lazily) and a COPC reader then
    silently finds no hierarchy, i.e. no points; checking the byte layout up front names the file.
    """
    size = p.stat().st_size
    with p.open("rb") as fh:
        head = fh.read(375)
        if head[:4] != b"LASF":
            return  # not LAS at all: laspy's own error says so
        _check_format(head, p)
        need = 227 if len(head) < 227 else struct.unpack_from("<I", head, 96)[0]
        if len(head) >= 227 and need <= size:  # a file cut short says so below
            _check_vlrs(fh, p, head, need)
        if len(head) >= 26 and (head[24], head[25]) >= (1, 4):
            need = max(need, 375)
            if len(head) == 375:
                pos, count = struct.unpack_from("<QI", head, 235)  # first EVLR, EVLR count
                for _i in range(count if pos else 0):
                    if pos + 60 > size:
                        if pos > _MAX_PLAUSIBLE_OFFSET:  # garbage, not a file cut short
                            raise OverflowError(pos)
                        need = max(need, pos + 60)
                        break
                    fh.seek(pos)
                    evlr = fh.read(60)
                    pos += 60 + (struct.unpack_from("<Q", evlr, 20)[0] if len(evlr) == 60 else 0)
                    need = max(need, pos)
                    if pos > size:
                        break
    if size < need:
        raise CorruptFileError(
            _("truncated: the file has {size} bytes, its header and records need {need}").format(
                size=size, need=need
            ),
            where=str(p),
            offset=size,
        )


#: the LAS versions (1.0 to 1.4) and point data formats (0 to 10) the specification defines
_LAS_MINORS = range(5)
_POINT_FORMATS = range(11)


def _check_format(head: bytes, p: Path) -> None:
    """Fail on a LAS version or a point data format the specification does not define (a damaged
    byte 25 made laspy read a 1.4 header of garbage; byte 104 = 99 gave "… file: 35")."""
    if len(head) >= 26 and (head[24] != 1 or head[25] not in _LAS_MINORS):
        raise CorruptFileError(
            _(
                "the header's LAS version is {major}.{minor}: unknown (versions 1.0 to 1.4 are "
                "defined)"
            ).format(major=head[24], minor=head[25]),
            where=str(p),
            offset=24,
        )
    # bits 6 and 7 flag compression (LAZ); the format is in the low six bits
    if len(head) >= 105 and head[104] & 0x3F not in _POINT_FORMATS:
        raise CorruptFileError(
            _(
                "the header's point data format is {raw} (byte 104): unknown (formats 0 to 10 "
                "are defined)"
            ).format(raw=head[104]),
            where=str(p),
            offset=104,
        )


def _at_scale(v: float, scale: float) -> float:
    """A header bound rounded to its scale's decimals (848899.7, not 848899.7000000001)."""
    if not (math.isfinite(v) and math.isfinite(scale) and scale > 0):
        return float(v)
    # three more decimals than the scale: an offset finer than the scale is kept too
    return round(float(v), max(0, min(15, math.ceil(-math.log10(scale) - 1e-9) + 3)))


def _check_vlrs(fh: Any, p: Path, head: bytes, point_start: int) -> None:
    """Fail on a VLR count or a VLR length that runs into the point data, as PDAL does.

    PDAL's ``garbage_nVariableLength.las`` claims 1,069,128,089 VLRs before its points at byte
    227: laspy went on reading empty records past the end of the file for minutes and 1 GB.
    """
    header_size, _start, count = struct.unpack_from("<HII", head, 94)
    room = point_start - header_size
    if count * _VLR_HEADER > max(room, 0):
        raise CorruptFileError(
            _(
                "the header counts {n:,} VLRs, but only {room:,} bytes lie between the header "
                "and the point data"
            ).format(n=count, room=max(room, 0)),
            where=str(p),
            offset=100,
        )
    pos = header_size
    for i in range(count):
        fh.seek(pos)
        rec = fh.read(_VLR_HEADER)
        length = struct.unpack_from("<H", rec, 20)[0] if len(rec) == _VLR_HEADER else 0
        pos += _VLR_HEADER + length
        if len(rec) < _VLR_HEADER or pos > point_start:
            raise CorruptFileError(
                _("VLR {i:,} of {n:,} runs into the point data (byte {at:,})").format(
                    i=i + 1, n=count, at=point_start
                ),
                where=str(p),
                offset=pos - _VLR_HEADER - length,
            )


#: an offset in a LAS header beyond this (256 TiB) is garbage, not a file cut short (and may be
#: beyond what a file can seek to)
_MAX_PLAUSIBLE_OFFSET = 2**48

#: bytes of a VLR's header (reserved, user id, record id, length, description)
_VLR_HEADER = 54


def _check_file(p: Path) -> None:
    if not p.exists():
        raise BadInputError(_("file not found"), where=str(p))
    if p.is_dir():
        raise BadInputError(_("a directory, not a LAS/LAZ file"), where=str(p))
    if p.stat().st_size == 0:
        raise CorruptFileError(_("the file is empty (0 bytes)"), where=str(p), offset=0)
    try:
        _check_layout(p)
    except (OSError, struct.error, OverflowError) as exc:  # garbage offsets in the header
        raise CorruptFileError(
            _("not a readable LAS/LAZ file: the header's record offsets are invalid"),
            where=str(p),
        ) from exc


def _open(path: str | os.PathLike[str], *, check_count: bool = True) -> laspy.LasReader:
    note_input(path)  # never replaced by an output of the same command
    p = Path(path)
    _check_file(p)
    try:
        with quiet_library_logs():
            reader = laspy.open(str(p))
    except Exception as exc:
        if not raised_by_library(exc):
            raise
        raise CorruptFileError(
            _("not a readable LAS/LAZ file: {err}").format(err=exc), where=str(p)
        ) from exc
    try:
        check_header(reader.header, str(p))
        if check_count:
            if reader.header.are_points_compressed and laz_pointwise(p):
                raise BadInputError(
                    _(
                        "LAZ compressed point-wise without chunks (LASzip 1.x, compressor 1) "
                        "cannot be read here: re-compress it with laszip or PDAL"
                    ),
                    where=str(p),
                )
            problem = count_problem(p, reader.header)
            if problem:
                raise CorruptFileError(problem, where=str(p))
    except BaseException:
        reader.close()
        raise
    return reader


def count_problem(path: Path, header: laspy.LasHeader) -> str | None:
    """Why the header's point count cannot be true for this file's size, or None.

    Checked before anything is allocated for the points (see :mod:`lidar.lasfile`).
    """
    n = int(header.point_count)
    cut = laz_table_offset(path, header) if n else None
    if cut is not None:
        return _(
            "truncated: the LAZ chunk table is due at byte {at:,}, the file has {size:,} bytes"
        ).format(at=cut[0], size=cut[1])
    cap = point_capacity(path, header) if n else None
    if cap is not None and n > cap:
        return _(
            "truncated or damaged: the header says {n:,} points, the file holds at most {m:,}"
        ).format(n=n, m=cap)
    return None


def check_header(header: laspy.LasHeader, path: str) -> None:
    """Fail on a header whose scales, offsets or bounds cannot give real coordinates.

    A scale that is NaN, infinite, zero or negative, or a NaN/infinite offset makes every
    coordinate of the file meaningless; say so instead of failing later in a grid or a TIN. So
    does a scale outside 1e-10–1000 (1e300 overflows the coordinates to infinity, 1e-300 puts
    every point on the offset), an offset beyond 1e10, or a scale and offset that cannot reach
    the header's own bounds.
    """
    for axis, scale, offset in zip("XYZ", header.scales, header.offsets, strict=True):
        s, o = float(scale), float(offset)
        if not math.isfinite(s) or s <= 0:
            raise CorruptFileError(
                _("the header's {axis} scale is {v}: it must be a positive number").format(
                    axis=axis, v=s
                ),
                where=path,
            )
        if not math.isfinite(o):
            raise CorruptFileError(
                _("the header's {axis} offset is {v}: it must be a finite number").format(
                    axis=axis, v=o
                ),
                where=path,
            )
        if not MIN_SCALE <= s <= MAX_SCALE:
            raise CorruptFileError(
                _(
                    "the header's {axis} scale is {v:g}: it must lie between {lo:g} and {hi:g} "
                    "(0.01 and 0.001 are usual)"
                ).format(axis=axis, v=s, lo=MIN_SCALE, hi=MAX_SCALE),
                where=path,
            )
        if abs(o) > MAX_OFFSET:
            raise CorruptFileError(
                _(
                    "the header's {axis} offset is {v:g}: no coordinate reference system has "
                    "coordinates that far from 0 (at most {lim:g})"
                ).format(axis=axis, v=o, lim=MAX_OFFSET),
                where=path,
            )
    _check_reach(header, path)


#: the finest and the coarsest step of the stored integers a header may declare: 1e-10 is
#: 0.01 mm in degrees, 1000 a kilometre; real files use 0.01, 0.001 or 1e-7 (degrees)
MIN_SCALE = 1e-10
MAX_SCALE = 1e3
#: no CRS puts a point on Earth 1e10 units from its origin (metres, feet or degrees)
MAX_OFFSET = 1e10


def _check_reach(header: laspy.LasHeader, path: str) -> None:
    """Fail when the header's bounds lie outside what its scale and offset can encode.

    Every coordinate is ``offset + scale * n`` with ``n`` a 32-bit integer, so the points lie
    within ``offset ± scale * 2**31``. Bounds outside that range mean the scale or the offset is
    damaged (a point's coordinates would then be nonsense, not the surveyed ones). Bounds left
    at zero (some writers never fill them) and bounds that are not numbers (a warning of their
    own) are not judged.
    """
    mins = [float(v) for v in header.mins]
    maxs = [float(v) for v in header.maxs]
    if not all(math.isfinite(v) for v in (*mins, *maxs)) or not any((*mins, *maxs)):
        return
    for axis, scale, offset, lo, hi in zip(
        "XYZ", header.scales, header.offsets, mins, maxs, strict=True
    ):
        s, o = float(scale), float(offset)
        if lo > hi:
            raise CorruptFileError(
                _(
                    "the header's {axis} bounds are inconsistent: the minimum {lo:.10g} lies "
                    "above the maximum {hi:.10g}"
                ).format(axis=axis, lo=lo, hi=hi),
                where=path,
            )
        reach = s * 2**31
        if lo < o - reach - s or hi > o + reach + s:
            raise CorruptFileError(
                _(
                    "the header's {axis} scale {s:g} and offset {o:g} give coordinates "
                    "{a:.10g} to {b:.10g} only, not its {axis} bounds {lo:.10g} to {hi:.10g}: "
                    "the scale or the offset is damaged"
                ).format(axis=axis, s=s, o=o, a=o - reach, b=o + reach, lo=lo, hi=hi),
                where=path,
            )


def _to_cloud(
    points: laspy.ScaleAwarePointRecord, meta: dict[str, Any], names: list[str]
) -> PointCloud:
    dims = {n: np.asarray(points[n]) for n in names}
    return PointCloud(
        x=np.asarray(points.x, dtype=np.float64),
        y=np.asarray(points.y, dtype=np.float64),
        z=np.asarray(points.z, dtype=np.float64),
        dims=dims,
        **meta,
    )


def _meta(header: laspy.LasHeader, path: str, crs: CRS | None) -> dict[str, Any]:
    xy, z = _units(crs)
    return {
        "crs": crs,
        "xy_unit_m": xy,
        "z_unit_m": z,
        "point_format": int(header.point_format.id),
        "las_version": f"{header.version.major}.{header.version.minor}",
        "scales": tuple(float(s) for s in header.scales),
        "source": path,
    }


def iter_chunks(
    path: str | os.PathLike[str],
    *,
    crs: Any = None,
    chunk_size: int = DEFAULT_CHUNK,
    check_crs: bool = True,
    default_crs: Any = None,
    use_header_crs: bool = True,
) -> Iterator[PointCloud]:
    """Stream a LAS/LAZ file as :class:`PointCloud` chunks of at most ``chunk_size`` points
    (the CRS: see :func:`resolve_crs`)."""
    where = str(path)
    with _open(path) as reader:
        header = reader.header
        c = resolve_crs(header, where, crs, default_crs=default_crs, use_header=use_header_crs)
        expected = int(header.point_count)
        if check_crs and expected:  # no points: the header's bounds (0, 0) mean nothing
            check_crs_plausible(c, (*header.mins, *header.maxs), where)
        meta = _meta(header, where, c)
        names = [n for n in header.point_format.dimension_names if n not in _SKIP]
        got = 0
        it = reader.chunk_iterator(chunk_size)
        while True:
            try:
                with quiet_library_logs():
                    pts = next(it)
            except StopIteration:
                break
            except Exception as exc:
                if not raised_by_library(exc):
                    raise
                raise CorruptFileError(
                    _("damaged or truncated point data after {n} of {total} points: {err}").format(
                        n=got, total=expected, err=exc
                    ),
                    where=where,
                ) from exc
            if len(pts) == 0:
                break
            got += len(pts)
            yield _to_cloud(pts, meta, names)
        if got != expected:
            raise CorruptFileError(
                _("truncated: read {n} of {total} points").format(n=got, total=expected),
                where=where,
            )


def read_cloud(
    path: str | os.PathLike[str],
    *,
    crs: Any = None,
    chunk_size: int = DEFAULT_CHUNK,
    check_crs: bool = True,
    default_crs: Any = None,
    use_header_crs: bool = True,
) -> PointCloud:
    """Read a whole LAS/LAZ file into memory (in chunks, so a damaged file fails cleanly).

    Raises :class:`CorruptFileError` for an empty, damaged or truncated file and
    :class:`UnknownCRSError` for a CRS that cannot be read or does not fit the data.
    """
    with _open(path) as reader:  # checks the header's count against the file's size
        total = int(reader.header.point_count)
        if reader.header.are_points_compressed:
            # a LAZ file whose chunk table cannot tell: no more than 8 points per byte up
            # front (more points than that are still all read, by the path below)
            total = min(total, 8 * Path(path).stat().st_size)
    out: PointCloud | None = None
    filled = 0
    opts = {"crs": crs, "default_crs": default_crs, "use_header_crs": use_header_crs}
    for chunk in iter_chunks(path, chunk_size=chunk_size, check_crs=check_crs, **opts):
        m = len(chunk)
        if out is None:
            if m >= total:  # one chunk: no second copy of the coordinates
                # the dimensions are views of the decoded record: own them, so the record
                # (about 30 bytes per point) is freed
                out = replace(chunk, dims={k: np.array(v) for k, v in chunk.dims.items()})
                filled = m
                continue
            # the arrays of the whole cloud once, filled chunk by chunk (no list + concatenate,
            # which would hold the cloud twice)
            out = replace(
                chunk,
                x=np.empty(total),
                y=np.empty(total),
                z=np.empty(total),
                dims={k: np.empty(total, dtype=v.dtype) for k, v in chunk.dims.items()},
            )
        if filled + m > total:  # more points than the header says: keep them all
            rest = list(iter_chunks(path, chunk_size=chunk_size, check_crs=False, **opts))
            return concat(rest)
        out.x[filled : filled + m] = chunk.x
        out.y[filled : filled + m] = chunk.y
        out.z[filled : filled + m] = chunk.z
        for k, v in chunk.dims.items():
            out.dims[k][filled : filled + m] = v
        filled += m
    if out is None:
        with _open(path) as reader:
            header = reader.header
            c = resolve_crs(header, str(path), crs)
            meta = _meta(header, str(path), c)
        z = np.zeros(0)
        return PointCloud(x=z, y=z.copy(), z=z.copy(), dims={}, **meta)
    return out.select(slice(0, filled)) if filled < len(out) else out


def read_copc(
    path: str | os.PathLike[str],
    bounds: tuple[float, float, float, float],
    *,
    crs: Any = None,
    check_crs: bool = True,
) -> PointCloud:
    """Read the points of a COPC file inside 2-D ``bounds`` (minx, miny, maxx, maxy) by octree.

    Bounds are inclusive and in the file's coordinates; only the octree nodes that overlap them
    are read. Uses ``laspy.CopcReader``; a plain (non-COPC) LAZ file raises
    :class:`BadInputError`, a truncated or damaged one :class:`CorruptFileError`.
    """
    p = Path(path)
    where = str(p)
    b = np.asarray(bounds, dtype=np.float64)
    if b.shape != (4,) or not np.all(np.isfinite(b)) or b[0] > b[2] or b[1] > b[3]:
        raise BadInputError(
            _("bounds must be (minx, miny, maxx, maxy) with min <= max: {b}").format(b=bounds),
            where=where,
        )
    _check_file(p)
    with p.open("rb") as fh:  # our handle: laspy leaks its own when the header is not COPC
        try:
            with quiet_library_logs():
                reader = laspy.CopcReader.open(fh)
        except Exception as exc:
            if not raised_by_library(exc):
                raise
            raise BadInputError(_("not a COPC file: {err}").format(err=exc), where=where) from exc
        with reader:
            size = p.stat().st_size
            info = reader.copc_info
            ends = [info.hierarchy_root_offset + info.hierarchy_root_size] + [
                e.offset + e.byte_size for e in reader.root_page.entries.values() if e.point_count
            ]
            if max(ends) > size:
                raise CorruptFileError(
                    _(
                        "truncated: the file has {size} bytes, its header and records need {need}"
                    ).format(size=size, need=max(ends)),
                    where=where,
                    offset=size,
                )
            header = reader.header
            c = resolve_crs(header, where, crs)
            if check_crs:
                check_crs_plausible(c, (*header.mins, *header.maxs), where)
            q = laspy.copc.Bounds(mins=b[:2], maxs=b[2:])
            try:
                with quiet_library_logs():
                    pts = reader.query(bounds=q)
            except Exception as exc:
                if not raised_by_library(exc):
                    raise
                raise CorruptFileError(
                    _("damaged COPC point data: {err}").format(err=exc), where=where
                ) from exc
            # laspy compares integer coordinates with rounded bounds: trim to the exact bounds
            x, y = np.asarray(pts.x), np.asarray(pts.y)
            keep = (x >= b[0]) & (x <= b[2]) & (y >= b[1]) & (y <= b[3])
            names = [n for n in header.point_format.dimension_names if n not in _SKIP]
            return _to_cloud(pts[keep], _meta(header, where, c), names)


def las_info(path: str | os.PathLike[str], *, crs: Any = None) -> dict[str, Any]:
    """Header summary: version, format, count, bounds, scales, offsets, CRS, units, VLRs."""
    where = str(path)
    with _open(path, check_count=False) as reader:
        h = reader.header
        c = resolve_crs(h, where, crs)
        xy, z = _units(c)
        warnings = []
        problem = count_problem(Path(path), h)
        if problem:
            warnings.append(problem)
        if int(h.point_count) and not np.all(np.isfinite([*h.mins, *h.maxs])):
            warnings.append(_("the header's bounds are not finite numbers"))
        return {
            "file": where,
            "las_version": f"{h.version.major}.{h.version.minor}",
            "point_format": int(h.point_format.id),
            "point_count": int(h.point_count),
            "compressed": bool(reader.header.are_points_compressed),
            "mins": [_at_scale(v, sc) for v, sc in zip(h.mins, h.scales, strict=True)],
            "maxs": [_at_scale(v, sc) for v, sc in zip(h.maxs, h.scales, strict=True)],
            "scales": [float(v) for v in h.scales],
            "offsets": [float(v) for v in h.offsets],
            "crs": c.to_string() if c is not None else None,
            "crs_name": c.name if c is not None else None,
            "xy_unit_m": xy,
            "z_unit_m": z,
            "vlrs": [type(v).__name__ for v in h.vlrs],
            "dimensions": list(h.point_format.dimension_names),
            "warnings": warnings,
        }


#: the fields of every LAS point format (one converted to another drops those it lacks)
LAS_FIELDS = frozenset(name for f in range(11) for name in laspy.PointFormat(f).dimension_names) - {
    "X",
    "Y",
    "Z",
}
#: PDAL's ``forward`` groups (writers.las)
FORWARD_HEADER = (
    "major_version",
    "minor_version",
    "dataformat_id",
    "filesource_id",
    "global_encoding",
    "project_id",
    "system_id",
    "software_id",
    "creation_doy",
    "creation_year",
)
FORWARD_SCALE = ("scale_x", "scale_y", "scale_z")
FORWARD_OFFSET = ("offset_x", "offset_y", "offset_z")
FORWARD_NAMES = (*FORWARD_HEADER, *FORWARD_SCALE, *FORWARD_OFFSET, "vlr")
#: VLRs PDAL does not forward: they describe the file's own layout and are written anew
_NOT_FORWARDED = ("LASF_Projection", "liblas", "laszip encoded")
#: extra-bytes types by PDAL's names (writers.las ``extra_dims``)
EXTRA_TYPES = {
    "int8": "i1",
    "int16": "i2",
    "int32": "i4",
    "int64": "i8",
    "uint8": "u1",
    "uint16": "u2",
    "uint32": "u4",
    "uint64": "u8",
    "float": "f4",
    "double": "f8",
    "float32": "f4",
    "float64": "f8",
}


def expand_forward(items: tuple[str, ...]) -> frozenset[str]:
    """PDAL's ``forward`` values with its groups (``header``, ``scale``, ``offset``, ``all``)
    expanded; an unknown one is a :class:`BadInputError`."""
    out: set[str] = set()
    for item in items:
        name = item.strip()
        if name == "all":
            out.update(FORWARD_NAMES)
        elif name == "header":
            out.update(FORWARD_HEADER)
        elif name == "scale":
            out.update(FORWARD_SCALE)
        elif name == "offset":
            out.update(FORWARD_OFFSET)
        elif name in FORWARD_NAMES:
            out.add(name)
        elif name:
            raise BadInputError(
                _("forward {v!r} is not one of {k}").format(
                    v=name, k=", ".join(("all", "header", "scale", "offset", *FORWARD_NAMES))
                )
            )
    return frozenset(out)


@dataclass(frozen=True)
class LasLayout:
    """How a LAS/LAZ file is laid out, from PDAL's ``writers.las`` options. ``None`` fields keep
    the toolkit's defaults: the source's point format, version and scales, offsets rounded near
    the minimum, the cloud's CRS, every dimension the format lacks as extra bytes."""

    minor_version: int | None = None
    point_format: int | None = None
    #: per axis: a scale, "auto" (PDAL's: the values fill [0, 2**31 - 1]) or None
    scales: tuple[float | str | None, ...] = (None, None, None)
    #: per axis: an offset, "auto" (the minimum) or None
    offsets: tuple[float | str | None, ...] = (None, None, None)
    crs: CRS | None = None
    system_id: str | None = None
    software_id: str | None = None
    creation_doy: int | None = None
    creation_year: int | None = None
    global_encoding: int | None = None
    project_id: str | None = None
    file_source_id: int | None = None
    forward: frozenset[str] = frozenset()
    #: (name, numpy type) of the extra dimensions to write; None: every one the format lacks
    extra_dims: tuple[tuple[str, str], ...] | None = None
    discard_high_returns: bool = False
    #: (user_id, record_id, description, data, as an EVLR)
    vlrs: tuple[tuple[str, int, str, bytes, bool], ...] = field(default=())


def _source_header(cloud: PointCloud) -> laspy.LasHeader:
    """The header of the file the cloud was read from (PDAL's ``forward``)."""
    if not cloud.source or not Path(cloud.source).is_file():
        raise BadInputError(
            _("forward needs the source LAS/LAZ file, which is not at hand"),
            where=cloud.source or None,
        )
    with _open(cloud.source, check_count=False) as reader:
        return reader.header


def _pick(explicit: Any, forwarded: bool, source: Any, default: Any) -> Any:
    if explicit is not None:
        return explicit
    return source if forwarded else default


def _header_for(
    cloud: PointCloud, scale: float | None, layout: LasLayout | None = None
) -> laspy.LasHeader:
    lay = layout or LasLayout()
    fwd = lay.forward
    src = _source_header(cloud) if fwd else None
    src_fmt = int(src.point_format.id) if src is not None else None
    fmt = _pick(lay.point_format, "dataformat_id" in fwd, src_fmt, cloud.point_format)
    src_minor = src.version.minor if src is not None else None
    minor = _pick(lay.minor_version, "minor_version" in fwd, src_minor, None)
    if minor is not None:
        version = f"1.{minor}"
        if fmt > 5 and minor < 4:
            raise BadInputError(
                _("point format {f} needs LAS 1.4, not 1.{m}: give minor_version 4").format(
                    f=fmt, m=minor
                ),
                where=cloud.source or None,
            )
    else:
        version = cloud.las_version if cloud.las_version in ("1.2", "1.3", "1.4") else "1.4"
        if fmt > 5 and version != "1.4":
            version = "1.4"
    header = laspy.LasHeader(point_format=fmt, version=version)
    own = set(header.point_format.dimension_names)
    extra: list[tuple[str, str | None]]
    if lay.extra_dims is None:  # a field of another point format is no extra dimension
        extra = [(k, None) for k in cloud.dims if k not in own | LAS_FIELDS and k != "tmp"]
    else:
        missing = [k for k, _t in lay.extra_dims if k not in cloud.dims]
        if missing:
            raise BadInputError(
                _("extra_dims: the cloud has no dimension {d} (it has {have})").format(
                    d=", ".join(missing), have=", ".join(sorted(cloud.dims)) or "-"
                ),
                where=cloud.source or None,
            )
        extra = [(k, t) for k, t in lay.extra_dims if k not in own]
    for name, want in extra:
        arr = cloud.dims[name]
        dtype = arr.dtype if arr.dtype.kind in "iuf" else np.dtype(np.float64)
        if want is not None:
            dtype = np.dtype(want)
        # an extra-bytes array (e.g. PDAL's extrabytes.las: "Colors", 3 × uint16 per point)
        # keeps its elements: laspy's type string "3u2"
        kind = f"{arr.shape[1]}{dtype.str[1:]}" if arr.ndim == 2 else dtype
        header.add_extra_dim(laspy.ExtraBytesParams(name=name, type=kind))
    default = (scale,) * 3 if scale else (cloud.scales or (0.001, 0.001, 0.001))
    cols = (cloud.x, cloud.y, cloud.z)
    mins = np.array([c.min() for c in cols]) if len(cloud) else np.zeros(3)
    maxs = np.array([c.max() for c in cols]) if len(cloud) else np.zeros(3)
    # round offsets near the minimum: 1000 units, finer for fine scales (degrees at 1e-8 reach
    # ±21° from the offset, so it is the minimum to 0.01°)
    offsets = np.zeros(3)
    scales = np.zeros(3)
    for a in range(3):
        o = _pick(
            lay.offsets[a],
            FORWARD_OFFSET[a] in fwd,
            float(src.offsets[a]) if src is not None else None,
            None,
        )
        sc = _pick(
            lay.scales[a],
            FORWARD_SCALE[a] in fwd,
            float(src.scales[a]) if src is not None else None,
            float(default[a]),
        )
        offsets[a] = mins[a] if o == "auto" else (math.nan if o is None else float(o))
        if sc == "auto":  # PDAL's: the stored values fill [0, 2**31 - 1] from the offset
            off = mins[a] if math.isnan(offsets[a]) else offsets[a]
            reach = max(abs(maxs[a] - off), abs(mins[a] - off))
            # (a hair above, so the farthest point's rounding stays inside the range)
            scales[a] = reach / (2**31 - 1) * (1 + 1e-12) if reach > 0 else 1e-9
        else:
            scales[a] = float(sc)
        if math.isnan(offsets[a]):
            step = min(1000.0, scales[a] * 1e6)
            offsets[a] = math.floor(mins[a] / step) * step
    header.scales, header.offsets = scales, offsets
    if len(cloud):
        lo = (mins - offsets) / scales
        hi = (maxs - offsets) / scales
        if np.any(hi > 2**31 - 1) or np.any(lo < -(2**31)):
            raise BadInputError(
                _(
                    "coordinates span too large for the scale {s} and offset {o}: choose a "
                    "coarser scale or an offset within the data"
                ).format(
                    s=", ".join(f"{float(v):g}" for v in header.scales),
                    o=", ".join(f"{float(v):g}" for v in header.offsets),
                ),
                where=cloud.source or None,
            )
    _header_fields(header, lay, src)
    crs = lay.crs or cloud.crs
    if crs is not None:
        try:
            header.add_crs(crs)
        except Exception:  # GeoTIFF keys need an EPSG code: fall back to the OGC WKT record
            from laspy.vlrs.known import WktCoordinateSystemVlr

            header.vlrs.append(WktCoordinateSystemVlr(crs.to_wkt()))
            if version == "1.4":
                header.global_encoding.wkt = True
    if src is not None and "vlr" in fwd:
        for v in src.vlrs:
            uid, rid = str(v.user_id), int(v.record_id)
            if uid in _NOT_FORWARDED or (uid == "LASF_Spec" and rid not in (0, 3)):
                continue
            header.vlrs.append(laspy.VLR(uid, rid, str(v.description), v.record_data_bytes()))
    for uid, rid, desc, data, evlr in lay.vlrs:
        record = laspy.VLR(uid, rid, desc, data)
        if evlr:
            if version != "1.4":  # laspy refused it once the file was begun
                raise BadInputError(
                    _("an extended VLR (evlr) needs LAS 1.4, not {v}: give minor_version 4")
                    .format(v=version),
                    where=cloud.source or None,
                )  # fmt: skip
            if header.evlrs is None:
                from laspy.vlrs.vlrlist import VLRList

                header.evlrs = VLRList()
            header.evlrs.append(record)
        else:
            header.vlrs.append(record)
    return header


def _header_fields(header: laspy.LasHeader, lay: LasLayout, src: laspy.LasHeader | None) -> None:
    """The identifying fields: given, forwarded from the source, or laspy's defaults."""
    fwd = lay.forward

    def get(name: str, explicit: Any, from_src: Any) -> Any:
        return _pick(explicit, name in fwd and src is not None, from_src, None)

    system = get("system_id", lay.system_id, src and src.system_identifier)
    if system is not None:
        header.system_identifier = str(system)
    software = get("software_id", lay.software_id, src and src.generating_software)
    if software is not None:
        header.generating_software = str(software)
    src_date = src.creation_date if src is not None else None
    year = get("creation_year", lay.creation_year, src_date.year if src_date else None)
    doy = get("creation_doy", lay.creation_doy, src_date.timetuple().tm_yday if src_date else None)
    if year is not None or doy is not None:
        y = int(year) if year is not None else _dt.date.today().year
        d = int(doy) if doy is not None else 1
        header.creation_date = _dt.date(y, 1, 1) + _dt.timedelta(days=d - 1)
    enc = get("global_encoding", lay.global_encoding, src and int(src.global_encoding.value))
    if enc is not None:
        header.global_encoding.value = int(enc)
    uid = get("project_id", lay.project_id, src and src.uuid)
    if uid is not None:
        header.uuid = uid if isinstance(uid, uuid.UUID) else uuid.UUID(str(uid))
    fsid = get("filesource_id", lay.file_source_id, src and int(src.file_source_id))
    if fsid is not None:
        header.file_source_id = int(fsid)


def fit_point_format(cloud: PointCloud, point_format: int, discard: bool) -> PointCloud:
    """The points as ``point_format`` holds them. Its return fields: formats 0–5 keep 3 bits
    (up to 7), 6–10 four (up to 15). ``discard`` (PDAL's ``discard_high_return_numbers``) drops
    the points whose return number is above the format's maximum (5, or 15); otherwise a value
    that does not fit is refused before the file is begun (laspy raises OverflowError
    mid-write), as is a class above 31 in formats 0–5. The scan angle moves between the
    formats' fields (whole degrees in 0–5, steps of 0.006° in 6–10)."""
    legacy = point_format <= 5
    dims = cloud.dims
    if legacy and "scan_angle" in dims and "scan_angle_rank" not in dims:
        rank = np.clip(np.rint(dims["scan_angle"] * 0.006), -90, 90).astype(np.int8)
        cloud = cloud.with_dims(scan_angle_rank=rank)
    elif not legacy and "scan_angle_rank" in dims and "scan_angle" not in dims:
        angle = np.rint(dims["scan_angle_rank"].astype(np.float64) / 0.006).astype(np.int16)
        cloud = cloud.with_dims(scan_angle=angle)
    cls = cloud.dims.get("classification")
    if legacy and cls is not None and len(cls) and int(cls.max()) > 31:
        raise BadInputError(
            _(
                "{n:,} points have classes above 31, which point format {f} cannot hold: give "
                "dataformat_id 6 or higher"
            ).format(n=int(np.count_nonzero(cls > 31)), f=point_format),
            where=cloud.source or None,
        )
    rn = cloud.dims.get("return_number")
    if rn is None or not len(cloud):
        return cloud
    if discard:
        keep = rn <= (5 if legacy else 15)
        return cloud if bool(keep.all()) else cloud.select(keep)
    top = 7 if legacy else 15
    nr = cloud.dims.get("number_of_returns", rn)
    bad = int(np.count_nonzero((rn > top) | (nr > top)))
    if bad:
        raise BadInputError(
            _(
                "{n:,} points have return numbers above {top}, which point format {f} cannot "
                "hold: give discard_high_return_numbers, or dataformat_id 6 or higher"
            ).format(n=bad, top=top, f=point_format),
            where=cloud.source or None,
        )
    return cloud


def write_cloud(
    cloud: PointCloud,
    path: str | os.PathLike[str],
    *,
    scale: float | None = None,
    chunk_size: int = DEFAULT_CHUNK,
    layout: LasLayout | None = None,
) -> Path:
    """Write ``cloud`` to LAS or LAZ (by extension) atomically, with scales, offsets and CRS VLR.

    The point format and LAS version of the source are kept (formats 6–10 force LAS 1.4);
    dimensions the format lacks (e.g. ``HeightAboveGround``) are written as extra bytes.
    ``layout`` sets what PDAL's writers.las options set (format, version, scales, offsets, …).
    """
    target = check_output_path(path, suffixes=(".las", ".laz"))
    header = _header_for(cloud, scale, layout)
    cloud = fit_point_format(
        cloud, int(header.point_format.id), bool(layout and layout.discard_high_returns)
    )
    names = set(header.point_format.dimension_names)
    compressed = target.suffix.lower() == ".laz"
    with (
        atomic_output(target) as tmp,
        quiet_library_logs(),
        las_write_errors(target, written=tmp),
        laspy.open(str(tmp), mode="w", header=header, do_compress=compressed) as writer,
    ):
        # chunk by chunk: the packed records of the whole cloud are never held at once
        for lo in range(0, max(len(cloud), 1), chunk_size):
            part = cloud.select(slice(lo, lo + chunk_size))
            record = laspy.ScaleAwarePointRecord.zeros(len(part), header=header)
            record.x = part.x
            record.y = part.y
            record.z = part.z
            for k, v in part.dims.items():
                if k in names:
                    record[k] = v
            writer.write_points(record)
        write_evlrs(writer, header)
    return target


def write_evlrs(writer: laspy.LasWriter, header: laspy.LasHeader) -> None:
    """The extended VLRs asked for (writers.las ``vlrs`` with ``evlr``), after the points."""
    if header.evlrs:
        writer.write_evlrs(header.evlrs)
