"""The connection controls (MAVLink 2 signing, the fleet preset) and waiting for "ready to arm".

Real widgets offscreen, the project's simulator over real loopback UDP/TCP, real key files with
real permissions. Each test fails if its feature broke: a signed link that does not show as
signed, a wrong key or a 0644 key file that is not reported in the GUI, an arm sent before the
firmware is ready or after the wait ran out.
"""

from __future__ import annotations

import itertools
import os
from pathlib import Path
from typing import Any

import pytest
from PyQt5.QtWidgets import QLineEdit

from dronekit_plzen.signing_keys import read_key_file
from gui.fly_links import fleet_urls

HOME = (49.8000, 13.3980, 330.0)  # lat, lon, alt AMSL (the simulator's order)
PX4_API, AP_TCP = 14540, 5760
SIGNING_COL = 9
READY_COL = 8


def _connect(qtbot, fly, url: str, timeout: int = 30_000) -> tuple[bool, str]:  # type: ignore[no-untyped-def]
    fly.window().show_fly_panel()
    fly.url.setCurrentText(url)
    with qtbot.waitSignal(
        fly.commandFinished, timeout=timeout, check_params_cb=lambda n, *_: n == "connect"
    ) as connected:
        fly.connect_button.click()
    _name, _sysid, ok, message = connected.args
    return ok, message


def _new_key(qtbot, fly, answer_modal, path: Path) -> Path:  # type: ignore[no-untyped-def]
    """Press "New key…" and answer the (real, non-native) file dialog with ``path``."""

    def answer(d: Any) -> None:
        assert d.objectName() == "keyFileDialog"
        d.setDirectory(str(path.parent))  # the pilot browses there and types the name
        d.findChild(QLineEdit, "fileNameEdit").setText(path.name)
        d.accept()

    seen = answer_modal(answer)
    fly.connect_box.new_key_button.click()
    assert seen, "no file dialog opened"
    assert fly.connect_box.key_path() == str(path)
    return path


def _shot(qtbot, widget: Any, path: Path) -> None:  # type: ignore[no-untyped-def]
    qtbot.wait(200)  # laid out and painted
    assert widget.grab().save(str(path))


def test_fleet_preset_fills_each_autopilots_port_convention(qtbot, main_window) -> None:  # type: ignore[no-untyped-def]
    box = main_window.fly_panel.connect_box
    box.fleet_size.setValue(3)
    box.fleet_button.click()  # from the default link, udpin 14540: PX4's API ports
    assert box.urls() == [f"udpin://127.0.0.1:{14540 + i}" for i in range(3)]
    box.url.setCurrentText("tcp://127.0.0.1:5860")  # ArduPilot SITL (port offset 100)
    box.fleet_size.setValue(2)
    box.fleet_button.click()
    assert box.urls() == ["tcp://127.0.0.1:5860", "tcp://127.0.0.1:5870"]
    box.url.setCurrentText("serial:///dev/ttyUSB0:57600")
    box.fleet_button.click()
    assert box.urls() == ["serial:///dev/ttyUSB0:57600"]  # unchanged, and said why
    assert "one port per vehicle" in box.status.text()
    assert fleet_urls("udpin://127.0.0.1:15540", 2)[1] == "udpin://127.0.0.1:15541"


def test_fleet_preset_connects_a_whole_simulator_fleet_signed(  # type: ignore[no-untyped-def]
    qtbot, main_window, answer_modal, sim_fleet, tmp_path: Path, shots: Path
) -> None:
    fly = main_window.fly_panel
    key_path = _new_key(qtbot, fly, answer_modal, tmp_path / "fleet.key")
    assert os.stat(key_path).st_mode & 0o777 == 0o600
    with sim_fleet(n_vehicles=3, autopilot="px4", speedup=20, home=HOME) as (fleet, off):
        for v in fleet.vehicles:
            v.set_signing_key(read_key_file(key_path))
        fly.url.setCurrentText(f"udpin://127.0.0.1:{PX4_API + off}")
        fly.connect_box.fleet_size.setValue(3)
        fly.connect_box.fleet_button.click()
        ok, message = _connect(qtbot, fly, fly.url.currentText())
        assert ok and "vehicles 1, 2, 3" in message and "signed link" in message, message
        qtbot.waitUntil(lambda: fly.table.rowCount() == 3, timeout=10_000)
        cells = [fly.table.item(r, SIGNING_COL).text() for r in range(3)]
        assert cells == ["yes"] * 3
        assert fly.table.horizontalHeaderItem(SIGNING_COL).text() == "Signed"
        assert fly.connect_box.status.text() == "Link signed (MAVLink 2)"
        assert all(link.signing for link in fly.session.links)
        _shot(qtbot, fly.connect_box, shots / "connect_signed_fleet.png")
        _shot(qtbot, main_window, shots / "window_signed_fleet.png")
        fly.disconnect_link()


