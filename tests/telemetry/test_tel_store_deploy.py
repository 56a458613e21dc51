"""Schema migrations, deployments and their status transitions."""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path

import pytest

from dronekit_plzen.errors import BadInputError, StorageError
from telemetry.deployments import (
    create_deployment,
    get_deployment,
    link_flight,
    link_flights,
    list_deployments,
    record_sighting,
    update_deployment,
)
from telemetry.schema import LATEST_VERSION, MIGRATIONS, migrate
from telemetry.store import open_store


def test_new_database_has_every_table_and_version(tmp_path: Path) -> None:
    with open_store(tmp_path / "a.db") as store:
        names = set(store.db.table_names())
        assert {
            "vehicles",
            "pilots",
            "deployments",
            "flights",
            "samples",
            "events",
            "missions",
            "sources",
            "schema_version",
            "deployment_status_log",
        } <= names
        assert store.schema_version == LATEST_VERSION
        rows = store.query("SELECT version, description FROM schema_version ORDER BY version")
        assert [r["version"] for r in rows] == [m.version for m in MIGRATIONS]
        assert store.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def _hold_write_lock(db: Path, hold_s: float) -> threading.Event:
    """Another program writes into ``db``, a flight database still in rollback mode, for
    ``hold_s``; the event is set once its lock is held."""
    held = threading.Event()

    def hold() -> None:
        conn = sqlite3.connect(db, isolation_level=None)
        migrate(conn, target=1)  # a flight database of the first schema, never opened in WAL
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("INSERT INTO vehicles (key, name) VALUES ('uav-1', 'Plzeň 1')")
        held.set()
        time.sleep(hold_s)
        conn.execute("ROLLBACK")
        conn.close()

    threading.Thread(target=hold, daemon=True).start()
    assert held.wait(10)
    return held


def test_opening_a_database_another_connection_writes_waits_for_its_lock(tmp_path: Path) -> None:
    """Turning a database to WAL mode meets another connection's lock: SQLite answers that
    pragma "database is locked" at once, without the busy timeout every other statement waits.
    The GUI's panels open a new database each in its thread at start-up, and under load one of
    them showed "the database is locked by another program" (an error banner in the cockpit)."""
    db = tmp_path / "new.db"
    _hold_write_lock(db, 0.3)
    t0 = time.monotonic()
    with open_store(db) as store:
        assert store.schema_version == LATEST_VERSION
        assert store.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert time.monotonic() - t0 >= 0.2  # it waited for the lock, and got it
    # a lock held beyond the timeout is still the clear error, after the timeout
    db2 = tmp_path / "held.db"
    _hold_write_lock(db2, 1.5)
    t0 = time.monotonic()
    with (
        pytest.raises(StorageError, match="locked by another program"),
        open_store(db2, busy_timeout_s=0.3),
    ):
        pass
    assert 0.25 <= time.monotonic() - t0 < 1.4


