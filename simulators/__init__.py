"""MAVLink multicopter simulator fleet (PX4 SITL and ArduPilot SITL conventions) and exercises.

>>> from simulators import SimFleet
>>> fleet = SimFleet(n_vehicles=3, autopilot="px4", speedup=10.0, port_offset=4000)
"""

from simulators.faults import (
    BatteryDrop,
    GpsLoss,
    LinkFault,
    Reboot,
    ScheduledFault,
    SteadyWind,
    WindGust,
    load_schedule,
    parse_schedule,
)
from simulators.fleet import SimFleet, SimVehicle
from simulators.state import VehicleState
from simulators.vehicle import VehicleModel

__all__ = [
    "BatteryDrop",
    "GpsLoss",
    "LinkFault",
    "Reboot",
    "ScheduledFault",
    "SimFleet",
    "SimVehicle",
    "SteadyWind",
    "VehicleModel",
    "VehicleState",
    "WindGust",
    "load_schedule",
    "parse_schedule",
]
