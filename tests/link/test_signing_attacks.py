"""MAVLink 2 signing in the link layer: key files, link ids, SETUP_SIGNING, forged frames.

Real files with real permissions, real UDP sockets, the real simulator; the "vehicle" or
attacker frames are built with pymavlink, independently of our codec.
"""

from __future__ import annotations

import hashlib
import json
import os
import select
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from dkp_testkit import free_simulator_offset
from pymavlink.dialects.v20 import ardupilotmega as mavlink2

from dronekit_plzen.cli.main import main
from dronekit_plzen.errors import BadInputError, LinkTimeout, SafetyViolation
from dronekit_plzen.link import connect
from dronekit_plzen.link.codec import Codec, SigningKey, signing_timestamp
from dronekit_plzen.safety import Clearance
from dronekit_plzen.signing_keys import new_key_file, read_key_file, write_key_file

KEY = bytes(range(50, 82))
ONE_YEAR = 365 * 24 * 3600 * 100_000


def key_file(tmp_path: Path, key: bytes = KEY, mode: int = 0o600, name: str = "k") -> Path:
    p = write_key_file(tmp_path / name, key)
    os.chmod(p, mode)
    return p


# ------------------------------------------------------------------ key files
@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o620])
def test_a_key_file_others_can_access_is_refused_like_ssh(tmp_path: Path, mode: int) -> None:
    p = key_file(tmp_path, mode=mode)
    with pytest.raises(BadInputError, match=r"chmod 600") as exc:
        connect("udpin://127.0.0.1:0", signing_key_file=p)
    assert str(p) in str(exc.value) and f"{mode:04o}" in str(exc.value)


def test_key_file_formats_hex_raw_and_passphrase(tmp_path: Path) -> None:
    assert read_key_file(key_file(tmp_path)) == KEY  # written as hex
    binary = bytes(range(200, 232))
    raw = write_key_file(tmp_path / "raw", binary, fmt="raw")
    assert raw.read_bytes() == binary and read_key_file(raw) == binary
    assert oct(raw.stat().st_mode & 0o777) == "0o600"
    # 32 bytes of printable text are a passphrase (documented precedence), not a raw key
    text = write_key_file(tmp_path / "text32", KEY, fmt="raw")
    assert read_key_file(text) == hashlib.sha256(KEY).digest()
    phrase = tmp_path / "phrase"
    fd = os.open(phrase, os.O_WRONLY | os.O_CREAT, 0o600)
    os.write(fd, "Plzeň drone unit 2026\n".encode())
    os.close(fd)
    # MAVProxy's `signing setup PASSPHRASE`: SHA-256 of the passphrase
    assert read_key_file(phrase) == hashlib.sha256("Plzeň drone unit 2026".encode()).digest()
    fresh = new_key_file(tmp_path / "fresh")
    assert len(read_key_file(fresh)) == 32 and read_key_file(fresh) != KEY
    with pytest.raises(BadInputError, match="already exists"):
        write_key_file(fresh, KEY)  # never overwritten


def test_missing_empty_or_directory_key_files_are_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(BadInputError, match="not found"):
        read_key_file(tmp_path / "nope")
    empty = tmp_path / "empty"
    empty.touch(mode=0o600)
    with pytest.raises(BadInputError, match="empty"):
        read_key_file(empty)
    d = tmp_path / "dir"
    d.mkdir(mode=0o700)
    with pytest.raises(BadInputError, match="not a regular file"):
        read_key_file(d)


def test_a_10_gb_key_file_is_refused_without_being_read(tmp_path: Path) -> None:
    """A file chosen by mistake had been read whole (10 GB of memory) to find it was no key:
    the CLI, the simulator and the GUI read keys here."""
    big = tmp_path / "backup.img"
    big.touch(mode=0o600)
    with big.open("r+b") as f:
        f.truncate(10 << 30)  # sparse: no disk used
    t0 = time.monotonic()
    with pytest.raises(BadInputError, match="10,737,418,240 bytes, too many for a key"):
        read_key_file(big)
    assert time.monotonic() - t0 < 1.0


def test_cli_refuses_a_world_readable_key_file(tmp_path: Path, capsys: Any) -> None:
    p = key_file(tmp_path, mode=0o644)
    for argv in (
        ["status", "--connect", "udpin://127.0.0.1:0", "--signing-key-file", str(p), "--once"],
        ["sim", "--signing-key-file", str(p)],
    ):
        assert main(argv) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert err[-1].startswith("error:") and "chmod 600" in err[-1] and str(p) in err[-1]
    assert main(["fly", "--help"]) == 0
    assert "--signing-key-file" in capsys.readouterr().out


