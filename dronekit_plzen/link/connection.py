"""One MAVLink link: a transport, a codec, one I/O thread, the vehicles seen on it.

The I/O thread is the reader of the transport. For every decoded message it (1) updates
the sender's :class:`~dronekit_plzen.link.state.VehicleState` under a short state lock, then,
with no lock held, (2) hands the message to subscriptions (queues) and (3) calls listeners.
The codec checks frames first (:meth:`Codec.frames <dronekit_plzen.link.codec.Codec.frames>`)
and a message object is built only when something takes it: a message that changes no state
and that no subscription or listener wants is only counted, and the latest of each
:data:`~dronekit_plzen.link.state.LATEST_ONLY_MESSAGES` type (ATTITUDE at 250 Hz...) is reduced
into the state when the state is read.
Callers block on queues (``queue.Queue.get(timeout=...)``), never on sleeps. Sending is
serialised by a send lock and can happen from any thread.

A request-response exchange whose latency counts (a mission transfer: one round trip per item)
can take the reading over with :meth:`Link.direct_reader`: the I/O thread parks, the calling
thread reads the socket itself, answers what it waits for at once and only then gives each
message the same treatment (state, subscriptions, listeners, heartbeats keep going), so no
message is handed from one thread to another on the way to its answer. Frames packed once
(:meth:`Link.send_frame`) get their sequence number, CRC and signature per send.

Signing: ``connect(url, signing_key_file=F)`` signs everything sent with the key in F (a file
only its owner may read, see :mod:`dronekit_plzen.signing_keys`) and accepts from the vehicles
only correctly signed, fresh frames (plus the RADIO_STATUS allow-list). Every link has its own
MAVLink link id (:attr:`Link.link_id`). SETUP_SIGNING, which carries the key in clear, is sent
only over a link the user marked as secure (``secure=True``; ``serial://`` links are secure by
default, being a cable: pass ``secure=False`` for a telemetry radio on a serial port) or signed
with a key the vehicle already has; anything else raises
:class:`~dronekit_plzen.errors.SafetyViolation`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import os
import queue
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from dataclasses import dataclass, replace
from typing import Any

from dronekit_plzen.errors import BadInputError, LinkError, LinkTimeout, SafetyViolation
from dronekit_plzen.i18n import _
from dronekit_plzen.link.codec import (
    HEADER_LEN_V2,
    IFLAG_SIGNED,
    MESSAGE_TYPES,
    Codec,
    CodecStats,
    Frame,
    SigningKey,
    _crc,
)
from dronekit_plzen.link.direct import DirectReader
from dronekit_plzen.link.signing import allocate_link_id, release_link_id, sign_frame
from dronekit_plzen.link.state import (
    LATEST_ONLY_MESSAGES,
    STATE_MESSAGES,
    SequenceTracker,
    VehicleState,
    apply_message,
    reduce_latest,
    snapshot,
)
from dronekit_plzen.link.transports import Transport, open_transport
from dronekit_plzen.link.url import ConnectionSpec, parse_url

log = logging.getLogger(__name__)

MAV_TYPE_GCS = 6
MAV_AUTOPILOT_INVALID = 8
MAV_STATE_ACTIVE = 4
MAVLINK_MSG_ID_SETUP_SIGNING = 256
#: messages an ArduPilot vehicle is asked to stream (it sends only heartbeats until asked)
STREAM_MESSAGES_HZ = {
    "GLOBAL_POSITION_INT": 4.0,
    "ATTITUDE": 4.0,
    "VFR_HUD": 2.0,
    "SYS_STATUS": 1.0,
    "GPS_RAW_INT": 1.0,
    "MISSION_CURRENT": 1.0,
    "HOME_POSITION": 0.5,
    "EXTENDED_SYS_STATE": 1.0,
    "BATTERY_STATUS": 1.0,
}

Listener = Callable[[Any, float], None]
_CRC_EXTRA_BYTES = [bytes((i,)) for i in range(256)]
#: message id -> type name, to route a frame before its message is built
_TYPE_NAMES = {mid: str(cls.msgname) for mid, cls in MESSAGE_TYPES.items()}


class ListenerHandle:
    """Returned by :meth:`Link.add_listener`; ``remove()`` unregisters (idempotent)."""

    def __init__(self, link: Link, fn: Listener) -> None:
        self._link = link
        self.fn = fn

    def remove(self) -> None:
        self._link._remove_listener(self)


_CLOSED = object()


class Subscription:
    """A queue of (message, receive time) filtered by type and sender; close it when done."""

    def __init__(
        self,
        link: Link,
        types: Iterable[str] | None,
        sysid: int | None,
        maxsize: int = 100_000,
        sink: Callable[[Any], None] | None = None,
    ) -> None:
        self._link = link
        self.types = frozenset(types) if types is not None else None
        self.sysid = sysid
        self.queue: queue.Queue[Any] = queue.Queue(maxsize=maxsize)
        self.dropped = 0
        self._sink = sink

    def matches(self, msg: Any) -> bool:
        return self.wants(msg.get_type(), msg.get_srcSystem())

    def wants(self, type_name: str, sysid: int) -> bool:
        """Does a message of ``type_name`` from ``sysid`` belong in this queue?"""
        if self.types is not None and type_name not in self.types:
            return False
        return self.sysid is None or sysid == self.sysid

    def _put(self, item: Any) -> None:
        if self._sink is not None:
            self._sink(item)
            return
        try:
            self.queue.put_nowait(item)
        except queue.Full:
            self.dropped += 1

    def get(self, timeout_s: float | None) -> tuple[Any, float] | None:
        """Next (message, time); None on timeout. Raises LinkError once the link is closed."""
        try:
            item = self.queue.get(timeout=None if timeout_s is None else max(0.0, timeout_s))
        except queue.Empty:
            return None
        if item is _CLOSED:
            self.queue.put_nowait(_CLOSED)  # keep later get() calls failing fast
            raise LinkError(_("link closed"))
        return item  # type: ignore[no-any-return]

    def close(self) -> None:
        self._link._unsubscribe(self)

    def __enter__(self) -> Subscription:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@dataclass(frozen=True)
class LinkStats:
    codec: CodecStats
    reconnects: int
    connected: bool


class Link:
    """A live MAVLink connection. Create it with :func:`connect`; use it as a context manager."""

    def __init__(
        self,
        spec: ConnectionSpec,
        *,
        system_id: int = 255,
        component_id: int = 190,
        heartbeat_hz: float = 1.0,
        request_streams: bool = True,
        link_timeout_s: float = 3.0,
        signing_key: bytes | None = None,
        secure: bool | None = None,
    ) -> None:
        self.spec = spec
        #: may SETUP_SIGNING (the key in clear) go over this link? A USB cable: yes.
        self.secure = spec.scheme == "serial" if secure is None else bool(secure)
        self.link_id = allocate_link_id()
        self.codec = Codec(system_id, component_id, link_id=self.link_id)
        self._frame_head = bytes((0xFD, 0, 0, 0, 0, system_id & 0xFF, component_id & 0xFF))
        if signing_key is not None:
            if len(signing_key) != 32:
                release_link_id(self.link_id)
                raise BadInputError(
                    _("a MAVLink signing key has 32 bytes, got {n}").format(n=len(signing_key))
                )
            self.codec.set_key(None, SigningKey(bytes(signing_key)))
        self.link_timeout_s = link_timeout_s
        self._heartbeat_period_s = 1.0 / heartbeat_hz if heartbeat_hz > 0 else math.inf
        self._request_streams = request_streams
        self._send_lock = threading.Lock()
        self._lock = threading.Lock()  # guards states/vehicles/trackers
        self._vehicle_cond = threading.Condition(self._lock)
        self._states: dict[int, VehicleState] = {}
        # messages that change no state field are only counted: [count, last monotonic time],
        # folded into the state when it is read (no new state object per message)
        self._counted: dict[int, list[Any]] = {}
        # (sysid, msgid) -> (frame, monotonic time): the latest LATEST_ONLY_MESSAGES message
        # nobody else took, counted but reduced only when the state is read (state_of)
        self._latest: dict[tuple[int, int], tuple[Frame, float]] = {}
        self._vehicles: dict[int, Any] = {}
        self._trackers: dict[int, SequenceTracker] = {}
        self._stream_requested: dict[int, float] = {}
        #: the last mission transfer's counters per (sysid, "upload" | "download"), see
        #: :class:`~dronekit_plzen.link.mission.TransferStats`
        self.transfer_stats: dict[tuple[int, str], Any] = {}
        #: per sysid, (smoothed round trip, its variation) in s, measured by mission transfers
        self.rtt_estimates: dict[int, tuple[float, float]] = {}
        self._listeners: tuple[ListenerHandle, ...] = ()
        self._subs: tuple[Subscription, ...] = ()
        self._stop = threading.Event()
        # direct reading (see :meth:`direct_reader`): who reads the transport
        self._io_cond = threading.Condition()
        self._borrowed = False  # a caller wants (or has) the transport's receive side
        self._io_parked = False  # the I/O thread is waiting for it back
        self._next_hb = time.monotonic()
        self._connected = True
        self._reconnects = 0
        #: the last transport failure (a TCP peer that closed), for wait_vehicle's error
        self._broke = ""
        self._datagram = spec.scheme in ("udpin", "udpout")
        try:
            self._transport: Transport = open_transport(spec)
        except BaseException:
            release_link_id(self.link_id)
            raise
        self._thread = threading.Thread(target=self._run, name=f"mavlink-io {spec}", daemon=True)
        self._thread.start()

    # ------------------------------------------------------------------ lifecycle
    @property
    def system_id(self) -> int:
        return self.codec.system_id

    @property
    def component_id(self) -> int:
        return self.codec.component_id

    @property
    def local_address(self) -> tuple[str, int] | None:
        return self._transport.local_address

    @property
    def name(self) -> str:
        """The connection string, with the port the OS chose for ``udpin://HOST:0``."""
        addr = self._transport.local_address
        if self.spec.scheme == "udpin" and self.spec.port == 0 and addr is not None:
            return f"udpin://{self.spec.host}:{addr[1]}"
        return str(self.spec)

    @property
    def closed(self) -> bool:
        return self._stop.is_set()

    def close(self) -> None:
        """Stop the I/O thread, close the transport, end every subscription. Idempotent."""
        if self._stop.is_set():
            return
        self._stop.set()
        self._transport.interrupt()
        with self._io_cond:
            self._io_cond.notify_all()  # a parked I/O thread ends too
        if threading.current_thread() is not self._thread:
            self._thread.join(timeout=5.0)
        self._transport.close()
        release_link_id(self.link_id)
        for sub in self._subs:
            sub._put(_CLOSED)

    def __enter__(self) -> Link:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def stats(self) -> LinkStats:
        return LinkStats(
            codec=self.codec.stats, reconnects=self._reconnects, connected=self._connected
        )

    # ------------------------------------------------------------------ vehicles
    @property
    def vehicles(self) -> dict[int, Any]:
        """sysid → :class:`~dronekit_plzen.link.vehicle.Vehicle` for every vehicle heard."""
        with self._lock:
            return dict(self._vehicles)

    def state_of(self, sysid: int) -> VehicleState:
        with self._lock:
            st = self._states[sysid]
            held = [k for k in self._latest if k[0] == sysid]
            for key in held:  # reduce what was held back (only the latest of each type)
                frame, at_s = self._latest.pop(key)
                msg = self.codec.message(frame)
                if msg is not None:
                    st = reduce_latest(st, msg, at_s)
            if held:
                self._states[sysid] = st
            tracker = self._trackers.get(sysid)
            counted = self._counted.get(sysid)
            n, last_s = counted if counted is not None else (0, math.nan)
        if n:
            st = replace(
                st,
                messages_received=st.messages_received + n,
                last_message_s=last_s
                if math.isnan(st.last_message_s) or last_s > st.last_message_s
                else st.last_message_s,
            )
        return snapshot(st, time.monotonic(), tracker.loss_pct if tracker else 0.0)

    def autopilot_of(self, sysid: int) -> str:
        """The autopilot vehicle ``sysid`` reports (from its heartbeats), without building a
        whole :meth:`state_of` snapshot."""
        with self._lock:
            return self._states[sysid].autopilot

    def loss_fraction_of(self, sysid: int) -> float:
        """The fraction of vehicle ``sysid``'s packets lost so far (by their sequence numbers)."""
        with self._lock:
            tracker = self._trackers.get(sysid)
            return tracker.loss_pct / 100.0 if tracker is not None else 0.0

    def wait_vehicle(self, sysid: int | None = None, timeout_s: float = 10.0) -> Any:
        """The first vehicle (or vehicle ``sysid``) whose heartbeat arrives within ``timeout_s``."""
        deadline = time.monotonic() + timeout_s
        with self._vehicle_cond:
            while True:
                found = [v for s, v in self._vehicles.items() if sysid is None or s == sysid]
                if found:
                    return found[0]
                remaining = deadline - time.monotonic()
                if remaining <= 0 or self._stop.is_set():
                    break
                self._vehicle_cond.wait(remaining)
        who = _("vehicle {sysid}").format(sysid=sysid) if sysid is not None else _("a vehicle")
        text = _("no heartbeat from {who} within {t:.1f} s").format(who=who, t=timeout_s)
        if self._broke:
            text += " (" + _("the link broke: {err}").format(err=self._broke) + ")"
        raise LinkTimeout(text, where=str(self.spec))

    def set_signing(self, sysid: int | None, key: SigningKey | None) -> None:
        """Sign to and require signatures from ``sysid`` (None: every system) with ``key``."""
        with self._send_lock:
            self.codec.set_key(sysid, key)

    def _signed_by(self, sysid: int | None) -> bool:
        """Has ``sysid`` sent us a correctly signed frame (so it has our key)?"""
        return any(s[0] == sysid for s in list(self.codec.streams.streams))

    @property
    def signing(self) -> bool:
        """Does this link sign what it sends (to every system)?"""
        return self.codec.signing is not None

    # ------------------------------------------------------------------ sending
    def send(self, msg: Any, target_system: int | None = None) -> None:
        """Encode (and sign, if the target has a key) and write one message."""
        if target_system is None:
            target_system = getattr(msg, "target_system", None)
        with self._send_lock:
            data = self.codec.encode(msg, target_system=target_system)
            if msg.get_msgId() == MAVLINK_MSG_ID_SETUP_SIGNING and not (
                self.secure or (data[2] & IFLAG_SIGNED and self._signed_by(target_system))
            ):
                raise SafetyViolation(
                    _(
                        "SETUP_SIGNING carries the key in clear: send it only over a secure "
                        "link (USB/serial, or connect with secure=True) or a link already "
                        "signed with the vehicle's key"
                    ),
                    where=str(self.spec),
                )
            self._transport.send(data)

    def pack_frame(self, msgid: int, payload: bytes) -> bytearray:
        """An unsigned MAVLink 2 frame of ``payload`` from our identity, for :meth:`send_frame`.

        Trailing zero bytes of the payload are cut as MAVLink 2 does; the sequence number and
        the CRC are filled in by each send.
        """
        n = len(payload.rstrip(b"\0")) or 1
        frame = bytearray(self._frame_head)  # STX, length, flags, sequence, our ids
        frame[1] = n
        frame += bytes((msgid & 0xFF, (msgid >> 8) & 0xFF, msgid >> 16))
        frame += payload[:n]
        frame += b"\0\0"
        return frame

    def send_frame(self, frame: bytearray, crc_extra: int, target_system: int) -> None:
        """Write a frame packed once in advance (:meth:`pack_frame`, or ``msg.pack(link.mav)``).

        The frame's sequence number is patched and its CRC computed for this send; when a key
        applies to ``target_system`` the frame is signed as :meth:`Codec.encode` would. Used for
        frames sent again and again at a high rate (mission items) with no re-encoding.
        """
        codec = self.codec
        with self._send_lock:
            mav = codec._mav
            seq = mav.seq
            frame[4] = seq
            mav.seq = (seq + 1) & 0xFF
            codec.stats.frames_out += 1
            keys = codec.keys
            sk = (keys.get(target_system) if keys and target_system else None) or codec.signing
            if sk is None:
                end = len(frame) - 2
                crc = _crc(frame[1:end], _CRC_EXTRA_BYTES[crc_extra])
                frame[end] = crc & 0xFF
                frame[end + 1] = crc >> 8
                self._transport.send(bytes(frame))
                return
            table = codec.streams
            if sk.timestamp > table.timestamp:
                table.timestamp = sk.timestamp
            link_id = codec.link_id if sk.link_id is None else sk.link_id
            data = sign_frame(bytearray(frame), crc_extra, sk.key, link_id, table.next_timestamp())
            self._transport.send(data)

    @property
    def mav(self) -> Any:
        """pymavlink's message factory (``link.mav.command_long_encode(...)``)."""
        return self.codec.mav

    # ------------------------------------------------------------------ subscriptions
    def add_listener(self, fn: Listener) -> ListenerHandle:
        """Call ``fn(msg, recv_time_s)`` for every decoded message.

        ``fn`` runs on the thread reading the link (its I/O thread, or a caller reading
        directly, see :meth:`direct_reader`) with no lock held; keep it short.

        ``recv_time_s`` is wall-clock time (``time.time()``), what a .tlog stores.
        """
        handle = ListenerHandle(self, fn)
        with self._lock:
            self._listeners = (*self._listeners, handle)
        return handle

    def _remove_listener(self, handle: ListenerHandle) -> None:
        with self._lock:
            self._listeners = tuple(h for h in self._listeners if h is not handle)

    def subscribe(
        self,
        types: Iterable[str] | None = None,
        sysid: int | None = None,
        *,
        maxsize: int = 100_000,
        sink: Callable[[Any], None] | None = None,
    ) -> Subscription:
        sub = Subscription(self, types, sysid, maxsize=maxsize, sink=sink)
        with self._lock:
            self._subs = (*self._subs, sub)
        if self._stop.is_set():
            sub._put(_CLOSED)
        return sub

    def _unsubscribe(self, sub: Subscription) -> None:
        with self._lock:
            self._subs = tuple(s for s in self._subs if s is not sub)

    def messages(
        self,
        types: Iterable[str] | None = None,
        sysid: int | None = None,
        timeout_s: float | None = None,
    ) -> Iterator[Any]:
        """Iterate over messages as they arrive; ends after ``timeout_s`` or when the link closes.

        Stopping the loop early (``break``) ends the subscription cleanly.
        """
        deadline = math.inf if timeout_s is None else time.monotonic() + timeout_s
        sub = self.subscribe(types, sysid)
        try:
            while True:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return
                try:
                    item = sub.get(None if math.isinf(remaining) else remaining)
                except LinkError:
                    return
                if item is None:
                    return
                yield item[0]
        finally:
            sub.close()

    async def amessages(
        self,
        types: Iterable[str] | None = None,
        sysid: int | None = None,
        timeout_s: float | None = None,
    ) -> AsyncIterator[Any]:
        """Async variant of :meth:`messages` (the I/O thread hands messages to the event loop)."""
        loop = asyncio.get_running_loop()
        aq: asyncio.Queue[Any] = asyncio.Queue()

        def sink(item: Any) -> None:
            with contextlib.suppress(RuntimeError):  # loop already closed
                loop.call_soon_threadsafe(aq.put_nowait, item)

        sub = self.subscribe(types, sysid, sink=sink)
        deadline = math.inf if timeout_s is None else loop.time() + timeout_s
        try:
            while True:
                remaining = deadline - loop.time()
                if remaining <= 0:
                    return
                try:
                    item = await asyncio.wait_for(
                        aq.get(), None if math.isinf(remaining) else remaining
                    )
                except asyncio.TimeoutError:
                    return
                if item is _CLOSED:
                    return
                yield item[0]
        finally:
            sub.close()

    # ------------------------------------------------------------------ direct reading
    @contextlib.contextmanager
    def direct_reader(self, skip: Subscription | None = None) -> Iterator[DirectReader | None]:
        """Read the transport on the calling thread for the duration of the ``with`` block.

        Yields a :class:`~dronekit_plzen.link.direct.DirectReader`, or None when that is not
        possible (another caller reads directly, the caller is the I/O thread itself, the link
        is closed): then use a subscription as usual. The I/O thread is asked to park at once;
        the reader waits for it at its first read (so the caller's first message and
        preparations overlap the hand-over) and ends the loan (:attr:`DirectReader.broken`)
        if it does not park. Every message read is dispatched as the I/O thread would (state,
        subscriptions, listeners), except to ``skip`` (the caller's own subscription, whose
        messages the caller gets from the reader, see :meth:`DirectReader.early`); heartbeats go
        on. The I/O thread resumes on exit.
        """
        if threading.current_thread() is self._thread or self._stop.is_set():
            yield None
            return
        with self._io_cond:
            if self._borrowed:
                taken = False
            else:
                self._borrowed = taken = True
        if not taken:
            yield None
            return
        self._transport.interrupt()
        reader = DirectReader(self, skip)
        try:
            yield reader
        finally:
            reader.flush()
            reader.give_back()

    def _tick(self, now: float) -> None:
        """Heartbeat and stream upkeep when due (by whoever reads the transport)."""
        if now >= self._next_hb:
            self._send_heartbeat()
            self._maintain_streams(now)
            self._next_hb = now + self._heartbeat_period_s

    def _park(self) -> None:
        """The I/O thread waits while a caller reads directly."""
        with self._io_cond:
            self._io_parked = True
            self._io_cond.notify_all()
            while self._borrowed and not self._stop.is_set():
                self._io_cond.wait()
            self._io_parked = False

    # ------------------------------------------------------------------ I/O thread
    def _run(self) -> None:
        backoff_s = 0.2
        while not self._stop.is_set():
            if self._borrowed:
                self._park()
                continue
            now = time.monotonic()
            self._tick(now)
            try:
                data = self._transport.recv(min(0.5, max(0.0, self._next_hb - now)))
            except LinkError as exc:
                if self._stop.is_set():
                    break
                self._connected = False
                self._broke = exc.message
                # before a vehicle is heard, the failure goes into wait_vehicle's one error line
                # (a peer that sends garbage and closes); after, it is worth a warning
                log.log(
                    logging.WARNING if self._vehicles else logging.INFO,
                    "%s; reconnecting",
                    exc if exc.where else f"{self.spec}: {exc}",  # the error names the link
                )
                if self._stop.wait(backoff_s):
                    break
                try:
                    self._transport.reopen()
                except LinkError as exc2:
                    log.info("%s: reconnect failed: %s", self.spec, exc2)
                    backoff_s = min(2.0, backoff_s * 2)
                    continue
                self._connected = True
                self._reconnects += 1
                backoff_s = 0.2
                self._next_hb = time.monotonic()
                continue
            if data:
                self._dispatch(self.codec.frames(data, datagram=self._datagram))

    def _dispatch(self, frames: list[Frame], skip: Subscription | None = None) -> None:
        """Give every frame's message to the state, the subscriptions and the listeners.

        A message that changes no state and that no subscription or listener wants is only
        counted: its pymavlink object is never built.
        """
        listeners = self._listeners
        subs = self._subs
        others = [s for s in subs if s is not skip] if len(subs) > (skip in subs) else None
        quiet: list[Frame] = []  # in a row: counted together, in order, under one lock
        for frame in frames:
            mid, sysid = frame[0], frame[1]
            name = _TYPE_NAMES[mid]
            taken = listeners or (others and any(s.wants(name, sysid) for s in others))
            if taken or (name in STATE_MESSAGES and name not in LATEST_ONLY_MESSAGES):
                if quiet:
                    self._count_quiet(quiet)
                    quiet = []
                msg = self.codec.message(frame)
                if msg is not None:
                    self._handle(msg, skip)
                continue
            quiet.append(frame)
        if quiet:
            self._count_quiet(quiet)

    def _count_quiet(self, frames: list[Frame]) -> None:
        """What :meth:`_handle` does with messages that change no state and have no taker."""
        now_mono = time.monotonic()
        with self._lock:
            states, trackers, counts = self._states, self._trackers, self._counted
            for frame in frames:
                mid, sysid, compid, raw, hl = frame[:5]
                st = states.get(sysid)
                if st is None or compid != st.compid:
                    continue
                trackers[sysid].update(raw[4] if hl == HEADER_LEN_V2 else raw[2])
                if _TYPE_NAMES[mid] in LATEST_ONLY_MESSAGES:  # reduced when the state is read
                    self._latest[(sysid, mid)] = (frame, now_mono)
                counted = counts.get(sysid)
                if counted is None:
                    counts[sysid] = [1, now_mono]
                else:
                    counted[0] += 1
                    counted[1] = now_mono

    def _handle(self, msg: Any, skip: Subscription | None = None) -> None:
        now_mono = time.monotonic()
        sysid = msg.get_srcSystem()
        compid = msg.get_srcComponent()
        mtype = msg.get_type()
        new_vehicle = None
        with self._lock:
            st = self._states.get(sysid)
            if (
                st is None
                and mtype == "HEARTBEAT"
                and msg.type != MAV_TYPE_GCS
                and msg.autopilot != MAV_AUTOPILOT_INVALID
            ):
                st = VehicleState(sysid=sysid, compid=compid)
                from dronekit_plzen.link.vehicle import Vehicle

                new_vehicle = Vehicle(self, sysid, compid)
                self._vehicles[sysid] = new_vehicle
                self._trackers[sysid] = SequenceTracker()
            if st is not None and compid == st.compid:
                self._trackers[sysid].update(msg.get_seq())
                if mtype in STATE_MESSAGES:
                    if self._latest:  # an older one held back must not overwrite this one
                        self._latest.pop((sysid, msg.get_msgId()), None)
                    self._states[sysid] = apply_message(st, msg, now_mono)
                else:
                    counted = self._counted.get(sysid)
                    if counted is None:
                        self._counted[sysid] = [1, now_mono]
                    else:
                        counted[0] += 1
                        counted[1] = now_mono
            if new_vehicle is not None:
                self._vehicle_cond.notify_all()
            subs = self._subs
            listeners = self._listeners
        if new_vehicle is not None:
            autopilot = self._states[sysid].autopilot
            log.info("%s: vehicle %d (%s)", self.spec, sysid, autopilot)
            if autopilot == "ardupilot":
                self._request_data(sysid, compid, now_mono)
            else:  # PX4 streams by default; ask only if it stays silent
                with self._lock:
                    self._stream_requested[sysid] = now_mono
        if not subs and not listeners:
            return
        now_wall = time.time()
        for sub in subs:
            if sub is not skip and sub.matches(msg):
                sub._put((msg, now_wall))
        for handle in listeners:
            try:
                handle.fn(msg, now_wall)
            except Exception:  # a broken listener must not kill the link; it is logged
                log.exception("listener %r failed on %s", handle.fn, mtype)

    def _send_heartbeat(self) -> None:
        hb = self.mav.heartbeat_encode(MAV_TYPE_GCS, MAV_AUTOPILOT_INVALID, 0, 0, MAV_STATE_ACTIVE)
        self.send(hb, target_system=0)

    def _maintain_streams(self, now: float) -> None:
        """Ask again for telemetry from vehicles that stay silent (lost request or a reboot)."""
        with self._lock:
            silent = [
                (sysid, st.compid)
                for sysid, st in self._states.items()
                if math.isnan(st.lat_deg)
                and now - self._stream_requested.get(sysid, -math.inf) > 3.0
            ]
        for sysid, compid in silent:
            self._request_data(sysid, compid, now)

    def _request_data(self, sysid: int, compid: int, now: float) -> None:
        if not self._request_streams:
            return
        with self._lock:
            self._stream_requested[sysid] = now
        from pymavlink.dialects.v20 import ardupilotmega as m

        # the classic ArduPilot request (all streams) and the modern per-message interval
        self.send(self.mav.request_data_stream_encode(sysid, compid, 0, 4, 1), sysid)
        for name, hz in STREAM_MESSAGES_HZ.items():
            msg_id = getattr(m, f"MAVLINK_MSG_ID_{name}")
            self.send(
                self.mav.command_long_encode(
                    sysid, compid, 511, 0, msg_id, 1e6 / hz, 0, 0, 0, 0, 0
                ),
                sysid,
            )


