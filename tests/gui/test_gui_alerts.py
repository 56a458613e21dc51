"""Alert rules on plain vehicle snapshots: edges, not levels; a commanded return is no failsafe."""

from __future__ import annotations

from dataclasses import replace

from dronekit_plzen.i18n import set_language
from gui.fly_alerts import AlertMonitor
from gui.models import VehicleView

V = VehicleView(
    sysid=3,
    mode="AUTO.MISSION",
    armed=True,
    lon=13.398,
    lat=49.8,
    battery_pct=80.0,
    heartbeat_age_s=0.2,
    mission_seq=4,
    mission_count=20,
)


def _keys(alerts: list) -> list[tuple[str, bool]]:  # type: ignore[type-arg]
    return [(a.key, a.clear) for a in alerts]


def test_link_loss_is_reported_once_with_a_sound_and_cleared_when_back() -> None:
    set_language("en")
    mon = AlertMonitor(link_loss_s=30.0, link_warn_s=3.0)
    assert mon.update([V]) == []
    drop = mon.update([replace(V, heartbeat_age_s=5.0)])
    assert _keys(drop) == [("drop-3", False)] and not drop[0].banner
    assert mon.update([replace(V, heartbeat_age_s=12.0)]) == []  # no repeat while it lasts
    lost = mon.update([replace(V, heartbeat_age_s=31.0)])
    assert _keys(lost) == [("link-3", False)] and lost[0].sound and lost[0].banner
    assert "NO LINK for 31 s" in lost[0].text and "49.80000, 13.39800" in lost[0].text
    assert mon.update([replace(V, heartbeat_age_s=40.0)]) == []
    back = mon.update([V])
    assert _keys(back) == [("drop-3", False), ("link-3", True)]


def test_failsafe_is_a_return_the_pilot_did_not_command() -> None:
    set_language("en")
    mon = AlertMonitor()
    mon.update([V])
    fs = mon.update([replace(V, mode="AUTO.RTL")])
    assert _keys(fs) == [("failsafe-3", False)] and fs[0].sound and "AUTO.RTL" in fs[0].text
    # the pilot's own RTL is not a failsafe
    mon.update([V])
    mon.commanded_return(3)
    assert mon.update([replace(V, mode="AUTO.RTL")]) == []
    # nor the mission's own final RTL item
    mon.update([V])
    assert mon.update([replace(V, mode="AUTO.RTL", mission_seq=19)]) == []


def test_battery_low_then_critical_then_swapped() -> None:
    set_language("en")
    mon = AlertMonitor(low_pct=30.0, critical_pct=15.0)
    mon.update([V])
    low = mon.update([replace(V, battery_pct=25.0)])
    assert [(a.key, a.level) for a in low] == [("battery-3", "warning")]
    assert mon.update([replace(V, battery_pct=24.0)]) == []
    crit = mon.update([replace(V, battery_pct=9.0)])
    assert [(a.key, a.level, a.sound) for a in crit] == [("battery-3", "critical", True)]
    assert _keys(mon.update([replace(V, battery_pct=100.0)])) == [("battery-3", True)]


def test_autopilot_messages_are_banners_by_severity() -> None:
    set_language("en")
    mon = AlertMonitor()
    texts = (
        (1.0, 6, "Takeoff detected"),
        (2.0, 4, "Low battery level, return advised"),
        (3.0, 2, "EKF variance"),
        (4.0, 7, "debug detail"),
    )
    alerts = mon.update([replace(V, statustexts=texts)])
    got = [(a.key, a.level, a.banner, a.sound, a.log_text or a.text, a.ttl_s) for a in alerts]
    assert got == [
        ("msg-3", "info", True, False, "INFO: Takeoff detected", 8.0),  # transient
        ("text-3", "warning", True, False, "WARNING: Low battery level, return advised", 60.0),
        ("text-3", "critical", True, True, "CRITICAL: EKF variance", 60.0),
        ("msg-3", "info", False, False, "DEBUG: debug detail", 8.0),  # the log only
    ]
    assert mon.update([replace(V, statustexts=texts)]) == []  # each message once


def test_a_banner_that_expires_after_its_window_closed_raises_nothing(qtbot) -> None:  # type: ignore[no-untyped-def]
    """A banner's time to live had been a free single shot: it fired into a window already
    closed (its layout deleted) and raised in the event loop (the next test's, in a run)."""
    from PyQt5.QtCore import QEvent
    from PyQt5.QtWidgets import QApplication

    from gui.fly_alerts import WARNING, BannerStack

    stack = BannerStack()
    stack.raise_alert("door-error", WARNING, "Error: x", ttl_s=0.05)
    stack.deleteLater()
    QApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
    qtbot.wait(200)  # past the time to live: nothing fires


