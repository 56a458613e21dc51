"""Resuming an interrupted sortie (pure functions on real mission items)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from dronekit_plzen.mission_items import (
    CMD_DO_CHANGE_SPEED,
    CMD_NAV_RETURN_TO_LAUNCH,
    CMD_NAV_TAKEOFF,
    CMD_NAV_WAYPOINT,
    FRAME_MISSION,
    MissionItem,
)
from gui.clearance import SortieView, resume_sortie
from missions.model import Mission

CAM_TRIGG_DIST = 206


def _sortie() -> SortieView:
    wp = [
        MissionItem(command=CMD_NAV_WAYPOINT, lat_deg=49.8 + k * 1e-4, lon_deg=13.4, alt_m=40.0)
        for k in range(8)
    ]
    items = [
        MissionItem(command=CMD_NAV_TAKEOFF, lat_deg=49.8, lon_deg=13.4, alt_m=40.0),  # 0
        MissionItem(command=CMD_DO_CHANGE_SPEED, frame=FRAME_MISSION, param2=8.0),  # 1
        wp[0],  # 2
        MissionItem(command=CAM_TRIGG_DIST, frame=FRAME_MISSION, param1=20.0),  # 3
        *wp[1:5],  # 4..7
        MissionItem(command=CMD_DO_CHANGE_SPEED, frame=FRAME_MISSION, param2=6.0),  # 8
        *wp[5:],  # 9..11
        MissionItem(command=CMD_NAV_RETURN_TO_LAUNCH, frame=FRAME_MISSION),  # 12
    ]
    return SortieView(drone=1, index=2, count=3, mission=Mission(items=items))


def test_resume_flies_the_interrupted_leg_again_with_the_settings_in_force() -> None:
    s = _sortie()
    assert s.last_waypoint == 11
    r = resume_sortie(s, 7)  # it was flying from item 6 to item 7
    items = s.items
    assert r.items == [items[0], items[1], items[3], *items[6:]]  # take-off, speed, camera
    assert (r.resumed_from, r.resume_head) == (6, 3)
    assert r.mission.metadata["resumed_from_item"] == 6
    assert r.clearance is None  # checked again before it is uploaded
    # stopped again in the resumed part: the item numbers still count in the planned sortie
    rr = resume_sortie(r, 6)  # flying to planned item 9, from planned item 7
    assert rr.resumed_from == 7
    assert rr.items == [items[0], items[1], items[3], *items[7:]]
    # a later speed change replaces the first (the last of each kind, in flying order)
    late = resume_sortie(s, 10)
    assert late.items == [items[0], items[3], items[8], *items[9:]]


def test_stopped_before_the_first_leg_flies_the_whole_sortie_again() -> None:
    s = _sortie()
    assert resume_sortie(s, 0) is s
    assert resume_sortie(s, 3) is s


def _flown(snapshots: list[tuple[str, int | None, int | None]]) -> Any:
    """A sortie on board, then snapshots (mode, MISSION_CURRENT, MISSION_ITEM_REACHED) while
    armed, then landed and disarmed: the progress the fly panel keeps."""
    from gui.fly_sorties import SortieProgress
    from gui.models import VehicleView

    s = _sortie()
    prog = SortieProgress([s])
    prog.uploaded_sortie(s, reached_before=11)  # the previous flight of the same sortie
    for mode, seq, reached in snapshots:
        v = VehicleView(1, mode=mode, armed=True, in_air=True, mission_seq=seq)
        prog.landed_after_flying(replace(v, last_item_reached=reached), True)
    assert prog.landed_after_flying(VehicleView(1, mode=snapshots[-1][0]), True)
    return prog


def test_a_sortie_is_flown_only_when_its_last_leg_is() -> None:
    """Flying to the last waypoint (item 11) when a failsafe brought it back: not flown (the
    last leg was counted as flown before); reaching it, or the RTL after it, is."""
    cut = _flown([("AUTO.MISSION", 10, 9), ("AUTO.MISSION", 11, 10), ("AUTO.RTL", 11, 10)])
    assert cut.stopped_at == 11 and cut.next_sortie() is not None
    assert cut.next_sortie().resumed_from is not None  # the rest, not the next sortie
    ended = _flown([("AUTO.MISSION", 11, 10), ("AUTO.MISSION", 11, 11), ("AUTO.RTL", 12, 11)])
    assert ended.stopped_at is None and ended.finished
    ap = _flown([("AUTO", 11, 10), ("AUTO", 12, 10), ("AUTO", 12, 10)])  # ArduCopter's RTL
    assert ap.stopped_at is None


def test_progress_in_rtl_is_not_progress() -> None:
    """PX4's RTL_TYPE 1 flies to the mission's landing through the mission's own items: the
    item numbers jump ahead while the rest of the area was never flown."""
    prog = _flown([("AUTO.MISSION", 5, 4), ("AUTO.RTL", 12, 4), ("AUTO.RTL", 12, 12)])
    assert prog.stopped_at == 5
    # the report the link held from an earlier flight of the same sortie is not this one's
    stale = _flown([("AUTO.MISSION", 3, 11), ("AUTO.LAND", 3, 11)])
    assert stale.stopped_at == 3


def test_a_reach_first_seen_after_the_switch_to_rtl_still_counts() -> None:
    """The fly panel looks a few times a second, and PX4 reports its last waypoint reached and
    switches to RTL within the same second: the first snapshot showing the reach may already
    say AUTO.RTL. The link stamps each report with the mode it came in, and that one counts."""
    from gui.fly_sorties import SortieProgress
    from gui.models import VehicleView

    s = _sortie()
    prog = SortieProgress([s])
    prog.uploaded_sortie(s)
    flying = VehicleView(
        1,
        mode="AUTO.MISSION",
        armed=True,
        in_air=True,
        mission_seq=11,
        mission_seq_mode="AUTO.MISSION",
        last_item_reached=10,
        item_reached_mode="AUTO.MISSION",
    )
    assert not prog.landed_after_flying(flying, True)
    late = replace(flying, mode="AUTO.RTL", mission_seq=12, last_item_reached=11)
    assert not prog.landed_after_flying(late, True)
    assert prog.landed_after_flying(VehicleView(1, mode="AUTO.RTL"), True)
    assert prog.finished and prog.stopped_at is None
    # a reach that came in RTL is not progress, however it is stamped
    cut = SortieProgress([s])
    cut.uploaded_sortie(s)
    cut.landed_after_flying(flying, True)
    cut.landed_after_flying(
        replace(late, mission_seq_mode="AUTO.RTL", item_reached_mode="AUTO.RTL"), True
    )
    assert cut.landed_after_flying(VehicleView(1, mode="AUTO.RTL"), True)
    assert cut.stopped_at == 11


def test_px4_s_mission_finished_text_covers_a_lost_last_reach() -> None:
    """PX4 ``main`` can lose the MISSION_ITEM_REACHED of the last waypoint (its extended
    MISSION_CURRENT takes the navigator's update the reach is sent from; seen on SITL). Its
    navigator still says "Mission finished, loitering": a text of this flight, after a mission
    mode, counts as the sortie flown; the same text from before the flight does not."""
    from gui.fly_sorties import SortieProgress
    from gui.models import VehicleView

    s = _sortie()
    old = ((5.0, 6, "Mission finished, loitering"),)  # the previous flight's
    prog = SortieProgress([s])
    prog.uploaded_sortie(s)
    flying = VehicleView(
        1, mode="AUTO.MISSION", armed=True, in_air=True, mission_seq=11, statustexts=old
    )
    prog.landed_after_flying(flying, True)
    assert not prog.done.complete  # type: ignore[union-attr]
    said = (*old, (90.0, 6, "Mission finished, loitering"))
    prog.landed_after_flying(replace(flying, mode="AUTO.LOITER", statustexts=said), True)
    prog.landed_after_flying(replace(flying, mode="AUTO.RTL", statustexts=said), True)
    assert prog.landed_after_flying(VehicleView(1, mode="AUTO.RTL", statustexts=said), True)
    assert prog.finished and prog.stopped_at is None
    # without it: the same flight is cut short after item 10
    cut = SortieProgress([s])
    cut.uploaded_sortie(s)
    cut.landed_after_flying(flying, True)
    cut.landed_after_flying(replace(flying, mode="AUTO.RTL"), True)
    assert cut.landed_after_flying(VehicleView(1, mode="AUTO.RTL", statustexts=old), True)
    assert cut.stopped_at == 11


def test_a_plan_of_one_sortie_is_flown_in_the_singular() -> None:
    """ "all 1 sorties have been flown" read oddly: one sortie is "the only sortie"."""
    from dronekit_plzen.i18n import set_language
    from gui.fly_panel import _all_flown

    set_language("en")
    assert _all_flown(1) == "the only sortie has been flown"
    assert _all_flown(3) == "all 3 sorties have been flown"
    try:
        set_language("cs")
        assert _all_flown(1) == "jediný let je odlétán"
        assert _all_flown(3) == "všechny lety (3) jsou odlétány"
    finally:
        set_language("en")
