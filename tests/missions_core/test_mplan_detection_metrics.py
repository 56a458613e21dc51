"""Search theory and the time model with hand-computed numbers."""

from __future__ import annotations

import math

import numpy as np
import pytest

from dronekit_plzen.errors import BadInputError
from missions.camera import get_camera
from missions.detection import (
    cumulative_pod,
    get_target,
    max_alt_m,
    passes_for_pod,
    pod,
    pod_from_coverage,
    spacing_for_pod,
    sweep_width_m,
)
from missions.metrics import count_turns, path_time_s, run_time_s
from missions.vehicles import Vehicle


def test_mplan_pod_formulas():
    assert pod_from_coverage(1.0) == pytest.approx(1 - math.exp(-1))
    assert pod(60.0, 30.0) == pytest.approx(1 - math.exp(-2))  # C = 2 -> 0.8647
    assert spacing_for_pod(60.0, 0.9) == pytest.approx(60.0 / math.log(10.0))
    assert pod(60.0, spacing_for_pod(60.0, 0.8)) == pytest.approx(0.8)
    assert cumulative_pod([0.5, 0.5]) == pytest.approx(0.75)
    assert cumulative_pod([0.6321, 0.6321, 0.6321]) == pytest.approx(1 - 0.3679**3, abs=1e-4)
    assert passes_for_pod(0.5, 0.9) == 4  # 0.5, 0.75, 0.875, 0.9375
    with pytest.raises(BadInputError):
        spacing_for_pod(60.0, 1.0)


def test_mplan_thermal_person_altitude_cap_and_sweep_width():
    cam = get_camera("mavic3t-thermal")
    person = get_target("person", cam)
    assert person.key == "person-thermal"
    # 0.5 m over 4 px -> GSD 12.5 cm -> h = 640 * 12.5 * 9.1 / (7.68 * 100) = 94.79 m
    assert max_alt_m(cam, person) == pytest.approx(640 * 12.5 * 9.1 / 768.0)
    # at 90 m: GSD = 90*7.68*100/(640*9.1) = 11.868 cm; footprint 75.96 m; W = 0.9 * that
    assert sweep_width_m(cam, 90.0, person) == pytest.approx(0.9 * 640 * 90 * 7.68 / (640 * 9.1))
    with pytest.raises(BadInputError, match=r"fly at most 94\.8 m"):
        sweep_width_m(cam, 120.0, person)
    assert get_target("person", get_camera("mavic3e-wide")).key == "person-visual"


def test_mplan_run_time_trapezoid_and_triangle():
    # 100 m at 10 m/s with 2 m/s2: 100/10 + 10/2 = 15 s; 20 m never reaches 10 m/s: 2*sqrt(10)
    assert run_time_s(np.array([100.0, 20.0]), 10.0, 2.0).tolist() == pytest.approx(
        [15.0, 2 * math.sqrt(10.0)]
    )


def test_mplan_path_time_lawnmower_by_hand():
    v = Vehicle(key="t", name="t", cruise_speed_m_s=10.0, accel_m_s2=2.0, yaw_rate_deg_s=90.0)
    xy = np.array([[0, 0], [100, 0], [100, 20], [0, 20], [0, 40], [100, 40]], dtype=float)
    # runs 100, 20, 100, 20, 100 (stops at 4 right-angle corners) + 4 * 90°/(90°/s)
    expected = 3 * 15.0 + 2 * 2 * math.sqrt(10.0) + 4 * 1.0
    assert path_time_s(xy, v) == pytest.approx(expected)
    assert count_turns(xy) == 4
    coord = Vehicle(
        key="c",
        name="c",
        cruise_speed_m_s=10.0,
        accel_m_s2=2.0,
        turn_mode="coordinated",
        turn_radius_m=0.0,
    )
    assert path_time_s(xy, coord) == pytest.approx(340 / 10.0 + 2 * 10.0 / 2.0)
    # hover-and-capture: one extra stop in the middle of the first run, held 2 s
    t_hover = path_time_s(xy, v, np.array([[50.0, 0.0]]), 2.0)
    assert t_hover == pytest.approx(expected - 15.0 + 2 * (50 / 10 + 10 / 2) + 2.0)
