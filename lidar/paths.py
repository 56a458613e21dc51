"""Outputs that are not inputs: the check every ``lidar`` command makes before any work.

Writing goes through a temporary file renamed over the target, so ``-o`` equal to the input
would replace the input with the result: the user's data would be gone. Two outputs of one
command that name the same file would silently keep only the last one. Both are refused here,
by comparing the files themselves (:func:`os.path.samefile` when both exist, else the resolved
real paths), so ``./inp.las``, ``dir/../inp.las``, a symbolic link or a hard link to the input
are caught as well.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence

from dronekit_plzen.errors import BadInputError
from dronekit_plzen.i18n import _

PathLike = str | os.PathLike[str]


def same_file(a: PathLike, b: PathLike) -> bool:
    """True when ``a`` and ``b`` name the same file (links and relative forms included).

    >>> same_file("x/../a.las", "a.las")
    True
    """
    try:
        return os.path.samefile(a, b)
    except OSError:  # one of them does not exist (yet): compare where they would be
        return os.path.realpath(a) == os.path.realpath(b)


def check_outputs(
    outputs: Sequence[tuple[str, PathLike]],
    inputs: Iterable[PathLike] = (),
) -> None:
    """Refuse an output that is one of the inputs, or two outputs that are the same file.

    ``outputs`` are ``(label, path)`` pairs; the label names where the path came from (an
    option such as ``-o`` or ``--dtm``, or a pipeline stage) and appears in the message.

    Raises
    ------
    BadInputError
        ``<output>: the output is the input file <input> (-o): ...`` or
        ``<output>: --dtm and --dsm name the same file: ...``.
    """
    ins = [os.fspath(p) for p in inputs]
    for k, (label, out) in enumerate(outputs):
        path = os.fspath(out)
        for src in ins:
            if same_file(path, src):
                raise BadInputError(
                    _(
                        "the output is the input file {f} ({opt}): writing it would destroy "
                        "the input; choose another output file"
                    ).format(f=src, opt=label),
                    where=path,
                )
        for other_label, other in outputs[:k]:
            if same_file(path, other):
                raise BadInputError(
                    _(
                        "{a} and {b} name the same file: one output would overwrite the "
                        "other; give each output its own file"
                    ).format(a=other_label, b=label),
                    where=path,
                )


def read_small_file(path: PathLike, most: int, what: str) -> bytes:
    """A regular file's bytes, at most ``most`` of them, or one clear refusal naming ``what``
    the file was for: a device such as /dev/zero, a FIFO or a huge file is not read into
    memory."""
    import stat

    try:
        with open(path, "rb") as fh:
            if not stat.S_ISREG(os.fstat(fh.fileno()).st_mode):
                raise BadInputError(
                    _("cannot read {what}: not a regular file").format(what=what),
                    where=os.fspath(path),
                )
            data = fh.read(most + 1)
    except OSError as exc:
        raise BadInputError(
            _("cannot read {what}: {e}").format(what=what, e=exc.strerror or exc),
            where=os.fspath(path),
        ) from exc
    if len(data) > most:
        raise BadInputError(
            _("cannot read {what}: larger than {n:,} MiB").format(what=what, n=most >> 20),
            where=os.fspath(path),
        )
    return data
