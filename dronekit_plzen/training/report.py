"""Instructor outputs: the score table, per-student HTML reports and the class summary CSV.

The HTML is self-contained (inline SVG map and style, no external URL): a plan view of every
session's track with home, the area, prohibited zones, the placed target, where faults fired,
sightings and where rules failed; a timeline of faults and the student's reactions; the score.
"""

from __future__ import annotations

import csv
import html
import io
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dronekit_plzen.cliutil import info
from dronekit_plzen.errors import BadInputError
from dronekit_plzen.i18n import _, translations
from dronekit_plzen.outputs import OutputGroup, csv_cell, prepare_output_dir, write_text
from dronekit_plzen.training.exercise import Exercise, load_exercise
from dronekit_plzen.training.recording import Recording, load_recording
from dronekit_plzen.training.rules import RuleResult, local_xy

CLASS_COLUMNS = (
    "student",
    "exercise",
    "started_utc",
    "seed",
    "points",
    "max_points",
    "percent",
    "failed_rules",
    "not_evaluated_rules",
    "session",
)
_CSS = (
    "body{font-family:sans-serif;margin:2em;max-width:1000px}"
    "table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #999;padding:3px 8px;"
    "text-align:left;font-size:90%}.pass{color:#070}.fail{color:#b00;font-weight:bold}"
    ".not_evaluated{color:#b36b00;background:#fff4dc}"
    "svg{border:1px solid #999;background:#f6f6ee}"
)
_COLOURS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd")


def score_table(results: list[RuleResult], max_points: float) -> str:
    """The score as plain text for the terminal: one line per rule, then the total."""
    lines = []
    for r in results:
        mark = _status_label(r.status, _)
        when = "" if r.t_s is None else f" t={r.t_s:.1f}s"
        where = "" if r.lat_deg is None else f" @ {r.lat_deg:.6f},{r.lon_deg:.6f}"
        lines.append(f"{mark:5} {r.id:22} {r.reason}{when}{where}")
    got = sum(r.points for r in results)
    lines.append(_("score {got:g} / {total:g}").format(got=got, total=max_points))
    return "\n".join(lines)


def _status_label(status: str, t: Callable[[str], str]) -> str:
    if status == "not_evaluated":
        return t("NOT EVALUATED")
    return t("PASS") if status == "pass" else t("FAIL")


def rule_status(r: dict[str, Any]) -> str:
    """``pass``, ``fail`` or ``not_evaluated`` of a rule in ``score.json`` (older: pass/fail)."""
    return str(r.get("status") or ("pass" if r["passed"] else "fail"))


@dataclass
class SessionData:
    folder: Path
    meta: dict[str, Any]
    score: dict[str, Any]
    exercise: Exercise
    recording: Recording


def load_sessions(root: Path) -> list[SessionData]:
    """Every finished session under ``root`` (a folder with session.json), in folder order.

    Nothing is left out quietly: a session without its exercise (exercise.yaml) is bad input
    naming it; one without score.json (its scoring was interrupted) is scored here, in memory
    (a report writes nothing into a session's folder). A folder with a recording but no
    session.json (still running, or its process was killed) is named on stderr as left out.
    """
    from dronekit_plzen.training.records import read_score, read_session_meta
    from dronekit_plzen.training.rules import score as score_rules

    out = []
    for meta_path in sorted(root.rglob("session.json")):
        folder = meta_path.parent
        meta = read_session_meta(folder)
        if not (folder / "exercise.yaml").is_file():
            raise BadInputError(
                _("a session without its exercise (exercise.yaml)"), where=str(folder)
            )
        ex = load_exercise(folder / "exercise.yaml", seed=int(meta["seed"]))
        rec = load_recording(folder / "session.db", meta)
        rule_ids = [r.id for r in ex.rules]
        if (folder / "score.json").exists():
            score = read_score(folder, meta, rule_ids)
        else:
            results = score_rules(rec, ex)
            score = {
                "student": meta["student"],
                "exercise": meta["exercise"],
                "seed": meta["seed"],
                "points": sum(r.points for r in results),
                "max_points": sum(r.points for r in ex.rules),
                "rules": [r.as_dict() for r in results],
            }
        out.append(SessionData(folder, meta, score, ex, rec))
    for db in sorted(root.rglob("session.db")):
        if not (db.parent / "session.json").exists():
            info(
                _(
                    "{folder}: left out: no session.json (the session is still running, or "
                    "its process was stopped before the end)"
                ).format(folder=db.parent)
            )
    return out


