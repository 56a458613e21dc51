"""The MAVLink command protocol (https://mavlink.io/en/services/command.html), client side.

One command at a time per vehicle (the caller holds the vehicle's command lock): send
COMMAND_LONG with ``confirmation=0``; on timeout resend with the confirmation counter increased;
COMMAND_ACK decides:

* ``ACCEPTED`` → done;
* ``IN_PROGRESS`` → report ``progress`` and wait (longer, no resend) for the final ACK;
* ``TEMPORARILY_REJECTED`` → wait one timeout, retry with the counter increased, then give up;
* ``DENIED``, ``UNSUPPORTED``, ``FAILED``, ``CANCELLED``... → :class:`CommandError` carrying the
  ``MAV_RESULT``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from dronekit_plzen.errors import CommandError, LinkTimeout
from dronekit_plzen.i18n import _

MAV_RESULT_ACCEPTED = 0
MAV_RESULT_TEMPORARILY_REJECTED = 1
MAV_RESULT_DENIED = 2
MAV_RESULT_UNSUPPORTED = 3
MAV_RESULT_FAILED = 4
MAV_RESULT_IN_PROGRESS = 5
MAV_RESULT_CANCELLED = 6
MAV_RESULT_NAMES = {
    0: "ACCEPTED",
    1: "TEMPORARILY_REJECTED",
    2: "DENIED",
    3: "UNSUPPORTED",
    4: "FAILED",
    5: "IN_PROGRESS",
    6: "CANCELLED",
    7: "COMMAND_LONG_ONLY",
    8: "COMMAND_INT_ONLY",
    9: "UNSUPPORTED_MAV_FRAME",
}


class CommandPort(Protocol):
    """What the command client needs from a link: send, and a queue of COMMAND_ACKs."""

    def send_to_vehicle(self, msg: Any) -> None: ...

    def next_ack(self, timeout_s: float) -> Any | None: ...

    @property
    def gcs_system_id(self) -> int: ...


@dataclass(frozen=True)
class CommandPolicy:
    timeout_s: float = 1.0
    retries: int = 5
    in_progress_timeout_s: float = 30.0


@dataclass(frozen=True)
class CommandResult:
    command: int
    result: int
    attempts: int
    progress: int | None = None
    result_param2: int = 0


def result_name(result: int) -> str:
    return MAV_RESULT_NAMES.get(result, str(result))


def run_command(
    port: CommandPort,
    command: int,
    build: Callable[[int], Any],
    *,
    policy: CommandPolicy = CommandPolicy(),
    name: str = "",
    on_progress: Callable[[int], None] | None = None,
) -> CommandResult:
    """Send the message ``build(confirmation)`` until COMMAND_ACK for ``command`` settles it."""
    label = name or str(command)
    confirmation = 0
    attempts = 0
    in_progress = False
    last_progress: int | None = None
    while True:
        if not in_progress:
            port.send_to_vehicle(build(confirmation))
            attempts += 1
        wait_s = policy.in_progress_timeout_s if in_progress else policy.timeout_s
        deadline = time.monotonic() + wait_s
        ack = None
        while ack is None:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            m = port.next_ack(remaining)
            if m is None:
                break
            if m.command != command:
                continue
            target = getattr(m, "target_system", 0)
            if target not in (0, port.gcs_system_id):
                continue
            ack = m
        if ack is None:
            if in_progress:
                raise LinkTimeout(
                    _("command {cmd}: no final result after IN_PROGRESS").format(cmd=label)
                )
            if confirmation >= policy.retries:
                raise LinkTimeout(
                    _("command {cmd}: no COMMAND_ACK after {n} attempts").format(
                        cmd=label, n=attempts
                    )
                )
            confirmation += 1
            continue
        result = int(ack.result)
        if result == MAV_RESULT_ACCEPTED:
            return CommandResult(
                command,
                result,
                attempts,
                last_progress,
                int(getattr(ack, "result_param2", 0) or 0),
            )
        if result == MAV_RESULT_IN_PROGRESS:
            in_progress = True
            progress = int(getattr(ack, "progress", 255))
            if progress != 255:
                last_progress = progress
                if on_progress is not None:
                    on_progress(progress)
            continue
        if result == MAV_RESULT_TEMPORARILY_REJECTED and confirmation < policy.retries:
            in_progress = False
            # back off for one timeout (draining ACKs, not sleeping) before retrying
            backoff_end = time.monotonic() + policy.timeout_s
            while (left := backoff_end - time.monotonic()) > 0:
                if port.next_ack(left) is None:
                    break
            confirmation += 1
            continue
        raise CommandError(
            _("command {cmd} rejected: {result}").format(cmd=label, result=result_name(result)),
            command=command,
            result=result,
        )
