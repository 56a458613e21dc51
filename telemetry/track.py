"""From MAVLink messages to telemetry samples and events (the protocol boundary).

:class:`MavlinkTrackBuilder` is fed ``(msg, t_s)`` pairs — from a ``.tlog`` or live from the link —
and appends, in arrival order, ``("S", sample)`` and ``("E", event)`` items to ``out``. Wire units
(1e7 degrees, mm, cm/s, cdeg, mV, cA) are converted here, once.

A sample is a tuple in :data:`SAMPLE_FIELDS` order, one per GLOBAL_POSITION_INT, carrying the
latest battery, speed and armed state. An event is a tuple in :data:`EVENT_FIELDS` order.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from dronekit_plzen import geo
from dronekit_plzen.link.state import statustext_str

SAMPLE_FIELDS = (
    "sysid",
    "t_s",
    "lat_deg",
    "lon_deg",
    "alt_amsl_m",
    "rel_alt_m",
    "groundspeed_m_s",
    "climb_m_s",
    "heading_deg",
    "voltage_v",
    "current_a",
    "battery_pct",
    "consumed_mah",
    "armed",
)
EVENT_FIELDS = ("sysid", "t_s", "kind", "text", "value", "lat_deg", "lon_deg", "alt_m")

MAV_MODE_FLAG_SAFETY_ARMED = 128
MAV_TYPE_GCS = 6
MAV_AUTOPILOT_INVALID = 8
AUTOPILOTS = {3: "ardupilot", 12: "px4", 0: "generic"}
MAV_STATE_CRITICAL = 5
MAV_STATE_EMERGENCY = 6
NAN = math.nan


@dataclass
class VehicleInfo:
    sysid: int
    key: str
    autopilot: str | None = None
    vehicle_type: int | None = None


@dataclass
class _State:
    armed: bool = False
    mode: str | None = None
    system_status: int | None = None
    voltage_v: float = NAN
    current_a: float = NAN
    battery_pct: float = NAN
    consumed_mah: float = NAN
    groundspeed_m_s: float = NAN
    climb_m_s: float = NAN
    lat_deg: float = NAN
    lon_deg: float = NAN
    alt_m: float = NAN
    # vehicle clock: receive time of the anchor sample, its time_boot_ms, the latest mapping
    recv0_s: float = NAN
    boot0_ms: int = -1
    last_boot_ms: int = -1
    last_vt_s: float = NAN
    last_recv_s: float = NAN
    #: receive time at which time_boot_ms last moved (a clock standing still is not trusted)
    moved_recv_s: float = NAN
    clock_stalled: bool = False

    def to_vehicle_time(self, recv_s: float) -> float:
        if math.isnan(self.last_vt_s):
            return recv_s
        return self.last_vt_s + (recv_s - self.last_recv_s)


#: a vehicle clock (time_boot_ms) that has not moved for this long (receive time, s) while
#: positions arrive is stalled: positions come at 1 Hz or more, each with a later boot time
CLOCK_STILL_S = 2.0


@dataclass
class MavlinkTrackBuilder:
    """Turns decoded pymavlink messages into samples and events (no I/O)."""

    out: list[tuple[str, tuple[Any, ...]]] = field(default_factory=list)
    #: time samples by the vehicle's clock (time_boot_ms) anchored at the first receive time:
    #: immune to network jitter, and right for simulators running faster than real time
    vehicle_clock: bool = True
    vehicles: dict[int, VehicleInfo] = field(default_factory=dict)
    states: dict[int, _State] = field(default_factory=dict)

    def _vehicle(self, sysid: int) -> _State:
        st = self.states.get(sysid)
        if st is None:
            st = self.states[sysid] = _State()
            self.vehicles.setdefault(sysid, VehicleInfo(sysid, f"sysid-{sysid}"))
        return st

    def _event(
        self, sysid: int, t_s: float, kind: str, text: str | None = None, value: float = NAN
    ) -> None:
        st = self.states[sysid]
        self.out.append(("E", (sysid, t_s, kind, text, value, st.lat_deg, st.lon_deg, st.alt_m)))

    def feed(self, msg: Any, t_s: float) -> None:
        """Consume one decoded message received at UTC ``t_s`` (seconds)."""
        mtype = msg.get_type()
        handler = _HANDLERS.get(mtype)
        if handler is None:
            return
        sysid = msg.get_srcSystem()
        if mtype != "HEARTBEAT" and sysid not in self.states and (sysid == 0 or sysid >= 250):
            return  # not a vehicle (GCS, companion)
        if self.vehicle_clock:
            if mtype == "GLOBAL_POSITION_INT":
                t_s = self._anchor(self._vehicle(sysid), int(msg.time_boot_ms), t_s)
            elif sysid in self.states:
                t_s = self.states[sysid].to_vehicle_time(t_s)
        handler(self, msg, t_s, sysid)

    @staticmethod
    def _anchor(st: _State, boot_ms: int, recv_s: float) -> float:
        if st.boot0_ms < 0 or boot_ms < st.last_boot_ms - 1000:  # first sample, or a reboot
            st.recv0_s, st.boot0_ms, st.moved_recv_s = recv_s, boot_ms, recv_s
        elif boot_ms > st.last_boot_ms:
            st.moved_recv_s = recv_s
        elif recv_s - st.moved_recv_s > CLOCK_STILL_S:
            # the vehicle's clock stands still while positions keep coming (time_boot_ms stuck
            # at 0: every flight had been put on one instant): the receive clock times them,
            # from the last vehicle time on, and the vehicle's clock again once it moves
            st.clock_stalled = True
            vt = st.last_vt_s + (recv_s - st.last_recv_s)
            st.recv0_s, st.boot0_ms = vt, boot_ms
            st.last_vt_s, st.last_recv_s = vt, recv_s
            return vt
        vt = st.recv0_s + (boot_ms - st.boot0_ms) * 1e-3
        st.last_boot_ms, st.last_vt_s, st.last_recv_s = boot_ms, vt, recv_s
        return vt

    # -- handlers ------------------------------------------------------------------------------
    def _heartbeat(self, msg: Any, t_s: float, sysid: int) -> None:
        if msg.type == MAV_TYPE_GCS or msg.autopilot == MAV_AUTOPILOT_INVALID:
            return
        st = self._vehicle(sysid)
        info = self.vehicles[sysid]
        info.autopilot = info.autopilot or AUTOPILOTS.get(msg.autopilot, str(msg.autopilot))
        info.vehicle_type = msg.type
        armed = bool(msg.base_mode & MAV_MODE_FLAG_SAFETY_ARMED)
        if armed != st.armed:
            st.armed = armed
            self._event(sysid, t_s, "armed" if armed else "disarmed")
        mode = _mode_name(msg)
        if mode != st.mode:
            st.mode = mode
            self._event(sysid, t_s, "mode", mode)
        if msg.system_status != st.system_status:
            if msg.system_status in (MAV_STATE_CRITICAL, MAV_STATE_EMERGENCY):
                self._event(sysid, t_s, "failsafe", "system status", float(msg.system_status))
            st.system_status = msg.system_status

    def _global_position(self, msg: Any, t_s: float, sysid: int) -> None:
        st = self._vehicle(sysid)
        lat, lon, alt = msg.lat * 1e-7, msg.lon * 1e-7, msg.alt * 1e-3
        if (msg.lat == 0 and msg.lon == 0) or not (abs(lat) <= 90 and abs(lon) <= 180):
            # no fix yet (0, 0), or a position no vehicle can have (INT32_MAX: 214.7°) from a
            # damaged or hostile sender: no position, as the link's state takes it
            lat = lon = alt = NAN
        st.lat_deg, st.lon_deg, st.alt_m = lat, lon, alt
        gs = math.hypot(msg.vx, msg.vy) * 0.01
        hdg = NAN if msg.hdg == 65535 else msg.hdg * 0.01
        self.out.append(
            (
                "S",
                (
                    sysid,
                    t_s,
                    lat,
                    lon,
                    alt,
                    msg.relative_alt * 1e-3,
                    gs,
                    -msg.vz * 0.01,
                    hdg,
                    st.voltage_v,
                    st.current_a,
                    st.battery_pct,
                    st.consumed_mah,
                    int(st.armed),
                ),
            )
        )

    def _sys_status(self, msg: Any, t_s: float, sysid: int) -> None:
        st = self._vehicle(sysid)
        if msg.voltage_battery not in (0, 65535):
            st.voltage_v = msg.voltage_battery * 1e-3
        st.current_a = NAN if msg.current_battery == -1 else msg.current_battery * 0.01
        st.battery_pct = _charge_pct(msg.battery_remaining)

    def _battery_status(self, msg: Any, t_s: float, sysid: int) -> None:
        st = self._vehicle(sysid)
        if getattr(msg, "id", 0) == 0 and msg.current_consumed != -1:
            st.consumed_mah = float(msg.current_consumed)
            if math.isnan(st.battery_pct):
                st.battery_pct = _charge_pct(msg.battery_remaining)

    def _statustext(self, msg: Any, t_s: float, sysid: int) -> None:
        self._vehicle(sysid)
        text = statustext_str(msg.text if isinstance(msg.text, str) else bytes(msg.text))
        self._event(sysid, t_s, "statustext", text, float(msg.severity))
        if "failsafe" in text.lower():
            self._event(sysid, t_s, "failsafe", text, float(msg.severity))

    def _item_reached(self, msg: Any, t_s: float, sysid: int) -> None:
        self._vehicle(sysid)
        self._event(sysid, t_s, "item_reached", None, float(msg.seq))

    def _camera_feedback(self, msg: Any, t_s: float, sysid: int) -> None:
        st = self._vehicle(sysid)
        lat, lon = msg.lat * 1e-7, msg.lng * 1e-7
        self.out.append(
            (
                "E",
                (sysid, t_s, "camera", None, float(msg.img_idx), lat, lon, float(msg.alt_rel)),
            )
        )
        del st

    def _camera_trigger(self, msg: Any, t_s: float, sysid: int) -> None:
        # position comes from the vehicle state (CAMERA_TRIGGER carries none)
        st = self._vehicle(sysid)
        self.out.append(
            ("E", (sysid, t_s, "camera", None, float(msg.seq), st.lat_deg, st.lon_deg, NAN))
        )

    def _autopilot_version(self, msg: Any, t_s: float, sysid: int) -> None:
        self._vehicle(sysid)
        uid = int(getattr(msg, "uid", 0) or 0)
        uid2 = bytes(getattr(msg, "uid2", b"") or b"").rstrip(b"\x00")
        if uid:
            self.vehicles[sysid].key = f"uid-{uid:016x}"
        elif uid2:
            self.vehicles[sysid].key = "uid2-" + uid2.hex()


def _mode_name(msg: Any) -> str:
    from pymavlink import mavutil

    try:
        return str(mavutil.mode_string_v10(msg))
    except Exception:  # an unknown vehicle type/autopilot combination
        return f"custom-{msg.custom_mode}"


_HANDLERS = {
    "HEARTBEAT": MavlinkTrackBuilder._heartbeat,
    "GLOBAL_POSITION_INT": MavlinkTrackBuilder._global_position,
    "SYS_STATUS": MavlinkTrackBuilder._sys_status,
    "BATTERY_STATUS": MavlinkTrackBuilder._battery_status,
    "STATUSTEXT": MavlinkTrackBuilder._statustext,
    "MISSION_ITEM_REACHED": MavlinkTrackBuilder._item_reached,
    "CAMERA_FEEDBACK": MavlinkTrackBuilder._camera_feedback,
    "CAMERA_TRIGGER": MavlinkTrackBuilder._camera_trigger,
    "AUTOPILOT_VERSION": MavlinkTrackBuilder._autopilot_version,
}
#: the MAVLink messages the track builder reads (a log reader may leave the others undecoded)
MAVLINK_TRACK_MESSAGES = frozenset(_HANDLERS)


@dataclass
class Track:
    """One vehicle's telemetry from one source, columnar (numpy arrays in SAMPLE_FIELDS[1:])."""

    key: str
    system_id: int | None
    autopilot: str | None
    vehicle_type: str | None
    columns: dict[str, np.ndarray]
    events: list[tuple[Any, ...]]  # EVENT_FIELDS[1:] (no sysid)

    @property
    def n(self) -> int:
        return int(self.columns["t_s"].size)


