"""One exception root for the whole toolkit.

Every error the toolkit raises derives from :class:`DronekitPlzenError`. Subclasses mix in the
builtin that fits (rasterio's habit), so ``except TimeoutError`` and ``except ValueError`` keep
working for callers that do not know our hierarchy. Structured codes from the protocol
(``MAV_RESULT``, ``MAV_MISSION_RESULT``) are carried as attributes, as MAVSDK's ``ActionError``
carries its result.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from dronekit_plzen.i18n import _


class DronekitPlzenError(Exception):
    """Root of every error raised by dronekit-plzen."""

    #: process exit code the CLI uses for this kind of error
    exit_code: int = 1

    def __init__(self, message: str, *, where: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.where = where

    def __str__(self) -> str:
        if self.where:
            return f"{self.where}: {self.message}"
        return self.message


class BadInputError(DronekitPlzenError, ValueError):
    """The user's input (a file, a coordinate, an option) is wrong. CLI exit code 2."""

    exit_code = 2


class UnknownCRSError(BadInputError):
    """A coordinate reference system could not be identified."""


class ConfigError(BadInputError):
    """The configuration file or an environment variable is invalid."""


class LinkError(DronekitPlzenError, ConnectionError):
    """A transport could not be opened, or it broke."""


class ProtocolError(DronekitPlzenError):
    """The peer did not follow the MAVLink protocol (or answered with an error code)."""


class LinkTimeout(DronekitPlzenError, TimeoutError):
    """Nothing (or not the awaited answer) arrived in time."""


class CommandError(ProtocolError):
    """A COMMAND_LONG/COMMAND_INT was answered with a failing ``MAV_RESULT``."""

    def __init__(self, message: str, *, command: int, result: int, where: str | None = None):
        super().__init__(message, where=where)
        self.command = command
        self.result = result


class ParameterError(ProtocolError):
    """A parameter write was not taken: the vehicle echoed another value (refused or clamped)."""

    def __init__(self, message: str, *, name: str, value: float, where: str | None = None):
        super().__init__(message, where=where)
        self.name = name
        self.value = value


class MissionTransferError(ProtocolError):
    """A mission upload/download ended with a ``MAV_MISSION_RESULT`` other than ACCEPTED."""

    def __init__(
        self,
        message: str,
        *,
        mission_result: int,
        mission_type: int = 0,
        where: str | None = None,
        seq: int | None = None,
        command: int | None = None,
    ) -> None:
        super().__init__(message, where=where)
        self.mission_result = mission_result
        self.mission_type = mission_type
        #: the refused item (its index on the wire) and its command, when the vehicle refused
        #: one item of an upload
        self.seq = seq
        self.command = command


@dataclass(frozen=True)
class Violation:
    """One reason a mission is unsafe: what rule, where along the path, how much."""

    rule: str
    message: str
    item_index: int | None = None
    lat: float | None = None
    lon: float | None = None
    value: float | None = None
    limit: float | None = None

    def __str__(self) -> str:
        loc = []
        if self.item_index is not None:
            # numbered from 1, as QGroundControl and Mission Planner number a mission's items
            loc.append(_("item {n}").format(n=self.item_index + 1))
        if self.lat is not None and self.lon is not None:
            loc.append(f"{self.lat:.6f}, {self.lon:.6f}")
        prefix = f"[{self.rule}] " + (f"({'; '.join(loc)}) " if loc else "")
        return prefix + self.message


class SafetyViolation(DronekitPlzenError):
    """A mission or command would break a safety rule (120 m AGL, a zone, endurance, ...).

    CLI exit code 3, the code ``plan validate`` uses for an unsafe mission.
    """

    exit_code = 3

    def __init__(self, message: str, violations: list[Violation] | None = None, **kw: str) -> None:
        super().__init__(message, where=kw.get("where"))
        self.violations = list(violations or [])


class MissionIncomplete(DronekitPlzenError):
    """The vehicle landed before the end of its mission (a failsafe, a geofence breach, the
    pilot's switch): what it did not fly was not searched. CLI exit code 1. ``summary``: what
    was flown (``fly --json`` prints it)."""

    summary: dict[str, Any] | None = None


class StorageError(DronekitPlzenError):
    """The database or an output file could not be read or written."""


