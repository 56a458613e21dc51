"""The main job end to end: a search-and-rescue deployment flown by three simulated drones.

Steps (each named in the error when it fails):

1. ``deployment``: register the police request (missing person, search and rescue).
2. ``plan``: split a realistic search area north of Bolevec (forest and fields around a pond) among
   three drones with thermal-camera SAR grids; validate each against the sample zones and the
   120 m rule; write the plans.
3. ``simulator``: start three PX4-flavour vehicles (10× real time, or lockstep with ``fast``).
4. ``fly``: connect, upload and verify the three missions, arm and start them at once, follow
   them until every vehicle has landed and disarmed.
5. ``record``: the recorder stores every flight under the deployment.
6. ``report``: coverage, POD, flight times and battery per drone; the GOV 16 indicator; GeoJSON
   tracks and a self-contained HTML report in the output folder.
"""

from __future__ import annotations

import contextlib
import logging
import math
import socket
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from importlib import resources
from pathlib import Path
from typing import Any

from dronekit_plzen.errors import DronekitPlzenError
from dronekit_plzen.i18n import _

log = logging.getLogger(__name__)

#: launch site: a forest track at the southern edge of the search area (lat, lon, alt AMSL m)
LAUNCH = (49.79445, 13.39750, 352.0)
DRONE_NAMES = ("SITMP-1", "SITMP-2", "SITMP-3")
PX4_API_PORT = 14540


class DemoStepError(DronekitPlzenError):
    """A demo step failed; ``step`` names it."""

    def __init__(self, step: str, cause: BaseException) -> None:
        super().__init__(_("demo step '{step}' failed: {cause}").format(step=step, cause=cause))
        self.step = step
        self.exit_code = getattr(cause, "exit_code", 1) or 1


@dataclass
class DemoOptions:
    out_dir: Path = Path("demo-output")
    fast: bool = False  # lockstep simulation, as fast as the CPU allows
    speedup: float = 10.0
    port_offset: int | None = None  # None: the first free ports
    pod: float = 0.63
    drones: int = 3
    timeout_s: float = 900.0
    echo: Callable[[str], None] = print


@dataclass
class DroneOutcome:
    name: str
    sysid: int
    planned_length_m: float
    planned_time_s: float
    planned_items: int
    photos: int
    spacing_m: float
    sweep_width_m: float
    planned_pod: float
    planned_coverage_pct: float
    #: sequence numbers of the NAV items (the waypoints the vehicle must reach)
    nav_seqs: list[int] = field(default_factory=list)
    reached: list[int] = field(default_factory=list)
    flight_id: int | None = None
    flown_time_s: float = math.nan
    flown_distance_m: float = math.nan
    battery_used_pct: float = math.nan
    max_height_m: float = math.nan
    flown_coverage_pct: float = math.nan
    flown_pod: float = math.nan

    @property
    def all_items_reached(self) -> bool:
        return bool(self.nav_seqs) and set(self.reached) >= set(self.nav_seqs)


@dataclass
class DemoResult:
    deployment_id: int
    drones: list[DroneOutcome]
    area_km2: float
    indicator: dict[str, Any]
    files: dict[str, str]
    total_coverage_pct: float
    total_pod: float
    wall_time_s: float


@contextlib.contextmanager
def _step(name: str, echo: Callable[[str], None]) -> Iterator[None]:
    echo(f"== {name}")
    t0 = time.monotonic()
    try:
        yield
    except DemoStepError:
        raise
    except Exception as exc:  # a demo step boundary: name the step, keep the cause
        raise DemoStepError(name, exc) from exc
    echo(_("   done in {t:.1f} s").format(t=time.monotonic() - t0))


def demo_data(name: str) -> Path:
    return Path(str(resources.files("dronekit_plzen.demo").joinpath("data", name)))


