"""Verification reads the mission a second time before failing an upload: PX4 v1.16 SITL once
in ~60 uploads answered the download sent right after its final ACK with the mission before."""

from __future__ import annotations

from typing import Any

from dronekit_plzen.link import connect
from dronekit_plzen.link import vehicle as vehicle_mod
from dronekit_plzen.mission_items import MissionItem
from dronekit_plzen.safety import Clearance


def _mission(lat: float, lon: float, alt_m: float) -> list[MissionItem]:
    return [
        MissionItem(22, alt_m=alt_m),
        MissionItem(16, lat_deg=lat + 2e-4, lon_deg=lon, alt_m=alt_m),
        MissionItem(20, frame=2),
    ]


def test_a_stale_first_reading_is_read_again(
    sim_factory: Any, sim_url_of: Any, monkeypatch: Any
) -> None:
    monkeypatch.setattr(vehicle_mod, "VERIFY_REREAD_S", 0.05)
    fleet = sim_factory(1, "px4")
    with connect(sim_url_of(fleet, 0), heartbeat_hz=10.0) as link:
        v = link.wait_vehicle(timeout_s=10)
        lat, lon, _alt = v.wait_for(lambda s: s.home is not None, 30, "home").home
        first = _mission(lat, lon, 20.0)
        v.upload_mission(first, clearance=Clearance.passed(first))
        old = v.download_mission()
        real = v.download_mission
        reads: list[int] = []

        def stale_once(*args: Any, **kwargs: Any) -> list[MissionItem]:
            reads.append(1)
            return old if len(reads) == 1 else real(*args, **kwargs)

        monkeypatch.setattr(v, "download_mission", stale_once)
        second = _mission(lat, lon, 35.0)
        v.upload_mission(second, clearance=Clearance.passed(second))  # no error
        assert len(reads) == 2
