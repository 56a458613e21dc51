"""A hostile or broken vehicle: the connecting commands, run as subprocesses, against a fake
vehicle on loopback that sends malformed or impossible MAVLink.

Each row runs the real CLI (``python -m dronekit_plzen ...``) once and checks the exit code,
that stderr holds no traceback and (for a failure) exactly one line matching the case's
pattern, and, for ``status --json``, what the vehicle is reported as. The fake vehicle is a
thread of this process on 127.0.0.1 only: a UDP peer the CLI reaches with ``udpout://`` (it
answers whoever sent to it: no port race) or a TCP server. Its frames are packed with
pymavlink's own encoder and then broken by hand (a CRC flipped, an incompatibility flag set).

Found from outside on 2026-12-05 (the rows without "guard" in their id failed before):
INT32_MAX/INT32_MIN coordinates were shown as a position at 214.7°; a HOME_POSITION at 214.7°
stopped ``fly`` with bad input (2, "no UTM zone"); a battery charge of 120 % passed the
pre-flight check; a STATUSTEXT's escape sequences went to the operator's terminal; a vehicle
that sends no position made ``status`` fail ("timed out waiting for a condition") instead of
showing it; a TCP peer that sent garbage and closed printed a warning line and an error that
did not say why.
"""

from __future__ import annotations

import json
import math
import os
import re
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from pymavlink.dialects.v20 import ardupilotmega as m2

LAT_E7, LON_E7 = 497_475_000, 133_776_000
INT32_MAX, INT32_MIN = 0x7FFFFFFF, -0x80000000
PREARM = 0x10000000  # SYS_STATUS pre-arm check bit: ready to arm
PX4, QUAD = 12, 2
PX4_AUTO_LOITER = (4 << 16) | (3 << 24)


def _hb() -> Any:
    return m2.MAVLink_heartbeat_message(QUAD, PX4, 0x01, PX4_AUTO_LOITER, 3, 3)


def _gpi(lat: int = LAT_E7, lon: int = LON_E7) -> Any:
    return m2.MAVLink_global_position_int_message(0, lat, lon, 310_000, 0, 0, 0, 0, 9000)


def _sys(pct: int = 80) -> Any:
    return m2.MAVLink_sys_status_message(
        PREARM, PREARM, PREARM, 100, 16000, 500, pct, 0, 0, 0, 0, 0, 0
    )


def _home(lat: int = LAT_E7, lon: int = LON_E7) -> Any:
    return m2.MAVLink_home_position_message(lat, lon, 310_000, 0, 0, 0, [1, 0, 0, 0], 0, 0, 0)


def _gps() -> Any:
    return m2.MAVLink_gps_raw_int_message(0, 3, LAT_E7, LON_E7, 310_000, 80, 100, 0, 0, 12)


def _telemetry(**over: Any) -> list[Any]:
    """One round of a ready PX4: the position last (``status`` prints once it has one)."""
    msgs = {"hb": _hb(), "sys": _sys(), "gps": _gps(), "home": _home(), "gpi": _gpi()}
    msgs.update(over)
    return [m for m in msgs.values() if m is not None]


class _Packer:
    def __init__(self) -> None:
        self.mav = m2.MAVLink(None, srcSystem=1, srcComponent=1)

    def __call__(self, msg: Any, sysid: int = 1) -> bytes:
        self.mav.srcSystem = sysid
        raw = bytes(msg.pack(self.mav))
        self.mav.seq = (self.mav.seq + 1) % 256
        return raw


def _recrc(frame: bytearray, crc_extra: int) -> bytes:
    end = 10 + frame[1]
    crc = m2.x25crc(bytes(frame[1:end]))
    crc.accumulate(bytes([crc_extra]))
    frame[end : end + 2] = crc.crc.to_bytes(2, "little")
    return bytes(frame[: end + 2])


#: a round of frames (one datagram each over UDP) for round number i
Script = Callable[[_Packer, int], list[bytes]]


def normal(**over: Any) -> Script:
    return lambda pack, i: [pack(m) for m in _telemetry(**over)]


def bad_crc_position(pack: _Packer, i: int) -> list[bytes]:
    bad = bytearray(pack(_gpi(INT32_MAX, INT32_MAX)))
    bad[-1] ^= 0xFF
    return [bytes(bad), *normal()(pack, i)]


def incompat_flag_position(pack: _Packer, i: int) -> list[bytes]:
    """A frame with an incompatibility flag we do not know (0x02): the spec says drop it."""
    frame = bytearray(pack(_gpi(900_000_000, 0)))
    frame[2] = 0x02
    return [_recrc(frame, 104), *normal()(pack, i)]


