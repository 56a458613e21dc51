"""The pilots' side of the web portal: the queue of mission requests, with a notification.

The panel polls the flight database (the portal writes requests into it) in a worker, shows
the open requests, announces new ones (a banner, the status bar, the window's alert) and lets
a pilot accept or refuse one. Accepting creates the deployment and turns the request into a
plan: its area goes to the planning panel, its point (or the SAR last known position) becomes
the launch point and, for a search without an area, the datum.
"""

from __future__ import annotations

import getpass
import json
import tempfile
from pathlib import Path
from typing import Any

from PyQt5.QtCore import QTimer, pyqtSignal
from PyQt5.QtWidgets import (
    QApplication,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from dronekit_plzen.geo import geodesic_distance_m
from dronekit_plzen.i18n import _
from gui.backend import REQUEST_SUBJECTS
from gui.workers import ThreadRunner
from telemetry.requests import label

POLL_MS = 5_000
_ROLE = "pilot"


# ----------------------------------------------------------------------------- adapter (no Qt)
def load_queue(db_path: Path) -> tuple[list[Any], list[int]]:
    """(open requests newest first, ids of requests no GUI has shown yet — now marked seen)."""
    from telemetry import requests as rq
    from telemetry.store import open_store

    with open_store(db_path) as store:
        open_reqs = rq.list_requests(store, states=rq.OPEN_STATES)
        new_ids = [r.id for r in rq.unseen_requests(store)]
        rq.mark_seen(store, new_ids)
    return open_reqs, new_ids


def accept_request(db_path: Path, request_id: int, pilot: str, drones: list[str]) -> Any:
    from telemetry import requests as rq
    from telemetry.store import open_store

    with open_store(db_path) as store:
        return rq.accept_request(
            store, request_id, actor=f"gui:{_login()}", role=_ROLE, pilot=pilot, drones=drones
        )


def refuse_request(db_path: Path, request_id: int, reason: str) -> Any:
    from telemetry import requests as rq
    from telemetry.store import open_store

    with open_store(db_path) as store:
        return rq.refuse_request(
            store, request_id, actor=f"gui:{_login()}", role=_ROLE, reason=reason
        )


def attach_poa_map(db_path: Path, request_id: int, poa_path: Path) -> Any:
    """Record a probability search's POA map on the request (the portal draws it as the cells'
    heat map), as ``dronekit-plzen web attach --poa`` does."""
    from missions.poa_cover import poa_feature_collection
    from telemetry import requests as rq
    from telemetry.store import open_store

    doc = json.dumps(poa_feature_collection(Path(poa_path)))
    with open_store(db_path) as store:
        return rq.attach_results(
            store, request_id, actor=f"gui:{_login()}", role=_ROLE, poa_geojson=doc
        )


#: how far the plan's last known position may lie from the request's for its map to be the
#: request's (a map picked by hand on the request's point lands within a few metres)
SAME_LKP_M = 50.0


def _login() -> str:
    try:
        return getpass.getuser()
    except Exception:  # no login name in this environment (a container)
        return "pilot"


def request_details(r: Any) -> str:
    """What a pilot plans from, in the portal's names: the place (an area or a point), the
    organisation, urgency and who filed it, the missing person's category and description
    (the category picks the POA map's statistics), the last known position and its time,
    the contact and the notes."""
    where = ", " + _("area") if r.area_geojson else ""
    lines = [
        f"{r.location} ({r.lat_deg:.5f}, {r.lon_deg:.5f}{where})",
        " · ".join(
            (
                label(_, "organisation", r.organisation),
                label(_, "category", r.category),
                label(_, "urgency", r.urgency),
                _("filed {at} UTC by {who}").format(
                    at=str(r.created_at)[:16].replace("T", " "), who=r.requested_by_name or "?"
                ),
            )
        ),
    ]
    if r.subject_category or r.subject_description:
        who = ": ".join(
            t
            for t in (label(_, "subject", r.subject_category) if r.subject_category else "",
                      r.subject_description or "")
            if t
        )  # fmt: skip
        lines.append(_("Missing person: {text}").format(text=who))
    if r.lkp_lat_deg is not None and r.lkp_lon_deg is not None:
        lines.append(
            _("Last known position: {lat:.5f}, {lon:.5f} at {time} UTC").format(
                lat=r.lkp_lat_deg,
                lon=r.lkp_lon_deg,
                time=str(r.lkp_time or "?")[:16].replace("T", " "),
            )
        )
    lines.append(_("Contact: {name}, {phone}").format(name=r.contact_name, phone=r.contact_phone))
    if r.notes:
        lines.append(r.notes)
    return "\n".join(lines)


def area_file(req: Any, folder: Path) -> Path | None:
    """The request's area as a GeoJSON file the planner reads (None for a point request)."""
    if not req.area_geojson:
        return None
    path = folder / f"request-{req.id}-area.geojson"
    feature = {
        "type": "Feature",
        "properties": {"name": f"request {req.id}: {req.location}"},
        "geometry": json.loads(req.area_geojson),
    }
    path.write_text(json.dumps({"type": "FeatureCollection", "features": [feature]}))
    return path


# ----------------------------------------------------------------------------- the panel
class RequestsPanel(QWidget):
    """Open requests from the portal; accept or refuse; send the accepted one to planning."""

    statusMessage = pyqtSignal(str)
    newRequests = pyqtSignal(int)  # how many arrived since the last look
    planRequested = pyqtSignal(object)  # the accepted MissionRequest

    def __init__(self, db_path: Path, parent: QWidget | None = None, *, poll_ms: int = POLL_MS):
        super().__init__(parent)
        self.db_path = Path(db_path)
        self.runner = ThreadRunner(self)
        self.requests: list[Any] = []
        self.plan_panel: Any = None
        #: the request last sent to the plan (its probability search's map can be attached)
        self.planned: Any = None
        self._loading = False
        self._tmp = tempfile.TemporaryDirectory(prefix="dkp-requests-")
        self._build()
        self.timer = QTimer(self)
        self.timer.timeout.connect(self.refresh)
        if poll_ms > 0:
            self.timer.start(poll_ms)
            QTimer.singleShot(0, self.refresh)

    def _build(self) -> None:
        lay = QVBoxLayout(self)
        self.banner = QLabel("")
        self.banner.setStyleSheet(
            "QLabel { background: #ffe08a; color: #000; padding: 6px; font-weight: bold; }"
        )
        self.banner.setVisible(False)
        lay.addWidget(self.banner)
        self.list = QListWidget()
        self.list.currentItemChanged.connect(self._select)
        lay.addWidget(self.list, 1)
        self.details = QLabel(_("No request selected."))
        self.details.setWordWrap(True)
        lay.addWidget(self.details)
        box = QGroupBox(_("Answer"))
        form = QFormLayout(box)
        self.pilot = QLineEdit(_login())
        form.addRow(_("Pilot"), self.pilot)
        self.drones = QLineEdit()
        self.drones.setPlaceholderText(_("comma-separated"))
        form.addRow(_("Drones"), self.drones)
        self.reason = QLineEdit()
        form.addRow(_("Reason of a refusal"), self.reason)
        row = QHBoxLayout()
        self.accept_button = QPushButton(_("Accept and plan"))
        self.accept_button.clicked.connect(self.accept_selected)
        self.refuse_button = QPushButton(_("Refuse"))
        self.refuse_button.clicked.connect(self.refuse_selected)
        self.plan_button = QPushButton(_("Plan it"))
        self.plan_button.clicked.connect(self.plan_selected)
        self.refresh_button = QPushButton(_("Refresh"))
        self.refresh_button.clicked.connect(self.refresh)
        for b in (self.accept_button, self.refuse_button, self.plan_button, self.refresh_button):
            row.addWidget(b)
        form.addRow(row)
        self.attach_button = QPushButton(_("Attach the POA map"))
        self.attach_button.setToolTip(
            _("Show the probability map of the search planned for this request in the portal")
        )
        self.attach_button.clicked.connect(self.attach_poa)
        form.addRow(self.attach_button)
        lay.addWidget(box)
        self._update_buttons()

    # ------------------------------------------------------------------ queue
    def refresh(self) -> None:
        if self._loading:
            return
        self._loading = True
        db = self.db_path
        self.runner.run(lambda: load_queue(db), self._loaded, self._failed)

    def _loaded(self, result: tuple[list[Any], list[int]]) -> None:
        self._loading = False
        self.requests, new_ids = result
        current = self.selected()
        self.list.clear()
        for r in self.requests:
            # the portal's words in the pilot's language (the codes "IMMEDIATE", "sar" had
            # stayed English in Czech); the urgency without its explanation, in capitals
            state = label(_, "state", r.state)
            urgency = label(_, "urgency", r.urgency).split(" (")[0].upper()
            category = label(_, "category", r.category)
            item = QListWidgetItem(
                f"#{r.id} [{state}] {urgency} · {r.organisation} · {category} · {r.location}"
            )
            item.setData(256, r.id)
            self.list.addItem(item)
            if current is not None and r.id == current.id:
                self.list.setCurrentItem(item)
        if new_ids:
            self.notify(len(new_ids))
        self._update_buttons()

    def notify(self, n: int) -> None:
        text = (
            _("New request from the portal!")
            if n == 1
            else _("{n} new requests from the portal!").format(n=n)
        )
        self.banner.setText(text)
        self.banner.setVisible(True)
        self.statusMessage.emit(text)
        self.newRequests.emit(n)
        window = self.window()
        if window is not None and window.isVisible():
            QApplication.alert(window)

    def selected(self) -> Any:
        item = self.list.currentItem()
        if item is None:
            return None
        rid = item.data(256)
        return next((r for r in self.requests if r.id == rid), None)

    def select_request(self, request_id: int) -> bool:
        for i in range(self.list.count()):
            item = self.list.item(i)
            if item is not None and item.data(256) == request_id:
                self.list.setCurrentItem(item)
                return True
        return False

    def _select(self, *_args: Any) -> None:
        r = self.selected()
        if r is None:
            self.details.setText(_("No request selected."))
        else:
            self.details.setText(request_details(r))
        self.banner.setVisible(False)
        self._update_buttons()

    def _update_buttons(self) -> None:
        r = self.selected()
        waiting = r is not None and r.state == "requested"
        self.accept_button.setEnabled(waiting)
        self.refuse_button.setEnabled(waiting)
        self.plan_button.setEnabled(r is not None and r.state in ("accepted", "in_progress"))
        view = getattr(self.plan_panel, "plan_view", None)
        self.attach_button.setEnabled(
            self.planned is not None and getattr(view, "poa_path", None) is not None
        )

    # ------------------------------------------------------------------ answers
    def accept_selected(self) -> None:
        r = self.selected()
        if r is None:
            return
        db, pilot = self.db_path, self.pilot.text().strip() or _login()
        drones = [d.strip() for d in self.drones.text().split(",") if d.strip()]
        self.runner.run(
            lambda: accept_request(db, r.id, pilot, drones), self._accepted, self._failed
        )

    def _accepted(self, req: Any) -> None:
        self.statusMessage.emit(
            _("Request {id} accepted: deployment {dep}.").format(id=req.id, dep=req.deployment_id)
        )
        self.send_to_plan(req)
        self.refresh()

    def refuse_selected(self) -> None:
        r = self.selected()
        if r is None:
            return
        reason = self.reason.text().strip()
        if not reason:
            self.statusMessage.emit(_("Give the reason of the refusal."))
            return
        db = self.db_path
        self.runner.run(lambda: refuse_request(db, r.id, reason), self._refused, self._failed)

    def _refused(self, req: Any) -> None:
        self.statusMessage.emit(_("Request {id} refused.").format(id=req.id))
        self.refresh()

    def _failed(self, message: str) -> None:
        self._loading = False
        self.statusMessage.emit(message)

    # ------------------------------------------------------------------ planning
    def attach_plan_panel(self, plan_panel: Any) -> None:
        """The planning panel that accepted requests are sent to (the main window's)."""
        self.plan_panel = plan_panel
        plan_panel.planReady.connect(lambda _view: self._update_buttons())

    def attach_poa(self) -> None:
        """The plan's POA map recorded on the request it was planned for, when the plan's last
        known position is still the request's (not a search planned since for another)."""
        req, view = self.planned, getattr(self.plan_panel, "plan_view", None)
        path = getattr(view, "poa_path", None)
        if req is None or path is None:
            return
        want = (
            (req.lkp_lon_deg, req.lkp_lat_deg)
            if req.lkp_lon_deg is not None
            else (req.lon_deg, req.lat_deg)
        )
        datum = getattr(self.plan_panel, "datum", None)
        if datum is None or float(geodesic_distance_m(datum[0], datum[1], *want)) > SAME_LKP_M:
            self.statusMessage.emit(
                _(
                    "The planned search is not around request {id}'s last known position: "
                    "plan it from the request, then attach its map."
                ).format(id=req.id)
            )
            return
        db = self.db_path
        self.runner.run(lambda: attach_poa_map(db, req.id, path), self._attached, self._failed)

    def _attached(self, req: Any) -> None:
        self.statusMessage.emit(
            _("POA map attached to request {id}: the portal shows it.").format(id=req.id)
        )
        self.refresh()

    def plan_selected(self) -> None:
        r = self.selected()
        if r is not None:
            self.send_to_plan(r)

    def send_to_plan(self, req: Any) -> None:
        """Prefill the planning panel: the area, the launch point (and a search's datum)."""
        self.planRequested.emit(req)
        self.planned = req
        pp = self.plan_panel
        if pp is None:
            return
        try:
            path = area_file(req, Path(self._tmp.name))
        except (ValueError, TypeError, OSError) as exc:  # a damaged area in the database
            self.statusMessage.emit(
                _("Error: {message}").format(
                    message=_("request {id}: its area cannot be read: {err}").format(
                        id=req.id, err=exc
                    )
                )
            )
            return
        pp.clear_picks()
        poa = path is None and (req.subject_category or "") in REQUEST_SUBJECTS
        subject = REQUEST_SUBJECTS.get(req.subject_category or "")
        if path is not None:
            pp.load_area(path)
            self._set_pattern(pp, "survey")
        else:
            # a missing person whose category has lost-person statistics: a probability search
            # around the last known position (a child's age group is the pilot's to pick);
            # otherwise an expanding square from it
            self._set_pattern(pp, "poa" if poa else "expanding-square")
            if poa:
                pp.subject.setCurrentIndex(max(pp.subject.findData(subject), 0))
            lon, lat = (
                (req.lkp_lon_deg, req.lkp_lat_deg)
                if req.lkp_lon_deg is not None
                else (req.lon_deg, req.lat_deg)
            )
            pp.start_picking("datum")
            pp.map_clicked(lon, lat)
        pp.start_picking("launch")
        pp.map_clicked(req.lon_deg, req.lat_deg)
        pp.centreRequested.emit(req.lon_deg, req.lat_deg)
        if poa and subject is None:
            text = _(
                "Request {id} is in the Plan tab: pick the missing person's category (a child's "
                "by age), check the launch point, then plan."
            )
        else:
            text = _("Request {id} is in the Plan tab: check the launch point, then plan.")
        self.statusMessage.emit(text.format(id=req.id))

    @staticmethod
    def _set_pattern(pp: Any, pattern: str) -> None:
        idx = pp.pattern.findData(pattern)
        if idx >= 0:
            pp.pattern.setCurrentIndex(idx)

    def shutdown(self) -> None:
        self.timer.stop()
        self.runner.shutdown()
        self._tmp.cleanup()
