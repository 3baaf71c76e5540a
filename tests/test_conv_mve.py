"""The Helium MVE conv path (dtmm_conv_s8_mve, Cortex-M55) on the corners of its own design.

tests/test_conv_qemu.py already runs random layers and ResNet-8 through the
dispatching wrapper on qemu-m55.  Random layers rarely reach what is specific
to lib/dtmm_kernels/src/conv/dtmm_conv_s8_mve.c, so the cases here are built for
it and run the path directly (tests/firmware/conv_check, CONV_CHECK_PATH=3):

* every inner kernel: the "quad" group kernels (4 filters per group: cin 16,
  32, 64 with a 16/32/64-byte pixel step, full-range and narrower clamps,
  all shifts <= -1), the "pair" kernels (any shift, cout > 64), the generic
  kernel (any cin: tails, cin 127/128/130, pixel steps without immediates);
* filters with nothing kept (constant outputs), quad leftovers (live
  filters beyond a multiple of 4), groups completed by empty filters or by
  copies, all-empty layers, in every encoding;
* patch mode (cin < 16, kh*kw*cin <= 64): im2col by byte gathers and by
  copies (wide inputs), dilation, patch rows of 16/32/48/64 bytes;
* the input rows: read directly (no padding), through the zero-point padded
  window (padding, dilation, strides), and - in a second build with
  -DDTMM_MVE_WINDOW_MAX=0 - the per-block edge patches; last blocks of 1..3
  pixels; kernels above 32 positions (the element-list kernel; more cases
  in tests/test_conv_elem.py);
* requantization at the extremes of the int32 accumulator.

It also checks the path's performance targets on ResNet-8 (exact QEMU
instruction counts): dense mode within what CMSIS-NN's
arm_convolve_wrapper_s8 needs on qemu-m55 (4,401,778 instructions), and
magnitude-pruned 3x3 layers with cin >= 16 at most density + 0.08 of their
dense count.
"""
from __future__ import annotations

import shutil

import numpy as np
import pytest

from dtmm.formats import fwcs
from support import conv_cases as kc

pytestmark = [
    pytest.mark.qemu,
    pytest.mark.skipif(shutil.which("qemu-system-arm") is None, reason="qemu-system-arm not installed"),
    pytest.mark.skipif(shutil.which("arm-none-eabi-gcc") is None, reason="arm-none-eabi-gcc not installed"),
]

BOARD = "qemu-m55"
CMSIS_NN_RESNET8_M55 = 4_401_778  # arm_convolve_wrapper_s8, 9 ResNet-8 convs, same QEMU machine


def _case(rng, name, *, requant="normal", **kw):
    # the MVE epilogues: no separate path for small multipliers, so 5 slow kinds
    kinds = ("left", "zero_shift", "minus1", "zero_mult", "normal")
    return kc.targeted_case(rng, name, ["mve"], requant=requant, slow_kinds=kinds, **kw)