def _start_fleet(opts: Any, fleet_cls: Any) -> tuple[Any, int]:
    """The demo's simulator fleet, started; with no ``--port-offset`` a port taken by another
    program between the check and the bind moves the fleet to the next free offset."""
    from dronekit_plzen.errors import LinkError

    taken: set[int] = set()
    while True:
        off = opts.port_offset
        if off is None:
            off = free_port_offset(opts.drones, frozenset(taken))
        sim = fleet_cls(
            n_vehicles=opts.drones,
            autopilot="px4",
            homes=[launch_point(i) for i in range(opts.drones)],
            speedup=opts.speedup,
            lockstep=opts.fast,
            seed=7,
            port_offset=off,
            gcs_link=False,
        )
        try:
            sim.start()
        except LinkError as exc:
            if opts.port_offset is not None or "bind" not in str(exc) or len(taken) >= 20:
                raise
            taken.add(off)
            continue
        return sim, off


def free_port_offset(n: int, skip: frozenset[int] = frozenset()) -> int:
    """A port offset whose PX4 API ports 14540+off .. +n-1 are free on loopback (not in
    ``skip``: offsets whose ports were taken between this check and the simulator's bind)."""
    for off in [0, *range(1000, 40000, 100)]:
        if off in skip:
            continue
        socks = []
        try:
            for i in range(n):
                s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                socks.append(s)
                s.bind(("127.0.0.1", PX4_API_PORT + off + i))
                s2 = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                socks.append(s2)
                s2.bind(("127.0.0.1", 14580 + off + i))
            return off
        except OSError:
            continue
        finally:
            for s in socks:
                s.close()
    raise DronekitPlzenError(_("no free MAVLink ports on 127.0.0.1"))


