"""SUB, MUL and the table-driven unary ops (RELU, RELU6, LEAKY_RELU, LOGISTIC, TANH, HARD_SWISH),
bit-exact with the tflite-micro interpreter.

The unary ops are 256-entry tables built by dtmm.pack.lowering.lookup_tables,
so every case feeds all 256 int8 values (a model input of 256 elements holding
-128..127) besides random samples: one case checks the whole table. Scales
and zero points are drawn over a wide range, including the extremes where
TFLite's fixed-point paths saturate. Each case runs the generated C on the
host and compares every tensor with the interpreter, byte for byte.
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
    random_int8,
    random_scale,
    random_zero_point,
)

pytest.importorskip("tflite_micro.python.tflite_micro.runtime")

ACTS = ["NONE", "RELU", "RELU6", "RELU_N1_TO_1"]

BINARY_SHAPES = [
    ([1, 5, 6, 7], [1, 5, 6, 7]),
    ([1, 4, 4, 3], [1, 1, 1, 3]),
    ([1, 1, 1, 3], [1, 4, 4, 3]),
    ([2, 3, 1, 5], [1, 1, 4, 5]),
    ([4, 1, 3], [1, 6, 1]),
    ([3, 7], [7]),
    ([5], [1]),
    ([1, 16, 16, 4], [1, 16, 16, 4]),  # big enough for ADD's per-input tables (SUB uses them too)
    ([1, 16, 16, 8], [1, 1, 1, 8]),
]


_scale = random_scale
_zp = random_zero_point
_i8 = random_int8


def _all_values(shape) -> np.ndarray:
    """-128..127 repeated to fill `shape`."""
    n = int(np.prod(shape))
    return (np.arange(n) % 256 - 128).astype(np.int8).reshape(shape)


# --------------------------------------------------------------------------- SUB / MUL


def _binary_case(rng, opcode: str, k: int, s1, s2, const2=False, out_scale=None):
    b = ModelBuilder()
    out_shape = list(np.broadcast_shapes(tuple(s1), tuple(s2)))
    a = b.tensor(s1, scale=_scale(rng), zero_point=_zp(rng))
    if const2:
        c = b.tensor(s2, scale=_scale(rng), zero_point=_zp(rng), data=_i8(rng, s2))
    else:
        c = b.tensor(s2, scale=_scale(rng), zero_point=_zp(rng))
    so = out_scale if out_scale is not None else (_scale(rng, 0.01, 0.3) if opcode == "SUB" else _scale(rng, 1e-4, 0.05))
    y = b.tensor(out_shape, scale=so, zero_point=_zp(rng))
    options = "SubOptions" if opcode == "SUB" else "MulOptions"
    b.op(opcode, [a, c], [y], options, fusedActivationFunction=activation_code(ACTS[k % 4]))
    inputs = [a] if const2 else [a, c]
    shapes = [s1] if const2 else [s1, s2]
    samples = [[_i8(rng, s) for s in shapes] for _ in range(2)] + [[_all_values(s) for s in shapes]]
    return Case(f"{opcode.lower()}{k}", b.build(inputs, [y]), samples)


@pytest.mark.parametrize("opcode", ["SUB", "MUL"])
def test_sub_and_mul_bit_exact(tmp_path, opcode):
    rng = np.random.default_rng(17 if opcode == "SUB" else 18)
    cases = [_binary_case(rng, opcode, k, s1, s2) for k, (s1, s2) in enumerate(BINARY_SHAPES)]
    cases.append(_binary_case(rng, opcode, 40, [1, 3, 3, 4], [1, 1, 1, 4], const2=True))
    cases.append(_binary_case(rng, opcode, 41, [2, 8, 8, 9], [2, 8, 8, 9], const2=True))
    if opcode == "MUL":  # an output scale below the product of the input scales: a left shift
        cases.append(_binary_case(rng, opcode, 42, [1, 6, 6, 3], [1, 6, 6, 3], out_scale=1e-6))
    stats = check_cases(cases, tmp_path)
    assert len(stats) == len(cases)
    assert "dtmm_add_s8_params" in lower_model(TfliteModel(cases[0].model_bytes))[0].c_decls or opcode == "MUL"


def test_sub_uses_add_tables_and_subtracts(tmp_path):
    """A large SUB gets ADD's per-input tables, and swapping its inputs changes the result."""
    rng = np.random.default_rng(3)
    case = _binary_case(rng, "SUB", 7, [1, 16, 16, 4], [1, 16, 16, 4])
    lowered = lower_model(TfliteModel(case.model_bytes))[0]
    assert "_table2[256]" in lowered.c_decls and "dtmm_sub_s8(" in lowered.c_call
    check_cases([case], tmp_path)


# --------------------------------------------------------------------------- unary lookups


def _unary_case(rng, opcode: str, k: int, shape, in_q, out_q, **options):
    b = ModelBuilder()
    x = b.tensor(shape, scale=in_q[0], zero_point=in_q[1])
    y = b.tensor(shape, scale=out_q[0], zero_point=out_q[1])
    opts = {"LEAKY_RELU": "LeakyReluOptions", "HARD_SWISH": "HardSwishOptions"}.get(opcode)
    b.op(opcode, [x], [y], opts, **options)
    samples = [[_all_values(shape)], [_i8(rng, shape)]]
    return Case(f"{opcode.lower()}{k}", b.build([x], [y]), samples)


UNARY_SHAPES = [[1, 256], [2, 4, 4, 8], [1, 16, 16], [3, 100]]


