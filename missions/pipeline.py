"""From a planned mission to files a pilot can fly: terrain, validation, override, export.

The CLI, the demo and the GUI share these two steps::

    mission, report = finalize_mission(result.mission, dem=dem, zones=zones, vehicle=veh)
    paths = write_mission_files(mission, out_dir, "survey", ["plan", "geojson"],
                                area=result.area_lonlat, footprints=result.footprints_lonlat)

:func:`finalize_mission` raises :class:`~dronekit_plzen.errors.SafetyViolation` for an unsafe
mission unless ``override`` is given with a ``reason`` (then recorded in the metadata), so an
unsafe mission is never written by accident. It runs the same guard as ``fly``, the fleet and the
GUI: :func:`missions.clearance.clear_for_flight`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any

from dronekit_plzen.errors import BadInputError
from dronekit_plzen.i18n import _
from dronekit_plzen.safety import Override
from missions.clearance import (
    HOME_DEM,
    HOME_UNKNOWN,
    MAX_RANGE_M,
    clear_for_flight,
    home_amsl_source,
)
from missions.formats import FORMATS, OUTPUT_NAMES, save_mission
from missions.model import AUTOPILOT_ARDUPILOT, AUTOPILOT_PX4, Mission
from missions.terrain import Raster, follow_terrain, to_terrain_frame
from missions.validation import ValidationReport
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
            raise BadInputError(
                _("unknown format {f!r} (known: {formats})").format(f=f, formats=", ".join(FORMATS))
            )
        if f not in out:
            out.append(f)
    if not out:
        raise BadInputError(_("no output format given"))
    return out


def with_home_elevation(mission: Mission, dem: Raster | None) -> Mission:
    """Give the home altitude (AMSL) a datum: the DEM at the launch point, else ``unknown``.

    The planner leaves the home altitude at a 0.0 placeholder. With a DEM it becomes the terrain
    height there (``metadata["home_amsl_source"] = "dem"``); without one the metadata says
    ``"unknown"``, so no reader mistakes 0.0 for sea level (a later validation with a DEM then
    takes the DEM's height at home). A stated altitude (``"plan"``, ``"vehicle"``) is kept.
    """
    m = replace(mission, items=list(mission.items), metadata=dict(mission.metadata))
    src = home_amsl_source(m)
    if src != HOME_UNKNOWN or m.home is None:
        m.metadata["home_amsl_source"] = src
        return m
    z = math.nan if dem is None else float(dem.sample([m.home[0]], [m.home[1]])[0])
    if math.isnan(z):
        m.metadata["home_amsl_source"] = HOME_UNKNOWN
        return m
    m.home = (m.home[0], m.home[1], round(z, 2))
    m.metadata["home_amsl_source"] = HOME_DEM
    return m


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
    max_range_m: float | None = MAX_RANGE_M,
    authorised_zones: Sequence[str] = (),
    override: bool = False,
    reason: str | None = None,
    who: str | None = None,
) -> tuple[Mission, ValidationReport]:
    """Terrain (``follow``: waypoints along the DEM; ``frame``: terrain frame for ArduPilot;
    ``none``), then :func:`~missions.clearance.clear_for_flight` (the same guard as ``fly``).

    The returned mission's metadata holds the home altitude's datum, the validation summary,
    the :class:`~dronekit_plzen.safety.Clearance` and any override (who, when, why), so every
    file written from it records them.
    """
    m = with_home_elevation(mission, dem)
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
        raise BadInputError(
            _("terrain mode must be follow, frame or none, got {terrain!r}").format(terrain=terrain)
        )
    ov: bool | Override = False
    if override:
        ov = Override.make(reason, who=who)
    fc = clear_for_flight(
        m,
        dem=dem,
        dsm=dsm,
        zones=zones,
        vehicle=vehicle,
        when=when,
        max_agl_m=max_agl_m,
        max_distance_m=max_distance_m,
        max_range_m=max_range_m,
        authorised_zones=authorised_zones,
        override=ov,
    )
    s = fc.sorties[0]
    return s.mission, s.report


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
