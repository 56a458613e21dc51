"""Mission planning for SITMP pilots and the IZS: areas, cameras, patterns, terrain, geozones,
validation, multi-drone split and mission file formats. Pure computation, no sockets, no Qt."""
