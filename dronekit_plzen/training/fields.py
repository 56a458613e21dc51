"""The field checks of an exercise file: numbers in range, places near home, the area, the
parameters, the name. Each raises one :class:`~dronekit_plzen.errors.BadInputError` naming
the file and the field (``where``); :mod:`~dronekit_plzen.training.exercise` puts them
together.
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any

from dronekit_plzen.errors import BadInputError
from dronekit_plzen.i18n import _
from simulators.faults import Brief


def as_float(value: Any, where: str) -> float:
    """``value`` as a number (yes/no is not one), or the refusal naming ``where``."""
    try:
        if isinstance(value, bool):
            raise TypeError
        return float(value)
    except (TypeError, ValueError):
        raise BadInputError(
            _("{where}: must be a number, got {value!r}").format(where=where, value=Brief(value))
        ) from None


def a_list(value: Any, where: str) -> list[Any]:
    """``value`` (None: an empty list) if it is a list, or the refusal naming ``where``."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise BadInputError(
            _("{where}: must be a list, got {type_name}").format(
                where=where, type_name=type(value).__name__
            )
        )
    return value


def number(
    value: Any,
    where: str,
    *,
    minimum: float = -math.inf,
    positive: bool = False,
    maximum: float = math.inf,
) -> float:
    num = as_float(value, where)
    if math.isnan(num) or math.isinf(num) or num < minimum or (positive and num <= 0):
        bound = "> 0" if positive else f"≥ {minimum:g}"
        raise BadInputError(
            _("{where}: must be a number {bound}, got {value!r}").format(
                where=where, bound=bound, value=Brief(value)
            )
        )
    if num > maximum:  # a wind of 1e308 m/s, a time limit of 1e308 s: nonsense, not a test
        lo = 0.0 if positive else minimum
        raise BadInputError(
            _("{where}: must be {lo:g} to {hi:g}, got {value!r}").format(
                where=where, lo=lo, hi=maximum, value=Brief(value)
            )
        )
    return num


def mapping(value: Any, where: str, allowed: set[str] | None = None) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise BadInputError(
            _("{where}: must be a mapping, got {type_name}").format(
                where=where, type_name=type(value).__name__
            )
        )
    if allowed is not None:
        extra = sorted(set(map(str, value)) - allowed)
        if extra:
            raise BadInputError(
                _("{where}: unknown field {extra!r} (valid: {allowed})").format(
                    where=where, extra=Brief(extra[0]), allowed=", ".join(sorted(allowed))
                )
            )
    return value


def texts(data: dict[str, Any], key: str, where: str) -> dict[str, str]:
    if key not in data:
        raise BadInputError(_("{where}: missing field {key!r}").format(where=where, key=key))
    value = mapping(data[key], f"{where}: {key}", {"en", "cs"})
    for lang in ("en", "cs"):
        text = value.get(lang)
        if not isinstance(text, str) or not text.strip():
            raise BadInputError(
                _("{where}: {key}.{lang}: missing or empty text").format(
                    where=where, key=key, lang=lang
                )
            )
    return {k: " ".join(str(v).split()) for k, v in value.items()}


def latlon(value: Any, where: str) -> tuple[float, float]:
    if not isinstance(value, (list, tuple)) or len(value) < 2:
        raise BadInputError(
            _("{where}: must be [lat, lon], got {value!r}").format(where=where, value=Brief(value))
        )
    lat = number(value[0], f"{where}[0]")
    lon = number(value[1], f"{where}[1]")
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        raise BadInputError(
            _("{where}: [lat, lon] out of range, got {value!r}").format(
                where=where, value=Brief(value)
            )
        )
    return lat, lon


#: the highest a suggested waypoint may be above home (EU Open category)
MAX_REL_ALT_M = 120.0
#: the longest session (simulated s): a day; the random gusts are drawn for all of it
MAX_TIME_LIMIT_S = 86_400.0
#: (least, greatest) of each wind field: the simulated wind's range (SIM_WIND_SPD), a gust at
#: most every second (every 1e-9 s had drawn gusts until the memory was exhausted)
WIND_RANGES = {
    "speed_m_s": (0.0, 40.0),
    "from_deg": (0.0, 360.0),
    "gusts_max_m_s": (0.0, 40.0),
    "gusts_every_s": (1.0, MAX_TIME_LIMIT_S),
    "gusts_spread_deg": (0.0, 180.0),
}
MAX_SPACING_M = 1000.0
#: as ``dronekit-plzen sim --boot-settle``
MAX_BOOT_SETTLE_S = 600.0
#: the target's detection radius, ceiling and jitter (metres)
MAX_TARGET_M = 1000.0
#: the widest side of a search area: its coverage is scored on a 5 m grid (a 5,000 km area
#: had been 10^12 cells)
MAX_AREA_SIDE_M = 3000.0
#: an exercise's name becomes part of each session's folder name
NAME_CHARS = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,59}")


