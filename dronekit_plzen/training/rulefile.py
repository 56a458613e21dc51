"""Reading the ``rules:`` list of an exercise file into :mod:`~dronekit_plzen.training.rules`.

Every field is checked against the rule's dataclass; a problem is one
:class:`~dronekit_plzen.errors.BadInputError` naming the rule and field
(``rules[2].within_s: must be a number > 0, got 'soon'``).
"""

from __future__ import annotations

import math
from dataclasses import fields
from typing import TYPE_CHECKING, Any

from dronekit_plzen.errors import BadInputError
from dronekit_plzen.i18n import _
from dronekit_plzen.training.fields import as_float
from dronekit_plzen.training.recording import MODE_GROUPS
from dronekit_plzen.training.rules import (
    RULE_TYPES,
    Coverage,
    ModesForbiddenAfter,
    ModeWithin,
    NoArmDuringFault,
    NoStatustext,
    ProhibitedZone,
    Rule,
    SightingRule,
    Trigger,
)
from dronekit_plzen.training.rules_base import WHEN_ABSENT
from simulators.faults import Brief

if TYPE_CHECKING:
    from dronekit_plzen.training.exercise import Exercise


#: the most points one rule can give
MAX_POINTS = 1000.0


def _trigger(value: Any, where: str, ex: Exercise) -> Trigger:
    if not isinstance(value, dict) or len(value) != 1 or not {"fault", "statustext"} >= set(value):
        raise BadInputError(
            _("{where}: must be {{fault: <id>}} or {{statustext: <text>}}").format(where=where)
        )
    if "fault" in value:
        fid = str(value["fault"])
        if fid not in {f.id for f in ex.faults}:
            raise BadInputError(
                _("{where}: unknown fault id {fid!r} (faults: {faults})").format(
                    where=where,
                    fid=Brief(fid),
                    faults=", ".join(f.id for f in ex.faults) or _("none"),
                )
            )
        return Trigger(fault=fid)
    text = str(value["statustext"]).strip()
    if not text:
        raise BadInputError(_("{where}: statustext must not be empty").format(where=where))
    return Trigger(statustext=text)


def parse_rule(entry: Any, ex: Exercise, where: str) -> Rule:
    """One rule from its YAML mapping; every field checked against the rule's dataclass."""
    if not isinstance(entry, dict):
        raise BadInputError(_("{where}: a rule must be a mapping").format(where=where))
    kind = entry.get("type")
    cls = RULE_TYPES.get(str(kind))
    if cls is None:
        raise BadInputError(
            _("{where}: unknown rule type {kind!r} (one of {rule_types})").format(
                where=where, kind=Brief(kind), rule_types=", ".join(RULE_TYPES)
            )
        )
    if "id" not in entry:
        raise BadInputError(_("{where}: missing field 'id'").format(where=where))
    allowed = {f.name: f for f in fields(cls)} | {"type": None}
    kwargs: dict[str, Any] = {}
    for key, value in entry.items():
        at = f"{where}.{key}"
        if key == "type":
            continue
        if key not in allowed or key == "cell_m":
            valid = ", ".join(k for k in allowed if k not in ("type", "cell_m"))
            raise BadInputError(
                _("{at}: not a field of {kind} (valid: {valid})").format(
                    at=at, kind=kind, valid=valid
                )
            )
        if key == "id":
            kwargs[key] = str(value)
        elif key == "vehicle":
            if isinstance(value, bool) or not isinstance(value, int):
                raise BadInputError(
                    _("{at}: must be a vehicle index, got {value!r}").format(
                        at=at, value=Brief(value)
                    )
                )
            if not 0 <= value < ex.fleet.vehicles:
                raise BadInputError(
                    _("{at}: vehicle index 0..{last}, got {value}").format(
                        at=at, last=ex.fleet.vehicles - 1, value=value
                    )
                )
            kwargs[key] = value
        elif key == "after":
            kwargs[key] = _trigger(value, at, ex)
        elif key == "modes":
            names = value if isinstance(value, list) else [value]
            bad = [m for m in names if str(m) not in MODE_GROUPS]
            if bad or not names:
                raise BadInputError(
                    _("{at}: unknown mode group {bad!r} (one of {mode_groups})").format(
                        at=at,
                        bad=Brief(bad[0] if bad else value),
                        mode_groups=", ".join(MODE_GROUPS),
                    )
                )
            kwargs[key] = tuple(str(m) for m in names)
        elif key in ("zone", "fault", "contains"):
            kwargs[key] = str(value)
        elif key == "when_absent":
            if value not in WHEN_ABSENT:
                raise BadInputError(
                    _("{at}: must be {when_absent}, got {value!r}").format(
                        at=at, when_absent=_(" or ").join(WHEN_ABSENT), value=Brief(value)
                    )
                )
            kwargs[key] = value
        else:
            num = as_float(value, at)
            # infinite points had made the class's percentages NaN; an infinite time or
            # distance is no limit: leave the field out for that
            if (
                not math.isfinite(num)
                or num < 0
                or (key != "points" and num == 0 and key != "min_alt_m")
            ):
                raise BadInputError(
                    _("{at}: must be a number > 0, got {value!r}").format(at=at, value=Brief(value))
                )
            if key == "points" and num > MAX_POINTS:
                raise BadInputError(
                    _("{at}: at most {n:g} points, got {value!r}").format(
                        at=at, n=MAX_POINTS, value=Brief(value)
                    )
                )
            if key in ("min_pct",) and num > 100:
                raise BadInputError(
                    _("{at}: a percentage 0..100, got {value!r}").format(at=at, value=Brief(value))
                )
            kwargs[key] = num
    rule = cls(**kwargs)
    if isinstance(rule, (ModeWithin, ModesForbiddenAfter)) and "after" not in entry:
        raise BadInputError(_("{where}: missing field 'after'").format(where=where))
    if isinstance(rule, ProhibitedZone) and rule.zone not in {z.name for z in ex.zones}:
        raise BadInputError(
            _("{where}.zone: unknown zone {zone!r} (zones: {zones})").format(
                where=where,
                zone=Brief(rule.zone),
                zones=", ".join(z.name for z in ex.zones) or _("none"),
            )
        )
    if isinstance(rule, NoArmDuringFault) and rule.fault not in {f.id for f in ex.faults}:
        raise BadInputError(
            _("{where}.fault: unknown fault id {fault!r}").format(
                where=where, fault=Brief(rule.fault)
            )
        )
    if isinstance(rule, NoStatustext) and not rule.contains:
        raise BadInputError(_("{where}: missing field 'contains'").format(where=where))
    if isinstance(rule, Coverage) and not ex.area:
        raise BadInputError(
            _("{where}: a coverage rule needs the exercise's 'area'").format(where=where)
        )
    if isinstance(rule, SightingRule) and ex.target is None:
        raise BadInputError(
            _("{where}: a sighting rule needs the exercise's 'target'").format(where=where)
        )
    return rule


def parse_rules(entries: Any, ex: Exercise, where: str) -> list[Rule]:
    if not isinstance(entries, list) or not entries:
        raise BadInputError(_("{where}: expected a non-empty list of rules").format(where=where))
    rules = [parse_rule(e, ex, f"{where}[{i}]") for i, e in enumerate(entries)]
    seen: set[str] = set()
    dup = None
    for r in rules:  # a set: 15,000 rules had taken 6 s with list.count
        if r.id in seen:
            dup = r.id
            break
        seen.add(r.id)
    if dup is not None:
        raise BadInputError(
            _("{where}: duplicate rule id {dup!r}").format(where=where, dup=Brief(dup))
        )
    return rules
