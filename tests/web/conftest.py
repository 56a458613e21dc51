"""Web portal fixtures: a flight database with one account per role, the app, signed-in clients."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))  # portal_kit: this folder's helpers

from portal_kit import USERS, csrf_of, make_tiles, seed_users


@pytest.fixture(scope="module")
def portal(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A portal on a fresh database (module-scoped): ``{"db", "app", "dir"}``."""
    from dronekit_plzen.web.server import build_app

    root = tmp_path_factory.mktemp("portal")
    db = root / "flights.db"
    seed_users(db)
    tiles = root / "tiles"
    make_tiles(tiles, (13.340, 49.715, 13.360, 49.730), range(15, 17))
    app = build_app(db, tile_cache=tiles, poll_interval_s=0.5)
    return {"db": db, "app": app, "dir": root}


@pytest.fixture(scope="module")
def login(portal: dict[str, Any]) -> Callable[[str], Any]:
    """``login(name)`` → a TestClient signed in as ``name`` (its ``csrf`` attribute set)."""
    from fastapi.testclient import TestClient

    signed_in: dict[str, Any] = {}

    def sign_in(name: str, lang: str = "en") -> Any:
        """One session per user and module (signing in verifies an argon2 hash: slow)."""
        if name in signed_in:
            signed_in[name].get(f"/lang/{lang}")
            return signed_in[name]
        c = TestClient(portal["app"])
        c.get(f"/lang/{lang}")
        token = csrf_of(c.get("/login").text)
        r = c.post(
            "/login",
            data={"csrf_token": token, "username": name, "password": USERS[name][0]},
            follow_redirects=False,
        )
        assert r.status_code == 303, r.text
        c.csrf = csrf_of(c.get("/requests").text)  # type: ignore[attr-defined]
        signed_in[name] = c
        return c

    return sign_in
