"""Conv kernels on every emulated Cortex-M, through the dispatching wrapper, bit for bit.

tests/firmware/conv_check runs generated cases (support.conv_cases) through
dtmm_conv_s8 and compares each output with the Python golden model on the
device; the wrapper picks the path of the core (M0/M3: portable C, M4/M7/M33:
DSP, M55: Helium MVE); the 16 KiB Cortex-M0 runs the cases whose buffers
fit its RAM, so every path is tested here as soon as it exists.
Each case also runs dtmm_fwcs_validate() on the target, puts input and
output at odd addresses and checks that nothing is written outside the
output and scratch.
"""
from __future__ import annotations

import shutil

import numpy as np
import pytest

from support import conv_cases as kc

BOARDS = ["qemu-m0", "qemu-m3", "qemu-m4", "qemu-m7", "qemu-m33", "qemu-m55"]
#: what dtmm_conv_s8 dispatches to on each board (src/conv/dtmm_conv_s8_dispatch.h)
EXPECTED_PATH = {"qemu-m0": "c", "qemu-m3": "c", "qemu-m4": "dsp", "qemu-m7": "dsp", "qemu-m33": "dsp",
                 "qemu-m55": "mve"}

pytestmark = [
    pytest.mark.qemu,
    pytest.mark.skipif(shutil.which("qemu-system-arm") is None, reason="qemu-system-arm not installed"),
    pytest.mark.skipif(shutil.which("arm-none-eabi-gcc") is None, reason="arm-none-eabi-gcc not installed"),
]


@pytest.fixture(scope="module")
def random_cases():
    # 48 layers, every encoding, 3 with kh*kw > 32; small enough for QEMU; and 1x1 stride-1 layers the
    # wrapper hands to its path as one row of H*W pixels (src/conv/dtmm_conv_flat_view.h)
    rng = np.random.default_rng(32)
    flat = [
        kc.targeted_case(rng, "flat_1x1_25x5", [], cout=24, cin=64, kh=1, kw=1, in_h=25, in_w=5, density=0.6,
                         encoding="bitmap"),
        kc.targeted_case(rng, "flat_1x1_7x3_cin20", [], cout=9, cin=20, kh=1, kw=1, in_h=7, in_w=3, density=0.7,
                         encoding="list"),
        kc.targeted_case(rng, "flat_1x1_3x3_cin256", [], cout=96, cin=256, kh=1, kw=1, in_h=3, in_w=3,
                         density=0.5, encoding="list"),
    ]
    return kc.random_cases(48, seed=31, max_macs=30_000) + flat


@pytest.fixture(scope="module")
def resnet8_cases(resnet8_tflite, shared_dir):
    """Every ResNet-8 conv unpruned (DENSE blob: dense mode) and at 50% random filterlet density, on the
    interpreter's activations for one CIFAR-10 test image (seeded random input when the images are absent)."""
    model, _ = kc.resnet8_layers(resnet8_tflite)
    image = kc.cifar10_test_image(shared_dir / "data" / "cifar10-images.tar.gz")
    acts = kc.resnet8_activations(model, image, seed=1)
    return kc.resnet8_cases(resnet8_tflite, acts, densities=(1.0, 0.5), seed=7)


def _fitting(cases, board: str, at_least: int):
    """The cases whose buffers fit the board's RAM (all of them but on the 16 KiB Cortex-M0)."""
    from dtmm.targets.boards import get_board

    fit = [c for c in cases if kc.fits_ram(c, get_board(board))]
    assert len(fit) >= at_least, (board, len(fit), len(cases))
    return fit


def _assert_all_pass(run: kc.BoardRun, cases) -> None:
    assert not run.failures(), f"{run.board} [{run.path}]:\n" + "\n".join(run.failures()[:20])
    assert all(code == 0 for code in run.exit_codes), (run.exit_codes, run.consoles[-1][-2000:])
    assert {c.name for c in cases} <= {n for n, (v, _) in run.verdicts.items() if v == "PASS"}
    assert set(run.instructions) >= {c.name for c in cases}
    assert all(n > 0 for n in run.instructions.values())


@pytest.mark.parametrize("board", BOARDS)
def test_random_cases_on_board(board, random_cases, tmp_path):
    random_cases = _fitting(random_cases, board, at_least=len(random_cases) * 2 // 3)
    run = kc.run_cases_on_board(random_cases, board, tmp_path)
    assert run.path == EXPECTED_PATH[board]
    _assert_all_pass(run, random_cases)


@pytest.mark.parametrize("board", BOARDS)
def test_resnet8_dense_and_sparse_on_board(board, resnet8_cases, tmp_path):
    resnet8_cases = _fitting(resnet8_cases, board, at_least=2)  # M0: the 8x8x64 conv, dense and sparse
    run = kc.run_cases_on_board(resnet8_cases, board, tmp_path)
    assert run.path == EXPECTED_PATH[board]
    _assert_all_pass(run, resnet8_cases)
    if run.path == "c":
        # the portable path computes only stored filterlets: its cost follows the kept fraction
        sparse_total = dense_total = 0
        for c in resnet8_cases:
            if "sparse" in c.tags:
                dense = c.name.replace("_d050", "_d100")
                ratio = run.instructions[c.name] / run.instructions[dense]
                assert c.density * 0.8 < ratio < c.density + 0.3, (c.name, c.density, ratio)
                if c.spec.cin >= 16:
                    sparse_total += run.instructions[c.name]
                    dense_total += run.instructions[dense]
        assert sparse_total / dense_total < 0.65


@pytest.mark.parametrize("board", ["qemu-m4", "qemu-m55"])
def test_portable_path_forced_on_simd_cores(board, random_cases, tmp_path):
    """-DDTMM_KERNELS_PORTABLE makes the wrapper use the portable path even where DSP/MVE exist."""
    run = kc.run_cases_on_board(random_cases, board, tmp_path, defines=["DTMM_KERNELS_PORTABLE"])
    assert run.path == "c"
    _assert_all_pass(run, random_cases)


def test_reference_loop_on_m3(random_cases, tmp_path):
    """The benchmark baseline is exact on DENSE blobs and refuses packed ones (the firmware skips them)."""
    run = kc.run_cases_on_board(random_cases, "qemu-m3", tmp_path, defines=["CONV_CHECK_PATH=4"])
    assert run.path == "reference"
    dense = [c for c in random_cases if c.encoding == "dense"]
    assert len(dense) >= 10
    _assert_all_pass(run, dense)
    skipped = {n for n, (v, _) in run.verdicts.items() if v == "SKIP"}
    assert skipped == {c.name for c in random_cases if c.encoding != "dense"}
