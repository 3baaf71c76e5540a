"""Flash bytes of a (pruned) model, the quantity the budget is about.

* Conv2D: the exact size of its FWCS blob (docs/fwcs.md), computed by
  ``dtmm.formats.fwcs.encoding_costs`` -- header, int32 bias/multiplier/shift per
  output channel, the smallest index encoding and the kept filterlets, with
  DENSE as a candidate so a layer is never counted larger than dense.
* Dense, DepthwiseConv2D: int8 weights plus an int32 bias per output (what
  TFLite's FULLY_CONNECTED / DEPTHWISE_CONV_2D store).
* A 1x1 Conv2D or a Dense layer pruned by channel groups: the FWCS GROUPS blob
  (docs/fwcs.md 5.5) when `dtmm pack` would store it -- at most
  ``fwcs.AUTO_GROUP_MAX_DENSITY`` of the groups kept and smaller than the layer
  stored otherwise (for Dense: the dense FULLY_CONNECTED with its per-channel
  multipliers, ``fc_dense_bytes``) -- else the layer's figure above.
* BatchNormalization that directly follows a conv/dense/depthwise layer is
  folded into it by the converter and costs nothing; any other BatchNorm is
  counted as two int8 vectors (TFLite's MUL + ADD constants).
* Other layers with weights (those the pruner does not understand) are
  estimated: 1 byte per element of a >=2-D weight, 4 per element of a vector.

Activations, the graph and the runtime are not part of this figure.
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np

from ..formats import fwcs
from ..formats.fwcs.codec import AUTO_GROUP_MAX_DENSITY
from ..pack.lowering.ops import fc_dense_bytes
from .graph import K_BN, K_CONV, K_DENSE, K_DEPTHWISE, K_OPAQUE, ConvGeometry, GraphAnalysis


def conv_spec(g: ConvGeometry, cout: int, cin: int) -> fwcs.ConvSpec:
    return fwcs.ConvSpec(
        cout=int(cout), cin=int(cin), kh=g.kh, kw=g.kw, in_h=g.in_h, in_w=g.in_w,
        stride_h=g.strides[0], stride_w=g.strides[1], dilation_h=g.dilation[0], dilation_w=g.dilation[1],
        padding=g.padding if g.padding in ("same", "valid") else "same",
    )  # fmt: skip


@lru_cache(maxsize=200_000)
def _conv_cost(geo_key: tuple, cout: int, cin: int, n_kept: int) -> tuple[int, str]:
    g = ConvGeometry(*geo_key[:6], geo_key[6], geo_key[7], geo_key[8])
    spec = conv_spec(g, cout, cin)
    mask = np.zeros(spec.n_filterlets, dtype=bool)  # encoding_costs only counts kept filterlets
    mask[:n_kept] = True
    costs = fwcs.encoding_costs(spec, mask.reshape(cout, g.kh, g.kw))
    enc = fwcs.choose_encoding(spec, mask.reshape(cout, g.kh, g.kw))
    return int(costs[enc]), enc


def _geo_key(g: ConvGeometry) -> tuple:
    return (g.kh, g.kw, g.cin, g.cout, g.in_h, g.in_w, g.strides, g.dilation, g.padding)


def conv_bytes(g: ConvGeometry, cout: int, cin: int, n_kept: int) -> int:
    """Exact FWCS blob bytes of a conv with this many output/input channels and kept filterlets."""
    if cout == 0:
        return 0
    return _conv_cost(_geo_key(g), int(cout), int(cin), int(n_kept))[0]


def conv_encoding(g: ConvGeometry, cout: int, cin: int, n_kept: int) -> str:
    return _conv_cost(_geo_key(g), int(cout), int(cin), int(n_kept))[1]


def conv_bytes_for_mask(g: ConvGeometry, keep: np.ndarray, cin: int) -> tuple[int, str]:
    """Exact bytes and chosen encoding for an explicit keep mask [cout, kh, kw]."""
    spec = conv_spec(g, keep.shape[0], cin)
    costs = fwcs.encoding_costs(spec, keep)
    enc = fwcs.choose_encoding(spec, keep)
    return int(costs[enc]), enc


def _groups_spec(cout: int, cin: int) -> fwcs.ConvSpec:
    """A 1x1 layer's spec for sizing: a blob's size does not depend on the map it runs on."""
    return fwcs.ConvSpec(cout=int(cout), cin=int(cin), kh=1, kw=1, in_h=1, in_w=1)


def grouped_bytes(otherwise: int, cout: int, cin: int, group: int, n_groups: int, *, dense_layer: bool) -> int | None:
    """Bytes of a 1x1 Conv2D or Dense layer keeping `n_groups` channel groups of `group` channels when
    `dtmm pack` stores it as a GROUPS blob, None when it stores the layer as it would without groups
    (`otherwise` bytes: all its filterlets, or its dense weights)."""
    total = int(cout) * (int(cin) // group)
    if not cout or not fwcs.groups_possible(_groups_spec(cout, cin), group) or n_groups > AUTO_GROUP_MAX_DENSITY * total:
        return None
    size = fwcs.groups_size(_groups_spec(cout, cin), n_groups, group)
    if dense_layer:  # the packer replaces a (per-channel quantized) FULLY_CONNECTED by a smaller blob only
        return size if size < fc_dense_bytes(cin, cout, cout) else None
    return size if size < otherwise else None  # a conv blob is GROUPS when smaller than every other encoding


def dense_bytes(n_in: int, n_out: int, use_bias: bool = True) -> int:
    """FULLY_CONNECTED: int8 weights + int32 bias."""
    return int(n_in) * int(n_out) + (4 * int(n_out) if use_bias else 0)


def depthwise_bytes(kh: int, kw: int, channels: int, use_bias: bool = True) -> int:
    return kh * kw * int(channels) + (4 * int(channels) if use_bias else 0)


def other_layer_bytes(layer) -> int:
    """Estimate for weighted layers outside the byte model (see the module docstring)."""
    total = 0
    for w in layer.weights:
        n = int(np.prod(w.shape, dtype=np.int64))
        total += n if len(w.shape) >= 2 else 4 * n
    return total


def layer_weight_bytes(analysis: GraphAnalysis, name: str, cout: int | None = None, cin: int | None = None,
                       n_kept: int | None = None) -> int:  # fmt: skip
    """Bytes of one layer in its current or a hypothetical shape (conv/dense/depthwise/BN)."""
    info = analysis.layers[name]
    layer = analysis.model.get_layer(name)
    if info.kind == K_CONV:
        g = analysis.geometry(name)
        cout = g.cout if cout is None else cout
        cin = g.cin if cin is None else cin
        n_kept = cout * g.kh * g.kw if n_kept is None else n_kept
        return conv_bytes(g, cout, cin, n_kept)
    if info.kind == K_DENSE:  # a folded BatchNorm brings a bias
        n_in, n_out = (int(d) for d in layer.kernel.shape)
        return dense_bytes(n_in if cin is None else cin, n_out if cout is None else cout,
                           layer.use_bias or info.folded_bn is not None)  # fmt: skip
    if info.kind == K_DEPTHWISE:  # the converter gives DEPTHWISE_CONV_2D a bias even without use_bias
        kh, kw, c0, mult = (int(d) for d in layer.kernel.shape)
        return depthwise_bytes(kh, kw, (c0 if cin is None else cin) * mult)
    if info.kind == K_BN:
        if info.bn_of is not None:
            return 0
        ch = int(info.input_shapes[0][-1]) if cin is None else cin
        return 2 * ch
    if info.kind == K_OPAQUE and layer.weights:
        return other_layer_bytes(layer)
    return 0


def dense_model_bytes(analysis: GraphAnalysis) -> dict[str, int]:
    """Per-layer bytes of the unpruned model, for every layer that has any."""
    out = {}
    for name in analysis.order:
        b = layer_weight_bytes(analysis, name)
        if b:
            out[name] = b
    return out
