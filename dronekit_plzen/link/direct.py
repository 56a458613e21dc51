"""The receive side of a link, lent to the thread of a request-response exchange.

A mission transfer is one round trip per item, so its speed is the time our side takes to
answer the vehicle. :meth:`Link.direct_reader <dronekit_plzen.link.connection.Link.direct_reader>`
lends the transport's receive side to the transfer's own thread: the datagram the vehicle's
request arrives in is read, recognised from its header and answered on that thread, with no
hand-off between threads on the way. The I/O thread parks meanwhile; what the transfer reads is
dispatched to the rest of the link (state, subscriptions, listeners) after the answer, in
arrival order, so nothing else on the link misses a message.

The loan is taken in two steps so that its cost overlaps useful work: the I/O thread is asked
to park when the loan starts, and the reader waits for it only at its first read, after the
transfer has sent its first message (and packed its items). Anything the I/O thread read
before it parked went to the transfer's own subscription: :meth:`DirectReader.early` returns it.
"""

from __future__ import annotations

import queue
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from dronekit_plzen.errors import LinkError
from dronekit_plzen.i18n import _
from dronekit_plzen.link.codec import HEADER_LEN_V2, Frame, _tuple_new

if TYPE_CHECKING:
    from dronekit_plzen.link.connection import Link, Subscription

#: how long the reader waits for the I/O thread to park (it may be reconnecting)
PARK_TIMEOUT_S = 2.0
#: datagrams answered on the fast path are dispatched in batches of up to this many ...
DEFER_MAX = 32
#: ... or after this long (s), whichever comes first
DEFER_MAX_S = 0.05


