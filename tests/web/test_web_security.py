"""The portal attacked from outside, as a careless user or an attacker on the city network would
(all on 127.0.0.1 or in-process): every case answers a clear, translated message with a proper
HTTP status, leaks nothing, lets nobody act as another and never hangs or crashes the server.

Found by the security sweep (before → now): a signed-out session's copied cookie still signed
in (the cookie is signed, not stored); parallel wrong passwords for one name all passed the
sign-in pause before the first was counted, and 40 parallel sign-ins took 40 × 64 MiB of
argon2 memory; a 2 GB body was read (a file part spooled to disk) before the CSRF check, and a
body sent one byte at a time held its connection for ever (then a stack trace in the log); an
unknown address or a wrong method was English JSON ``{"detail": "Not Found"}``, a form with a
file or 2,000 fields the parser's English JSON; the orthophoto download served whatever its
stored path pointed to now (a symlink to the session secret); the live API's JSON had no
Cache-Control; a vehicle's name went into the map's tooltip as HTML; an open-data CSV cell
starting with ``=`` was a formula in a spreadsheet.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from portal_kit import USERS, csrf_of, seed_users

from telemetry import requests as rq
from telemetry.store import open_store

PORTAL_JS = Path(__file__).resolve().parents[2] / "dronekit_plzen/web/static/portal/portal.js"


def _client(app: Any, lang: str = "en", **kw: Any) -> Any:
    from fastapi.testclient import TestClient

    return TestClient(app, headers={"accept-language": lang}, **kw)


def _sign_in(app: Any, name: str) -> Any:
    c = _client(app)
    token = csrf_of(c.get("/login").text)
    r = c.post(
        "/login",
        data={"csrf_token": token, "username": name, "password": USERS[name][0]},
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text[:300]
    c.csrf = csrf_of(c.get("/requests").text)  # type: ignore[attr-defined]
    return c


# ----------------------------------------------------------------------------- addresses
#: (id, method, path, language, status, the message) — had been {"detail": "..."} in English
ADDRESS_CASES: list[tuple[str, str, str, str, int, str]] = [
    ("unknown-page", "get", "/no-such-page", "cs", 404, "nenalezeno"),
    ("unknown-subpage", "get", "/requests/1/nothing", "en", 404, "not found"),
    ("missing-static-file", "get", "/static/portal/nope.js", "cs", 404, "nenalezeno"),
    ("get-logout", "get", "/logout", "cs", 405, "tato adresa nepřijímá tento druh požadavku"),
    ("put-login", "put", "/login", "en", 405, "this address does not take this kind of request"),
    ("delete-request", "delete", "/requests/1", "en", 405,
     "this address does not take this kind of request"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("method", "path", "lang", "status", "message"),
    [c[1:] for c in ADDRESS_CASES],
    ids=[c[0] for c in ADDRESS_CASES],
)
def test_unknown_addresses_and_methods_answer_a_translated_page(
    portal: dict[str, Any], method: str, path: str, lang: str, status: int, message: str
) -> None:
    r = getattr(_client(portal["app"], lang), method)(path)
    assert r.status_code == status
    assert r.headers["content-type"].startswith("text/html")
    assert f'id="error-message">{message}' in r.text
    if status == 405:
        assert r.headers["allow"]


def test_an_unknown_api_address_is_json_in_the_readers_language(portal: dict[str, Any]) -> None:
    r = _client(portal["app"], "cs").get("/api/nothing")
    assert r.status_code == 404 and r.json() == {"error": "nenalezeno"}


# ----------------------------------------------------------------------------- bodies
#: (id, the body, its content type, status, the message) — posted to /login, signed out
BODY_CASES: list[tuple[str, bytes, str, int, str]] = [
    ("multipart-with-a-file",
     b'--B\r\nContent-Disposition: form-data; name="f"; filename="../../x.sh"\r\n\r\n'
     b"x\r\n--B--\r\n",
     "multipart/form-data; boundary=B", 400, "the form could not be read"),
    ("multipart-2000-fields",
     b"".join(b'--B\r\nContent-Disposition: form-data; name="f%d"\r\n\r\nv\r\n' % i
              for i in range(2000)) + b"--B--\r\n",
     "multipart/form-data; boundary=B", 400, "the form could not be read"),
    ("urlencoded-100k-fields", b"&".join(b"a%d=b" % i for i in range(100_000)),
     "application/x-www-form-urlencoded", 400, "the form could not be read"),
    ("urlencoded-2-mb-password", b"username=hzs1&password=" + b"x" * 2_000_000,
     "application/x-www-form-urlencoded", 413, "the request is larger than 1024 kB"),
    ("multipart-2-mb-file",
     b'--B\r\nContent-Disposition: form-data; name="f"; filename="a"\r\n\r\n' + b"x" * 2_000_000
     + b"\r\n--B--\r\n", "multipart/form-data; boundary=B", 413, "larger than 1024 kB"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("body", "ctype", "status", "message"),
    [c[1:] for c in BODY_CASES],
    ids=[c[0] for c in BODY_CASES],
)
def test_oversized_and_malformed_bodies_are_refused_with_a_message(
    portal: dict[str, Any], body: bytes, ctype: str, status: int, message: str
) -> None:
    before = _audit_count(portal["db"])
    r = _client(portal["app"]).post("/login", content=body, headers={"content-type": ctype})
    assert r.status_code == status, r.text[:300]
    assert r.headers["content-type"].startswith("text/html")
    assert message in r.text
    assert _audit_count(portal["db"]) == before  # not even a failed sign-in


def _new_request(portal: dict[str, Any]) -> int:
    """A request of HZS filed straight into the database."""
    from portal_kit import request_form

    from dronekit_plzen.web.forms import validate_request

    new = validate_request(request_form(), lambda s: s).request
    assert new is not None
    with open_store(portal["db"]) as s:
        return rq.create_request(s, new, actor="test").id


def _audit_count(db: Path) -> int:
    with open_store(db) as s:
        return s.count("audit_log")


def test_a_streamed_body_beyond_the_limit_is_413(portal: dict[str, Any]) -> None:
    """No Content-Length (chunked): counted while it arrives, refused at the limit."""

    def chunks() -> Any:
        for _ in range(64):
            yield b"x" * 65536  # 4 MiB in all

    r = _client(portal["app"]).post(
        "/login", content=chunks(), headers={"content-type": "application/x-www-form-urlencoded"}
    )
    assert r.status_code == 413 and "larger than 1024 kB" in r.text


def _call(app: Any, headers: list[tuple[bytes, bytes]], receive: Any) -> list[dict[str, Any]]:
    """One raw ASGI request (what uvicorn passes) → the messages the app sent."""
    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.4"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/login",
        "raw_path": b"/login",
        "root_path": "",
        "query_string": b"",
        "headers": [(b"host", b"127.0.0.1"), *headers],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8080),
        "state": {},
    }
    asyncio.run(asyncio.wait_for(app(scope, receive, send), 10))
    return sent


def test_a_2_gb_body_is_refused_before_it_is_read(portal: dict[str, Any]) -> None:
    reads = []

    async def receive() -> dict[str, Any]:
        reads.append(1)
        return {"type": "http.request", "body": b"x" * 65536, "more_body": True}

    headers = [
        (b"content-type", b"application/x-www-form-urlencoded"),
        (b"content-length", b"2000000000"),
    ]
    sent = _call(portal["app"], headers, receive)
    assert sent[0]["status"] == 413 and reads == []
    assert (b"connection", b"close") in sent[0]["headers"]


def test_a_slow_body_is_refused_after_the_timeout(portal: dict[str, Any]) -> None:
    """Slowloris on the body: one byte, then nothing; had held the connection for ever."""
    from dronekit_plzen.web.app import WebSettings, create_app

    app = create_app(WebSettings(db_path=portal["db"], secret=b"s" * 64, body_timeout_s=0.3))
    first = [True]

    async def receive() -> dict[str, Any]:
        if first:
            first.clear()
            return {"type": "http.request", "body": b"u", "more_body": True}
        await asyncio.sleep(3600)
        raise AssertionError("not reached")

    t0 = time.monotonic()
    sent = _call(app, [(b"content-type", b"application/x-www-form-urlencoded")], receive)
    assert time.monotonic() - t0 < 5
    assert sent[0]["status"] == 408
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    assert "požadavek nedorazil do 0.3 s".encode() in body  # no Accept-Language: Czech


# ----------------------------------------------------------------------------- sign-in
def test_parallel_wrong_passwords_for_one_name_are_counted_one_by_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Eight guesses at once with a pause after two: exactly two are checked, six wait (429).
    Had been eight checks: all passed the pause before the first wrong one was counted."""
    from dronekit_plzen.web import auth
    from dronekit_plzen.web.server import build_app

    db = tmp_path / "flights.db"
    seed_users(db)
    slow_verify = auth.verify_password

    def verify(stored: str, password: str) -> bool:
        time.sleep(0.3)  # argon2 on a slow machine: the window the guesses had slipped through
        return slow_verify(stored, password)

    monkeypatch.setattr(auth, "verify_password", verify)
    app = build_app(db, max_login_failures=2)
    clients = [_client(app) for _ in range(8)]
    tokens = [csrf_of(c.get("/login").text) for c in clients]
    codes: list[int] = []

    def guess(i: int) -> None:
        r = clients[i].post(
            "/login",
            data={"csrf_token": tokens[i], "username": "pcr1", "password": f"guess-{i}"},
            follow_redirects=False,
        )
        codes.append(r.status_code)

    threads = [threading.Thread(target=guess, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert sorted(codes) == [401, 401] + [429] * 6


def test_password_hashes_are_computed_a_few_at_a_time(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each argon2 hash takes 64 MiB: twelve sign-ins at once compute four at a time."""
    from dronekit_plzen.web import auth

    running, most = [0], [0]
    lock = threading.Lock()

    class Hasher:
        def verify(self, stored: str, password: str) -> bool:
            with lock:
                running[0] += 1
                most[0] = max(most[0], running[0])
            time.sleep(0.05)
            with lock:
                running[0] -= 1
            return True

    monkeypatch.setattr(auth, "_hasher", Hasher())
    threads = [threading.Thread(target=auth.verify_password, args=("h", "p")) for _ in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert 1 <= most[0] <= auth.MAX_PARALLEL_HASHES == 4


def test_a_signed_out_sessions_copied_cookie_is_signed_out_too(portal: dict[str, Any]) -> None:
    """Had been 200: the cookie copied before signing out still opened every page."""
    from dronekit_plzen.web.app import SESSION_COOKIE

    app = portal["app"]
    hzs = _sign_in(app, "hzs1")
    copied = hzs.cookies.get(SESSION_COOKIE)
    other = _sign_in(app, "hzs1")  # the same account in another browser stays signed in
    assert hzs.post("/logout", data={"csrf_token": hzs.csrf}).status_code == 200
    thief = _client(app)
    thief.cookies.set(SESSION_COOKIE, copied)
    r = thief.get("/requests", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/login")
    assert thief.get("/api/requests/1/live").status_code == 401
    assert other.get("/requests", follow_redirects=False).status_code == 200
    with open_store(portal["db"]) as s:
        logouts = [e["actor"] for e in rq.audit_entries(s) if e["action"] == "logout"]
    assert logouts[0] == "hzs1"


# ----------------------------------------------------------------------------- files, caches
def test_the_orthophoto_download_serves_only_a_tiff(portal: dict[str, Any], login: Any) -> None:
    """A stored path whose file was replaced since (a symlink to the session secret, a text
    file) is not found; a TIFF is served, kept by no cache."""
    hzs = login("hzs1")
    rid = _new_request(portal)
    secret = portal["dir"] / "web-session.key"
    link = portal["dir"] / "ortho-link.tif"
    link.unlink(missing_ok=True)
    link.symlink_to(secret)
    text = portal["dir"] / "ortho-text.tif"
    text.write_text("root:x:0:0:root:/root:/bin/bash\n")
    tiff = portal["dir"] / "ortho-ok.tif"
    tiff.write_bytes(b"II*\x00" + bytes(60))
    for path, status in ((link, 404), (text, 404), (portal["dir"], 404), (tiff, 200)):
        with open_store(portal["db"]) as s:
            rq.attach_results(s, rid, actor="test", orthophoto_path=str(path))
        r = hzs.get(f"/requests/{rid}/orthophoto")
        assert r.status_code == status, path
        assert secret.read_bytes() not in r.content
    assert r.content.startswith(b"II*") and "no-store" in r.headers["cache-control"]


def test_the_live_api_is_kept_by_no_cache(portal: dict[str, Any], login: Any) -> None:
    hzs = login("hzs1")
    rid = _new_request(portal)
    r = hzs.get(f"/api/requests/{rid}/live")
    assert r.status_code == 200 and r.headers["cache-control"] == "no-store"


@pytest.mark.parametrize(
    ("value", "cell"),
    [
        ('=HYPERLINK("http://evil.example","x")', "'=HYPERLINK"),
        ("+1+cmd|' /C calc'!A0", "'+1+cmd"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1)", "'@SUM"),
        ("\t=1", "'\t=1"),
        ("HZS", "HZS"),
    ],
    ids=["equals", "plus", "minus", "at", "tab", "plain"],
)
def test_open_data_csv_cells_are_never_formulas(value: str, cell: str) -> None:
    import csv
    import io

    from dronekit_plzen.web.opendata import DEPLOYMENT_COLUMNS, to_csv

    row = {k: None for k in DEPLOYMENT_COLUMNS} | {"organisation": value, "cell_lon": -0.005}
    got = next(csv.DictReader(io.StringIO(to_csv([row], DEPLOYMENT_COLUMNS))))
    assert got["organisation"].startswith(cell)
    assert got["cell_lon"] == "-0.005"  # a number stays a number


# ----------------------------------------------------------------------------- the map script
_JS_HARNESS = r"""
const fs = require("fs");
const tooltips = [];
function layer() {
  const o = { addTo() { return o; }, bindTooltip(c) { tooltips.push(c); return o; },
              clearLayers() {}, getBounds() { return bounds(); } };
  return o;
}
function bounds() { const b = { extend() { return b; }, pad() { return b; } }; return b; }
const attrs = { "data-config": JSON.stringify({ layers: [], center: [49.7, 13.3], zoom: 13,
                live: "/api/requests/1/live" }), "data-mode": "view", "data-updated": "u" };
function node() {
  return { style: {}, classList: { add() {} }, hidden: false, textContent: "",
           getAttribute(k) { return attrs[k]; }, setAttribute() {}, addEventListener() {} };
}
global.window = {};
global.document = {
  getElementById(id) { return id === "category" || id === "sar-fields" ? null : node(); },
  querySelectorAll() { return []; },
  createElement() { return node(); },
};
global.L = {
  map() { const m = { setView() { return m; }, fitBounds() {}, on() {} }; return m; },
  tileLayer: layer, layerGroup: layer, marker: layer, circleMarker: layer, polyline: layer,
  geoJSON: layer, imageOverlay: layer, latLngBounds: bounds, control: { layers: layer },
};
global.setTimeout = function () {};
const data = { id: 1, state: "completed", state_label: "Completed", area: null,
  point: [13.35, 49.72], lkp: null, poa: null, orthophoto: null, poll_s: 3,
  tracks: [{ vehicle: process.argv[3], live: true, coords: [],
             last: { lat: 49.72, lon: 13.35 } }] };
global.fetch = () => Promise.resolve({ ok: true, json: () => Promise.resolve(data) });
eval(fs.readFileSync(process.argv[2], "utf8"));
setImmediate(() => setImmediate(() => {
  const t = tooltips.filter((c) => c !== "LKP");
  process.stdout.write(JSON.stringify(t.map((c) => typeof c === "string" ? { html: c }
                                                   : { text: c.textContent })));
}));
"""


def test_a_vehicles_name_is_shown_as_text_on_the_map(tmp_path: Path) -> None:
    """The live map's drone label: a name from a flight log or the vehicle itself (it can be
    ``<img src=x onerror=...>``) was given to Leaflet as a string, which it inserts as HTML."""
    harness = tmp_path / "harness.js"
    harness.write_text(_JS_HARNESS)
    name = '<img src=x onerror="alert(1)"><b>M30T</b>'
    p = subprocess.run(
        ["node", str(harness), str(PORTAL_JS), name],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert p.returncode == 0, p.stderr
    assert json.loads(p.stdout) == [{"text": name}]


def test_a_huge_posted_value_quoted_in_a_message_keeps_the_session_cookie_small(
    portal: dict[str, Any], login: Any
) -> None:
    """An unknown state of 900 kB was quoted whole in the flash message, which travels in the
    session cookie: a 1.2 MB Set-Cookie, which a browser drops (and the session with it)."""
    from dronekit_plzen.web.app import SESSION_COOKIE

    pilot = login("pilot1")
    rid = _new_request(portal)
    for _ in range(6):  # and messages not yet shown pile up to a few only
        r = pilot.post(
            f"/requests/{rid}/state",
            data={"csrf_token": pilot.csrf, "state": "x" * 900_000},
            follow_redirects=False,
        )
        assert r.status_code == 303
        assert len(pilot.cookies.get(SESSION_COOKIE)) < 4000
    page = pilot.get(f"/requests/{rid}").text
    assert page.count("unknown state") == 4 and "xxx…" in page


@pytest.mark.parametrize(
    ("path", "lang", "message"),
    [
        ("/requests", "cs", "letová databáze je zaneprázdněná nebo nedostupná"),
        ("/api/requests/1/live", "en", "the flight database is busy or unavailable"),
    ],
    ids=["page", "api"],
)
def test_a_locked_database_is_a_503_to_try_again_not_a_server_error(
    portal: dict[str, Any],
    login: Any,
    monkeypatch: pytest.MonkeyPatch,
    path: str,
    lang: str,
    message: str,
) -> None:
    """A long write of the recorder or the GUI locks the database: had been a bare 500
    "Internal Server Error"; the database's path is not shown."""
    import sqlite3

    from telemetry.store import storage_error

    def locked(*args: Any, **kwargs: Any) -> Any:
        raise storage_error(sqlite3.OperationalError("database is locked"), portal["db"])

    hzs = login("hzs1", lang)
    monkeypatch.setattr(rq, "get_user_by_id", locked)
    r = hzs.get(path)
    assert r.status_code == 503 and r.headers["retry-after"] == "5"
    assert message in r.text and str(portal["db"]) not in r.text


def test_attempts_on_a_paused_name_are_audited_once_a_minute(tmp_path: Path) -> None:
    """A paused name costs no password check: each attempt had been one more audit entry, a
    write to the database the recorder writes the flights to, as fast as requests came."""
    from dronekit_plzen.web.server import build_app

    db = tmp_path / "flights.db"
    seed_users(db)
    c = _client(build_app(db, max_login_failures=1))
    token = csrf_of(c.get("/login").text)
    codes = [
        c.post(
            "/login",
            data={"csrf_token": token, "username": "nobody", "password": "wrong-password"},
            follow_redirects=False,
        ).status_code
        for _ in range(30)
    ]
    assert codes == [401] + [429] * 29
    with open_store(db) as s:
        actions = [e["action"] for e in rq.audit_entries(s) if e["actor"] == "nobody"]
    assert actions == ["login_throttled", "login_failed"]
