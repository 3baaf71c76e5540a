"""Every operator kernel, bit-exact with the tflite-micro interpreter, on many random single-op models.

Models are written directly as flatbuffers (support.op_cases.ModelBuilder,
milliseconds each), which reaches quantization parameters and options the TF
converter rarely produces (broadcasting ADD, beta != 1, depth multipliers,
PADV2, int8 -> int8 QUANTIZE, MEAN over arbitrary axes).  Each test lowers
its models with dtmm.pack.lowering, runs the generated C on the host (ASan/UBSan)
and compares every activation tensor with the interpreter's.
"""
from __future__ import annotations

import numpy as np
import pytest

from dtmm.pack.lowering import LoweringError, lower_model
from dtmm.tflite.model import TfliteModel
from support.op_cases import (
    Case,
    ModelBuilder,
    activation_code,
    check_cases,
    conv_model,
    padding_code,
    random_int8,
    random_scale,
    random_zero_point,
)

pytest.importorskip("tflite_micro.python.tflite_micro.runtime")

ACTS = ["NONE", "RELU", "RELU6", "RELU_N1_TO_1"]


_scale = random_scale
_zp = random_zero_point
_i8 = random_int8


def _run(cases, tmp_path, min_cases=None):
    stats = check_cases(cases, tmp_path)
    assert len(stats) == len(cases)
    return stats


def _samples(rng, shapes, n=2):
    return [[_i8(rng, s) for s in shapes] for _ in range(n)]


# --------------------------------------------------------------------------- ADD


ADD_SHAPES = [
    ([1, 5, 6, 7], [1, 5, 6, 7]),
    ([2, 3, 4, 5], [2, 3, 4, 5]),
    ([1, 4, 4, 3], [1, 1, 1, 3]),
    ([1, 1, 1, 3], [1, 4, 4, 3]),
    ([2, 3, 1, 5], [1, 1, 4, 5]),
    ([4, 1, 3], [1, 6, 1]),
    ([3, 7], [7]),
    ([5], [1]),
    ([2, 1, 3, 1, 2], [1, 4, 1, 3, 1]),
]


def _add_case(rng, k, s1, s2, const2=False):
    b = ModelBuilder()
    out_shape = list(np.broadcast_shapes(tuple(s1), tuple(s2)))
    q1, q2 = (_scale(rng), _zp(rng)), (_scale(rng), _zp(rng))
    qo = (_scale(rng, 0.01, 0.3), _zp(rng))
    a = b.tensor(s1, scale=q1[0], zero_point=q1[1])
    if const2:
        c = b.tensor(s2, scale=q2[0], zero_point=q2[1], data=_i8(rng, s2))
    else:
        c = b.tensor(s2, scale=q2[0], zero_point=q2[1])
    y = b.tensor(out_shape, scale=qo[0], zero_point=qo[1])
    b.op("ADD", [a, c], [y], "AddOptions", fusedActivationFunction=activation_code(ACTS[k % 4]))
    inputs = [a] if const2 else [a, c]
    shapes = [s1] if const2 else [s1, s2]
    return Case(f"add{k}", b.build(inputs, [y]), _samples(rng, shapes))


def test_add_bit_exact(tmp_path):
    rng = np.random.default_rng(1)
    cases = [_add_case(rng, k, s1, s2) for k, (s1, s2) in enumerate(ADD_SHAPES)]
    # large enough for the per-input lookup tables (same shapes, broadcast, constant operand)
    for k, (s1, s2, const2) in enumerate([([1, 16, 16, 4], [1, 16, 16, 4], False), ([1, 16, 16, 8], [1, 1, 1, 8], False),
                                          ([2, 8, 8, 9], [2, 8, 8, 9], True), ([1, 1, 1, 8], [1, 16, 16, 8], False)]):
        case = _add_case(rng, 80 + k, s1, s2, const2=const2)
        assert "_table1[256]" in lower_model(TfliteModel(case.model_bytes))[0].c_decls
        cases.append(case)
    cases.append(_add_case(rng, 90, [1, 3, 3, 4], [1, 1, 1, 4], const2=True))
    cases.append(_add_case(rng, 91, [1, 3, 3, 4], [1, 3, 3, 4], const2=True))
    # equal scales (the ResNet residual case) and a large output scale
    b = ModelBuilder()
    a = b.tensor([1, 8, 8, 4], scale=0.05, zero_point=-3)
    c = b.tensor([1, 8, 8, 4], scale=0.05, zero_point=7)
    y = b.tensor([1, 8, 8, 4], scale=0.5, zero_point=-128)
    b.op("ADD", [a, c], [y], "AddOptions", fusedActivationFunction=activation_code("RELU"))
    cases.append(Case("add_equal_scales", b.build([a, c], [y]), _samples(rng, [[1, 8, 8, 4]] * 2, n=3)))
    _run(cases, tmp_path)


