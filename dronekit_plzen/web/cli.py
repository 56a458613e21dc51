"""CLI: ``dronekit-plzen serve`` (the web portal) and ``dronekit-plzen web users add|list``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from dronekit_plzen.cliutil import FiniteFloatRange, app, echo_json, info
from dronekit_plzen.errors import BadInputError, one_line
from dronekit_plzen.i18n import _
from dronekit_plzen.web.http_deadline import (
    DEFAULT_HEADER_TIMEOUT_S,
    DEFAULT_MAX_CONNECTIONS,
    header_deadline_protocol,
)
from telemetry.cli_common import creating_database

_DB = click.option(
    "--db", "db_path", type=click.Path(path_type=Path), help=_("SQLite flight database.")
)


def _db(db_path: Path | None) -> Path:
    return db_path or app().config.db_path


_HOST = click.option(
    "--host", default="127.0.0.1", show_default=True, help=_("Address to listen on.")
)
_ALLOWED_HOST = click.option(
    "--allowed-host",
    "allowed_hosts",
    multiple=True,
    help=_(
        "A Host name the portal answers to (repeatable; *.domain for its subdomains); "
        "always: the --host address, localhost, 127.0.0.1, [::1]."
    ),
)
_PORT = click.option(
    "--port",
    default=8080,
    show_default=True,
    type=click.IntRange(1, 65535),
    help=_("Port to listen on."),
)


def _sign_in_limit(name: str, default: int, text: str) -> Any:
    """One of ``serve``'s sign-in limits (a count of wrong passwords, 1 to 10,000)."""
    return click.option(
        name, type=click.IntRange(1, 10_000), default=default, show_default=True, help=text
    )


@click.command(name="serve", help=_("Start the crisis staff web portal on the flight database."))
@_DB
@_HOST
@_PORT
@click.option(
    "--secret-file",
    type=click.Path(path_type=Path),
    help=_("Session-signing secret (default: web-session.key beside the database; created 0600)."),
)
@click.option(
    "--secure-cookies",
    is_flag=True,
    help=_("Cookies only over HTTPS (behind a TLS reverse proxy)."),
)
@click.option(
    "--forwarded-allow-ips",
    default=None,
    help=_(
        "Reverse proxies (addresses, comma-separated) whose X-Forwarded-For/-Proto headers "
        "are trusted (default: none, the headers are ignored)."
    ),
)
@_ALLOWED_HOST
@click.option("--tile-cache", type=click.Path(path_type=Path), help=_("Basemap tile cache folder."))
@click.option(
    "--tiles-pack",
    "packs",
    multiple=True,
    type=click.Path(path_type=Path, exists=True, dir_okay=False),
    help=_("Offline MBTiles pack (repeatable)."),
)
@click.option("--online-tiles", is_flag=True, help=_("Fetch tiles missing from the cache."))
@_sign_in_limit(
    "--max-login-failures",
    5,
    _("Wrong passwords per user name and address in 10 minutes before sign-in pauses."),
)
@_sign_in_limit(
    "--max-name-failures",
    15,
    _("Wrong passwords per user name from all addresses in 10 minutes before it pauses."),
)
@_sign_in_limit(
    "--max-address-failures",
    20,
    _("Wrong passwords from one address in 10 minutes before it pauses."),
)
@click.option(
    "--header-timeout-s",
    type=FiniteFloatRange(1.0, 3600.0),
    default=DEFAULT_HEADER_TIMEOUT_S,
    show_default=True,
    help=_(
        "Seconds a request's headers may take to arrive; a slower client gets 408 and is "
        "disconnected (a slowly sent request holds a connection)."
    ),
)
@click.option(
    "--max-connections",
    type=click.IntRange(1, 10_000),
    default=DEFAULT_MAX_CONNECTIONS,
    show_default=True,
    help=_(
        "Connections served at once; a request beyond them gets 503 at once (a flood of idle "
        "connections cannot use up the server's open files)."
    ),
)
def serve(
    db_path: Path | None,
    host: str,
    port: int,
    secret_file: Path | None,
    secure_cookies: bool,
    forwarded_allow_ips: str | None,
    allowed_hosts: tuple[str, ...],
    tile_cache: Path | None,
    packs: tuple[Path, ...],
    online_tiles: bool,
    max_login_failures: int,
    max_name_failures: int,
    max_address_failures: int,
    header_timeout_s: float,
    max_connections: int,
) -> None:
    from telemetry.store import open_store

    db = _db(db_path)
    with creating_database(db) as announce:  # a refused start leaves no new empty database
        with open_store(db):  # a wrong path fails now, before the web stack is imported
            pass
        _check_listen(host, port)
        _open_files_for(max_connections)

        import uvicorn

        from dronekit_plzen.web.server import build_app, default_allowed_hosts

        hosts = default_allowed_hosts(host, allowed_hosts)
        application = build_app(
            db,
            allowed_hosts=hosts,
            secret_file=secret_file,
            secure_cookies=secure_cookies,
            tile_cache=tile_cache,
            packs=packs,
            online_tiles=online_tiles,
            max_login_failures=max_login_failures,
            max_name_failures=max_name_failures,
            max_address_failures=max_address_failures,
        )
        announce()
        info(
            _("Portal on http://{host}:{port}/ (database {db}); Ctrl+C stops it.").format(
                host=host, port=port, db=db
            )
        )
        info(
            _("It answers to the Host names {names} (--allowed-host adds one).").format(
                names=", ".join(hosts)
            )
        )
        uvicorn.run(
            application,
            host=host,
            port=port,
            # the client's address (the sign-in limits count per address) from the proxy's
            # header only for a proxy named here; otherwise the header is anybody's to send
            proxy_headers=bool(forwarded_allow_ips),
            forwarded_allow_ips=forwarded_allow_ips or "",
            log_level="warning",
            server_header=False,
            http=header_deadline_protocol(header_timeout_s),
            limit_concurrency=max_connections,
        )


