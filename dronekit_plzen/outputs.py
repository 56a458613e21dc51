"""Writing output files safely: check the path first, write to a temporary file, rename.

Every command that writes a file (a GeoTIFF, a LAZ, a report, a plan) goes through this module so
that the user gets the same behaviour everywhere:

* the path is checked **before** any work starts (:func:`check_output_path`): its directory
  exists and is a directory, the target is not a directory or a device, the extension fits the
  format (``-o dsm.png`` for a GeoTIFF is bad input), and an existing file is refused when the
  command promises not to overwrite;
* the data go to a temporary file in the same directory, renamed over the target with
  :func:`os.replace` only when the writer succeeded (:func:`atomic_output`); on any failure the
  temporary file is removed, so no partial output is ever left that looks complete;
* an :class:`OSError` becomes one clear error naming the path and the reason
  (:func:`output_error`): a path the user got wrong (no such directory, permission denied,
  read-only file system, a directory) is :class:`~dronekit_plzen.errors.BadInputError` (exit 2);
  a full disk or an I/O error is :class:`~dronekit_plzen.errors.StorageError` (exit 1).

Example::

    from dronekit_plzen.outputs import atomic_output, check_output_path

    target = check_output_path("dsm.tif", suffixes=(".tif", ".tiff"))   # before the work
    grid = compute_the_dsm()
    with atomic_output(target) as tmp:          # tmp is a real file name: rasterio/laspy need one
        with rasterio.open(tmp, "w", **profile) as dst:
            dst.write(grid, 1)
    # here dsm.tif exists and is complete; had the block raised, neither it nor tmp would

This module is in the core layer: it imports only the standard library and
:mod:`dronekit_plzen.errors` / :mod:`dronekit_plzen.i18n`.
"""

from __future__ import annotations

import contextlib
import contextvars
import errno
import os
import stat
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from dronekit_plzen.errors import BadInputError, DronekitPlzenError, StorageError
from dronekit_plzen.i18n import _

#: errno values that mean "the user gave a path that cannot be written": bad input (exit 2)
_USER_ERRNOS = frozenset(
    {
        errno.ENOENT,
        errno.ENOTDIR,
        errno.EISDIR,
        errno.EACCES,
        errno.EPERM,
        errno.EROFS,
        errno.ENAMETOOLONG,
        errno.EEXIST,
        errno.ELOOP,
        errno.EINVAL,
        errno.EXDEV,
    }
)


def _reason(code: int | None) -> str:
    """A short, translated reason for an errno (falls back to the C library's text)."""
    reasons = {
        errno.ENOENT: _("the directory does not exist or does not accept new files"),
        errno.ENOTDIR: _("a part of the path is not a directory"),
        errno.EISDIR: _("it is a directory"),
        errno.EACCES: _("permission denied"),
        errno.EPERM: _("permission denied"),
        errno.EROFS: _("read-only file system"),
        errno.ENOSPC: _("no space left on the device"),
        errno.EDQUOT: _("disk quota exceeded"),
        errno.EFBIG: _("the file is too large for the file system or the size limit"),
        errno.EIO: _("input/output error"),
        errno.ENAMETOOLONG: _("the file name is too long"),
    }
    if code in reasons:
        return reasons[code]
    return os.strerror(code) if code else _("unknown error")


def output_error(path: str | os.PathLike[str], exc: OSError) -> DronekitPlzenError:
    """The toolkit error for an :class:`OSError` raised while writing ``path``.

    A path the user got wrong gives :class:`BadInputError` (exit 2); a full disk, a quota, an
    I/O error give :class:`StorageError` (exit 1). The message is ``cannot write <path>: <reason>``.

    >>> import errno
    >>> e = output_error("/data/dsm.tif", OSError(errno.ENOSPC, "No space left on device"))
    >>> type(e).__name__, str(e)
    ('StorageError', 'cannot write /data/dsm.tif: no space left on the device')
    >>> type(output_error("/x.tif", PermissionError(errno.EACCES, "denied"))).__name__
    'BadInputError'
    """
    message = _("cannot write {path}: {reason}").format(
        path=os.fspath(path), reason=_reason(exc.errno)
    )
    cls: type[DronekitPlzenError] = BadInputError if exc.errno in _USER_ERRNOS else StorageError
    return cls(message)


