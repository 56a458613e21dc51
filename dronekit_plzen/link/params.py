"""Parameters: read and write vehicle parameters (MAVLink parameter protocol).

``PARAM_REQUEST_READ`` → ``PARAM_VALUE``; ``PARAM_SET`` → the ``PARAM_VALUE`` the vehicle echoes
with the value it now holds. A lost request or reply is sent again (the protocol has no ACK);
a write is verified against the echo, so a value the vehicle clamps or refuses is an error, not
a silent difference.

Integer parameters travel in the float field of the message in one of two ways, and both are
decoded here: ArduPilot casts them (``MAV_PROTOCOL_CAPABILITY_PARAM_ENCODE_C_CAST``: 3 becomes
3.0), PX4 copies their bytes (``..._PARAM_ENCODE_BYTEWISE``: int32 3 is the float whose bits are
0x00000003).

>>> decode_value(encode_value(3, PARAM_TYPE_INT32, bytewise=True), PARAM_TYPE_INT32, True)
3.0
>>> encode_value(3, PARAM_TYPE_INT32, bytewise=False)
3.0
"""

from __future__ import annotations

import math
import struct
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from dronekit_plzen.errors import BadInputError, LinkTimeout, ParameterError
from dronekit_plzen.i18n import _

if TYPE_CHECKING:
    from dronekit_plzen.link.vehicle import Vehicle

# MAV_PARAM_TYPE
PARAM_TYPE_UINT8 = 1
PARAM_TYPE_INT8 = 2
PARAM_TYPE_UINT16 = 3
PARAM_TYPE_INT16 = 4
PARAM_TYPE_UINT32 = 5
PARAM_TYPE_INT32 = 6
PARAM_TYPE_REAL32 = 9

#: struct format of each integer type's bytes, as PX4 copies them into the float field
_INT_FORMATS = {
    PARAM_TYPE_UINT8: "<B",
    PARAM_TYPE_INT8: "<b",
    PARAM_TYPE_UINT16: "<H",
    PARAM_TYPE_INT16: "<h",
    PARAM_TYPE_UINT32: "<I",
    PARAM_TYPE_INT32: "<i",
}


@dataclass(frozen=True)
class Param:
    """One parameter as the vehicle reported it (``value`` decoded; ints as whole floats)."""

    name: str
    value: float
    param_type: int
    index: int
    count: int

    @property
    def is_integer(self) -> bool:
        return self.param_type in _INT_FORMATS


def _bytewise(vehicle: Vehicle) -> bool:
    return vehicle.autopilot == "px4"


def decode_value(raw: float, param_type: int, bytewise: bool) -> float:
    """``PARAM_VALUE.param_value`` as the number it stands for."""
    fmt = _INT_FORMATS.get(param_type)
    if fmt is None:
        return float(raw)
    if not bytewise:
        return float(round(raw)) if math.isfinite(raw) else float(raw)
    word = struct.pack("<f", raw)
    size = struct.calcsize(fmt)
    return float(struct.unpack(fmt, word[:size])[0])


def encode_value(value: float, param_type: int, bytewise: bool) -> float:
    """The float a ``PARAM_SET`` carries for ``value`` of ``param_type``."""
    fmt = _INT_FORMATS.get(param_type)
    if fmt is None:
        return float(value)
    if not math.isfinite(value) or value != int(value):
        raise BadInputError(
            _("parameter value {v} is not a whole number (integer parameter)").format(v=value)
        )
    if not bytewise:
        return float(int(value))
    try:
        word = struct.pack(fmt, int(value)).ljust(4, b"\0")
    except struct.error as exc:
        raise BadInputError(
            _("parameter value {v} is out of range for its type").format(v=value)
        ) from exc
    return float(struct.unpack("<f", word)[0])


def _param_of(vehicle: Vehicle, m: Any) -> Param:
    """A PARAM_VALUE message as a :class:`Param` (its name without the trailing NULs)."""
    pid = m.param_id
    pid = pid.decode("ascii", "replace") if isinstance(pid, bytes) else str(pid)
    return Param(
        name=pid.rstrip("\0"),
        value=decode_value(m.param_value, m.param_type, _bytewise(vehicle)),
        param_type=int(m.param_type),
        index=int(m.param_index),
        count=int(m.param_count),
    )


def _exchange(vehicle: Vehicle, name: str, msg: object, timeout_s: float, retries: int) -> Param:
    """Send ``msg`` until a PARAM_VALUE for ``name`` arrives (or the time is up)."""
    link = vehicle.link
    per_try = timeout_s / max(1, retries)
    with link.subscribe({"PARAM_VALUE"}, vehicle.sysid) as sub:
        for _attempt in range(max(1, retries)):
            link.send(msg, vehicle.sysid)
            deadline = time.monotonic() + per_try
            while (left := deadline - time.monotonic()) > 0:
                got = sub.get(left)
                if got is None:
                    break
                p = _param_of(vehicle, got[0])
                if p.name == name:
                    return p
    raise LinkTimeout(
        _("vehicle {v}: no PARAM_VALUE for {name} within {t:.0f} s").format(
            v=vehicle.sysid, name=name, t=timeout_s
        )
    )


