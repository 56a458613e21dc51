"""A session folder's JSON records, read back and checked field by field.

``session.json`` (written when a session ends) and ``score.json`` (its score) are read by
``train report`` and ``train replay`` long after the session, and may have been damaged or
edited by hand since. Every field a reader uses is checked here, once: a record that is not
what the session wrote is one :class:`~dronekit_plzen.errors.BadInputError` naming the file
and the field, never an internal error later (``KeyError: 'homes'``) nor a report built from
nonsense (a score of NaN points, a student's name with terminal escapes).
"""

from __future__ import annotations

import json
import math
import unicodedata
from collections.abc import Callable
from pathlib import Path
from typing import Any

from dronekit_plzen.errors import BadInputError, one_line
from dronekit_plzen.i18n import _
from simulators.faults import Brief

#: what a rule's ``status`` may be in score.json
STATUSES = ("pass", "fail", "not_evaluated")


def read_json_record(path: Path, what: str) -> dict[str, Any]:
    """A session's JSON file (``session.json``, ``score.json``) as a mapping; a file that is
    not one is bad input saying ``what`` it should have been."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise BadInputError(f"{what}: {one_line(exc)}", where=str(path)) from None
    if not isinstance(data, dict):
        raise BadInputError(what, where=str(path))
    return data


def plain_text(v: Any) -> bool:
    """A text a report may show: no control characters, no undecodable bytes."""
    return isinstance(v, str) and not any(
        unicodedata.category(c) in ("Cc", "Cf", "Cs", "Zl", "Zp") and c not in "\t" for c in v
    )


def _int(lo: int, hi: int) -> Callable[[Any], bool]:
    return lambda v: isinstance(v, int) and not isinstance(v, bool) and lo <= v <= hi


def _finite(lo: float = -math.inf, hi: float = math.inf) -> Callable[[Any], bool]:
    return lambda v: (
        isinstance(v, int | float)
        and not isinstance(v, bool)
        and math.isfinite(v)
        and lo <= v <= hi
    )


def _latlon(v: Any) -> bool:
    return (
        isinstance(v, list) and len(v) == 2 and _finite(-90, 90)(v[0]) and _finite(-180, 180)(v[1])
    )


def _optional(ok: Callable[[Any], bool]) -> Callable[[Any], bool]:
    return lambda v: v is None or ok(v)


def _check(record: dict[str, Any], checks: dict[str, Callable[[Any], bool]], path: Path) -> None:
    for key, ok in checks.items():
        if key not in record or not ok(record[key]):
            raise BadInputError(
                _("the session record's {key!r} is missing or not valid: {v!r}").format(
                    key=key, v=Brief(record.get(key))
                ),
                where=str(path),
            )


def _fault(v: Any, vehicles: int) -> bool:
    return (
        isinstance(v, dict)
        and plain_text(v.get("id"))
        and plain_text(v.get("type"))
        and plain_text(v.get("trigger"))
        and _int(0, vehicles - 1)(v.get("vehicle"))
        and _finite(0)(v.get("t_s"))
        and _finite(-90, 90)(v.get("lat_deg"))
        and _finite(-180, 180)(v.get("lon_deg"))
    )


def read_session_meta(folder: Path) -> dict[str, Any]:
    """A session's ``session.json``, with the fields scoring, reports and replays read
    checked: a damaged or hand-edited file is bad input naming the file and the field."""
    path = folder / "session.json"
    meta = read_json_record(path, _("not a session record (session.json)"))
    _check(
        meta,
        {
            "seed": _int(0, 2**32 - 1),
            "vehicles": _int(1, 64),
            "t0_s": _finite(0, 2**33),
            "student": plain_text,
            "exercise": plain_text,
        },
        path,
    )
    n = meta["vehicles"]
    _check(
        meta,
        {
            "end_s": _finite(0),
            "started_utc": plain_text,
            "ended_by": plain_text,
            # one home per vehicle: scoring looks each vehicle's up (had been an IndexError)
            "homes": lambda v: isinstance(v, list) and len(v) == n and all(map(_latlon, v)),
            "target": _optional(_latlon),
            "faults": lambda v: isinstance(v, list) and all(_fault(f, n) for f in v),
        },
        path,
    )
    return meta


def _rule(v: Any) -> bool:
    return (
        isinstance(v, dict)
        and plain_text(v.get("id"))
        and isinstance(v.get("passed"), bool)
        and _finite(0)(v.get("points"))
        and _optional(_finite(0))(v.get("t_s"))
        and _optional(_finite(-90, 90))(v.get("lat_deg"))
        and (v.get("lat_deg") is None) == (v.get("lon_deg") is None)
        and _optional(_finite(-180, 180))(v.get("lon_deg"))
        and _optional(_int(0, 63))(v.get("vehicle"))
        and plain_text(v.get("reason"))
        and v.get("status", "pass" if v.get("passed") else "fail") in STATUSES
    )


def read_score(folder: Path, meta: dict[str, Any], rule_ids: list[str]) -> dict[str, Any]:
    """A session's ``score.json``, checked against its ``session.json`` (``meta``) and the
    exercise's rules (``rule_ids``): a score of NaN points, a rule without an id or a score
    of another session had been an internal error or a report of nonsense."""
    path = folder / "score.json"
    score = read_json_record(path, _("not a session's score (score.json)"))
    _check(
        score,
        {
            "student": lambda v: v == meta["student"],
            "exercise": lambda v: v == meta["exercise"],
            "points": _finite(0),
            "max_points": _finite(0),
            "rules": lambda v: isinstance(v, list),
        },
        path,
    )
    _check(
        {f"rules[{i}]": r for i, r in enumerate(score["rules"])},
        dict.fromkeys((f"rules[{i}]" for i in range(len(score["rules"]))), _rule),
        path,
    )
    if [r["id"] for r in score["rules"]] != rule_ids or score["points"] > score["max_points"]:
        raise BadInputError(
            _("the score is not one of this session's exercise (its rules: {ids})").format(
                ids=Brief(", ".join(rule_ids))
            ),
            where=str(path),
        )
    return score
