"""Camera model (QGC CameraCalc formulas) and profiles, checked by hand-computed numbers."""

from __future__ import annotations

import pytest

from dronekit_plzen.errors import BadInputError, ConfigError
from missions.camera import get_camera, load_cameras
from missions.vehicles import get_vehicle, load_vehicles


def test_mplan_gsd_spacing_trigger_by_hand():
    cam = get_camera("mavic3e-wide")  # 17.3 mm, 5280 px, 12.29 mm
    # GSD = 100 m * 17.3 mm * 100 / (5280 px * 12.29 mm) = 2.666001 cm/px
    assert cam.gsd_cm(100.0) == pytest.approx(173000.0 / 64891.2, rel=1e-12)
    assert cam.gsd_cm(100.0) == pytest.approx(2.666001, rel=1e-6)
    # footprint: 5280 px * 2.666001 cm = 140.7649 m across, 3956 px -> 105.4670 m along
    side, front = cam.footprint_m(100.0)
    assert side == pytest.approx(140.7649, abs=1e-3)
    assert front == pytest.approx(105.4670, abs=1e-3)
    assert cam.line_spacing_m(100.0, 70.0) == pytest.approx(42.2295, abs=1e-3)
    assert cam.trigger_distance_m(100.0, 80.0) == pytest.approx(21.0934, abs=1e-3)
    # portrait swaps the footprint sides
    assert cam.line_spacing_m(100.0, 70.0, landscape=False) == pytest.approx(31.6401, abs=1e-3)
    assert cam.alt_for_gsd_m(2.0) == pytest.approx(75.0187, abs=1e-3)
    assert cam.gsd_cm(cam.alt_for_gsd_m(1.7)) == pytest.approx(1.7)


def test_mplan_thermal_profile_and_all_shipped():
    cams = load_cameras()
    for key in (
        "mavic3e-wide",
        "mavic3t-wide",
        "mavic3t-thermal",
        "m30t-wide",
        "m30t-thermal",
        "h20t-wide",
        "h20t-zoom",
        "h20t-thermal",
        "p1-35mm",
        "generic-1in-20mp",
    ):
        assert key in cams
    t = get_camera("DJI Mavic 3 Thermal 640x512 thermal")
    assert (t.image_width_px, t.image_height_px, t.kind) == (640, 512, "thermal")
    # 12 um pitch: 640 px * 0.012 mm = 7.68 mm; at 50 m GSD = 50*7.68*100/(640*9.1) cm
    assert t.gsd_cm(50.0) == pytest.approx(6.5934, abs=1e-4)


def test_mplan_user_profiles(tmp_path):
    (tmp_path / "mine.toml").write_text(
        'key = "my-cam"\nname = "My Cam"\nsensor_width_mm = 10.0\nsensor_height_mm = 7.5\n'
        "image_width_px = 4000\nimage_height_px = 3000\nfocal_length_mm = 10.0\n"
    )
    cam = get_camera("my cam", user_dir=tmp_path)
    assert cam.gsd_cm(40.0) == pytest.approx(1.0)
    (tmp_path / "bad.toml").write_text('key = "bad"\nsensor_width_mm = "wide"\n')
    with pytest.raises(ConfigError, match="sensor_width_mm"):
        load_cameras(tmp_path)
    with pytest.raises(BadInputError, match="unknown camera"):
        get_camera("hasselblad-x")
    with pytest.raises(BadInputError, match="overlap"):
        cam.line_spacing_m(50.0, 100.0)


def test_mplan_vehicles():
    vs = load_vehicles()
    for key in ("mavic3e", "mavic3t", "m30t", "m300rtk", "m350rtk", "px4-quad"):
        assert key in vs
    v = get_vehicle("mavic3t")
    assert v.usable_endurance_s == pytest.approx(38 * 60 * 0.75)
    assert get_vehicle("px4-quad").with_speed(8.0).cruise_speed_m_s == 8.0
    with pytest.raises(BadInputError):
        v.with_speed(40.0)