def _check_name(name: str) -> bytes:
    raw = name.encode("ascii", "replace")
    if not name or len(raw) > 16:
        raise BadInputError(_("parameter name {n!r} must be 1 to 16 characters").format(n=name))
    return raw


def _request_msg(vehicle: Vehicle, raw: bytes) -> object:
    return vehicle.link.mav.param_request_read_encode(vehicle.sysid, vehicle.compid, raw, -1)


def _request(vehicle: Vehicle, raw: bytes) -> None:
    vehicle.link.send(_request_msg(vehicle, raw), vehicle.sysid)


def read_param(vehicle: Vehicle, name: str, *, timeout_s: float = 6.0, retries: int = 3) -> Param:
    """The vehicle's current value of parameter ``name``."""
    return _exchange(vehicle, name, _request_msg(vehicle, _check_name(name)), timeout_s, retries)


#: requests in flight at once in :func:`read_params`: ArduPilot queues 20 requests per link and
#: drops what does not fit (``GCS_MAVLINK::param_requests``), PX4 answers each as it comes
READ_WINDOW = 8


def read_params(
    vehicle: Vehicle,
    names: Sequence[str],
    *,
    timeout_s: float = 3.0,
    retries: int = 3,
    window: int = READ_WINDOW,
) -> dict[str, Param]:
    """The values of several parameters, read together within ``timeout_s`` in all.

    At most ``window`` requests are in flight; each answer lets the next request go. A name
    still unanswered when its try's share of the time is up is asked again (``retries`` tries
    in all). Neither firmware answers a name it does not have, so such a name costs the
    shared time once, not a timeout of its own: the result simply lacks it (``read_param``
    raises for one name instead)."""
    wanted = list(dict.fromkeys(names))
    raws = {n: _check_name(n) for n in wanted}
    link = vehicle.link
    got: dict[str, Param] = {}
    asked = dict.fromkeys(wanted, 0)
    per_try = timeout_s / max(1, retries)
    with link.subscribe({"PARAM_VALUE"}, vehicle.sysid) as sub:
        for _attempt in range(max(1, retries)):
            # the names asked least often first: unanswered ones never crowd out the rest
            todo = sorted((n for n in wanted if n not in got), key=asked.__getitem__)
            if not todo:
                break
            first, waiting = todo[: max(1, window)], todo[max(1, window) :]
            for n in first:
                _request(vehicle, raws[n])
                asked[n] += 1
            in_flight = set(first)
            deadline = time.monotonic() + per_try
            while in_flight and (left := deadline - time.monotonic()) > 0:
                m = sub.get(left)
                if m is None:
                    break
                p = _param_of(vehicle, m[0])
                if p.name not in raws or p.name in got:
                    continue
                got[p.name] = p
                if p.name in in_flight:  # an answer lets the next request go
                    in_flight.discard(p.name)
                    while waiting:
                        n = waiting.pop(0)
                        if n not in got:
                            _request(vehicle, raws[n])
                            asked[n] += 1
                            in_flight.add(n)
                            break
    return {n: got[n] for n in wanted if n in got}


def write_param(
    vehicle: Vehicle,
    name: str,
    value: float,
    *,
    param_type: int | None = None,
    timeout_s: float = 6.0,
    retries: int = 3,
) -> Param:
    """Set ``name`` to ``value`` and return what the vehicle holds now (verified).

    Without ``param_type`` the parameter is read first to learn its type. Raises
    :class:`~dronekit_plzen.errors.ParameterError` when the echoed value differs (the vehicle
    refused or clamped it).
    """
    raw = _check_name(name)
    ptype = param_type if param_type is not None else read_param(vehicle, name).param_type
    wire = encode_value(value, ptype, _bytewise(vehicle))
    mav = vehicle.link.mav
    msg = mav.param_set_encode(vehicle.sysid, vehicle.compid, raw, wire, ptype)
    got = _exchange(vehicle, name, msg, timeout_s, retries)
    tol = 0.0 if got.is_integer else max(1e-6, abs(value) * 1e-6)
    if not abs(got.value - value) <= tol:
        raise ParameterError(
            _("vehicle {v}: {name} is {got:g} after setting it to {want:g} (refused?)").format(
                v=vehicle.sysid, name=name, got=got.value, want=value
            ),
            name=name,
            value=got.value,
        )
    return got


__all__ = [
    "PARAM_TYPE_INT32",
    "PARAM_TYPE_REAL32",
    "Param",
    "decode_value",
    "encode_value",
    "read_param",
    "read_params",
    "write_param",
]
