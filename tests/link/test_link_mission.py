"""The mission protocol client: upload/verify/download/clear, all types, loss, dup, reorder."""

from __future__ import annotations

import math

import pytest

from dronekit_plzen.errors import MissionTransferError
from dronekit_plzen.link import TransferPolicy, connect
from dronekit_plzen.link.mission import retry_budget
from dronekit_plzen.link.mission_packing import first_mismatch
from dronekit_plzen.mission_items import (
    CMD_NAV_FENCE_POLYGON_VERTEX_INCLUSION,
    CMD_NAV_RALLY_POINT,
    FRAME_GLOBAL,
    MissionItem,
)
from dronekit_plzen.safety import Clearance


def test_upload_verify_download_clear(pair, flavour, survey) -> None:
    _link, v, peer = pair
    items = survey(40)
    v.upload_mission(items, clearance=Clearance.passed(items))  # verify: downloads, compares
    stored = peer.missions[0]
    if flavour == "ardupilot":  # home inserted at seq 0 on the wire, stripped for the user
        assert len(stored) == 41
        assert stored[0]["frame"] == FRAME_GLOBAL
        assert stored[0]["x"] == round(49.7475e7)
    else:
        assert len(stored) == 40
    back = v.download_mission()
    assert len(back) == 40
    assert first_mismatch(items, back, flavour) is None  # as stored
    assert back[5].lat_deg == pytest.approx(items[5].lat_deg, abs=1e-7)
    v.clear_mission()
    assert peer.missions[0] == []
    assert v.download_mission() == []


def test_download_waits_out_a_stall_of_a_few_seconds(pair, survey) -> None:
    """After a fast transfer the adaptive timeout is short; a vehicle (or a busy ground
    computer) silent for 2 s must not turn into "no MISSION_COUNT": we give up only after the
    specification's retries at its fixed 1.5 s timeout."""
    import time

    _link, v, peer = pair
    items = survey(10)
    v.upload_mission(items, clearance=Clearance.passed(items))  # fast: a short srtt learnt
    peer.mute_request_list_until = time.monotonic() + 2.0
    t0 = time.monotonic()
    back = v.download_mission()
    assert len(back) == 10
    assert time.monotonic() - t0 >= 1.9


def test_fence_and_rally_are_separate_types(pair, survey) -> None:
    _link, v, peer = pair
    fence = [
        MissionItem(
            command=CMD_NAV_FENCE_POLYGON_VERTEX_INCLUSION,
            param1=4,
            lat_deg=49.74 + dy,
            lon_deg=13.37 + dx,
            frame=5,
        )
        for dy, dx in ((0, 0), (0, 0.02), (0.02, 0.02), (0.02, 0))
    ]
    rally = [MissionItem(command=CMD_NAV_RALLY_POINT, lat_deg=49.75, lon_deg=13.38, alt_m=20.0)]
    items = survey(10)
    v.upload_mission(items, clearance=Clearance.passed(items))
    v.upload_mission(fence, mission_type=1)
    v.upload_mission(rally, mission_type=2)
    assert len(peer.missions[1]) == 4 and len(peer.missions[2]) == 1
    assert [it.mission_type for it in v.download_mission(1)] == [1] * 4
    assert v.download_mission(2)[0].lat_deg == pytest.approx(49.75)
    v.clear_mission(1)
    assert peer.missions[1] == [] and len(peer.missions[2]) == 1 and peer.missions[0]


def test_legacy_mission_request_is_answered(make_vehicle, survey) -> None:
    with connect("udpin://127.0.0.1:0") as link:
        peer = make_vehicle(
            "px4", 3, udp_target=("127.0.0.1", link.local_address[1]), legacy_requests=True
        )
        v = link.wait_vehicle(3, timeout_s=5)
        items = survey(12)
        v.upload_mission(items, clearance=Clearance.passed(items))
        assert sum(m.get_type() == "MISSION_ITEM_INT" for m in peer.received) >= 12


def test_vehicle_refusal_is_a_typed_error(make_vehicle, survey) -> None:
    with connect("udpin://127.0.0.1:0") as link:
        make_vehicle("px4", 1, udp_target=("127.0.0.1", link.local_address[1]), max_items=100)
        v = link.wait_vehicle(timeout_s=5)
        with pytest.raises(MissionTransferError) as err:
            items = survey(150)
            v.upload_mission(items, clearance=Clearance.passed(items))
        assert err.value.mission_result == 4  # MAV_MISSION_NO_SPACE
        assert "NO_SPACE" in str(err.value)


def test_retry_budget_grows_with_loss() -> None:
    pol = TransferPolicy()
    assert retry_budget(pol, 0.0, 500) == 5
    assert retry_budget(pol, 0.3, 500) > 15
    p_fail = 1 - 0.7**2
    # the chosen budget keeps the chance of any item exhausting it below 1e-3
    r = retry_budget(pol, 0.3, 500)
    assert 500 * p_fail ** (r + 1) < 1e-3


@pytest.mark.parametrize(
    ("loss", "flv"), [(0.0, "px4"), (0.10, "ardupilot"), (0.30, "px4"), (0.30, "ardupilot")]
)
def test_500_items_upload_and_verify_through_loss_dup_reorder(
    make_vehicle, make_proxy, loss, flv, survey
) -> None:
    with connect("udpin://127.0.0.1:0") as link:
        proxy = make_proxy(
            link.local_address[1],
            loss=loss,
            dup=0.05 if loss else 0.0,
            reorder=0.05 if loss else 0.0,
            seed=int(loss * 100),
        )
        peer = make_vehicle(flv, 1, udp_target=("127.0.0.1", proxy.port), item_timeout_s=0.01)
        v = link.wait_vehicle(timeout_s=10)
        # loopback round trips are ~1 ms: let the adaptive timeout go below the radio-sized floor
        v.transfer_policy = TransferPolicy(min_item_timeout_s=0.005)
        v.wait_for(lambda s: s.home is not None and s.messages_received > 60, 20, "telemetry")
        items = survey(500)
        v.upload_mission(items, clearance=Clearance.passed(items))
        stored = peer.missions[0][1:] if flv == "ardupilot" else peer.missions[0]
        assert len(stored) == 500
        assert [it["command"] for it in stored] == [it.command for it in items]
        assert [it["x"] for it in stored] == [round(it.lat_deg * 1e7) for it in items]
        if loss:
            assert (
                proxy.stats["lost"] > 100
                and proxy.stats["duplicated"] > 10
                and proxy.stats["reordered"] > 10
            )
            assert v.state.packet_loss_pct == pytest.approx(loss * 100, abs=12)
        assert not math.isnan(v.state.lat_deg)
