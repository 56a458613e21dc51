"""Photogrammetry: drone photo captures to orthophoto, DSM and point cloud (issue 15)."""
