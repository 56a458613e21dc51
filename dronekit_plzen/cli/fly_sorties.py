"""``fly``'s safety steps: sorties, the clearance, arming with reasons, and watching the flight.

- :func:`load_sorties`: a plan written as sorties (``name_sortie1.plan``, ``name_sortie2.plan``,
  ...) is flown one sortie at a time, never merged into one mission.
- :class:`SortieProgress`: which sorties have landed (a small JSON file beside the plan), so a
  later ``fly`` resumes with the next one.
- :func:`clear_sorties`: :func:`missions.clearance.clear_for_flight` with the vehicle's
  ``HOME_POSITION`` as the altitude datum and its GPS position for the launch-point check.
- :func:`arm_or_explain`: a refused arming stops the flight and names the vehicle's reasons
  (``PreArm:`` / ``Preflight Fail:`` status texts).
- :class:`FlightWatch`: progress only on change (on a terminal) or every few seconds (in a log),
  link-lost/regained bursts folded into one line with a count, and a vehicle silent for longer
  than the link-loss time ends the flight with an error naming it, its last position and mode.
"""

from __future__ import annotations

import json
import logging
import math
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dronekit_plzen.errors import BadInputError, CommandError, LinkError
from dronekit_plzen.i18n import _, ngettext
from dronekit_plzen.link import Vehicle, VehicleState
from dronekit_plzen.rtl_cone import RtlParams

log = logging.getLogger(__name__)

_SORTIE_RE = re.compile(r"^(?P<base>.+)_sortie(?P<k>\d+)$")
ARMING_REASON_PREFIXES = ("PreArm", "Preflight", "Arm", "Arming")


def load_sorties(path: Path, load: Callable[[Path], Any]) -> tuple[list[tuple[Path, Any]], str]:
    """The sorties of the plan ``path`` belongs to, in order, and the plan's base name.

    ``survey_sortie2.plan`` finds ``survey_sortie1.plan`` .. ``survey_sortieN.plan`` beside it
    (every one must exist); any other file is a plan of one sortie.
    """
    m = _SORTIE_RE.match(path.stem)
    if m is None:
        return [(path, load(path))], path.stem
    base = m.group("base")
    found = sorted(
        (int(mm.group("k")), p)
        for p in path.parent.glob(f"{base}_sortie*{path.suffix}")
        if (mm := _SORTIE_RE.match(p.stem)) and mm.group("base") == base
    )
    ks = [k for k, _p in found]
    if ks != list(range(1, len(ks) + 1)):
        raise BadInputError(
            _("sortie files of {base} are not numbered 1..{n}: {ks}").format(
                base=base, n=len(ks), ks=ks
            ),
            where=str(path.parent),
        )
    return [(p, load(p)) for _k, p in found], base


@dataclass
class SortieProgress:
    """Which sorties of a plan have landed, kept beside the plan (``<base>.fly-progress.json``).

    ``partial`` is ``(sortie, item)`` when a sortie was interrupted (Ctrl-C, a lost vehicle)
    after reaching ``item``: the next ``fly`` resumes it there.
    """

    path: Path
    done: list[int] = field(default_factory=list)
    partial: tuple[int, int] | None = None

    @classmethod
    def for_plan(cls, plan_path: Path, base: str) -> SortieProgress:
        p = plan_path.parent / f"{base}.fly-progress.json"
        done: list[int] = []
        partial: tuple[int, int] | None = None
        if p.exists():
            try:
                doc = json.loads(p.read_text(encoding="utf-8"))
                done = [int(k) for k in doc["done"]]
                if doc.get("partial"):
                    partial = (int(doc["partial"][0]), int(doc["partial"][1]))
            except (OSError, ValueError, KeyError, TypeError, IndexError) as exc:
                raise BadInputError(_("unreadable sortie progress file"), where=str(p)) from exc
        return cls(p, done, partial)

    def next_sortie(self, n: int) -> int | None:
        return next((k for k in range(1, n + 1) if k not in self.done), None)

    def mark_done(self, k: int) -> None:
        if k not in self.done:
            self.done.append(k)
        if self.partial is not None and self.partial[0] == k:
            self.partial = None
        self._save()

    def mark_stopped(self, k: int, item: int) -> None:
        self.partial = (k, item)
        self._save()

    def _save(self) -> None:
        doc: dict[str, Any] = {"done": sorted(self.done)}
        if self.partial is not None:
            doc["partial"] = list(self.partial)
        self.path.write_text(json.dumps(doc) + "\n", encoding="utf-8")


