"""The flight database: one SQLite file in WAL mode, opened with :func:`open_store`.

    >>> with open_store("flights.db") as store:          # doctest: +SKIP
    ...     flights = store.flights()

A :class:`Store` belongs to the thread that opened it (SQLite connections are not shared across
threads here); the recorder's writer thread opens its own.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlite_utils

from dronekit_plzen.errors import BadInputError, DatabaseFileError, StorageError
from dronekit_plzen.i18n import _
from telemetry.schema import LATEST_VERSION, current_version, migrate, utc_now_iso
from telemetry.segment import SegmentParams
from telemetry.track import SAMPLE_FIELDS

#: columns of the ``samples`` table in the order :meth:`Store.insert_samples` expects
#: the samples table's columns: ids, then the measured fields in the track builder's order
SAMPLE_COLUMNS: tuple[str, ...] = ("vehicle_id", "flight_id", "source_id", *SAMPLE_FIELDS[1:])
EVENT_COLUMNS: tuple[str, ...] = (
    "vehicle_id",
    "flight_id",
    "source_id",
    "t_s",
    "kind",
    "text",
    "value",
    "lat_deg",
    "lon_deg",
    "alt_m",
)
_SAMPLE_SQL = (
    f"INSERT INTO samples ({', '.join(SAMPLE_COLUMNS)}) "
    f"VALUES ({', '.join('?' * len(SAMPLE_COLUMNS))})"
)
_EVENT_SQL = (
    f"INSERT INTO events ({', '.join(EVENT_COLUMNS)}) "
    f"VALUES ({', '.join('?' * len(EVENT_COLUMNS))})"
)


def storage_error(exc: BaseException, path: Path | str) -> StorageError:
    """Turn an sqlite3/OS error into a :class:`StorageError` a person can act on.

    A file that is not a usable database (damaged, not SQLite, read-only) is the user's to fix:
    :class:`DatabaseFileError`, exit 2. A locked database, a full disk or an I/O error stays a
    :class:`StorageError`, exit 1."""
    text = str(exc).lower()
    cls: type[StorageError] = StorageError
    if "locked" in text or "busy" in text:
        msg = _("the database is locked by another program; retrying when it is free")
    elif "full" in text or getattr(exc, "errno", None) == 28:
        msg = _("the disk (or the database size limit) is full; free space to continue")
    elif "malformed" in text or "not a database" in text:
        msg = _("the database file is damaged or is not a SQLite database")
        cls = DatabaseFileError
    elif "readonly" in text or "permission" in text or "unable to open" in text:
        msg = _("the database cannot be written (read-only file or folder)")
        cls = DatabaseFileError
    elif "disk i/o error" in text:
        msg = _("the disk could not be read or written (full, removed or failing)")
    else:
        msg = _("database error") + f": {exc}"
    err = cls(msg, where=str(path))
    err.__cause__ = exc
    return err


def is_transient(exc: BaseException) -> bool:
    """A locked database or a full disk: worth retrying later without losing data."""
    text = str(exc).lower()
    return any(k in text for k in ("locked", "busy", "full", "disk i/o")) or (
        getattr(exc, "errno", None) == 28
    )


#: a vehicle given by its name, key or number (``v`` is the vehicles table)
VEHICLE_MATCH = "(v.name = ? OR v.key = ? OR CAST(v.id AS TEXT) = ?)"


@dataclass
class Store:
    """An open flight database. Use :func:`open_store` to get one."""

    path: Path
    db: sqlite_utils.Database

    @property
    def conn(self) -> sqlite3.Connection:
        return self.db.conn

    @contextlib.contextmanager
    def transaction(self) -> Iterator[Store]:
        """``BEGIN IMMEDIATE`` … ``COMMIT`` (rolled back on error); sqlite errors → StorageError."""
        try:
            self.conn.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            raise storage_error(exc, self.path) from exc
        try:
            yield self
            self.conn.execute("COMMIT")
        except BaseException as exc:
            if self.conn.in_transaction:
                self.conn.execute("ROLLBACK")
            if isinstance(exc, sqlite3.Error):
                raise storage_error(exc, self.path) from exc
            raise

    # -- version -------------------------------------------------------------------------------
    @property
    def schema_version(self) -> int:
        return current_version(self.conn)

    # -- rows ----------------------------------------------------------------------------------
    def query(self, sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> list[dict[str, Any]]:
        try:
            return list(self.db.query(sql, params))
        except sqlite3.Error as exc:
            raise storage_error(exc, self.path) from exc

    def vehicle_id(
        self,
        key: str,
        *,
        name: str | None = None,
        system_id: int | None = None,
        autopilot: str | None = None,
        vehicle_type: str | None = None,
    ) -> int:
        """The id of the vehicle with ``key``, created on first sight."""
        row = self.conn.execute("SELECT id FROM vehicles WHERE key = ?", (key,)).fetchone()
        if row is not None:
            return int(row[0])
        cur = self.conn.execute(
            "INSERT INTO vehicles (key, name, system_id, autopilot, vehicle_type) "
            "VALUES (?, ?, ?, ?, ?)",
            (key, name or key, system_id, autopilot, vehicle_type),
        )
        return int(cur.lastrowid or 0)

    def add_pilot(self, name: str, licence: str | None = None, notes: str | None = None) -> int:
        cur = self.conn.execute(
            "INSERT INTO pilots (name, licence, notes) VALUES (?, ?, ?)", (name, licence, notes)
        )
        return int(cur.lastrowid or 0)

    def insert_samples(self, rows: Iterable[Sequence[Any]]) -> None:
        """Insert sample tuples in :data:`SAMPLE_COLUMNS` order (one executemany)."""
        self.conn.executemany(_SAMPLE_SQL, rows)

    def insert_events(self, rows: Iterable[Sequence[Any]]) -> None:
        self.conn.executemany(_EVENT_SQL, rows)

    def insert_source(
        self,
        *,
        path: str,
        kind: str,
        sha256: str | None = None,
        size_bytes: int | None = None,
        messages: int = 0,
        bad_messages: int = 0,
        issues: list[dict[str, Any]] | None = None,
    ) -> int:
        cur = self.conn.execute(
            "INSERT INTO sources (sha256, path, kind, size_bytes, imported_at, messages, "
            "bad_messages, issues) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                sha256,
                path,
                kind,
                size_bytes,
                utc_now_iso(),
                messages,
                bad_messages,
                json.dumps(issues or []),
            ),
        )
        return int(cur.lastrowid or 0)

    def source_by_hash(self, sha256: str) -> dict[str, Any] | None:
        rows = self.query("SELECT * FROM sources WHERE sha256 = ?", (sha256,))
        return rows[0] if rows else None

    def insert_flight(self, row: dict[str, Any]) -> int:
        cols = list(row)
        cur = self.conn.execute(
            f"INSERT INTO flights ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})",
            [row[c] for c in cols],
        )
        return int(cur.lastrowid or 0)

    def update_flight(self, flight_id: int, values: dict[str, Any]) -> None:
        if not values:
            return
        sets = ", ".join(f"{c} = ?" for c in values)
        self.conn.execute(
            f"UPDATE flights SET {sets} WHERE id = ?", [*values.values(), int(flight_id)]
        )

    def flight(self, flight_id: int) -> dict[str, Any] | None:
        rows = self.query(
            "SELECT f.*, v.name AS vehicle, s.path AS source_file FROM flights f "
            "JOIN vehicles v ON v.id = f.vehicle_id LEFT JOIN sources s ON s.id = f.source_id "
            "WHERE f.id = ?",
            (int(flight_id),),
        )
        return self.with_open_summaries(rows)[0] if rows else None

    def with_open_summaries(self, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Flights left open (still recording, or the recorder was killed) are summarised from
        their stored samples on reading; they stay marked incomplete (nothing is written).

        A summary column holding text where a number belongs (a row edited or damaged outside
        the toolkit) is a :class:`DatabaseFileError` naming the flight and the column."""
        for r in rows:
            _check_flight_numbers(self.path, r)
            if not r["complete"] and r["end_utc"] is None:
                summ = summary_from_samples(self, int(r["id"]))
                if summ is not None:
                    r.update(summ, complete=0)
        return rows

    def has_vehicle(self, text: str) -> bool:
        """Whether a vehicle is named, keyed or numbered ``text`` (as :meth:`flights` finds
        it)."""
        return bool(self.query(f"SELECT 1 FROM vehicles v WHERE {VEHICLE_MATCH}", (text,) * 3))

    def vehicle_names(self) -> list[str]:
        return [str(r["name"]) for r in self.query("SELECT name FROM vehicles ORDER BY name")]

    def flights(
        self,
        *,
        date_from: str | None = None,
        date_to: str | None = None,
        vehicle: str | None = None,
        deployment_id: int | None = None,
    ) -> list[dict[str, Any]]:
        """Flights ordered by start time; dates are ISO ``YYYY-MM-DD`` (``date_to`` inclusive)."""
        where: list[str] = ["1 = 1"]
        params: list[Any] = []
        if date_from:
            where.append("f.start_utc >= ?")
            params.append(date_from)
        if date_to:
            where.append("f.start_utc < ?")
            params.append(_next_day(date_to))
        if vehicle:
            where.append(VEHICLE_MATCH)
            params += [vehicle, vehicle, vehicle]
        if deployment_id is not None:
            where.append("f.deployment_id = ?")
            params.append(deployment_id)
        rows = self.query(
            "SELECT f.*, v.name AS vehicle, s.path AS source_file FROM flights f "
            "JOIN vehicles v ON v.id = f.vehicle_id LEFT JOIN sources s ON s.id = f.source_id "
            f"WHERE {' AND '.join(where)} ORDER BY f.start_utc, f.id",
            params,
        )
        return self.with_open_summaries(rows)

    def flight_samples(self, flight_id: int) -> list[tuple[Any, ...]]:
        return self.conn.execute(
            f"SELECT {', '.join(SAMPLE_COLUMNS)} FROM samples WHERE flight_id = ? ORDER BY t_s",
            (int(flight_id),),
        ).fetchall()

    def count(self, table: str) -> int:
        if table not in self.db.table_names():
            raise StorageError(_("no such table") + f": {table}", where=str(self.path))
        (n,) = self.conn.execute(f"SELECT COUNT(*) FROM [{table}]").fetchone()
        return int(n)

    def save_mission(
        self,
        plan_text: str,
        *,
        name: str | None = None,
        plan_format: str = "plan",
        flight_id: int | None = None,
        deployment_id: int | None = None,
    ) -> int:
        """Keep the mission file that was flown (its full text and SHA-256)."""
        import hashlib

        cur = self.conn.execute(
            "INSERT INTO missions (flight_id, deployment_id, name, plan_format, plan_text, sha256,"
            " created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                flight_id,
                deployment_id,
                name,
                plan_format,
                plan_text,
                hashlib.sha256(plan_text.encode()).hexdigest(),
                utc_now_iso(),
            ),
        )
        return int(cur.lastrowid or 0)

    def close(self) -> None:
        self.db.close()


