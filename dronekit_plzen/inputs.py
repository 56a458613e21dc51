"""Reading small input documents (missions, areas, zones) with a size limit.

A mission, an area or a zones file is text of a few kilobytes to a few megabytes. These readers
load the whole document, so a file (or a KMZ member) far beyond that, by mistake or by design (a
zip bomb: a few kilobytes that inflate to gigabytes), would exhaust the memory before the parser
could say what is wrong. Both are refused up front, naming the file and its size.

Example::

    from dronekit_plzen.inputs import read_input_bytes, read_zip_member

    data = read_input_bytes("area.geojson")
    with zipfile.ZipFile("mission.kmz") as z:
        kml = read_zip_member(z, "wpmz/template.kml", where="mission.kmz")

This module is in the core layer: it imports only the standard library and the core's errors
and translations.
"""

from __future__ import annotations

import errno
import os
import stat
import zipfile
import zlib

from dronekit_plzen.errors import BadInputError, CorruptFileError
from dronekit_plzen.i18n import _

#: the largest mission, area, zones or KMZ member document read (the largest real ones: a few MB)
MAX_DOCUMENT_BYTES = 256 * 1024 * 1024

_CHUNK = 1 << 20


def _mib(n: int) -> str:
    return f"{n / 1024**2:,.0f} MiB"


def _too_large(size: int | None, where: str, limit: int) -> BadInputError:
    return BadInputError(
        _("the document is {size}, over the {limit} a mission, area or zones file can be").format(
            size=_mib(size) if size is not None else _("larger than that"), limit=_mib(limit)
        ),
        where=where,
    )


def read_reason(exc: OSError) -> str:
    """A short, translated reason why a file could not be read (the C library's English
    ``strerror`` had reached Czech messages: "No such file or directory"); an errno not listed
    keeps the C library's text.

    >>> read_reason(FileNotFoundError(errno.ENOENT, "No such file or directory"))
    'the file does not exist'
    """
    reasons = {
        errno.ENOENT: _("the file does not exist"),
        errno.EISDIR: _("it is a directory"),
        errno.ENOTDIR: _("a part of the path is not a directory"),
        errno.EACCES: _("permission denied"),
        errno.EPERM: _("permission denied"),
        errno.ELOOP: _("too many symbolic links (a loop?)"),
        errno.ENAMETOOLONG: _("the file name is too long"),
        errno.EIO: _("input/output error"),
    }
    if exc.errno in reasons:
        return reasons[exc.errno]
    return exc.strerror or str(exc) or type(exc).__name__


def read_input_bytes(path: str | os.PathLike[str], limit: int = MAX_DOCUMENT_BYTES) -> bytes:
    """The bytes of ``path``, refusing a file over ``limit`` before reading it.

    :class:`OSError` passes through for the caller to word (not found, permission ...). A
    named pipe or a device is refused before it is opened (opening a pipe waits for a writer:
    ``plan survey --area FIFO`` had hung for ever; ``/dev/zero`` was read to the limit).
    """
    st = os.stat(path)
    if not (stat.S_ISREG(st.st_mode) or stat.S_ISDIR(st.st_mode)):  # a folder: open() words it
        raise BadInputError(
            _("it is not a regular file (a named pipe or a device)"), where=os.fspath(path)
        )
    with open(path, "rb") as f:
        size = os.fstat(f.fileno()).st_size
        if size > limit:
            raise _too_large(size, os.fspath(path), limit)
        data = f.read(limit + 1)  # a file that grows while it is read (or a device) stops here
    if len(data) > limit:
        raise _too_large(None, os.fspath(path), limit)
    return data


#: how a Git LFS pointer file begins (a clone or download without ``git lfs pull`` holds these
#: few lines in place of the file; ``hawser`` is the spec's first name)
_LFS_POINTER_HEADS = (
    b"version https://git-lfs.github.com/spec/",
    b"version https://hawser.github.com/spec/",
)


