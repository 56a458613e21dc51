"""The allocator set-up of the ``lidar`` commands (``lidar.alloc``): one malloc arena, so what
the ground filter's worker threads free is reused by the main thread's next stage."""

from __future__ import annotations

import platform
import subprocess
import sys

import pytest

# threads allocate and free, then glibc lists its heaps (one per arena) on stdout
_PROBE = """
import ctypes, sys, threading
import numpy as np
from lidar.alloc import single_malloc_arena
if sys.argv[1] == "one":
    print("set", single_malloc_arena())
elif sys.argv[1] == "cli":
    from lidar.cli import lidar
    lidar.callback()  # what every ``dronekit-plzen lidar ...`` command runs first
def work():
    xs = [np.ones(5000) for _ in range(200)]
    del xs
ts = [threading.Thread(target=work) for _ in range(4)]
for t in ts:
    t.start()
for t in ts:
    t.join()
sys.stdout.flush()
libc = ctypes.CDLL("libc.so.6")
libc.fdopen.restype = ctypes.c_void_p
out = ctypes.c_void_p(libc.fdopen(1, b"w"))
libc.malloc_info(0, out)
libc.fflush(out)
"""


@pytest.mark.parametrize(("mode", "one_heap"), [("one", True), ("cli", True), ("default", False)])
def test_one_arena_serves_every_thread(mode: str, one_heap: bool) -> None:
    proc = subprocess.run(
        [sys.executable, "-c", _PROBE, mode], capture_output=True, text=True, timeout=60
    )
    if platform.libc_ver()[0] != "glibc":  # musl, macOS, Windows: nothing is set
        assert "set False" in proc.stdout or mode != "one"
        return
    assert proc.returncode == 0, proc.stderr[-800:]
    if mode == "one":
        assert "set True" in proc.stdout
    heaps = proc.stdout.count("<heap nr=")
    assert (heaps == 1) is one_heap, proc.stdout[:400]


# an 8 MiB array allocated and freed twice, then threads allocating and freeing 2 MiB grids
# inside worker_heap(); the resident memory (MiB above the start) after each
_RETURNED = """
import os, sys, threading
import numpy as np
from lidar.alloc import worker_heap
if sys.argv[1] == "cli":
    from lidar.cli import lidar
    lidar.callback()
def rss():
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
base = rss()
for _ in range(2):
    a = np.ones(1 << 20)  # 8 MiB, every page touched
    del a
after_array = rss() - base
def work():
    keep = []
    for k in range(60):
        keep.append(np.ones(1 << 18 if k % 3 else 3 << 17))  # 2 and 3 MiB
        if len(keep) > 4:
            keep.pop(0)
with worker_heap():
    ts = [threading.Thread(target=work) for _ in range(2)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
print(after_array, rss() - base)
"""


@pytest.mark.parametrize("mode", ["cli", "default"])
def test_freed_arrays_are_given_back(mode: str) -> None:
    # glibc raises its mmap threshold when a mapped block is freed: the second 8 MiB array came
    # from the heap and stayed resident when freed (after SMRF 20 MiB, on 1 M points)
    proc = subprocess.run(
        [sys.executable, "-c", _RETURNED, mode], capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0, proc.stderr[-800:]
    if platform.libc_ver()[0] != "glibc":  # musl, macOS, Windows: nothing is set
        return
    after_array, after_workers = map(float, proc.stdout.split())
    if mode == "cli":
        assert after_array < 2.0 and after_workers < 4.0, proc.stdout
    else:
        assert after_array > 6.0, proc.stdout  # what the set-up is for
