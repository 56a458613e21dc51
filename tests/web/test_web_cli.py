"""``dronekit-plzen serve`` and ``web users``: accounts from the CLI, the server answering on
127.0.0.1, and bad input as one ``error:`` line with exit code 2 (one subprocess per case)."""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

CLI = [sys.executable, "-m", "dronekit_plzen"]


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CLI, *args], capture_output=True, text=True, timeout=60, env=env or os.environ.copy()
    )


@pytest.fixture(scope="module")
def cli_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("cli") / "flights.db"


def test_users_add_and_list(
    cli_db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from dronekit_plzen.cli.main import main

    pw = tmp_path / "pw"
    pw.write_text("dlouhe-heslo-42\n")
    add = ["web", "users", "add", "--db", str(cli_db), "--password-file", str(pw)]
    assert main([*add, "novak", "--role", "requester", "--org", "PČR"]) == 0
    capsys.readouterr()
    assert main(["web", "users", "list", "--json", "--db", str(cli_db)]) == 0
    out = capsys.readouterr().out
    users = json.loads(out)
    assert [(u["username"], u["role"], u["organisation"]) for u in users] == [
        ("novak", "requester", "PCR")
    ]
    assert "argon2" not in out


BAD = [
    (["web", "users", "add", "x", "--role", "requester", "--org", "NATO"], "organisation"),
    (["web", "users", "add", "x", "--role", "requester"], "a requester belongs to one"),
    (["web", "users", "add", "short", "--role", "pilot", "--pw", "short"], "at least 10"),
    (["web", "users", "add", "novak", "--role", "pilot"], "exists already"),
    (["serve", "--db", "{folder}"], "this is a folder, not a flight database"),
]


@pytest.mark.parametrize(("args", "message"), BAD, ids=[m for _a, m in BAD])
def test_bad_input_is_one_error_line_exit_2(
    cli_db: Path, tmp_path: Path, args: list[str], message: str
) -> None:
    pw = tmp_path / "pw"
    pw.write_text("short\n" if "short" in args else "dlouhe-heslo-42\n")
    args = [a for a in args if a not in ("--pw", "short")] + (["short"] if "short" in args else [])
    if args[0] == "web":
        args = [*args, "--password-file", str(pw), "--db", str(cli_db)]
    args = [a.replace("{folder}", str(tmp_path)) for a in args]
    if "novak" in args:  # made in-process (test_users_add_and_list may run alone)
        from dronekit_plzen.web.auth import hash_password
        from telemetry.requests import add_user, get_user
        from telemetry.store import open_store

        with open_store(cli_db) as store:
            if get_user(store, "novak") is None:
                add_user(store, "novak", hash_password("dlouhe-heslo-42"), "pilot")
    p = run(*args)
    assert p.returncode == 2, (p.returncode, p.stderr)
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0], p.stderr


