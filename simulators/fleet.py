"""SimFleet: N simulated vehicles served by ONE scheduler thread over real sockets.

The scheduler owns every vehicle model and socket. Sim time advances in fixed ``dt_s`` steps:
in real-time mode paced at ``speedup`` × wall clock, in lockstep mode as fast as the CPU allows
(deterministic for a seed when no client talks to it). Other threads talk to it only through
:meth:`SimFleet.call` (a queue) and read immutable :class:`~simulators.state.VehicleState`
snapshots.
"""

from __future__ import annotations

import contextlib
import inspect
import logging
import queue
import selectors
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import Future
from typing import Any

import numpy as np

from dronekit_plzen.errors import BadInputError, LinkError
from dronekit_plzen.i18n import _
from simulators.faults import (
    BatteryDrop,
    GpsLoss,
    LinkFault,
    Reboot,
    ScheduledFault,
    SteadyWind,
    WindGust,
)
from simulators.net import Endpoint, Impairment, TcpServerEndpoint, UdpEndpoint
from simulators.physics import Wind
from simulators.protocol import Link, VehicleServer
from simulators.state import VehicleState
from simulators.vehicle import VehicleModel

log = logging.getLogger(__name__)

PX4_API_REMOTE, PX4_API_LOCAL, PX4_GCS_REMOTE, PX4_GCS_LOCAL = 14540, 14580, 14550, 18570
ARDUPILOT_TCP = 5760


def vehicle_ports(autopilot: str, port_offset: int, i: int) -> dict[str, int]:
    """Ports vehicle ``i`` (from 0) of a fleet uses (remote = where it sends, local = where it
    listens): PX4 SITL's (API 14540/14580 + i, ground station 14550) or ArduPilot SITL's (TCP
    5760 + 10 i on SERIAL0, 5762 + 10 i on SERIAL1), all moved by ``port_offset``."""
    off = port_offset
    if autopilot == "px4":
        return {
            "api_remote": PX4_API_REMOTE + off + i,
            "api_local": PX4_API_LOCAL + off + i,
            "gcs_remote": PX4_GCS_REMOTE + off,
            "gcs_local": PX4_GCS_LOCAL + off + i,
        }
    return {
        "tcp": ARDUPILOT_TCP + off + 10 * i,
        # SITL's SERIAL1 (tcp:2): a second ground station beside the pilot's on SERIAL0
        "tcp2": ARDUPILOT_TCP + 2 + off + 10 * i,
        "gcs_remote": PX4_GCS_REMOTE + off,
    }


