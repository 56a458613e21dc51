"""The fly panel's connection controls: link URL(s), the fleet preset and MAVLink 2 signing.

The signing section chooses a key file (it must be readable by its owner only, ``chmod 600``;
the link layer refuses any other and its message is shown here), creates a new one, marks the
link as secure (a USB/serial cable, over which the key itself may be sent) and sends the key to
the vehicles. Nothing here blocks: sending the key runs in the fly panel's command thread.
"""

from __future__ import annotations

from pathlib import Path

from PyQt5.QtCore import Qt, pyqtSignal
from PyQt5.QtGui import QWheelEvent
from PyQt5.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFileDialog,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSizePolicy,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from dronekit_plzen.errors import DronekitPlzenError
from dronekit_plzen.i18n import _
from gui.fly_links import fleet_urls, preset_urls, split_urls
from gui.qtutil import CompactComboBox

DEFAULT_URL = "udpin://127.0.0.1:14540"
KNOWN_URLS = (DEFAULT_URL, "udpin://127.0.0.1:14550", "tcp://127.0.0.1:5760")
RED, GREEN = "#c62828", "#2e7d32"


class NoWheelSpinBox(QSpinBox):
    """A spin box the mouse wheel changes only once it has the focus (scrolling is safe)."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)

    def wheelEvent(self, e: QWheelEvent | None) -> None:
        if self.hasFocus():
            super().wheelEvent(e)
        elif e is not None:
            e.ignore()


class ConnectBox(QWidget):
    """Link URL(s), Connect, the fleet preset and the signing section."""

    #: the pilot asks to send the key in this file to the selected vehicle (0: all)
    sendKeyRequested = pyqtSignal(str)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self._connected = False
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        row = QHBoxLayout()
        self.url = QComboBox()
        self.url.setEditable(True)
        for url in KNOWN_URLS:
            self.url.addItem(url)
        self.url.setCurrentText(DEFAULT_URL)
        self.url.setSizePolicy(QSizePolicy.Expanding, QSizePolicy.Fixed)
        self.url.setMinimumContentsLength(24)
        self.url.setToolTip(
            _(
                "udpin://…:14540 — one PX4 vehicle's API link; udpin://…:14550 — every "
                "vehicle's ground-station link (a fleet); tcp://…:5760 — ArduPilot SITL. "
                "Several links: separate them with spaces."
            )
        )
        self.connect_button = QPushButton(_("Connect"))
        row.addWidget(QLabel(_("Link")))
        row.addWidget(self.url, 1)
        row.addWidget(self.connect_button)
        lay.addLayout(row)

        fleet_row = QHBoxLayout()
        self.preset = CompactComboBox(16)
        self._fill_presets()
        self.preset.setToolTip(
            _("Fills the links of a whole fleet: choose it, the number of vehicles, Connect")
        )
        self.preset.currentIndexChanged.connect(self._preset_changed)
        self.port_offset = NoWheelSpinBox()
        self.port_offset.setRange(0, 50000)
        self.port_offset.setSingleStep(100)
        self.port_offset.setToolTip(
            _("Added to every port (the simulator's --port-offset); 0 for the usual ports")
        )
        self.fleet_size = NoWheelSpinBox()
        self.fleet_size.setRange(1, 64)
        self.fleet_size.setValue(3)
        self.fleet_button = QPushButton(_("Fleet"))
        self.fleet_button.setToolTip(
            _(
                "One link per vehicle from the first link's port: PX4 and the simulator send "
                "vehicle i to UDP 14540+i, ArduPilot SITL listens on TCP 5760+10·i"
            )
        )
        self.fleet_button.clicked.connect(self._fleet_clicked)
        self.fleet_size.valueChanged.connect(self._preset_changed)
        self.port_offset.valueChanged.connect(self._preset_changed)
        # the preset on its own row, narrowed to a few characters (its list shows the whole
        # names): one row of preset, counts and button had made the panel 750 px wide
        self.preset.setSizePolicy(QSizePolicy.Expanding, QSizePolicy.Fixed)
        fleet_row.addWidget(self.preset, 1)
        fleet_row.addWidget(self.fleet_button)
        lay.addLayout(fleet_row)
        counts_row = QHBoxLayout()
        self.vehicles_label = QLabel(_("Vehicles"))
        counts_row.addWidget(self.vehicles_label)
        counts_row.addWidget(self.fleet_size)
        self.offset_label = QLabel(_("Port offset"))
        counts_row.addWidget(self.offset_label)
        counts_row.addWidget(self.port_offset)
        counts_row.addStretch(1)
        lay.addLayout(counts_row)

        box = QGroupBox(_("MAVLink 2 signing"))
        grid = QGridLayout(box)
        self.key_file = QLineEdit()
        self.key_file.setPlaceholderText(_("no key: the link is not signed"))
        self.key_file.setClearButtonEnabled(True)
        self.key_file.editingFinished.connect(self._key_edited)
        self.browse_button = QPushButton(_("Key file…"))
        self.browse_button.clicked.connect(self.browse_key)
        self.new_key_button = QPushButton(_("New key…"))
        self.new_key_button.clicked.connect(self._new_key_clicked)
        self.secure = QCheckBox(_("Secure link (USB/serial)"))
        self.secure.setToolTip(
            _(
                "The key is sent in clear: only over a cable (USB/serial) or a link already "
                "signed with the vehicle's key"
            )
        )
        self.send_key_button = QPushButton(_("Send key to vehicle"))
        self.send_key_button.setEnabled(False)
        self.send_key_button.clicked.connect(self._send_key)
        self.status = QLabel(_("Link not signed"))
        self.status.setWordWrap(True)
        self.status.setSizePolicy(QSizePolicy.Expanding, QSizePolicy.MinimumExpanding)
        grid.addWidget(QLabel(_("Key file")), 0, 0)
        grid.addWidget(self.key_file, 0, 1, 1, 2)
        grid.addWidget(self.browse_button, 0, 3)
        # the check box on a row of its own: beside the two buttons it made the panel wider
        # than a field laptop's (700 px in Czech)
        grid.addWidget(self.secure, 1, 0, 1, 4)
        keys = QHBoxLayout()
        keys.addWidget(self.new_key_button)
        keys.addWidget(self.send_key_button)
        keys.addStretch(1)
        grid.addLayout(keys, 2, 0, 1, 4)
        grid.addWidget(self.status, 3, 0, 1, 4)
        grid.setColumnStretch(1, 1)
        lay.addWidget(box)
        self.signing_box = box
        # never squeezed below its own height by the fleet table under it
        self.setSizePolicy(QSizePolicy.Preferred, QSizePolicy.Fixed)

    # ------------------------------------------------------------------ values
    def urls(self) -> list[str]:
        return split_urls(self.url.currentText())

    def key_path(self) -> str | None:
        text = self.key_file.text().strip()
        return text or None

    def set_connected(self, connected: bool) -> None:
        """While connected the link stays as it is; a key file may still be chosen to send."""
        self._connected = connected
        for w in (
            self.url,
            self.fleet_size,
            self.fleet_button,
            self.secure,
            self.preset,
            self.port_offset,
        ):
            w.setEnabled(not connected)
        self.send_key_button.setEnabled(connected)

    def show_status(self, text: str, *, error: bool = False, ok: bool = False) -> None:
        self.status.setText(text)
        color = RED if error else GREEN if ok else ""
        self.status.setStyleSheet(f"color: {color}" if color else "")

    def show_signing(self, signed: bool | None) -> None:
        """The link's signing state once connected (None: disconnected)."""
        if signed is None:
            self.show_status(_("Link not signed") if not self.key_path() else "")
        elif signed:
            self.show_status(_("Link signed (MAVLink 2)"), ok=True)
        else:
            self.show_status(_("Link not signed"))

    def _fill_presets(self) -> None:
        key = self.preset.currentData()
        self.preset.blockSignals(True)
        self.preset.clear()
        for k, label in (
            ("custom", _("Custom links")),
            ("sim", _("Simulator fleet (UDP 14550, one link)")),
            ("px4", _("PX4 SITL (UDP 14540+i)")),
            ("ardupilot", _("ArduPilot SITL (TCP 5760+10·i)")),
        ):
            self.preset.addItem(label, k)
        self.preset.setCurrentIndex(max(0, self.preset.findData(key)))
        self.preset.blockSignals(False)

    def choose_preset(self, kind: str, n: int, port_offset: int = 0) -> list[str]:
        """Choose a fleet preset: the link field is filled by its port convention."""
        self.fleet_size.setValue(n)
        self.port_offset.setValue(port_offset)
        self.preset.setCurrentIndex(max(0, self.preset.findData(kind)))
        self._preset_changed()
        return self.urls()

    def _preset_changed(self, _value: object = None) -> None:
        kind = str(self.preset.currentData())
        if kind == "custom":
            return
        try:
            urls = preset_urls(kind, self.fleet_size.value(), self.port_offset.value())
        except DronekitPlzenError as exc:
            self.show_status(str(exc), error=True)
            return
        self.url.setCurrentText(" ".join(urls))
        edit = self.url.lineEdit()
        if edit is not None:
            edit.setCursorPosition(0)

    # ------------------------------------------------------------------ actions
    def _fleet_clicked(self) -> None:
        self.fill_fleet()

    def _key_edited(self) -> None:
        self.check_key_file()

    def _new_key_clicked(self) -> None:
        self.new_key()

    def fill_fleet(self) -> bool:
        """Replace the link field with one URL per vehicle (the first link's convention)."""
        urls = self.urls()
        try:
            fleet = fleet_urls(urls[0] if urls else DEFAULT_URL, self.fleet_size.value())
        except DronekitPlzenError as exc:
            self.show_status(str(exc), error=True)
            return False
        self.url.setCurrentText(" ".join(fleet))
        edit = self.url.lineEdit()
        if edit is not None:
            edit.setCursorPosition(0)  # show where the fleet starts
        return True

    def check_key_file(self) -> bool:
        """Read the chosen key file as the link layer will; show its refusal, if any."""
        path = self.key_path()
        if path is None:
            if not self._connected:
                self.show_status(_("Link not signed"))
            return True
        from dronekit_plzen.signing_keys import read_key_file

        try:
            read_key_file(path)
        except DronekitPlzenError as exc:
            self.show_status(str(exc), error=True)
            return False
        if self._connected:
            self.show_status(_('Key file ready: "Send key to vehicle" sends it'), ok=True)
        else:
            self.show_status(_("Key file ready: the link will be signed"), ok=True)
        return True

    def _file_dialog(self, title: str, save: bool) -> QFileDialog:
        dlg = QFileDialog(self, title)
        dlg.setObjectName("keyFileDialog")
        dlg.setOption(QFileDialog.DontUseNativeDialog, True)
        dlg.setAcceptMode(QFileDialog.AcceptSave if save else QFileDialog.AcceptOpen)
        dlg.setFileMode(QFileDialog.AnyFile if save else QFileDialog.ExistingFile)
        dlg.setNameFilters([_("Signing keys (*.key)"), _("All files (*)")])
        current = self.key_path()
        dlg.setDirectory(str(Path(current).expanduser().parent) if current else str(Path.home()))
        return dlg

    def browse_key(self) -> None:
        dlg = self._file_dialog(_("Choose the signing key file"), save=False)
        if dlg.exec_() and dlg.selectedFiles():
            self.key_file.setText(dlg.selectedFiles()[0])
            self.check_key_file()

    def new_key(self, path: str | None = None) -> Path | None:
        """Create a new random key file (mode 0600) and choose it; asks where when no path."""
        if path is None:
            dlg = self._file_dialog(_("New signing key file"), save=True)
            if not dlg.exec_() or not dlg.selectedFiles():
                return None
            path = dlg.selectedFiles()[0]
        from dronekit_plzen.signing_keys import new_key_file

        try:
            made = new_key_file(path)
        except DronekitPlzenError as exc:
            self.show_status(str(exc), error=True)
            return None
        self.key_file.setText(str(made))
        self.show_status(
            _(
                "New key written to {path}: send it to each vehicle over a secure link "
                "before flying signed"
            ).format(path=made),
            ok=True,
        )
        return made

    def _send_key(self) -> None:
        path = self.key_path()
        if path is None:
            self.show_status(_("choose a key file first"), error=True)
            return
        if not self.check_key_file():
            return
        self.sendKeyRequested.emit(path)
