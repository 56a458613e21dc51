"""The MAVLink side of one simulated vehicle: links, streams, and the micro-services.

A :class:`Link` is one MAVLink channel (its own codec, sequence numbers and stream rates); a
:class:`VehicleServer` owns the :class:`~simulators.vehicle.VehicleModel` and answers every link.
No sockets here: a link is given bytes and hands bytes to a ``send`` callable.
"""

from __future__ import annotations

import contextlib
import heapq
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pymavlink.dialects.v20 import ardupilotmega as mav

from dronekit_plzen import mission_items as mi
from dronekit_plzen.errors import BadInputError
from dronekit_plzen.i18n import _
from simulators import commands, telemetry
from simulators import params as prm
from simulators.mission_store import (
    MAX_ITEMS,
    MISSION_ACCEPTED,
    MISSION_INVALID_SEQUENCE,
    MISSION_NO_SPACE,
    check_item,
)
from simulators.signing import VehicleSigning, Verdict
from simulators.vehicle import VehicleModel

log = logging.getLogger(__name__)


@dataclass
class Transfer:
    """A mission upload (the vehicle requests items one at a time); times on the server clock."""

    mission_type: int
    count: int
    items: list[mi.MissionItem] = field(default_factory=list)
    partner: tuple[int, int] = (255, 0)
    last_request_s: float = 0.0  # when the awaited item was last requested (sim clock)
    last_recv_s: float = 0.0  # when the transfer last made progress (sim clock)
    last_request_wall_s: float = 0.0  # the same two instants on the GCS's (wall) clock
    last_recv_wall_s: float = 0.0


class Link:
    """One MAVLink channel of a vehicle: codec, stream schedule, transfer state."""

    def __init__(
        self,
        name: str,
        vm: VehicleModel,
        send: Callable[[bytes], None],
        streams_on: bool,
        link_id: int = 0,
    ) -> None:
        self.name = name
        #: the MAVLink signing link id of what this link sends (distinct per link of a vehicle)
        self.link_id = link_id
        self.vm = vm
        self.send_bytes = send
        self.codec = mav.MAVLink(None, srcSystem=vm.sysid, srcComponent=mav.MAV_COMP_ID_AUTOPILOT1)
        self.codec.robust_parsing = True
        self.parser = mav.MAVLink(None, srcSystem=vm.sysid, srcComponent=mav.MAV_COMP_ID_AUTOPILOT1)
        self.parser.robust_parsing = True
        self.upload: Transfer | None = None
        self.last_upload: Transfer | None = None  # the last COMPLETED upload (re-ACK a resend)
        #: this download is answered from the mission before the last upload (test-only fault
        #: ``VehicleModel.stale_mission_reads``)
        self.reading_previous = False
        self.sent = 0
        self.received = 0
        self.bad = 0
        self.rejected = 0  # parsed, but refused by signing
        self.peer_active = False
        self.intervals: dict[int, float] = {}
        self._heap: list[tuple[float, int]] = []
        self.reset_streams(streams_on)

    # ------------------------------------------------------------ streams
    def reset_streams(self, streams_on: bool) -> None:
        """Default rates: PX4 streams at once; ArduPilot only HEARTBEAT until requested."""
        self.intervals = {mav.MAVLINK_MSG_ID_HEARTBEAT: 1.0}
        if streams_on:
            self.intervals.update({k: 1.0 / hz for k, hz in telemetry.PX4_RATES_HZ.items()})
        t = self.vm.t_s
        self._heap = [(t, k) for k in self.intervals]
        heapq.heapify(self._heap)

    def set_interval(self, msg_id: int, interval_s: float | None) -> None:
        """Change one stream; ``None`` or ≤ 0 stops it."""
        if interval_s is None or interval_s <= 0:
            self.intervals.pop(msg_id, None)
            return
        fresh = msg_id not in self.intervals
        self.intervals[msg_id] = interval_s
        if fresh:
            heapq.heappush(self._heap, (self.vm.t_s, msg_id))

    def due(self, t_s: float) -> list[int]:
        """Message ids whose stream is due at ``t_s`` (rescheduled; skips missed slots)."""
        out: list[int] = []
        heap = self._heap
        while heap and heap[0][0] <= t_s + 1e-9:
            due_t, mid = heapq.heappop(heap)
            iv = self.intervals.get(mid)
            if iv is None:
                continue
            out.append(mid)
            nxt = due_t + iv
            if nxt <= t_s:
                nxt = t_s + iv
            heapq.heappush(heap, (nxt, mid))
        return out

    # ------------------------------------------------------------ signing
    def set_signing(self, key: bytes | None, timestamp: int) -> None:
        """Sign what this link sends with ``key`` (None: unsigned) from ``timestamp`` on.

        Incoming frames are NOT checked by pymavlink (its parser has no key): the vehicle
        checks them itself against its one :class:`~simulators.signing.VehicleSigning`.
        """
        c = self.codec
        c.signing.secret_key = key
        c.signing.sign_outgoing = key is not None
        c.signing.link_id = self.link_id
        c.signing.timestamp = max(c.signing.timestamp, timestamp)

    # ------------------------------------------------------------ I/O
    def send(self, msg: Any) -> None:
        try:
            data = msg.pack(self.codec)
        except Exception:
            log.exception("cannot pack %s", msg.get_type())
            return
        self.codec.seq = (self.codec.seq + 1) % 256
        self.sent += 1
        self.send_bytes(bytes(data))

    def parse(self, data: bytes) -> list[Any]:
        out = []
        msgs = self.parser.parse_buffer(data) or []
        for m in msgs:
            if m.get_type() == "BAD_DATA":
                self.bad += 1
                continue
            self.received += 1
            out.append(m)
        return out