@pytest.mark.parametrize("autopilot", ["px4", "ardupilot"])
def test_signed_link_right_key_wrong_key(  # type: ignore[no-untyped-def]
    qtbot, main_window, answer_modal, sim_fleet, tmp_path: Path, shots: Path, autopilot: str
) -> None:
    fly = main_window.fly_panel
    fly.wait_s = 3.0
    right = _new_key(qtbot, fly, answer_modal, tmp_path / "right.key")
    with sim_fleet(n_vehicles=1, autopilot=autopilot, speedup=20, home=HOME) as (fleet, off):
        fleet.vehicles[0].set_signing_key(read_key_file(right))
        url = (
            f"udpin://127.0.0.1:{PX4_API + off}"
            if autopilot == "px4"
            else f"tcp://127.0.0.1:{AP_TCP + off}"
        )
        # the right key: telemetry flows, shown as signed, commands are accepted
        ok, message = _connect(qtbot, fly, url)
        assert ok and "signed link" in message, message
        qtbot.waitUntil(lambda: fly.table.rowCount() == 1, timeout=10_000)
        qtbot.waitUntil(lambda: fly.table.item(0, 3).text().endswith("%"), timeout=10_000)
        assert fly.table.item(0, SIGNING_COL).text() == "yes"
        stats = fly.session.link.codec.stats
        assert stats.frames_ok > 0 and stats.bad_signatures == 0
        fly.disconnect_link()
        # another key: no telemetry at all, and the GUI says why
        wrong = tmp_path / "wrong.key"
        fly.connect_box.new_key(str(wrong))
        ok, message = _connect(qtbot, fly, url)
        assert not ok
        assert "wrong signature" in message and "signing key differs" in message, message
        assert fly.table.rowCount() == 0 and not fly.vehicles
        assert "wrong signature" in fly.connect_box.status.text()
        assert "wrong signature" in fly.log.lines()[-1]
        _shot(qtbot, fly.connect_box, shots / f"connect_wrong_key_{autopilot}.png")


def test_a_key_file_others_can_read_is_refused_in_the_gui(  # type: ignore[no-untyped-def]
    qtbot, main_window, sim_fleet, tmp_path: Path, shots: Path
) -> None:
    fly = main_window.fly_panel
    box = fly.connect_box
    key = tmp_path / "shared.key"
    key.write_text("11" * 32 + "\n")
    key.chmod(0o644)
    main_window.show_fly_panel()
    box.key_file.setText(str(key))
    box.key_file.editingFinished.emit()  # as leaving the field does
    assert "accessible by others (mode 0644)" in box.status.text()
    assert f"chmod 600 {key}" in box.status.text()
    _shot(qtbot, fly, shots / "connect_key_0644.png")
    with sim_fleet(n_vehicles=1, autopilot="px4", speedup=20, home=HOME) as (_fleet, off):
        ok, message = _connect(qtbot, fly, f"udpin://127.0.0.1:{PX4_API + off}")
        assert not ok and "accessible by others" in message, message
        assert str(key) in message  # names the file
        assert "accessible by others" in box.status.text()
        assert fly.session is None and fly.table.rowCount() == 0
        key.chmod(0o600)  # fixed as the message says: now it connects (the vehicle signs not)
        box.key_file.editingFinished.emit()
        assert "the link will be signed" in box.status.text()


