"""numpy int8 reference for one FWCS layer: the golden model the C kernels are tested against.

It reads only the packed blob (index + kept filterlets), so it checks the
format as much as the arithmetic, and follows TFLite's reference integer
conv: int32 accumulation of w * (x + input_offset), bias, per-channel
MultiplyByQuantizedMultiplier with the default double rounding, output
offset, clamp. Work is vectorised over output pixels, one kernel position at
a time.
"""
from __future__ import annotations

import numpy as np

from .codec import FwcsError, FwcsLayer, decode

_I32_MIN = -(1 << 31)
_I32_MAX = (1 << 31) - 1


def _wrap_i32(x: np.ndarray) -> np.ndarray:
    """Two's-complement wrap to int32 (what the C code's int32 arithmetic does), kept in int64."""
    return ((x.astype(np.int64) + (1 << 31)) & 0xFFFFFFFF) - (1 << 31)


def saturating_rounding_doubling_high_mul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """High 32 bits of 2*a*b, rounded half away from zero; the single overflow case saturates."""
    a = np.asarray(a, dtype=np.int64)
    b = np.asarray(b, dtype=np.int64)
    overflow = (a == _I32_MIN) & (b == _I32_MIN)
    ab = a * b  # |a*b| <= 2^62: exact in int64
    nudge = np.where(ab >= 0, np.int64(1 << 30), np.int64(1 - (1 << 30)))
    s = ab + nudge
    high = np.where(s >= 0, s >> 31, -((-s) >> 31))  # C division truncates toward zero
    return np.where(overflow, np.int64(_I32_MAX), high)


def rounding_divide_by_pot(x: np.ndarray, exponent: np.ndarray) -> np.ndarray:
    """x / 2^exponent rounded to nearest, halves away from zero."""
    x = np.asarray(x, dtype=np.int64)
    e = np.asarray(exponent, dtype=np.int64)
    mask = (np.int64(1) << e) - 1
    remainder = x & mask
    threshold = (mask >> 1) + (x < 0)
    return (x >> e) + (remainder > threshold)


def multiply_by_quantized_multiplier(x, multiplier, shift) -> np.ndarray:
    """TFLite MultiplyByQuantizedMultiplier (double rounding); broadcasts over the last axis."""
    shift = np.asarray(shift, dtype=np.int64)
    left = np.maximum(shift, 0)
    right = np.maximum(-shift, 0)
    shifted = _wrap_i32(np.asarray(x, dtype=np.int64) << left)
    return rounding_divide_by_pot(saturating_rounding_doubling_high_mul(shifted, multiplier), right)


def conv2d(blob: bytes | FwcsLayer, x: np.ndarray) -> np.ndarray:
    """Run one packed layer on int8 NHWC input [N, in_h, in_w, cin]; returns int8 [N, out_h, out_w, cout]."""
    layer = blob if isinstance(blob, FwcsLayer) else decode(blob)
    s = layer.spec
    x = np.asarray(x)
    if x.dtype != np.int8 or x.ndim != 4 or x.shape[1:] != (s.in_h, s.in_w, s.cin):
        raise FwcsError(
            f"reference conv2d: input must be int8 [N, {s.in_h}, {s.in_w}, {s.cin}], got {x.dtype} {list(x.shape)}"
        )
    n = x.shape[0]
    oh, ow = s.out_h, s.out_w
    # Zero padding *after* adding input_offset: padded taps contribute nothing, as in TFLite.
    hp = max(s.in_h + s.pad_top, (oh - 1) * s.stride_h + (s.kh - 1) * s.dilation_h + 1)
    wp = max(s.in_w + s.pad_left, (ow - 1) * s.stride_w + (s.kw - 1) * s.dilation_w + 1)
    xp = np.zeros((n, hp, wp, s.cin), dtype=np.int64)
    xp[:, s.pad_top : s.pad_top + s.in_h, s.pad_left : s.pad_left + s.in_w, :] = x.astype(np.int64) + s.input_offset

    acc = np.zeros((n * oh * ow, s.cout), dtype=np.int64)
    pos = layer.positions  # (o, kh_i, kw_i) of each stored filterlet, in storage order
    packed = layer.packed.astype(np.int64)
    flat_pos = pos[:, 1] * s.kw + pos[:, 2]
    for p in np.unique(flat_pos):
        rows = np.flatnonzero(flat_pos == p)
        i, j = divmod(int(p), s.kw)
        r0, c0 = i * s.dilation_h, j * s.dilation_w
        rows_end, cols_end = r0 + (oh - 1) * s.stride_h + 1, c0 + (ow - 1) * s.stride_w + 1
        patch = xp[:, r0 : rows_end : s.stride_h, c0 : cols_end : s.stride_w]
        acc[:, pos[rows, 0]] += patch.reshape(-1, s.cin) @ packed[rows].T  # filters are unique per position

    acc = _wrap_i32(_wrap_i32(acc) + layer.bias.astype(np.int64))
    out = multiply_by_quantized_multiplier(acc, layer.multiplier, layer.shift) + s.output_offset
    out = np.clip(out, s.act_min, s.act_max).astype(np.int8)
    return out.reshape(n, oh, ow, s.cout)
