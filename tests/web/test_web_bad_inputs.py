"""Bad input to the portal, as an outside tester tries it: every case answers 4xx with a message
naming the problem (the form's field, a flash, a JSON ``error``), never a 500, and stores
nothing; the ``serve`` and ``web users`` commands say it on one ``error:`` line, exit code 2.

Found by the bad-input sweep of the portal (before → now): a GeoJSON nested thousands deep and
a last-known time in year 1 were a 500; points and areas in Sydney or with latitude and
longitude swapped (Yemen) were filed; an area's holes were dropped silently; NUL and other
control characters were stored as the pilot, the drones, a reason and a user name (a bidi
override too); a pilot's, drone's or reason's excess was cut silently; ``/requests/abc`` was
pydantic's JSON on an HTML page; ``year=0`` was the current year's GOV 16 and ``year=-1`` an
empty list; a double click filed the request twice; a damaged offline pack was a 500 per
tile; ``serve`` on an address not of this computer or a port in use printed its start line
and then uvicorn's ERROR (exit 3); a binary secret file was an internal error and a folder
"readable by other users"; ``web attach`` took half a GeoTIFF (its header is valid) and was
an internal OverflowError for an id beyond SQLite's INTEGER.
"""

from __future__ import annotations

import html
import json
import os
import socket
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from dkp_testkit import sparse_raster
from portal_kit import AREA, request_form

from telemetry import requests as rq
from telemetry.store import open_store

CLI = [sys.executable, "-m", "dronekit_plzen"]


def _count(db: Path, table: str) -> int:
    with open_store(db) as s:
        return s.count(table)


def _polygon(*corners: tuple[float, float], holes: list[Any] | None = None) -> str:
    ring = [list(c) for c in corners] + [list(corners[0])]
    return json.dumps({"type": "Polygon", "coordinates": [ring, *(holes or [])]})


HOLE = [[13.349, 49.722], [13.350, 49.722], [13.350, 49.723], [13.349, 49.722]]
SYDNEY = ((151.20, -33.86), (151.21, -33.86), (151.21, -33.85))

