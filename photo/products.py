"""Writers of the photo products: COG GeoTIFFs, LAZ with RGB, cameras GeoJSON, reports.

Every writer goes through :func:`dronekit_plzen.outputs.atomic_output`: a product either exists
complete or not at all. ``photo process`` runs them inside an
:class:`~dronekit_plzen.outputs.OutputGroup`, so the products of one run are put in place together.
"""

from __future__ import annotations

import html
import json
import math
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray
from pyproj import CRS

from dronekit_plzen.errors import StorageError
from dronekit_plzen.i18n import _
from dronekit_plzen.outputs import atomic_output
from photo.surface import Grid

NODATA = -9999.0


def _transform(grid: Grid, origin: tuple[float, float, float]) -> Any:
    from rasterio.transform import from_origin

    return from_origin(grid.left + origin[0], grid.top + origin[1], grid.res, grid.res)


def _write_cog(
    path: Path, bands: NDArray[Any] | list[NDArray[Any]], profile: dict[str, Any]
) -> Path:
    """Write ``bands`` ((count, rows, cols), or a list of (rows, cols)) as a Cloud-Optimized
    GeoTIFF through a MEM dataset."""
    import rasterio
    import rasterio.shutil
    from rasterio.io import MemoryFile

    count = len(bands)
    rows, cols = bands[0].shape
    prof = {"driver": "GTiff", "count": count, "height": rows, "width": cols, **profile}
    try:
        with (
            atomic_output(path, suffixes=(".tif", ".tiff")) as tmp,
            MemoryFile() as mem,
            mem.open(**prof) as ds,
        ):
            for i, band in enumerate(bands, start=1):
                ds.write(np.ascontiguousarray(band), i)
            if count == 4:
                from rasterio.enums import ColorInterp

                ds.colorinterp = [
                    ColorInterp.red,
                    ColorInterp.green,
                    ColorInterp.blue,
                    ColorInterp.alpha,
                ]
            rasterio.shutil.copy(
                ds,
                tmp,
                driver="COG",
                compress="DEFLATE",
                blocksize=256,
                overview_resampling="average",
            )
    except rasterio.errors.RasterioError as exc:
        raise StorageError(
            _("cannot write {path}: {reason}").format(path=path, reason=exc)
        ) from exc
    return path


def write_orthophoto(
    path: Path,
    rgb: NDArray[np.uint8],
    alpha: NDArray[np.uint8],
    grid: Grid,
    crs: CRS,
    origin: tuple[float, float, float],
) -> Path:
    """RGB + alpha COG (uint8, 4 bands)."""
    profile = {"dtype": "uint8", "crs": crs.to_wkt(), "transform": _transform(grid, origin)}
    # band by band into the in-memory dataset: no 4-band copy of the whole orthophoto
    return _write_cog(path, [rgb[..., 0], rgb[..., 1], rgb[..., 2], alpha], profile)


def write_dsm(
    path: Path,
    z_model: NDArray[np.float64],
    grid: Grid,
    crs: CRS,
    origin: tuple[float, float, float],
) -> Path:
    """Height COG (float32, world heights, NaN written as :data:`NODATA`)."""
    z = np.where(np.isfinite(z_model), z_model + origin[2], NODATA).astype(np.float32)
    profile = {
        "dtype": "float32",
        "crs": crs.to_wkt(),
        "transform": _transform(grid, origin),
        "nodata": NODATA,
    }
    return _write_cog(path, z[None], profile)


def write_points(
    path: Path,
    xyz_world: NDArray[np.float64],
    rgb: NDArray[np.uint8],
    crs: CRS,
    ground: NDArray[np.bool_] | None = None,
) -> Path:
    """LAS 1.4 point format 7 (RGB, 16-bit) with the CRS as WKT, LAZ-compressed by extension.

    ``ground`` marks the points a ground filter kept (ASPRS class 2; the others stay 1).
    """
    import laspy

    header = laspy.LasHeader(point_format=7, version="1.4")
    header.scales = np.array([0.001, 0.001, 0.001])
    if len(xyz_world):
        header.offsets = np.floor(xyz_world.min(axis=0) / 1000.0) * 1000.0
    header.add_crs(crs)
    las = laspy.LasData(header)
    las.x = xyz_world[:, 0]
    las.y = xyz_world[:, 1]
    las.z = xyz_world[:, 2]
    rgb16 = rgb.astype(np.uint16) * 257
    las.red, las.green, las.blue = rgb16[:, 0], rgb16[:, 1], rgb16[:, 2]
    cls = np.ones(len(xyz_world), dtype=np.uint8)  # unclassified
    if ground is not None:
        cls[ground] = 2
    las.classification = cls
    try:
        with atomic_output(path, suffixes=(".laz", ".las")) as tmp:
            las.write(str(tmp))
    except (OSError, laspy.errors.LaspyException) as exc:
        raise StorageError(
            _("cannot write {path}: {reason}").format(path=path, reason=exc)
        ) from exc
    return path


