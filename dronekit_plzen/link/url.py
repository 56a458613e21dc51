"""Connection strings parsed into a dataclass.

The ``scheme://host:port`` convention is the one pymavlink and MAVSDK share:

==========================  ===================================================================
``udpin://HOST:PORT``       bind HOST:PORT and answer whoever sends to us (PX4 SITL's GCS port)
``udpout://HOST:PORT``      send to HOST:PORT from an ephemeral local port
``tcp://HOST:PORT``         connect to a TCP server (ArduPilot SITL's 5760)
``serial:///dev/tty:BAUD``  a serial device at BAUD (57600 when omitted)
==========================  ===================================================================

A ``serial://`` link counts as *secure* for MAVLink 2 signing set-up (a USB cable: the
SETUP_SIGNING message, which carries the key in clear, may be sent over it); network links do
not unless ``connect(..., secure=True)``. A telemetry radio on a serial port is not secure:
connect to it with ``secure=False``.

Examples
--------
>>> parse_url("udpin://127.0.0.1:14540")
ConnectionSpec(scheme='udpin', host='127.0.0.1', port=14540, device=None, baud=None)
>>> parse_url("serial:///dev/ttyUSB0:57600").baud
57600
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from dronekit_plzen.errors import BadInputError
from dronekit_plzen.i18n import _

DEFAULT_BAUD = 57600
SCHEMES = ("udpin", "udpout", "tcp", "serial")


@dataclass(frozen=True)
class ConnectionSpec:
    """Where and how to reach a MAVLink peer."""

    scheme: str
    host: str | None = None
    port: int | None = None
    device: str | None = None
    baud: int | None = None

    def __str__(self) -> str:
        if self.scheme == "serial":
            return f"serial://{self.device}:{self.baud}"
        return f"{self.scheme}://{self.host}:{self.port}"


def _port(text: str, url: str) -> int:
    try:
        port = int(text)
    except ValueError:
        raise BadInputError(
            _("port is not a number: {port!r}").format(port=text), where=url
        ) from None
    if not 0 <= port <= 65535:
        raise BadInputError(_("port out of range 0..65535: {port}").format(port=port), where=url)
    return port


def _check_host(host: str, url: str) -> None:
    """Refuse a host that is written as an IP address but is none (``256.1.1.1``, ``10.0.0``):
    it went to the resolver as a name and the link waited for a heartbeat that could not come.
    Names (``localhost``, ``gcs.local``) are left to the resolver.

    >>> _check_host("256.1.1.1", "udpout://256.1.1.1:14550")
    Traceback (most recent call last):
    ...
    dronekit_plzen.errors.BadInputError: udpout://256.1.1.1:14550: '256.1.1.1' is not an IP address
    """
    looks_numeric = all(c.isdigit() or c == "." for c in host) or (
        ":" in host and all(c in "0123456789abcdefABCDEF:." for c in host)
    )
    if not looks_numeric:
        return
    try:
        ipaddress.ip_address(host)
    except ValueError:
        raise BadInputError(
            _("{host!r} is not an IP address").format(host=host), where=url
        ) from None


def parse_url(url: str) -> ConnectionSpec:
    """Parse a connection string into a :class:`ConnectionSpec`.

    Raises :class:`~dronekit_plzen.errors.BadInputError` naming what is wrong.
    """
    if "://" not in url:
        raise BadInputError(
            _("connection string needs a scheme (one of {schemes})").format(
                schemes=", ".join(f"{s}://" for s in SCHEMES)
            ),
            where=url,
        )
    scheme, rest = url.split("://", 1)
    scheme = scheme.lower()
    if scheme == "udp":  # MAVSDK's old spelling of udpin
        scheme = "udpin"
    if scheme not in SCHEMES:
        raise BadInputError(
            _("unknown connection scheme {scheme!r}").format(scheme=scheme), where=url
        )
    if scheme == "serial":
        if not rest.startswith("/") and ":" not in rest:
            raise BadInputError(_("serial device path missing"), where=url)
        device, sep, baud_text = rest.rpartition(":")
        if not sep or not baud_text.isdigit():
            device, baud = rest, DEFAULT_BAUD
        else:
            baud = int(baud_text)
        if not device:
            raise BadInputError(_("serial device path missing"), where=url)
        if baud <= 0:
            raise BadInputError(_("baud rate must be positive"), where=url)
        return ConnectionSpec(scheme="serial", device=device, baud=baud)
    host, sep, port_text = rest.rstrip("/").rpartition(":")
    if not sep:
        raise BadInputError(_("HOST:PORT expected after the scheme"), where=url)
    host = host.strip("[]") or ("0.0.0.0" if scheme == "udpin" else "127.0.0.1")
    port = _port(port_text, url)
    _check_host(host, url)
    if port == 0 and scheme in ("udpout", "tcp"):  # udpin:0 binds a free port: fine
        raise BadInputError(
            _("port 0 cannot be sent to: give the vehicle's port (e.g. 14550, 5760)"), where=url
        )
    return ConnectionSpec(scheme=scheme, host=host, port=port)
