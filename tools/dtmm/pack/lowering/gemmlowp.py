"""gemmlowp's int32 fixed-point logistic and tanh, element for element as TFLite Micro runs them.

TFLite Micro's int8 LOGISTIC and TANH evaluate ``gemmlowp::logistic`` and
``gemmlowp::tanh`` on a Q4.27 input; :mod:`.lookup_tables` evaluates them
here once per int8 input value to build the op's 256-entry table. Values are
int32 raws held in int64 numpy arrays; every add, subtract and negate wraps
to int32 as the C++ code does in practice. A ``FixedPoint<int32_t, ib>`` is a
raw plus its integer bits ``ib`` (fractional bits ``31 - ib``), passed
alongside.
"""
from __future__ import annotations

import numpy as np

from ...formats.fwcs.reference import _wrap_i32, rounding_divide_by_pot, saturating_rounding_doubling_high_mul

_I32_MAX = (1 << 31) - 1
_I32_MIN = -(1 << 31)

#: exp(-2^k) in Q0.31 for k = -2 .. 4: the barrel shifter of exp_on_negative_values
_EXP_OF_NEG_POT = ((-2, 1672461947), (-1, 1302514674), (0, 790015084), (1, 290630308), (2, 39332535),
                   (3, 720401), (4, 242))  # fmt: skip


def _i64(x) -> np.ndarray:
    return np.asarray(x, dtype=np.int64)


def _mul(a, b) -> np.ndarray:
    """FixedPoint product (integer bits add): SaturatingRoundingDoublingHighMul of the raws."""
    return saturating_rounding_doubling_high_mul(_i64(a), _i64(b))


def _rdbp(x, exponent: int) -> np.ndarray:
    return rounding_divide_by_pot(_i64(x), np.int64(exponent))


def saturating_rounding_multiply_by_pot(x, exponent: int) -> np.ndarray:
    """x * 2^exponent: a saturating left shift, or a rounding right shift for exponent < 0."""
    x = _i64(x)
    if exponent == 0:
        return x
    if exponent < 0:
        return _rdbp(x, -exponent)
    threshold = (1 << (31 - exponent)) - 1
    return np.where(x > threshold, _I32_MAX, np.where(x < -threshold, _I32_MIN, x << exponent))


def rescale(x, src_bits: int, dst_bits: int) -> np.ndarray:
    """Rescale<dst_bits>(FixedPoint<int32_t, src_bits>)."""
    return saturating_rounding_multiply_by_pot(x, src_bits - dst_bits)


def rounding_half_sum(a, b) -> np.ndarray:
    """(a + b) / 2 rounded half away from zero, computed in 64 bits."""
    s = _i64(a) + _i64(b)
    t = s + np.where(s >= 0, 1, -1)
    return np.where(t >= 0, t // 2, -((-t) // 2))


def exp_on_interval_between_negative_one_quarter_and_0_excl(a) -> np.ndarray:
    """exp(a) for a in [-1/4, 0), Q0.31 in and out: a Taylor expansion around -1/8."""
    constant_term = 1895147668  # exp(-1/8)
    constant_1_over_3 = 715827883
    x = _wrap_i32(_i64(a) + (1 << 28))
    x2 = _mul(x, x)
    x3 = _mul(x2, x)
    x4 = _mul(x2, x2)
    x4_over_4 = _rdbp(x4, 2)
    poly = _rdbp(_wrap_i32(_mul(_wrap_i32(x4_over_4 + x3), constant_1_over_3) + x2), 1)
    return _wrap_i32(constant_term + _mul(constant_term, _wrap_i32(x + poly)))


def exp_on_negative_values(a, integer_bits: int) -> np.ndarray:
    """exp(a) for a <= 0 given with `integer_bits`, as Q0.31."""
    a = _i64(a)
    frac_bits = 31 - integer_bits
    one_quarter = 1 << (frac_bits - 2)
    a_mod_quarter_minus_one_quarter = _wrap_i32((a & (one_quarter - 1)) - one_quarter)
    result = exp_on_interval_between_negative_one_quarter_and_0_excl(
        rescale(a_mod_quarter_minus_one_quarter, integer_bits, 0)
    )
    remainder = _wrap_i32(a_mod_quarter_minus_one_quarter - a)
    for exponent, multiplier in _EXP_OF_NEG_POT:
        if integer_bits > exponent:
            bit = 1 << (frac_bits + exponent)
            result = np.where((remainder & bit) != 0, _mul(result, multiplier), result)
    if integer_bits > 5:
        result = np.where(a < -(1 << (36 - integer_bits)), 0, result)
    return np.where(a == 0, _I32_MAX, result)


def _newton_raphson_reciprocal_of_half_denominator(a) -> np.ndarray:
    """x ~ 1 / ((1 + a) / 2) in Q2.29 for a in (0, 1) Q0.31: three Newton-Raphson steps from 48/17 - 32/17 d."""
    half_denominator = rounding_half_sum(a, _I32_MAX)
    x = _wrap_i32(1515870810 + _mul(half_denominator, -1010580540))
    one_q2 = 1 << 29
    for _ in range(3):
        one_minus = _wrap_i32(one_q2 - _mul(half_denominator, x))
        x = _wrap_i32(x + rescale(_mul(x, one_minus), 4, 2))
    return x


def one_over_one_plus_x_for_x_in_0_1(a) -> np.ndarray:
    """1 / (1 + a), Q0.31 in and out."""
    return rescale(_newton_raphson_reciprocal_of_half_denominator(a), 1, 0)


def one_minus_x_over_one_plus_x_for_x_in_0_1(a) -> np.ndarray:
    """(1 - a) / (1 + a), Q0.31 in and out."""
    return rescale(_wrap_i32(_newton_raphson_reciprocal_of_half_denominator(a) - (1 << 29)), 2, 0)


def logistic(a, integer_bits: int) -> np.ndarray:
    """gemmlowp::logistic: 1 / (1 + exp(-a)) as Q0.31."""
    a = _i64(a)
    positive = a > 0
    abs_a = np.where(positive, a, _wrap_i32(-a))
    if_positive = one_over_one_plus_x_for_x_in_0_1(exp_on_negative_values(_wrap_i32(-abs_a), integer_bits))
    if_negative = _wrap_i32(_I32_MAX - if_positive)
    return np.where(a == 0, 1 << 30, np.where(positive, if_positive, if_negative))


def tanh(a, integer_bits: int) -> np.ndarray:
    """gemmlowp::tanh as Q0.31 (the negative half is evaluated on 2a, one more integer bit)."""
    a = _i64(a)
    negative = a < 0
    n = np.where(negative, a, _wrap_i32(-a))
    t = one_minus_x_over_one_plus_x_for_x_in_0_1(exp_on_negative_values(n, integer_bits + 1))
    return np.where(a == 0, 0, np.where(negative, _wrap_i32(-t), t))