# ------------------------------------------------------------------ link ids
class RawPeer:
    """A pymavlink "vehicle" on a UDP socket talking to one of our links."""

    def __init__(self, port: int, key: bytes | None = KEY, sysid: int = 1) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.to = ("127.0.0.1", port)
        self.mav = mavlink2.MAVLink(None, srcSystem=sysid, srcComponent=1)
        if key is not None:
            self.mav.signing.secret_key = key
            self.mav.signing.sign_outgoing = True
            self.mav.signing.timestamp = signing_timestamp()

    def send(self, msg: Any) -> bytes:
        data = bytes(msg.pack(self.mav))
        self.mav.seq = (self.mav.seq + 1) % 256
        self.sock.sendto(data, self.to)
        return data

    def heartbeat(self) -> bytes:
        return self.send(self.mav.heartbeat_encode(2, 12, 0, 0, 4))

    def frames(self, timeout_s: float = 2.0) -> list[bytes]:
        out = []
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline and not out:
            r, _, _ = select.select([self.sock], [], [], 0.05)
            if r:
                out.append(self.sock.recv(65536))
        return out

    def close(self) -> None:
        self.sock.close()


def test_every_connection_signs_with_its_own_link_id() -> None:
    links = [connect("udpin://127.0.0.1:0", signing_key=KEY, heartbeat_hz=20) for _ in range(3)]
    peers = []
    try:
        ids = [link.link_id for link in links]
        assert len(set(ids)) == 3
        for link in links:
            assert link.local_address is not None
            peer = RawPeer(link.local_address[1])
            peers.append(peer)
            peer.heartbeat()  # the udpin link now answers this address
            frames = peer.frames()
            assert frames, "no signed frame from our link"
            f = frames[0]
            assert f[0] == 0xFD and f[2] & 0x01
            assert f[-13] == link.link_id  # the signature block carries the link's id
    finally:
        for link in links:
            link.close()
        for p in peers:
            p.close()
    # closed links give their ids back
    with connect("udpin://127.0.0.1:0") as again:
        assert 0 <= again.link_id <= 255


# ------------------------------------------------------------------ forged frames
def test_a_forged_future_frame_does_not_lock_our_link_out() -> None:
    with connect("udpin://127.0.0.1:0", signing_key=KEY, heartbeat_hz=5) as link:
        assert link.local_address is not None
        port = link.local_address[1]
        forger = RawPeer(port, key=bytes(32))  # wrong key, same (1, 1, link id 0) stream
        forger.mav.signing.timestamp = signing_timestamp() + ONE_YEAR
        vehicle = RawPeer(port)
        try:
            for _ in range(3):
                forger.heartbeat()
            time.sleep(0.2)
            assert link.stats().codec.bad_signatures == 3
            assert link.vehicles == {}
            captured = vehicle.heartbeat()
            link.wait_vehicle(1, timeout_s=3)  # the real vehicle is heard
            seen = link.stats().codec.frames_ok
            vehicle.sock.sendto(captured, vehicle.to)  # a replay of its heartbeat: refused
            time.sleep(0.2)
            assert link.stats().codec.bad_signatures == 4
            assert link.stats().codec.frames_ok == seen
        finally:
            forger.close()
            vehicle.close()


def test_unsigned_frames_pass_only_through_the_allow_list() -> None:
    with connect("udpin://127.0.0.1:0", signing_key=KEY) as link:
        assert link.local_address is not None
        radio = RawPeer(link.local_address[1], key=None, sysid=51)
        try:
            with link.subscribe() as sub:
                radio.heartbeat()
                radio.send(radio.mav.radio_status_encode(200, 180, 90, 40, 35, 0, 0))
                item = sub.get(3)
                assert item is not None and item[0].get_type() == "RADIO_STATUS"
            assert link.stats().codec.unsigned_rejected == 1
        finally:
            radio.close()


def test_codec_records_a_stream_only_after_its_signature_verified() -> None:
    dec = Codec(255, 190)
    dec.keys[1] = SigningKey(KEY)
    forger = mavlink2.MAVLink(None, 1, 1)
    forger.signing.secret_key = bytes(32)
    forger.signing.sign_outgoing = True
    forger.signing.timestamp = signing_timestamp() + ONE_YEAR
    assert dec.feed(bytes(forger.heartbeat_encode(2, 12, 0, 0, 4).pack(forger))) == []
    assert dec.streams.streams == {}  # nothing recorded for the forgery
    assert dec.streams.timestamp < signing_timestamp() + 100_000  # our clock not dragged along
    real = mavlink2.MAVLink(None, 1, 1)
    real.signing.secret_key = KEY
    real.signing.sign_outgoing = True
    real.signing.timestamp = signing_timestamp()
    got = dec.feed(bytes(real.heartbeat_encode(2, 12, 0, 0, 4).pack(real)))
    assert len(got) == 1 and got[0]._signed


