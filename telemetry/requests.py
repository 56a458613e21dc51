"""Mission requests from the crisis staff web portal, its users and the audit log (issue 18).

A request is filed by a requesting organisation (HZS, PČR, ZZS, the city's crisis staff) and
answered by a pilot. Its state moves

    requested → accepted → in_progress → completed
    requested → refused          (answered without a deployment)
    any open state → cancelled

Accepting creates the :mod:`telemetry.deployments` deployment the flights are recorded for;
from then on the request's state *is* the deployment's status, so the recorder moving the
deployment to ``in_progress`` (its first flight) shows on the status board without anybody
touching the request, and the same validated flow (:func:`~telemetry.deployments.check_transition`)
guards both. Every change is written to ``audit_log`` in the same transaction as the change.

Access rules (who may see or do what) are the portal's; this module records who did it.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from dronekit_plzen.errors import BadInputError
from dronekit_plzen.i18n import _
from telemetry.deployments import (
    CATEGORIES,
    ORGANISATIONS,
    STATUS_NAMES,
    check_transition,
    create_deployment,
    update_deployment,
)
from telemetry.schema import utc_now_iso
from telemetry.store import Store

#: organisations filing requests on the portal (codes of deployments.ORGANISATIONS)
REQUEST_ORGANISATIONS: tuple[str, ...] = ("HZS", "PCR", "ZZS", "KRIZ")
#: request categories (codes of :data:`telemetry.deployments.CATEGORIES`)
REQUEST_CATEGORIES: tuple[str, ...] = ("sar", "fire", "flood", "accident", "exercise")
URGENCIES: tuple[str, ...] = ("immediate", "urgent", "routine")
#: the missing person's category (lost-person behaviour statistics use these groups)
SUBJECT_CATEGORIES: tuple[str, ...] = (
    "child",
    "elderly",
    "dementia",
    "hiker",
    "despondent",
    "other",
)
ROLES: tuple[str, ...] = ("requester", "pilot", "admin")
STATES: tuple[str, ...] = (
    "requested",
    "accepted",
    "in_progress",
    "completed",
    "cancelled",
    "refused",
)
OPEN_STATES: tuple[str, ...] = ("requested", "accepted", "in_progress")
#: the display names of the codes above, in English: message ids (``web.po``), translated
#: where shown (the portal's pages, the GUI's requests panel)
LABELS: dict[str, dict[str, str]] = {
    # the deployments' own names (one term per concept: a request is a deployment's first state)
    "state": {**STATUS_NAMES, "refused": "Refused"},
    "organisation": {code: ORGANISATIONS[code] for code in REQUEST_ORGANISATIONS},
    "category": {code: CATEGORIES[code] for code in REQUEST_CATEGORIES},
    "urgency": {
        "immediate": "immediate (lives at risk)",
        "urgent": "urgent (within the hour)",
        "routine": "routine (planned)",
    },
    "subject": {
        "child": "child",
        "elderly": "elderly person",
        "dementia": "person with dementia",
        "hiker": "hiker",
        "despondent": "despondent person",
        "other": "other",
    },
    "role": {"requester": "requester", "pilot": "pilot", "admin": "administrator"},
}


def label(t: Callable[[str], str], kind: str, code: str | None) -> str:
    """The display name of ``code`` translated by ``t`` (the code itself when unknown)."""
    if code is None:
        return "—"
    text = LABELS.get(kind, {}).get(code)
    return t(text) if text else code


@dataclass(frozen=True)
class NewRequest:
    """A validated request as the portal's form produces it (lon/lat in WGS84 degrees)."""

    organisation: str
    category: str
    urgency: str
    location: str
    lat_deg: float
    lon_deg: float
    contact_name: str
    contact_phone: str
    area_geojson: str | None = None
    subject_category: str | None = None
    subject_description: str | None = None
    lkp_lat_deg: float | None = None
    lkp_lon_deg: float | None = None
    lkp_time: str | None = None
    notes: str | None = None


