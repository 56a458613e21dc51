"""Indicator GOV 16: "number of UAV deployments for the IZS and crisis management".

Baseline 10 (2Q 2017), target 30 (2Q 2019), evaluated quarterly (the Smart City strategy). A
deployment counts in the quarter of its first take-off (its request time when nothing was flown
yet) when its status is in_progress or completed; requested/accepted ones are listed as pending,
cancelled ones are not counted. Exercises are shown separately and counted only on request.
The figure compared with the baseline and the target is the count over the four quarters ending
with the quarter shown (a yearly rate, evaluated every quarter), alongside the quarter's own count.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from typing import Any

from dronekit_plzen.errors import BadInputError
from dronekit_plzen.i18n import _
from telemetry.store import Store

log = logging.getLogger(__name__)

BASELINE = 10
TARGET = 30
BASELINE_PERIOD = "2017-Q2"
TARGET_PERIOD = "2019-Q2"
COUNTED_STATUSES = ("in_progress", "completed")


@dataclass
class QuarterRow:
    year: int
    quarter: int
    count: int
    exercises: int
    pending: int
    cancelled: int
    rolling_4q: int
    by_organisation: dict[str, int] = field(default_factory=dict)
    by_category: dict[str, int] = field(default_factory=dict)

    @property
    def label(self) -> str:
        return f"{self.year}-Q{self.quarter}"

    @property
    def progress_pct(self) -> float:
        """Where the rolling count stands between baseline (0 %) and target (100 %); below
        the baseline it is negative (shown in words: :meth:`progress_text`)."""
        return 100.0 * (self.rolling_4q - BASELINE) / (TARGET - BASELINE)

    def progress_text(self) -> str:
        """The progress as a reader takes it: "35" (per cent of the way from the baseline to
        the target), or "below baseline" where that share would be negative (a quarter with 5
        deployments over the last four had read "-25")."""
        if self.rolling_4q < BASELINE:
            return _("below baseline")
        return f"{self.progress_pct:.0f}"


@dataclass
class IndicatorReport:
    year: int
    quarter: int | None
    include_exercises: bool
    quarters: list[QuarterRow]
    total: int
    exercises: int
    by_organisation: dict[str, int]
    by_category: dict[str, int]
    hours_by_vehicle: dict[str, float]
    hours_by_pilot: dict[str, float]
    deployments: list[dict[str, Any]]
    baseline: int = BASELINE
    target: int = TARGET

    def to_dict(self) -> dict[str, Any]:
        return {
            "indicator": "GOV 16",
            "title": "UAV deployments for the IZS and crisis management",
            "year": self.year,
            "quarter": self.quarter,
            "include_exercises": self.include_exercises,
            "baseline": {"value": self.baseline, "period": BASELINE_PERIOD},
            "target": {"value": self.target, "period": TARGET_PERIOD},
            "total": self.total,
            "exercises": self.exercises,
            "quarters": [
                {
                    "period": q.label,
                    "count": q.count,
                    "rolling_4q": q.rolling_4q,
                    "progress_pct": round(q.progress_pct, 1),
                    "exercises": q.exercises,
                    "pending": q.pending,
                    "cancelled": q.cancelled,
                    "by_organisation": q.by_organisation,
                    "by_category": q.by_category,
                }
                for q in self.quarters
            ],
            "by_organisation": self.by_organisation,
            "by_category": self.by_category,
            "flight_hours_by_vehicle": self.hours_by_vehicle,
            "flight_hours_by_pilot": self.hours_by_pilot,
            "deployments": self.deployments,
        }


def month_of(iso: str) -> tuple[int, int]:
    """Year and month of a stored ``YYYY-MM-DD…`` time; ValueError for anything else.

    >>> month_of("2024-05-02T06:15:00Z")
    (2024, 5)
    """
    m = _DATE.match(iso or "")
    if not m or not 1 <= int(m[2]) <= 12:
        raise ValueError(iso)
    return int(m[1]), int(m[2])


def quarter_of(iso: str) -> tuple[int, int]:
    """Year and quarter of a stored ``YYYY-MM-DD…`` time; ValueError for anything else.

    >>> quarter_of("2024-05-02T06:15:00Z")
    (2024, 2)
    """
    y, month = month_of(iso)
    return y, (month - 1) // 3 + 1


def period_at(row: Any) -> str:
    """When a deployment counts (GOV 16, open data): its first take-off, else its first
    recorded flight (``flown_at``), else its request."""
    return str(row["first_takeoff_at"] or row["flown_at"] or row["requested_at"] or "")


def skip_undated(row: Any, when: str) -> None:
    """Log that a stored deployment's time is not a date (stored before times were checked,
    year 1 as "1-01-01T…"): it is left out, the rest is reported."""
    log.warning(
        _("deployment #{id}: its time {t!r} is not a date; left out of the report").format(
            id=row["id"], t=when
        )
    )


_DATE = re.compile(r"(\d{4})-(\d{2})-\d{2}")


def _index(y: int, q: int) -> int:
    return y * 4 + (q - 1)


#: the years a report, an export or a list may ask for (a year 99999 had listed nothing)
REPORT_YEARS = (2000, 2100)


def check_year(year: int | None) -> None:
    """Bad input unless ``year`` (None: no year asked) lies within :data:`REPORT_YEARS`."""
    if year is not None and not REPORT_YEARS[0] <= year <= REPORT_YEARS[1]:
        raise BadInputError(_("year out of range") + f": {year}")


def indicator_report(
    store: Store,
    year: int,
    quarter: int | None = None,
    *,
    include_exercises: bool = False,
    pilot_names: bool = False,
) -> IndicatorReport:
    """Compute indicator GOV 16 for ``year`` (one ``quarter`` 1–4, or all four)."""
    if quarter is not None and quarter not in (1, 2, 3, 4):
        raise BadInputError(_("quarter must be 1, 2, 3 or 4") + f": {quarter}")
    check_year(year)
    rows = store.query(
        "SELECT d.*, MIN(COALESCE(f.takeoff_utc, f.start_utc)) AS flown_at, "
        "COUNT(f.id) AS flights FROM deployments d LEFT JOIN flights f ON f.deployment_id = d.id "
        "GROUP BY d.id ORDER BY d.requested_at"
    )
    quarters = [quarter] if quarter else [1, 2, 3, 4]
    per_q: dict[int, list[dict[str, Any]]] = {}
    for r in rows:
        when = r["period_at"] = period_at(r)
        try:
            y, q = quarter_of(when)
        except ValueError:
            skip_undated(r, when)
            continue
        per_q.setdefault(_index(y, q), []).append(r)

    def counted(r: dict[str, Any]) -> bool:
        if r["status"] not in COUNTED_STATUSES:
            return False
        return include_exercises or r["category"] != "exercise"

    out_q = []
    chosen: list[dict[str, Any]] = []
    for q in quarters:
        idx = _index(year, q)
        these = per_q.get(idx, [])
        cnt = [r for r in these if counted(r)]
        rolling = sum(1 for i in range(idx - 3, idx + 1) for r in per_q.get(i, []) if counted(r))
        out_q.append(
            QuarterRow(
                year=year,
                quarter=q,
                count=len(cnt),
                exercises=sum(
                    1
                    for r in these
                    if r["category"] == "exercise" and r["status"] in COUNTED_STATUSES
                ),
                pending=sum(1 for r in these if r["status"] in ("requested", "accepted")),
                cancelled=sum(1 for r in these if r["status"] == "cancelled"),
                rolling_4q=rolling,
                by_organisation=_tally(cnt, "organisation"),
                by_category=_tally(cnt, "category"),
            )
        )
        chosen += these
    counted_rows = [r for r in chosen if counted(r)]
    lo, hi = _period_bounds(year, quarter)
    hours_v, hours_p = _flight_hours(store, lo, hi, pilot_names)
    deps = [
        {
            k: r[k]
            for k in (
                "id",
                "organisation",
                "category",
                "location",
                "status",
                "requested_at",
                "first_takeoff_at",
                "ended_at",
                "outcome",
                "flights",
            )
        }
        | {"counted": counted(r)}
        for r in chosen
    ]
    return IndicatorReport(
        year=year,
        quarter=quarter,
        include_exercises=include_exercises,
        quarters=out_q,
        total=len(counted_rows),
        exercises=sum(q.exercises for q in out_q),
        by_organisation=_tally(counted_rows, "organisation"),
        by_category=_tally(counted_rows, "category"),
        hours_by_vehicle=hours_v,
        hours_by_pilot=hours_p,
        deployments=deps,
    )


def _tally(rows: list[dict[str, Any]], key: str) -> dict[str, int]:
    out: dict[str, int] = {}
    for r in rows:
        out[r[key]] = out.get(r[key], 0) + 1
    return dict(sorted(out.items()))


def _period_bounds(year: int, quarter: int | None) -> tuple[str, str]:
    if quarter is None:
        return f"{year:04d}-01-01", f"{year + 1:04d}-01-01"
    m0 = 3 * (quarter - 1) + 1
    y1, m1 = (year + 1, 1) if quarter == 4 else (year, m0 + 3)
    return f"{year:04d}-{m0:02d}-01", f"{y1:04d}-{m1:02d}-01"


def _flight_hours(
    store: Store, lo: str, hi: str, pilot_names: bool
) -> tuple[dict[str, float], dict[str, float]]:
    """Airborne hours (take-off → landing) per vehicle and per pilot in ``[lo, hi)``."""
    from telemetry.store import _check_flight_numbers

    # SQLite's SUM takes text in a REAL column as 0: a damaged row is said, not summed as 0 h
    for row in store.query(
        "SELECT * FROM flights WHERE start_utc >= ? AND start_utc < ? "
        "AND typeof(airborne_s) NOT IN ('integer', 'real', 'null') LIMIT 1",
        (lo, hi),
    ):
        _check_flight_numbers(store.path, row)
    by_v = store.query(
        "SELECT v.name AS k, SUM(COALESCE(f.airborne_s, 0)) / 3600.0 AS h FROM flights f "
        "JOIN vehicles v ON v.id = f.vehicle_id WHERE f.start_utc >= ? AND f.start_utc < ? "
        "GROUP BY v.id ORDER BY v.name",
        (lo, hi),
    )
    pilot = "COALESCE(p.name, 'pilot ' || f.pilot_id)" if pilot_names else "'pilot ' || f.pilot_id"
    by_p = store.query(
        f"SELECT CASE WHEN f.pilot_id IS NULL THEN 'unassigned' ELSE {pilot} END AS k, "
        "SUM(COALESCE(f.airborne_s, 0)) / 3600.0 AS h FROM flights f "
        "LEFT JOIN pilots p ON p.id = f.pilot_id WHERE f.start_utc >= ? AND f.start_utc < ? "
        "GROUP BY k ORDER BY k",
        (lo, hi),
    )
    return (
        {r["k"]: round(r["h"], 4) for r in by_v},
        {r["k"]: round(r["h"], 4) for r in by_p},
    )
