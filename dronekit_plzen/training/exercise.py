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

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from dronekit_plzen.errors import BadInputError
from dronekit_plzen.i18n import _
from dronekit_plzen.inputs import read_reason
from dronekit_plzen.training.fields import (
    MAX_BOOT_SETTLE_S,
    MAX_REL_ALT_M,
    MAX_SPACING_M,
    MAX_TARGET_M,
    MAX_TIME_LIMIT_S,
    WIND_RANGES,
    a_list,
    area_polygon,
    exercise_name,
    latlon,
    mapping,
    near_home,
    number,
    params_checked,
    polygon,
    seed_value,
    texts,
)
from simulators.faults import (
    Brief,
    TriggeredFault,
    load_yaml,
    parse_triggered,
    read_scenario_text,
)

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


# ---------------------------------------------------------------------------------- parsing
def _fleet(data: Any, where: str, seed_override: int | None) -> FleetSetup:
    d = mapping(data, where, FLEET_KEYS)
    autopilot = d.get("autopilot", "px4")
    if autopilot not in ("px4", "ardupilot"):
        raise BadInputError(
            _("{where}.autopilot: must be px4 or ardupilot, got {autopilot!r}").format(
                where=where, autopilot=Brief(autopilot)
            )
        )
    n = d.get("vehicles", 1)
    if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= 10:
        raise BadInputError(
            _("{where}.vehicles: must be an integer 1..10, got {n!r}").format(
                where=where, n=Brief(n)
            )
        )
    if "home" not in d:
        raise BadInputError(_("{where}: missing field 'home'").format(where=where))
    home = d["home"]
    if not isinstance(home, list) or len(home) != 3:
        raise BadInputError(
            _("{where}.home: must be [lat, lon, alt_amsl_m], got {home!r}").format(
                where=where, home=Brief(home)
            )
        )
    lat, lon = latlon(home[:2], f"{where}.home")
    # 1e308 m had crashed the simulator's scheduler and the session was scored, exit 0
    alt = number(home[2], f"{where}.home[2]", minimum=-500, maximum=9000)
    seed = seed_value(d.get("seed", 0), f"{where}.seed") if seed_override is None else seed_override
    settle = d.get("boot_settle_s")
    params = mapping(d.get("params") or {}, f"{where}.params")
    w = mapping(d.get("wind") or {}, f"{where}.wind", WIND_KEYS)
    wind = Wind(
        **{
            k: number(v, f"{where}.wind.{k}", minimum=WIND_RANGES[k][0], maximum=WIND_RANGES[k][1])
            for k, v in w.items()
        }
    )
    return FleetSetup(
        autopilot=autopilot,
        vehicles=n,
        home=(lat, lon, alt),
        spacing_m=number(
            d.get("spacing_m", 5.0), f"{where}.spacing_m", minimum=0, maximum=MAX_SPACING_M
        ),
        seed=seed,
        boot_settle_s=None
        if settle is None
        else number(settle, f"{where}.boot_settle_s", minimum=0, maximum=MAX_BOOT_SETTLE_S),
        params=params_checked(params, autopilot, f"{where}.params"),
        wind=wind,
    )


def parse_exercise(data: Any, where: str, *, seed: int | None = None) -> Exercise:
    """Validate one exercise mapping (``where`` names the file in errors)."""
    from dronekit_plzen.training.rulefile import parse_rules

    if data is None:
        raise BadInputError(
            _("{where}: the file is empty (an exercise is a YAML mapping)").format(where=where)
        )
    d = mapping(data, where, TOP_KEYS)
    fleet = _fleet(d.get("fleet"), f"{where}: fleet", seed) if "fleet" in d else None
    if fleet is None:
        raise BadInputError(_("{where}: missing field 'fleet'").format(where=where))
    zones: list[Zone] = []
    for i, z in enumerate(a_list(d.get("zones") or [], f"{where}: zones")):
        zw = f"{where}: zones[{i}]"
        zm = mapping(z, zw, {"name", "polygon"})
        if "name" not in zm or "polygon" not in zm:
            raise BadInputError(_("{zw}: needs name and polygon").format(zw=zw))
        zname = str(zm["name"])
        if zname in {zz.name for zz in zones}:  # a rule names a zone: which one was it?
            raise BadInputError(
                _("{zw}: duplicate zone name {name!r}").format(zw=zw, name=Brief(zname))
            )
        zones.append(Zone(zname, polygon(zm["polygon"], f"{zw}.polygon")))
    target = None
    if d.get("target") is not None:
        tw = f"{where}: target"
        t = mapping(d["target"], tw, TARGET_KEYS)
        if "lat" not in t or "lon" not in t:
            raise BadInputError(_("{tw}: needs lat and lon").format(tw=tw))
        lat, lon = latlon([t["lat"], t["lon"]], tw)
        near_home(lat, lon, fleet.home, tw)
        # a jitter of 1e308 m had placed the target at NaN, and any sighting then passed
        target = TargetSpec(
            lat,
            lon,
            number(
                t.get("detect_radius_m", 25.0),
                f"{tw}.detect_radius_m",
                positive=True,
                maximum=MAX_TARGET_M,
            ),
            number(
                t.get("max_alt_m", 80.0), f"{tw}.max_alt_m", positive=True, maximum=MAX_TARGET_M
            ),
            number(t.get("jitter_m", 0.0), f"{tw}.jitter_m", minimum=0, maximum=MAX_TARGET_M),
        )
    mission = []
    for i, wp in enumerate(a_list(d.get("mission") or [], f"{where}: mission")):
        mw = f"{where}: mission[{i}]"
        if not isinstance(wp, list) or len(wp) != 3:
            raise BadInputError(
                _("{mw}: must be [lat, lon, rel_alt_m], got {wp!r}").format(mw=mw, wp=Brief(wp))
            )
        lat, lon = latlon(wp[:2], mw)
        near_home(lat, lon, fleet.home, mw)
        alt = number(wp[2], f"{mw}[2]", positive=True)
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
    area = (
        area_polygon(d["area"], f"{where}: area", fleet.home) if d.get("area") is not None else ()
    )
    ex = Exercise(
        name=exercise_name(d.get("name"), where),
        path=where,
        title=texts(d, "title", where),
        briefing=texts(d, "briefing", where),
        fleet=fleet,
        time_limit_s=number(
            d.get("time_limit_s", 900),
            f"{where}: time_limit_s",
            positive=True,
            maximum=MAX_TIME_LIMIT_S,
        ),
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
        seed_value(seed, "--seed")
    try:
        text = read_scenario_text(p)
    except OSError as exc:
        raise BadInputError(
            _("{p}: cannot read exercise ({strerror})").format(p=p, strerror=read_reason(exc))
        ) from None
    except UnicodeDecodeError:
        raise BadInputError(
            _("{p}: not a UTF-8 text file (an exercise is YAML)").format(p=p)
        ) from None
    data = load_yaml(text, p)
    return replace(parse_exercise(data, p.name, seed=seed), source=str(p.resolve()))