@dataclass(frozen=True)
class MissionRequest:
    id: int
    organisation: str
    category: str
    urgency: str
    state: str
    location: str
    lat_deg: float
    lon_deg: float
    area_geojson: str | None
    subject_category: str | None
    subject_description: str | None
    lkp_lat_deg: float | None
    lkp_lon_deg: float | None
    lkp_time: str | None
    contact_name: str
    contact_phone: str
    notes: str | None
    requested_by: int | None
    requested_by_name: str | None
    deployment_id: int | None
    assigned_pilot: str | None
    drones: tuple[str, ...]
    answer: str | None
    poa_geojson: str | None
    searched_share: float | None
    orthophoto_path: str | None
    seen_at: str | None
    created_at: str
    updated_at: str

    @property
    def is_open(self) -> bool:
        return self.state in OPEN_STATES

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> MissionRequest:
        values: dict[str, Any] = {k: row.get(k) for k in cls.__dataclass_fields__}
        values["drones"] = tuple(json.loads(row["drones"])) if row.get("drones") else ()
        return cls(**values)


_SELECT = (
    "SELECT r.*, COALESCE(d.status, r.status) AS state, u.username AS requested_by_name "
    "FROM mission_requests r LEFT JOIN deployments d ON d.id = r.deployment_id "
    "LEFT JOIN web_users u ON u.id = r.requested_by"
)


# ----------------------------------------------------------------------------- audit log
def audit(
    store: Store,
    actor: str,
    action: str,
    *,
    role: str | None = None,
    request_id: int | None = None,
    detail: dict[str, Any] | None = None,
) -> None:
    """Append one audit entry (call inside the transaction of the change it records)."""
    store.conn.execute(
        "INSERT INTO audit_log (at, actor, role, action, request_id, detail) "
        "VALUES (?, ?, ?, ?, ?, ?)",
        (
            utc_now_iso(),
            actor,
            role,
            action,
            request_id,
            json.dumps(detail or {}, ensure_ascii=False, sort_keys=True),
        ),
    )


def recent_login_failures(store: Store, username: str, window_s: float) -> int:
    """Wrong passwords for ``username`` (compared stripped and case-folded) in the last
    ``window_s`` seconds since its last successful sign-in, from the audit log: the count
    outlives a restart of the portal and is shared by all its worker processes."""
    since = utc_now_iso(ago_s=float(window_s))
    key = username.strip().casefold()
    n = 0
    for actor, action in store.conn.execute(
        "SELECT actor, action FROM audit_log "
        "WHERE action IN ('login', 'login_failed') AND at >= ? ORDER BY id",
        (since,),
    ):
        if str(actor).strip().casefold() == key:
            n = 0 if action == "login" else n + 1
    return n


def audit_entries(
    store: Store, *, request_id: int | None = None, limit: int = 500
) -> list[dict[str, Any]]:
    """Audit entries, newest first (``detail`` decoded)."""
    where, params = "", []
    if request_id is not None:
        where, params = "WHERE request_id = ?", [int(request_id)]
    rows = store.query(
        f"SELECT * FROM audit_log {where} ORDER BY id DESC LIMIT ?", [*params, int(limit)]
    )
    for r in rows:
        r["detail"] = json.loads(r["detail"] or "{}")
    return rows


