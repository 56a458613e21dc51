"""Flight clearance: the proof, checked by the link layer, that a mission passed the safety guard.

The guard itself (terrain, zones, geofence, endurance, VLOS, the 120 m rule) lives in
:mod:`missions.validation`; it is pure planning code. The link layer sits beside the planner, not
above it, so it cannot call the guard: instead the guard hands out a :class:`Clearance` bound to
the exact items it checked (a digest of their wire-relevant fields), and
:meth:`dronekit_plzen.link.Vehicle.upload_mission` refuses items without a matching clearance.

A pilot may still fly an unsafe or unvalidated mission, but only by saying why: an
:class:`Override` carries the reason, who and when, and is recorded wherever the mission goes
(file metadata, the flight database, the GUI log).

>>> from dronekit_plzen.mission_items import MissionItem
>>> items = [MissionItem(command=22, alt_m=30.0)]
>>> c = Clearance.passed(items, checked=("max_agl",))
>>> c.covers(items)
True
>>> c.covers([MissionItem(command=22, alt_m=400.0)])
False
"""

from __future__ import annotations

import getpass
import hashlib
import math
import struct
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from dronekit_plzen.errors import BadInputError, SafetyViolation
from dronekit_plzen.i18n import _
from dronekit_plzen.mission_items import MissionItem

#: wire resolution: positions are sent as 1e-7 degrees, so a clearance survives that rounding
_DEG_Q = 1e7
_ALT_Q = 100.0  # centimetres


_Q_MAX = 2**63 - 1  # packed as int64


def _q(v: float, scale: float) -> int:
    x = v * scale
    if not math.isfinite(x):
        return -(2**62)  # NaN/inf params (or beyond a float at this scale): one fixed code
    # a damaged file's 1e23 (a float32 still) is beyond int64 at this scale: it saturates
    return max(-_Q_MAX, min(_Q_MAX, round(x)))


def items_digest(items: Sequence[MissionItem]) -> str:
    """SHA-256 over what a vehicle flies: command, frame, params, position (wire resolution)."""
    h = hashlib.sha256()
    for it in items:
        params = (it.param1, it.param2, it.param3, it.param4)
        h.update(
            struct.pack(
                "<HBB4qqqq",
                it.command & 0xFFFF,
                it.frame & 0xFF,
                it.mission_type & 0xFF,
                *(_q(p, 1e4) for p in params),
                _q(it.lat_deg, _DEG_Q),
                _q(it.lon_deg, _DEG_Q),
                _q(it.alt_m, _ALT_Q),
            )
        )
    return h.hexdigest()


@dataclass(frozen=True)
class Override:
    """A pilot's explicit decision to fly despite (or without) validation."""

    reason: str
    by: str
    at: str
    violations: tuple[str, ...] = ()

    @classmethod
    def make(
        cls,
        reason: str | None,
        violations: Sequence[str] = (),
        *,
        who: str | None = None,
        now: datetime | None = None,
    ) -> Override:
        if not reason or not reason.strip():
            raise BadInputError(_("--override-safety needs --reason explaining why"))
        try:
            user = who or getpass.getuser()
        except (KeyError, OSError):
            user = "unknown"
        at = (now or datetime.now(timezone.utc)).isoformat(timespec="seconds")
        return cls(reason=reason.strip(), by=user, at=at, violations=tuple(violations))

    def to_dict(self) -> dict[str, Any]:
        return {
            "reason": self.reason,
            "by": self.by,
            "at": self.at,
            "violations": list(self.violations),
        }


@dataclass(frozen=True)
class Clearance:
    """Items that passed the guard (``ok``), or were let through by an :class:`Override`."""

    digest: str
    ok: bool
    checked: tuple[str, ...] = ()
    override: Override | None = None
    sortie: int | None = None
    notes: tuple[str, ...] = field(default=())

    @classmethod
    def passed(
        cls,
        items: Sequence[MissionItem],
        *,
        checked: Sequence[str] = (),
        sortie: int | None = None,
        notes: Sequence[str] = (),
    ) -> Clearance:
        return cls(items_digest(items), True, tuple(checked), None, sortie, tuple(notes))

    @classmethod
    def overridden(
        cls,
        items: Sequence[MissionItem],
        override: Override,
        *,
        checked: Sequence[str] = (),
        sortie: int | None = None,
    ) -> Clearance:
        return cls(items_digest(items), False, tuple(checked), override, sortie)

    def covers(self, items: Sequence[MissionItem]) -> bool:
        return self.digest == items_digest(items)

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "checked": list(self.checked),
            "sortie": self.sortie,
            "digest": self.digest,
            "override": self.override.to_dict() if self.override else None,
            "notes": list(self.notes),
        }


def require_clearance(
    items: Sequence[MissionItem],
    clearance: Clearance | None,
    override: Override | None = None,
) -> Clearance:
    """The clearance under which ``items`` may be uploaded, or :class:`SafetyViolation`.

    ``clearance`` must cover exactly these items; otherwise an explicit ``override`` (with its
    reason) lets them through and is returned as an overridden clearance for the caller to record.
    """
    if (
        clearance is not None
        and clearance.covers(items)
        and (clearance.ok or clearance.override is not None)
    ):
        return clearance
    if override is not None:
        return Clearance.overridden(items, override)
    if clearance is None:
        raise SafetyViolation(
            _(
                "refusing to upload a mission that was not validated "
                "(validate it, or override with a reason)"
            )
        )
    raise SafetyViolation(
        _(
            "refusing to upload: the mission differs from the one that was validated "
            "(validate it again, or override with a reason)"
        )
    )


__all__ = ["Clearance", "Override", "items_digest", "require_clearance"]
