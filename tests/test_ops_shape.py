"""Shape operators (SQUEEZE, EXPAND_DIMS, TRANSPOSE, STRIDED_SLICE, RESIZE_NEAREST_NEIGHBOR), bit-exact with
the tflite-micro interpreter on random single-op models, and the options the lowering refuses."""
from __future__ import annotations

import itertools

import numpy as np
import pytest

from dtmm.pack.lowering import LoweringError, lower_model
from dtmm.pack.lowering.ops import gather_layout, nearest_index, strided_slice_axis
from dtmm.tflite.model import TfliteModel
from support.op_cases import Case, ModelBuilder, check_cases

pytest.importorskip("tflite_micro.python.tflite_micro.runtime")


def _q(rng) -> tuple[float, int]:
    return float(np.float32(rng.uniform(0.01, 0.3))), int(rng.integers(-128, 128))


def _samples(rng, shape, n=2):
    return [[rng.integers(-128, 128, size=shape, dtype=np.int8)] for _ in range(n)]


def _run(cases, tmp_path):
    stats = check_cases(cases, tmp_path)
    assert len(stats) == len(cases)
    assert all(n_el > 0 for _, n_el in stats.values())


def _i32(b: ModelBuilder, values) -> int:
    return b.tensor([len(values)], "INT32", data=np.asarray(values, dtype=np.int32))


# --------------------------------------------------------------------------- SQUEEZE / EXPAND_DIMS


def test_squeeze_and_expand_dims_are_aliases(tmp_path):
    """Both lower to no code; a TRANSPOSE after each reads their bytes, so a wrong alias shows."""
    rng = np.random.default_rng(40)
    s, z = _q(rng)
    b = ModelBuilder()
    x = b.tensor([1, 3, 1, 4], scale=s, zero_point=z)
    sq = b.tensor([3, 4], scale=s, zero_point=z)
    t = b.tensor([4, 3], scale=s, zero_point=z)
    ex = b.tensor([4, 1, 3], scale=s, zero_point=z)
    y = b.tensor([3, 1, 4], scale=s, zero_point=z)
    b.op("SQUEEZE", [x], [sq], "SqueezeOptions", squeezeDims=[0, 2])
    b.op("TRANSPOSE", [sq, _i32(b, [1, 0])], [t])
    b.op("EXPAND_DIMS", [t, _i32(b, [1])], [ex])
    b.op("TRANSPOSE", [ex, _i32(b, [2, 1, 0])], [y])
    model = b.build([x], [y])
    lo = lower_model(TfliteModel(model))
    for k in (0, 2):
        assert lo[k].alias_of_input and lo[k].in_place_ok and lo[k].c_call == ""
    assert lo[0].inputs == (x,) and lo[2].inputs == (t,)
    _run([Case("squeeze_expand", model, _samples(rng, [1, 3, 1, 4]))], tmp_path)


# --------------------------------------------------------------------------- TRANSPOSE


def _transpose_case(rng, k, shape, perm) -> Case:
    s, z = _q(rng)
    b = ModelBuilder()
    x = b.tensor(shape, scale=s, zero_point=z)
    y = b.tensor([shape[p] for p in perm], scale=s, zero_point=z)
    b.op("TRANSPOSE", [x, _i32(b, perm)], [y], "TransposeOptions")
    return Case(f"transpose{k}", b.build([x], [y]), _samples(rng, shape))


def test_transpose_bit_exact(tmp_path):
    rng = np.random.default_rng(41)
    cases = [_transpose_case(rng, 0, [7], [0]), _transpose_case(rng, 1, [3, 5], [1, 0])]
    for rank in range(2, 6):
        perms = list(itertools.permutations(range(rank)))
        for j in rng.choice(len(perms), size=min(len(perms), 6), replace=False):
            shape = [int(v) for v in rng.integers(1, 6, size=rank)]
            cases.append(_transpose_case(rng, len(cases), shape, list(perms[j])))
    cases.append(_transpose_case(rng, len(cases), [2, 8, 8, 16], [0, 3, 1, 2]))  # NHWC -> NCHW, batch 2
    cases.append(_transpose_case(rng, len(cases), [1, 1, 6, 1, 5], [4, 1, 3, 0, 2]))  # size-1 dims dropped
    _run(cases, tmp_path)


