"""Survey (lawnmower) over any polygon with holes, by boustrophedon cell decomposition.

Transects are parallel lines ``spacing_m`` apart at the compass bearing ``angle_deg`` (0 = lines
running north-south, as QGroundControl's grid angle), clipped to the area so no transect ever
leaves it or crosses a hole. Consecutive transect pieces that overlap one-to-one form a cell
(the boustrophedon decomposition: a cell splits or merges where the number of pieces on a line
changes, at the area's critical points); each cell is flown back and forth, cells are visited
greedily from the launch point, and every connection between transects or cells is routed inside
the area (:class:`~missions.patterns.base.InsideRouter`).

The lines are centred across the area (the outer lines are at most ``spacing_m / 2`` from the
edge) unless ``first_offset_m`` fixes the first one (``spacing_m / 2`` for IAMSAR creeping line).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, TypeAlias

import numpy as np
import shapely
from shapely.geometry import MultiPolygon, Polygon

from dronekit_plzen.errors import BadInputError
from dronekit_plzen.i18n import _
from missions.patterns.base import (
    SEARCH,
    TRANSIT,
    TURN,
    FloatArray,
    InsideRouter,
    PathPlan,
    rotate_geom,
    rotate_xy,
    routing_domain,
)

Area2D: TypeAlias = Polygon | MultiPolygon


@dataclass(frozen=True)
class Transects:
    """Transect pieces in the rotated frame (lines along +x): y, x0, x1 per piece and line index."""

    y: FloatArray
    x0: FloatArray
    x1: FloatArray
    line: np.ndarray
    origin: tuple[float, float]
    rot_deg: float


def _rot_for(angle_deg: float) -> float:
    # a line at compass bearing b points along math angle 90-b; rotating by b-90 makes it +x
    return angle_deg - 90.0


def transects(
    area: Area2D, spacing_m: float, angle_deg: float, first_offset_m: float | None = None
) -> Transects:
    """All transect pieces of the area at ``angle_deg`` (vectorised clip with shapely)."""
    if spacing_m <= 0:
        raise BadInputError(
            _("line spacing must be positive, got {spacing_m} m").format(spacing_m=spacing_m)
        )
    c = area.centroid
    origin = (float(c.x), float(c.y))
    rot = _rot_for(angle_deg)
    ra = rotate_geom(area, rot, origin)
    x0, y0, x1, y1 = ra.bounds
    h = y1 - y0
    if first_offset_m is None:
        n = max(1, math.ceil(h / spacing_m - 1e-9))
        ys = y0 + (h - (n - 1) * spacing_m) / 2.0 + spacing_m * np.arange(n)
    else:
        n = max(1, math.floor((h - first_offset_m) / spacing_m + 1e-9) + 1)
        ys = y0 + first_offset_m + spacing_m * np.arange(n)
        ys = ys[ys <= y1] if (ys <= y1).any() else ys[:1]
    pad = 1.0 + 0.01 * (x1 - x0)
    lines = shapely.linestrings(
        np.stack(
            [
                np.column_stack([np.full(len(ys), x0 - pad), ys]),
                np.column_stack([np.full(len(ys), x1 + pad), ys]),
            ],
            axis=1,
        )
    )
    shapely.prepare(ra)
    clipped = shapely.intersection(lines, ra)
    parts, idx = shapely.get_parts(clipped, return_index=True)
    # a GeometryCollection (line + touching point) can hold a MultiLineString: explode it too
    nested, sub = shapely.get_parts(parts, return_index=True)
    parts, idx = nested, idx[sub]
    is_line = (shapely.get_type_id(parts) == 1) & ~shapely.is_empty(parts)
    parts, idx = parts[is_line], idx[is_line]
    if len(parts) == 0:
        return Transects(np.zeros(0), np.zeros(0), np.zeros(0), np.zeros(0, int), origin, rot)
    # pieces are straight horizontal lines: first and last coordinate give the extent
    start = shapely.get_coordinates(shapely.get_point(parts, 0))
    end = shapely.get_coordinates(shapely.get_point(parts, -1))
    xa = np.minimum(start[:, 0], end[:, 0])
    xb = np.maximum(start[:, 0], end[:, 0])
    keep = (xb - xa) > 1e-6
    ylines = ys[idx]
    order = np.lexsort((xa[keep], idx[keep]))
    return Transects(
        ylines[keep][order], xa[keep][order], xb[keep][order], idx[keep][order], origin, rot
    )


def decompose_cells(t: Transects) -> list[list[int]]:
    """Boustrophedon cells: lists of piece indices, one piece per consecutive line."""
    cells: list[list[int]] = []
    open_cells: list[int] = []  # cell ids whose last piece is on the previous line
    lines = np.unique(t.line)
    by_line = {int(k): np.flatnonzero(t.line == k) for k in lines}
    prev_line = None
    for k in lines:
        new = by_line[int(k)]
        if prev_line is None or k != prev_line + 1:
            open_cells = []
        nxt: list[int] = []
        if open_cells:
            last = np.array([cells[c][-1] for c in open_cells])
            ov = (t.x0[last][:, None] < t.x1[new][None, :]) & (
                t.x0[new][None, :] < t.x1[last][:, None]
            )
            deg_old = ov.sum(axis=1)
            deg_new = ov.sum(axis=0)
        used = set()
        for j, piece in enumerate(new):
            cont = None
            if open_cells:
                olds = np.flatnonzero(ov[:, j])
                if deg_new[j] == 1 and deg_old[olds[0]] == 1:
                    cont = open_cells[int(olds[0])]
            if cont is not None and cont not in used:
                cells[cont].append(int(piece))
                used.add(cont)
                nxt.append(cont)
            else:
                cells.append([int(piece)])
                nxt.append(len(cells) - 1)
        open_cells = nxt
        prev_line = int(k)
    return cells


def _cell_runs(t: Transects, cell: list[int]) -> FloatArray:
    """(k, 2, 2) transects of a cell in boustrophedon order, rotated frame, starting left."""
    segs = np.empty((len(cell), 2, 2))
    for i, p in enumerate(cell):
        a, b = (t.x0[p], t.x1[p]) if i % 2 == 0 else (t.x1[p], t.x0[p])
        segs[i] = [[a, t.y[p]], [b, t.y[p]]]
    return segs


def _variants(segs: FloatArray) -> list[FloatArray]:
    """The 4 ways to fly a cell: from its first or last line, from the left or right end."""
    out = [segs, segs[:, ::-1, :]]
    rev = segs[::-1].copy()
    out += [rev, rev[:, ::-1, :]]
    # re-alternate directions after reversing the line order
    fixed = []
    for v in out:
        w = v.copy()
        first_dir = np.sign(w[0, 1, 0] - w[0, 0, 0]) or 1.0
        for i in range(len(w)):
            d = np.sign(w[i, 1, 0] - w[i, 0, 0])
            want = first_dir if i % 2 == 0 else -first_dir
            if d != want and d != 0:
                w[i] = w[i, ::-1]
        fixed.append(w)
    return fixed


def plan_survey_path(
    area: Area2D,
    epsg: int,
    spacing_m: float,
    angle_deg: float,
    *,
    trigger_distance_m: float | None = None,
    turnaround_m: float = 0.0,
    start_xy: tuple[float, float] | None = None,
    first_offset_m: float | None = None,
    router: InsideRouter | None = None,
    reach_m: float | None = None,
) -> PathPlan:
    """The full lawnmower path at one angle: transects (SEARCH), connections (TURN) and transit
    between cells (TRANSIT) routed inside the area; photo positions every
    ``trigger_distance_m`` along each transect when given.

    ``reach_m`` (half the along-track footprint): where the area's band around a transect
    (± spacing/2) reaches further than that beyond the transect's end (a sharp corner between
    two lines), the camera leg continues straight to that corner, inside the area, so the
    corner is covered too."""
    t = transects(area, spacing_m, angle_deg, first_offset_m)
    if len(t.y) == 0:
        raise BadInputError(_("no transect fits in the area (is it smaller than the spacing?)"))
    tips: dict[tuple[float, float], FloatArray] = {}
    if reach_m is not None:
        tips, t = _band_fixups(area, t, spacing_m, reach_m)
    cells = decompose_cells(t)
    cell_segs = [rotate_cell(_cell_runs(t, c), t) for c in cells]
    if router is None:
        router = InsideRouter(routing_domain(area))
    holes = _holes(area)
    first = cell_segs[0][0, 0]
    pos = np.asarray(
        start_xy if start_xy is not None else tips.get(_key(first), first), dtype=np.float64
    )
    pts: list[FloatArray] = [pos[None]]
    kinds: list[int] = []
    search_segs: list[FloatArray] = []

    def entry_of(p: FloatArray) -> FloatArray:
        return tips.get(_key(p), p)

    for segs in _order_cells(cell_segs, pos, entry_of):
        for i, seg0 in enumerate(segs):
            tip_a = tips.get(_key(seg0[0]))
            tip_b = tips.get(_key(seg0[1]))
            seg = seg0
            ext = (
                _turnaround(seg0, turnaround_m, holes) if tip_a is None and tip_b is None else seg0
            )
            entry = ext[0] if tip_a is None else tip_a
            kind_in = TRANSIT if i == 0 else TURN
            if np.hypot(*(entry - pos)) > 1e-9:
                leg = router.route(pos, entry)
                pts.append(leg[1:])
                kinds.extend([kind_in] * (len(leg) - 1))
            if ext is not seg and np.hypot(*(seg[0] - ext[0])) > 1e-9:
                pts.append(seg[0][None])
                kinds.append(TURN)
            if tip_a is not None:
                pts.append(seg[0][None])
                kinds.append(SEARCH)
                search_segs.append(np.stack([tip_a, seg[0]]))
            pts.append(seg[1][None])
            kinds.append(SEARCH)
            search_segs.append(seg)
            pos = seg[1]
            if tip_b is not None:
                pts.append(tip_b[None])
                kinds.append(SEARCH)
                search_segs.append(np.stack([seg[1], tip_b]))
                pos = tip_b
            if ext is not seg and np.hypot(*(ext[1] - seg[1])) > 1e-9:
                pts.append(ext[1][None])
                kinds.append(TURN)
                pos = ext[1]
    xy = np.concatenate(pts)
    kinds_arr = np.asarray(kinds, dtype=np.int8)
    photos, heads = _photos(np.asarray(search_segs), trigger_distance_m)
    return PathPlan(
        xy=xy,
        seg_kind=kinds_arr,
        epsg=epsg,
        photos_xy=photos,
        photos_heading_deg=heads,
        info={
            "angle_deg": float(angle_deg % 180.0),
            "spacing_m": float(spacing_m),
            "cells": len(cells),
            "transects": len(t.y),
            "corner_legs": len(tips),
            "trigger_distance_m": trigger_distance_m,
            "turnaround_m": turnaround_m,
        },
    )


def _key(p: FloatArray) -> tuple[float, float]:
    return (round(float(p[0]), 3), round(float(p[1]), 3))


def _band_fixups(
    area: Area2D, t: Transects, spacing_m: float, reach_m: float
) -> tuple[dict[tuple[float, float], FloatArray], Transects]:
    """Cover what the plain transects would miss, staying inside the area.

    Each transect looks after its band of the area (± spacing/2 around its line). Where the
    band reaches more than ``reach_m`` beyond a transect end (a sharp corner between two
    lines), the camera leg continues straight to that corner: returned as {end point: corner}
    (metric). A band part no transect touches (a narrow spike between two lines) gets its own
    short transect through its middle: returned in ``t`` extended with those pieces, each on a
    line of its own."""
    ra = rotate_geom(area, t.rot_deg, t.origin)
    bx0, _, bx1, _ = ra.bounds
    ys = np.unique(t.y)
    boxes = shapely.box(bx0 - 1.0, ys - spacing_m / 2.0, bx1 + 1.0, ys + spacing_m / 2.0)
    bands = shapely.intersection(boxes, ra)
    zone = ra.buffer(0.05)
    shapely.prepare(zone)
    tips: dict[tuple[float, float], FloatArray] = {}
    extra: list[tuple[float, float, float]] = []
    for y, band in zip(ys, bands):
        on_line = np.flatnonzero(t.y == y)
        pieces = shapely.linestrings(
            np.stack(
                [
                    np.column_stack([t.x0[on_line], t.y[on_line]]),
                    np.column_stack([t.x1[on_line], t.y[on_line]]),
                ],
                axis=1,
            )
        )
        reach = 0.9 * reach_m
        lo, hi = float(y) - spacing_m / 2.0 - 1.0, float(y) + spacing_m / 2.0 + 1.0
        cover = shapely.union_all(shapely.box(t.x0[on_line] - reach, lo, t.x1[on_line] + reach, hi))
        tiny = 1e-3 * spacing_m * spacing_m
        for comp in shapely.get_parts(band):
            if not isinstance(comp, Polygon) or comp.area <= tiny:
                continue
            res = comp.difference(cover)
            if res.area <= tiny:
                continue
            hit = np.flatnonzero(shapely.intersects(pieces, comp))
            if hit.size:
                k = on_line[hit]
                c = np.asarray(comp.exterior.coords)
                ends = (
                    ((float(t.x1[k].max()), float(y)), c[np.argmax(c[:, 0])]),
                    ((float(t.x0[k].min()), float(y)), c[np.argmin(c[:, 0])]),
                )
                for end, far in ends:
                    if abs(far[0] - end[0]) <= reach:
                        continue
                    if not zone.covers(shapely.linestrings([end, far])):
                        continue
                    back = rotate_xy(np.array([end, far]), -t.rot_deg, t.origin)
                    tips[_key(back[0])] = back[1]
                    xa, xb = sorted((end[0], float(far[0])))
                    cover = cover.union(shapely.box(xa - reach, lo, xb + reach, hi))
                res = comp.difference(cover)
            for part in shapely.get_parts(res):
                if isinstance(part, Polygon) and part.area > tiny:
                    extra.extend(_pieces_covering(part, reach, lo, hi, tiny))
    if not extra:
        return tips, t
    e = np.asarray(extra)
    lines = np.arange(len(e)) * -2 - 10  # each on a line of its own (never consecutive)
    t2 = Transects(
        np.concatenate([t.y, e[:, 0]]),
        np.concatenate([t.x0, e[:, 1]]),
        np.concatenate([t.x1, e[:, 2]]),
        np.concatenate([t.line, lines]),
        t.origin,
        t.rot_deg,
    )
    return tips, t2


def _pieces_covering(
    part: Polygon, reach: float, lo: float, hi: float, tiny: float, rounds: int = 6
) -> list[tuple[float, float, float]]:
    """Short transects (y, x0, x1) inside ``part`` until the camera (``reach`` beyond each
    end, the band ``lo``..``hi`` across) has seen all of it: a piece through the middle, then
    one through the middle of each part it leaves (a spike slanted across the band leaves its
    tip beyond the middle piece's reach: 0.5 % of a narrow area's survey went unseen)."""
    out: list[tuple[float, float, float]] = []
    todo = [part]
    for _round in range(rounds):
        left: list[Polygon] = []
        for p in todo:
            pieces = _middle_piece(p)
            if not pieces:
                continue
            out.extend(pieces)
            _y, xa, xb = pieces[0]
            rest = p.difference(shapely.box(xa - reach, lo, xb + reach, hi))
            left.extend(
                q for q in shapely.get_parts(rest) if isinstance(q, Polygon) and q.area > tiny
            )
        if not left:
            break
        todo = left
    return out


def _middle_piece(comp: Polygon) -> list[tuple[float, float, float]]:
    x0, y0, x1, y1 = comp.bounds
    ym = (y0 + y1) / 2.0
    cut = comp.intersection(shapely.linestrings([[x0 - 1, ym], [x1 + 1, ym]]))
    parts = [g for g in shapely.get_parts(cut) if g.length > 0]
    if not parts:
        return []
    g = max(parts, key=lambda q: q.length)
    xs = np.asarray(g.coords)[:, 0]
    return [(ym, float(xs.min()), float(xs.max()))]


def rotate_cell(segs: FloatArray, t: Transects) -> FloatArray:
    flat = rotate_xy(segs.reshape(-1, 2), -t.rot_deg, t.origin)
    return flat.reshape(-1, 2, 2)


def _holes(area: Area2D) -> list[Polygon]:
    polys = list(area.geoms) if isinstance(area, MultiPolygon) else [area]
    return [Polygon(r) for p in polys for r in p.interiors]


def _turnaround(seg: FloatArray, dist_m: float, holes: list[Polygon]) -> FloatArray:
    """The transect extended by ``dist_m`` at both ends, unless that enters a hole."""
    if dist_m <= 0:
        return seg
    d = seg[1] - seg[0]
    u = d / max(float(np.hypot(*d)), 1e-12)
    ext = np.stack([seg[0] - u * dist_m, seg[1] + u * dist_m])
    for k in (0, 1):
        tail = shapely.linestrings([seg[k], ext[k]])
        if any(h.intersects(tail) for h in holes):
            ext[k] = seg[k]
    return ext


def _photos(segs: FloatArray, trigger_m: float | None) -> tuple[FloatArray, FloatArray]:
    if trigger_m is None or len(segs) == 0:
        return np.zeros((0, 2)), np.zeros(0)
    if trigger_m <= 0:
        raise BadInputError(
            _("trigger distance must be positive, got {trigger_m} m").format(trigger_m=trigger_m)
        )
    d = segs[:, 1] - segs[:, 0]
    length = np.hypot(d[:, 0], d[:, 1])
    counts = np.floor(length / trigger_m + 1e-9).astype(int) + 1
    # one more photo at the end of the transect (QGC triggers once when the trigger stops)
    counts = counts + ((length - (counts - 1) * trigger_m) > 1e-3)
    seg_i = np.repeat(np.arange(len(segs)), counts)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    k = np.arange(counts.sum()) - np.repeat(starts, counts)
    u = d / np.maximum(length, 1e-12)[:, None]
    off = np.minimum(k * trigger_m, length[seg_i])
    xy = segs[seg_i, 0] + u[seg_i] * off[:, None]
    heads = np.degrees(np.arctan2(d[:, 0], d[:, 1])) % 360.0
    return xy, heads[seg_i]


def _order_cells(
    cell_segs: list[FloatArray], pos: FloatArray, entry: Any = None
) -> list[FloatArray]:
    """Greedy cell order from ``pos``: each time the cell variant whose entry is closest."""
    variants = [_variants(c) for c in cell_segs]
    starts = np.array(
        [[v[0, 0] if entry is None else entry(v[0, 0]) for v in vs] for vs in variants]
    )  # (cells, 4, 2)
    left = np.ones(len(cell_segs), dtype=bool)
    out: list[FloatArray] = []
    p = np.asarray(pos, dtype=np.float64)
    for _cell in range(len(cell_segs)):
        d = np.hypot(starts[..., 0] - p[0], starts[..., 1] - p[1])
        d[~left] = np.inf
        ci, vi = np.unravel_index(int(np.argmin(d)), d.shape)
        left[ci] = False
        v = variants[int(ci)][int(vi)]
        out.append(v)
        p = v[-1, 1]
    return out