def test_add_in_place(tmp_path):
    """ADD and int8 QUANTIZE write over their input when the plan lets them (in_place_ok)."""
    rng = np.random.default_rng(2)
    b = ModelBuilder()
    shape = [1, 6, 5, 4]
    x = b.tensor(shape, scale=0.02, zero_point=1)
    t1 = b.tensor(shape, scale=0.03, zero_point=-5)
    c = b.tensor(shape, scale=0.04, zero_point=2, data=_i8(rng, shape))
    t2 = b.tensor(shape, scale=0.05, zero_point=0)
    y = b.tensor(shape, scale=0.06, zero_point=-9)
    b.op("QUANTIZE", [x], [t1])
    b.op("ADD", [t1, c], [t2], "AddOptions", fusedActivationFunction=0)
    b.op("QUANTIZE", [t2], [y])
    model = b.build([x], [y])
    lowered = lower_model(TfliteModel(model))
    assert [lo.in_place_ok for lo in lowered] == [True, True, True]
    _run([Case("inplace", model, _samples(rng, [shape], n=3), in_place=True)], tmp_path)


# --------------------------------------------------------------------------- FULLY_CONNECTED


def _fc_case(rng, k, batch_shape, in_f, out_f, per_channel, bias, keep=False):
    b = ModelBuilder()
    sx, zx = _scale(rng), _zp(rng)
    sw = [_scale(rng, 0.002, 0.05) for _ in range(out_f)] if per_channel else _scale(rng, 0.002, 0.05)
    sy, zy = _scale(rng, 0.02, 0.5), _zp(rng)
    x_shape = list(batch_shape) + [in_f]
    x = b.tensor(x_shape, scale=sx, zero_point=zx)
    w = b.tensor([out_f, in_f], scale=sw, zero_point=0, data=rng.integers(-127, 128, size=(out_f, in_f)))
    inputs = [x, w]
    if bias:
        bs = np.float32(sx) * np.asarray(sw, dtype=np.float32)
        bt = b.tensor([out_f], "INT32", scale=bs, zero_point=0, data=rng.integers(-3000, 3000, size=out_f))
        inputs.append(bt)
    else:
        inputs.append(-1)
    n = int(np.prod(batch_shape))
    y_shape = list(batch_shape) + [out_f] if keep else [n, out_f]
    y = b.tensor(y_shape, scale=sy, zero_point=zy)
    b.op("FULLY_CONNECTED", inputs, [y], "FullyConnectedOptions",
         fusedActivationFunction=activation_code(ACTS[k % 4]), keepNumDims=keep)  # fmt: skip
    return Case(f"fc{k}", b.build([x], [y]), _samples(rng, [x_shape], n=2))


def test_fully_connected_bit_exact(tmp_path):
    rng = np.random.default_rng(3)
    cases = []
    configs = [
        ([1], 16, 10, False, True), ([1], 37, 5, True, True), ([3], 8, 12, True, False),
        ([2], 1, 3, False, False), ([1], 64, 1, True, True), ([1], 256, 10, False, True),
        ([2], 5, 7, False, True),
    ]  # fmt: skip
    for k, (bs, i, o, pc, bias) in enumerate(configs):
        cases.append(_fc_case(rng, k, bs, i, o, pc, bias))
    cases.append(_fc_case(rng, 20, [2, 3], 6, 4, True, True, keep=True))
    cases.append(_fc_case(rng, 21, [1, 2, 2], 9, 5, False, True, keep=False))
    _run(cases, tmp_path)


# --------------------------------------------------------------------------- DEPTHWISE_CONV_2D


