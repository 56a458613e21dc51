"""Report outputs: matplotlib charts (PNG and SVG), a self-contained HTML page, open-data exports.

The HTML has its images inlined as base64 PNG and its style inline: it opens offline and refers
to no external URL. Exports are CSV with a CSVW metadata file documenting every column, and a
GeoJSON FeatureCollection of flight tracks; pilots appear only as ids unless asked otherwise.
"""

from __future__ import annotations

import base64
import csv
import html
import io
import json
from pathlib import Path
from typing import Any

from dronekit_plzen.i18n import _
from dronekit_plzen.outputs import (
    OutputGroup,
    atomic_output,
    csv_cell,
    prepare_output_dir,
    write_text,
    written_path,
)
from telemetry.indicator import IndicatorReport, check_year
from telemetry.segment import track_datum
from telemetry.store import Store

#: open-data columns of flights.csv: name → description
FLIGHT_COLUMNS: dict[str, str] = {
    "flight_id": "Flight number in the city's flight database",
    "vehicle": "Aircraft name or identifier",
    "deployment_id": "Deployment the flight was flown for (empty: training or unattributed)",
    "organisation": "Requesting organisation code (HZS, PCR, ZZS, MP, KRIZ, OTHER)",
    "category": "Deployment category (sar, fire, flood, accident, exercise, public_event, other)",
    "pilot": "Pilot id (a name only when the export was asked to include names)",
    "start_utc": "Arming time, ISO 8601 UTC",
    "end_utc": "Disarming time, ISO 8601 UTC",
    "takeoff_utc": "Take-off time, ISO 8601 UTC (empty for a ground run)",
    "landing_utc": "Landing time, ISO 8601 UTC (empty for a ground run)",
    "duration_s": "Armed time in seconds",
    "airborne_s": "Time in the air in seconds (take-off to landing)",
    "distance_m": "Horizontal distance flown in metres (geodesic, WGS84)",
    "max_height_m": "Maximum height above the take-off point in metres",
    "max_distance_m": "Maximum horizontal distance from the take-off point in metres",
    "battery_used_pct": "Battery charge used, percentage points",
    "start_lat": "Latitude of the first position fix, WGS84 degrees",
    "start_lon": "Longitude of the first position fix, WGS84 degrees",
    "end_lat": "Latitude of the last position fix, WGS84 degrees",
    "end_lon": "Longitude of the last position fix, WGS84 degrees",
    "ground_run": "1 when the aircraft was armed but never took off",
    "complete": "0 when the recording ended before the aircraft disarmed",
}
DEPLOYMENT_COLUMNS: dict[str, str] = {
    "deployment_id": "Deployment number",
    "organisation": "Requesting organisation code (HZS, PCR, ZZS, MP, KRIZ, OTHER)",
    "category": "Category (sar, fire, flood, accident, exercise, public_event, other)",
    "location": "Place name",
    "lat": "Latitude of the place, WGS84 degrees (may be empty)",
    "lon": "Longitude of the place, WGS84 degrees (may be empty)",
    "requested_at": "Request time, ISO 8601 UTC",
    "first_takeoff_at": "First take-off for the deployment, ISO 8601 UTC",
    "ended_at": "End of the deployment, ISO 8601 UTC",
    "status": "requested, accepted, in_progress, completed or cancelled",
    "outcome": "Outcome as recorded by the pilot",
    "flights": "Number of flights flown for the deployment",
}


