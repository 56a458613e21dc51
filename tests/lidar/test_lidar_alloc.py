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