#: the flights table's number columns (REAL or INTEGER; NULL where unknown)
FLIGHT_NUMBER_COLUMNS = (
    "id",
    "vehicle_id",
    "duration_s",
    "airborne_s",
    "distance_m",
    "max_height_m",
    "max_distance_m",
    "battery_used_pct",
    "battery_used_mah",
    "start_lat",
    "start_lon",
    "end_lat",
    "end_lon",
    "home_lat",
    "home_lon",
    "home_alt_m",
    "ground_run",
    "complete",
    "sample_count",
    "camera_area_m2",
)


def _check_flight_numbers(path: Path, row: dict[str, Any]) -> None:
    """Every number column of a stored flight row is a number or NULL (SQLite keeps any text
    a program writes into a REAL column)."""
    for col in FLIGHT_NUMBER_COLUMNS:
        v = row.get(col)
        if v is None or (isinstance(v, int | float) and not isinstance(v, bool)):
            continue
        raise DatabaseFileError(
            _(
                "flight #{id}: the column {col} holds {value!r}, not a number (a damaged row: "
                "correct or delete it)"
            ).format(id=row.get("id"), col=col, value=_short(v)),
            where=str(path),
        )


def _short(v: Any, n: int = 40) -> Any:
    """A stored value as a message shows it: long text or bytes cut to ``n`` characters."""
    if isinstance(v, bytes):
        v = v[:n]
    return v[:n] + "…" if isinstance(v, str) and len(v) > n else v


