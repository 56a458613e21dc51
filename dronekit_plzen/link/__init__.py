"""MAVLink link layer: connections, vehicle state, commands, missions, signing.

>>> from dronekit_plzen.link import connect
>>> with connect("udpin://127.0.0.1:14540") as link:  # doctest: +SKIP
...     v = link.wait_vehicle(timeout_s=10)
...     v.arm(); v.takeoff(20)
"""

from dronekit_plzen.link.codec import Codec, CodecStats, SigningKey
from dronekit_plzen.link.commands import CommandPolicy, CommandResult
from dronekit_plzen.link.connection import Link, ListenerHandle, Subscription, connect
from dronekit_plzen.link.mission import TransferPolicy
from dronekit_plzen.link.state import StatusText, VehicleState
from dronekit_plzen.link.transports import TRANSPORTS
from dronekit_plzen.link.url import ConnectionSpec, parse_url
from dronekit_plzen.link.vehicle import Vehicle
from dronekit_plzen.mission_items import MissionItem

__all__ = [
    "TRANSPORTS",
    "Codec",
    "CodecStats",
    "CommandPolicy",
    "CommandResult",
    "ConnectionSpec",
    "Link",
    "ListenerHandle",
    "MissionItem",
    "SigningKey",
    "StatusText",
    "Subscription",
    "TransferPolicy",
    "Vehicle",
    "VehicleState",
    "connect",
    "parse_url",
]
