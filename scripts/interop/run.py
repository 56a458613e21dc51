"""``make interop``: fly the project against real firmware and print a pass/fail table.

    SITL_BIN=/path/to/ardupilot/build/sitl/bin/arducopter \\
    PX4_DIR=/path/to/PX4-Autopilot \\
    BIND_LOOPBACK_SO=/path/to/bind_loopback.so  make interop [INTEROP_ARGS="-k version"]

Runs ``tests/interop`` (collected only with ``DKP_INTEROP=1``) once per firmware set, writes
``build/interop/junit.xml``, ``results.md`` (the table, firmware versions included) and the
firmware logs under ``build/interop/instances/``. Exit status: pytest's.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def _first_line(text: str | None) -> str:
    for line in (text or "").splitlines():
        line = line.strip()
        if line.startswith("E ") or line.startswith("AssertionError") or "Error:" in line:
            return line.removeprefix("E").strip()[:300]
    return (text or "").strip().splitlines()[0][:300] if (text or "").strip() else ""


def results_table(junit: Path) -> tuple[list[str], dict[str, dict[str, str]]]:
    """check -> firmware -> 'pass' / 'FAIL: <message>' from a JUnit XML report."""
    rows: dict[str, dict[str, str]] = {}
    firmwares: list[str] = []
    for case in ET.parse(junit).getroot().iter("testcase"):
        name = case.get("name", "?")
        check, _, fw = name.partition("[")
        fw = fw.rstrip("]") or "-"
        if fw not in firmwares:
            firmwares.append(fw)
        bad = case.find("failure")
        if bad is None:
            bad = case.find("error")
        if bad is None:
            verdict = "pass"
        else:
            msg = bad.get("message") or _first_line(bad.text)
            verdict = "FAIL: " + " ".join(msg.split())[:300]
        rows.setdefault(check.removeprefix("test_"), {})[fw] = verdict
    return firmwares, rows


def markdown(
    firmwares: list[str], rows: dict[str, dict[str, str]], versions: dict[str, str]
) -> str:
    out = []
    for fw, text in versions.items():
        out.append(f"- {fw}: {text}")
    out.append("")
    out.append("| check | " + " | ".join(firmwares) + " |")
    out.append("|---|" + "---|" * len(firmwares))
    for check, by_fw in rows.items():
        cells = [by_fw.get(fw, "-").replace("|", "/") for fw in firmwares]
        out.append(f"| {check} | " + " | ".join(cells) + " |")
    return "\n".join(out) + "\n"


def main(argv: list[str]) -> int:
    if not (os.environ.get("SITL_BIN") or os.environ.get("PX4_DIR")):
        print(
            "error: set SITL_BIN (a built arducopter SITL binary) and/or PX4_DIR (a built "
            "PX4-Autopilot tree); see README, 'Real firmware (interop)'",
            file=sys.stderr,
        )
        return 2
    out = Path(os.environ.get("DKP_INTEROP_OUT", REPO / "build" / "interop")).resolve()
    out.mkdir(parents=True, exist_ok=True)
    (out / "versions.json").unlink(missing_ok=True)
    junit = out / "junit.xml"
    env = dict(os.environ, DKP_INTEROP="1", DKP_INTEROP_OUT=str(out), PROJ_NETWORK="OFF")
    env.setdefault("QT_QPA_PLATFORM", "offscreen")
    cmd = [
        sys.executable,
        "-m",
        "pytest",
        "tests/interop",
        "-p",
        "no:cacheprovider",
        "-v",
        "-s",
        f"--junitxml={junit}",
        "-o",
        "junit_family=xunit1",
        *argv,
    ]
    print("$ " + " ".join(cmd[2:]), flush=True)
    rc = subprocess.call(cmd, cwd=REPO, env=env)
    if not junit.exists():
        return rc or 1
    versions_path = out / "versions.json"
    versions = json.loads(versions_path.read_text()) if versions_path.exists() else {}
    firmwares, rows = results_table(junit)
    text = markdown(firmwares, rows, versions)
    (out / "results.md").write_text(text)
    print("\n" + text + f"(also in {out / 'results.md'})")
    return rc


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
