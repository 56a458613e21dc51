"""Telemetry recorder into SQLite, flight log import, deployments and the IZS indicator reports."""