def tracks_from_builder(builder: MavlinkTrackBuilder) -> list[Track]:
    """Split a builder's output per vehicle into :class:`Track` objects (sorted by time)."""
    per_s: dict[int, list[tuple[Any, ...]]] = {}
    per_e: dict[int, list[tuple[Any, ...]]] = {}
    for kind, row in builder.out:
        (per_s if kind == "S" else per_e).setdefault(row[0], []).append(row[1:])
    tracks = []
    for sysid, info in sorted(builder.vehicles.items()):
        rows = per_s.get(sysid, [])
        cols = columns_from_rows(rows)
        tracks.append(
            Track(
                key=info.key,
                system_id=sysid,
                autopilot=info.autopilot,
                vehicle_type=None if info.vehicle_type is None else str(info.vehicle_type),
                columns=cols,
                events=per_e.get(sysid, []),
            )
        )
    return [t for t in tracks if t.n or t.events]


def columns_from_rows(rows: list[tuple[Any, ...]]) -> dict[str, np.ndarray]:
    names = SAMPLE_FIELDS[1:]
    if not rows:
        return {n: np.zeros(0) for n in names}
    arr = np.asarray(rows, dtype=float).reshape(len(rows), len(names))
    order = np.argsort(arr[:, 0], kind="stable")
    arr = arr[order]
    return {n: arr[:, i].copy() for i, n in enumerate(names)}