# ---------------------------------------------------------------------------------- map
def map_svg(sd: SessionData, t: Callable[[str], str] = _, width: int = 640) -> str:
    """A plan view in metres around home (north up), with a 100 m grid and a scale bar."""
    rec, ex = sd.recording, sd.exercise
    ref = rec.homes[0]
    xs: list[float] = [0.0]
    ys: list[float] = [0.0]
    tracks = []
    for v in rec.vehicles.values():
        ok = ~(_isnan(v.lat_deg) | _isnan(v.lon_deg))
        x, y = local_xy(v.lat_deg[ok], v.lon_deg[ok], ref)
        tracks.append((v.index, x, y))
        xs += list(x)
        ys += list(y)
    shapes = [("area", ex.area)] + [(z.name, z.polygon) for z in ex.zones]
    for _name, poly in shapes:
        if poly:
            x, y = local_xy([p[0] for p in poly], [p[1] for p in poly], ref)
            xs += list(x)
            ys += list(y)
    if rec.target is not None:
        tx, ty = local_xy(rec.target[0], rec.target[1], ref)
        xs.append(float(tx))
        ys.append(float(ty))
    pad = 30.0
    x0, x1, y0, y1 = min(xs) - pad, max(xs) + pad, min(ys) - pad, max(ys) + pad
    span = max(x1 - x0, y1 - y0, 100.0)
    k = width / span
    height = int((y1 - y0) * k) + 1

    def px(x: float, y: float) -> str:
        return f"{(x - x0) * k:.1f},{(y1 - y) * k:.1f}"

    def ll(lat: float, lon: float) -> str:
        x, y = local_xy(lat, lon, ref)
        return px(float(x), float(y))

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}">']
    step = 100.0
    gx = math.floor(x0 / step) * step
    while gx <= x1:
        parts.append(
            f'<line x1="{(gx - x0) * k:.1f}" y1="0" x2="{(gx - x0) * k:.1f}" '
            f'y2="{height}" stroke="#ddd"/>'
        )
        gx += step
    gy = math.floor(y0 / step) * step
    while gy <= y1:
        parts.append(
            f'<line x1="0" y1="{(y1 - gy) * k:.1f}" x2="{width}" '
            f'y2="{(y1 - gy) * k:.1f}" stroke="#ddd"/>'
        )
        gy += step
    if ex.area:
        pts = " ".join(ll(a, b) for a, b in ex.area)
        parts.append(f'<polygon points="{pts}" fill="#cfe8cf" stroke="#393" opacity="0.7"/>')
    for z in ex.zones:
        pts = " ".join(ll(a, b) for a, b in z.polygon)
        parts.append(
            f'<polygon points="{pts}" fill="#f4c7c3" stroke="#b00" opacity="0.8">'
            f"<title>{html.escape(z.name)}</title></polygon>"
        )
    for i, x, y in tracks:
        if x.size:
            pts = " ".join(px(float(a), float(b)) for a, b in zip(x[::2], y[::2], strict=False))
            colour = _COLOURS[i % len(_COLOURS)]
            parts.append(
                f'<polyline points="{pts}" fill="none" stroke="{colour}" stroke-width="2"/>'
            )
    for lat, lon in rec.homes:
        parts.append(_marker(ll(lat, lon), "#000", "H", t("home")))
    if rec.target is not None:
        parts.append(_marker(ll(*rec.target), "#e69f00", "T", t("target")))
    for f in rec.faults:
        parts.append(_marker(ll(f["lat_deg"], f["lon_deg"]), "#ff7f0e", "F", f["id"]))
    for t_s, _k, lat, lon in rec.sightings():
        parts.append(_marker(ll(lat, lon), "#17becf", "S", f"{t_s:.0f} s"))
    for r in sd.score["rules"]:
        if not r["passed"] and r["lat_deg"] is not None:
            parts.append(_marker(ll(r["lat_deg"], r["lon_deg"]), "#b00", "✗", r["id"]))
    bar = 100.0 * k
    parts.append(
        f'<line x1="10" y1="{height - 10}" x2="{10 + bar:.1f}" y2="{height - 10}" '
        f'stroke="#000" stroke-width="3"/>'
        f'<text x="12" y="{height - 14}" font-size="11">100 m</text>'
        f'<text x="{width - 20}" y="16" font-size="14">N↑</text></svg>'
    )
    return "".join(parts)


