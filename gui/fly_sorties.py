"""Sorties on the fly panel, and the pre-flight summary of a vehicle (no Qt here).

A drone's plan is flown one sortie (one battery) at a time: :class:`SortieProgress` follows which
sortie a vehicle carries and notices when it has been flown and landed, so the next one can be
offered. :func:`preflight_row` sums up a vehicle before "Arm and start all".
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from dronekit_plzen.fleet import MissionCompletion
from dronekit_plzen.i18n import _
from gui.clearance import SortieView, resume_sortie
from gui.models import VehicleView

LOW_BATTERY_PCT = 30.0
GPS_FIX_3D = 3


@dataclass(frozen=True)
class PreflightRow:
    """One vehicle in the pre-flight summary; ``problems`` are shown in red."""

    sysid: int
    validation: str
    sortie: str
    gps: str
    battery: str
    link: str
    geofence: str
    problems: frozenset[str] = frozenset()  # column names (as in COLUMNS) that are not ready
    #: the firmware's verdict: "yes", "no: <its PreArm message>" or "not reported"
    ready: str = "—"


COLUMNS = ("sysid", "validation", "sortie", "gps", "battery", "link", "geofence", "ready")


@dataclass
class SortieProgress:
    """Which sortie of its drone a vehicle carries, how far it flew it, and what comes next."""

    sorties: list[SortieView]
    on_board: SortieView | None = None  # uploaded and verified (maybe a resumed sortie)
    fence: bool = False  # its geofence was uploaded too
    flying: bool = False  # armed since the upload
    finished: bool = False  # landed and disarmed after flying it
    #: how far it flew the sortie on board (the rule ``fly`` follows too)
    done: MissionCompletion | None = None
    #: the MISSION_ITEM_REACHED the link held at the upload (an earlier mission's)
    reached_before: int | None = None
    stopped_at: int | None = None  # landed before the end: the item it was flying to
    #: the time of the last status text followed (texts before the flight are not its own)
    texts_after: float = -math.inf

    @property
    def count(self) -> int:
        return len(self.sorties)

    @property
    def uploaded(self) -> int:
        """1-based number of the sortie on board, 0: none yet."""
        return 0 if self.on_board is None else self.on_board.index

    def next_sortie(self) -> SortieView | None:
        """What to upload next: the first sortie, the same again, the rest of an interrupted
        one (resumed where it stopped), or the following one; ``None`` when all are flown."""
        if self.on_board is None:
            return self.sorties[0]
        if not self.finished:
            return self.on_board
        if self.stopped_at is not None:
            return resume_sortie(self.on_board, self.stopped_at)
        k = self.on_board.index
        return self.sorties[k] if k < self.count else None

    def label(self) -> str:
        if self.on_board is None:
            return "—"
        text = f"{self.uploaded}/{self.count}"
        if self.on_board.resumed_from is not None:
            text += "+"  # resumed part of the sortie
        return text

    def uploaded_sortie(self, sortie: SortieView, reached_before: int | None = None) -> None:
        self.on_board, self.flying, self.finished = sortie, False, False
        self.done, self.stopped_at = MissionCompletion.of(sortie.items), None
        self.reached_before = reached_before
        self.fence = bool(sortie.mission.fence_items())

    def landed_after_flying(self, v: VehicleView, link_ok: bool) -> bool:
        """Follow one snapshot; True once, when the sortie on board has been flown and landed.

        Flown: the vehicle was armed after the upload. Landed: disarmed and not in the air,
        seen over a live link (a lost vehicle is not "landed"). Landed before reaching the
        sortie's last waypoint (:class:`dronekit_plzen.fleet.MissionCompletion`: progress
        counts in a mission mode only) sets ``stopped_at``, the item it was flying to.
        """
        done = self.done  # set with the sortie on board (uploaded_sortie)
        if self.on_board is None or done is None or self.finished:
            return False
        if v.armed and not self.flying:  # the autopilot's texts from now on are this flight's
            self.texts_after = max((t for t, _sev, _x in v.statustexts), default=-math.inf)
        if v.armed or self.flying:  # (PX4 says "Mission finished, landed" as it disarms)
            for t, _sev, text in v.statustexts:
                if t > self.texts_after:
                    self.texts_after = t
                    done.said(text)
        if v.armed:
            self.flying = True
            done.mode(v.mode)
            # each report in the mode it came in (a snapshot may come after the switch to RTL)
            if v.mission_seq is not None:
                done.seen(
                    "MISSION_CURRENT", v.mission_seq, v.mission_seq_mode or v.mode, v.mission_state
                )
            if v.last_item_reached is not None and v.last_item_reached != self.reached_before:
                done.seen(
                    "MISSION_ITEM_REACHED", v.last_item_reached, v.item_reached_mode or v.mode
                )
                self.reached_before = None  # from now on, every report is this mission's
            return False
        if not self.flying or v.in_air or not link_ok:
            return False
        self.flying, self.finished = False, True
        if not done.complete:
            self.stopped_at = done.furthest + 1
        return True


def preflight_row(
    v: VehicleView, prog: SortieProgress | None, link_ok: bool, link_text: str
) -> PreflightRow:
    """What a pilot checks before arming: validation, sortie, GPS, battery, link, geofence."""
    problems = set()
    sortie = prog.on_board if prog is not None else None
    if sortie is None:
        validation = _("no validated mission uploaded")
        problems.add("validation")
    else:
        validation = sortie.status_text()
        if sortie.overridden:
            problems.add("validation")
    if v.gps_fix is None or v.gps_fix < GPS_FIX_3D:
        problems.add("gps")
    if v.battery_pct is None or v.battery_pct < LOW_BATTERY_PCT:
        problems.add("battery")
    if not link_ok:
        problems.add("link")
    if v.ready_to_arm is not True:
        problems.add("ready")
    if sortie is None:
        fence = "—"
    elif not sortie.mission.fence_items():
        fence = _("none in the plan")
    else:
        fence = _("uploaded") if prog is not None and prog.fence else _("NOT uploaded")
        if fence != _("uploaded"):
            problems.add("geofence")
    return PreflightRow(
        sysid=v.sysid,
        validation=validation,
        sortie=prog.label() if prog is not None else "—",
        gps=gps_text(v),
        battery="—" if v.battery_pct is None else f"{v.battery_pct:.0f} %",
        link=link_text,
        geofence=fence,
        problems=frozenset(problems),
        ready=ready_text(v.ready_to_arm, v.prearm_text),
    )


def ready_text(ready: bool | None, prearm: str | None) -> str:
    """ "yes", "no: PreArm: Need 3D Fix", "no" or "not reported"."""
    if ready is True:
        return _("yes")
    if ready is False:
        return _("no: {why}").format(why=prearm) if prearm else _("no")
    return _("not reported")


def gps_text(v: VehicleView) -> str:
    names = {0: _("no GPS"), 1: _("no fix"), 2: "2D", 3: "3D", 4: "DGPS", 5: "RTK float", 6: "RTK"}
    fix = "—" if v.gps_fix is None else names.get(v.gps_fix, str(v.gps_fix))
    return fix if v.satellites is None else f"{fix} ({v.satellites})"