def test_gather_layout_merges_contiguous_dims():
    assert gather_layout([2, 3, 4], [12, 4, 1]) == ([24], [1])
    assert gather_layout([1, 4, 1, 3], [99, 1, 7, 4]) == ([4, 3], [1, 4])
    assert gather_layout([2, 3, 4], [1, 8, 2]) == ([2, 12], [1, 2])
    assert gather_layout([2, 3, 4], [1, 9, 2]) == ([2, 3, 4], [1, 9, 2])
    assert gather_layout([1, 1], [5, 5]) == ([1], [1])


# --------------------------------------------------------------------------- STRIDED_SLICE


def _slice_case(rng, k, shape, begin, end, strides, begin_mask=0, end_mask=0, shrink=0) -> Case:
    s, z = _q(rng)
    out = []
    for d, n in enumerate(shape):
        bit = 1 << d
        _, cnt = strided_slice_axis(n, begin[d], end[d], strides[d], bool(begin_mask & bit), bool(end_mask & bit),
                                    bool(shrink & bit))  # fmt: skip
        if not shrink & bit:
            out.append(cnt)
    b = ModelBuilder()
    x = b.tensor(shape, scale=s, zero_point=z)
    y = b.tensor(out, scale=s, zero_point=z)
    b.op("STRIDED_SLICE", [x, _i32(b, begin), _i32(b, end), _i32(b, strides)], [y], "StridedSliceOptions",
         beginMask=begin_mask, endMask=end_mask, shrinkAxisMask=shrink)  # fmt: skip
    return Case(f"slice{k}", b.build([x], [y]), _samples(rng, shape))


def _random_slice(rng, k) -> Case | None:
    rank = int(rng.integers(1, 5))
    shape = [int(v) for v in rng.integers(1, 8, size=rank)]
    begin, end, strides = [], [], []
    for n in shape:
        step = int(rng.choice([1, 1, 2, 3, -1, -2]))
        begin.append(int(rng.integers(-n - 2, n + 2)))
        end.append(int(rng.integers(-n - 2, n + 2)))
        strides.append(step)
    bm, em = int(rng.integers(0, 1 << rank)), int(rng.integers(0, 1 << rank))
    shrink = 0
    for d in range(rank):  # shrink only axes whose begin is a valid index (and, for TFLite Micro, stride > 0)
        if rng.random() < 0.25 and -shape[d] <= begin[d] < shape[d] and strides[d] > 0 and not bm & (1 << d):
            shrink |= 1 << d
    case = _slice_case(rng, k, shape, begin, end, strides, bm, em, shrink)
    y = TfliteModel(case.model_bytes).tensors[1]  # the output
    return case if y.size > 0 else None


def test_strided_slice_bit_exact(tmp_path):
    rng = np.random.default_rng(42)
    cases = [
        _slice_case(rng, 0, [1, 8, 8, 4], [0, 1, 2, 0], [1, 7, 8, 4], [1, 2, 3, 1]),
        _slice_case(rng, 1, [2, 5, 6, 3], [0, -1, -1, 0], [2, -6, 0, 3], [1, -1, -2, 1]),  # negative strides
        _slice_case(rng, 2, [3, 4, 5], [1, 0, 0], [2, 4, 5], [1, 1, 1], shrink=0b001),  # shrink the batch
        _slice_case(rng, 3, [4, 6], [0, 3], [0, 0], [1, 1], begin_mask=0b11, end_mask=0b11),  # masks: whole tensor
        _slice_case(rng, 4, [4, 6], [3, 5], [0, 0], [-1, -1], begin_mask=0b11, end_mask=0b11),  # reversed
        _slice_case(rng, 5, [9], [-3], [100], [1]),  # clamped end
        _slice_case(rng, 6, [2, 3, 4, 5], [1, 2, -1, 0], [0, 0, 0, 5], [1, 1, 1, 2], shrink=0b0111),
    ]
    k = len(cases)
    while len(cases) < 40:
        c = _random_slice(rng, k)
        k += 1
        if c is not None:
            cases.append(c)
    _run(cases, tmp_path)


def test_strided_slice_axis_follows_the_reference_loop():
    # (size, begin, end, stride, begin_mask, end_mask, shrink) -> (start, count)
    assert strided_slice_axis(5, 1, 4, 1, False, False, False) == (1, 3)
    assert strided_slice_axis(5, -1, -6, -1, False, False, False) == (4, 5)
    assert strided_slice_axis(5, 7, 0, -2, False, False, False) == (4, 2)
    assert strided_slice_axis(5, 3, 3, 1, True, True, False) == (0, 5)
    assert strided_slice_axis(5, 3, 3, -1, True, True, False) == (4, 5)
    assert strided_slice_axis(5, -2, 0, 1, False, False, True) == (3, 1)
    assert strided_slice_axis(5, 2, 9, 3, False, False, False) == (2, 1)