def mve_cases() -> list[kc.KernelCase]:
    rng = np.random.default_rng(55)
    encs = ["dense", "bitmap", "list"]
    cases = []

    def add(name, **kw):
        cases.append(_case(rng, name, **kw))

    # quad kernels: pixel steps 16/32/64, full-range and narrow clamps, empties and leftovers
    quad_shapes = [(16, 1), (16, 2), (32, 1), (32, 2), (64, 1)]
    for k, (cin, s) in enumerate(quad_shapes):
        add(f"quad_c{cin}_s{s}_dense", cout=16, cin=cin, kh=3, kw=3, in_h=6, in_w=9 + 2 * s, sh=s, sw=s,
            encoding="dense")
        add(f"quad_c{cin}_s{s}_relu6", cout=12, cin=cin, kh=3, kw=3, in_h=5, in_w=10, sh=s, sw=s,
            density=0.5, encoding=encs[k % 3], act="relu6")
        for live in (1, 2, 3):  # cout 20 with empties: 4*q + live filters computed, the rest constant
            add(f"quad_c{cin}_s{s}_left{live}", cout=20, cin=cin, kh=3, kw=3, in_h=4, in_w=9, sh=s, sw=s,
                density=0.6, empty=8 - live, encoding=encs[(k + live) % 3])
    add("quad_all_empty", cout=8, cin=16, kh=3, kw=3, in_h=4, in_w=8, density=0.0, encoding="bitmap")
    add("quad_one_live", cout=12, cin=32, kh=3, kw=3, in_h=4, in_w=8, density=0.5, empty=11, encoding="list")
    add("quad_cout64", cout=64, cin=16, kh=3, kw=3, in_h=4, in_w=8, density=0.3, encoding="bitmap")
    add("quad_cout4_1x1", cout=4, cin=64, kh=1, kw=1, in_h=3, in_w=7, encoding="dense")
    add("flat_1x1_25x5", cout=24, cin=64, kh=1, kw=1, in_h=25, in_w=5, density=0.6, encoding="bitmap")
    add("flat_1x1_s1_odd", cout=9, cin=20, kh=1, kw=1, in_h=7, in_w=3, density=0.7, encoding="list")
    add("quad_extreme", cout=20, cin=16, kh=3, kw=3, in_h=5, in_w=8, requant="extreme", density=0.7)
    # a single kernel row read directly whose partial last block would read past the row: that block
    # reads an edge patch of its own (last_edge): flattened 1x1 rows in patch and pg modes, a strided
    # 1x1 that is not flattened, a 1x3 VALID row
    add("last_edge_1x1_patch", cout=12, cin=8, kh=1, kw=1, in_h=5, in_w=5, density=0.8, encoding="bitmap")
    add("last_edge_1x1_pg", cout=8, cin=4, kh=1, kw=1, in_h=7, in_w=7, encoding="dense")
    add("last_edge_1x1_patch_slow", cout=6, cin=8, kh=1, kw=1, in_h=3, in_w=5, requant="slow", encoding="dense")
    add("last_edge_1x1_s2", cout=16, cin=32, kh=1, kw=1, in_h=6, in_w=13, sh=2, sw=2, encoding="dense")
    add("last_edge_1x3_valid", cout=8, cin=16, kh=1, kw=3, in_h=4, in_w=13, density=0.7, encoding="list",
        padding="valid")
    # pair kernels: any shift (slow requantization), cout > 64, odd live counts with and without empties
    for k, (cin, s) in enumerate(quad_shapes):
        add(f"pair_c{cin}_s{s}_slow", cout=9, cin=cin, kh=3, kw=3, in_h=5, in_w=9, sh=s, sw=s,
            density=0.7, encoding=encs[k % 3], requant="slow", empty=k % 2)
    add("pair_cout70", cout=70, cin=16, kh=3, kw=3, in_h=3, in_w=6, density=0.4, encoding="bitmap")
    add("pair_cout67_odd", cout=67, cin=32, kh=1, kw=3, in_h=3, in_w=5, density=0.8, encoding="list")
    add("pair_one_filter", cout=1, cin=16, kh=3, kw=3, in_h=4, in_w=6, requant="slow")
    add("pair_all_empty", cout=5, cin=64, kh=3, kw=3, in_h=3, in_w=5, density=0.0, encoding="list",
        requant="slow")
    # generic kernel: cin tails, the longest filterlets, pixel steps the group kernels do not take
    for k, cin in enumerate([17, 24, 33, 48, 100, 127, 128, 130]):
        add(f"gen_cin{cin}", cout=int(rng.integers(1, 9)), cin=cin, kh=3, kw=3, in_h=4, in_w=6,
            density=[1.0, 0.6, 0.3][k % 3], encoding=encs[k % 3], empty=k % 2,
            requant="slow" if k % 3 == 2 else "normal")
    add("gen_cin8_5x5", cout=5, cin=8, kh=5, kw=5, in_h=6, in_w=7, density=0.5, encoding="bitmap")
    add("gen_cin16_stride3", cout=6, cin=16, kh=3, kw=3, in_h=7, in_w=10, sh=3, sw=3)
    add("gen_cin64_stride2", cout=6, cin=64, kh=3, kw=3, in_h=5, in_w=9, sh=2, sw=2, density=0.6,
        encoding="list")
    add("gen_all_empty", cout=3, cin=20, kh=3, kw=3, in_h=3, in_w=5, density=0.0, encoding="bitmap")
    # patch mode: gathers (narrow) and copies (wide rows), patch rows of 16/32/48/64 bytes, dilation
    add("patch_c3_3x3", cout=16, cin=3, kh=3, kw=3, in_h=8, in_w=9, encoding="dense")
    add("patch_c3_3x3_sparse", cout=13, cin=3, kh=3, kw=3, in_h=6, in_w=7, density=0.4, empty=2,
        encoding="bitmap")
    add("patch_c3_wide_copies", cout=8, cin=3, kh=3, kw=3, in_h=4, in_w=48, density=0.7, encoding="list")
    add("patch_c1_4x4_k16", cout=8, cin=1, kh=4, kw=4, in_h=6, in_w=9)
    add("patch_c1_5x5", cout=4, cin=1, kh=5, kw=5, in_h=7, in_w=7, density=0.5, encoding="bitmap")
    add("patch_c5_3x3_k48", cout=6, cin=5, kh=3, kw=3, in_h=5, in_w=8, requant="slow")
    add("patch_c7_3x3_k64", cout=8, cin=7, kh=3, kw=3, in_h=5, in_w=8, density=0.8, encoding="list")
    add("patch_dilation", cout=8, cin=4, kh=3, kw=3, in_h=8, in_w=9, dh=2, dw=2, density=0.6,
        encoding="bitmap")
    add("patch_dilation_wide", cout=4, cin=2, kh=2, kw=3, in_h=5, in_w=60, dw=2, sw=2)
    # patch mode by gathers (pg kernels: all shifts <= -1, cout <= 64, offsets within a byte): chunks of
    # kept weights, last groups completed by copies or empties, constant groups, clamps, strides, 1..4 chunks
    for live in (1, 2, 3):
        add(f"pg_c3_left{live}", cout=20, cin=3, kh=3, kw=3, in_h=7, in_w=9, density=0.5, empty=8 - live,
            encoding=encs[live % 3], act="relu6" if live == 2 else "none")
    add("pg_c3_one_live", cout=6, cin=3, kh=3, kw=3, in_h=5, in_w=7, density=0.5, empty=5, encoding="list")
    add("pg_c1_all_empty", cout=5, cin=1, kh=3, kw=3, in_h=4, in_w=6, density=0.0, encoding="bitmap")
    add("pg_c3_cout64", cout=64, cin=3, kh=3, kw=3, in_h=6, in_w=10, density=0.5, encoding="bitmap", act="relu")
    add("pg_c2_s2", cout=12, cin=2, kh=3, kw=3, in_h=9, in_w=13, sh=2, sw=2, density=0.6, encoding="list")
    add("pg_c7_k63_dense", cout=8, cin=7, kh=3, kw=3, in_h=5, in_w=9, encoding="dense", act="relu6")
    add("pg_c6_valid", cout=10, cin=6, kh=2, kw=5, in_h=6, in_w=11, padding="valid", density=0.7,
        encoding="bitmap")
    add("pg_c3_s1x2_tail", cout=16, cin=3, kh=3, kw=3, in_h=6, in_w=22, sh=1, sw=2, density=0.45, empty=3,
        encoding="bitmap")
    # input rows: direct (no padding), window (padding, dilation, strides), last blocks of 1..3 pixels
    add("direct_1x1_s2", cout=32, cin=16, kh=1, kw=1, in_h=8, in_w=16, sh=2, sw=2, padding="same")
    add("direct_valid", cout=12, cin=32, kh=3, kw=3, in_h=6, in_w=10, padding="valid", density=0.5,
        encoding="bitmap")
    add("window_dilation2", cout=8, cin=16, kh=3, kw=3, in_h=9, in_w=10, dh=2, dw=2, density=0.6,
        encoding="list")
    add("window_dilation3_s2", cout=8, cin=32, kh=2, kw=3, in_h=9, in_w=13, sh=2, sw=2, dh=3, dw=3)
    add("window_5x1", cout=8, cin=16, kh=5, kw=1, in_h=9, in_w=6, density=0.5, encoding="bitmap")
    add("window_1x5", cout=8, cin=16, kh=1, kw=5, in_h=4, in_w=9)
    add("window_3x5_s_1x2", cout=12, cin=32, kh=3, kw=5, in_h=6, in_w=11, sh=1, sw=2)
    add("window_tall", cout=8, cin=16, kh=3, kw=3, in_h=20, in_w=5, sh=2, sw=1, density=0.5,
        encoding="bitmap")
    for w in [1, 2, 3, 5, 6, 7]:
        add(f"out_w{w}", cout=8, cin=16, kh=3, kw=3, in_h=3, in_w=w)
    # the generic family's row tail (gen_tail: 1..3 last pixels, one or two at a time) on random shapes:
    # 1x1 rows (flattened or not), 3x3 with padding (window), strides, sparse, empties, any cin
    irng = np.random.default_rng(808)
    trng = np.random.default_rng(1313)
    for k, w in enumerate([1, 2, 3, 4, 5, 6, 7, 9, 13]):
        cin = int(trng.choice([8, 17, 24, 40, 100, 128, 144]))
        cin = 24 if cin == 8 else cin  # cin < 16 would be patch mode
        kh = int(trng.choice([1, 3]))
        s = int(trng.integers(1, 3)) if kh == 3 else 1
        add(f"gen_tail_w{w}", cout=int(trng.integers(1, 12)), cin=cin, kh=kh, kw=kh, in_h=int(trng.integers(1, 4)),
            in_w=w * s, sh=s, sw=s, density=[1.0, 0.6, 0.4][k % 3], encoding=encs[k % 3], empty=k % 2,
            requant="slow" if k % 2 else "normal", act="relu6" if k % 4 == 1 else "none")
        add(f"gen_tail_flat_{w}x3", cout=int(trng.integers(2, 20)), cin=cin, kh=1, kw=1, in_h=3, in_w=w,
            density=0.7 if k % 2 else 1.0, encoding=encs[(k + 1) % 3])
    # item mode (cin <= 8, kw*cin >= 16, beyond patch mode): adjacent kept filterlets of a kernel row
    # share 16-byte items; random masks (pairs with one side pruned), kernel rows whose last item is
    # clamped to the row's end (cin not dividing 16), strides, dilation_h, VALID, row tails, empties
    for k, (cin, kh, kw) in enumerate(item_shapes()):
        s, dh, valid = int(irng.integers(1, 3)), 1 + k % 4 // 3, k % 7 == 3
        in_h, in_w = int(irng.integers(kh, kh + 4)), int(irng.integers(max(1, kw - 2), max(kw + 3, 14)))
        if k % 4 != 1:  # most large enough to take item mode, some too small (the generic kernel)
            in_h, in_w = in_h + 6 * s, in_w + 12 * s
        if valid:
            in_h, in_w = max(in_h, (kh - 1) * dh + 1), max(in_w, kw)
        add(f"items_c{cin}_{kh}x{kw}_{k}", cout=int(irng.integers(1, 21)), cin=cin, kh=kh, kw=kw,
            in_h=in_h, in_w=in_w, sh=s, sw=s, dh=dh, padding="valid" if valid else "same",
            density=[1.0, 0.5, 0.3, 0.7, 0.15][k % 5], encoding=encs[k % 3], empty=k % 3,
            requant="slow" if k % 4 == 2 else "normal", act=["none", "relu", "relu6"][k % 3])
    add("items_c8_5x5_half", cout=16, cin=8, kh=5, kw=5, in_h=12, in_w=13, density=0.5, encoding="bitmap",
        empty=1, act="relu")
    add("items_c8_3x3_list", cout=12, cin=8, kh=3, kw=3, in_h=14, in_w=14, density=0.6, encoding="list")
    add("items_c4_5x5_sparse", cout=9, cin=4, kh=5, kw=5, in_h=13, in_w=10, density=0.4, encoding="bitmap",
        requant="slow")
    add("items_c8_3x5_s2_tail", cout=20, cin=8, kh=3, kw=5, in_h=15, in_w=19, sh=2, sw=2, density=0.7,
        encoding="list", act="relu6")
    add("thin_valid", cout=8, cin=32, kh=3, kw=3, in_h=3, in_w=3, padding="valid")
    add("k2x2_same", cout=8, cin=64, kh=2, kw=2, in_h=5, in_w=7, density=0.5, encoding="list")
    add("k8x4_32_positions", cout=4, cin=16, kh=8, kw=4, in_h=9, in_w=6, density=0.5, encoding="bitmap")
    add("portable_7x7", cout=3, cin=4, kh=7, kw=7, in_h=8, in_w=8, density=0.5, encoding="bitmap")
    # element-list kernel (more than 32 positions; more in tests/test_conv_elem.py)
    add("elem_10x4_cin1_s2", cout=20, cin=1, kh=10, kw=4, in_h=13, in_w=10, sh=2, sw=2, density=0.5,
        encoding="list")
    add("elem_7x7_cin8_k392", cout=6, cin=8, kh=7, kw=7, in_h=8, in_w=9, density=0.3, encoding="bitmap")
    return cases


