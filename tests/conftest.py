"""Shared fixtures: paths to the real sample data beside the clone; the Hypothesis profiles."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import is_hypothesis_test, settings

# Hypothesis profiles. "ci" (the default) draws the same examples on every machine and run
# (derandomize, no example database), so a property that passes once passes everywhere. "fuzz"
# (``HYPOTHESIS_PROFILE=fuzz``, ``make fuzz``) draws fresh random examples, many more of them:
# every property test runs at least ``max_examples`` examples, whatever its own CI count.
settings.register_profile("ci", derandomize=True, database=None, deadline=None, print_blob=True)
settings.register_profile(
    "fuzz", max_examples=2000, derandomize=False, database=None, deadline=None, print_blob=True
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))
# the test workers share the machine's cores (pytest -n 3) with real-time simulators: the
# toolkit's parallel steps (SMRF's grids) run on one thread in each worker
os.environ.setdefault("DKP_THREADS", "1")

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))  # dkp_testkit: helpers shared by folders
# the project's packages before this folder: run as plain ``pytest`` (no working directory on
# sys.path, the packages found by the editable install's finder, which runs last) the folder
# tests/simulators was imported as a namespace package in place of simulators/
sys.path.insert(0, str(REPO))
SHARED_DATA = REPO.parent / "shared" / "data"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """``../shared/data`` (CI has it beside the clone). Missing data is an error, not a skip."""
    assert SHARED_DATA.is_dir(), f"sample data folder missing: {SHARED_DATA}"
    return SHARED_DATA


@pytest.fixture(autouse=True)
def _english_messages() -> Iterator[None]:
    """Every test starts (and leaves the worker) in English: a test that switches to Czech and
    fails before switching back must not turn the next tests' messages Czech (a worker runs
    hundreds of tests in one process)."""
    from dronekit_plzen.i18n import set_language

    set_language("en")
    yield
    set_language("en")


@pytest.fixture(autouse=True)
def _isolated_config(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Never read the developer's own configuration or database in tests."""
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / "config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(home / "data"))
    for var in (
        "DKP_DB",
        "DKP_GCS_SYSTEM_ID",
        "DKP_CAMERA_DIR",
        "DKP_VEHICLE_DIR",
        "DKP_ZONES",
        "DKP_DEM",
        "DKP_LANG",
        "DKP_DEBUG",
    ):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("LANG", "C.UTF-8")
    monkeypatch.setenv("PROJ_NETWORK", "OFF")
    # the GUI's basemap fetches tiles online by default: tests never reach the internet (a test
    # that fetches points DKP_BASEMAP_URL_<SOURCE> at its own 127.0.0.1 server)
    monkeypatch.setenv("DKP_BASEMAP_ONLINE", "0")


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every Hypothesis test ``property`` (``-m property``); under the fuzz profile raise
    each one's example count to the profile's (a test's own ``@settings`` would cap it)."""
    fuzz = settings.default.max_examples
    for item in items:
        fn = getattr(getattr(item, "obj", None), "__func__", getattr(item, "obj", None))
        if fn is None or not is_hypothesis_test(fn):
            continue
        item.add_marker(pytest.mark.property)
        if settings.get_current_profile_name() == "fuzz":
            # Hypothesis keeps a test's own settings here (no public setter)
            own = getattr(fn, "_hypothesis_internal_use_settings", None)
            if own is not None and own.max_examples < fuzz:
                fn._hypothesis_internal_use_settings = settings(own, max_examples=fuzz)
