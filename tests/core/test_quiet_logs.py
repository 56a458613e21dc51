"""Library log records are kept off the console inside a quiet block, per thread.

CI once failed because a block of another thread (a leftover job reading a raster) ended in the
middle of a terrain check and turned rasterio's propagation back on: GDAL's lines reached the
console. The blocks are now per thread; these tests replay that interleaving deterministically.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Iterator
from contextlib import AbstractContextManager
from typing import TypeVar

import pytest

from dronekit_plzen.quiet_logs import quiet
from lidar.io import quiet_library_logs
from missions.terrain import _GdalMessages

LIB = logging.getLogger("rasterio._env")
T = TypeVar("T")


def _lib_records(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name.startswith("rasterio")]


@contextlib.contextmanager
def _overlapping(mine: AbstractContextManager[T]) -> Iterator[T]:
    """Another thread enters a rasterio quiet block, this thread enters ``mine``, the other
    thread's block ends: the body of the ``with`` runs after that, inside ``mine``."""
    other_in, mine_in, other_out = threading.Event(), threading.Event(), threading.Event()

    def other() -> None:
        with quiet_library_logs("rasterio"):
            other_in.set()
            mine_in.wait(5)
        other_out.set()

    t = threading.Thread(target=other)
    t.start()
    assert other_in.wait(5)
    with mine as value:
        mine_in.set()
        assert other_out.wait(5)
        yield value
    t.join(5)


def test_a_block_ending_in_another_thread_does_not_unquiet_this_one(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.DEBUG), _overlapping(_GdalMessages()) as gdal:
        LIB.warning("CPLE_AppDefined: TIFFReadDirectory: bogus tag")
    assert _lib_records(caplog) == []
    assert gdal.messages == ["CPLE_AppDefined: TIFFReadDirectory: bogus tag"]
    assert gdal.damage() == "TIFFReadDirectory: bogus tag"


def test_another_threads_records_are_not_swallowed_by_this_block(
    caplog: pytest.LogCaptureFixture,
) -> None:
    def other() -> None:
        LIB.warning("from the other thread")

    with caplog.at_level(logging.DEBUG), quiet("rasterio") as mine:
        t = threading.Thread(target=other)
        t.start()
        t.join(5)
        LIB.warning("from this thread")
    assert [r.getMessage() for r in mine] == ["from this thread"]
    assert _lib_records(caplog) == ["from the other thread"]


def test_outside_a_block_records_propagate_as_before(caplog: pytest.LogCaptureFixture) -> None:
    with quiet("rasterio"):
        pass
    with caplog.at_level(logging.DEBUG):
        LIB.debug("debug line")
        LIB.warning("warning line")
    assert _lib_records(caplog) == ["debug line", "warning line"]


def test_blocks_nest_and_only_name_their_own_library(caplog: pytest.LogCaptureFixture) -> None:
    laspy_log = logging.getLogger("laspy.lasreader")
    with caplog.at_level(logging.DEBUG), quiet("rasterio") as outer:
        with quiet("laspy") as inner:
            laspy_log.error("laspy line")
            LIB.warning("rasterio line")
        laspy_log.error("laspy after the inner block")
    assert [r.getMessage() for r in inner] == ["laspy line"]
    assert [r.getMessage() for r in outer] == ["rasterio line"]
    assert [r.getMessage() for r in caplog.records] == ["laspy after the inner block"]


def test_overlapping_blocks_of_two_threads_leave_the_logger_as_it_was(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # A enters, B enters, A leaves, B leaves: saving and restoring ``propagate`` per block left
    # it off for good, and pytest then attaches its capture handler to the library logger
    with _overlapping(quiet_library_logs("rasterio")):
        pass
    assert logging.getLogger("rasterio").propagate
    with caplog.at_level(logging.DEBUG):
        LIB.warning("after both blocks")
    assert _lib_records(caplog) == ["after both blocks"]
