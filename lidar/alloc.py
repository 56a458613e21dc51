"""The C allocator's set-up for processes that run the point-cloud steps.

glibc gives each thread that meets another in ``malloc`` an arena of its own (up to 8 per core),
and memory freed in one arena is reused only by the threads of that arena. The ground filter
builds its grids on worker threads (:func:`lidar.ground.smrf`), the DTM and the writers run on
the main thread: what the workers freed stayed resident beside what the main thread allocated
next. On 1 M synthetic points (``bench/bench_lidar.py``) the peak was 102 bytes a point after
SMRF and 115 after the DTM; with one arena 92 and 94, at the same speed (the large arrays are
few, so the threads seldom wait for the arena's lock; Python's small objects have their own
allocator).

glibc also raises its mmap threshold each time a mapped block is freed (up to 32 MiB), so a
1 M-point cloud's arrays (8 MiB each) soon come from the heap, whose holes a later array of
another size cannot use: after SMRF about 20 MiB stayed resident, freed but not returned, and
the DTM stage peaked at 90–100 bytes a point. :func:`map_large_arrays` fixes the thresholds at
1 MiB (an array of 1 MiB or more is mapped, and given back when freed), and the ground filter,
whose workers allocate and free grids by the hundred, runs inside :func:`worker_heap` (the
heap's speed; the heap trimmed at the end): the DTM stage peaks at 77 bytes a point, SMRF at
the same speed (mapping every grid doubled its time).

The ``lidar`` commands call :func:`setup_allocator` first, before any thread.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import platform
from collections.abc import Iterator

#: ``<malloc.h>``'s ``mallopt`` parameters
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
_M_ARENA_MAX = -8

#: blocks of this size and more are mapped (and returned when freed) ...
MAPPED_BYTES = 1 << 20
#: ... but inside :func:`worker_heap` only from this size (glibc's own largest threshold)
WORKER_MAPPED_BYTES = 32 << 20

_libc: ctypes.CDLL | None = None
_mapped = False  # map_large_arrays() took effect in this process


def _glibc() -> ctypes.CDLL | None:
    global _libc
    if _libc is None:
        if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
            return None
        name = ctypes.util.find_library("c")
        if name is None:
            return None
        try:
            _libc = ctypes.CDLL(name)
        except OSError:
            return None
    return _libc


def _mallopt(param: int, value: int) -> bool:
    libc = _glibc()
    if libc is None:
        return False
    try:
        return bool(libc.mallopt(param, value))
    except AttributeError:
        return False


def single_malloc_arena() -> bool:
    """Ask glibc for one malloc arena in this process (``mallopt(M_ARENA_MAX, 1)``, the same
    as ``MALLOC_ARENA_MAX=1``); threads that already have their arena keep it. Whether it was
    set: False off glibc (musl, macOS, Windows), where nothing is done."""
    return _mallopt(_M_ARENA_MAX, 1)


def map_large_arrays(size: int = MAPPED_BYTES) -> bool:
    """Map every block of ``size`` bytes or more and trim the heap's free top beyond it
    (fixed ``M_MMAP_THRESHOLD`` and ``M_TRIM_THRESHOLD``: glibc no longer raises them)."""
    global _mapped
    ok = _mallopt(_M_MMAP_THRESHOLD, size) and _mallopt(_M_TRIM_THRESHOLD, size)
    _mapped = _mapped or ok
    return ok


def setup_allocator() -> bool:
    """One arena and large arrays mapped (see the module's note); False off glibc."""
    return single_malloc_arena() and map_large_arrays()


@contextlib.contextmanager
def worker_heap() -> Iterator[None]:
    """Blocks below 32 MiB from the heap inside the block (threads that allocate and free many
    grids: mapping each one costs its page faults every time), then the heap's free memory
    returned (``malloc_trim``) and large arrays mapped again. Nothing is changed unless
    :func:`map_large_arrays` was called; call it with no other thread allocating."""
    if not _mapped:
        yield
        return
    _mallopt(_M_MMAP_THRESHOLD, WORKER_MAPPED_BYTES)
    _mallopt(_M_TRIM_THRESHOLD, 2 * WORKER_MAPPED_BYTES)
    try:
        yield
    finally:
        libc = _glibc()
        if libc is not None:
            libc.malloc_trim(0)
        map_large_arrays()