# --------------------------------------------------------------------------- RESIZE_NEAREST_NEIGHBOR


def _resize_case(rng, k, shape, size, align, half) -> Case:
    s, z = _q(rng)
    b = ModelBuilder()
    x = b.tensor(shape, scale=s, zero_point=z)
    y = b.tensor([shape[0], *size, shape[3]], scale=s, zero_point=z)
    b.op("RESIZE_NEAREST_NEIGHBOR", [x, _i32(b, size)], [y], "ResizeNearestNeighborOptions",
         alignCorners=align, halfPixelCenters=half)  # fmt: skip
    return Case(f"resize{k}", b.build([x], [y]), _samples(rng, shape))


def test_resize_nearest_neighbor_bit_exact(tmp_path):
    rng = np.random.default_rng(43)
    configs = [
        ([1, 4, 4, 3], [8, 8]), ([2, 3, 5, 2], [7, 11]), ([1, 8, 6, 4], [3, 4]), ([1, 5, 7, 1], [5, 7]),
        ([3, 2, 3, 5], [1, 9]), ([1, 1, 1, 8], [4, 3]), ([2, 9, 4, 3], [6, 13]), ([1, 6, 6, 2], [1, 1]),
    ]  # fmt: skip
    cases = []
    for shape, size in configs:
        for align, half in itertools.product([False, True], repeat=2):
            cases.append(_resize_case(rng, len(cases), shape, size, align, half))
    _run(cases, tmp_path)


def test_nearest_index_tables():
    assert nearest_index(8, 4, False, False) == [0, 0, 1, 1, 2, 2, 3, 3]
    assert nearest_index(3, 6, False, False) == [0, 2, 4]
    assert nearest_index(5, 3, True, False) == [0, 1, 1, 2, 2]  # 0.5 rounds away from zero
    assert nearest_index(3, 6, False, True) == [1, 3, 5]
    assert nearest_index(1, 6, True, False) == [0]


# --------------------------------------------------------------------------- refusals


def _lower_one(b: ModelBuilder, x: int, y: int):
    return lower_model(TfliteModel(b.build([x], [y]), "m.tflite"))


def test_strided_slice_refusals():
    def model(shape, out, begin, end, strides, **opts):
        b = ModelBuilder()
        x = b.tensor(shape, scale=0.1, zero_point=opts.pop("zx", 0))
        y = b.tensor(out, scale=0.1, zero_point=0)
        b.op("STRIDED_SLICE", [x, _i32(b, begin), _i32(b, end), _i32(b, strides)], [y], "StridedSliceOptions", **opts)
        return b, x, y

    with pytest.raises(LoweringError, match=r"STRIDED_SLICE #0: ellipsisMask is not supported"):
        _lower_one(*model([4, 4], [4, 4], [0, 0], [4, 4], [1, 1], ellipsisMask=1))
    with pytest.raises(LoweringError, match=r"STRIDED_SLICE #0: newAxisMask is not supported"):
        _lower_one(*model([4, 4], [4, 4], [0, 0], [4, 4], [1, 1], newAxisMask=2))
    with pytest.raises(LoweringError, match=r"STRIDED_SLICE #0: offset is not supported"):
        _lower_one(*model([4, 4], [4, 4], [0, 0], [4, 4], [1, 1], offset=True))
    with pytest.raises(LoweringError, match=r"stride 0 on axis 1"):
        _lower_one(*model([4, 4], [4, 4], [0, 0], [4, 4], [1, 0]))
    with pytest.raises(LoweringError, match=r"rank 5 is not supported"):
        _lower_one(*model([1, 2, 2, 2, 2], [1, 2, 2, 2, 2], [0] * 5, [9] * 5, [1] * 5))
    with pytest.raises(LoweringError, match=r"quantization differ"):
        _lower_one(*model([4, 4], [4, 4], [0, 0], [4, 4], [1, 1], zx=3))
    with pytest.raises(LoweringError, match=r"disagrees with the slice"):
        _lower_one(*model([4, 4], [4, 3], [0, 0], [4, 4], [1, 1]))
    with pytest.raises(LoweringError, match=r"shrunk axis 0 begins at 4"):
        _lower_one(*model([4, 4], [4], [4, 0], [5, 4], [1, 1], shrinkAxisMask=1))
    with pytest.raises(LoweringError, match=r"shrinking axis 1 with a negative stride"):
        _lower_one(*model([4, 4], [4], [0, 1], [4, 2], [1, -1], shrinkAxisMask=2))
    with pytest.raises(LoweringError, match=r"empty output"):
        _lower_one(*model([4, 4], [0, 4], [2, 0], [1, 4], [1, 1]))
    b = ModelBuilder()  # a non-constant begin
    x = b.tensor([4], scale=0.1, zero_point=0)
    beg = b.tensor([1], "INT32")
    y = b.tensor([4], scale=0.1, zero_point=0)
    b.op("STRIDED_SLICE", [x, beg, _i32(b, [4]), _i32(b, [1])], [y], "StridedSliceOptions")
    with pytest.raises(LoweringError, match=r"begin must be a constant int32 tensor of 1 values"):
        _lower_one(b, x, y)


