"""Bad input to every telemetry command group, each case a real ``python -m dronekit_plzen``.

The table: command, the input made here, the exit code, a pattern the one-line message must
match, and the database unchanged (row counts and content of every table compared before and
after). Then the cases that need more than one line to set up: duplicate imports by content,
two imports at once, a read-only database, a recorder killed with SIGKILL mid-flight.
"""

from __future__ import annotations

import json
import os
import random
import re
import resource
import shutil
import signal
import sqlite3
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from dkp_testkit import db_state

from telemetry.dataflash import FORMAT_CHARS
from telemetry.deployments import create_deployment, link_flight, update_deployment
from telemetry.importer import import_file
from telemetry.store import open_store

REPO = Path(__file__).resolve().parents[2]
BIN = "df_uob_2023-07-06_10-12-18.bin"
TLOG = "tlog_dronekit_flight.tlog"


def run(*args: str, cwd: Path | None = None, **kw: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "dronekit_plzen", *args],
        capture_output=True,
        text=True,
        cwd=cwd or REPO,
        timeout=120,
        **kw,  # type: ignore[call-overload]
    )


@pytest.fixture(scope="module")
def base_db(tmp_path_factory: pytest.TempPathFactory, shared_data: Path) -> Path:
    """A database with the Wales flight (#1), a completed deployment (#1) and an open one (#2)."""
    db = tmp_path_factory.mktemp("base") / "flights.db"
    with open_store(db) as store:
        (fid,) = import_file(store, shared_data / "logs" / BIN).flight_ids
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
    return db


@dataclass(frozen=True)
class Case:
    id: str
    args: tuple[str, ...]  #: {db}, {in} and {tmp} are filled in
    make: Callable[[Path], Path | None]  #: makes the input in the folder; returns {in}
    code: int
    pattern: str


def _random(name: str, n: int = 4096) -> Callable[[Path], Path]:
    def make(tmp: Path) -> Path:
        p = tmp / name
        p.write_bytes(random.Random(name).randbytes(n))  # the same bytes on every run
        return p

    return make


def _empty(name: str) -> Callable[[Path], Path]:
    def make(tmp: Path) -> Path:
        p = tmp / name
        p.write_bytes(b"")
        return p

    return make


def _head_of_bin(n: int) -> Callable[[Path], Path]:
    def make(tmp: Path) -> Path:
        src = REPO.parent / "shared" / "data" / "logs" / BIN
        p = tmp / f"head{n}.bin"
        p.write_bytes(src.read_bytes()[:n])
        return p

    return make


def _folder(name: str) -> Callable[[Path], Path]:
    def make(tmp: Path) -> Path:
        (tmp / name).mkdir(parents=True)
        return tmp / name

    return make


def _text_file(name: str, text: str) -> Callable[[Path], Path]:
    def make(tmp: Path) -> Path:
        (tmp / name).write_text(text)
        return tmp / name

    return make


def _nothing(tmp: Path) -> None:
    return None


def _real_log(name: str) -> Callable[[Path], Path]:
    """A copy of a real sample log (a good input: the case is about something else)."""

    def make(tmp: Path) -> Path:
        p = tmp / name
        shutil.copy(REPO.parent / "shared" / "data" / "logs" / name, p)
        return p

    return make


def _report_dir_with_folder_in_place(tmp: Path) -> Path:
    (tmp / "rep" / "indicator_2023.html").mkdir(parents=True)
    return tmp / "rep"


def _export_dir_with_folder_in_place(tmp: Path) -> Path:
    (tmp / "od" / "deployments.csv").mkdir(parents=True)
    return tmp / "od"


def _tlog_records(data: bytes) -> list[int]:
    """The offsets of a ``.tlog``'s records (8-byte stamp, then a MAVLink 1 or 2 frame)."""
    out, p = [], 0
    while p + 9 <= len(data) and data[p + 8] in (0xFE, 0xFD):
        out.append(p)
        magic, size = data[p + 8], data[p + 9]
        p += 8 + (size + 8 if magic == 0xFE else size + 12 + (13 if data[p + 10] & 1 else 0))
    return out


def _tlog_stamped(name: str, how: str) -> Callable[[Path], Path]:
    """The sample ``.tlog`` with its record timestamps damaged: ``zero`` (all 0), ``half-zero``
    (the first half 0, the second half as recorded), ``ffff`` (the first half all ones) or
    ``backwards`` (the stamps of the records in reverse order)."""

    def make(tmp: Path) -> Path:
        data = bytearray((REPO.parent / "shared" / "data" / "logs" / TLOG).read_bytes())
        recs = _tlog_records(bytes(data))
        assert len(recs) > 70_000  # the whole file walked
        stamps = [struct.unpack_from(">Q", data, q)[0] for q in recs]
        half = len(recs) // 2
        for k, q in enumerate(recs):
            new = {
                "zero": 0,
                "half-zero": 0 if k < half else stamps[k],
                "ffff": 2**64 - 1 if k < half else stamps[k],
                "backwards": stamps[-1 - k],
            }[how]
            struct.pack_into(">Q", data, q, new)
        p = tmp / name
        p.write_bytes(bytes(data))
        return p

    return make


def _head_of_tlog(n: int) -> Callable[[Path], Path]:
    def make(tmp: Path) -> Path:
        p = tmp / "in.tlog"
        p.write_bytes((REPO.parent / "shared" / "data" / "logs" / TLOG).read_bytes()[:n])
        return p

    return make


def _damaged_flight_row(tmp: Path, column: str = "duration_s") -> Path:
    """A flight database whose flight #1 has ``column = 'x'`` (edited by another program)."""
    db = tmp / "damaged.db"
    with open_store(db) as store:
        import_file(store, REPO.parent / "shared" / "data" / "logs" / BIN)
    con = sqlite3.connect(db)
    con.execute(f"UPDATE flights SET {column} = 'x' WHERE id = 1")
    con.commit()
    con.execute("PRAGMA journal_mode = DELETE")  # one file: nothing beside it to compare
    con.close()
    return db


def _other_program_db(sql: str) -> Callable[[Path], Path]:
    """Another program's SQLite database (``sql`` makes its tables)."""

    def make(tmp: Path) -> Path:
        db = tmp / "other.db"
        con = sqlite3.connect(db)
        con.executescript(sql)
        con.close()
        return db

    return make