def summary_from_samples(
    store: Store, flight_id: int, params: SegmentParams | None = None
) -> dict[str, Any] | None:
    """A flight's summary columns computed from its stored samples (None without samples).

    The whole armed interval is one flight (no gap splits it: a recording has no gaps that
    end a flight).
    """
    import math
    from dataclasses import replace

    import numpy as np

    from telemetry.segment import DEFAULT_PARAMS, find_flights, summarize

    rows = store.flight_samples(flight_id)
    if not rows:
        return None
    arr = np.array([r[3:] for r in rows], dtype=float)
    cols = {name: arr[:, i] for i, name in enumerate(SAMPLE_COLUMNS[3:])}
    p = replace(params or DEFAULT_PARAMS, max_gap_s=math.inf)
    ones = np.ones(arr.shape[0])
    segs = find_flights(cols["t_s"], ones, cols["rel_alt_m"], cols["groundspeed_m_s"], p)
    return summarize(cols, segs[0]).to_row()


def _next_day(day: str) -> str:
    from datetime import date, timedelta

    try:
        d = date.fromisoformat(day[:10])
    except ValueError:
        raise BadInputError(_("not a date (YYYY-MM-DD)") + f": {day!r}") from None
    return (d + timedelta(days=1)).isoformat()


def connect_sqlite(path: Path, *, busy_timeout_s: float = 5.0) -> sqlite3.Connection:
    """A raw autocommit connection with the pragmas the store uses (WAL, NORMAL sync).

    ``busy_timeout_s``: a statement meeting another process's write lock waits this long
    (``PRAGMA busy_timeout``) before "database is locked".
    """
    try:
        conn = sqlite3.connect(
            str(path), timeout=busy_timeout_s, isolation_level=None, check_same_thread=False
        )
        conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout_s * 1000)}")
        _set_wal(conn, busy_timeout_s)
        # NORMAL in WAL mode: a committed transaction survives a process crash (SIGKILL);
        # only a power loss may roll back the last commits. The database never corrupts.
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("PRAGMA foreign_keys=ON")
    except sqlite3.Error as exc:
        raise storage_error(exc, path) from exc
    return conn