def _isnan(a: Any) -> Any:
    import numpy as np

    return np.isnan(a)


def _marker(at: str, colour: str, label: str, title: str) -> str:
    x, y = at.split(",")
    return (
        f'<g><circle cx="{x}" cy="{y}" r="7" fill="{colour}" opacity="0.85"/>'
        f'<text x="{x}" y="{float(y) + 4:.1f}" font-size="10" text-anchor="middle" fill="#fff">'
        f"{html.escape(label)}</text><title>{html.escape(title)}</title></g>"
    )


# ---------------------------------------------------------------------------------- timeline
def timeline(sd: SessionData, t: Callable[[str], str] = _) -> list[tuple[float, str, str, str]]:
    """(t_s, vehicle, what, detail): faults, mode changes, arming, warnings, rule failures."""
    rows: list[tuple[float, str, str, str]] = []
    for f in sd.recording.faults:
        rows.append(
            (
                float(f["t_s"]),
                str(f["vehicle"] + 1),
                t("fault"),
                f"{f['id']} ({f['type']}, {f['trigger']})",
            )
        )
    for v in sd.recording.vehicles.values():
        for ev in v.events:
            if ev.kind in ("armed", "disarmed"):
                rows.append((ev.t_s, str(v.index + 1), ev.kind, ""))
            elif ev.kind == "mode":
                rows.append((ev.t_s, str(v.index + 1), t("mode"), ev.text))
            elif ev.kind == "statustext" and (ev.value <= 4 or ev.text.startswith("Sighting")):
                rows.append((ev.t_s, str(v.index + 1), t("message"), ev.text))
    for r in sd.score["rules"]:
        if not r["passed"] and r["t_s"] is not None:
            veh = "" if r["vehicle"] is None else str(r["vehicle"] + 1)
            rows.append((float(r["t_s"]), veh, t("rule failed"), f"{r['id']}: {r['reason']}"))
    return sorted(rows, key=lambda r: r[0])


def _table(headers: list[str], rows: list[list[Any]], classes: list[str] | None = None) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
    body = []
    for i, r in enumerate(rows):
        cls = f' class="{classes[i]}"' if classes else ""
        cells = "".join(f"<td>{html.escape('' if v is None else str(v))}</td>" for v in r)
        body.append(f"<tr{cls}>{cells}</tr>")
    return f"<table><tr>{head}</tr>{''.join(body)}</table>"


