"""Helpers of the web portal tests: the accounts, a test basemap, a valid request form."""

from __future__ import annotations

import re
from pathlib import Path

#: user name → (password, role, organisation)
USERS: dict[str, tuple[str, str, str | None]] = {
    "hzs1": ("heslo-test-0001", "requester", "HZS"),
    "pcr1": ("heslo-test-0001", "requester", "PCR"),
    "pilot1": ("heslo-test-0001", "pilot", None),
    "admin1": ("heslo-test-0001", "admin", None),
}  # one password: it is hashed once (argon2 is slow on purpose)
BORY = (13.3500, 49.7230)  # lon, lat: Plzeň-Bory, where the simulator takes off
AREA = {
    "type": "Polygon",
    "coordinates": [
        [
            [13.3480, 49.7215],
            [13.3530, 49.7215],
            [13.3530, 49.7250],
            [13.3480, 49.7250],
            [13.3480, 49.7215],
        ]
    ],
}
_CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')


def make_tiles(cache: Path, bbox: tuple[float, float, float, float], zooms: range) -> int:
    """Real PNG tiles of a plain test basemap (a grid and the tile's name) in the tile cache."""
    from PIL import Image, ImageDraw

    from dronekit_plzen.basemap.grid import tiles_in_bbox

    n = 0
    for tile in tiles_in_bbox(bbox, zooms):
        img = Image.new("RGB", (256, 256), (236, 232, 220))
        d = ImageDraw.Draw(img)
        d.rectangle((0, 0, 255, 255), outline=(190, 190, 170))
        d.text((8, 8), f"{tile.z}/{tile.x}/{tile.y}", fill=(120, 120, 110))
        p = cache / "osm" / str(tile.z) / str(tile.x) / f"{tile.y}.png"
        p.parent.mkdir(parents=True, exist_ok=True)
        img.save(p)
        n += 1
    return n


def seed_users(db: Path) -> None:
    from dronekit_plzen.web.auth import hash_password
    from telemetry.requests import add_user
    from telemetry.store import open_store

    hashes: dict[str, str] = {}
    with open_store(db) as store:
        for name, (pw, role, org) in USERS.items():
            h = hashes.setdefault(pw, hash_password(pw)) if pw not in hashes else hashes[pw]
            add_user(store, name, h, role, organisation=org, actor="test")


def csrf_of(html: str) -> str:
    m = _CSRF_RE.search(html)
    assert m, "no CSRF token in the page"
    return m.group(1)


def request_form(**over: str) -> dict[str, str]:
    """A valid SAR request filed by HZS (fields as the browser posts them)."""
    import json

    form = {
        "organisation": "HZS",
        "category": "sar",
        "urgency": "immediate",
        "location": "Plzeň-Bory, lesopark",
        "position": "",
        "geometry": json.dumps(AREA),
        "subject_category": "dementia",
        "subject_description": "muž 78 let, modrá bunda",
        "lkp": "49.7231, 13.3502",
        "lkp_time": "",
        "contact_name": "npor. Novák, HZS Plzeň",
        "contact_phone": "+420 950 123 456",
        "notes": "",
    }
    from datetime import datetime, timedelta
    from zoneinfo import ZoneInfo

    form["lkp_time"] = (datetime.now(ZoneInfo("Europe/Prague")) - timedelta(hours=1)).strftime(
        "%Y-%m-%dT%H:%M"
    )
    form.update(over)
    return form
