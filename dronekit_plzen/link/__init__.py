"""MAVLink link layer: connections, vehicle state, commands, missions, signing.

>>> from dronekit_plzen.link import connect
>>> with connect("udpin://127.0.0.1:14540") as link:  # doctest: +SKIP
...     v = link.wait_vehicle(timeout_s=10)
...     v.arm(); v.takeoff(20)
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from dronekit_plzen.link.codec import Codec, CodecStats, SigningKey
    from dronekit_plzen.link.commands import CommandPolicy, CommandResult
    from dronekit_plzen.link.connection import Link, ListenerHandle, Subscription, connect
    from dronekit_plzen.link.mission import TransferPolicy
    from dronekit_plzen.link.state import StatusText, VehicleState
    from dronekit_plzen.link.transports import TRANSPORTS
    from dronekit_plzen.link.url import ConnectionSpec, parse_url
    from dronekit_plzen.link.vehicle import Vehicle
    from dronekit_plzen.mission_items import MissionItem

#: where each public name lives. The package imports them on first use: a module that needs
#: one part (the flight log reader needs ``link.state``, not the sockets, the MAVLink codec and
#: its dialects) does not pay for the others, nor does every command-line call that loads it
_WHERE = {
    "Codec": "dronekit_plzen.link.codec",
    "CodecStats": "dronekit_plzen.link.codec",
    "SigningKey": "dronekit_plzen.link.codec",
    "CommandPolicy": "dronekit_plzen.link.commands",
    "CommandResult": "dronekit_plzen.link.commands",
    "Link": "dronekit_plzen.link.connection",
    "ListenerHandle": "dronekit_plzen.link.connection",
    "Subscription": "dronekit_plzen.link.connection",
    "connect": "dronekit_plzen.link.connection",
    "TransferPolicy": "dronekit_plzen.link.mission",
    "StatusText": "dronekit_plzen.link.state",
    "VehicleState": "dronekit_plzen.link.state",
    "TRANSPORTS": "dronekit_plzen.link.transports",
    "ConnectionSpec": "dronekit_plzen.link.url",
    "parse_url": "dronekit_plzen.link.url",
    "Vehicle": "dronekit_plzen.link.vehicle",
    "MissionItem": "dronekit_plzen.mission_items",
}


def __getattr__(name: str) -> Any:
    where = _WHERE.get(name)
    if where is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(where), name)
    globals()[name] = value
    return value


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
