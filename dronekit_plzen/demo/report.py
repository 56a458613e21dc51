"""Outputs of the SAR demo: flown coverage and POD, GeoJSON tracks, a map, the HTML report."""

from __future__ import annotations

import base64
import html
import io
import json
import math
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from shapely.geometry import LineString, MultiPolygon, Polygon, mapping
from shapely.ops import unary_union

from dronekit_plzen.i18n import _, ngettext

COLOURS = ("#d62728", "#1f77b4", "#2ca02c", "#9467bd", "#ff7f0e")


def _metric(geom: Any, epsg: int) -> Any:
    from missions.area import project_geometry

    return project_geometry(geom, 4326, epsg)


def _swath(track_lonlat: LineString, width_m: float, epsg: int, min_alt_ok: bool = True) -> Any:
    line = _metric(track_lonlat, epsg)
    return line.buffer(width_m / 2.0, cap_style="flat", join_style="round")


def attach_flights(
    outcomes: Sequence[Any], flights: list[dict[str, Any]], split: Any, area: Any
) -> dict[int, LineString]:
    """Fill each drone's flown figures from its recorded flight; return sysid → flown track."""
    epsg = area.metric_epsg
    tracks: dict[int, LineString] = {}
    by_sysid: dict[int, dict[str, Any]] = {}
    for f in flights:  # the longest flight of each vehicle is its search flight
        cur: dict[str, Any] | None = by_sysid.get(f["sysid"])
        if cur is None or (f["distance_m"] or 0) > (cur["distance_m"] or 0):
            by_sysid[f["sysid"]] = f
    for i, o in enumerate(outcomes):
        fl = by_sysid.get(o.sysid)
        if fl is None:
            continue
        f = fl
        o.flight_id = int(f["id"])
        o.flown_time_s = float(f["airborne_s"] or f["duration_s"] or math.nan)
        o.flown_distance_m = float(f["distance_m"] or math.nan)
        o.battery_used_pct = float(
            f["battery_used_pct"] if f["battery_used_pct"] is not None else math.nan
        )
        o.max_height_m = float(f["max_height_m"] or math.nan)
        if not f["path_geojson"]:
            continue
        coords = json.loads(f["path_geojson"])["coordinates"]
        if len(coords) < 2:
            continue
        track = LineString([(c[0], c[1]) for c in coords])
        tracks[o.sysid] = track
        part = _metric(split.parts_lonlat[i], epsg)
        seen = _swath(track, o.sweep_width_m, epsg).intersection(part)
        cov = float(seen.area / part.area) if part.area > 0 else 0.0
        o.flown_coverage_pct = 100.0 * cov
        o.flown_pod = o.planned_pod * cov
    return tracks


def totals(area: Any, split: Any, tracks: dict[int, LineString]) -> tuple[float, float]:
    """Coverage of the whole area by all flown swaths (%), and the POD it gives."""
    epsg = area.metric_epsg
    whole, _code = area.to_metric(epsg)
    widths = [p.metrics.sweep_width_m for p in split.plans]
    swaths = [
        _swath(t, widths[min(s - 1, len(widths) - 1)], epsg) for s, t in sorted(tracks.items())
    ]
    if not swaths:
        return 0.0, 0.0
    cov = float(unary_union(swaths).intersection(whole).area / whole.area)
    pods = [p.metrics.pod for p in split.plans]
    return 100.0 * cov, float(np.mean(pods)) * cov


def indicator_dict(ind: Any) -> dict[str, Any]:
    d: dict[str, Any] = ind.to_dict()
    return d


