"""Instructor tools on the wire: replay a session's MAVLink to a ground station; report a
sighting to a running exercise.

Replay re-sends the recorded frames byte for byte (the vehicles' own system ids, sequence
numbers and timestamps), paced by the recording's clock, which is simulated time: a session
flown at 10x replays at the real pace with ``speed=1``. Open QGroundControl (or the GUI) on the
target port and watch the student's flight as it happened.
"""

from __future__ import annotations

import math
import threading
from pathlib import Path
from typing import Any

from dronekit_plzen.errors import BadInputError
from dronekit_plzen.i18n import _
from simulators.scenario import SIGHTING_PREFIX

#: MAV_CMD_DO_SET_ROI_LOCATION and MAV_FRAME_GLOBAL_RELATIVE_ALT_INT
CMD_ROI_LOCATION = 195
FRAME_GLOBAL_RELATIVE_ALT_INT = 6


def session_tlog(session: Path) -> Path:
    tlog = session / "session.tlog" if session.is_dir() else session
    if not tlog.is_file():
        raise BadInputError(
            _("{path}: no recorded session (session.tlog) here").format(path=session)
        )
    from telemetry.tlog import iter_tlog

    with open(tlog, "rb") as fh:
        head = fh.read(1 << 20)
    if next(iter_tlog(head), None) is None:  # was "0 messages replayed", exit 0
        raise BadInputError(
            _("not a MAVLink telemetry log (no valid .tlog record in it)"), where=str(tlog)
        )
    return tlog


def recording_damage(session: Path) -> str | None:
    """What is wrong in a session's recording, in one phrase (None: nothing): a replay of a
    damaged recording sends what is readable, and must say that something was not."""
    from telemetry.tlog import ParseStats, iter_tlog

    tlog = session_tlog(session)
    stats = ParseStats()
    for _item in iter_tlog(tlog.read_bytes(), stats, wanted=()):
        pass
    if not (stats.bad_bytes or stats.bad_crc):
        return None
    text = _("{bad:,} unreadable bytes, {crc:,} frames with a bad checksum").format(
        bad=stats.bad_bytes, crc=stats.bad_crc
    )
    first = stats.issues[0] if stats.issues else None
    if first is not None and first.offset >= 0:
        text += ", " + _("first at byte {at:,}: {what}").format(at=first.offset, what=first.message)
    return text


def replay_session(
    session: Path, url: str, *, speed: float = 1.0, stop: threading.Event | None = None
) -> int:
    """Send every recorded frame of ``session`` to ``url`` (``udpout://`` or ``tcp://``)."""
    from dronekit_plzen.link.transports import open_transport
    from dronekit_plzen.link.url import parse_url
    from telemetry.recorder import replay_tlog

    tlog = session_tlog(session)
    spec = parse_url(url)
    if spec.scheme not in ("udpout", "tcp", "serial"):
        raise BadInputError(
            _("--to: replay sends, so it needs udpout://, tcp:// or serial://, got {url}").format(
                url=url
            )
        )
    transport = open_transport(spec)
    try:

        def sink(msg: Any, _t_s: float) -> None:
            buf = msg.get_msgbuf()
            if buf:
                transport.send(bytes(buf))

        return replay_tlog(tlog, sink, speed=speed, stop=stop)
    finally:
        transport.close()


def _check_near(v: Any, lat_deg: float, lon_deg: float, timeout_s: float) -> None:
    """Refuse a sighting beyond the range of an exercise from the vehicle's home (or where it
    is): latitude and longitude swapped, or a slip of a digit, had been recorded as the
    student's first sighting, which the sighting rule scores (no second chance)."""
    from dronekit_plzen.errors import LinkTimeout
    from dronekit_plzen.geo import geodesic_distance_m
    from missions.clearance import MAX_RANGE_M

    try:
        st = v.wait_for(lambda st: st.home is not None or st.position_known, timeout_s)
    except LinkTimeout:
        return  # the vehicle tells nothing of where it is: its own check decides
    ref = st.home[:2] if st.home is not None else (st.lat_deg, st.lon_deg)
    d = float(geodesic_distance_m(ref[1], ref[0], lon_deg, lat_deg))
    if not d <= MAX_RANGE_M:
        raise BadInputError(
            _(
                "{where}: {lat:g}, {lon:g} is {km:,.0f} km from the fleet's home, more than "
                "the {m:,.0f} km an exercise spans (a typo, or latitude and longitude swapped?)"
            ).format(
                where="POSITION", lat=lat_deg, lon=lon_deg, km=d / 1000.0, m=MAX_RANGE_M / 1000.0
            )
        )


def report_sighting(
    lat_deg: float, lon_deg: float, *, port_offset: int = 0, vehicle: int = 1, timeout_s: float = 10
) -> str:
    """Send MAV_CMD_DO_SET_ROI_LOCATION to a running exercise's vehicle.

    What QGroundControl's "ROI at location" sends; the vehicle answers with the STATUSTEXT
    ``Sighting <lat> <lon>`` that the session records; that text is returned. An ArduPilot
    exercise's vehicle is reached on its SERIAL1 port (TCP 5762 + offset + 10 per vehicle, as
    SITL has it: the student's ground station holds SERIAL0), a PX4 one on its API port (UDP
    14580 + offset + vehicle - 1); it had reached PX4 vehicles only.
    """
    from dronekit_plzen.errors import LinkError
    from dronekit_plzen.link import connect
    from simulators.fleet import vehicle_ports

    if not (-90 <= lat_deg <= 90 and -180 <= lon_deg <= 180) or math.isnan(lat_deg + lon_deg):
        raise BadInputError(_("sighting position out of range"))
    serial1 = vehicle_ports("ardupilot", port_offset, vehicle - 1)["tcp2"]
    try:
        link = connect(f"tcp://127.0.0.1:{serial1}", heartbeat_hz=5)
    except LinkError:  # nothing listens there in a PX4 exercise: refused at once
        api = vehicle_ports("px4", port_offset, vehicle - 1)["api_local"]
        link = connect(f"udpout://127.0.0.1:{api}", heartbeat_hz=5)
    with link:
        v = link.wait_vehicle(timeout_s=timeout_s)
        _check_near(v, lat_deg, lon_deg, min(timeout_s, 5.0))
        v.command_int(
            CMD_ROI_LOCATION,
            FRAME_GLOBAL_RELATIVE_ALT_INT,
            x=round(lat_deg * 1e7),
            y=round(lon_deg * 1e7),
            z=0.0,
            name="sighting",
        )
        # the confirmation comes to us (this link is now the API port's destination until
        # the student's own ground station sends its next message there)
        st = v.wait_for(
            lambda st: any(t.text.startswith(SIGHTING_PREFIX) for t in st.statustexts),
            timeout_s,
            _("the sighting's confirmation"),
        )
        return next(t.text for t in reversed(st.statustexts) if t.text.startswith(SIGHTING_PREFIX))
