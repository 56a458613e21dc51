"""Links of the fly panel without Qt: fleet URLs, signing state, readiness to arm.

* :func:`fleet_urls`: the simulator's and the SITLs' port conventions for N vehicles (PX4:
  vehicle i sends to UDP 14540+i; ArduPilot SITL: vehicle i is a TCP server on 5760+10·i),
  counted from the first URL's port, so a ``--port-offset`` is kept.
* :class:`ReadyTracker`: the SYS_STATUS pre-arm check bit per vehicle (PX4 sets it only in the
  health mask, ArduPilot in present, enabled and health), fed by a link listener.
* :func:`latest_prearm`: the firmware's latest pre-arm explanation among recent STATUSTEXTs.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable
from typing import Any

from dronekit_plzen.errors import BadInputError
from dronekit_plzen.i18n import _
from dronekit_plzen.link import parse_url

#: MAV_SYS_STATUS_PREARM_CHECK: the firmware's "ready to arm" verdict in SYS_STATUS
PREARM_CHECK_BIT = 0x10000000
#: port step between vehicles, per scheme (PX4 / simulator UDP: 1; ArduPilot SITL TCP: 10)
PORT_STEP = {"udpin": 1, "udpout": 1, "tcp": 10}
#: a PreArm text older than this is no longer the firmware's current word (ArduPilot repeats
#: its failing checks every 30 s)
PREARM_FRESH_S = 35.0
_PREARM_PREFIXES = ("prearm", "preflight fail", "arm:", "arming denied")
MAX_FLEET = 64


def split_urls(text: str) -> list[str]:
    """The URLs in the link field (separated by spaces, commas or semicolons)."""
    return [u for u in text.replace(",", " ").replace(";", " ").split() if u]


def fleet_urls(first_url: str, n: int) -> list[str]:
    """URLs of ``n`` vehicles following the port convention of ``first_url``'s scheme.

    >>> fleet_urls("udpin://127.0.0.1:14540", 3)
    ['udpin://127.0.0.1:14540', 'udpin://127.0.0.1:14541', 'udpin://127.0.0.1:14542']
    >>> fleet_urls("tcp://127.0.0.1:5760", 2)
    ['tcp://127.0.0.1:5760', 'tcp://127.0.0.1:5770']
    """
    if not 1 <= n <= MAX_FLEET:
        raise BadInputError(_("a fleet has 1 to {m} vehicles, got {n}").format(m=MAX_FLEET, n=n))
    spec = parse_url(first_url)
    step = PORT_STEP.get(spec.scheme)
    if step is None or spec.port is None:
        raise BadInputError(
            _("a fleet preset needs a UDP or TCP link (one port per vehicle)"), where=first_url
        )
    if spec.port + step * (n - 1) > 65535:
        raise BadInputError(_("the fleet's ports would pass 65535"), where=first_url)
    host = spec.host or "127.0.0.1"
    return [f"{spec.scheme}://{host}:{spec.port + step * i}" for i in range(n)]


#: fleet presets: key → (scheme, first port, per-vehicle step or 0 for one shared link)
PRESETS = {
    "sim": ("udpin", 14550, 0),  # the simulator fleet: every vehicle sends to the GCS port
    "px4": ("udpin", 14540, 1),  # PX4 SITL: vehicle i's API link on UDP 14540+i
    "ardupilot": ("tcp", 5760, 10),  # ArduPilot SITL: vehicle i on TCP 5760+10·i
}


def preset_urls(kind: str, n: int, port_offset: int = 0, host: str = "127.0.0.1") -> list[str]:
    """The links of a fleet of ``n`` by a preset's port convention (``port_offset`` added, as
    the simulator's ``--port-offset``).

    >>> preset_urls("sim", 3)
    ['udpin://127.0.0.1:14550']
    >>> preset_urls("px4", 2, port_offset=1000)
    ['udpin://127.0.0.1:15540', 'udpin://127.0.0.1:15541']
    """
    if kind not in PRESETS:
        raise BadInputError(
            _("unknown fleet preset {kind!r}; use one of {choices}").format(
                kind=kind, choices=", ".join(PRESETS)
            )
        )
    scheme, port, step = PRESETS[kind]
    first = f"{scheme}://{host}:{port + port_offset}"
    if step == 0:
        if not 1 <= n <= MAX_FLEET:
            raise BadInputError(
                _("a fleet has 1 to {m} vehicles, got {n}").format(m=MAX_FLEET, n=n)
            )
        return [first]
    return fleet_urls(first, n)


def is_prearm_text(text: str) -> bool:
    """A firmware's pre-arm explanation (ArduPilot ``PreArm:``/``Arm:``, PX4 ``Preflight Fail``)."""
    return text.strip().lower().startswith(_PREARM_PREFIXES)


