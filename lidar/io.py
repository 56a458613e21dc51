"""LAS/LAZ input and output at the edges of the pipeline (laspy with the lazrs backend).

Reading is chunked (``laspy``'s ``chunk_iterator``) so files larger than memory can be streamed;
the CRS comes from the header (WKT or GeoTIFF keys) or from the caller; horizontal and vertical
units are recorded in metres per unit. Writing goes to a temporary file beside the target and is
renamed on success, so a failed run never leaves a partial output that looks complete.
"""

from __future__ import annotations

import contextlib
import logging
import os
import struct
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import laspy
import numpy as np
from pyproj import CRS

from dronekit_plzen.errors import BadInputError, CorruptFileError, StorageError, UnknownCRSError
from dronekit_plzen.geo import as_crs
from dronekit_plzen.i18n import _
from lidar.cloud import PointCloud, concat

log = logging.getLogger(__name__)

DEFAULT_CHUNK = 1_000_000
_SKIP = {"X", "Y", "Z"}


@contextlib.contextmanager
def atomic_output(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it to ``path`` only if the block succeeds."""
    target = Path(path)
    if not target.parent.exists():
        raise StorageError(_("output directory does not exist"), where=str(target.parent))
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp_path, 0o666 & ~umask)  # mkstemp creates 0600; outputs are ordinary files
        os.replace(tmp_path, target)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


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
        raise UnknownCRSError(_("the CRS record in the header cannot be read"), where=path) from exc


def resolve_crs(header: laspy.LasHeader, path: str, user_crs: Any = None) -> CRS | None:
    """The user's CRS if given (it overrides the header), else the header's."""
    if user_crs is not None:
        try:
            return as_crs(user_crs)
        except UnknownCRSError as exc:
            raise UnknownCRSError(exc.message, where=path) from exc
    return header_crs(header, path)


def check_crs_plausible(crs: CRS | None, bounds: tuple[float, ...], path: str) -> None:
    """Fail when the data's centre lies far outside the CRS's area of use (a wrong CRS)."""
    if crs is None or crs.area_of_use is None or not np.all(np.isfinite(bounds)):
        return
    from dronekit_plzen.geo import transform

    cx = (bounds[0] + bounds[3]) / 2.0
    cy = (bounds[1] + bounds[4]) / 2.0
    try:
        lon, lat = transform([cx], [cy], crs, 4326)
    except BadInputError as exc:
        raise BadInputError(
            _("coordinates cannot be transformed with CRS {crs}").format(crs=crs.name), where=path
        ) from exc
    w, s, e, n = crs.area_of_use.bounds
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
            ).format(x=cx, y=cy, crs=crs.name),
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
        need = 227 if len(head) < 227 else struct.unpack_from("<I", head, 96)[0]
        if len(head) >= 26 and (head[24], head[25]) >= (1, 4):
            need = max(need, 375)
            if len(head) == 375:
                pos, count = struct.unpack_from("<QI", head, 235)  # first EVLR, EVLR count
                for _i in range(count if pos else 0):
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


def _check_file(p: Path) -> None:
    if not p.exists():
        raise BadInputError(_("file not found"), where=str(p))
    if p.stat().st_size == 0:
        raise CorruptFileError(_("the file is empty (0 bytes)"), where=str(p), offset=0)
    _check_layout(p)


def _open(path: str | os.PathLike[str]) -> laspy.LasReader:
    p = Path(path)
    _check_file(p)
    try:
        return laspy.open(str(p))
    except Exception as exc:
        raise CorruptFileError(
            _("not a readable LAS/LAZ file: {err}").format(err=exc), where=str(p)
        ) from exc


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
) -> Iterator[PointCloud]:
    """Stream a LAS/LAZ file as :class:`PointCloud` chunks of at most ``chunk_size`` points."""
    where = str(path)
    with _open(path) as reader:
        header = reader.header
        c = resolve_crs(header, where, crs)
        if check_crs:
            check_crs_plausible(c, (*header.mins, *header.maxs), where)
        meta = _meta(header, where, c)
        names = [n for n in header.point_format.dimension_names if n not in _SKIP]
        expected = int(header.point_count)
        got = 0
        it = reader.chunk_iterator(chunk_size)
        while True:
            try:
                pts = next(it)
            except StopIteration:
                break
            except Exception as exc:
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
) -> PointCloud:
    """Read a whole LAS/LAZ file into memory (in chunks, so a damaged file fails cleanly).

    Raises :class:`CorruptFileError` for an empty, damaged or truncated file and
    :class:`UnknownCRSError` for a CRS that cannot be read or does not fit the data.
    """
    chunks = list(iter_chunks(path, crs=crs, chunk_size=chunk_size, check_crs=check_crs))
    if not chunks:
        with _open(path) as reader:
            header = reader.header
            c = resolve_crs(header, str(path), crs)
            meta = _meta(header, str(path), c)
        z = np.zeros(0)
        return PointCloud(x=z, y=z.copy(), z=z.copy(), dims={}, **meta)
    return concat(chunks) if len(chunks) > 1 else chunks[0]


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
            reader = laspy.CopcReader.open(fh)
        except Exception as exc:
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
                pts = reader.query(bounds=q)
            except Exception as exc:
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
    with _open(path) as reader:
        h = reader.header
        c = resolve_crs(h, where, crs)
        xy, z = _units(c)
        return {
            "file": where,
            "las_version": f"{h.version.major}.{h.version.minor}",
            "point_format": int(h.point_format.id),
            "point_count": int(h.point_count),
            "compressed": bool(reader.header.are_points_compressed),
            "mins": [float(v) for v in h.mins],
            "maxs": [float(v) for v in h.maxs],
            "scales": [float(v) for v in h.scales],
            "offsets": [float(v) for v in h.offsets],
            "crs": c.to_string() if c is not None else None,
            "crs_name": c.name if c is not None else None,
            "xy_unit_m": xy,
            "z_unit_m": z,
            "vlrs": [type(v).__name__ for v in h.vlrs],
            "dimensions": list(h.point_format.dimension_names),
        }


def _header_for(cloud: PointCloud, scale: float | None) -> laspy.LasHeader:
    fmt = cloud.point_format
    version = cloud.las_version if cloud.las_version in ("1.2", "1.3", "1.4") else "1.4"
    if fmt > 5 and version != "1.4":
        version = "1.4"
    header = laspy.LasHeader(point_format=fmt, version=version)
    extra = [
        k for k in cloud.dims if k not in set(header.point_format.dimension_names) and k != "tmp"
    ]
    for name in extra:
        arr = cloud.dims[name]
        dtype = arr.dtype if arr.dtype.kind in "iuf" else np.float64
        header.add_extra_dim(laspy.ExtraBytesParams(name=name, type=dtype))
    s = (scale,) * 3 if scale else (cloud.scales or (0.001, 0.001, 0.001))
    header.scales = np.array(s, dtype=np.float64)
    if len(cloud):
        mins = np.array([cloud.x.min(), cloud.y.min(), cloud.z.min()])
        header.offsets = np.floor(mins / 1000.0) * 1000.0
        span = np.array([cloud.x.max(), cloud.y.max(), cloud.z.max()]) - header.offsets
        if np.any(span / header.scales >= 2**31 - 1):
            raise BadInputError(
                _("coordinates span too large for the scale {s}: choose a coarser scale").format(
                    s=list(header.scales)
                ),
                where=cloud.source,
            )
    if cloud.crs is not None:
        try:
            header.add_crs(cloud.crs)
        except Exception:  # GeoTIFF keys need an EPSG code: fall back to the OGC WKT record
            from laspy.vlrs.known import WktCoordinateSystemVlr

            header.vlrs.append(WktCoordinateSystemVlr(cloud.crs.to_wkt()))
            if version == "1.4":
                header.global_encoding.wkt = True
    return header


def write_cloud(
    cloud: PointCloud, path: str | os.PathLike[str], *, scale: float | None = None
) -> Path:
    """Write ``cloud`` to LAS or LAZ (by extension) atomically, with scales, offsets and CRS VLR.

    The point format and LAS version of the source are kept (formats 6–10 force LAS 1.4);
    dimensions the format lacks (e.g. ``HeightAboveGround``) are written as extra bytes.
    """
    target = Path(path)
    if target.suffix.lower() not in (".las", ".laz"):
        raise BadInputError(_("output must end in .las or .laz"), where=str(target))
    header = _header_for(cloud, scale)
    record = laspy.ScaleAwarePointRecord.zeros(len(cloud), header=header)
    record.x = cloud.x
    record.y = cloud.y
    record.z = cloud.z
    names = set(header.point_format.dimension_names)
    for k, v in cloud.dims.items():
        if k in names:
            record[k] = v
    compressed = target.suffix.lower() == ".laz"
    with atomic_output(target) as tmp:
        try:
            with laspy.open(str(tmp), mode="w", header=header, do_compress=compressed) as writer:
                writer.write_points(record)
        except OSError as exc:
            raise StorageError(str(exc), where=str(target)) from exc
    return target