def _set_wal(conn: sqlite3.Connection, busy_timeout_s: float) -> None:
    """``PRAGMA journal_mode=WAL``, waiting for another connection's lock as any statement does.

    SQLite answers this pragma "database is locked" at once, without its busy handler, while
    another connection holds a lock on a database still in rollback mode: two programs (or the
    GUI's panels, each in its thread) opening a new database together failed half the time
    under load. Retried with growing pauses until ``busy_timeout_s`` has passed."""
    deadline = time.monotonic() + busy_timeout_s
    pause_s = 0.002
    while True:
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) and "busy" not in str(exc):
                raise
            if time.monotonic() + pause_s > deadline:
                raise
        time.sleep(pause_s)
        pause_s = min(pause_s * 2, 0.05)


def connect_readonly(path: Path, *, busy_timeout_s: float = 5.0) -> sqlite3.Connection:
    """A read-only connection (``file:…?mode=ro``): nothing is created, written or migrated.

    A WAL database in a read-only folder cannot get its shared-memory file: it is then opened
    as immutable (nobody can be writing it there).
    """
    from urllib.parse import quote

    uri = "file:" + quote(str(path.resolve())) + "?mode=ro"
    last: sqlite3.Error | None = None
    for extra in ("", "&immutable=1"):
        try:
            conn = sqlite3.connect(
                uri + extra,
                uri=True,
                timeout=busy_timeout_s,
                isolation_level=None,
                check_same_thread=False,
            )
            current_version(conn)  # opens the file now
            return conn
        except sqlite3.Error as exc:
            last = exc
            if "unable to open" not in str(exc):
                break
    assert last is not None
    if "unable to open" in str(last):
        raise DatabaseFileError(
            _("the database file cannot be opened for reading") + f": {last}", where=str(path)
        ) from last
    raise storage_error(last, path) from last