def test_send_key_only_over_a_secure_link(  # type: ignore[no-untyped-def]
    qtbot, main_window, answer_modal, sim_fleet, tmp_path: Path, shots: Path
) -> None:
    fly = main_window.fly_panel
    box = fly.connect_box
    with sim_fleet(n_vehicles=1, autopilot="px4", speedup=20, home=HOME) as (fleet, off):
        url = f"udpin://127.0.0.1:{PX4_API + off}"
        # unsigned, not marked secure: the key is not sent in clear over a radio
        ok, message = _connect(qtbot, fly, url)
        assert ok and "unsigned link" in message, message
        qtbot.waitUntil(lambda: fly.table.rowCount() == 1, timeout=10_000)
        assert fly.table.item(0, SIGNING_COL).text() == "no"
        key = tmp_path / "vehicle.key"
        box.new_key(str(key))  # a key may be made while connected (it is used on Send)
        with qtbot.waitSignal(
            fly.commandFinished, timeout=15_000, check_params_cb=lambda n, *_: n == "send_key"
        ) as sent:
            box.send_key_button.click()
        assert not sent.args[2] and "SETUP_SIGNING carries the key in clear" in sent.args[3]
        assert "SETUP_SIGNING carries the key in clear" in box.status.text()
        assert fleet.call(lambda: fleet.vehicles[0].server.signing_key) is None
        fly.disconnect_link()
        # the same over a cable (marked secure): sent, and the vehicle answers signed
        box.secure.setChecked(True)
        box.key_file.clear()
        ok, message = _connect(qtbot, fly, url)
        assert ok, message
        qtbot.waitUntil(lambda: fly.table.rowCount() == 1, timeout=10_000)
        assert box.key_file.isEnabled() and box.browse_button.isEnabled()
        assert not box.secure.isEnabled() and not box.fleet_button.isEnabled()
        box.key_file.setText(str(key))  # chosen while connected: the key to send
        box.key_file.editingFinished.emit()
        assert "sends it" in box.status.text()
        with qtbot.waitSignal(
            fly.commandFinished, timeout=15_000, check_params_cb=lambda n, *_: n == "send_key"
        ) as sent:
            box.send_key_button.click()
        assert sent.args[2] and "vehicle 1 now answers signed" in sent.args[3], sent.args
        assert fleet.call(lambda: fleet.vehicles[0].server.signing_key) == read_key_file(key)
        qtbot.waitUntil(lambda: fly.table.item(0, SIGNING_COL).text() == "yes", timeout=5000)
        _shot(qtbot, box, shots / "connect_key_sent.png")
        fly.disconnect_link()


def _arm(qtbot, fly, timeout: int = 60_000) -> tuple[bool, str]:  # type: ignore[no-untyped-def]
    with qtbot.waitSignal(
        fly.commandFinished, timeout=timeout, check_params_cb=lambda n, *_: n == "arm"
    ) as armed:
        fly.buttons["arm"].click()
    return armed.args[2], armed.args[3]


def test_arming_waits_for_ready_and_shows_the_prearm_messages(  # type: ignore[no-untyped-def]
    qtbot, main_window, sim_fleet, shots: Path
) -> None:
    """ArduCopter settling after boot: PreArm messages in the log, then ready, then armed."""
    fly = main_window.fly_panel
    prearm: list[tuple[int, str]] = []
    # 70 s of EKF/GPS settling at 20x: PreArm reports at 30 s and 60 s, ready after ~3.5 s
    with sim_fleet(
        n_vehicles=1, autopilot="ardupilot", speedup=20, home=HOME, boot_settle_s=70.0
    ) as (fleet, off):
        ok, message = _connect(qtbot, fly, f"tcp://127.0.0.1:{AP_TCP + off}")
        assert ok, message
        qtbot.waitUntil(lambda: fly.table.rowCount() == 1, timeout=10_000)
        qtbot.waitUntil(lambda: fly.table.item(0, READY_COL).text() == "no", timeout=5000)
        fly._commander.prearm.connect(lambda s, t: prearm.append((s, t)))
        fly.table.selectRow(0)
        ok, message = _arm(qtbot, fly)
        assert ok, message
        # the firmware's messages while it settles, each once, as they changed
        assert prearm and prearm[0][1].startswith("PreArm: "), prearm
        assert all(s == 1 for s, _t in prearm)
        assert all(a != b for a, b in itertools.pairwise(prearm)), prearm
        lines = fly.log.lines()
        wait_at = next(i for i, t in enumerate(lines) if "waiting up to 60 s" in t)
        texts = [i for i, t in enumerate(lines) if "[1] PreArm: " in t]
        ready_at = next(i for i, t in enumerate(lines) if t == "[1] ready to arm")
        assert texts and wait_at < texts[0] < ready_at, lines
        qtbot.waitUntil(lambda: fleet.vehicles[0].state.armed, timeout=5000)
        assert fleet.vehicles[0].state.time_s >= 70.0  # not before the firmware was ready
        _shot(qtbot, fly, shots / "fly_armed_after_prearm.png")
        fly.disconnect_link()


