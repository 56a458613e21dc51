"""The planned path in a metric CRS, shared by every pattern, and routing inside an area."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import shapely
from numpy.typing import NDArray
from shapely.geometry import LineString, MultiPolygon, Polygon

FloatArray = NDArray[np.float64]

#: segment kinds in :attr:`PathPlan.seg_kind`
TRANSIT = 0  # getting somewhere, camera off
SEARCH = 1  # a transect / search leg, camera on (or sensor watching)
TURN = 2  # turnaround or the connection between two transects of a cell, camera off


@dataclass(frozen=True)
class PathPlan:
    """A pattern's path: metric waypoints, what each segment is, and the photo positions.

    ``xy`` (n, 2) in ``epsg``; ``seg_kind`` (n-1,) one of TRANSIT/SEARCH/TURN;
    ``photos_xy`` (m, 2) capture positions and ``photos_heading_deg`` the flight bearing there.
    ``info`` carries the pattern's parameters (angle, spacing, cells, ...).
    """

    xy: FloatArray
    seg_kind: NDArray[np.int8]
    epsg: int
    photos_xy: FloatArray = field(default_factory=lambda: np.zeros((0, 2)))
    photos_heading_deg: FloatArray = field(default_factory=lambda: np.zeros(0))
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def segments(self) -> FloatArray:
        """(n-1, 2, 2) array of segment start/end points."""
        return np.stack([self.xy[:-1], self.xy[1:]], axis=1)

    def search_segments(self) -> FloatArray:
        """Segments flown with the camera on (transects / search legs)."""
        return self.segments[self.seg_kind == SEARCH]

    @property
    def length_m(self) -> float:
        d = np.diff(self.xy, axis=0)
        return float(np.hypot(d[:, 0], d[:, 1]).sum())


def bearing_deg(a: FloatArray, b: FloatArray) -> FloatArray:
    """Compass bearing (clockwise from grid north) of vectors a→b, arrays of points."""
    d = np.asarray(b) - np.asarray(a)
    return np.asarray(np.degrees(np.arctan2(d[..., 0], d[..., 1])) % 360.0)


def rotate_xy(xy: FloatArray, deg: float, origin: tuple[float, float]) -> FloatArray:
    """Rotate points counter-clockwise by ``deg`` around ``origin``."""
    t = np.radians(deg)
    c, s = np.cos(t), np.sin(t)
    p = np.asarray(xy, dtype=np.float64) - origin
    return np.column_stack([c * p[:, 0] - s * p[:, 1], s * p[:, 0] + c * p[:, 1]]) + origin


def rotate_geom(g: Any, deg: float, origin: tuple[float, float]) -> Any:
    c = shapely.get_coordinates(g)
    return shapely.set_coordinates(g, rotate_xy(c, deg, origin))


def routing_domain(area: Polygon | MultiPolygon) -> Polygon | MultiPolygon:
    """Where transit may fly: the area itself, or for separate parts their convex hull minus
    every hole (the parts cannot be joined without leaving the area)."""
    if isinstance(area, Polygon):
        return area
    hull = area.convex_hull
    holes = [Polygon(r) for p in area.geoms for r in p.interiors]
    dom = hull.difference(shapely.union_all(holes)) if holes else hull
    return dom if isinstance(dom, (Polygon, MultiPolygon)) else area


class InsideRouter:
    """Shortest paths that stay inside a polygon (holes avoided): a visibility graph over the
    polygon's vertices, Dijkstra per query. Build once per area, query many times."""

    def __init__(self, domain: Polygon | MultiPolygon, tol_m: float = 0.01, max_nodes: int = 600):
        self.domain = domain
        self._check = domain.buffer(tol_m)
        shapely.prepare(self._check)
        simp = domain
        tol = tol_m
        while True:
            rings = [r for p in _polys(simp) for r in (p.exterior, *p.interiors)]
            nodes = np.unique(np.concatenate([np.asarray(r.coords)[:-1] for r in rings]), axis=0)
            if len(nodes) <= max_nodes:
                break
            tol *= 4.0
            simp = domain.simplify(tol)
        self.nodes = nodes
        n = len(nodes)
        ii, jj = np.triu_indices(n, 1)
        ok = self._visible(nodes[ii], nodes[jj]) if n > 1 else np.zeros(0, bool)
        w = np.hypot(*(nodes[ii] - nodes[jj]).T)[ok]
        self._edges = (ii[ok], jj[ok], w)

    def _visible(self, a: FloatArray, b: FloatArray) -> NDArray[np.bool_]:
        lines = shapely.linestrings(np.stack([a, b], axis=1))
        return np.asarray(shapely.covers(self._check, lines), dtype=bool)

    def route(self, a: FloatArray, b: FloatArray) -> FloatArray:
        """Points from ``a`` to ``b`` (both included) along the shortest inside path; the
        straight segment when it stays inside, or when no inside path exists."""
        a = np.asarray(a, dtype=np.float64)
        b = np.asarray(b, dtype=np.float64)
        if bool(self._visible(a[None], b[None])[0]):
            return np.stack([a, b])
        n = len(self.nodes)
        va = self._visible(np.repeat(a[None], n, 0), self.nodes)
        vb = self._visible(np.repeat(b[None], n, 0), self.nodes)
        i, j, w = self._edges
        ia = np.flatnonzero(va)
        ib = np.flatnonzero(vb)
        rows = np.concatenate([i, j, np.full(ia.size, n), ia, np.full(ib.size, n + 1), ib])
        cols = np.concatenate([j, i, ia, np.full(ia.size, n), ib, np.full(ib.size, n + 1)])
        da = np.hypot(*(self.nodes[ia] - a).T)
        db = np.hypot(*(self.nodes[ib] - b).T)
        ww = np.concatenate([w, w, da, da, db, db]) + 1e-12
        # scipy.sparse on first use (a quarter of a second that a plan without a detour
        # round an obstacle, and every refused input, does not pay)
        from scipy.sparse import csr_matrix
        from scipy.sparse.csgraph import dijkstra

        g = csr_matrix((ww, (rows, cols)), shape=(n + 2, n + 2))
        dist, pred = dijkstra(g, indices=n, return_predecessors=True)
        if not np.isfinite(dist[n + 1]):
            return np.stack([a, b])
        path = [n + 1]
        while path[-1] != n:
            path.append(int(pred[path[-1]]))
        pts = [a if k == n else b if k == n + 1 else self.nodes[k] for k in reversed(path)]
        return np.asarray(pts)


def _polys(g: Any) -> list[Polygon]:
    return [p for p in shapely.get_parts(g) if isinstance(p, Polygon)]


def segments_inside(
    area: Polygon | MultiPolygon, segs: FloatArray, tol_m: float = 0.05
) -> NDArray[np.bool_]:
    """For (k, 2, 2) segments: is each inside the area (boundary included, ``tol_m`` slack)?"""
    if len(segs) == 0:
        return np.zeros(0, dtype=bool)
    zone = area.buffer(tol_m)
    shapely.prepare(zone)
    return np.asarray(shapely.covers(zone, shapely.linestrings(segs)), dtype=bool)


def line_from(xy: FloatArray) -> LineString:
    return LineString(xy)