def run_sar_demo(opts: DemoOptions) -> DemoResult:
    """Run the whole demonstration; raises :class:`DemoStepError` naming the failed step."""
    from dronekit_plzen.demo import report as demo_report

    echo = opts.echo
    t_start = time.monotonic()
    out = opts.out_dir
    from dronekit_plzen.outputs import prepare_output_dir

    prepare_output_dir(out)  # a file in the way, no permission: one clear error, exit 2
    db_path = out / "deployments.db"
    for stale in (db_path, out / "deployments.db-wal", out / "deployments.db-shm"):
        stale.unlink(missing_ok=True)
    files: dict[str, str] = {"database": str(db_path)}

    # 1 ------------------------------------------------------------------ deployment
    with _step(_("1/6 register the deployment request"), echo):
        from telemetry.deployments import create_deployment, update_deployment
        from telemetry.store import open_store

        with open_store(db_path) as store:
            dep = create_deployment(
                store,
                organisation="PCR",
                category="sar",
                location="Plzeň-Bolevec, forest north of Senecký rybník",
                requested_at=datetime.now(timezone.utc),
                lat_deg=LAUNCH[0],
                lon_deg=LAUNCH[1],
                notes="Missing person (76, dementia), last seen at the forest edge at dusk. "
                "Thermal search requested by the police operations centre.",
            )
            update_deployment(store, dep.id, status="accepted")
            # the fleet's aircraft under their names: the recorder files vehicle i's flights
            # under "sysid-i" (the report's flight hours had read sysid-1 beside SITMP-1)
            for i in range(opts.drones):
                store.vehicle_id(f"sysid-{i + 1}", name=_drone_name(i), system_id=i + 1)
        echo(_("   deployment #{id}: PČR, search and rescue").format(id=dep.id))

    # 2 ------------------------------------------------------------------ plan
    with _step(_("2/6 plan: split the search area among {n} drones").format(n=opts.drones), echo):
        from missions.area import load_area
        from missions.pipeline import finalize_mission, write_mission_files
        from missions.split import DroneSpec, plan_split
        from missions.vehicles import load_vehicles
        from missions.zones import load_zones, sample_zones_path

        area = load_area(demo_data("sar_area_bolevec.geojson"))
        vehicle = load_vehicles(demo_data(""))["sitmp-px4-thermal"]
        launch_lonlat = (LAUNCH[1], LAUNCH[0])
        drones = [
            DroneSpec(vehicle=vehicle, launch=launch_lonlat, camera="mavic3t-thermal")
            for _i in range(opts.drones)
        ]
        split = plan_split(
            area,
            drones,
            pattern="survey",
            camera="mavic3t-thermal",
            target="person-thermal",
            wanted_pod=opts.pod,
        )
        zones = load_zones(sample_zones_path())
        missions = []
        outcomes: list[DroneOutcome] = []
        plans_dir = out / "plans"
        for i, plan in enumerate(split.plans):
            mission, report = finalize_mission(plan.mission, zones=zones, vehicle=vehicle)
            name = _drone_name(i)
            mission.metadata["name"] = f"{name} thermal SAR grid, deployment #{dep.id}"
            for p in write_mission_files(
                mission, plans_dir, name.lower(), ["plan", "geojson", "kml", "wpml"]
            ):
                files[f"{name} {p.suffix}"] = str(p)
            missions.append(mission)
            m = plan.metrics
            outcomes.append(
                DroneOutcome(
                    name=name,
                    sysid=i + 1,
                    planned_length_m=m.path_length_m,
                    planned_time_s=m.flight_time_s,
                    planned_items=len(mission.items),
                    nav_seqs=[
                        k for k, it in enumerate(mission.items) if it.is_nav and it.has_position
                    ],
                    photos=m.photo_count,
                    spacing_m=float(m.spacing_m or math.nan),
                    sweep_width_m=float(m.sweep_width_m or math.nan),
                    planned_pod=float(m.pod or math.nan),
                    planned_coverage_pct=float(m.coverage_pct or math.nan),
                )
            )
            echo(
                _(
                    "   {name}: {km:.1f} km, {min:.1f} min, {n} items, spacing {s:.0f} m, "
                    "POD {pod:.2f}, checks passed: {ok}"
                ).format(
                    name=name,
                    km=m.path_length_m / 1000,
                    min=m.flight_time_s / 60,
                    n=len(mission.items),
                    s=m.spacing_m,
                    pod=m.pod,
                    ok=", ".join(report.checked),
                )
            )
            for w in report.warnings:  # a conditional zone: flown, and said
                echo(f"   {name}: {_('warning')} {w}")
        echo(
            _("   area {a:.2f} km², sweep angle {ang:.0f}°, longest flight {t:.1f} min").format(
                a=area.area_m2 / 1e6, ang=split.angle_deg, t=split.longest_flight_s / 60
            )
        )

    # 3-5 --------------------------------------------------------- simulate, fly, record
    with contextlib.ExitStack() as stack:
        with _step(_("3/6 start {n} simulated PX4 vehicles").format(n=opts.drones), echo):
            from simulators import SimFleet

            sim, off = _start_fleet(opts, SimFleet)
            stack.callback(sim.stop)
            for sv in sim.vehicles:  # the SITMP quads carry 16 Ah packs (about 40 min)
                sv.set_battery(16000.0)
                sv.set_param("BAT1_CAPACITY", 16000.0)
                sv.set_param("COM_LOW_BAT_ACT", 3.0)  # PX4: RTL at critical, land at emergency
            mode = _("lockstep") if opts.fast else f"{opts.speedup:g}×"
            echo(
                _("   simulator running ({mode}), ports from {p}").format(
                    mode=mode, p=PX4_API_PORT + off
                )
            )

        with _step(_("4/6 upload, verify and fly the missions"), echo):
            from dronekit_plzen.fleet import Fleet, planned_start_delays
            from telemetry.recorder import Recorder

            urls = [f"udpin://127.0.0.1:{PX4_API_PORT + off + i}" for i in range(opts.drones)]
            # our 1 Hz GCS heartbeat, scaled to the simulator's pace so the vehicles do not
            # see a GCS link loss at 10× (PX4's COM_DL_LOSS_T counts simulated seconds)
            hb_hz = 20.0 if opts.fast else max(1.0, opts.speedup)
            fleet = stack.enter_context(Fleet.connect(urls, heartbeat_hz=hb_hz))
            recorder = Recorder(
                db_path, deployment_id=dep.id, tlog_path=out / "flights.tlog"
            ).start()
            stack.callback(recorder.stop)
            for link in fleet.links:  # samples are timed by the vehicle clock (time_boot_ms)
                recorder.attach(link)
            vehicles = fleet.wait_vehicles(opts.drones, timeout_s=30.0)
            by_sysid = {v.sysid: v for v in vehicles}
            _check(fleet.wait_ready_all(60.0))  # the firmware's own pre-arm verdict (and home)
            for v in vehicles:
                v.wait_for(
                    lambda s: s.home is not None and s.gps_fix_type >= 3 and s.position_known,
                    30.0,
                    _("GPS fix and home position"),
                )
            cleared = _clear_at_vehicles(by_sysid, outcomes, missions, zones, vehicle)
            _check(fleet.upload(cleared))
            _record_missions(db_path, dep.id, cleared)
            echo(_("   {n} missions cleared, uploaded and verified").format(n=len(missions)))
            # each vehicle armed and started at the time its plan gives (the grid's: at once)
            _check(fleet.launch_all(planned_start_delays(cleared)))
            echo(_("   armed and started"))
            _follow(by_sysid, outcomes, opts, echo)

        with _step(_("5/6 store the flights under the deployment"), echo):
            recorder.stop()
            st = recorder.status
            echo(_("   {n} messages recorded, {d} dropped").format(n=st.received, d=st.dropped))
    # (simulator and links are closed here)

    with _step(_("6/6 report"), echo):
        from telemetry.indicator import indicator_report
        from telemetry.store import open_store

        with open_store(db_path) as store:
            flights = store.query(
                "SELECT f.*, v.system_id AS sysid FROM flights f JOIN vehicles v "
                "ON v.id = f.vehicle_id WHERE f.deployment_id = ? ORDER BY f.id",
                (dep.id,),
            )
            if len(flights) < opts.drones:
                raise DronekitPlzenError(
                    _("only {n} of {m} flights were recorded").format(n=len(flights), m=opts.drones)
                )
            update_deployment(
                store,
                dep.id,
                status="completed",
                outcome="Area searched with thermal cameras; no person found (demo).",
            )
            year = datetime.now(timezone.utc).year
            ind = indicator_report(store, year)
        tracks = demo_report.attach_flights(outcomes, flights, split, area)
        files.update(demo_report.write_outputs(out, dep.id, area, split, outcomes, tracks, ind))
        total_cov, total_pod = demo_report.totals(area, split, tracks)
        ind_dict = demo_report.indicator_dict(ind)
        demo_report.print_summary(echo, outcomes, total_cov, total_pod, ind_dict, files)

    return DemoResult(
        deployment_id=dep.id,
        drones=outcomes,
        area_km2=area.area_m2 / 1e6,
        indicator=ind_dict,
        files=files,
        total_coverage_pct=total_cov,
        total_pod=total_pod,
        wall_time_s=time.monotonic() - t_start,
    )


