"""The Arm DSP conv path (dtmm_conv_s8_dsp, Cortex-M4/M7/M33) on the corners of its own design.

tests/test_conv_qemu.py already runs random layers and ResNet-8 through the
dispatching wrapper on every board.  The cases here are built to hit what
is specific to lib/dtmm_kernels/src/conv/dtmm_conv_s8_dsp.c, called directly
(tests/firmware/conv_check with CONV_CHECK_PATH=2):

* cin % 4 != 0 (the repacked-weights path, including several repack
  chunks) and cin up to 256 (the longest unrolled filterlet);
* every tap geometry of the int16 input band: strides 1/2/3 and unequal,
  dilation with and without the row ring, 32-position and 1x32 kernels,
  column tiles with halos, 1..3 valid pixels in the last block;
* empty filters and all-empty layers in every encoding, DENSE blobs with
  all-zero filterlets;
* requantization outside the fast epilogue (left shifts, shift 0 and -1,
  zero and non-canonical multipliers) and the fast epilogue at the extremes
  of the int32 accumulator; activation clamps narrower than int8;
* shapes the DSP path hands to the portable path (scratch above its cap)
  and a few for its element-list kernel (more than 32 positions, cin = 1;
  tests/test_conv_elem.py has the rest).

It also checks the path's performance targets on ResNet-8 (exact QEMU
instruction counts): dense mode within what CMSIS-NN needs on qemu-m4, and
sparse/dense <= density + 0.08 on the 3x3 layers with cin >= 16.
"""
from __future__ import annotations

import shutil

import numpy as np
import pytest

from support import conv_cases as kc

DSP_BOARDS = ["qemu-m4", "qemu-m7", "qemu-m33"]

pytestmark = [
    pytest.mark.qemu,
    pytest.mark.skipif(shutil.which("qemu-system-arm") is None, reason="qemu-system-arm not installed"),
    pytest.mark.skipif(shutil.which("arm-none-eabi-gcc") is None, reason="arm-none-eabi-gcc not installed"),
]



def _case(rng, name, **kw):
    # the DSP path's fast epilogue takes right shifts of at least 2
    return kc.targeted_case(rng, name, ["dsp"], extreme_min_right_shift=2, **kw)


def dsp_cases() -> list[kc.KernelCase]:
    rng = np.random.default_rng(2024)
    encs = ["dense", "bitmap", "list"]
    cases = []

    def add(name, **kw):
        cases.append(_case(rng, name, **kw))

    # channel tails (repacked weights) in every encoding, and the longest filterlets
    for k, cin in enumerate([1, 2, 3, 5, 6, 7, 9, 13, 30, 130]):
        add(f"tail_cin{cin}", cout=int(rng.integers(1, 12)), cin=cin, kh=3, kw=3, in_h=5, in_w=7,
            density=[1.0, 0.6, 0.3][k % 3], encoding=encs[k % 3], empty=1 if k % 2 else 0)
    add("repack_chunks_dense", cout=40, cin=13, kh=3, kw=3, in_h=5, in_w=9, encoding="dense")
    add("repack_chunks_sparse", cout=40, cin=11, kh=3, kw=3, in_h=6, in_w=6, density=0.7, encoding="bitmap")
    add("cin256_1x1", cout=5, cin=256, kh=1, kw=1, in_h=3, in_w=6)
    # 1x1 stride 1 runs as one row of H*W pixels (src/conv/dtmm_conv_flat_view.h); a wide row of
    # many channels narrows its tiles until the plan fits the scratch cap
    add("flat_1x1_25x5", cout=24, cin=64, kh=1, kw=1, in_h=25, in_w=5, density=0.6, encoding="bitmap")
    add("narrow_tiles_1x1_row", cout=256, cin=256, kh=1, kw=1, in_h=1, in_w=9, density=0.25, encoding="list")
    add("cin252_2x2", cout=3, cin=252, kh=2, kw=2, in_h=3, in_w=5, density=0.8, encoding="list")
    add("cin253_1x3", cout=3, cin=253, kh=1, kw=3, in_h=2, in_w=5, padding="valid")
    # geometry of the band: strides, phases, dilation, ring and no ring, long kernels
    add("stride3", cout=6, cin=8, kh=3, kw=3, in_h=10, in_w=13, sh=3, sw=3)
    add("stride_1x2", cout=5, cin=12, kh=3, kw=3, in_h=7, in_w=11, sh=1, sw=2, density=0.5, encoding="bitmap")
    add("stride_2x1", cout=5, cin=4, kh=3, kw=5, in_h=9, in_w=8, sh=2, sw=1, padding="valid")
    add("dilation2", cout=7, cin=8, kh=3, kw=3, in_h=9, in_w=10, dh=2, dw=2, density=0.6, encoding="list")
    add("dilation4_no_ring", cout=4, cin=8, kh=3, kw=3, in_h=12, in_w=7, dh=4, dw=1)
    add("dilation3_stride2", cout=4, cin=16, kh=2, kw=5, in_h=9, in_w=17, sh=2, sw=2, dh=3, dw=3)
    add("k4x8_32_positions", cout=6, cin=4, kh=4, kw=8, in_h=6, in_w=10, density=0.5, encoding="bitmap")
    add("k1x32", cout=3, cin=8, kh=1, kw=32, in_h=2, in_w=9)
    add("k5x5_valid", cout=9, cin=20, kh=5, kw=5, in_h=7, in_w=9, padding="valid", density=0.4, encoding="list")
    add("tiles_cin64", cout=9, cin=64, kh=3, kw=3, in_h=4, in_w=41, density=0.5, encoding="bitmap")
    add("tiles_stride2", cout=6, cin=48, kh=3, kw=3, in_h=5, in_w=45, sh=2, sw=2)
    add("tiles_5x5", cout=5, cin=24, kh=5, kw=5, in_h=6, in_w=38, density=0.7, encoding="list")
    for w in [1, 2, 3, 5, 6, 7]:
        add(f"out_w{w}", cout=int(rng.integers(1, 9)), cin=8, kh=3, kw=3, in_h=3, in_w=w)
    add("thin_valid", cout=5, cin=16, kh=3, kw=3, in_h=3, in_w=3, padding="valid")
    # empty filters and empty layers
    for enc in encs:
        add(f"empty_filters_{enc}", cout=11, cin=16, kh=3, kw=3, in_h=6, in_w=7, density=0.35, empty=4,
            encoding=enc)
    add("all_empty_bitmap", cout=6, cin=8, kh=3, kw=3, in_h=4, in_w=5, density=0.0, encoding="bitmap")
    add("all_empty_list", cout=6, cin=3, kh=3, kw=3, in_h=4, in_w=5, density=0.0, encoding="list")
    add("dense_zero_filterlets", cout=8, cin=8, kh=3, kw=3, in_h=5, in_w=6, density=0.5, encoding="dense")
    add("zero_weights_inside", cout=8, cin=12, kh=3, kw=3, in_h=5, in_w=6, density=0.8, zero_filterlets=True)
    # requantization and clamps
    for enc in encs:
        add(f"slow_requant_{enc}", cout=12, cin=8, kh=3, kw=3, in_h=5, in_w=6, density=0.7, encoding=enc,
            requant="slow")
        add(f"extreme_requant_{enc}", cout=20, cin=16, kh=3, kw=3, in_h=5, in_w=6, density=0.7, encoding=enc,
            requant="extreme")
    add("slow_requant_tail", cout=12, cin=5, kh=3, kw=3, in_h=4, in_w=5, requant="slow")
    add("relu6", cout=10, cin=16, kh=3, kw=3, in_h=6, in_w=9, act="relu6", density=0.5, encoding="bitmap")
    add("relu", cout=7, cin=3, kh=3, kw=3, in_h=6, in_w=9, act="relu")
    # handed to the portable path: band above the scratch cap
    add("fallback_big_band", cout=4, cin=130, kh=5, kw=5, in_h=5, in_w=6)
    # the element-list kernel: kernels above 32 positions, cin = 1 (more in tests/test_conv_elem.py)
    add("fallback_7x7", cout=3, cin=4, kh=7, kw=7, in_h=8, in_w=8, density=0.5, encoding="bitmap")
    add("elem_10x4_cin1_s2", cout=20, cin=1, kh=10, kw=4, in_h=13, in_w=10, sh=2, sw=2, density=0.5,
        encoding="list")
    add("elem_5x5_cin1", cout=6, cin=1, kh=5, kw=5, in_h=7, in_w=9)
    add("elem_7x7_cin3_s2", cout=5, cin=3, kh=7, kw=7, in_h=9, in_w=11, sh=2, sw=2, requant="slow")
    return cases