# ----------------------------------------------------------------------------- users
def add_user(
    store: Store,
    username: str,
    password_hash: str,
    role: str,
    *,
    organisation: str | None = None,
    actor: str = "cli",
) -> int:
    """Create a portal account (the password arrives hashed); returns its id."""
    name = username.strip()
    if not name or len(name) > 64 or any(c.isspace() for c in name):
        raise BadInputError(_("a user name is 1–64 characters without spaces"), where="username")
    if role not in ROLES:
        raise BadInputError(
            _("unknown role {value!r}; use one of {choices}").format(
                value=role, choices=", ".join(ROLES)
            ),
            where="role",
        )
    if role == "requester" and organisation not in REQUEST_ORGANISATIONS:
        raise BadInputError(
            _("a requester belongs to one organisation: {choices}").format(
                choices=", ".join(REQUEST_ORGANISATIONS)
            ),
            where="organisation",
        )
    if organisation is not None and organisation not in REQUEST_ORGANISATIONS:
        raise BadInputError(
            _("unknown organisation {value!r}; use one of {choices}").format(
                value=organisation, choices=", ".join(REQUEST_ORGANISATIONS)
            ),
            where="organisation",
        )
    with store.transaction():
        if store.conn.execute("SELECT 1 FROM web_users WHERE username = ?", (name,)).fetchone():
            raise BadInputError(_("the user {name!r} exists already").format(name=name))
        cur = store.conn.execute(
            "INSERT INTO web_users (username, password_hash, role, organisation, created_at) "
            "VALUES (?, ?, ?, ?, ?)",
            (name, password_hash, role, organisation, utc_now_iso()),
        )
        uid = int(cur.lastrowid or 0)
        audit(
            store,
            actor,
            "user_added",
            detail={"user": name, "role": role, "organisation": organisation},
        )
    return uid


def get_user(store: Store, username: str) -> dict[str, Any] | None:
    rows = store.query(
        "SELECT * FROM web_users WHERE username = ? AND active = 1", (username.strip(),)
    )
    return rows[0] if rows else None


def get_user_by_id(store: Store, user_id: int) -> dict[str, Any] | None:
    rows = store.query("SELECT * FROM web_users WHERE id = ? AND active = 1", (int(user_id),))
    return rows[0] if rows else None


def list_users(store: Store) -> list[dict[str, Any]]:
    return store.query(
        "SELECT id, username, role, organisation, active, created_at FROM web_users ORDER BY id"
    )


def set_password_hash(store: Store, user_id: int, password_hash: str, *, actor: str) -> None:
    """Replace a stored hash (argon2 parameters raised, or a new password)."""
    with store.transaction():
        store.conn.execute(
            "UPDATE web_users SET password_hash = ? WHERE id = ?", (password_hash, int(user_id))
        )
        audit(store, actor, "password_rehashed", detail={"user_id": int(user_id)})


# ----------------------------------------------------------------------------- requests
def _check_choice(value: str | None, choices: Sequence[str], field: str) -> None:
    if value not in choices:
        raise BadInputError(
            _("unknown {field} {value!r}; use one of {choices}").format(
                field=field, value=value, choices=", ".join(choices)
            ),
            where=field,
        )


def create_request(
    store: Store,
    new: NewRequest,
    *,
    actor: str,
    role: str | None = None,
    user_id: int | None = None,
) -> MissionRequest:
    """File a request (state ``requested``); audited as ``request_filed``."""
    _check_choice(new.organisation, REQUEST_ORGANISATIONS, "organisation")
    _check_choice(new.category, REQUEST_CATEGORIES, "category")
    _check_choice(new.urgency, URGENCIES, "urgency")
    if new.subject_category is not None:
        _check_choice(new.subject_category, SUBJECT_CATEGORIES, "subject_category")
    if not (-90 <= new.lat_deg <= 90 and -180 <= new.lon_deg <= 180):
        raise BadInputError(_("coordinates out of range") + f": {new.lat_deg}, {new.lon_deg}")
    for field in ("location", "contact_name", "contact_phone"):
        if not str(getattr(new, field)).strip():
            raise BadInputError(_("this field is required"), where=field)
    now = utc_now_iso()
    cols = {k: getattr(new, k) for k in NewRequest.__dataclass_fields__}
    cols |= {
        "status": "requested",
        "requested_by": user_id,
        "created_at": now,
        "updated_at": now,
    }
    with store.transaction():
        cur = store.conn.execute(
            f"INSERT INTO mission_requests ({', '.join(cols)}) "
            f"VALUES ({', '.join('?' * len(cols))})",
            list(cols.values()),
        )
        rid = int(cur.lastrowid or 0)
        audit(
            store,
            actor,
            "request_filed",
            role=role,
            request_id=rid,
            detail={
                "organisation": new.organisation,
                "category": new.category,
                "urgency": new.urgency,
            },
        )
    return get_request(store, rid)


