"""Live video per vehicle: RTSP/UDP H.264 decoded with PyAV (FFmpeg), with thermal palettes.

A :class:`VideoStream` decodes in a Python thread of its own (PyAV's blocking reads stay off
the GUI thread) and hands each frame's luminance or RGB to the GUI thread through a Qt signal;
:func:`apply_palette` (pure numpy) colours a thermal camera's luminance (white-hot, black-hot,
ironbow). :class:`VideoWidget` is the pilot's view: the stream URL, start/stop, the palette and
the picture. URLs as QGroundControl takes them: ``udp://0.0.0.0:5600`` (MPEG-TS over UDP),
``rtsp://host:8554/live`` (RTSP, over TCP).
"""

from __future__ import annotations

import logging
import threading
from typing import Any

import numpy as np
from numpy.typing import NDArray
from PyQt5.QtCore import QObject, Qt, pyqtSignal
from PyQt5.QtGui import QImage, QPixmap
from PyQt5.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from dronekit_plzen.i18n import _

log = logging.getLogger(__name__)

DEFAULT_VIDEO_URL = "udp://127.0.0.1:5600"
#: seconds to wait for the stream to open / for the next packet before reporting it stalled
OPEN_TIMEOUT_S, READ_TIMEOUT_S = 5.0, 2.0
PALETTES = ("colour", "white-hot", "black-hot", "ironbow")
#: ironbow: black → indigo → magenta → orange → yellow → white at these luminance stops
_IRONBOW_STOPS = np.array([0, 48, 100, 160, 215, 255], dtype=np.float64)
_IRONBOW_RGB = np.array(
    [[0, 0, 0], [40, 0, 110], [160, 0, 140], [235, 90, 20], [255, 200, 30], [255, 255, 255]],
    dtype=np.float64,
)


def _ironbow_lut() -> NDArray[np.uint8]:
    x = np.arange(256, dtype=np.float64)
    lut = np.stack([np.interp(x, _IRONBOW_STOPS, _IRONBOW_RGB[:, c]) for c in range(3)], axis=1)
    return np.round(lut).astype(np.uint8)


IRONBOW_LUT = _ironbow_lut()


def palette_names() -> dict[str, str]:
    """Palette keys and their names in the current language."""
    return {
        "colour": _("Colour (as sent)"),
        "white-hot": _("White-hot"),
        "black-hot": _("Black-hot"),
        "ironbow": _("Ironbow"),
    }


def apply_palette(luma: NDArray[np.uint8], palette: str) -> NDArray[np.uint8]:
    """RGB (H×W×3, uint8) of a luminance image (H×W, uint8) in a thermal ``palette``.

    >>> apply_palette(np.array([[0, 255]], dtype=np.uint8), "black-hot")[0, :, 0].tolist()
    [255, 0]
    """
    if palette == "ironbow":
        return IRONBOW_LUT[luma]
    grey = 255 - luma if palette == "black-hot" else luma
    return np.repeat(grey[:, :, None], 3, axis=2)


def to_qimage(rgb: NDArray[np.uint8]) -> QImage:
    """A QImage owning a copy of an H×W×3 uint8 RGB array."""
    rgb = np.ascontiguousarray(rgb)
    h, w, _c = rgb.shape
    return QImage(rgb.tobytes(), w, h, 3 * w, QImage.Format_RGB888).copy()


def _open_options(url: str) -> dict[str, str]:
    if url.startswith("rtsp://"):
        return {"rtsp_transport": "tcp"}
    if url.startswith("udp://"):
        return {"fifo_size": "1000000", "overrun_nonfatal": "1"}
    return {}


