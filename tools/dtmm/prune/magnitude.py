"""Magnitude pruning of whole filterlets in a .tflite, for size studies and golden models.

This is not a training-time pruner: it zeroes the smallest-L1 filterlets of
the int8 weights directly, so `dtmm inspect` and the reference tests can see
what the FWCS index costs at a given sparsity.
"""
from __future__ import annotations

import numpy as np

from ..errors import DtmmError
from ..tflite.model import TfliteModel, conv_layers, replace_conv_weights


def _check_fraction(fraction: float) -> None:
    if not 0.0 <= fraction <= 1.0:
        raise DtmmError(f"prune fraction {fraction} is not in [0, 1]")


def magnitude_keep_mask(weights: np.ndarray, fraction: float) -> np.ndarray:
    """Keep mask [cout, kh, kw] dropping floor(fraction * cout*kh*kw) filterlets of smallest L1 norm.

    Ties are broken by storage order (lower (o, kh, kw) index drops first) so the result is deterministic.
    """
    _check_fraction(fraction)
    w = np.asarray(weights)
    l1 = np.abs(w.astype(np.int64)).sum(axis=3).reshape(-1)
    n_drop = int(np.floor(fraction * l1.size + 1e-9))
    order = np.argsort(l1, kind="stable")
    keep = np.ones(l1.size, dtype=bool)
    keep[order[:n_drop]] = False
    return keep.reshape(w.shape[:3])


def prune_filterlets(model: TfliteModel | bytes, fraction: float, kernel: tuple[int, int] = (3, 3)) -> bytes:
    """Model bytes with `fraction` of the filterlets of every kh x kw CONV_2D zeroed by magnitude."""
    _check_fraction(fraction)
    if not isinstance(model, TfliteModel):
        model = TfliteModel(model)
    new = {}
    for layer in conv_layers(model):
        if (layer.spec.kh, layer.spec.kw) == tuple(kernel):
            keep = magnitude_keep_mask(layer.weights, fraction)
            new[layer.op_index] = np.where(keep[..., None], layer.weights, 0).astype(np.int8)
    return replace_conv_weights(model, new)