def latest_prearm(
    statustexts: Iterable[tuple[float, int, str]], now_s: float | None = None
) -> str | None:
    """The newest pre-arm text of ``(time_s, severity, text)`` entries (monotonic times)."""
    now = time.monotonic() if now_s is None else now_s
    for t, _severity, text in reversed(list(statustexts)):
        if is_prearm_text(text) and now - t < PREARM_FRESH_S:
            return text
    return None


class ReadyTracker:
    """Link listener: the SYS_STATUS pre-arm check bit of every vehicle heard.

    Called on the link's I/O thread; :meth:`ready` is read from any thread (one lock).
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._ready: dict[int, bool] = {}
        self._reports: set[int] = set()

    def __call__(self, msg: Any, _recv_time_s: float) -> None:
        if msg.get_type() != "SYS_STATUS":
            return
        sysid = int(msg.get_srcSystem())
        present = msg.onboard_control_sensors_present | msg.onboard_control_sensors_health
        healthy = bool(msg.onboard_control_sensors_health & PREARM_CHECK_BIT)
        with self._lock:
            if present & PREARM_CHECK_BIT:
                self._reports.add(sysid)
            self._ready[sysid] = healthy

    def ready(self, sysid: int, autopilot: str = "generic") -> bool | None:
        """True/False: the vehicle's verdict; None: no SYS_STATUS yet, or a generic autopilot
        that never reported the bit. PX4 sets it only in the health mask, and only when ready:
        for PX4 and ArduPilot a SYS_STATUS without it means "not ready"."""
        with self._lock:
            if sysid not in self._ready:
                return None
            if sysid not in self._reports and autopilot not in ("px4", "ardupilot"):
                return None
            return self._ready[sysid]


class BootTracker:
    """Link listener: counts a vehicle's restarts from its boot clock going back.

    ``time_boot_ms`` of GLOBAL_POSITION_INT / ATTITUDE / SYSTEM_TIME only grows while the
    autopilot runs; a value more than :attr:`slack_ms` below the last one is a new boot.
    Called on the link's I/O thread; :meth:`boots` is read from any thread (one lock).
    """

    TYPES = frozenset({"GLOBAL_POSITION_INT", "ATTITUDE", "SYSTEM_TIME"})

    def __init__(self, slack_ms: int = 1000) -> None:
        self.slack_ms = slack_ms
        self._lock = threading.Lock()
        self._last: dict[int, int] = {}
        self._boots: dict[int, int] = {}

    def __call__(self, msg: Any, _recv_time_s: float) -> None:
        if msg.get_type() not in self.TYPES:
            return
        sysid = int(msg.get_srcSystem())
        t = int(msg.time_boot_ms)
        with self._lock:
            last = self._last.get(sysid)
            if last is not None and t < last - self.slack_ms:
                self._boots[sysid] = self._boots.get(sysid, 0) + 1
            self._last[sysid] = t if last is None or t < last - self.slack_ms else max(t, last)

    def boots(self, sysid: int) -> int:
        """Restarts seen since the link opened (0: none)."""
        with self._lock:
            return self._boots.get(sysid, 0)


__all__ = [
    "PREARM_CHECK_BIT",
    "BootTracker",
    "ReadyTracker",
    "fleet_urls",
    "is_prearm_text",
    "latest_prearm",
    "preset_urls",
    "split_urls",
]
