"""Verification reads the mission a second time before failing an upload: PX4 v1.16 SITL once
in ~60 uploads answered the download sent right after its final ACK with the mission before.
The simulator reproduces that (test-only fault ``stale_mission_reads``), over real UDP."""

from __future__ import annotations

from typing import Any

import pytest

from dronekit_plzen.errors import MissionTransferError
from dronekit_plzen.link import connect
from dronekit_plzen.mission_items import MissionItem
from dronekit_plzen.safety import Clearance


def _mission(lat: float, lon: float, alt_m: float) -> list[MissionItem]:
    return [
        MissionItem(22, alt_m=alt_m),
        MissionItem(16, lat_deg=lat + 2e-4, lon_deg=lon, alt_m=alt_m),
        MissionItem(20, frame=2),
    ]


def test_a_stale_first_reading_is_read_again(sim_factory: Any, sim_url_of: Any) -> None:
    fleet = sim_factory(1, "px4")
    vm = fleet.vehicles[0].model
    with connect(sim_url_of(fleet, 0), heartbeat_hz=10.0) as link:
        v = link.wait_vehicle(timeout_s=10)
        lat, lon, _alt = v.wait_for(lambda s: s.home is not None, 30, "home").home
        first = _mission(lat, lon, 20.0)
        v.upload_mission(first, clearance=Clearance.passed(first))
        fleet.call(lambda: setattr(vm, "stale_mission_reads", 1))
        second = _mission(lat, lon, 35.0)
        v.upload_mission(second, clearance=Clearance.passed(second))  # no error
        assert vm.stale_mission_reads == 0  # the first reading was the stale one
        assert v.download_mission()[1].alt_m == pytest.approx(35.0)
        # a vehicle that keeps answering with the old mission is still caught
        fleet.call(lambda: setattr(vm, "stale_mission_reads", 2))
        third = _mission(lat, lon, 50.0)
        with pytest.raises(MissionTransferError, match=r"alt_m 50\.0 sent, 35\.0 stored"):
            v.upload_mission(third, clearance=Clearance.passed(third))
