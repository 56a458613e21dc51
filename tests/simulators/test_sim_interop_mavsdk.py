"""MAVSDK-Python 4.x (bundled C++ core) flies missions against the simulator over real sockets.

PX4 flavour: the high-level Mission plugin over ``udpin://``. ArduPilot flavour: MissionRaw over
``tcpout://`` — MAVSDK's high-level Mission plugin is PX4-only (it does not reserve ArduPilot's
home slot 0 and cannot download the frame-0 home item), exactly as with real ArduCopter.
"""

from __future__ import annotations

import asyncio
import math

import pytest
from mavsdk.asyncio import ComponentType, Configuration, Mavsdk
from mavsdk.asyncio.plugins.action.action import ActionAsync
from mavsdk.asyncio.plugins.mission.mission import MissionAsync
from mavsdk.asyncio.plugins.mission_raw.mission_raw import MissionRawAsync
from mavsdk.asyncio.plugins.telemetry.telemetry import TelemetryAsync
from mavsdk.plugins.mission import MissionItem, MissionPlan
from mavsdk.plugins.mission_raw import MissionItem as RawItem

from simulators import SimFleet

NAN = math.nan
HOME = (49.7475, 13.3776, 310.0)


def _wp(lat: float, lon: float, alt: float, action: MissionItem.VehicleAction) -> MissionItem:
    return MissionItem(
        lat,
        lon,
        alt,
        5.0,
        True,
        NAN,
        NAN,
        MissionItem.CameraAction.NONE,
        NAN,
        NAN,
        NAN,
        NAN,
        NAN,
        action,
    )


async def _connect(url: str):  # type: ignore[no-untyped-def]
    m = Mavsdk(Configuration.create_with_component_type(ComponentType.GROUND_STATION))
    await m.add_any_connection(url)
    system = await m.first_autopilot(timeout_s=10.0)
    assert system is not None
    return m, system


def test_mavsdk_px4_mission(port_offset):
    async def run(fleet: SimFleet) -> None:
        m, system = await _connect(f"udpin://127.0.0.1:{fleet.ports(0)['api_remote']}")
        async with m:
            mission, action, tel = MissionAsync(system), ActionAsync(system), TelemetryAsync(system)
            plan = MissionPlan(
                [
                    _wp(49.7480, 13.3776, 20.0, MissionItem.VehicleAction.TAKEOFF),
                    _wp(49.7480, 13.3784, 20.0, MissionItem.VehicleAction.NONE),
                    _wp(49.7477, 13.3784, 15.0, MissionItem.VehicleAction.LAND),
                ]
            )
            await mission.upload_mission(plan)
            back = await mission.download_mission()
            assert len(back.mission_items) == 3
            assert abs(back.mission_items[1].longitude_deg - 13.3784) < 1e-6
            for _ in range(100):
                if (await tel.health()).is_armable:
                    break
                await asyncio.sleep(0.05)
            # MAVSDK switches PX4 to Hold before arming, so: arm first, then start the mission
            await action.arm()
            await mission.start_mission()
            seen_in_air = False
            async for prog in mission.subscribe_mission_progress():
                seen_in_air = seen_in_air or fleet.vehicles[0].state.in_air
                if prog.current == prog.total:
                    break
            assert seen_in_air
            assert await mission.is_mission_finished()
            loop = asyncio.get_running_loop()
            assert await loop.run_in_executor(
                None, fleet.wait_until, lambda: not fleet.vehicles[0].state.armed, 30.0
            )
            await asyncio.sleep(0.3)
            assert not await tel.armed()
            assert not await tel.in_air()

    with SimFleet(
        boot_settle_s=3.0,
        n_vehicles=1,
        autopilot="px4",
        home=HOME,
        speedup=25,
        port_offset=port_offset,
    ) as fleet:
        # at 25x a loaded machine can take > 10 simulated s between arm and start: PX4 would
        # disarm (COM_DISARM_PRFLT) exactly as real SITL does, so give the script more time
        fleet.vehicles[0].set_param("COM_DISARM_PRFLT", 60.0)
        asyncio.run(asyncio.wait_for(run(fleet), 90))
        st = fleet.vehicles[0].state
        n = st.mission_count
        assert n >= 3  # MAVSDK expands items (speed changes etc.)
        assert st.reached_seqs == tuple(range(n))  # MISSION_ITEM_REACHED for every item
        assert st.landed and not st.armed
        assert abs(st.lat_deg - 49.7477) < 2e-5 and abs(st.lon_deg - 13.3784) < 3e-5


