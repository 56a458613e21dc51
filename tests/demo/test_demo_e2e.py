"""The main job end to end: both demos in their fast mode, outputs checked."""

from __future__ import annotations

import json
import os
import socket
import sqlite3
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import rasterio

from dronekit_plzen.demo.sar import free_port_offset

# one worker builds this module's expensive fixture once (make test runs --dist loadgroup)
pytestmark = pytest.mark.xdist_group("heavy")  # see tests/training


def _run(*args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", PROJ_NETWORK="OFF")
    return subprocess.run(
        [sys.executable, "-m", "dronekit_plzen", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=timeout,
        check=False,
    )


@pytest.fixture(scope="module")
def sar_demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, Path]:
    out = tmp_path_factory.mktemp("demo")
    r = _run("demo", "--fast", "--json", "--out", str(out))
    assert r.returncode == 0, r.stderr[-3000:]
    assert "Traceback" not in r.stderr
    return json.loads(r.stdout), out


def test_every_planned_item_reached_and_coverage(sar_demo: tuple[dict, Path]) -> None:
    res, _out = sar_demo
    assert len(res["drones"]) == 3
    assert 1.5 < res["area_km2"] < 2.0
    for d in res["drones"]:
        assert d["all_items_reached"], f"{d['name']} reached {d['reached']}"
        assert len(d["nav_seqs"]) > 10
        assert d["planned_pod"] == pytest.approx(0.63, abs=0.01)
        assert d["flown_coverage_pct"] >= 96.0, d
        assert d["flown_pod"] >= 0.6, d
        # a flight of 20-35 min on the vehicle clock, 9-13 km, battery used but not exhausted
        assert 20 * 60 < d["flown_time_s"] < 35 * 60, d
        assert 8_000 < d["flown_distance_m"] < 14_000, d
        assert 30 < d["battery_used_pct"] < 85, d
        assert d["max_height_m"] <= 120.0
    assert res["total_coverage_pct"] >= 97.0
    assert res["total_pod"] >= 0.6


def test_flights_recorded_under_the_deployment(sar_demo: tuple[dict, Path]) -> None:
    res, out = sar_demo
    con = sqlite3.connect(out / "deployments.db")
    try:
        assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        dep = con.execute(
            "SELECT organisation, category, status FROM deployments WHERE id = ?",
            (res["deployment_id"],),
        ).fetchone()
        assert dep == ("PCR", "sar", "completed")
        n = con.execute(
            "SELECT COUNT(*) FROM flights WHERE deployment_id = ? AND ground_run = 0",
            (res["deployment_id"],),
        ).fetchone()[0]
        assert n == 3
        # the flights filed under the fleet's names (the report had read sysid-1 … sysid-3)
        names = con.execute(
            "SELECT DISTINCT v.name FROM flights f JOIN vehicles v ON v.id = f.vehicle_id "
            "WHERE f.deployment_id = ? ORDER BY v.name",
            (res["deployment_id"],),
        ).fetchall()
        assert names == [("SITMP-1",), ("SITMP-2",), ("SITMP-3",)]
        samples = con.execute("SELECT COUNT(*) FROM samples").fetchone()[0]
        assert samples > 3 * 1000
    finally:
        con.close()
    assert res["indicator"]["total"] >= 1
    assert res["indicator"]["baseline"]["value"] == 10
    assert res["indicator"]["target"]["value"] == 30


def test_output_files(sar_demo: tuple[dict, Path]) -> None:
    _res, out = sar_demo
    html = (out / "report.html").read_text(encoding="utf-8")
    assert "data:image/png;base64," in html
    assert 'src="http' not in html and 'href="http' not in html  # self-contained
    assert "GOV 16" in html and "SITMP-3" in html
    assert "max height m above home" in html  # heights carry their datum
    fc = json.loads((out / "tracks.geojson").read_text())
    kinds = [f["properties"]["kind"] for f in fc["features"]]
    assert kinds.count("flown_track") == 3 and kinds.count("planned_track") == 3
    for name in ("sitmp-1", "sitmp-2", "sitmp-3"):
        plan = json.loads((out / "plans" / f"{name}.plan").read_text())
        assert plan["fileType"] == "Plan"
        assert len(plan["mission"]["items"]) > 10
    assert (out / "map.png").stat().st_size > 20_000
    assert (out / "flights.tlog").stat().st_size > 100_000


def test_failed_step_is_named_and_exits_non_zero(tmp_path: Path) -> None:
    off = free_port_offset(3, frozenset({0}))  # --port-offset 0 would mean "find free ports"
    blocker = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    blocker.bind(("127.0.0.1", 14540 + off))  # our link cannot listen there
    try:
        r = _run("demo", "--fast", "--port-offset", str(off), "--out", str(tmp_path), timeout=120)
    finally:
        blocker.close()
    assert r.returncode == 1
    assert "demo step '4/6 upload, verify and fly the missions' failed" in r.stderr
    assert "Traceback" not in r.stderr


def test_lidar_demo(tmp_path: Path, shared_data: Path) -> None:
    r = _run("demo", "lidar", "--json", "--out", str(tmp_path))
    assert r.returncode == 0, r.stderr[-3000:]
    res = json.loads(r.stdout)
    assert res["input"].endswith("Topography.laz")
    assert res["points"] > 70_000 and res["ground_points"] > 5_000
    with rasterio.open(res["dtm"]) as dtm, rasterio.open(res["chm"]) as chm:
        assert dtm.crs is not None and dtm.crs.to_epsg() == 2949
        assert dtm.res == (1.0, 1.0)
        z = dtm.read(1, masked=True)
        # no holes inside the data: the valid cells form the data's footprint
        assert z.count() > 0.9 * z.size
        assert 0 < float(z.max() - z.min()) < 500
        h = chm.read(1, masked=True)
        assert float(h.min()) >= -0.5 and float(h.max()) < 60
    for k in ("dsm", "hillshade"):
        with rasterio.open(res[k]) as ds:
            assert np.isfinite(ds.read(1, masked=True).compressed()).all()
