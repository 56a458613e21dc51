"""``report export`` puts its five files in place together, or none of them.

A real failure at the last file: the CLI in a child process whose file size limit
(``RLIMIT_FSIZE``, a disk that fills up) of 8 KiB lets the CSV files and their CSVW metadata
through and stops flights.geojson (28 kB: the Wales flight's track) with ``EFBIG``. The earlier
export in the folder must stay byte for byte, no new file may appear, no temporary file may be
left; with space again the export replaces every file.
"""

from __future__ import annotations

import resource
import signal
import sqlite3
import subprocess
import sys
from contextlib import closing
from pathlib import Path

import pytest

from telemetry.deployments import create_deployment, link_flight, update_deployment
from telemetry.importer import import_file
from telemetry.store import open_store

REPO = Path(__file__).resolve().parents[2]
FILES = (
    "flights.csv",
    "flights.csv-metadata.json",
    "deployments.csv",
    "deployments.csv-metadata.json",
    "flights.geojson",
)
LIMIT = 8192


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory, shared_data: Path) -> Path:
    """The Wales flight in a completed deployment, and an open deployment; a rollback journal
    (not WAL), so that reading it needs no 32 kB ``-shm`` file under the size limit."""
    folder = tmp_path_factory.mktemp("export_db")
    made = folder / "made.db"
    with open_store(made) as store:
        (fid,) = import_file(
            store, shared_data / "logs" / "df_uob_2023-07-06_10-12-18.bin"
        ).flight_ids
        d = create_deployment(
            store,
            organisation="HZS",
            category="fire",
            location="Plzeň",
            requested_at="2023-07-06T08:00:00Z",  # the flight's day: a later request refuses it
        )
        link_flight(store, d.id, fid)
        update_deployment(store, d.id, status="completed")
        create_deployment(store, organisation="PCR", category="sar", location="Bory")
    path = folder / "flights.db"
    with closing(sqlite3.connect(made)) as src, closing(sqlite3.connect(path)) as dst:
        src.backup(dst)
        dst.execute("PRAGMA journal_mode=DELETE")
    return path


def _full_disk() -> None:
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails with EFBIG
    resource.setrlimit(resource.RLIMIT_FSIZE, (LIMIT, LIMIT))


def _export(db: Path, out: Path, *, full_disk: bool) -> subprocess.CompletedProcess[str]:
    argv = ["report", "export", "--db", str(db), "--out", str(out)]
    return subprocess.run(
        [sys.executable, "-m", "dronekit_plzen", *argv],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=REPO,
        preexec_fn=_full_disk if full_disk else None,
    )


def _check_failed(proc: subprocess.CompletedProcess[str], out: Path) -> None:
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith(
        f"error: cannot write {out / 'flights.geojson'}: the file is too large"
    ), lines[0]
    assert proc.stdout == ""  # no file named as written


def test_full_disk_at_the_geojson_leaves_the_previous_export(db: Path, tmp_path: Path) -> None:
    out = tmp_path / "od"
    out.mkdir()
    old = {name: f"{name} of last year's export\n".encode() for name in FILES}
    for name, data in old.items():
        (out / name).write_bytes(data)
    _check_failed(_export(db, out, full_disk=True), out)
    # the CSV files and their metadata were written before the GeoJSON failed: none replaced
    assert sorted(p.name for p in out.iterdir()) == sorted(FILES)  # no temporary file either
    for name, data in old.items():
        assert (out / name).read_bytes() == data, name
    # with space again, every file is replaced
    proc = _export(db, out, full_disk=False)
    assert proc.returncode == 0, proc.stderr
    assert sorted(p.name for p in out.iterdir()) == sorted(FILES)
    for name, data in old.items():
        assert (out / name).read_bytes() != data, name
    assert (out / "flights.csv").read_text(encoding="utf-8").startswith("flight_id,vehicle,")
    assert '"FeatureCollection"' in (out / "flights.geojson").read_text(encoding="utf-8")


def test_full_disk_in_an_empty_folder_writes_no_file(db: Path, tmp_path: Path) -> None:
    out = tmp_path / "od"
    out.mkdir()
    _check_failed(_export(db, out, full_disk=True), out)
    assert list(out.iterdir()) == []  # not the CSV files without their GeoJSON