# ------------------------------------------------------------------ with the simulator
def test_setup_signing_only_over_a_secure_or_signed_link(sim_factory, sim_url_of) -> None:
    sim = sim_factory(1, "px4")
    with connect(sim_url_of(sim, 0), heartbeat_hz=10) as link:
        v = link.wait_vehicle(timeout_s=10)
        with pytest.raises(SafetyViolation, match="secure"):
            v.setup_signing(KEY)
        time.sleep(0.3)
        assert not sim.vehicles[0].state.signing_enabled  # the key never left
    with connect(sim_url_of(sim, 0), heartbeat_hz=10, secure=True) as link:
        v = link.wait_vehicle(timeout_s=10)
        v.setup_signing(KEY)
        assert sim.vehicles[0].state.signing_enabled or sim.wait_until(
            lambda: sim.vehicles[0].state.signing_enabled, 3
        )
    # the key rotated over a link that is signed with the key the vehicle already has
    new_key = bytes(range(7, 39))
    with connect(sim_url_of(sim, 0), heartbeat_hz=10, signing_key=KEY) as link:
        v = link.wait_vehicle(timeout_s=10)
        v.wait_for(lambda s: s.heartbeat_age_s < 1.0, 5, "a signed heartbeat")
        v.setup_signing(new_key)
        assert v.set_message_interval(mavlink2.MAVLINK_MSG_ID_ATTITUDE, 2.0).result == 0


@pytest.mark.parametrize("autopilot", ["px4", "ardupilot"])
def test_key_file_end_to_end_with_the_simulator(
    tmp_path: Path, sim_factory: Any, sim_url_of: Any, autopilot: str, survey: Any
) -> None:
    good = key_file(tmp_path, name="good")
    sim = sim_factory(1, autopilot)
    sim.vehicles[0].set_signing_key(read_key_file(good))
    url = sim_url_of(sim, 0)
    with connect(url, signing_key_file=good, heartbeat_hz=10) as link:
        v = link.wait_vehicle(timeout_s=10)
        assert v.set_message_interval(mavlink2.MAVLINK_MSG_ID_ATTITUDE, 2.0).result == 0
        # a signed mission transfer: every frame's signature checked, none in the express lane
        items = survey(20)
        v.upload_mission(items, clearance=Clearance.passed(items))  # verified: a download
        assert link.transfer_stats[(v.sysid, "upload")].express == 0
        assert link.transfer_stats[(v.sysid, "download")].express == 0
        assert link.stats().codec.bad_signatures == 0
    wrong = key_file(tmp_path, bytes(32 * [9]), name="wrong")
    with connect(url, signing_key_file=wrong, heartbeat_hz=10) as link:
        with pytest.raises(LinkTimeout):
            link.wait_vehicle(timeout_s=1.5)  # its frames fail our check
        assert link.stats().codec.bad_signatures > 0


def test_sim_and_status_cli_with_a_key_file(tmp_path: Path, capsys: Any) -> None:

    good = key_file(tmp_path, name="good")
    off = free_simulator_offset()
    proc = subprocess.Popen(
        [
            *(sys.executable, "-m", "dronekit_plzen", "sim", "--autopilot", "ardupilot"),
            *("--port-offset", str(off), "--speedup", "4", "--signing-key-file", str(good)),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        url = f"tcp://127.0.0.1:{5760 + off}"
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", 5760 + off)) == 0:
                    break
            time.sleep(0.1)
        argv = ["status", "--connect", url, "--json", "--wait", "8"]
        assert main([*argv, "--signing-key-file", str(good)]) == 0
        rows = json.loads(capsys.readouterr().out)
        assert rows[0]["sysid"] == 1 and rows[0]["autopilot"] == "ardupilot"
        wrong = key_file(tmp_path, bytes(32 * [9]), name="wrong")
        argv = ["status", "--connect", url, "--json", "--wait", "2"]
        assert main([*argv, "--signing-key-file", str(wrong)]) == 1
        err = capsys.readouterr().err
        assert err.startswith("error:") and ("no heartbeat" in err or "no vehicle" in err)
    finally:
        proc.terminate()
        _out, err = proc.communicate(timeout=10)
    assert "signing on" in err


def test_a_serial_cable_is_secure_unless_marked_as_a_radio() -> None:
    master, slave = os.openpty()
    try:
        url = f"serial://{os.ttyname(slave)}:115200"
        with connect(url, heartbeat_hz=0) as link:
            assert link.secure
            link.send(link.mav.setup_signing_encode(1, 1, list(KEY), signing_timestamp()), 1)
            reader = Codec(1, 1)
            got: list[Any] = []
            deadline = time.monotonic() + 5
            while not got and time.monotonic() < deadline:
                r, _, _ = select.select([master], [], [], 0.1)
                if r:
                    got = [m for m in reader.feed(os.read(master, 4096)) if m.id == 256]
            assert got and bytes(got[0].secret_key) == KEY
        with (
            connect(url, heartbeat_hz=0, secure=False) as radio,
            pytest.raises(SafetyViolation),
        ):
            radio.send(radio.mav.setup_signing_encode(1, 1, list(KEY), 0), 1)
    finally:
        os.close(master)
        os.close(slave)
