"""LiDAR and photogrammetry pipeline: LAS/LAZ in, classified clouds and DTM/DSM/CHM rasters out."""