def _dw_case(rng, k, batch, hw, in_ch, mult, kernel, stride, dil, pad, per_channel=True):
    b = ModelBuilder()
    out_ch = in_ch * mult
    kh, kw = kernel
    sx, zx = _scale(rng), _zp(rng)
    sw = [_scale(rng, 0.002, 0.05) for _ in range(out_ch)] if per_channel else _scale(rng, 0.002, 0.05)
    sy, zy = _scale(rng, 0.02, 0.5), _zp(rng)
    x_shape = [batch, hw[0], hw[1], in_ch]
    same = pad == "same"
    eff_h, eff_w = (kh - 1) * dil[0] + 1, (kw - 1) * dil[1] + 1
    oh = (hw[0] + stride[0] - 1) // stride[0] if same else (hw[0] - eff_h + stride[0]) // stride[0]
    ow = (hw[1] + stride[1] - 1) // stride[1] if same else (hw[1] - eff_w + stride[1]) // stride[1]
    x = b.tensor(x_shape, scale=sx, zero_point=zx)
    w = b.tensor([1, kh, kw, out_ch], scale=sw, zero_point=0, quantized_dimension=3,
                 data=rng.integers(-127, 128, size=(1, kh, kw, out_ch)))  # fmt: skip
    bs = np.float32(sx) * np.asarray(sw, dtype=np.float32)
    bt = b.tensor([out_ch], "INT32", scale=bs, zero_point=0, data=rng.integers(-5000, 5000, size=out_ch))
    y = b.tensor([batch, oh, ow, out_ch], scale=sy, zero_point=zy)
    b.op("DEPTHWISE_CONV_2D", [x, w, bt], [y], "DepthwiseConv2DOptions",
         padding=padding_code(pad), strideH=stride[0], strideW=stride[1], depthMultiplier=mult,
         dilationHFactor=dil[0], dilationWFactor=dil[1], fusedActivationFunction=activation_code(ACTS[k % 4]))  # fmt: skip
    return Case(f"dw{k}", b.build([x], [y]), _samples(rng, [x_shape], n=2))


def test_depthwise_conv_bit_exact(tmp_path):
    rng = np.random.default_rng(4)
    configs = [
        (1, (8, 8), 8, 1, (3, 3), (1, 1), (1, 1), "same"),
        (1, (9, 7), 5, 1, (3, 3), (2, 2), (1, 1), "same"),
        (2, (10, 9), 6, 1, (5, 5), (1, 2), (1, 1), "valid"),
        (1, (11, 12), 4, 2, (3, 3), (1, 1), (2, 2), "same"),
        (1, (7, 8), 3, 3, (2, 3), (2, 1), (1, 2), "valid"),
        (1, (6, 6), 1, 4, (3, 3), (1, 1), (1, 1), "same"),
        (1, (5, 9), 13, 1, (1, 1), (1, 1), (1, 1), "valid"),
        (1, (4, 4), 16, 1, (3, 3), (3, 3), (1, 1), "same"),
        (1, (12, 10), 7, 1, (3, 5), (2, 2), (3, 1), "same"),
    ]
    cases = [_dw_case(rng, k, *c) for k, c in enumerate(configs)]
    cases.append(_dw_case(rng, 30, 1, (6, 7), 6, 1, (3, 3), (1, 1), (1, 1), "same", per_channel=False))
    _run(cases, tmp_path)


# --------------------------------------------------------------------------- pooling


def _pool_case(rng, k, opcode, batch, hw, ch, filt, stride, pad):
    b = ModelBuilder()
    s, z = _scale(rng), _zp(rng)
    same = pad == "same"
    oh = (hw[0] + stride[0] - 1) // stride[0] if same else (hw[0] - filt[0] + stride[0]) // stride[0]
    ow = (hw[1] + stride[1] - 1) // stride[1] if same else (hw[1] - filt[1] + stride[1]) // stride[1]
    x = b.tensor([batch, *hw, ch], scale=s, zero_point=z)
    y = b.tensor([batch, oh, ow, ch], scale=s, zero_point=z)
    b.op(opcode, [x], [y], "Pool2DOptions", padding=padding_code(pad), strideH=stride[0], strideW=stride[1],
         filterHeight=filt[0], filterWidth=filt[1], fusedActivationFunction=activation_code(ACTS[k % 4]))  # fmt: skip
    return Case(f"{opcode.lower()}{k}", b.build([x], [y]), _samples(rng, [[batch, *hw, ch]], n=2))


POOL_CONFIGS = [
    (1, (8, 8), 4, (2, 2), (2, 2), "valid"),
    (1, (9, 7), 3, (3, 3), (2, 2), "same"),
    (2, (8, 8), 5, (8, 8), (8, 8), "valid"),
    (1, (7, 10), 2, (3, 2), (1, 3), "same"),
    (1, (5, 5), 6, (5, 5), (1, 1), "same"),
    (1, (6, 9), 1, (2, 4), (2, 1), "valid"),
]


