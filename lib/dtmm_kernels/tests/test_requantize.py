"""dtmm_requantize (C, host build with sanitizers) equals TFLite's rounding rules."""
from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pytest

from support.hostbuild import build_host_program, build_kernels_library
from dtmm.formats.fwcs.reference import multiply_by_quantized_multiplier

HERE = Path(__file__).resolve().parent


@pytest.fixture(scope="module")
def driver(tmp_path_factory):
    build = tmp_path_factory.mktemp("kernels-host")
    lib = build_kernels_library(build / "lib")
    return build_host_program(HERE / "requantize_driver.c", build / "requantize_driver", lib)


def _edge_cases():
    accs = [0, 1, -1, 2, -2, 3, -3, 127, -128, 2**31 - 1, -(2**31), 2**20 + 7, -(2**20) - 7, 12345, -12345]
    mults = [2**30, 2**31 - 1, 1518500250, 1073741825, -(2**31), 1]
    shifts = [-31, -10, -8, -1, 0, 1, 3]
    return [(a, m, s) for a in accs for m in mults for s in shifts]


def test_requantize_matches_reference(driver):
    rng = np.random.default_rng(7)
    cases = _edge_cases()
    n = 20000
    accs = rng.integers(-(2**24), 2**24, n)
    mults = rng.integers(2**30, 2**31, n)   # TFLite multipliers are normalised to [0.5, 1) in Q31
    shifts = rng.integers(-20, 2, n)
    cases += list(zip(accs.tolist(), mults.tolist(), shifts.tolist()))
    text = "".join(f"{a} {m} {s}\n" for a, m, s in cases)
    out = subprocess.run([str(driver)], input=text, capture_output=True, text=True, check=True).stdout
    got = np.array([int(v) for v in out.split()], dtype=np.int64)
    a, m, s = (np.array(col, dtype=np.int64) for col in zip(*cases))
    want = np.asarray(multiply_by_quantized_multiplier(a, m, s), dtype=np.int64)
    assert got.shape == want.shape
    mismatch = np.nonzero(got != want)[0]
    assert mismatch.size == 0, [cases[i] for i in mismatch[:5]]
