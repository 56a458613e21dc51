"""Convert a SAREnv dataset item (heatmap + its georeference) to a GeoTIFF ``plan poa`` reads.

SAREnv (github.com/bullox/SAREnv, MIT) stores one *master* item per folder
``sarenv_dataset/<id>/``:

* ``heatmap.npy``: float64 probabilities (sum 1) on a grid of ``meter_per_bin`` (30 m) cells in
  the WGS84 UTM zone of the item's centre (zone ``int((lon + 180) / 6) + 1``, 326xx north /
  327xx south, no Norway exceptions), **row 0 at the south edge** (row index
  ``(y - miny) / meter_per_bin``), column 0 at the west edge, covering the "xlarge" circle;
* ``features.geojson``: the OSM features plus the metadata as top-level keys:
  ``center_point`` ([lon, lat], the last known position), ``meter_per_bin``, ``bounds``
  (``[minx, miny, maxx, maxy]`` of the xlarge circle in that UTM zone), ``radius_km``,
  ``climate`` and ``environment_type``. In the public repository this file is a Git LFS pointer;
  give ``--center``, ``--climate`` and ``--environment`` then, and the bounds are rebuilt the way
  SAREnv's generator makes them (the circle of the xlarge radius round the centre).

Sizes (``--size``) are the crops SAREnv's loader makes: a circle of the size's radius round the
centre (radii by environment and climate, :data:`RADIUS_KM`, SAREnv's table after Koester 2008),
pixels ``int((x - minx) / meter_per_bin)`` … cut out, outside the circle zeroed, *not*
renormalised; the crop is georeferenced as SAREnv's evaluator scores it (extent = the circle's
bounds, ``2 r / columns`` metres per pixel). ``--size master`` writes the whole master map.
The GeoTIFF is north-up (rows flipped), float64, in the item's UTM zone.

Run: ``.venv/bin/python scripts/sarenv_to_geotiff.py ITEM_DIR -o poa.tif [--size medium]``;
prints the launch point (the centre) as LAT,LON for ``plan poa --launch``.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

#: SAREnv's item radii (km) for the sizes small, medium, large, xlarge by (environment, climate)
#: (``sarenv/utils/lost_person_behavior.py``; Koester 2008's 25/50/75/95 % distances, hikers)
RADIUS_KM: dict[tuple[str, str], tuple[float, float, float, float]] = {
    ("flat", "temperate"): (0.6, 1.8, 3.2, 9.9),
    ("flat", "dry"): (1.3, 2.1, 6.6, 13.1),
    ("mountainous", "temperate"): (1.1, 3.1, 5.8, 18.3),
    ("mountainous", "dry"): (1.6, 3.2, 6.5, 19.3),
}
SIZES = ("small", "medium", "large", "xlarge")


class ItemError(ValueError):
    """A SAREnv item that cannot be read (one line for the user)."""


@dataclass
class Item:
    heatmap: Any  # (rows, cols) float64, row 0 south (SAREnv's layout)
    center_lonlat: tuple[float, float]
    epsg: int
    meter_per_bin: float
    bounds: tuple[float, float, float, float]  # of the master heatmap, metres
    environment: str
    climate: str


@dataclass
class Crop:
    prob: Any  # north-up (row 0 north), float64
    x0: float  # west edge
    y0: float  # north edge
    cell_x_m: float
    cell_y_m: float
    epsg: int
    center_xy: tuple[float, float]
    center_lonlat: tuple[float, float]
    radius_m: float
    south_up: Any  # the same cells in SAREnv's layout (row 0 south), for SAREnv's evaluator
    bounds: tuple[float, float, float, float]  # the extent SAREnv's evaluator uses


def sarenv_utm_epsg(lon: float, lat: float) -> int:
    zone = int((lon + 180.0) / 6.0) + 1
    return (32600 if lat >= 0 else 32700) + zone


def _to_utm(epsg: int, lon: float, lat: float) -> tuple[float, float]:
    from pyproj import Transformer

    x, y = Transformer.from_crs("EPSG:4326", f"EPSG:{epsg}", always_xy=True).transform(lon, lat)
    return float(x), float(y)


def _metadata(item_dir: Path) -> dict[str, Any] | None:
    p = item_dir / "features.geojson"
    if not p.exists():
        return None
    with p.open("rb") as f:
        head = f.read(64)
    if head.startswith(b"version https://git-lfs"):
        return None  # an LFS pointer: the metadata is not here
    try:
        doc = json.loads(p.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ItemError(f"{p}: not JSON ({exc})") from exc
    keys = ("center_point", "meter_per_bin", "bounds", "climate", "environment_type")
    if not isinstance(doc, dict) or any(k not in doc for k in keys):
        raise ItemError(f"{p}: no SAREnv metadata (needs {', '.join(keys)})")
    return doc


def read_item(
    item_dir: Path,
    center: tuple[float, float] | None = None,
    climate: str | None = None,
    environment: str | None = None,
    meter_per_bin: float = 30.0,
) -> Item:
    """The master heatmap and its georeference (from ``features.geojson``, else the overrides)."""
    hp = item_dir / "heatmap.npy"
    if not hp.exists():
        raise ItemError(f"{hp}: no such file")
    with hp.open("rb") as f:
        if f.read(32).startswith(b"version https://git-lfs"):
            raise ItemError(f"{hp}: a Git LFS pointer, not the data (git lfs pull)")
    try:
        heat = np.load(hp, allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise ItemError(f"{hp}: not a NumPy array ({exc})") from exc
    if heat.ndim != 2 or heat.size == 0:
        raise ItemError(f"{hp}: not a 2-D heatmap (shape {heat.shape})")
    heat = np.asarray(heat, dtype=np.float64)
    meta = _metadata(item_dir)
    if meta is not None:
        lon, lat = (float(v) for v in meta["center_point"])
        env, clim = str(meta["environment_type"]), str(meta["climate"])
        mpb = float(meta["meter_per_bin"])
        epsg = sarenv_utm_epsg(lon, lat)
        b = tuple(float(v) for v in meta["bounds"])
        bounds = (b[0], b[1], b[2], b[3])
    else:
        if center is None or climate is None or environment is None:
            raise ItemError(
                f"{item_dir / 'features.geojson'}: no metadata (missing or a Git LFS pointer); "
                "give --center LON,LAT --climate --environment"
            )
        lon, lat = center
        env, clim, mpb = environment, climate, meter_per_bin
        epsg = sarenv_utm_epsg(lon, lat)
        r = _radius_km(env, clim, "xlarge") * 1000.0
        cx, cy = _to_utm(epsg, lon, lat)
        bounds = (cx - r, cy - r, cx + r, cy + r)
    if not (mpb > 0 and math.isfinite(mpb)):
        raise ItemError(f"{item_dir}: meter_per_bin must be > 0")
    return Item(heat, (lon, lat), epsg, mpb, bounds, env, clim)


def _radius_km(env: str, clim: str, size: str) -> float:
    if (env, clim) not in RADIUS_KM:
        raise ItemError(f"unknown environment/climate {env}/{clim}")
    if size not in SIZES:
        raise ItemError(f"unknown size {size} (one of {', '.join(SIZES)}, master)")
    return RADIUS_KM[(env, clim)][SIZES.index(size)]


def crop(item: Item, size: str) -> Crop:
    """SAREnv's loader crop for ``size`` (or the whole master map for ``"master"``)."""
    h, w = item.heatmap.shape
    cx, cy = _to_utm(item.epsg, *item.center_lonlat)
    mpb = item.meter_per_bin
    minx, miny = item.bounds[0], item.bounds[1]
    if size == "master":
        south = item.heatmap
        bounds = (minx, miny, minx + w * mpb, miny + h * mpb)
        r = max(w, h) * mpb / 2.0
    else:
        r = _radius_km(item.environment, item.climate, size) * 1000.0
        bounds = (cx - r, cy - r, cx + r, cy + r)
        ix0, iy0 = int((bounds[0] - minx) / mpb), int((bounds[1] - miny) / mpb)
        ix1, iy1 = int((bounds[2] - minx) / mpb), int((bounds[3] - miny) / mpb)
        ix0, ix1 = (int(v) for v in np.clip([ix0, ix1], 0, w))
        iy0, iy1 = (int(v) for v in np.clip([iy0, iy1], 0, h))
        if ix1 <= ix0 or iy1 <= iy0:
            raise ItemError(f"the {size} circle lies outside the heatmap")
        yy, xx = np.mgrid[iy0:iy1, ix0:ix1]
        cxp, cyp, rp = (cx - minx) / mpb, (cy - miny) / mpb, r / mpb
        mask = (xx - cxp) ** 2 + (yy - cyp) ** 2 <= rp**2
        south = np.where(mask, item.heatmap[iy0:iy1, ix0:ix1], 0.0)
    rows, cols = south.shape
    cell_x = (bounds[2] - bounds[0]) / cols
    cell_y = (bounds[3] - bounds[1]) / rows
    return Crop(
        np.ascontiguousarray(south[::-1]),
        bounds[0],
        bounds[3],
        cell_x,
        cell_y,
        item.epsg,
        (cx, cy),
        item.center_lonlat,
        r,
        south,
        bounds,
    )