def _unary_quant(rng, opcode: str, k: int):
    """(input, output) quantization as a converter would emit it, widened to stress the fixed-point paths."""
    si, zi = _scale(rng, 0.001, 0.5), _zp(rng)
    if opcode == "LOGISTIC":
        return (si, zi), (1.0 / 256.0, -128)
    if opcode == "TANH":
        return (si, zi), (1.0 / 128.0, 0)
    if opcode == "RELU6":
        return (si, zi), (si, zi)
    return (si, zi), (_scale(rng, 0.001, 0.5), _zp(rng))


@pytest.mark.parametrize("opcode", ["RELU", "RELU6", "LEAKY_RELU", "LOGISTIC", "TANH", "HARD_SWISH"])
def test_unary_ops_bit_exact(tmp_path, opcode):
    rng = np.random.default_rng(sum(map(ord, opcode)))
    cases = []
    for k in range(24):
        in_q, out_q = _unary_quant(rng, opcode, k)
        options = {}
        if opcode == "LEAKY_RELU":
            options["alpha"] = float(np.float32([0.01, 0.1, 0.2, 0.3, 0.5, 1.5, 0.0][k % 7]))
        if opcode == "HARD_SWISH" and k % 3 == 0:
            out_q = (in_q[0] * 0.7, out_q[1])  # output scale close to the input's, as converters give
        case = _unary_case(rng, opcode, k, UNARY_SHAPES[k % len(UNARY_SHAPES)], in_q, out_q, **options)
        try:
            lower_model(TfliteModel(case.model_bytes))
        except LoweringError:
            continue  # parameters TFLite Micro refuses too (checked in test_unary_refusals)
        cases.append(case)
    assert len(cases) >= 20
    stats = check_cases(cases, tmp_path)
    assert len(stats) == len(cases)


def test_unary_ops_extreme_scales(tmp_path):
    """Input scales at the ends of what the Q4.27 rescale and the int16 HARD_SWISH path allow."""
    rng = np.random.default_rng(5)
    cases = []
    for k, si in enumerate([1e-5, 3e-4, 0.9, 4.0]):
        for opcode in ("LOGISTIC", "TANH"):
            out_q = (1.0 / 256.0, -128) if opcode == "LOGISTIC" else (1.0 / 128.0, 0)
            cases.append(_unary_case(rng, opcode, 100 + k, [1, 256], (si, _zp(rng)), out_q))
        cases.append(_unary_case(rng, "HARD_SWISH", 100 + k, [1, 256], (si, _zp(rng)), (si * 2.0, _zp(rng))))
        cases.append(_unary_case(rng, "RELU", 100 + k, [1, 256], (si, _zp(rng)), (si / 3.0, _zp(rng))))
    check_cases(cases, tmp_path)


def test_unary_ops_run_in_place(tmp_path):
    """The lookup kernel may write over its input: a chain of them with the plan's in-place reuse."""
    rng = np.random.default_rng(6)
    b = ModelBuilder()
    shape = [1, 8, 8, 4]
    x = b.tensor(shape, scale=0.05, zero_point=3)
    t1 = b.tensor(shape, scale=0.05, zero_point=3)
    t2 = b.tensor(shape, scale=0.04, zero_point=-7)
    y = b.tensor(shape, scale=1.0 / 256.0, zero_point=-128)
    b.op("RELU6", [x], [t1])
    b.op("HARD_SWISH", [t1], [t2], "HardSwishOptions")
    b.op("LOGISTIC", [t2], [y])
    model = b.build([x], [y])
    assert all(lo.in_place_ok for lo in lower_model(TfliteModel(model)))
    check_cases([Case("lookup_chain", model, [[_all_values(shape)], [_i8(rng, shape)]], in_place=True)], tmp_path)


def test_unary_refusals():
    """What TFLite Micro's Prepare refuses is refused in one line naming the op."""
    b = ModelBuilder()
    x = b.tensor([1, 8], scale=0.05, zero_point=0)
    y = b.tensor([1, 8], scale=1.0 / 256.0, zero_point=0)
    b.op("LOGISTIC", [x], [y])
    with pytest.raises(LoweringError, match=r"LOGISTIC #0: .*zero point is 0; TFLite Micro requires -128"):
        lower_model(TfliteModel(b.build([x], [y])))
    b = ModelBuilder()
    x = b.tensor([1, 8], scale=0.5, zero_point=0)
    y = b.tensor([1, 8], scale=1e-6, zero_point=0)
    b.op("HARD_SWISH", [x], [y], "HardSwishOptions")
    with pytest.raises(LoweringError, match=r"HARD_SWISH #0: .*too small"):
        lower_model(TfliteModel(b.build([x], [y])))


def test_unary_ops_on_rounding_ties(tmp_path):
    """Scales where forming a multiplier in float32 or in double changes results (found by search):
    each table follows the interpreter's choice."""
    rng = np.random.default_rng(7)
    cases = [
        _unary_case(rng, "LEAKY_RELU", 200, [1, 256], (0.05, 10), (0.04, -5), alpha=2.5),
        _unary_case(rng, "LEAKY_RELU", 201, [1, 256], (0.05, 10), (0.04, -5), alpha=-1.0),
        _unary_case(rng, "RELU", 202, [1, 256], (0.14159034192562103, 7), (0.04820096865296364, -22)),
        _unary_case(rng, "RELU6", 203, [1, 256], (0.04332130029797554, -100), (0.04332130029797554, -100)),
        _unary_case(rng, "HARD_SWISH", 204, [1, 256], (0.06097180396318436, 38), (0.0901956632733345, 11)),
    ]
    check_cases(cases, tmp_path)
