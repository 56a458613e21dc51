"""Resuming a sortie that stopped before its end (a failsafe, Ctrl-C, a lost link), one rule
for ``fly`` and the GUI.

As QGroundControl resumes a mission (``MissionController::resumeMissionIndex``,
``MissionManager::generateResumeMission``): the leg the aircraft was flying when it stopped is
flown again from its start (the positioned item before the one it was flying to), so a survey
leg cut half-way is photographed whole; and the settings made before that start are replayed
first, the last of each kind (:func:`state_key`). Actions of the moment (a single photo, a
servo, a relay, the gripper, a winch: a payload would be released twice) are not replayed.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from dronekit_plzen import mission_items as mi
from dronekit_plzen.mission_items import MissionItem

#: MAV_CMD_NAV_ROI, ArduPilot's older name of DO_SET_ROI
_NAV_ROI = 80


@dataclass(frozen=True)
class Resumed:
    """A resumed sortie: its ``items`` (the take-off, the replayed settings, then the original
    items from ``start`` on), ``start`` (the leg's start, an index of the original items) and
    ``head`` (how many items come before it)."""

    items: list[MissionItem]
    start: int
    head: int


def state_key(it: MissionItem) -> tuple[Any, ...] | None:
    """What a DO command sets that lasts for the rest of the mission (its key: a later command
    with the same key replaces it), or None for an action of the moment.

    >>> state_key(MissionItem(command=mi.CMD_DO_CHANGE_SPEED, param1=2, param2=1.5))
    ('speed', 2)
    >>> state_key(MissionItem(command=mi.CMD_IMAGE_START_CAPTURE, param3=1)) is None
    True
    """
    cmd = it.command
    if cmd == mi.CMD_DO_CHANGE_SPEED:  # per speed type (ArduCopter: 2 climb, 3 descent)
        return ("speed", int(it.param1) if math.isfinite(it.param1) else 0)
    if cmd in (mi.CMD_DO_SET_ROI, _NAV_ROI, mi.CMD_DO_SET_ROI_LOCATION, mi.CMD_DO_SET_ROI_NONE):
        return ("roi",)
    if cmd in (mi.CMD_DO_MOUNT_CONTROL, mi.CMD_DO_GIMBAL_MANAGER_PITCHYAW):
        return ("gimbal",)
    if cmd in (mi.CMD_DO_SET_CAM_TRIGG_DIST, mi.CMD_DO_SET_CAM_TRIGG_INTERVAL):
        return ("trigger",)
    if cmd in (mi.CMD_IMAGE_START_CAPTURE, mi.CMD_IMAGE_STOP_CAPTURE):
        if cmd == mi.CMD_IMAGE_START_CAPTURE and it.param3 == 1:
            return None  # one photo: an action, not a state
        return ("images", it.param1)
    if cmd in (mi.CMD_VIDEO_START_CAPTURE, mi.CMD_VIDEO_STOP_CAPTURE):
        return ("video", it.param1)
    if cmd in (
        mi.CMD_DO_DIGICAM_CONFIGURE,
        mi.CMD_DO_GIMBAL_MANAGER_CONFIGURE,
        mi.CMD_SET_CAMERA_MODE,
        mi.CMD_SET_CAMERA_ZOOM,
        mi.CMD_SET_CAMERA_FOCUS,
    ):
        return ("set", cmd)
    return None


def resume_items(items: Sequence[MissionItem], target: int) -> Resumed | None:
    """The sortie ``items`` resumed after a fresh take-off, having stopped while flying to item
    ``target``; None when it is flown again whole: stopped on its way to (or from the take-off
    to) its first positioned item after the take-off, a ``target`` out of range, or a
    ``DO_JUMP`` (its targets would move)."""
    items = list(items)
    nav = [k for k, it in enumerate(items) if it.has_position and it.command != mi.CMD_NAV_TAKEOFF]
    if not nav or target <= nav[0] or target >= len(items):
        return None
    if any(it.command == mi.CMD_DO_JUMP for it in items):
        return None
    start = max(k for k in nav if k < target)
    if start <= nav[0]:
        return None  # the first leg: the whole sortie again
    head = [it for it in items[:start] if it.command == mi.CMD_NAV_TAKEOFF][:1]
    last: dict[tuple[Any, ...], int] = {}
    for k, it in enumerate(items[:start]):
        if (key := state_key(it)) is not None:
            last[key] = k
    stopped = {mi.CMD_IMAGE_STOP_CAPTURE, mi.CMD_VIDEO_STOP_CAPTURE}
    state = [items[k] for k in sorted(last.values()) if items[k].command not in stopped]
    prefix = [*head, *state]
    return Resumed([*prefix, *items[start:]], start, len(prefix))


__all__ = ["Resumed", "resume_items", "state_key"]
