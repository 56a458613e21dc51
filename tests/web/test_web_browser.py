"""End to end in a real headless Chromium (Selenium) against the portal served by uvicorn:
a requester draws the area of a search on the Leaflet map and files the request; a pilot
accepts it in the GUI's requests panel (real widgets, offscreen), which prefills the plan;
a simulated drone flies and the recorder writes the flight; the requester's page shows the
drone live, then the track and the completed state. Screenshots go to /tmp/web-shots."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from dkp_testkit import free_simulator_offset
from portal_kit import USERS, csrf_of, make_tiles, seed_users

from dronekit_plzen.i18n import set_language

# one worker builds this module's expensive fixture once (make test runs --dist loadgroup)
pytestmark = pytest.mark.xdist_group("web_browser")

SHOTS = Path("/tmp/web-shots")
HOME = (49.7230, 13.3500, 330.0)  # Plzeň-Bory, inside the area the requester draws
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--window-size=1280,1100",
    "--lang=en-GB",
)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """The portal on a fresh database, served by uvicorn on 127.0.0.1 in a thread."""
    import uvicorn

    from dronekit_plzen.web.server import build_app

    root = tmp_path_factory.mktemp("served")
    db = root / "flights.db"
    seed_users(db)
    make_tiles(root / "tiles", (13.340, 49.717, 13.362, 49.729), range(15, 18))
    app = build_app(db, tile_cache=root / "tiles", poll_interval_s=0.5)
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "uvicorn did not start"
        time.sleep(0.05)
    yield {"db": db, "url": f"http://127.0.0.1:{port}", "root": root}
    server.should_exit = True
    thread.join(10)


@pytest.fixture(scope="module")
def browser(served: dict[str, Any]) -> Iterator[Any]:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = "/usr/bin/chromium"
    for flag in CHROMIUM_FLAGS:
        opts.add_argument(flag)
    opts.add_argument(f"--user-data-dir={served['root'] / 'chromium-profile'}")
    driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=opts)
    driver.set_page_load_timeout(30)
    SHOTS.mkdir(parents=True, exist_ok=True)
    try:
        yield driver
    finally:
        driver.quit()


def _wait(predicate: Any, timeout_s: float, what: str) -> Any:
    deadline = time.monotonic() + timeout_s
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


def _sign_in(driver: Any, url: str, name: str) -> None:
    from selenium.webdriver.common.by import By

    driver.get(url + "/login")
    driver.find_element(By.ID, "username").send_keys(name)
    driver.find_element(By.ID, "password").send_keys(USERS[name][0])
    driver.find_element(By.ID, "login").click()
    _wait(lambda: "/requests" in driver.current_url, 10, "the status board")


def _file_on_the_map(driver: Any, url: str) -> int:
    """The requester fills the form and draws a four-corner area by clicking the map."""
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    driver.get(url + "/requests/new")
    _wait(lambda: driver.execute_script("return !!window.dkpMap"), 10, "the Leaflet map")
    driver.execute_script("window.dkpMap.setView([49.7232, 13.3505], 17, {animate: false})")
    Select(driver.find_element(By.ID, "category")).select_by_value("sar")
    Select(driver.find_element(By.ID, "urgency")).select_by_value("immediate")
    driver.find_element(By.ID, "location").send_keys("Plzeň-Bory, lesopark za věznicí")
    Select(driver.find_element(By.ID, "subject_category")).select_by_value("dementia")
    driver.find_element(By.ID, "subject_description").send_keys("muž 78 let, modrá bunda")
    driver.execute_script(
        "document.getElementById('lkp_time').value = arguments[0]",
        time.strftime("%Y-%m-%dT%H:%M", time.localtime(time.time() - 3600)),
    )
    driver.find_element(By.ID, "contact_name").send_keys("npor. Novák, HZS Plzeň")
    driver.find_element(By.ID, "contact_phone").send_keys("+420 950 123 456")
    driver.find_element(By.ID, "draw-area").click()
    the_map = driver.find_element(By.ID, "map")
    for dx, dy in ((-160, -110), (170, -120), (180, 120), (-150, 130)):
        ActionChains(driver).move_to_element_with_offset(the_map, dx, dy).click().perform()
    _wait(lambda: the_map.get_attribute("data-corners") == "4", 5, "four corners")
    assert '"Polygon"' in driver.find_element(By.ID, "geometry").get_attribute("value")
    driver.save_screenshot(str(SHOTS / "1-request-form.png"))
    driver.find_element(By.ID, "submit-request").click()
    _wait(
        lambda: "/requests/" in driver.current_url and "new" not in driver.current_url,
        10,
        "the request page",
    )
    return int(driver.current_url.rsplit("/", 1)[1])


def _fly_one_drone(db: Path, deployment_id: int, live_check: Any) -> None:
    """One simulated PX4 drone takes off in the area, flies 80 m out and lands; the recorder
    attributes the flight to the deployment. ``live_check()`` runs while it is airborne."""
    from dronekit_plzen import geo
    from dronekit_plzen.link import connect
    from simulators import SimFleet
    from telemetry.recorder import Recorder

    fleet = None
    for _ in range(5):
        f = SimFleet(
            n_vehicles=1,
            autopilot="px4",
            home=HOME,
            speedup=20.0,
            port_offset=free_simulator_offset(),
        )
        try:
            f.start()
        except Exception:  # port taken by a parallel run: another offset
            continue
        fleet = f
        break
    assert fleet is not None, "no free port offset for the simulator"
    try:
        url = f"udpin://127.0.0.1:{fleet.ports(0)['api_remote']}"
        with (
            Recorder(db, deployment_id=deployment_id, tlog_path=False) as rec,
            connect(url) as link,
        ):
            handle = rec.attach(link)
            v = link.wait_vehicle(timeout_s=15)
            v.wait_ready_to_arm(timeout_s=30)
            st = v.wait_for(lambda s: s.home is not None and s.gps_fix_type >= 3, 30, "GPS fix")
            v.arm()
            v.takeoff(15.0)
            v.wait_for(lambda s: s.relative_alt_m > 13.5, 60, "climb")
            lon, lat = geo.destination(st.home[1], st.home[0], 45.0, 80.0)
            v.goto(float(lat), float(lon), 15.0)
            live_check()
            v.wait_for(
                lambda s: geo.geodesic_distance_m(s.lon_deg, s.lat_deg, lon, lat) < 3, 90, "goto"
            )
            v.land()
            v.wait_for(lambda s: not s.armed, 120, "landed and disarmed")
            handle.remove()
    finally:
        fleet.stop()


@pytest.mark.slow
def test_request_on_the_map_accepted_in_the_gui_flown_and_seen_completed(
    served: dict[str, Any], browser: Any, qtbot: Any
) -> None:
    from selenium.webdriver.common.by import By

    from gui.plan_panel import PlanPanel
    from gui.requests_panel import RequestsPanel
    from telemetry import requests as rq
    from telemetry.store import open_store

    url, db = served["url"], served["db"]
    _sign_in(browser, url, "hzs1")
    rid = _file_on_the_map(browser, url)
    state = browser.find_element(By.ID, "state")
    assert state.get_attribute("data-state") == "requested"

    # the pilot's GUI: notified of the new request, accepts it, the plan is prefilled
    set_language("en")
    panel, plan = RequestsPanel(db, poll_ms=0), PlanPanel()
    qtbot.addWidget(panel)
    qtbot.addWidget(plan)
    panel.attach_plan_panel(plan)
    panel.resize(700, 500)
    panel.show()
    with qtbot.waitSignal(panel.newRequests, timeout=10_000) as new:
        panel.refresh()
    assert new.args == [1] and panel.banner.isVisible()
    assert "New request from the portal" in panel.banner.text()
    panel.grab().save(str(SHOTS / "2-gui-notification.png"))
    assert panel.select_request(rid) and panel.accept_button.isEnabled()
    shown = panel.details.text()
    assert "npor. Novák" in shown and "modrá bunda" in shown
    # what a pilot plans from, as the portal names it: the subject's category (the POA
    # map's statistics), the last known position and its time, who filed it
    for text in ("person with dementia", "Last known position: 49.72317, 13.35060 at ", "hzs1"):
        assert text in shown, shown
    qtbot.wait(200)  # laid out
    panel.grab().save(str(SHOTS / "2-gui-requests-panel.png"))
    panel.pilot.setText("Jan Pilot")
    panel.drones.setText("dron-1")
    with qtbot.waitSignal(panel.planRequested, timeout=10_000) as planned:
        panel.accept_selected()
    req = planned.args[0]
    assert req.state == "accepted" and req.deployment_id is not None
    qtbot.waitUntil(lambda: plan.area is not None, timeout=10_000)
    assert plan.launch == pytest.approx((req.lon_deg, req.lat_deg))
    assert plan.pattern.currentData() == "survey"
    assert abs(plan.area.geom_lonlat.centroid.x - req.lon_deg) < 1e-6
    with open_store(db) as s:  # answered: no second notification
        assert rq.unseen_requests(s) == []

    # the requester's page polls: the drone shows live, then the track and the end state
    browser.refresh()
    the_map = browser.find_element(By.ID, "map")

    def drone_on_the_map() -> None:
        badge = browser.find_element(By.ID, "state")
        _wait(  # the recorder links the flight right after writing it: both show soon
            lambda: (
                the_map.get_attribute("data-live") == "1"
                and badge.get_attribute("data-state") == "in_progress"
            ),
            20,
            "the live drone and the in-flight state",
        )
        browser.save_screenshot(str(SHOTS / "3-in-flight.png"))
        assert badge.text == "In progress"

    _fly_one_drone(db, req.deployment_id, drone_on_the_map)
    with httpx.Client(base_url=url) as pilot:  # the pilot closes it on the portal
        token = csrf_of(pilot.get("/login").text)
        pilot.post(
            "/login",
            data={"csrf_token": token, "username": "pilot1", "password": USERS["pilot1"][0]},
        )
        token = csrf_of(pilot.get(f"/requests/{rid}").text)
        pilot.post(
            f"/requests/{rid}/state",
            data={"csrf_token": token, "state": "completed", "reason": "nalezen"},
        )
    _wait(
        lambda: browser.find_element(By.ID, "state").get_attribute("data-state") == "completed",
        15,
        "the completed state",
    )
    assert browser.find_element(By.ID, "state").text == "Completed"
    assert the_map.get_attribute("data-tracks") == "1"
    assert int(the_map.get_attribute("data-track-points")) > 10
    assert the_map.get_attribute("data-live") == "0"
    assert not browser.find_element(By.ID, "cancel-form").is_displayed()
    assert browser.find_elements(By.CSS_SELECTOR, "path.dkp-track")
    # the legend names every kind of line and mark the map draws (the area's dashed outline
    # and the last known position's ring had no entry)
    legend = browser.find_element(By.CSS_SELECTOR, "p.legend").text
    for entry in ("search area", "Last known position", "flown track", "drone now"):
        assert entry in legend, legend
    assert browser.find_elements(By.CSS_SELECTOR, "path.dkp-area")
    assert browser.find_elements(By.CSS_SELECTOR, "path.dkp-lkp")
    browser.save_screenshot(str(SHOTS / "4-completed-with-track.png"))
    with open_store(db) as s:
        flights = s.flights(deployment_id=req.deployment_id)
        actions = [e["action"] for e in reversed(rq.audit_entries(s, request_id=rid))]
    assert len(flights) == 1 and flights[0]["complete"] == 1
    assert actions == ["request_filed", "request_accepted", "request_completed"]
    panel.shutdown()
