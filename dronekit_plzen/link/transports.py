"""Byte transports (UDP in/out, TCP, serial), looked up by scheme in :data:`TRANSPORTS`.

A transport only moves bytes: ``recv(timeout_s)`` returns what arrived (``b""`` when nothing
did), ``send(data)`` writes, ``close()`` releases the OS resources. ``recv`` is called by one
thread at a time (the link's I/O thread, or a caller it lent the reading to); ``send`` may be
called from any thread (the link serialises it).
``interrupt()`` wakes a blocked ``recv`` so that shutdown never waits for a timeout.

UDP transports also offer ``recv_blocking(timeout_s)`` for a caller that reads the link directly
during a request-response exchange (:meth:`Link.direct_reader
<dronekit_plzen.link.connection.Link.direct_reader>`): it waits inside ``recvfrom`` itself, one
system call and one wake-up per datagram instead of ``poll`` then ``recvfrom``, at the price of
noticing ``interrupt()`` only after :data:`BLOCKING_SLICE_S`.
"""

from __future__ import annotations

import contextlib
import logging
import os
import select
import socket
import struct
import threading
from collections.abc import Callable
from typing import Any, NamedTuple, Protocol

from dronekit_plzen.errors import LinkError
from dronekit_plzen.i18n import _
from dronekit_plzen.link.url import ConnectionSpec

log = logging.getLogger(__name__)

_RECV_SIZE = 65536
#: how long a blocking ``recvfrom`` waits (SO_RCVTIMEO) before the caller checks its deadline;
#: the kernel rounds it up to its tick (4 ms at 250 Hz), a busy machine adds a few more
BLOCKING_SLICE_S = 0.001
#: shorter waits use ``poll``, whose timeout is exact: a slice never overshoots a deadline
_BLOCKING_MIN_S = 0.016


class Transport(Protocol):
    spec: ConnectionSpec

    def recv(self, timeout_s: float) -> bytes: ...

    def send(self, data: bytes) -> None: ...

    def reopen(self) -> None: ...

    def interrupt(self) -> None: ...

    def close(self) -> None: ...

    @property
    def local_address(self) -> tuple[str, int] | None: ...


class DatagramIO(NamedTuple):
    """A UDP transport's socket calls, for a loop that answers datagrams itself."""

    #: ``recvfrom(bufsize)``: (data, address); raises BlockingIOError after one empty slice
    recvfrom: Callable[[int], tuple[bytes, Any]]
    #: the transport's own send (every peer it sends to)
    send: Callable[[Any], None]
    #: the senders the transport knows (None: it takes datagrams from anyone)
    peers: tuple[tuple[str, int], ...] | None
    #: ``remember(data, address)``: a datagram from a sender not in ``peers`` was read
    remember: Callable[[bytes, Any], Any]


class _Waker:
    """A self-pipe: lets another thread wake a ``select`` in the I/O thread."""

    def __init__(self) -> None:
        self.r, self.w = os.pipe()
        os.set_blocking(self.r, False)
        os.set_blocking(self.w, False)

    def wake(self) -> None:
        with contextlib.suppress(BlockingIOError, OSError):
            os.write(self.w, b"x")

    def drain(self) -> None:
        try:
            while os.read(self.r, 512):
                pass
        except (BlockingIOError, OSError):
            pass

    def close(self) -> None:
        for fd in (self.r, self.w):
            with contextlib.suppress(OSError):
                os.close(fd)


class _SelectMixin:
    _waker: _Waker
    _poll: Any = None
    _poll_fd = -1

    def _wait(self, fd: int, timeout_s: float) -> bool:
        """Wait until ``fd`` is readable (True) or ``timeout_s`` passes / a wake-up (False).

        One ``poll`` object per descriptor, kept between calls: this runs once per received
        datagram, so per call it builds nothing.
        """
        try:
            poll = self._poll
            if poll is None or self._poll_fd != fd:
                poll = select.poll()
                poll.register(fd, select.POLLIN)
                poll.register(self._waker.r, select.POLLIN)
                self._poll, self._poll_fd = poll, fd
            events = poll.poll(max(0.0, timeout_s) * 1000.0)
        except (OSError, ValueError) as exc:
            raise LinkError(_("transport closed: {err}").format(err=exc)) from exc
        ready = False
        for efd, mask in events:
            if efd == fd:
                if mask & (select.POLLNVAL | select.POLLERR) and not mask & select.POLLIN:
                    raise LinkError(_("transport closed: {err}").format(err=f"poll {mask:#x}"))
                ready = True
            else:
                self._waker.drain()
        return ready

    def interrupt(self) -> None:
        self._waker.wake()