#: errno values a writer library that reports no errno (GDAL, lazrs) may have met: found by the
#: C library's text of each (libtiff prints ``_tiffWriteProc: No space left on device.``)
_STORAGE_ERRNOS = (errno.ENOSPC, errno.EFBIG, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EIO)
#: free space below which a failed write is put down to a full disk
_NEARLY_FULL_BYTES = 1024**2


def _errno_of(detail: str, written: Path | None, path: Path) -> int | None:
    """The errno behind a failed write: named in the library's ``detail``, else told by the
    file system (the file at the process's size limit, the disk or the quota full)."""
    low = detail.lower()
    for code in _STORAGE_ERRNOS:
        if os.strerror(code).lower() in low:
            return code
    import resource

    limit = resource.getrlimit(resource.RLIMIT_FSIZE)[0]
    if written is not None and limit != resource.RLIM_INFINITY:
        with contextlib.suppress(OSError):
            if os.stat(written).st_size >= limit - 64 * 1024:
                return errno.EFBIG
    with contextlib.suppress(OSError):
        st = os.statvfs((written or path).parent)
        if st.f_bavail * st.f_frsize < _NEARLY_FULL_BYTES:
            return errno.ENOSPC
    return None


def write_failure(
    path: str | os.PathLike[str],
    *,
    written: str | os.PathLike[str] | None = None,
    detail: str = "",
    fallback: DronekitPlzenError | None = None,
) -> DronekitPlzenError:
    """The error for a writer library's failure that carries no :class:`OSError` (GDAL's
    ``TIFFAppendToStrip: Write error``, lazrs's ``IoError``), as :func:`output_error` gives it:
    ``cannot write <path>: <reason>``.

    The reason is the C library's text in ``detail`` (what the library printed or raised), else
    what the file system tells about ``written`` (the file being written: at the size limit of
    ``ulimit -f``, or on a full disk); else ``fallback`` or "could not be written completely".

    >>> str(write_failure("/d/dsm.tif", detail="_tiffWriteProc: No space left on device."))
    'cannot write /d/dsm.tif: no space left on the device'
    """
    code = _errno_of(detail, Path(written) if written is not None else None, Path(path))
    if code is not None:
        return output_error(path, OSError(code, os.strerror(code)))
    if fallback is not None:
        return fallback
    return StorageError(
        _("cannot write {path}: {reason}").format(
            path=os.fspath(path),
            reason=_("the file could not be written completely (disk full?)"),
        )
    )


class CapturedStderr:
    """What C libraries wrote to file descriptor 2 inside :func:`capture_c_stderr`."""

    text: str = ""


@contextlib.contextmanager
def capture_c_stderr() -> Iterator[CapturedStderr]:
    """Hold back what C libraries print straight to stderr (libtiff inside GDAL prints
    ``_tiffWriteProc: File too large.`` there, past any Python logging) inside the block.

    On success the held-back text is written to stderr after all (nothing is lost); on failure
    it is kept in the yielded object for the error message and not printed raw. Only the main
    thread redirects (the descriptor is process-wide); elsewhere this does nothing.
    """
    import sys
    import tempfile
    import threading

    box = CapturedStderr()
    if threading.current_thread() is not threading.main_thread():
        yield box
        return
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as sink:
        os.dup2(sink.fileno(), 2)
        ok = False
        try:
            yield box
            ok = True
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            sink.seek(0)
            box.text = sink.read().decode("utf-8", "replace").strip()
            if ok and box.text:
                sys.stderr.write(box.text + "\n")


