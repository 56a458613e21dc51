"""Test peers for the link layer: a scripted MAVLink vehicle and a lossy UDP proxy.

The scripted vehicle is a real protocol peer on real loopback sockets (UDP like PX4 SITL, or a
TCP server like ArduPilot SITL). It decodes with pymavlink's own parser and signs/verifies with
pymavlink's own signing, so it checks our codec independently. Its behaviour can be scripted
(results per command, dropped commands) to exercise the protocol paths a well-behaved simulator
never takes. End-to-end flights use ``simulators.SimFleet``.
"""

from __future__ import annotations

import math
import random
import select
import socket
import threading
import time
from collections import deque
from collections.abc import Iterator
from typing import Any

import pytest
from dkp_testkit import free_simulator_offset
from pymavlink.dialects.v20 import ardupilotmega as mavlink2

from dronekit_plzen.mission_items import (
    CMD_DO_CHANGE_SPEED,
    CMD_NAV_LAND,
    CMD_NAV_TAKEOFF,
    CMD_NAV_WAYPOINT,
    FRAME_GLOBAL_RELATIVE_ALT_INT,
    FRAME_MISSION,
    MissionItem,
)

PX4 = mavlink2.MAV_AUTOPILOT_PX4
APM = mavlink2.MAV_AUTOPILOT_ARDUPILOTMEGA
HOME = (49.7475, 13.3776, 310.0)  # Plzeň, náměstí Republiky


class _Out:
    """File-like sink for pymavlink's encoder: sends each frame on the peer's socket."""

    def __init__(self, peer: ScriptedVehicle) -> None:
        self.peer = peer

    def write(self, data: bytes) -> None:
        self.peer._raw_send(bytes(data))


def _as_stored(item: dict[str, Any], flavour: str) -> dict[str, Any]:
    """A mission item as the firmware stores and reports it (the simulator's model of it)."""
    from simulators.mission_store import reported_frame, store_item

    sent = MissionItem(
        command=int(item["command"]),
        frame=int(item["frame"]),
        param1=item["param1"],
        param2=item["param2"],
        param3=item["param3"],
        param4=item["param4"],
        lat_deg=item["x"] / 1e7,
        lon_deg=item["y"] / 1e7,
        alt_m=item["z"],
        autocontinue=bool(item["autocontinue"]),
    )
    _result, stored = store_item(sent, flavour)
    if stored is None:  # refusals are not scripted here: keep the item as sent
        return item
    w = stored.to_wire(0)
    w["frame"] = reported_frame(w["frame"], flavour == "px4", int_request=True)
    keys = ("frame", "command", "autocontinue", "param1", "param2", "param3", "param4")
    return {**{k: w[k] for k in keys}, "x": w["x"], "y": w["y"], "z": w["z"]}