def _raw(
    seq: int, cmd: int, frame: int, lat: float, lon: float, alt: float, p1: float = 0.0
) -> RawItem:
    return RawItem(
        seq,
        frame,
        cmd,
        1 if seq == 0 else 0,
        1,
        p1,
        0.0,
        0.0,
        NAN,
        int(lat * 1e7),
        int(lon * 1e7),
        alt,
        0,
    )


@pytest.mark.parametrize("autopilot", ["ardupilot", "px4"])
def test_mavsdk_mission_raw(autopilot, port_offset):
    async def run(fleet: SimFleet) -> None:
        p = fleet.ports(0)
        url = (
            f"tcpout://127.0.0.1:{p['tcp']}"
            if autopilot == "ardupilot"
            else f"udpin://127.0.0.1:{p['api_remote']}"
        )
        m, system = await _connect(url)
        async with m:
            raw, action, tel = MissionRawAsync(system), ActionAsync(system), TelemetryAsync(system)
            items = [
                _raw(
                    0, 16, 0, HOME[0], HOME[1], HOME[2]
                ),  # ArduPilot home slot; PX4 flies it as a waypoint
                _raw(1, 22, 3, HOME[0], HOME[1], 15.0),
                _raw(2, 16, 3, 49.7479, 13.3780, 15.0),
                _raw(3, 21, 3, 49.7479, 13.3782, 0.0),
            ]
            if autopilot == "px4":
                items = [
                    _raw(i, it.command, it.frame, it.x / 1e7, it.y / 1e7, it.z)
                    for i, it in enumerate(items[1:])
                ]
            await tel.set_rate_position(5.0)
            await tel.set_rate_gps_info(2.0)
            await tel.set_rate_landed_state(2.0)
            await raw.upload_mission(items)
            async for gps in tel.subscribe_gps_info():
                if gps.fix_type.value >= 3:
                    break
            await action.arm()  # (MAVSDK puts PX4 in Hold to arm; ArduCopter refuses AUTO arming)
            await raw.start_mission()
            loop = asyncio.get_running_loop()
            done = await loop.run_in_executor(
                None,
                fleet.wait_until,
                lambda: (
                    fleet.vehicles[0].state.mission_finished and not fleet.vehicles[0].state.armed
                ),
                60.0,
            )
            assert done
            await asyncio.sleep(0.3)  # a heartbeat or two
            assert not await tel.armed()

    with SimFleet(
        boot_settle_s=3.0,
        n_vehicles=1,
        autopilot=autopilot,
        home=HOME,
        speedup=20,
        port_offset=port_offset,
    ) as fleet:
        fleet.vehicles[0].set_param(
            "DISARM_DELAY" if autopilot == "ardupilot" else "COM_DISARM_PRFLT",
            0 if autopilot == "ardupilot" else 60.0,  # slow loaded machine: no pre-flight disarm
        )
        asyncio.run(asyncio.wait_for(run(fleet), 90))
        st = fleet.vehicles[0].state
        first = 1 if autopilot == "ardupilot" else 0
        assert st.reached_seqs == tuple(range(first, st.mission_count))
        assert len(st.reached_seqs) == 3
        assert st.landed and not st.armed
        assert abs(st.lat_deg - 49.7479) < 2e-5 and abs(st.lon_deg - 13.3782) < 3e-5