@contextlib.contextmanager
def library_write_errors(
    path: str | os.PathLike[str],
    written: str | os.PathLike[str],
    errors: tuple[type[BaseException], ...],
) -> Iterator[None]:
    """Turn a writer library's ``errors`` (GDAL's, lazrs's) while writing ``written`` for
    ``path`` into one error naming the cause (see :func:`write_failure`).

    What C libraries print meanwhile (libtiff's ``_tiffWriteProc: No space left on device.``)
    is held back (:func:`capture_c_stderr`) and gives the reason instead of extra lines. A
    toolkit error among ``errors`` (a check that failed) is kept when no cause is found.
    """
    held: CapturedStderr | None = None
    try:
        with capture_c_stderr() as box:
            try:
                yield
            finally:
                held = box  # its text is filled in when the block is left
    except errors as exc:
        raise write_failure(
            path,
            written=written,
            detail=f"{held.text if held else ''} {exc}",
            fallback=exc if isinstance(exc, DronekitPlzenError) else None,
        ) from exc


def _bad(path: Path, reason: str) -> BadInputError:
    return BadInputError(_("cannot write {path}: {reason}").format(path=path, reason=reason))


#: (device, inode) of the files the running command reads, while :func:`guarded_inputs` is
#: active: no output may replace one of them
_inputs: set[tuple[int, int]] | None = None


@contextlib.contextmanager
def guarded_inputs() -> Iterator[None]:
    """While active, a file given to :func:`note_input` is refused as an output: a command never
    writes over a file it reads (``plan survey --area survey.geojson --out .`` replaced the area
    with the plan's GeoJSON). The CLI runs every command inside it; the desktop application,
    which saves a mission over the file it opened, leaves it (:func:`stop_guarding_inputs`)."""
    global _inputs
    previous, _inputs = _inputs, set()
    try:
        yield
    finally:
        _inputs = previous


def stop_guarding_inputs() -> None:
    """Leave the guard of :func:`guarded_inputs` (a long-lived application that saves over what
    it opened, on the user's word)."""
    global _inputs
    _inputs = None


def note_input(path: str | os.PathLike[str]) -> None:
    """Record that the running command reads ``path`` (no-op outside :func:`guarded_inputs`)."""
    if _inputs is None:
        return
    with contextlib.suppress(OSError, ValueError):
        st = os.stat(path)
        _inputs.add((st.st_dev, st.st_ino))


def check_output_path(
    path: str | os.PathLike[str],
    *,
    suffixes: Iterable[str] = (),
    overwrite: bool = True,
) -> Path:
    """Check that ``path`` can take an output file, before any work starts; return it as a Path.

    Parameters
    ----------
    path
        The output file the user asked for.
    suffixes
        Accepted extensions, lower case with the dot (``(".tif", ".tiff")``); empty accepts any.
    overwrite
        When False an existing file is refused (the command promises not to overwrite it).

    Raises
    ------
    BadInputError
        Naming the path and the reason: wrong extension, no such directory, the parent is not a
        directory or is not writable, the target is a directory or not a regular file, or it
        exists and ``overwrite`` is False.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> check_output_path(d / "dsm.tif", suffixes=(".tif", ".tiff")).name
    'dsm.tif'
    >>> check_output_path(d / "dsm.png", suffixes=(".tif", ".tiff"))  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    dronekit_plzen.errors.BadInputError: cannot write .../dsm.png: the extension must be .tif ...
    """
    raw = os.fspath(path)
    if not raw or not raw.strip():
        raise BadInputError(_("the output path is empty"))
    target = Path(raw)
    try:
        is_dir = target.is_dir()
    except OSError as exc:  # a name longer than the file system's 255 bytes
        raise output_error(target, exc) from exc
    if is_dir:
        raise _bad(target, _("it is a directory"))
    allowed = tuple(s.lower() for s in suffixes)
    if allowed and not target.name.lower().endswith(allowed):
        raise _bad(
            target,
            _("the extension must be {suffixes}").format(suffixes=_(" or ").join(allowed)),
        )
    parent = target.parent
    try:
        st_parent = os.stat(parent)
    except OSError as exc:
        if exc.errno == errno.ENOENT:
            raise _bad(
                target, _("directory {parent} does not exist").format(parent=parent)
            ) from exc
        raise output_error(target, exc) from exc
    if not stat.S_ISDIR(st_parent.st_mode):
        raise _bad(target, _("{parent} is not a directory").format(parent=parent))
    if not os.access(parent, os.W_OK | os.X_OK):
        raise _bad(target, _("permission denied"))
    try:  # root passes os.access everywhere: only creating a file tells (/proc, read-only mounts)
        fd, probe = tempfile.mkstemp(prefix=".dkp-probe-", dir=parent)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise output_error(target, exc) from exc
    try:
        st_target = os.stat(target)
    except FileNotFoundError:
        return target
    except OSError as exc:
        raise output_error(target, exc) from exc
    if stat.S_ISDIR(st_target.st_mode):
        raise _bad(target, _("it is a directory"))
    if not stat.S_ISREG(st_target.st_mode):
        raise _bad(target, _("it is not a regular file"))
    if _inputs and (st_target.st_dev, st_target.st_ino) in _inputs:
        raise _bad(
            target,
            _("it is an input of this command; writing it would destroy it: choose another output"),
        )
    if not overwrite:
        raise _bad(target, _("the file exists (give --overwrite to replace it)"))
    return target