def student_html(student: str, sessions: list[SessionData], lang: str) -> str:
    """One student's sessions in ``lang`` (whatever the process language is)."""
    t = translations(lang).gettext
    parts = [
        "<!DOCTYPE html><html><head><meta charset='utf-8'>",
        f"<title>{html.escape(student)}</title><style>{_CSS}</style></head><body>",
        f"<h1>{html.escape(t('Training report'))}: {html.escape(student)}</h1>",
    ]
    for sd in sessions:
        ex, sc = sd.exercise, sd.score
        parts.append(
            f"<h2>{html.escape(ex.text(ex.title, lang))}</h2><p>"
            + html.escape(
                t(
                    "{when}, seed {seed}, {t:.0f} s simulated, ended: {why}. "
                    "Score {got:g} / {max:g}."
                ).format(
                    when=sd.meta["started_utc"],
                    seed=sd.meta["seed"],
                    t=sd.meta["end_s"],
                    why=sd.meta["ended_by"],
                    got=sc["points"],
                    max=sc["max_points"],
                )
            )
            + "</p>"
        )
        parts.append(map_svg(sd, t))
        rules = sc["rules"]
        parts.append(f"<h3>{html.escape(t('Score'))}</h3>")
        parts.append(
            _table(
                [t("rule"), t("result"), t("points"), t("time s"), t("position"), t("reason")],
                [
                    [
                        r["id"],
                        _status_label(rule_status(r), t),
                        f"{r['points']:g}",
                        "" if r["t_s"] is None else f"{r['t_s']:.1f}",
                        "" if r["lat_deg"] is None else f"{r['lat_deg']:.6f}, {r['lon_deg']:.6f}",
                        r["reason"],
                    ]
                    for r in rules
                ],
                [rule_status(r) for r in rules],
            )
        )
        parts.append(f"<h3>{html.escape(t('Timeline of faults and reactions'))}</h3>")
        parts.append(
            _table(
                [t("time s"), t("drone"), t("event"), t("detail")],
                [[f"{tt:.1f}", v, w, d] for tt, v, w, d in timeline(sd, t)],
            )
        )
    parts.append("</body></html>")
    return "".join(parts)


def class_rows(sessions: list[SessionData]) -> list[dict[str, Any]]:
    rows = []
    for sd in sessions:
        sc = sd.score
        pct = 100.0 * sc["points"] / sc["max_points"] if sc["max_points"] else 0.0
        rows.append(
            {
                "student": sd.meta["student"],
                "exercise": sd.meta["exercise"],
                "started_utc": sd.meta["started_utc"],
                "seed": sd.meta["seed"],
                "points": f"{sc['points']:g}",
                "max_points": f"{sc['max_points']:g}",
                "percent": f"{pct:.0f}",
                "failed_rules": " ".join(r["id"] for r in sc["rules"] if rule_status(r) == "fail"),
                "not_evaluated_rules": " ".join(
                    r["id"] for r in sc["rules"] if rule_status(r) == "not_evaluated"
                ),
                "session": str(sd.folder),
            }
        )
    return rows


def report_names(students: list[str]) -> dict[str, str]:
    """``report-<slug>.html`` for each student; two names of one slug (``Jiří Malý``,
    ``Jiří Malá`` before accents were kept apart, or two long names alike in their first 60
    characters) get a short hash of the name each: one report had replaced the other."""
    import hashlib

    from dronekit_plzen.training.session import slug

    slugs = {s: slug(s) for s in students}
    taken = [v.casefold() for v in slugs.values()]  # report-A and report-a: one file on some
    out = {}
    for student, sl in slugs.items():
        if taken.count(sl.casefold()) > 1:
            sl += "-" + hashlib.sha256(student.encode("utf-8")).hexdigest()[:8]
        out[student] = f"report-{sl}.html"
    return out


def write_reports(root: Path, out_dir: Path, *, lang: str = "en") -> list[Path]:
    """``report-<student>.html`` per student and ``class.csv``; returns the paths written.

    The output folder is checked before the sessions are read, and the files are put in
    place together or not at all (a full disk had left half the class's reports)."""
    prepare_output_dir(out_dir)
    sessions = load_sessions(root)
    if not sessions:
        raise BadInputError(_("{root}: no scored training sessions found").format(root=root))
    by_student: dict[str, list[SessionData]] = {}
    for sd in sessions:
        by_student.setdefault(sd.meta["student"], []).append(sd)
    names = report_names(sorted(by_student))
    written = []
    with OutputGroup.all_or_nothing():
        for student, items in sorted(by_student.items()):
            items.sort(key=lambda sd: sd.meta["started_utc"])
            p = out_dir / names[student]
            write_text(p, student_html(student, items, lang))
            written.append(p)
        buf = io.StringIO()
        w = csv.DictWriter(buf, fieldnames=CLASS_COLUMNS, lineterminator="\n")
        w.writeheader()
        for row in class_rows(sessions):
            w.writerow({k: csv_cell(v) for k, v in row.items()})  # a student's name: no formula
        csv_path = out_dir / "class.csv"
        write_text(csv_path, buf.getvalue())
        written.append(csv_path)
    return written