def path_sha256(path: str | os.PathLike[str]) -> str:
    """The file's SHA-256 (hex), read in 1 MiB blocks (a map or a log of any size)."""
    import hashlib

    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def is_lfs_pointer(head: bytes) -> bool:
    r"""``head`` (the first bytes of a file) is a Git LFS pointer, not the file it stands for.

    Callers word the refusal themselves (what the file should have been). Example::

        >>> is_lfs_pointer(b"version https://git-lfs.github.com/spec/v1\noid sha256:ab\n")
        True
        >>> is_lfs_pointer(b"version https://git-lfs.github.com/spec/\xa3\x95\x80\x80")
        False

    A pointer is a short text file (at most 1024 bytes of printable ASCII lines): a binary
    file that merely begins with the words (a damaged log, ``make fuzz``) is not one.
    """
    h = head.lstrip(b"\xef\xbb\xbf")
    if not h.startswith(_LFS_POINTER_HEADS):
        return False
    text = h[:1024]
    return text.isascii() and not text.translate(None, b"\t\n\r").translate(
        None, bytes(range(32, 127))
    )


def read_zip_member(
    z: zipfile.ZipFile, name: str, where: str, limit: int = MAX_DOCUMENT_BYTES
) -> bytes:
    """Member ``name`` of an open zip, inflated at most to ``limit`` bytes.

    The size the archive declares is checked first; as it may lie, the inflated stream is read
    in chunks and stopped at the limit as well.
    """
    label = f"{where}!{name}"
    declared = z.getinfo(name).file_size
    if declared > limit:
        raise _too_large(declared, label, limit)
    parts: list[bytes] = []
    total = 0
    try:
        with z.open(name) as f:
            while chunk := f.read(_CHUNK):
                total += len(chunk)
                if total > limit:
                    raise _too_large(None, label, limit)
                parts.append(chunk)
    except (zipfile.BadZipFile, zlib.error, EOFError) as exc:
        msg = _("damaged zip member: {reason}").format(reason=exc)
        raise CorruptFileError(msg, where=label) from exc
    except (NotImplementedError, RuntimeError) as exc:  # an unknown compression, a password
        msg = _("unreadable zip member: {reason}").format(reason=exc)
        raise BadInputError(msg, where=label) from exc
    return b"".join(parts)


__all__ = ["MAX_DOCUMENT_BYTES", "is_lfs_pointer", "read_input_bytes", "read_zip_member"]


def json_int(digits: str) -> int | float:
    """``parse_int`` for :func:`json.loads`: an integer of thousands of digits is a float
    (infinity) that the readers' finite-number checks refuse, naming the file and the field,
    instead of Python's ``ValueError`` about its integer digit limit (an internal error).

    >>> json_int("42"), json_int("1" + "0" * 5000), json_int("-" + "9" * 400)
    (42, inf, -inf)
    """
    if len(digits) > 300:
        return float(digits)
    return int(digits)


#: the most cells of a raster read block-averaged to a smaller grid (a probability map, an
#: orthophoto for the portal): 20,000 × 20,000. GDAL averages every cell it reads, so a bigger
#: raster without overviews took minutes and gigabytes before anything was said
MAX_READ_CELLS = 400_000_000


def check_read_cells(
    width: int, height: int, overviews: list[int], where: str, limit: int = MAX_READ_CELLS
) -> None:
    """Refuse a raster of ``width`` × ``height`` cells whose smallest overview (``overviews``:
    the decimation factors GDAL reads a reduced grid from, rasterio's ``ds.overviews(1)``) still
    has more than ``limit`` cells.

    >>> check_read_cells(20_000, 20_000, [], "ok.tif")
    >>> check_read_cells(200_000, 200_000, [16], "ok.tif")
    >>> try:
    ...     check_read_cells(200_000, 200_000, [], "big.tif")
    ... except BadInputError as exc:
    ...     print(str(exc)[:53])
    big.tif: the raster is 200,000 × 200,000 cells, more
    """
    f = max([1, *overviews])
    if (width / f) * (height / f) > limit:
        raise BadInputError(
            _(
                "the raster is {w:,} × {h:,} cells, more than the {limit:,} read here: "
                "resample it or add overviews (gdaladdo -r average)"
            ).format(w=width, h=height, limit=limit),
            where=where,
        )
