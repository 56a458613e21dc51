"""The GUI door × the safety rules: a mission file breaking one rule is shown as failing that rule
and never reaches the simulated vehicle (real GeoTIFF DEMs, zone and mission files, UDP)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import rasterio
from rasterio.transform import Affine

from dronekit_plzen.geo import transform
from dronekit_plzen.mission_items import (
    CMD_NAV_RETURN_TO_LAUNCH,
    CMD_NAV_TAKEOFF,
    CMD_NAV_WAYPOINT,
    FRAME_MISSION,
    MissionItem,
)
from missions.formats import save_mission
from missions.model import FencePolygon, Mission

HOME = (49.8000, 13.3980, 330.0)  # lat, lon, alt AMSL (the simulator's order)
RULES = ("max_agl", "terrain_clearance", "zone_prohibited", "geofence", "endurance", "max_distance")
#: the VLOS limit of the max_distance case (the configuration's ``max_distance_m``)
VLOS_M = 300.0


def _east(east_m: float, north_m: float = 0.0) -> tuple[float, float]:
    """(lon, lat) ``east_m``/``north_m`` metres from home (UTM 33N)."""
    x, y = transform([HOME[1]], [HOME[0]], 4326, 32633)
    lo, la = transform([float(x[0]) + east_m], [float(y[0]) + north_m], 32633, 4326)
    return float(lo[0]), float(la[0])


def _dem(path: Path, hill_m: float) -> Path:
    """A GeoTIFF (UTM 33N, 10 m) around home at its altitude, with a hill 300 m east."""
    cx, cy = transform([HOME[1]], [HOME[0]], 4326, 32633)
    half, res = 3000.0, 10.0
    n = int(2 * half / res)
    x0, y1 = float(cx[0]) - half, float(cy[0]) + half
    gx, gy = np.meshgrid(x0 + (np.arange(n) + 0.5) * res, y1 - (np.arange(n) + 0.5) * res)
    dx, dy = gx - float(cx[0]), gy - float(cy[0])
    z = HOME[2] + hill_m * np.exp(-((dx - 300.0) ** 2 + dy**2) / (2 * 120.0**2))
    with rasterio.open(
        path,
        "w",
        driver="GTiff",
        height=n,
        width=n,
        count=1,
        dtype="float32",
        crs="EPSG:32633",
        transform=Affine(res, 0.0, x0, 0.0, -res, y1),
    ) as ds:
        ds.write(z.astype(np.float32), 1)
    return path


def _mission(alt_m: float, legs: int = 1) -> Mission:
    """Out 600 m east and back ``legs`` times at ``alt_m`` above home, then RTL."""
    lon0, lat0 = HOME[1], HOME[0]
    items = [MissionItem(command=CMD_NAV_TAKEOFF, lat_deg=lat0, lon_deg=lon0, alt_m=alt_m)]
    for k in range(legs):
        for east in (600.0, 0.0):
            lon, lat = _east(east, 15.0 * k)
            items.append(
                MissionItem(command=CMD_NAV_WAYPOINT, lat_deg=lat, lon_deg=lon, alt_m=alt_m)
            )
    items.append(MissionItem(command=CMD_NAV_RETURN_TO_LAUNCH, frame=FRAME_MISSION))
    return Mission(items=items, home=(lon0, lat0, HOME[2]))


def _case(rule: str, d: Path) -> tuple[Path, Path | None, Path | None]:
    """(mission file, DEM or None, zones file or None) breaking ``rule`` only."""
    dem = zones = None
    if rule == "max_agl":
        m, dem = _mission(400.0), _dem(d / "flat.tif", 0.0)
    elif rule == "terrain_clearance":
        m, dem = _mission(60.0), _dem(d / "hill.tif", 200.0)
    elif rule == "zone_prohibited":
        m = _mission(60.0)
        ring = [_east(e, n) for e, n in ((400, -100), (800, -100), (800, 100), (400, 100))]
        zones = d / "zones.geojson"
        feature = {"type": "Feature", "properties": {"name": "hospital helipad"}}
        feature["geometry"] = {"type": "Polygon", "coordinates": [[*ring, ring[0]]]}
        zones.write_text(json.dumps({"type": "FeatureCollection", "features": [feature]}))
    elif rule == "geofence":
        m = _mission(60.0)
        fence = [_east(e, n) for e, n in ((-100, -100), (300, -100), (300, 100), (-100, 100))]
        m.fence_polygons.append(FencePolygon(vertices=fence, inclusion=True))
    elif rule == "max_distance":  # 600 m out, with a 300 m VLOS limit
        m = _mission(60.0)
    else:  # endurance: 50 legs of 1.2 km, over an hour for a Mavic 3T
        m = _mission(60.0, legs=50)
    return Path(save_mission(m, d / f"{rule}.plan", "plan")), dem, zones


@pytest.mark.parametrize("rule", RULES)
def test_the_gui_refuses_a_mission_breaking_each_rule(  # type: ignore[no-untyped-def]
    qtbot, main_window, sim_fleet, tmp_path: Path, rule: str
) -> None:
    plan, fly = main_window.plan_panel, main_window.fly_panel
    qtbot.waitUntil(lambda: plan.vehicle.count() > 1, timeout=10_000)
    plan.vehicle.setCurrentIndex(plan.vehicle.findData("mavic3t"))
    path, dem, zones = _case(rule, tmp_path)
    plan.dem_path = dem
    # as `dronekit-plzen gui` sets it from the configuration (max_distance_m / DKP_MAX_DISTANCE_M)
    plan.max_distance_m = VLOS_M if rule == "max_distance" else None
    if zones is not None:
        with qtbot.waitSignal(plan.zonesLoaded, timeout=20_000):
            plan.load_zones(zones)
    views: list[Any] = []
    plan.planReady.connect(views.append)
    plan.open_mission(path)
    qtbot.waitUntil(lambda: bool(views), timeout=60_000)
    view = views[0]
    assert rule in {v.rule for v in view.violations}, [str(v) for v in view.violations]
    assert plan.validation_label.text().startswith("Validation FAILED")
    assert fly.sorties[0][0].clearance is None
    with sim_fleet(n_vehicles=1, autopilot="px4", speedup=20, home=HOME) as (fleet, off):
        with qtbot.waitSignal(fly.commandFinished, timeout=30_000) as connected:
            fly.connect_to(f"udpin://127.0.0.1:{14540 + off}")
        assert connected.args[2], connected.args
        qtbot.waitUntil(lambda: fly.table.rowCount() == 1, timeout=10_000)
        fly.table.selectRow(0)
        with qtbot.waitSignal(fly.commandFinished, timeout=30_000) as done:
            fly.upload_button.click()
        _name, _sysid, ok, message = done.args
        assert not ok and rule in message and "override" in message, message
        assert fly.session.vehicle(1).download_mission() == []  # nothing reached the vehicle
        assert int(fleet.call(lambda: fleet.vehicles[0].model.runner.nav_count())) == 0
        fly.disconnect_link()


def test_a_refusal_at_the_vehicle_can_be_overridden_with_a_reason(  # type: ignore[no-untyped-def]
    qtbot, main_window, sim_fleet, answer_modal, tmp_path: Path
) -> None:
    """Planned 3 km from where the vehicle stands: fine on paper, refused at the vehicle
    (swapped coordinates? wrong file?) until the pilot overrides it with a typed reason."""
    plan, fly = main_window.plan_panel, main_window.fly_panel
    qtbot.waitUntil(lambda: plan.vehicle.count() > 1, timeout=10_000)
    plan.vehicle.setCurrentIndex(plan.vehicle.findData("mavic3t"))
    m = _mission(60.0)
    lon, lat = _east(3000.0)
    m.home = (lon, lat, HOME[2])
    m.items[0] = m.items[0].with_(lat_deg=lat, lon_deg=lon)
    path = Path(save_mission(m, tmp_path / "elsewhere.plan", "plan"))
    views: list[Any] = []
    plan.planReady.connect(views.append)
    plan.open_mission(path)
    qtbot.waitUntil(lambda: bool(views), timeout=60_000)
    assert views[0].violations == [] and fly.sorties[0][0].clearance is not None
    with sim_fleet(n_vehicles=1, autopilot="px4", speedup=20, home=HOME) as (_fleet, off):
        with qtbot.waitSignal(fly.commandFinished, timeout=30_000) as connected:
            fly.connect_to(f"udpin://127.0.0.1:{14540 + off}")
        assert connected.args[2], connected.args
        qtbot.waitUntil(lambda: fly.table.rowCount() == 1, timeout=10_000)
        qtbot.waitUntil(lambda: fly.session.vehicle(1).state.home is not None, timeout=30_000)
        fly.table.selectRow(0)
        with qtbot.waitSignal(fly.commandFinished, timeout=30_000) as done:
            fly.upload_button.click()
        _name, _sysid, ok, message = done.args
        assert not ok and "plausibility" in message and "swapped" in message, message
        assert fly.session.vehicle(1).download_mission() == []
        banner = fly.banners.banners["refused-1"]
        assert banner.action is not None and banner.action.text() == "Override…"

        def override(dlg: Any) -> None:
            dlg.reason.setPlainText("launch moved to the fire station yard by the commander")
            dlg.confirm.setChecked(True)
            dlg.buttons.button(dlg.buttons.Ok).click()

        answer_modal(override)
        with qtbot.waitSignal(
            fly.commandFinished, timeout=30_000, check_params_cb=lambda n, *_: n == "upload"
        ) as done:
            banner.action.click()
        _name, _sysid, ok, message = done.args
        assert ok and "SAFETY OVERRIDE by" in message and "fire station yard" in message, message
        assert len(fly.session.vehicle(1).download_mission()) == len(m.items)
        assert any("SAFETY OVERRIDE" in line for line in fly.log.lines())
        fly.disconnect_link()
