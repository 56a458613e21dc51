"""The portal over HTTP (Starlette's TestClient on the real app and a real SQLite file):
access by role and organisation, CSRF, injection and XSS attempts, the request flow, the
audit log, open data, tiles, languages."""

from __future__ import annotations

import csv
import io
import json
import os
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from portal_kit import USERS, csrf_of, request_form, seed_users

from telemetry import requests as rq
from telemetry.store import open_store

XSS = '<script>alert("x")</script><img src=x onerror=alert(1)>'
SQLI = "x'); DROP TABLE mission_requests; --"


def file_request(client: Any, **over: str) -> int:
    r = client.post(
        "/requests/new",
        data={"csrf_token": client.csrf, **request_form(**over)},
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text[:2000]
    return int(r.headers["location"].rsplit("/", 1)[1])


def count_requests(db: Path) -> int:
    with open_store(db) as s:
        return s.count("mission_requests")


def test_an_id_beyond_sqlite_is_not_found_not_a_server_error(portal, login) -> None:
    """Found from outside: /requests/99999999999999999999999 overflowed SQLite's INTEGER (500)."""
    pilot = login("pilot1")
    huge = "99999999999999999999999"
    for url in (
        f"/requests/{huge}",
        f"/api/requests/{huge}/live",
        f"/requests/{huge}/orthophoto.png",
        "/requests/0",
        "/requests/-5",
    ):
        assert pilot.get(url).status_code == 404, url
    for act in ("accept", "state"):
        r = pilot.post(f"/requests/{huge}/{act}", data={"csrf_token": pilot.csrf, "state": "x"})
        assert r.status_code == 404, act


def test_requesters_see_only_their_organisations_requests(portal, login) -> None:
    hzs, pcr, pilot = login("hzs1"), login("pcr1"), login("pilot1")
    rid = file_request(hzs)
    page = hzs.get(f"/requests/{rid}")
    assert page.status_code == 200 and "Plzeň-Bory, lesopark" in page.text
    assert f'data-id="{rid}"' in hzs.get("/requests").text
    assert f'data-id="{rid}"' in pilot.get("/requests").text
    assert f'data-id="{rid}"' not in pcr.get("/requests").text
    for url in (f"/requests/{rid}", f"/api/requests/{rid}/live", f"/requests/{rid}/orthophoto"):
        assert pcr.get(url).status_code == 404, url  # not even its existence is disclosed
    r = pcr.post(f"/requests/{rid}/state", data={"csrf_token": pcr.csrf, "state": "cancelled"})
    assert r.status_code == 404 and hzs.get(f"/api/requests/{rid}/live").json()["state"] == (
        "requested"
    )
    live = hzs.get(f"/api/requests/{rid}/live").json()
    assert live["area"]["type"] == "Polygon" and live["tracks"] == []


def test_a_role_without_rights_gets_403(portal, login) -> None:
    hzs, pilot, admin = login("hzs1"), login("pilot1"), login("admin1")
    rid = file_request(hzs)
    forbidden = [
        (hzs, "post", f"/requests/{rid}/accept", {"pilot": "me"}),
        (hzs, "post", f"/requests/{rid}/refuse", {"reason": "no"}),
        (hzs, "post", f"/requests/{rid}/state", {"state": "completed"}),
        (hzs, "get", "/audit", None),
        (hzs, "get", "/admin/users", None),
        (hzs, "post", "/admin/users", {"username": "x", "password": "y" * 12, "role": "admin"}),
        (hzs, "post", "/admin/users/active", {"username": "pilot1", "active": "0"}),
        (
            pilot,
            "post",
            "/admin/users/password",
            {"username": "admin1", "password": "y" * 12, "password2": "y" * 12},
        ),
        (pilot, "get", "/audit", None),
        (pilot, "get", "/requests/new", None),
        (pilot, "post", "/requests/new", request_form()),
    ]
    before = count_requests(portal["db"])
    for client, method, url, data in forbidden:
        if method == "get":
            r = client.get(url)
        else:
            r = client.post(url, data={"csrf_token": client.csrf, **(data or {})})
        assert r.status_code == 403, (url, r.status_code)
        assert "your role does not allow this" in r.text
    assert count_requests(portal["db"]) == before
    assert hzs.get(f"/api/requests/{rid}/live").json()["state"] == "requested"
    assert admin.get("/audit").status_code == 200
    from fastapi.testclient import TestClient

    anon = TestClient(portal["app"])
    r = anon.get("/requests", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/login")
    assert anon.get(f"/api/requests/{rid}/live").status_code == 401


def test_forms_without_this_sessions_csrf_token_are_refused(portal, login) -> None:
    hzs, pilot = login("hzs1"), login("pilot1")
    rid = file_request(hzs)
    other_session_token = pilot.csrf
    before = count_requests(portal["db"])
    for token in (None, "", "forged-token", other_session_token):
        data = request_form()
        if token is not None:
            data["csrf_token"] = token
        r = hzs.post("/requests/new", data=data)
        assert r.status_code == 403, token
        assert "the form expired" in r.text
        r = pilot.post(
            f"/requests/{rid}/accept",
            data={"pilot": "p"} | ({} if token is None else {"csrf_token": hzs.csrf}),
        )
        assert r.status_code == 403
    assert count_requests(portal["db"]) == before
    assert hzs.get(f"/api/requests/{rid}/live").json()["state"] == "requested"
    assert hzs.post("/logout", data={}).status_code == 403
    from fastapi.testclient import TestClient

    anon = TestClient(portal["app"])
    r = anon.post("/login", data={"username": "hzs1", "password": USERS["hzs1"][0]})
    assert r.status_code == 403


def test_sql_injection_and_stored_xss_in_every_field(portal, login) -> None:
    hzs, pilot, admin = login("hzs1"), login("pilot1"), login("admin1")
    before = count_requests(portal["db"])
    # fields with a fixed vocabulary or syntax refuse both payloads, naming the field
    for name in (
        "organisation",
        "category",
        "urgency",
        "subject_category",
        "contact_phone",
        "position",
        "lkp",
        "lkp_time",
        "geometry",
    ):
        for payload in (SQLI, XSS):
            over = {name: payload}
            if name == "position":
                over["geometry"] = ""
            r = hzs.post("/requests/new", data={"csrf_token": hzs.csrf, **request_form(**over)})
            assert r.status_code == 400, (name, payload)
            assert f'id="err-{name}"' in r.text, name
            assert "<script>alert" not in r.text and "onerror=alert" not in r.text.replace(
                "onerror=alert(1)&gt;", ""
            )
    assert count_requests(portal["db"]) == before
    # free-text fields keep the text verbatim and every page shows it escaped
    free = {
        "location": XSS,
        "subject_description": SQLI + XSS,
        "contact_name": SQLI,
        "notes": XSS + "\n" + SQLI,
    }
    rid = file_request(hzs, **free)
    r = pilot.post(
        f"/requests/{rid}/accept",
        data={"csrf_token": pilot.csrf, "pilot": XSS, "drones": SQLI + "," + XSS},
    )
    assert r.status_code == 200
    with open_store(portal["db"]) as s:
        req = rq.get_request(s, rid)
        assert {"mission_requests", "web_users", "audit_log"} <= set(s.db.table_names())
    assert req.location == XSS and req.notes == XSS + "\n" + SQLI and req.assigned_pilot == XSS
    assert req.drones == (SQLI, XSS)
    for client, url in (
        (hzs, f"/requests/{rid}"),
        (hzs, "/requests"),
        (pilot, "/requests"),
        (pilot, f"/requests/{rid}"),
        (admin, "/audit"),
    ):
        html = client.get(url).text
        assert "<script>alert" not in html and "<img src=x" not in html, url
        assert "&lt;script&gt;" in html or "\\u003cscript\\u003e" in html, url
    live = hzs.get(f"/api/requests/{rid}/live")
    assert live.headers["content-type"].startswith("application/json")
    # the login form: an injection is a wrong password, not a way in
    from fastapi.testclient import TestClient

    anon = TestClient(portal["app"])
    token = csrf_of(anon.get("/login").text)
    for name, pw in (("' OR '1'='1", "' OR '1'='1"), ("admin1'--", "x"), (XSS, XSS)):
        r = anon.post("/login", data={"csrf_token": token, "username": name, "password": pw})
        assert r.status_code == 401 and "<script>alert" not in r.text


def test_the_request_flow_is_validated_and_every_change_audited(portal, login) -> None:
    hzs, pilot, admin = login("hzs1"), login("pilot1"), login("admin1")
    rid = file_request(hzs, category="fire", subject_category="", subject_description="")
    post = lambda c, url, **d: c.post(url, data={"csrf_token": c.csrf, **d})  # noqa: E731
    post(pilot, f"/requests/{rid}/accept", pilot="Jan Pilot", drones="dron-1, dron-2")
    live = hzs.get(f"/api/requests/{rid}/live").json()
    assert live["state"] == "accepted"
    r = post(pilot, f"/requests/{rid}/state", state="completed")  # skips in_progress
    assert "a deployment cannot go from accepted to completed" in r.text
    r = post(pilot, f"/requests/{rid}/accept", pilot="again")
    assert "the deployment is already accepted" in r.text
    post(pilot, f"/requests/{rid}/state", state="in_progress")
    page = hzs.get(f"/requests/{rid}").text
    assert "In progress" in page and "Jan Pilot" in page and "dron-1, dron-2" in page
    post(pilot, f"/requests/{rid}/state", state="completed", reason="nalezen")
    assert hzs.get(f"/api/requests/{rid}/live").json()["state"] == "completed"
    with open_store(portal["db"]) as s:
        req = rq.get_request(s, rid)
        dep = s.query("SELECT * FROM deployments WHERE id = ?", (req.deployment_id,))[0]
        steps = [
            r["to_status"]
            for r in s.query(
                "SELECT to_status FROM deployment_status_log WHERE deployment_id = ? ORDER BY id",
                (req.deployment_id,),
            )
        ]
    assert dep["status"] == "completed" and dep["outcome"] == "nalezen" and dep["ended_at"]
    assert steps == ["accepted", "in_progress", "completed"]
    # refused and cancelled requests
    r2, r3 = file_request(hzs), file_request(hzs)
    post(pilot, f"/requests/{r2}/refuse", reason="vítr 15 m/s")
    post(hzs, f"/requests/{r3}/state", state="cancelled", reason="nalezen hlídkou")
    assert hzs.get(f"/api/requests/{r2}/live").json()["state"] == "refused"
    assert hzs.get(f"/api/requests/{r3}/live").json()["state"] == "cancelled"
    r = post(pilot, f"/requests/{r2}/accept")
    assert "a request cannot go from refused to accepted" in r.text
    # the audit log: who did what, in order
    with open_store(portal["db"]) as s:
        entries = list(reversed(rq.audit_entries(s, request_id=rid)))
        other = {e["action"]: e for e in rq.audit_entries(s) if e["request_id"] in (r2, r3)}
    assert [(e["actor"], e["role"], e["action"]) for e in entries] == [
        ("hzs1", "requester", "request_filed"),
        ("pilot1", "pilot", "request_accepted"),
        ("pilot1", "pilot", "request_in_progress"),
        ("pilot1", "pilot", "request_completed"),
    ]
    assert entries[1]["detail"]["drones"] == ["dron-1", "dron-2"]
    assert other["request_refused"]["actor"] == "pilot1"
    assert other["request_refused"]["detail"]["reason"] == "vítr 15 m/s"
    assert other["request_cancelled"]["actor"] == "hzs1"
    html = admin.get("/audit").text
    assert "request_completed" in html and "user_added" in html


def test_results_poa_searched_share_and_orthophoto_are_shown(portal, login) -> None:
    hzs, pilot = login("hzs1"), login("pilot1")
    rid = file_request(hzs)
    pilot.post(f"/requests/{rid}/accept", data={"csrf_token": pilot.csrf, "pilot": "p"})
    tif = portal["dir"] / "ortho.tif"
    tif.write_bytes(b"II*\x00" + b"\x00" * 60)
    poa = {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "properties": {"poa": 0.4},
                "geometry": request_form()["geometry"] and json.loads(request_form()["geometry"]),
            }
        ],
    }
    with open_store(portal["db"]) as s:
        rq.attach_results(
            s,
            rid,
            actor="pilot1",
            poa_geojson=json.dumps(poa),
            searched_share=0.62,
            orthophoto_path=str(tif),
        )
    live = hzs.get(f"/api/requests/{rid}/live").json()
    assert live["poa"]["features"][0]["properties"]["poa"] == 0.4
    assert live["searched_share"] == pytest.approx(0.62)
    page = hzs.get(f"/requests/{rid}").text
    assert 'id="searched-share">62 %' in page and f"/requests/{rid}/orthophoto" in page
    assert hzs.get(f"/requests/{rid}/orthophoto").content.startswith(b"II*")
    with open_store(portal["db"]) as s, pytest.raises(Exception, match="fraction"):
        rq.attach_results(s, rid, actor="x", searched_share=1.5)