#: open files the server needs besides its connections (database, tiles, packs, libraries)
SPARE_OPEN_FILES = 100


def _open_files_for(max_connections: int) -> None:
    """Raise this process's open-file limit to hold ``max_connections`` and the server's own
    files (up to the hard limit); beyond the hard limit, one ``error:`` line (exit 2), not
    a server whose accept fails once the files run out."""
    import resource

    need = max_connections + SPARE_OPEN_FILES
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY or soft >= need:
        return
    if hard != resource.RLIM_INFINITY and hard < need:
        raise BadInputError(
            _(
                "--max-connections {n} needs {need} open files; this system allows {hard} "
                "(ulimit -n): give fewer connections"
            ).format(n=max_connections, need=need, hard=hard),
            where="--max-connections",
        )
    resource.setrlimit(resource.RLIMIT_NOFILE, (need, hard))


def _check_listen(host: str, port: int) -> None:
    """Bind ``host:port`` once and let go, so an address that is not this machine's, a name
    that does not resolve or a port in use is one ``error:`` line before the server starts
    (uvicorn would log it and exit 3 after the start message)."""
    import errno
    import socket

    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except (OSError, UnicodeError) as exc:
        raise BadInputError(
            _("cannot resolve the address {host!r}: {err}").format(host=host, err=one_line(exc)),
            where="--host",
        ) from None
    family, kind, proto, _name, address = infos[0]
    try:
        with socket.socket(family, kind, proto) as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind(address)
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            text = _("port {port} is in use by another program").format(port=port)
        elif exc.errno == errno.EACCES:
            text = _("port {port} needs administrator rights (use a port above 1023)").format(
                port=port
            )
        elif exc.errno == errno.EADDRNOTAVAIL:
            text = _("{host} is not an address of this computer").format(host=host)
        else:
            text = one_line(exc)
        raise BadInputError(
            _("cannot listen on {host}:{port}: {err}").format(host=host, port=port, err=text),
            where="--host/--port",
        ) from None


@click.group(name="web", help=_("Web portal: start it, manage its accounts."))
def web() -> None:
    """The ``web`` command group (its help is the translated text above)."""


web.add_command(serve)


@web.group(name="users", help=_("Portal accounts (requester, pilot, admin)."))
def users() -> None:
    """The ``users`` command group (its help is the translated text above)."""


