"""View models: plain, immutable data the widgets draw (no Qt here, testable headless).

The backend adapter (:mod:`gui.backend`) turns the planner's, the validator's and the link
layer's results into these, so the widgets depend on one small, stable vocabulary.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class ZoneView:
    """A geozone to draw: a shapely geometry in lon/lat and its restriction kind."""

    name: str
    restriction: str  # prohibited | req_authorisation | conditional | no_restriction
    geometry: Any
    limits_text: str = ""


@dataclass(frozen=True)
class ViolationView:
    """One validation finding with its location (lon/lat may be None when it has none)."""

    rule: str
    message: str
    lon: float | None = None
    lat: float | None = None
    item_index: int | None = None


@dataclass(frozen=True)
class PlanRequest:
    """What the planning panel asks for (units in names, like the planner's API)."""

    pattern: str
    area: Any  # the backend's area object (from load_area)
    camera: str | None = None
    vehicle: str | None = None
    alt_m: float | None = None
    gsd_cm: float | None = None
    side_overlap_pct: float | None = None
    front_overlap_pct: float | None = None
    spacing_m: float | None = None
    pod: float | None = None
    angle_deg: float | None = None  # None → automatic
    drones: int = 1
    zones: tuple[ZoneView, ...] = ()
    zones_source: Any = None  # the backend's zones object for validation
    target: str | None = None  # what is searched for (for POD), e.g. "person"
    datum: tuple[float, float] | None = None  # lon/lat, IAMSAR patterns
    radius_m: float | None = None
    width_m: float | None = None  # corridor
    polyline: tuple[tuple[float, float], ...] = ()  # corridor centreline, lon/lat
    launch: tuple[float, float] | None = None  # lon/lat of the launch point
    dem: Any = None  # terrain GeoTIFF for validation
    max_distance_m: float | None = None  # VLOS limit (the configuration's), None: none
    subject: str | None = None  # probability search: the missing person's category (ISRID)
    budget_m: float | None = None  # probability search: the path length per drone
    terrain: str = "flat"  # probability search: the terrain of the statistics (ISRID's)
    #: probability search: land cover and linear features (.gpkg/.geojson), None: rings alone
    features: Any = None


@dataclass(frozen=True)
class FeaturesView:
    """A probability search's land cover as the map draws it: the file, (kind, shapely geometry
    in lon/lat) per feature of a known kind, and how many of each kind."""

    path: Path
    features: list[tuple[str, Any]]
    counts: dict[str, int]


@dataclass
class PlanView:
    """A planned result as the map and the metrics table show it."""

    missions: list[Any]  # missions.model.Mission per drone
    paths: list[list[tuple[float, float]]]  # lon/lat per drone
    footprints: list[Any] = field(default_factory=list)  # shapely polygons in lon/lat
    homes: list[tuple[float, float]] = field(default_factory=list)
    metrics: dict[str, Any] = field(default_factory=dict)
    violations: list[ViolationView] = field(default_factory=list)
    #: what the validator and the area reader warn of (a conditional zone, a simplified area):
    #: the plan may fly, the pilot sees them under the findings
    warnings: list[ViolationView] = field(default_factory=list)
    validated: bool = False
    reports: list[Any] = field(default_factory=list)  # the validator's report per mission
    area: Any = None  # the area planned over (the backend's object)
    raw: Any = None  # the planner's own result object(s)
    #: per drone, its sorties (gui.clearance.SortieView): what is uploaded, one battery each
    sorties: list[list[Any]] = field(default_factory=list)
    #: a probability search's POA map: the GeoTIFF written and its heat image for the map
    poa_path: Any = None
    overlay: Any = None


@dataclass(frozen=True)
class VehicleView:
    """A vehicle's state as the fly panel lists it and the map draws it."""

    sysid: int
    mode: str = "?"
    armed: bool = False
    lon: float | None = None
    lat: float | None = None
    alt_rel_m: float | None = None
    heading_deg: float = 0.0
    battery_pct: float | None = None
    battery_v: float | None = None
    gps_fix: int | None = None
    satellites: int | None = None
    link_ok: bool = True
    heartbeat_age_s: float | None = None
    packet_loss_pct: float | None = None
    mission_seq: int | None = None
    mission_count: int | None = None
    #: the last MISSION_ITEM_REACHED (the mission's own indices); None: none reported
    last_item_reached: int | None = None
    #: the modes the vehicle was in when ``mission_seq`` and ``last_item_reached`` came ("":
    #: unknown; the mode now is used)
    mission_seq_mode: str = ""
    item_reached_mode: str = ""
    #: MISSION_CURRENT.mission_state (5: complete, ArduPilot 4.5+; 0: not reported)
    mission_state: int = 0
    in_air: bool = False  # EXTENDED_SYS_STATE landed state: taking off, flying or landing
    #: recent STATUSTEXTs as (time_s, severity, text), oldest first
    statustexts: tuple[tuple[float, int, str], ...] = ()
    #: the firmware's own verdict (SYS_STATUS pre-arm check bit); None: not reported yet
    ready_to_arm: bool | None = None
    #: the firmware's latest pre-arm explanation (``PreArm: …``), if a recent one came
    prearm_text: str | None = None
    #: are our messages to this vehicle signed (MAVLink 2 signing)? None: unknown
    signed: bool | None = None
    alt_amsl_m: float | None = None  #: GLOBAL_POSITION_INT alt (WGS84 ellipsoid/AMSL as sent)
    groundspeed_m_s: float | None = None
    climb_m_s: float | None = None  #: positive up
    hdop: float | None = None
    #: HOME_POSITION as (lat_deg, lon_deg, alt_amsl_m), None until the vehicle reports it
    home: tuple[float, float, float] | None = None
    #: how many times the vehicle was seen to (re)start (its boot clock went back)
    boots: int = 0
    autopilot: str = "generic"
