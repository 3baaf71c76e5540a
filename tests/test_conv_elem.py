"""The element-list kernels of the DSP and MVE conv paths (kernels above 32 positions, cin = 1).

lib/dtmm_kernels/src/conv/dtmm_conv_s8_dsp.c and dtmm_conv_s8_mve.c take
layers their main kernels cannot (kh*kw > 32: a 10x4 keyword-spotting conv,
7x7 stems, ...) and, on the DSP path, every cin = 1 layer, with an
"element list": each filter is the list of its kept weights with the
offsets of their elements in a pixel's receptive field, so pruned
filterlets cost nothing.  The cases here run those kernels directly
(tests/firmware/conv_check, CONV_CHECK_PATH=2 on qemu-m4/m7/m33, =3 on
qemu-m55) on:

* the DS-CNN first conv (49x10x1, 10x4, stride 2, 64 filters) dense and at
  50% filterlet density in both index encodings;
* every receptive-field geometry: SAME/VALID, strides 1..3, dilation,
  blocks of 4 raster pixels wrapping across output rows and a last block of
  1..3 pixels, 1x1 kernels;
* cin 1..4 and 8 (receptive fields of 40..392 bytes: the MVE kernel's
  offsets from the patch start up to 256 bytes, per-chunk bases above,
  including chunks closed early by sparse gaps), filter records spread over
  several chunks of filters, empty filters and all-empty layers;
* requantization the fast epilogues do not take (left shifts, shift 0/-1,
  small multipliers), the int32 extremes, clamps narrower than int8;
* a layer whose element list would exceed the scratch cap (portable path).

It also checks the instruction targets of the DS-CNN first conv (dense: no
more than TFLM + CMSIS-NN's 1.1 M instructions on qemu-m4 and 0.31 M on
qemu-m55; 50% filterlets: within 10% of dense on the DSP boards, where such
a layer runs the dense pair kernel, 15% on qemu-m55; 25% filterlets: below
0.9x dense on the DSP boards).
"""
from __future__ import annotations

import shutil

import numpy as np
import pytest

from support import conv_cases as kc

pytestmark = [
    pytest.mark.qemu,
    pytest.mark.skipif(shutil.which("qemu-system-arm") is None, reason="qemu-system-arm not installed"),
    pytest.mark.skipif(shutil.which("arm-none-eabi-gcc") is None, reason="arm-none-eabi-gcc not installed"),
]

DSP_BOARDS = ["qemu-m4", "qemu-m7", "qemu-m33"]
CMSIS_NN_DSCNN_CONV1 = {"qemu-m4": 1_100_000, "qemu-m55": 310_000}  # TFLM + CMSIS-NN, same machine


def _case(rng, name, **kw):
    # both fast epilogues need right shifts of at least 2 ("slow" cases cover the rest)
    return kc.targeted_case(rng, name, ["elem"], extreme_min_right_shift=2, **kw)


def dscnn_cases(rng) -> list[kc.KernelCase]:
    shape = dict(cout=64, cin=1, kh=10, kw=4, in_h=49, in_w=10, sh=2, sw=2)
    return [
        _case(rng, "dscnn_conv1_dense", encoding="dense", **shape),
        _case(rng, "dscnn_conv1_bitmap50", density=0.5, encoding="bitmap", **shape),
        _case(rng, "dscnn_conv1_list50", density=0.5, encoding="list", **shape),
        _case(rng, "dscnn_conv1_bitmap25", density=0.25, encoding="bitmap", **shape),
    ]


