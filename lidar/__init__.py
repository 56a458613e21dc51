"""LiDAR and photogrammetry pipeline: LAS/LAZ in, classified clouds and DTM/DSM/CHM rasters out.

The demo's entry point is :func:`lidar.demo_products` (imported lazily, so ``import lidar``
stays light for the CLI): ``demo_products(input_laz, out_dir, resolution_m=1.0) -> dict``.
"""

from __future__ import annotations

from typing import Any

__all__ = ["demo_products"]


def __getattr__(name: str) -> Any:
    if name == "demo_products":
        from lidar.products import demo_products

        return demo_products
    raise AttributeError(f"module 'lidar' has no attribute {name!r}")
