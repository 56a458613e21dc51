"""Indicator GOV 16, the HTML report, charts and the open-data exports; the CLI around them."""

from __future__ import annotations

import csv
import io
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from dronekit_plzen.cli.main import cli
from telemetry.deployments import create_deployment, link_flight, update_deployment
from telemetry.indicator import indicator_report
from telemetry.report_files import export_open_data, write_html_report
from telemetry.segment import iso_utc
from telemetry.store import open_store

REPO = Path(__file__).resolve().parents[2]


def _flight(store, vid: int, start: str, airborne_s: float, pilot: int | None = None) -> int:  # type: ignore[no-untyped-def]
    return store.insert_flight(
        {
            "vehicle_id": vid,
            "pilot_id": pilot,
            "start_utc": start,
            "takeoff_utc": start,
            "end_utc": start,
            "duration_s": airborne_s + 30,
            "airborne_s": airborne_s,
            "distance_m": 1000.0,
            "path_geojson": json.dumps(
                {"type": "LineString", "coordinates": [[13.37, 49.74], [13.38, 49.75]]}
            ),
        }
    )


@pytest.fixture()
def db(tmp_path: Path) -> Path:
    """2023: 9 counted deployments in Q3/Q4; 2024: Q1 2, Q2 3 + exercise + pending + cancelled."""
    path = tmp_path / "ind.db"
    with open_store(path) as store:
        vid = store.vehicle_id("uav-1", name="M30T-1")
        vid2 = store.vehicle_id("uav-2", name="M3T-2")
        pid = store.add_pilot("Jana Nováková")

        def dep(org: str, cat: str, when: str, status: str = "completed", v: int = vid) -> int:
            d = create_deployment(
                store, organisation=org, category=cat, location="Plzeň", requested_at=when
            )
            if status in ("in_progress", "completed"):
                fid = _flight(store, v, when, 1800.0, pid)
                link_flight(store, d.id, fid)
                if status == "completed":
                    update_deployment(store, d.id, status="completed")
            elif status == "cancelled":
                update_deployment(store, d.id, status="cancelled")
            return d.id

        for i in range(5):
            dep("HZS", "fire", f"2023-08-{i + 1:02d}T10:00:00Z")
        for i in range(4):
            dep("PCR", "sar", f"2023-11-{i + 1:02d}T10:00:00Z")
        dep("HZS", "flood", "2024-02-01T10:00:00Z")
        dep("KRIZ", "flood", "2024-03-01T10:00:00Z", status="in_progress", v=vid2)
        dep("PCR", "sar", "2024-04-03T10:00:00Z")
        dep("ZZS", "accident", "2024-05-03T10:00:00Z")
        dep("MP", "public_event", "2024-06-03T10:00:00Z", v=vid2)
        dep("HZS", "exercise", "2024-06-10T10:00:00Z")
        dep("HZS", "fire", "2024-06-20T10:00:00Z", status="requested")
        dep("PCR", "sar", "2024-06-21T10:00:00Z", status="cancelled")
    return path


def test_indicator_per_quarter(db: Path) -> None:
    with open_store(db) as store:
        rep = indicator_report(store, 2024)
        ex = indicator_report(store, 2024, include_exercises=True)
        q2 = indicator_report(store, 2024, 2)
    counts = [q.count for q in rep.quarters]
    assert counts == [2, 3, 0, 0]
    # rolling four quarters: 2023-Q2..2024-Q1 = 0+5+4+2 = 11; 2023-Q3..2024-Q2 = 5+4+2+3 = 14
    assert [q.rolling_4q for q in rep.quarters] == [11, 14, 9, 5]
    assert rep.quarters[1].progress_pct == pytest.approx(100 * (14 - 10) / 20)
    assert rep.quarters[1].exercises == 1
    assert rep.quarters[1].pending == 1 and rep.quarters[1].cancelled == 1
    assert rep.total == 5 and ex.total == 6
    assert rep.by_organisation == {"HZS": 1, "KRIZ": 1, "MP": 1, "PCR": 1, "ZZS": 1}
    assert rep.by_category["flood"] == 2 and "exercise" not in rep.by_category
    assert ex.by_category["exercise"] == 1
    assert [q.label for q in q2.quarters] == ["2024-Q2"] and q2.total == 3
    # airborne hours: 6 flown deployments in 2024 (exercise included: it was flown) × 0.5 h
    assert sum(rep.hours_by_vehicle.values()) == pytest.approx(3.0)
    assert rep.hours_by_vehicle["M3T-2"] == pytest.approx(1.0)
    assert list(rep.hours_by_pilot) == ["pilot 1"]  # ids, not names, unless asked