class VideoStream(QObject):
    """Decodes one stream in its own thread; frames and problems arrive as signals.

    ``frame`` carries an H×W×3 uint8 RGB array after ``palette`` (read by the thread at each
    frame, so it may be changed while running).
    """

    frame = pyqtSignal(object)
    failed = pyqtSignal(str)
    ended = pyqtSignal()

    def __init__(self, url: str, palette: str = "colour"):
        super().__init__()
        self.url = url
        self.palette = palette
        self.frames = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._container: Any = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="video-decoder", daemon=True)
        self._thread.start()

    def stop(self, timeout_s: float = 5.0) -> None:
        """Ask the decoder to end and wait for its thread (reads time out within seconds)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout_s)
            if self._thread.is_alive():
                log.warning("the video decoder did not end in time")
            self._thread = None

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def _run(self) -> None:
        import av

        try:
            container = av.open(
                self.url,
                options=_open_options(self.url),
                timeout=(OPEN_TIMEOUT_S, READ_TIMEOUT_S),
            )
        except Exception as exc:  # every failure reaches the pilot as one line
            self.failed.emit(_("video: cannot open {url}: {why}").format(url=self.url, why=exc))
            return
        try:
            video = container.streams.video[0]
            video.thread_type = "AUTO"
            for frame in container.decode(video):
                if self._stop.is_set():
                    break
                self.frames += 1
                self.frame.emit(self._picture(frame))
        except Exception as exc:  # a stalled or broken stream is reported, not raised
            if not self._stop.is_set():
                self.failed.emit(_("video: {url}: {why}").format(url=self.url, why=exc))
        finally:
            container.close()
            self.ended.emit()

    def _picture(self, frame: Any) -> NDArray[np.uint8]:
        palette = self.palette
        if palette == "colour":
            return np.asarray(frame.to_ndarray(format="rgb24"), dtype=np.uint8)
        luma = np.asarray(frame.to_ndarray(format="gray"), dtype=np.uint8)
        return apply_palette(luma, palette)


class VideoWidget(QWidget):
    """A vehicle's video: URL, start/stop, palette and the latest picture (scaled to fit)."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.stream: VideoStream | None = None
        self.last_rgb: NDArray[np.uint8] | None = None
        self.frames_shown = 0
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        row = QHBoxLayout()
        self.url = QLineEdit(DEFAULT_VIDEO_URL)
        self.url.setToolTip(
            _("udp://0.0.0.0:5600 — H.264 in MPEG-TS over UDP; rtsp://host:8554/live — RTSP")
        )
        self.start_button = QPushButton(_("Start video"))
        self.start_button.clicked.connect(self.toggle)
        self.palette_box = QComboBox()
        for key, name in palette_names().items():
            self.palette_box.addItem(name, key)
        self.palette_box.currentIndexChanged.connect(self._palette_changed)
        # the address on a line of its own: beside the palette and the button (Czech: 396 px)
        # it held the vehicle-in-focus dock wider than its 400 px
        lay.addWidget(self.url)
        row.addWidget(self.palette_box, 1)
        row.addWidget(self.start_button)
        lay.addLayout(row)
        self.picture = QLabel(_("No video"))
        self.picture.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.picture.setMinimumSize(320, 180)
        self.picture.setSizePolicy(QSizePolicy.Expanding, QSizePolicy.Expanding)
        self.picture.setStyleSheet("background: #111; color: #bbb;")
        lay.addWidget(self.picture, 1)
        self.status = QLabel("")
        lay.addWidget(self.status)

    def set_palette(self, key: str) -> None:
        self.palette_box.setCurrentIndex(max(0, self.palette_box.findData(key)))

    def _palette_changed(self, _index: int) -> None:
        if self.stream is not None:
            self.stream.palette = str(self.palette_box.currentData())

    def toggle(self) -> None:
        if self.stream is None:
            self.start(self.url.text().strip())
        else:
            self.stop()

    def start(self, url: str) -> None:
        self.stop()
        self.url.setText(url)
        self.stream = VideoStream(url, str(self.palette_box.currentData()))
        self.stream.frame.connect(self._show)
        self.stream.failed.connect(self._failed)
        self.stream.ended.connect(self._ended)
        self.stream.start()
        self.start_button.setText(_("Stop video"))
        self.status.setText(_("Waiting for {url}…").format(url=url))

    def stop(self) -> None:
        stream, self.stream = self.stream, None
        if stream is not None:
            stream.frame.disconnect(self._show)
            stream.stop()
        self.start_button.setText(_("Start video"))

    def _show(self, rgb: NDArray[np.uint8]) -> None:
        self.last_rgb = rgb
        self.frames_shown += 1
        pix = QPixmap.fromImage(to_qimage(rgb))
        self.picture.setPixmap(
            pix.scaled(
                self.picture.size(),
                Qt.AspectRatioMode.KeepAspectRatio,
                Qt.TransformationMode.SmoothTransformation,
            )
        )
        h, w, _c = rgb.shape
        self.status.setText(_("{w}×{h}, frame {n}").format(w=w, h=h, n=self.frames_shown))

    def _failed(self, message: str) -> None:
        self.status.setText(message)
        self.status.setStyleSheet("color: #c62828")

    def _ended(self) -> None:
        if self.stream is not None and not self.stream.running:
            self.stream = None
            self.start_button.setText(_("Start video"))

    def retranslate(self) -> None:
        key = self.palette_box.currentData()
        self.palette_box.blockSignals(True)
        self.palette_box.clear()
        for k, name in palette_names().items():
            self.palette_box.addItem(name, k)
        self.palette_box.setCurrentIndex(max(0, self.palette_box.findData(key)))
        self.palette_box.blockSignals(False)
        self.start_button.setText(_("Stop video") if self.stream else _("Start video"))
        self.url.setToolTip(
            _("udp://0.0.0.0:5600 — H.264 in MPEG-TS over UDP; rtsp://host:8554/live — RTSP")
        )
        if self.last_rgb is None:
            self.picture.setText(_("No video"))
