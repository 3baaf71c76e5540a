"""Atomic writes: all or nothing, no temp files left, ordinary permissions."""
from __future__ import annotations

import os
import stat

import pytest

from dtmm.fileio import save_atomic, write_bytes_atomic, write_if_changed


def test_atomic_writes_leave_no_temp_files(tmp_path):
    p = tmp_path / "a.bin"
    write_bytes_atomic(p, b"one")
    write_bytes_atomic(p, b"two")
    assert p.read_bytes() == b"two"

    def failing(path):
        open(path, "wb").write(b"partial")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        save_atomic(p, failing)
    assert p.read_bytes() == b"two"  # old content survives a failed write
    assert sorted(x.name for x in tmp_path.iterdir()) == ["a.bin"]

    save_atomic(tmp_path / "m.keras", lambda name: open(name, "w").write(name), suffix=".keras")
    assert (tmp_path / "m.keras").read_text().endswith(".keras")  # the saver saw a .keras name


def test_atomic_files_get_umask_permissions_not_private(tmp_path):
    old = os.umask(0o022)
    try:
        write_bytes_atomic(tmp_path / "a.bin", b"x")
        save_atomic(tmp_path / "b.keras", lambda name: open(name, "w").write("y"), suffix=".keras")
    finally:
        os.umask(old)
    for name in ("a.bin", "b.keras"):
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == 0o644, name


def test_write_if_changed_leaves_identical_file_alone(tmp_path):
    p = tmp_path / "sub" / "h.h"
    assert write_if_changed(p, b"one") is True
    before = p.stat().st_mtime_ns
    assert write_if_changed(p, b"one") is False
    assert p.stat().st_mtime_ns == before
    assert write_if_changed(p, b"two") is True
    assert p.read_bytes() == b"two"