@pytest.mark.parametrize("opcode", ["AVERAGE_POOL_2D", "MAX_POOL_2D"])
def test_pooling_bit_exact(tmp_path, opcode):
    rng = np.random.default_rng(5 if opcode == "MAX_POOL_2D" else 6)
    _run([_pool_case(rng, k, opcode, *c) for k, c in enumerate(POOL_CONFIGS)], tmp_path)


# --------------------------------------------------------------------------- MEAN


def _mean_case(rng, k, shape, axes, keep, same_quant=False):
    b = ModelBuilder()
    sx, zx = _scale(rng), _zp(rng)
    sy, zy = (sx, zx) if same_quant else (_scale(rng), _zp(rng))
    rank = len(shape)
    norm = sorted({a % rank for a in axes})
    out_shape = [1 if d in norm else shape[d] for d in range(rank)] if keep else [
        shape[d] for d in range(rank) if d not in norm]  # fmt: skip
    x = b.tensor(shape, scale=sx, zero_point=zx)
    ax = b.tensor([len(axes)], "INT32", data=np.array(axes, dtype=np.int32))
    y = b.tensor(out_shape, scale=sy, zero_point=zy)
    b.op("MEAN", [x, ax], [y], "ReducerOptions", keepDims=keep)
    return Case(f"mean{k}", b.build([x], [y]), _samples(rng, [shape], n=2))


def test_mean_bit_exact(tmp_path):
    rng = np.random.default_rng(7)
    configs = [
        ([1, 8, 8, 16], [1, 2], True), ([1, 8, 8, 16], [1, 2], False), ([2, 5, 7, 3], [2, 1], True),
        ([1, 4, 4, 64], [1, 2], False), ([1, 3, 5, 6], [3], True), ([2, 3, 4], [-1], False),
        ([2, 3, 4, 5], [0, 2], True), ([3, 4, 5], [0, 1, 2], False), ([1, 7, 9, 2], [1], False),
        ([1, 32, 32, 3], [1, 2], True), ([2, 3, 4, 5, 2], [1, 3], False),
    ]  # fmt: skip
    cases = [_mean_case(rng, k, *c) for k, c in enumerate(configs)]
    cases.append(_mean_case(rng, 40, [1, 6, 6, 8], [1, 2], True, same_quant=True))
    _run(cases, tmp_path)


# --------------------------------------------------------------------------- SOFTMAX


def _softmax_case(rng, k, shape, beta, in_scale, zx=None, n=3, structured=False):
    b = ModelBuilder()
    zx = _zp(rng) if zx is None else zx
    x = b.tensor(shape, scale=in_scale, zero_point=zx)
    y = b.tensor(shape, scale=1.0 / 256, zero_point=-128)
    b.op("SOFTMAX", [x], [y], "SoftmaxOptions", beta=beta)
    samples = _samples(rng, [shape], n=n)
    if structured:  # ties, a dominant entry, narrow ranges
        depth = shape[-1]
        s = np.zeros(shape, dtype=np.int8)
        rows = s.reshape(-1, depth)
        for r in range(rows.shape[0]):
            kind = r % 4
            if kind == 0:
                rows[r] = rng.integers(-128, 128)
            elif kind == 1:
                rows[r] = -128
                rows[r, rng.integers(depth)] = 127
            elif kind == 2:
                rows[r] = rng.integers(-5, 6, size=depth)
            else:
                rows[r] = np.linspace(-128, 127, depth).astype(np.int8)
        samples.append([s])
    return Case(f"softmax{k}", b.build([x], [y]), samples)


def test_softmax_bit_exact(tmp_path):
    """Random inputs over many rows, many input scales and betas (incl. the clamped multiplier)."""
    rng = np.random.default_rng(8)
    cases = []
    configs = [
        ([1, 10], 1.0, 0.1), ([64, 10], 1.0, 0.0625), ([32, 7], 1.0, 0.25), ([16, 33], 0.5, 0.05),
        ([40, 5], 2.0, 0.02), ([8, 100], 1.0, 0.01), ([20, 3], 1.7, 0.8), ([10, 12], 1.0, 3.0),
        ([12, 9], 1.0, 40.0), ([4, 4, 6], 0.3, 0.15), ([50, 1], 1.0, 0.1), ([6, 256], 1.0, 0.004),
    ]  # fmt: skip
    for k, (shape, beta, s) in enumerate(configs):
        cases.append(_softmax_case(rng, k, shape, beta, s, structured=True))
    for k in range(12):  # random scales and betas
        shape = [int(rng.integers(1, 40)), int(rng.integers(1, 60))]
        cases.append(_softmax_case(rng, 100 + k, shape, float(rng.uniform(0.1, 3.0)), _scale(rng, 0.002, 2.0)))
    _run(cases, tmp_path)