def launch_point(i: int) -> tuple[float, float, float]:
    """Launch point of drone ``i``: the launch site, drones 6 m apart along the track."""
    from dronekit_plzen.geo import destination

    lon, lat = destination(LAUNCH[1], LAUNCH[0], 90.0, 6.0 * i)
    return (float(lat), float(lon), LAUNCH[2])


def _clear_at_vehicles(
    by_sysid: dict[int, Any], outcomes: list[Any], missions: list[Any], zones: Any, vehicle: Any
) -> dict[Any, Any]:
    """The guard again at each vehicle: its HOME_POSITION is the datum, its GPS the launch,
    its RTL parameters how it returns (as ``fly`` and the GUI read them)."""
    from dronekit_plzen.fleet import vehicle_rtl_params
    from missions.clearance import clear_for_flight

    out: dict[Any, Any] = {}
    for o, mission in zip(outcomes, missions):
        v = by_sysid[o.sysid]
        st = v.state
        fc = clear_for_flight(
            mission,
            zones=zones,
            vehicle=vehicle,
            vehicle_home=st.home,
            vehicle_position=(st.lat_deg, st.lon_deg),
            rtl=vehicle_rtl_params(v),
        )
        out[v] = fc.sorties[0]
    return out


def _drone_name(i: int) -> str:
    """The name of the demo's drone ``i`` (system id ``i + 1``)."""
    return DRONE_NAMES[i] if i < len(DRONE_NAMES) else f"SITMP-{i + 1}"


