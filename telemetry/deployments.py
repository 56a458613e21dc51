"""Deployments: one request from the IZS or crisis management, with the flights flown for it.

Status moves requested → accepted → in_progress → completed, or to cancelled from any open
state; every change is validated and logged in ``deployment_status_log``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from typing import Any

from dronekit_plzen.errors import BadInputError
from dronekit_plzen.i18n import _
from telemetry.indicator import check_year
from telemetry.schema import utc_now_iso
from telemetry.store import Store

#: requesting organisations (code → English name). The one table of these names: a name is a
#: message id (Czech in ``telemetry.po``), translated where it is shown (the GUI's deployments
#: and requests panels, the portal); one term per organisation everywhere
ORGANISATIONS: dict[str, str] = {
    "HZS": "Fire and Rescue Service (HZS)",
    "PCR": "Police of the Czech Republic (PČR)",
    "ZZS": "Emergency Medical Service (ZZS)",
    "MP": "Municipal police",
    "KRIZ": "Crisis management",
    "OTHER": "Other",
}
_ORG_ALIASES = {
    "PČR": "PCR",
    "POLICE": "PCR",
    "FIRE": "HZS",
    "AMBULANCE": "ZZS",
    "MUNICIPAL_POLICE": "MP",
    "MUNICIPAL-POLICE": "MP",
    "CRISIS": "KRIZ",
    "CRISIS_MANAGEMENT": "KRIZ",
    "CRISIS-MANAGEMENT": "KRIZ",
}
#: deployment categories (code → English name; message ids, as :data:`ORGANISATIONS`)
CATEGORIES: dict[str, str] = {
    "sar": "Search and rescue",
    "fire": "Fire",
    "flood": "Flood",
    "accident": "Accident",
    "exercise": "Exercise",
    "public_event": "Public event",
    "other": "Other category",
}
STATUSES = ("requested", "accepted", "in_progress", "completed", "cancelled")
#: the states' names (message ids, as :data:`ORGANISATIONS`)
STATUS_NAMES: dict[str, str] = {
    "requested": "Requested",
    "accepted": "Accepted",
    "in_progress": "In progress",
    "completed": "Completed",
    "cancelled": "Cancelled",
}
TRANSITIONS: dict[str, frozenset[str]] = {
    "requested": frozenset({"accepted", "cancelled"}),
    "accepted": frozenset({"in_progress", "cancelled"}),
    "in_progress": frozenset({"completed", "cancelled"}),
    "completed": frozenset(),
    "cancelled": frozenset(),
}


@dataclass(frozen=True)
class Deployment:
    id: int
    organisation: str
    category: str
    location: str
    lat_deg: float | None
    lon_deg: float | None
    requested_at: str
    first_takeoff_at: str | None
    ended_at: str | None
    status: str
    outcome: str | None
    notes: str | None
    created_at: str
    updated_at: str

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> Deployment:
        return cls(**{k: row[k] for k in cls.__dataclass_fields__})


def normalise_organisation(value: str) -> str:
    key = value.strip().upper().replace(" ", "_")
    key = _ORG_ALIASES.get(key, key)
    if key not in ORGANISATIONS:
        raise BadInputError(
            _("unknown organisation {value!r}; use one of {choices}").format(
                value=value, choices=", ".join(ORGANISATIONS)
            )
        )
    return key


def normalise_category(value: str) -> str:
    key = value.strip().lower().replace(" ", "_").replace("-", "_")
    key = {"search_and_rescue": "sar", "event": "public_event"}.get(key, key)
    if key not in CATEGORIES:
        raise BadInputError(
            _("unknown category {value!r}; use one of {choices}").format(
                value=value, choices=", ".join(CATEGORIES)
            )
        )
    return key


#: the years a deployment's times may fall in: those the GOV 16 report and the open-data
#: export cover (``report indicator --year``); year 1 was stored as "1-01-01T…" and broke the
#: report, year 9999 sat in no report at all
FIRST_YEAR, LAST_YEAR = 2000, 2100
#: longest place name (the portal's request form allows as many) and longest notes/outcome
MAX_LOCATION = 200
MAX_TEXT = 2000


def parse_time(value: str | datetime | None, what: str = "time") -> str | None:
    """ISO 8601 (naive = UTC) → ``YYYY-MM-DDTHH:MM:SSZ``, in the years 2000–2100.

    >>> parse_time("2024-05-02T08:15:00+02:00")
    '2024-05-02T06:15:00Z'
    >>> parse_time("9999-12-31", "requested_at")
    Traceback (most recent call last):
    ...
    dronekit_plzen.errors.BadInputError: requested_at '9999-12-31' is out of range: ...2100...
    """
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        dt = value
    else:
        text = value.strip().replace("Z", "+00:00")
        try:
            dt = datetime.fromisoformat(text)
        except ValueError:
            raise BadInputError(
                _("{what} is not an ISO 8601 time: {value!r}").format(what=what, value=value)
            ) from None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    try:  # 0001-01-01T00:00+05:00 or 9999-12-31T23:59-05:00 overflow on the way to UTC
        utc = dt.astimezone(timezone.utc)
    except OverflowError:
        utc = None
    if utc is None or not FIRST_YEAR <= utc.year <= LAST_YEAR:
        raise BadInputError(
            _("{what} {value!r} is out of range: a time in the years {a} to {b} is needed").format(
                what=what, value=str(value), a=FIRST_YEAR, b=LAST_YEAR
            )
        )
    return utc.strftime("%Y-%m-%dT%H:%M:%SZ")


#: a time "now" may lead the clock by this much (a laptop's clock against the server's)
CLOCK_SLACK_S = 300.0
#: a flight may have taken off this long before its deployment was requested (a pilot already
#: in the air, the request registered afterwards); beyond it the flight is another one
FLIGHT_SLACK_S = 24 * 3600.0


def _utc(iso: str) -> datetime | None:
    """A stored time as an aware UTC datetime (a naive one is UTC); None for one that is not a
    time (a row written by hand: such a row is judged by nothing rather than a traceback)."""
    try:
        t = datetime.fromisoformat(str(iso).strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return t.replace(tzinfo=timezone.utc) if t.tzinfo is None else t


def _span(seconds: float) -> str:
    """A duration as a person says it: 3 min, 5.2 h, 11.4 years."""
    s = abs(seconds)
    if s < 3600:
        return _("{n:.0f} min").format(n=s / 60.0)
    if s < 2 * 86400:
        return _("{n:.1f} h").format(n=s / 3600.0)
    if s < 365.25 * 86400:
        return _("{n:.0f} days").format(n=s / 86400.0)
    return _("{n:.1f} years").format(n=s / (365.25 * 86400.0))


def check_past(when: str, what: str) -> str:
    """``when`` (as :func:`parse_time` gives it) is not in the future: a deployment records
    what has happened; a local time typed without its zone is read as UTC and lands an hour or
    two ahead, which the message names."""
    t = _utc(when)
    ahead = math.nan if t is None else (t - datetime.now(timezone.utc)).total_seconds()
    if ahead > CLOCK_SLACK_S:
        raise BadInputError(
            _(
                "{what} {when} is {span} in the future (now is {now}): a deployment records what "
                "has happened; a time without a zone is UTC, give a local time with its zone "
                "(e.g. +01:00)"
            ).format(what=what, when=when, span=_span(ahead), now=utc_now_iso())
        )
    return when


def check_after_request(when: str, what: str, dep: Deployment) -> str:
    """``when`` is not before ``dep`` was requested (an end, a status change)."""
    t, req = _utc(when), _utc(dep.requested_at)
    if t is not None and req is not None and t < req:
        raise BadInputError(
            _(
                "{what} {when} is before deployment #{id} was requested ({req}): correct the "
                "request time with --requested-at"
            ).format(what=what, when=when, id=dep.id, req=dep.requested_at)
        )
    return when


def check_text(value: str | None, what: str, limit: int) -> None:
    """Refuse a text longer than ``limit`` characters (a place name, notes, an outcome)."""
    if value is not None and len(value) > limit:
        raise BadInputError(
            _("{what} is too long: {n:,} characters, at most {m:,} are allowed").format(
                what=what, n=len(value), m=limit
            )
        )


def check_location(location: str) -> str:
    """The place name stripped; refused when empty or longer than :data:`MAX_LOCATION`."""
    if not location.strip():
        raise BadInputError(_("a deployment needs a location"))
    check_text(location.strip(), "location", MAX_LOCATION)
    return location.strip()


def create_deployment(
    store: Store,
    *,
    organisation: str,
    category: str,
    location: str,
    requested_at: str | datetime | None = None,
    lat_deg: float | None = None,
    lon_deg: float | None = None,
    status: str = "requested",
    notes: str | None = None,
) -> Deployment:
    """Register a deployment request; returns it with its id."""
    org = normalise_organisation(organisation)
    cat = normalise_category(category)
    location = check_location(location)
    check_text(notes, "notes", MAX_TEXT)
    if status not in ("requested", "accepted"):
        raise BadInputError(_("a new deployment starts as 'requested' or 'accepted'"))
    if (lat_deg is None) != (lon_deg is None):
        raise BadInputError(_("give both latitude and longitude, or neither"))
    if (
        lat_deg is not None
        and lon_deg is not None
        and not (-90 <= lat_deg <= 90 and -180 <= lon_deg <= 180)
    ):
        raise BadInputError(_("coordinates out of range") + f": {lat_deg}, {lon_deg}")
    now = utc_now_iso()
    req = parse_time(requested_at, "requested_at")
    req = now if req is None else check_past(req, "requested_at")
    with store.transaction():
        cur = store.conn.execute(
            "INSERT INTO deployments (organisation, category, location, lat_deg, lon_deg, "
            "requested_at, status, notes, created_at, updated_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (org, cat, location, lat_deg, lon_deg, req, status, notes, now, now),
        )
        dep_id = int(cur.lastrowid or 0)
        store.conn.execute(
            "INSERT INTO deployment_status_log (deployment_id, from_status, to_status, at) "
            "VALUES (?, NULL, ?, ?)",
            (dep_id, status, now),
        )
    return get_deployment(store, dep_id)


def get_deployment(store: Store, deployment_id: int) -> Deployment:
    rows = store.query("SELECT * FROM deployments WHERE id = ?", (int(deployment_id),))
    if not rows:
        raise BadInputError(_("no deployment with id {id}").format(id=deployment_id))
    return Deployment.from_row(rows[0])


def list_deployments(
    store: Store,
    *,
    year: int | None = None,
    status: str | None = None,
    organisation: str | None = None,
) -> list[Deployment]:
    check_year(year)  # a year 99999 or a status "done" had listed nothing, exit 0
    if status is not None and status not in STATUSES:
        raise BadInputError(
            _("unknown status {value!r}; use one of {choices}").format(
                value=status, choices=", ".join(STATUSES)
            )
        )
    where, params = ["1 = 1"], []
    if year is not None:
        where.append("substr(requested_at, 1, 4) = ?")
        params.append(f"{int(year):04d}")
    if status is not None:
        where.append("status = ?")
        params.append(status)
    if organisation is not None:
        where.append("organisation = ?")
        params.append(normalise_organisation(organisation))
    rows = store.query(
        f"SELECT * FROM deployments WHERE {' AND '.join(where)} ORDER BY requested_at, id", params
    )
    return [Deployment.from_row(r) for r in rows]


def check_transition(current: str, new: str) -> None:
    """Raise :class:`BadInputError` unless ``current`` → ``new`` is allowed (a status cannot
    be entered again: a completed deployment is not completed twice)."""
    if new not in STATUSES:
        raise BadInputError(
            _("unknown status {value!r}; use one of {choices}").format(
                value=new, choices=", ".join(STATUSES)
            )
        )
    if new == current:
        allowed = ", ".join(sorted(TRANSITIONS[current])) or _("none (final)")
        raise BadInputError(
            _("the deployment is already {status}; allowed: {allowed}").format(
                status=current, allowed=allowed
            )
        )
    if new not in TRANSITIONS[current]:
        allowed = ", ".join(sorted(TRANSITIONS[current])) or _("none (final)")
        raise BadInputError(
            _("a deployment cannot go from {a} to {b}; allowed: {allowed}").format(
                a=current, b=new, allowed=allowed
            )
        )


def update_deployment(
    store: Store,
    deployment_id: int,
    *,
    status: str | None = None,
    outcome: str | None = None,
    notes: str | None = None,
    location: str | None = None,
    first_takeoff_at: str | datetime | None = None,
    ended_at: str | datetime | None = None,
    at: str | datetime | None = None,
    requested_at: str | datetime | None = None,
) -> Deployment:
    """Change fields and/or move the status along a valid transition.

    Moving to ``completed`` or ``cancelled`` sets ``ended_at`` (to ``at`` or now) when unset.
    No time may lie in the future, a status change or an end before the request, nor a take-off
    more than :data:`FLIGHT_SLACK_S` before it (a corrected ``requested_at`` included).
    """
    check_text(outcome, "outcome", MAX_TEXT)
    check_text(notes, "notes", MAX_TEXT)
    if location is not None:
        location = check_location(location)
    now = utc_now_iso()
    with store.transaction():
        dep = get_deployment(store, deployment_id)
        values: dict[str, Any] = {}
        req = parse_time(requested_at, "requested_at")
        if req is not None:
            values["requested_at"] = check_past(req, "requested_at")
            dep = replace(dep, requested_at=req)
            if dep.first_takeoff_at is not None:
                check_takeoff(dep, dep.first_takeoff_at, _("its first flight"))
            if dep.ended_at is not None:
                check_after_request(dep.ended_at, "ended_at", dep)
        if status is not None:
            check_transition(dep.status, status)
            values["status"] = status
            given = parse_time(at, "at")
            when = now if given is None else check_after_request(check_past(given, "at"), "at", dep)
            store.conn.execute(
                "INSERT INTO deployment_status_log (deployment_id, from_status, to_status, at) "
                "VALUES (?, ?, ?, ?)",
                (dep.id, dep.status, status, when),
            )
            if status in ("completed", "cancelled") and dep.ended_at is None and ended_at is None:
                values["ended_at"] = when
        if outcome is not None:
            values["outcome"] = outcome
        if notes is not None:
            values["notes"] = notes
        if location is not None:
            values["location"] = location
        first = parse_time(first_takeoff_at, "first_takeoff_at")
        if first is not None:
            values["first_takeoff_at"] = check_takeoff(
                dep, check_past(first, "first_takeoff_at"), "first_takeoff_at"
            )
        end = parse_time(ended_at, "ended_at")
        if end is not None:
            values["ended_at"] = check_after_request(check_past(end, "ended_at"), "ended_at", dep)
        if values:
            values["updated_at"] = now
            sets = ", ".join(f"{k} = ?" for k in values)
            store.conn.execute(
                f"UPDATE deployments SET {sets} WHERE id = ?", [*values.values(), dep.id]
            )
    return get_deployment(store, deployment_id)


def check_takeoff(dep: Deployment, takeoff: str, what: str) -> str:
    """A take-off more than :data:`FLIGHT_SLACK_S` before ``dep`` was requested belongs to
    another flight: linked, a 2015 log had moved a 2026 deployment into 2015's indicator."""
    t, req = _utc(takeoff), _utc(dep.requested_at)
    early = math.nan if t is None or req is None else (req - t).total_seconds()
    if early > FLIGHT_SLACK_S:
        raise BadInputError(
            _(
                "{what} took off at {t}, {span} before deployment #{id} was requested ({req}): "
                "not a flight for it (a wrong id?); if the request came earlier, correct it "
                "with deployments update {id} --requested-at"
            ).format(what=what, t=takeoff, span=_span(early), id=dep.id, req=dep.requested_at)
        )
    return takeoff


