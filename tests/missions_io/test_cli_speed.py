"""``--speed-m-s`` reaches every plan a command writes (the corridor and the multi-drone split
dropped it: the files commanded the vehicle's cruise speed and the guard timed that)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

SQUARE = [[13.37, 49.74], [13.375, 49.74], [13.375, 49.743], [13.37, 49.743], [13.37, 49.74]]
CAMERA = ("--camera", "generic-1in-20mp", "--alt-m", "80")
HOME = "49.7401,13.3701"

COMMANDS = {
    "survey": ("survey", "--area", "{a}", *CAMERA, "--home", HOME),
    "survey-2-drones": (
        "survey",
        "--area",
        "{a}",
        *CAMERA,
        "--drones",
        "2",
        "--launch",
        HOME,
        "--launch",
        "49.7402,13.3702",
    ),
    "creeping-line": ("creeping-line", "--area", "{a}", *CAMERA, "--home", HOME),
    "perimeter": ("perimeter", "--area", "{a}", *CAMERA, "--home", HOME),
    "corridor": (
        "corridor",
        "--polyline",
        "49.7401,13.3701;49.7420,13.3740",
        "--width-m",
        "60",
        *CAMERA,
        "--home",
        HOME,
    ),
    "expanding-square": (
        "expanding-square",
        "--datum",
        "49.7415,13.3725",
        *CAMERA,
        "--radius-m",
        "200",
    ),
    "sector": ("sector", "--datum", "49.7415,13.3725", *CAMERA, "--radius-m", "200"),
}


@pytest.mark.parametrize("name", list(COMMANDS))
def test_every_plan_flies_the_asked_speed(name: str, tmp_path: Path) -> None:
    area = tmp_path / "area.geojson"
    area.write_text(
        json.dumps(
            {
                "type": "Feature",
                "properties": {},
                "geometry": {"type": "Polygon", "coordinates": [SQUARE]},
            }
        )
    )
    out = tmp_path / "out"
    argv = [a.format(a=area) for a in COMMANDS[name]]
    p = subprocess.run(
        [
            *(sys.executable, "-m", "dronekit_plzen", "plan", *argv),
            *("--speed-m-s", "3", "--out", str(out), "--format", "plan"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert p.returncode == 0, p.stderr
    plans = sorted(out.glob("*.plan"))
    assert plans and (len(plans) >= 2 or name != "survey-2-drones")
    for f in plans:
        mission = json.loads(f.read_text())["mission"]
        assert mission["cruiseSpeed"] == 3.0, f.name
        speeds = [i["params"][1] for i in mission["items"] if i.get("command") == 178]
        assert speeds and all(s == 3.0 for s in speeds), (f.name, speeds)
