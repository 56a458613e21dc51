"""A flight's results for the portal: the POA map as WGS84 GeoJSON cells, the searched share
from the POA planner's report, the orthophoto checked and rendered as a map overlay.

Pure functions of files; :func:`attach` (``dronekit-plzen web attach``) records them on a
request through :func:`telemetry.requests.attach_results`. Nothing here imports the web stack,
so the CLI stays fast.
"""

from __future__ import annotations

import json
import math
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from dronekit_plzen.errors import BadInputError, StorageError, library_reasons
from dronekit_plzen.i18n import _
from dronekit_plzen.inputs import check_read_cells

#: the longer side of the orthophoto overlay image, pixels
OVERLAY_MAX_PX = 1024
#: the POA planner's report key holding the covered probability (missions/cli_poa.py)
REPORT_KEY = "probability_covered"


def searched_share(report: Path, poa: Path | None = None) -> float:
    """The probability the flown plan covered, from the POA planner's ``NAME_report.json``.

    A report that names the map it was planned on (``poa_map.sha256``, plan poa since 2026-12)
    must be of ``poa`` when that is given: its share had been shown over another map."""
    p = Path(report)
    if not p.is_file():
        raise BadInputError(_("no such file"), where=str(p))
    try:
        doc = json.loads(p.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadInputError(_("not a JSON file: {e}").format(e=exc), where=str(p)) from None
    value = doc.get(REPORT_KEY) if isinstance(doc, dict) else None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise BadInputError(
            _("the POA report has no number {key} (is it a plan poa report?)").format(
                key=REPORT_KEY
            ),
            where=str(p),
        )
    if not (math.isfinite(value) and 0.0 <= value <= 1.0):
        raise BadInputError(
            _("the searched share is a fraction 0–1") + f": {value}", where=f"{p}: {REPORT_KEY}"
        )
    named = doc.get("poa_map")
    if poa is not None and isinstance(named, dict) and isinstance(named.get("sha256"), str):
        from dronekit_plzen.inputs import path_sha256

        if path_sha256(poa) != named["sha256"]:
            raise BadInputError(
                _("the report was planned on another map ({map}), not {poa}").format(
                    map=named.get("path", "?"), poa=Path(poa).name
                ),
                where=str(p),
            )
    return float(value)


def check_orthophoto(path: Path) -> Path:
    """The orthophoto's absolute path after checking it is a georeferenced RGB(A) GeoTIFF."""
    import rasterio
    from rasterio.errors import RasterioError, RasterioIOError

    p = Path(path)
    if not p.is_file():
        raise BadInputError(_("no such file"), where=str(p))
    try:
        with rasterio.open(p) as ds:
            driver, count, crs = ds.driver, ds.count, ds.crs
            size = (ds.width, ds.height, ds.overviews(1))
    except RasterioIOError as exc:
        raise BadInputError(_("not a GeoTIFF: {e}").format(e=exc), where=str(p)) from None
    if driver != "GTiff":
        raise BadInputError(
            _("not a GeoTIFF (the file is {driver})").format(driver=driver), where=str(p)
        )
    if count not in (3, 4):
        raise BadInputError(
            _("an orthophoto has 3 (RGB) or 4 (RGBA) bands, this one has {n}").format(n=count),
            where=str(p),
        )
    if crs is None:
        raise BadInputError(_("the orthophoto has no CRS"), where=str(p))
    check_read_cells(*size, where=str(p))
    try:  # the pixels too, as the portal will read them (a truncated copy has a valid header)
        render_overlay(p)
    except (RasterioError, ValueError, OSError) as exc:
        raise BadInputError(unreadable_pixels(exc, p), where=str(p)) from None
    return p.resolve()


def unreadable_pixels(exc: BaseException, path: Path) -> str:
    """Our one line for a raster whose header reads but whose pixels do not.

    rasterio says only "Read failed. See previous exception for details."; GDAL's own reasons
    are the exceptions chained below it, the most specific last. A short read there means the
    file ends before its pixels do (a copy cut short); anything else is told with GDAL's most
    specific reason."""
    reasons, short = library_reasons(exc)
    if short:
        try:
            size = path.stat().st_size
        except OSError:
            size = 0
        return _(
            "the orthophoto's pixels cannot be read: the file ends after {size:,} bytes, before "
            "its pixels do (an incomplete copy? copy the whole file again)"
        ).format(size=size)
    reason = reasons[-1] if reasons else type(exc).__name__
    return _("the orthophoto's pixels cannot be read (a damaged file?): {e}").format(e=reason)


@dataclass(frozen=True)
class Overlay:
    """A downscaled PNG of an orthophoto in Web Mercator and its WGS84 bounds
    ``((south, west), (north, east))``, as Leaflet's image overlay takes them."""

    png: bytes
    bounds: tuple[tuple[float, float], tuple[float, float]]


def orthophoto_bounds(path: Path) -> tuple[tuple[float, float], tuple[float, float]]:
    import rasterio
    from rasterio.warp import transform_bounds

    with rasterio.open(path) as ds:
        w, s, e, n = transform_bounds(ds.crs, "EPSG:4326", *ds.bounds)
    return ((round(s, 7), round(w, 7)), (round(n, 7), round(e, 7)))


def render_overlay(path: Path, max_px: int = OVERLAY_MAX_PX) -> Overlay:
    """The orthophoto read at a reduced resolution (overviews when present), warped to Web
    Mercator (Leaflet stretches an image overlay linearly in Web Mercator) and PNG-encoded with
    transparency outside the photo."""
    import rasterio
    from rasterio.enums import Resampling
    from rasterio.io import MemoryFile
    from rasterio.transform import Affine
    from rasterio.warp import calculate_default_transform, reproject

    with rasterio.open(path) as ds:
        scale = max(1.0, max(ds.width, ds.height) / max_px)
        h, w = max(1, round(ds.height / scale)), max(1, round(ds.width / scale))
        data = ds.read(
            indexes=[1, 2, 3, 4] if ds.count == 4 else [1, 2, 3],
            out_shape=(ds.count, h, w),
            resampling=Resampling.average,
        )
        if ds.count == 3:
            mask = ds.dataset_mask(out_shape=(h, w))
            data = np.concatenate([data, mask[None]])
        src_t = ds.transform @ Affine.scale(ds.width / w, ds.height / h)
        src_crs = ds.crs
        dtype = ds.dtypes[0]
    if dtype != "uint8":  # stretch other sample types to 0..255 from their 2-98 % range
        rgb = data[:3].astype(np.float64)
        lo, hi = np.percentile(rgb, (2, 98))
        rgb = np.clip((rgb - lo) / max(hi - lo, 1e-12) * 255.0, 0, 255)
        alpha = np.where(data[3] > 0, 255, 0)
        data = np.concatenate([rgb, alpha[None]]).astype(np.uint8)
    left, bottom, right, top = rasterio.transform.array_bounds(h, w, src_t)
    dst_t, dw, dh = calculate_default_transform(
        src_crs, "EPSG:3857", w, h, left, bottom, right, top
    )
    out = np.zeros((4, int(dh or 1), int(dw or 1)), dtype=np.uint8)
    for b in range(4):
        reproject(
            data[b],
            out[b],
            src_transform=src_t,
            src_crs=src_crs,
            dst_transform=dst_t,
            dst_crs="EPSG:3857",
            resampling=Resampling.bilinear if b < 3 else Resampling.nearest,
        )
    with warnings.catch_warnings(), MemoryFile() as mem:
        warnings.simplefilter("ignore", rasterio.errors.NotGeoreferencedWarning)  # a plain PNG
        with mem.open(
            driver="PNG", width=out.shape[2], height=out.shape[1], count=4, dtype="uint8"
        ) as png:
            png.write(out)
        data_png = bytes(mem.read())
    return Overlay(data_png, orthophoto_bounds(path))


def actor_name() -> str:
    """The OS user running the command (the audit log's actor)."""
    import getpass
    import os

    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return f"uid {os.getuid()}"


def attach(
    db_path: Path,
    request_id: int,
    *,
    poa: Path | None = None,
    poa_report: Path | None = None,
    orthophoto: Path | None = None,
    actor: str | None = None,
) -> Any:
    """Read and check the files, then record them on request ``request_id`` (one audit entry,
    role pilot). Every file is checked before the database is touched."""
    import sqlite3

    from telemetry.requests import attach_results
    from telemetry.store import is_transient, open_store, storage_error

    if poa is None and poa_report is None and orthophoto is None:
        raise BadInputError(_("nothing to attach: give --poa, --poa-report or --orthophoto"))
    if not 1 <= request_id < 2**63:  # beyond SQLite's INTEGER: an OverflowError, not "no such"
        raise BadInputError(_("no request with id {id}").format(id=request_id))
    from missions.poa_cover import poa_feature_collection

    poa_json = None if poa is None else json.dumps(poa_feature_collection(poa))
    share = None if poa_report is None else searched_share(poa_report, poa)
    ortho = None if orthophoto is None else str(check_orthophoto(orthophoto))
    db = Path(db_path).expanduser()
    if db.is_dir():
        raise BadInputError(_("this is a folder, not a flight database"), where=str(db))
    if not db.is_file():
        raise BadInputError(
            _("no flight database here (import logs or record flights first)"), where=str(db)
        )
    try:
        with open_store(db) as store:
            return attach_results(
                store,
                request_id,
                actor=actor or actor_name(),
                role="pilot",
                poa_geojson=poa_json,
                searched_share=share,
                orthophoto_path=ortho,
            )
    except (StorageError, sqlite3.Error) as exc:
        err = exc if isinstance(exc, StorageError) else storage_error(exc, db)
        if err.__cause__ is not None and is_transient(err.__cause__):
            raise err from None
        raise BadInputError(err.message, where=str(db)) from None
