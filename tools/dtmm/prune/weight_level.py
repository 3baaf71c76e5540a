"""Weight-level pruning plans of the `pattern` and `unstructured` baseline methods (docs/baselines.md).

Both keep every layer's shape and prune by masks, to a flash budget counted
exactly as `dtmm pack --conv-storage pattern|sparse` stores the result (each
conv in the smaller of its FWCS blob and the baseline's storage; layers the
method does not prune at their dense size).

* ``unstructured`` -- magnitude pruning of single weights in every Conv2D,
  one sparsity for all of them (Zhu & Gupta's uniform schedule), chosen by
  bisection so the model fits the budget. Dense and depthwise layers stay
  dense (their kernels have no sparse path).
* ``pattern`` -- PatDNN (Niu et al., ASPLOS 2020): in every Conv2D larger
  than 2x2, each kernel W[:, :, ci, o] keeps the 4 taps of one pattern from a
  per-layer set of 8, the most frequent top-4 shapes of the layer's kernels,
  each kernel taking the pattern that keeps most of its energy (sum of w^2);
  then connectivity pruning removes the kernels with the least kept energy,
  the same fraction in every layer, chosen by bisection for the budget.
  1x1 convs, dense and depthwise layers stay dense (PatDNN's patterns are for
  3x3 kernels).

Weights an earlier stage removed stay removed (``previous``).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..formats import fwcs, pattern, sparse
from ..pack.lowering.baseline_conv import STORAGE_OF_METHOD, offered_bytes
from . import costs
from .graph import GraphAnalysis
from .plan import BudgetError

WEIGHT_METHODS = ("pattern", "unstructured")
#: what a plan's `ratio` is the fraction of
RATIO_OF = {"unstructured": "weights removed", "pattern": "kernels removed"}
PATTERNS_PER_LAYER = 8
PATTERN_TAPS = 4
_BISECTION_STEPS = 40


@dataclass
class WeightPlan:
    method: str
    masks: dict[str, np.ndarray]  # pruned layer -> bool keep mask of its Keras (HWIO) kernel
    layer_bytes: dict[str, int]  # every pruned layer, in the storage `dtmm pack` picks
    other_bytes: int  # layers the method leaves dense
    ratio: float  # unstructured: fraction of weights removed; pattern: fraction of kernels removed
    budget: int

    @property
    def packed_bytes(self) -> int:
        return sum(self.layer_bytes.values()) + self.other_bytes


def prunable_layers(analysis: GraphAnalysis, method: str) -> list[str]:
    convs = analysis.conv_layers()
    if method == "unstructured":
        return convs
    return [n for n in convs if analysis.geometry(n).kh * analysis.geometry(n).kw > PATTERN_TAPS]


def _spec(analysis: GraphAnalysis, name: str) -> fwcs.ConvSpec:
    g = analysis.geometry(name)
    return costs.conv_spec(g, g.cout, g.cin)


def _ohwi(mask_hwio: np.ndarray) -> np.ndarray:
    return np.transpose(mask_hwio, (3, 0, 1, 2))


def storage_bytes(method: str, spec: fwcs.ConvSpec, keep_ohwi: np.ndarray) -> int:
    """Exact bytes of a conv with these kept weights, as `dtmm pack --conv-storage` for the method stores it."""
    return min(offered_bytes(spec, keep_ohwi, STORAGE_OF_METHOD[method]).values())


# --------------------------------------------------------------------------- unstructured


def _keep_top(scores: np.ndarray, k: int) -> np.ndarray:
    flat = scores.reshape(-1)
    keep = np.zeros(flat.size, dtype=bool)
    keep[np.argsort(-flat, kind="stable")[:k]] = True
    return keep.reshape(scores.shape)


def _unstructured_counts(sizes: dict[str, int], sparsity: float) -> dict[str, int]:
    return {n: max(1, int(np.ceil((1.0 - sparsity) * s - 1e-9))) for n, s in sizes.items()}


def _plan_unstructured(analysis, layers, kernels, previous, budget, other):
    specs = {n: _spec(analysis, n) for n in layers}
    sizes = {n: kernels[n].size for n in layers}
    dense = {n: costs.conv_bytes(analysis.geometry(n), specs[n].cout, specs[n].cin, specs[n].n_filterlets)
             for n in layers}  # fmt: skip

    def total(s: float) -> int:  # FWCS taken as dense here: exact bytes are only ever smaller
        counts = _unstructured_counts(sizes, s)
        return other + sum(min(dense[n], sparse.layer_bytes(specs[n], counts[n])) for n in layers)

    ratio = _bisect(total, budget, "unstructured", "every conv down to one weight")
    counts = _unstructured_counts(sizes, ratio)
    masks = {}
    for n in layers:
        score = np.abs(kernels[n]) * (previous[n] if n in previous else 1.0)
        masks[n] = _keep_top(score, counts[n])
    return masks, ratio


# --------------------------------------------------------------------------- pattern


def layer_patterns(kernel_hwio: np.ndarray, previous: np.ndarray | None = None):
    """(patterns bool [P, kh*kw], kept energy per kernel [cout, cin], pattern mask HWIO) of one conv."""
    kh, kw, cin, cout = kernel_hwio.shape
    w2 = np.square(kernel_hwio.astype(np.float64))
    if previous is not None:
        w2 = w2 * previous
    per_kernel = w2.transpose(3, 2, 0, 1).reshape(cout, cin, kh * kw)
    top = np.argsort(-per_kernel, axis=2, kind="stable")[..., :PATTERN_TAPS]
    shapes = np.zeros(per_kernel.shape, dtype=bool)
    np.put_along_axis(shapes, top, True, axis=2)
    alive = per_kernel.sum(axis=2) > 0
    cand = shapes[alive] if alive.any() else shapes.reshape(-1, kh * kw)
    uniq, counts = np.unique(cand, axis=0, return_counts=True)
    order = sorted(range(len(uniq)), key=lambda i: (-counts[i], tuple(np.flatnonzero(uniq[i]))))
    pats = uniq[order[:PATTERNS_PER_LAYER]]
    energy_each = np.einsum("ocp,kp->ock", per_kernel, pats.astype(np.float64))  # [cout, cin, P]
    best = np.argmax(energy_each, axis=2)
    energy = np.take_along_axis(energy_each, best[..., None], axis=2)[..., 0]
    keep = pats[best]  # [cout, cin, kh*kw]
    mask = keep.reshape(cout, cin, kh, kw).transpose(2, 3, 1, 0)
    if previous is not None:
        mask = mask & previous.astype(bool)
    return pats, energy, mask


def _connectivity_counts(n_kernels: dict[str, int], ratio: float) -> dict[str, int]:
    return {n: max(1, n_kernels[n] - int(np.floor(ratio * k + 1e-9))) for n, k in n_kernels.items()}


def _plan_pattern(analysis, layers, kernels, previous, budget, other):
    specs = {n: _spec(analysis, n) for n in layers}
    found = {n: layer_patterns(kernels[n], previous.get(n)) for n in layers}
    n_kernels = {n: specs[n].cout * specs[n].cin for n in layers}
    dense = {n: costs.conv_bytes(analysis.geometry(n), specs[n].cout, specs[n].cin, specs[n].n_filterlets)
             for n in layers}  # fmt: skip

    def total(r: float) -> int:
        kept = _connectivity_counts(n_kernels, r)
        return other + sum(
            min(dense[n], pattern.layer_bytes(specs[n], kept[n], len(found[n][0]), PATTERN_TAPS)) for n in layers
        )  # fmt: skip

    ratio = _bisect(total, budget, "pattern", "every pattern-pruned conv down to one 4-tap kernel")
    kept = _connectivity_counts(n_kernels, ratio)
    masks = {}
    for n in layers:
        _pats, energy, mask = found[n]
        keep_kernel = _keep_top(energy, kept[n])  # [cout, cin]
        masks[n] = mask & keep_kernel.T[None, None, :, :]
    return masks, ratio


# --------------------------------------------------------------------------- plan


def _bisect(total, budget: int, method: str, floor_what: str) -> float:
    """Smallest ratio in [0, 1] with total(ratio) <= budget; BudgetError when even 1 does not fit."""
    if total(0.0) <= budget:
        return 0.0
    floor = total(1.0)
    if floor > budget:
        raise BudgetError(
            f"flash budget {budget:,} B is below the smallest size --method {method} reaches, {floor:,} B "
            f"({floor_what}; layers it does not prune stay dense)", "flash", floor)  # fmt: skip
    lo, hi = 0.0, 1.0
    for _ in range(_BISECTION_STEPS):
        mid = (lo + hi) / 2
        if total(mid) <= budget:
            hi = mid
        else:
            lo = mid
    return hi


def floor_bytes(analysis: GraphAnalysis, method: str) -> int:
    """Smallest size the method reaches (every pruned layer at one weight / one kernel)."""
    layers = prunable_layers(analysis, method)
    other = sum(costs.layer_weight_bytes(analysis, n) for n in analysis.order if n not in layers)
    total = other
    for n in layers:
        spec = _spec(analysis, n)
        if method == "unstructured":
            total += min(costs.conv_bytes(analysis.geometry(n), spec.cout, spec.cin, spec.n_filterlets),
                         sparse.layer_bytes(spec, 1))  # fmt: skip
        else:
            total += pattern.layer_bytes(spec, 1, 1, PATTERN_TAPS)
    return total


def make_weight_plan(analysis: GraphAnalysis, method: str, budget: int,
                     previous: dict[str, np.ndarray] | None = None) -> WeightPlan:  # fmt: skip
    """Masks meeting `budget` flash bytes; `previous` (layer -> HWIO keep mask) stays pruned."""
    if method not in WEIGHT_METHODS:
        raise ValueError(f"unknown weight-level method {method!r}")
    layers = prunable_layers(analysis, method)
    if not layers:
        what = "Conv2D layers" if method == "unstructured" else "Conv2D layers larger than 2x2"
        raise BudgetError(f"--method {method} prunes only {what}, and the model has none", "flash")
    previous = previous or {}
    kernels = {n: analysis.model.get_layer(n).kernel.numpy() for n in layers}
    other = sum(costs.layer_weight_bytes(analysis, n) for n in analysis.order if n not in layers)
    plan_fn = _plan_unstructured if method == "unstructured" else _plan_pattern
    masks, ratio = plan_fn(analysis, layers, kernels, previous, budget, other)
    layer_bytes = {n: storage_bytes(method, _spec(analysis, n), _ohwi(masks[n])) for n in layers}
    return WeightPlan(method, masks, layer_bytes, other, float(ratio), budget)


def apply_masks(model, masks: dict[str, np.ndarray]):
    """A copy of `model` with every masked kernel weight set to zero."""
    import keras

    out = keras.models.clone_model(model)
    out.set_weights(model.get_weights())
    for n, m in masks.items():
        layer = out.get_layer(n)
        layer.kernel.assign(layer.kernel.numpy() * m)
    return out


def layer_rows(analysis: GraphAnalysis, plan: WeightPlan, meas: dict | None = None) -> list[dict]:
    """One row per pruned layer: weights, kept weights (and kernels for pattern), planned and measured bytes."""
    measured = {r["name"]: r for r in (meas or {}).get("ops", [])}
    rows = []
    for n, m in plan.masks.items():
        spec = _spec(analysis, n)
        row = {"name": n, "type": analysis.layers[n].class_name, "kernel": [spec.kh, spec.kw], "cout": spec.cout,
               "cin": spec.cin, "weights": int(m.size), "weights_kept": int(m.sum()),
               "weight_sparsity": round(1.0 - float(m.sum()) / m.size, 4),
               "dense_bytes": costs.conv_bytes(analysis.geometry(n), spec.cout, spec.cin, spec.n_filterlets),
               "planned_bytes": plan.layer_bytes[n]}  # fmt: skip
        if plan.method == "pattern":
            row["kernels"] = spec.cout * spec.cin
            row["kernels_kept"] = int(m.any(axis=(0, 1)).sum())
        if n in measured:
            row["bytes"] = measured[n]["bytes"]
            row["storage"] = measured[n].get("storage")
        rows.append(row)
    return rows
