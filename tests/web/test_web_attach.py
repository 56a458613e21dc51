"""``dronekit-plzen web attach``: a probability search's POA map, searched share and orthophoto on
the request page. End to end: plan poa-map → plan poa → web attach → the page's JSON endpoint;
the cell coarsening on its own; bad input as one ``error:`` line, exit 2 (one subprocess each)."""

from __future__ import annotations

import getpass
import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import rasterio
from rasterio.io import MemoryFile
from rasterio.transform import from_origin

CLI = [sys.executable, "-m", "dronekit_plzen"]
LKP = (49.74, 13.37)  # lat, lon


def run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CLI, *args], capture_output=True, text=True, timeout=120, cwd=cwd, env=os.environ.copy()
    )


def write_tif(path: Path, data: np.ndarray, crs: str, transform: Any) -> Path:
    data = data if data.ndim == 3 else data[None]
    with rasterio.open(
        path,
        "w",
        driver="GTiff",
        width=data.shape[2],
        height=data.shape[1],
        count=data.shape[0],
        dtype=data.dtype,
        crs=crs,
        transform=transform,
    ) as ds:
        ds.write(data)
    return path


@pytest.fixture(scope="module")
def flown(portal: dict[str, Any]) -> dict[str, Any]:
    """A SAR request, a POA map and a plan flown on it (the planner's CLI), an orthophoto."""
    from telemetry.requests import NewRequest, create_request
    from telemetry.store import open_store

    d: Path = portal["dir"] / "attach"
    d.mkdir()
    lkp = f"{LKP[0]},{LKP[1]}"
    p = run("plan", "poa-map", "--lkp", lkp, "--subject", "child", "--radius-m", "300",
            "-o", "poa.tif", cwd=d)  # fmt: skip
    assert p.returncode == 0, p.stderr
    p = run("plan", "poa", "--poa", "poa.tif", "--drones", "1", "--budget-m", "800", "--alt-m",
            "50", "--fov-deg", "45", "--launch", "49.7402,13.3703", "--out", "out",
            "--format", "geojson", cwd=d)  # fmt: skip
    assert p.returncode == 0, p.stderr
    rgb = np.random.default_rng(7).integers(0, 255, (3, 120, 160), dtype=np.uint8)
    ortho = write_tif(d / "orthophoto.tif", rgb, "EPSG:32633", from_origin(383000, 5511000, 2, 2))
    with open_store(portal["db"]) as s:
        req = create_request(
            s,
            NewRequest("HZS", "sar", "urgent", "Bory", LKP[0], LKP[1], "Nováková", "+420 1",
                       subject_category="child", lkp_lat_deg=LKP[0], lkp_lon_deg=LKP[1]),
            actor="hzs1",
        )  # fmt: skip
    return {"dir": d, "request": req.id, "ortho": ortho,
            "report": json.loads((d / "out" / "poa_report.json").read_text())}  # fmt: skip


@pytest.mark.filterwarnings("ignore::rasterio.errors.NotGeoreferencedWarning")  # the PNG
def test_attach_then_the_request_page_shows_poa_share_and_orthophoto(
    portal: dict[str, Any], flown: dict[str, Any], login: Callable[[str], Any]
) -> None:
    d, rid = flown["dir"], flown["request"]
    p = run("web", "attach", str(rid), "--db", str(portal["db"]), "--poa", "poa.tif",
            "--poa-report", "out/poa_report.json", "--orthophoto", "orthophoto.tif", "--json",
            cwd=d)  # fmt: skip
    assert p.returncode == 0, p.stderr
    out = json.loads(p.stdout)
    assert out["orthophoto"] == str(flown["ortho"].resolve())

    c = login("hzs1")  # the requesting organisation's crisis staff
    live = c.get(f"/api/requests/{rid}/live").json()
    cells = live["poa"]["features"]
    assert 0 < len(cells) == out["poa_cells"] <= 2500
    assert sum(f["properties"]["poa"] for f in cells) == pytest.approx(1.0, abs=1e-3)
    assert all(f["properties"]["poa"] > 0 for f in cells)  # zero cells dropped
    assert max(f["properties"]["rel"] for f in cells) == 1.0
    ring = np.array([pt for f in cells for pt in f["geometry"]["coordinates"][0]])
    assert np.abs(ring.mean(axis=0) - [LKP[1], LKP[0]]).max() < 0.002  # WGS84 lon, lat
    assert np.abs(ring - [LKP[1], LKP[0]]).max(axis=0)[1] < 350 / 111_000  # the 300 m map
    share = flown["report"]["probability_covered"]
    assert 0 < share < 1 and live["searched_share"] == pytest.approx(share)

    (s, w), (n, e) = live["orthophoto"]["bounds"]
    assert s < 49.738 < n and w < 13.378 < e and (n - s) * 111_000 == pytest.approx(240, rel=0.05)
    png = c.get(live["orthophoto"]["url"])
    assert png.status_code == 200 and png.headers["content-type"] == "image/png"
    with MemoryFile(png.content) as mem, mem.open() as img:
        assert img.count == 4 and max(img.width, img.height) <= 1024
        assert img.read(4).max() == 255  # the photo is opaque where it is
    dl = c.get(live["orthophoto"]["download"])
    assert dl.status_code == 200 and dl.content == flown["ortho"].read_bytes()
    page = c.get(f"/requests/{rid}").text
    assert f"{100 * share:.0f} %" in page and f'href="/requests/{rid}/orthophoto"' in page
    assert c.get(f"/api/requests/{rid}/live").json()["poa"] == live["poa"]  # unchanged

    other = login("pcr1")  # another organisation sees neither the request nor its photo
    assert other.get(f"/requests/{rid}/orthophoto.png").status_code == 404

    from telemetry.requests import audit_entries
    from telemetry.store import open_store

    with open_store(portal["db"]) as st:
        entry = audit_entries(st, request_id=rid)[0]
    assert (entry["actor"], entry["role"], entry["action"]) == (
        getpass.getuser(),
        "pilot",
        "results_attached",
    )
    assert entry["detail"]["poa"] is True and entry["detail"]["searched_share"] == share