class ScriptedVehicle:
    """A small multicopter that speaks MAVLink 2 like PX4 or ArduPilot."""

    def __init__(
        self,
        flavour: str = "px4",
        sysid: int = 1,
        *,
        udp_target: tuple[str, int] | None = None,
        tcp: bool = False,
        speedup: float = 20.0,
        legacy_requests: bool = False,
        item_timeout_s: float = 0.05,
        noise: bool = False,
        seed: int = 0,
        max_items: int = 10_000,
    ) -> None:
        self.max_items = max_items
        self.flavour = flavour
        self.sysid = sysid
        self.speedup = speedup
        self.legacy_requests = legacy_requests
        self.item_timeout_s = item_timeout_s
        self.noise = noise
        self.rng = random.Random(seed)
        self.mav = mavlink2.MAVLink(_Out(self), srcSystem=sysid, srcComponent=1)
        self.mav.robust_parsing = True
        self.lock = threading.Lock()
        # sockets
        self.udp_target = udp_target
        self.tcp_server: socket.socket | None = None
        self.tcp_conn: socket.socket | None = None
        self.gcs_addr: tuple[str, int] | None = None
        if tcp:
            self.tcp_server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            self.tcp_server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            self.tcp_server.bind(("127.0.0.1", 0))
            self.tcp_server.listen(1)
            self.port = self.tcp_server.getsockname()[1]
            self.udp = None
        else:
            self.udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            self.udp.bind(("127.0.0.1", 0))
            self.port = self.udp.getsockname()[1]
        # vehicle state
        self.armed = False
        self.mode = "AUTO.LOITER" if flavour == "px4" else "STABILIZE"
        self.lat, self.lon, self.alt_rel = HOME[0], HOME[1], 0.0
        self.home = HOME
        self.target: tuple[float, float, float] | None = None
        self.speed_m_s = 10.0
        self.landed_state = 1
        self.streaming = flavour == "px4"
        self.silent_until = 0.0
        # missions: type -> list of MISSION_ITEM_INT field dicts
        self.missions: dict[int, list[dict[str, Any]]] = {0: [], 1: [], 2: []}
        self.current_seq = 0
        self.upload: dict[str, Any] | None = None
        # scripting
        self.script: dict[int, deque[int]] = {}
        self.drop_commands: dict[int, int] = {}
        self.mute_request_list_until = 0.0  # monotonic time: MISSION_REQUEST_LIST unanswered
        self.received: list[Any] = []
        self.commands_seen: list[tuple[int, int]] = []  # (command, confirmation)
        self.signing_key: bytes | None = None
        self.stop_event = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True, name=f"peer-{sysid}")
        self.thread.start()

    # ------------------------------------------------------------ sockets
    def _raw_send(self, data: bytes) -> None:
        if self.noise and self.rng.random() < 0.3:
            junk = bytes(self.rng.randrange(256) for _ in range(self.rng.randrange(1, 40)))
            data = junk + b"\xfd\x09" + data  # a false start marker right before a real frame
        try:
            if self.udp is not None and self.udp_target is not None:
                self.udp.sendto(data, self.udp_target)
            elif self.tcp_conn is not None:
                self.tcp_conn.sendall(data)
        except OSError:
            pass

    def drop_connection(self) -> None:
        """Close the TCP connection and the server (a vehicle that went away)."""
        with self.lock:
            for s in (self.tcp_conn, self.tcp_server):
                if s is not None:
                    s.close()
            self.tcp_conn = None
            self.tcp_server = None

    def listen_again(self) -> None:
        srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        srv.bind(("127.0.0.1", self.port))
        srv.listen(1)
        with self.lock:
            self.tcp_server = srv

    def close(self) -> None:
        self.stop_event.set()
        self.thread.join(timeout=5)
        for s in (self.udp, self.tcp_conn, self.tcp_server):
            if s is not None:
                s.close()

    # ------------------------------------------------------------ main loop
    def _run(self) -> None:
        last_fast = last_slow = 0.0
        while not self.stop_event.is_set():
            socks = [s for s in (self.udp, self.tcp_server, self.tcp_conn) if s is not None]
            try:
                ready, _, _ = select.select(socks, [], [], min(0.02, self.item_timeout_s))
            except (OSError, ValueError):
                ready = []
            for s in ready:
                self._on_readable(s)
            now = time.monotonic()
            with self.lock:
                self._step(now)
                if now < self.silent_until:
                    continue
                if now - last_fast >= 0.05:
                    dt = now - last_fast if last_fast else 0.05
                    last_fast = now
                    self._fly(min(dt, 0.2))
                    if self.streaming:
                        self._send_fast()
                if now - last_slow >= 0.2:
                    last_slow = now
                    self._send_heartbeat()
                    if self.streaming:
                        self._send_slow()

    def _on_readable(self, s: socket.socket) -> None:
        try:
            if s is self.tcp_server:
                conn, _ = s.accept()
                conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                with self.lock:
                    self.tcp_conn = conn
                return
            if s is self.udp:
                data, _addr = s.recvfrom(65536)
            else:
                data = s.recv(65536)
                if not data:
                    with self.lock:
                        if self.tcp_conn is s:
                            self.tcp_conn = None
                    s.close()
                    return
        except OSError:
            return
        with self.lock:
            try:
                msgs = self.mav.parse_buffer(data) or []
            except mavlink2.MAVError:
                msgs = []
            for m in msgs:
                if m.get_type() == "BAD_DATA":
                    continue
                self.received.append(m)
                self._handle(m)

    # ------------------------------------------------------------ telemetry
    def _custom_mode(self) -> int:
        if self.flavour == "px4":
            main, sub = {
                "AUTO.MISSION": (4, 4),
                "AUTO.LOITER": (4, 3),
                "AUTO.RTL": (4, 5),
                "AUTO.LAND": (4, 6),
                "AUTO.TAKEOFF": (4, 2),
                "POSCTL": (3, 0),
                "MANUAL": (1, 0),
            }[self.mode]
            return (main << 16) | (sub << 24)
        return {"STABILIZE": 0, "AUTO": 3, "GUIDED": 4, "LOITER": 5, "RTL": 6, "LAND": 9}[self.mode]

    def _send_heartbeat(self) -> None:
        base = mavlink2.MAV_MODE_FLAG_CUSTOM_MODE_ENABLED
        if self.armed:
            base |= mavlink2.MAV_MODE_FLAG_SAFETY_ARMED
        ap = PX4 if self.flavour == "px4" else APM
        self.mav.heartbeat_send(mavlink2.MAV_TYPE_QUADROTOR, ap, base, self._custom_mode(), 4)

    def _send_fast(self) -> None:
        self.mav.global_position_int_send(
            0,
            round(self.lat * 1e7),
            round(self.lon * 1e7),
            round((self.home[2] + self.alt_rel) * 1000),
            round(self.alt_rel * 1000),
            0,
            0,
            0,
            9000,
        )
        self.mav.attitude_send(0, 0.01, -0.02, math.radians(90), 0, 0, 0)

    def _send_slow(self) -> None:
        prearm = 0x10000000  # ready to arm: PX4 sets the bit in the health mask only
        shown = 1 if self.flavour == "px4" else 1 | prearm
        self.mav.sys_status_send(shown, shown, 1 | prearm, 100, 15800, 1230, 87, 0, 0, 0, 0, 0, 0)
        self.mav.gps_raw_int_send(
            0, 3, round(self.lat * 1e7), round(self.lon * 1e7), 0, 80, 120, 0, 0, 14
        )
        self.mav.home_position_send(
            round(self.home[0] * 1e7),
            round(self.home[1] * 1e7),
            round(self.home[2] * 1000),
            0,
            0,
            0,
            [1, 0, 0, 0],
            0,
            0,
            0,
        )
        self.mav.extended_sys_state_send(0, self.landed_state)
        total = len(self.missions[0])
        self.mav.mission_current_send(self.current_seq, total, 0, 0)

    # ------------------------------------------------------------ flight
    def _fly(self, dt: float) -> None:
        if not self.armed:
            return
        step = self.speed_m_s * self.speedup * dt
        if self.mode in ("AUTO.MISSION", "AUTO") and self.target is None:
            self._next_mission_target()
        if self.mode in ("AUTO.LAND", "LAND", "AUTO.RTL", "RTL") and self.target is None:
            if self.mode in ("AUTO.RTL", "RTL"):
                self.target = (self.home[0], self.home[1], max(self.alt_rel, 30.0))
            else:
                self.target = (self.lat, self.lon, 0.0)
        if self.target is None:
            return
        tlat, tlon, talt = self.target
        dn = (tlat - self.lat) * 111_320.0
        de = (tlon - self.lon) * 111_320.0 * math.cos(math.radians(self.lat))
        du = talt - self.alt_rel
        d = math.sqrt(dn * dn + de * de + du * du)
        if d <= step:
            self.lat, self.lon, self.alt_rel = tlat, tlon, talt
            self.target = None
            self._arrived()
        else:
            f = step / d
            self.lat += dn * f / 111_320.0
            self.lon += de * f / (111_320.0 * math.cos(math.radians(self.lat)))
            self.alt_rel += du * f
        self.landed_state = 2 if self.alt_rel > 0.2 else 1

    def _next_mission_target(self) -> None:
        items = self.missions[0]
        while self.current_seq < len(items):
            it = items[self.current_seq]
            if self.flavour == "ardupilot" and self.current_seq == 0:
                self.current_seq += 1
                continue
            if it["command"] in (16, 22, 21, 20):
                if it["command"] == 20:
                    self.mode = "AUTO.RTL" if self.flavour == "px4" else "RTL"
                    return
                alt = 0.0 if it["command"] == 21 else it["z"]
                lat = it["x"] / 1e7 or self.lat
                lon = it["y"] / 1e7 or self.lon
                self.target = (lat, lon, alt)
                return
            self.current_seq += 1
        # mission done: land where we are
        self.mode = "AUTO.LAND" if self.flavour == "px4" else "LAND"

    def _arrived(self) -> None:
        if self.mode in ("AUTO.MISSION", "AUTO"):
            self.mav.mission_item_reached_send(self.current_seq)
            self.current_seq += 1
            self.mav.mission_current_send(self.current_seq, len(self.missions[0]), 0, 0)
        if self.alt_rel <= 0.01 and self.mode in (
            "AUTO.LAND",
            "LAND",
            "AUTO.RTL",
            "RTL",
            "AUTO",
            "AUTO.MISSION",
        ):
            self.armed = False
            self.landed_state = 1
        if self.mode in ("AUTO.RTL", "RTL") and self.alt_rel > 0:
            self.target = (self.home[0], self.home[1], 0.0)

    def _step(self, now: float) -> None:
        up = self.upload
        if up is not None and now - up["t"] > self.item_timeout_s:
            up["tries"] += 1
            if up["tries"] > 40:
                self.upload = None
                return
            up["t"] = now
            self._request(up["expected"], up["type"])

    # ------------------------------------------------------------ protocol
    def _ack(self, command: int, result: int, progress: int = 0) -> None:
        self.mav.command_ack_send(command, result, progress, 0, 255, 190)

    def _handle(self, m: Any) -> None:
        t = m.get_type()
        tgt = getattr(m, "target_system", None)
        if tgt not in (None, 0, self.sysid):
            return
        if t in ("COMMAND_LONG", "COMMAND_INT"):
            self._command(m, t)
        elif t == "REQUEST_DATA_STREAM":
            self.streaming = True
        elif t == "MISSION_COUNT":
            self._mission_count(m)
        elif t in ("MISSION_ITEM_INT", "MISSION_ITEM"):
            self._mission_item(m)
        elif t == "MISSION_REQUEST_LIST":
            if time.monotonic() < self.mute_request_list_until:
                return  # a vehicle (or a ground computer) stalled for a while
            self.mav.mission_count_send(
                255, 190, len(self.missions[m.mission_type]), m.mission_type
            )
        elif t in ("MISSION_REQUEST_INT", "MISSION_REQUEST"):
            items = self.missions[m.mission_type]
            if m.seq < len(items):
                it = items[m.seq]
                self.mav.mission_item_int_send(
                    255,
                    190,
                    m.seq,
                    it["frame"],
                    it["command"],
                    int(m.seq == self.current_seq),
                    it["autocontinue"],
                    it["param1"],
                    it["param2"],
                    it["param3"],
                    it["param4"],
                    it["x"],
                    it["y"],
                    it["z"],
                    m.mission_type,
                )
        elif t == "MISSION_CLEAR_ALL":
            self.missions[m.mission_type] = []
            self.mav.mission_ack_send(255, 190, 0, m.mission_type)
        elif t == "SETUP_SIGNING":
            key = bytes(m.secret_key)
            if any(key):
                self.signing_key = key
                self.mav.signing.secret_key = key
                self.mav.signing.sign_outgoing = True
                self.mav.signing.timestamp = m.initial_timestamp
                self.mav.signing.allow_unsigned_callback = lambda mav, msgid: False
            else:
                self.signing_key = None
                self.mav.signing.secret_key = None
                self.mav.signing.sign_outgoing = False

    def _request(self, seq: int, mission_type: int) -> None:
        if self.legacy_requests:
            self.mav.mission_request_send(255, 190, seq, mission_type)
        else:
            self.mav.mission_request_int_send(255, 190, seq, mission_type)

    def _mission_count(self, m: Any) -> None:
        up = self.upload
        if up is not None and up["count"] == m.count and up["type"] == m.mission_type:
            self._request(up["expected"], up["type"])  # a duplicated MISSION_COUNT
            return
        if m.count > self.max_items:
            self.mav.mission_ack_send(255, 190, mavlink2.MAV_MISSION_NO_SPACE, m.mission_type)
            return
        if m.count == 0:
            self.missions[m.mission_type] = []
            self.mav.mission_ack_send(255, 190, 0, m.mission_type)
            return
        self.upload = {
            "count": m.count,
            "type": m.mission_type,
            "expected": 0,
            "items": [],
            "t": time.monotonic(),
            "tries": 0,
        }
        self._request(0, m.mission_type)

    def _mission_item(self, m: Any) -> None:
        up = self.upload
        if up is None:
            # the upload is complete: a resent final item means our ACK was lost
            if m.seq == len(self.missions[m.mission_type]) - 1:
                self.mav.mission_ack_send(255, 190, 0, m.mission_type)
            return
        if m.seq != up["expected"] or m.mission_type != up["type"]:
            if self.flavour == "ardupilot":
                self.mav.mission_ack_send(
                    255, 190, mavlink2.MAV_MISSION_INVALID_SEQUENCE, up["type"]
                )
            self._request(up["expected"], up["type"])
            return
        x, y = (
            (m.x, m.y)
            if m.get_type() == "MISSION_ITEM_INT"
            else (round(m.x * 1e7), round(m.y * 1e7))
        )
        item = {
            f: getattr(m, f)
            for f in (
                "frame",
                "command",
                "autocontinue",
                "param1",
                "param2",
                "param3",
                "param4",
                "z",
            )
        }
        item.update(x=x, y=y)
        if self.flavour == "ardupilot" and up["type"] == 0 and m.seq == 0:
            item.update(
                frame=0, x=round(self.home[0] * 1e7), y=round(self.home[1] * 1e7), z=self.home[2]
            )
        elif up["type"] == 0:
            item = _as_stored(item, self.flavour)
        elif up["type"] == 1 or self.flavour == "ardupilot":
            item["autocontinue"] = 0  # fence vertices (and ArduPilot's rally points), as stored
        up["items"].append(item)
        up["expected"] += 1
        up["t"] = time.monotonic()
        up["tries"] = 0
        if up["expected"] == up["count"]:
            self.missions[up["type"]] = up["items"]
            self.upload = None
            if up["type"] == 0:
                self.current_seq = 1 if self.flavour == "ardupilot" else 0
            self.mav.mission_ack_send(255, 190, 0, up["type"])
        else:
            self._request(up["expected"], up["type"])

    def _command(self, m: Any, t: str) -> None:
        cmd = m.command
        conf = getattr(m, "confirmation", 0)
        self.commands_seen.append((cmd, conf))
        if self.drop_commands.get(cmd, 0) > 0:
            self.drop_commands[cmd] -= 1
            return
        scripted = self.script.get(cmd)
        if scripted:
            result = scripted.popleft()
            if result == mavlink2.MAV_RESULT_IN_PROGRESS:
                self._ack(cmd, result, 40)
                self._ack(cmd, result, 80)
                result = scripted.popleft() if scripted else 0
            self._ack(cmd, result)
            return
        result = self._execute(m, t)
        self._ack(cmd, result)

    def _execute(self, m: Any, t: str) -> int:
        cmd = m.command
        p = (m.param1, m.param2, m.param3, m.param4)
        if cmd == 400:  # arm/disarm
            if p[0] == 1:
                self.armed = True
            else:
                if self.alt_rel > 0.5 and p[1] != 21196:
                    return mavlink2.MAV_RESULT_DENIED
                self.armed = False
            return 0
        if cmd == 176:  # set mode
            name = self._mode_from(int(p[1]), int(p[2]))
            if name is None:
                return mavlink2.MAV_RESULT_UNSUPPORTED
            self.mode = name
            self.target = None
            return 0
        if cmd == 22:  # takeoff
            if not self.armed:
                return mavlink2.MAV_RESULT_DENIED
            if self.flavour == "ardupilot":
                if self.mode != "GUIDED":
                    return mavlink2.MAV_RESULT_FAILED
                alt = m.param7
            else:
                alt = m.param7 - self.home[2]
                self.mode = "AUTO.TAKEOFF"
            self.target = (self.lat, self.lon, alt)
            return 0
        if cmd == 21:
            self.mode = "AUTO.LAND" if self.flavour == "px4" else "LAND"
            self.target = None
            return 0
        if cmd == 20:
            self.mode = "AUTO.RTL" if self.flavour == "px4" else "RTL"
            self.target = None
            return 0
        if cmd == 192:  # reposition (COMMAND_INT)
            if t != "COMMAND_INT":
                return mavlink2.MAV_RESULT_COMMAND_INT_ONLY
            alt = m.z - self.home[2] if m.frame == 5 else m.z
            self.target = (m.x / 1e7, m.y / 1e7, alt)
            self.mode = "AUTO.LOITER" if self.flavour == "px4" else "GUIDED"
            return 0
        if cmd == 178:
            self.speed_m_s = p[1]
            return 0
        if cmd == 300:
            if not self.missions[0]:
                return mavlink2.MAV_RESULT_DENIED
            self.mode = "AUTO.MISSION" if self.flavour == "px4" else "AUTO"
            self.target = None
            return 0
        if cmd == 224:
            self.current_seq = int(p[0])
            self.target = None
            self.mav.mission_current_send(self.current_seq, len(self.missions[0]), 0, 0)
            return 0
        if cmd == 512:
            if int(p[0]) == mavlink2.MAVLINK_MSG_ID_AUTOPILOT_VERSION:
                self.mav.autopilot_version_send(
                    0, 0, 0, 0, 0, [0] * 8, [0] * 8, [0] * 8, 0, 0, 42, [0] * 18
                )
                return 0
            return mavlink2.MAV_RESULT_UNSUPPORTED
        if cmd == 511:
            self.streaming = True
            return 0
        if cmd == 246:
            if self.armed:
                return mavlink2.MAV_RESULT_DENIED
            self.silent_until = time.monotonic() + 0.5
            return 0
        if cmd == 179:
            if p[0] == 1:
                self.home = (self.lat, self.lon, self.home[2] + self.alt_rel)
            else:
                self.home = (m.param5, m.param6, m.param7)
            return 0
        return mavlink2.MAV_RESULT_UNSUPPORTED

    def _mode_from(self, main: int, sub: int) -> str | None:
        if self.flavour == "px4":
            table = {
                (4, 4): "AUTO.MISSION",
                (4, 3): "AUTO.LOITER",
                (4, 5): "AUTO.RTL",
                (4, 6): "AUTO.LAND",
                (3, 0): "POSCTL",
                (1, 0): "MANUAL",
                (4, 2): "AUTO.TAKEOFF",
            }
            return table.get((main, sub))
        return {0: "STABILIZE", 3: "AUTO", 4: "GUIDED", 5: "LOITER", 6: "RTL", 9: "LAND"}.get(main)


