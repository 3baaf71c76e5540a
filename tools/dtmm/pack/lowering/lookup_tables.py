"""256-entry tables of the int8 -> int8 elementwise ops, computed exactly as TFLite Micro computes them.

An int8 elementwise function has only 256 inputs, so rather than porting each
op's integer arithmetic to C, the lowering evaluates TFLite Micro's rule (its
Prepare-time parameters and its reference kernel) for every input value x and
the kernel (``dtmm_lookup_s8``) stores ``table[x + 128]``. Each function takes
the tensors' float32 scales (as Python floats) and zero points and returns an
int8 array of 256 entries, or raises :class:`LoweringError` where TFLite
Micro's Prepare refuses the parameters. Float arithmetic follows the tflite-micro
interpreter the tests compare with: the rescale multipliers of RELU, LEAKY_RELU
and HARD_SWISH are formed in IEEE double, RELU6's quantized 6 in float32
(each choice decides results on some scales; tests/test_ops_elementwise.py
holds such cases).
"""
from __future__ import annotations

import math

import numpy as np

from ...formats.fwcs.reference import multiply_by_quantized_multiplier, rounding_divide_by_pot
from . import gemmlowp
from .quant import LoweringError, _round_half_away, quantize_multiplier

_X = np.arange(-128, 128, dtype=np.int64)


def _clamp_s8(v) -> np.ndarray:
    return np.clip(np.asarray(v, dtype=np.int64), -128, 127).astype(np.int8)


def _mbqm(x, multiplier: int, shift: int) -> np.ndarray:
    return multiply_by_quantized_multiplier(np.asarray(x, dtype=np.int64), np.int64(multiplier), np.int64(shift))


def relu(in_scale: float, in_zp: int, out_scale: float, out_zp: int) -> np.ndarray:
    """RELU (ReluQuantized): rescale input to output, clamp below at the output's zero."""
    m, s = quantize_multiplier(float(in_scale) / float(out_scale))  # in double, as tflite-micro does
    if not -31 <= s <= 30:
        raise LoweringError(f"input/output scale ratio gives shift {s}, outside [-31, 30]")
    v = out_zp + _mbqm(_X - in_zp, m, s)
    return _clamp_s8(np.clip(v, max(-128, out_zp), 127))


def relu6(in_scale: float, in_zp: int) -> np.ndarray:
    """RELU6 (Relu6Quantized): the input clamped to [quantized 0, quantized 6] in the input's own
    quantization; TFLite Micro copies the bytes and ignores the output's quantization."""
    six = int(np.clip(_round_half_away(float(np.float32(6.0) / np.float32(in_scale))) + in_zp, -128, 127))
    return _clamp_s8(np.clip(_X, in_zp, six))


def leaky_relu(in_scale: float, in_zp: int, out_scale: float, out_zp: int, alpha: float) -> np.ndarray:
    """LEAKY_RELU (QuantizeLeakyRelu): identity multiplier for x >= zero point, alpha's below."""
    # tflite-micro (the interpreter this is checked against) forms both multipliers in double
    ma, sa = quantize_multiplier(float(in_scale) * float(alpha) / float(out_scale))
    mi, si = quantize_multiplier(float(in_scale) / float(out_scale))
    for s in (sa, si):
        if not -31 <= s <= 30:
            raise LoweringError(f"LEAKY_RELU rescale gives shift {s}, outside [-31, 30]")
    x = _X - in_zp
    below = _mbqm(x, abs(ma), sa)
    below = -below if ma < 0 else below
    return _clamp_s8(out_zp + np.where(x >= 0, _mbqm(x, mi, si), below))


def _q4_input(in_scale: float, op: str) -> tuple[int, int, int]:
    """(multiplier, left shift, range radius) of LOGISTIC/TANH's int8 input as a Q4.27 value."""
    input_bits = 4
    frac, left_shift = math.frexp(float(in_scale) * float(1 << (31 - input_bits)))
    multiplier = _round_half_away(frac * (1 << 31))
    if multiplier >= 1 << 31 or not 0 <= left_shift <= 30:
        raise LoweringError(f"{op}: input scale {in_scale!r} is outside what TFLite Micro's int8 {op} handles")
    radius = math.floor(1.0 * ((1 << input_bits) - 1) * (1 << (31 - input_bits)) / (1 << left_shift))
    return multiplier, left_shift, radius


def _saturated_q4_function(in_scale: float, in_zp: int, op: str, fn, out_shift: int, out_offset: int) -> np.ndarray:
    multiplier, left_shift, radius = _q4_input(in_scale, op)
    x = _X - in_zp
    inside = (x > -radius) & (x < radius)
    q4 = _mbqm(np.where(inside, x, 0), multiplier, left_shift)
    out = rounding_divide_by_pot(fn(q4, 4), np.int64(out_shift)) + out_offset
    return _clamp_s8(np.where(x <= -radius, -128, np.where(x >= radius, 127, out)))