def test_open_data_is_public_anonymised_csv_and_geojson(portal, login) -> None:
    from fastapi.testclient import TestClient

    hzs, pilot = login("hzs1"), login("pilot1")
    rid = file_request(
        hzs,
        category="flood",
        subject_category="",
        subject_description="",
        contact_name="Tajný Kontakt",
        location="Ulice Tajná 7",
    )
    pilot.post(f"/requests/{rid}/accept", data={"csrf_token": pilot.csrf, "pilot": "Pilot X"})
    pilot.post(f"/requests/{rid}/state", data={"csrf_token": pilot.csrf, "state": "in_progress"})
    anon = TestClient(portal["app"])
    r = anon.get("/opendata/deployments.csv")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert rows and set(rows[0]) == {
        "deployment",
        "year",
        "quarter",
        "month",
        "organisation",
        "category",
        "status",
        "flights",
        "airborne_h",
        "cell_lat",
        "cell_lon",
    }
    flood = [x for x in rows if x["category"] == "flood"]
    assert flood and flood[-1]["status"] == "in_progress" and flood[-1]["organisation"] == "HZS"
    lat = float(flood[-1]["cell_lat"])
    assert abs(lat / 0.01 - round(lat / 0.01 - 0.5) - 0.5) < 1e-6  # a cell centre, not the point
    gj = anon.get("/opendata/deployments.geojson")
    assert gj.headers["content-type"].startswith("application/geo+json")
    year = rows[-1]["year"]
    g16 = list(csv.DictReader(io.StringIO(anon.get(f"/opendata/gov16.csv?year={year}").text)))
    assert [q["period"] for q in g16] == [f"{year}-Q{i}" for i in (1, 2, 3, 4)]
    assert sum(int(q["count"]) for q in g16) >= 1 and g16[0]["baseline"] == "10"
    g16j = anon.get(f"/opendata/gov16.geojson?year={year}").json()
    assert g16j["properties"]["indicator"] == "GOV 16" and g16j["features"]
    everything = r.text + gj.text + json.dumps(g16j)
    for secret in ("Tajný Kontakt", "Ulice Tajná", "Pilot X", "+420", "hzs1", "lesopark"):
        assert secret not in everything, secret
    assert anon.get("/opendata/gov16.csv?year=1900").status_code == 400
    assert anon.get("/opendata").status_code == 200