@pytest.mark.slow
def test_softmax_bit_exact_sweep(tmp_path):
    rng = np.random.default_rng(9)
    cases = []
    for k in range(60):
        shape = [int(rng.integers(1, 200)), int(rng.integers(1, 120))]
        cases.append(_softmax_case(rng, k, shape, float(rng.uniform(0.05, 4.0)), _scale(rng, 0.001, 20.0), n=6,
                                   structured=True))  # fmt: skip
    _run(cases, tmp_path)


# --------------------------------------------------------------------------- CONCATENATION


def _concat_case(rng, k, shapes, axis):
    b = ModelBuilder()
    s, z = _scale(rng), _zp(rng)
    ins = [b.tensor(sh, scale=s, zero_point=z) for sh in shapes]
    rank = len(shapes[0])
    ax = axis % rank
    out = list(shapes[0])
    out[ax] = sum(sh[ax] for sh in shapes)
    y = b.tensor(out, scale=s, zero_point=z)
    b.op("CONCATENATION", ins, [y], "ConcatenationOptions", axis=axis, fusedActivationFunction=0)
    return Case(f"concat{k}", b.build(ins, [y]), _samples(rng, shapes, n=2))


def test_concatenation_bit_exact(tmp_path):
    rng = np.random.default_rng(10)
    configs = [
        ([[1, 4, 4, 3], [1, 4, 4, 5]], 3), ([[1, 4, 4, 3], [1, 4, 4, 3], [1, 4, 4, 2]], -1),
        ([[1, 2, 4, 3], [1, 5, 4, 3]], 1), ([[2, 3, 4], [1, 3, 4]], 0), ([[3, 2], [3, 7], [3, 1], [3, 4]], 1),
        ([[2, 3, 1, 5], [2, 3, 4, 5]], 2),
    ]  # fmt: skip
    _run([_concat_case(rng, k, *c) for k, c in enumerate(configs)], tmp_path)


def test_concatenation_requantizes_like_quantize(tmp_path):
    """Inputs quantized differently from the output (which TFLite Micro refuses) are requantized exactly
    as a QUANTIZE op would: compare with QUANTIZE + CONCATENATION run by the interpreter."""
    rng = np.random.default_rng(11)
    shapes = [[1, 3, 4, 2], [1, 3, 4, 5], [1, 3, 4, 1]]
    qs = [(0.02, 3), (0.05, -7), (0.1, 0)]  # the last equals the output: a plain copy
    out_q = (0.1, 0)
    # model under test: one CONCATENATION with mixed quantization
    b = ModelBuilder()
    ins = [b.tensor(sh, scale=s, zero_point=z) for sh, (s, z) in zip(shapes, qs)]
    y = b.tensor([1, 3, 4, 8], scale=out_q[0], zero_point=out_q[1])
    b.op("CONCATENATION", ins, [y], "ConcatenationOptions", axis=3, fusedActivationFunction=0)
    mixed = TfliteModel(b.build(ins, [y]), "mixed")
    # golden: QUANTIZE each input to the output quantization, then concatenate
    g = ModelBuilder()
    gins = [g.tensor(sh, scale=s, zero_point=z) for sh, (s, z) in zip(shapes, qs)]
    mids = []
    for t, sh in zip(gins, shapes):
        m = g.tensor(sh, scale=out_q[0], zero_point=out_q[1])
        g.op("QUANTIZE", [t], [m])
        mids.append(m)
    gy = g.tensor([1, 3, 4, 8], scale=out_q[0], zero_point=out_q[1])
    g.op("CONCATENATION", mids, [gy], "ConcatenationOptions", axis=3, fusedActivationFunction=0)
    golden = g.build(gins, [gy])

    from support.host_ops import HostCase, HostProgram
    from support.op_cases import tflm_tensors

    samples = _samples(rng, shapes, n=3)
    prog = HostProgram([HostCase("mixed", mixed, lower_model(mixed), tuple(mixed.inputs), (y,))], tmp_path)
    got = prog.run(0, samples)
    want = tflm_tensors(golden, samples, [gy])
    for g_, w_ in zip(got, want):
        np.testing.assert_array_equal(g_[y], w_[gy])


