"""Pattern storage of one int8 CONV_2D: the `pattern` baseline (PatDNN-style; docs/baselines.md).

Every kept kernel W[o, :, :, ci] keeps the taps of one of the layer's
patterns (PatDNN: 4 of a 3x3 kernel's 9 positions, at most 16 patterns per
layer here); connectivity pruning removes whole kernels. Like PatDNN's FKW
format, kernels are stored grouped -- here by input channel, then pattern --
so a kernel's index is just its output channel, and the kernel
(``dtmm_pattern_conv_s8``) gathers one group's input taps once for all of its
filters. Sections, as `dtmm pack` emits them:

* ``positions`` uint8 [n_patterns][n_taps] and ``tap_offsets`` int32
  (the same taps as offsets into an NHWC input window);
* ``counts`` [cin][n_patterns] kept kernels per group (uint8 when
  cout <= 255, else uint16);
* ``filters`` the output channel of each kept kernel (uint8 when cout <= 256,
  else uint16);
* ``weights`` int8 [n_kept][n_taps].

``layer_bytes`` is exact, params struct and int32 bias/multiplier/shift
included. ``encode`` reads the pattern set back from the int8 zeros: the
distinct supports of the fullest kernels, plus one padded pattern for any
smaller support no pattern covers (a weight int8 rounding made zero).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .fwcs import ConvSpec
from .sparse import folded_bias

MAX_PATTERNS = 16
MAX_TAPS = 16
MAX_POSITIONS = 256
#: 4-byte members of dtmm_pattern_conv_s8_params (10 pointers, 20 int32)
PARAM_MEMBERS = 30
PARAM_BYTES = 4 * PARAM_MEMBERS


class PatternError(ValueError):
    """The layer's zeros do not form patterns this storage can hold; the message says why."""


def layer_bytes(spec: ConvSpec, n_kept: int, n_patterns: int, n_taps: int) -> int:
    """Exact flash bytes of a pattern layer."""
    count_size = 1 if spec.cout <= 255 else 2
    filter_size = 1 if spec.cout <= 256 else 2
    return (PARAM_BYTES + 12 * spec.cout + 5 * n_patterns * n_taps + count_size * spec.cin * n_patterns
            + max(n_kept, 1) * filter_size + max(n_kept * n_taps, 1))  # fmt: skip


@dataclass(frozen=True)
class PatternConv:
    """One encoded layer: the arrays `dtmm pack` emits."""

    patterns: np.ndarray  # uint8 [n_patterns, n_taps] positions ky*kw + kx
    tap_offsets: np.ndarray  # int32 [n_patterns, n_taps]
    counts: np.ndarray  # uint8/uint16 [cin * n_patterns]
    filters: np.ndarray  # uint8/uint16 [n_kept]
    weights: np.ndarray  # int8 [n_kept * n_taps]
    bias: np.ndarray  # int32 [cout], input offset folded in

    @property
    def n_patterns(self) -> int:
        return int(self.patterns.shape[0])

    @property
    def n_taps(self) -> int:
        return int(self.patterns.shape[1])

    @property
    def n_kept(self) -> int:
        return int(self.filters.size)


def supports(weights: np.ndarray) -> np.ndarray:
    """bool [cout, cin, kh*kw]: the nonzero taps of every kernel (o, ci) of int8 OHWI weights."""
    w = np.asarray(weights)
    cout, kh, kw, cin = w.shape
    return (w != 0).transpose(0, 3, 1, 2).reshape(cout, cin, kh * kw)


def pattern_set(sup: np.ndarray) -> np.ndarray:
    """bool [n_patterns, kh*kw] covering every nonempty support (see the module docstring).

    Raises PatternError when more than MAX_PATTERNS patterns or MAX_TAPS taps are needed."""
    flat = sup.reshape(-1, sup.shape[-1])
    sizes = flat.sum(axis=1)
    kept = flat[sizes > 0]
    if not len(kept):
        return np.zeros((1, sup.shape[-1]), dtype=bool) | (np.arange(sup.shape[-1]) == 0)
    n_taps = int(sizes.max())
    if n_taps > MAX_TAPS:
        raise PatternError(f"kernels keep up to {n_taps} taps; pattern storage holds at most {MAX_TAPS}")
    full, counts = np.unique(kept[kept.sum(axis=1) == n_taps], axis=0, return_counts=True)
    order = sorted(range(len(full)), key=lambda i: (-counts[i], tuple(np.flatnonzero(full[i]))))
    pats = [full[i] for i in order]
    for s in np.unique(kept[kept.sum(axis=1) < n_taps], axis=0):
        if not any((s <= p).all() for p in pats):
            pad = s.copy()
            pad[np.flatnonzero(~s)[: n_taps - int(s.sum())]] = True
            pats.append(pad)
    if len(pats) > MAX_PATTERNS:
        raise PatternError(f"kernels use {len(pats)} distinct patterns; pattern storage holds at most {MAX_PATTERNS}")
    return np.array(pats, dtype=bool)