def near_home(lat: float, lon: float, home: tuple[float, float, float], where: str) -> None:
    """Refuse a place farther from the fleet's home than the guard's plausibility range
    (:data:`missions.clearance.MAX_RANGE_M`: a typo in a coordinate, or the two swapped)."""
    from dronekit_plzen.geo import geodesic_distance_m
    from missions.clearance import MAX_RANGE_M

    d = float(geodesic_distance_m(home[1], home[0], lon, lat))
    if not d <= MAX_RANGE_M:
        raise BadInputError(
            _(
                "{where}: {lat:g}, {lon:g} is {km:,.0f} km from the fleet's home, more than "
                "the {m:,.0f} km an exercise spans (a typo, or latitude and longitude swapped?)"
            ).format(where=where, lat=lat, lon=lon, km=d / 1000.0, m=MAX_RANGE_M / 1000.0)
        )


def polygon(value: Any, where: str) -> tuple[tuple[float, float], ...]:
    if not isinstance(value, list) or len(value) < 3:
        raise BadInputError(
            _("{where}: a polygon needs at least 3 [lat, lon] corners").format(where=where)
        )
    return tuple(latlon(p, f"{where}[{i}]") for i, p in enumerate(value))


def area_polygon(
    value: Any, where: str, home: tuple[float, float, float]
) -> tuple[tuple[float, float], ...]:
    """The search area: near home, a valid polygon with an area, small enough to score."""
    import shapely

    from dronekit_plzen.training.rules_base import local_xy

    poly = polygon(value, where)
    for i, (lat, lon) in enumerate(poly):
        near_home(lat, lon, home, f"{where}[{i}]")
    x, y = local_xy([p[0] for p in poly], [p[1] for p in poly], poly[0])
    shape = shapely.Polygon(list(zip(x, y, strict=True)))
    if not shape.is_valid or shape.area < 1.0:  # a line, or a ring crossing itself
        raise BadInputError(
            _("{where}: not a valid polygon (its corners lie on a line or its sides cross)").format(
                where=where
            )
        )
    width, height = float(x.max() - x.min()), float(y.max() - y.min())
    if max(width, height) > MAX_AREA_SIDE_M:
        raise BadInputError(
            _(
                "{where}: {w:,.1f} km × {h:,.1f} km, more than the {m:,.1f} km a side an "
                "exercise's area can be scored on"
            ).format(where=where, w=width / 1000, h=height / 1000, m=MAX_AREA_SIDE_M / 1000)
        )
    return poly


def seed_value(value: Any, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 2**32:
        raise BadInputError(
            _("{where}: must be an integer 0..4294967295, got {value!r}").format(
                where=where, value=Brief(value)
            )
        )
    return value


def params_checked(params: dict[Any, Any], autopilot: str, where: str) -> dict[str, float]:
    """Each parameter checked against the simulated firmware's table (an unknown name or a
    value out of range had passed ``train check`` and stopped ``train run``)."""
    from simulators.params import check_range, defaults

    known = defaults(autopilot, 1)
    out: dict[str, float] = {}
    for key, value in params.items():
        name = str(key)
        num = number(value, f"{where}.{name}")
        try:
            if name not in known:
                raise BadInputError(_("unknown parameter {name}").format(name=name[:60]))
            check_range(name, known[name], num)
        except BadInputError as exc:
            raise BadInputError(
                _("{where}.{name}: {exc}").format(where=where, name=name[:60], exc=exc)
            ) from None
        out[name] = num
    return out


def exercise_name(value: Any, where: str) -> str:
    """The exercise's name, part of every session folder's name: ``../../x`` had put the
    session outside the class's folder."""
    if value is None or value == "":  # the file's name, as a folder name can hold it
        stem = re.sub(r"[^A-Za-z0-9._-]+", "-", Path(where).stem).strip("-.")
        return stem[:60] or "exercise"
    if not isinstance(value, str) or not NAME_CHARS.fullmatch(value):
        raise BadInputError(
            _(
                "{where}: name: letters, digits, '.', '_' and '-' (at most 60, not first), "
                "got {value!r}"
            ).format(where=where, value=Brief(value))
        )
    return value