def request_for_deployment(
    store: Store, deployment_id: int, *, actor: str, contact: str = "—"
) -> MissionRequest:
    """A portal request for a deployment registered elsewhere (CLI, GUI, a telephone call),
    so that its organisation follows it on the status board; returns the existing one if any.
    """
    from telemetry.deployments import get_deployment

    rows = store.query("SELECT id FROM mission_requests WHERE deployment_id = ?", (deployment_id,))
    if rows:
        return get_request(store, rows[0]["id"])
    dep = get_deployment(store, deployment_id)
    if dep.organisation not in REQUEST_ORGANISATIONS or dep.category not in REQUEST_CATEGORIES:
        raise BadInputError(
            _("deployment {id} is not of a portal organisation and category").format(id=dep.id)
        )
    now = utc_now_iso()
    with store.transaction():
        cur = store.conn.execute(
            "INSERT INTO mission_requests (organisation, category, urgency, status, location, "
            "lat_deg, lon_deg, contact_name, contact_phone, deployment_id, seen_at, created_at, "
            "updated_at) VALUES (?, ?, 'urgent', 'accepted', ?, ?, ?, ?, '—', ?, ?, ?, ?)",
            (
                dep.organisation,
                dep.category,
                dep.location,
                dep.lat_deg if dep.lat_deg is not None else 0.0,
                dep.lon_deg if dep.lon_deg is not None else 0.0,
                contact,
                dep.id,
                now,
                dep.requested_at,
                now,
            ),
        )
        rid = int(cur.lastrowid or 0)
        audit(store, actor, "request_linked", request_id=rid, detail={"deployment_id": dep.id})
    return get_request(store, rid)


def get_request(store: Store, request_id: int) -> MissionRequest:
    rows = store.query(_SELECT + " WHERE r.id = ?", (int(request_id),))
    if not rows:
        raise BadInputError(_("no request with id {id}").format(id=request_id))
    return MissionRequest.from_row(rows[0])


def list_requests(
    store: Store,
    *,
    organisation: str | None = None,
    states: Sequence[str] | None = None,
) -> list[MissionRequest]:
    """Requests newest first; ``organisation`` limits them to one organisation's."""
    where, params = ["1 = 1"], []
    if organisation is not None:
        where.append("r.organisation = ?")
        params.append(organisation)
    if states:
        where.append(f"COALESCE(d.status, r.status) IN ({', '.join('?' * len(states))})")
        params += list(states)
    rows = store.query(_SELECT + f" WHERE {' AND '.join(where)} ORDER BY r.id DESC", params)
    return [MissionRequest.from_row(r) for r in rows]


def unseen_requests(store: Store) -> list[MissionRequest]:
    """Requests still waiting for an answer that no pilot's GUI has shown yet."""
    rows = store.query(
        _SELECT + " WHERE r.status = 'requested' AND r.deployment_id IS NULL "
        "AND r.seen_at IS NULL ORDER BY r.id"
    )
    return [MissionRequest.from_row(r) for r in rows]


def mark_seen(store: Store, request_ids: Sequence[int]) -> None:
    if not request_ids:
        return
    with store.transaction():
        store.conn.executemany(
            "UPDATE mission_requests SET seen_at = ? WHERE id = ? AND seen_at IS NULL",
            [(utc_now_iso(), int(i)) for i in request_ids],
        )