def _record_missions(db_path: Path, deployment_id: int, cleared: dict[Any, Any]) -> None:
    """Keep each uploaded mission, with its clearance in the metadata, in the flight database."""
    from missions.formats.qgc_plan import dump_plan
    from telemetry.store import open_store

    with open_store(db_path) as store:
        for v, sortie in cleared.items():
            store.save_mission(
                dump_plan(sortie.mission),
                name=f"vehicle {v.sysid} sortie {sortie.index}",
                deployment_id=deployment_id,
            )


def _check(results: dict[str, Any]) -> None:
    bad = [f"{k}: {r.error}" for k, r in results.items() if not r.ok]
    if bad:
        raise DronekitPlzenError("; ".join(bad))


def _follow(
    by_sysid: dict[int, Any],
    outcomes: list[DroneOutcome],
    opts: DemoOptions,
    echo: Callable[[str], None],
) -> None:
    """Follow the flights until every vehicle has landed and disarmed (or time runs out)."""
    airborne = dict.fromkeys(by_sysid, False)
    done = dict.fromkeys(by_sysid, False)
    reached: dict[int, set[int]] = {s: set() for s in by_sysid}
    links = {id(v.link): v.link for v in by_sysid.values()}
    subs = [
        link.subscribe(types={"MISSION_ITEM_REACHED"}, maxsize=10_000) for link in links.values()
    ]
    deadline = time.monotonic() + opts.timeout_s
    last_print = 0.0
    try:
        while not all(done.values()):
            if time.monotonic() > deadline:
                left = [s for s, d in done.items() if not d]
                raise DronekitPlzenError(
                    _("vehicles {v} did not land within {t:.0f} s").format(v=left, t=opts.timeout_s)
                )
            for sub in subs:
                while True:
                    got = sub.get(0.05)
                    if got is None:
                        break
                    msg, _t = got
                    if msg.get_type() == "MISSION_ITEM_REACHED":
                        reached.setdefault(msg.get_srcSystem(), set()).add(int(msg.seq))
            for sysid, v in by_sysid.items():
                st = v.state
                airborne[sysid] = airborne[sysid] or st.relative_alt_m > 2.0
                if airborne[sysid] and not st.armed:
                    done[sysid] = True
                if not v.connected:
                    raise DronekitPlzenError(_("lost the link to vehicle {s}").format(s=sysid))
            now = time.monotonic()
            if now - last_print > 5.0:
                last_print = now
                parts = []
                for o in outcomes:
                    st = by_sysid[o.sysid].state
                    parts.append(
                        f"{o.name} {st.mode or '?'} {max(st.mission_seq, 0) + 1}/{o.planned_items}"
                        f" {st.battery_remaining_pct:.0f}%"
                    )
                echo("   " + " | ".join(parts))
    finally:
        for sub in subs:
            sub.close()
    for o in outcomes:
        o.reached = sorted(reached.get(o.sysid, set()))


def result_json(res: DemoResult) -> str:
    """The result as strict JSON (for ``--json`` and the tests)."""
    from dataclasses import asdict

    from dronekit_plzen.cliutil import to_json

    d = asdict(res)
    d["drones"] = [{**asdict(o), "all_items_reached": o.all_items_reached} for o in res.drones]
    return to_json(d)