@users.command(name="add", help=_("Create a portal account."))
@_DB
@click.argument("username")
@click.option(
    "--role",
    required=True,
    type=click.Choice(["requester", "pilot", "admin"]),
    help=_("The account's role."),
)
@click.option("--org", "organisation", help=_("Organisation of a requester: HZS, PCR, ZZS, KRIZ."))
@click.option(
    "--password-file",
    type=click.Path(path_type=Path, exists=True, dir_okay=False),
    help=_("Read the password from this file (else it is asked for)."),
)
def users_add(
    db_path: Path | None,
    username: str,
    role: str,
    organisation: str | None,
    password_file: Path | None,
) -> None:
    from dronekit_plzen.web.auth import hash_password
    from telemetry.requests import add_user
    from telemetry.store import open_store

    if password_file is not None:
        try:
            lines = password_file.read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError) as exc:
            raise BadInputError(
                _("cannot read the password file: {err}").format(err=one_line(exc)),
                where=str(password_file),
            ) from None
        password = lines[0] if lines else ""
    else:
        password = click.prompt(_("Password"), hide_input=True, confirmation_prompt=True)
    from dronekit_plzen.web.forms import check_name

    try:  # control or invisible characters would be stored and shown in the portal
        username = check_name(username, _, 64)
    except BadInputError as exc:
        raise BadInputError(exc.message, where="USERNAME") from None
    org = organisation.upper().replace("Č", "C") if organisation else None
    if password_file is not None and not password:
        raise BadInputError(_("the password file is empty"), where=str(password_file))
    from dronekit_plzen.web.accounts import check_new_name

    with creating_database(_db(db_path)), open_store(_db(db_path)) as store:
        check_new_name(store, username)  # "HZS1" beside "hzs1", a Cyrillic "а" for an "a"
        uid = add_user(store, username, hash_password(password), role, organisation=org)
    info(_("account {name} ({role}) created, id {id}").format(name=username, role=role, id=uid))


def _existing_db(db_path: Path | None) -> Path:
    """The flight database, which must exist (an account command never creates one)."""
    db = _db(db_path)
    if not db.is_file():
        raise BadInputError(_("no flight database here (web users add creates one)"), where=str(db))
    return db


def _set_active(db_path: Path | None, username: str, active: bool) -> None:
    from dronekit_plzen.web.accounts import set_active
    from dronekit_plzen.web.results import actor_name
    from telemetry.store import open_store

    with open_store(_existing_db(db_path)) as store:
        changed = set_active(store, username, active, actor=actor_name())
    if active:
        text = _("account {name} enabled") if changed else _("account {name} was enabled already")
    elif changed:
        text = _("account {name} disabled; its open sessions have ended")
    else:
        text = _("account {name} was disabled already")
    info(text.format(name=username))


@users.command(
    name="disable",
    help=_("Disable an account: it cannot sign in, its open sessions end (audited)."),
)
@_DB
@click.argument("username")
def users_disable(db_path: Path | None, username: str) -> None:
    _set_active(db_path, username, False)


@users.command(name="enable", help=_("Enable a disabled account again (audited)."))
@_DB
@click.argument("username")
def users_enable(db_path: Path | None, username: str) -> None:
    _set_active(db_path, username, True)


@users.command(
    name="set-password",
    help=_("Give an account a new password (asked twice); its open sessions end (audited)."),
)
@_DB
@click.argument("username")
@click.option(
    "--password-stdin",
    is_flag=True,
    help=_("Read the password from the first line of standard input."),
)
def users_set_password(db_path: Path | None, username: str, password_stdin: bool) -> None:
    import sys

    from dronekit_plzen.web.accounts import find_account, set_password
    from dronekit_plzen.web.auth import hash_password
    from dronekit_plzen.web.results import actor_name
    from telemetry.store import open_store

    db = _existing_db(db_path)
    with open_store(db, readonly=True) as store:
        find_account(store, username)  # an unknown name before the password is asked
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
        if not password:
            raise BadInputError(_("no password on standard input"), where="--password-stdin")
    else:
        password = click.prompt(_("New password"), hide_input=True, confirmation_prompt=True)
    password_hash = hash_password(password)  # too short: refused before anything is written
    with open_store(db) as store:
        set_password(store, username, password_hash, actor=actor_name())
    info(
        _("new password of account {name} set; its open sessions have ended").format(name=username)
    )