@contextlib.contextmanager
def open_store(
    path: str | Path,
    *,
    migrate_schema: bool = True,
    busy_timeout_s: float = 5.0,
    readonly: bool = False,
    create: bool = True,
) -> Iterator[Store]:
    """Open (creating and migrating as needed) the flight database at ``path``.

    Parameters
    ----------
    path
        SQLite file. Its folder must exist (a typo in a folder name is an error, not a new
        folder with a new empty database), except the toolkit's own data folder
        (:func:`dronekit_plzen.config.default_data_dir`, where the default database lives),
        which is created when missing.
    migrate_schema
        Apply pending migrations (default). With ``False`` an outdated database is an error.
    busy_timeout_s
        How long a statement waits for another writer before "database is locked".
    readonly
        Open an existing database read-only (``file:…?mode=ro``): works on a read-only file and
        folder, creates and migrates nothing. A missing file is a :class:`BadInputError`; an
        outdated schema is a :class:`StorageError` saying how to update it.
    create
        Create a missing database (default). With ``False`` a missing file is a
        :class:`BadInputError`: a command that changes stored records has nothing to change.
    """
    p = Path(path).expanduser()
    if readonly:
        conn = _open_readonly(p, busy_timeout_s)
    else:
        if p.is_dir():
            raise BadInputError(_("this is a folder, not a flight database"), where=str(p))
        if not p.exists():
            if not create:
                raise _no_database(p)
            _check_folder(p)
        else:
            _refuse_foreign(p, busy_timeout_s)  # before WAL mode changes the file's header
        conn = connect_sqlite(p, busy_timeout_s=busy_timeout_s)
    store = Store(path=p, db=sqlite_utils.Database(conn))
    try:
        try:
            if migrate_schema and not readonly:
                migrate(conn)
            elif current_version(conn) < LATEST_VERSION:
                raise StorageError(
                    _("the database schema is outdated; open it with migrations enabled"),
                    where=str(p),
                )
        except sqlite3.Error as exc:
            raise storage_error(exc, p) from exc
        yield store
    finally:
        conn.close()


def _check_folder(p: Path) -> None:
    """The folder a new database ``p`` goes into exists; only the toolkit's own data folder is
    created. Any other missing folder is most likely a typo in ``--db``: a new folder with a
    new empty database would silently take the pilot's records."""
    from dronekit_plzen.config import default_data_dir

    folder = p.parent
    if folder.is_dir():
        return
    if folder.exists():
        raise BadInputError(
            _("the folder for the flight database is a file: {folder}").format(folder=folder),
            where=str(p),
        )
    if not _same_path(folder, default_data_dir()):
        raise BadInputError(
            _("the folder for the flight database does not exist: {folder}").format(folder=folder),
            where=str(p),
        )
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise storage_error(exc, p) from exc


def _same_path(a: Path, b: Path) -> bool:
    try:
        return a.expanduser().resolve() == b.expanduser().resolve()
    except (OSError, RuntimeError):  # a symlink loop: not our folder
        return False