def test_serve_answers_on_localhost_and_creates_a_private_secret(tmp_path: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    db = tmp_path / "srv" / "flights.db"
    db.parent.mkdir()  # a missing folder is refused (a typo in --db), only the database is new
    proc = subprocess.Popen(
        [*CLI, "serve", "--db", str(db), "--port", str(port), "--tile-cache", str(tmp_path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        _wait_answering(proc, port)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as r:
            assert json.loads(r.read()) == {"status": "ok"}
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/opendata/gov16.csv") as r:
            assert r.read().decode().startswith("indicator,period,count")
    finally:
        proc.terminate()
        _out, err = proc.communicate(timeout=15)
    assert f"created a new flight database at {db}" in err.splitlines()
    key = db.parent / "web-session.key"
    assert key.stat().st_mode & 0o777 == 0o600 and len(key.read_bytes()) >= 64


def _wait_answering(proc: subprocess.Popen[str], port: int) -> None:
    """Until the ``serve`` of ``proc`` answers on ``port`` (at most 30 s; it must not exit)."""
    deadline = time.monotonic() + 30
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=2):
                return
        except OSError:
            assert proc.poll() is None, proc.communicate()[1]
            assert time.monotonic() < deadline, "the portal did not answer"
            time.sleep(0.2)


@contextlib.contextmanager
def _serving(tmp_path: Path, *options: str) -> Iterator[int]:
    """A real ``serve`` on a free loopback port with ``options``, answering: yields the port."""
    from portal_kit import seed_users

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    db = tmp_path / "flights.db"
    seed_users(db)
    proc = subprocess.Popen(
        [*CLI, "serve", "--db", str(db), "--port", str(port), *options],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        _wait_answering(proc, port)
        yield port
    finally:
        proc.terminate()
        proc.communicate(timeout=15)


def test_serve_pauses_sign_in_after_the_wrong_passwords_it_is_given(tmp_path: Path) -> None:
    """The sign-in limits are ``serve`` options (they had been fixed in the code): with
    ``--max-login-failures 2`` a real server answers the third wrong password with 429."""
    import httpx
    from portal_kit import csrf_of

    with (
        _serving(tmp_path, "--max-login-failures", "2") as port,
        httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10) as c,
    ):
        token = csrf_of(c.get("/login").text)
        codes = [
            c.post(
                "/login",
                data={"csrf_token": token, "username": "pcr1", "password": f"wrong-{k}"},
            ).status_code
            for k in range(3)
        ]
    assert codes == [401, 401, 429]


def _until_closed(sock: socket.socket, limit_s: float, drip: bytes = b"") -> tuple[bytes, float]:
    """Read ``sock`` until the server closes it (at most ``limit_s``), sending ``drip`` every
    0.3 s meanwhile: what came and after how many seconds."""
    got, t0 = b"", time.monotonic()
    sock.settimeout(0.3)
    while time.monotonic() - t0 < limit_s:
        try:
            data = sock.recv(65536)
        except TimeoutError:
            if drip:
                try:
                    sock.sendall(drip)
                except OSError:
                    break
            continue
        except OSError:
            break
        if not data:
            break
        got += data
    return got, time.monotonic() - t0


def test_serve_answers_503_beyond_its_connections(tmp_path: Path) -> None:
    """``--max-connections 3``: with one idle connection held a request is answered; with two
    held (three counting its own) it gets 503 at once, and once they go, 200 again. Without a
    cap a flood of idle connections took a file descriptor each until accept failed."""
    import httpx

    with _serving(tmp_path, "--max-connections", "3") as port:
        url = f"http://127.0.0.1:{port}/healthz"
        with socket.create_connection(("127.0.0.1", port), timeout=10):
            time.sleep(0.3)
            assert httpx.get(url, timeout=10).status_code == 200
            with socket.create_connection(("127.0.0.1", port), timeout=10):
                time.sleep(0.3)
                t0 = time.monotonic()
                assert httpx.get(url, timeout=10).status_code == 503
                assert time.monotonic() - t0 < 5.0
        deadline = time.monotonic() + 10
        while httpx.get(url, timeout=10).status_code != 200:
            assert time.monotonic() < deadline, "the connections were not given back"
            time.sleep(0.2)


def test_serve_refuses_more_connections_than_open_files(tmp_path: Path) -> None:
    """Under a hard limit of 150 open files, 100 connections (and the server's own files)
    cannot be held: one error line, exit 2, before anything listens."""
    import resource

    def low_limit() -> None:
        resource.setrlimit(resource.RLIMIT_NOFILE, (150, 150))

    p = subprocess.run(
        [*CLI, "serve", "--db", str(tmp_path / "f.db"), "--port", "1", "--max-connections", "100"],
        capture_output=True,
        text=True,
        timeout=120,
        preexec_fn=low_limit,
    )
    lines = p.stderr.strip().splitlines()
    assert p.returncode == 2 and len(lines) == 1, p.stderr
    assert "--max-connections 100 needs 200 open files" in lines[0] and "150" in lines[0]


def test_serve_disconnects_a_client_whose_headers_do_not_come(tmp_path: Path) -> None:
    """uvicorn has no deadline for a request's headers (slowloris: a client that connects and
    sends nothing, or a header line every few seconds, held the connection for ever).
    ``--header-timeout-s 1.5``: both are disconnected after 1.5 s, the one that had begun a
    request with a 408; a request sent at once is answered, and an idle keep-alive connection is
    closed after its response."""
    with _serving(tmp_path, "--header-timeout-s", "1.5") as port:
        with socket.create_connection(("127.0.0.1", port), timeout=10) as silent:
            got, waited_s = _until_closed(silent, 10.0)
        assert got == b"" and waited_s < 5.0, (got, waited_s)

        with socket.create_connection(("127.0.0.1", port), timeout=10) as slow:
            slow.sendall(b"GET /login HTTP/1.1\r\nHost: 127.0.0.1\r\n")
            got, waited_s = _until_closed(slow, 10.0, drip=b"X-Slow: 1\r\n")
        assert got.startswith(b"HTTP/1.1 408 "), got[:80]
        assert waited_s < 5.0, waited_s

        with socket.create_connection(("127.0.0.1", port), timeout=10) as quick:
            quick.sendall(b"GET /login HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            got, waited_s = _until_closed(quick, 10.0)
        assert got.startswith(b"HTTP/1.1 200 "), got[:80]
        assert b"</html>" in got and waited_s < 5.0, (got[-80:], waited_s)


def test_web_demo_links_the_deployment_and_prints_the_accounts(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from dronekit_plzen.cli.main import main
    from telemetry.deployments import create_deployment
    from telemetry.requests import get_request, list_requests
    from telemetry.store import open_store

    db = tmp_path / "deployments.db"
    with open_store(db) as s:
        dep = create_deployment(
            s,
            organisation="PCR",
            category="sar",
            location="Bory",
            lat_deg=49.72,
            lon_deg=13.35,
            status="accepted",
        )
    assert main(["web", "demo", "--no-serve", "--db", str(db), "--port", "8099"]) == 0
    out = capsys.readouterr().out
    assert "http://127.0.0.1:8099/requests/1" in out
    assert "demo-pcr (requester)" in out and "demo-pilot (pilot)" in out
    with open_store(db) as s:
        (req,) = list_requests(s, organisation="PCR")
        assert req.deployment_id == dep.id and get_request(s, req.id).state == "accepted"


def test_a_binary_password_file_is_one_error_line(cli_db: Path, tmp_path: Path) -> None:
    """Found from outside: a password file that is not UTF-8 was an internal error (exit 1)."""
    pw = tmp_path / "pw.bin"
    pw.write_bytes(b"\x80\x81\xfe\xff" * 8)
    p = run("web", "users", "add", "x", "--role", "pilot", "--password-file", str(pw),
            "--db", str(cli_db))  # fmt: skip
    lines = p.stderr.strip().splitlines()
    assert p.returncode == 2 and len(lines) == 1, p.stderr
    assert "cannot read the password file" in lines[0]
