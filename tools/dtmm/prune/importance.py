"""How much each filterlet and each filter (channel class) matters.

**Taylor** (default): the first-order estimate of the loss change when a group
of weights is set to zero is ``-sum(w * dL/dw)`` over the group. Per
calibration sample (BatchNorm in inference mode) we compute it for

* every filterlet of every Conv2D: ``sum_c W[kh, kw, c, o] * g[kh, kw, c, o]``;
* every channel group of a layer offered that unit (``groups``: a 1x1 Conv2D
  or Dense layer, g input channels of one filter): the same sum over its g
  weights;
* every channel class: the sum over its producers of the channel's
  contribution ``sum(a * dL/da)`` over the channel's activation ``a``, which
  is ``gamma*g_gamma + beta*g_beta`` when a BatchNorm follows the producer
  and ``sum(W[..., o] * g) + b_o * g_b`` otherwise (both identities hold
  because ``a`` is affine in those parameters); producers of one class are
  summed *before* squaring, because removing the class zeroes them together;

and accumulate its **square** over the calibration samples (batch size 1 by
default): the Fisher approximation of the expected loss increase (Molchanov
et al., 2019). Squares add up over independent parts, so nine filterlets of
a filter cost about what the filter costs; accumulating ``|sum w*g|``
instead ("taylor-abs") is sub-additive and makes the greedy plan favour
removing whole filters. Scores are in (squared) loss units, so layers
compare directly.

**Magnitude**: L1 norms in units of the layer's mean filterlet L1 norm (for
a Dense layer: its mean output column), so each layer's average filterlet --
or Dense unit -- scores 1. A filterlet scores its own norm; a channel class
the norms of everything its removal deletes: its producers' filters and its
consumers' input-channel slices; a channel group its own norm. Cheap and
data-free, but blind to what the weights do.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..errors import DtmmError
from .data import preprocess
from .graph import K_CONV, K_DENSE, GraphAnalysis

IMPORTANCE_KINDS = ("taylor", "taylor-abs", "magnitude")


@dataclass
class Importance:
    kind: str
    filterlet: dict[str, np.ndarray]  # Conv2D name -> [cout, kh, kw] (TFLite's OHW order)
    channel: np.ndarray  # per channel class id
    samples: int = 0
    batches: int = 0
    group: dict[str, np.ndarray] = field(default_factory=dict)  # 1x1 Conv2D / Dense name -> [cout, cin // g]


def group_sums(kernel_values: np.ndarray, group: int) -> np.ndarray:
    """[cout, cin // group] sums of a 1x1 Conv2D (HWIO) or Dense ([in, out]) kernel-shaped array over
    each filter's groups of `group` consecutive input channels."""
    k2 = kernel_values.reshape(-1, kernel_values.shape[-1])
    return k2.reshape(k2.shape[0] // group, group, k2.shape[1]).sum(axis=1).T


def output_is_probability(analysis: GraphAnalysis) -> bool:
    """True when the model ends in a softmax (so the loss must not apply one again)."""
    name = analysis.outputs[0][0]
    layer = analysis.model.get_layer(name)
    if type(layer).__name__ == "Softmax":
        return True
    act = getattr(layer, "activation", None)
    return getattr(act, "__name__", "") == "softmax"


def make_loss(analysis: GraphAnalysis, reduction: str = "sum_over_batch_size"):
    import keras

    return keras.losses.SparseCategoricalCrossentropy(
        from_logits=not output_is_probability(analysis), reduction=reduction
    )


def _producer_params(analysis: GraphAnalysis, name: str):
    """(kernel, bias or None, gamma or None, beta or None) variables of a producer and its folded BN."""
    layer = analysis.model.get_layer(name)
    bias = layer.bias if getattr(layer, "use_bias", False) else None
    gamma = beta = None
    bn_name = analysis.layers[name].folded_bn
    if bn_name is not None:
        bn = analysis.model.get_layer(bn_name)
        gamma = bn.gamma if bn.scale else None
        beta = bn.beta if bn.center else None
    return layer.kernel, bias, gamma, beta


def magnitude_importance(analysis: GraphAnalysis, groups: dict[str, int] | None = None) -> Importance:
    filterlet: dict[str, np.ndarray] = {}
    group: dict[str, np.ndarray] = {}
    channel = np.zeros(len(analysis.classes))
    for name in analysis.order:
        info = analysis.layers[name]
        if info.kind not in (K_CONV, K_DENSE):
            continue
        w = np.abs(analysis.model.get_layer(name).kernel.numpy())
        if info.kind == K_CONV:
            fl = w.sum(axis=2).transpose(2, 0, 1)  # [cout, kh, kw]
            unit = max(float(fl.mean()), 1e-12)
            filterlet[name] = fl / unit
            per_out = fl.sum(axis=(1, 2)) / unit
            per_in = w.sum(axis=(0, 1, 3)) / unit  # input channel slices, same unit
        else:
            unit = max(float(w.sum(axis=0).mean()), 1e-12)
            per_out = w.sum(axis=0) / unit
            per_in = w.sum(axis=1) / unit
        if groups and name in groups:
            group[name] = group_sums(w, groups[name]) / unit
        # a class loses its producers' filters and its consumers' input slices
        np.add.at(channel, analysis.class_ids(info.out_maps[0]), per_out)
        cin_ids = analysis.class_ids(info.in_maps[0])
        ok = cin_ids >= 0
        np.add.at(channel, cin_ids[ok], per_in[ok])
    return Importance("magnitude", filterlet, channel, group=group)


def taylor_importance(analysis: GraphAnalysis, x, y, *, batch_size: int = 1, preprocess_mode: str = "raw",
                      progress: bool = True, squared: bool = True, groups: dict[str, int] | None = None) -> Importance:  # fmt: skip
    """Taylor scores; `squared=False` accumulates |sum w*g| instead of its square ("taylor-abs").
    `groups` (layer name -> group size) adds channel-group scores for those layers."""
    groups = groups or {}
    import tensorflow as tf

    acc = np.square if squared else np.abs
    model = analysis.model
    if len(x) == 0:
        raise DtmmError("no calibration samples for the Taylor importance")
    producers = [n for n in analysis.order if analysis.layers[n].kind in (K_CONV, K_DENSE)]
    convs = analysis.conv_layers()
    params = {n: _producer_params(analysis, n) for n in producers}
    var_list, index = [], {}
    for n in producers:
        for slot, v in zip(("kernel", "bias", "gamma", "beta"), params[n]):
            if v is not None:
                index[(n, slot)] = len(var_list)
                var_list.append(v)
    loss_fn = make_loss(analysis, reduction="sum")

    @tf.function(reduce_retracing=True)
    def grads(xb, yb):
        with tf.GradientTape() as tape:
            out = model(xb, training=False)
            loss = loss_fn(yb, out)
        return tape.gradient(loss, var_list)

    values = [v.numpy() for v in var_list]
    filterlet = {n: np.zeros((analysis.geometry(n).cout, analysis.geometry(n).kh, analysis.geometry(n).kw))
                 for n in convs}  # fmt: skip
    group = {n: np.zeros_like(group_sums(analysis.model.get_layer(n).kernel.numpy(), g), dtype=np.float64)
             for n, g in groups.items()}  # fmt: skip
    channel = np.zeros(len(analysis.classes))
    class_ids = {n: analysis.class_ids(analysis.layers[n].out_maps[0]) for n in producers}
    starts = range(0, len(x), batch_size)
    it = starts
    if progress:
        from tqdm import tqdm

        it = tqdm(starts, desc="importance (taylor)", unit="batch", leave=False)
    n_batches = 0
    for s in it:
        xb = tf.constant(preprocess(x[s : s + batch_size], preprocess_mode))
        yb = tf.constant(np.asarray(y[s : s + batch_size], dtype=np.int64))
        g = [None if t is None else t.numpy() for t in grads(xb, yb)]
        n_batches += 1
        per_class = np.zeros(len(analysis.classes))
        for n in producers:
            k = index[(n, "kernel")]
            wg = values[k] * (g[k] if g[k] is not None else 0.0)
            if n in filterlet:
                filterlet[n] += acc(wg.sum(axis=2)).transpose(2, 0, 1)
            if n in group:
                group[n] += acc(group_sums(np.asarray(wg), groups[n]))
            if (n, "gamma") in index and (n, "beta") in index:
                ig, ib = index[(n, "gamma")], index[(n, "beta")]
                t = values[ig] * _z(g[ig]) + values[ib] * _z(g[ib])
            else:
                t = wg.reshape(-1, wg.shape[-1]).sum(axis=0)
                if (n, "bias") in index:
                    ib = index[(n, "bias")]
                    t = t + values[ib] * _z(g[ib])
            np.add.at(per_class, class_ids[n], t)
        channel += acc(per_class)
    kind = "taylor" if squared else "taylor-abs"
    return Importance(kind, filterlet, channel, samples=int(len(x)), batches=n_batches, group=group)


def _z(g):
    return 0.0 if g is None else g


def compute_importance(kind: str, analysis: GraphAnalysis, x=None, y=None, groups: dict[str, int] | None = None,
                       **kw) -> Importance:  # fmt: skip
    """`groups`: layer name -> channel-group size of the layers offered that unit (scored as well)."""
    if kind == "magnitude":
        return magnitude_importance(analysis, groups)
    if kind in ("taylor", "taylor-abs"):
        return taylor_importance(analysis, x, y, squared=kind == "taylor", groups=groups, **kw)
    raise DtmmError(f"unknown importance {kind!r} (choose {', '.join(IMPORTANCE_KINDS)})")