#: the receive buffer asked of the kernel for a UDP link (it grants at most ``rmem_max``). The
#: default, 208 KiB, holds about 300 small datagrams: 3 vehicles streaming telemetry filled it
#: while the receiving thread waited for a busy CPU (the demo beside a test run), and the kernel
#: dropped what came next, a MISSION_ITEM_REACHED among it (sent once by both firmwares)
UDP_RECV_BUFFER_B = 4 * 1024 * 1024


def set_receive_buffer(sock: socket.socket, size_b: int = UDP_RECV_BUFFER_B) -> None:
    """Ask for a ``size_b`` receive buffer on ``sock`` (never smaller than it has)."""
    try:
        if sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF) < size_b:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, size_b)
    except OSError as exc:  # a platform without it: the default buffer
        log.debug("SO_RCVBUF %d: %s", size_b, exc)


class _UdpBase(_SelectMixin):
    """What both UDP transports share: the bound socket's address, datagram receive, close."""

    spec: ConnectionSpec
    _sock: socket.socket
    _waker: _Waker

    @property
    def local_address(self) -> tuple[str, int] | None:
        addr = self._sock.getsockname()
        return (str(addr[0]), int(addr[1]))

    def _blocking_slices(self) -> None:
        """Bound a blocking ``recvfrom`` to :data:`BLOCKING_SLICE_S` (the socket stays blocking),
        and give the socket :data:`UDP_RECV_BUFFER_B` to receive into."""
        us = round(BLOCKING_SLICE_S * 1e6)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, struct.pack("ll", 0, us))
        set_receive_buffer(self._sock)

    def _recv_blocking_from(self, timeout_s: float) -> tuple[bytes, Any]:
        """One datagram within about ``timeout_s``, waited for in ``recvfrom`` itself.

        Waits of at least :data:`_BLOCKING_MIN_S` block for one slice (the caller loops on its
        deadline); shorter ones use ``poll`` for an exact timeout.
        """
        if timeout_s < _BLOCKING_MIN_S:
            return self._recv_from(timeout_s)
        try:
            return self._sock.recvfrom(_RECV_SIZE)
        except (BlockingIOError, InterruptedError):  # the slice ran out
            return b"", None
        except OSError as exc:
            if self._sock.fileno() < 0:
                raise LinkError(_("transport closed: {err}").format(err=exc)) from exc
            log.debug("%s recv: %s", self.spec.scheme, exc)
            return b"", None

    def _recv_from(self, timeout_s: float) -> tuple[bytes, Any]:
        """One datagram and its sender, or ``(b"", None)`` on timeout or a transient error."""
        if not self._wait(self._sock.fileno(), timeout_s):
            return b"", None
        try:
            return self._sock.recvfrom(_RECV_SIZE)
        except (BlockingIOError, InterruptedError):
            return b"", None
        except OSError as exc:  # ICMP port unreachable / ECONNREFUSED: not fatal for UDP
            log.debug("%s recv: %s", self.spec.scheme, exc)
            return b"", None

    def datagram_io(self) -> DatagramIO | None:
        """The socket's calls for a caller's own receive-and-answer loop (a mission transfer's
        express lane): ``recvfrom`` waits at most one slice (:data:`BLOCKING_SLICE_S`)."""
        return None

    def reopen(self) -> None:
        """Nothing to do: a bound UDP socket survives the peer going away."""

    def close(self) -> None:
        self._sock.close()
        self._waker.close()