class SimVehicle:
    """Handle on one simulated vehicle (thread-safe: everything goes through the scheduler)."""

    def __init__(
        self, fleet: SimFleet, index: int, model: VehicleModel, server: VehicleServer
    ) -> None:
        self.fleet = fleet
        self.index = index
        self.sysid = model.sysid
        self.model = model
        self.server = server
        self.endpoints: list[tuple[Endpoint, Link]] = []
        self._state = model.snapshot()

    @property
    def state(self) -> VehicleState:
        """The latest snapshot (immutable)."""
        return self._state

    def inject(self, fault: Any) -> None:
        """Inject a fault now (GpsLoss, BatteryDrop, WindGust, SteadyWind, LinkFault, Reboot)."""
        self.fleet.call(lambda: self._apply(fault))

    def set_param(self, name: str, value: float) -> None:
        """Set a parameter as a PARAM_SET would (BadInputError if unknown or out of range)."""
        self.fleet.call(lambda: self.model.set_param(name, float(value)))

    def lack_params(self, *names: str) -> None:
        """Run a firmware build without these parameters, as an older version is (ArduCopter
        before 4.1 has no RTL_ALT_TYPE): reads and writes of them go unanswered, and the
        vehicle flies with their defaults."""
        unknown = [n for n in names if n not in self.model.params]
        if unknown:
            raise BadInputError(_("unknown parameters: {names}").format(names=", ".join(unknown)))

        def drop() -> None:
            self.model.absent_params = self.model.absent_params | frozenset(names)

        self.fleet.call(drop)

    def set_battery(
        self,
        capacity_mah: float,
        hover_current_a: float | None = None,
        cells: int | None = None,
        remaining_pct: float = 100.0,
    ) -> None:
        """Fit a different battery pack (and airframe hover current) while on the ground.

        The autopilot's own ``BAT1_CAPACITY``/``BATT_CAPACITY`` only tell the estimator what is
        fitted; this changes what the simulated airframe really carries. ``remaining_pct`` is
        the pack's state of charge.
        """
        if capacity_mah <= 0 or (hover_current_a is not None and hover_current_a <= 0):
            raise BadInputError(_("battery capacity and hover current must be positive"))
        if not 0.0 <= remaining_pct <= 100.0:
            raise BadInputError(
                _("battery charge must be 0..100 %, got {remaining_pct}").format(
                    remaining_pct=remaining_pct
                )
            )

        def fit() -> None:
            bat = self.model.battery
            bat.capacity_mah = float(capacity_mah)
            bat.consumed_mah = capacity_mah * (1.0 - remaining_pct / 100.0)
            bat.soc_offset = 0.0
            if cells is not None:
                bat.cells = int(cells)
            if hover_current_a is not None:
                self.model.hover_current_a = float(hover_current_a)

        self.fleet.call(fit)

    def set_signing_key(self, key: bytes | None) -> None:
        """Enable (32-byte key) or disable MAVLink 2 signing on all links of this vehicle."""
        self.fleet.call(lambda: self.server.set_signing_key(key))

    def link_stats(self) -> dict[str, dict[str, int]]:
        return {
            link.name: {"sent": link.sent, "received": link.received, "bad": link.bad}
            for _e, link in self.endpoints
        }

    def _apply(self, fault: Any) -> None:
        vm = self.model
        t = vm.t_s
        if isinstance(fault, GpsLoss):
            vm.gps.lost_until_s = t + fault.duration_s
        elif isinstance(fault, BatteryDrop):
            vm.battery.soc_offset += fault.drop_pct / 100.0
        elif isinstance(fault, WindGust):
            e, n = Wind.from_direction(fault.speed_m_s, fault.from_deg)
            vm.wind.gust_e_m_s, vm.wind.gust_n_m_s, vm.wind.gust_until_s = (
                e,
                n,
                t + fault.duration_s,
            )
        elif isinstance(fault, SteadyWind):
            vm.wind.steady_e_m_s, vm.wind.steady_n_m_s = Wind.from_direction(
                fault.speed_m_s, fault.from_deg
            )
        elif isinstance(fault, LinkFault):
            for ep, link in self.endpoints:
                if fault.link in ("all", link.name):
                    ep.imp = Impairment(
                        fault.loss,
                        fault.delay_s,
                        fault.duplicate,
                        fault.corrupt,
                        t + fault.duration_s,
                    )
        elif isinstance(fault, Reboot):
            vm.reboot()
        elif callable(getattr(fault, "apply", None)):  # LowBattery, SensorFailure
            fault.apply(vm)
        else:
            raise BadInputError(_("unknown fault {fault!r}").format(fault=fault))