def test_tiles_come_from_the_basemap_cache_offline(portal) -> None:
    from fastapi.testclient import TestClient

    from dronekit_plzen.basemap.grid import tile_at

    anon = TestClient(portal["app"])
    t = tile_at(13.35, 49.72, 16)
    r = anon.get(f"/tiles/osm/{t.z}/{t.x}/{t.y}.png")
    assert r.status_code == 200 and r.content.startswith(b"\x89PNG")
    assert anon.get(f"/tiles/osm/{t.z}/{t.x + 500}/{t.y}.png").status_code == 404  # not cached
    assert anon.get("/tiles/nope/1/0/0.png").status_code == 404
    assert anon.get("/tiles/osm/3/99/0.png").status_code == 404  # outside the grid


def test_language_switch_and_safe_redirects(portal, login) -> None:
    hzs = login("hzs1")
    r = hzs.get("/lang/cs?next=/requests/new")
    assert "Nový požadavek na dronovou jednotku" in r.text and 'lang="cs"' in r.text
    bad = hzs.post("/requests/new", data={"csrf_token": hzs.csrf, "location": ""})
    assert "toto pole je povinné" in bad.text and "Opravte prosím označená pole." in bad.text
    r = hzs.get("/lang/en?next=/requests")
    assert "Status board" in r.text
    for target in ("//evil.example/x", "https://evil.example/", "/\\evil.example"):
        r = hzs.get("/lang/en", params={"next": target}, follow_redirects=False)
        assert r.headers["location"] == "/requests", target