@contextlib.contextmanager
def atomic_output(
    path: str | os.PathLike[str],
    *,
    suffixes: Iterable[str] = (),
    overwrite: bool = True,
) -> Iterator[Path]:
    """Yield a temporary file name beside ``path``; rename it to ``path`` if the block succeeds.

    The path is checked with :func:`check_output_path` first. The temporary file is created in the
    same directory (so the final :func:`os.replace` is atomic) with a hidden ``.<name>.*.part``
    name and removed on any failure, including ``KeyboardInterrupt``. An :class:`OSError` raised
    in the block or by the rename becomes :func:`output_error`; errors of the toolkit pass
    through unchanged. The finished file gets the ordinary permissions (``0666 & ~umask``).

    Writers that need a file name (rasterio, laspy) open the yielded path themselves; for text,
    see :func:`write_text`.

    >>> import tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> with atomic_output(d / "a.txt") as tmp:
    ...     _ = tmp.write_text("hello")
    >>> (d / "a.txt").read_text(), sorted(p.name for p in d.iterdir())
    ('hello', ['a.txt'])
    """
    target = check_output_path(path, suffixes=suffixes, overwrite=overwrite)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent)
    except OSError as exc:
        raise output_error(target, exc) from exc
    os.close(fd)
    tmp_path = Path(tmp)
    group = _group.get()
    kept = False
    try:
        try:
            yield tmp_path
            umask = os.umask(0)
            os.umask(umask)
            os.chmod(tmp_path, 0o666 & ~umask)  # mkstemp creates 0600; outputs are ordinary files
            if group is None:
                os.replace(tmp_path, target)
            else:  # renamed with the group's other files when the whole job has succeeded
                group.pending.append((tmp_path, target))
                kept = True
        except OSError as exc:
            raise output_error(target, exc) from exc
    finally:
        if not kept:
            with contextlib.suppress(OSError):
                tmp_path.unlink()