def stored_bytes(spec: ConvSpec, weights: np.ndarray) -> int | None:
    """Exact flash bytes of the layer in this storage (``layer_bytes``), or None when its zeros do not form
    patterns it can hold."""
    if spec.positions > MAX_POSITIONS:
        return None
    sup = supports(weights)
    try:
        pats = pattern_set(sup)
    except PatternError:
        return None
    return layer_bytes(spec, int(sup.any(axis=2).sum()), len(pats), int(pats[0].sum()))


def encode(weights: np.ndarray, bias: np.ndarray, spec: ConvSpec) -> PatternConv:
    """Encode int8 OHWI weights whose nonzeros form patterns; raises PatternError otherwise."""
    w = np.asarray(weights, dtype=np.int8)
    if w.shape != spec.weight_shape:
        raise ValueError(f"weights have shape {w.shape}, expected {spec.weight_shape}")
    if spec.positions > MAX_POSITIONS:
        raise PatternError(f"a {spec.kh}x{spec.kw} kernel has more than {MAX_POSITIONS} positions")
    sup = supports(w)
    pats = pattern_set(sup)
    n_p, P = pats.shape[0], spec.positions
    positions = np.array([np.flatnonzero(p) for p in pats], dtype=np.int64)  # [n_p, n_taps]
    ky, kx = positions // spec.kw, positions % spec.kw
    offsets = (ky * spec.dilation_h * spec.in_w + kx * spec.dilation_w) * spec.cin
    # the first pattern covering each kernel's support
    covers = (sup[:, :, None, :] <= pats[None, None, :, :]).all(axis=3)  # [cout, cin, n_p]
    pid = np.argmax(covers, axis=2)
    kept = sup.any(axis=2)
    wk = w.transpose(0, 3, 1, 2).reshape(spec.cout, spec.cin, P)  # [o, ci, position]
    counts = np.zeros((spec.cin, n_p), dtype=np.int64)
    filters, values = [], []
    for ci in range(spec.cin):
        for p in range(n_p):
            os_ = np.flatnonzero(kept[:, ci] & (pid[:, ci] == p))
            counts[ci, p] = len(os_)
            filters.extend(os_.tolist())
            values.extend(wk[os_, ci][:, positions[p]].reshape(-1).tolist())
    return PatternConv(
        patterns=positions.astype(np.uint8),
        tap_offsets=offsets.astype(np.int32),
        counts=counts.reshape(-1).astype(np.uint8 if spec.cout <= 255 else np.uint16),
        filters=np.array(filters, dtype=np.uint8 if spec.cout <= 256 else np.uint16),
        weights=np.array(values, dtype=np.int8),
        bias=folded_bias(w, bias, spec.input_offset),
    )


def decode(layer: PatternConv, spec: ConvSpec) -> np.ndarray:
    """The int8 OHWI weights back (for tests)."""
    wk = np.zeros((spec.cout, spec.cin, spec.positions), dtype=np.int8)
    k = 0
    counts = layer.counts.reshape(spec.cin, layer.n_patterns)
    vals = layer.weights.reshape(-1, layer.n_taps) if layer.n_kept else layer.weights.reshape(0, layer.n_taps)
    for ci in range(spec.cin):
        for p in range(layer.n_patterns):
            for _ in range(int(counts[ci, p])):
                wk[int(layer.filters[k]), ci, layer.patterns[p].astype(np.int64)] = vals[k]
                k += 1
    return wk.reshape(spec.cout, spec.cin, spec.kh, spec.kw).transpose(0, 2, 3, 1)
