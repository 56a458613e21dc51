"""Segmentation and summaries on synthetic tracks with known answers."""

from __future__ import annotations

import numpy as np
import pytest

from dronekit_plzen import geo
from telemetry.segment import camera_coverage, find_flights, summarize
from telemetry.track import empty_columns


def _track(n: int = 400, dt: float = 0.5) -> dict[str, np.ndarray]:
    """Armed 10..190 s; climbs to 30 m at 20..30 s, flies 500 m east at 10 m/s, lands at 170 s."""
    t = np.arange(n) * dt + 1_700_000_000.0
    rel = np.zeros(n)
    s = t - t[0]
    rel = np.clip((s - 20) * 3.0, 0, 30) - np.clip((s - 160) * 3.0, 0, 30)
    east = np.clip((s - 40) * 10.0, 0, 500)
    lon, lat = geo.destination(np.full(n, 13.3776), np.full(n, 49.7475), np.full(n, 90.0), east)
    c = empty_columns(n)
    c["t_s"], c["lat_deg"], c["lon_deg"] = t, lat, lon
    c["alt_amsl_m"] = 310.0 + rel
    c["rel_alt_m"] = rel
    c["groundspeed_m_s"] = np.gradient(east, t)
    c["battery_pct"] = np.linspace(100, 60, n)
    c["consumed_mah"] = np.linspace(0, 2000, n)
    c["armed"] = ((s >= 10) & (s < 190)).astype(float)
    return c


def test_flight_found_with_takeoff_and_landing() -> None:
    c = _track()
    (seg,) = find_flights(c["t_s"], c["armed"], c["rel_alt_m"], c["groundspeed_m_s"])
    s = summarize(c, seg)
    assert s.duration_s == pytest.approx(179.5)
    assert not s.ground_run
    # take-off: last sample at ≤ 0.5 m before the climb (20 s); landing ~170 s
    assert s.takeoff_t_s - c["t_s"][0] == pytest.approx(20.0, abs=0.6)
    assert s.landing_t_s - c["t_s"][0] == pytest.approx(170.0, abs=0.6)
    assert s.distance_m == pytest.approx(500.0, abs=0.5)
    assert s.max_distance_m == pytest.approx(500.0, abs=0.5)
    assert s.max_height_m == pytest.approx(30.0)
    assert s.battery_used_pct == pytest.approx(40 * 359 / 399, abs=0.2)
    assert s.start_lat == pytest.approx(49.7475)


def test_ground_run_and_two_flights() -> None:
    c = _track()
    c["armed"][:] = 0
    c["armed"][0:20] = 1  # armed on the ground only
    c["armed"][40:380] = 1
    segs = find_flights(c["t_s"], c["armed"], c["rel_alt_m"], c["groundspeed_m_s"])
    assert [g.ground_run for g in segs] == [True, False]
    assert summarize(c, segs[0]).distance_m == 0.0


def test_gps_speed_spike_is_not_a_takeoff() -> None:
    c = _track()
    c["rel_alt_m"][:] = 0.1
    c["groundspeed_m_s"][:] = 0.0
    c["groundspeed_m_s"][100:102] = 8.0  # 1 s glitch < min_airborne_s
    (seg,) = find_flights(c["t_s"], c["armed"], c["rel_alt_m"], c["groundspeed_m_s"])
    assert seg.ground_run


def test_camera_coverage_area() -> None:
    # 3 photos 100 m apart along a line at 50 m with 90° × 60° FOV: footprints 100 × 57.7 m
    lon, lat = geo.destination(
        np.full(3, 13.3776), np.full(3, 49.7475), np.full(3, 90.0), np.array([0.0, 100, 200])
    )
    area, gj = camera_coverage(lon, lat, np.full(3, 50.0), np.full(3, 90.0), 90.0, 60.0)
    w, h = 100.0, 2 * 50 * np.tan(np.radians(30))
    # heading 90° (east): 57.7 m along track, 100 m across; photos 100 m apart do not overlap
    assert area == pytest.approx(3 * w * h, rel=0.01)
    assert gj is not None and gj["type"] in ("Polygon", "MultiPolygon")


def _with_gap(c: dict[str, np.ndarray], first: int, last: int, shift_s: float) -> None:
    """Drop samples ``first..last-1`` and move the later ones ``shift_s`` on: a hole in the
    log (a lost link) longer than the 60 s that cuts an armed run."""
    keep = np.r_[0:first, last : c["t_s"].size]
    for k in list(c):
        c[k] = c[k][keep].copy()
    c["t_s"][first:] += shift_s


def test_a_flight_seen_across_a_lost_link_is_one_flight() -> None:
    """Airborne on both sides of a 90 s hole: one complete flight, its take-off before the hole
    and its landing after it (the hole had made two flights, a landing made up at 30 m)."""
    c = _track()
    _with_gap(c, 140, 200, 60.0)  # 70..100 s gone, the rest 60 s later: a 90.5 s hole at 30 m
    (seg,) = find_flights(c["t_s"], c["armed"], c["rel_alt_m"], c["groundspeed_m_s"])
    assert seg.complete and not seg.ground_run and seg.landing is not None
    s = summarize(c, seg)
    assert s.takeoff_t_s - c["t_s"][0] == pytest.approx(20.0, abs=0.6)
    assert s.landing_t_s - c["t_s"][0] == pytest.approx(230.0, abs=0.6)


def test_a_hole_with_the_vehicle_on_the_ground_after_it_sees_no_landing() -> None:
    """Airborne before a hole, on the ground after it (it landed unseen): the flight before the
    hole has no landing and is incomplete; the samples after it are incomplete too (their
    arming was not seen), and none is given a landing or take-off at the hole."""
    c = _track()
    _with_gap(c, 140, 345, 0.0)  # 70..172.5 s gone: a 103 s hole, landed at 170 s
    segs = find_flights(c["t_s"], c["armed"], c["rel_alt_m"], c["groundspeed_m_s"])
    assert len(segs) == 2
    flight, after = segs
    assert flight.takeoff is not None and flight.landing is None
    assert flight.open_end and not flight.open_start and not flight.complete
    assert after.ground_run and after.open_start and not after.complete
    s = summarize(c, flight)
    assert s.landing_t_s is None or np.isnan(s.landing_t_s)
