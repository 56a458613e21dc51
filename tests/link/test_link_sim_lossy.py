"""Mission upload + verify against the project's simulator through a lossy, duplicating,
reordering UDP proxy (the link layer's seeded ``LossyUdpProxy``), over real loopback sockets.
"""

from __future__ import annotations

from typing import Any

import pytest

from dronekit_plzen.link import TransferPolicy, connect
from dronekit_plzen.link.mission_packing import first_mismatch
from dronekit_plzen.safety import Clearance

HB_HZ = 10.0  # the simulator runs 20x faster than the wall clock: keep its GCS failsafe quiet


def _vehicle_mission(sim: Any, autopilot: str) -> list[Any]:
    stored = sim.call(lambda: list(sim.vehicles[0].model.missions[0]))
    return stored[1:] if autopilot == "ardupilot" else stored  # ArduPilot: home at seq 0


@pytest.mark.parametrize(
    ("autopilot", "n_items", "loss"),
    [("px4", 150, 0.10), ("px4", 500, 0.30), ("ardupilot", 40, 0.30)],
)
def test_sim_upload_verify_through_loss_dup_reorder(
    sim_factory: Any, make_proxy: Any, survey: Any, autopilot: str, n_items: int, loss: float
) -> None:
    sim = sim_factory(1, autopilot)
    # PX4 flavour: its API link; ArduPilot flavour: its UDP GCS link (the TCP one cannot lose)
    vehicle_sends_to = sim.ports(0)["api_remote" if autopilot == "px4" else "gcs_remote"]
    with connect("udpin://127.0.0.1:0", heartbeat_hz=HB_HZ) as link:
        assert link.local_address is not None
        proxy = make_proxy(
            link.local_address[1],
            loss=loss,
            dup=0.05,
            reorder=0.05,
            seed=round(loss * 100) + n_items,
            listen_port=vehicle_sends_to,
        )
        v = link.wait_vehicle(timeout_s=10)
        # loopback round trips are ~1 ms: let the adaptive item timeout go below its floor
        v.transfer_policy = TransferPolicy(min_item_timeout_s=0.005)
        v.wait_for(lambda s: s.messages_received > 30, 20, "traffic for the loss estimate")
        items = survey(n_items)
        v.upload_mission(items, clearance=Clearance.passed(items))  # verified through the proxy
        stored = _vehicle_mission(sim, autopilot)
        assert len(stored) == n_items
        assert first_mismatch(items, stored, autopilot) is None  # as the firmware stores it
        assert sim.call(lambda: sim.vehicles[0].server.links[-1].upload) is None
        st = sim.vehicles[0].state
        assert st.mission_count == n_items + (1 if autopilot == "ardupilot" else 0)
        # the proxy really lost, duplicated and reordered datagrams in both directions
        assert proxy.stats["lost"] > n_items * loss
        assert proxy.stats["duplicated"] > 2 and proxy.stats["reordered"] > 2
