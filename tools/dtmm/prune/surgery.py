"""Apply a plan to Keras models: physically remove filters, and mask filterlets.

``slim_model`` rebuilds the model from its config with fewer filters/units in
the producers of removed channel classes and slices every weight that
touches those channels (producer kernels and biases, BatchNorm vectors,
depthwise kernels, consumer input slices -- Dense rows after a Flatten
included). The result is a smaller *dense* Keras model.

``masked_reference`` is the same pruning done by zeroing instead: it keeps
every shape and zeroes the consumers' input slices of removed channels plus
the pruned filterlets. Removed channels then still exist but nothing reads
them, so the two models compute the same function; the tests check that.

Filterlet masks are expressed on Keras kernels (HWIO): ``kernel[kh, kw, :, o]``
is kept iff ``keep[o, kh, kw]``. Channel-group masks likewise on 1x1 Conv2D
(HWIO) and Dense ([in, out]) kernels: input channel ``c`` of filter ``o`` is
kept iff ``keep[o, c // g]`` (a grouped layer's input channels are all there).
"""
from __future__ import annotations

import numpy as np

from . import groups as G
from .graph import K_BN, K_CONV, K_DENSE, K_DEPTHWISE, GraphAnalysis
from .plan import Plan


def kernel_mask(keep: np.ndarray, cin: int) -> np.ndarray:
    """float32 HWIO mask for a conv kernel from a filterlet keep mask [cout, kh, kw]."""
    m = np.transpose(keep, (1, 2, 0))[:, :, None, :]
    return np.broadcast_to(m, (keep.shape[1], keep.shape[2], cin, keep.shape[0])).astype(np.float32)


def _slice_layer_weights(analysis: GraphAnalysis, plan: Plan, name: str, weights: list[np.ndarray]) -> list:
    info = analysis.layers[name]
    if info.kind in (K_CONV, K_DENSE):
        keep_out = plan.keep_out(analysis, name)
        keep_in = plan.keep_in(analysis, name)
        kernel = weights[0]
        if info.kind == K_CONV:
            kernel = kernel[:, :, keep_in, :][..., keep_out]
        else:
            kernel = kernel[keep_in][:, keep_out]
        rest = [w[keep_out] for w in weights[1:]]
        return [kernel, *rest]
    if info.kind == K_DEPTHWISE:
        keep = plan.keep_in(analysis, name)
        return [weights[0][:, :, keep, :], *[w[keep] for w in weights[1:]]]
    if info.kind == K_BN:
        keep = plan.keep_in(analysis, name)
        return [w[keep] for w in weights]
    return weights


def slim_config(analysis: GraphAnalysis, plan: Plan) -> dict:
    cfg = analysis.model.get_config()
    for lc in cfg["layers"]:
        lc.pop("build_config", None)  # shapes are re-inferred from the new channel counts
        name = lc.get("name") or lc["config"]["name"]
        info = analysis.layers.get(name)
        if info is None or info.kind not in (K_CONV, K_DENSE):
            continue
        n = int(plan.keep_out(analysis, name).sum())
        lc["config"]["filters" if info.kind == K_CONV else "units"] = n
    return cfg


def slim_model(analysis: GraphAnalysis, plan: Plan, *, apply_filterlet_masks: bool = True):
    """The physically smaller model (Functional), weights copied, pruned filterlets zeroed."""
    import keras

    new = keras.Model.from_config(slim_config(analysis, plan))
    masks = slim_masks(analysis, plan) if apply_filterlet_masks else {}
    for name in analysis.order:
        old_layer = analysis.model.get_layer(name)
        if not old_layer.weights:
            continue
        w = _slice_layer_weights(analysis, plan, name, [np.asarray(v) for v in old_layer.get_weights()])
        if name in masks:
            w[0] = w[0] * masks[name]
        new.get_layer(name).set_weights(w)
    return new


def slim_filterlet_masks(analysis: GraphAnalysis, plan: Plan) -> dict[str, np.ndarray]:
    """Conv name -> float32 HWIO kernel mask in the *slim* model's coordinates (only layers with pruned filterlets)."""
    out = {}
    for name, keep in plan.filterlet_masks().items():
        k = keep[plan.keep_out(analysis, name)]
        if not k.all():
            out[name] = kernel_mask(k, int(plan.keep_in(analysis, name).sum()))
    return out


def slim_group_masks(analysis: GraphAnalysis, plan: Plan) -> dict[str, np.ndarray]:
    """Layer name -> float32 kernel mask in the *slim* model's coordinates, for layers that lost channel groups."""
    out = {}
    for name, keep in plan.group_masks().items():
        st = plan.layers[name]
        k = keep[plan.keep_out(analysis, name)]
        shape = (st.cin0, k.shape[0]) if st.kind == K_DENSE else (1, 1, st.cin0, k.shape[0])
        out[name] = G.kernel_mask(k, st.group, shape)
    return out


def slim_masks(analysis: GraphAnalysis, plan: Plan) -> dict[str, np.ndarray]:
    """Every mask the slim model's fine-tuning holds: filterlets and channel groups (never the same layer)."""
    return {**slim_filterlet_masks(analysis, plan), **slim_group_masks(analysis, plan)}


def masked_reference(analysis: GraphAnalysis, plan: Plan):
    """Same-shape copy of the original with removed channels unread and pruned filterlets zeroed."""
    import keras

    ref = keras.Model.from_config(analysis.model.get_config())
    masks = plan.filterlet_masks()
    groups = plan.group_masks()
    for name in analysis.order:
        old = analysis.model.get_layer(name)
        if not old.weights:
            continue
        w = [np.asarray(v).copy() for v in old.get_weights()]
        info = analysis.layers[name]
        if info.kind in (K_CONV, K_DENSE):
            keep_in = plan.keep_in(analysis, name)
            if info.kind == K_CONV:
                w[0][:, :, ~keep_in, :] = 0.0
            else:
                w[0][~keep_in, :] = 0.0
        if name in masks:
            keep = masks[name] | ~plan.keep_out(analysis, name)[:, None, None]  # removed filters: nothing reads them
            w[0] = w[0] * kernel_mask(keep, w[0].shape[2])
        if name in groups:
            keep = groups[name] | ~plan.keep_out(analysis, name)[:, None]
            w[0] = w[0] * G.kernel_mask(keep, plan.layers[name].group, w[0].shape)
        ref.get_layer(name).set_weights(w)
    return ref


def check_masks(model, masks: dict[str, np.ndarray]) -> dict[str, int]:
    """Nonzero weights found where a mask says zero, per layer (all zeros = masks hold)."""
    out = {}
    for name, m in masks.items():
        k = model.get_layer(name).kernel.numpy()
        out[name] = int(np.count_nonzero(k[m == 0]))
    return out