def _map_png(area: Any, split: Any, tracks: dict[int, LineString], zones: Sequence[Any]) -> bytes:
    import matplotlib

    matplotlib.use("Agg", force=False)
    from matplotlib.figure import Figure

    epsg = area.metric_epsg
    fig = Figure(figsize=(9, 8), dpi=110)
    ax = fig.add_subplot(1, 1, 1)
    whole, _code = area.to_metric(epsg)

    def draw_poly(g: Any, **kw: Any) -> None:
        polys = list(g.geoms) if isinstance(g, MultiPolygon) else [g]
        for p in polys:
            if not isinstance(p, Polygon):
                continue
            x, y = p.exterior.xy
            ax.fill(x, y, **kw)
            for hole in p.interiors:
                hx, hy = hole.xy
                ax.fill(hx, hy, color="#9ecae1", alpha=0.9, lw=0.8, ec="#3182bd")

    draw_poly(whole, color="#e5f5e0", ec="#31a354", lw=1.5, alpha=0.8)
    for i, part in enumerate(split.parts_lonlat):
        pm = _metric(part, epsg)
        polys = list(pm.geoms) if isinstance(pm, MultiPolygon) else [pm]
        for p in polys:
            x, y = p.exterior.xy
            ax.plot(x, y, color=COLOURS[i % len(COLOURS)], lw=0.8, ls=":")
    for i, plan in enumerate(split.plans):
        pl = _metric(plan.path_lonlat, epsg)
        x, y = pl.xy
        ax.plot(
            x,
            y,
            color=COLOURS[i % len(COLOURS)],
            lw=0.8,
            ls="--",
            alpha=0.7,
            label=_("planned {n}").format(n=i + 1),
        )
    for sysid, t in sorted(tracks.items()):
        tm = _metric(t, epsg)
        x, y = tm.xy
        ax.plot(
            x,
            y,
            color=COLOURS[(sysid - 1) % len(COLOURS)],
            lw=1.6,
            label=_("flown {n}").format(n=sysid),
        )
    x0, y0, x1, y1 = whole.bounds
    pad = 0.08 * max(x1 - x0, y1 - y0)
    ax.set_xlim(x0 - pad, x1 + pad)
    ax.set_ylim(y0 - pad, y1 + pad)
    ax.set_aspect("equal")
    ax.set_xlabel(f"E (m, EPSG:{epsg})")
    ax.set_ylabel(f"N (m, EPSG:{epsg})")
    ax.ticklabel_format(useOffset=False, style="plain")
    ax.legend(loc="upper left", fontsize=8)
    ax.set_title(_("Search area, planned and flown tracks"))
    # scale bar
    bar = 500.0
    ax.plot([x0, x0 + bar], [y0 - pad * 0.5] * 2, color="k", lw=3)
    ax.text(x0 + bar / 2, y0 - pad * 0.4, "500 m", ha="center", fontsize=8)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", bbox_inches="tight")
    return buf.getvalue()


def _fmt(v: float, nd: int = 1) -> str:
    return "–" if v is None or (isinstance(v, float) and not math.isfinite(v)) else f"{v:.{nd}f}"


def _drone_rows(outcomes: Sequence[Any]) -> list[list[str]]:
    return [
        [
            o.name,
            str(o.sysid),
            _fmt(o.planned_length_m / 1000, 2),
            _fmt(o.planned_time_s / 60),
            _fmt(o.flown_time_s / 60),
            _fmt(o.flown_distance_m / 1000, 2),
            _fmt(o.battery_used_pct, 0),
            _fmt(o.max_height_m, 0),
            _fmt(o.spacing_m, 0),
            _fmt(o.flown_coverage_pct),
            _fmt(o.planned_pod, 2),
            _fmt(o.flown_pod, 2),
            f"{len(set(o.reached) & set(o.nav_seqs))}/{len(o.nav_seqs)}",
        ]
        for o in outcomes
    ]


def drone_headers() -> list[str]:
    return [
        _("drone"),
        _("sysid"),
        _("planned km"),
        _("planned min"),
        _("flown min"),
        _("flown km"),
        _("battery used %"),
        _("max height m above home"),
        _("spacing m"),
        _("coverage %"),
        _("planned POD"),
        _("flown POD"),
        _("waypoints reached"),
    ]


