"""The pre-flight checklist of one vehicle: what the link shows, and what the crew ticks.

Automatic items come from :func:`gui.fly_sorties.preflight_row` (validated sortie, GPS fix and
satellites, battery, link, geofence uploaded, the firmware's "ready to arm"); the crew's items
are ticked by hand and kept per vehicle until it restarts or the link is closed.
:func:`checklist_items` has no Qt; :class:`ChecklistWidget` shows it.
"""

from __future__ import annotations

from dataclasses import dataclass

from PyQt5.QtCore import Qt, pyqtSignal
from PyQt5.QtWidgets import QCheckBox, QGroupBox, QHBoxLayout, QLabel, QVBoxLayout, QWidget

from dronekit_plzen.i18n import _, ngettext
from gui.fly_sorties import PreflightRow
from gui.qtutil import BoxLabel


def N_(text: str) -> str:
    """Mark ``text`` for translation; it is translated where it is shown."""
    return text


#: the crew's items (ticked by hand), keys with their English text
CREW_ITEMS = {
    "area": N_("Take-off and landing area clear of people"),
    "airframe": N_("Propellers, arms and payload checked"),
    "airspace": N_("Airspace checked: geozones, NOTAMs, authorisation"),
    "observer": N_("Observer briefed; visual line of sight possible"),
    "camera": N_("Camera recording and video shown"),
}


@dataclass(frozen=True)
class CheckItem:
    key: str
    text: str
    ok: bool
    automatic: bool


def automatic_items(row: PreflightRow) -> list[CheckItem]:
    """The link's items of a vehicle's pre-flight summary, each passed or not."""
    bad = row.problems
    return [
        CheckItem(
            "validation",
            _("Validated sortie: {v}").format(v=row.validation),
            "validation" not in bad,
            True,
        ),
        CheckItem("gps", _("GPS: {v}").format(v=row.gps), "gps" not in bad, True),
        CheckItem("battery", _("Battery: {v}").format(v=row.battery), "battery" not in bad, True),
        CheckItem("link", _("Link: {v}").format(v=row.link), "link" not in bad, True),
        CheckItem(
            "geofence", _("Geofence: {v}").format(v=row.geofence), "geofence" not in bad, True
        ),
        CheckItem("ready", _("Ready to arm: {v}").format(v=row.ready), "ready" not in bad, True),
    ]


def checklist_items(row: PreflightRow, ticked: set[str]) -> list[CheckItem]:
    """Every item: the automatic ones, then the crew's (ok when ticked)."""
    crew = [CheckItem(k, _(t), k in ticked, False) for k, t in CREW_ITEMS.items()]
    return automatic_items(row) + crew


class ChecklistWidget(QGroupBox):
    """One vehicle's checklist; the crew's ticks are kept per vehicle."""

    changed = pyqtSignal(int, bool)  # sysid, complete

    def __init__(self, parent: QWidget | None = None):
        super().__init__(_("Pre-flight checklist"), parent)
        self.sysid: int | None = None
        self.ticks: dict[int, set[str]] = {}
        lay = QVBoxLayout(self)
        self.auto_labels: dict[str, QLabel] = {}
        for key in ("validation", "gps", "battery", "link", "geofence", "ready"):
            label = QLabel("")
            label.setWordWrap(True)
            self.auto_labels[key] = label
            lay.addWidget(label)
        self.boxes: dict[str, QCheckBox] = {}
        self.box_labels: dict[str, QLabel] = {}
        for key in CREW_ITEMS:
            box = QCheckBox("")
            box.toggled.connect(lambda on, k=key: self._ticked(k, on))
            self.boxes[key] = box
            text = BoxLabel(box)
            self.box_labels[key] = text
            row = QHBoxLayout()
            row.addWidget(box, 0, Qt.AlignmentFlag.AlignTop)
            row.addWidget(text, 1)
            lay.addLayout(row)
        self.summary = QLabel("")
        lay.addWidget(self.summary)
        self.items: list[CheckItem] = []
        self.show_row(None)

    def _ticked(self, key: str, on: bool) -> None:
        if self.sysid is None:
            return
        ticks = self.ticks.setdefault(self.sysid, set())
        if on:
            ticks.add(key)
        else:
            ticks.discard(key)
        self._update_summary()
        self.changed.emit(self.sysid, self.complete)

    @property
    def complete(self) -> bool:
        return bool(self.items) and all(i.ok for i in self.items)

    def open_items(self) -> list[str]:
        return [i.text for i in self.items if not i.ok]

    def open_crew(self, sysid: int) -> list[str]:
        """The crew's items not ticked for vehicle ``sysid`` (translated), in checklist order."""
        ticked = self.ticks.get(sysid, set())
        return [_(text) for key, text in CREW_ITEMS.items() if key not in ticked]

    def forget(self, sysid: int) -> None:
        """The vehicle restarted or the link closed: its crew ticks start again."""
        self.ticks.pop(sysid, None)

    def show_row(self, row: PreflightRow | None) -> None:
        """Show vehicle ``row.sysid``'s checklist (None: no vehicle in focus)."""
        self.sysid = None if row is None else row.sysid
        ticked = self.ticks.get(self.sysid, set()) if self.sysid is not None else set()
        for key, box in self.boxes.items():
            box.blockSignals(True)
            self.box_labels[key].setText(_(CREW_ITEMS[key]))
            self.box_labels[key].setEnabled(row is not None)
            box.setAccessibleName(_(CREW_ITEMS[key]))
            box.setChecked(key in ticked)
            box.setEnabled(row is not None)
            box.blockSignals(False)
        if row is None:
            self.items = []
            for label in self.auto_labels.values():
                label.setText("")
            self.summary.setText(_("No vehicle in focus."))
            return
        self.items = checklist_items(row, ticked)
        for item in self.items:
            if item.automatic:
                mark = "✔" if item.ok else "✘"
                label = self.auto_labels[item.key]
                label.setText(f"{mark} {item.text}")
                label.setStyleSheet("color: #2e7d32;" if item.ok else "color: #c62828;")
        self._update_summary()

    def _update_summary(self) -> None:
        if self.sysid is None:
            return
        ticked = self.ticks.get(self.sysid, set())
        self.items = [
            i if i.automatic else CheckItem(i.key, i.text, i.key in ticked, False)
            for i in self.items
        ]
        n = len(self.open_items())
        if n == 0:
            self.summary.setText(_("Checklist complete."))
            self.summary.setStyleSheet("color: #2e7d32; font-weight: bold;")
        else:
            self.summary.setText(ngettext("{n} item open.", "{n} items open.", n).format(n=n))
            self.summary.setStyleSheet("color: #c62828; font-weight: bold;")

    def retranslate(self) -> None:
        self.setTitle(_("Pre-flight checklist"))
