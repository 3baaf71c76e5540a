"""Every command that writes checks its output location first: a bad --out costs a second, not a job.

Each case points an output into /proc (no regular files can be created
there, even by root) or at an existing file, and expects one `dtmm: error:`
line naming the option, exit status 2, no traceback, and nothing created.
"""
from __future__ import annotations

import time

import pytest
from click.testing import CliRunner

from dtmm.cli import main
from dtmm.errors import DtmmError
from dtmm.fileio import check_writable_dir, check_writable_file

@pytest.fixture
def inputs(tmp_path, resnet8_tflite_or_tiny):
    (tmp_path / "m.h5").write_bytes(b"not loaded before the output check")
    (tmp_path / "data").mkdir()
    (tmp_path / "a_file").write_text("x")
    return tmp_path, resnet8_tflite_or_tiny


@pytest.fixture
def resnet8_tflite_or_tiny(tmp_path):
    from support.tiny_tflite import residual_model

    path = tmp_path / "tiny.tflite"
    path.write_bytes(residual_model())
    return path


def _cases(d, tfl):
    return [
        (["prune", d / "m.h5", "--data", d / "data", "--flash", "50%", "--out", "/proc/dtmm-x"], "--out /proc/dtmm-x"),
        (["prune", d / "m.h5", "--data", d / "data", "--flash", "50%", "--out", d / "a_file"], "is a file"),
        (["compare", d / "m.h5", "--data", d / "data", "--budgets", "50%", "--out", "/proc/dtmm-x"], "--out /proc/dtmm-x"),
        (["train-reference", "resnet12", "--data", d / "data", "--out", "/proc/dtmm-x"], "--out /proc/dtmm-x"),
        (["pack", tfl, "--out", "/proc/dtmm-x/y"], "--out /proc/dtmm-x/y"),
        (["inspect", tfl, "--prune-3x3", "0.5", "--write-pruned", "/proc/dtmm-x.tflite"], "--write-pruned /proc/dtmm-x.tflite"),
        (["calibrate", "--board", "qemu-m4", "--out", "/proc/dtmm-x.json"], "--out /proc/dtmm-x.json"),
    ]  # fmt: skip


@pytest.mark.parametrize("k", range(7))
def test_bad_output_location_is_one_line_before_any_work(inputs, k):
    d, tfl = inputs
    args, message = _cases(d, tfl)[k]
    t0 = time.monotonic()
    result = CliRunner().invoke(main, [str(a) for a in args])
    assert result.exit_code == 2, (args, result.output)
    # ours ("dtmm: error: ...") or click's own check of a path option ("Error: Invalid value for '--out' ...")
    errors = [line for line in result.stderr.splitlines() if line.startswith(("dtmm: error:", "Error:"))]
    assert len(errors) == 1 and message in errors[0], result.stderr
    assert "Traceback" not in result.output
    assert time.monotonic() - t0 < 5, "checked after expensive work"
    assert sorted(p.name for p in d.iterdir()) == ["a_file", "data", "m.h5", "tiny.tflite"]


def test_probe_leaves_nothing_behind(tmp_path):
    check_writable_dir(tmp_path / "new" / "deeper")
    assert not (tmp_path / "new").exists()
    check_writable_file(tmp_path / "out.json")
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(DtmmError, match="is a directory, not a file"):
        check_writable_file(tmp_path)
    (tmp_path / "f").write_text("x")
    with pytest.raises(DtmmError, match=r"--out .*f/sub: .*f is not a directory"):
        check_writable_dir(tmp_path / "f" / "sub")