def empty_columns(n: int) -> dict[str, np.ndarray]:
    cols = {name: np.full(n, np.nan) for name in SAMPLE_FIELDS[1:]}
    cols["armed"] = np.zeros(n)
    return cols


#: a sample that jumps farther than these rates from both its neighbours, which agree with each
#: other, is a damaged record, not flight: no multicopter or small fixed-wing climbs or sinks at
#: 60 m/s or flies at 150 m/s. A DataFlash or ULog record has no checksum, so one flipped byte
#: in an altitude made a 17 m flight's maximum height 1,843 m.
MAX_VERTICAL_M_S = 60.0
MAX_HORIZONTAL_M_S = 150.0
#: what a jump may exceed the rate by (GPS noise, a clock's resolution, two samples at one time)
SPIKE_TOLERANCE_M = 10.0


def _spikes(
    t: np.ndarray, d_prev: np.ndarray, d_next: np.ndarray, d_skip: np.ndarray, rate: float
) -> np.ndarray:
    """Interior samples (of a series compressed to its finite values) that are isolated spikes:
    the jump in and the jump out both exceed ``rate``, the neighbours agree with each other."""
    dt_prev = t[1:-1] - t[:-2]
    dt_next = t[2:] - t[1:-1]
    lim_prev = rate * np.abs(dt_prev) + SPIKE_TOLERANCE_M
    lim_next = rate * np.abs(dt_next) + SPIKE_TOLERANCE_M
    lim_skip = rate * np.abs(t[2:] - t[:-2]) + SPIKE_TOLERANCE_M
    out = np.zeros(t.size, dtype=bool)
    out[1:-1] = (d_prev > lim_prev) & (d_next > lim_next) & (d_skip <= lim_skip)
    return out