def link_flight(store: Store, deployment_id: int, flight_id: int) -> int | None:
    """Attribute a flight to a deployment (:func:`link_flights`); the deployment it was moved
    from, if any."""
    return link_flights(store, deployment_id, [flight_id]).get(int(flight_id))


def link_flights(store: Store, deployment_id: int, flight_ids: Sequence[int]) -> dict[int, int]:
    """Attribute flights to a deployment, all or none (:func:`attach_flights` in one
    transaction). Returns {flight: the deployment it was moved from}."""
    with store.transaction():
        return attach_flights(store, deployment_id, flight_ids)


def attach_flights(
    store: Store, deployment_id: int, flight_ids: Sequence[int], what: str | None = None
) -> dict[int, int]:
    """Attribute flights to a deployment inside the caller's transaction; the deployment's
    first takeoff follows them. Returns {flight: the deployment it was moved from}, whose times
    follow the flights it keeps.

    A completed or cancelled deployment keeps its status; one still requested or accepted moves
    to in_progress (a flight was flown for it). A flight that took off more than a day before
    the request is refused (:func:`check_takeoff`; named ``what``, default "flight #N"), and the
    caller's transaction then keeps none of them.
    """
    moved: dict[int, int] = {}
    dep = get_deployment(store, deployment_id)
    for flight_id in flight_ids:
        row = store.conn.execute(
            "SELECT COALESCE(takeoff_utc, start_utc), deployment_id FROM flights WHERE id = ?",
            (int(flight_id),),
        ).fetchone()
        if row is None:
            raise BadInputError(_("no flight with id {id}").format(id=flight_id))
        if row[0]:
            check_takeoff(dep, str(row[0]), what or _("flight #{id}").format(id=flight_id))
        if row[1] not in (None, dep.id):
            moved[int(flight_id)] = int(row[1])
        store.conn.execute(
            "UPDATE flights SET deployment_id = ? WHERE id = ?", (dep.id, int(flight_id))
        )
    for dep_id in {dep.id, *moved.values()}:
        refresh_times(store, dep_id)
    if dep.status in ("requested", "accepted") and flight_ids:
        now = utc_now_iso()
        path = ["accepted", "in_progress"] if dep.status == "requested" else ["in_progress"]
        prev = dep.status
        for st in path:
            store.conn.execute(
                "INSERT INTO deployment_status_log (deployment_id, from_status, to_status, at)"
                " VALUES (?, ?, ?, ?)",
                (dep.id, prev, st, now),
            )
            prev = st
        store.conn.execute(
            "UPDATE deployments SET status = 'in_progress', updated_at = ? WHERE id = ?",
            (now, dep.id),
        )
    return moved