def _lower_single(opcode, in_shape, out_shape, const_inputs, options=None, dtype="INT8", out_scale=0.1):
    """Lower a one-op model: an activation input, constant int32 inputs, one output."""
    b = ModelBuilder()
    x = b.tensor(in_shape, dtype, scale=0.1, zero_point=0)
    y = b.tensor(out_shape, dtype, scale=out_scale, zero_point=0)
    b.op(opcode, [x, *(_i32(b, c) for c in const_inputs)], [y], options)
    return _lower_one(b, x, y)


def test_transpose_and_resize_refusals():
    with pytest.raises(LoweringError, match=r"TRANSPOSE #0: perm \[1, 1\] is not a permutation"):
        _lower_single("TRANSPOSE", [2, 3], [3, 2], [[1, 1]])
    with pytest.raises(LoweringError, match=r"TRANSPOSE #0: input and output quantization differ"):
        _lower_single("TRANSPOSE", [2, 3], [3, 2], [[1, 0]], out_scale=0.2)
    with pytest.raises(LoweringError, match=r"TRANSPOSE #0: output shape \[2, 3\] is not the permuted"):
        _lower_single("TRANSPOSE", [2, 3], [2, 3], [[1, 0]])
    with pytest.raises(LoweringError, match=r"rank 6 is not supported"):
        _lower_single("TRANSPOSE", [1, 2, 3, 4, 5, 6], [6, 5, 4, 3, 2, 1], [[5, 4, 3, 2, 1, 0]])
    resize = "RESIZE_NEAREST_NEIGHBOR"
    with pytest.raises(LoweringError, match=r"RESIZE_NEAREST_NEIGHBOR #0: the input must be 4-D"):
        _lower_single(resize, [4, 4, 2], [8, 8, 2], [[8, 8]], "ResizeNearestNeighborOptions")
    with pytest.raises(LoweringError, match=r"output shape \[1, 8, 7, 2\] is not \[1, 8, 8, 2\]"):
        _lower_single(resize, [1, 4, 4, 2], [1, 8, 7, 2], [[8, 8]], "ResizeNearestNeighborOptions")
    with pytest.raises(LoweringError, match=r"is INT16; this kernel needs INT8"):
        _lower_single(resize, [1, 4, 4, 2], [1, 8, 8, 2], [[8, 8]], "ResizeNearestNeighborOptions", dtype="INT16")
    with pytest.raises(LoweringError, match=r"size must be a constant int32 tensor of 2 values"):
        _lower_single(resize, [1, 4, 4, 2], [1, 8, 8, 2], [[8, 8, 1]], "ResizeNearestNeighborOptions")


# --------------------------------------------------------------------------- the C kernels' argument checks

