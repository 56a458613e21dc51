"""Assemble the portal for ``serve`` and the tests: settings from paths, the secret file."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from fastapi import FastAPI

from dronekit_plzen.web.app import WebSettings, create_app
from dronekit_plzen.web.auth import SECRET_FILE_NAME, load_or_create_secret
from dronekit_plzen.web.tiles import TileService
from telemetry.store import open_store


def build_app(
    db_path: Path,
    *,
    secret_file: Path | None = None,
    secure_cookies: bool = False,
    tile_cache: Path | None = None,
    packs: Sequence[Path] = (),
    online_tiles: bool = False,
    poll_interval_s: float = 3.0,
    max_login_failures: int = 5,
    max_name_failures: int = 15,
    max_address_failures: int = 20,
    allowed_hosts: Sequence[str] | None = None,
) -> FastAPI:
    """The portal on ``db_path`` (created and migrated now, so a bad path fails at start).

    ``allowed_hosts``: the Host names it answers to (:func:`default_allowed_hosts` for the
    address it listens on); None answers any (an app used in-process, the tests)."""
    db_path = Path(db_path).expanduser()
    with open_store(db_path):
        pass
    secret = load_or_create_secret(secret_file or db_path.parent / SECRET_FILE_NAME)
    tiles = TileService(tile_cache, packs, online=online_tiles)
    return create_app(
        WebSettings(
            db_path=db_path,
            secret=secret,
            secure_cookies=secure_cookies,
            tiles=tiles,
            poll_interval_s=poll_interval_s,
            max_login_failures=max_login_failures,
            max_name_failures=max_name_failures,
            max_address_failures=max_address_failures,
            allowed_hosts=None if allowed_hosts is None else tuple(allowed_hosts),
        )
    )


#: the names of this machine a browser on it uses
LOCAL_HOSTS = ("localhost", "127.0.0.1", "[::1]")


def default_allowed_hosts(bind_host: str, extra: Sequence[str] = ()) -> tuple[str, ...]:
    """The Host names ``serve`` answers to: ``extra`` (``--allowed-host``), the address it
    listens on (not a wildcard: ``0.0.0.0`` and ``::`` are no name a browser sends) and this
    machine's own names."""
    from dronekit_plzen.web.app import normalise_host

    names = [*extra]
    if normalise_host(bind_host) not in ("0.0.0.0", "[::]", ""):
        names.append(bind_host)
    names.extend(LOCAL_HOSTS)
    out: list[str] = []
    for n in names:
        n = n.strip().lower()
        key = n if n.startswith("*") else normalise_host(n)
        if key and key not in out:
            out.append(key)
    return tuple(out)