def resume_mission(mission: Any, item: int) -> Any | None:
    """The rest of ``mission`` after a fresh take-off, for a sortie that stopped while flying to
    item ``item`` (:func:`missions.resume.resume_items`: the leg again from its start, after
    the settings made before it); None when it is flown again whole. The result is a new path
    (home → take-off → straight to the leg's start), so it is cleared again."""
    from dataclasses import replace

    from missions.resume import resume_items

    r = resume_items(mission.items, item)
    if r is None:
        return None
    meta = dict(mission.metadata)
    meta["resumed_at_item"] = r.start
    meta["resumed_prefix"] = r.head
    return replace(mission, items=r.items, metadata=meta)


def clear_sorties(
    missions: list[Any],
    st: VehicleState,
    *,
    dem: Any,
    zones: Any,
    profile: Any,
    override: bool,
    reason: str | None,
    max_range_m: float,
    max_launch_offset_m: float,
    max_distance_m: float | None = None,
    rtl_alt_m: float | None = None,
    rtl: RtlParams | None = None,
    takeoff_alt_m: float | None = None,
) -> Any:
    """Every sortie through the guard, against the vehicle's home and position (and its RTL
    altitude and return cone, see :func:`vehicle_rtl_params`; ``takeoff_alt_m``: the take-off
    ``fly`` commands before an ArduCopter mission without a take-off item)."""
    from missions.clearance import clear_for_flight

    return clear_for_flight(
        missions,
        dem=dem,
        zones=zones,
        vehicle=profile,
        vehicle_home=st.home,
        vehicle_position=(st.lat_deg, st.lon_deg) if st.position_known else None,
        max_range_m=max_range_m,
        max_distance_m=max_distance_m,
        max_launch_offset_m=max_launch_offset_m,
        override=override,
        reason=reason,
        rtl_alt_m=rtl_alt_m,
        rtl=rtl,
        takeoff_alt_m=takeoff_alt_m,
        flown_by=st.autopilot if st.autopilot in ("ardupilot", "px4") else None,
    )


def arming_reasons(st: VehicleState, since_s: float) -> list[str]:
    """The vehicle's pre-arm status texts received after ``since_s`` (monotonic)."""
    out: list[str] = []
    for s in st.statustexts:
        if s.time_s >= since_s and s.text.startswith(ARMING_REASON_PREFIXES) and s.text not in out:
            out.append(s.text)
    return out


def arm_or_explain(v: Vehicle, *, wait_reasons_s: float = 1.5) -> None:
    """Arm, or raise :class:`CommandError` naming why the vehicle refused (its PreArm texts)."""
    t0 = time.monotonic() - 0.5
    try:
        v.arm()
    except CommandError as exc:
        deadline = time.monotonic() + wait_reasons_s
        reasons = arming_reasons(v.state, t0)
        while not reasons and time.monotonic() < deadline:
            time.sleep(0.1)
            reasons = arming_reasons(v.state, t0)
        why = "; ".join(reasons) if reasons else str(exc)
        raise CommandError(
            _("vehicle {sysid} refused to arm: {why}").format(sysid=v.sysid, why=why),
            command=exc.command,
            result=exc.result,
        ) from exc


def describe_last(st: VehicleState) -> str:
    pos = (
        f"{st.lat_deg:.6f}, {st.lon_deg:.6f}"
        if st.position_known and math.isfinite(st.lat_deg)
        else _("unknown")
    )
    alt = "?" if math.isnan(st.relative_alt_m) else f"{st.relative_alt_m:.0f}"
    return _("last position {pos}, {alt} m above home, mode {mode}").format(
        pos=pos, alt=alt, mode=st.mode or "?"
    )


