"""The path ArduCopter flies along a NAV_SPLINE_WAYPOINT leg (pure geometry, metres).

ArduCopter (``AC_WPNav::set_spline_destination_NEU_cm`` / ``set_spline_destination_next_NEU_cm``,
``AP_Math/SplineCurve``) flies a spline leg as a cubic Hermite curve from the leg's origin (the
previous destination) to its destination:

``P(t) = O + Vo·t + (3(D − O) − 2Vo − Vd)·t² + (2(O − D) + Vo + Vd)·t³``, ``t`` from 0 to 1,

with the tangent vectors (in metres, not speeds):

* ``Vo``, leaving the origin: the previous leg's direction when the aircraft did not stop there
  (a spline before it: that spline's ``Vd``; a straight waypoint leg: its destination minus its
  origin), else zero;
* ``Vd``, arriving at the destination: zero when the item holds (param1 > 0) or no NAV command
  with a position follows; towards the next destination from the leg's *origin* when the next
  leg is a spline too, from the leg's destination when it is straight;
* both scaled down together when ``|Vo| + |Vd|`` exceeds four times the leg's length
  (``SPLINE_FACTOR``: "ensures we don't get too much overshoot when the next segment is short").

The curve leaves the straight line between the waypoints by up to about a third of the tangents'
sideways parts: tens of metres on a leg of 100 m that turns sharply. The safety guard samples
this curve (:mod:`missions.trajectory`) and the simulator flies it (:mod:`simulators`).

>>> import numpy as np
>>> p = spline_points((0, 0, 0), (100, 0, 0), (0, 0, 0), (0, 0, 0), 4)
>>> np.round(p[:, 0], 1).tolist()   # no tangents: the straight line, eased in and out
[15.6, 50.0, 84.4, 100.0]
>>> p = spline_points((0, 0, 0), (100, 0, 0), (0, 200, 0), (0, 0, 0), 60)
>>> round(float(p[:, 1].max()), 1)   # a tangent of 200 m to the north: 29.6 m off the line
29.6
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

#: AP_Math/SplineCurve.cpp: larger numbers give longer curves
SPLINE_FACTOR = 4.0

Vec = tuple[float, float, float]
ZERO: Vec = (0.0, 0.0, 0.0)


def _sub(a: Sequence[float], b: Sequence[float]) -> Vec:
    return (float(a[0] - b[0]), float(a[1] - b[1]), float(a[2] - b[2]))


def _norm(a: Sequence[float]) -> float:
    return math.sqrt(float(a[0]) ** 2 + float(a[1]) ** 2 + float(a[2]) ** 2)


def origin_vector(previous: tuple[bool, Vec, Vec, Vec] | None) -> Vec:
    """``Vo`` of a spline leg. ``previous``: the leg flown before it when the aircraft did not
    stop at its end, as (was a spline, its origin, its destination, its ``Vd``); None when it
    stopped (a hold, a take-off, a loiter, the first leg)."""
    if previous is None:
        return ZERO
    was_spline, origin, dest, dest_vel = previous
    return dest_vel if was_spline else _sub(dest, origin)


def destination_vector(
    origin: Vec, dest: Vec, next_dest: Vec | None, next_is_spline: bool, holds: bool
) -> Vec:
    """``Vd`` of a spline leg from ``origin`` to ``dest``: ``next_dest`` is the position of the
    next NAV command (None when there is none or it has no position); ``holds``: the item waits
    at its destination (param1 > 0)."""
    if holds or next_dest is None:
        return ZERO
    return _sub(next_dest, origin) if next_is_spline else _sub(next_dest, dest)


def spline_points(
    origin: Sequence[float],
    dest: Sequence[float],
    origin_vel: Sequence[float],
    dest_vel: Sequence[float],
    n: int,
) -> NDArray[np.float64]:
    """``n`` points of the curve at t = 1/n … 1 (the origin left out, the destination last),
    as an (n, 3) array."""
    o = np.asarray(origin, dtype=float)
    d = np.asarray(dest, dtype=float)
    vo = np.asarray(origin_vel, dtype=float)
    vd = np.asarray(dest_vel, dtype=float)
    vel_len = float(np.linalg.norm(vo) + np.linalg.norm(vd))
    pos_len = float(np.linalg.norm(d - o)) * SPLINE_FACTOR
    if vel_len > pos_len:
        scale = pos_len / vel_len
        vo, vd = vo * scale, vd * scale
    c2 = -3.0 * o - 2.0 * vo + 3.0 * d - vd
    c3 = 2.0 * o + vo - 2.0 * d + vd
    t = (np.arange(1, n + 1, dtype=float) / n)[:, None]
    pts: NDArray[np.float64] = o + vo * t + c2 * t**2 + c3 * t**3
    pts[-1] = d
    return pts


def curve_length(
    origin: Sequence[float],
    dest: Sequence[float],
    origin_vel: Sequence[float],
    dest_vel: Sequence[float],
) -> float:
    """The curve's length (metres, 3-D; 256 chords: within a millimetre on ordinary legs)."""
    pts = np.vstack(
        [np.asarray(origin, float), spline_points(origin, dest, origin_vel, dest_vel, 256)]
    )
    return float(np.linalg.norm(np.diff(pts, axis=0), axis=1).sum())
