"""`dronekit-plzen plan ...` end to end: files, exit codes, safety override, coverage."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from dronekit_plzen.cli.main import main
from dronekit_plzen.mission_items import MissionItem
from missions.camera import get_camera
from missions.formats import load_mission, save_mission
from missions.model import Mission
from missions.zones import sample_zones_path

from .conftest import ORIGIN_LONLAT, offset, wp

ZONES = str(sample_zones_path())
BORY = (13.3640, 49.7305)


def _area(path: Path, center: tuple[float, float], w: float, h: float) -> Path:
    ring = [
        offset(center, e, n)
        for e, n in [
            (-w / 2, -h / 2),
            (w / 2, -h / 2),
            (w / 2, h / 2),
            (-w / 2, h / 2),
            (-w / 2, -h / 2),
        ]
    ]
    path.write_text(json.dumps({"type": "Polygon", "coordinates": [[list(p) for p in ring]]}))
    return path


def _latlon(p: tuple[float, float]) -> str:
    return f"{p[1]:.6f},{p[0]:.6f}"


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out = capsys.readouterr()
    return code, out.out, out.err


def sub(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "dronekit_plzen", *args],
        capture_output=True,
        text=True,
        env=dict(os.environ),
        timeout=120,
        check=False,
    )


def test_survey_writes_every_format(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    area = _area(tmp_path / "a.geojson", ORIGIN_LONLAT, 300, 200)
    home = offset(ORIGIN_LONLAT, -200, -150)
    code, out, err = run(
        capsys,
        "plan",
        "survey",
        "--area",
        str(area),
        "--camera",
        "mavic3e-wide",
        "--alt-m",
        "60",
        "--home",
        _latlon(home),
        "--zones",
        ZONES,
        "--out",
        str(tmp_path / "out"),
        "--json",
    )
    assert code == 0, err
    res = json.loads(out)
    assert res["validation"]["ok"] and res["metrics"]["coverage_pct"] >= 99.5
    assert "zones" in res["validation"]["checked"]
    names = sorted(Path(f).name for f in res["files"])
    assert names == [
        "survey.csv",
        "survey.geojson",
        "survey.kml",
        "survey.plan",
        "survey.waypoints",
        "survey_dji.kmz",
    ]
    ref = load_mission(tmp_path / "out" / "survey.plan")
    assert len(ref.items) == res["items"] and ref.metadata["pattern"] == "survey"
    assert ref.metadata["validation"]["ok"] is True
    for n in names[:-1]:
        m = load_mission(tmp_path / "out" / n)
        assert len(m.items) == len(ref.items), n
        assert all(a.same_as(b) for a, b in zip(ref.items, m.items)), n
    gj = json.loads((tmp_path / "out" / "survey.geojson").read_text())
    roles = {f["properties"]["role"] for f in gj["features"]}
    assert {"path", "item", "home", "area", "footprint"} <= roles
    dji = load_mission(tmp_path / "out" / "survey_dji.kmz")
    wps = [it for it in ref.items if it.command == 16]
    assert [(it.lat_deg, it.lon_deg) for it in dji.items if it.command == 16] == [
        (it.lat_deg, it.lon_deg) for it in wps
    ]


def test_bad_polygon_exits_2_with_one_line(tmp_path: Path) -> None:
    bow = tmp_path / "bow.geojson"
    a, b, c, d = (offset(ORIGIN_LONLAT, e, n) for e, n in [(0, 0), (200, 200), (200, 0), (0, 200)])
    bow.write_text(
        json.dumps(
            {"type": "Polygon", "coordinates": [[list(a), list(b), list(c), list(d), list(a)]]}
        )
    )
    r = sub(
        "plan",
        "survey",
        "--area",
        str(bow),
        "--alt-m",
        "50",
        "--spacing-m",
        "20",
        "--out",
        str(tmp_path / "o"),
    )
    assert r.returncode == 2, r.stderr
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and "Traceback" not in r.stderr
    assert "bow.geojson" in lines[0] and "self-intersect" in lines[0].lower()
    assert not (tmp_path / "o").exists()


def test_unsafe_survey_exits_3_writes_nothing_and_override_records(tmp_path: Path) -> None:
    area = _area(tmp_path / "bory.geojson", BORY, 600, 300)
    home = offset(BORY, -500, -300)
    args = [
        "plan",
        "survey",
        "--area",
        str(area),
        "--alt-m",
        "50",
        "--spacing-m",
        "40",
        "--home",
        _latlon(home),
        "--zones",
        ZONES,
        "--when",
        "2026-11-23T10:00:00Z",
        "--format",
        "plan,geojson",
        "--out",
        str(tmp_path / "o"),
    ]
    r = sub(*args)
    assert r.returncode == 3, r.stderr
    assert (
        "zone_prohibited" in r.stderr and "CZ-ILL-BORY" in r.stderr and "Traceback" not in r.stderr
    )
    assert not (tmp_path / "o").exists() or not any((tmp_path / "o").iterdir())
    r = sub(*args, "--override-safety")
    assert r.returncode == 2 and "--reason" in r.stderr
    r = sub(*args, "--override-safety", "--reason", "PČR request; prison consented")
    assert r.returncode == 0, r.stderr
    plans = sorted((tmp_path / "o").glob("survey*.plan"))  # one per sortie when needed
    assert plans
    for p in plans:
        ov = json.loads(p.read_text())["dronekitPlzen"]["metadata"]["safety_override"]
        assert ov["reason"] == "PČR request; prison consented"
    assert (
        "zone_prohibited"
        in json.loads(plans[0].read_text())["dronekitPlzen"]["metadata"]["safety_override"]["rules"]
    )
    for g in sorted((tmp_path / "o").glob("survey*.geojson")):
        meta = json.loads(g.read_text())["dronekit_plzen"]["metadata"]
        assert meta["safety_override"]["reason"] == "PČR request; prison consented"


def test_validate_lists_why_and_exits_3(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    a, b = offset(BORY, -900, 0), offset(BORY, 900, 0)
    bad = Mission(
        items=[MissionItem(22, 3, alt_m=40.0), wp(a, 40.0), wp(b, 40.0), MissionItem(20, 2)],
        home=(a[0], a[1], 330.0),
    )
    save_mission(bad, tmp_path / "bad.plan")
    r = sub("plan", "validate", str(tmp_path / "bad.plan"), "--zones", ZONES)
    assert r.returncode == 3
    unsafe = [ln for ln in r.stdout.splitlines() if ln.startswith("UNSAFE")]
    assert len(unsafe) == 2 and all("zone_prohibited" in ln for ln in unsafe)
    last = r.stderr.strip().splitlines()[-1]
    assert (
        "Traceback" not in r.stderr and last.startswith("error:") and "bad.plan is unsafe" in last
    )
    good = Mission(items=[*bad.items[:2], bad.items[3]], home=bad.home)
    save_mission(good, tmp_path / "good.waypoints")
    code, out, _err = run(
        capsys, "plan", "validate", str(tmp_path / "good.waypoints"), "--zones", ZONES
    )
    assert code == 0 and out.startswith("OK")
    code, out, _err = run(
        capsys,
        "plan",
        "validate",
        str(tmp_path / "bad.plan"),
        "--zones",
        ZONES,
        "--json",
        "--max-distance-m",
        "500",
    )
    rep = json.loads(out)
    assert code == 3 and not rep["ok"]
    assert {v["rule"] for v in rep["violations"]} == {"zone_prohibited", "max_distance"}
    # Czech
    code, out, _err = run(
        capsys, "--lang", "cs", "plan", "validate", str(tmp_path / "bad.plan"), "--zones", ZONES
    )
    assert code == 3 and "NEBEZPEČNÉ" in out and "zakázané zóny" in out
    assert "není bezpečná: 2 problémy" in _err  # Czech plural for 2


def test_coverage_audit_and_gaps(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    area = _area(tmp_path / "a.geojson", ORIGIN_LONLAT, 300, 200)
    code, _o, err = run(
        capsys,
        "plan",
        "survey",
        "--area",
        str(area),
        "--camera",
        "mavic3e-wide",
        "--alt-m",
        "60",
        "--format",
        "plan,geojson",
        "--out",
        str(tmp_path / "o"),
    )
    assert code == 0, err
    code, out, err = run(
        capsys,
        "plan",
        "coverage",
        str(tmp_path / "o" / "survey.plan"),
        "--area",
        str(area),
        "--json",
    )
    assert code == 0, err
    cov = json.loads(out)
    assert cov["coverage_pct"] >= 99.5 and cov["method"] == "footprints" and cov["photos"] > 10
    bigger = _area(tmp_path / "big.geojson", ORIGIN_LONLAT, 600, 200)
    code, out, err = run(
        capsys,
        "plan",
        "coverage",
        str(tmp_path / "o" / "survey.geojson"),
        "--area",
        str(bigger),
        "--json",
        "--gaps",
        str(tmp_path / "gaps.geojson"),
    )
    cov = json.loads(out)
    # the 300 m block is covered, plus at most half a footprint of overhang on each side
    fw, fh = get_camera("mavic3e-wide").footprint_m(60.0)
    assert code == 0 and 49.9 < cov["coverage_pct"] <= 100.0 * (300.0 + max(fw, fh)) / 600.0
    gaps = json.loads((tmp_path / "gaps.geojson").read_text())
    assert len(gaps["features"]) >= 2  # east and west of the surveyed block
    assert sum(f["properties"]["area_m2"] for f in gaps["features"]) == pytest.approx(
        cov["gaps_m2"], rel=1e-3
    )
    code, out, err = run(
        capsys,
        "plan",
        "coverage",
        str(tmp_path / "o" / "survey.plan"),
        "--area",
        str(bigger),
        "--swath-m",
        "30",
        "--json",
    )
    assert code == 0 and json.loads(out)["method"] == "swath"


def test_convert_and_listings(
    shared_data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    src = str(shared_data / "missions/qgc_MissionPlanner.waypoints")
    code, _o, err = run(capsys, "plan", "convert", src, str(tmp_path / "x.plan"))
    assert code == 0, err
    assert len(load_mission(tmp_path / "x.plan").items) == 5
    code, _o, err = run(
        capsys,
        "plan",
        "convert",
        str(shared_data / "missions/qgc_ArduPilotSITL-ArduCopter.plan"),
        str(tmp_path / "y.waypoints"),
    )
    assert code == 2 and "no resolved altitude" in err and len(err.strip().splitlines()) == 1
    code, out, _e = run(capsys, "plan", "cameras", "--json")
    keys = {c["key"] for c in json.loads(out)}
    assert code == 0 and {"mavic3t-thermal", "h20t-zoom", "p1-35mm"} <= keys
    code, out, _e = run(capsys, "plan", "vehicles", "--json")
    assert code == 0 and all(v["endurance_min"] > 0 for v in json.loads(out))


@pytest.mark.parametrize(
    "args",
    [
        [
            "expanding-square",
            "--datum",
            "DATUM",
            "--spacing-m",
            "40",
            "--legs",
            "8",
            "--alt-m",
            "50",
        ],
        ["sector", "--datum", "DATUM", "--radius-m", "300", "--alt-m", "50"],
        [
            "corridor",
            "--polyline",
            "LINE",
            "--width-m",
            "60",
            "--camera",
            "mavic3e-wide",
            "--alt-m",
            "50",
        ],
        ["creeping-line", "--area", "AREA", "--spacing-m", "40", "--alt-m", "50"],
        ["perimeter", "--area", "AREA", "--spacing-m", "40", "--alt-m", "50"],
    ],
    ids=lambda a: a[0],
)
def test_sar_patterns_plan_validate_and_write(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str]
) -> None:
    area = _area(tmp_path / "a.geojson", ORIGIN_LONLAT, 300, 200)
    line = ";".join(_latlon(offset(ORIGIN_LONLAT, e, n)) for e, n in [(-300, 0), (0, 80), (300, 0)])
    subst = {"DATUM": _latlon(ORIGIN_LONLAT), "AREA": str(area), "LINE": line}
    argv = [subst.get(a, a) for a in args]
    code, out, err = run(
        capsys,
        "plan",
        *argv,
        "--home",
        _latlon(offset(ORIGIN_LONLAT, -100, -120)),
        "--zones",
        ZONES,
        "--format",
        "plan,kml",
        "--out",
        str(tmp_path / "o"),
        "--json",
    )
    assert code == 0, err
    res = json.loads(out)
    assert res["validation"]["ok"] and res["metrics"]["path_length_m"] > 500
    m = load_mission(tmp_path / "o" / f"{args[0]}.plan")
    assert sum(1 for it in m.items if it.command == 16) >= 4
    assert len(load_mission(tmp_path / "o" / f"{args[0]}.kml").items) == len(m.items)


@pytest.mark.parametrize(
    "args",
    [
        ["survey", "--area", "AREA"],
        ["creeping-line", "--area", "AREA"],
        ["perimeter", "--area", "AREA"],
        ["expanding-square", "--datum", "DATUM", "--radius-m", "250"],
        ["corridor", "--polyline", "LINE", "--width-m", "120"],
        ["creeping-line", "--area", "AREA", "--drones", "2", "--launch", "L", "--launch", "L"],
    ],
    ids=lambda a: a[0] + ("-2-drones" if "--drones" in a else ""),
)
def test_every_spaced_pattern_follows_the_side_overlap(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str]
) -> None:
    """Found from outside: the creeping line and the expanding square dropped --side-overlap (a
    pilot's 50 % flew 70 %, 20.3 m tracks instead of 33.8 m, with exit 0)."""
    area = _area(tmp_path / "a.geojson", ORIGIN_LONLAT, 400, 300)
    line = ";".join(_latlon(offset(ORIGIN_LONLAT, e, n)) for e, n in [(-300, 0), (300, 0)])
    launch = _latlon(offset(ORIGIN_LONLAT, -100, -120))
    subst = {"DATUM": _latlon(ORIGIN_LONLAT), "AREA": str(area), "LINE": line, "L": launch}
    home = [] if "--drones" in args else ["--home", launch]
    cam = get_camera("mavic3t-thermal")
    for pct in (50.0, 70.0):
        code, out, err = run(
            capsys,
            "plan",
            *[subst.get(a, a) for a in args],
            "--camera",
            "mavic3t-thermal",
            "--alt-m",
            "80",
            "--side-overlap",
            f"{pct:g}",
            *home,
            "--format",
            "plan",
            "--out",
            str(tmp_path / f"o{pct:g}"),
            "--json",
        )
        assert code == 0, err
        for entry in json.loads(out)["drones"]:
            assert entry["metrics"]["spacing_m"] == pytest.approx(
                cam.line_spacing_m(80.0, pct), abs=1e-3
            )


def test_searches_taking_photos_follow_the_front_overlap(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """With --trigger distance the creeping line and the expanding square take photos every
    (1 - front overlap) footprint; they had dropped --front-overlap (80 % whatever was given)."""
    area = _area(tmp_path / "a.geojson", ORIGIN_LONLAT, 300, 200)
    cam = get_camera("mavic3e-wide")
    for args in (
        ["creeping-line", "--area", str(area)],
        ["expanding-square", "--datum", _latlon(ORIGIN_LONLAT), "--radius-m", "150"],
    ):
        code, out, err = run(
            capsys, "plan", *args, "--camera", "mavic3e-wide", "--alt-m", "60", "--trigger",
            "distance", "--front-overlap", "90", "--home", _latlon(ORIGIN_LONLAT), "--format",
            "plan", "--out", str(tmp_path / args[0]), "--json",
        )  # fmt: skip
        assert code == 0, err
        metrics = json.loads(out)["drones"][0]["metrics"]
        want = cam.trigger_distance_m(60.0, 90.0)
        assert metrics["trigger_distance_m"] == pytest.approx(want, abs=1e-3), args[0]


def test_pod_and_json_shape(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The corridor honours --pod (it was dropped without a word); every plan's --json lists its
    missions under "drones" with the drone and sortie numbers, one mission or several."""
    line = ";".join(_latlon(offset(ORIGIN_LONLAT, e, n)) for e, n in [(-300, 0), (300, 0)])
    common = ("--camera", "mavic3t-thermal", "--alt-m", "60", "--format", "plan", "--json")
    home = ("--home", _latlon(offset(ORIGIN_LONLAT, -100, -120)))
    code, out, err = run(
        capsys, "plan", "corridor", "--polyline", line, "--width-m", "150", "--pod", "0.9",
        "--target", "person", *common, *home, "--out", str(tmp_path / "c"),
    )  # fmt: skip
    assert code == 0, err
    res = json.loads(out)
    assert res["metrics"]["pod"] == pytest.approx(0.9, abs=1e-6)
    assert res["drones"] == [{k: res[k] for k in res["drones"][0]}]  # one mission: same fields
    assert (res["drone"], res["sortie"], res["sorties"]) == (1, 1, 1)
    area = _area(tmp_path / "a.geojson", ORIGIN_LONLAT, 2400, 2000)  # beyond one battery
    code, out, err = run(
        capsys, "plan", "creeping-line", "--area", str(area), *common, *home,
        "--out", str(tmp_path / "s"),
    )  # fmt: skip
    assert code == 0, err
    res = json.loads(out)
    n = len(res["drones"])
    assert n > 1 and "metrics" not in res
    assert [(d["drone"], d["sortie"], d["sorties"]) for d in res["drones"]] == [
        (1, j + 1, n) for j in range(n)
    ]
    # each sortie's own flight (one battery); "metrics" are the drone's whole plan
    times = [d["sortie_flight_time_s"] for d in res["drones"]]
    assert times == res["drones"][0]["metrics"]["sortie_times_s"]
    assert max(times) < res["drones"][0]["metrics"]["flight_time_s"]


def test_two_drones_split(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    area = _area(tmp_path / "a.geojson", ORIGIN_LONLAT, 400, 300)
    l1, l2 = offset(ORIGIN_LONLAT, -250, -200), offset(ORIGIN_LONLAT, 250, -200)
    code, out, err = run(
        capsys,
        "plan",
        "survey",
        "--area",
        str(area),
        "--camera",
        "mavic3t-thermal",
        "--alt-m",
        "50",
        "--vehicle",
        "mavic3t",
        "--drones",
        "2",
        "--launch",
        _latlon(l1),
        "--launch",
        _latlon(l2),
        "--format",
        "plan",
        "--out",
        str(tmp_path / "o"),
        "--json",
    )
    assert code == 0, err
    res = json.loads(out)
    files = sorted(p.name for p in (tmp_path / "o").iterdir())
    assert files == ["survey_drone1.plan", "survey_drone2.plan"] and len(res["drones"]) == 2
    h1 = load_mission(tmp_path / "o" / "survey_drone1.plan").home
    assert h1 is not None and (h1[0], h1[1]) == pytest.approx(l1)
    code, _o, err = run(
        capsys,
        "plan",
        "survey",
        "--area",
        str(area),
        "--alt-m",
        "50",
        "--spacing-m",
        "30",
        "--drones",
        "2",
        "--launch",
        _latlon(l1),
        "--out",
        str(tmp_path / "p"),
    )
    assert code == 2 and "--launch" in err


def test_corridor_from_a_geojson_line_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    line = [list(offset(ORIGIN_LONLAT, e, n)) for e, n in [(-400, 0), (0, 100), (400, 50)]]
    f = tmp_path / "river.geojson"
    f.write_text(
        json.dumps(
            {
                "type": "FeatureCollection",
                "features": [
                    {
                        "type": "Feature",
                        "properties": {},
                        "geometry": {"type": "LineString", "coordinates": line},
                    }
                ],
            }
        )
    )
    code, out, err = run(
        capsys,
        "plan",
        "corridor",
        "--polyline",
        str(f),
        "--width-m",
        "80",
        "--alt-m",
        "50",
        "--spacing-m",
        "40",
        "--format",
        "geojson",
        "--out",
        str(tmp_path / "o"),
        "--json",
    )
    assert code == 0, err
    assert json.loads(out)["metrics"]["path_length_m"] > 1600  # two passes along ~830 m
    f.write_text(json.dumps({"type": "Point", "coordinates": line[0]}))
    code, _o, err = run(
        capsys,
        "plan",
        "corridor",
        "--polyline",
        str(f),
        "--width-m",
        "80",
        "--alt-m",
        "50",
        "--out",
        str(tmp_path / "p"),
    )
    assert code == 2 and "river.geojson" in err and "no line" in err


def test_survey_follows_terrain_with_a_dem(
    tmp_path: Path, make_dem, capsys: pytest.CaptureFixture[str]
) -> None:
    import numpy as np

    from missions.terrain import Raster

    dem_path = make_dem(lambda dx, dy: 350.0 + 0.15 * dx + 0 * dy)  # a 15 % slope up to the east
    area = _area(tmp_path / "a.geojson", ORIGIN_LONLAT, 600, 200)
    home = offset(ORIGIN_LONLAT, -350, -150)
    base = [
        "plan",
        "survey",
        "--area",
        str(area),
        "--alt-m",
        "60",
        "--spacing-m",
        "50",
        "--angle",
        "90",
        "--home",
        _latlon(home),
        "--format",
        "plan",
        "--json",
    ]
    code, out, err = run(capsys, *base, "--dem", str(dem_path), "--out", str(tmp_path / "o"))
    assert code == 0, err
    res = json.loads(out)
    assert res["validation"]["ok"] and "max_agl" in res["validation"]["checked"]
    m = load_mission(tmp_path / "o" / "survey.plan")
    dem = Raster.open(dem_path)
    assert m.home is not None and m.home[2] == pytest.approx(
        float(dem.sample([home[0]], [home[1]])[0]), abs=0.01
    )
    wps = [it for it in m.items if it.command == 16]
    assert all(it.frame == 0 for it in wps)  # AMSL along the terrain
    agl = np.array([it.alt_m for it in wps]) - dem.sample(
        [it.lon_deg for it in wps], [it.lat_deg for it in wps]
    )
    assert np.abs(agl - 60.0).max() <= 5.0 + 0.1
    assert m.metadata["terrain_following"]["mode"] == "waypoints"
    # the same grid flown at a constant height above home runs into the slope: unsafe
    code, _o, err = run(
        capsys, *base, "--dem", str(dem_path), "--terrain", "none", "--out", str(tmp_path / "p")
    )
    assert code == 3 and "terrain_clearance" in err and not (tmp_path / "p").exists()


def test_gsd_sets_the_altitude(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    area = _area(tmp_path / "a.geojson", ORIGIN_LONLAT, 300, 200)
    cam = get_camera("mavic3e-wide")
    code, out, err = run(
        capsys,
        "plan",
        "creeping-line",
        "--area",
        str(area),
        "--camera",
        "mavic3e-wide",
        "--gsd-cm",
        "2.0",
        "--spacing-m",
        "40",
        "--format",
        "plan",
        "--out",
        str(tmp_path / "o"),
        "--json",
    )
    assert code == 0, err
    assert json.loads(out)["metrics"]["alt_m"] == pytest.approx(cam.alt_for_gsd_m(2.0))
    code, _o, err = run(
        capsys,
        "plan",
        "survey",
        "--area",
        str(area),
        "--gsd-cm",
        "2.0",
        "--out",
        str(tmp_path / "p"),
    )
    assert code == 2 and "--gsd-cm needs --camera" in err


def test_config_defaults_for_zones_and_dem(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    a, b = offset(BORY, -900, 0), offset(BORY, 900, 0)
    m = Mission(items=[wp(a, 40.0), wp(b, 40.0)], home=(a[0], a[1], 330.0))
    save_mission(m, tmp_path / "m.geojson")
    code, _o, _e = run(capsys, "plan", "validate", str(tmp_path / "m.geojson"))
    assert code == 0  # no zones configured
    monkeypatch.setenv("DKP_ZONES", ZONES)
    code, out, _e = run(capsys, "plan", "validate", str(tmp_path / "m.geojson"))
    assert code == 3 and "CZ-ILL-BORY" in out


def test_listings_with_clirunner() -> None:
    from click.testing import CliRunner

    from dronekit_plzen.cli.main import cli

    res = CliRunner().invoke(cli, ["plan", "cameras", "--json"])
    assert res.exit_code == 0, res.output
    cams = {c["key"]: c for c in json.loads(res.output)}
    assert cams["mavic3t-thermal"]["image_width_px"] == 640
    res = CliRunner().invoke(cli, ["plan", "vehicles"])
    assert res.exit_code == 0 and "mavic3t" in res.output
    res = CliRunner().invoke(cli, ["plan", "survey", "--help"])
    for opt in (
        "--area",
        "--camera",
        "--alt-m",
        "--gsd-cm",
        "--side-overlap",
        "--front-overlap",
        "--spacing-m",
        "--pod",
        "--angle",
        "--dem",
        "--zones",
        "--vehicle",
        "--drones",
        "--launch",
        "--out",
        "--format",
        "--json",
        "--override-safety",
        "--reason",
        "--repair",
    ):
        assert opt in res.output, opt


def test_a_writer_failing_halfway_leaves_no_files(tmp_path: Path) -> None:
    """The formats are written one after another; when one fails (a real full disk: the command
    runs with RLIMIT_FSIZE of 8 KiB, so the 3.7 kB CSV fits and the 20 kB .plan does not) the
    ones before it are not left behind as if the plan had been written, and an earlier plan in
    the folder stays as it was."""
    import resource

    area = _area(tmp_path / "a.geojson", ORIGIN_LONLAT, 300, 200)
    out = tmp_path / "out"
    out.mkdir()
    (out / "survey.plan").write_text("an earlier plan")
    args = ["plan", "survey", "--area", str(area), "--camera", "mavic3e-wide", "--alt-m", "60"]
    args += ["--home", _latlon(offset(ORIGIN_LONLAT, -200, -150)), "--out", str(out)]
    args += ["--format", "csv,plan"]

    def small_disk() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (8192, 8192))

    p = subprocess.run(
        [sys.executable, "-m", "dronekit_plzen", *args],
        capture_output=True,
        text=True,
        timeout=120,
        preexec_fn=small_disk,
    )
    assert p.returncode == 1, p.stderr
    assert "survey.plan: the file is too large" in p.stderr and "Traceback" not in p.stderr
    assert sorted(q.name for q in out.iterdir()) == ["survey.plan"]
    assert (out / "survey.plan").read_text() == "an earlier plan"


def test_a_writer_failing_halfway_keeps_the_earlier_side_files(tmp_path: Path) -> None:
    """A new plan with no geofence removes a stale ``NAME.fence.waypoints`` of an earlier plan
    under the same name, but only with the new plan's files: when a later format fails (a real
    full disk, RLIMIT_FSIZE 8 KiB: the .waypoints fits, the 20 kB .plan does not), the earlier
    fence file stays beside the earlier mission it belongs to."""
    import resource

    area = _area(tmp_path / "a.geojson", ORIGIN_LONLAT, 300, 200)
    out = tmp_path / "out"
    out.mkdir()
    earlier = {"survey.waypoints": "an earlier mission", "survey.fence.waypoints": "its fence"}
    for name, text in earlier.items():
        (out / name).write_text(text)
    args = ["plan", "survey", "--area", str(area), "--camera", "mavic3e-wide", "--alt-m", "60"]
    args += ["--home", _latlon(offset(ORIGIN_LONLAT, -200, -150)), "--out", str(out)]
    args += ["--format", "waypoints,plan"]

    def small_disk() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (8192, 8192))

    p = subprocess.run(
        [sys.executable, "-m", "dronekit_plzen", *args],
        capture_output=True,
        text=True,
        timeout=120,
        preexec_fn=small_disk,
    )
    assert p.returncode == 1, p.stderr
    assert "survey.plan: the file is too large" in p.stderr and "Traceback" not in p.stderr
    assert {q.name: q.read_text() for q in out.iterdir()} == earlier
    # without the limit the new plan replaces the mission and the stale fence goes with it
    p = subprocess.run(
        [sys.executable, "-m", "dronekit_plzen", *args], capture_output=True, text=True, timeout=120
    )
    assert p.returncode == 0, p.stderr
    names = sorted(q.name for q in out.iterdir())
    assert "survey.fence.waypoints" not in names and "survey.plan" in names, names
