"""The layer switcher: the basemap (source, online, offline packs), GeoTIFF overlays, opacity."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

from PyQt5.QtCore import Qt, pyqtSignal
from PyQt5.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSlider,
    QVBoxLayout,
    QWidget,
)

from dronekit_plzen.basemap import MBTiles, available_sources
from dronekit_plzen.i18n import _
from gui.map.raster import render_geotiff
from gui.qtutil import BoxLabel
from gui.workers import ThreadRunner

RASTER_KINDS = {
    "auto": "automatic",
    "rgb": "orthophoto (RGB)",
    "hillshade": "terrain (hillshade)",
    "heat": "probability (heat map)",
}


def _check_pack(path: Path) -> None:
    """Open an MBTiles pack read-only as the map will (raises the translated refusal)."""
    with MBTiles(path):
        pass


def _narrow(combo: QComboBox) -> None:
    """A combo box that does not ask for its longest item's width (a long source or kind
    name held the layer dock wider than it is: its rows were cut off behind a sideways
    scroll bar); the open list still shows the items whole."""
    combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
    combo.setMinimumContentsLength(8)


def _slider(value: float) -> QSlider:
    s = QSlider(Qt.Orientation.Horizontal)
    s.setRange(0, 100)
    s.setValue(round(100 * value))
    s.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
    return s


class LayerPanel(QWidget):
    """Controls of ``canvas``' basemap and raster layers."""

    statusMessage = pyqtSignal(str)

    def __init__(self, canvas: Any, parent: QWidget | None = None):
        super().__init__(parent)
        self.canvas = canvas
        self.runner = ThreadRunner(self)
        lay = QVBoxLayout(self)
        base = QGroupBox(_("Basemap"))
        bf = QFormLayout(base)
        self.source = QComboBox()
        _narrow(self.source)
        self.source.addItem(_("none"), None)
        for key, src in available_sources().items():
            self.source.addItem(src.name, key)
        current = canvas.basemap.settings.source
        self.source.setCurrentIndex(max(self.source.findData(current), 0))
        self.source.currentIndexChanged.connect(self._apply)
        bf.addRow(_("Source"), self.source)
        self.online = QCheckBox("")
        self.online.setChecked(canvas.basemap.settings.online)
        self.online.toggled.connect(self._apply)
        online_row = QHBoxLayout()
        online_row.addWidget(self.online, 0, Qt.AlignmentFlag.AlignTop)
        online_row.addWidget(BoxLabel(self.online, _("download missing tiles (online)")), 1)
        bf.addRow(online_row)
        self.base_opacity = _slider(canvas.basemap.opacity)
        self.base_opacity.valueChanged.connect(
            lambda v: canvas.set_layer_opacity("basemap", v / 100.0)
        )
        bf.addRow(_("Opacity"), self.base_opacity)
        self.pack_button = QPushButton(_("Offline pack…"))
        self.pack_button.clicked.connect(self._choose_pack)
        self.packs_label = QLabel(self._packs_text())
        self.packs_label.setWordWrap(True)
        bf.addRow(self.pack_button)  # the button and its packs a line each: the dock stays narrow
        bf.addRow(self.packs_label)
        lay.addWidget(base)

        over = QGroupBox(_("Overlays (GeoTIFF)"))
        self.over_lay = QVBoxLayout(over)
        self.kind = QComboBox()
        _narrow(self.kind)
        for key, label in RASTER_KINDS.items():
            self.kind.addItem(_(label), key)
        self.over_lay.addWidget(self.kind)  # each on its own line: the dock stays narrow
        self.add_button = QPushButton(_("Add GeoTIFF…"))
        self.add_button.clicked.connect(self._choose_raster)
        self.over_lay.addWidget(self.add_button)
        self.rows: dict[str, QWidget] = {}
        lay.addWidget(over)
        lay.addStretch(1)
        canvas.rastersChanged.connect(self._sync_rows)

    # ------------------------------------------------------------------ basemap
    def _packs_text(self) -> str:
        packs = self.canvas.basemap.settings.packs
        return ", ".join(p.name for p in packs) if packs else _("no offline pack")

    def _apply(self) -> None:
        settings = replace(
            self.canvas.basemap.settings,
            source=self.source.currentData(),
            online=self.online.isChecked(),
        )
        self.canvas.basemap.configure(settings)

    def add_pack(self, path: Path) -> None:
        """Open ``path`` read-only in a worker; only an MBTiles pack is added to the basemap.

        A file that is not one (another program's SQLite, random bytes, a directory) is refused
        with the reader's message naming it, and the packs already in use stay (it had been
        "added" and silently ignored). The file is never written to.
        """
        path = Path(path)
        self.runner.run(
            lambda: _check_pack(path),
            lambda _ok: self._pack_checked(path),
            lambda msg: self.statusMessage.emit(_("Error: {message}").format(message=msg)),
        )

    def _pack_checked(self, path: Path) -> None:
        settings = self.canvas.basemap.settings
        packs = [*settings.packs, path]
        self.canvas.basemap.configure(replace(settings, packs=packs))
        self.packs_label.setText(self._packs_text())
        self.statusMessage.emit(_("Offline pack added: {name}").format(name=path.name))

    def _choose_pack(self) -> None:
        path, _f = QFileDialog.getOpenFileName(
            self, _("Offline pack"), "", "MBTiles (*.mbtiles);;All files (*)"
        )
        if path:
            self.add_pack(Path(path))

    # ------------------------------------------------------------------ rasters
    def _choose_raster(self) -> None:
        path, _f = QFileDialog.getOpenFileName(
            self, _("Add GeoTIFF"), "", "GeoTIFF (*.tif *.tiff);;All files (*)"
        )
        if path:
            self.add_raster(Path(path), str(self.kind.currentData()))

    def add_raster(self, path: Path, kind: str = "auto") -> None:
        """Render ``path`` in a worker, then show it (the window never waits for a big file)."""
        self.statusMessage.emit(_("Loading {name}…").format(name=path.name))
        self.runner.run(
            lambda: render_geotiff(path, kind),
            lambda image: self.canvas.add_raster_image(image),
            lambda msg: self.statusMessage.emit(_("Error: {message}").format(message=msg)),
        )

    def _sync_rows(self) -> None:
        for name in [n for n in self.rows if n not in self.canvas.rasters]:
            self.rows.pop(name).deleteLater()
        for name, (item, image) in self.canvas.rasters.items():
            if name in self.rows:
                continue
            # the layer's name and its remove button on a line, its opacity under them: in
            # one line of the narrow dock the slider had been squeezed to a dot
            w = QWidget()
            col = QVBoxLayout(w)
            col.setContentsMargins(0, 0, 0, 4)
            col.setSpacing(2)
            row = QHBoxLayout()
            box = QCheckBox(f"{name} ({image.kind})")
            box.setChecked(item.isVisible())
            box.toggled.connect(lambda on, n=name: self.canvas.set_raster_visible(n, on))
            row.addWidget(box, 1)
            rm = QPushButton("✕")
            rm.setToolTip(_("Remove the layer"))
            rm.setFixedWidth(28)
            rm.clicked.connect(lambda _c=False, n=name: self.canvas.remove_raster(n))
            row.addWidget(rm)
            col.addLayout(row)
            op = _slider(item.opacity())
            op.setToolTip(_("Opacity"))
            op.valueChanged.connect(lambda v, n=name: self.canvas.set_layer_opacity(n, v / 100.0))
            col.addWidget(op)
            self.over_lay.addWidget(w)
            self.rows[name] = w
