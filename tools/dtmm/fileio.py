"""Atomic file writes: readers (and a crash) see the old file or the whole new one, never half.

Also :func:`json_default`, the one way numpy values and paths become JSON in
every report and summary dtmm writes.

Temporary files are created next to the target (same file system, so the
final os.replace is atomic) and get the permissions a plain open() would
give, not mkstemp's private 0600.
"""
from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Callable

import numpy as np


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _tmp_path(path: Path, suffix: str = "") -> Path:
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp" + suffix, dir=path.parent)
    os.close(fd)
    os.chmod(name, 0o666 & ~_umask())
    return Path(name)


def write_bytes_atomic(path: str | os.PathLike, data: bytes) -> None:
    """Replace ``path`` with ``data`` atomically (parent directories are created)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _tmp_path(path)
    try:
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_text_atomic(path: str | os.PathLike, text: str) -> None:
    """UTF-8 text with the newlines given (no platform translation), atomically."""
    write_bytes_atomic(path, text.encode("utf-8"))


def write_if_changed(path: str | os.PathLike, data: bytes) -> bool:
    """Atomic write that leaves an identical file untouched (its mtime too); True when it wrote."""
    path = Path(path)
    try:
        if path.read_bytes() == data:
            return False
    except OSError:
        pass
    write_bytes_atomic(path, data)
    return True


def save_atomic(path: str | os.PathLike, save_fn: Callable[[str], None], suffix: str = "") -> None:
    """Atomic write through a saver that wants a file name (keras Model.save needs '.keras')."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _tmp_path(path, suffix)
    try:
        tmp.unlink()  # some savers refuse to overwrite
        save_fn(str(tmp))
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def json_default(o):
    """``json.dumps(..., default=json_default)``: numpy scalars and arrays, and paths, as plain JSON."""
    if isinstance(o, np.integer):
        return int(o)
    if isinstance(o, np.floating):
        return float(o)
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, Path):
        return str(o)
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


def check_writable_dir(path: str | os.PathLike, what: str = "--out", shown: str | os.PathLike | None = None) -> None:
    """Fails with one line unless files can be written into directory ``path`` (created if missing), so a
    long job is refused in a second, not after it ran. Leaves nothing behind: directories it had to create
    for the probe are removed again."""
    from .errors import DtmmError

    out = Path(path)
    name = shown if shown is not None else out  # the path as the user gave it
    if out.exists() and not out.is_dir():
        raise DtmmError(f"{what} {name}: exists and is not a directory")
    created = []
    probe = out
    while not probe.exists():
        created.append(probe)
        probe = probe.parent
    if not probe.is_dir():
        raise DtmmError(f"{what} {name}: {probe} is not a directory")
    try:
        for d in reversed(created):
            d.mkdir()
        fd, probe_file = tempfile.mkstemp(prefix=".dtmm-probe.", dir=out)
        os.close(fd)
        os.unlink(probe_file)
    except OSError as exc:
        raise DtmmError(f"{what} {name}: cannot write there ({exc.strerror or exc})") from None
    finally:
        for d in created:  # deepest first
            try:
                d.rmdir()
            except OSError:
                pass


def check_writable_file(path: str | os.PathLike, what: str = "--out") -> None:
    """The same for an output file: its directory must take files, and the path must not be a directory."""
    from .errors import DtmmError

    p = Path(path)
    if p.is_dir():
        raise DtmmError(f"{what} {p}: is a directory, not a file")
    check_writable_dir(p.parent if str(p.parent) else Path("."), what, shown=p)
