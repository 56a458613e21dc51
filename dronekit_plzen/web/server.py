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
) -> FastAPI:
    """The portal on ``db_path`` (created and migrated now, so a bad path fails at start)."""
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
        )
    )
