"""Live video: an H.264 stream the test encodes with PyAV, sent as MPEG-TS over loopback UDP."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import random
import threading
from pathlib import Path

import av
import numpy as np

from gui.video import IRONBOW_LUT, VideoWidget, apply_palette

W, H = 160, 120
SPOT = (slice(40, 80), slice(100, 140))  # rows, columns of the hot spot


def _frame() -> np.ndarray:
    """A cool gradient (luma 30–110) with a hot square (luma 235); the same every frame."""
    luma = np.tile(np.linspace(30, 110, W, dtype=np.float64), (H, 1))
    luma[SPOT] = 235
    rgb = np.repeat(luma[:, :, None], 3, axis=2).astype(np.uint8)
    return rgb


def _send(port: int, stop: threading.Event) -> None:
    out = av.open(f"udp://127.0.0.1:{port}?pkt_size=1316", mode="w", format="mpegts")
    stream = out.add_stream(
        "libx264", rate=15, options={"preset": "ultrafast", "tune": "zerolatency"}
    )
    stream.width, stream.height, stream.pix_fmt = W, H, "yuv420p"
    stream.codec_context.gop_size = 5
    try:
        i = 0
        while not stop.is_set() and i < 600:
            frame = av.VideoFrame.from_ndarray(_frame(), format="rgb24")
            for packet in stream.encode(frame):
                out.mux(packet)
            i += 1
            stop.wait(1 / 15)
    finally:
        out.close()


def test_palettes_map_luminance() -> None:
    luma = np.array([[0, 128, 255]], dtype=np.uint8)
    assert apply_palette(luma, "white-hot")[0, :, 0].tolist() == [0, 128, 255]
    assert apply_palette(luma, "black-hot")[0, :, 0].tolist() == [255, 127, 0]
    iron = apply_palette(luma, "ironbow")
    assert iron[0, 0].tolist() == [0, 0, 0] and iron[0, 2].tolist() == [255, 255, 255]
    # ironbow is monotonic in brightness: hotter is never darker
    assert np.all(np.diff(IRONBOW_LUT.astype(int).sum(axis=1)) >= 0)


def test_h264_udp_stream_is_decoded_into_the_widget(qtbot, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    port = 20000 + random.randrange(20000)
    widget = VideoWidget()
    qtbot.addWidget(widget)
    widget.resize(480, 360)
    widget.show()
    widget.set_palette("ironbow")
    widget.start(f"udp://127.0.0.1:{port}")
    stop = threading.Event()
    sender = threading.Thread(target=_send, args=(port, stop), daemon=True)
    sender.start()
    try:
        qtbot.waitUntil(lambda: widget.frames_shown >= 5, timeout=15_000)
        ironbow = widget.last_rgb
        # the palette changes while the stream runs: white-hot is grey, hot is bright
        widget.set_palette("white-hot")
        shown = widget.frames_shown
        qtbot.waitUntil(lambda: widget.frames_shown >= shown + 3, timeout=10_000)
        grey = widget.last_rgb
        assert grey is not None
        assert (grey[..., 0] == grey[..., 1]).all() and (grey[..., 1] == grey[..., 2]).all()
        assert grey[50:70, 110:130].mean() > 200 > 120 > grey[50:70, 5:25].mean()
        widget.set_palette("ironbow")
        shown = widget.frames_shown

        def coloured_again() -> bool:
            # frames decoded before the switch may still be shown: wait for a coloured one
            # (a loaded CI worker showed two more grey frames after the switch)
            rgb = widget.last_rgb
            return (
                widget.frames_shown >= shown + 2
                and rgb is not None
                and not (rgb[..., 0] == rgb[..., 1]).all()
            )

        qtbot.waitUntil(coloured_again, timeout=10_000)
        assert ironbow is not None
    finally:
        stop.set()
        sender.join(5)
        widget.stop()
    rgb = widget.last_rgb
    assert rgb is not None and rgb.shape == (H, W, 3)
    # the hot spot decodes to the ironbow's hot (yellow-white) end, the cool background stays
    # dark purple
    spot = rgb[50:70, 110:130].reshape(-1, 3).mean(axis=0)
    cold = rgb[50:70, 5:25].reshape(-1, 3).mean(axis=0)
    assert spot[0] > 240 and spot[1] > 180, spot
    assert cold.sum() < 250 and cold[1] < 40, cold  # no green in the cold end of ironbow
    # the picture on screen shows it: a bright patch in the grabbed widget
    shot = widget.picture.grab().toImage()
    path = tmp_path / "video.png"
    assert shot.save(str(path))
    bright = sum(
        1
        for x in range(0, shot.width(), 4)
        for y in range(0, shot.height(), 4)
        if shot.pixelColor(x, y).red() > 240 and shot.pixelColor(x, y).green() > 180
    )
    assert bright > 20, bright
    assert "frame" in widget.status.text()