def test_px4_ready_bit_in_the_health_mask_only(  # type: ignore[no-untyped-def]
    qtbot, main_window, sim_fleet
) -> None:
    """PX4 sets the pre-arm bit in SYS_STATUS health only: the table and arming follow it."""
    fly = main_window.fly_panel
    settling = sim_fleet(n_vehicles=1, autopilot="px4", speedup=20, home=HOME, boot_settle_s=60.0)
    with settling as (fleet, off):
        ok, message = _connect(qtbot, fly, f"udpin://127.0.0.1:{PX4_API + off}")
        assert ok, message
        qtbot.waitUntil(lambda: fly.table.rowCount() == 1, timeout=10_000)
        qtbot.waitUntil(lambda: fly.table.item(0, READY_COL).text() == "no", timeout=5000)
        assert fly.vehicles[1].ready_to_arm is False
        ok, message = _arm(qtbot, fly)
        assert ok, message
        # a snapshot published after the arming (the one at the ACK may lag the step)
        qtbot.waitUntil(lambda: fleet.vehicles[0].state.armed, timeout=5000)
        assert fleet.vehicles[0].state.time_s >= 60.0  # not before the firmware was ready
        qtbot.waitUntil(lambda: fly.table.item(0, 2).text() == "yes", timeout=5000)  # Armed
        assert fly.table.item(0, READY_COL).text() == "—"
        fly.disconnect_link()


def test_arming_times_out_with_the_prearm_text_and_does_not_arm(  # type: ignore[no-untyped-def]
    qtbot, main_window, answer_modal, sim_fleet, shots: Path
) -> None:
    fly = main_window.fly_panel
    fly.ready_wait_s = 4
    assert fly.ready_wait.value() == 4
    with sim_fleet(
        n_vehicles=1, autopilot="ardupilot", speedup=20, home=HOME, boot_settle_s=100_000.0
    ) as (fleet, off):
        ok, message = _connect(qtbot, fly, f"tcp://127.0.0.1:{AP_TCP + off}")
        assert ok, message
        qtbot.waitUntil(lambda: fly.table.rowCount() == 1, timeout=10_000)
        ok, message = _arm(qtbot, fly, timeout=20_000)
        assert not ok
        assert "not ready to arm after 4 s: PreArm: " in message, message
        assert any("[1] PreArm: " in t for t in fly.log.lines())
        qtbot.wait(1000)
        assert not fleet.vehicles[0].state.armed
        # the pre-flight summary shows the vehicle not ready, with the firmware's reason
        dialogs = answer_modal(lambda d: d.cancel_button.click())
        fly.buttons["start_all"].click()
        row = dialogs[0].rows[0]
        assert row.ready.startswith("no: PreArm: ") and "ready" in row.problems, row
        headers = [
            dialogs[0].table.horizontalHeaderItem(c).text()
            for c in range(dialogs[0].table.columnCount())
        ]
        assert headers[-1] == "Ready to arm"
        fly.disconnect_link()


def test_a_failed_read_of_the_mission_on_board_is_tried_again(  # type: ignore[no-untyped-def]
    qtbot, main_window, sim_fleet
) -> None:
    """A read of the vehicle's mission that failed (a busy link at connect, seen in CI) is tried
    again after 1 s, so the map and the sortie progress still learn what the vehicle holds."""
    fly = main_window.fly_panel
    with sim_fleet(n_vehicles=1, autopilot="px4", speedup=20, home=HOME) as (_fleet, off):
        ok, message = _connect(qtbot, fly, f"udpin://127.0.0.1:{PX4_API + off}")
        assert ok, message
        qtbot.waitUntil(lambda: 1 in fly.on_board, timeout=20_000)
        del fly.on_board[1]
        fly._on_result(-1, "download", 1, False, "timed out")  # as the command thread reports it
        assert any("timed out" in t for t in fly.log.lines())
        qtbot.waitUntil(lambda: 1 in fly.on_board, timeout=10_000)  # read again, for real
        assert fly._download_tries == {}
        fly.disconnect_link()
