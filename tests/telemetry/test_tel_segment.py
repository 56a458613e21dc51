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