KERNEL_CHECKS = r"""
#include <stdio.h>
#include <string.h>
#include "dtmm_ops.h"

#define EXPECT(cond) do { if (!(cond)) { printf("FAIL line %d: %s\n", __LINE__, #cond); return 1; } } while (0)

int main(void)
{
    int8_t in[24], out[24];
    for (int i = 0; i < 24; ++i) {
        in[i] = (int8_t)(i - 12);
    }
    /* a 4x6 matrix read backwards along both dims, then transposed: out[c][r] = in[(3-r)*6 + (5-c)] */
    dtmm_strided_copy_s8_params g = {2, {6, 4}, {-1, -6}, 23, 24};
    EXPECT(dtmm_strided_copy_s8(&g, in, out) == DTMM_OK);
    for (int c = 0; c < 6; ++c) {
        for (int r = 0; r < 4; ++r) {
            EXPECT(out[c * 4 + r] == in[(3 - r) * 6 + (5 - c)]);
        }
    }
    EXPECT(dtmm_strided_copy_s8(NULL, in, out) == DTMM_ERR_ARGUMENT);
    EXPECT(dtmm_strided_copy_s8(&g, NULL, out) == DTMM_ERR_ARGUMENT);
    EXPECT(dtmm_strided_copy_s8(&g, in, NULL) == DTMM_ERR_ARGUMENT);
    dtmm_strided_copy_s8_params bad = g;
    bad.offset = 22; /* the last read would be element -1 */
    EXPECT(dtmm_strided_copy_s8(&bad, in, out) == DTMM_ERR_ARGUMENT);
    bad = g;
    bad.in_size = 23; /* the first read would be element 23 */
    EXPECT(dtmm_strided_copy_s8(&bad, in, out) == DTMM_ERR_ARGUMENT);
    bad = g;
    bad.ndims = DTMM_OPS_MAX_DIMS + 1;
    EXPECT(dtmm_strided_copy_s8(&bad, in, out) == DTMM_ERR_ARGUMENT);
    bad = g;
    bad.shape[1] = -1;
    EXPECT(dtmm_strided_copy_s8(&bad, in, out) == DTMM_ERR_ARGUMENT);
    memset(out, 0x55, sizeof out);
    bad = g;
    bad.shape[0] = 0; /* nothing to copy: OK, nothing written */
    EXPECT(dtmm_strided_copy_s8(&bad, in, out) == DTMM_OK && out[0] == 0x55);

    /* 2x3 image of 2 channels, resized to 3x2 */
    static const int16_t rows[3] = {0, 0, 1}, cols[2] = {2, 0};
    dtmm_resize_nearest_s8_params r = {2, 2, 3, 2, 3, 2, rows, cols};
    EXPECT(dtmm_resize_nearest_s8(&r, in, out) == DTMM_OK);
    for (int b = 0; b < 2; ++b) {
        for (int y = 0; y < 3; ++y) {
            for (int x = 0; x < 2; ++x) {
                for (int c = 0; c < 2; ++c) {
                    EXPECT(out[((b * 3 + y) * 2 + x) * 2 + c] == in[((b * 2 + rows[y]) * 3 + cols[x]) * 2 + c]);
                }
            }
        }
    }
    EXPECT(dtmm_resize_nearest_s8(NULL, in, out) == DTMM_ERR_ARGUMENT);
    EXPECT(dtmm_resize_nearest_s8(&r, NULL, out) == DTMM_ERR_ARGUMENT);
    EXPECT(dtmm_resize_nearest_s8(&r, in, NULL) == DTMM_ERR_ARGUMENT);
    dtmm_resize_nearest_s8_params rb = r;
    rb.row_index = NULL;
    EXPECT(dtmm_resize_nearest_s8(&rb, in, out) == DTMM_ERR_ARGUMENT);
    rb = r;
    rb.in_h = 1; /* row 1 is outside */
    EXPECT(dtmm_resize_nearest_s8(&rb, in, out) == DTMM_ERR_ARGUMENT);
    rb = r;
    rb.in_w = 2; /* column 2 is outside */
    EXPECT(dtmm_resize_nearest_s8(&rb, in, out) == DTMM_ERR_ARGUMENT);
    rb = r;
    rb.batches = -1;
    EXPECT(dtmm_resize_nearest_s8(&rb, in, out) == DTMM_ERR_ARGUMENT);
    puts("ok");
    return 0;
}
"""


def test_kernels_compute_and_refuse_bad_arguments(tmp_path):
    import subprocess

    from support.host_ops import kernels_library
    from support.hostbuild import build_host_program

    src = tmp_path / "shape_kernels.c"
    src.write_text(KERNEL_CHECKS)
    prog = build_host_program(src, tmp_path / "shape_kernels", kernels_library(tmp_path / "lib"))
    proc = subprocess.run([str(prog)], capture_output=True, text=True)
    assert proc.returncode == 0 and proc.stdout.strip() == "ok", proc.stdout + proc.stderr