def test_poa_cells_are_coarsened_to_the_limit_preserving_probability(tmp_path: Path) -> None:
    from missions.poa_cover import poa_feature_collection

    prob = np.zeros((100, 100), dtype=np.float32)
    prob[:, 50:] = np.linspace(1, 2, 50, dtype=np.float32)  # left half zero: 5000 cells
    sjtsk = write_tif(tmp_path / "k.tif", prob, "EPSG:5514", from_origin(-826000, -1068000, 10, 10))
    fc = poa_feature_collection(sjtsk)
    p = np.array([f["properties"]["poa"] for f in fc["features"]])
    assert len(p) == 1250 and fc["properties"]["cell_m"] == 20  # 2×2 blocks, zeros dropped
    assert p.sum() == pytest.approx(1.0, abs=1e-4) and (p > 0).all()
    lonlat = np.array([f["geometry"]["coordinates"][0][0] for f in fc["features"]])
    assert (lonlat[:, 0] > 12.0).all() and (lonlat[:, 0] < 15.0).all()  # Plzeň region
    assert (lonlat[:, 1] > 49.0).all() and (lonlat[:, 1] < 50.5).all()
    # a geographic map (resampled to UTM by the reader) under a small limit
    geog = write_tif(tmp_path / "g.tif", prob, "EPSG:4326", from_origin(13.3, 49.8, 0.0005, 0.0003))
    small = poa_feature_collection(geog, max_cells=100)
    q = np.array([f["properties"]["poa"] for f in small["features"]])
    assert 50 <= len(q) <= 100 and q.sum() == pytest.approx(1.0, abs=1e-3)


@pytest.fixture(scope="module")
def bad_files(flown: dict[str, Any]) -> Path:
    d: Path = flown["dir"] / "bad"
    d.mkdir()
    (d / "text.tif").write_text("not a raster\n")
    (d / "nokey.json").write_text('{"total": 0.3}\n')
    (d / "broken.json").write_text("{probability_covered: \n")
    (d / "share.json").write_text('{"probability_covered": 1.7}\n')
    (d / "notdb.db").write_text("hello\n")
    (d / "ro").mkdir()  # a database whose WAL file cannot be created (a folder is in the way)
    (d / "ro" / "flights.db").write_bytes(Path(flown["dir"].parent / "flights.db").read_bytes())
    (d / "ro" / "flights.db-wal").mkdir()
    p = run("plan", "poa-map", "--lkp", "49.75,13.38", "--subject", "hiker", "--radius-m",
            "300", "-o", str(d / "other.tif"), cwd=flown["dir"])  # fmt: skip
    assert p.returncode == 0, p.stderr
    return d


OK_REPORT = "out/poa_report.json"
BAD = [
    (["999", "--poa-report", OK_REPORT], "no request with id 999"),
    (["{id}", "--poa", "missing.tif"], "missing.tif: no such file"),
    (["{id}", "--poa", "bad/text.tif"], "cannot read the map"),
    (["{id}", "--orthophoto", "bad/text.tif"], "not a GeoTIFF"),
    (["{id}", "--orthophoto", "poa.tif"], "3 (RGB) or 4 (RGBA) bands, this one has 1"),
    (["{id}", "--poa-report", "bad/nokey.json"], "no number probability_covered"),
    (["{id}", "--poa-report", "bad/broken.json"], "not a JSON file"),
    (["{id}", "--poa-report", "bad/share.json"], "fraction 0–1"),
    (["{id}"], "nothing to attach"),
    # found from outside: a report's searched share was shown over another map
    (
        ["{id}", "--poa", "bad/other.tif", "--poa-report", OK_REPORT],
        "the report was planned on another map",
    ),
    (["{id}", "--poa-report", OK_REPORT, "--db", "bad/none.db"], "no flight database here"),
    (["{id}", "--poa-report", OK_REPORT, "--db", "bad/notdb.db"], "not a SQLite database"),
    (["{id}", "--poa-report", OK_REPORT, "--db", "bad/ro/flights.db"], "cannot be written"),
]


@pytest.mark.parametrize(("args", "message"), BAD, ids=[m for _a, m in BAD])
def test_bad_input_is_one_error_line_exit_2(
    portal: dict[str, Any], flown: dict[str, Any], bad_files: Path, args: list[str], message: str
) -> None:
    args = [a.replace("{id}", str(flown["request"])) for a in args]
    if "--db" not in args:
        args += ["--db", str(portal["db"])]
    p = run("web", "attach", *args, cwd=flown["dir"])
    assert p.returncode == 2, (p.returncode, p.stderr)
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0], p.stderr