def charts(report: IndicatorReport, out_dir: Path) -> dict[str, Path]:
    """Write the indicator charts as PNG and SVG; returns name → PNG path."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    prepare_output_dir(out_dir)
    made: dict[str, Path] = {}

    fig = Figure(figsize=(7, 4), dpi=100)
    ax = fig.subplots()
    labels = [q.label for q in report.quarters]
    orgs = sorted({o for q in report.quarters for o in q.by_organisation})
    bottom = [0] * len(labels)
    for org in orgs:
        vals = [q.by_organisation.get(org, 0) for q in report.quarters]
        ax.bar(labels, vals, bottom=bottom, label=org)
        bottom = [b + v for b, v in zip(bottom, vals)]
    ax.plot(labels, [q.rolling_4q for q in report.quarters], "k-o", label=_("last 4 quarters"))
    base, goal = f"{_('baseline')} {report.baseline}", f"{_('target')} {report.target}"
    ax.axhline(report.baseline, color="tab:red", ls="--", label=base)
    ax.axhline(report.target, color="tab:green", ls="--", label=goal)
    ax.set_ylabel(_("deployments"))
    counts = MaxNLocator(integer=True, steps=[1, 2, 5, 10])  # no 2.5 deployments
    ax.yaxis.set_major_locator(counts)
    ax.set_title(_("GOV 16: UAV deployments for the IZS and crisis management"))
    ax.legend(fontsize=7, loc="upper left")
    made["quarters"] = _save(fig, out_dir / "indicator_quarters")

    fig = Figure(figsize=(7, 3.5), dpi=100)
    ax1, ax2 = fig.subplots(1, 2)
    cats = report.by_category or {_("none"): 0}
    ax1.barh(list(cats), list(cats.values()), color="tab:blue")
    ax1.set_title(_("by category"))
    ax1.xaxis.set_major_locator(MaxNLocator(integer=True, steps=[1, 2, 5, 10]))
    ax1.set_xlabel(_("deployments"))
    hours = report.hours_by_vehicle or {_("none"): 0.0}
    ax2.barh(list(hours), list(hours.values()), color="tab:orange")
    ax2.set_title(_("flight hours per vehicle"))
    ax2.set_xlabel(_("hours"))
    fig.tight_layout()
    made["categories"] = _save(fig, out_dir / "indicator_categories")
    return made


def _save(fig: Any, stem: Path) -> Path:
    """PNG and SVG, each written whole or not at all (a temporary file renamed)."""
    png = stem.with_suffix(".png")
    for path, fmt in ((png, "png"), (stem.with_suffix(".svg"), "svg")):
        with atomic_output(path) as tmp:
            fig.savefig(tmp, format=fmt)
    return png


def track_chart(store: Store, flight_ids: list[int], out: Path) -> Path | None:
    """A lon/lat plot of flight tracks (no base map: the report stays offline)."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6, 5), dpi=100)
    ax = fig.subplots()
    drawn = 0
    for fid in flight_ids:
        row = store.flight(fid)
        if not row or not row["path_geojson"]:
            continue
        coords = json.loads(row["path_geojson"])["coordinates"]
        if len(coords) < 2:
            continue
        ax.plot([c[0] for c in coords], [c[1] for c in coords], lw=1, label=f"#{fid}")
        drawn += 1
    if not drawn:
        return None
    ax.set_xlabel("lon (°)")
    ax.set_ylabel("lat (°)")
    ax.set_aspect("equal", adjustable="datalim")
    ax.legend(fontsize=6)
    ax.set_title(_("flown tracks"))
    return _save(fig, out.with_suffix(""))


def _img(png: Path) -> str:
    data = base64.b64encode(written_path(png).read_bytes()).decode("ascii")
    return f'<img alt="{html.escape(png.stem)}" src="data:image/png;base64,{data}">'