# --------------------------------------------------------------------------- PAD / PADV2


def _pad_case(rng, k, shape, pads, v2=False):
    b = ModelBuilder()
    s, z = _scale(rng), _zp(rng)
    x = b.tensor(shape, scale=s, zero_point=z)
    p = b.tensor([len(shape), 2], "INT32", data=np.array(pads, dtype=np.int32))
    out = [d + a + c for d, (a, c) in zip(shape, pads)]
    y = b.tensor(out, scale=s, zero_point=z)
    if v2:
        cv = b.tensor([], scale=s, zero_point=z, data=np.array(int(rng.integers(-128, 128)), dtype=np.int8))
        b.op("PADV2", [x, p, cv], [y], "PadV2Options")
    else:
        b.op("PAD", [x, p], [y], "PadOptions")
    return Case(f"pad{k}", b.build([x], [y]), _samples(rng, [shape], n=2))


def test_pad_bit_exact(tmp_path):
    rng = np.random.default_rng(12)
    configs = [
        ([1, 5, 5, 3], [[0, 0], [1, 1], [1, 1], [0, 0]]), ([1, 4, 6, 2], [[0, 0], [0, 2], [3, 0], [0, 0]]),
        ([2, 3, 3, 4], [[1, 0], [0, 0], [2, 1], [0, 3]]), ([7], [[2, 5]]), ([3, 4], [[0, 0], [0, 0]]),
        ([2, 3, 2, 2, 3], [[0, 1], [1, 0], [0, 0], [2, 2], [0, 0]]), ([4, 5, 6], [[1, 2], [0, 0], [0, 0]]),
    ]  # fmt: skip
    cases = [_pad_case(rng, k, *c) for k, c in enumerate(configs)]
    cases.append(_pad_case(rng, 20, [1, 4, 4, 2], [[0, 0], [2, 1], [1, 2], [0, 0]], v2=True))
    _run(cases, tmp_path)


# --------------------------------------------------------------------------- QUANTIZE / DEQUANTIZE / RESHAPE


def test_quantize_dequantize_bit_exact(tmp_path):
    rng = np.random.default_rng(13)
    cases = []
    for k in range(6):  # float32 -> int8, including values on and around rounding ties
        b = ModelBuilder()
        s, z = _scale(rng, 0.003, 0.5), _zp(rng)
        n = 300
        x = b.tensor([n], "FLOAT32")
        y = b.tensor([n], scale=s, zero_point=z)
        b.op("QUANTIZE", [x], [y])
        ties = ((rng.integers(-200, 200, size=100) + 0.5) * np.float32(s)).astype(np.float32)
        near = (ties + rng.choice([-1, 1], size=100) * np.spacing(ties)).astype(np.float32)
        wide = rng.normal(scale=s * 150, size=100).astype(np.float32)
        sample = np.concatenate([ties, near, wide])
        cases.append(Case(f"quant_f32_{k}", b.build([x], [y]), [[sample], [rng.normal(size=n).astype(np.float32)]]))
    for k in range(6):  # int8 -> int8 requantize
        b = ModelBuilder()
        x = b.tensor([2, 128], scale=_scale(rng, 0.01, 0.5), zero_point=_zp(rng))
        y = b.tensor([2, 128], scale=_scale(rng, 0.01, 0.5), zero_point=_zp(rng))
        b.op("QUANTIZE", [x], [y])
        all_values = np.arange(-128, 128, dtype=np.int8).reshape(2, 128)
        cases.append(Case(f"quant_s8_{k}", b.build([x], [y]), [[all_values], [_i8(rng, (2, 128))]]))
    for k in range(4):  # int8 -> float32
        b = ModelBuilder()
        x = b.tensor([256], scale=_scale(rng, 0.001, 2.0), zero_point=_zp(rng))
        y = b.tensor([256], "FLOAT32")
        b.op("DEQUANTIZE", [x], [y])
        cases.append(Case(f"dequant_{k}", b.build([x], [y]), [[np.arange(-128, 128, dtype=np.int8)]]))
    _run(cases, tmp_path)