def connect(
    url: str | ConnectionSpec,
    *,
    system_id: int = 255,
    component_id: int = 190,
    heartbeat_hz: float = 1.0,
    request_streams: bool = True,
    link_timeout_s: float = 3.0,
    signing_key: bytes | None = None,
    signing_key_file: str | os.PathLike[str] | None = None,
    secure: bool | None = None,
) -> Link:
    """Open a MAVLink link (use it in a ``with`` block).

    ``signing_key`` (32 bytes) or ``signing_key_file`` (see
    :func:`dronekit_plzen.signing_keys.read_key_file`: owner-only permissions, hex, raw or a
    passphrase) turn MAVLink 2 signing on for the whole link. ``secure`` marks the link as one
    SETUP_SIGNING may be sent over (default: only ``serial://``).

    Examples
    --------
    >>> with connect("udpin://127.0.0.1:14540") as link:  # doctest: +SKIP
    ...     v = link.wait_vehicle(timeout_s=10)
    ...     print(v.state.mode, v.state.battery_remaining_pct)
    """
    spec = parse_url(url) if isinstance(url, str) else url
    if signing_key_file is not None:
        if signing_key is not None:
            raise BadInputError(_("give either a signing key or a signing key file, not both"))
        from dronekit_plzen.signing_keys import read_key_file

        signing_key = read_key_file(signing_key_file)
    return Link(
        spec,
        system_id=system_id,
        component_id=component_id,
        heartbeat_hz=heartbeat_hz,
        request_streams=request_streams,
        link_timeout_s=link_timeout_s,
        signing_key=signing_key,
        secure=secure,
    )
