"""The deployment panel: register an IZS deployment, move its status and record its outcome,
attribute the flights flown for it, and see indicator GOV 16 (:mod:`gui.deployments_view`)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from PyQt5.QtCore import QDateTime, Qt, QTimer, pyqtSignal
from PyQt5.QtWidgets import (
    QComboBox,
    QDateTimeEdit,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from dronekit_plzen.i18n import _, ngettext
from gui import backend
from gui.deployments_view import DeploymentEditor, IndicatorChart, year_bars
from gui.workers import ThreadRunner
from telemetry.deployments import CATEGORIES, ORGANISATIONS, STATUS_NAMES

#: years shown in the indicator chart (ending with the current one)
CHART_YEARS = 5


class DeploymentPanel(QWidget):
    """Create deployments in the telemetry database and link recorded flights to them."""

    statusMessage = pyqtSignal(str)
    deploymentCreated = pyqtSignal(object)
    deploymentSelected = pyqtSignal(int)  # flights recorded from now on are attributed to it
    deploymentUpdated = pyqtSignal(object)
    sightingRecorded = pyqtSignal(int)
    #: the selected deployment's sightings (database rows; [] when none is selected), for the map
    sightingsShown = pyqtSignal(object)

    def __init__(self, db_path: Path, parent: QWidget | None = None):
        super().__init__(parent)
        self.db_path = Path(db_path)
        self.runner = ThreadRunner(self)
        self.current_id: int | None = None
        self.deps: dict[int, Any] = {}
        self._refresh_seq = 0  #: the newest refresh asked for (older answers are dropped)
        self.indicator_reports: list[Any] = []
        lay = QVBoxLayout(self)

        box = QGroupBox(_("New deployment"))
        form = QFormLayout(box)
        self.organisation = QComboBox()
        self.category = QComboBox()
        for code, name in ORGANISATIONS.items():
            self.organisation.addItem(_(name), code)
        for code, name in CATEGORIES.items():
            self.category.addItem(_(name), code)
        form.addRow(_("Organisation"), self.organisation)
        form.addRow(_("Category"), self.category)
        self.location = QLineEdit()
        self.location.setPlaceholderText(_("e.g. Bolevec, forest north of the ponds"))
        form.addRow(_("Location"), self.location)
        # when the request came (local time; stored in UTC): a deployment registered afterwards
        # keeps its true time, and the flights flown for it can be linked
        self.requested_at = QDateTimeEdit(QDateTime.currentDateTime())
        self.requested_at.setDisplayFormat("yyyy-MM-dd HH:mm")
        self.requested_at.setCalendarPopup(True)
        form.addRow(_("Requested at"), self.requested_at)
        self.notes = QPlainTextEdit()
        self.notes.setMaximumHeight(70)
        form.addRow(_("Notes"), self.notes)
        self.db_label = QLabel(str(self.db_path))
        self.db_label.setWordWrap(True)
        form.addRow(_("Database"), self.db_label)
        self.register_button = QPushButton(_("Register deployment"))
        self.register_button.clicked.connect(self.register)
        form.addRow(self.register_button)
        lay.addWidget(box)

        lay.addWidget(QLabel(_("Deployments")))
        self.deployments = QListWidget()
        self.deployments.currentItemChanged.connect(self._select)
        lay.addWidget(self.deployments, 1)
        self.editor = DeploymentEditor()
        self.editor.saveRequested.connect(self.save_status)
        lay.addWidget(self.editor)

        lay.addWidget(QLabel(_("Recorded flights not yet linked")))
        self.flights = QListWidget()
        lay.addWidget(self.flights, 1)
        row = QHBoxLayout()
        self.refresh_button = QPushButton(_("Refresh"))
        self.refresh_button.clicked.connect(self.refresh)
        self.link_button = QPushButton(_("Link checked flights"))
        self.link_button.clicked.connect(self.link_checked)
        row.addWidget(self.refresh_button)
        row.addWidget(self.link_button)
        lay.addLayout(row)
        self.chart = IndicatorChart()
        lay.addWidget(self.chart)
        QTimer.singleShot(0, self._startup)

    def _startup(self) -> None:
        """After the window has connected our signals: list what is stored."""
        self.refresh()

    # ------------------------------------------------------------------ actions
    def register(self) -> None:
        location = self.location.text().strip()
        if not location:
            self.statusMessage.emit(_("A deployment needs a location."))
            return
        org = str(self.organisation.currentData())
        cat = str(self.category.currentData())
        notes = self.notes.toPlainText().strip() or None
        db = self.db_path
        when = (
            self.requested_at.dateTime()
            .toOffsetFromUtc(self.requested_at.dateTime().offsetFromUtc())
            .toString(Qt.DateFormat.ISODate)
        )
        self.runner.run(
            lambda: backend.create_deployment(db, org, cat, location, notes, when),
            self._created,
            self._failed,
        )

    def _created(self, dep: Any) -> None:
        self.requested_at.setDateTime(QDateTime.currentDateTime())  # the next one's default
        self.current_id = int(dep.id)
        self.deploymentSelected.emit(self.current_id)
        self.statusMessage.emit(
            _("Deployment {id} registered ({org}, {cat}).").format(
                id=dep.id, org=dep.organisation, cat=dep.category
            )
        )
        self.deploymentCreated.emit(dep)
        self.refresh()

    def refresh(self) -> None:
        db = self.db_path
        this_year = int(time.strftime("%Y", time.gmtime()))
        years = list(range(this_year - CHART_YEARS + 1, this_year + 1))
        self._refresh_seq += 1
        seq = self._refresh_seq

        def done(result: tuple[list[Any], list[dict[str, Any]], list[Any]]) -> None:
            if seq == self._refresh_seq:  # an older answer arriving late would undo a newer one
                self._refreshed(result)

        self.runner.run(
            lambda: (
                backend.list_deployments(db),
                backend.unlinked_flights(db),
                backend.indicator(db, years),
            ),
            done,
            self._failed,
        )

    def _refreshed(self, result: tuple[list[Any], list[dict[str, Any]], list[Any]]) -> None:
        deps, flights, reports = result
        self.deps = {int(d.id): d for d in deps}
        self.indicator_reports = list(reports)
        self.chart.set_bars(year_bars(reports))
        self.deployments.blockSignals(True)
        self.deployments.clear()
        for d in deps:
            # the category by name, in the pilot's language (the code "sar" had been shown)
            category = CATEGORIES.get(d.category)
            item = QListWidgetItem(
                f"#{d.id} {d.requested_at[:16].replace('T', ' ')} UTC {d.organisation} "
                f"{_(category) if category else d.category} — {d.location} "
                f"[{_(STATUS_NAMES.get(d.status, d.status))}]"
            )
            item.setData(Qt.ItemDataRole.UserRole, d.id)
            self.deployments.addItem(item)
            if d.id == self.current_id:
                self.deployments.setCurrentItem(item)
        self.deployments.blockSignals(False)
        self.show_current()
        self.flights.clear()
        for f in flights:
            dur = f.get("duration_s") or 0.0
            item = QListWidgetItem(
                f"#{f['id']} {f.get('vehicle', '?')} {str(f.get('start_utc', ''))[:19]} "
                f"{float(dur) / 60:.1f} min"
            )
            item.setData(Qt.ItemDataRole.UserRole, int(f["id"]))
            item.setData(Qt.ItemDataRole.UserRole + 1, f)
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            self.flights.addItem(item)
        self._check_fitting()

    def _check_fitting(self) -> None:
        """Check the flights that may belong to the selected deployment (flown at most a day
        before its request); the others stay unchecked: linked, an older flight is refused."""
        dep = self.deps.get(self.current_id) if self.current_id is not None else None
        for i in range(self.flights.count()):
            item = self.flights.item(i)
            if item is None:
                continue
            flight = item.data(Qt.ItemDataRole.UserRole + 1) or {}
            try:
                fits = dep is None or backend.flight_fits(flight, dep)
            except backend.BackendMissing:
                fits = True
            item.setCheckState(Qt.CheckState.Checked if fits else Qt.CheckState.Unchecked)

    def _select(self, item: QListWidgetItem | None, _previous: QListWidgetItem | None) -> None:
        if item is None:
            return
        self.current_id = int(item.data(Qt.ItemDataRole.UserRole))
        self.deploymentSelected.emit(self.current_id)
        self.show_current()
        self._check_fitting()

    def show_current(self) -> None:
        """The selected deployment in the editor, with its allowed statuses and sightings."""
        dep = self.deps.get(self.current_id) if self.current_id is not None else None
        if dep is None:
            self.editor.show_deployment(None, [])
            self.sightingsShown.emit([])
            return
        try:
            allowed = backend.allowed_statuses(dep.status)
        except backend.BackendMissing as exc:
            self.statusMessage.emit(str(exc))
            allowed = []
        self.editor.show_deployment(dep, allowed)
        db, dep_id = self.db_path, int(dep.id)
        self.runner.run(
            lambda: backend.list_sightings(db, dep_id),
            lambda rows: self._sightings_loaded(dep_id, rows),
            self._failed,
        )

    def _sightings_loaded(self, dep_id: int, rows: list[dict[str, Any]]) -> None:
        if dep_id != self.current_id:  # a late answer for a deployment no longer selected
            return
        self.editor.show_sightings(rows)
        self.sightingsShown.emit(rows)

    def save_status(self, dep_id: int, status: str | None, outcome: str | None) -> None:
        """Move the status (validated again by the database layer) and/or set the outcome."""
        if status is None and outcome is None:
            self.statusMessage.emit(_("Nothing to save."))
            return
        db = self.db_path
        self.runner.run(
            lambda: backend.update_deployment(db, dep_id, status, outcome),
            self._updated,
            self._failed,
        )

    def _updated(self, dep: Any) -> None:
        self.statusMessage.emit(
            _("Deployment {id}: {status}.").format(
                id=dep.id, status=_(STATUS_NAMES.get(dep.status, dep.status))
            )
        )
        self.deploymentUpdated.emit(dep)
        self.refresh()

    def record_sighting(self, lat: float, lon: float, sysid: int, note: str) -> bool:
        """Record a confirmed sighting to the current deployment (False: none selected)."""
        if self.current_id is None:
            self.statusMessage.emit(_("Register or select a deployment first."))
            return False
        db, dep_id = self.db_path, self.current_id

        def done(sighting_id: int) -> None:
            self.statusMessage.emit(
                _("Sighting {n} recorded to deployment {id}.").format(n=sighting_id, id=dep_id)
            )
            self.sightingRecorded.emit(sighting_id)
            self.show_current()

        self.runner.run(
            lambda: backend.record_sighting(db, dep_id, lat, lon, sysid, note), done, self._failed
        )
        return True

    def checked_flight_ids(self) -> list[int]:
        out = []
        for i in range(self.flights.count()):
            item = self.flights.item(i)
            if item is not None and item.checkState() == Qt.CheckState.Checked:
                out.append(int(item.data(Qt.ItemDataRole.UserRole)))
        return out

    def link_checked(self) -> None:
        if self.current_id is None:
            self.statusMessage.emit(_("Register or select a deployment first."))
            return
        ids = self.checked_flight_ids()
        if not ids:
            self.statusMessage.emit(_("No flights checked."))
            return
        db, dep_id = self.db_path, self.current_id
        self.runner.run(lambda: backend.link_flights(db, dep_id, ids), self._linked, self._failed)

    def _linked(self, n: int) -> None:
        self.statusMessage.emit(
            ngettext(
                "{n} flight linked to deployment {id}.",
                "{n} flights linked to deployment {id}.",
                n,
            ).format(n=n, id=self.current_id)
        )
        self.refresh()

    def _failed(self, message: str) -> None:
        self.statusMessage.emit(_("Error: {message}").format(message=message))