NOT_A_LOG = "not a MAVLink telemetry log"
_CREATE = (
    "deployments",
    "create",
    "--db",
    "{db}",
    "--org",
    "HZS",
    "--category",
    "sar",
    "--location",
    "Bory",
)
LFS_POINTER = (
    "version https://git-lfs.github.com/spec/v1\n"
    "oid sha256:4d7a214614ab2935c943f9e0ff69d22eadbb8f32b1258daaa5e2ca24d17e2393\n"
    "size 3452928\n"
)
CASES = [
    # -- import --------------------------------------------------------------------------------
    Case("import-random-tlog", ("import", "--db", "{db}", "{in}"), _random("r.tlog"), 2, NOT_A_LOG),
    Case("import-empty-tlog", ("import", "--db", "{db}", "{in}"), _empty("e.tlog"), 2, NOT_A_LOG),
    Case(
        "import-random-ulg",
        ("import", "--db", "{db}", "{in}"),
        _random("r.ulg"),
        2,
        "not a PX4 ULog file",
    ),
    Case(
        "import-empty-ulg", ("import", "--db", "{db}", "{in}"), _empty("e.ulg"), 2, "not a PX4 ULog"
    ),
    Case(
        "import-random-bin",
        ("import", "--db", "{db}", "{in}"),
        _random("r.bin"),
        2,
        "not an ArduPilot DataFlash log",
    ),
    Case(
        "import-63-byte-bin",
        ("import", "--db", "{db}", "{in}"),
        _head_of_bin(63),
        2,
        "not an ArduPilot DataFlash log",
    ),
    Case(
        "import-empty-bin",
        ("import", "--db", "{db}", "{in}"),
        _empty("e.bin"),
        2,
        "not an ArduPilot DataFlash log",
    ),
    Case(
        "import-random-log",
        ("import", "--db", "{db}", "{in}"),
        _random("r.log"),
        2,
        "not an ArduPilot DataFlash text log",
    ),
    Case(
        "import-empty-log",
        ("import", "--db", "{db}", "{in}"),
        _empty("e.log"),
        2,
        "not an ArduPilot DataFlash text log",
    ),
    # a clone or download without ``git lfs pull``: the pointer's three lines, not the log
    *(
        Case(
            f"import-lfs-pointer-{ext}",
            ("import", "--db", "{db}", "{in}"),
            _text_file(f"flight.{ext}", LFS_POINTER),
            2,
            rf"flight\.{ext}: this is a Git LFS pointer, not the log itself",
        )
        for ext in ("bin", "tlog", "ulg", "px4log", "log")
    ),
    Case(
        "import-random-px4log",
        ("import", "--db", "{db}", "{in}"),
        _random("r.px4log"),
        2,
        r"r\.px4log: not a PX4 sdlog2 log \(no valid record in it\)",
    ),
    Case(
        "import-folder",
        ("import", "--db", "{db}", "{in}"),
        _folder("logs.tlog"),
        2,
        "logs.tlog: this is a folder",
    ),
    Case(
        "import-missing",
        ("import", "--db", "{db}", "{tmp}/none.bin"),
        _nothing,
        2,
        "none.bin: no such file",
    ),
    Case(
        "import-unknown-extension",
        ("import", "--db", "{db}", "{in}"),
        _text_file("notes.txt", "not a log\n"),
        2,
        "notes.txt: not a flight log",
    ),
    Case(
        "import-bad-fov",
        ("import", "--db", "{db}", "--camera-fov", "84", "{in}"),
        _empty("e.tlog"),
        2,
        "--camera-fov takes H,V",
    ),
    # a --db that is not a usable database is the user's to fix: exit 2, as for any input
    Case(
        "import-db-is-garbage",
        ("import", "--db", "{in}", "{tmp}/none.tlog"),
        _random("garbage.db"),
        2,
        "garbage.db: the database file is damaged or is not a SQLite database",
    ),
    Case(
        "list-db-is-garbage",
        ("flights", "list", "--db", "{in}"),
        _random("garbage.db"),
        2,
        "garbage.db: the database file is damaged or is not a SQLite database",
    ),
    Case(
        "import-db-under-proc",
        ("import", "--db", "/proc/dkp-flights.db", "{tmp}/none.tlog"),
        _nothing,
        2,
        "/proc/dkp-flights.db: the database cannot be written",
    ),
    Case(
        "import-db-is-a-folder",
        ("import", "--db", "{in}", "{tmp}/none.tlog"),
        _folder("db"),
        2,
        "db: this is a folder, not a flight database",
    ),
    # record timestamps that do not advance: every one 0 made 74 phantom 0-s "ground runs"
    # dated today; the first half 0 dropped the good second half as garbage (68 phantoms)
    *(
        Case(
            f"import-tlog-stamps-{how}",
            ("import", "--db", "{db}", "{in}"),
            _tlog_stamped(f"{how}.tlog", how),
            2,
            rf"^error: .*{how}\.tlog: the record timestamps stand still: \d+ records from byte 0 "
            rf"on are all stamped {us} µs \(a damaged clock\)",
        )
        for how, us in (("zero", 0), ("half-zero", 0), ("ffff", 2**64 - 1))
    ),
    Case(
        "import-tlog-stamps-backwards",
        ("import", "--db", "{db}", "{in}"),
        _tlog_stamped("backwards.tlog", "backwards"),
        2,
        r"^error: .*backwards\.tlog: the record timestamps run backwards: \d+ of \d+ records are "
        r"stamped earlier than the record before them, the first at byte 25",
    ),
    # another program's SQLite database got the flight tables added (or, with a table named
    # flights, a schema_version table left behind and an internal error)
    *(
        Case(
            f"import-into-{name}",
            ("import", "--db", "{in}", "{tmp}/none.tlog"),
            _other_program_db(sql),
            2,
            r"other\.db: not a flight database: an SQLite database of another program "
            rf"\(tables {tables}\)",
        )
        for name, sql, tables in (
            ("other-db", "CREATE TABLE t (x)", "t"),
            (
                "other-db-with-flights",
                "CREATE TABLE flights (x); INSERT INTO flights VALUES (1)",
                "flights",
            ),
        )
    ),
    # -- record --------------------------------------------------------------------------------
    Case(  # found from outside: the speed-up was dropped without a word on a live link
        "record-live-with-speed",
        ("record", "--db", "{db}", "--connect", "udpin://127.0.0.1:9", "--speed", "5"),
        _nothing,
        2,
        r"^error: --speed is the replay's speed-up: a live link runs in real time$",
    ),
    Case(
        "record-bad-url",
        ("record", "--db", "{db}", "--connect", "bogus://x", "--tlog", "{tmp}/r.tlog"),
        _nothing,
        2,
        "unknown connection scheme",
    ),
    Case(
        "record-bad-port",
        (
            "record",
            "--db",
            "{db}",
            "--connect",
            "udpin://127.0.0.1:99999",
            "--tlog",
            "{tmp}/r.tlog",
        ),
        _nothing,
        2,
        "99999",
    ),
    Case(
        "record-replay-lfs-pointer",
        ("record", "--db", "{db}", "--replay", "{in}", "--tlog", "{tmp}/r.tlog"),
        _text_file("flight.tlog", "\ufeff" + LFS_POINTER),
        2,
        r"flight\.tlog: this is a Git LFS pointer, not the log itself",
    ),
    # NaN and infinity replayed with thousands of samples dropped (exit 0); 1e-300 crashed the
    # replay thread with a traceback (exit 0)
    *[
        Case(
            f"record-replay-speed-{v}",
            ("record", "--db", "{db}", "--replay", "{in}", "--speed", v),
            _text_file("flight.tlog", "x"),
            2,
            r"^error: --speed must be 0 \(as fast as possible\) or from 0\.001 to 1e\+06, "
            rf"got {re.escape(v)}$",
        )
        for v in ("nan", "inf", "-1", "1e-300")
    ],
    # NaN, -1 and 0 recorded until the replay ended (exit 0)
    *[
        Case(
            f"record-duration-{v}",
            ("record", "--db", "{db}", "--replay", "{in}", "--duration", v),
            _text_file("flight.tlog", "x"),
            2,
            r"^error: --duration must be more than 0 and at most 2592000 s \(30 days\), "
            rf"got {re.escape(v)}$",
        )
        for v in ("nan", "inf", "-1", "0")
    ],
    # the replayed log was its own archive: appended to while read (5,000 → 9,978 bytes)
    Case(
        "record-archive-is-the-replayed-log",
        ("record", "--db", "{db}", "--replay", "{in}", "--tlog", "{in}", "--speed", "100"),
        _head_of_tlog(5000),
        2,
        r"in\.tlog: the raw archive \(--tlog\) is the input file .*in\.tlog \(--replay\)",
    ),
    Case(
        "record-archive-is-the-database",
        ("record", "--db", "{db}", "--replay", "{in}", "--tlog", "{db}", "--speed", "100"),
        _head_of_tlog(5000),
        2,
        r"flights\.db: the raw archive \(--tlog\) is the input file .*flights\.db \(--db\)",
    ),
    Case(
        "record-no-source",
        ("record", "--db", "{db}", "--tlog", "{tmp}/r.tlog"),
        _nothing,
        2,
        "exactly one of --connect URL or --replay FILE",
    ),
    Case(
        "record-no-deployment",
        (
            "record",
            "--db",
            "{db}",
            "--connect",
            "udpin://127.0.0.1:0",
            "--deployment",
            "99",
            "--tlog",
            "{tmp}/r.tlog",
        ),
        _nothing,
        2,
        "no deployment with id 99",
    ),
    Case(
        "record-replay-not-a-tlog",
        ("record", "--db", "{db}", "--replay", "{in}", "--tlog", "{tmp}/r.tlog"),
        _random("r.tlog"),
        2,
        "r.tlog: " + NOT_A_LOG,
    ),
    # -- the database's folder and a new database -------------------------------------------
    # a typo in --db's folder made that folder and a new empty database: the records went there
    Case(
        "import-db-folder-missing",
        ("import", "--db", "{tmp}/flihgts/x.db", "{in}"),
        _real_log(TLOG),
        2,
        r"flihgts/x\.db: the folder for the flight database does not exist: .*/flihgts$",
    ),
    Case(
        "record-db-folder-missing",
        (
            "record",
            "--db",
            "{tmp}/flihgts/x.db",
            "--replay",
            "{in}",
            "--speed",
            "1000",
            "--tlog",
            "{tmp}/r.tlog",
        ),
        _real_log(TLOG),
        2,
        r"x\.db: the folder for the flight database does not exist",
    ),
    Case(
        "deployments-create-db-folder-missing",
        tuple("{tmp}/flihgts/x.db" if a == "{db}" else a for a in _CREATE),
        _nothing,
        2,
        r"x\.db: the folder for the flight database does not exist",
    ),
    Case(
        "import-db-folder-is-a-file",
        ("import", "--db", "{in}/x.db", "{tmp}/none.tlog"),
        _text_file("notes.txt", "not a folder\n"),
        2,
        r"notes\.txt/x\.db: the folder for the flight database is a file",
    ),
    # a refused command left the new empty database it had made (and its second line)
    Case(
        "import-new-db-not-a-log",
        ("import", "--db", "{tmp}/new.db", "{in}"),
        _random("r.tlog"),
        2,
        NOT_A_LOG,
    ),
    Case(
        "deployments-create-new-db-bad-time",
        (
            *("{tmp}/new.db" if a == "{db}" else a for a in _CREATE),
            "--requested-at",
            "garbage",
        ),
        _nothing,
        2,
        r"requested_at is not an ISO 8601 time: 'garbage'",
    ),
    Case(
        "import-no-deployment",
        ("import", "--db", "{db}", "--deployment", "99", "{in}"),
        _head_of_bin(200_000),
        2,
        "no deployment with id 99",
    ),
    # -- flights -------------------------------------------------------------------------------
    # (found from outside: an id beyond SQLite's INTEGER was an OverflowError, exit 1)
    Case(
        "flights-show-id-beyond-sqlite",
        ("flights", "show", "--db", "{db}", "99999999999999999999999"),
        _nothing,
        2,
        r"Invalid value for 'FLIGHT_ID': 99999999999999999999999 is not in the range",
    ),
    Case(
        "flights-list-deployment-beyond-sqlite",
        ("flights", "list", "--db", "{db}", "--deployment", "99999999999999999999999"),
        _nothing,
        2,
        r"Invalid value for '--deployment'",
    ),
    Case(
        "deployments-show-id-beyond-sqlite",
        ("deployments", "show", "--db", "{db}", "99999999999999999999999"),
        _nothing,
        2,
        r"Invalid value for 'DEPLOYMENT_ID'",
    ),
    Case(
        "report-export-year-99999",
        ("report", "export", "--db", "{db}", "--out", "{tmp}/od", "--year", "99999"),
        _nothing,
        2,
        r"year out of range: 99999",
    ),
    Case(
        "flights-from-feb-30",
        ("flights", "list", "--db", "{db}", "--from", "2015-02-30"),
        _nothing,
        2,
        r"--from: not a date \(YYYY-MM-DD\): '2015-02-30'",
    ),
    Case(
        "flights-from-garbage",
        ("flights", "list", "--db", "{db}", "--from", "garbage"),
        _nothing,
        2,
        r"--from: not a date",
    ),
    Case(
        "flights-to-month-13",
        ("flights", "list", "--db", "{db}", "--to", "2015-13-01"),
        _nothing,
        2,
        r"--to: not a date",
    ),
    Case(
        "flights-from-after-to",
        ("flights", "list", "--db", "{db}", "--from", "2016-01-02", "--to", "2016-01-01"),
        _nothing,
        2,
        r"--from 2016-01-02 is after --to 2016-01-01",
    ),
    # text in a number column (an edit by another program) was an internal error: "Unknown
    # format code 'f' for object of type 'str'"
    *(
        Case(
            f"flights-{'-'.join(cmd)}-damaged-row",
            ("flights", *cmd, "--db", "{in}"),
            _damaged_flight_row,
            2,
            r"^error: .*damaged\.db: flight #1: the column duration_s holds 'x', not a number",
        )
        for cmd in (("list",), ("show", "1"))
    ),
    Case(  # SQLite's SUM had counted the text as 0 h in the yearly indicator (exit 0)
        "report-indicator-damaged-row",
        ("report", "indicator", "--db", "{in}", "--year", "2023"),
        lambda tmp: _damaged_flight_row(tmp, "airborne_s"),
        2,
        r"^error: .*damaged\.db: flight #1: the column airborne_s holds 'x', not a number",
    ),
    # a read command added 16 flight tables to another program's database (exit 0)
    *(
        Case(
            f"flights-list-{name}",
            ("flights", "list", "--db", "{in}"),
            _other_program_db(sql),
            2,
            r"other\.db: not a flight database: an SQLite database of another program",
        )
        for name, sql in (
            ("other-db", "CREATE TABLE t (x)"),
            ("other-db-with-flights", "CREATE TABLE flights (x)"),
            # a schema_version of its own: its version 3 was "updated" with our migrations
            (
                "other-db-with-schema-version",
                "CREATE TABLE schema_version (version INTEGER); "
                "INSERT INTO schema_version VALUES (3); CREATE TABLE users (name TEXT)",
            ),
        )
    ),
    Case(
        "flights-show-missing",
        ("flights", "show", "999", "--db", "{db}"),
        _nothing,
        2,
        "no flight with id 999",
    ),
    # a filter naming nothing that exists had listed nothing, exit 0; one option dropped
    Case(
        "flights-list-unknown-vehicle",
        ("flights", "list", "--db", "{db}", "--vehicle", "M30T-9"),
        _nothing,
        2,
        r"--vehicle: no vehicle 'M30T-9' in the flight database; it has: ",
    ),
    Case(
        "flights-list-unknown-deployment",
        ("flights", "list", "--db", "{db}", "--deployment", "77"),
        _nothing,
        2,
        "no deployment with id 77",
    ),
    Case(
        "deployments-list-unknown-status",
        ("deployments", "list", "--db", "{db}", "--status", "done"),
        _nothing,
        2,
        "unknown status 'done'; use one of requested, accepted, in_progress, completed",
    ),
    Case(
        "deployments-list-year-out-of-range",
        ("deployments", "list", "--db", "{db}", "--year", "20230"),
        _nothing,
        2,
        "year out of range: 20230",
    ),
    Case(
        "flights-show-json-and-geojson",
        ("flights", "show", "1", "--db", "{db}", "--json", "--geojson"),
        _nothing,
        2,
        "--geojson prints JSON already: leave out --json",
    ),
    Case(
        "flights-list-no-database",
        ("flights", "list", "--db", "{tmp}/nope.db"),
        _nothing,
        2,
        "nope.db: no flight database here",
    ),
    # commands that change stored records made an empty database first, then found nothing
    Case(
        "flights-pilot-no-database",
        ("flights", "pilot", "Jana", "1", "--db", "{tmp}/nope.db"),
        _nothing,
        2,
        "nope.db: no flight database here",
    ),
    Case(
        "deployments-update-no-database",
        ("deployments", "update", "1", "--status", "completed", "--db", "{tmp}/nope.db"),
        _nothing,
        2,
        "nope.db: no flight database here",
    ),
    Case(
        "deployments-link-no-database",
        ("deployments", "link-flight", "1", "1", "--db", "{tmp}/nope.db"),
        _nothing,
        2,
        "nope.db: no flight database here",
    ),
    Case(
        "flights-pilot-missing-flight",
        ("flights", "pilot", "Jana", "999", "--db", "{db}"),
        _nothing,
        2,
        "no flight with id 999",
    ),
    # -- deployments ---------------------------------------------------------------------------
    Case(
        "deployments-complete-twice",
        ("deployments", "update", "1", "--db", "{db}", "--status", "completed"),
        _nothing,
        2,
        "already completed",
    ),
    Case(
        "deployments-skip-a-status",
        ("deployments", "update", "2", "--db", "{db}", "--status", "completed"),
        _nothing,
        2,
        "cannot go from requested to completed",
    ),
    Case(
        "deployments-unknown-status",
        ("deployments", "update", "2", "--db", "{db}", "--status", "done"),
        _nothing,
        2,
        "unknown status 'done'",
    ),
    Case(
        "deployments-unknown-org",
        (
            "deployments",
            "create",
            "--db",
            "{db}",
            "--org",
            "NASA",
            "--category",
            "sar",
            "--location",
            "Bory",
        ),
        _nothing,
        2,
        "unknown organisation 'NASA'",
    ),
    Case(
        "deployments-bad-time",
        (
            "deployments",
            "create",
            "--db",
            "{db}",
            "--org",
            "HZS",
            "--category",
            "sar",
            "--location",
            "Bory",
            "--requested-at",
            "2015-02-30T10:00",
        ),
        _nothing,
        2,
        "not an ISO 8601 time",
    ),
    # far dates were stored: year 1 as "1-01-01T00:00:00Z", which broke the yearly report
    # (internal error), year 9999 in no report; a zone offset at the ends was an OverflowError
    *(
        Case(
            f"deployments-create-{name}",
            (*_CREATE, "--requested-at", when),
            _nothing,
            2,
            rf"^error: requested_at '{re.escape(when)}' is out of range: a time in the years "
            r"2000 to 2100 is needed$",
        )
        for name, when in (
            ("year-9999", "9999-12-31T23:00:00"),
            ("year-0001", "0001-01-01"),
            ("overflow-to-utc-late", "9999-12-31T23:59:59-05:00"),
            ("overflow-to-utc-early", "0001-01-01T00:00:00+05:00"),
            ("before-2000", "1999-12-31T23:59:59Z"),
        )
    ),
    # found from outside: a 2015 log linked to a deployment requested in 2026 moved the
    # deployment into 2015's indicator (its quarter is its first take-off's); a request dated
    # in 2030 counted in 2030's
    Case(
        "deployments-create-in-the-future",
        (*_CREATE, "--requested-at", "2099-01-01T00:00:00Z"),
        _nothing,
        2,
        r"^error: requested_at 2099-01-01T00:00:00Z is [\d.]+ years in the future \(now is "
        r"20\d\d-.*\): a deployment records what has happened; a time without a zone is UTC",
    ),
    Case(
        "deployments-link-flight-years-before-the-request",
        ("deployments", "link-flight", "2", "1", "--db", "{db}"),
        _nothing,
        2,
        r"^error: flight #1 took off at 2023-07-06T09:\d\d:[\d.]+Z, [\d.]+ years before "
        r"deployment #2 was requested \(20\d\d-.*Z\): not a flight for it \(a wrong id\?\)",
    ),
    Case(
        "import-a-log-years-before-the-deployment",
        ("import", "--db", "{db}", "--deployment", "2", "{in}"),
        _real_log(TLOG),
        2,
        r"^error: a flight of tlog_dronekit_flight\.tlog took off at 2015-07-05T00:34:[\d.]+Z, "
        r"[\d.]+ years before deployment #2 was requested",
    ),
    Case(
        "deployments-update-at-before-the-request",
        (
            "deployments",
            "update",
            "2",
            "--db",
            "{db}",
            "--status",
            "accepted",
            "--at",
            "2024-01-01",
        ),
        _nothing,
        2,
        r"^error: at 2024-01-01T00:00:00Z is before deployment #2 was requested \(20\d\d-.*Z\): "
        r"correct the request time with --requested-at$",
    ),
    Case(
        "deployments-update-request-after-its-flight",
        ("deployments", "update", "1", "--db", "{db}", "--requested-at", "2023-07-08"),
        _nothing,
        2,
        r"^error: its first flight took off at 2023-07-06T09:\d\d:[\d.]+Z, 38\.\d h before "
        r"deployment #1 was requested \(2023-07-08T00:00:00Z\)",
    ),
    Case(
        "deployments-update-at-year-0001",
        (
            "deployments",
            "update",
            "2",
            "--db",
            "{db}",
            "--status",
            "accepted",
            "--at",
            "0001-01-01",
        ),
        _nothing,
        2,
        r"^error: at '0001-01-01' is out of range: a time in the years 2000 to 2100",
    ),
    # a place name of 120,000 characters (about the most one argument may hold) was stored
    Case(
        "deployments-create-long-location",
        (*_CREATE[:-1], "x" * 120_000),
        _nothing,
        2,
        r"^error: location is too long: 120,000 characters, at most 200 are allowed$",
    ),
    Case(
        "deployments-update-long-location",
        ("deployments", "update", "2", "--db", "{db}", "--location", "Bory " * 24_000),
        _nothing,
        2,
        r"^error: location is too long: 119,999 characters, at most 200 are allowed$",
    ),
    Case(
        "deployments-update-blank-location",
        ("deployments", "update", "2", "--db", "{db}", "--location", "  "),
        _nothing,
        2,
        r"^error: a deployment needs a location$",
    ),
    *(
        Case(
            f"deployments-update-long-{opt}",
            ("deployments", "update", "2", "--db", "{db}", f"--{opt}", "x" * 100_000),
            _nothing,
            2,
            rf"^error: {opt} is too long: 100,000 characters, at most 2,000 are allowed$",
        )
        for opt in ("notes", "outcome")
    ),
    Case(
        "deployments-show-missing",
        ("deployments", "show", "99", "--db", "{db}"),
        _nothing,
        2,
        "no deployment with id 99",
    ),
    Case(
        "deployments-link-missing-flight",
        ("deployments", "link-flight", "2", "999", "--db", "{db}"),
        _nothing,
        2,
        "no flight with id 999",
    ),
    # -- report --------------------------------------------------------------------------------
    Case(
        "report-year-out-of-range",
        ("report", "indicator", "--db", "{db}", "--year", "1800"),
        _nothing,
        2,
        "year out of range",
    ),
    Case(
        "report-out-is-a-file",
        ("report", "indicator", "--db", "{db}", "--year", "2023", "--out", "{in}"),
        _text_file("taken", "x"),
        2,
        "cannot write .*taken: it exists and is not a directory",
    ),
    Case(
        "report-html-is-a-folder",
        ("report", "indicator", "--db", "{db}", "--year", "2023", "--out", "{in}"),
        _report_dir_with_folder_in_place,
        2,
        "cannot write .*indicator_2023.html: it is a directory",
    ),
    Case(
        "export-out-is-a-file",
        ("report", "export", "--db", "{db}", "--out", "{in}"),
        _text_file("taken", "x"),
        2,
        "cannot write .*taken: it exists and is not a directory",
    ),
    Case(
        "export-out-named-like-a-file",
        ("report", "export", "--db", "{db}", "--out", "{in}"),
        lambda tmp: tmp / "flights.csv",
        2,
        r"cannot write .*flights\.csv: a folder is asked for here, and the name ends in \.csv",
    ),
    Case(
        "report-out-named-like-a-file",
        ("report", "indicator", "--db", "{db}", "--year", "2023", "--out", "{in}"),
        lambda tmp: tmp / "gov16.html",
        2,
        r"cannot write .*gov16\.html: a folder is asked for here",
    ),
    Case(
        "export-csv-is-a-folder",
        ("report", "export", "--db", "{db}", "--out", "{in}"),
        _export_dir_with_folder_in_place,
        2,
        "cannot write .*deployments.csv: it is a directory",
    ),
    Case(
        "export-under-dev-full",
        ("report", "export", "--db", "{db}", "--out", "/dev/full/od"),
        _nothing,
        2,
        "cannot write /dev/full/od",
    ),
    Case(
        "report-export-other-db",
        ("report", "export", "--db", "{in}", "--out", "{tmp}/od"),
        _other_program_db("CREATE TABLE t (x)"),
        2,
        r"other\.db: not a flight database",
    ),
    # -- status (the live fleet; nothing listens: the option is refused first) -----------------
    # 1e308 and infinity were an internal error (OverflowError); NaN, -1 and 0 listened 0.1 s
    *(
        Case(
            f"status-{opt[2:]}-{v}{'-json' if json_ else ''}",
            (
                "status",
                "--connect",
                "udpin://127.0.0.1:14998",
                "--json" if json_ else "--once",
                opt,
                v,
            ),
            _nothing,
            2,
            rf"^error: {opt} must be more than 0 and at most 3600 s, got {re.escape(v)}$",
        )
        for opt, v, json_ in (
            ("--wait", "1e+308", False),
            ("--wait", "inf", True),
            ("--wait", "nan", False),
            ("--wait", "-1", False),
            ("--wait", "0", False),
            ("--interval", "nan", False),
        )
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input_table(case: Case, base_db: Path, tmp_path: Path) -> None:
    db = tmp_path / "flights.db"
    shutil.copy(base_db, db)
    made = case.make(tmp_path)
    given = made.read_bytes() if made is not None and made.is_file() else None
    before = db_state(db)
    listing = sorted(p.name for p in tmp_path.rglob("*"))
    fill = {"db": str(db), "in": str(made), "tmp": str(tmp_path)}
    p = run(*(a.format(**fill) for a in case.args))
    assert p.returncode == case.code, (p.stdout, p.stderr)
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1, p.stderr
    assert re.search(case.pattern, lines[0]), lines[0]
    assert "Traceback" not in p.stdout + p.stderr
    assert db_state(db) == before
    if given is not None:  # the input (a log, another program's database) is left as it was
        assert made is not None and made.read_bytes() == given
    # nothing written beside: no partial output, no empty archive, no second database
    after = sorted(p.name for p in tmp_path.rglob("*") if not p.name.startswith("flights.db"))
    assert after == [n for n in listing if not n.startswith("flights.db")]
    if case.id.startswith("record"):
        assert "recording into" not in p.stderr


def test_yearly_report_survives_a_far_date_stored_before(base_db: Path, tmp_path: Path) -> None:
    """Rows stored before times were checked: year 1 (written "1-01-01T00:00:00Z") was an
    internal error in every yearly report; now that deployment is left out with one warning
    and the rest of the year is reported, year 9999 simply falls in no report."""
    db = tmp_path / "flights.db"
    shutil.copy(base_db, db)
    with sqlite3.connect(db) as con:
        for when in ("1-01-01T00:00:00Z", "9999-12-31T23:00:00Z"):
            con.execute(
                "INSERT INTO deployments (organisation, category, location, requested_at, "
                "status, created_at, updated_at) VALUES ('HZS', 'fire', 'X', ?, 'completed', "
                "?, ?)",
                (when, when, when),
            )
    p = run("report", "indicator", "--db", str(db), "--year", "2023", "--json")
    assert p.returncode == 0, p.stderr
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1, p.stderr
    assert re.search(
        r"^WARNING .*deployment #3: its time '1-01-01T00:00:00Z' is not a date; left out of "
        r"the report$",
        lines[0],
    ), lines[0]
    report = json.loads(p.stdout)
    assert report["total"] == 1  # the Wales deployment of 2023 is counted as before


def test_table_covers_every_command_group() -> None:
    groups = {c.args[0] for c in CASES}
    assert groups == {"import", "record", "flights", "deployments", "report", "status"}


# -- valid but short logs: imported, not refused ---------------------------------------------
def _tiny_tlog(name: str, t0_us: int, position: bool) -> Callable[[Path], Path]:
    """A heartbeat (armed) and a second heartbeat or a position, 0.1 s apart: 50–70 bytes."""

    def make(tmp: Path) -> Path:
        from pymavlink.dialects.v10 import ardupilotmega as m

        mav = m.MAVLink(None, srcSystem=1, srcComponent=1)
        hb = m.MAVLink_heartbeat_message(2, 3, 0x81, 0, 4, 3).pack(mav)
        second = (
            m.MAVLink_global_position_int_message(
                1000, 497475000, 133776000, 350000, 0, 0, 0, 0, 0
            ).pack(mav)
            if position
            else hb
        )
        p = tmp / name
        p.write_bytes(struct.pack(">Q", t0_us) + hb + struct.pack(">Q", t0_us + 100_000) + second)
        return p

    return make


@dataclass(frozen=True)
class Short:
    id: str
    make: Callable[[Path], Path]
    flights: int
    pattern: str  #: in the report on stdout


SHORT = [
    # relative timestamps (µs since the recording started), not Unix time: were "not a MAVLink
    # telemetry log"
    Short(
        "tlog-relative-time-position",
        _tiny_tlog("rel.tlog", 0, True),
        1,
        r"rel\.tlog: imported \(tlog\): 1 flights, 2 messages.*\n.*timestamps are not Unix time",
    ),
    Short(
        "tlog-relative-time-heartbeats",
        _tiny_tlog("hb.tlog", 5_000, False),
        0,
        r"hb\.tlog: imported \(tlog\): 0 flights(.*\n)*.*no position or height in the log",
    ),
    Short(
        "tlog-unix-time-heartbeats",
        _tiny_tlog("unix.tlog", 1_700_000_000_000_000, False),
        0,
        r"unix\.tlog: imported \(tlog\): 0 flights.*\n.*no position or height in the log",
    ),
]


@pytest.mark.parametrize("case", SHORT, ids=[c.id for c in SHORT])
def test_short_valid_logs_are_imported(case: Short, tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    log = case.make(tmp_path)
    assert log.stat().st_size < 80
    p = run("import", "--db", str(db), str(log))
    assert p.returncode == 0, p.stderr
    assert re.search(case.pattern, p.stdout), p.stdout
    with open_store(db) as store:
        assert store.count("flights") == case.flights


# -- logs with an impossible time: imported without it, with a warning ----------------------
ULOG = "ulg_pyulog_sample_log_small.ulg"
#: the file date the damaged logs below are given: their times fall back to it
FILE_DATE = "2024-05-01"


def _dated(p: Path) -> Path:
    """``p`` with its modification time at noon UTC on :data:`FILE_DATE` (returned)."""
    t = time.mktime(time.strptime(FILE_DATE + " 12", "%Y-%m-%d %H")) - time.timezone
    os.utime(p, (t, t))
    return p


def _flipped_ulog(tmp: Path) -> Path:
    """The sample ULog with two bytes changed: the GPS topic's subscription is damaged and one
    ``actuator_controls_0`` record stamped 288,230,376 s after boot (a flipped high byte)."""
    data = bytearray((REPO.parent / "shared" / "data" / "logs" / ULOG).read_bytes())
    data[20633], data[82848] = 48, 4
    p = tmp / "flipped.ulg"
    p.write_bytes(bytes(data))
    return _dated(p)


def _bin_records(data: bytes) -> dict[str, list[tuple[int, Any]]]:
    """The records of a whole (undamaged) DataFlash log by name: (offset, format)."""
    from telemetry.dataflash import read_binary

    by_type = {f.type: f for f in read_binary(data).formats.values()}
    out: dict[str, list[tuple[int, Any]]] = {}
    p = 0
    while p + 3 <= len(data) and data[p : p + 2] == b"\xa3\x95":
        f = by_type.get(data[p + 2])
        length = 89 if data[p + 2] == 128 else f.length if f is not None else 0
        assert length, p
        if f is not None:
            out.setdefault(f.name, []).append((p, f))
        p += length
    return out


def _bin_field(name: str, column: str, value: int, every: int = 1) -> Callable[[Path], Path]:
    """The sample ``.bin`` with ``column`` of every ``every``-th ``name`` record set to
    ``value`` (for ``TimeUS``: only its high byte, a flipped bit's kind of damage)."""

    def make(tmp: Path) -> Path:
        data = bytearray((REPO.parent / "shared" / "data" / "logs" / BIN).read_bytes())
        recs = _bin_records(bytes(data))[name]
        for p, f in recs[::every]:
            i = f.columns.index(column)
            codes = "".join(FORMAT_CHARS[c][0] for c in f.format[:i])
            at = p + 3 + struct.calcsize("<" + codes)
            code = FORMAT_CHARS[f.format[i]][0]
            if column == "TimeUS":
                data[at + 7] = value
            else:
                struct.pack_into("<" + code, data, at, value)
        out = tmp / f"{name}-{column}.bin"
        out.write_bytes(bytes(data))
        return _dated(out)

    return make


@dataclass(frozen=True)
class Dated:
    id: str
    make: Callable[[Path], Path]
    flights: int
    day: str  #: the day every flight starts on
    pattern: str  #: the warning, in the report on stdout


DATED = [
    # was an internal error: "year -7107 is out of range" (the file date less 288,230,376 s)
    Dated(
        "ulog-flipped-high-byte-elsewhere",
        _flipped_ulog,
        1,
        FILE_DATE,
        r"no GPS time in the log; times are based on the file date",
    ),
    # every GPS week 65535: dated 3236-01-10 without a word
    Dated(
        "bin-gps-week-65535",
        _bin_field("GPS", "GWk", 65535),
        1,
        FILE_DATE,
        r"490 GPS records with an impossible time \(e\.g\. week 65535, \d+ ms\) not used",
    ),
    # every GPS time of week 0xFFFFFFFF ms (49 days): dated 2023-08-20, not 2023-07-06
    Dated(
        "bin-gps-time-of-week-max",
        _bin_field("GPS", "GMS", 0xFFFFFFFF),
        1,
        FILE_DATE,
        r"490 GPS records with an impossible time \(e\.g\. week 2269, 4294967295 ms\)",
    ),
    # a flipped high byte in the boot time of 2 POS records: the flight was split in two there
    Dated(
        "bin-pos-boot-time-high-byte",
        _bin_field("POS", "TimeUS", 0x40, every=490),
        1,
        "2023-07-06",
        r"2 samples and events of \S+ left out: their time is impossible "
        r"\(e\.g\. the year \d+; a damaged timestamp\)",
    ),
]


@pytest.mark.parametrize("case", DATED, ids=[c.id for c in DATED])
def test_impossible_times_are_not_used(case: Dated, tmp_path: Path) -> None:
    db = tmp_path / "d.db"
    p = run("import", "--db", str(db), str(case.make(tmp_path)))
    assert p.returncode == 0, p.stderr
    assert "Traceback" not in p.stdout + p.stderr
    assert re.search(case.pattern, p.stdout), p.stdout
    flights = json.loads(run("flights", "list", "--db", str(db), "--json").stdout)
    assert len(flights) == case.flights
    assert {f["start_time_utc"][:10] for f in flights} == {case.day}, flights


def _long_record_ulg(tmp: Path) -> Path:
    """The sample ULog damaged as ``make fuzz`` found it: a record 18,767 bytes long."""
    data = bytearray((REPO.parent / "shared" / "data" / "logs" / ULOG).read_bytes())
    for at, junk in (
        (220, b"*\nQh\xe7\xa51\xed\x1a\xd5\xef;\x00\xd2FI4\xbc"),
        (405, b"Mission: invalid sequence"),
        (5536, b"\x0e^\xbb"),
        (29155, b"\xeb\xca\t6\xe0\x9f\xf7"),
        (34782, b"E"),
    ):
        data[at : at + len(junk)] = junk
    p = tmp / "long-record.ulg"
    p.write_bytes(bytes(data[:54846]))
    return p


def test_a_ulog_record_longer_than_pyulog_reads_is_left_out(tmp_path: Path) -> None:
    """``make fuzz``: pyulog takes a record longer than 10,000 bytes for damage and resyncs
    byte by byte inside it; there a size field ran past the end of the file and sent it back
    before where it began, and ``import`` never ended. The record is now left out with a
    line in the report, and the import ends at once."""
    db = tmp_path / "d.db"
    p = run("import", "--db", str(db), str(_long_record_ulg(tmp_path)))  # 120 s at most
    assert p.returncode == 0, p.stderr
    assert "Traceback" not in p.stdout + p.stderr
    assert re.search(
        r"offset 29178: ULog record of 18,767 bytes \(type 'S'\) left out: longer than the "
        r"ULog parser reads \(10,000 bytes\)",
        p.stdout,
    ), p.stdout


# -- outputs that cannot be written ----------------------------------------------------------
@contextmanager
def read_only(*paths: Path) -> Iterator[None]:
    """Make files and folders read-only for real: ``chmod`` (and, for root, whom permissions do
    not stop, the immutable attribute as well)."""
    modes = {p: p.stat().st_mode for p in paths}
    for p in paths:
        p.chmod(0o555 if p.is_dir() else 0o444)
    root = os.geteuid() == 0
    if root:
        subprocess.run(["chattr", "+i", *map(str, paths)], check=True)
    try:
        yield
    finally:
        if root:
            subprocess.run(["chattr", "-i", *map(str, paths)], check=True)
        for p, m in modes.items():
            p.chmod(m)


def test_export_into_a_read_only_folder(base_db: Path, tmp_path: Path) -> None:
    out = tmp_path / "od"
    out.mkdir()
    with read_only(out):
        p = run("report", "export", "--db", str(base_db), "--out", str(out))
    assert p.returncode == 2, p.stderr
    assert re.fullmatch(r"error: cannot write .*od.*: (permission denied|read-only.*)\n", p.stderr)
    assert list(out.iterdir()) == []


def _limit_file_size() -> None:
    # a disk that fills up after 4 KiB: writes beyond it fail with EFBIG (Python ignores SIGXFSZ)
    resource.setrlimit(resource.RLIMIT_FSIZE, (4096, 4096))


def test_export_when_the_disk_fills_up_leaves_no_partial_file(
    base_db: Path, tmp_path: Path
) -> None:
    folder = tmp_path / "ro"  # the database is only read (in a read-only folder: no -shm file)
    folder.mkdir()
    db = folder / "flights.db"
    shutil.copy(base_db, db)
    out = tmp_path / "od"
    with read_only(db, folder):
        p = run("report", "export", "--db", str(db), "--out", str(out), preexec_fn=_limit_file_size)
    assert p.returncode == 1, p.stderr
    assert re.fullmatch(r"error: cannot write .*od/\S+: the file is too large.*\n", p.stderr)
    # the files written before the disk filled are whole; the one that failed is not there
    for f in out.iterdir():
        assert not f.name.endswith(".part"), f
        if f.suffix == ".csv":
            assert f.read_text().endswith("\n")
    p = run("report", "export", "--db", str(base_db), "--out", str(out))
    assert p.returncode == 0, p.stderr  # with space again


def _limit_file_size_40k() -> None:
    # room for the first chart (about 30 kB), not for all of the report
    resource.setrlimit(resource.RLIMIT_FSIZE, (40_000, 40_000))


def test_indicator_report_when_the_disk_fills_up_leaves_nothing(
    base_db: Path, tmp_path: Path
) -> None:
    """Found from outside: a full disk at the second chart left the first one's PNG and SVG
    beside no report. The charts and the report are put in place together or not at all."""
    folder = tmp_path / "ro"
    folder.mkdir()
    db = folder / "flights.db"
    shutil.copy(base_db, db)
    out = tmp_path / "ind"
    with read_only(db, folder):
        args = ("report", "indicator", "--db", str(db), "--year", "2026", "--out", str(out))
        p = run(*args, preexec_fn=_limit_file_size_40k)
        assert p.returncode == 1, p.stderr
        assert re.fullmatch(r"error: cannot write .*ind/\S+: the file is too large.*\n", p.stderr)
        assert not [f for f in out.rglob("*") if f.is_file()], list(out.rglob("*"))
        p = run(*args)
    assert p.returncode == 0, p.stderr  # with space again
    assert sorted(f.name for f in out.rglob("*.png")) == [
        "indicator_categories.png",
        "indicator_quarters.png",
    ]


# -- duplicates by content -----------------------------------------------------------------
def test_truncated_copy_adds_no_flights(shared_data: Path, tmp_path: Path) -> None:
    db = tmp_path / "d.db"
    src = shared_data / "logs" / TLOG
    p = run("import", "--db", str(db), str(src))
    assert p.returncode == 0, p.stderr
    with open_store(db) as store:
        counts = (store.count("flights"), store.count("samples"), store.count("events"))
    assert counts[0] == 7
    cut = tmp_path / "cut.tlog"
    cut.write_bytes(src.read_bytes()[: int(src.stat().st_size * 0.8)])
    before = db_state(db)
    p = run("import", "--db", str(db), str(cut))
    assert p.returncode == 0, p.stderr
    assert "already imported" in p.stdout
    assert re.search(r"already imported \(tlog\): 5 flights", p.stdout)
    assert re.search(r"skipped 5 flights already in the database \(from .*flight\.tlog\)", p.stdout)
    assert db_state(db) == before  # nothing of the copy is kept
    # under another vehicle name the same data is still the same vehicle's (by its identity)
    with open_store(db) as store:
        r = import_file(store, cut, vehicle="renamed")
        assert r.duplicate and r.skipped_flights == 5 and store.count("flights") == 7


def test_truncated_dataflash_copy_is_recognised(shared_data: Path, tmp_path: Path) -> None:
    db = tmp_path / "d.db"
    src = shared_data / "logs" / BIN
    cut = tmp_path / "cut.bin"
    cut.write_bytes(src.read_bytes()[: int(src.stat().st_size * 0.7)])
    assert run("import", "--db", str(db), str(src)).returncode == 0
    before = db_state(db)
    p = run("import", "--db", str(db), str(cut), "--json")
    assert p.returncode == 0, p.stderr
    (res,) = json.loads(p.stdout)
    # the cut log never records the disarm, but its AUTO_ARMED event shows it began armed: its
    # one flight, and every sample and event of it, are in the database already
    assert res["duplicate"] and res["skipped_flights"] == 1
    assert res["skipped_from"] == [str(src)]
    assert db_state(db) == before


def _text_log(lat0: float) -> bytes:
    """A small ArduPilot 4.x text log: 60 s at 1 Hz, armed from 5 s to 55 s, up to 10 m."""
    lines = [
        "FMT, 128, 89, FMT, BBnNZ, Type,Length,Name,Format,Columns",
        "FMT, 130, 0, GPS, QBIHBcLLeffffB, TimeUS,Status,GMS,GWk,NSats,HDop,Lat,Lng,Alt,Spd,GCrs,"
        "VZ,Yaw,U",
        "FMT, 131, 0, POS, QLLfff, TimeUS,Lat,Lng,Alt,RelHomeAlt,RelOriginAlt",
        "FMT, 132, 0, EV, QB, TimeUS,Id",
    ]
    for k in range(60):
        us, h, lat = (100 + k) * 1_000_000, min(10.0, max(0.0, k - 10.0, 0.0)), lat0 + 1e-5 * k
        lines.append(
            f"GPS, {us}, 3, {300_000_000 + k * 1000}, 2269, 10, 0.8, {lat:.7f}, "
            f"13.3776, {300 + h}, 1.1, 0, 0, 0, 1"
        )
        lines.append(f"POS, {us}, {lat:.7f}, 13.3776, {300 + h}, {h}, {h}")
        if k in (5, 55):
            lines.append(f"EV, {us}, {10 if k == 5 else 11}")
    return ("\n".join(lines) + "\n").encode()


def test_other_vehicle_with_the_same_system_id_is_not_a_duplicate(tmp_path: Path) -> None:
    """Two logs of ``sysid-1`` at the same time but elsewhere: both kept (fingerprints differ);
    the same log again under another name is found."""
    a, b = tmp_path / "a.log", tmp_path / "b.log"
    a.write_bytes(_text_log(49.7475))
    b.write_bytes(_text_log(49.6475))  # the same times, 11 km further south
    with open_store(tmp_path / "s.db") as store:
        ra, rb = import_file(store, a), import_file(store, b)
        assert not rb.duplicate and rb.skipped_flights == 0
        assert len(ra.flight_ids) == len(rb.flight_ids) == 1
        c = tmp_path / "c.log"
        c.write_bytes(_text_log(49.7475) + b"\n")  # another file hash, the same content
        rc = import_file(store, c)
        assert rc.duplicate and rc.skipped_flights == 1 and store.count("flights") == 2


# -- two imports at once ---------------------------------------------------------------------
def test_two_imports_of_the_same_file_at_once(shared_data: Path, tmp_path: Path) -> None:
    db = tmp_path / "c.db"
    src = shared_data / "logs" / TLOG
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "dronekit_plzen", "import", "--db", str(db), str(src)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=REPO,
        )
        for _ in range(2)
    ]
    outs = [p.communicate(timeout=300) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outs
    states = sorted("already imported" in o for o, _e in outs)
    assert states == [False, True], outs  # one imported it, the other waited and found it
    with open_store(db) as store:
        assert store.count("flights") == 7 and store.count("sources") == 1


# -- a read-only database -------------------------------------------------------------------
def test_read_commands_on_a_read_only_database(base_db: Path, tmp_path: Path) -> None:
    folder = tmp_path / "ro"
    folder.mkdir()
    db = folder / "flights.db"
    shutil.copy(base_db, db)
    out = tmp_path / "out"
    with read_only(db, folder):
        for args in (
            ("flights", "list", "--json"),
            ("flights", "show", "1", "--json"),
            ("deployments", "list", "--json"),
            ("deployments", "show", "1", "--json"),
            ("report", "indicator", "--year", "2023", "--json", "--out", str(out / "ind")),
            ("report", "export", "--out", str(out / "od"), "--json"),
        ):
            p = run(*args, "--db", str(db))
            assert p.returncode == 0, (args, p.stderr)
            assert json.loads(p.stdout)
        p = run("flights", "list", "--db", str(db))
        assert "2023-07-06" in p.stdout
        # a write command says why it cannot write
        p = run("flights", "pilot", "Jana", "1", "--db", str(db))
        assert p.returncode == 2, p.stderr
        assert p.stderr.endswith("the database cannot be written (read-only file or folder)\n")
        assert sorted(x.name for x in folder.iterdir()) == ["flights.db"]
    assert (out / "od" / "flights.csv").read_text().count("\n") == 2


def test_outdated_read_only_database_says_how_to_update(base_db: Path, tmp_path: Path) -> None:
    folder = tmp_path / "old"
    folder.mkdir()
    db = folder / "flights.db"
    shutil.copy(base_db, db)
    conn = sqlite3.connect(db)  # back to schema 1: later migrations added indexes and tables
    conn.execute("DELETE FROM schema_version WHERE version >= 2")
    names = conn.execute("SELECT name FROM sqlite_master WHERE name LIKE 'idx_%'").fetchall()
    for (name,) in names:
        conn.execute(f"DROP INDEX {name}")
    for table in ("audit_log", "mission_requests", "web_users", "deployment_sightings"):
        conn.execute(f"DROP TABLE IF EXISTS {table}")
    conn.commit()
    conn.close()
    with read_only(db, folder):
        p = run("flights", "list", "--db", str(db))
    assert p.returncode == 1
    assert re.fullmatch(
        r"error: .*flights\.db: the database needs an update to schema version \d+ \(it has 1\) "
        r"but the update failed \(the database cannot be written .*\); run any command .*\n",
        p.stderr,
    )
    p = run("flights", "list", "--db", str(db))  # writable again: updated once, then read
    assert p.returncode == 0 and "2023-07-06" in p.stdout


# -- the recorder killed mid-flight ----------------------------------------------------------
def test_record_killed_mid_flight_against_the_simulator(
    tmp_path: Path, sim_fleet: Callable[..., Any]
) -> None:
    """``record`` listening to a simulated PX4 drone's GCS stream, killed with SIGKILL while
    the drone flies: ``flights list`` marks the flight incomplete with the duration and
    distance of its stored samples, and importing the kept ``.tlog`` (moved elsewhere) adds
    nothing."""
    from dronekit_plzen import geo
    from dronekit_plzen.link import connect

    db, tlog = tmp_path / "k.db", tmp_path / "k.tlog"
    fleet = sim_fleet(1, "px4")
    proc = None
    try:
        gcs = fleet.ports(0)["gcs_remote"]
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "dronekit_plzen",
                "record",
                "--connect",
                f"udpin://127.0.0.1:{gcs}",
                "--db",
                str(db),
                "--tlog",
                str(tlog),
            ],
            stderr=subprocess.PIPE,
            text=True,
            cwd=REPO,
        )
        assert proc.stderr is not None
        for line in proc.stderr:
            if "listening on" in line:
                break
        threading.Thread(target=proc.stderr.read, daemon=True).start()
        with connect(f"udpin://127.0.0.1:{fleet.ports(0)['api_remote']}") as link:
            v = link.wait_vehicle(timeout_s=15)
            st = v.wait_for(
                lambda s: s.home is not None and s.gps_fix_type >= 3, 30, "GPS fix and home"
            )
            v.arm()
            v.takeoff(15.0)
            v.wait_for(lambda s: s.relative_alt_m > 13.5, 60, "climb")
            lon, lat = geo.destination(st.home[1], st.home[0], 90.0, 200.0)
            v.goto(float(lat), float(lon), 15.0)
            v.wait_for(
                lambda s: (
                    geo.geodesic_distance_m(s.lon_deg, s.lat_deg, st.home[1], st.home[0]) > 60
                ),
                60,
                "on the way",
            )
            time.sleep(1.0)  # the recorder commits every 0.25 s
            proc.send_signal(signal.SIGKILL)
            proc.wait(10)
    finally:
        if proc is not None and proc.poll() is None:
            proc.kill()
    p = run("flights", "list", "--db", str(db))
    assert p.returncode == 0, p.stderr
    (line,) = p.stdout.splitlines()
    assert "incomplete" in line and " 0.0 s" not in line
    (f,) = json.loads(run("flights", "list", "--db", str(db), "--json").stdout)
    assert f["complete"] is False and f["duration_s"] > 3 and f["distance_m"] > 40
    assert f["max_height_m"] > 13
    moved = tmp_path / "moved" / "kept.tlog"
    moved.parent.mkdir()
    shutil.copy(tlog, moved)
    before = db_state(db)
    p = run("import", "--db", str(db), str(moved))
    assert p.returncode == 0, p.stderr
    assert "skipped 1 flight already in the database" in p.stdout, p.stdout
    with open_store(db) as store:
        assert store.count("flights") == 1
    assert db_state(db) == before
    p = run("import", "--db", str(db), str(tlog))  # the archive where the recorder left it
    assert p.returncode == 0 and "already imported" in p.stdout