class VehicleServer:
    """Answers MAVLink for one vehicle on all of its links."""

    def __init__(self, vm: VehicleModel) -> None:
        self.vm = vm
        self.links: list[Link] = []
        #: one signing state for the vehicle, shared by all its links (see simulators.signing)
        self.signing = VehicleSigning()
        #: clock of the protocol timers (mission re-requests and aborts), in seconds: the
        #: vehicle's simulated clock, as in PX4 and ArduPilot SITL (deterministic in
        #: lockstep; the wall clock times the speedup in real time) ...
        self.clock_s: Callable[[], float] = lambda: vm.t_s
        #: ... bounded below on the clock of the GCS at the other end of the socket, so a
        #: lockstep fleet running 1000x does not give up on a GCS within milliseconds. A
        #: socket-free driver (unit tests) sets it to ``clock_s`` to stay deterministic.
        self.wall_clock_s: Callable[[], float] = time.monotonic

    def add_link(self, name: str, send: Callable[[bytes], None]) -> Link:
        link = Link(name, self.vm, send, streams_on=self.vm.px4, link_id=len(self.links))
        link.set_signing(self.signing_key, self.signing.timestamp)
        self.links.append(link)
        return link

    @property
    def signing_key(self) -> bytes | None:
        return self.signing.key

    def set_signing_key(self, key: bytes | None, initial_timestamp: int = 0) -> None:
        """Enable MAVLink 2 signing (32-byte key) on every link; ``None`` disables it.

        With signing on, only correctly signed, fresh messages are obeyed (plus the unsigned
        allow-list of :mod:`simulators.signing`), and only they move a UDP link's telemetry
        destination.
        """
        if key is not None and len(key) != 32:
            raise BadInputError(_("signing key must be 32 bytes, got {n}").format(n=len(key)))
        self.signing.set_key(key, initial_timestamp)
        self.vm.signing_enabled = key is not None
        for link in self.links:
            link.set_signing(key, self.signing.timestamp)

    @property
    def silent(self) -> bool:
        return self.vm.t_s < self.vm.boot_until_s

    # ------------------------------------------------------------ outgoing
    def tick(self) -> None:
        """Flush model events to every link, then emit due streams."""
        vm = self.vm
        events, vm.events = vm.events, []
        if any(ev.kind == "reboot" for ev in events):
            for link in self.links:
                link.reset_streams(vm.px4)
                link.upload = None
                link.last_upload = None
        if self.silent:
            return
        for ev in events:
            for link in self.links:
                self._event(link, ev)
        for link in self.links:
            for mid in link.due(vm.t_s):
                if mid == mav.MAVLINK_MSG_ID_HOME_POSITION and not vm.home_known:
                    continue  # no home before the estimator has a position (as the firmware)
                link.send(telemetry.BUILDERS[mid](link.codec, vm))
            if link.upload is not None:
                self._upload_retry(link)

    def _event(self, link: Link, ev: Any) -> None:
        c, d, vm = link.codec, ev.data, self.vm
        if ev.kind == "statustext":
            link.send(c.statustext_encode(d["severity"], d["text"].encode()[:50]))
        elif ev.kind == "terrain_request":
            link.send(c.terrain_request_encode(d["lat"], d["lon"], d["spacing"], d["mask"]))
        elif ev.kind == "item_reached":
            link.send(c.mission_item_reached_encode(d["seq"]))
        elif ev.kind == "mission_current":
            link.send(telemetry.mission_current(c, vm))
        elif ev.kind == "home":
            link.send(telemetry.home_position(c, vm))
        elif ev.kind == "mode":
            link.send(telemetry.heartbeat(c, vm))
        elif ev.kind == "camera":
            t_us = int(vm.t_s * 1e6)
            link.send(c.camera_trigger_encode(t_us, d["img_idx"] - 1))
            link.send(
                c.camera_feedback_encode(
                    t_us,
                    0,
                    0,
                    d["img_idx"],
                    int(d["lat_deg"] * 1e7),
                    int(d["lon_deg"] * 1e7),
                    d["alt_amsl_m"],
                    d["rel_alt_m"],
                    d["roll_deg"],
                    d["pitch_deg"],
                    d["yaw_deg"],
                    24.0,
                    mav.CAMERA_FEEDBACK_PHOTO,
                    d["img_idx"],
                )
            )

    # ------------------------------------------------------------ incoming
    def receive(self, link: Link, data: bytes) -> None:
        """Handle one chunk of bytes from ``link`` (a datagram, or part of a TCP stream).

        Each message passes the vehicle's signing check first. The sender of a datagram
        becomes the link's telemetry destination (``data.confirm_sender()``, see
        :class:`simulators.net.Datagram`) only when a message in it authenticates it:
        correctly signed with signing on, any valid message with signing off.
        """
        confirmed = False
        silent = self.silent
        for msg in link.parse(data):
            verdict = self.signing.check(
                msg.get_msgbuf(), msg.get_msgId(), msg.get_srcSystem(), msg.get_srcComponent()
            )
            if verdict is Verdict.REJECTED:
                link.rejected += 1
                continue
            if verdict is Verdict.SIGNED:
                ts = self.signing.timestamp
                for lk in self.links:
                    if lk.codec.signing.timestamp < ts:
                        lk.codec.signing.timestamp = ts
            if not confirmed and verdict in (Verdict.SIGNED, Verdict.OPEN):
                confirmed = True
                confirm = getattr(data, "confirm_sender", None)
                if confirm is not None:
                    confirm()
            if silent:
                continue
            link.peer_active = True
            try:
                self.handle(link, msg)
            except BadInputError as exc:
                log.info("vehicle %d: %s", self.vm.sysid, exc)
            except Exception:
                log.exception("vehicle %d: error handling %s", self.vm.sysid, msg.get_type())

    def handle(self, link: Link, msg: Any) -> None:
        t = msg.get_type()
        vm = self.vm
        tgt = getattr(msg, "target_system", vm.sysid)
        if t == "HEARTBEAT":
            if msg.type == mav.MAV_TYPE_GCS:
                vm.gcs_heartbeat(msg.get_srcSystem())
            return
        if tgt not in (0, vm.sysid):
            return
        if t in ("COMMAND_LONG", "COMMAND_INT"):
            commands.handle_command(self, link, msg)
        elif t == "SET_MODE":
            commands.handle_set_mode(self, link, msg)
        elif t == "REQUEST_DATA_STREAM":
            self._request_data_stream(link, msg)
        elif t.startswith("PARAM_"):
            self._param(link, msg)
        elif t.startswith("MISSION_"):
            self._mission(link, msg)
        elif t == "SETUP_SIGNING":
            key = bytes(msg.secret_key)
            self.set_signing_key(None if not any(key) else key, int(msg.initial_timestamp))
        elif t == "SET_POSITION_TARGET_GLOBAL_INT":
            commands.handle_position_target(self, msg)
        elif t == "TERRAIN_DATA":
            vm.terrain_data(int(msg.lat), int(msg.lon), int(msg.grid_spacing), int(msg.gridbit))

    def _request_data_stream(self, link: Link, msg: Any) -> None:
        groups = (
            list(telemetry.ARDUPILOT_STREAMS) if msg.req_stream_id == 0 else [msg.req_stream_id]
        )
        for g in groups:
            for mid in telemetry.ARDUPILOT_STREAMS.get(g, ()):
                rate = msg.req_message_rate if msg.start_stop else 0
                link.set_interval(mid, 1.0 / rate if rate > 0 else None)

    # ------------------------------------------------------------ parameters
    def _param_names(self) -> list[str]:
        """The parameter table as the link shows it (without a build's absent parameters)."""
        return [n for n in self.vm.params if n not in self.vm.absent_params]

    def _param_value(self, link: Link, names: list[str], index: int) -> None:
        """PARAM_VALUE of ``names[index]`` (``names``: :meth:`_param_names`)."""
        name = names[index]
        p = self.vm.params[name]
        link.send(
            link.codec.param_value_encode(
                name.encode(), prm.encode_value(self.vm.autopilot, p), p.ptype, len(names), index
            )
        )

    def _param(self, link: Link, msg: Any) -> None:
        vm = self.vm
        t = msg.get_type()
        names = self._param_names()
        if t == "PARAM_REQUEST_LIST":
            for index in range(len(names)):
                self._param_value(link, names, index)
        elif t == "PARAM_REQUEST_READ":
            name = _pid(msg.param_id)
            if msg.param_index >= 0 and msg.param_index < len(names):
                name = names[msg.param_index]
            if name in vm.params and name not in vm.absent_params:
                self._param_value(link, names, names.index(name))
            elif not vm.px4:
                link.send(
                    link.codec.statustext_encode(4, f"Unknown parameter {name}"[:50].encode())
                )
        elif t == "PARAM_SET":
            name = _pid(msg.param_id)
            if name not in vm.params or name in vm.absent_params:
                return  # both firmwares ignore unknown names (the client times out)
            p = vm.params[name]
            value = prm.decode_value(vm.autopilot, p, msg.param_value, msg.param_type)
            # out of range: the firmware answers with the unchanged value
            with contextlib.suppress(BadInputError):
                vm.set_param(name, value)
            self._param_value(link, names, names.index(name))

    # ------------------------------------------------------------ missions
    def _mission(self, link: Link, msg: Any) -> None:
        from simulators import mission_proto

        mission_proto.handle(self, link, msg)

    def _upload_retry(self, link: Link) -> None:
        from simulators import mission_proto

        mission_proto.retry(self, link)


def _pid(raw: Any) -> str:
    if isinstance(raw, bytes):
        raw = raw.decode("ascii", "replace")
    return str(raw).rstrip("\x00")


def nan_to(v: float, default: float) -> float:
    return default if math.isnan(v) else v


__all__ = [
    "MAX_ITEMS",
    "MISSION_ACCEPTED",
    "MISSION_INVALID_SEQUENCE",
    "MISSION_NO_SPACE",
    "Link",
    "VehicleServer",
    "check_item",
]