class SimFleet:
    """A fleet of simulated multicopters speaking MAVLink 2 on loopback sockets.

    Examples
    --------
    >>> with SimFleet(n_vehicles=2, autopilot="px4", speedup=10, port_offset=3000) as fleet:
    ...     fleet.ports(0)["api_remote"]
    17540
    """

    def __init__(
        self,
        n_vehicles: int = 1,
        autopilot: str = "px4",
        home: tuple[float, float, float] = (49.7475, 13.3776, 310.0),
        homes: list[tuple[float, float, float]] | None = None,
        speedup: float = 1.0,
        lockstep: bool = False,
        seed: int = 0,
        bind_host: str = "127.0.0.1",
        remote_host: str = "127.0.0.1",
        port_offset: int = 0,
        gcs_link: bool = True,
        api_link: bool = True,
        dt_s: float = 0.02,
        faults: Iterable[ScheduledFault] = (),
        spacing_m: float = 5.0,
        boot_settle_s: float | None = None,
    ) -> None:
        if autopilot not in ("px4", "ardupilot"):
            raise BadInputError(
                _("autopilot must be px4 or ardupilot, got {autopilot!r}").format(
                    autopilot=autopilot
                )
            )
        if n_vehicles < 1 or n_vehicles > 200:
            raise BadInputError(
                _("n_vehicles must be 1..200, got {n_vehicles}").format(n_vehicles=n_vehicles)
            )
        if speedup <= 0:
            raise BadInputError(_("speedup must be > 0, got {speedup}").format(speedup=speedup))
        if homes is not None and len(homes) != n_vehicles:
            raise BadInputError(
                _("homes has {n_homes} entries for {n_vehicles} vehicles").format(
                    n_homes=len(homes), n_vehicles=n_vehicles
                )
            )
        self.autopilot = autopilot
        self.speedup = float(speedup)
        self.lockstep = lockstep
        self.seed = seed
        self.bind_host = bind_host
        self.remote_host = remote_host
        self.port_offset = port_offset
        self.gcs_link = gcs_link
        self.api_link = api_link
        self.dt_s = dt_s
        self.schedule = sorted(faults, key=lambda f: f.at_s)
        self._rng = np.random.default_rng([seed, 999])
        self.vehicles: list[SimVehicle] = []
        for i in range(n_vehicles):
            if homes is not None:
                h = homes[i]
            else:
                from simulators.physics import Geodetic

                lat, lon, _alt = Geodetic(*home).to_lla(spacing_m * i, 0.0, 0.0)
                h = (lat, lon, home[2])
            vm = VehicleModel(i + 1, autopilot, h, seed, boot_settle_s=boot_settle_s)
            self.vehicles.append(SimVehicle(self, i, vm, VehicleServer(vm)))
        self._sel: selectors.BaseSelector | None = None
        self._endpoints: list[Endpoint] = []
        self._calls: queue.SimpleQueue[tuple[Callable[[], Any], Future[Any]]] = queue.SimpleQueue()
        self._cond = threading.Condition()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        #: what stopped the scheduler thread, when it stopped on an error
        self.crashed: Exception | None = None
        self.steps = 0
        #: called on the scheduler thread after every step (training triggers, see
        #: simulators.scenario); deterministic because they run on the simulated clock
        self.step_hooks: list[Callable[[SimFleet], None]] = []
        self.wall_started = 0.0
        self._wake_r, self._wake_w = (None, None)  # type: tuple[Any, Any]

    @classmethod
    def from_exercise(cls, exercise: Any, autopilot: str | None = None, **kwargs: Any) -> SimFleet:
        """A fleet set up for a training exercise (vehicles, home, parameters, fault schedule)."""
        ap = autopilot or exercise.autopilot
        kwargs.setdefault("n_vehicles", exercise.vehicles)
        kwargs.setdefault("home", exercise.home)
        fleet = cls(autopilot=ap, faults=exercise.faults, **kwargs)
        for v in fleet.vehicles:
            for name, value in exercise.params_for(ap).items():
                v.model.set_param(name, value)
        return fleet

    # ------------------------------------------------------------------ ports
    def ports(self, i: int) -> dict[str, int]:
        """Ports vehicle ``i`` uses (:func:`vehicle_ports`)."""
        return vehicle_ports(self.autopilot, self.port_offset, i)

    @property
    def sim_time_s(self) -> float:
        return self.vehicles[0].model.t_s

    # ------------------------------------------------------------------ lifecycle
    def _open(self) -> None:
        self._sel = selectors.DefaultSelector()
        import socket

        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._sel.register(self._wake_r, selectors.EVENT_READ, None)
        for v in self.vehicles:
            ports = self.ports(v.index)
            pairs: list[tuple[str, Endpoint]] = []
            rng = np.random.default_rng([self.seed, v.sysid, 7])
            try:
                if self.autopilot == "px4":
                    if self.api_link:
                        pairs.append(
                            (
                                "api",
                                UdpEndpoint(
                                    "api",
                                    rng,
                                    (self.bind_host, ports["api_local"]),
                                    (self.remote_host, ports["api_remote"]),
                                ),
                            )
                        )
                    if self.gcs_link:
                        pairs.append(
                            (
                                "gcs",
                                UdpEndpoint(
                                    "gcs",
                                    rng,
                                    (self.bind_host, ports["gcs_local"]),
                                    (self.remote_host, ports["gcs_remote"]),
                                ),
                            )
                        )
                else:
                    for key in ("tcp", "tcp2"):
                        pairs.append(
                            (key, TcpServerEndpoint(key, rng, (self.bind_host, ports[key])))
                        )
                    if self.gcs_link:
                        pairs.append(
                            (
                                "gcs",
                                UdpEndpoint(
                                    "gcs",
                                    rng,
                                    (self.bind_host, 0),
                                    (self.remote_host, ports["gcs_remote"]),
                                ),
                            )
                        )
            except OSError as exc:
                self._close()
                raise LinkError(
                    _(
                        "simulator vehicle {sysid}: cannot bind port ({strerror}); "
                        "try another --port-offset"
                    ).format(sysid=v.sysid, strerror=exc.strerror)
                ) from None
            for name, ep in pairs:
                link = v.server.add_link(name, ep.send)
                if isinstance(ep, TcpServerEndpoint):
                    ep.on_connect = lambda lk=link, vm=v.model: lk.reset_streams(vm.px4)
                ep.register(self._sel)
                v.endpoints.append((ep, link))
                self._endpoints.append(ep)

    def _close(self) -> None:
        for ep in self._endpoints:
            ep.close(self._sel)
        self._endpoints.clear()
        for v in self.vehicles:
            v.endpoints.clear()
            v.server.links.clear()
        for s in (self._wake_r, self._wake_w):
            if s is not None:
                s.close()
        self._wake_r = self._wake_w = None
        if self._sel is not None:
            self._sel.close()
            self._sel = None

    def start(self) -> SimFleet:
        """Bind the sockets and start the scheduler thread."""
        if self._thread is not None:
            return self
        self._open()
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="simfleet", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop the scheduler, join it and close every socket."""
        if self._thread is not None:
            self._stop.set()
            self._wake()
            self._thread.join(timeout=10)
            self._thread = None
        self._close()

    def __enter__(self) -> SimFleet:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _wake(self) -> None:
        if self._wake_w is not None:
            with contextlib.suppress(OSError):
                self._wake_w.send(b"\0")

    # ------------------------------------------------------------------ cross-thread calls
    def call(self, fn: Callable[[], Any], timeout_s: float = 10.0) -> Any:
        """Run ``fn`` on the scheduler thread (or inline when not started); return its result."""
        if self._thread is None or threading.current_thread() is self._thread:
            return fn()
        fut: Future[Any] = Future()
        self._calls.put((fn, fut))
        self._wake()
        return fut.result(timeout=timeout_s)

    def wait_until(self, predicate: Callable[..., bool], timeout_s: float) -> bool:
        """Block until ``predicate()`` (or ``predicate(fleet)``) is true; False on timeout.

        Woken by the scheduler after each batch of steps (a condition variable, no polling).
        """
        takes_arg = False
        with contextlib.suppress(TypeError, ValueError):
            takes_arg = any(
                p.default is inspect.Parameter.empty
                and p.kind
                in (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
                for p in inspect.signature(predicate).parameters.values()
            )
        deadline = time.monotonic() + timeout_s
        with self._cond:
            while True:
                if predicate(self) if takes_arg else predicate():
                    return True
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                if self._thread is None:
                    self._cond.release()
                    try:
                        self.step()
                    finally:
                        self._cond.acquire()
                else:
                    self._cond.wait(min(left, 0.5))

    # ------------------------------------------------------------------ stepping
    def step(self, n: int = 1) -> None:
        """Advance every vehicle by ``n`` steps (only when the scheduler thread is not running)."""
        if self._thread is not None and threading.current_thread() is not self._thread:
            raise RuntimeError("step() is for a fleet that is not started; use wait_until()")
        for _step in range(n):
            self._step_once()
        self._publish()

    def run_for(self, sim_s: float) -> None:
        """Advance ``sim_s`` seconds of simulated time without the scheduler thread."""
        self.step(max(1, round(sim_s / self.dt_s)))

    def _step_once(self) -> None:
        t_next = self.sim_time_s + self.dt_s
        while self.schedule and self.schedule[0].at_s <= t_next:
            sf = self.schedule.pop(0)
            for v in self.vehicles:
                if sf.vehicle is None or sf.vehicle == v.index:
                    v._apply(sf.fault)
        for v in self.vehicles:
            v.model.step(self.dt_s)
            for ep, _link in v.endpoints:
                ep.sim_t_s = v.model.t_s
            v.server.tick()
        for hook in self.step_hooks:
            hook(self)
        self.steps += 1

    def _publish(self) -> None:
        for v in self.vehicles:
            v._state = v.model.snapshot()
        with self._cond:
            self._cond.notify_all()

    def _drain_calls(self) -> None:
        while True:
            try:
                fn, fut = self._calls.get_nowait()
            except queue.Empty:
                return
            try:
                fut.set_result(fn())
            except BaseException as exc:
                fut.set_exception(exc)

    def _deliver(self, ep: Endpoint, packets: list[bytes]) -> None:
        for v in self.vehicles:
            for e, link in v.endpoints:
                if e is ep:
                    for data in packets:
                        v.server.receive(link, data)
                    return

    def _run(self) -> None:
        sel = self._sel
        assert sel is not None
        self.wall_started = time.monotonic()
        wall0 = self.wall_started
        base_steps = self.steps
        publish_every = 0.05
        last_pub = 0.0
        try:
            while not self._stop.is_set():
                now = time.monotonic()
                if self.lockstep:
                    timeout = 0.0
                else:
                    next_wall = wall0 + (self.steps - base_steps + 1) * self.dt_s / self.speedup
                    timeout = max(0.0, next_wall - now)
                for ep in self._endpoints:
                    due = ep.next_due()
                    if due is not None:
                        timeout = min(timeout, max(0.0, due - now))
                for key, _mask in sel.select(timeout):
                    if key.data is None:
                        with contextlib.suppress(OSError):
                            self._wake_r.recv(4096)  # type: ignore[union-attr]
                        continue
                    ep = key.data
                    self._deliver(ep, ep.readable(key.fileobj, sel))
                now = time.monotonic()
                for ep in self._endpoints:
                    if ep.next_due() is not None:
                        self._deliver(ep, ep.flush(now))
                    ep.pump()
                self._drain_calls()
                if self.lockstep:
                    self._step_once()
                else:
                    target = int((now - wall0) * self.speedup / self.dt_s) + base_steps
                    if target - self.steps > 100:  # fell behind: drop the backlog, keep pace
                        wall0 = now - (self.steps + 1 - base_steps) * self.dt_s / self.speedup
                        target = self.steps + 1
                    while self.steps < target:
                        self._step_once()
                if now - last_pub >= publish_every / max(1.0, self.speedup) or self.lockstep:
                    self._publish()
                    last_pub = now
        except Exception as exc:
            # kept for the owner (the CLI ends with one line): no traceback unless debugging
            self.crashed = exc
            log.error("simulator scheduler crashed: %s", exc, exc_info=log.isEnabledFor(10))
        finally:
            self._publish()
