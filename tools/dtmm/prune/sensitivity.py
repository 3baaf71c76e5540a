"""Per-layer sensitivity: how far each layer's importance scores under- or over-state what pruning it costs.

Importance scores are local estimates (a first-order Taylor term, or a
norm); large removals from one layer cost more -- or less -- than the sum of
its scores says, and by a different factor in each layer, so a global greedy
plan over raw scores thins some layers too hard. For every Conv2D we remove
its weakest `probe` fraction of (not yet pruned) filterlets, by the scores themselves, measure
the loss increase on the calibration split (inference mode) and divide it by
the scores removed. The layer's factor is that ratio over the geometric mean
of all layers' ratios (clipped to [1/CLIP, CLIP]); its filterlet scores, and
the scores of the channel classes it produces, are multiplied by it. Layers
keep their internal order; only the exchange rate between layers changes.
"""
from __future__ import annotations

from dataclasses import replace

import numpy as np

from .data import preprocess
from .importance import Importance, make_loss

PROBE_FRACTION = 0.5  # of a layer's filterlets removed to measure it (the regime deep budgets reach)
CLIP = 8.0
BATCH = 250


def calibration_loss(model, loss_fn, x, y, preprocess_mode: str) -> float:
    """Mean loss of `model` (inference mode) over (x, y)."""
    import tensorflow as tf

    total = 0.0
    for s in range(0, len(y), BATCH):
        xb = tf.constant(preprocess(x[s : s + BATCH], preprocess_mode))
        yb = tf.constant(np.asarray(y[s : s + BATCH], dtype=np.int64))
        total += float(loss_fn(yb, model(xb, training=False)))
    return total / max(len(y), 1)


def layer_factors(analysis, imp: Importance, x, y, *, probe: float = PROBE_FRACTION,
                  preprocess_mode: str = "raw") -> dict[str, float]:  # fmt: skip
    """Each Conv2D's factor: (measured loss increase / scores removed), normalized across layers."""
    model = analysis.model
    loss_fn = make_loss(analysis, reduction="sum")
    base = calibration_loss(model, loss_fn, x, y, preprocess_mode)
    measured_removed = {}
    for name, scores in imp.filterlet.items():
        kernel = model.get_layer(name).kernel
        saved = kernel.numpy()
        flat = scores.reshape(-1)
        alive = np.flatnonzero(np.abs(saved).sum(axis=2).transpose(2, 0, 1).reshape(-1) > 0)  # not yet pruned
        if alive.size == 0:
            continue
        n = max(1, int(probe * alive.size))
        weakest = alive[np.argsort(flat[alive], kind="stable")[:n]]
        o, kh, kw = np.unravel_index(weakest, scores.shape)
        probe_w = saved.copy()
        probe_w[kh, kw, :, o] = 0.0
        kernel.assign(probe_w)
        try:
            measured = calibration_loss(model, loss_fn, x, y, preprocess_mode) - base
        finally:
            kernel.assign(saved)
        measured_removed[name] = (measured, float(flat[weakest].sum()))
    if not measured_removed:
        return {}
    # a removal that does not raise the loss (noise, or a layer that does not matter) counts as a small
    # one: 1% of the costliest layer's, so one lucky probe cannot dominate the normalization
    floor = 0.01 * max(max(m for m, _ in measured_removed.values()), 1e-9)
    ratios = {k: max(m, floor) / max(r, 1e-12) for k, (m, r) in measured_removed.items()}
    centre = float(np.exp(np.mean(np.log(list(ratios.values())))))
    return {k: float(np.clip(v / centre, 1.0 / CLIP, CLIP)) for k, v in ratios.items()}


def fold_sensitivity(analysis, imp: Importance, factors: dict[str, float]) -> Importance:
    """`imp` with each Conv2D's filterlet and channel-group scores, and its channel classes' scores, scaled by its factor.

    A channel class produced by several layers (a residual group) takes the mean of their factors; classes
    no Conv2D produces (Dense units) keep theirs."""
    filterlet = {k: v * factors.get(k, 1.0) for k, v in imp.filterlet.items()}
    group = {k: v * factors.get(k, 1.0) for k, v in imp.group.items()}
    total = np.zeros(len(imp.channel))
    count = np.zeros(len(imp.channel))
    for name, f in factors.items():
        ids = analysis.class_ids(analysis.layers[name].out_maps[0])
        ids = np.unique(ids[ids >= 0])
        total[ids] += f
        count[ids] += 1
    scale = np.where(count > 0, total / np.maximum(count, 1), 1.0)
    return replace(imp, filterlet=filterlet, channel=imp.channel * scale, group=group)