def write_outputs(
    out: Path,
    deployment_id: int,
    area: Any,
    split: Any,
    outcomes: Sequence[Any],
    tracks: dict[int, LineString],
    ind: Any,
) -> dict[str, str]:
    """Write tracks GeoJSON, the map, the HTML report and a JSON summary; return their paths."""
    from telemetry.report_files import write_html_report

    files: dict[str, str] = {}
    feats: list[dict[str, Any]] = [
        {
            "type": "Feature",
            "geometry": mapping(area.geom_lonlat),
            "properties": {"kind": "search_area", "deployment_id": deployment_id},
        }
    ]
    for i, (o, plan) in enumerate(zip(outcomes, split.plans)):
        feats.append(
            {
                "type": "Feature",
                "geometry": mapping(split.parts_lonlat[i]),
                "properties": {"kind": "assigned_part", "drone": o.name, "sysid": o.sysid},
            }
        )
        feats.append(
            {
                "type": "Feature",
                "geometry": mapping(plan.path_lonlat),
                "properties": {"kind": "planned_track", "drone": o.name, "sysid": o.sysid},
            }
        )
        if o.sysid in tracks:
            feats.append(
                {
                    "type": "Feature",
                    "geometry": mapping(tracks[o.sysid]),
                    "properties": {
                        "kind": "flown_track",
                        "drone": o.name,
                        "sysid": o.sysid,
                        "flight_id": o.flight_id,
                        "coverage_pct": round(o.flown_coverage_pct, 2),
                    },
                }
            )
    tracks_path = out / "tracks.geojson"
    tracks_path.write_text(
        json.dumps({"type": "FeatureCollection", "features": feats}), encoding="utf-8"
    )
    files["tracks"] = str(tracks_path)
    png = _map_png(area, split, tracks, [])
    map_path = out / "map.png"
    map_path.write_bytes(png)
    files["map"] = str(map_path)
    b64 = base64.b64encode(png).decode("ascii")
    rows = _drone_rows(outcomes)
    head = "".join(f"<th>{html.escape(h)}</th>" for h in drone_headers())
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in r) + "</tr>" for r in rows
    )
    sections = [
        (
            _("Search-and-rescue deployment #{id}").format(id=deployment_id),
            f'<img alt="map" src="data:image/png;base64,{b64}">'
            f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>",
        )
    ]
    html_path = write_html_report(ind, out / "report.html", extra_sections=sections)
    files["report"] = str(html_path)
    return files


def print_summary(
    echo: Callable[[str], None],
    outcomes: Sequence[Any],
    total_cov: float,
    total_pod: float,
    ind: dict[str, Any],
    files: dict[str, str],
) -> None:
    heads = drone_headers()
    rows = _drone_rows(outcomes)
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(heads)]
    echo("   " + "  ".join(h.ljust(w) for h, w in zip(heads, widths)))
    for r in rows:
        echo("   " + "  ".join(c.ljust(w) for c, w in zip(r, widths)))
    echo(_("   whole area: coverage {c:.1f} %, POD {p:.2f}").format(c=total_cov, p=total_pod))
    q = [x for x in ind["quarters"] if x["count"] or x["exercises"]]
    echo(
        ngettext(
            "   indicator GOV 16 ({y}): {n} deployment (baseline {b}, target {t})",
            "   indicator GOV 16 ({y}): {n} deployments (baseline {b}, target {t})",
            ind["total"],
        ).format(
            y=ind["year"], n=ind["total"], b=ind["baseline"]["value"], t=ind["target"]["value"]
        )
    )
    for row in q:
        orgs = ", ".join(f"{k} {v}" for k, v in row["by_organisation"].items())
        echo(f"     {row['period']}: {row['count']}" + (f"  ({orgs})" if orgs else ""))
    echo(_("   outputs:"))
    for k in ("report", "map", "tracks", "database"):
        if k in files:
            echo(f"     {k}: {files[k]}")
