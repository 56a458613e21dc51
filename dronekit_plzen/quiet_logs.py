"""Keep a third-party library's log records off the console inside a block, thread by thread.

laspy logs a decoding failure at ERROR before it raises, and rasterio logs GDAL's warnings; the
CLI shows WARNING and above, so the user would see raw library lines before our one error line
that names the file. Turning the library logger's ``propagate`` off for the block is not safe
when two threads read files at once (a GUI job beside a planning call): the block that ends
first turns propagation back on in the middle of the other's, or the interleaving leaves it off
for good (and pytest then hangs its capture handler on the logger itself).

So propagation is never touched. The library's loggers get a filter that looks at the calling
thread: a record logged by a thread inside a :func:`quiet` block for that library goes to the
block's list; every other record passes as before. Loggers the library creates later get the
filter at the next block's start (a library creates its loggers when its modules are imported).

>>> import logging
>>> reader = logging.getLogger("example_lib.reader")
>>> with quiet("example_lib") as records:
...     reader.warning("raw library line")
>>> [r.getMessage() for r in records]
['raw library line']
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Iterator

_local = threading.local()
_install = threading.Lock()


def _blocks() -> list[tuple[frozenset[str], list[logging.LogRecord]]]:
    blocks = getattr(_local, "blocks", None)
    if blocks is None:
        blocks = _local.blocks = []
    return blocks


class _ThreadFilter(logging.Filter):
    """On each logger of one library: keeps the records of threads inside a quiet block for it."""

    def __init__(self, library: str) -> None:
        super().__init__()
        self.library = library

    def filter(self, record: logging.LogRecord) -> bool:
        for names, sink in reversed(_blocks()):
            if self.library in names:
                sink.append(record)
                return False
        return True


_filters: dict[str, _ThreadFilter] = {}
_scanned: dict[str, int] = {}  # library -> size of the logger registry at its last scan


def _route(library: str) -> None:
    registry = logging.Logger.manager.loggerDict
    with _install:
        filt = _filters.setdefault(library, _ThreadFilter(library))
        if _scanned.get(library) == len(registry):
            return
        names = [n for n in list(registry) if n.startswith(library + ".")]
        for name in (library, *names):
            logger = logging.getLogger(name)
            if filt not in logger.filters:
                logger.addFilter(filt)
        _scanned[library] = len(registry)


@contextlib.contextmanager
def quiet(*names: str) -> Iterator[list[logging.LogRecord]]:
    """Inside the block, this thread's records of the libraries ``names`` (top logger names;
    their child loggers too) are kept in the yielded list instead of reaching any handler."""
    for name in names:
        _route(name)
    records: list[logging.LogRecord] = []
    blocks = _blocks()
    blocks.append((frozenset(names), records))
    try:
        yield records
    finally:
        blocks.pop()