def elem_cases() -> list[kc.KernelCase]:
    rng = np.random.default_rng(4010)
    encs = ["dense", "bitmap", "list"]
    cases = dscnn_cases(rng)

    def add(name, **kw):
        cases.append(_case(rng, name, **kw))

    # geometry of the receptive fields (cin 1: the DSP path's element list for any kernel)
    add("k10x4_valid_s1", cout=7, cin=1, kh=10, kw=4, in_h=14, in_w=9, padding="valid", density=0.7,
        encoding="bitmap")
    add("k7x7_s3", cout=5, cin=1, kh=7, kw=7, in_h=13, in_w=11, sh=3, sw=3, density=0.6, encoding="list")
    add("k6x6_dilation2", cout=6, cin=2, kh=6, kw=6, in_h=14, in_w=13, dh=2, dw=2, density=0.5,
        encoding="bitmap")
    add("k9x4_dilation_w3", cout=5, cin=1, kh=9, kw=4, in_h=11, in_w=14, dw=3)
    add("k3x3_cin1", cout=9, cin=1, kh=3, kw=3, in_h=7, in_w=11, density=0.6, encoding="bitmap")
    add("k5x5_cin1", cout=6, cin=1, kh=5, kw=5, in_h=9, in_w=9)
    add("k1x7_cin1", cout=5, cin=1, kh=1, kw=7, in_h=4, in_w=13, density=0.5, encoding="list")
    add("k7x1_cin1", cout=5, cin=1, kh=7, kw=1, in_h=13, in_w=4)
    add("k1x1_cin1_s2", cout=6, cin=1, kh=1, kw=1, in_h=7, in_w=9, sh=2, sw=2)
    for w in [1, 2, 3, 5, 6, 7]:  # output pixels not a multiple of 4: partial last block
        add(f"out_w{w}_k6x6", cout=3, cin=1, kh=6, kw=6, in_h=3, in_w=w)
    # cin 2..8: receptive fields up to 392 bytes (MVE: per-chunk bases above 256)
    add("k11x11_cin2", cout=4, cin=2, kh=11, kw=11, in_h=12, in_w=12, density=0.5, encoding="bitmap")
    add("k7x7_cin3_s2", cout=16, cin=3, kh=7, kw=7, in_h=17, in_w=18, sh=2, sw=2)
    add("k7x7_cin3_s2_sparse", cout=16, cin=3, kh=7, kw=7, in_h=17, in_w=18, sh=2, sw=2, density=0.5,
        encoding="list")
    add("k9x9_cin4", cout=5, cin=4, kh=9, kw=9, in_h=10, in_w=9, density=0.8, encoding="bitmap")
    add("k7x7_cin8", cout=6, cin=8, kh=7, kw=7, in_h=9, in_w=10)
    add("k7x7_cin8_gaps", cout=9, cin=8, kh=7, kw=7, in_h=8, in_w=9, density=0.25, encoding="bitmap")
    add("k7x7_cin8_chunks", cout=40, cin=8, kh=7, kw=7, in_h=5, in_w=6, density=0.9, encoding="list")
    add("dscnn_chunks", cout=96, cin=1, kh=10, kw=4, in_h=12, in_w=6, sh=2, sw=2)
    # empty filters and layers
    for k, enc in enumerate(encs):
        add(f"empty_filters_{enc}", cout=10, cin=1 + k, kh=6, kw=6, in_h=7, in_w=7, density=0.4, empty=4,
            encoding=enc)
    add("all_empty_bitmap", cout=4, cin=1, kh=10, kw=4, in_h=12, in_w=5, density=0.0, encoding="bitmap")
    add("all_empty_list", cout=4, cin=2, kh=7, kw=7, in_h=8, in_w=5, density=0.0, encoding="list")
    # requantization and clamps
    for k, enc in enumerate(encs):
        add(f"slow_requant_{enc}", cout=12, cin=1, kh=6, kw=6, in_h=7, in_w=8, density=0.7, encoding=enc,
            requant="slow")
        add(f"extreme_requant_{enc}", cout=12, cin=1 + k, kh=7, kw=7, in_h=8, in_w=8, density=0.7,
            encoding=enc, requant="extreme")
    add("slow_requant_cin1_3x3", cout=10, cin=1, kh=3, kw=3, in_h=6, in_w=7, requant="slow")
    add("relu6", cout=10, cin=1, kh=10, kw=4, in_h=12, in_w=8, act="relu6", density=0.5, encoding="bitmap")
    add("relu", cout=7, cin=3, kh=7, kw=7, in_h=9, in_w=9, act="relu")
    # beyond the element-list scratch cap: the portable path
    add("portable_k9x9_cin64", cout=2, cin=64, kh=9, kw=9, in_h=3, in_w=3)
    return cases


