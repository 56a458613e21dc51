"""Training exercise files: the YAML schema, its validation, and the bundled exercises.

Schema (every time is simulated seconds since the simulator started; positions WGS84 degrees)::

    name: link_loss_survey              # optional, default: the file name
    title: {en: ..., cs: ...}           # required, both languages
    briefing: {en: ..., cs: ...}        # required: situation and task for the student
    fleet:
      autopilot: px4                    # px4 | ardupilot
      vehicles: 1                       # 1..10
      home: [49.7477, 13.3776, 311.0]   # vehicle 0's home, lat, lon, m AMSL
      spacing_m: 5                      # further vehicles stand this far east
      seed: 7                           # GPS noise, radio faults, gusts, target jitter
      boot_settle_s: 4.5                # optional: estimator settle time after boot
      params: {NAV_DLL_ACT: 2}          # optional: parameters set on every vehicle
      wind: {speed_m_s: 4, from_deg: 270, gusts_max_m_s: 0, gusts_every_s: 30,
             gusts_spread_deg: 30}      # optional; random gusts are drawn from the seed
    time_limit_s: 900                   # the session ends at this simulated time at the latest
    area: [[lat, lon], ...]             # optional: search or survey area (coverage rules)
    zones: [{name: heliport, polygon: [[lat, lon], ...]}]   # optional prohibited zones
    target: {lat: .., lon: .., detect_radius_m: 25, max_alt_m: 80, jitter_m: 0}  # optional
    mission: [[lat, lon, rel_alt_m], ...]   # optional suggested route (shown in the briefing)
    faults:                             # see simulators.faults: type, fields, one trigger
      - {id: link_drop, type: link, loss: 1.0, duration_s: 25, at_waypoint: 2}
    rules:                              # see dronekit_plzen.training.rules
      - {id: rtl, type: mode_within, after: {fault: link_drop}, modes: [rtl, land], within_s: 20}
        # reaction rules (mode_within, modes_forbidden_after, no_arm_during_fault) whose event
        # never happened score 0 as "not evaluated"; add ``when_absent: pass`` when the event
        # is the student's own mistake (never-rules such as max_alt simply pass)

Every problem is reported as one :class:`~dronekit_plzen.errors.BadInputError` line naming the
file and the field (``link_loss.yaml: rules[2].within_s: must be a number > 0, got 'x'``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import yaml

from dronekit_plzen.errors import BadInputError, one_line
from dronekit_plzen.i18n import _
from simulators.faults import TriggeredFault, parse_triggered

HERE = Path(__file__).resolve().parent / "exercises"
TOP_KEYS = {
    "name",
    "title",
    "briefing",
    "fleet",
    "time_limit_s",
    "area",
    "zones",
    "target",
    "mission",
    "faults",
    "rules",
}
FLEET_KEYS = {
    "autopilot",
    "vehicles",
    "home",
    "spacing_m",
    "seed",
    "boot_settle_s",
    "params",
    "wind",
}
WIND_KEYS = {"speed_m_s", "from_deg", "gusts_max_m_s", "gusts_every_s", "gusts_spread_deg"}
TARGET_KEYS = {"lat", "lon", "detect_radius_m", "max_alt_m", "jitter_m"}


@dataclass(frozen=True)
class Wind:
    speed_m_s: float = 0.0
    from_deg: float = 270.0
    gusts_max_m_s: float = 0.0
    gusts_every_s: float = 30.0
    gusts_spread_deg: float = 30.0


@dataclass(frozen=True)
class FleetSetup:
    autopilot: str
    vehicles: int
    home: tuple[float, float, float]
    spacing_m: float = 5.0
    seed: int = 0
    boot_settle_s: float | None = None
    params: dict[str, float] = field(default_factory=dict)
    wind: Wind = Wind()


@dataclass(frozen=True)
class Zone:
    name: str
    polygon: tuple[tuple[float, float], ...]  # (lat, lon)


@dataclass(frozen=True)
class TargetSpec:
    lat_deg: float
    lon_deg: float
    detect_radius_m: float = 25.0
    max_alt_m: float = 80.0
    jitter_m: float = 0.0


@dataclass(frozen=True)
class Exercise:
    """A validated exercise (immutable; shared by the session, the scorer and the report)."""

    name: str
    path: str
    title: dict[str, str]
    briefing: dict[str, str]
    fleet: FleetSetup
    time_limit_s: float
    faults: tuple[TriggeredFault, ...]
    rules: tuple[Any, ...]
    area: tuple[tuple[float, float], ...] = ()
    zones: tuple[Zone, ...] = ()
    target: TargetSpec | None = None
    mission: tuple[tuple[float, float, float], ...] = ()
    #: the file it was read from (copied into each session folder)
    source: str = ""

    def text(self, which: dict[str, str], lang: str) -> str:
        return which.get(lang) or which["en"]

    def zone(self, name: str) -> Zone:
        for z in self.zones:
            if z.name == name:
                return z
        raise KeyError(name)


# ---------------------------------------------------------------------------------- helpers
def _num(value: Any, where: str, *, minimum: float = -math.inf, positive: bool = False) -> float:
    try:
        num = float(value)
        if isinstance(value, bool):
            raise TypeError
    except (TypeError, ValueError):
        raise BadInputError(
            _("{where}: must be a number, got {value!r}").format(where=where, value=value)
        ) from None
    if math.isnan(num) or math.isinf(num) or num < minimum or (positive and num <= 0):
        bound = "> 0" if positive else f"≥ {minimum:g}"
        raise BadInputError(
            _("{where}: must be a number {bound}, got {value!r}").format(
                where=where, bound=bound, value=value
            )
        )
    return num


def _mapping(value: Any, where: str, allowed: set[str] | None = None) -> dict[str, Any]:
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
                    where=where, extra=extra[0], allowed=", ".join(sorted(allowed))
                )
            )
    return value


def _texts(data: dict[str, Any], key: str, where: str) -> dict[str, str]:
    if key not in data:
        raise BadInputError(_("{where}: missing field {key!r}").format(where=where, key=key))
    value = _mapping(data[key], f"{where}: {key}", {"en", "cs"})
    for lang in ("en", "cs"):
        text = value.get(lang)
        if not isinstance(text, str) or not text.strip():
            raise BadInputError(
                _("{where}: {key}.{lang}: missing or empty text").format(
                    where=where, key=key, lang=lang
                )
            )
    return {k: " ".join(str(v).split()) for k, v in value.items()}


def _latlon(value: Any, where: str) -> tuple[float, float]:
    if not isinstance(value, (list, tuple)) or len(value) < 2:
        raise BadInputError(
            _("{where}: must be [lat, lon], got {value!r}").format(where=where, value=value)
        )
    lat = _num(value[0], f"{where}[0]")
    lon = _num(value[1], f"{where}[1]")
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        raise BadInputError(
            _("{where}: [lat, lon] out of range, got {value!r}").format(where=where, value=value)
        )
    return lat, lon


#: the highest a suggested waypoint may be above home (EU Open category)
MAX_REL_ALT_M = 120.0


def _near_home(lat: float, lon: float, home: tuple[float, float, float], where: str) -> None:
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


def _polygon(value: Any, where: str) -> tuple[tuple[float, float], ...]:
    if not isinstance(value, list) or len(value) < 3:
        raise BadInputError(
            _("{where}: a polygon needs at least 3 [lat, lon] corners").format(where=where)
        )
    return tuple(_latlon(p, f"{where}[{i}]") for i, p in enumerate(value))


def _seed(value: Any, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 2**32:
        raise BadInputError(
            _("{where}: must be an integer 0..4294967295, got {value!r}").format(
                where=where, value=value
            )
        )
    return value


# ---------------------------------------------------------------------------------- parsing
def _fleet(data: Any, where: str, seed_override: int | None) -> FleetSetup:
    d = _mapping(data, where, FLEET_KEYS)
    autopilot = d.get("autopilot", "px4")
    if autopilot not in ("px4", "ardupilot"):
        raise BadInputError(
            _("{where}.autopilot: must be px4 or ardupilot, got {autopilot!r}").format(
                where=where, autopilot=autopilot
            )
        )
    n = d.get("vehicles", 1)
    if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= 10:
        raise BadInputError(
            _("{where}.vehicles: must be an integer 1..10, got {n!r}").format(where=where, n=n)
        )
    if "home" not in d:
        raise BadInputError(_("{where}: missing field 'home'").format(where=where))
    home = d["home"]
    if not isinstance(home, list) or len(home) != 3:
        raise BadInputError(
            _("{where}.home: must be [lat, lon, alt_amsl_m], got {home!r}").format(
                where=where, home=home
            )
        )
    lat, lon = _latlon(home[:2], f"{where}.home")
    alt = _num(home[2], f"{where}.home[2]", minimum=-500)
    seed = _seed(d.get("seed", 0), f"{where}.seed") if seed_override is None else seed_override
    settle = d.get("boot_settle_s")
    params = _mapping(d.get("params") or {}, f"{where}.params")
    w = _mapping(d.get("wind") or {}, f"{where}.wind", WIND_KEYS)
    wind = Wind(**{k: _num(v, f"{where}.wind.{k}", minimum=0) for k, v in w.items()})
    return FleetSetup(
        autopilot=autopilot,
        vehicles=n,
        home=(lat, lon, alt),
        spacing_m=_num(d.get("spacing_m", 5.0), f"{where}.spacing_m", minimum=0),
        seed=seed,
        boot_settle_s=None if settle is None else _num(settle, f"{where}.boot_settle_s", minimum=0),
        params={str(k): _num(v, f"{where}.params.{k}") for k, v in params.items()},
        wind=wind,
    )


def parse_exercise(data: Any, where: str, *, seed: int | None = None) -> Exercise:
    """Validate one exercise mapping (``where`` names the file in errors)."""
    from dronekit_plzen.training.rulefile import parse_rules

    d = _mapping(data, where, TOP_KEYS)
    fleet = _fleet(d.get("fleet"), f"{where}: fleet", seed) if "fleet" in d else None
    if fleet is None:
        raise BadInputError(_("{where}: missing field 'fleet'").format(where=where))
    zones = []
    for i, z in enumerate(d.get("zones") or []):
        zw = f"{where}: zones[{i}]"
        zm = _mapping(z, zw, {"name", "polygon"})
        if "name" not in zm or "polygon" not in zm:
            raise BadInputError(_("{zw}: needs name and polygon").format(zw=zw))
        zones.append(Zone(str(zm["name"]), _polygon(zm["polygon"], f"{zw}.polygon")))
    target = None
    if d.get("target") is not None:
        tw = f"{where}: target"
        t = _mapping(d["target"], tw, TARGET_KEYS)
        if "lat" not in t or "lon" not in t:
            raise BadInputError(_("{tw}: needs lat and lon").format(tw=tw))
        lat, lon = _latlon([t["lat"], t["lon"]], tw)
        _near_home(lat, lon, fleet.home, tw)
        target = TargetSpec(
            lat,
            lon,
            _num(t.get("detect_radius_m", 25.0), f"{tw}.detect_radius_m", positive=True),
            _num(t.get("max_alt_m", 80.0), f"{tw}.max_alt_m", positive=True),
            _num(t.get("jitter_m", 0.0), f"{tw}.jitter_m", minimum=0),
        )
    mission = []
    for i, wp in enumerate(d.get("mission") or []):
        mw = f"{where}: mission[{i}]"
        if not isinstance(wp, list) or len(wp) != 3:
            raise BadInputError(
                _("{mw}: must be [lat, lon, rel_alt_m], got {wp!r}").format(mw=mw, wp=wp)
            )
        lat, lon = _latlon(wp[:2], mw)
        _near_home(lat, lon, fleet.home, mw)
        alt = _num(wp[2], f"{mw}[2]", positive=True)
        if alt > MAX_REL_ALT_M:
            raise BadInputError(
                _(
                    "{mw}[2]: {alt:g} m above home is above the {m:g} m a suggested route may "
                    "fly (EU Open category)"
                ).format(mw=mw, alt=alt, m=MAX_REL_ALT_M)
            )
        mission.append((lat, lon, alt))
    faults = parse_triggered(d.get("faults") or [], fleet.vehicles, f"{where}: faults")
    if "rules" not in d:
        raise BadInputError(_("{where}: missing field 'rules'").format(where=where))
    area = _polygon(d["area"], f"{where}: area") if d.get("area") is not None else ()
    ex = Exercise(
        name=str(d.get("name") or Path(where).stem),
        path=where,
        title=_texts(d, "title", where),
        briefing=_texts(d, "briefing", where),
        fleet=fleet,
        time_limit_s=_num(d.get("time_limit_s", 900), f"{where}: time_limit_s", positive=True),
        faults=tuple(faults),
        rules=(),
        area=area,
        zones=tuple(zones),
        target=target,
        mission=tuple(mission),
    )
    rules = parse_rules(d["rules"], ex, f"{where}: rules")
    return replace(ex, rules=tuple(rules))


def list_exercises() -> list[str]:
    """Names of the bundled exercises."""
    return sorted(p.stem for p in HERE.glob("*.yaml"))


def exercise_path(name_or_path: str | Path) -> Path:
    p = Path(name_or_path)
    if p.suffix or p.exists():
        return p
    bundled = HERE / f"{name_or_path}.yaml"
    if not bundled.exists():
        raise BadInputError(
            _("unknown exercise {name!r} (bundled: {names})").format(
                name=str(name_or_path), names=", ".join(list_exercises())
            )
        )
    return bundled


def load_exercise(name_or_path: str | Path, *, seed: int | None = None) -> Exercise:
    """A bundled exercise by name, or an exercise YAML file; ``seed`` overrides the file's."""
    p = exercise_path(name_or_path)
    if seed is not None:
        _seed(seed, "--seed")
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise BadInputError(
            _("{p}: cannot read exercise ({strerror})").format(p=p, strerror=exc.strerror)
        ) from None
    except UnicodeDecodeError:
        raise BadInputError(
            _("{p}: not a UTF-8 text file (an exercise is YAML)").format(p=p)
        ) from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise BadInputError(
            _("{p}: not valid YAML: {reason}").format(p=p, reason=one_line(exc))
        ) from None
    return replace(parse_exercise(data, p.name, seed=seed), source=str(p.resolve()))
