"""dronekit_plzen.outputs: output paths checked first, atomic writes, OSError named and classified.

Real files and real file systems only: root ignores permission bits, so unwritable places are
``/proc`` (no new files), ``/sys`` (permission denied for root too), a path under a regular
file, and a file size limit (``RLIMIT_FSIZE``, ``EFBIG``) in a child process for a full disk.
"""

from __future__ import annotations

import errno
import os
import resource
import subprocess
import sys
from pathlib import Path

import pytest

from dronekit_plzen.errors import BadInputError, StorageError
from dronekit_plzen.outputs import (
    atomic_output,
    check_output_path,
    output_error,
    prepare_output_dir,
    write_bytes,
    write_text,
)


def test_atomic_output_replaces_only_on_success(tmp_path: Path) -> None:
    target = tmp_path / "dsm.tif"
    target.write_text("old")
    with pytest.raises(RuntimeError), atomic_output(target) as tmp:
        tmp.write_text("half a file")
        raise RuntimeError("the writer failed")
    assert target.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dsm.tif"]  # no temporary left
    with atomic_output(target) as tmp:
        assert tmp.parent == tmp_path and tmp.name.startswith(".dsm.tif.")
        tmp.write_text("new")
    assert target.read_text() == "new"
    umask = os.umask(0)
    os.umask(umask)
    assert target.stat().st_mode & 0o777 == 0o666 & ~umask


def test_interrupt_leaves_no_temporary(tmp_path: Path) -> None:
    with pytest.raises(KeyboardInterrupt), atomic_output(tmp_path / "a.laz") as tmp:
        tmp.write_bytes(b"x" * 100)
        raise KeyboardInterrupt
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("path", "suffixes", "needle"),
    [
        ("{d}/dsm.png", (".tif", ".tiff"), "the extension must be .tif or .tiff"),
        ("{d}", (".tif",), "it is a directory"),
        ("{d}/missing/dsm.tif", (), "directory {d}/missing does not exist"),
        ("{d}/a_file/dsm.tif", (), "{d}/a_file is not a directory"),
        ("/proc/dkp.tif", (), "does not accept new files"),
        ("/sys/dkp.tif", (), "permission denied"),
        ("/dev/null", (), "it is not a regular file"),
        ("", (), "the output path is empty"),
    ],
)
def test_check_output_path_names_the_problem(
    tmp_path: Path, path: str, suffixes: tuple[str, ...], needle: str
) -> None:
    (tmp_path / "a_file").write_text("x")
    p = path.format(d=tmp_path)
    with pytest.raises(BadInputError) as ei, atomic_output(p, suffixes=suffixes) as tmp:
        tmp.write_text("never")
    assert needle.format(d=tmp_path) in str(ei.value)
    assert ei.value.exit_code == 2
    assert sorted(x.name for x in tmp_path.iterdir()) == ["a_file"]


def test_existing_file_refused_without_overwrite(tmp_path: Path) -> None:
    f = tmp_path / "plan.json"
    f.write_text("{}")
    with pytest.raises(BadInputError, match="give --overwrite"):
        check_output_path(f, overwrite=False)
    assert check_output_path(f) == f
    assert write_text(f, "[]").read_text() == "[]"


def test_output_error_classifies_errno() -> None:
    full = output_error("/data/x.tif", OSError(errno.ENOSPC, "No space left on device"))
    assert isinstance(full, StorageError) and full.exit_code == 1
    assert str(full) == "cannot write /data/x.tif: no space left on the device"
    for code in (errno.EACCES, errno.EROFS, errno.ENOTDIR, errno.EISDIR, errno.ENOENT):
        e = output_error("/x", OSError(code, os.strerror(code)))
        assert isinstance(e, BadInputError), code
    assert isinstance(output_error("/x", OSError(errno.EIO, "I/O")), StorageError)


def test_prepare_output_dir(tmp_path: Path) -> None:
    assert prepare_output_dir(tmp_path / "a" / "b").is_dir()
    (tmp_path / "f").write_text("x")
    with pytest.raises(BadInputError, match="it exists and is not a directory"):
        prepare_output_dir(tmp_path / "f")
    with pytest.raises(BadInputError, match="a part of the path is not a directory"):
        prepare_output_dir(tmp_path / "f" / "sub")
    with pytest.raises(BadInputError, match="permission denied"):
        prepare_output_dir("/sys/dkp_out")


def _child_writes(target: Path, limit: int) -> subprocess.CompletedProcess[str]:
    code = (
        "import sys\n"
        "from dronekit_plzen.outputs import write_bytes\n"
        "from dronekit_plzen.errors import DronekitPlzenError\n"
        "try:\n"
        f"    write_bytes({str(target)!r}, b'x' * 10000)\n"
        "except DronekitPlzenError as e:\n"
        "    print(type(e).__name__, e.exit_code, e)\n"
    )

    def limit_size() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        preexec_fn=limit_size,
        timeout=60,
    )


def test_full_disk_is_a_storage_error_and_leaves_nothing(tmp_path: Path) -> None:
    target = tmp_path / "report.html"
    proc = _child_writes(target, 1000)
    assert proc.stdout.strip() == (
        f"StorageError 1 cannot write {target}: "
        "the file is too large for the file system or the size limit"
    ), proc.stderr
    assert list(tmp_path.iterdir()) == []
    assert write_bytes(target, b"ok").read_bytes() == b"ok"  # without the limit it works
