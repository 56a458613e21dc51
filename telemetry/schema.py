"""The flight database schema as an ordered list of migrations.

Each migration is a version number, a description and SQL. :func:`migrate` applies the ones a
database lacks, each in its own transaction, and records it in ``schema_version``. Never edit a
released migration: append a new one.

Times: flights and deployments keep ISO 8601 UTC text (``2024-05-01T10:00:00Z``) that sorts and
reads well; samples and events keep UTC epoch seconds (REAL) because there are many of them.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone


@dataclass(frozen=True)
class Migration:
    version: int
    description: str
    sql: str


MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        1,
        "base schema: vehicles, pilots, deployments, sources, flights, samples, events, missions",
        """
        CREATE TABLE vehicles (
            id INTEGER PRIMARY KEY,
            key TEXT NOT NULL UNIQUE,          -- stable identity: board uid, or 'sysid-N'
            name TEXT NOT NULL,
            system_id INTEGER,
            autopilot TEXT,                    -- 'ardupilot', 'px4', ...
            vehicle_type TEXT,
            notes TEXT
        );
        CREATE TABLE pilots (
            id INTEGER PRIMARY KEY,
            name TEXT NOT NULL,
            licence TEXT,
            notes TEXT
        );
        CREATE TABLE deployments (
            id INTEGER PRIMARY KEY,
            organisation TEXT NOT NULL,
            category TEXT NOT NULL,
            location TEXT NOT NULL,
            lat_deg REAL,
            lon_deg REAL,
            requested_at TEXT NOT NULL,
            first_takeoff_at TEXT,
            ended_at TEXT,
            status TEXT NOT NULL,
            outcome TEXT,
            notes TEXT,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL
        );
        CREATE TABLE deployment_status_log (
            id INTEGER PRIMARY KEY,
            deployment_id INTEGER NOT NULL REFERENCES deployments(id),
            from_status TEXT,
            to_status TEXT NOT NULL,
            at TEXT NOT NULL
        );
        CREATE TABLE sources (
            id INTEGER PRIMARY KEY,
            sha256 TEXT UNIQUE,                -- NULL for live recordings
            path TEXT NOT NULL,
            kind TEXT NOT NULL,                -- tlog, dataflash-bin, dataflash-log, ulog, live
            size_bytes INTEGER,
            imported_at TEXT NOT NULL,
            messages INTEGER,
            bad_messages INTEGER,
            issues TEXT                        -- JSON list of {offset, message}
        );
        CREATE TABLE flights (
            id INTEGER PRIMARY KEY,
            vehicle_id INTEGER NOT NULL REFERENCES vehicles(id),
            deployment_id INTEGER REFERENCES deployments(id),
            pilot_id INTEGER REFERENCES pilots(id),
            source_id INTEGER REFERENCES sources(id),
            start_utc TEXT NOT NULL,
            end_utc TEXT,
            takeoff_utc TEXT,
            landing_utc TEXT,
            duration_s REAL,
            airborne_s REAL,
            distance_m REAL,
            max_height_m REAL,
            max_distance_m REAL,
            battery_used_pct REAL,
            battery_used_mah REAL,
            start_lat REAL, start_lon REAL, end_lat REAL, end_lon REAL,
            home_lat REAL, home_lon REAL, home_alt_m REAL,
            ground_run INTEGER NOT NULL DEFAULT 0,
            complete INTEGER NOT NULL DEFAULT 1,   -- 0 while recording or after a crash
            sample_count INTEGER,
            camera_area_m2 REAL,
            path_geojson TEXT,
            coverage_geojson TEXT
        );
        CREATE TABLE samples (
            id INTEGER PRIMARY KEY,
            vehicle_id INTEGER NOT NULL REFERENCES vehicles(id),
            flight_id INTEGER REFERENCES flights(id),
            source_id INTEGER REFERENCES sources(id),
            t_s REAL NOT NULL,
            lat_deg REAL, lon_deg REAL,
            alt_amsl_m REAL, rel_alt_m REAL,
            groundspeed_m_s REAL, climb_m_s REAL, heading_deg REAL,
            voltage_v REAL, current_a REAL, battery_pct REAL, consumed_mah REAL,
            armed INTEGER
        );
        CREATE TABLE events (
            id INTEGER PRIMARY KEY,
            vehicle_id INTEGER REFERENCES vehicles(id),
            flight_id INTEGER REFERENCES flights(id),
            source_id INTEGER REFERENCES sources(id),
            t_s REAL NOT NULL,
            kind TEXT NOT NULL, -- armed disarmed mode failsafe statustext item_reached camera
            text TEXT,
            value REAL,
            lat_deg REAL, lon_deg REAL, alt_m REAL
        );
        CREATE TABLE missions (
            id INTEGER PRIMARY KEY,
            flight_id INTEGER REFERENCES flights(id),
            deployment_id INTEGER REFERENCES deployments(id),
            name TEXT,
            plan_format TEXT,
            plan_text TEXT NOT NULL,
            sha256 TEXT NOT NULL,
            created_at TEXT NOT NULL
        );
        """,
    ),
    Migration(
        2,
        "indexes for per-flight and per-vehicle queries",
        """
        CREATE INDEX idx_samples_flight ON samples(flight_id, t_s);
        CREATE INDEX idx_samples_vehicle ON samples(vehicle_id, t_s);
        CREATE INDEX idx_events_flight ON events(flight_id, t_s);
        CREATE INDEX idx_flights_start ON flights(start_utc);
        CREATE INDEX idx_flights_deployment ON flights(deployment_id);
        CREATE INDEX idx_deployments_requested ON deployments(requested_at);
        """,
    ),
    Migration(
        3,
        "web portal: mission requests, portal users, audit log (telemetry/requests.py)",
        """
        CREATE TABLE web_users (
            id INTEGER PRIMARY KEY,
            username TEXT NOT NULL UNIQUE,
            password_hash TEXT NOT NULL,       -- argon2id
            role TEXT NOT NULL,                -- requester, pilot, admin
            organisation TEXT,                 -- requesters: HZS, PCR, ZZS, KRIZ
            active INTEGER NOT NULL DEFAULT 1,
            created_at TEXT NOT NULL
        );
        CREATE TABLE mission_requests (
            id INTEGER PRIMARY KEY,
            organisation TEXT NOT NULL,
            category TEXT NOT NULL,
            urgency TEXT NOT NULL,             -- immediate, urgent, routine
            status TEXT NOT NULL,              -- requested, refused, cancelled before a deployment
            location TEXT NOT NULL,
            lat_deg REAL NOT NULL,             -- the point, or the area's centre
            lon_deg REAL NOT NULL,
            area_geojson TEXT,                 -- Polygon in lon/lat, NULL for a point
            subject_category TEXT,             -- SAR: the missing person
            subject_description TEXT,
            lkp_lat_deg REAL,
            lkp_lon_deg REAL,
            lkp_time TEXT,
            contact_name TEXT NOT NULL,
            contact_phone TEXT NOT NULL,
            notes TEXT,
            requested_by INTEGER REFERENCES web_users(id),
            deployment_id INTEGER REFERENCES deployments(id),
            assigned_pilot TEXT,
            drones TEXT,                       -- JSON list of vehicle names
            answer TEXT,                       -- the reason of a refusal or cancellation
            poa_geojson TEXT,                  -- probability-of-area cells (FeatureCollection)
            searched_share REAL,               -- 0..1 of the POA searched
            orthophoto_path TEXT,
            seen_at TEXT,                      -- when a pilot's GUI first showed it
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL
        );
        CREATE INDEX idx_requests_org ON mission_requests(organisation, created_at);
        CREATE INDEX idx_requests_deployment ON mission_requests(deployment_id);
        CREATE TABLE audit_log (
            id INTEGER PRIMARY KEY,
            at TEXT NOT NULL,
            actor TEXT NOT NULL,               -- portal user name, or 'gui:<login>'
            role TEXT,
            action TEXT NOT NULL,
            request_id INTEGER,
            detail TEXT                        -- JSON
        );
        CREATE INDEX idx_audit_request ON audit_log(request_id, at);
        """,
    ),
    Migration(
        4,
        "sightings recorded to a deployment (GUI: guided go-to a confirmed sighting)",
        """
        CREATE TABLE IF NOT EXISTS deployment_sightings (
            id INTEGER PRIMARY KEY,
            deployment_id INTEGER NOT NULL REFERENCES deployments(id),
            lat_deg REAL NOT NULL,
            lon_deg REAL NOT NULL,
            vehicle_sysid INTEGER,
            note TEXT,
            at TEXT NOT NULL
        );
        CREATE INDEX IF NOT EXISTS idx_sightings_deployment
            ON deployment_sightings(deployment_id, at);
        """,
    ),
    Migration(
        5,
        "audit entries by action and time (the portal's sign-in pause reads recent failures)",
        """
        CREATE INDEX IF NOT EXISTS idx_audit_action_at ON audit_log(action, at);
        """,
    ),
    Migration(
        6,
        "fuller copies (telemetry/fuller_copy.py): the camera a flight's coverage was computed "
        "with, and which stored flights hold a replaced copy's data",
        """
        CREATE TABLE IF NOT EXISTS flight_cameras (
            flight_id INTEGER PRIMARY KEY REFERENCES flights(id),
            hfov_deg REAL NOT NULL,            -- field of view (--camera-fov H,V)
            vfov_deg REAL NOT NULL
        );
        CREATE TABLE IF NOT EXISTS replaced_sources (
            source_id INTEGER NOT NULL REFERENCES sources(id),   -- the shorter copy
            flight_id INTEGER NOT NULL REFERENCES flights(id),   -- holds its data now
            PRIMARY KEY (source_id, flight_id)
        );
        """,
    ),
)

LATEST_VERSION = MIGRATIONS[-1].version


def utc_now_iso(ago_s: float = 0.0) -> str:
    """Now (or ``ago_s`` seconds ago) in UTC, as every ``at`` column stores it."""
    return (datetime.now(timezone.utc) - timedelta(seconds=ago_s)).strftime("%Y-%m-%dT%H:%M:%SZ")


def current_version(conn: sqlite3.Connection) -> int:
    row = conn.execute(
        "SELECT name FROM sqlite_master WHERE type='table' AND name='schema_version'"
    ).fetchone()
    if row is None:
        return 0
    (v,) = conn.execute("SELECT COALESCE(MAX(version), 0) FROM schema_version").fetchone()
    return int(v)


def migrate(conn: sqlite3.Connection, target: int = LATEST_VERSION) -> list[int]:
    """Apply the missing migrations up to ``target``; returns the versions applied.

    ``conn`` must be in autocommit mode (``isolation_level=None``); every migration runs in its
    own ``BEGIN IMMEDIATE`` transaction together with its ``schema_version`` row.
    """
    if current_version(conn) >= target:
        return []  # up to date: no write lock taken (readers never wait on the recorder)
    conn.execute(
        "CREATE TABLE IF NOT EXISTS schema_version ("
        "version INTEGER PRIMARY KEY, description TEXT NOT NULL, applied_at TEXT NOT NULL)"
    )
    applied: list[int] = []
    for m in MIGRATIONS:
        if m.version > target:
            break
        conn.execute("BEGIN IMMEDIATE")
        try:
            if current_version(conn) >= m.version:
                conn.execute("ROLLBACK")
                continue
            for stmt in _statements(m.sql):
                conn.execute(stmt)
            conn.execute(
                "INSERT INTO schema_version (version, description, applied_at) VALUES (?, ?, ?)",
                (m.version, m.description, utc_now_iso()),
            )
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        applied.append(m.version)
    return applied


def _statements(sql: str) -> list[str]:
    lines = [ln.split("--", 1)[0] for ln in sql.splitlines()]
    return [s.strip() for s in "\n".join(lines).split(";") if s.strip()]