class OutputGroup:
    """The outputs of one job, put in place together or not at all.

    A job that writes several files (a ground-classified LAZ, then a DTM, DSM and CHM) must not
    leave the first ones behind when a later one fails: the user would find a ``ground.laz``
    beside no DTM, or an old DTM beside a new cloud. Writers run inside :meth:`collect`; their
    finished temporary files wait, and :meth:`commit` renames them all at the end (in the order
    written), or :meth:`discard` removes them and leaves every target as it was.

    >>> import tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> g = OutputGroup()
    >>> with g.collect(), atomic_output(d / "a.txt") as tmp:
    ...     _ = tmp.write_text("a")
    >>> (d / "a.txt").exists()
    False
    >>> g.commit(); (d / "a.txt").read_text()
    'a'
    """

    def __init__(self) -> None:
        self.pending: list[tuple[Path, Path]] = []
        #: stale outputs to remove when the group is put in place (see :func:`remove_output`)
        self.removals: list[Path] = []

    @contextlib.contextmanager
    def collect(self) -> Iterator[OutputGroup]:
        """Defer the renames of :func:`atomic_output` blocks run inside this block."""
        token = _group.set(self)
        try:
            yield self
        finally:
            _group.reset(token)

    @classmethod
    @contextlib.contextmanager
    def all_or_nothing(cls) -> Iterator[OutputGroup]:
        """Collect the outputs written in the block; put them in place when it succeeds,
        remove them when it raises. Inside another group's block, the outputs join that group
        (put in place with the rest of the job, not ahead of it)."""
        outer = _group.get()
        if outer is not None:
            yield outer
            return
        group = cls()
        try:
            with group.collect():
                yield group
        except BaseException:
            group.discard()
            raise
        group.commit()

    def commit(self) -> None:
        """Put every finished output in place, then remove the stale ones."""
        pending, self.pending = self.pending, []
        removals, self.removals = self.removals, []
        for i, (tmp, target) in enumerate(pending):
            try:
                os.replace(tmp, target)
            except OSError as exc:
                for rest, _target in pending[i:]:
                    with contextlib.suppress(OSError):
                        rest.unlink()
                raise output_error(target, exc) from exc
        for stale in removals:
            _unlink_output(stale)

    def discard(self) -> None:
        """Remove the finished outputs' temporary files; the targets stay as they were."""
        pending, self.pending = self.pending, []
        self.removals = []
        for tmp, _target in pending:
            with contextlib.suppress(OSError):
                tmp.unlink()


_group: contextvars.ContextVar[OutputGroup | None] = contextvars.ContextVar(
    "dkp_output_group", default=None
)


def written_path(path: str | os.PathLike[str]) -> Path:
    """Where the bytes of output ``path`` are now: its temporary file while the current
    :class:`OutputGroup` has not put it in place yet, else ``path`` itself (a report that
    inlines a chart it has just written reads it from there)."""
    target = Path(path)
    group = _group.get()
    for tmp, pending in reversed(group.pending if group is not None else []):
        if pending == target:
            return tmp
    return target


def _unlink_output(path: Path) -> None:
    try:
        path.unlink()
    except FileNotFoundError:
        pass
    except OSError as exc:
        raise output_error(path, exc) from exc


def remove_output(path: str | os.PathLike[str]) -> None:
    """Remove a stale output the job no longer writes (e.g. a fence file beside a mission that
    now has no fence): at once, or inside an :class:`OutputGroup` together with its renames, so a
    job that fails leaves the old file with the old outputs it belongs to.

    >>> import tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (d / "old.txt").write_text("x")
    >>> g = OutputGroup()
    >>> with g.collect():
    ...     remove_output(d / "old.txt")
    >>> (d / "old.txt").exists()
    True
    >>> g.commit(); (d / "old.txt").exists()
    False
    """
    target = Path(path)
    group = _group.get()
    if group is None:
        _unlink_output(target)
    elif target.exists():
        group.removals.append(target)


#: extensions of the files the toolkit reads or writes: a new output folder is not named so
FILE_SUFFIXES = frozenset(
    {
        ".plan",
        ".waypoints",
        ".kml",
        ".kmz",
        ".geojson",
        ".json",
        ".csv",
        ".wpml",
        ".html",
        ".htm",
        ".tif",
        ".tiff",
        ".laz",
        ".las",
        ".png",
        ".jpg",
        ".jpeg",
        ".gpkg",
        ".zip",
        ".db",
        ".sqlite",
        ".tlog",
        ".bin",
        ".ulg",
        ".pdf",
        ".txt",
    }
)


