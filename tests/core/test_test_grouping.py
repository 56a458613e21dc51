"""The test run's own set-up: ``make test`` relies on pytest-xdist's ``--dist loadgroup``.

The training class, the demo and the photo pipeline build one expensive fixture each, and their
modules are marked ``xdist_group("heavy")`` so that one worker builds it once. pytest 9.2 made
pytest-xdist 3.8 ignore the mark without a word (pytest-xdist issue 1386): both workers then
built every fixture, and the run took two minutes longer. pyproject.toml pins pytest below 9.2;
this test fails if an upgrade breaks the grouping again.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

MODULE = """
import os
import pytest

pytestmark = pytest.mark.xdist_group("heavy")


@pytest.mark.parametrize("i", range(6))
def test_grouped(i):
    print("WORKER", os.environ["PYTEST_XDIST_WORKER"])
"""

OTHER = """
import pytest


@pytest.mark.parametrize("i", range(6))
def test_free(i):
    pass
"""


def test_tests_marked_with_one_xdist_group_run_on_one_worker(tmp_path: Path) -> None:
    (tmp_path / "test_grouped.py").write_text(MODULE)
    (tmp_path / "test_free.py").write_text(OTHER)
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    args = ["-p", "no:cacheprovider", "-n", "2", "--dist", "loadgroup", "-v", "-s"]
    here = ["-c", os.devnull, "--rootdir", str(tmp_path), str(tmp_path)]
    p = subprocess.run(
        [sys.executable, "-m", "pytest", *args, *here],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
        env=env,
    )
    assert p.returncode == 0, p.stdout + p.stderr
    workers = set(re.findall(r"\[(gw\d)\][^\n]*test_grouped\.py::", p.stdout))
    assert len(re.findall(r"PASSED[^\n]*test_grouped\.py::", p.stdout)) == 6, p.stdout
    assert len(workers) == 1, f"the grouped tests ran on {sorted(workers)}:\n{p.stdout}"