def test_html_report_is_self_contained(db: Path, tmp_path: Path) -> None:
    with open_store(db) as store:
        rep = indicator_report(store, 2024)
        out = write_html_report(rep, tmp_path / "out" / "report.html", store=store)
    text = out.read_text(encoding="utf-8")
    assert text.count("data:image/png;base64,") >= 3
    assert not re.search(r"(src|href)=[\"']?(https?:)?//", text)
    assert "http" not in text
    charts = out.parent / "report_charts"
    for stem in ("indicator_quarters", "indicator_categories", "tracks"):
        assert (charts / f"{stem}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert b"<svg" in (charts / f"{stem}.svg").read_bytes()[:2000]


def test_open_data_exports(db: Path, tmp_path: Path) -> None:
    with open_store(db) as store:
        files = export_open_data(store, tmp_path / "od", year=2024)
        named = export_open_data(store, tmp_path / "od2", year=2024, include_pilot_names=True)
    rows = list(csv.DictReader(files["flights_csv"].open(encoding="utf-8")))
    assert len(rows) == 6 and {r["pilot"] for r in rows} == {"1"}
    meta = json.loads(Path(str(files["flights_csv"]) + "-metadata.json").read_text())
    cols = [c["name"] for c in meta["tableSchema"]["columns"]]
    assert cols == list(rows[0]) and all(
        c["dc:description"] for c in meta["tableSchema"]["columns"]
    )
    named_rows = list(csv.DictReader(named["flights_csv"].open(encoding="utf-8")))
    assert {r["pilot"] for r in named_rows} == {"Jana Nováková"}
    gj = json.loads(files["flights_geojson"].read_text())
    assert len(gj["features"]) == 6
    assert gj["features"][0]["geometry"]["type"] == "LineString"
    deps = list(csv.DictReader(files["deployments_csv"].open(encoding="utf-8")))
    assert len(deps) == 8


def test_cli_report_and_flights(db: Path, tmp_path: Path) -> None:
    r = CliRunner().invoke(
        cli,
        [
            "report",
            "indicator",
            "--year",
            "2024",
            "--db",
            str(db),
            "--json",
            "--out",
            str(tmp_path / "rep"),
        ],
    )
    assert r.exit_code == 0, r.output
    data = json.loads(r.output)
    assert [q["count"] for q in data["quarters"]] == [2, 3, 0, 0]
    assert Path(data["html"]).exists()
    # the text names what the percentage is (a bare "(-50 %)" beside the count read as a fall)
    r = CliRunner().invoke(cli, ["report", "indicator", "--year", "2024", "--db", str(db)])
    assert r.exit_code == 0, r.output
    q1 = next(line for line in r.output.splitlines() if "2024-Q1" in line)
    pct = data["quarters"][0]["progress_pct"]
    assert f"progress %: {pct:4.0f}" in q1 and "last 4 quarters:" in q1, q1
    # 5 deployments over the last four quarters, under the baseline of 10: said in words, in
    # the text and the HTML report (a progress of "-25" had been printed)
    q4 = next(line for line in r.output.splitlines() if "2024-Q4" in line)
    assert "progress %: below baseline" in q4 and "-25" not in q4, q4
    html = Path(data["html"]).read_text(encoding="utf-8")
    assert "below baseline" in html and ">-25<" not in html
    # counts as a person reads them, not a Python dict ({'HZS': 1, ...})
    org = next(line for line in r.output.splitlines() if "by organisation" in line)
    assert "{" not in org and "HZS " in org, org
    r = CliRunner().invoke(
        cli,
        [
            "flights",
            "list",
            "--db",
            str(db),
            "--json",
            "--from",
            "2024-01-01",
            "--to",
            "2024-03-31",
        ],
    )
    assert r.exit_code == 0, r.output
    fl = json.loads(r.output)
    assert len(fl) == 2
    assert {
        "id",
        "vehicle",
        "start_time_utc",
        "end_time_utc",
        "duration_s",
        "distance_m",
        "max_height_m",
        "start_lat",
        "start_lon",
        "end_lat",
        "end_lon",
        "source_file",
        "ground_run",
    } <= set(fl[0])
    r = CliRunner().invoke(
        cli, ["flights", "list", "--db", str(db), "--json", "--vehicle", "M3T-2"]
    )
    assert len(json.loads(r.output)) == 2


def test_cli_deployments_round_trip(tmp_path: Path, shared_data: Path) -> None:
    db = str(tmp_path / "c.db")
    run = CliRunner().invoke
    r = run(
        cli,
        [
            "deployments",
            "create",
            "--db",
            db,
            "--org",
            "PCR",
            "--category",
            "sar",
            "--location",
            "Plzeň, Bolevecký rybník",
            "--at",
            "49.7781,13.3862",
            "--requested-at",  # the day of the flight imported for it below
            "2023-07-06T08:00:00Z",
            "--json",
        ],
    )
    assert r.exit_code == 0, r.output
    dep = json.loads(r.stdout)  # the JSON alone on stdout; the new database said on stderr
    assert r.stderr.splitlines() == [f"created a new flight database at {db}"]
    assert dep["lat_deg"] == pytest.approx(49.7781)
    r = run(
        cli,
        [
            "import",
            "--db",
            db,
            "--deployment",
            str(dep["id"]),
            "--json",
            str(shared_data / "logs" / "df_uob_2023-07-06_10-12-18.bin"),
        ],
    )
    assert r.exit_code == 0, r.output
    (res,) = json.loads(r.output)
    r = run(cli, ["deployments", "show", str(dep["id"]), "--db", db, "--json"])
    shown = json.loads(r.output)
    assert shown["status"] == "in_progress" and len(shown["flights"]) == 1
    assert shown["flights"][0]["id"] == res["flight_ids"][0]
    r = run(
        cli,
        [
            "deployments",
            "update",
            str(dep["id"]),
            "--db",
            db,
            "--status",
            "completed",
            "--outcome",
            "found",
            "--json",
        ],
    )
    assert json.loads(r.output)["status"] == "completed"
    r = run(cli, ["flights", "list", "--db", db, "--deployment", str(dep["id"]), "--json"])
    assert len(json.loads(r.output)) == 1
    # the real track's heights name their datum (RFC 7946 would read them as ellipsoidal)
    fid = str(res["flight_ids"][0])
    # counts in the singular ("1 flights linked" was printed)
    r = run(cli, ["deployments", "link-flight", str(dep["id"]), fid, "--db", db])
    assert r.stdout.strip() == f"1 flight linked to deployment #{dep['id']}", r.output
    r = run(cli, ["flights", "pilot", "Jana Nováková", fid, "--db", db])
    assert r.stdout.strip().endswith("set on 1 flight"), r.output
    feat = json.loads(run(cli, ["flights", "show", fid, "--db", db, "--geojson"]).output)
    assert len(feat["geometry"]["coordinates"][0]) == 3 and feat["properties"]["z_datum"] == "AMSL"
    r = run(cli, ["report", "export", "--db", db, "--out", str(tmp_path / "od"), "--json"])
    gj = json.loads(Path(json.loads(r.output)["flights_geojson"]).read_text())
    assert gj["features"][0]["properties"]["z_datum"] == "AMSL"


def test_cli_errors_are_one_line_without_traceback(tmp_path: Path) -> None:
    db = str(tmp_path / "e.db")
    base = [sys.executable, "-m", "dronekit_plzen"]
    p = subprocess.run(
        [*base, "deployments", "update", "1", "--db", db, "--status", "completed"],
        capture_output=True,
        text=True,
        cwd=REPO,
    )
    # a command that changes stored records does not make a database to find nothing in
    assert p.returncode == 2 and "e.db: no flight database here" in p.stderr
    assert "Traceback" not in p.stderr and len(p.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "e.db").exists()
    bad = tmp_path / "bad.ulg"
    bad.write_bytes(b"ULog\x01\x12\x35\x01" + b"\x00" * 8 + b"\xff\xff\x00" * 10)
    p = subprocess.run(
        [*base, "import", "--db", db, str(bad), str(tmp_path / "none.tlog")],
        capture_output=True,
        text=True,
        cwd=REPO,
    )
    # a ULog header with no valid record after it, and a missing file: both bad input (exit 2),
    # each named on its own line
    assert p.returncode == 2 and "Traceback" not in p.stderr + p.stdout
    lines = p.stdout.splitlines()
    assert len(lines) == 2
    assert "bad.ulg: not a PX4 ULog file" in lines[0] and "none.tlog: no such file" in lines[1]


def test_cli_flights_show_deployments_list_and_export(db: Path, tmp_path: Path) -> None:
    run = CliRunner().invoke
    r = run(cli, ["flights", "show", "1", "--db", str(db), "--json"])
    assert r.exit_code == 0, r.output
    shown = json.loads(r.output)
    assert shown["id"] == 1 and shown["duration_s"] == 1830.0 and "events" in shown
    r = run(cli, ["flights", "show", "1", "--db", str(db), "--geojson"])
    feat = json.loads(r.output)
    assert feat["type"] == "Feature" and feat["geometry"]["type"] == "LineString"
    r = run(cli, ["deployments", "list", "--db", str(db), "--year", "2024", "--json"])
    deps = json.loads(r.output)
    assert [d["status"] for d in deps].count("cancelled") == 1 and len(deps) == 8
    r = run(cli, ["report", "export", "--db", str(db), "--out", str(tmp_path / "od"), "--json"])
    assert r.exit_code == 0, r.output
    assert Path(json.loads(r.output)["flights_geojson"]).exists()
    r = run(cli, ["flights", "show", "99", "--db", str(db)])
    assert r.exit_code != 0
    r = run(cli, ["flights", "pilot", "Petr Novák", "2", "3", "--db", str(db)])
    assert r.exit_code == 0, r.output
    with open_store(db) as store:
        rep = indicator_report(store, 2023, pilot_names=True)
    assert set(rep.hours_by_pilot) == {"Jana Nováková", "Petr Novák"}


def test_locked_database_is_a_clear_storage_error(db: Path, shared_data: Path) -> None:
    import sqlite3

    from dronekit_plzen.errors import StorageError
    from telemetry.importer import import_file

    blocker = sqlite3.connect(db, isolation_level=None)
    blocker.execute("BEGIN EXCLUSIVE")
    try:
        with (
            pytest.raises(StorageError, match="locked by another program"),
            open_store(db, busy_timeout_s=0.2) as store,
        ):
            import_file(store, shared_data / "logs" / "ulg_pyulog_sample_log_small.ulg")
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    with open_store(db) as store:  # nothing half-written
        assert store.query("SELECT COUNT(*) AS n FROM sources")[0]["n"] == 0


def test_open_data_dates_deployments_as_the_indicator_does(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The open-data rows read the month by position (a stored time that is not a date was an
    internal error in the portal) and dated a deployment by its request when its flight had no
    take-off time on the deployment: requested 31 December, flown 1 January, the indicator
    counted it in the new year and the open data in the old one."""
    from dronekit_plzen.web import opendata

    with open_store(tmp_path / "od.db") as store:
        vid = store.vehicle_id("uav-1", name="M30T-1")
        late = create_deployment(
            store, organisation="HZS", category="fire", location="Bolevec",
            requested_at="2023-12-31T23:30:00Z", status="accepted", lat_deg=49.79, lon_deg=13.39,
        )  # fmt: skip
        fid = _flight(store, vid, "2024-01-01T00:10:00Z", 900.0)
        with store.transaction():  # a flight stored with its deployment, no take-off on it
            store.conn.execute("UPDATE flights SET deployment_id = ? WHERE id = ?", (late.id, fid))
            store.conn.execute(
                "UPDATE deployments SET status = 'completed' WHERE id = ?", (late.id,)
            )
            store.conn.execute(
                "INSERT INTO deployments (organisation, category, location, requested_at, status, "
                "created_at, updated_at) VALUES ('HZS', 'fire', 'X', '1-01-01T00:00:00Z', "
                "'completed', '1-01-01T00:00:00Z', '1-01-01T00:00:00Z')"
            )
        with caplog.at_level("WARNING"):
            rows = opendata.deployment_rows(store)
            rows_2024 = opendata.deployment_rows(store, 2024)
            geo = opendata.gov16_geojson(store, 2024)
        assert [(r["deployment"], r["year"], r["month"], r["quarter"]) for r in rows] == [
            (late.id, 2024, 1, 1)
        ]
        assert rows_2024 == rows and opendata.deployment_rows(store, 2023) == []
        q1 = geo["properties"]["quarters"][0]
        assert q1["count"] == 1 and len(geo["features"]) == 1  # the indicator and the map agree
        assert "its time '1-01-01T00:00:00Z' is not a date; left out of the report" in caplog.text


def test_flight_list_says_the_height_datum_and_an_unknown_height_is_not_0(tmp_path: Path) -> None:
    with open_store(tmp_path / "h.db") as store:
        vid = store.vehicle_id("uav-1", name="M30T-1")
        known = _flight(store, vid, "2024-05-02T06:15:00Z", 600.0)
        unknown = _flight(store, vid, "2024-05-03T06:15:00Z", 600.0)
        with store.transaction():
            store.conn.execute("UPDATE flights SET max_height_m = 87.3 WHERE id = ?", (known,))
            store.conn.execute("UPDATE flights SET max_height_m = NULL WHERE id = ?", (unknown,))
    r = CliRunner().invoke(cli, ["flights", "list", "--db", str(tmp_path / "h.db")])
    assert r.exit_code == 0, r.output
    lines = r.output.splitlines()
    assert lines[0].endswith("max   87.3 m above home"), lines[0]
    assert lines[1].endswith("max      ? m above home"), lines[1]


def test_flights_show_gives_event_times_as_utc_times_of_day(
    tmp_path: Path, shared_data: Path
) -> None:
    """A real log's events: "10:12:20.4 mode STABILIZE", not "1688638340.4 mode STABILIZE"."""
    db = tmp_path / "f.db"
    log = shared_data / "logs" / "df_uob_2023-07-06_10-12-18.bin"
    r = CliRunner().invoke(cli, ["--db", str(db), "import", str(log)])
    assert r.exit_code == 0, r.output
    r = CliRunner().invoke(cli, ["--db", str(db), "flights", "show", "1", "--json"])
    events = json.loads(r.output)["events"]
    assert events
    r = CliRunner().invoke(cli, ["--db", str(db), "flights", "show", "1"])
    lines = r.output.splitlines()[-len(events) :]  # after the summary's "key: value" lines
    for ln, e in zip(lines, events):
        assert re.match(r"  \d\d:\d\d:\d\d\.\d \S", ln), ln
        assert ln.startswith(f"  {iso_utc(e['t_s'])[11:21]} {e['kind']}"), ln


def test_open_data_cells_typed_by_people_are_never_formulas(db: Path, tmp_path: Path) -> None:
    """A requester's location ``=HYPERLINK(...)`` went into deployments.csv as it was typed:
    a link (or a command) when the city's staff open the export in a spreadsheet (OWASP "CSV
    injection"). It gets a leading ``'``; numbers, negative ones too, stay numbers."""

    with open_store(db) as store:
        create_deployment(
            store,
            organisation="HZS",
            category="fire",
            location='=HYPERLINK("http://evil.example","Bolevec")',
            requested_at="2024-05-01T10:00:00+00:00",
            lat_deg=49.79,
            lon_deg=-0.005,
        )
        files = export_open_data(store, tmp_path / "od", year=2024)
    deps = list(csv.DictReader(files["deployments_csv"].open(encoding="utf-8")))
    typed = [d for d in deps if "HYPERLINK" in d["location"]]
    assert [d["location"][:11] for d in typed] == ["'=HYPERLINK"]
    assert typed[0]["lon"] == "-0.005"


def test_open_data_coordinates_read_as_the_autopilot_sent_them(
    tmp_path: Path, shared_data: Path
) -> None:
    """A position sent in 1e-7 degrees is exported with its 7 decimals (149.1657211), not with
    the binary float's tail (149.16572109999998 in flights.csv)."""
    db = str(tmp_path / "c.db")
    log = str(shared_data / "logs" / "tlog_dronekit_flight.tlog")
    r = CliRunner().invoke(cli, ["import", "--db", db, log])
    assert r.exit_code == 0, r.output
    with open_store(db) as store:
        files = export_open_data(store, tmp_path / "od")
    text = files["flights_csv"].read_text(encoding="utf-8")
    row = next(csv.DictReader(io.StringIO(text)))
    for col in ("start_lat", "start_lon", "end_lat", "end_lon"):
        assert len(row[col].partition(".")[2]) <= 7, (col, row[col])
    assert row["start_lon"] == "149.1657211"
