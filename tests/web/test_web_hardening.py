"""The second outside check of the portal (all in-process or on 127.0.0.1).

Found (before → now): no ``Host`` check, so a page of another site whose name was re-pointed to
the portal's address (DNS rebinding) read the public pages and sent sign-ins → a translated 400
for a Host not allowed (``serve --allowed-host``); five wrong passwords every 10 minutes from
anywhere kept any account (the admin's) paused for its owner, and guesses spread over many names
from one address were unlimited → the pause counts per (name, address) with a per-name ceiling
for addresses that failed on it, and failed sign-ins are limited per address (X-Forwarded-For
only from ``--forwarded-allow-ips``); no way to disable an account or give it a new password →
``web users disable|enable|set-password``, audited, ending open sessions; ``HZS1`` beside
``hzs1``, or a Cyrillic ``а`` for a Latin ``a``, could both be created → refused.
"""

from __future__ import annotations

import asyncio
import html
import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from portal_kit import USERS, csrf_of, seed_users

from telemetry import requests as rq
from telemetry.store import open_store

RIGHT = USERS["admin1"][0]  # every test account has this password


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("hardening") / "flights.db"
    seed_users(path)
    return path


@pytest.fixture
def fresh_db(tmp_path: Path) -> Path:
    path = tmp_path / "flights.db"
    seed_users(path)
    return path


@pytest.fixture
def english() -> Iterator[None]:
    """In-process CLI runs set the process's language: put it back."""
    from dronekit_plzen.i18n import get_language, set_language

    before = get_language()
    yield
    set_language(before)


def _client(app: Any, addr: str = "testclient", lang: str = "en", **kw: Any) -> Any:
    from fastapi.testclient import TestClient

    return TestClient(app, client=(addr, 50000), headers={"accept-language": lang}, **kw)


def _sign_in(app: Any, name: str, password: str, addr: str = "testclient") -> tuple[int, Any]:
    c = _client(app, addr)
    token = csrf_of(c.get("/login").text)
    r = c.post(
        "/login",
        data={"csrf_token": token, "username": name, "password": password},
        follow_redirects=False,
    )
    return r.status_code, c


# ----------------------------------------------------------------------------- 1. Host
def _local_app(db: Path, *extra: str) -> Any:
    from dronekit_plzen.web.server import build_app, default_allowed_hosts

    return build_app(db, allowed_hosts=default_allowed_hosts("127.0.0.1", extra))


#: (id, Host header, path, status)
HOST_CASES: list[tuple[str, str, str, int]] = [
    ("rebinding-name", "evil.example", "/login", 400),
    ("rebinding-name-with-port", "evil.example:8080", "/opendata", 400),
    ("local-name-as-a-prefix", "127.0.0.1.evil.example", "/login", 400),
    ("localhost-as-a-subdomain", "localhost.evil.example", "/login", 400),
    ("bind-address", "127.0.0.1:8080", "/login", 200),
    ("localhost-any-case-final-dot", "LocalHost.:8080", "/login", 200),
    ("ipv6-loopback", "[::1]:8080", "/login", 200),
    ("allowed-name", "portal.plzen.example", "/login", 200),
    ("allowed-subdomain", "a.staff.example", "/opendata", 200),
]  # fmt: skip


@pytest.mark.parametrize(
    ("host", "path", "status"), [c[1:] for c in HOST_CASES], ids=[c[0] for c in HOST_CASES]
)
def test_only_the_allowed_host_names_are_answered(
    db: Path, host: str, path: str, status: int
) -> None:
    app = _local_app(db, "portal.plzen.example", "*.staff.example")
    r = _client(app, lang="cs").get(path, headers={"host": host})
    assert r.status_code == status, r.text[:200]
    if status == 400:
        assert "tento portál na adrese" in r.text and "neodpovídá" in r.text
        assert "set-cookie" not in r.headers  # nothing of a session for a foreign site
        assert r.headers["content-security-policy"]