DROPPED_STACK = """
import gc, sys, time
from PyQt5.QtWidgets import QApplication
app = QApplication(sys.argv[:1])
from gui.fly_alerts import WARNING, BannerStack
stack = BannerStack()
stack.show()
for k in range(2):
    stack.raise_alert(f"text-{k}", WARNING, "x", ttl_s=0.1 + 0.01 * k)
stack.deleteLater()  # not run outside an event loop: the widgets live on
del stack
gc.collect()  # the window dropped by its owner, as a test's window at its end
end = time.monotonic() + 0.4  # past both times to live
while time.monotonic() < end:
    app.processEvents()
    time.sleep(0.005)
print("alive")
"""


def test_banners_of_a_dropped_window_expire_without_a_crash() -> None:
    """Two banners with a time to live on a stack its owner dropped (deleted later, collected
    now), then the event loop runs past their time. Their timers had called a closure that
    held the stack and the banner; the closure, kept by the banner's timer, closed a reference
    cycle that Python's garbage collector broke while the widgets lived on, and the timers
    fired into it: a segmentation fault (it killed a test worker in CI, in whatever test ran
    next). Its own process: a crash must not take the test run with it."""
    import os
    import subprocess
    import sys

    proc = subprocess.run(
        [sys.executable, "-c", DROPPED_STACK],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "QT_QPA_PLATFORM": "offscreen"},
    )
    assert proc.returncode == 0 and "alive" in proc.stdout, (proc.returncode, proc.stderr[-800:])


def test_a_banner_expires_and_is_dismissed_by_its_own_key(qtbot) -> None:  # type: ignore[no-untyped-def]
    """Its time to live removes a banner; a newer banner under the same key is not removed by
    the older one's timer; the ✕ removes only its own banner."""
    from gui.fly_alerts import WARNING, BannerStack

    stack = BannerStack()
    qtbot.addWidget(stack)
    stack.raise_alert("a", WARNING, "old a", ttl_s=0.1)
    stack.raise_alert("a", WARNING, "new a")  # replaces it, without a time to live
    stack.raise_alert("b", WARNING, "b", ttl_s=0.1)
    stack.raise_alert("c", WARNING, "c")
    qtbot.waitUntil(lambda: "b" not in stack.banners, timeout=2000)
    qtbot.wait(100)
    assert stack.texts() == {"a": "new a", "c": "c"}
    stack.banners["c"].dismiss.click()
    assert stack.texts() == {"a": "new a"}
    stack.banners["a"].dismiss.click()
    assert stack.texts() == {} and not stack.isVisible()


def test_banners_follow_a_language_switch(qtbot) -> None:  # type: ignore[no-untyped-def]
    """A banner up when the pilot switches the language is shown in the new one (it had
    kept "vehicle 3: …" in Czech); the vehicle's own words stay as it sent them."""
    from gui.fly_alerts import BannerStack

    set_language("en")
    stack = BannerStack()
    qtbot.addWidget(stack)
    mon = AlertMonitor(low_pct=30.0, critical_pct=15.0, link_loss_s=30.0)
    mon.update([V])
    alerts = mon.update([replace(V, battery_pct=9.0, statustexts=((1.0, 2, "EKF variance"),))])
    alerts += mon.update([replace(V, heartbeat_age_s=31.0)])
    for a in alerts:
        if a.banner and not a.clear:
            stack.raise_alert(a.key, a.level, a.render or a.text)
    english = {k: b.text() for k, b in stack.banners.items()}
    assert english["text-3"] == "vehicle 3: EKF variance"
    try:
        set_language("cs")
        stack.retranslate()
        czech = {k: b.text() for k, b in stack.banners.items()}
    finally:
        set_language("en")
    assert czech["text-3"] == "dron 3: EKF variance"
    assert czech["battery-3"].startswith("dron 3: ") and "9 %" in czech["battery-3"]
    assert czech["link-3"].startswith("dron 3: ") and "49.80000, 13.39800" in czech["link-3"]
    assert all(czech[k] != english[k] for k in english)
    stack.retranslate()
    assert {k: b.text() for k, b in stack.banners.items()} == english