def _move(store: Store, req: MissionRequest, new_state: str) -> None:
    """Check ``req.state → new_state`` along the request flow (raises BadInputError)."""
    if req.deployment_id is None:
        allowed = {"requested": {"accepted", "refused", "cancelled"}}.get(req.state, set())
        if new_state not in allowed:
            raise BadInputError(
                _("a request cannot go from {a} to {b}; allowed: {allowed}").format(
                    a=req.state, b=new_state, allowed=", ".join(sorted(allowed)) or _("none")
                )
            )
        return
    check_transition(req.state, new_state)


def accept_request(
    store: Store,
    request_id: int,
    *,
    actor: str,
    role: str | None = None,
    pilot: str | None = None,
    drones: Sequence[str] = (),
) -> MissionRequest:
    """Accept a request: its deployment is created (status ``accepted``) and linked to it."""
    req = get_request(store, request_id)
    _move(store, req, "accepted")
    now = utc_now_iso()
    with store.transaction():  # claim it first: two pilots accepting at once → one wins
        cur = store.conn.execute(
            "UPDATE mission_requests SET status = 'accepted', updated_at = ? "
            "WHERE id = ? AND status = 'requested' AND deployment_id IS NULL",
            (now, req.id),
        )
        if cur.rowcount != 1:
            raise BadInputError(_("the request was answered by someone else meanwhile"))
    try:
        dep = create_deployment(
            store,
            organisation=req.organisation,
            category=req.category,
            location=req.location,
            lat_deg=req.lat_deg,
            lon_deg=req.lon_deg,
            requested_at=req.created_at,
            status="accepted",
            notes=f"web request {req.id}",
        )
    except BaseException:
        with store.transaction():
            store.conn.execute(
                "UPDATE mission_requests SET status = 'requested' WHERE id = ?", (req.id,)
            )
        raise
    crew = [d.strip() for d in drones if d.strip()]
    with store.transaction():
        store.conn.execute(
            "UPDATE mission_requests SET deployment_id = ?, assigned_pilot = ?, drones = ?, "
            "seen_at = COALESCE(seen_at, ?), updated_at = ? WHERE id = ?",
            (dep.id, pilot, json.dumps(crew, ensure_ascii=False), now, now, req.id),
        )
        audit(
            store,
            actor,
            "request_accepted",
            role=role,
            request_id=req.id,
            detail={"deployment_id": dep.id, "pilot": pilot, "drones": crew},
        )
    return get_request(store, req.id)


def refuse_request(
    store: Store, request_id: int, *, actor: str, role: str | None = None, reason: str
) -> MissionRequest:
    """Refuse a request that was not accepted (a reason is required)."""
    if not reason.strip():
        raise BadInputError(_("give the reason of the refusal"), where="reason")
    req = get_request(store, request_id)
    _move(store, req, "refused")
    with store.transaction():
        store.conn.execute(
            "UPDATE mission_requests SET status = 'refused', answer = ?, updated_at = ? "
            "WHERE id = ?",
            (reason.strip(), utc_now_iso(), req.id),
        )
        audit(
            store,
            actor,
            "request_refused",
            role=role,
            request_id=req.id,
            detail={"reason": reason.strip()},
        )
    return get_request(store, req.id)


def advance_request(
    store: Store,
    request_id: int,
    new_state: str,
    *,
    actor: str,
    role: str | None = None,
    reason: str | None = None,
) -> MissionRequest:
    """Move a request to ``in_progress``, ``completed`` or ``cancelled`` (validated flow)."""
    if new_state not in ("in_progress", "completed", "cancelled"):
        raise BadInputError(
            _("unknown {field} {value!r}; use one of {choices}").format(
                field="state", value=new_state, choices="in_progress, completed, cancelled"
            )
        )
    req = get_request(store, request_id)
    _move(store, req, new_state)
    note = (reason or "").strip() or None
    if req.deployment_id is not None:
        update_deployment(store, req.deployment_id, status=new_state, outcome=note)
    with store.transaction():
        store.conn.execute(
            "UPDATE mission_requests SET status = ?, answer = COALESCE(?, answer), "
            "updated_at = ? WHERE id = ?",
            (new_state, note, utc_now_iso(), req.id),
        )
        audit(
            store,
            actor,
            f"request_{new_state}",
            role=role,
            request_id=req.id,
            detail={"from": req.state, "reason": note},
        )
    return get_request(store, req.id)


