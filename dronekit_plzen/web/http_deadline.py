"""A deadline for a request's headers, which uvicorn does not have (slowloris).

uvicorn times a keep-alive connection out only after a response, and stops that clock at the
first byte of the next request: a client that connects and sends nothing, or sends its headers a
byte every few seconds, holds the connection (and a file descriptor) for ever, and a few hundred
such clients take the portal down. Web servers bound the time a request's headers may take
(Apache ``mod_reqtimeout``, header=20-40 s; nginx ``client_header_timeout``, 60 s). This is the
same bound on uvicorn's h11 protocol: from the connection's start, and again after each response,
a request's headers must be complete within ``timeout_s``, else the server closes the
connection, with a 408 when part of a request had come. The body has its own limit
(``app._BodyLimit``).
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http.h11_impl import H11Protocol

#: seconds a request's headers may take (Apache mod_reqtimeout's first bound)
DEFAULT_HEADER_TIMEOUT_S = 20.0
#: connections served at once (uvicorn's ``limit_concurrency``: a request beyond gets 503);
#: the deadline above frees a held one within its time, this bounds how many are held
#: meanwhile (without it a flood of idle connections took file descriptors until accept failed)
DEFAULT_MAX_CONNECTIONS = 200

_TIMEOUT_RESPONSE = (
    b"HTTP/1.1 408 Request Timeout\r\n"
    b"Content-Type: text/plain; charset=utf-8\r\n"
    b"Content-Length: 0\r\n"
    b"Connection: close\r\n\r\n"
)


class _HeaderDeadlineH11(H11Protocol):
    """uvicorn's h11 protocol with a deadline on each request's headers."""

    header_timeout_s = DEFAULT_HEADER_TIMEOUT_S

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._header_deadline: asyncio.TimerHandle | None = None
        self._started = False  # a byte of the awaited request has come

    def data_received(self, data: bytes) -> None:
        self._started = self._started or bool(data)
        super().data_received(data)

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def handle_events(self) -> None:
        cycle = self.cycle
        super().handle_events()
        if (
            self.cycle is not cycle
            or self.transport.is_closing()
            or self.transport.get_protocol() is not self  # upgraded to a WebSocket
        ):
            self._disarm()  # a request's headers arrived (or the connection ends)

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing() and (self.cycle is None or self.cycle.response_complete):
            self._arm()  # the next request on this connection gets the same time

    def _arm(self) -> None:
        self._disarm()
        self._started = False
        self._header_deadline = self.loop.call_later(self.header_timeout_s, self._expired)

    def _disarm(self) -> None:
        if self._header_deadline is not None:
            self._header_deadline.cancel()
            self._header_deadline = None

    def _expired(self) -> None:
        self._header_deadline = None
        if self.transport.is_closing():
            return
        self.logger.info("request headers not received within %gs: closed", self.header_timeout_s)
        if self._started:
            self.transport.write(_TIMEOUT_RESPONSE)
        self.transport.close()


def header_deadline_protocol(timeout_s: float) -> type[asyncio.Protocol]:
    """uvicorn's ``http=`` protocol class, with ``timeout_s`` for each request's headers."""
    return type("HeaderDeadlineH11", (_HeaderDeadlineH11,), {"header_timeout_s": float(timeout_s)})
