"""A synthetic .tlog written with our TlogWriter: camera footprints → covered area."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from dronekit_plzen import geo
from telemetry.importer import import_file
from telemetry.store import open_store
from telemetry.tlog import TlogWriter


def _write_survey_tlog(path: Path) -> None:
    from pymavlink.dialects.v20 import ardupilotmega as mavlink

    mav = mavlink.MAVLink(None, srcSystem=1, srcComponent=1)
    t0 = 1_717_000_000.0
    w = TlogWriter(path)

    def put(t: float, msg: object) -> None:
        w.write(t, bytes(msg.pack(mav)))  # type: ignore[attr-defined]

    lat0, lon0 = 49.7475, 13.3776
    for k in range(0, 1210):  # 0.1 s steps, 121 s
        t = t0 + k * 0.1
        s = k * 0.1
        armed = 5 <= s < 115
        if k % 10 == 0:
            put(t, mavlink.MAVLink_heartbeat_message(2, 3, 128 * armed | 1, 4, 4, 3))
        h = float(np.clip((s - 10) * 5, 0, 50) - np.clip((s - 100) * 5, 0, 50))
        east = float(np.clip((s - 25) * 10, 0, 600))
        lon, lat = geo.destination(lon0, lat0, 90.0, east)
        put(
            t,
            mavlink.MAVLink_global_position_int_message(
                int(s * 1000),
                int(lat * 1e7),
                int(lon * 1e7),
                int((300 + h) * 1000),
                int(h * 1000),
                1000 if 25 <= s < 85 else 0,
                0,
                0,
                9000,
            ),
        )
        if k in (300, 400, 500, 600):  # photos at 50, 150, 250, 350 m east, 50 m up
            put(
                t,
                mavlink.MAVLink_camera_feedback_message(
                    int(t * 1e6),
                    1,
                    0,
                    k // 100,
                    int(lat * 1e7),
                    int(lon * 1e7),
                    350.0,
                    50.0,
                    0,
                    0,
                    90,
                    0,
                    0,
                ),
            )
    w.close()


def test_camera_area_from_a_synthetic_survey(tmp_path: Path) -> None:
    tlog = tmp_path / "survey.tlog"
    _write_survey_tlog(tlog)
    with open_store(tmp_path / "s.db") as store:
        r = import_file(store, tlog, camera_fov_deg=(84.0, 62.0))
        (f,) = store.flights()
    assert r.bad_messages == 0 and not r.issues
    assert f["ground_run"] == 0
    assert f["duration_s"] == pytest.approx(109.9, abs=0.15)
    assert f["max_height_m"] == pytest.approx(50.0, abs=0.01)
    assert f["distance_m"] == pytest.approx(600.0, abs=1.0)
    # 4 footprints, 100 m apart along the east track; along-track 2·50·tan 31° = 60.1 m,
    # across 2·50·tan 42° = 90.0 m: no overlap → 4 × 60.1 × 90.0
    expect = 4 * (2 * 50 * math.tan(math.radians(31))) * (2 * 50 * math.tan(math.radians(42)))
    assert f["camera_area_m2"] == pytest.approx(expect, rel=0.01)
    assert f["coverage_geojson"]