def utf8_clean(data: Any) -> Any:
    """``data`` with every text valid UTF-8: a file name's bytes that are not UTF-8 (kept by
    Python as lone surrogates, e.g. a photo named on a Windows-1250 card reader) become U+FFFD;
    written as they are, they stopped report.json and cameras.geojson with an internal error."""
    from photo.exif import utf8_name

    if isinstance(data, str):
        return utf8_name(data)
    if isinstance(data, dict):
        return {utf8_clean(k): utf8_clean(v) for k, v in data.items()}
    if isinstance(data, (list, tuple)):
        return [utf8_clean(v) for v in data]
    return data


def write_json(path: Path, data: Any) -> Path:
    from dronekit_plzen.cliutil import to_json

    text = to_json(utf8_clean(data))
    with atomic_output(path, suffixes=(".json", ".geojson")) as tmp:
        Path(tmp).write_text(text + "\n", encoding="utf-8")
    return path


def _rows(d: dict[str, Any], prefix: str = "") -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    for k, v in d.items():
        if isinstance(v, dict):
            out.extend(_rows(v, f"{prefix}{k}."))
        elif isinstance(v, list) and v and isinstance(v[0], dict):
            continue
        elif isinstance(v, float):
            out.append((prefix + k, f"{v:.3f}"))
        else:
            out.append((prefix + k, str(v)))
    return out


#: the heights of every product (cameras' ``z_m``, DSM, DTM, points): the photos' GPS altitudes
#: as their EXIF gives them (a ``--dem`` is shifted onto them, the offset among the warnings)
HEIGHT_DATUM = "GPS altitude of the photos (EXIF)"


def summary_rows(report: dict[str, Any]) -> list[tuple[str, str]]:
    """The figures a surveyor reads first, named and with their units (the table under them
    keeps every field as ``report.json`` names it); a figure the report lacks is left out."""
    out: list[tuple[str, str]] = []

    def num(key: str) -> float | None:
        v = report.get(key)
        return float(v) if isinstance(v, int | float) and math.isfinite(v) else None

    if num("images_total") is not None:
        out.append(
            (
                _("Photos registered"),
                _("{r} of {n} ({s} skipped)").format(
                    r=report.get("images_registered", "?"),
                    n=report["images_total"],
                    s=report.get("images_skipped", 0),
                ),
            )
        )
    if (e := num("mean_reprojection_error_px")) is not None:
        out.append((_("Mean reprojection error"), f"{e:.2f} px"))
    rms = report.get("gps_residual_rms_m")
    if isinstance(rms, dict) and {"horizontal", "u"} <= set(rms):
        out.append(
            (
                _("Position against GPS (RMS)"),
                _("{h:.2f} m horizontal, {v:.2f} m vertical").format(
                    h=rms["horizontal"], v=rms["u"]
                ),
            )
        )
    if (g := num("gsd_cm")) is not None:
        res = num("resolution_cm")
        text = f"{g:.1f} cm/px" + (
            "" if res is None else ", " + _("orthophoto {r:.1f} cm").format(r=res)
        )
        out.append((_("Ground sampling distance"), text))
    if (d := num("dsm_resolution_m")) is not None:
        out.append((_("Surface model cells"), f"{d:.2f} m ({report.get('surface', '?')})"))
    if (a := num("covered_area_m2")) is not None:
        out.append((_("Area covered"), f"{a:,.0f} m² ({a / 1e4:.2f} ha)".replace(",", " ")))
    for key, name in (("points_sparse", _("Tie points")), ("points_dense", _("Dense points"))):
        if (v := num(key)) is not None and v > 0:
            out.append((name, f"{v:,.0f}".replace(",", " ")))
    if report.get("crs"):
        out.append((_("Coordinate system"), str(report["crs"])))
    if report.get("height_datum"):
        datum = str(report["height_datum"])
        if datum == HEIGHT_DATUM:  # in the reader's language (report.json keeps it English)
            datum = _("GPS altitude of the photos (EXIF)")
        out.append((_("Heights"), datum))
    times = report.get("times_s")
    if isinstance(times, dict) and times:
        total = sum(float(t) for t in times.values() if isinstance(t, int | float))
        out.append((_("Processing time"), f"{total / 60:.1f} min"))
    return out