def remove_if_empty(path: str | Path) -> bool:
    """Remove the database at ``path`` (with its ``-wal``/``-shm``) if it holds no record.

    For a command that created the database and then failed: a refused command leaves no new
    empty database behind. A database with any row (other than its schema version), or one
    that cannot be read, is kept: False."""
    from urllib.parse import quote

    p = Path(path).expanduser()
    try:
        conn = sqlite3.connect("file:" + quote(str(p.resolve())) + "?mode=ro", uri=True)
        try:
            names = conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall()
            for (name,) in names:
                if name in ("schema_version", "sqlite_sequence"):
                    continue
                quoted = '"' + str(name).replace('"', '""') + '"'
                if conn.execute(f"SELECT EXISTS (SELECT 1 FROM {quoted})").fetchone()[0]:
                    return False
        finally:
            conn.close()
    except (sqlite3.Error, OSError):
        return False
    for suffix in ("", "-wal", "-shm"):
        with contextlib.suppress(FileNotFoundError):
            Path(str(p) + suffix).unlink()
    return True


def _no_database(p: Path) -> BadInputError:
    return BadInputError(
        _("no flight database here (import logs or record flights first)"), where=str(p)
    )


#: the tables every flight database has had since its first schema version
_OUR_TABLES = frozenset({"schema_version", "vehicles", "sources", "flights", "samples"})


def _foreign_tables(conn: sqlite3.Connection) -> list[str]:
    """The tables of another program's database: one with tables but not the flight
    database's own (empty for a flight database, and for a new or empty file, which may
    become one)."""
    names = {
        str(r[0])
        for r in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
        ).fetchall()
    }
    if names <= {"schema_version"} or names >= _OUR_TABLES:
        return []
    return sorted(names)


def _not_ours(p: Path, tables: list[str]) -> DatabaseFileError:
    shown = ", ".join(sorted(tables)[:5]) + (", …" if len(tables) > 5 else "")
    return DatabaseFileError(
        _(
            "not a flight database: an SQLite database of another program (tables {tables}); "
            "it is left as it is: give --db a flight database or a new file"
        ).format(tables=shown),
        where=str(p),
    )


def _refuse_foreign(p: Path, busy_timeout_s: float) -> None:
    """An existing SQLite file that is another program's database is refused before anything
    is written to it (the flight tables added to it, or a migration failing half-way). A file
    that cannot be read is left to the caller's own open, which reports it."""
    try:
        conn = connect_readonly(p, busy_timeout_s=busy_timeout_s)
    except StorageError:
        return
    try:
        tables = _foreign_tables(conn)
    except sqlite3.Error:
        return
    finally:
        conn.close()
    if tables:
        raise _not_ours(p, tables)


def _open_readonly(p: Path, busy_timeout_s: float) -> sqlite3.Connection:
    if p.is_dir():
        raise BadInputError(_("this is a folder, not a flight database"), where=str(p))
    if not p.exists():
        raise _no_database(p)
    conn = connect_readonly(p, busy_timeout_s=busy_timeout_s)
    try:
        version = current_version(conn)
        foreign = _foreign_tables(conn)
    except sqlite3.Error as exc:
        conn.close()
        raise storage_error(exc, p) from exc
    if foreign:
        conn.close()
        raise _not_ours(p, foreign)
    if version < LATEST_VERSION:
        conn.close()
        try:  # an outdated database we may write: update it once, then read
            with open_store(p, busy_timeout_s=busy_timeout_s):
                pass
        except StorageError as exc:
            raise StorageError(
                _(
                    "the database needs an update to schema version {new} (it has {old}) but "
                    "the update failed ({reason}); run any command with write access to it once"
                ).format(new=LATEST_VERSION, old=version, reason=exc.message),
                where=str(p),
            ) from exc
        conn = connect_readonly(p, busy_timeout_s=busy_timeout_s)
    return conn