#: (id, form fields changed, the field named, the message)
FORM_CASES: list[tuple[str, dict[str, str], str, str]] = [
    ("geometry-nested-50000-deep", {"geometry": "[" * 50_000 + "]" * 50_000}, "geometry",
     "could not be read"),
    ("geometry-json-list", {"geometry": "[1, 2]"}, "geometry", "draw a point or an area"),
    ("geometry-feature-null", {"geometry": '{"type": "Feature", "geometry": null}'}, "geometry",
     "draw a point or an area"),
    ("point-nan", {"geometry": '{"type": "Point", "coordinates": [NaN, 49.7]}'}, "geometry",
     "outside WGS84"),
    ("point-1e308", {"geometry": '{"type": "Point", "coordinates": [1e308, 1e308]}'},
     "geometry", "outside WGS84"),
    ("point-swapped", {"geometry": '{"type": "Point", "coordinates": [49.7475, 13.3776]}'},
     "geometry", "latitude and longitude swapped"),
    ("point-sydney", {"geometry": '{"type": "Point", "coordinates": [151.2, -33.86]}'},
     "geometry", "outside the Czech Republic"),
    ("area-sydney", {"geometry": _polygon(*SYDNEY)}, "geometry", "outside the Czech Republic"),
    ("area-over-the-antimeridian",
     {"geometry": _polygon((179.99, 0.0), (-179.99, 0.0), (-179.99, 0.01))}, "geometry",
     "outside the Czech Republic"),
    ("area-with-a-hole",
     {"geometry": _polygon(*[tuple(c) for c in AREA["coordinates"][0][:4]], holes=[HOLE])},
     "geometry", "holes"),
    ("area-nan-corner",
     {"geometry": json.dumps(AREA).replace("13.353", "NaN", 1)}, "geometry", "outside WGS84"),
    ("area-one-corner-4-times",
     {"geometry": _polygon((13.35, 49.72), (13.35, 49.72), (13.35, 49.72))}, "geometry",
     "crosses itself"),
    ("area-coordinates-text", {"geometry": '{"type": "Polygon", "coordinates": "abc"}'},
     "geometry", "could not be read"),
    ("position-nan", {"geometry": "", "position": "NaN, NaN"}, "position", "nan out of range"),
    ("position-inf", {"geometry": "", "position": "inf, inf"}, "position",
     "cannot read the position"),
    ("position-latitude-95", {"geometry": "", "position": "95, 13"}, "position",
     "out of range"),
    ("position-swapped", {"geometry": "", "position": "13.3776, 49.7475"}, "position",
     "latitude and longitude swapped"),
    ("position-sydney", {"geometry": "", "position": "-33.86, 151.2"}, "position",
     "outside the Czech Republic"),
    ("lkp-sydney", {"lkp": "-33.86, 151.2"}, "lkp", "outside the Czech Republic"),
    ("lkp-time-year-1", {"lkp_time": "0001-01-01T00:00"}, "lkp_time", "YYYY-MM-DD"),
    ("lkp-time-year-9999", {"lkp_time": "9999-12-31T23:59"}, "lkp_time", "in the future"),
    ("lkp-time-feb-30", {"lkp_time": "2024-02-30T10:00"}, "lkp_time", "YYYY-MM-DD"),
    ("location-nul", {"location": "Bory\x00lesopark"}, "location", "control characters"),
    ("location-500k-chars", {"location": "x" * 500_000}, "location", "at most 200"),
    ("location-empty", {"location": "   "}, "location", "required"),
    ("organisation-unknown", {"organisation": "NATO"}, "organisation", "offered values"),
    ("category-unknown", {"category": "party"}, "category", "offered values"),
    ("phone-31-digits", {"contact_phone": "+" + "1" * 30}, "contact_phone", "telephone"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("over", "field", "message"), [c[1:] for c in FORM_CASES], ids=[c[0] for c in FORM_CASES]
)
def test_a_bad_request_form_is_a_400_naming_the_field_and_stores_nothing(
    portal: dict[str, Any], login: Any, over: dict[str, str], field: str, message: str
) -> None:
    hzs = login("hzs1")
    before = _count(portal["db"], "mission_requests")
    r = hzs.post("/requests/new", data={"csrf_token": hzs.csrf, **request_form(**over)})
    assert r.status_code == 400, r.text[:500]
    assert f'id="err-{field}"' in r.text
    assert message in html.unescape(r.text)
    assert _count(portal["db"], "mission_requests") == before


#: (id, who (None: signed out), path, status, what the answer says)
GET_CASES: list[tuple[str, str | None, str, int, str]] = [
    ("request-id-text", "hzs1", "/requests/abc", 404, "not found"),
    ("request-id-float", "hzs1", "/requests/1.5", 404, "not found"),
    ("request-id-beyond-int64", "hzs1", "/requests/99999999999999999999", 404, "not found"),
    ("request-id-negative", "hzs1", "/requests/-1", 404, "not found"),
    ("live-id-text", "hzs1", "/api/requests/abc/live", 422, "request_id"),
    ("orthophoto-traversal", "hzs1", "/requests/..%2f..%2fetc%2fpasswd/orthophoto", 404, ""),
    ("static-traversal", None, "/static/portal/..%2f..%2fapp.py", 404, ""),
    ("od-year-text", None, "/opendata/deployments.csv?year=abc", 422, "year"),
    ("od-year-negative", None, "/opendata/deployments.csv?year=-1", 400, "2000-2100"),
    ("od-year-huge", None, "/opendata/deployments.geojson?year=99999999999999999999", 400,
     "2000-2100"),
    ("gov16-year-0", None, "/opendata/gov16.csv?year=0", 400, "2000-2100"),
    ("gov16-year-99999", None, "/opendata/gov16.geojson?year=99999", 400, "2000-2100"),
    ("gov16-year-float", None, "/opendata/gov16.geojson?year=1e3", 422, "year"),
    ("tile-zoom-huge", None, "/tiles/osm/99999999999999999999/0/0.png", 404, "not found"),
    ("tile-x-negative", None, "/tiles/osm/1/-1/0.png", 404, "not found"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("who", "path", "status", "message"), [c[1:] for c in GET_CASES], ids=[c[0] for c in GET_CASES]
)
def test_bad_addresses_and_queries_are_4xx_with_a_message(
    portal: dict[str, Any], login: Any, who: str | None, path: str, status: int, message: str
) -> None:
    from fastapi.testclient import TestClient

    client = login(who) if who else TestClient(portal["app"], headers={"accept-language": "en"})
    r = client.get(path)
    assert r.status_code == status, r.text[:500]
    assert message in r.text
    if path.startswith(("/api/", "/opendata/")):
        assert "error" in r.json()


#: the open data's year out of range, in the reader's language (was English only)
YEAR_CASES = [
    ("en", "/opendata/deployments.csv?year=0", "year out of range 2000-2100: 0"),
    ("en", "/opendata/gov16.geojson?year=2101", "year out of range 2000-2100: 2101"),
    ("cs", "/opendata/deployments.geojson?year=-1", "rok mimo rozsah 2000-2100: -1"),
    ("cs", "/opendata/gov16.csv?year=99999", "rok mimo rozsah 2000-2100: 99999"),
]


@pytest.mark.parametrize(("lang", "path", "message"), YEAR_CASES, ids=[c[1] for c in YEAR_CASES])
def test_open_data_year_out_of_range_in_the_readers_language(
    portal: dict[str, Any], lang: str, path: str, message: str
) -> None:
    from fastapi.testclient import TestClient

    r = TestClient(portal["app"], headers={"accept-language": lang}).get(path)
    assert r.status_code == 400
    assert r.json() == {"error": message}


def test_malformed_bodies_are_4xx(portal: dict[str, Any], login: Any) -> None:
    from fastapi.testclient import TestClient

    anon = TestClient(portal["app"])
    for body, ctype in (
        (b"xxx", "multipart/form-data"),  # no boundary
        (b"--b\r\nxxx", "multipart/form-data; boundary=b"),
        (b'{"username": ', "application/json"),
        (b"%%%&&&=%ff%fe", "application/x-www-form-urlencoded"),
    ):
        r = anon.post("/login", content=body, headers={"content-type": ctype})
        assert 400 <= r.status_code < 500, (ctype, r.status_code)
    pilot = login("pilot1")
    r = pilot.post("/requests/abc/accept", data={"csrf_token": pilot.csrf, "pilot": "p"})
    assert r.status_code == 404


#: (id, action, form, the flash message) — on a fresh request each; nothing may change
ANSWER_CASES: list[tuple[str, str, dict[str, str], str]] = [
    ("pilot-nul", "accept", {"pilot": "Novák\x00"}, "Pilot: the text contains control"),
    ("pilot-bidi-override", "accept", {"pilot": "evil\u202etxt.exe"}, "Pilot: the text"),
    ("pilot-121-chars", "accept", {"pilot": "p" * 121}, "Pilot: at most 120 characters"),
    ("drone-control", "accept", {"drones": "M30T,\x01"}, "Drones: the text contains control"),
    ("drone-61-chars", "accept", {"drones": "d" * 61}, "Drones: at most 60 characters"),
    ("drones-11", "accept", {"drones": ",".join(f"d{i}" for i in range(11))},
     "Drones: at most 10 drones"),
    ("reason-nul", "refuse", {"reason": "vítr\x00"}, "Reason: the text contains control"),
    ("reason-501-chars", "refuse", {"reason": "r" * 501}, "Reason: at most 500 characters"),
    ("reason-empty", "refuse", {"reason": "  "}, "give the reason of the refusal"),
    ("cancel-reason-bell", "state", {"state": "cancelled", "reason": "\x07"},
     "Reason: the text contains control"),
    ("state-unknown", "state", {"state": "bogus"}, "unknown state"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("action", "form", "message"),
    [c[1:] for c in ANSWER_CASES],
    ids=[c[0] for c in ANSWER_CASES],
)
def test_a_bad_answer_is_a_flash_and_changes_nothing(
    portal: dict[str, Any], login: Any, action: str, form: dict[str, str], message: str
) -> None:
    hzs, pilot = login("hzs1"), login("pilot1")
    r = hzs.post("/requests/new", data={"csrf_token": hzs.csrf, **request_form()})
    rid = int(r.headers["location"].rsplit("/", 1)[1]) if r.status_code == 303 else None
    if rid is None:  # TestClient follows the redirect
        rid = int(str(r.url).rsplit("/", 1)[1])
    audit_before = _count(portal["db"], "audit_log")
    r = pilot.post(f"/requests/{rid}/{action}", data={"csrf_token": pilot.csrf, **form})
    assert r.status_code == 200  # the redirect to the request, followed
    assert message in html.unescape(r.text)
    with open_store(portal["db"]) as s:
        req = rq.get_request(s, rid)
    assert (req.state, req.assigned_pilot, req.drones, req.answer) == ("requested", None, (), None)
    assert _count(portal["db"], "audit_log") == audit_before


@pytest.mark.parametrize(
    ("form", "message"),
    [
        ({"username": "a\x00b"}, "User name: the text contains control characters"),
        ({"username": "ab\u202ecd"}, "User name: the text contains control characters"),
        ({"username": "u" * 65}, "at most 64 characters"),
        ({"username": "has space"}, "without spaces"),
        ({"role": "god"}, "unknown role"),
        ({"organisation": "NATO"}, "unknown organisation"),
        ({"password": "short"}, "at least 10"),
    ],
    ids=["nul", "bidi", "65-chars", "space", "role", "organisation", "password"],
)
def test_a_bad_account_is_a_flash_and_no_account(
    portal: dict[str, Any], login: Any, form: dict[str, str], message: str
) -> None:
    admin = login("admin1")
    before = _count(portal["db"], "web_users")
    data = {"username": "newuser", "password": "dlouhe-heslo-42", "role": "pilot"} | form
    r = admin.post("/admin/users", data={"csrf_token": admin.csrf, **data})
    assert r.status_code == 200 and message in html.unescape(r.text)
    assert _count(portal["db"], "web_users") == before


def test_the_same_form_sent_twice_files_one_request(portal: dict[str, Any], login: Any) -> None:
    hzs = login("hzs1")
    form_id = html.unescape(hzs.get("/requests/new").text).split('name="form_id" value="')[1]
    form_id = form_id.split('"')[0]
    assert len(form_id) > 20
    before = _count(portal["db"], "mission_requests")
    data = {"csrf_token": hzs.csrf, "form_id": form_id, **request_form()}
    first = hzs.post("/requests/new", data=data, follow_redirects=False)
    second = hzs.post("/requests/new", data=data, follow_redirects=False)
    assert first.status_code == second.status_code == 303
    assert first.headers["location"] == second.headers["location"]
    assert "was filed already" in hzs.get(second.headers["location"]).text
    assert _count(portal["db"], "mission_requests") == before + 1
    # a newly opened form with the same content is a new request (two teams, one place)
    other = {**data, "form_id": "another-form-" + "x" * 20}
    third = hzs.post("/requests/new", data=other, follow_redirects=False)
    assert third.headers["location"] != first.headers["location"]
    assert _count(portal["db"], "mission_requests") == before + 2


def _damaged_pack(path: Path) -> None:
    from dronekit_plzen.basemap.grid import TileId
    from dronekit_plzen.basemap.mbtiles import MBTiles

    tile = b"\x89PNG\r\n\x1a\n" + bytes(3000)
    with MBTiles(path, "w") as pack:
        pack.set_metadata({"name": "damaged"})
        pack.put_many([(TileId(10, x, y), tile) for x in range(30) for y in range(30)])
    data = bytearray(path.read_bytes())
    data[20_000:60_000] = b"\xff" * 40_000  # pages of the tiles' table overwritten
    path.write_bytes(bytes(data))


def test_a_damaged_offline_pack_is_a_missing_tile_not_a_server_error(tmp_path: Path) -> None:
    from fastapi.testclient import TestClient
    from portal_kit import seed_users

    from dronekit_plzen.web.server import build_app

    db, pack = tmp_path / "flights.db", tmp_path / "damaged.mbtiles"
    seed_users(db)
    _damaged_pack(pack)
    app = build_app(db, tile_cache=tmp_path / "empty-cache", packs=[pack])
    client = TestClient(app, raise_server_exceptions=False)
    for x, y in ((0, 0), (5, 5), (29, 29)):
        assert client.get(f"/tiles/osm/10/{x}/{y}.png").status_code == 404


# ----------------------------------------------------------------------------- the CLI
def _run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CLI, *args], capture_output=True, text=True, timeout=60, cwd=cwd, env=os.environ.copy()
    )


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


#: (id, arguments ({db}: a fresh database, {corrupt}: random bytes), the message)
CLI_CASES: list[tuple[str, list[str], str]] = [
    ("serve-port-0", ["serve", "--db", "{db}", "--port", "0"], "'--port'"),
    ("serve-port-70000", ["serve", "--db", "{db}", "--port", "70000"], "'--port'"),
    ("serve-port-text", ["serve", "--db", "{db}", "--port", "abc"], "'--port'"),
    ("serve-login-failures-0", ["serve", "--db", "{db}", "--max-login-failures", "0"],
     "'--max-login-failures'"),
    ("serve-name-failures-nan", ["serve", "--db", "{db}", "--max-name-failures", "nan"],
     "'--max-name-failures'"),
    ("serve-address-failures-huge", ["serve", "--db", "{db}", "--max-address-failures", "1e9"],
     "'--max-address-failures'"),
    ("serve-header-timeout-nan", ["serve", "--db", "{db}", "--header-timeout-s", "nan"],
     "'--header-timeout-s': nan is not a finite number"),
    ("serve-header-timeout-0", ["serve", "--db", "{db}", "--header-timeout-s", "0"],
     "'--header-timeout-s'"),
    ("serve-host-not-local", ["serve", "--db", "{db}", "--host", "192.0.2.1", "--port", "{port}"],
     "192.0.2.1 is not an address of this computer"),
    ("serve-port-in-use", ["serve", "--db", "{db}", "--port", "{busy}"], "is in use"),
    ("serve-db-corrupt", ["serve", "--db", "{corrupt}", "--port", "{port}"], "damaged"),
    ("serve-db-folder", ["serve", "--db", "{folder}", "--port", "{port}"], "this is a folder"),
    ("serve-secret-folder", ["serve", "--db", "{db}", "--secret-file", "{folder}", "--port",
                             "{port}"], "this is a folder, not a session secret"),
    ("serve-secret-binary", ["serve", "--db", "{db}", "--secret-file", "{binary}", "--port",
                             "{port}"], "the session secret is not text"),
    ("serve-pack-garbage", ["serve", "--db", "{db}", "--tiles-pack", "{garbage}", "--port",
                            "{port}"], "not an MBTiles (SQLite) file"),
    ("serve-pack-wrong-columns", ["serve", "--db", "{db}", "--tiles-pack", "{columns}",
                                  "--port", "{port}"], "not an MBTiles file: no such column"),
    ("users-add-control-char", ["web", "users", "add", "a\x01b", "--role", "pilot", "--db",
                                "{db}", "--password-file", "{pw}"], "control characters"),
    ("users-add-bidi", ["web", "users", "add", "ab\u202ecd", "--role", "pilot", "--db", "{db}",
                        "--password-file", "{pw}"], "control characters"),
    ("users-add-role", ["web", "users", "add", "x", "--role", "god", "--db", "{db}",
                        "--password-file", "{pw}"], "'--role'"),
    ("users-add-db-corrupt", ["web", "users", "add", "x", "--role", "pilot", "--db",
                              "{corrupt}", "--password-file", "{pw}"], "damaged"),
    ("users-list-db-folder", ["web", "users", "list", "--db", "{folder}"], "this is a folder"),
    # listed nothing from a new empty database it made (a typo in --db's file name)
    ("users-list-db-missing", ["web", "users", "list", "--db", "{db}"],
     "flights.db: no flight database here"),
    # a typo in --db's folder made that folder and a new empty database
    ("serve-db-folder-missing", ["serve", "--db", "{missing}", "--port", "{port}"],
     "flihgts/x.db: the folder for the flight database does not exist"),
    ("users-add-db-folder-missing", ["web", "users", "add", "x", "--role", "pilot", "--db",
                                     "{missing}", "--password-file", "{pw}"],
     "the folder for the flight database does not exist"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("args", "message"), [c[1:] for c in CLI_CASES], ids=[c[0] for c in CLI_CASES]
)
def test_cli_bad_input_is_one_error_line_exit_2(
    tmp_path: Path, args: list[str], message: str
) -> None:
    corrupt = tmp_path / "corrupt.db"
    corrupt.write_bytes(os.urandom(4096))
    corrupt_before = corrupt.read_bytes()
    (tmp_path / "folder").mkdir()
    binary = tmp_path / "secret.key"
    binary.write_bytes(bytes(range(256)))
    binary.chmod(0o600)
    (tmp_path / "garbage.mbtiles").write_bytes(b"garbage\n" * 100)
    with sqlite3.connect(tmp_path / "columns.mbtiles") as con:
        con.executescript("CREATE TABLE tiles (a); CREATE TABLE metadata (b);")
    (tmp_path / "pw").write_text("dlouhe-heslo-42\n")
    names = {
        "db": tmp_path / "flights.db",
        "corrupt": corrupt,
        "folder": tmp_path / "folder",
        "binary": binary,
        "garbage": tmp_path / "garbage.mbtiles",
        "columns": tmp_path / "columns.mbtiles",
        "pw": tmp_path / "pw",
        "missing": tmp_path / "flihgts" / "x.db",
        "port": _free_port(),
    }
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        names["busy"] = busy.getsockname()[1]
        filled = [a.format(**names) if "{" in a else a for a in args]
        p = _run(*filled, cwd=tmp_path)
    assert p.returncode == 2, (p.returncode, p.stdout, p.stderr)
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0], p.stderr
    assert "Portal on" not in p.stdout + p.stderr  # refused before the start message
    assert corrupt.read_bytes() == corrupt_before  # a damaged database is never rewritten
    # a refused command leaves no new (empty) database and no new folder
    assert not list(tmp_path.glob("flights.db*")) and not (tmp_path / "flihgts").exists()


@pytest.mark.parametrize(
    ("case", "message"),
    [
        # was "… (a truncated or damaged file?): Read failed. See previous exception for
        # details." (rasterio's text, GDAL's reason lost)
        ("truncated-orthophoto", "bad.tif: the orthophoto's pixels cannot be read: the file "
         "ends after {size:,} bytes, before its pixels do (an incomplete copy? copy the whole "
         "file again)"),
        ("damaged-orthophoto", "bad.tif: the orthophoto's pixels cannot be read (a damaged "
         "file?): ZIPDecode:Decoding error"),
        ("random-bytes-orthophoto", "not a GeoTIFF"),
        ("id-beyond-int64", "no request with id 99999999999999999999"),
        # was 31 s and 1.35 GB of block averaging, then the answer
        ("huge-orthophoto", "bad.tif: the raster is 40,000 × 40,000 cells, more than the "
         "400,000,000 read here"),
    ],
    ids=["truncated-orthophoto", "damaged-orthophoto", "random-bytes-orthophoto",
         "id-beyond-int64", "huge-orthophoto"],
)  # fmt: skip
def test_web_attach_refuses_damaged_files_and_impossible_ids(
    tmp_path: Path, case: str, message: str
) -> None:
    """Found from outside: half a GeoTIFF (a valid header) was attached and the portal then
    showed no overlay; an id beyond SQLite's INTEGER was an internal OverflowError."""
    import numpy as np
    import rasterio
    from rasterio.transform import from_origin

    from dronekit_plzen.web.forms import validate_request

    db = tmp_path / "flights.db"
    new = validate_request(request_form(), lambda s: s).request
    assert new is not None
    with open_store(db) as s:
        rid = rq.create_request(s, new, actor="test").id
    good = tmp_path / "ortho.tif"
    profile = {"driver": "GTiff", "width": 300, "height": 300, "count": 3, "dtype": "uint8"}
    if case == "damaged-orthophoto":
        profile["compress"] = "deflate"
    with rasterio.open(
        good, "w", **profile, crs="EPSG:32633", transform=from_origin(380000, 5510000, 0.5, 0.5)
    ) as ds:
        ds.write(np.random.default_rng(1).integers(0, 255, (3, 300, 300), dtype="uint8"))
    ortho, request_id = tmp_path / "bad.tif", str(rid)
    if case == "truncated-orthophoto":
        data = good.read_bytes()
        ortho.write_bytes(data[: len(data) // 2])
        message = message.format(size=len(data) // 2)
    elif case == "damaged-orthophoto":  # zeros in the middle of the compressed pixels
        data = bytearray(good.read_bytes())
        data[len(data) // 3 : len(data) // 3 + 2000] = bytes(2000)
        ortho.write_bytes(bytes(data))
    elif case == "random-bytes-orthophoto":
        ortho.write_bytes(os.urandom(5000))
    elif case == "huge-orthophoto":  # a sparse 40,000² RGB GeoTIFF without overviews
        sparse_raster(ortho, 40_000, bands=3)
    else:
        ortho, request_id = good, "99999999999999999999"
    p = _run("web", "attach", request_id, "--orthophoto", str(ortho), "--db", str(db), cwd=tmp_path)
    assert p.returncode == 2, (p.returncode, p.stderr)
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0], p.stderr
    with open_store(db) as s:
        assert rq.get_request(s, rid).orthophoto_path is None