def refresh_times(store: Store, deployment_id: int) -> None:
    """The deployment's first takeoff from its flights (after a link or a flight's new data;
    none when its flights moved to another deployment)."""
    (first,) = store.conn.execute(
        "SELECT MIN(COALESCE(takeoff_utc, start_utc)) FROM flights WHERE deployment_id = ?",
        (deployment_id,),
    ).fetchone()
    store.conn.execute(  # none left (the flight moved to another): no take-off
        "UPDATE deployments SET first_takeoff_at = ? WHERE id = ?", (first, deployment_id)
    )


def record_sighting(
    store: Store,
    deployment_id: int,
    lat_deg: float,
    lon_deg: float,
    *,
    vehicle_sysid: int | None = None,
    note: str | None = None,
    at: str | datetime | None = None,
) -> int:
    """Record a confirmed sighting (e.g. a person found) at a position; returns its id."""
    if not (-90 <= lat_deg <= 90 and -180 <= lon_deg <= 180):
        raise BadInputError(_("coordinates out of range") + f": {lat_deg}, {lon_deg}")
    check_text(note, "note", MAX_TEXT)
    given = parse_time(at, "at")
    when = utc_now_iso() if given is None else check_past(given, "at")
    with store.transaction():
        get_deployment(store, deployment_id)
        cur = store.conn.execute(
            "INSERT INTO deployment_sightings (deployment_id, lat_deg, lon_deg, vehicle_sysid, "
            "note, at) VALUES (?, ?, ?, ?, ?, ?)",
            (int(deployment_id), lat_deg, lon_deg, vehicle_sysid, note, when),
        )
        return int(cur.lastrowid or 0)


def list_sightings(store: Store, deployment_id: int) -> list[dict[str, Any]]:
    """The sightings recorded for a deployment, oldest first."""
    return store.query(
        "SELECT * FROM deployment_sightings WHERE deployment_id = ? ORDER BY at, id",
        (int(deployment_id),),
    )