def items_mode(case: kc.KernelCase) -> bool:
    """Whether the MVE path runs the layer in item mode (mirrors dtmm_mve_layout_compute)."""
    s, h = case.spec, case.header
    P = s.kh * s.kw
    if P > 32 or (s.cin < 16 and P * s.cin <= 64) or s.cin not in (4, 8) or s.dilation_w != 1 or s.kw * s.cin < 16:
        return False
    R, last, b, nwin = s.kw * s.cin, s.kw * s.cin - 16, 0, 0
    while b < R:
        b, nwin = min(b // s.cin * s.cin, last) + 16, nwin + 1
    dense = h.encoding_name == "dense"
    rows, kept = s.cout * s.kh, s.cout * P if dense else h.n_kept
    win = min(kept, rows * nwin)
    blocks = s.out_h * ((s.out_w + 3) // 4)
    return 15 * kept > 13 * win and blocks * (15 * kept - 13 * win) >= rows * (10 * nwin if dense else 150)


def item_shapes() -> list[tuple[int, int, int]]:
    """(cin, kh, kw) of layers beyond patch mode with cin 3..8 (item mode for cin 4 and 8 when kw*cin >= 16,
    else the generic kernel), kh*kw <= 32."""
    shapes = [(8, 5, 5), (8, 3, 3), (8, 1, 9), (8, 9, 1), (8, 2, 5), (4, 5, 5), (5, 5, 5), (6, 5, 5), (7, 5, 5),
              (6, 3, 5), (7, 3, 4), (3, 4, 7), (4, 2, 9), (4, 1, 32), (8, 4, 8), (4, 4, 7), (8, 3, 7), (4, 3, 6)]
    return [s for s in shapes if s[1] * s[2] * s[0] > 64 or s[2] * s[0] < 16]


@pytest.fixture(scope="module")
def cases():
    return mve_cases()


def _group_kind(spec: fwcs.ConvSpec) -> str:
    """Which inner kernel family the MVE path picks (mirrors dtmm_mve_layout_compute)."""
    P = spec.kh * spec.kw
    if P > 32:
        return "elem"
    if spec.cin < 16 and P * spec.cin <= 64:
        k = (P * spec.cin + 15) // 16 * 16
        cin_eff, step = k, k
    else:
        cin_eff, step = spec.cin, spec.stride_w * spec.cin
    short_tail = spec.cin >= 16 and spec.out_w % 4 in (1, 2) and spec.out_w < 12  # the generic row tail
    if (cin_eff, step) in ((16, 16), (16, 32), (32, 32), (32, 64), (64, 64)) and not short_tail:
        return "group"
    return "generic"


def test_cases_cover_the_design(cases):
    assert {c.encoding for c in cases} == {"dense", "bitmap", "list"}
    kinds = [_group_kind(c.spec) for c in cases]
    assert kinds.count("group") >= 30 and kinds.count("generic") >= 10 and "elem" in kinds
    assert {(c.spec.cin, c.spec.stride_w) for c in cases} >= {(16, 1), (16, 2), (32, 1), (32, 2), (64, 1)}
    assert any(c.spec.cout > 64 for c in cases)
    assert {c.spec.out_w % 4 for c in cases} == {0, 1, 2, 3}
    assert any(c.density == 0.0 for c in cases)
    assert sum("patch" in c.name for c in cases) >= 8
    items = [c for c in cases if items_mode(c)]
    assert len(items) >= 6 and {c.spec.cin for c in items} == {4, 8}
    assert {c.encoding for c in items} == {"dense", "bitmap", "list"} and min(c.density for c in items) < 0.5
    assert any(not items_mode(c) for c in cases if c.name.startswith("items"))


def _assert_pass(run, cases):
    assert run.path == "mve"
    assert not run.failures(), "\n".join(run.failures()[:20])
    assert all(code == 0 for code in run.exit_codes), run.consoles[-1][-2000:]
    assert {c.name for c in cases} <= {n for n, (v, _) in run.verdicts.items() if v == "PASS"}


def test_mve_path_bit_exact(cases, tmp_path):
    _assert_pass(kc.run_cases_on_board(cases, BOARD, tmp_path, defines=["CONV_CHECK_PATH=3"]), cases)


def test_mve_edge_patch_fallback_bit_exact(cases, tmp_path):
    """With no room for a row window every padded layer takes the per-block edge patches."""
    run = kc.run_cases_on_board(cases, BOARD, tmp_path, defines=["CONV_CHECK_PATH=3", "DTMM_MVE_WINDOW_MAX=0"])
    _assert_pass(run, cases)


def test_mve_random_layers_bit_exact(tmp_path):
    """More random layers than the cross-board test, straight on the MVE path."""
    cases = kc.random_cases(96, seed=555, max_macs=40_000, prefix="mve")
    _assert_pass(kc.run_cases_on_board(cases, BOARD, tmp_path, defines=["CONV_CHECK_PATH=3"]), cases)


def test_mve_performance_targets(resnet8_tflite, tmp_path):
    """Dense mode within CMSIS-NN's count on the same machine (4,401,778 instructions for the 9
    ResNet-8 convs, 2.84 MAC/instruction), and magnitude-pruned 3x3 layers with cin >= 16 at most
    density + 0.08 of their dense count."""
    from dtmm.bench.kernels import run_bench

    report = run_bench(BOARD, (1.0, 0.5, 0.25), model_path=resnet8_tflite, build_dir=tmp_path)
    assert report["path"] == "mve"
    assert report["totals"]["dense_instructions"] <= CMSIS_NN_RESNET8_M55
    checked = 0
    for row in report["rows"]:
        if tuple(row["kernel"]) == (3, 3) and row["cin"] >= 16 and row["density"] < 1.0:
            ratio = row["sparse_instructions"] / row["dense_instructions"]
            assert ratio <= row["density"] + 0.08, (row["layer"], row["density"], ratio)
            checked += 1
    assert checked == 12  # 6 layers x 2 densities