def test_headers_cookies_and_the_session_secret(portal, tmp_path: Path) -> None:
    from fastapi.testclient import TestClient

    from dronekit_plzen.errors import StorageError
    from dronekit_plzen.web.auth import load_or_create_secret
    from dronekit_plzen.web.server import build_app

    anon = TestClient(portal["app"])
    r = anon.get("/login")
    assert "script-src 'self'" in r.headers["content-security-policy"]
    assert r.headers["x-frame-options"] == "DENY"
    cookie = r.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=lax" in cookie and "secure" not in cookie
    key = portal["db"].parent / "web-session.key"
    assert key.stat().st_mode & 0o777 == 0o600
    secure = TestClient(
        build_app(portal["db"], secret_file=tmp_path / "k", secure_cookies=True),
        base_url="https://portal.example",
    )
    r = secure.get("/login")
    assert "; secure" in r.headers["set-cookie"].lower()
    assert "max-age" in r.headers["strict-transport-security"]
    assert load_or_create_secret(tmp_path / "k") == load_or_create_secret(tmp_path / "k")
    os.chmod(tmp_path / "k", 0o644)
    with pytest.raises(StorageError, match="chmod 600"):
        load_or_create_secret(tmp_path / "k")


def test_schema_holds_the_portal_tables(portal) -> None:
    con = sqlite3.connect(portal["db"])
    names = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    con.close()
    assert {"web_users", "mission_requests", "audit_log"} <= names
    with open_store(portal["db"]) as s:
        assert all(u["username"] for u in rq.list_users(s))
        assert "password_hash" not in rq.list_users(s)[0]
        assert rq.get_user(s, "hzs1")["password_hash"].startswith("$argon2id$")