def _table(headers: list[str], rows: list[list[Any]]) -> str:
    head = "".join(f"<th>{html.escape(str(h))}</th>" for h in headers)
    body = "".join(
        "<tr>"
        + "".join(f"<td>{html.escape('' if v is None else str(v))}</td>" for v in r)
        + "</tr>"
        for r in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


_CSS = (
    "body{font-family:sans-serif;margin:2em;max-width:60em}table{border-collapse:collapse;"
    "margin:1em 0}td,th{border:1px solid #999;padding:2px 6px;font-size:90%}"
    "th{background:#eee}img{max-width:100%}"
)


def write_html_report(
    report: IndicatorReport,
    out_path: str | Path,
    *,
    store: Store | None = None,
    extra_sections: list[tuple[str, str]] | None = None,
) -> Path:
    """A self-contained HTML indicator report (charts inlined; no external URLs).

    ``extra_sections`` are (title, HTML fragment) pairs appended as they are (the demo adds its
    own maps and tables this way).
    """
    from dronekit_plzen.outputs import check_output_path

    out = Path(out_path)
    prepare_output_dir(out.parent)
    check_output_path(out)  # before the charts are drawn: a folder in its place is bad input
    charts_dir = out.parent / (out.stem + "_charts")
    with OutputGroup.all_or_nothing():  # a full disk at the report leaves no charts behind
        return _html_report(report, out, charts_dir, store, extra_sections)


def _html_report(
    report: IndicatorReport,
    out: Path,
    charts_dir: Path,
    store: Store | None,
    extra_sections: list[tuple[str, str]] | None,
) -> Path:
    pngs = charts(report, charts_dir)
    title = _("Indicator GOV 16 report")
    period = f"{report.year}" + (f" Q{report.quarter}" if report.quarter else "")
    parts = [
        f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
        f"<style>{_CSS}</style></head><body>",
        f"<h1>{html.escape(title)} — {html.escape(period)}</h1>",
        "<p>"
        + html.escape(
            _(
                "UAV deployments for the IZS and crisis management; baseline {b} (2Q 2017), "
                "target {t} (2Q 2019). Counted: deployments in progress or completed, by the "
                "quarter of their first take-off."
            ).format(b=report.baseline, t=report.target)
        )
        + (" " + html.escape(_("Exercises are included.")) if report.include_exercises else "")
        + "</p>",
        _table(
            [
                _("quarter"),
                _("count"),
                _("last 4 quarters"),
                _("progress %"),
                _("exercises"),
                _("pending"),
                _("cancelled"),
            ],
            [
                [
                    q.label,
                    q.count,
                    q.rolling_4q,
                    q.progress_text(),
                    q.exercises,
                    q.pending,
                    q.cancelled,
                ]
                for q in report.quarters
            ],
        ),
        _img(pngs["quarters"]),
        f"<h2>{html.escape(_('By organisation and category'))}</h2>",
        _table(
            [_("organisation"), _("count")],
            [[k, v] for k, v in report.by_organisation.items()],
        ),
        _table([_("category"), _("count")], [[k, v] for k, v in report.by_category.items()]),
        _img(pngs["categories"]),
        f"<h2>{html.escape(_('Flight hours'))}</h2>",
        _table(
            [_("vehicle"), _("hours")],
            [[k, f"{v:.2f}"] for k, v in report.hours_by_vehicle.items()],
        ),
        _table(
            [_("pilot"), _("hours")], [[k, f"{v:.2f}"] for k, v in report.hours_by_pilot.items()]
        ),
        f"<h2>{html.escape(_('Deployments'))}</h2>",
        _table(
            [
                "id",
                _("organisation"),
                _("category"),
                _("location"),
                _("status"),
                _("first take-off"),
                _("flights"),
                _("counted"),
            ],
            [
                [
                    d["id"],
                    d["organisation"],
                    d["category"],
                    d["location"],
                    d["status"],
                    d["first_takeoff_at"],
                    d["flights"],
                    "✓" if d["counted"] else "–",
                ]
                for d in report.deployments
            ],
        ),
    ]
    if store is not None:
        ids = [
            r["id"]
            for d in report.deployments
            for r in store.query("SELECT id FROM flights WHERE deployment_id = ?", (d["id"],))
        ]
        png = track_chart(store, ids, charts_dir / "tracks.png") if ids else None
        if png is not None:
            parts += [f"<h2>{html.escape(_('Flown tracks'))}</h2>", _img(png)]
    for sec_title, fragment in extra_sections or []:
        parts += [f"<h2>{html.escape(sec_title)}</h2>", fragment]
    parts.append("</body></html>")
    write_text(out, "\n".join(parts))
    return out


def export_open_data(
    store: Store,
    out_dir: str | Path,
    *,
    year: int | None = None,
    include_pilot_names: bool = False,
) -> dict[str, Path]:
    """Write flights.csv, deployments.csv (with CSVW metadata) and flights.geojson.

    The five files are put in place together when all have been written
    (:class:`~dronekit_plzen.outputs.OutputGroup`): a full disk at the last one leaves the folder
    as it was, not this year's flights.csv beside last year's flights.geojson.
    """
    from dronekit_plzen.outputs import check_output_path

    check_year(year)  # as the indicator: not an empty export
    out = prepare_output_dir(out_dir)
    for name in ("flights.csv", "deployments.csv", "flights.geojson"):
        check_output_path(out / name)  # all checked before the first is written
    where, params = "", []
    if year is not None:
        where, params = "WHERE substr(f.start_utc, 1, 4) = ?", [f"{year:04d}"]
    pilot = "COALESCE(p.name, f.pilot_id)" if include_pilot_names else "f.pilot_id"
    # flights left open by a killed recorder: summarised from their samples, complete = 0
    flights = store.with_open_summaries(
        store.query(
            f"SELECT f.*, v.name AS vehicle, d.organisation, d.category, {pilot} AS pilot "
            "FROM flights f JOIN vehicles v ON v.id = f.vehicle_id "
            "LEFT JOIN deployments d ON d.id = f.deployment_id "
            f"LEFT JOIN pilots p ON p.id = f.pilot_id {where} ORDER BY f.start_utc",
            params,
        )
    )
    dwhere = "WHERE substr(d.requested_at, 1, 4) = ?" if year is not None else ""
    deps = store.query(
        "SELECT d.*, (SELECT COUNT(*) FROM flights f WHERE f.deployment_id = d.id) AS flights "
        f"FROM deployments d {dwhere} ORDER BY d.requested_at",
        params,
    )
    files = {
        "flights_csv": out / "flights.csv",
        "deployments_csv": out / "deployments.csv",
        "flights_geojson": out / "flights.geojson",
    }
    features = []
    for f in flights:
        if not f["path_geojson"]:
            continue
        props = {k: f.get(k) for k in FLIGHT_COLUMNS if k not in ("flight_id",)}
        props["flight_id"] = f["id"]
        geometry = json.loads(f["path_geojson"])
        props |= track_datum(geometry)
        features.append({"type": "Feature", "geometry": geometry, "properties": props})
    with OutputGroup.all_or_nothing():
        _write_csv(
            files["flights_csv"],
            FLIGHT_COLUMNS,
            [{**f, "flight_id": f["id"]} for f in flights],
        )
        _write_csv(
            files["deployments_csv"],
            DEPLOYMENT_COLUMNS,
            [
                {**d, "deployment_id": d["id"], "lat": d["lat_deg"], "lon": d["lon_deg"]}
                for d in deps
            ],
        )
        write_text(
            files["flights_geojson"],
            json.dumps({"type": "FeatureCollection", "features": features}),
        )
    return files


def _write_csv(path: Path, columns: dict[str, str], rows: list[dict[str, Any]]) -> None:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(list(columns))
    for r in rows:
        w.writerow([csv_cell(r.get(c)) for c in columns])  # a typed location is no formula
    write_text(path, buf.getvalue())
    meta = {
        "@context": "http://www.w3.org/ns/csvw",
        "url": path.name,
        "dc:license": "CC-BY-4.0",
        "tableSchema": {
            "columns": [{"name": c, "titles": c, "dc:description": d} for c, d in columns.items()]
        },
    }
    write_text(
        path.with_name(path.name + "-metadata.json"),
        json.dumps(meta, indent=2, ensure_ascii=False),
    )