def test_a_rebinding_page_cannot_sign_in_nor_read_open_data(db: Path) -> None:
    app = _local_app(db)
    good = _client(app, base_url="http://127.0.0.1:8080")
    token = csrf_of(good.get("/login").text)
    before = _audit(db)
    evil = _client(app, base_url="http://evil.example:8080")
    evil.cookies.update(good.cookies)
    r = evil.post("/login", data={"csrf_token": token, "username": "admin1", "password": RIGHT})
    assert (
        r.status_code == 400
        and "does not answer to the address &#39;evil.example:8080&#39;" in r.text
    )
    r = evil.get("/opendata/deployments.csv")
    assert r.status_code == 400 and "does not answer" in r.json()["error"]
    assert _audit(db) == before  # no sign-in was even tried


def test_a_request_without_a_host_header_is_refused(db: Path) -> None:
    app = _local_app(db)
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.0", "method": "GET",
        "scheme": "http", "path": "/login", "raw_path": b"/login", "root_path": "",
        "query_string": b"", "headers": [], "client": ("127.0.0.1", 1),
        "server": ("127.0.0.1", 8080), "state": {},
    }  # fmt: skip
    asyncio.run(app(scope, receive, send))
    assert sent[0]["status"] == 400


def test_serve_passes_the_allowed_hosts_and_trusts_no_proxy_by_default(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, english: None
) -> None:
    import uvicorn

    from dronekit_plzen.cli.main import main

    runs: list[tuple[Any, dict[str, Any]]] = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: runs.append((app, kw)))
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = str(s.getsockname()[1])
    db = tmp_path / "flights.db"
    base = ["web", "serve", "--db", str(db), "--port", port, "--secret-file", str(tmp_path / "k")]
    assert main(base) == 0
    assert main([*base, "--allowed-host", "portal.plzen.example", "--forwarded-allow-ips",
                 "10.0.0.1"]) == 0  # fmt: skip
    (plain, plain_kw), (named, named_kw) = runs
    assert plain_kw["proxy_headers"] is False  # X-Forwarded-For is anybody's to send
    assert named_kw["proxy_headers"] is True and named_kw["forwarded_allow_ips"] == "10.0.0.1"
    for app, host, status in (
        (plain, "127.0.0.1", 200),
        (plain, "portal.plzen.example", 400),
        (named, "portal.plzen.example", 200),
        (named, "evil.example", 400),
    ):
        assert _client(app).get("/login", headers={"host": host}).status_code == status


def test_host_names_are_compared_without_port_case_or_final_dot() -> None:
    from dronekit_plzen.web.app import host_allowed

    allowed = ("localhost", "127.0.0.1", "[::1]", "*.city.example")
    assert host_allowed("[::1]:8080", allowed) and host_allowed("LOCALHOST.", allowed)
    assert host_allowed("x.city.example:443", allowed)
    for bad in ("", "[", "city.example", "evilcity.example", "::1", "127.0.0.2", "[::2]"):
        assert not host_allowed(bad, allowed), bad


# ----------------------------------------------------------------------------- 2. sign-in limits
def test_wrong_passwords_from_elsewhere_do_not_pause_the_owner(fresh_db: Path) -> None:
    """Had been 429 for the admin: anybody kept the account paused with 5 wrong passwords
    every 10 minutes. Now the pause is per (name, address)."""
    from dronekit_plzen.web.server import build_app

    app = build_app(fresh_db, max_login_failures=2)
    attacker = [_sign_in(app, "admin1", f"guess-{i}", "203.0.113.9")[0] for i in range(4)]
    assert attacker == [401, 401, 429, 429]
    assert _sign_in(app, "admin1", RIGHT, "203.0.113.9")[0] == 429  # even the right one there
    assert _sign_in(app, "admin1", RIGHT, "10.1.2.3")[0] == 303  # the owner's address
    with open_store(fresh_db) as s:
        failed = [e for e in rq.audit_entries(s) if e["action"] == "login_failed"]
    assert {e["detail"]["addr"] for e in failed} == {"203.0.113.9"}