def write_geotiff(c: Crop, path: Path) -> Path:
    import rasterio
    from rasterio.transform import from_origin

    rows, cols = c.prob.shape
    profile = {
        "driver": "GTiff",
        "height": rows,
        "width": cols,
        "count": 1,
        "dtype": "float64",
        "crs": f"EPSG:{c.epsg}",
        "transform": from_origin(c.x0, c.y0, c.cell_x_m, c.cell_y_m),
        "compress": "deflate",
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    with rasterio.open(path, "w", **profile) as ds:
        ds.write(c.prob, 1)
        ds.update_tags(
            source="SAREnv", center_lon=c.center_lonlat[0], center_lat=c.center_lonlat[1]
        )
    return path


def _lonlat(text: str) -> tuple[float, float]:
    try:
        lon, lat = (float(v) for v in text.split(","))
    except ValueError as exc:
        raise ItemError(f"--center must be LON,LAT, got {text!r}") from exc
    if not (-180 <= lon <= 180 and -80 <= lat <= 84):
        raise ItemError(f"--center out of range: {text}")
    return lon, lat


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("item", type=Path, help="SAREnv item folder (heatmap.npy, features.geojson)")
    ap.add_argument("-o", "--output", type=Path, required=True, help="output GeoTIFF")
    ap.add_argument("--size", default="medium", choices=[*SIZES, "master"])
    ap.add_argument("--center", default=None, help="LON,LAT when features.geojson lacks it")
    ap.add_argument("--climate", default=None, choices=["temperate", "dry"])
    ap.add_argument("--environment", default=None, choices=["flat", "mountainous"])
    ap.add_argument("--meter-per-bin", type=float, default=30.0)
    ap.add_argument("--json", action="store_true", help="print the result as JSON")
    a = ap.parse_args(argv)
    try:
        center = _lonlat(a.center) if a.center else None
        item = read_item(a.item, center, a.climate, a.environment, a.meter_per_bin)
        c = crop(item, a.size)
        if not np.isfinite(c.prob).all() or not c.prob.sum() > 0:
            raise ItemError(f"{a.item}: the {a.size} crop holds no probability")
        out = write_geotiff(c, a.output)
    except ItemError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    res = {
        "file": str(out),
        "epsg": c.epsg,
        "shape": list(c.prob.shape),
        "cell_m": [round(c.cell_x_m, 4), round(c.cell_y_m, 4)],
        "probability_in_crop": round(float(c.prob.sum()), 6),
        "launch": f"{c.center_lonlat[1]:.7f},{c.center_lonlat[0]:.7f}",
        "radius_m": c.radius_m,
    }
    print(json.dumps(res) if a.json else f"{out}: launch (centre) {res['launch']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