def test_threads_opening_a_new_database_together_all_get_it(tmp_path: Path) -> None:
    errors: list[str] = []

    def open_one(db: Path) -> None:
        try:
            with open_store(db) as store:
                assert store.schema_version == LATEST_VERSION
        except Exception as exc:  # collected: the assertion below names them
            errors.append(f"{db.name}: {type(exc).__name__}: {exc}")

    for trial in range(100):
        db = tmp_path / f"new{trial}.db"
        threads = [threading.Thread(target=open_one, args=(db,)) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
    assert errors == []


def test_old_database_is_migrated_and_keeps_data(tmp_path: Path) -> None:
    db = tmp_path / "old.db"
    conn = sqlite3.connect(db, isolation_level=None)
    migrate(conn, target=1)
    conn.execute("INSERT INTO vehicles (key, name) VALUES ('uav-1', 'Plzeň 1')")
    conn.close()
    with open_store(db) as store:
        assert store.schema_version == LATEST_VERSION
        assert store.query("SELECT name FROM vehicles")[0]["name"] == "Plzeň 1"
        idx = {r["name"] for r in store.query("SELECT name FROM sqlite_master WHERE type='index'")}
        assert "idx_samples_flight" in idx
    with pytest.raises(StorageError):
        conn = sqlite3.connect(tmp_path / "v1.db", isolation_level=None)
        migrate(conn, target=1)
        conn.close()
        with open_store(tmp_path / "v1.db", migrate_schema=False):
            pass


def test_not_a_database_is_a_clear_error(tmp_path: Path) -> None:
    bad = tmp_path / "x.db"
    bad.write_bytes(b"this is not sqlite at all" * 100)
    with pytest.raises(StorageError, match="damaged or is not a SQLite database"), open_store(bad):
        pass


def test_deployment_lifecycle(tmp_path: Path) -> None:
    with open_store(tmp_path / "d.db") as store:
        d = create_deployment(
            store,
            organisation="PČR",
            category="search and rescue",
            location="Plzeň-Bory, lesopark",
            requested_at="2024-05-02T08:15:00+02:00",
            lat_deg=49.72,
            lon_deg=13.36,
        )
        assert (d.organisation, d.category, d.status) == ("PCR", "sar", "requested")
        assert d.requested_at == "2024-05-02T06:15:00Z"
        with pytest.raises(BadInputError, match="cannot go from requested to completed"):
            update_deployment(store, d.id, status="completed")
        update_deployment(store, d.id, status="accepted")
        update_deployment(store, d.id, status="in_progress")
        d = update_deployment(
            store, d.id, status="completed", outcome="person found", at="2024-05-02T09:00:00Z"
        )
        assert d.status == "completed" and d.ended_at == "2024-05-02T09:00:00Z"
        with pytest.raises(BadInputError, match="none \\(final\\)"):
            update_deployment(store, d.id, status="cancelled")
        hist = store.query(
            "SELECT to_status FROM deployment_status_log WHERE deployment_id = ? ORDER BY id",
            (d.id,),
        )
        assert [h["to_status"] for h in hist] == [
            "requested",
            "accepted",
            "in_progress",
            "completed",
        ]
        assert [x.id for x in list_deployments(store, year=2024)] == [d.id]


@pytest.mark.parametrize(
    ("kw", "match"),
    [
        ({"organisation": "NATO"}, "unknown organisation"),
        ({"category": "picnic"}, "unknown category"),
        ({"location": "  "}, "needs a location"),
        ({"lat_deg": 49.7}, "both latitude and longitude"),
        ({"requested_at": "yesterday"}, "not an ISO 8601 time"),
    ],
)
def test_bad_deployment_input(tmp_path: Path, kw: dict, match: str) -> None:  # type: ignore[type-arg]
    args = {"organisation": "HZS", "category": "fire", "location": "Plzeň"} | kw
    with open_store(tmp_path / "e.db") as store, pytest.raises(BadInputError, match=match):
        create_deployment(store, **args)


def test_link_flight_moves_status_and_sets_first_takeoff(tmp_path: Path) -> None:
    with open_store(tmp_path / "l.db") as store:
        d = create_deployment(
            store,
            organisation="HZS",
            category="fire",
            location="Doubravka",
            requested_at="2024-06-01T09:55:00Z",
        )
        vid = store.vehicle_id("uav-1")
        fid = store.insert_flight(
            {
                "vehicle_id": vid,
                "start_utc": "2024-06-01T10:00:00Z",
                "takeoff_utc": "2024-06-01T10:00:20Z",
                "end_utc": "2024-06-01T10:20:00Z",
            }
        )
        link_flight(store, d.id, fid)
        d = get_deployment(store, d.id)
        assert d.status == "in_progress"
        assert d.first_takeoff_at == "2024-06-01T10:00:20Z"
        assert store.flight(fid)["deployment_id"] == d.id  # type: ignore[index]
        with pytest.raises(BadInputError, match="no flight with id 999"):
            link_flight(store, d.id, 999)
        with pytest.raises(BadInputError, match="no deployment with id 77"):
            link_flight(store, 77, fid)


def test_a_flight_belongs_to_a_deployment_by_its_time(tmp_path: Path) -> None:
    """Found from outside: a 2015 flight linked to a deployment requested in 2026 became its
    first take-off (2015's indicator counted it); a flight moved to another deployment left the
    first one's take-off behind; a request in 2030 was stored."""
    with open_store(tmp_path / "t.db") as store:
        vid = store.vehicle_id("uav-1")

        def flight(takeoff: str) -> int:
            return store.insert_flight(
                {"vehicle_id": vid, "start_utc": takeoff, "takeoff_utc": takeoff,
                 "end_utc": takeoff}
            )  # fmt: skip

        old, day, later = (
            flight("2015-07-05T00:34:00Z"),
            flight("2024-06-01T10:00:00Z"),
            flight("2024-06-01T12:00:00Z"),
        )
        a = create_deployment(
            store, organisation="HZS", category="fire", location="A",
            requested_at="2024-06-01T10:30:00+00:00",
        )  # fmt: skip
        # all or none: the 2015 flight refuses the set, the good one stays unlinked
        with pytest.raises(BadInputError, match=r"flight #1 took off at 2015-07-05T00:34:00Z, "):
            link_flights(store, a.id, [day, old])
        assert store.flight(day)["deployment_id"] is None  # type: ignore[index]
        assert get_deployment(store, a.id).status == "requested"
        # half an hour before the request: a pilot already up when it was registered
        assert link_flights(store, a.id, [day, later]) == {}
        assert get_deployment(store, a.id).first_takeoff_at == "2024-06-01T10:00:00Z"
        b = create_deployment(
            store, organisation="PCR", category="sar", location="B",
            requested_at="2024-06-01T09:00:00Z",
        )  # fmt: skip
        assert link_flight(store, b.id, day) == a.id  # moved: A now starts with the later one
        assert get_deployment(store, a.id).first_takeoff_at == "2024-06-01T12:00:00Z"
        assert link_flight(store, b.id, later) == a.id
        assert get_deployment(store, a.id).first_takeoff_at is None
        # the request time corrected, the old flight belongs
        with pytest.raises(BadInputError, match="its first flight took off"):
            update_deployment(store, b.id, requested_at="2024-06-03T00:00:00Z")
        update_deployment(store, b.id, requested_at="2015-07-05T00:00:00Z")
        link_flight(store, b.id, old)
        assert get_deployment(store, b.id).first_takeoff_at == "2015-07-05T00:34:00Z"
        for call in (
            lambda: create_deployment(
                store,
                organisation="HZS",
                category="fire",
                location="C",
                requested_at="2030-01-01T00:00:00Z",
            ),
            lambda: update_deployment(store, b.id, status="cancelled", at="2031-01-01"),
            lambda: record_sighting(store, b.id, 49.7, 13.3, at="2032-01-01T00:00:00Z"),
        ):
            with pytest.raises(BadInputError, match=r"years in the future"):
                call()
        with pytest.raises(BadInputError, match=r"is before deployment #2 was requested"):
            update_deployment(store, b.id, status="cancelled", at="2014-12-31")
        # a time stored without its zone (a row of an older program) is UTC, not a traceback
        naive = store.insert_flight(
            {"vehicle_id": vid, "start_utc": "2015-07-05 01:00:00", "takeoff_utc": None}
        )
        link_flight(store, b.id, naive)
        with pytest.raises(BadInputError, match=r"is before deployment #2 was requested"):
            update_deployment(store, b.id, status="cancelled", at="2015-07-04T23:59:59.5Z")
