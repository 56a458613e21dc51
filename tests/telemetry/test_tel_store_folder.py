"""Where a new flight database may be created, and that a command says when it creates one.

Before: ``open_store`` made any missing folder, so ``--db flihgts/x.db`` (a typo) on a command
that writes made a new folder and a new empty database, and the pilot's records went there
without a word. Now a missing folder is refused (only the toolkit's own data folder, where the
default database lives, is created), and a new database file is announced once on stderr.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from dronekit_plzen.config import default_data_dir
from dronekit_plzen.errors import BadInputError
from telemetry.store import open_store, remove_if_empty

REPO = Path(__file__).resolve().parents[2]
CREATE = ("deployments", "create", "--org", "HZS", "--category", "sar", "--location", "Bory")
NEW = "created a new flight database at "


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "dronekit_plzen", *args],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=120,
        env={**os.environ, **(env or {})},
    )


def test_open_store_refuses_a_missing_folder(tmp_path: Path) -> None:
    missing = "the folder for the flight database does not exist"
    with pytest.raises(BadInputError, match=missing), open_store(tmp_path / "flihgts" / "x.db"):
        pass
    assert not (tmp_path / "flihgts").exists()
    with open_store(tmp_path / "x.db"):  # an existing folder: created as before
        pass
    assert (tmp_path / "x.db").is_file()


def test_open_store_creates_the_toolkits_own_data_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The default database's folder (what the GUI, the recorder and a first run use)."""
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    db = default_data_dir() / "flights.db"
    assert not db.parent.exists()
    with open_store(db):
        pass
    assert db.is_file()
    # its subfolders are not the toolkit's
    with pytest.raises(BadInputError), open_store(db.parent / "typo" / "flights.db"):
        pass


def test_remove_if_empty_keeps_a_database_with_records(tmp_path: Path) -> None:
    from telemetry.deployments import create_deployment

    empty, full = tmp_path / "empty.db", tmp_path / "full.db"
    for db in (empty, full):
        with open_store(db) as store:
            if db is full:
                create_deployment(store, organisation="HZS", category="sar", location="Bory")
    assert remove_if_empty(empty) and not empty.exists()
    assert not list(tmp_path.glob("empty.db*"))
    assert not remove_if_empty(full) and full.is_file()


def test_a_new_database_is_announced_once(tmp_path: Path) -> None:
    db = tmp_path / "flighst.db"  # a typo in the file name: a new database, said so
    first = run(*CREATE, "--db", str(db))
    assert first.returncode == 0, first.stderr
    assert first.stderr.splitlines() == [NEW + str(db)]
    again = run(*CREATE, "--db", str(db))
    assert again.returncode == 0, again.stderr
    assert again.stderr == ""
    imported = run("import", "--db", str(tmp_path / "n.db"), str(REPO.parent / "shared/data/logs"
                   / "tlog_dronekit_flight.tlog"))  # fmt: skip
    assert imported.returncode == 0, imported.stderr
    assert [ln for ln in imported.stderr.splitlines() if ln.startswith(NEW)] == [
        NEW + str(tmp_path / "n.db")
    ]


def test_the_default_database_and_its_folder_are_created(tmp_path: Path) -> None:
    xdg = tmp_path / "xdg"
    p = run(*CREATE, env={"XDG_DATA_HOME": str(xdg)})
    db = xdg / "dronekit-plzen" / "flights.db"
    assert p.returncode == 0, p.stderr
    assert p.stderr.splitlines() == [NEW + str(db)]
    assert db.is_file()


def test_the_folder_message_in_czech(tmp_path: Path) -> None:
    p = run("--lang", "cs", *CREATE, "--db", str(tmp_path / "flihgts" / "x.db"))
    assert p.returncode == 2
    assert p.stderr.strip().endswith(
        "x.db: složka pro databázi letů neexistuje: " + str(tmp_path / "flihgts")
    ), p.stderr
    p = run("--lang", "cs", *CREATE, "--db", str(tmp_path / "x.db"))
    assert p.returncode == 0
    assert p.stderr.strip() == "vytvořena nová databáze letů: " + str(tmp_path / "x.db")
