"""From a planned mission to files a pilot can fly: terrain, validation, override, export.

The CLI, the demo and the GUI share these two steps::

    mission, report = finalize_mission(result.mission, dem=dem, zones=zones, vehicle=veh)
    paths = write_mission_files(mission, out_dir, "survey", ["plan", "geojson"],
                                area=result.area_lonlat, footprints=result.footprints_lonlat)

:func:`finalize_mission` raises :class:`~dronekit_plzen.errors.SafetyViolation` for an unsafe
mission unless ``override`` is given with a ``reason`` (then recorded in the metadata), so an
unsafe mission is never written by accident.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any

from dronekit_plzen.errors import BadInputError
from missions.formats import FORMATS, OUTPUT_NAMES, save_mission
from missions.model import AUTOPILOT_ARDUPILOT, AUTOPILOT_PX4, Mission
from missions.terrain import Raster, follow_terrain, to_terrain_frame
from missions.validation import ValidationReport, guard, validate
from missions.zones import Zone

DEFAULT_FORMATS = ("plan", "waypoints", "kml", "geojson", "wpml", "csv")


def parse_formats(text: str | Sequence[str] | None) -> list[str]:
    """``"plan,kml"`` → ``["plan", "kml"]`` (checked against the known formats)."""
    if text is None:
        return list(DEFAULT_FORMATS)
    items = text.split(",") if isinstance(text, str) else list(text)
    out = []
    for f in (s.strip().lower() for s in items):
        if not f:
            continue
        if f not in FORMATS:
            raise BadInputError(f"unknown format {f!r} (known: {', '.join(FORMATS)})")
        if f not in out:
            out.append(f)
    if not out:
        raise BadInputError("no output format given")
    return out


def with_home_elevation(mission: Mission, dem: Raster | None) -> Mission:
    """Set the home altitude (AMSL) from the DEM when the planner left it at 0."""
    if dem is None or mission.home is None or mission.home[2] != 0.0:
        return mission
    z = float(dem.sample([mission.home[0]], [mission.home[1]])[0])
    if math.isnan(z):
        return mission
    return replace(mission, home=(mission.home[0], mission.home[1], round(z, 2)))


def finalize_mission(
    mission: Mission,
    *,
    dem: Raster | None = None,
    dsm: Raster | None = None,
    zones: Sequence[Zone] | None = None,
    terrain: str = "follow",
    agl_tolerance_m: float = 5.0,
    vehicle: Any = None,
    when: datetime | None = None,
    max_agl_m: float = 120.0,
    max_distance_m: float | None = None,
    authorised_zones: Sequence[str] = (),
    override: bool = False,
    reason: str | None = None,
    who: str | None = None,
) -> tuple[Mission, ValidationReport]:
    """Terrain (``follow``: waypoints along the DEM; ``frame``: terrain frame for ArduPilot;
    ``none``), then whole-path validation, then :func:`~missions.validation.guard`."""
    m = with_home_elevation(
        replace(mission, items=list(mission.items), metadata=dict(mission.metadata)), dem
    )
    climb = getattr(vehicle, "climb_rate_m_s", 3.0)
    sink = getattr(vehicle, "descent_rate_m_s", 2.0)
    if vehicle is not None and getattr(vehicle, "autopilot", "") in ("ardupilot", "px4"):
        m.autopilot = AUTOPILOT_ARDUPILOT if vehicle.autopilot == "ardupilot" else AUTOPILOT_PX4
    if dem is not None and terrain == "follow":
        m = follow_terrain(
            m, dem, tolerance_m=agl_tolerance_m, climb_rate_m_s=climb, descent_rate_m_s=sink
        )
    elif dem is not None and terrain == "frame":
        m = to_terrain_frame(m)
    elif terrain not in ("follow", "frame", "none"):
        raise BadInputError(f"terrain mode must be follow, frame or none, got {terrain!r}")
    endurance = None
    reserve = 0.25
    if vehicle is not None and hasattr(vehicle, "endurance_min"):
        endurance = float(vehicle.endurance_min) * 60.0
        reserve = float(vehicle.battery_reserve_pct) / 100.0
    report = validate(
        m,
        zones=zones,
        dem=dem,
        dsm=dsm,
        when=when,
        max_agl_m=max_agl_m,
        endurance_s=endurance,
        reserve_fraction=reserve,
        max_distance_m=max_distance_m,
        authorised_zones=authorised_zones,
        accel_m_s2=getattr(vehicle, "accel_m_s2", 3.0),
        climb_rate_m_s=climb,
        descent_rate_m_s=sink,
    )
    return guard(m, report, override=override, reason=reason, who=who), report


def write_mission_files(
    mission: Mission,
    out_dir: str | Path,
    name: str,
    formats: Sequence[str],
    **extras: Any,
) -> list[Path]:
    """Write ``mission`` into ``out_dir`` as ``name`` + each format's suffix."""
    out = Path(out_dir)
    paths = []
    for f in formats:
        paths.append(save_mission(mission, out / f"{name}{OUTPUT_NAMES[f]}", format=f, **extras))
    return paths
