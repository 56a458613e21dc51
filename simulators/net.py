"""Sockets of the simulated vehicles, with radio impairment (loss, delay, duplication, corruption).

Endpoints are non-blocking and registered in the fleet's one selector; they never spawn threads.
A UDP endpoint sends its telemetry to the address that last *authenticated* itself to the
vehicle (as PX4 SITL answers the last sender): each received datagram is handed on as a
:class:`Datagram` that remembers its sender, and the protocol layer calls
:meth:`Datagram.confirm_sender` only for a datagram holding a message it accepted as
authentic: correctly signed when signing is on, any valid MAVLink message when it is off. An
unsigned or badly signed datagram never redirects the telemetry. The TCP endpoint serves one
client at a time and accepts the next after a disconnect (as ArduPilot SITL does).
"""

from __future__ import annotations

import contextlib
import heapq
import itertools
import logging
import selectors
import socket
import time
from dataclasses import dataclass

import numpy as np

log = logging.getLogger(__name__)


@dataclass
class Impairment:
    """Per-packet radio faults; active while sim time < ``until_s``."""

    loss: float = 0.0
    delay_s: float = 0.0
    duplicate: float = 0.0
    corrupt: float = 0.0
    until_s: float = -1.0

    def active(self, t_s: float) -> bool:
        return t_s < self.until_s


class Datagram(bytes):
    """A received UDP payload that remembers who sent it and to which endpoint."""

    endpoint: UdpEndpoint
    sender: tuple[str, int]

    @classmethod
    def of(cls, data: bytes, endpoint: UdpEndpoint, sender: tuple[str, int]) -> Datagram:
        d = cls(data)
        d.endpoint = endpoint
        d.sender = sender
        return d

    def confirm_sender(self) -> None:
        """The sender proved itself: from now on the endpoint sends its telemetry there."""
        self.endpoint.remote = self.sender


def _keep_sender(orig: bytes, pkt: bytes) -> bytes:
    """``pkt`` (possibly corrupted from ``orig``) with ``orig``'s sender, if it had one."""
    if pkt is orig or not isinstance(orig, Datagram):
        return pkt
    return Datagram.of(pkt, orig.endpoint, orig.sender)


def impair(data: bytes, imp: Impairment, rng: np.random.Generator) -> list[bytes]:
    """The packets that come out of the radio for one packet in (pure apart from ``rng``)."""
    if imp.loss > 0 and rng.random() < imp.loss:
        return []
    if imp.corrupt > 0 and rng.random() < imp.corrupt and data:
        b = bytearray(data)
        i = int(rng.integers(0, len(b)))
        b[i] ^= 1 << int(rng.integers(0, 8))
        data = bytes(b)
    if imp.duplicate > 0 and rng.random() < imp.duplicate:
        return [data, data]
    return [data]


class Endpoint:
    """Base: impairment and delayed-packet queues shared by UDP and TCP endpoints."""

    kind = "udp"

    def __init__(self, name: str, rng: np.random.Generator) -> None:
        self.name = name
        self.rng = rng
        self.imp = Impairment()
        self.sim_t_s = 0.0
        self._delayed: list[tuple[float, int, bool, bytes]] = []
        self._counter = itertools.count()
        self.on_receive: object = None
        self.bytes_out = 0
        self.packets_out = 0

    def _impaired(self) -> bool:
        return self.imp.active(self.sim_t_s)

    def send(self, data: bytes) -> None:
        if not self._impaired():
            self._raw_send(data)
            return
        for pkt in impair(data, self.imp, self.rng):
            if self.imp.delay_s > 0:
                heapq.heappush(
                    self._delayed,
                    (time.monotonic() + self.imp.delay_s, next(self._counter), True, pkt),
                )
            else:
                self._raw_send(pkt)

    def incoming(self, data: bytes) -> list[bytes]:
        """Impair a received packet; delayed ones come back later from :meth:`flush`."""
        if not self._impaired():
            return [data]
        out = []
        for raw in impair(data, self.imp, self.rng):
            pkt = _keep_sender(data, raw)
            if self.imp.delay_s > 0:
                heapq.heappush(
                    self._delayed,
                    (time.monotonic() + self.imp.delay_s, next(self._counter), False, pkt),
                )
            else:
                out.append(pkt)
        return out

    def flush(self, now: float) -> list[bytes]:
        """Send delayed outgoing packets that are due; return due incoming ones."""
        got = []
        while self._delayed and self._delayed[0][0] <= now:
            _t, _n, outgoing, pkt = heapq.heappop(self._delayed)
            if outgoing:
                self._raw_send(pkt)
            else:
                got.append(pkt)
        return got

    def next_due(self) -> float | None:
        return self._delayed[0][0] if self._delayed else None

    def pump(self) -> None:
        """Push queued output (stream sockets); datagrams are never queued."""

    def _raw_send(self, data: bytes) -> None:
        raise NotImplementedError

    def register(self, sel: selectors.BaseSelector) -> None:
        raise NotImplementedError

    def readable(self, sock: socket.socket, sel: selectors.BaseSelector) -> list[bytes]:
        raise NotImplementedError

    def close(self, sel: selectors.BaseSelector | None) -> None:
        raise NotImplementedError