def test_reshape_is_an_alias(tmp_path):
    rng = np.random.default_rng(14)
    b = ModelBuilder()
    x = b.tensor([1, 4, 4, 8], scale=0.05, zero_point=2)
    shape = b.tensor([2], "INT32", data=np.array([1, 128], dtype=np.int32))
    r = b.tensor([1, 128], scale=0.05, zero_point=2)
    y = b.tensor([1, 128], scale=1.0 / 256, zero_point=-128)
    b.op("RESHAPE", [x, shape], [r], "ReshapeOptions", newShape=[1, 128])
    b.op("SOFTMAX", [r], [y], "SoftmaxOptions", beta=1.0)
    model = b.build([x], [y])
    lo = lower_model(TfliteModel(model))
    assert lo[0].alias_of_input and lo[0].in_place_ok and lo[0].c_call == "" and lo[0].inputs == (x,)
    _run([Case("reshape", model, _samples(rng, [[1, 4, 4, 8]], n=2))], tmp_path)


# --------------------------------------------------------------------------- CONV_2D


def _conv_case(rng, k, batch, hw, cin, cout, kernel, stride, dil, pad, density):
    def weights(r):
        w = r.integers(-127, 128, size=(cout, *kernel, cin))
        return w * (r.random((cout, *kernel)) < density)[..., None]  # pruned filterlets

    model, in_shape = conv_model(rng, (cout, *kernel, cin), weights, batch, hw, stride, dil, pad, ACTS[k % 4], _scale)
    return Case(f"conv{k}", model, _samples(rng, [in_shape], n=2))


def test_conv_2d_lowering_bit_exact(tmp_path):
    """CONV_2D through fwcs.encode(auto) + dtmm_conv_s8: dense, bitmap and list layers, batch 2."""
    rng = np.random.default_rng(15)
    configs = [
        (1, (8, 8), 8, 16, (3, 3), 1, 1, "same", 0.5),
        (1, (9, 10), 3, 6, (3, 3), 2, 1, "valid", 1.0),
        (2, (7, 7), 5, 4, (5, 5), 1, 1, "same", 0.3),
        (1, (10, 9), 16, 8, (1, 1), 1, 1, "valid", 0.9),
        (1, (12, 11), 4, 7, (3, 3), 1, 2, "same", 0.05),
    ]
    cases = [_conv_case(rng, k, *c) for k, c in enumerate(configs)]
    encodings = set()
    for c in cases:
        lo = lower_model(TfliteModel(c.model_bytes))[0]
        assert "dtmm_conv_s8(" in lo.c_call and lo.c_init and lo.scratch_bytes > 0
        encodings.add(lo.c_decls.split("FWCS v1 ")[1].split(":")[0])
    assert {"DENSE", "BITMAP"} <= encodings, encodings
    _run(cases, tmp_path)


# --------------------------------------------------------------------------- refusals


def test_unsupported_options_are_refused():
    b = ModelBuilder()
    x = b.tensor([1, 10], scale=0.1, zero_point=0)
    y = b.tensor([1, 10], scale=0.1, zero_point=0)  # not 1/256, -128
    b.op("SOFTMAX", [x], [y], "SoftmaxOptions", beta=1.0)
    with pytest.raises(LoweringError, match=r"SOFTMAX #0: int8 output must have scale 1/256"):
        lower_model(TfliteModel(b.build([x], [y]), "m.tflite"))

    b = ModelBuilder()
    x = b.tensor([1, 4], "INT16", scale=0.1, zero_point=0)
    y = b.tensor([1, 4], "INT16", scale=0.1, zero_point=0)
    b.op("ADD", [x, x], [y], "AddOptions", fusedActivationFunction=0)
    with pytest.raises(LoweringError, match=r"m.tflite: ADD #0: first input tensor 't0' is INT16"):
        lower_model(TfliteModel(b.build([x], [y]), "m.tflite"))

    b = ModelBuilder()
    x = b.tensor([1, 4], scale=0.1, zero_point=0)
    y = b.tensor([1, 4], scale=0.1, zero_point=0)
    b.op("EXP", [x], [y])
    m = TfliteModel(b.build([x], [y]), "m.tflite")
    from dtmm.pack.lowering import unsupported_ops

    assert unsupported_ops(m) == ["EXP"]
    with pytest.raises(LoweringError, match="unsupported operators: EXP"):
        lower_model(m)