@pytest.fixture(scope="module")
def cases():
    return elem_cases()


def test_cases_cover_the_design(cases):
    specs = [c.spec for c in cases]
    assert {c.encoding for c in cases} == {"dense", "bitmap", "list"}
    assert sum(s.positions > 32 for s in specs) >= 20
    assert {s.cin for s in specs} >= {1, 2, 3, 4, 8}
    assert any(s.positions * s.cin > 256 for s in specs) and any(s.dilation_w > 1 for s in specs)
    assert {(s.out_h * s.out_w) % 4 for s in specs} == {0, 1, 2, 3}
    assert any(c.density == 0.0 for c in cases)


def _assert_pass(run, cases, path):
    assert run.path == path
    assert not run.failures(), f"{run.board}:\n" + "\n".join(run.failures()[:20])
    assert all(code == 0 for code in run.exit_codes), run.consoles[-1][-2000:]
    assert {c.name for c in cases} <= {n for n, (v, _) in run.verdicts.items() if v == "PASS"}


def _assert_dscnn_targets(run, board):
    """Dense within CMSIS-NN's count, and pruning never much dearer than dense.

    DSP: with cin = 1 a filterlet is one weight, so 50% filterlets is 50% unstructured sparsity.
    From 3/8 of the filterlets kept the layer runs the pair kernel (16 MACs in 13 instructions,
    pruned weights as zeros), like the dense layer, and pays only for building its weight pairs
    from the index (5-6%); below that the element list of the kept weights (8 MACs in 13) runs,
    and 25% filterlets is well below dense.  MVE: the MACs shrink (2 instead of 3 chunks of 16 per
    filter) but walking the index and building the sparse element lists once per call costs about
    what this small layer (32 blocks of 4 pixels) saves; since its receptive fields are gathered 16
    bytes an instruction, the dense layer costs ~209 k instructions and the 50% LIST layer ~233 k
    (it was 288 k / 302 k before): it must stay within 15% of dense."""
    n = run.instructions
    dense = n["dscnn_conv1_dense"]
    assert dense <= CMSIS_NN_DSCNN_CONV1[board], dense
    limit = 1.10 if board != "qemu-m55" else 1.15
    for sparse in ("dscnn_conv1_bitmap50", "dscnn_conv1_list50", "dscnn_conv1_bitmap25"):
        assert n[sparse] <= limit * dense, (sparse, n[sparse], dense)
    if board != "qemu-m55":
        assert n["dscnn_conv1_bitmap25"] < 0.9 * dense, (n["dscnn_conv1_bitmap25"], dense)


@pytest.mark.parametrize("board", DSP_BOARDS)
def test_dsp_element_list_bit_exact(board, cases, tmp_path):
    run = kc.run_cases_on_board(cases, board, tmp_path, defines=["CONV_CHECK_PATH=2"])
    _assert_pass(run, cases, "dsp")
    if board == "qemu-m4":
        _assert_dscnn_targets(run, board)


def test_mve_element_list_bit_exact(cases, tmp_path):
    run = kc.run_cases_on_board(cases, "qemu-m55", tmp_path, defines=["CONV_CHECK_PATH=3"])
    _assert_pass(run, cases, "mve")
    _assert_dscnn_targets(run, "qemu-m55")


@pytest.mark.parametrize("board", ["qemu-m4", "qemu-m55"])
def test_element_list_through_the_wrapper(board, tmp_path):
    """The dispatching dtmm_conv_s8() (and its get_buffer_size) on the DS-CNN conv."""
    cases = dscnn_cases(np.random.default_rng(11))
    run = kc.run_cases_on_board(cases, board, tmp_path)
    _assert_pass(run, cases, "mve" if board == "qemu-m55" else "dsp")
