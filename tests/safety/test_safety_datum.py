"""Altitudes with a clear datum: the home altitude is never a silent 0.0, and relative, AMSL and
terrain frames are each checked against the terrain under every sample (real GeoTIFF DEMs)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from dronekit_plzen.errors import BadInputError, SafetyViolation
from dronekit_plzen.mission_items import (
    CMD_NAV_LAND,
    FRAME_GLOBAL,
    FRAME_GLOBAL_TERRAIN_ALT,
    MissionItem,
)
from missions.clearance import clear_for_flight, resolve_home
from missions.formats import load_mission, save_mission
from missions.model import Mission
from missions.terrain import Raster
from missions.trajectory import trajectory
from missions.validation import validate

from .conftest import GROUND_M, ORIGIN, hill, last_error, offset, run_cli, simple_items, square_area


def _plan(tmp: Path, alt_m: float, *extra: str) -> Path:
    area = square_area(tmp / f"area{alt_m:g}.geojson", offset(ORIGIN, 300, 0), 100)
    out = tmp / f"o{alt_m:g}"
    home = "{:.6f},{:.6f}".format(*reversed(ORIGIN))
    args = ["plan", "survey", "--area", str(area), "--alt-m", str(alt_m), "--spacing-m", "50"]
    args += ["--home", home, "--out", str(out), "--format", "plan", *extra]
    code, _o, err = run_cli(*args)
    assert code == 0, err
    return out / "survey.plan"


@pytest.mark.parametrize("dem_key", ["flat", "sjtsk"])
def test_plan_without_dem_then_validate_with_dem(
    tmp_path: Path, dems: dict[str, Path], dem_key: str
) -> None:
    """The reported bug: a 400 m plan passed ``plan validate --dem``; a 60 m plan was refused."""
    high = _plan(tmp_path, 400, "--override-safety", "--reason", "datum test")
    meta = load_mission(high).metadata
    assert meta["home_amsl_source"] == "unknown"  # written without a DEM: recorded as unknown
    assert meta["safety_override"]["reason"] == "datum test"
    code, out, err = run_cli("plan", "validate", str(high), "--dem", str(dems[dem_key]), "--json")
    assert code == 3, err
    rep = json.loads(out)
    assert rep["home_amsl_source"] == "dem" and rep["home_amsl_m"] == pytest.approx(
        GROUND_M, abs=0.5
    )
    assert any(v["rule"] == "max_agl" and v["value"] > 390 for v in rep["violations"])
    assert "max_agl" in last_error(err) and last_error(err).startswith("error:")
    ok = _plan(tmp_path, 60)
    code, out, err = run_cli("plan", "validate", str(ok), "--dem", str(dems[dem_key]))
    assert code == 0, err
    assert "max 60 m above ground" in out


def test_home_sources(dems: dict[str, Path]) -> None:
    dem = Raster.open(dems["flat"])
    items = simple_items(ORIGIN, [offset(ORIGIN, 200, 0)], 60.0)
    unknown = Mission(items=items, home=(ORIGIN[0], ORIGIN[1], 0.0))
    m, _n = resolve_home(unknown, dem=dem)
    assert m.home[2] == pytest.approx(GROUND_M) and m.metadata["home_amsl_source"] == "dem"
    m, _n = resolve_home(unknown, dem=dem, vehicle_home=(ORIGIN[1], ORIGIN[0], 305.0))
    assert m.home[2] == 305.0 and m.metadata["home_amsl_source"] == "vehicle"
    stated = Mission(items=items, home=(ORIGIN[0], ORIGIN[1], 310.0))
    m, _n = resolve_home(stated, dem=dem)
    assert m.home[2] == 310.0 and m.metadata["home_amsl_source"] == "plan"
    m, _n = resolve_home(unknown)  # no DEM: stays unknown, never "sea level"
    assert m.metadata["home_amsl_source"] == "unknown"


def test_stated_home_far_from_the_terrain_is_a_wrong_datum(dems: dict[str, Path]) -> None:
    items = simple_items(ORIGIN, [offset(ORIGIN, 200, 0)], 60.0)
    m = Mission(
        items=items, home=(ORIGIN[0], ORIGIN[1], 50.0), metadata={"home_amsl_source": "plan"}
    )
    rep = validate(m, dem=dems["flat"])
    assert rep.violations[0].rule == "home_altitude"  # named first: the datum is wrong


def test_amsl_frame_needs_a_known_home_or_a_dem(dems: dict[str, Path]) -> None:
    items = simple_items(ORIGIN, [offset(ORIGIN, 200, 0)], 360.0, frame=FRAME_GLOBAL)
    m = Mission(items=items, home=(ORIGIN[0], ORIGIN[1], 0.0))  # planned without DEM
    rep = validate(m)
    assert "altitude_unresolved" in {v.rule for v in rep.violations}
    rep = validate(m, dem=dems["flat"])  # 360 m AMSL over 300 m ground: 60 m, fine
    assert rep.ok, rep.violations
    high = Mission(
        items=simple_items(ORIGIN, [offset(ORIGIN, 200, 0)], 450.0, frame=FRAME_GLOBAL),
        home=(ORIGIN[0], ORIGIN[1], 0.0),
    )
    assert "max_agl" in {v.rule for v in validate(high, dem=dems["flat"]).violations}


@pytest.mark.parametrize("frame", [1, 4, 7, 77])  # local NED/ENU, LOCAL_OFFSET_NED, no frame
def test_a_frame_without_an_altitude_datum_is_unsafe(dems: dict[str, Path], frame: int) -> None:
    """Found from outside: a waypoint in frame 77 passed as if its altitude were AMSL."""
    items = simple_items(ORIGIN, [offset(ORIGIN, 200, 0)], 50.0)
    items[1] = MissionItem(
        command=items[1].command,
        lon_deg=items[1].lon_deg,
        lat_deg=items[1].lat_deg,
        alt_m=50.0,
        frame=frame,
    )
    m = Mission(items=items, home=(ORIGIN[0], ORIGIN[1], GROUND_M))
    for rep in (validate(m), validate(m, dem=dems["flat"])):
        bad = [v for v in rep.violations if v.rule == "altitude_unresolved"]
        assert bad and bad[0].item_index == 1 and "no altitude datum" in bad[0].message
    assert validate(
        Mission(
            items=simple_items(ORIGIN, [offset(ORIGIN, 200, 0)], 50.0),
            home=(ORIGIN[0], ORIGIN[1], GROUND_M),
        )
    ).ok


def test_an_absurd_altitude_is_a_damaged_file_not_a_sampled_leg() -> None:
    items = simple_items(ORIGIN, [offset(ORIGIN, 200, 0)], 1e308)
    # the take-off (item 1) carries it first: its climb is flown like any leg
    with pytest.raises(BadInputError, match=r"item 1: altitude 1e\+308 m is not a flight altitude"):
        trajectory(Mission(items=items, home=(ORIGIN[0], ORIGIN[1], GROUND_M)))


def _over_the_hill(alt_m: float, frame: int) -> Mission:
    """Take off west of the hill, fly over it to a waypoint east of it, land there."""
    east = offset(ORIGIN, 1200, 0)
    items = simple_items(ORIGIN, [east], alt_m, frame=frame)[:-1]
    items.append(MissionItem(command=CMD_NAV_LAND, lon_deg=east[0], lat_deg=east[1]))
    return Mission(items=items, home=(ORIGIN[0], ORIGIN[1], GROUND_M))


def test_each_frame_against_the_terrain_under_every_sample(dems: dict[str, Path]) -> None:
    """Both waypoints are on flat ground; only the samples between them meet the 200 m hill."""
    dem = Raster.open(dems["hill"])
    rules = {v.rule for v in validate(_over_the_hill(60.0, 3), dem=dem).violations}
    assert "terrain_clearance" in rules  # relative 60 m: into the hill
    rules = {v.rule for v in validate(_over_the_hill(420.0, FRAME_GLOBAL), dem=dem).violations}
    assert "terrain_clearance" in rules  # 420 m AMSL < the 500 m hill top
    assert validate(_over_the_hill(60.0, FRAME_GLOBAL_TERRAIN_ALT), dem=dem).ok  # follows it
    hi = validate(_over_the_hill(130.0, FRAME_GLOBAL_TERRAIN_ALT), dem=dem)
    assert "max_agl" in {v.rule for v in hi.violations}
    # a terrain-frame waypoint followed by RTL: the return at the RTL altitude hits the hill
    back = Mission(
        items=simple_items(ORIGIN, [offset(ORIGIN, 1200, 0)], 60.0, frame=FRAME_GLOBAL_TERRAIN_ALT),
        home=(ORIGIN[0], ORIGIN[1], GROUND_M),
    )
    assert "terrain_clearance" in {v.rule for v in validate(back, dem=dem).violations}


def test_valley_is_measured_to_the_valley_floor(dems: dict[str, Path]) -> None:
    """Relative 80 m from the rim: over the 200 m deep valley that is 280 m above its floor."""
    far_rim = offset(ORIGIN, 2000, 0)
    m = Mission(items=simple_items(ORIGIN, [far_rim], 80.0), home=(ORIGIN[0], ORIGIN[1], GROUND_M))
    rep = validate(m, dem=dems["valley"])
    bad = [v for v in rep.violations if v.rule == "max_agl"]
    assert bad and max(v.value or 0 for v in bad) > 200
    assert validate(m).ok  # without the DEM the valley is invisible: why the DEM matters


def test_terrain_following_keeps_every_sample_in_its_band(
    tmp_path: Path, dems: dict[str, Path]
) -> None:
    area = square_area(tmp_path / "hill.geojson", offset(ORIGIN, 600, 0), 150)
    out = tmp_path / "follow"
    home = "{:.6f},{:.6f}".format(*reversed(ORIGIN))
    code, _o, err = run_cli(
        "plan", "survey", "--area", str(area), "--alt-m", "60", "--spacing-m", "60",
        "--home", home, "--dem", str(dems["hill"]), "--out", str(out), "--format", "plan",
        "--end", "land",
    )  # fmt: skip
    assert code == 0, err
    m = load_mission(out / "survey.plan")
    at_home = float(hill(np.array([0.0]), np.array([0.0]))[0])  # the hill's foot: 311 m
    assert m.metadata["home_amsl_source"] == "dem" and m.home[2] == pytest.approx(at_home, abs=0.5)
    dem = Raster.open(dems["hill"])
    tr = trajectory(m, dem=dem, step_m=5.0)
    agl = tr.alt - dem.sample(tr.lon, tr.lat)
    flying = (tr.phase == 1) & (np.hypot(tr.x - tr.home_xy[0], tr.y - tr.home_xy[1]) > 50)
    assert agl[flying].min() > 60 - 5 - 3 and agl[flying].max() < 60 + 60  # band; below 120 m
    assert clear_for_flight(m, dem=dem).ok
    # the same survey ending with RTL is refused: the vehicle returns at its altitude over the
    # hill top, which is more than 120 m above the launch point
    code, _o, err = run_cli(
        "plan", "survey", "--area", str(area), "--alt-m", "60", "--spacing-m", "60",
        "--home", home, "--dem", str(dems["hill"]), "--out", str(out), "--format", "plan",
    )  # fmt: skip
    assert code == 3 and "max_agl" in last_error(err), err


def test_clear_for_flight_raises_with_every_violation(
    dems: dict[str, Path], tmp_path: Path
) -> None:
    m = Mission(items=simple_items(ORIGIN, [offset(ORIGIN, 200, 0)], 400.0), home=(*ORIGIN, 0.0))
    with pytest.raises(SafetyViolation) as err:
        clear_for_flight(m, dem=dems["flat"])
    assert err.value.exit_code == 3 and err.value.violations[0].rule == "max_agl"
    p = save_mission(m, tmp_path / "x.plan")
    assert load_mission(p).metadata.get("home_amsl_source") is None  # untouched by the check