def spike_masks(cols: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(AMSL altitude, relative altitude, position) samples that are isolated spikes."""
    t = cols["t_s"]
    masks = []
    for name in ("alt_amsl_m", "rel_alt_m"):
        v = cols[name]
        m = np.zeros(t.size, dtype=bool)
        idx = np.flatnonzero(np.isfinite(v) & np.isfinite(t))
        if idx.size >= 3:
            tv, vv = t[idx], v[idx]
            d_prev = np.abs(vv[1:-1] - vv[:-2])
            d_next = np.abs(vv[2:] - vv[1:-1])
            d_skip = np.abs(vv[2:] - vv[:-2])
            m[idx] = _spikes(tv, d_prev, d_next, d_skip, MAX_VERTICAL_M_S)
        masks.append(m)
    lat, lon = cols["lat_deg"], cols["lon_deg"]
    given = np.isfinite(lat) & np.isfinite(lon)
    on_earth = given & (np.abs(lat) <= 90.0) & (np.abs(lon) <= 180.0)
    pm = given & ~on_earth  # a latitude of 200°: no place at all
    idx = np.flatnonzero(on_earth & np.isfinite(t))
    if idx.size >= 3:
        la, lo, tp = lat[idx], lon[idx], t[idx]

        def dist(i: slice, j: slice) -> np.ndarray:
            return np.asarray(geo.geodesic_distance_m(lo[i], la[i], lo[j], la[j]))

        mid, before, after = slice(1, -1), slice(None, -2), slice(2, None)
        pm[idx] = _spikes(
            tp, dist(mid, before), dist(after, mid), dist(after, before), MAX_HORIZONTAL_M_S
        )
    masks.append(pm)
    return masks[0], masks[1], masks[2]


def drop_spikes(cols: dict[str, np.ndarray]) -> tuple[dict[str, np.ndarray], int]:
    """``cols`` with isolated altitude and position spikes (and positions off the Earth, a
    latitude of 200°) set to NaN, and how many samples had one. A steady climb, a fast flight
    or a gap in the data is kept as it is."""
    amsl, rel, pos = spike_masks(cols)
    bad = amsl | rel | pos
    if not bad.any():
        return cols, 0
    out = dict(cols)
    for name, m in (("alt_amsl_m", amsl), ("rel_alt_m", rel), ("lat_deg", pos), ("lon_deg", pos)):
        if m.any():
            out[name] = np.where(m, np.nan, cols[name])
    return out, int(bad.sum())


def _charge_pct(remaining: int) -> float:
    """A battery's remaining charge in %, NaN when unknown (-1) or impossible (above 100 %:
    a damaged or hostile sender; the link's state refuses it too)."""
    return float(remaining) if 0 <= remaining <= 100 else NAN