class LossyUdpProxy:
    """Forwards UDP both ways, losing, duplicating and reordering datagrams (seeded)."""

    def __init__(
        self,
        gcs_port: int,
        *,
        loss: float = 0.0,
        dup: float = 0.0,
        reorder: float = 0.0,
        seed: int = 0,
        listen_port: int = 0,
    ) -> None:
        self.gcs = ("127.0.0.1", gcs_port)
        self.loss, self.dup, self.reorder = loss, dup, reorder
        self.rng = random.Random(seed)
        self.vehicle_side = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.vehicle_side.bind(("127.0.0.1", listen_port))
        self.port = self.vehicle_side.getsockname()[1]  # the vehicle sends here
        self.gcs_side = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.gcs_side.bind(("127.0.0.1", 0))
        self.vehicle_addr: tuple[str, int] | None = None
        self.blackout = False
        self.held: dict[int, tuple[bytes, Any] | None] = {0: None, 1: None}
        self.stats = {"forwarded": 0, "lost": 0, "duplicated": 0, "reordered": 0}
        self.stop_event = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True, name="lossy-proxy")
        self.thread.start()

    def _emit(self, direction: int, data: bytes, sock: socket.socket, addr: Any) -> None:
        if self.blackout or self.rng.random() < self.loss:
            self.stats["lost"] += 1
            return
        copies = 2 if self.rng.random() < self.dup else 1
        self.stats["duplicated"] += copies - 1
        if self.held[direction] is None and self.rng.random() < self.reorder:
            self.held[direction] = (data, addr)  # sent after the next datagram
            self.stats["reordered"] += 1
            return
        for _ in range(copies):
            sock.sendto(data, addr)
            self.stats["forwarded"] += 1
        held = self.held[direction]
        if held is not None:
            self.held[direction] = None
            sock.sendto(held[0], held[1])

    def _run(self) -> None:
        while not self.stop_event.is_set():
            try:
                ready, _, _ = select.select([self.vehicle_side, self.gcs_side], [], [], 0.05)
            except (OSError, ValueError):
                return
            for s in ready:
                try:
                    data, addr = s.recvfrom(65536)
                except OSError:
                    continue
                if s is self.vehicle_side:
                    self.vehicle_addr = addr
                    self._emit(0, data, self.gcs_side, self.gcs)
                elif self.vehicle_addr is not None:
                    self._emit(1, data, self.vehicle_side, self.vehicle_addr)

    def close(self) -> None:
        self.stop_event.set()
        self.thread.join(timeout=5)
        self.vehicle_side.close()
        self.gcs_side.close()