class UdpEndpoint(Endpoint):
    """Bound UDP socket sending to ``remote`` until another sender authenticates itself."""

    def __init__(
        self, name: str, rng: np.random.Generator, bind: tuple[str, int], remote: tuple[str, int]
    ) -> None:
        super().__init__(name, rng)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.setblocking(False)
        with contextlib.suppress(OSError):  # the ground station's commands wait out a busy CPU
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 * 1024 * 1024)
        self.sock.bind(bind)
        self.local_port = self.sock.getsockname()[1]
        self.remote = remote

    def _raw_send(self, data: bytes) -> None:
        try:
            self.sock.sendto(data, self.remote)
            self.bytes_out += len(data)
            self.packets_out += 1
        except OSError:
            pass  # nobody listening (ECONNREFUSED) or buffer full: UDP drops, as on a radio

    def register(self, sel: selectors.BaseSelector) -> None:
        sel.register(self.sock, selectors.EVENT_READ, self)

    def readable(self, sock: socket.socket, sel: selectors.BaseSelector) -> list[bytes]:
        out = []
        for _ in range(64):
            try:
                data, addr = self.sock.recvfrom(65535)
            except (BlockingIOError, InterruptedError):
                break
            except OSError:
                continue  # ICMP port unreachable surfaced on recv
            out.extend(self.incoming(Datagram.of(data, self, (addr[0], addr[1]))))
        return out

    def close(self, sel: selectors.BaseSelector | None) -> None:
        if sel is not None:
            with contextlib.suppress(KeyError, ValueError):
                sel.unregister(self.sock)
        self.sock.close()


class TcpServerEndpoint(Endpoint):
    """TCP server on ``bind`` serving one client at a time; the next client waits in the backlog."""

    kind = "tcp"

    def __init__(self, name: str, rng: np.random.Generator, bind: tuple[str, int]) -> None:
        super().__init__(name, rng)
        self.server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.server.bind(bind)
        self.server.listen(4)
        self.server.setblocking(False)
        self.local_port = self.server.getsockname()[1]
        self.client: socket.socket | None = None
        self._out = bytearray()
        self.connections = 0
        self.on_connect: object = None

    #: bytes queued for a slow client before whole packets are dropped (a saturated link)
    MAX_QUEUED = 256 * 1024

    def _raw_send(self, data: bytes) -> None:
        if self.client is None:
            return
        if len(self._out) + len(data) > self.MAX_QUEUED:
            return  # client not reading: drop whole packets, never half a frame
        self._out += data
        self.bytes_out += len(data)
        self.packets_out += 1
        self.pump()

    def pump(self) -> None:
        """Write as much of the queued output as the socket takes now."""
        if self.client is None or not self._out:
            return
        try:
            n = self.client.send(self._out)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            self._out.clear()
            return
        del self._out[:n]

    def register(self, sel: selectors.BaseSelector) -> None:
        sel.register(self.server, selectors.EVENT_READ, self)

    def _disconnect(self, sel: selectors.BaseSelector) -> None:
        if self.client is not None:
            with contextlib.suppress(KeyError, ValueError):
                sel.unregister(self.client)
            self.client.close()
            self.client = None
            self._out.clear()
            with contextlib.suppress(KeyError, ValueError):
                sel.register(self.server, selectors.EVENT_READ, self)

    def readable(self, sock: socket.socket, sel: selectors.BaseSelector) -> list[bytes]:
        if sock is self.server:
            try:
                conn, _addr = self.server.accept()
            except (BlockingIOError, InterruptedError):
                return []
            conn.setblocking(False)
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self.client = conn
            self.connections += 1
            sel.unregister(self.server)
            sel.register(conn, selectors.EVENT_READ, self)
            if callable(self.on_connect):
                self.on_connect()
            return []
        try:
            data = sock.recv(65536)
        except (BlockingIOError, InterruptedError):
            return []
        except OSError:
            data = b""
        if not data:
            self._disconnect(sel)
            return []
        return self.incoming(data)

    def close(self, sel: selectors.BaseSelector | None) -> None:
        if sel is not None:
            for s in (self.server, self.client):
                if s is not None:
                    with contextlib.suppress(KeyError, ValueError):
                        sel.unregister(s)
        if self.client is not None:
            self.client.close()
        self.server.close()
