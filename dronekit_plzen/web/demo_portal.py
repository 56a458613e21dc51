"""The portal at the end of the SAR demo: the demo's deployment as a request, demo accounts."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from pathlib import Path

from dronekit_plzen.errors import BadInputError
from dronekit_plzen.i18n import _
from dronekit_plzen.web.auth import hash_password
from telemetry import requests as rq
from telemetry.store import open_store


@dataclass(frozen=True)
class DemoPortal:
    request_id: int
    accounts: list[tuple[str, str, str]]  # (user name, role, password)


def prepare_demo(db_path: Path, deployment_id: int | None = None) -> DemoPortal:
    """Link the deployment (default: the latest) to a request and make one account per role
    with a fresh random password (printed once; a demo database is thrown away)."""
    with open_store(db_path) as store:
        if deployment_id is None:
            rows = store.query("SELECT id FROM deployments ORDER BY id DESC LIMIT 1")
            if not rows:
                raise BadInputError(
                    _("no deployment in the database (run the demo first)"), where=str(db_path)
                )
            deployment_id = int(rows[0]["id"])
        req = rq.request_for_deployment(store, deployment_id, actor="demo")
        accounts = []
        for name, role, org in (
            (f"demo-{req.organisation.lower()}", "requester", req.organisation),
            ("demo-pilot", "pilot", None),
            ("demo-admin", "admin", None),
        ):
            if rq.get_user(store, name) is not None:
                continue
            password = secrets.token_urlsafe(9)
            rq.add_user(store, name, hash_password(password), role, organisation=org, actor="demo")
            accounts.append((name, role, password))
    return DemoPortal(req.id, accounts)
