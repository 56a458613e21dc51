"""Basemap tile sources, on-disk tile cache and offline packs (MBTiles), shared by the GUI and the web portal."""
