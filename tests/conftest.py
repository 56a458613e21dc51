"""Shared fixtures: paths to the real sample data beside the clone."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """``../shared/data`` (CI has it beside the clone). Missing data is an error, not a skip."""
    assert SHARED_DATA.is_dir(), f"sample data folder missing: {SHARED_DATA}"
    return SHARED_DATA


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
