"""Start and stop real autopilot firmware (ArduCopter SITL, PX4 SITL with SIH) for ``make interop``.

The firmware is built outside this repository (its sources cannot be fetched by CI); this module
only runs already built binaries:

- ``SITL_BIN``: an ArduCopter SITL binary (``ardupilot/build/sitl/bin/arducopter``). Instance N
  serves MAVLink on TCP ``127.0.0.1:5760+10N`` (SERIAL0) and ``5762+10N`` (SERIAL1).
- ``PX4_DIR``: a PX4-Autopilot tree with ``build/px4_sitl_default`` built. Instance N (0..9) runs
  airframe 10040 (SIH quadrotor, no external simulator); its API link binds ``14580+N`` and sends
  to ``127.0.0.1:14540+N``, its GCS link binds ``18570+N`` and sends to ``127.0.0.1:14550``.

Neither firmware can be told to listen on loopback only, so both are started with
``LD_PRELOAD`` of a small shim (``BIND_LOOPBACK_SO``, built from
``../shared/tools/sitl/tools/bind_loopback.c``) that turns binds to 0.0.0.0 into 127.0.0.1;
without it nothing is started.

Each instance runs in its own working directory (fresh parameters/EEPROM, its log in
``firmware.log``) in its own session, and is stopped by its own PID (SIGTERM, then SIGKILL).

Command line, for a quick manual check::

    python scripts/interop/firmware.py arducopter 0    # start, wait, print, stop on Ctrl-C
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from dronekit_plzen.errors import DronekitPlzenError

#: Plzeň, náměstí Republiky (the PX4 README's home); instance N is moved N × 40 m east
HOME_LAT = 49.7475
HOME_LON = 13.3776
HOME_ALT_M = 320.0
INSTANCE_OFFSET_DEG = 0.00055
SHARED_SHIM_SOURCE = Path(__file__).resolve().parents[3] / "shared/tools/sitl/tools/bind_loopback.c"


class FirmwareError(DronekitPlzenError):
    """A firmware instance could not be started or stopped."""


def home_of(instance: int) -> tuple[float, float, float]:
    """(lat, lon, alt AMSL m) where instance ``instance`` starts."""
    return (HOME_LAT, HOME_LON + INSTANCE_OFFSET_DEG * instance, HOME_ALT_M)


def find_shim(explicit: str | None = None) -> Path:
    """The bind-to-loopback LD_PRELOAD shim: ``BIND_LOOPBACK_SO`` or beside the firmware."""
    candidates = [explicit or os.environ.get("BIND_LOOPBACK_SO", "")]
    sitl_bin = os.environ.get("SITL_BIN")
    if sitl_bin:  # <root>/ardupilot/build/sitl/bin/arducopter -> <root>/tools/bind_loopback.so
        candidates.append(str(Path(sitl_bin).resolve().parents[4] / "tools/bind_loopback.so"))
    px4_dir = os.environ.get("PX4_DIR")
    if px4_dir:
        candidates.append(str(Path(px4_dir).resolve().parent / "tools/bind_loopback.so"))
    for c in candidates:
        if c and Path(c).is_file():
            return Path(c)
    raise FirmwareError(
        "bind_loopback.so not found (set BIND_LOOPBACK_SO; build it with "
        f"`gcc -O2 -shared -fPIC -o bind_loopback.so {SHARED_SHIM_SOURCE} -ldl`): "
        "the firmware binds 0.0.0.0 and is never started without it"
    )


def tcp_accepts(port: int, timeout_s: float = 1.0) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout_s):
            return True
    except OSError:
        return False


def udp_free(port: int) -> bool:
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        s.bind(("127.0.0.1", port))
    except OSError:
        return False
    finally:
        s.close()
    # a 0.0.0.0 bind by someone else does not stop a 127.0.0.1 bind: check that too
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        s.bind(("0.0.0.0", port))
    except OSError:
        return False
    finally:
        s.close()
    return True


@dataclass
class Instance:
    """One running firmware process."""

    kind: str  #: "arducopter" or "px4"
    number: int
    workdir: Path
    proc: subprocess.Popen[bytes] | None = None
    started_s: float = 0.0
    ready_s: float = 0.0
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def log_path(self) -> Path:
        return self.workdir / "firmware.log"

    @property
    def url(self) -> str:
        """The project's connection URL for this instance's first MAVLink port."""
        if self.kind == "arducopter":
            return f"tcp://127.0.0.1:{5760 + 10 * self.number}"
        return f"udpin://127.0.0.1:{14540 + self.number}"

    @property
    def url2(self) -> str:
        """A second, independent MAVLink port (ArduCopter SERIAL1; PX4's GCS link)."""
        if self.kind == "arducopter":
            return f"tcp://127.0.0.1:{5762 + 10 * self.number}"
        return f"udpout://127.0.0.1:{18570 + self.number}"

    @property
    def sysid(self) -> int:
        return 1 if self.kind == "arducopter" else self.number + 1

    @property
    def home(self) -> tuple[float, float, float]:
        return home_of(self.number)

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def log_tail(self, n: int = 15) -> str:
        try:
            lines = self.log_path.read_text(errors="replace").splitlines()
        except OSError:
            return ""
        return "\n".join(lines[-n:])

    def stop(self) -> None:
        """SIGTERM the firmware's process group, SIGKILL after 10 s."""
        p = self.proc
        if p is None or p.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(p.pid, signal.SIGTERM)
        try:
            p.wait(10)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(p.pid, signal.SIGKILL)
            p.wait(5)
        if self.kind == "px4":
            for stale in (f"/tmp/px4_lock-{self.number}", f"/tmp/px4-sock-{self.number}"):
                with contextlib.suppress(OSError):
                    os.unlink(stale)

    def __enter__(self) -> Instance:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _spawn(inst: Instance, argv: list[str], env: dict[str, str]) -> None:
    inst.workdir.mkdir(parents=True, exist_ok=True)
    log = inst.log_path.open("wb")
    inst.started_s = time.monotonic()
    inst.proc = subprocess.Popen(
        argv,
        cwd=inst.workdir,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # own process group: stopped as a whole, never by name
    )
    log.close()


def _fail(inst: Instance, why: str) -> FirmwareError:
    tail = inst.log_tail()
    inst.stop()
    return FirmwareError(f"{inst.kind} instance {inst.number}: {why}; log {inst.log_path}:\n{tail}")


def arducopter_defaults(binary: Path) -> Path:
    """Tools/autotest/default_params/copter.parm of the tree the binary was built in."""
    env = os.environ.get("SITL_DEFAULTS")
    path = (
        Path(env)
        if env
        else binary.resolve().parents[3] / "Tools/autotest/default_params/copter.parm"
    )
    if not path.is_file():
        raise FirmwareError(f"ArduCopter default parameters not found: {path} (set SITL_DEFAULTS)")
    return path


def start_arducopter(
    binary: str | Path,
    number: int,
    workdir: Path,
    *,
    speedup: float = 1.0,
    timeout_s: float = 60.0,
) -> Instance:
    """Start ArduCopter SITL instance ``number``; return once TCP 5760+10N accepts."""
    binary = Path(binary)
    if not (binary.is_file() and os.access(binary, os.X_OK)):
        raise FirmwareError(f"SITL_BIN is not an executable: {binary}")
    defaults = arducopter_defaults(binary)
    shim = find_shim()
    inst = Instance("arducopter", number, workdir)
    port0, port1 = 5760 + 10 * number, 5762 + 10 * number
    for port in (port0, port1):
        if tcp_accepts(port, 0.3):
            raise FirmwareError(f"TCP port {port} is already in use (another SITL running?)")
    if workdir.exists():
        shutil.rmtree(workdir)
    lat, lon, alt = home_of(number)
    argv = [
        str(binary),
        "-I",
        str(number),
        "--model",
        "quad",
        "--speedup",
        f"{speedup:g}",
        "--home",
        f"{lat},{lon},{alt},0",
        "--defaults",
        str(defaults),
        "-w",  # wipe the EEPROM: default parameters, no mission
        "--serial0",
        "tcp:0",  # listen without waiting for a client (the default tcp:0:wait blocks start-up)
        "--serial1",
        "tcp:2",
    ]
    env = dict(os.environ, LD_PRELOAD=str(shim))
    _spawn(inst, argv, env)
    deadline = time.monotonic() + timeout_s
    while not tcp_accepts(port0, 0.5):
        if not inst.alive():
            raise _fail(inst, "exited during start-up")
        if time.monotonic() > deadline:
            raise _fail(inst, f"TCP port {port0} not accepting after {timeout_s:.0f} s")
        time.sleep(0.2)
    inst.ready_s = time.monotonic()
    return inst


def start_px4(
    px4_dir: str | Path,
    number: int,
    workdir: Path,
    *,
    timeout_s: float = 90.0,
) -> Instance:
    """Start PX4 SITL instance ``number`` (SIH quadrotor, airframe 10040), headless.

    Returns once the start-up script has finished and both MAVLink UDP links are bound.
    """
    if not 0 <= number <= 9:
        raise FirmwareError(f"PX4 instance must be 0..9, got {number}")
    build = Path(px4_dir) / "build/px4_sitl_default"
    binary = build / "bin/px4"
    if not binary.is_file():
        raise FirmwareError(f"PX4 binary not found: {binary} (set PX4_DIR to a built tree)")
    shim = find_shim()
    inst = Instance("px4", number, workdir)
    ports = (18570 + number, 14580 + number, 14540 + number)
    for port in ports:
        if not udp_free(port):
            raise FirmwareError(f"UDP port {port} is already in use (another PX4 or client?)")
    if Path(f"/tmp/px4_lock-{number}").exists():
        raise FirmwareError(
            f"/tmp/px4_lock-{number} exists: another PX4 instance {number} may be running"
        )
    if workdir.exists():
        shutil.rmtree(workdir)
    workdir.mkdir(parents=True)
    lat, lon, alt = home_of(number)
    env = dict(
        os.environ,
        LD_PRELOAD=str(shim),
        PX4_SYS_AUTOSTART="10040",  # ROMFS/px4fmu_common/init.d-posix/airframes/10040_sihsim_quadx
        PX4_SIMULATOR="sihsim",  # rcS -> px4-rc.simulator -> px4-rc.sihsim (simulator_sih)
        PX4_SIM_MODEL="sihsim_quadx",
        PX4_HOME_LAT=f"{lat}",
        PX4_HOME_LON=f"{lon}",
        PX4_HOME_ALT=f"{alt}",
    )
    env.pop("PX4_SIM_SPEED_FACTOR", None)  # 1x: rcS would rescale and persist the loss timeouts
    argv = [str(binary), "-d", "-i", str(number), "-w", str(workdir), str(build / "etc")]
    _spawn(inst, argv, env)
    deadline = time.monotonic() + timeout_s
    while True:
        if not inst.alive():
            raise _fail(inst, "exited during start-up")
        text = inst.log_path.read_text(errors="replace")
        if "Startup script returned successfully" in text and not any(
            udp_free(p) for p in ports[:2]
        ):
            break
        if "ERROR [" in text and "Startup script returned with return value" in text:
            raise _fail(inst, "start-up script failed")
        if time.monotonic() > deadline:
            raise _fail(inst, f"not up after {timeout_s:.0f} s")
        time.sleep(0.2)
    inst.ready_s = time.monotonic()
    return inst


def start(kind: str, number: int, workdir: Path, *, speedup: float = 1.0) -> Instance:
    """Start ``kind`` ("arducopter" from ``SITL_BIN``, "px4" from ``PX4_DIR``)."""
    if kind == "arducopter":
        binary = os.environ.get("SITL_BIN")
        if not binary:
            raise FirmwareError("SITL_BIN is not set")
        return start_arducopter(binary, number, workdir, speedup=speedup)
    if kind == "px4":
        px4_dir = os.environ.get("PX4_DIR")
        if not px4_dir:
            raise FirmwareError("PX4_DIR is not set")
        return start_px4(px4_dir, number, workdir)
    raise FirmwareError(f"unknown firmware {kind!r} (arducopter or px4)")


def enabled_firmwares() -> list[str]:
    """The firmwares the environment points at, in a fixed order."""
    out = []
    if os.environ.get("SITL_BIN"):
        out.append("arducopter")
    if os.environ.get("PX4_DIR"):
        out.append("px4")
    return out


def stop_on_sigterm() -> None:
    """SIGTERM raises KeyboardInterrupt, so that ``with`` blocks stop the firmware they started."""

    def interrupt(_sig: int, _frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupt)


def _main(argv: list[str]) -> int:
    if len(argv) != 2 or argv[0] not in ("arducopter", "px4") or not re.fullmatch(r"\d", argv[1]):
        print("usage: firmware.py arducopter|px4 N", file=sys.stderr)
        return 2
    stop_on_sigterm()
    wd = Path(tempfile.mkdtemp(prefix=f"dkp-{argv[0]}-"))
    try:
        with start(argv[0], int(argv[1]), wd, speedup=float(os.environ.get("SPEEDUP", "1"))) as i:
            print(f"{i.kind} {i.number} up: {i.url} and {i.url2}, log {i.log_path}")
            with contextlib.suppress(KeyboardInterrupt):
                while i.alive():
                    time.sleep(1)
    except FirmwareError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