@pytest.fixture(scope="module")
def cases():
    return dsp_cases()


def test_cases_cover_the_design(cases):
    encodings = {c.encoding for c in cases}
    assert encodings == {"dense", "bitmap", "list"}
    assert sum(c.spec.cin % 4 != 0 for c in cases) >= 12
    assert max(c.spec.cin for c in cases) == 256
    assert any(c.spec.positions == 32 for c in cases)
    assert {c.spec.stride_w for c in cases} >= {1, 2, 3}
    assert any(c.spec.out_w % 4 for c in cases) and any(c.spec.out_w > 16 and c.spec.cin >= 48 for c in cases)


@pytest.mark.parametrize("board", DSP_BOARDS)
def test_dsp_path_bit_exact(board, cases, tmp_path):
    run = kc.run_cases_on_board(cases, board, tmp_path, defines=["CONV_CHECK_PATH=2"])
    assert run.path == "dsp"
    assert not run.failures(), f"{board}:\n" + "\n".join(run.failures()[:20])
    assert all(code == 0 for code in run.exit_codes), run.consoles[-1][-2000:]
    assert {c.name for c in cases} <= {n for n, (v, _) in run.verdicts.items() if v == "PASS"}


def test_dsp_performance_targets_on_m4(resnet8_tflite, tmp_path):
    """Dense mode within CMSIS-NN's arm_convolve_wrapper_s8 count on the same machine (27,497,966
    instructions for the 9 ResNet-8 convs, 0.455 MAC/instruction), and magnitude-pruned 3x3 layers
    with cin >= 16 at most density + 0.08 of their dense count."""
    from dtmm.bench.kernels import run_bench

    report = run_bench("qemu-m4", (1.0, 0.5, 0.25), model_path=resnet8_tflite, build_dir=tmp_path)
    assert report["path"] == "dsp"
    assert report["totals"]["dense_instructions"] <= 27_497_966
    checked = 0
    for row in report["rows"]:
        if tuple(row["kernel"]) == (3, 3) and row["cin"] >= 16 and row["density"] < 1.0:
            ratio = row["sparse_instructions"] / row["dense_instructions"]
            assert ratio <= row["density"] + 0.08, (row["layer"], row["density"], ratio)
            checked += 1
    assert checked == 12  # 6 layers x 2 densities