def prepare_output_dir(path: str | os.PathLike[str]) -> Path:
    """Create the output directory ``path`` (and its parents) if needed; return it.

    An existing file in its place, a parent that is a file, no permission or a read-only file
    system give :class:`BadInputError` naming the path (``cannot write <path>: <reason>``).

    >>> import tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> prepare_output_dir(d / "a" / "b").is_dir()
    True

    A new folder named like a file (``out.plan``) is refused: the user meant a file.
    """
    raw = os.fspath(path)
    if not raw or not raw.strip():
        raise BadInputError(_("the output path is empty"))
    target = Path(raw)
    if target.exists() and not target.is_dir():
        raise _bad(target, _("it exists and is not a directory"))
    if not target.exists() and target.suffix.lower() in FILE_SUFFIXES:
        # `plan survey --out area.plan`, `report export --out flights.csv`: a folder of that
        # name holding the files surprised its user; a folder that exists is taken as it is
        raise _bad(
            target,
            _(
                "a folder is asked for here, and the name ends in {suffix}, a file's extension"
            ).format(suffix=target.suffix),
        )
    try:
        target.mkdir(parents=True, exist_ok=True)
    except FileExistsError as exc:  # a parent is a file
        raise _bad(target, _("a part of the path is not a directory")) from exc
    except OSError as exc:
        raise output_error(target, exc) from exc
    if not os.access(target, os.W_OK | os.X_OK):
        raise _bad(target, _("permission denied"))
    return target


def write_text(
    path: str | os.PathLike[str],
    text: str,
    *,
    suffixes: Iterable[str] = (),
    overwrite: bool = True,
    encoding: str = "utf-8",
) -> Path:
    """Write ``text`` to ``path`` atomically (see :func:`atomic_output`); return the path.

    >>> import tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> write_text(d / "plan.json", "{}", suffixes=(".json",)).read_text()
    '{}'
    """
    target = Path(path)
    with (
        atomic_output(target, suffixes=suffixes, overwrite=overwrite) as tmp,
        open(tmp, "w", encoding=encoding, newline="") as fh,
    ):
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())
    return target


def write_bytes(
    path: str | os.PathLike[str],
    data: bytes,
    *,
    suffixes: Iterable[str] = (),
    overwrite: bool = True,
) -> Path:
    """Write ``data`` to ``path`` atomically (see :func:`atomic_output`); return the path."""
    target = Path(path)
    with (
        atomic_output(target, suffixes=suffixes, overwrite=overwrite) as tmp,
        open(tmp, "wb") as fh,
    ):
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    return target


__all__ = [
    "CapturedStderr",
    "atomic_output",
    "capture_c_stderr",
    "check_output_path",
    "guarded_inputs",
    "library_write_errors",
    "note_input",
    "output_error",
    "prepare_output_dir",
    "stop_guarding_inputs",
    "write_bytes",
    "write_failure",
    "write_text",
]


#: what makes a spreadsheet read a cell as a formula (OWASP "CSV injection")
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: Any) -> Any:
    """``value`` as a CSV cell people open in a spreadsheet: a text starting like a formula
    gets a leading ``'`` (Excel and LibreOffice then show it as text: a requester's location
    ``=HYPERLINK(...)`` is not a link in the city's export); a number, a text that is a plain
    number ("-0.005") and None (an empty cell) stay as they are. A float has at most 9
    decimals: a coordinate stored in 1e-7 degrees reads 149.1657211, not 149.16572109999998.

    >>> csv_cell(1491657211 * 1e-7), csv_cell("=1+1"), csv_cell(None)
    (149.1657211, "'=1+1", '')
    """
    if value is None:
        return ""
    if isinstance(value, float):
        return round(value, 9)
    if isinstance(value, str) and value.startswith(FORMULA_START):
        try:
            float(value)
        except ValueError:
            return "'" + value
    return value