class DatabaseFileError(StorageError, BadInputError):
    """The database path names no usable database: not SQLite, damaged, read-only. CLI exit 2.

    What the user must fix (another path, a writable folder), unlike a locked database or a
    full disk (:class:`StorageError`, exit 1), which are worth retrying as they are.
    """

    exit_code = 2


class CorruptFileError(BadInputError):
    """A file is damaged or truncated; ``offset`` is the byte position where it went wrong."""

    def __init__(self, message: str, *, where: str | None = None, offset: int | None = None):
        super().__init__(message, where=where)
        self.offset = offset


__all__ = [
    "BadInputError",
    "CommandError",
    "ConfigError",
    "CorruptFileError",
    "DatabaseFileError",
    "DronekitPlzenError",
    "LinkError",
    "LinkTimeout",
    "MissionIncomplete",
    "MissionTransferError",
    "ParameterError",
    "ProtocolError",
    "SafetyViolation",
    "StorageError",
    "UnknownCRSError",
    "Violation",
    "one_line",
]


def one_line(exc: BaseException) -> str:
    """A parser's error as one line: YAML's problem with its line/column, others folded.

    >>> one_line(ValueError("expected ','\\n  in line 3"))
    "expected ',' in line 3"
    """
    problem = getattr(exc, "problem", None)
    mark = getattr(exc, "problem_mark", None)
    if problem and mark is not None:  # yaml.MarkedYAMLError
        return f"{problem} (line {mark.line + 1}, column {mark.column + 1})"
    return " ".join(str(exc).split()) or type(exc).__name__


#: the toolkit's own top-level packages: an exception raised in them is not a library's verdict
OWN_PACKAGES = frozenset(
    {"dronekit_plzen", "missions", "telemetry", "lidar", "photo", "gui", "simulators"}
)


def raised_by_library(exc: BaseException) -> bool:
    """True when ``exc`` was raised outside the toolkit (a file reader's complaint about the
    file: laspy, pyulog, pymavlink), False when our own code raised it.

    A reader's errors come in assorted types, so the places that read a file catch them broadly
    and report a damaged file; a bug of ours (a ``NameError`` in the same block) must not be
    reported as one: the caller re-raises it, and the CLI shows an internal error.

    >>> import json
    >>> try:
    ...     json.loads("{")  # the reader's verdict on its input
    ... except ValueError as exc:
    ...     raised_by_library(exc)
    True
    >>> try:
    ...     undefined_name  # a bug in a frame of ours (this module)
    ... except NameError as exc:
    ...     raised_by_library(exc)
    False
    """
    tb = exc.__traceback__
    if tb is None:
        return True
    while tb.tb_next is not None:
        tb = tb.tb_next
    module = str(tb.tb_frame.f_globals.get("__name__", ""))
    return module.split(".")[0] not in OWN_PACKAGES


#: GDAL's libtiff reader on a file that ends early: "… got 5112 bytes, expected 8100"
_SHORT_READ = re.compile(r"got \d+ bytes, expected \d+")


def library_reasons(exc: BaseException) -> tuple[list[str], bool]:
    """The reasons chained below a raster library's error, most specific last, without
    rasterio's "See previous exception for details" (which is all its own message says), and
    whether one of them is a short read (the file ends before its pixels do)."""
    reasons: list[str] = []
    seen: set[int] = set()
    cur: BaseException | None = exc
    while cur is not None and id(cur) not in seen:
        seen.add(id(cur))
        text = one_line(cur)
        if "see previous exception" not in text.lower():
            reasons.append(text)
        cur = cur.__cause__ or cur.__context__
    return reasons, any(_SHORT_READ.search(r) for r in reasons)


def raster_read_reason(exc: BaseException, gdal_says: str | None = None) -> str:
    """Why a raster's cells could not be read, in one line: a copy cut short said plainly,
    else ``gdal_says`` (GDAL's first error, when the caller captured it) or GDAL's most
    specific reason chained below ``exc`` (rasterio's own "Read failed. See previous exception
    for details" says nothing)."""
    reasons, short = library_reasons(exc)
    if short:
        return _(
            "the file ends before its cells do (an incomplete copy? copy the whole file again)"
        )
    return gdal_says or (reasons[-1] if reasons else type(exc).__name__)