def test_many_addresses_guessing_one_name_meet_a_ceiling(fresh_db: Path) -> None:
    """A botnet: each address under its own pause, together over the name's ceiling; then
    each address that failed on the name is paused, a new one gets one try, and an address
    that has not failed (the owner's) still signs in."""
    from dronekit_plzen.web.server import build_app

    app = build_app(fresh_db, max_login_failures=2, max_name_failures=4)
    codes = [_sign_in(app, "admin1", "x", f"198.51.100.{i}")[0] for i in (1, 1, 2)]
    assert codes == [401, 401, 401]
    assert _sign_in(app, "admin1", "x", "198.51.100.3")[0] == 401  # the 4th: the ceiling
    assert _sign_in(app, "admin1", "x", "198.51.100.2")[0] == 429  # failed before: paused
    assert _sign_in(app, "admin1", "x", "198.51.100.4")[0] == 401  # a new one: one try
    assert _sign_in(app, "admin1", "x", "198.51.100.4")[0] == 429
    assert _sign_in(app, "admin1", RIGHT, "10.1.2.3")[0] == 303
    assert _sign_in(app, "admin1", "x", "198.51.100.1")[0] == 401  # a sign-in resets the count


def test_guesses_over_many_names_from_one_address_are_limited(fresh_db: Path) -> None:
    """Had been unlimited: one guess per name never reached any name's pause."""
    from dronekit_plzen.web.server import build_app

    app = build_app(fresh_db, max_address_failures=4)
    names = ["hzs1", "pcr1", "pilot1", "nobody", "admin1", "other"]
    c = _client(app, "192.0.2.66", lang="cs")
    token = csrf_of(c.get("/login").text)
    codes = []
    for name in names:
        r = c.post("/login", data={"csrf_token": token, "username": name, "password": "x"})
        codes.append(r.status_code)
    assert codes == [401] * 4 + [429] * 2
    assert "z této adresy bylo příliš mnoho neúspěšných přihlášení" in r.text
    assert _sign_in(app, "admin1", RIGHT, "192.0.2.66")[0] == 429
    assert _sign_in(app, "admin1", RIGHT, "192.0.2.67")[0] == 303  # another address
    with open_store(fresh_db) as s:
        told = [e for e in rq.audit_entries(s) if e["action"] == "login_throttled"]
    assert [e["detail"] for e in told] == [{"addr": "192.0.2.66", "by": "address"}]  # once


