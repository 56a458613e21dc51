"""Simulator training exercises, scoring and instructor reports (issue 19)."""
