"""The map's parts: basemap tiles, raster overlays, draggable handles and the layer switcher."""