class UdpInTransport(_UdpBase):
    """Bind a UDP port; send back to every address that has sent to us."""

    def __init__(self, spec: ConnectionSpec) -> None:
        self.spec = spec
        self._waker = _Waker()
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            self._sock.bind((spec.host or "0.0.0.0", spec.port or 0))
        except OSError as exc:
            self.close()
            raise LinkError(_("cannot bind UDP {url}: {err}").format(url=spec, err=exc)) from exc
        self._blocking_slices()
        # replaced, never changed in place: a send reads it without a lock
        self._peers: tuple[tuple[str, int], ...] = ()
        self._lock = threading.Lock()

    def recv(self, timeout_s: float) -> bytes:
        return self._from(*self._recv_from(timeout_s))

    def recv_blocking(self, timeout_s: float) -> bytes:
        if timeout_s < _BLOCKING_MIN_S:
            return self.recv(timeout_s)
        try:  # the hot path of a mission transfer: one call, one system call
            data, addr = self._sock.recvfrom(_RECV_SIZE)
        except (BlockingIOError, InterruptedError):  # the slice ran out
            return b""
        except OSError:
            return self._from(*self._recv_blocking_from(timeout_s))  # its error handling
        return data if addr in self._peers else self._from(data, addr)

    def _from(self, data: bytes, addr: Any) -> bytes:
        """``data``, its sender remembered as a peer to send to."""
        if addr is None or addr in self._peers:
            return data
        with self._lock:
            if addr not in self._peers:
                self._peers = (*self._peers, addr)
        return data

    def send(self, data: bytes) -> None:
        for addr in self._peers:
            try:
                self._sock.sendto(data, addr)
            except OSError as exc:
                log.debug("udpin send to %s: %s", addr, exc)

    def datagram_io(self) -> DatagramIO | None:
        return DatagramIO(self._sock.recvfrom, self.send, self._peers, self._from)


def _no_peer(data: bytes, addr: Any) -> None:
    """A transport that sends to one fixed address learns no peers."""


class UdpOutTransport(_UdpBase):
    """Send to HOST:PORT from an ephemeral port; receive the answers."""

    def __init__(self, spec: ConnectionSpec) -> None:
        self.spec = spec
        self._waker = _Waker()
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._addr = (spec.host or "127.0.0.1", spec.port or 0)
        try:
            self._sock.bind(("127.0.0.1" if self._addr[0].startswith("127.") else "0.0.0.0", 0))
        except OSError as exc:
            self.close()
            raise LinkError(_("cannot open UDP {url}: {err}").format(url=spec, err=exc)) from exc
        self._blocking_slices()

    def recv(self, timeout_s: float) -> bytes:
        return self._recv_from(timeout_s)[0]

    def recv_blocking(self, timeout_s: float) -> bytes:
        return self._recv_blocking_from(timeout_s)[0]

    def send(self, data: bytes) -> None:
        try:
            self._sock.sendto(data, self._addr)
        except OSError as exc:
            log.debug("udpout send: %s", exc)

    def datagram_io(self) -> DatagramIO | None:
        return DatagramIO(self._sock.recvfrom, self.send, None, _no_peer)