def logistic(in_scale: float, in_zp: int, out_zp: int) -> np.ndarray:
    """LOGISTIC (reference_integer_ops::Logistic): the output is always in 1/256 steps from -128."""
    if out_zp != -128:
        raise LoweringError(f"LOGISTIC: output zero point is {out_zp}; TFLite Micro requires -128")
    return _saturated_q4_function(in_scale, in_zp, "LOGISTIC", gemmlowp.logistic, 31 - 8, -128)


def tanh(in_scale: float, in_zp: int) -> np.ndarray:
    """TANH (reference_integer_ops::Tanh): the output is always in 1/128 steps around 0
    (TFLite Micro ignores the output's quantization)."""
    return _saturated_q4_function(in_scale, in_zp, "TANH", gemmlowp.tanh, 31 - 7, 0)


def _wrap_i16(x) -> np.ndarray:
    return ((np.asarray(x, dtype=np.int64) + (1 << 15)) & 0xFFFF) - (1 << 15)


def _srdhm16(a, b) -> np.ndarray:
    """gemmlowp's int16 SaturatingRoundingDoublingHighMul."""
    a = np.asarray(a, dtype=np.int64)
    b = np.asarray(b, dtype=np.int64)
    ab = a * b
    s = ab + np.where(ab >= 0, 1 << 14, 1 - (1 << 14))
    high = np.where(s >= 0, s >> 15, -((-s) >> 15))
    return np.where((a == -(1 << 15)) & (b == -(1 << 15)), (1 << 15) - 1, _wrap_i16(high))


def _sdhm16(a, b) -> np.ndarray:
    """TFLite's SaturatingDoublingHighMul: like _srdhm16 but truncating toward zero."""
    a = np.asarray(a, dtype=np.int64)
    b = np.asarray(b, dtype=np.int64)
    ab = a * b
    high = np.where(ab >= 0, ab >> 15, -((-ab) >> 15))
    return np.where((a == -(1 << 15)) & (b == -(1 << 15)), (1 << 15) - 1, _wrap_i16(high))


def _rdbp16(x, exponent: int) -> np.ndarray:
    """gemmlowp RoundingDivideByPOT on int16 (its mask is an int16 too)."""
    x = np.asarray(x, dtype=np.int64)
    mask = int(_wrap_i16((1 << exponent) - 1))
    remainder = _wrap_i16(x & mask)
    threshold = (mask >> 1) + (x < 0)
    return _wrap_i16((x >> exponent) + (remainder > threshold))


def _saturating_left_shift16(x, amount: int) -> np.ndarray:
    return np.clip(np.asarray(x, dtype=np.int64) * (1 << amount), -(1 << 15), (1 << 15) - 1)


def _downscale_to_int16(m: int) -> int:
    if m >= (1 << 31) - 1 - (1 << 15):
        return (1 << 15) - 1
    return (m + (1 << 15)) >> 16


def hard_swish(in_scale: float, in_zp: int, out_scale: float, out_zp: int) -> np.ndarray:
    """HARD_SWISH (reference_ops::HardSwish<int8_t>): x * relu6(x + 3) / 6 in int16 fixed point."""
    hires_scale = np.float32(np.float32(1.0 / 128.0) * np.float32(in_scale))
    reluish_scale = np.float32(3.0) / np.float32(32768.0)
    # tflite-micro forms both multipliers in double (the output one decides results; checked)
    out_m32, out_exp = quantize_multiplier(float(hires_scale) / float(out_scale))
    rel_m32, rel_exp = quantize_multiplier(float(hires_scale) / float(reluish_scale))
    if out_exp > 0:
        raise LoweringError(f"HARD_SWISH: output scale {out_scale!r} is too small for the input scale (TFLite Micro refuses it)")
    out_m16 = _downscale_to_int16(out_m32)
    rel_m16 = _downscale_to_int16(rel_m32)
    value = _wrap_i16(_X - in_zp)
    hires = _wrap_i16(value * (1 << 7))
    preshift_output = _srdhm16(hires, out_m16)
    reluish = hires
    if rel_exp > 0:
        reluish = _saturating_left_shift16(reluish, rel_exp - 1)
    reluish = _srdhm16(reluish, rel_m16)
    if rel_exp > 0:
        reluish = _saturating_left_shift16(reluish, 1)
    if rel_exp < 0:
        reluish = _rdbp16(reluish, -rel_exp)
    reluish = _wrap_i16((reluish + (1 << 15)) >> 1)
    out = _rdbp16(_sdhm16(reluish, preshift_output), -out_exp)
    return _clamp_s8(_wrap_i16(out + out_zp))
