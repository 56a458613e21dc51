"""dronekit-plzen: UAV mission planning, MAVLink fleet control, telemetry and LiDAR processing
for the city of Plzeň's drone unit (SITMP) and the Integrated Rescue System (IZS).

The MAVLink link layer lives in :mod:`dronekit_plzen.link`; the shared core is
:mod:`dronekit_plzen.errors`, :mod:`dronekit_plzen.geo`, :mod:`dronekit_plzen.config` and
:mod:`dronekit_plzen.i18n`.
"""

from __future__ import annotations

import logging

__version__ = "0.1.0"

logging.getLogger(__name__).addHandler(logging.NullHandler())
