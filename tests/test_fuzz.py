"""libFuzzer targets of the C side (tests/fuzz): a short run, the saved regression inputs, and the rules
the fuzzing led to.

``make fuzz FUZZ_SECONDS=N`` runs the targets for longer (tests/fuzz/run_fuzz.py); here each runs a few
seconds from the seed corpus, so a crash that needs no search (a seed, or one mutation away) fails the
suite.  Every input the fuzzer ever crashed on is kept in tests/fuzz/regressions/TARGET/ and replayed.
"""
from __future__ import annotations

import shutil
import sys
from pathlib import Path

import numpy as np
import pytest

from dtmm.formats import fwcs
from support import conv_cases as kc

FUZZ_DIR = Path(__file__).resolve().parent / "fuzz"
sys.path.insert(0, str(FUZZ_DIR))
import run_fuzz  # noqa: E402

pytestmark = pytest.mark.skipif(shutil.which("clang") is None,
                                reason="clang not installed (make bootstrap installs it)")


@pytest.fixture(scope="module")
def binaries():
    try:
        return run_fuzz.build()
    except run_fuzz.FuzzError as exc:
        pytest.fail(str(exc))


@pytest.fixture(scope="module")
def seeds(tmp_path_factory, shared_dir):
    d = tmp_path_factory.mktemp("seeds")
    n = run_fuzz.write_corpus(d, shared_dir)
    return d, n


@pytest.mark.parametrize("target", run_fuzz.TARGETS)
def test_short_fuzz_run_finds_nothing(binaries, seeds, tmp_path, target):
    seed_dir, n_seeds = seeds
    assert n_seeds >= 72  # random and channel-group layers at least; ResNet-8's when ../shared has it
    r = run_fuzz.run_target(binaries[target], 8, tmp_path / "corpus", tmp_path / "crashes", seed_dir)
    assert r["exit_code"] == 0 and not r["crashes"], f"{target}: {r['finding']} (inputs in {tmp_path / 'crashes'})"
    assert r["executions"] > 1000, r
    assert r["corpus_files"] > 0


@pytest.mark.parametrize("target", run_fuzz.TARGETS)
def test_saved_crash_inputs_replay_clean(binaries, target):
    inputs = sorted((run_fuzz.REGRESSIONS / target).glob("*")) if (run_fuzz.REGRESSIONS / target).is_dir() else []
    inputs.append(run_fuzz.REGRESSIONS / "README.md")  # arbitrary bytes: must be refused cleanly too
    proc = run_fuzz.replay(binaries[target], inputs)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stderr.count("Executed ") == len(inputs)


def _blob_with(spec: fwcs.ConvSpec, rng, bias=None, mult=None, shift=None, encoding="dense", group=None,
               empty_filters=()) -> bytes:
    w = rng.integers(-128, 128, size=spec.weight_shape, dtype=np.int8)
    w[w == 0] = 1
    w[list(empty_filters)] = 0
    b = rng.integers(-1000, 1000, size=spec.cout).astype(np.int32) if bias is None else np.asarray(bias, np.int32)
    m = np.full(spec.cout, 1 << 30, np.int32) if mult is None else np.asarray(mult, np.int32)
    s = np.full(spec.cout, -8, np.int32) if shift is None else np.asarray(shift, np.int32)
    return fwcs.encode(w, b, m, s, spec, encoding, group=group)


def test_extreme_bias_on_border_pixels_runs_exactly(binaries, tmp_path):
    """The first finding: a bias near INT32_MIN made the portable kernel's border sum overflow (UB).
    The sums now start from 0 and meet the bias once, wrapping like TFLite's int32 code."""
    rng = np.random.default_rng(0)
    spec = fwcs.ConvSpec(cout=4, cin=32, kh=3, kw=3, in_h=6, in_w=6, padding="same", input_offset=128,
                         output_offset=-128)
    bias = [-(2**31), -(2**31) + 5000, 2**31 - 1, 2**31 - 5000]
    for enc in ("dense", "bitmap", "list"):
        path = tmp_path / f"{enc}.bin"
        path.write_bytes(_blob_with(spec, rng, bias=bias, encoding=enc))
        proc = run_fuzz.replay(binaries["fuzz_conv_s8"], [path])
        assert proc.returncode == 0, f"{enc}: {proc.stderr[-2000:]}"


def test_groups_output_near_int32_max_clamps_before_the_offset(binaries, tmp_path):
    """A filter with no stored group outputs requantize(bias): with bias INT32_MAX and the largest
    multiplier that is INT32_MAX - 1, then the output offset: the portable GROUPS kernel clamps first
    (adding first overflowed)."""
    rng = np.random.default_rng(1)
    spec = fwcs.ConvSpec(cout=3, cin=32, kh=1, kw=1, in_h=2, in_w=2, padding="valid", input_offset=0,
                         output_offset=127)
    blob = _blob_with(spec, rng, bias=[2**31 - 1] * 3, mult=[2**31 - 1] * 3, shift=[0] * 3, encoding="groups",
                      group=8, empty_filters=(0, 2))
    assert fwcs.validate(blob).encoding == fwcs.ENC_GROUPS
    path = tmp_path / "groups.bin"
    path.write_bytes(blob)
    proc = run_fuzz.replay(binaries["fuzz_conv_s8"], [path])
    assert proc.returncode == 0, proc.stderr[-2000:]


def test_layers_whose_int32_sums_could_overflow_are_refused(monkeypatch, tmp_path):
    """cin*kh*kw > 65,793: fwcs.encode refuses, and a blob made anyway is 'unsupported' to both validators."""
    spec = fwcs.ConvSpec(cout=1, cin=7311, kh=3, kw=3, in_h=3, in_w=3, padding="valid")
    rng = np.random.default_rng(2)
    with pytest.raises(fwcs.FwcsError, match=r"cin\*kh\*kw = 65799 .* exceed 65793"):
        _blob_with(spec, rng)
    monkeypatch.setattr("dtmm.formats.fwcs.codec._check_taps", lambda spec: None)
    blob = _blob_with(spec, rng)
    monkeypatch.undo()
    assert kc.python_status(blob) == "DTMM_ERR_UNSUPPORTED"
    ok = fwcs.ConvSpec(cout=1, cin=7310, kh=3, kw=3, in_h=3, in_w=3, padding="valid")
    assert fwcs.validate(_blob_with(ok, rng)).spec.cin == 7310  # 65,790 taps: accepted
    (tmp_path / "taps.bin").write_bytes(blob)  # tests/test_conv_host.py checks the C validator's verdict
