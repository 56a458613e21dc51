"""What the interop tests share: an independent observer, the test missions, parameters.

The :class:`Observer` is the ground truth of a check: it watches the firmware on its *second*
MAVLink port with pymavlink alone (none of the project's link code), so a test can tell whether
the vehicle really did what the project's code says it did (waypoints reached, DO_JUMP taken,
landed and disarmed).
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pymavlink import mavutil

from dronekit_plzen.mission_items import (
    CMD_CONDITION_DELAY,
    CMD_CONDITION_DISTANCE,
    CMD_DO_JUMP,
    CMD_DO_SET_CAM_TRIGG_DIST,
    CMD_DO_SET_SERVO,
    CMD_NAV_LOITER_TIME,
    CMD_NAV_RETURN_TO_LAUNCH,
    CMD_NAV_SPLINE_WAYPOINT,
    CMD_NAV_TAKEOFF,
    CMD_NAV_WAYPOINT,
    FRAME_GLOBAL_RELATIVE_ALT,
    FRAME_MISSION,
    MissionItem,
)

PREARM_BIT = 0x10000000  # MAV_SYS_STATUS_PREARM_CHECK
EKF_POS_HORIZ_ABS = 16  # EKF_STATUS_FLAGS
EKF_CONST_POS = 128
M_PER_DEG_LAT = 111_320.0
MAV_CMD_DO_SEND_BANNER = 42428
MAV_CMD_REQUEST_MESSAGE = 512
MSG_AUTOPILOT_VERSION = 148
MSG_HOME_POSITION = 242


def offset(home: tuple[float, float, float], north_m: float, east_m: float) -> tuple[float, float]:
    """(lat, lon) ``north_m``/``east_m`` from ``home`` (flat earth; fine for a few 100 m)."""
    lat, lon, _alt = home
    return (
        lat + north_m / M_PER_DEG_LAT,
        lon + east_m / (M_PER_DEG_LAT * math.cos(math.radians(lat))),
    )


def north_east(home: tuple[float, float, float], lat: float, lon: float) -> tuple[float, float]:
    """The inverse of :func:`offset`: metres north and east of ``home``."""
    return (
        (lat - home[0]) * M_PER_DEG_LAT,
        (lon - home[1]) * M_PER_DEG_LAT * math.cos(math.radians(home[0])),
    )


def wp(home: tuple[float, float, float], n: float, e: float, alt_m: float) -> MissionItem:
    lat, lon = offset(home, n, e)
    return MissionItem(
        command=CMD_NAV_WAYPOINT,
        frame=FRAME_GLOBAL_RELATIVE_ALT,
        lat_deg=lat,
        lon_deg=lon,
        alt_m=alt_m,
    )


#: index of the first waypoint of :func:`full_mission`, the DO_JUMP target
JUMP_TARGET = 1


def full_mission(home: tuple[float, float, float], alt_m: float = 15.0) -> list[MissionItem]:
    """Takeoff, waypoints, camera trigger distance, DO_JUMP (once more), loiter, RTL.

    Indices (the project's, without ArduPilot's home): 0 takeoff, 1 WP A, 2 trigger 10 m,
    3 WP B, 4 DO_JUMP to 1 (repeat 1), 5 LOITER_TIME 3 s at C, 6 trigger off, 7 RTL.
    WP A is therefore reached twice when DO_JUMP works.
    """
    lat, lon, _ = home
    takeoff = MissionItem(
        command=CMD_NAV_TAKEOFF,
        frame=FRAME_GLOBAL_RELATIVE_ALT,
        lat_deg=lat,
        lon_deg=lon,
        alt_m=alt_m,
    )
    c_lat, c_lon = offset(home, 0.0, 30.0)
    return [
        takeoff,
        wp(home, 30.0, 0.0, alt_m),
        MissionItem(command=CMD_DO_SET_CAM_TRIGG_DIST, frame=FRAME_MISSION, param1=10.0),
        wp(home, 30.0, 30.0, alt_m),
        MissionItem(command=CMD_DO_JUMP, frame=FRAME_MISSION, param1=JUMP_TARGET, param2=1),
        MissionItem(
            command=CMD_NAV_LOITER_TIME,
            frame=FRAME_GLOBAL_RELATIVE_ALT,
            param1=3.0,
            lat_deg=c_lat,
            lon_deg=c_lon,
            alt_m=alt_m,
        ),
        MissionItem(command=CMD_DO_SET_CAM_TRIGG_DIST, frame=FRAME_MISSION, param1=0.0),
        MissionItem(command=CMD_NAV_RETURN_TO_LAUNCH, frame=FRAME_MISSION),
    ]


#: :func:`conditions_mission`: the two waypoints (north m), the delay (s), the distance (m)
COND_WP1_M, COND_WP2_M, COND_DELAY_S, COND_DISTANCE_M = 40.0, 160.0, 3.0, 25.0


def conditions_mission(home: tuple[float, float, float], alt_m: float = 15.0) -> list[MissionItem]:
    """Takeoff; WP1; CONDITION_DELAY, DO_SET_SERVO (index 3), CONDITION_DISTANCE, DO_SET_SERVO
    (index 5); WP2; a CONDITION_DELAY never met before WP2's leg ends, DO_SET_SERVO (index 8);
    RTL. The DO commands after a condition run when it is met (ArduPilot's AP_Mission)."""
    lat, lon, _ = home

    def do(command: int, p1: float, p2: float = 0.0) -> MissionItem:
        return MissionItem(command=command, frame=FRAME_MISSION, param1=p1, param2=p2)

    return [
        MissionItem(
            command=CMD_NAV_TAKEOFF,
            frame=FRAME_GLOBAL_RELATIVE_ALT,
            lat_deg=lat,
            lon_deg=lon,
            alt_m=alt_m,
        ),
        wp(home, COND_WP1_M, 0.0, alt_m),
        do(CMD_CONDITION_DELAY, COND_DELAY_S),
        do(CMD_DO_SET_SERVO, 9, 1500),
        do(CMD_CONDITION_DISTANCE, COND_DISTANCE_M),
        do(CMD_DO_SET_SERVO, 10, 1500),
        wp(home, COND_WP2_M, 0.0, alt_m),
        do(CMD_CONDITION_DELAY, 600.0),
        do(CMD_DO_SET_SERVO, 11, 1500),
        MissionItem(command=CMD_NAV_RETURN_TO_LAUNCH, frame=FRAME_MISSION),
    ]


def spline_mission(home: tuple[float, float, float], alt_m: float = 20.0) -> list[MissionItem]:
    """Takeoff; a waypoint 100 m north; spline waypoints 100 m north 100 m east and 100 m east;
    a waypoint back over home; RTL. ArduCopter flies the splines as curves that overshoot the
    corners (see :mod:`dronekit_plzen.ap_spline`)."""
    lat, lon, _ = home

    def spline(n: float, e: float) -> MissionItem:
        la, lo = offset(home, n, e)
        return MissionItem(
            command=CMD_NAV_SPLINE_WAYPOINT,
            frame=FRAME_GLOBAL_RELATIVE_ALT,
            lat_deg=la,
            lon_deg=lo,
            alt_m=alt_m,
        )

    return [
        MissionItem(
            command=CMD_NAV_TAKEOFF,
            frame=FRAME_GLOBAL_RELATIVE_ALT,
            lat_deg=lat,
            lon_deg=lon,
            alt_m=alt_m,
        ),
        wp(home, 100.0, 0.0, alt_m),
        spline(100.0, 100.0),
        spline(0.0, 100.0),
        wp(home, 0.0, 0.0, alt_m),
        MissionItem(command=CMD_NAV_RETURN_TO_LAUNCH, frame=FRAME_MISSION),
    ]


def simple_mission(home: tuple[float, float, float], alt_m: float = 12.0) -> list[MissionItem]:
    """Takeoff, one waypoint 25 m north, RTL: the short flight of the fleet, GUI, pair checks."""
    lat, lon, _ = home
    return [
        MissionItem(
            command=CMD_NAV_TAKEOFF,
            frame=FRAME_GLOBAL_RELATIVE_ALT,
            lat_deg=lat,
            lon_deg=lon,
            alt_m=alt_m,
        ),
        wp(home, 25.0, 0.0, alt_m),
        MissionItem(command=CMD_NAV_RETURN_TO_LAUNCH, frame=FRAME_MISSION),
    ]


def grid_mission(
    home: tuple[float, float, float], n: int, alt_m: float = 30.0
) -> list[MissionItem]:
    """A takeoff and ``n - 2`` waypoints on a 20 × k grid within 200 m, then RTL."""
    lat, lon, _ = home
    items = [
        MissionItem(
            command=CMD_NAV_TAKEOFF,
            frame=FRAME_GLOBAL_RELATIVE_ALT,
            lat_deg=lat,
            lon_deg=lon,
            alt_m=alt_m,
        )
    ]
    for k in range(n - 2):
        row, col = divmod(k, 20)
        east = col * 8.0 if row % 2 == 0 else (19 - col) * 8.0
        items.append(wp(home, 10.0 + row * 8.0, east - 76.0, alt_m + (k % 7)))
    items.append(MissionItem(command=CMD_NAV_RETURN_TO_LAUNCH, frame=FRAME_MISSION))
    return items


@dataclass
class Seen:
    """What the observer saw, appended to by its thread (read after the flight)."""

    reached: list[int] = field(default_factory=list)
    #: each MISSION_ITEM_REACHED with where the aircraft was: (seq, north m, east m of home)
    reached_at: list[tuple[int, float, float]] = field(default_factory=list)
    #: the last GLOBAL_POSITION_INT (lat, lon)
    position: tuple[float, float] | None = None
    #: every GLOBAL_POSITION_INT while armed: (lat, lon, metres above home)
    track: list[tuple[float, float, float]] = field(default_factory=list)
    #: every GLOBAL_POSITION_INT while armed: (the MISSION_CURRENT seq then, ground speed m/s)
    speeds: list[tuple[int, float]] = field(default_factory=list)
    #: every GLOBAL_POSITION_INT while armed: (the MISSION_CURRENT seq then, climb rate m/s)
    climbs: list[tuple[int, float]] = field(default_factory=list)
    #: every GLOBAL_POSITION_INT while armed: (the MISSION_CURRENT seq then, its time_boot_ms
    #: in seconds, metres above home)
    heights: list[tuple[int, float, float]] = field(default_factory=list)
    #: every GLOBAL_POSITION_INT while armed with a heading: (MISSION_CURRENT seq, north m,
    #: heading degrees)
    headings: list[tuple[int, float, float]] = field(default_factory=list)
    mission_current: int = -1
    statustexts: list[str] = field(default_factory=list)
    modes: list[str] = field(default_factory=list)
    armed_ever: bool = False
    armed: bool = False
    max_rel_alt_m: float = 0.0
    rel_alt_m: float = 0.0
    landed_state: int = 0
    healthy_prearm: bool = False
    home: tuple[float, float, float] | None = None
    gps_fix: int = 0
    ekf_flags: int = 0
    camera_events: int = 0
    heartbeats: int = 0
    autopilot: int = -1
    version: dict[str, Any] = field(default_factory=dict)
    messages: dict[str, Any] = field(default_factory=dict)


class Observer:
    """A pymavlink connection on the firmware's second port, watching in a thread."""

    def __init__(self, url2: str, *, kind: str, source_system: int = 246) -> None:
        if url2.startswith("tcp://"):
            device = "tcp:" + url2[len("tcp://") :]
        elif url2.startswith("udpout://"):
            device = "udpout:" + url2[len("udpout://") :]
        else:
            raise ValueError(url2)
        self.kind = kind
        self.conn: Any = mavutil.mavlink_connection(
            device, source_system=source_system, source_component=191, autoreconnect=True
        )
        self.seen = Seen()
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name="observer", daemon=True)
        self._thread.start()

    # -------------------------------------------------------------- thread
    def _run(self) -> None:
        last_hb = 0.0
        last_req = 0.0
        while not self._stop.is_set():
            now = time.monotonic()
            try:
                if now - last_hb >= 0.5:
                    self.conn.mav.heartbeat_send(6, 8, 0, 0, 4)  # GCS, INVALID autopilot, ACTIVE
                    last_hb = now
                if now - last_req >= 5.0 and self.conn.target_system:
                    self._request_streams()
                    last_req = now
                msg = self.conn.recv_match(blocking=True, timeout=0.2)
            except (OSError, ConnectionError):
                time.sleep(0.2)
                continue
            if msg is not None:
                self._note(msg)

    def _request_streams(self) -> None:
        ts, tc = self.conn.target_system, self.conn.target_component or 1
        if self.kind == "arducopter":
            self.conn.mav.request_data_stream_send(ts, tc, 0, 4, 1)
        self.conn.mav.command_long_send(ts, tc, 511, 0, MSG_HOME_POSITION, 1_000_000, 0, 0, 0, 0, 0)

    def _note(self, msg: Any) -> None:
        t = msg.get_type()
        s = self.seen
        with self._lock:
            s.messages[t] = msg
            if t == "HEARTBEAT" and msg.type != 6 and msg.autopilot != 8:
                s.heartbeats += 1
                s.autopilot = msg.autopilot
                s.armed = bool(msg.base_mode & 0x80)
                s.armed_ever = s.armed_ever or s.armed
                mode = mavutil.mode_string_v10(msg)
                if not s.modes or s.modes[-1] != mode:
                    s.modes.append(mode)
            elif t == "MISSION_ITEM_REACHED":
                if not s.reached or s.reached[-1] != msg.seq:
                    s.reached.append(int(msg.seq))
                    if s.position is not None and s.home is not None:
                        north, east = north_east(s.home, *s.position)
                        s.reached_at.append((int(msg.seq), north, east))
            elif t == "MISSION_CURRENT":
                s.mission_current = int(msg.seq)
            elif t == "STATUSTEXT":
                s.statustexts.append(str(msg.text))
            elif t == "GLOBAL_POSITION_INT":
                s.rel_alt_m = msg.relative_alt / 1000.0
                s.position = (msg.lat / 1e7, msg.lon / 1e7)
                if s.armed:
                    s.track.append((msg.lat / 1e7, msg.lon / 1e7, s.rel_alt_m))
                    s.speeds.append((s.mission_current, math.hypot(msg.vx, msg.vy) / 100.0))
                    s.climbs.append((s.mission_current, -msg.vz / 100.0))  # vz: cm/s down
                    s.heights.append((s.mission_current, msg.time_boot_ms / 1000.0, s.rel_alt_m))
                    if msg.hdg != 65535 and s.home is not None:
                        north = north_east(s.home, *s.position)[0]
                        s.headings.append((s.mission_current, north, msg.hdg / 100.0))
                s.max_rel_alt_m = max(s.max_rel_alt_m, s.rel_alt_m)
            elif t == "SYS_STATUS":
                s.healthy_prearm = bool(msg.onboard_control_sensors_health & PREARM_BIT)
            elif t == "HOME_POSITION":
                s.home = (msg.latitude / 1e7, msg.longitude / 1e7, msg.altitude / 1000.0)
            elif t == "EKF_STATUS_REPORT":
                s.ekf_flags = int(msg.flags)
            elif t == "GPS_RAW_INT":
                s.gps_fix = int(msg.fix_type)
            elif t == "EXTENDED_SYS_STATE":
                s.landed_state = int(msg.landed_state)
            elif t in ("CAMERA_FEEDBACK", "CAMERA_TRIGGER", "CAMERA_IMAGE_CAPTURED"):
                s.camera_events += 1
            elif t == "AUTOPILOT_VERSION":
                raw = bytes(msg.flight_custom_version)
                s.version = {
                    "flight_sw_version": int(msg.flight_sw_version),
                    "flight_custom_version": _git_hash(raw),
                }

    # -------------------------------------------------------------- API
    def wait(self, pred: Callable[[Seen], bool], timeout_s: float, what: str) -> Seen:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            with self._lock:
                if pred(self.seen):
                    return self.seen
            time.sleep(0.1)
        with self._lock:
            raise AssertionError(
                f"observer: timed out after {timeout_s:.0f} s waiting for {what}; "
                f"modes {self.seen.modes[-5:]}, armed {self.seen.armed}, "
                f"alt {self.seen.rel_alt_m:.1f} m, reached {self.seen.reached}, "
                f"last texts {self.seen.statustexts[-5:]}"
            )

    def wait_ready(self, timeout_s: float = 120.0) -> Seen:
        """Heartbeats, a 3D fix, home set, the pre-arm bit healthy and (ArduPilot) the EKF's
        absolute horizontal position in use: ArduCopter reports pre-arm healthy seconds before
        its EKF uses GPS, and refuses GUIDED/AUTO until then."""
        self.wait(lambda s: s.heartbeats > 0, 30.0, "a heartbeat")

        def ready(s: Seen) -> bool:
            base = s.healthy_prearm and s.home is not None and s.gps_fix >= 3
            if self.kind != "arducopter":
                return base
            ekf_ok = bool(s.ekf_flags & EKF_POS_HORIZ_ABS) and not s.ekf_flags & EKF_CONST_POS
            return base and ekf_ok

        return self.wait(ready, timeout_s, "ready to fly (pre-arm bit, 3D fix, home, EKF on GPS)")

    def wait_landed_disarmed(self, timeout_s: float) -> Seen:
        return self.wait(
            lambda s: s.armed_ever and not s.armed and s.max_rel_alt_m > 3.0,
            timeout_s,
            "the flight to end (was armed, flew, now disarmed)",
        )

    def command(self, command: int, *params: float) -> None:
        p = [float(x) for x in (*params, 0, 0, 0, 0, 0, 0, 0)[:7]]
        self.conn.mav.command_long_send(
            self.conn.target_system, self.conn.target_component or 1, command, 0, *p
        )

    def version_string(self, timeout_s: float = 10.0) -> str:
        """The firmware's own words: AUTOPILOT_VERSION and (ArduPilot) its banner STATUSTEXT."""
        self.command(MAV_CMD_REQUEST_MESSAGE, MSG_AUTOPILOT_VERSION)
        if self.kind == "arducopter":
            self.command(MAV_CMD_DO_SEND_BANNER)
        self.wait(lambda s: bool(s.version), timeout_s, "AUTOPILOT_VERSION")
        time.sleep(1.0)
        v = self.seen.version["flight_sw_version"]
        major, minor, patch, vtype = v >> 24, (v >> 16) & 0xFF, (v >> 8) & 0xFF, v & 0xFF
        kinds = {0: "dev", 64: "alpha", 128: "beta", 192: "rc", 255: "official"}
        text = (
            f"{major}.{minor}.{patch} {kinds.get(vtype, vtype)} "
            f"(git {self.seen.version['flight_custom_version']})"
        )
        banner = [
            t
            for t in self.seen.statustexts
            if t.startswith(("ArduCopter V", "PX4 v")) or " V4." in t
        ]
        if banner:
            text += f"; banner: {banner[0]}"
        return text

    def close(self) -> None:
        self._stop.set()
        self._thread.join(2.0)
        self.conn.close()

    def __enter__(self) -> Observer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _git_hash(raw: bytes) -> str:
    """AUTOPILOT_VERSION.flight_custom_version: ArduPilot sends hash characters, PX4 the hash's
    leading bytes as a little-endian integer."""
    text = raw.rstrip(b"\0")
    if text and all(0x30 <= b < 0x7F for b in text):
        return text.decode("ascii")
    return raw[::-1].hex()


#: how long ``fly`` may take for a flight of the interop checks
FLIGHT_TIMEOUT_S = 420.0


def fly_cli(plan: Path, url: str, *extra: str, timeout_s: float = FLIGHT_TIMEOUT_S) -> Any:
    """Run ``dronekit-plzen fly PLAN --connect URL --json`` and print what it said."""
    cmd = [sys.executable, "-m", "dronekit_plzen", "fly", str(plan), "--connect", url, "--json"]
    cmd += ["--timeout", str(int(timeout_s)), *extra]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout_s + 60)
    print(f"$ {' '.join(cmd[2:])}\n-> exit {proc.returncode}")
    print(proc.stderr[-3000:])
    return proc


def assert_cli_ok(proc: Any) -> dict[str, Any]:
    """``fly`` ended with exit 0: its JSON summary."""
    err = [ln for ln in proc.stderr.splitlines() if ln.startswith("error:")]
    assert proc.returncode == 0, (
        f"fly exited {proc.returncode}: {err[-1] if err else proc.stderr[-500:]}"
    )
    return dict(json.loads(proc.stdout))