def test_wrong_passwords_pause_the_account_and_are_audited(portal) -> None:
    from fastapi.testclient import TestClient

    from dronekit_plzen.web.server import build_app

    c = TestClient(build_app(portal["db"], max_login_failures=2))
    token = csrf_of(c.get("/login").text)
    attempts = ["wrong-1", "wrong-2", USERS["pcr1"][0]]
    codes = [
        c.post(
            "/login",
            data={"csrf_token": token, "username": "pcr1", "password": pw},
            follow_redirects=False,
        ).status_code
        for pw in attempts
    ]
    assert codes == [401, 401, 429]  # even the right password waits now
    with open_store(portal["db"]) as s:
        mine = [e["action"] for e in rq.audit_entries(s) if e["actor"] == "pcr1"][:3]
    assert mine == ["login_throttled", "login_failed", "login_failed"]


def test_the_sign_in_pause_outlives_a_restart_and_a_success_resets_it(tmp_path) -> None:
    """The wrong passwords are counted from the audit log, not in one process's memory: a
    restarted portal (or another worker on the same database) keeps the account paused; the
    name is compared as the form sends it, stripped and case-folded; a successful sign-in
    starts the count again."""
    from fastapi.testclient import TestClient

    from dronekit_plzen.web.server import build_app

    db = tmp_path / "flights.db"
    seed_users(db)

    def attempt(app: Any, user: str, pw: str) -> int:
        c = TestClient(app)
        token = csrf_of(c.get("/login").text)
        r = c.post(
            "/login",
            data={"csrf_token": token, "username": user, "password": pw},
            follow_redirects=False,
        )
        return r.status_code

    right = USERS["pcr1"][0]
    first = build_app(db, max_login_failures=3)
    # two wrong, one right: the count starts again
    assert [attempt(first, "pcr1", pw) for pw in ("x1", "x2", right)] == [401, 401, 303]
    assert [attempt(first, u, "x") for u in ("pcr1", " PCR1 ", "Pcr1")] == [401, 401, 401]
    restarted = build_app(db, max_login_failures=3)  # a new process on the same database
    assert attempt(restarted, "pcr1", right) == 429
    assert attempt(restarted, "hzs1", USERS["hzs1"][0]) == 303  # other accounts unaffected
    with open_store(db) as s:
        assert rq.recent_login_failures(s, "pcr1", 600.0) == 3
        idx = {r["name"] for r in s.query("SELECT name FROM sqlite_master WHERE type='index'")}
        assert "idx_audit_action_at" in idx