def write_report_html(path: Path, report: dict[str, Any], ortho_png: str | None) -> Path:
    """A one-page HTML report: the main figures named, a preview of the orthophoto, the
    warnings, every figure of ``report.json`` and the photos skipped."""
    report = utf8_clean(report)
    title = html.escape(_("Photogrammetry report"))
    summary = "\n".join(
        f"<tr><th>{html.escape(k)}</th><td>{html.escape(v)}</td></tr>"
        for k, v in summary_rows(report)
    )
    rows = "\n".join(
        f"<tr><th>{html.escape(k)}</th><td>{html.escape(v)}</td></tr>"
        for k, v in _rows({k: v for k, v in report.items() if k not in ("warnings", "skipped")})
    )
    warns = "".join(f"<li>{html.escape(str(w))}</li>" for w in report.get("warnings", []))
    skipped = "".join(
        f"<li>{html.escape(str(s['file']))}: {html.escape(str(s['reason']))}</li>"
        for s in report.get("skipped", [])
    )
    img = (
        f'<p><img src="{html.escape(ortho_png)}" style="max-width:100%" alt="orthophoto"></p>'
        if ortho_png
        else ""
    )
    doc = f"""<!DOCTYPE html>
<html lang="{html.escape(report.get("lang", "en"))}"><head><meta charset="utf-8">
<title>{title}</title>
<style>body{{font-family:sans-serif;max-width:60em;margin:2em auto}}
th{{text-align:left;padding-right:1em}}td{{font-family:monospace}}
table.summary td{{font-family:sans-serif;font-size:1.1em}}</style></head>
<body><h1>{title}</h1><table class="summary">{summary}</table>{img}
<h2>{html.escape(_("Warnings"))}</h2><ul>{warns}</ul>
<h2>{html.escape(_("Figures"))}</h2><table>{rows}</table>
<h2>{html.escape(_("Skipped photos"))}</h2><ul>{skipped}</ul>
</body></html>
"""
    with atomic_output(path, suffixes=(".html",)) as tmp:
        Path(tmp).write_text(doc, encoding="utf-8")
    return path


def write_preview_png(
    path: Path, rgb: NDArray[np.uint8], alpha: NDArray[np.uint8], max_px: int = 1200
) -> Path:
    """A small RGBA PNG of the orthophoto for the HTML report."""
    from PIL import Image

    # every k-th cell first (k leaves at least max_px): no full-size RGBA copy
    k = max(1, max(alpha.shape) // max_px)
    im = Image.fromarray(np.dstack([rgb[::k, ::k], alpha[::k, ::k]]), mode="RGBA")
    im.thumbnail((max_px, max_px))
    with atomic_output(path, suffixes=(".png",)) as tmp:
        im.save(tmp, format="PNG")
    return path


def cameras_geojson(cams: list[dict[str, Any]]) -> dict[str, Any]:
    """A FeatureCollection (WGS84, RFC 7946): one Point per photo and one footprint Polygon."""
    feats = []
    for c in cams:
        props = {k: v for k, v in c.items() if k not in ("lonlat", "footprint_lonlat")}
        feats.append(
            {
                "type": "Feature",
                "geometry": {"type": "Point", "coordinates": list(c["lonlat"])},
                "properties": {"kind": "camera", **props},
            }
        )
        fp = c.get("footprint_lonlat")
        if fp:
            ring = [list(p) for p in fp] + [list(fp[0])]
            feats.append(
                {
                    "type": "Feature",
                    "geometry": {"type": "Polygon", "coordinates": [ring]},
                    "properties": {"kind": "footprint", "image": c["image"]},
                }
            )
    return {"type": "FeatureCollection", "features": feats}


def dumps(data: Any) -> str:
    return json.dumps(data, ensure_ascii=False)
