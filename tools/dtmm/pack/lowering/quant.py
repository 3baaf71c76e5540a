"""Quantization parameters exactly as TensorFlow Lite Micro's Prepare steps compute them.

Each function names the TFLite routine it mirrors. Scales arrive as the
float32 values stored in the model (held in Python floats, which is exact);
where TFLite multiplies two float32 scales in float32 before widening to
double, so do we (``np.float32``), and everywhere else the arithmetic is
IEEE double like the C++ code.
"""
from __future__ import annotations

import math

import numpy as np

from ...errors import DtmmError


class LoweringError(DtmmError):
    """An operator the kernels cannot run as TFLite Micro would; the message names it."""


def _round_half_away(x: float) -> int:
    return int(math.copysign(math.floor(abs(x) + 0.5), x))


def quantize_multiplier(real: float) -> tuple[int, int]:
    """TFLite QuantizeMultiplier in its default (double-rounding) build.

    Unlike :func:`dtmm.tflite.model.quantize_multiplier` this does not
    saturate shifts above 30 (TFLite only does that with
    TFLITE_SINGLE_ROUNDING); callers that hand the result to
    MultiplyByQuantizedMultiplier check the range themselves.
    """
    if real == 0.0:
        return 0, 0
    frac, shift = math.frexp(real)
    q = _round_half_away(frac * (1 << 31))
    if q == 1 << 31:
        q //= 2
        shift += 1
    if shift < -31:
        return 0, 0
    return q, shift


def quantize_multiplier_smaller_than_one_exp(real: float, what: str) -> tuple[int, int]:
    """QuantizeMultiplierSmallerThanOneExp: 0 < real < 1, shift <= 0 (TFLite aborts otherwise)."""
    if not 0.0 < real < 1.0:
        raise LoweringError(f"{what}: rescale factor {real!r} is not in (0, 1) as TFLite requires")
    m, s = quantize_multiplier(real)
    if s > 0:
        raise LoweringError(f"{what}: rescale factor {real!r} gives a positive shift")
    return m, s


def quantize_multiplier_greater_than_one(real: float, what: str) -> tuple[int, int]:
    """QuantizeMultiplierGreaterThanOne: real > 1, shift >= 0."""
    if not real > 1.0:
        raise LoweringError(f"{what}: rescale factor {real!r} is not above 1 as TFLite requires")
    m, s = quantize_multiplier(real)
    if s < 0:
        raise LoweringError(f"{what}: rescale factor {real!r} gives a negative shift")
    return m, s


def check_mbqm_shift(shift: int, what: str) -> None:
    """MultiplyByQuantizedMultiplier is only defined for shifts in [-31, 30]."""
    if not -31 <= shift <= 30:
        raise LoweringError(f"{what}: requantization shift {shift} is outside [-31, 30]")


def fold_input_offset(bias, weights, input_offset: int) -> np.ndarray:
    """bias + input_offset * (sum of each output's weights), int32 wrap-around like the C code: with it
    sum w*(x + input_offset) + bias becomes the plain sum w*x + folded (weights: [cout, ...])."""
    w = np.asarray(weights, np.int64).reshape(len(bias), -1)
    folded = np.asarray(bias, np.int64) + int(input_offset) * w.sum(axis=1)
    return (((folded + (1 << 31)) % (1 << 32)) - (1 << 31)).astype(np.int32)


def _weighted_multiplier(real: float) -> tuple[int, int]:
    """A conv / fully connected scale ratio: refused from 2^30 up (TFLite's shift would exceed 30 and its int32
    arithmetic overflow: no result is defined)."""
    if not (math.isfinite(real) and real < 2.0**30):
        raise LoweringError(f"requantization scale {real:.3g} (input * weight / output scale) is 2^30 or more; "
                            "TFLite's int32 arithmetic overflows there")
    return quantize_multiplier(real)


def conv_multipliers(in_scale: float, filter_scales, out_scale: float, n: int) -> tuple[np.ndarray, np.ndarray]:
    """PopulateConvolutionQuantizationParams: per-channel double(in)*double(f)/double(out)."""
    scales = list(filter_scales) if len(filter_scales) > 1 else [filter_scales[0]] * n
    mult = np.zeros(n, dtype=np.int64)
    shift = np.zeros(n, dtype=np.int64)
    for i, fs in enumerate(scales):
        mult[i], shift[i] = _weighted_multiplier(float(in_scale) * float(fs) / float(out_scale))
    return mult, shift


def fc_per_tensor_multiplier(in_scale: float, filter_scale: float, out_scale: float) -> tuple[int, int]:
    """GetQuantizedConvolutionMultipler: the scale product is taken in float32, then divided in double."""
    product = float(np.float32(in_scale) * np.float32(filter_scale))
    return _weighted_multiplier(product / float(out_scale))


def add_params(s1: float, s2: float, s_out: float, what: str) -> dict:
    """CalculateOpDataAdd for int8: left shift 20 and three rescale factors below one."""
    left_shift = 20
    twice_max = 2.0 * float(max(np.float32(s1), np.float32(s2)))
    m1, sh1 = quantize_multiplier_smaller_than_one_exp(float(s1) / twice_max, f"{what} input 1")
    m2, sh2 = quantize_multiplier_smaller_than_one_exp(float(s2) / twice_max, f"{what} input 2")
    mo, sho = quantize_multiplier_smaller_than_one_exp(twice_max / ((1 << left_shift) * float(s_out)), f"{what} output")
    return {
        "left_shift": left_shift,
        "input1_multiplier": m1, "input1_shift": sh1,
        "input2_multiplier": m2, "input2_shift": sh2,
        "output_multiplier": mo, "output_shift": sho,
    }  # fmt: skip


SOFTMAX_SCALED_DIFF_INTEGER_BITS = 5


def softmax_params(beta: float, in_scale: float, what: str) -> dict:
    """PreprocessSoftmaxScaling(beta, input_scale, 5) and diff_min = -CalculateInputRadius(5, left_shift)."""
    bits = SOFTMAX_SCALED_DIFF_INTEGER_BITS
    max_real = float((1 << 31) - 1)
    real = min(float(beta) * float(in_scale) * float(1 << (31 - bits)), max_real)
    mult, left_shift = quantize_multiplier_greater_than_one(real, what)
    radius = math.floor(1.0 * ((1 << bits) - 1) * float(1 << (31 - bits)) / float(1 << left_shift))
    return {"input_multiplier": mult, "input_left_shift": left_shift, "diff_min": -int(radius)}


def mean_params(in_scale: float, out_scale: float, count: int, what: str) -> tuple[int, int]:
    """QuantizedMeanOrSum: QuantizeMultiplier(in/out), then folded with 1/count as TFLite does at Eval."""
    mult, shift = quantize_multiplier(float(in_scale) / float(out_scale))
    if count > 0:
        s = count.bit_length() - 1  # 63 - CountLeadingZeros(uint64 count)
        s = min(s, 32)
        s = min(s, 31 + shift)
        mult = (mult << s) // count  # non-negative: C++ truncation == floor
        shift = shift - s
    check_mbqm_shift(shift, what)
    return mult, shift


def requantize_params(in_scale: float, out_scale: float, what: str) -> tuple[int, int]:
    """PrepareQuantizeReference for int8 -> int8: QuantizeMultiplier(double(in)/double(out))."""
    m, s = quantize_multiplier(float(in_scale) / float(out_scale))
    check_mbqm_shift(s, what)
    return m, s