@pytest.fixture
def make_vehicle() -> Iterator[Any]:
    made: list[ScriptedVehicle] = []

    def factory(*args: Any, **kw: Any) -> ScriptedVehicle:
        v = ScriptedVehicle(*args, **kw)
        made.append(v)
        return v

    yield factory
    for v in made:
        v.close()


@pytest.fixture
def make_proxy() -> Iterator[Any]:
    made: list[LossyUdpProxy] = []

    def factory(*args: Any, **kw: Any) -> LossyUdpProxy:
        p = LossyUdpProxy(*args, **kw)
        made.append(p)
        return p

    yield factory
    for p in made:
        p.close()


@pytest.fixture
def home() -> tuple[float, float, float]:
    return HOME


@pytest.fixture(params=["px4", "ardupilot"])
def flavour(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def pair(flavour: str, make_vehicle: Any) -> Iterator[tuple[Any, Any, ScriptedVehicle]]:
    """(link, vehicle, peer): PX4 flavour over UDP, ArduPilot flavour over TCP."""
    from dronekit_plzen.link import connect

    if flavour == "px4":
        link = connect("udpin://127.0.0.1:0")
        assert link.local_address is not None
        peer = make_vehicle("px4", 1, udp_target=("127.0.0.1", link.local_address[1]))
    else:
        peer = make_vehicle("ardupilot", 1, tcp=True)
        link = connect(f"tcp://127.0.0.1:{peer.port}")
    with link:
        v = link.wait_vehicle(timeout_s=5)
        v.wait_for(
            lambda s: (
                s.home is not None
                and s.position_known
                and not math.isnan(s.roll_deg)
                and s.gps_fix_type > 0
                and s.landed_state > 0
            ),
            5,
            "telemetry",
        )
        yield link, v, peer


@pytest.fixture
def sim_factory() -> Iterator[Any]:
    """Start ``simulators.SimFleet`` fleets on a random port offset (other helpers run too)."""
    from simulators import SimFleet

    made: list[Any] = []

    def factory(n: int = 1, autopilot: str = "px4", **kw: Any) -> Any:
        last: Exception | None = None
        for _attempt in range(5):
            off = free_simulator_offset()
            kw.setdefault("speedup", 20.0)
            fleet = SimFleet(n_vehicles=n, autopilot=autopilot, port_offset=off, **kw)
            try:
                fleet.start()
            except Exception as exc:  # a port taken by someone else: another offset
                last = exc
                continue
            made.append(fleet)
            return fleet
        raise RuntimeError(f"no free port offset: {last}")

    yield factory
    for f in made:
        f.stop()


def sim_url(fleet: Any, i: int) -> str:
    if fleet.autopilot == "px4":
        return f"udpin://127.0.0.1:{fleet.ports(i)['api_remote']}"
    return f"tcp://127.0.0.1:{fleet.ports(i)['tcp']}"


@pytest.fixture
def sim_url_of() -> Any:
    return sim_url


def survey_items(n: int, lat0: float = 49.7475, lon0: float = 13.3776) -> list[MissionItem]:
    # the take-off at the launch point, as QGroundControl writes it (at 0, 0, ArduPilot's
    # "here", the link would send PX4 the vehicle's home instead: test_link_px4_here)
    items = [
        MissionItem(
            command=CMD_NAV_TAKEOFF,
            lat_deg=lat0,
            lon_deg=lon0,
            alt_m=30.0,
            frame=FRAME_GLOBAL_RELATIVE_ALT_INT,
        )
    ]
    items.append(
        MissionItem(
            command=CMD_DO_CHANGE_SPEED, frame=FRAME_MISSION, param1=1, param2=7.5, param3=-1
        )
    )
    for i in range(n - 3):
        row, col = divmod(i, 20)
        items.append(
            MissionItem(
                command=CMD_NAV_WAYPOINT,
                lat_deg=lat0 + row * 2e-4,
                lon_deg=lon0 + (col if row % 2 == 0 else 19 - col) * 3e-4,
                alt_m=40.0 + (i % 7) * 0.25,
                param2=2.0,
                frame=FRAME_GLOBAL_RELATIVE_ALT_INT,
            )
        )
    items.append(MissionItem(command=CMD_NAV_LAND, lat_deg=lat0, lon_deg=lon0))
    return items


@pytest.fixture
def survey() -> Any:
    """survey(n) -> a lawn-mower mission of n items (takeoff, speed, waypoints, land)."""
    return survey_items


@pytest.fixture
def scripted_vehicle_class() -> type[ScriptedVehicle]:
    """The scripted vehicle's class, for a test that scripts a misbehaviour of its own."""
    return ScriptedVehicle
