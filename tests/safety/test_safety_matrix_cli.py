"""The safety matrix for the doors that write files: ``plan survey``, an IAMSAR pattern command
(``plan expanding-square``), ``plan convert`` and ``plan validate``, each against each rule.

Every cell runs the real CLI in a subprocess on real files and real GeoTIFF DEMs and expects exit
code 3 with a one-line ``error:`` naming the rule, and no flyable file written. A cell that does
not apply to a door says why (``_NA``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from dronekit_plzen.mission_items import CMD_NAV_LAND, FRAME_GLOBAL_RELATIVE_ALT, MissionItem
from missions.formats import load_mission, save_mission
from missions.model import FencePolygon, Mission

from .conftest import GROUND_M, ORIGIN, last_error, offset, run_cli, simple_items, square_area

RULES = ["max_agl", "terrain_clearance", "zone", "geofence", "endurance", "vlos", "plausibility"]
HOME = f"{ORIGIN[1]:.6f},{ORIGIN[0]:.6f}"
#: where each rule is broken, as metres east of the launch point
WHERE = {"max_agl": 1000.0, "terrain_clearance": 600.0}
EXPECT = {
    "max_agl": "max_agl",
    "terrain_clearance": "terrain_clearance",
    "zone": "zone_prohibited",
    "geofence": "geofence",
    "endurance": "endurance",
    "vlos": "max_distance",
    "plausibility": "plausibility",
}
_NA = {
    ("survey", "geofence"): "the plan commands take no geofence input",
    ("expanding-square", "geofence"): "the plan commands take no geofence input",
    ("survey", "endurance"): "the planner cuts sorties to fit (tested in test_sorties_fit)",
    ("expanding-square", "endurance"): "the planner cuts sorties to fit",
}


def _inputs(rule: str, tmp: Path, dems: dict[str, Path]) -> tuple[tuple[float, float], list[str]]:
    """Where to fly (lon, lat) and the options that break ``rule`` there."""
    center = offset(ORIGIN, WHERE.get(rule, 300.0), 0)
    if rule == "max_agl":
        return center, ["--dem", str(dems["valley"])]
    if rule == "terrain_clearance":
        return center, ["--dem", str(dems["hill"])]
    if rule == "zone":
        zf = square_area(tmp / "zone.geojson", center, 400)
        return center, ["--zones", str(zf)]
    if rule == "vlos":
        return center, ["--max-distance-m", "100"]
    return center, []


def _plan_args(door: str, rule: str, tmp: Path, dems: dict[str, Path]) -> list[str]:
    center, opts = _inputs(rule, tmp, dems)
    home = HOME
    if rule == "plausibility":  # the launch point typed as LON,LAT: 4000 km away
        home = "{:.6f},{:.6f}".format(*ORIGIN)
    alt = "100" if rule == "max_agl" else "60"
    common = ["--alt-m", alt, "--home", home, "--terrain", "none", "--out", str(tmp / "out")]
    common += ["--format", "plan,waypoints", *opts]
    if door == "survey":
        area = square_area(tmp / "area.geojson", center, 120)
        return ["plan", "survey", "--area", str(area), "--spacing-m", "60", *common]
    datum = f"{center[1]:.6f},{center[0]:.6f}"
    return ["plan", door, "--datum", datum, "--spacing-m", "50", "--legs", "6", *common]


def _mission_file(rule: str, tmp: Path, dems: dict[str, Path]) -> tuple[Path, list[str]]:
    """A mission file (as another tool or an older version wrote it) breaking ``rule``."""
    center, opts = _inputs(rule, tmp, dems)
    home = (ORIGIN[0], ORIGIN[1], 0.0)  # no stated altitude: the old 0.0 placeholder
    pts = [center, offset(center, 0, 100)]
    m = Mission(items=simple_items(ORIGIN, pts, 60.0), home=home)
    if rule == "max_agl":
        m = Mission(items=simple_items(ORIGIN, pts, 100.0), home=home)
    if rule == "terrain_clearance":
        far = offset(ORIGIN, 1200, 0)
        items = simple_items(ORIGIN, [far], 60.0)[:-1]
        items.append(MissionItem(command=CMD_NAV_LAND, lon_deg=far[0], lat_deg=far[1]))
        m = Mission(items=items, home=(ORIGIN[0], ORIGIN[1], GROUND_M))
    if rule == "geofence":
        ring = tuple(
            offset(ORIGIN, sx * 150, sy * 150) for sx, sy in ((-1, -1), (1, -1), (1, 1), (-1, 1))
        )
        m.fence_polygons = [FencePolygon(ring)]
    if rule == "endurance":  # 30 × 1.5 km legs: about 75 min against the px4-quad's 14
        legs = [offset(ORIGIN, 1500 * (k % 2), 40 * k) for k in range(30)]
        m = Mission(items=simple_items(ORIGIN, legs, 60.0), home=home)
        opts = ["--vehicle", "px4-quad"]
    if rule == "plausibility":  # one waypoint typed as lon, lat
        bad = MissionItem(
            command=16,
            frame=FRAME_GLOBAL_RELATIVE_ALT,
            lat_deg=ORIGIN[0],
            lon_deg=ORIGIN[1],
            alt_m=60,
        )
        m.items.insert(2, bad)
    return save_mission(m, tmp / f"{rule}.plan"), opts


@pytest.mark.parametrize("rule", RULES)
@pytest.mark.parametrize("door", ["survey", "expanding-square", "convert", "validate"])
def test_door_refuses_rule(door: str, rule: str, tmp_path: Path, dems: dict[str, Path]) -> None:
    if (door, rule) in _NA:
        assert _NA[(door, rule)]  # documented: this door has no input that can break this rule
        return
    if door in ("survey", "expanding-square"):
        args = _plan_args(door, rule, tmp_path, dems)
    else:
        src, opts = _mission_file(rule, tmp_path, dems)
        args = ["plan", door, str(src)]
        args += [str(tmp_path / "out" / "converted.waypoints")] if door == "convert" else []
        args += opts
    code, _out, err = run_cli(*args)
    assert code == 3, err
    line = last_error(err)
    assert line.startswith("error:") and EXPECT[rule] in line, err
    if rule == "plausibility" and door != "validate":
        assert "swapped" in err
    written = list((tmp_path / "out").glob("*")) if (tmp_path / "out").exists() else []
    assert written == [], f"an unsafe mission was written: {written}"


@pytest.mark.parametrize("door", ["survey", "convert"])
def test_override_is_recorded_in_the_files(
    door: str, tmp_path: Path, dems: dict[str, Path]
) -> None:
    if door == "survey":
        args = _plan_args("survey", "vlos", tmp_path, dems)
    else:
        src, opts = _mission_file("vlos", tmp_path, dems)
        args = ["plan", "convert", str(src), str(tmp_path / "out" / "c.waypoints"), *opts]
    code, _o, err = run_cli(*args, "--override-safety", "--reason", "SAR, VLOS by spotter")
    assert code == 0, err
    assert "SAFETY OVERRIDE" in err and "SAR, VLOS by spotter" in err
    files = sorted((tmp_path / "out").glob("*.plan")) + sorted(
        (tmp_path / "out").glob("*.waypoints")
    )
    assert files
    for f in files:
        meta = load_mission(f).metadata
        assert meta["safety_override"]["reason"] == "SAR, VLOS by spotter"
        assert meta["safety_override"]["rules"] == ["max_distance"]
        assert meta["clearance"]["ok"] is False and meta["clearance"]["override"]["by"]
    code, _o, err = run_cli(*args, "--override-safety")
    assert code == 2 and "--reason" in last_error(err)


def test_sorties_fit_and_are_written_separately(tmp_path: Path) -> None:
    """A long survey is cut into sorties; each is validated (endurance) and written alone."""
    area = square_area(tmp_path / "big.geojson", offset(ORIGIN, 600, 0), 300)
    code, out, err = run_cli(
        "plan", "survey", "--area", str(area), "--alt-m", "60", "--spacing-m", "30",
        "--home", HOME, "--vehicle", "px4-quad", "--out", str(tmp_path / "o"),
        "--format", "plan", "--json",
    )  # fmt: skip
    assert code == 0, err
    drones = json.loads(out)["drones"]
    assert len(drones) >= 2
    for k, d in enumerate(drones, start=1):
        assert d["name"].endswith(f"_sortie{k}")
        assert "endurance" in d["validation"]["checked"] and d["validation"]["ok"]
        meta = load_mission(Path(d["files"][0])).metadata
        assert meta["sortie"] == {"index": k, "of": len(drones)}
        assert meta["clearance"]["ok"] is True


@pytest.mark.parametrize(
    ("args", "word"),
    [
        (["--drones", "0"], "--drones"),
        (["--drones", "-2"], "--drones"),
        (["--alt-m", "-10"], "--alt-m"),
        (["--spacing-m", "0"], "--spacing-m"),
        (["--max-range-m", "0"], "--max-range-m"),
    ],
)
def test_zero_or_negative_counts_and_sizes_are_bad_input(
    args: list[str], word: str, tmp_path: Path
) -> None:
    area = square_area(tmp_path / "a.geojson", offset(ORIGIN, 300, 0), 100)
    base: list[Any] = ["plan", "survey", "--area", str(area), "--home", HOME]
    base += ["--out", str(tmp_path / "o")]
    if "--alt-m" not in args:
        base += ["--alt-m", "60"]
    code, _o, err = run_cli(*base, *args)
    assert code == 2, err
    line = last_error(err)
    assert line.startswith("error:") and word in line and len(err.strip().splitlines()) == 1


def test_swapped_geojson_is_never_planned_silently(tmp_path: Path, dems: dict[str, Path]) -> None:
    swapped = square_area(tmp_path / "swapped.geojson", offset(ORIGIN, 300, 0), 100, swap=True)
    base = ["plan", "survey", "--area", str(swapped), "--alt-m", "60", "--spacing-m", "50"]
    base += ["--out", str(tmp_path / "o")]
    # swapped lon/lat near Plzeň is recognised when the area is read, whatever else is given
    for extra in (["--home", HOME], ["--dem", str(dems["flat"])], []):
        code, _o, err = run_cli(*base, *extra)
        assert code == 2 and "swapped" in last_error(err), (extra, err)
        assert not (tmp_path / "o").exists() or not any((tmp_path / "o").iterdir())


def test_the_configured_vlos_limit_applies_without_the_flag(
    tmp_path: Path, dems: dict[str, Path]
) -> None:
    """``max_distance_m`` in the configuration (or DKP_MAX_DISTANCE_M) is every door's default:
    the same limit the GUI gets from ``dronekit-plzen gui``."""
    args = _plan_args("survey", "vlos", tmp_path, dems)
    i = args.index("--max-distance-m")
    del args[i : i + 2]
    code, _o, err = run_cli(*args)
    assert code == 0, err  # no limit configured: the 300 m area is fine
    cfg = tmp_path / "dkp.toml"
    cfg.write_text("max_distance_m = 100.0\n")
    code, _o, err = run_cli("--config", str(cfg), *args)
    assert code == 3 and "max_distance" in err, err
    cfg.write_text("max_distance_m = -5\n")
    code, _o, err = run_cli("--config", str(cfg), *args)
    assert code == 2 and "max_distance_m must be > 0" in last_error(err), err
