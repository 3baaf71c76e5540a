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
