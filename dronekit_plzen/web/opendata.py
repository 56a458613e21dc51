"""Open data (GOV 09): anonymised deployment statistics and the GOV 16 indicator.

What is published: the month (not the day or hour), organisation, category, status, number of
flights and airborne hours of each deployment, and its position snapped to a grid of
:data:`CELL_DEG` (about 1.1 km × 0.7 km in Plzeň). Never published: place names, notes,
outcomes, contacts, pilots, requesters, tracks or request details.
"""

from __future__ import annotations

import csv
import io
import math
from typing import Any

from dronekit_plzen.outputs import csv_cell
from telemetry.indicator import (
    BASELINE,
    BASELINE_PERIOD,
    TARGET,
    TARGET_PERIOD,
    indicator_report,
    month_of,
    period_at,
    skip_undated,
)
from telemetry.store import Store

CELL_DEG = 0.01
DEPLOYMENT_COLUMNS = (
    "deployment",
    "year",
    "quarter",
    "month",
    "organisation",
    "category",
    "status",
    "flights",
    "airborne_h",
    "cell_lat",
    "cell_lon",
)
GOV16_COLUMNS = (
    "indicator",
    "period",
    "count",
    "rolling_4q",
    "progress_pct",
    "exercises",
    "pending",
    "cancelled",
    "baseline",
    "target",
)


def snap(value: float | None, cell_deg: float = CELL_DEG) -> float | None:
    """The centre of the grid cell holding ``value`` (degrees), or None."""
    if value is None or not math.isfinite(value):
        return None
    return round((math.floor(value / cell_deg) + 0.5) * cell_deg, 6)


def deployment_rows(store: Store, year: int | None = None) -> list[dict[str, Any]]:
    """One anonymised row per deployment, oldest first, dated as the GOV 16 indicator dates it
    (first take-off, else first flight, else request); a stored time that is not a date is
    left out with a warning, as the indicator report leaves it out."""
    rows = store.query(
        "SELECT d.id, d.organisation, d.category, d.status, d.lat_deg, d.lon_deg, "
        "d.first_takeoff_at, d.requested_at, "
        "MIN(COALESCE(f.takeoff_utc, f.start_utc)) AS flown_at, COUNT(f.id) AS flights, "
        "SUM(COALESCE(f.airborne_s, 0)) AS airborne_s FROM deployments d "
        "LEFT JOIN flights f ON f.deployment_id = d.id "
        "GROUP BY d.id ORDER BY d.requested_at, d.id"
    )
    out = []
    for r in rows:
        when = period_at(r)
        try:
            y, month = month_of(when)
        except ValueError:
            skip_undated(r, when)
            continue
        if year is not None and y != year:
            continue
        out.append(
            {
                "deployment": r["id"],
                "year": y,
                "quarter": (month - 1) // 3 + 1,
                "month": month,
                "organisation": r["organisation"],
                "category": r["category"],
                "status": r["status"],
                "flights": int(r["flights"]),
                "airborne_h": round((r["airborne_s"] or 0.0) / 3600.0, 2),
                "cell_lat": snap(r["lat_deg"]),
                "cell_lon": snap(r["lon_deg"]),
            }
        )
    return out


def gov16_rows(store: Store, year: int) -> list[dict[str, Any]]:
    rep = indicator_report(store, year)
    return [
        {
            "indicator": "GOV 16",
            "period": q.label,
            "count": q.count,
            "rolling_4q": q.rolling_4q,
            "progress_pct": round(q.progress_pct, 1),
            "exercises": q.exercises,
            "pending": q.pending,
            "cancelled": q.cancelled,
            "baseline": BASELINE,
            "target": TARGET,
        }
        for q in rep.quarters
    ]


def to_csv(rows: list[dict[str, Any]], columns: tuple[str, ...]) -> str:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=list(columns), lineterminator="\n")
    w.writeheader()
    for r in rows:
        w.writerow({k: csv_cell(r.get(k)) for k in columns})
    return buf.getvalue()


def deployments_geojson(rows: list[dict[str, Any]], **properties: Any) -> dict[str, Any]:
    """Deployments with a position as GeoJSON points at their grid cell's centre."""
    feats = [
        {
            "type": "Feature",
            "geometry": {"type": "Point", "coordinates": [r["cell_lon"], r["cell_lat"]]},
            "properties": {
                k: r[k] for k in DEPLOYMENT_COLUMNS if k not in ("cell_lat", "cell_lon")
            },
        }
        for r in rows
        if r["cell_lat"] is not None and r["cell_lon"] is not None
    ]
    return {
        "type": "FeatureCollection",
        "properties": {"cell_deg": CELL_DEG, **properties},
        "features": feats,
    }


def gov16_geojson(store: Store, year: int) -> dict[str, Any]:
    """The year's counted deployments (GOV 16) as points, the quarterly figures as properties."""
    counted = {"in_progress", "completed"}
    rows = [
        r
        for r in deployment_rows(store)
        if r["year"] == year and r["status"] in counted and r["category"] != "exercise"
    ]
    return deployments_geojson(
        rows,
        indicator="GOV 16",
        title="UAV deployments for the IZS and crisis management",
        year=year,
        baseline={"value": BASELINE, "period": BASELINE_PERIOD},
        target={"value": TARGET, "period": TARGET_PERIOD},
        quarters=gov16_rows(store, year),
    )
