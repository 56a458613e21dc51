"""The C allocator's set-up for processes that run the point-cloud steps.

glibc gives each thread that meets another in ``malloc`` an arena of its own (up to 8 per core),
and memory freed in one arena is reused only by the threads of that arena. The ground filter
builds its grids on worker threads (:func:`lidar.ground.smrf`), the DTM and the writers run on
the main thread: what the workers freed stayed resident beside what the main thread allocated
next. On 1 M synthetic points (``bench/bench_lidar.py``) the peak was 102 bytes a point after
SMRF and 115 after the DTM; with one arena 92 and 94, at the same speed (the large arrays are
few, so the threads seldom wait for the arena's lock; Python's small objects have their own
allocator). The ``lidar`` commands call :func:`single_malloc_arena` first, before any thread.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import platform

#: ``M_ARENA_MAX`` of glibc's ``<malloc.h>``
_M_ARENA_MAX = -8


def single_malloc_arena() -> bool:
    """Ask glibc for one malloc arena in this process (``mallopt(M_ARENA_MAX, 1)``, the same
    as ``MALLOC_ARENA_MAX=1``); threads that already have their arena keep it. Whether it was
    set: False off glibc (musl, macOS, Windows), where nothing is done."""
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return False
    name = ctypes.util.find_library("c")
    if name is None:
        return False
    try:
        libc = ctypes.CDLL(name)
        return bool(libc.mallopt(_M_ARENA_MAX, 1))
    except (OSError, AttributeError):
        return False