@users.command(name="list", help=_("List the portal accounts (never the password hashes)."))
@_DB
@click.option("--json", "as_json", is_flag=True, help=_("JSON output."))
def users_list(db_path: Path | None, as_json: bool) -> None:
    from telemetry.requests import list_users
    from telemetry.store import open_store

    with open_store(_db(db_path), readonly=True) as store:  # never a new empty database
        rows = list_users(store)
    if as_json:
        echo_json(rows)
        return
    for r in rows:
        off = "  " + _("(disabled)") if not r["active"] else ""
        click.echo(
            f"{r['id']:>4}  {r['username']:<20} {r['role']:<10} {r['organisation'] or ''}{off}"
        )


@web.command(
    name="demo",
    help=_(
        "Show a demo's deployment on the portal: demo accounts, then serve (make demo SERVE=1)."
    ),
)
@_DB
@click.option(
    "--deployment", "deployment_id", type=int, help=_("Deployment to show (default: last).")
)
@_HOST
@_PORT
@_ALLOWED_HOST
@click.option("--no-serve", is_flag=True, help=_("Only prepare the accounts and print them."))
def web_demo(
    db_path: Path | None,
    deployment_id: int | None,
    host: str,
    port: int,
    allowed_hosts: tuple[str, ...],
    no_serve: bool,
) -> None:
    from dronekit_plzen.web.demo_portal import prepare_demo

    db = _db(db_path)
    if not no_serve:
        _check_listen(host, port)
    shown = prepare_demo(db, deployment_id)
    click.echo(
        _("Portal: http://{host}:{port}/requests/{id}").format(
            host=host, port=port, id=shown.request_id
        )
    )
    for name, role, password in shown.accounts:
        click.echo(
            _("  sign in as {name} ({role}), password {password}").format(
                name=name, role=role, password=password
            )
        )
    if no_serve:
        return
    import uvicorn

    from dronekit_plzen.web.server import build_app, default_allowed_hosts

    application = build_app(db, allowed_hosts=default_allowed_hosts(host, allowed_hosts))
    uvicorn.run(
        application,
        host=host,
        port=port,
        log_level="warning",
        server_header=False,
        http=header_deadline_protocol(DEFAULT_HEADER_TIMEOUT_S),
        limit_concurrency=DEFAULT_MAX_CONNECTIONS,
    )


_FILE = click.Path(path_type=Path, dir_okay=False)


@web.command(
    name="attach",
    help=_("Attach a flight's results to a request: POA map, searched share, orthophoto."),
)
@click.argument("request_id", type=int)
@click.option("--poa", type=_FILE, help=_("POA GeoTIFF (plan poa-map; any CRS, one band)."))
@click.option(
    "--poa-report",
    type=_FILE,
    help=_("The plan poa report (NAME_report.json): the searched share."),
)
@click.option("--orthophoto", type=_FILE, help=_("Orthophoto GeoTIFF (RGB or RGBA)."))
@_DB
@click.option("--json", "as_json", is_flag=True, help=_("JSON output."))
def web_attach(
    request_id: int,
    poa: Path | None,
    poa_report: Path | None,
    orthophoto: Path | None,
    db_path: Path | None,
    as_json: bool,
) -> None:
    from dronekit_plzen.web.results import attach

    req = attach(_db(db_path), request_id, poa=poa, poa_report=poa_report, orthophoto=orthophoto)
    cells = len(json.loads(req.poa_geojson)["features"]) if req.poa_geojson else 0
    if as_json:
        echo_json(
            {
                "request": req.id,
                "poa_cells": cells if poa is not None else None,
                "searched_share": req.searched_share,
                "orthophoto": req.orthophoto_path,
            }
        )
        return
    if poa is not None:
        info(_("POA map attached to request {id}: {n} cells").format(id=req.id, n=cells))
    if poa_report is not None and req.searched_share is not None:
        info(_("searched share of the probability: {p:.1f} %").format(p=100 * req.searched_share))
    if orthophoto is not None:
        info(_("orthophoto attached: {path}").format(path=req.orthophoto_path))