class FlightWatch:
    """What ``fly`` prints while the vehicle flies, and when it gives up on a silent vehicle.

    ``interactive`` (a terminal): a progress line whenever it changes. Otherwise (a log file, a
    pipe): when the item or mode changes, else at most every ``every_s`` seconds. Link losses
    and recoveries within one ``every_s`` window are folded into one line with a count.
    """

    def __init__(
        self,
        v: Vehicle,
        n_items: int,
        *,
        link_loss_s: float,
        interactive: bool,
        echo: Callable[[str], None],
        every_s: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.v = v
        self.n_items = n_items
        self.link_loss_s = link_loss_s
        self.interactive = interactive
        self.echo = echo
        self.every_s = every_s
        self.clock = clock
        self._last_line = ""
        self._last_key: tuple[Any, ...] = ()
        self._last_print = -math.inf
        self._lost_since: float | None = None
        self._losses = 0
        self._regains = 0
        self._fold_since = -math.inf
        self.last_known: VehicleState | None = None

    def progress_line(self, st: VehicleState) -> str:
        # the altitude's datum is said; one not yet reported is "?", never 0 m
        return _(
            "item {seq}/{n}  mode {mode}  alt {alt} m above home  battery {bat}%  link {age:.1f} s"
        ).format(
            seq=max(st.mission_seq, 0) + 1,
            n=self.n_items,
            mode=st.mode,
            alt="?" if not math.isfinite(st.relative_alt_m) else f"{st.relative_alt_m:.1f}",
            bat="?" if math.isnan(st.battery_remaining_pct) else int(st.battery_remaining_pct),
            age=st.heartbeat_age_s,
        )

    def step(self, st: VehicleState) -> None:
        """One look at the vehicle: print what is due; raise LinkError when it is gone."""
        now = self.clock()
        alive = st.heartbeat_age_s <= max(2.0, min(5.0, self.link_loss_s / 2))
        if alive:
            self.last_known = st
            if self._lost_since is not None:
                self._regains += 1
                self._lost_since = None
        elif self._lost_since is None:
            self._lost_since = now - st.heartbeat_age_s
            self._losses += 1
        if self._lost_since is not None and st.heartbeat_age_s > self.link_loss_s:
            self.flush_links(force=True)
            raise LinkError(
                _(
                    "vehicle {sysid} silent for {age:.0f} s (link-loss limit {lim:g} s); {last}"
                ).format(
                    sysid=self.v.sysid,
                    age=st.heartbeat_age_s,
                    lim=self.link_loss_s,
                    last=describe_last(self.last_known or st),
                )
            )
        self.flush_links()
        line = self.progress_line(st)
        key = (max(st.mission_seq, 0), st.mode, st.armed)
        due = (
            line != self._last_line
            if self.interactive
            else key != self._last_key or now - self._last_print >= self.every_s
        )
        if due and alive:
            self.echo(line)
            self._last_line, self._last_key, self._last_print = line, key, now

    def flush_links(self, *, force: bool = False) -> None:
        """Print the link losses/recoveries seen since the last such line, folded into one."""
        now = self.clock()
        if not (self._losses or self._regains):
            return
        if not force and now - self._fold_since < self.every_s:
            return
        sysid = self.v.sysid
        if self._losses == 1 and self._regains == 0:
            text = _("link to vehicle {sysid} lost").format(sysid=sysid)
        elif self._losses == 0 and self._regains == 1:
            text = _("link to vehicle {sysid} regained").format(sysid=sysid)
        else:
            text = ngettext(
                "link to vehicle {sysid} lost {n} time and regained {r} in {t:.0f} s",
                "link to vehicle {sysid} lost {n} times and regained {r} in {t:.0f} s",
                self._losses,
            ).format(
                sysid=sysid,
                n=self._losses,
                r=self._regains,
                t=min(now - self._fold_since, 3600.0),
            )
        self.echo(text)
        self._fold_since = now
        self._losses = 0
        self._regains = 0