class DirectReader:
    """The receive side of a link, lent to one thread by :meth:`Link.direct_reader`.

    :meth:`recv_datagram` returns the next datagram as it came; the caller either recognises it
    (a fast path that reads the header only) and hands it back with :meth:`defer`, or has it
    parsed with :meth:`frames` (checked frames, CRC and signature verified, payloads not decoded
    yet). Either way the datagram is dispatched to the rest of the link later, after the
    caller's answer: at the next read (at once for parsed frames, in batches for deferred
    datagrams) and when the loan ends (:meth:`flush`).
    A transport error ends the loan early (:attr:`broken`): the I/O thread takes over again,
    reconnecting as usual, and the caller continues with its subscription.
    """

    def __init__(self, link: Link, skip: Subscription | None = None) -> None:
        self._link = link
        self._skip = skip
        transport = link._transport
        # a UDP transport waits in recvfrom itself (see transports.recv_blocking): the loan is
        # ended by this thread, and a close is noticed within a slice
        self._recv: Callable[[float], bytes] = getattr(transport, "recv_blocking", transport.recv)
        self._codec = link.codec
        self._datagram = link._datagram
        #: checked frames and fast-path datagrams (bytes), in arrival order, not dispatched yet
        self._undispatched: list[Frame | bytes] = []
        self._parsed_pending = False  # _undispatched holds parsed frames: dispatch at once
        self._deferred_at = 0.0
        self._active = False
        self._early: list[Any] = []
        self.broken = False

    # ---------------------------------------------------------------- the loan
    def _activate(self) -> None:
        """Wait for the I/O thread to park; take over what it read meanwhile."""
        link = self._link
        with link._io_cond:
            link._io_cond.wait_for(
                lambda: link._io_parked or link._stop.is_set() or not link._thread.is_alive(),
                timeout=PARK_TIMEOUT_S,
            )
            parked = link._io_parked and not link._stop.is_set()
        if not parked:  # busy reconnecting, or closing: the caller uses its subscription
            self.give_back()
            return
        self._active = True
        if self._skip is not None:  # read and dispatched by the I/O thread before it parked
            q = self._skip.queue
            while True:
                try:
                    item = q.get_nowait()
                except queue.Empty:
                    break
                if isinstance(item, tuple):
                    self._early.append(item[0])
                else:  # the link closed: leave the marker for the subscription's reader
                    q.put_nowait(item)
                    break

    @property
    def active(self) -> bool:
        """Did the I/O thread hand the reading over (at the first read)?"""
        return self._active

    def early(self) -> list[Any]:
        """Messages (pymavlink) for the caller's subscription read before the loan began."""
        out, self._early = self._early, []
        return out

    def give_back(self) -> None:
        """End the loan (idempotent): the I/O thread reads again."""
        if self.broken:
            return
        self.broken = True
        link = self._link
        with link._io_cond:
            link._borrowed = False
            link._io_cond.notify_all()

    # ---------------------------------------------------------------- reading
    @property
    def fast(self) -> bool:
        """May the caller recognise datagrams by their header alone?

        Only on a datagram link (a datagram holds whole frames) with no signing key: with a key
        every frame's signature and timestamp must be checked (:meth:`frames`).
        """
        codec = self._codec
        return self._datagram and codec.signing is None and not codec.keys

    def recv_datagram(self, timeout_s: float) -> bytes:
        """The next datagram (or stream read) within ``timeout_s``; ``b""`` if none came.

        Raises :class:`~dronekit_plzen.errors.LinkError` once the loan has ended (see
        :attr:`broken`) or the link is closed. Heartbeats go on while the caller reads.
        """
        if not self._active:
            if self.broken:
                raise LinkError(_("the direct reading of the link has ended"))
            self._activate()
            if self.broken:
                return b""
        link = self._link
        now = time.monotonic()
        if self._undispatched and (
            self._parsed_pending
            or len(self._undispatched) >= DEFER_MAX
            or now - self._deferred_at >= DEFER_MAX_S
        ):
            self.flush()
        if self.broken:
            raise LinkError(_("the direct reading of the link has ended"))
        if link._stop.is_set():
            raise LinkError(_("link closed"))
        if now >= link._next_hb:
            link._tick(now)
        until_hb = link._next_hb - now  # heartbeats go on while we read
        if until_hb < timeout_s:
            timeout_s = until_hb if until_hb > 0.0 else 0.0
        try:
            return self._recv(timeout_s)
        except LinkError:
            if link._stop.is_set():
                raise LinkError(_("link closed")) from None
            self.give_back()
            return b""

    def defer(self, data: bytes) -> None:
        """A datagram the caller recognised (one unsigned MAVLink 2 frame, CRC checked): have
        it dispatched with the next batch."""
        if not self._undispatched:
            self._deferred_at = time.monotonic()
        self._undispatched.append(data)

    def frames(self, data: bytes) -> list[Frame]:
        """``data``'s checked frames, dispatched at the next read (after the caller's answer)."""
        frames = self._codec.frames(data, datagram=self._datagram)
        if frames:
            if not self._undispatched:
                self._deferred_at = time.monotonic()
            self._undispatched.extend(frames)
            self._parsed_pending = True
        return frames

    def recv(self, timeout_s: float) -> list[Frame]:
        """Checked frames from one read of the transport (within ``timeout_s``)."""
        data = self.recv_datagram(timeout_s)
        return self.frames(data) if data else []

    def flush(self) -> None:
        """Dispatch what was read (state, queues, listeners), in arrival order."""
        pending, self._undispatched = self._undispatched, []
        self._parsed_pending = False
        if not pending:
            return
        stats = self._codec.stats
        frames: list[Frame] = []
        for f in pending:
            if isinstance(f, bytes):  # a fast-path datagram: one unsigned MAVLink 2 frame
                n = len(f)
                stats.bytes_in += n
                stats.frames_ok += 1
                mid = f[7] | f[8] << 8 | f[9] << 16
                f = _tuple_new(Frame, (mid, f[5], f[6], f, HEADER_LEN_V2, n - 2, False))
            frames.append(f)
        self._link._dispatch(frames, self._skip)


__all__ = ["DEFER_MAX", "DEFER_MAX_S", "PARK_TIMEOUT_S", "DirectReader"]