def truncated_then_whole(pack: _Packer, i: int) -> list[bytes]:
    cut = pack(_gpi(INT32_MAX, 0))
    return [cut[: len(cut) // 2], *normal()(pack, i)]


def sysid_each_message(pack: _Packer, i: int) -> list[bytes]:
    return [pack(m, sysid=1 + (i * 5 + k) % 250) for k, m in enumerate(_telemetry(gpi=None))]


def statustext_escapes(pack: _Packer, i: int) -> list[bytes]:
    words = b"\x1b]0;owned\x07\x1b[31mPreArm: red"
    text = m2.MAVLink_statustext_message(4, words.ljust(50, b"Y"), 0, 0)  # 50 bytes, no NUL
    return [pack(m) for m in (_hb(), text, _sys(), _gpi())]


@dataclass(frozen=True)
class Case:
    id: str
    script: Script | None  # None: a peer that sends nothing at all
    argv: tuple[str, ...]  # URL is replaced by the fake's URL, PLAN by a mission file
    code: int
    pattern: str = ""  # the one stderr line (a failure)
    check: Callable[[dict[str, Any]], None] | None = None  # on the one vehicle of status --json
    tcp: bool = False
    garbage_and_close: bool = False
    max_s: float = 9.0
    extra: dict[str, Any] = field(default_factory=dict)


STATUS = ("status", "--connect", "URL", "--json", "--wait", "2")


def _no_position(what: str) -> Callable[[dict[str, Any]], None]:
    def check(v: dict[str, Any]) -> None:
        assert v["lat_deg"] is None and v["lon_deg"] is None, v
        assert what in v["implausible"] and "214.7483647" in v["implausible"], v

    return check


def _at_home(v: dict[str, Any]) -> None:
    assert (v["lat_deg"], v["lon_deg"]) == (49.7475, 13.3776), v
    assert v["implausible"] == "", v


def _no_home(v: dict[str, Any]) -> None:
    assert v["home"] is None and "HOME_POSITION" in v["implausible"], v
    assert (v["lat_deg"], v["lon_deg"]) == (49.7475, 13.3776), v


def _no_escape(v: dict[str, Any]) -> None:
    texts = v["statustexts"]
    assert texts and not any(ord(c) < 0x20 or 0x7F <= ord(c) < 0xA0 for t in texts for c in t)
    assert "PreArm: red" in texts[-1]


def _unknown_position(v: dict[str, Any]) -> None:
    assert v["lat_deg"] is None and v["mode"] == "AUTO.LOITER", v


CASES = [
    Case(
        "position-int32-max",
        normal(gpi=_gpi(INT32_MAX, INT32_MAX)),
        STATUS,
        0,
        check=_no_position("GLOBAL_POSITION_INT"),
    ),
    Case(
        "position-int32-min",
        normal(gpi=_gpi(INT32_MIN, INT32_MIN)),
        STATUS,
        0,
        check=lambda v: _no_position("GLOBAL_POSITION_INT")(
            {**v, "implausible": v["implausible"].replace("-214.7483648", "214.7483647")}
        ),
    ),
    Case(
        "home-int32-max",
        normal(home=_home(INT32_MAX, INT32_MAX)),
        STATUS,
        0,
        check=_no_home,
    ),
    Case(
        "fly-battery-120-percent",
        normal(sys=_sys(120)),
        ("fly", "PLAN", "--connect", "URL", "--wait-ready", "5"),
        3,
        pattern=r"pre-flight check failed: battery \?% .*SYS_STATUS gave an impossible battery "
        r"charge of 120 %",
    ),
    Case(
        "battery-200-as-int8",
        normal(sys=_sys(-56)),  # 200 in the int8 field
        STATUS,
        0,
        check=lambda v: (
            v["battery_remaining_pct"] is None or pytest.fail(str(v)),
            "-56 %" in v["implausible"] or pytest.fail(str(v)),
        ),
    ),
    Case("statustext-escapes-no-nul", statustext_escapes, STATUS, 0, check=_no_escape),
    Case("no-position-ever", normal(gpi=None), STATUS, 0, check=_unknown_position),
    Case("sysid-changes-every-message", sysid_each_message, (*STATUS[:-1], "1"), 0, max_s=4.0),
    Case(
        "tcp-garbage-then-close",
        None,
        (*STATUS[:-1], "1"),
        1,
        pattern=r"tcp://127\.0\.0\.1:\d+: no heartbeat from a vehicle within 1\.0 s \(the link "
        r"broke: ",
        tcp=True,
        garbage_and_close=True,
    ),
    Case(
        "guard-silent-udp-peer",
        None,
        (*STATUS[:-1], "1"),
        1,
        pattern=r"udpout://127\.0\.0\.1:\d+: no heartbeat from a vehicle within 1\.0 s$",
    ),
    Case("guard-bad-crc-position", bad_crc_position, STATUS, 0, check=_at_home),
    Case("guard-bad-crc-position-tcp", bad_crc_position, STATUS, 0, check=_at_home, tcp=True),
    Case("guard-incompat-flag", incompat_flag_position, STATUS, 0, check=_at_home, tcp=True),
    Case("guard-truncated-frame-tcp", truncated_then_whole, STATUS, 0, check=_at_home, tcp=True),
]


class FakeVehicle:
    """Plays ``script`` ten times a second on 127.0.0.1 until stopped."""

    def __init__(self, case: Case) -> None:
        self.case = case
        self.stop = threading.Event()
        self.pack = _Packer()
        kind = socket.SOCK_STREAM if case.tcp else socket.SOCK_DGRAM
        self.sock = socket.socket(socket.AF_INET, kind)
        self.sock.bind(("127.0.0.1", 0))
        port = self.sock.getsockname()[1]
        self.url = f"tcp://127.0.0.1:{port}" if case.tcp else f"udpout://127.0.0.1:{port}"
        if case.tcp:
            self.sock.listen(1)
        self.sock.settimeout(0.1)
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        send: Callable[[bytes], Any]
        if self.case.tcp:
            while not self.stop.is_set():
                try:
                    conn, _a = self.sock.accept()
                    break
                except TimeoutError:
                    continue
            else:
                return
            if self.case.garbage_and_close:
                conn.sendall(bytes(range(256)) * 8 + b"\xfd\xff\x00")
                conn.close()
                self.sock.close()  # a reconnect is refused
                return
            send = conn.sendall
        else:
            peer = None
            while not self.stop.is_set() and peer is None:  # the CLI's heartbeat: its address
                try:
                    _data, peer = self.sock.recvfrom(4096)
                except TimeoutError:
                    continue
            sock, to = self.sock, peer
            send = lambda b: sock.sendto(b, to)  # noqa: E731
        i = 0
        while not self.stop.is_set():
            i += 1
            if self.case.script is not None:
                try:
                    for frame in self.case.script(self.pack, i):
                        send(frame)
                except OSError:
                    return
            self.stop.wait(0.1)

    def close(self) -> None:
        self.stop.set()
        self.thread.join(5)
        self.sock.close()


@pytest.fixture
def env(tmp_path: Path) -> Iterator[dict[str, str]]:
    e = dict(os.environ)
    e.update(
        XDG_CONFIG_HOME=str(tmp_path / "config"),
        XDG_DATA_HOME=str(tmp_path / "data"),
        HOME=str(tmp_path),
        DKP_LANG="en",
        LANG="C.UTF-8",
    )
    e.pop("DKP_DEBUG", None)
    yield e


PLAN = "QGC WPL 110\n" + "\n".join(
    "\t".join(map(str, row))
    for row in (
        (0, 1, 0, 16, 0, 0, 0, 0, 49.7475, 13.3776, 310, 1),
        (1, 0, 3, 22, 0, 0, 0, 0, 0, 0, 20, 1),
        (2, 0, 3, 16, 0, 0, 0, 0, 49.748, 13.378, 20, 1),
        (3, 0, 3, 20, 0, 0, 0, 0, 0, 0, 0, 1),
    )
)


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_hostile_vehicle(case: Case, tmp_path: Path, env: dict[str, str]) -> None:
    plan = tmp_path / "m.waypoints"
    plan.write_text(PLAN + "\n", encoding="utf-8")
    fake = FakeVehicle(case)
    try:
        argv = [a.replace("URL", fake.url).replace("PLAN", str(plan)) for a in case.argv]
        t0 = time.monotonic()
        proc = subprocess.run(
            [sys.executable, "-m", "dronekit_plzen", "--db", str(tmp_path / "f.db"), *argv],
            capture_output=True,
            text=True,
            timeout=30,
            cwd=tmp_path,
            env=env,
        )
        took_s = time.monotonic() - t0
    finally:
        fake.close()
    err = proc.stderr
    assert "Traceback" not in err and "internal error" not in err, err
    assert proc.returncode == case.code, (proc.returncode, err)
    assert took_s < case.max_s, took_s
    if case.pattern:
        errors = [ln for ln in err.splitlines() if ln.startswith("error:")]
        assert len(errors) == 1 and re.search(case.pattern, errors[0]), err
        assert not any(ln.startswith(("WARNING", "ERROR")) for ln in err.splitlines()), err
    if case.check is not None:
        rows = json.loads(proc.stdout)
        assert len(rows) >= 1
        ones = [r for r in rows if r["sysid"] == 1]
        case.check(ones[0])
    if case.id == "sysid-changes-every-message":
        rows = json.loads(proc.stdout)
        assert all(math.isfinite(r["heartbeat_age_s"]) for r in rows)
        assert all(r["lat_deg"] is None for r in rows)  # nobody's position, not a mixed one
