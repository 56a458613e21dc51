"""CLI: ``record``, ``import``, ``flights``, ``deployments`` and ``report``."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import threading
import time
from pathlib import Path
from typing import Any

import click

from dronekit_plzen.cliutil import echo_json, info, progress, refuse_given
from dronekit_plzen.errors import BadInputError, DronekitPlzenError
from dronekit_plzen.i18n import _, ngettext
from telemetry.cli_common import DB_OPTION as _DB
from telemetry.cli_common import ROW_ID, creating_database, flight_json
from telemetry.cli_common import db_path_or_default as _db
from telemetry.cli_deployments import deployments

__all__ = ["deployments", "flights", "import_logs", "record", "report"]


#: the slowest and fastest replay speed-up (0 replays as fast as the recorder takes it)
MIN_REPLAY_SPEED = 0.001
MAX_REPLAY_SPEED = 1_000_000.0
#: the longest ``--duration`` of a recording: 30 days (NaN, infinity, 0 and less are refused)
MAX_RECORD_DURATION_S = 30 * 86400.0


# -- record --------------------------------------------------------------------------------------
@click.command(
    name="record",
    help=_("Record every vehicle on a link into the database (and a raw .tlog beside it)."),
)
@click.option("--connect", "url", help=_("Link URL, e.g. udpin://127.0.0.1:14540."))
@click.option(
    "--replay",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help=_("Feed a .tlog instead of a live link (training, tests)."),
)
@click.option("--speed", type=float, default=1.0, show_default=True, help=_("Replay speed-up."))
@_DB
@click.option(
    "--deployment", "deployment_id", type=ROW_ID, help=_("Deployment the flights belong to.")
)
@click.option("--pilot", "pilot_id", type=ROW_ID, help=_("Pilot id."))
@click.option("--tlog", type=click.Path(path_type=Path), help=_("Raw archive (.tlog) path."))
@click.option("--duration", "duration_s", type=float, help=_("Stop after this many seconds."))
@click.option(
    "--mission",
    "missions",
    multiple=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help=_("Plan file(s) being flown: kept in the database with the deployment."),
)
def record(
    url: str | None,
    replay: Path | None,
    speed: float,
    db_path: Path | None,
    deployment_id: int | None,
    pilot_id: int | None,
    tlog: Path | None,
    duration_s: float | None,
    missions: tuple[Path, ...],
) -> None:
    from telemetry.deployments import get_deployment
    from telemetry.store import open_store

    if (url is None) == (replay is None):
        raise BadInputError(_("give exactly one of --connect URL or --replay FILE"))
    if url is not None:  # --speed had been dropped without a word
        refuse_given(
            {"speed": "--speed"},
            _("--speed is the replay's speed-up: a live link runs in real time"),
        )
    # NaN and infinity replayed with thousands of samples dropped, 1e-300 crashed the replay
    # thread (its next message due beyond the platform's clock): 0 is "as fast as possible"
    if not (speed == 0 or MIN_REPLAY_SPEED <= speed <= MAX_REPLAY_SPEED):
        raise BadInputError(
            _("--speed must be 0 (as fast as possible) or from {lo:g} to {hi:g}, got {v:g}").format(
                lo=MIN_REPLAY_SPEED, hi=MAX_REPLAY_SPEED, v=speed
            )
        )
    # NaN, -1 and 0 recorded until the replay ended (exit 0), as if no limit had been given
    if duration_s is not None and not 0 < duration_s <= MAX_RECORD_DURATION_S:
        raise BadInputError(
            _("--duration must be more than 0 and at most {hi:.0f} s (30 days), got {v:g}").format(
                hi=MAX_RECORD_DURATION_S, v=duration_s
            )
        )
    from dronekit_plzen.link.url import parse_url

    spec = parse_url(url) if url is not None else None  # a bad URL fails before anything
    if replay is not None:
        _check_tlog(replay)
    db = _db(db_path)
    _check_archive(tlog, db, replay, missions)
    if deployment_id is not None:  # a deployment is in an existing database: none is created
        with open_store(db, readonly=True) as store:
            get_deployment(store, deployment_id)
    with creating_database(db) as announce:
        with open_store(db):  # a bad database fails before the link opens
            pass
        _record(
            db, spec, url, replay, speed, deployment_id, pilot_id, tlog, duration_s, missions,
            announce=announce,
        )  # fmt: skip


def _record(
    db: Path,
    spec: Any,
    url: str | None,
    replay: Path | None,
    speed: float,
    deployment_id: int | None,
    pilot_id: int | None,
    tlog: Path | None,
    duration_s: float | None,
    missions: tuple[Path, ...],
    *,
    announce: Any,
) -> None:
    from telemetry.recorder import Recorder, replay_tlog

    stop = threading.Event()
    prev = {s: signal.signal(s, lambda *_a: stop.set()) for s in (signal.SIGINT, signal.SIGTERM)}
    rec = Recorder(
        db,
        deployment_id=deployment_id,
        pilot_id=pilot_id,
        tlog_path=tlog,
        on_error=lambda e: info(f"{_('warning')}: {e}"),
    )
    deadline = None if duration_s is None else time.monotonic() + duration_s
    try:
        with contextlib.ExitStack() as stack:
            link = None
            if spec is not None:  # the link opens (or fails) before the recording starts
                from dronekit_plzen.link import connect

                link = stack.enter_context(connect(spec))
            _save_missions(db, missions, deployment_id)
            stack.enter_context(rec)
            announce()  # a new database: said once the recording has started
            info(_("recording into {db} (raw archive {tlog})").format(db=db, tlog=rec.tlog_path))
            if replay is not None:

                def started(wall: float, log0: float) -> None:
                    info(f"replay-start wall={wall:.6f} log={log0:.6f} speed={speed}")

                worker = threading.Thread(
                    target=replay_tlog,
                    args=(replay, rec.on_replayed),  # waits for the writer: drops nothing
                    kwargs={"speed": speed, "stop": stop, "on_start": started},
                    daemon=True,
                )
                worker.start()
                _wait(stop, deadline, rec, worker.is_alive)
            else:
                assert link is not None
                handle = rec.attach(link)
                info(_("listening on {url}").format(url=url))
                try:
                    _wait(stop, deadline, rec, lambda: True)
                finally:
                    handle.remove()
    finally:
        for s, h in prev.items():
            signal.signal(s, h)
    st = rec.status
    info(
        ngettext(
            "recorded {m} messages, {s} samples, {f} flight; {d} dropped",
            "recorded {m} messages, {s} samples, {f} flights; {d} dropped",
            st.flights_closed,
        ).format(m=st.received, s=st.samples_written, f=st.flights_closed, d=st.dropped)
    )


def _check_tlog(path: Path) -> None:
    """A replay file must hold MAVLink frames (its first 1 MiB at least one)."""
    from telemetry.logreaders import refuse_lfs_pointer
    from telemetry.tlog import iter_tlog

    with open(path, "rb") as fh:
        head = fh.read(1 << 20)
    refuse_lfs_pointer(path, head)
    if next(iter_tlog(head), None) is None:
        raise BadInputError(
            _("not a MAVLink telemetry log (no valid .tlog record in it)"), where=str(path)
        )


def _same_file(a: Path, b: Path) -> bool:
    """``a`` and ``b`` are one file (the same inode, or the same resolved path when one of
    them does not exist yet)."""
    try:
        return os.path.samefile(a, b)
    except OSError:
        return os.path.realpath(a) == os.path.realpath(b)


def _check_archive(
    tlog: Path | None, db: Path, replay: Path | None, missions: tuple[Path, ...]
) -> None:
    """The raw archive ``--tlog`` is appended to: it must not be the replayed log (which grew
    by its own frames), the database or a mission file."""
    if tlog is None:
        return
    for opt, src in (("--replay", replay), ("--db", db), *(("--mission", m) for m in missions)):
        if src is not None and _same_file(tlog, src):
            raise BadInputError(
                _(
                    "the raw archive (--tlog) is the input file {f} ({opt}): appending to it "
                    "would change the input; choose another --tlog file"
                ).format(f=src, opt=opt),
                where=str(tlog),
            )


def _save_missions(db: Path, missions: tuple[Path, ...], deployment_id: int | None) -> None:
    from telemetry.store import open_store

    if not missions:
        return
    with open_store(db) as store:
        for plan in missions:
            try:
                text = plan.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as exc:
                raise BadInputError(_("cannot read the mission file"), where=str(plan)) from exc
            with store.transaction():
                store.save_mission(
                    text,
                    name=plan.name,
                    plan_format=plan.suffix.lstrip(".") or "plan",
                    deployment_id=deployment_id,
                )


def _wait(stop: threading.Event, deadline: float | None, rec: Any, alive: Any) -> None:
    last = time.monotonic()
    while alive() and not stop.is_set():
        left = 1.0 if deadline is None else min(1.0, deadline - time.monotonic())
        if left <= 0 or stop.wait(left):
            break
        if time.monotonic() - last >= 10:
            last = time.monotonic()
            st = rec.status
            info(f"… {st.received} msgs, {st.samples_written} samples, {st.flights_opened} flights")


# -- import ----------------------------------------------------------------------------------------
@click.command(
    name="import",
    help=_(
        "Import .tlog, DataFlash .bin/.log and PX4 .ulg/.px4log logs (idempotent; damage is "
        "reported)."
    ),
)
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
@_DB
@click.option("--vehicle", help=_("Vehicle name to file the flights under."))
@click.option(
    "--deployment", "deployment_id", type=ROW_ID, help=_("Deployment the flights belong to.")
)
@click.option("--camera-fov", help=_("Camera field of view H,V in degrees (covered area)."))
@click.option("--json", "as_json", is_flag=True, help=_("Print the results as JSON."))
def import_logs(
    files: tuple[Path, ...],
    db_path: Path | None,
    vehicle: str | None,
    deployment_id: int | None,
    camera_fov: str | None,
    as_json: bool,
) -> None:
    from telemetry.store import open_store

    fov = _fov(camera_fov)
    if deployment_id is not None:  # checked before any file is imported
        from telemetry.deployments import get_deployment

        with open_store(_db(db_path), readonly=True) as store:
            get_deployment(store, deployment_id)
    with creating_database(_db(db_path)):
        _import_and_report(files, _db(db_path), vehicle, deployment_id, fov, as_json)


def _import_and_report(
    files: tuple[Path, ...],
    db: Path,
    vehicle: str | None,
    deployment_id: int | None,
    fov: Any,
    as_json: bool,
) -> None:
    from telemetry.importer import import_files
    from telemetry.store import open_store

    # another import of the same database (or file) waits for this one, then finds its data
    with open_store(db, busy_timeout_s=IMPORT_WAIT_S) as store:
        results = []
        for f in progress(files, total=len(files), label=_("importing")):
            results += import_files(
                store, [f], vehicle=vehicle, deployment_id=deployment_id, camera_fov_deg=fov
            )
    failed = [r for r in results if r.error]
    code = max((r.exit_code for r in failed), default=0)
    if len(results) == 1 and failed and not as_json:  # one file: one line, no summary
        raise (BadInputError if code == 2 else DronekitPlzenError)(str(failed[0].error))
    if as_json:
        echo_json([r.to_dict() for r in results])
    else:
        for r in results:
            _echo_result(r)
    for r in results:
        _warn_result(r)
    if failed:
        raise (BadInputError if code == 2 else DronekitPlzenError)(
            _("{n} of {m} files could not be imported").format(n=len(failed), m=len(results))
        )


#: how long an import waits for another program writing the database (another import)
IMPORT_WAIT_S = 300.0


def _echo_result(r: Any) -> None:
    if r.error:
        text = r.error if r.error.startswith(r.path) else f"{r.path}: {r.error}"
        click.echo(f"{_('error')}: {text}")
        return
    held = len(r.in_fuller_copy)
    if r.duplicate and held and held == len(r.flight_ids):  # one line: where its flights are
        text = ngettext(
            "already imported: its flight is stored as flight {ids}, part of a fuller copy ({src})",
            "already imported: its {n} flights are stored as flights {ids}, part of a fuller copy "
            "({src})",
            held,
        )
        ids = ", ".join(f"#{i}" for i in r.in_fuller_copy)
        click.echo(f"{r.path}: " + text.format(n=held, ids=ids, src=", ".join(r.fuller_copy_from)))
        return
    state = _("already imported") if r.duplicate else _("imported")
    n = r.skipped_flights if r.duplicate and not r.flight_ids else len(r.flight_ids)
    click.echo(
        f"{r.path}: {state} ({r.kind}): {n} {_('flights')}, "
        f"{r.messages} {_('messages')}, {r.bad_messages} {_('bad')}"
    )
    src = ", ".join(r.skipped_from)
    if r.skipped_flights:
        text = ngettext(
            "skipped {n} flight already in the database (from {src})",
            "skipped {n} flights already in the database (from {src})",
            r.skipped_flights,
        )
        click.echo("  " + text.format(n=r.skipped_flights, src=src))
    elif r.duplicate and src:
        click.echo("  " + _("its data is in the database already (from {src})").format(src=src))
    if held:
        text = ngettext(
            "flight {ids} is stored as part of a fuller copy ({src})",
            "flights {ids} are stored as part of a fuller copy ({src})",
            held,
        )
        ids = ", ".join(f"#{i}" for i in r.in_fuller_copy)
        click.echo("  " + text.format(ids=ids, src=", ".join(r.fuller_copy_from)))
    if r.replaced_flights:
        text = ngettext(
            "replaced {n} stored flight ({ids}) by this fuller copy of it (it came from {src})",
            "replaced {n} stored flights ({ids}) by this fuller copy of them (from {src})",
            len(r.replaced_flights),
        )
        ids = ", ".join(f"#{i}" for i in r.replaced_flights)
        click.echo(
            "  " + text.format(n=len(r.replaced_flights), ids=ids, src=", ".join(r.replaced_from))
        )
    for issue in r.issues:
        if issue.offset < 0:  # not at one place in the file
            click.echo(f"  {issue.message}")
        else:
            click.echo(f"  {_('offset')} {issue.offset}: {issue.message}")


def _warn_result(r: Any) -> None:
    if r.coverage_dropped:
        text = ngettext(
            "{path}: the camera coverage of flight {ids} is dropped: it was computed for the "
            "shorter copy, with a field of view not kept in the database; import this file "
            "again with --camera-fov H,V to compute it for the whole flight",
            "{path}: the camera coverage of flights {ids} is dropped: it was computed for the "
            "shorter copies, with a field of view not kept in the database; import this file "
            "again with --camera-fov H,V to compute it for the whole flights",
            len(r.coverage_dropped),
        )
        ids = ", ".join(f"#{i}" for i in r.coverage_dropped)
        info(_("warning: {w}").format(w=text.format(path=r.path, ids=ids)))


def _fov(text: str | None) -> tuple[float, float] | None:
    if not text:
        return None
    try:
        h, v = (float(x) for x in text.split(","))
    except ValueError:
        raise BadInputError(_("--camera-fov takes H,V in degrees, e.g. 84,62")) from None
    if not (0 < h < 180 and 0 < v < 180):
        raise BadInputError(_("--camera-fov takes H,V in degrees, e.g. 84,62"))
    return h, v


# -- flights ---------------------------------------------------------------------------------------
@click.group(name="flights", help=_("List and show recorded flights."))
def flights() -> None:
    """The ``flights`` command group (its help is the translated text above)."""


@flights.command(name="list", help=_("Flights with their summary, oldest first."))
@_DB
@click.option("--from", "date_from", help=_("First day (YYYY-MM-DD)."))
@click.option("--to", "date_to", help=_("Last day (YYYY-MM-DD), inclusive."))
@click.option("--vehicle", help=_("Vehicle name, key or id."))
@click.option("--deployment", "deployment_id", type=ROW_ID, help=_("Deployment id."))
@click.option("--json", "as_json", is_flag=True, help=_("One JSON object per flight."))
def flights_list(
    db_path: Path | None,
    date_from: str | None,
    date_to: str | None,
    vehicle: str | None,
    deployment_id: int | None,
    as_json: bool,
) -> None:
    from telemetry.store import open_store

    first, last = _day(date_from, "--from"), _day(date_to, "--to")
    if first and last and first > last:
        raise BadInputError(
            _("--from {a} is after --to {b}").format(a=first, b=last), where="--from"
        )
    with open_store(_db(db_path), readonly=True) as store:
        # a misspelt vehicle or a deployment that does not exist had listed nothing, exit 0
        if vehicle and not store.has_vehicle(vehicle):
            raise BadInputError(
                _("no vehicle {v!r} in the flight database; it has: {known}").format(
                    v=vehicle, known=", ".join(store.vehicle_names()) or "—"
                ),
                where="--vehicle",
            )
        if deployment_id is not None:
            from telemetry.deployments import get_deployment

            get_deployment(store, deployment_id)
        rows = store.flights(
            date_from=first, date_to=last, vehicle=vehicle, deployment_id=deployment_id
        )
    if as_json:
        echo_json([flight_json(r) for r in rows])
        return
    for r in rows:
        flag = " " + _("ground run") if r["ground_run"] else ""
        if not r["complete"]:  # the recording ended (or was killed) before the disarm
            flag += " " + _("incomplete")
        h = r["max_height_m"]  # above home (the take-off point); unknown is "?"
        top = _("max {h} m above home").format(h=f"{h:6.1f}" if h is not None else "     ?")
        click.echo(
            f"#{r['id']:<4} {r['start_utc']}  {r['vehicle']}  {r['duration_s'] or 0:7.1f} s  "
            f"{r['distance_m'] or 0:8.1f} m  {top}{flag}"
        )


def _day(text: str | None, option: str) -> str | None:
    """A ``YYYY-MM-DD`` option value checked as a real calendar day (2015-02-30 is not)."""
    if text is None:
        return None
    from datetime import date

    try:
        if len(text.strip()) != 10:
            raise ValueError(text)
        return date.fromisoformat(text.strip()).isoformat()
    except ValueError:
        raise BadInputError(
            _("not a date (YYYY-MM-DD): {value!r}").format(value=text), where=option
        ) from None


@flights.command(
    name="pilot", help=_("Record who flew the flights (the pilot is created on first use).")
)
@click.argument("pilot_name")
@click.argument("flight_ids", type=ROW_ID, nargs=-1, required=True)
@_DB
@click.option("--licence", help=_("Pilot's licence number (stored once, with a new pilot)."))
def flights_pilot(
    pilot_name: str, flight_ids: tuple[int, ...], db_path: Path | None, licence: str | None
) -> None:
    from telemetry.store import open_store

    with open_store(_db(db_path), create=False) as store, store.transaction():
        rows = store.query("SELECT id FROM pilots WHERE name = ?", (pilot_name,))
        pid = rows[0]["id"] if rows else store.add_pilot(pilot_name, licence)
        for fid in flight_ids:
            if store.flight(fid) is None:
                raise BadInputError(_("no flight with id {id}").format(id=fid))
            store.update_flight(fid, {"pilot_id": pid})
    n = len(flight_ids)
    click.echo(
        ngettext("pilot #{pid} set on {n} flight", "pilot #{pid} set on {n} flights", n).format(
            pid=pid, n=n
        )
    )


@flights.command(name="show", help=_("One flight: summary, events and path."))
@click.argument("flight_id", type=ROW_ID)
@_DB
@click.option("--json", "as_json", is_flag=True, help=_("JSON output."))
@click.option("--geojson", is_flag=True, help=_("Print the path as a GeoJSON Feature."))
def flights_show(flight_id: int, db_path: Path | None, as_json: bool, geojson: bool) -> None:
    from telemetry.store import open_store

    if geojson:  # --json had been dropped: the GeoJSON Feature is JSON already
        refuse_given({"as_json": "--json"}, _("--geojson prints JSON already: leave out --json"))
    with open_store(_db(db_path), readonly=True) as store:
        row = store.flight(flight_id)
        if row is None:
            raise BadInputError(_("no flight with id {id}").format(id=flight_id))
        events = store.query(
            "SELECT t_s, kind, text, value FROM events WHERE flight_id = ? ORDER BY t_s",
            (flight_id,),
        )
    path = json.loads(row["path_geojson"]) if row["path_geojson"] else None
    if geojson:
        from telemetry.segment import track_datum

        props = flight_json(row) | track_datum(path)
        echo_json({"type": "Feature", "geometry": path, "properties": props})
        return
    data = flight_json(row) | {"events": events}
    if as_json:
        echo_json(data)
        return
    for k, v in flight_json(row).items():
        click.echo(f"{k:>18}: {v}")
    for e in events:
        click.echo(f"  {_clock(e['t_s'])} {e['kind']} {e['text'] or ''}")


def _clock(t_s: float) -> str:
    """An event's time of day, UTC, to a tenth of a second (the date is the flight's); a time
    no clock has (NaN, 1e300 from a damaged log) as the number."""
    from telemetry.segment import iso_utc

    try:
        return iso_utc(t_s)[11:21]
    except (ValueError, OverflowError, OSError):
        return f"{t_s:.1f}"


# -- report ----------------------------------------------------------------------------------------
@click.group(name="report", help=_("Reports: the IZS deployment indicator, open-data exports."))
def report() -> None:
    """The ``report`` command group (its help is the translated text above)."""


@report.command(
    name="indicator",
    help=_("Indicator GOV 16: deployments per quarter against baseline 10 and target 30."),
)
@click.option("--year", type=int, required=True, help=_("Year of the report."))
@click.option("--quarter", type=click.IntRange(1, 4), help=_("One quarter (1-4)."))
@click.option("--include-exercises", is_flag=True, help=_("Count exercises as deployments."))
@_DB
@click.option(
    "--out",
    "out_dir",
    type=click.Path(path_type=Path),
    help=_("Folder for the HTML report and its charts."),
)
@click.option("--pilot-names", is_flag=True, help=_("Show pilot names (default: ids)."))
@click.option("--json", "as_json", is_flag=True, help=_("JSON output."))
def report_indicator(
    year: int,
    quarter: int | None,
    include_exercises: bool,
    db_path: Path | None,
    out_dir: Path | None,
    pilot_names: bool,
    as_json: bool,
) -> None:
    from telemetry.indicator import indicator_report
    from telemetry.report_files import write_html_report
    from telemetry.store import open_store

    with open_store(_db(db_path), readonly=True) as store:
        rep = indicator_report(
            store, year, quarter, include_exercises=include_exercises, pilot_names=pilot_names
        )
        html_path = None
        if out_dir is not None:
            name = f"indicator_{year}" + (f"_q{quarter}" if quarter else "") + ".html"
            html_path = write_html_report(rep, out_dir / name, store=store)
    if as_json:
        echo_json(rep.to_dict() | {"html": str(html_path) if html_path else None})
        return
    click.echo(_("GOV 16 deployments for the IZS and crisis management (baseline 10, target 30)"))
    for q in rep.quarters:
        click.echo(
            f"  {q.label}: {q.count:3d}   {_('last 4 quarters')}: {q.rolling_4q:3d} "
            f"{_('progress %')}: {q.progress_text():>4}   {_('exercises')}: {q.exercises}"
        )
    # (a Python dict had been printed: {'PCR': 1})
    for name, counts in (
        (_("by organisation"), rep.by_organisation),
        (_("by category"), rep.by_category),
    ):
        shown = ", ".join(f"{k} {v}" for k, v in counts.items()) or "—"
        click.echo(f"  {name}: {shown}")
    for k, v in rep.hours_by_vehicle.items():
        click.echo(f"  {k}: {v:.2f} h")
    if html_path:
        info(f"{_('written')}: {html_path}")


@report.command(
    name="export",
    help=_("Open-data exports: flights.csv, deployments.csv (CSVW metadata), flights.geojson."),
)
@_DB
@click.option(
    "--out",
    "out_dir",
    type=click.Path(path_type=Path),
    required=True,
    help=_("Folder for the exported files."),
)
@click.option("--year", type=int, help=_("Only this year."))
@click.option("--pilot-names", is_flag=True, help=_("Include pilot names (default: ids only)."))
@click.option("--json", "as_json", is_flag=True, help=_("JSON output."))
def report_export(
    db_path: Path | None, out_dir: Path, year: int | None, pilot_names: bool, as_json: bool
) -> None:
    from telemetry.report_files import export_open_data
    from telemetry.store import open_store

    with open_store(_db(db_path), readonly=True) as store:
        files = export_open_data(store, out_dir, year=year, include_pilot_names=pilot_names)
    if as_json:
        echo_json({k: str(v) for k, v in files.items()})
    else:
        for v in files.values():
            click.echo(str(v))