def attach_results(
    store: Store,
    request_id: int,
    *,
    actor: str,
    role: str | None = None,
    poa_geojson: str | None = None,
    searched_share: float | None = None,
    orthophoto_path: str | None = None,
) -> MissionRequest:
    """Attach a probability search's POA map and searched share, or an orthophoto."""
    req = get_request(store, request_id)
    values: dict[str, Any] = {}
    if poa_geojson is not None:
        try:
            doc = json.loads(poa_geojson)
        except ValueError as exc:
            raise BadInputError(_("the POA map is not GeoJSON") + f": {exc}") from None
        if not isinstance(doc, dict) or doc.get("type") != "FeatureCollection":
            raise BadInputError(_("the POA map must be a GeoJSON FeatureCollection"))
        values["poa_geojson"] = poa_geojson
    if searched_share is not None:
        if not 0.0 <= searched_share <= 1.0:
            raise BadInputError(_("the searched share is a fraction 0–1") + f": {searched_share}")
        values["searched_share"] = float(searched_share)
    if orthophoto_path is not None:
        values["orthophoto_path"] = str(orthophoto_path)
    if not values:
        return req
    values["updated_at"] = utc_now_iso()
    with store.transaction():
        sets = ", ".join(f"{k} = ?" for k in values)
        store.conn.execute(
            f"UPDATE mission_requests SET {sets} WHERE id = ?", [*values.values(), req.id]
        )
        audit(
            store,
            actor,
            "results_attached",
            role=role,
            request_id=req.id,
            detail={k: v for k, v in values.items() if k in ("searched_share", "orthophoto_path")}
            | {"poa": "poa_geojson" in values},
        )
    return get_request(store, req.id)


# ----------------------------------------------------------------------------- flown tracks
def deployment_tracks(
    store: Store, deployment_id: int, *, max_points: int = 400
) -> list[dict[str, Any]]:
    """The flights of a deployment: each one's track (thinned to ``max_points``) and its last
    recorded position; ``live`` is true while the recorder still writes it."""
    flights = store.query(
        "SELECT f.id, f.complete, f.end_utc, v.name AS vehicle FROM flights f "
        "JOIN vehicles v ON v.id = f.vehicle_id WHERE f.deployment_id = ? ORDER BY f.id",
        (int(deployment_id),),
    )
    out: list[dict[str, Any]] = []
    for f in flights:
        (n,) = store.conn.execute(
            "SELECT COUNT(*) FROM samples WHERE flight_id = ? AND lat_deg IS NOT NULL",
            (f["id"],),
        ).fetchone()
        step = max(1, -(-int(n) // max_points))
        rows = store.conn.execute(
            "SELECT lon_deg, lat_deg, rel_alt_m, t_s FROM samples "
            "WHERE flight_id = ? AND lat_deg IS NOT NULL ORDER BY t_s",
            (f["id"],),
        ).fetchall()
        coords = [[round(r[0], 7), round(r[1], 7)] for r in rows[::step]]
        last = rows[-1] if rows else None
        if last is not None and (
            not coords or coords[-1] != [round(last[0], 7), round(last[1], 7)]
        ):
            coords.append([round(last[0], 7), round(last[1], 7)])
        out.append(
            {
                "flight_id": f["id"],
                "vehicle": f["vehicle"],
                "live": not f["complete"] and f["end_utc"] is None,
                "coords": coords,
                "last": None
                if last is None
                else {"lon": last[0], "lat": last[1], "alt_m": last[2], "t_s": last[3]},
            }
        )
    return out