class TcpTransport(_SelectMixin):
    """A TCP client; :meth:`reopen` reconnects after the server went away."""

    def __init__(self, spec: ConnectionSpec, connect_timeout_s: float = 5.0) -> None:
        self.spec = spec
        self._waker = _Waker()
        self._timeout = connect_timeout_s
        self._sock: socket.socket | None = None
        self._send_lock = threading.Lock()
        try:
            self._connect()
        except LinkError:
            self._waker.close()
            raise

    def _connect(self) -> None:
        addr = (self.spec.host or "127.0.0.1", self.spec.port or 0)
        try:
            sock = socket.create_connection(addr, timeout=self._timeout)
        except OSError as exc:
            raise LinkError(
                _("cannot connect to {url}: {err}").format(url=self.spec, err=exc)
            ) from exc
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.settimeout(self._timeout)
        self._sock = sock

    @property
    def local_address(self) -> tuple[str, int] | None:
        if self._sock is None:
            return None
        addr = self._sock.getsockname()
        return (str(addr[0]), int(addr[1]))

    def recv(self, timeout_s: float) -> bytes:
        sock = self._sock
        if sock is None:
            raise LinkError(_("TCP connection is closed"), where=str(self.spec))
        if not self._wait(sock.fileno(), timeout_s):
            return b""
        try:
            data = sock.recv(_RECV_SIZE)
        except (BlockingIOError, InterruptedError, TimeoutError):
            return b""
        except OSError as exc:
            raise LinkError(
                _("TCP connection broke: {err}").format(err=exc), where=str(self.spec)
            ) from exc
        if not data:
            raise LinkError(_("TCP peer closed the connection"), where=str(self.spec))
        return data

    def send(self, data: bytes) -> None:
        with self._send_lock:
            sock = self._sock
            if sock is None:
                return  # reconnecting: the protocol layer retries
            try:
                sock.sendall(data)
            except OSError as exc:
                log.debug("tcp send: %s", exc)

    def reopen(self) -> None:
        with self._send_lock:
            if self._sock is not None:
                self._sock.close()
                self._sock = None
        self._connect()

    def close(self) -> None:
        with self._send_lock:
            if self._sock is not None:
                self._sock.close()
                self._sock = None
        self._waker.close()


class SerialTransport(_SelectMixin):
    """A POSIX serial device (or pty) in raw mode at the requested baud rate."""

    def __init__(self, spec: ConnectionSpec) -> None:
        import termios
        import tty

        self.spec = spec
        self._waker = _Waker()
        device = spec.device or ""
        try:
            self._fd = os.open(device, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)
        except OSError as exc:
            self._waker.close()
            raise LinkError(
                _("cannot open serial device: {err}").format(err=exc), where=device
            ) from exc
        try:
            tty.setraw(self._fd)
            attrs = termios.tcgetattr(self._fd)
            speed = getattr(termios, f"B{spec.baud}", None)
            if speed is not None:
                attrs[4] = attrs[5] = speed
            termios.tcsetattr(self._fd, termios.TCSANOW, attrs)
        except termios.error as exc:
            os.close(self._fd)
            self._waker.close()
            raise LinkError(_("not a serial device: {err}").format(err=exc), where=device) from exc
        self._lock = threading.Lock()

    @property
    def local_address(self) -> tuple[str, int] | None:
        return None

    def recv(self, timeout_s: float) -> bytes:
        if not self._wait(self._fd, timeout_s):
            return b""
        try:
            return os.read(self._fd, _RECV_SIZE)
        except BlockingIOError:
            return b""
        except OSError as exc:
            raise LinkError(
                _("serial device failed: {err}").format(err=exc), where=self.spec.device
            ) from exc

    def send(self, data: bytes) -> None:
        with self._lock:
            view = memoryview(data)
            while view:
                try:
                    n = os.write(self._fd, view)
                except BlockingIOError:
                    select.select([], [self._fd], [], 0.5)
                    continue
                except OSError as exc:
                    log.debug("serial send: %s", exc)
                    return
                view = view[n:]

    def reopen(self) -> None:
        """A vanished USB device cannot be reopened here; the error surfaces to the caller."""
        raise LinkError(_("serial device is gone"), where=self.spec.device)

    def close(self) -> None:
        with contextlib.suppress(OSError):
            os.close(self._fd)
        self._waker.close()


#: scheme → factory; add a transport by registering it here
TRANSPORTS: dict[str, Callable[[ConnectionSpec], Transport]] = {
    "udpin": UdpInTransport,
    "udpout": UdpOutTransport,
    "tcp": TcpTransport,
    "serial": SerialTransport,
}


def open_transport(spec: ConnectionSpec) -> Transport:
    """Open the transport registered for ``spec.scheme``."""
    try:
        factory = TRANSPORTS[spec.scheme]
    except KeyError:
        raise LinkError(
            _("no transport for scheme {scheme!r}").format(scheme=spec.scheme)
        ) from None
    return factory(spec)