def test_parallel_guesses_over_many_names_are_counted_before_they_are_checked(
    fresh_db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from dronekit_plzen.web import auth
    from dronekit_plzen.web.server import build_app

    slow = auth.verify_password

    def verify(stored: str, password: str) -> bool:
        time.sleep(0.3)
        return slow(stored, password)

    monkeypatch.setattr(auth, "verify_password", verify)
    app = build_app(fresh_db, max_address_failures=3)
    clients = [_client(app, "192.0.2.70") for _ in range(8)]
    tokens = [csrf_of(c.get("/login").text) for c in clients]
    codes: list[int] = []

    def guess(i: int) -> None:
        data = {"csrf_token": tokens[i], "username": f"name{i}", "password": "x"}
        codes.append(clients[i].post("/login", data=data).status_code)

    threads = [threading.Thread(target=guess, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert sorted(codes) == [401] * 3 + [429] * 5


def test_x_forwarded_for_counts_only_from_a_named_proxy(fresh_db: Path) -> None:
    """Behind uvicorn's proxy-header middleware (what ``--forwarded-allow-ips`` turns on): a
    client sending its own X-Forwarded-For is still one address; the named proxy's header
    tells its clients apart."""
    from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

    from dronekit_plzen.web.server import build_app

    app = build_app(fresh_db, max_address_failures=2)
    wrapped = ProxyHeadersMiddleware(app, trusted_hosts="10.0.0.1")

    def codes(peer: str) -> list[int]:
        c = _client(wrapped, peer)
        token = csrf_of(c.get("/login").text)
        return [
            c.post(
                "/login",
                data={"csrf_token": token, "username": "nobody", "password": "x"},
                headers={"x-forwarded-for": f"203.0.113.{i}"},
            ).status_code
            for i in range(4)
        ]

    assert codes("192.0.2.1") == [401, 401, 429, 429]  # its own header: ignored
    assert codes("10.0.0.1") == [401, 401, 401, 401]  # the proxy's: four clients


def test_the_address_window_slides_and_stays_bounded() -> None:
    from dronekit_plzen.web.auth import FailureWindow

    now = [0.0]
    w = FailureWindow(limit=2, window_s=600, max_keys=3, clock=lambda: now[0])
    assert w.reserve("a") and w.reserve("a") and not w.reserve("a")
    now[0] = 599.0
    assert w.count("a") == 2
    now[0] = 600.5  # the first two are out of the window
    assert w.count("a") == 0 and w.reserve("a")
    w.forgive("a")
    assert w.count("a") == 0
    for i in range(100):
        w.reserve(f"10.0.0.{i}")
    assert len(w) == 3


# ----------------------------------------------------------------------------- 3. accounts
def _cli(*args: str) -> int:
    from dronekit_plzen.cli.main import main

    return main(list(args))


def _cli_stdin(stdin: str, *args: str) -> subprocess.CompletedProcess[str]:
    """The CLI in its own process, ``stdin`` typed into it (``--password-stdin``)."""
    env = dict(os.environ, PROJ_NETWORK="OFF")
    return subprocess.run(
        [sys.executable, "-m", "dronekit_plzen", *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )


def test_a_disabled_account_cannot_sign_in_and_its_sessions_end(
    fresh_db: Path, capsys: pytest.CaptureFixture[str], english: None
) -> None:
    from dronekit_plzen.web.server import build_app

    app = build_app(fresh_db)
    status, hzs = _sign_in(app, "hzs1", RIGHT)
    assert status == 303 and hzs.get("/requests", follow_redirects=False).status_code == 200
    assert _cli("web", "users", "disable", "--db", str(fresh_db), "hzs1") == 0
    assert "account hzs1 disabled" in capsys.readouterr().err
    r = hzs.get("/requests", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/login")
    assert hzs.get("/api/requests/1/live").status_code == 401
    assert _sign_in(app, "hzs1", RIGHT)[0] == 401  # as an unknown name
    assert _cli("web", "users", "list", "--db", str(fresh_db)) == 0
    listed = capsys.readouterr().out.splitlines()
    assert "(disabled)" in next(ln for ln in listed if "hzs1" in ln)
    assert _cli("web", "users", "enable", "--db", str(fresh_db), "hzs1") == 0
    status, again = _sign_in(app, "hzs1", RIGHT)
    assert status == 303 and again.get("/requests", follow_redirects=False).status_code == 200
    assert hzs.get("/requests", follow_redirects=False).status_code == 303  # the old stays out
    with open_store(fresh_db) as s:
        entries = [e for e in rq.audit_entries(s) if e["action"].startswith("user_")]
    assert [e["action"] for e in entries][:2] == ["user_enabled", "user_disabled"]
    assert entries[0]["detail"]["user"] == "hzs1" and entries[0]["actor"]


def test_set_password_from_stdin_replaces_it_and_ends_the_sessions(
    fresh_db: Path, monkeypatch: pytest.MonkeyPatch, english: None
) -> None:
    from dronekit_plzen.web.server import build_app

    app = build_app(fresh_db)
    _status, pilot = _sign_in(app, "pilot1", RIGHT)
    args = ("web", "users", "set-password", "--db", str(fresh_db), "--password-stdin", "pilot1")
    assert _cli_stdin("nove-heslo-2027\n", *args).returncode == 0
    assert pilot.get("/requests", follow_redirects=False).status_code == 303
    assert _sign_in(app, "pilot1", RIGHT)[0] == 401
    assert _sign_in(app, "pilot1", "nove-heslo-2027")[0] == 303
    with open_store(fresh_db) as s:
        (entry,) = [e for e in rq.audit_entries(s) if e["action"] == "password_set"]
    assert entry["detail"]["user"] == "pilot1" and "nove-heslo" not in json.dumps(entry)


def test_set_password_asks_twice(fresh_db: Path, english: None) -> None:
    from click.testing import CliRunner

    from dronekit_plzen.cli.main import cli

    r = CliRunner().invoke(
        cli,
        ["web", "users", "set-password", "--db", str(fresh_db), "pcr1"],
        input="jine-heslo-2027\njine-heslo-2027\n",
    )
    assert r.exit_code == 0, r.output
    with open_store(fresh_db) as s:
        from dronekit_plzen.web.auth import verify_password

        assert verify_password(rq.get_user(s, "pcr1")["password_hash"], "jine-heslo-2027")


def _admin_form(admin: Any, url: str, **fields: str) -> str:
    """Send one of the accounts page's forms as an administrator: the page it leads to."""
    token = csrf_of(admin.get("/admin/users").text)
    return html.unescape(admin.post(url, data={"csrf_token": token, **fields}).text)


def test_the_accounts_page_disables_and_enables_an_account(fresh_db: Path) -> None:
    """The accounts page has the CLI's disable/enable (they had been CLI only): the account's
    open session ends, it cannot sign in until enabled, each change is audited with the
    administrator's name; the administrator's own account cannot be disabled there."""
    from dronekit_plzen.web.server import build_app

    app = build_app(fresh_db)
    _status, admin = _sign_in(app, "admin1", RIGHT)
    _status, hzs = _sign_in(app, "hzs1", RIGHT)
    page = _admin_form(admin, "/admin/users/active", username="hzs1", active="0")
    assert "account hzs1 disabled; its open sessions have ended" in page
    row = page.split("<td>hzs1", 1)[1].split("</tr>")[0]
    assert "(disabled)" in row and ">Enable</button>" in row
    assert hzs.get("/requests", follow_redirects=False).status_code == 303
    assert _sign_in(app, "hzs1", RIGHT)[0] == 401
    page = _admin_form(admin, "/admin/users/active", username="hzs1", active="0")
    assert "account hzs1 was disabled already" in page
    page = _admin_form(admin, "/admin/users/active", username="admin1", active="0")
    assert "you cannot disable the account you are signed in with" in page
    page = _admin_form(admin, "/admin/users/active", username="nobody", active="0")
    assert "no account 'nobody'" in page
    page = _admin_form(admin, "/admin/users/active", username="hzs1", active="1")
    assert "account hzs1 enabled" in page
    assert _sign_in(app, "hzs1", RIGHT)[0] == 303
    with open_store(fresh_db) as s:
        assert rq.get_user(s, "admin1")["active"] == 1
        changes = ("user_disabled", "user_enabled")
        entries = [e for e in rq.audit_entries(s) if e["action"] in changes]
    assert [(e["action"], e["actor"], e["detail"]["user"]) for e in entries] == [
        ("user_enabled", "admin1", "hzs1"),
        ("user_disabled", "admin1", "hzs1"),
    ]


def test_the_accounts_page_sets_a_new_password_typed_twice(fresh_db: Path) -> None:
    """A new password from the accounts page: two that differ, or one too short, change
    nothing; a good one replaces the old, ends the account's session, and is audited without
    the password."""
    from dronekit_plzen.web.auth import verify_password
    from dronekit_plzen.web.server import build_app

    app = build_app(fresh_db)
    _status, admin = _sign_in(app, "admin1", RIGHT)
    _status, pilot = _sign_in(app, "pilot1", RIGHT)
    url = "/admin/users/password"
    page = _admin_form(admin, url, username="pilot1", password="nove-heslo-2027", password2="x")
    assert "the two passwords differ; nothing was changed" in page
    page = _admin_form(admin, url, username="pilot1", password="kratke", password2="kratke")
    assert "the password needs at least 10 characters" in page
    page = _admin_form(
        admin, url, username="nikdo", password="nove-heslo-2027", password2="nove-heslo-2027"
    )
    assert "no account 'nikdo'" in page
    with open_store(fresh_db) as s:
        assert verify_password(rq.get_user(s, "pilot1")["password_hash"], RIGHT)
    assert pilot.get("/requests", follow_redirects=False).status_code == 200
    page = _admin_form(
        admin, url, username="pilot1", password="nove-heslo-2027", password2="nove-heslo-2027"
    )
    assert "new password of account pilot1 set; its open sessions have ended" in page
    assert pilot.get("/requests", follow_redirects=False).status_code == 303
    assert _sign_in(app, "pilot1", RIGHT)[0] == 401
    assert _sign_in(app, "pilot1", "nove-heslo-2027")[0] == 303
    with open_store(fresh_db) as s:
        (entry,) = [e for e in rq.audit_entries(s) if e["action"] == "password_set"]
    assert entry["actor"] == "admin1" and entry["detail"]["user"] == "pilot1"
    assert "nove-heslo" not in json.dumps(entry)


ACCOUNT_ERRORS = [
    (["disable", "nikdo"], "", "účet 'nikdo' neexistuje"),
    (["set-password", "--password-stdin", "nikdo"], "dlouhe-heslo-42\n", "účet 'nikdo'"),
    (["set-password", "--password-stdin", "hzs1"], "kratke\n", "alespoň 10"),
    (["set-password", "--password-stdin", "hzs1"], "", "na standardním vstupu není heslo"),
]


@pytest.mark.parametrize(
    ("args", "stdin", "message"),
    ACCOUNT_ERRORS,
    ids=["disable-unknown", "password-unknown", "password-short", "password-empty"],
)
def test_account_commands_refuse_with_one_czech_line_exit_2(
    db: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    english: None,
    args: list[str],
    stdin: str,
    message: str,
) -> None:
    r = _cli_stdin(stdin, "--lang", "cs", "web", "users", *args[:-1], "--db", str(db), args[-1])
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("chyba: ") and message in lines[0], lines


# ----------------------------------------------------------------------------- 4. names
NAME_CASES = [
    ("upper-case", "HZS1", "lze zaměnit s existujícím 'hzs1'"),
    ("full-width", "ｈｚｓ１", "lze zaměnit s existujícím 'hzs1'"),
    ("l-for-1", "hzsl", "lze zaměnit s existujícím 'hzs1'"),
    ("rn-for-m", "adrnin1", "lze zaměnit s existujícím 'admin1'"),
    ("cyrillic-a", "\u0430dmin2", "míchá písmena několika písem (Cyrillic, Latin)"),
    ("greek-o", "pil\u03bft2", "míchá písmena několika písem (Greek, Latin)"),
]


@pytest.mark.parametrize(
    ("name", "message"), [c[1:] for c in NAME_CASES], ids=[c[0] for c in NAME_CASES]
)
def test_look_alike_user_names_are_refused(
    fresh_db: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    english: None,
    name: str,
    message: str | None,
) -> None:
    pw = tmp_path / "pw"
    pw.write_text("dlouhe-heslo-42\n")
    args = ["--lang", "cs", "web", "users", "add", "--db", str(fresh_db), "--password-file",
            str(pw), "--role", "pilot", name]  # fmt: skip
    code = _cli(*args)
    err = capsys.readouterr().err.strip().splitlines()
    if message is None:
        assert code == 0
        return
    assert code == 2 and len(err) == 1 and message in err[0], err
    with open_store(fresh_db) as s:
        assert len(rq.list_users(s)) == len(USERS)


def test_a_whole_script_look_alike_has_the_same_skeleton() -> None:
    from dronekit_plzen.web.accounts import scripts, skeleton

    assert skeleton("\u0441\u043e\u0440") == skeleton("COP") == "cop"  # Cyrillic с о р
    assert scripts("Novák-2") == {"LATIN"} and scripts("Новак") == {"CYRILLIC"}


def test_the_accounts_page_refuses_a_look_alike_name(fresh_db: Path) -> None:
    from dronekit_plzen.web.server import build_app

    app = build_app(fresh_db)
    _status, admin = _sign_in(app, "admin1", RIGHT)
    token = csrf_of(admin.get("/admin/users").text)
    form = {"csrf_token": token, "username": "Admin1", "password": "dlouhe-heslo-42",
            "role": "pilot", "organisation": ""}  # fmt: skip
    page = admin.post("/admin/users", data=form).text
    assert "can be taken for the existing &#39;admin1&#39;" in page
    with open_store(fresh_db) as s:
        assert len(rq.list_users(s)) == len(USERS)


def _audit(db: Path) -> int:
    with open_store(db) as s:
        return s.count("audit_log")
