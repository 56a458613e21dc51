"""A command refused at its inputs answers before the heavy libraries load.

Every ``dronekit-plzen`` call is a new process, and most bad input is refused before any
computing starts; a library that the refusal does not need costs each such call its import
time (numba and scipy's ``sparse``, ``spatial`` and ``ndimage`` a quarter to half a second
each on this machine, the MAVLink dialects a tenth: ``lidar ground`` refused a garbage file
in 1.37 s, now 0.6 s). The packages import them where they are used.
Each case is a real subprocess: the refused command runs, then the modules it loaded are
listed (``sys.modules`` at exit)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

#: loads the CLI, runs one command (its exit is caught) and prints the modules it loaded
_PROBE = """
import json, sys
from dronekit_plzen.cli.main import main
code = main(sys.argv[1:])
print("EXIT=" + str(code))
print("MODULES=" + json.dumps(sorted(sys.modules)))
"""

#: loaded only where they do work: the compiled kernels, the TIN, the neighbour search, the
#: thin plate, the obstacle detour, the link's sockets and codec
HEAVY = (
    "numba",
    "scipy.sparse",
    "scipy.spatial",
    "scipy.ndimage",
    "dronekit_plzen.link.connection",
    "dronekit_plzen.link.codec",
)


def _garbage(tmp: Path, name: str) -> str:
    p = tmp / name
    p.write_bytes(b"\x01b!d not what its name says" * 20)
    return str(p)


CASES = {
    "lidar-ground-garbage": lambda t: [
        "lidar", "ground", _garbage(t, "a.las"), "-o", str(t / "o.laz"),
    ],
    "photo-empty-folder": lambda t: ["photo", "process", str(t), "-o", str(t / "out")],
    "plan-survey-garbage-area": lambda t: [
        "plan", "survey", "--area", _garbage(t, "a.geojson"), "--alt-m", "50",
        "--out", str(t / "out"),
    ],
    "log-import-garbage": lambda t: ["import", "--db", str(t / "f.db"), _garbage(t, "a.tlog")],
    "plan-poa-garbage-map": lambda t: [
        "plan", "poa", "--poa", _garbage(t, "p.tif"), "--drones", "2", "--budget-m", "1000",
        "--alt-m", "50", "--fov-deg", "60", "--launch", "49.7,13.3", "--out", str(t / "o"),
    ],
    "web-attach-missing-map": lambda t: [
        "web", "attach", "--db", str(t / "f.db"), "1", "--poa", str(t / "missing.tif"),
    ],
}  # fmt: skip


@pytest.mark.parametrize("case", list(CASES))
def test_a_refused_command_does_not_load_the_heavy_libraries(case: str, tmp_path: Path) -> None:
    args = CASES[case](tmp_path)
    proc = subprocess.run(
        [sys.executable, "-c", _PROBE, *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
        check=False,
    )
    lines = dict(x.split("=", 1) for x in proc.stdout.splitlines() if "=" in x)
    assert "MODULES" in lines, proc.stderr[-2000:]
    assert lines["EXIT"] == "2", proc.stderr  # refused as bad input, one line
    assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    loaded = set(json.loads(lines["MODULES"]))
    assert not [m for m in HEAVY if m in loaded], sorted(m for m in HEAVY if m in loaded)
