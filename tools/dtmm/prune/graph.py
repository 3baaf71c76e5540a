"""Keras graph analysis for pruning: which layers can lose filters or filterlets, and what moves with them.

Every channel of every tensor is tracked as a *channel node*. A layer that
makes new channels (Conv2D, Dense, an input, a layer we do not understand)
creates one node per output channel; layers that keep channels in place
(BatchNormalization, activations, pooling, padding, DepthwiseConv2D with
depth multiplier 1) pass their input's nodes through; element-wise merges
(Add, Subtract, Multiply, ...) *unify* the nodes of their inputs position by
position; a channel Concatenate lists its inputs' nodes one after another;
Flatten repeats the channel list once per spatial position.

A **channel class** is a set of unified nodes: removing a filter means
removing a whole class -- the output channel of every producer in it (with
its BatchNorm entries), and the matching input channel of every consumer.
That keeps the channels of a residual ADD group aligned. A class is
**frozen** (never removed) when it reaches a model input or output or any
layer we cannot slice; such layers are listed in ``unsupported`` with the
reason, and keep their channels as they are.

Filterlets are a property of one Conv2D layer: ``kernel[kh, kw, :, o]`` in
Keras's HWIO layout (``W[o, kh, kw, :]`` in TFLite's OHWI). Removing one does
not change any shape, so every Conv2D with a kernel larger than 1x1 can lose
filterlets, frozen or not. For a 1x1 conv the filterlet *is* the filter, so
it is pruned only by filter removal.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..errors import DtmmError

# Layers that keep channel positions and hold no per-channel state.
PASSTHROUGH = {
    "Activation", "ReLU", "LeakyReLU", "ELU", "Dropout", "SpatialDropout1D", "SpatialDropout2D",
    "GaussianNoise", "GaussianDropout", "AlphaDropout", "MaxPooling2D", "AveragePooling2D",
    "GlobalAveragePooling2D", "GlobalMaxPooling2D", "ZeroPadding2D", "Cropping2D", "UpSampling2D",
    "Identity", "ActivityRegularization", "MaxPooling1D", "AveragePooling1D",
    "GlobalAveragePooling1D", "GlobalMaxPooling1D",
}  # fmt: skip
MERGES = {"Add", "Subtract", "Multiply", "Average", "Maximum", "Minimum"}
CHANNEL_MIXING_ACTIVATIONS = {"softmax", "log_softmax"}

# layer kinds
K_INPUT, K_CONV, K_DENSE, K_DEPTHWISE, K_BN = "input", "conv", "dense", "depthwise", "batchnorm"
K_PASS, K_MERGE, K_CONCAT, K_FLATTEN, K_OPAQUE = "passthrough", "merge", "concat", "flatten", "opaque"


class GraphError(DtmmError):
    """The model cannot be analysed at all (not a graph model, shared layers, ...)."""


@dataclass
class LayerInfo:
    name: str
    class_name: str
    kind: str
    inputs: list[tuple[str, int]]  # (producer layer, output index), in call order
    input_shapes: list[tuple]
    output_shapes: list[tuple]
    in_maps: list[np.ndarray] = field(default_factory=list)  # channel nodes of each input's last axis
    out_maps: list[np.ndarray] = field(default_factory=list)  # channel nodes of each output's last axis
    consumers: list[str] = field(default_factory=list)
    folded_bn: str | None = None  # conv/dense/depthwise: the BatchNorm that directly follows it
    bn_of: str | None = None  # batchnorm: the layer it folds into
    reason: str | None = None  # opaque layers: why they block pruning

    @property
    def is_producer(self) -> bool:
        return self.kind in (K_CONV, K_DENSE)


@dataclass
class ConvGeometry:
    """What the byte model needs of a Conv2D (Keras kernel HWIO)."""

    kh: int
    kw: int
    cin: int
    cout: int
    in_h: int
    in_w: int
    strides: tuple[int, int]
    dilation: tuple[int, int]
    padding: str


@dataclass
class ChannelClass:
    """One removable unit of filter pruning: channel `index` of every producer in `producers`."""

    id: int
    producers: list[tuple[str, int]]  # (layer, output channel)
    consumers: list[tuple[str, np.ndarray]]  # (layer, input positions on the last axis)
    frozen: bool
    group: int = -1


@dataclass
class ChannelGroup:
    """Producers whose output channels are tied together (e.g. the convs feeding one residual ADD chain)."""

    id: int
    producers: list[str]
    classes: list[int]
    frozen: bool
    reason: str = ""


class _UnionFind:
    def __init__(self):
        self.parent: list[int] = []

    def make(self, n: int) -> np.ndarray:
        start = len(self.parent)
        self.parent.extend(range(start, start + n))
        return np.arange(start, start + n, dtype=np.int64)

    def find(self, a: int) -> int:
        p = self.parent
        root = a
        while p[root] != root:
            root = p[root]
        while p[a] != root:
            p[a], a = root, p[a]
        return root

    def union(self, a: int, b: int) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            if ra < rb:
                self.parent[rb] = ra
            else:
                self.parent[ra] = rb


def _keras():
    import keras

    return keras


def as_functional(model):
    """A Functional view of a Sequential or Functional model; subclassed models are refused."""
    keras = _keras()
    if isinstance(model, keras.Sequential):
        try:
            shape = tuple(model.inputs[0].shape)
        except (AttributeError, IndexError, TypeError, ValueError):
            raise GraphError(
                f"Sequential model {model.name!r} has no known input shape; build it with keras.Input first"
            ) from None
        inp = keras.Input(batch_shape=shape, name=f"{model.name}_input")
        x = inp
        for layer in model.layers:
            x = layer(x)
        return keras.Model(inp, x, name=model.name)
    try:
        from keras.src.models.functional import Functional
    except ImportError:  # pragma: no cover - keras internals moved
        Functional = None
    if (Functional is not None and not isinstance(model, Functional)) or "layers" not in model.get_config():
        raise GraphError(
            f"model {model.name!r} is a subclassed keras.Model; only Sequential and Functional models can be pruned"
        )
    return model


def _tensors_in(obj, out: list) -> None:
    """Keras-tensor references (layer, node, index) in a serialised call, in order."""
    if isinstance(obj, dict):
        if obj.get("class_name") == "__keras_tensor__":
            h = obj["config"]["keras_history"]
            out.append((h[0], int(h[1]), int(h[2]), tuple(obj["config"].get("shape") or ())))
            return
        for v in obj.values():
            _tensors_in(v, out)
    elif isinstance(obj, (list, tuple)):
        for v in obj:
            _tensors_in(v, out)


def _shape_list(t) -> list[tuple]:
    ts = t if isinstance(t, (list, tuple)) else [t]
    return [tuple(None if d is None else int(d) for d in x.shape) for x in ts]


def _pair(v) -> tuple[int, int]:
    if isinstance(v, (list, tuple)):
        return (int(v[0]), int(v[-1]))
    return (int(v), int(v))


def _classify(layer, cfg: dict, n_inputs: int, in_shapes: list[tuple], out_shapes: list[tuple]) -> tuple[str, str | None]:
    """(kind, reason-if-opaque) for one layer."""
    cls = type(layer).__name__
    c = cfg.get("config", {})
    rank_ok = all(len(s) >= 2 for s in in_shapes + out_shapes)
    if cls == "InputLayer":
        return K_INPUT, None
    if not rank_ok:
        return K_OPAQUE, "tensors without a channel axis"
    if len(out_shapes) != 1:
        return K_OPAQUE, "layers with several outputs are not analysed"
    if cls == "Conv2D":
        if c.get("data_format", "channels_last") != "channels_last":
            return K_OPAQUE, "channels_first convolution"
        if int(c.get("groups", 1)) != 1:
            return K_OPAQUE, f"grouped convolution (groups={c.get('groups')})"
        if n_inputs != 1:
            return K_OPAQUE, "convolution with extra tensor inputs"
        return K_CONV, None
    if cls == "Dense":
        return (K_DENSE, None) if n_inputs == 1 else (K_OPAQUE, "dense layer with extra tensor inputs")
    if cls == "DepthwiseConv2D":
        if int(c.get("depth_multiplier", 1)) != 1:
            return K_OPAQUE, f"depthwise convolution with depth_multiplier={c.get('depth_multiplier')}"
        if c.get("data_format", "channels_last") != "channels_last":
            return K_OPAQUE, "channels_first convolution"
        return K_DEPTHWISE, None
    if cls == "BatchNormalization":
        axis = c.get("axis", -1)
        axis = axis[0] if isinstance(axis, (list, tuple)) and len(axis) == 1 else axis
        if axis not in (-1, len(in_shapes[0]) - 1):
            return K_OPAQUE, f"batch normalization over axis {axis}, not the channel axis"
        return K_BN, None
    if cls == "Activation" and c.get("activation") in CHANNEL_MIXING_ACTIVATIONS:
        return K_OPAQUE, f"{c.get('activation')} mixes channels"
    if cls == "Softmax":
        return K_OPAQUE, "softmax mixes channels"
    if cls == "Rescaling":
        scalar = np.ndim(c.get("scale", 1.0)) == 0 and np.ndim(c.get("offset", 0.0)) == 0
        return (K_PASS, None) if scalar else (K_OPAQUE, "per-channel rescaling")
    if cls in PASSTHROUGH:
        if n_inputs != 1:
            return K_OPAQUE, "unexpected extra tensor inputs"
        return K_PASS, None
    if cls in MERGES:
        last = {s[-1] for s in in_shapes}
        if len(last) != 1 or n_inputs < 2:
            return K_OPAQUE, "merge with broadcast channel axes"
        return K_MERGE, None
    if cls == "Concatenate":
        axis = int(c.get("axis", -1))
        rank = len(out_shapes[0])
        if axis in (-1, rank - 1):
            return K_CONCAT, None
        last = {s[-1] for s in in_shapes}
        return (K_MERGE, None) if len(last) == 1 else (K_OPAQUE, "concatenation with mismatched channels")
    if cls == "Flatten":
        if any(d is None for d in in_shapes[0][1:]):
            return K_OPAQUE, "flatten of a tensor with unknown spatial size"
        return K_FLATTEN, None
    if cls in ("Reshape", "Permute", "RepeatVector"):
        return K_OPAQUE, "reshapes move channels"
    if hasattr(layer, "layers"):
        return K_OPAQUE, "nested model"
    return K_OPAQUE, "layer type not supported by the pruner"


class GraphAnalysis:
    """The analysed graph of a Functional model (see the module docstring)."""

    def __init__(self, model):
        self.model = as_functional(model)
        self.layers: dict[str, LayerInfo] = {}
        self.order: list[str] = []
        self.unsupported: list[dict] = []
        self._uf = _UnionFind()
        self._frozen_nodes: set[int] = set()
        self._producer_nodes: dict[str, np.ndarray] = {}
        self._parse()
        self._propagate()
        self._fold_batchnorm()
        self._build_classes()

    # ------------------------------------------------------------------ parsing

    def _parse(self) -> None:
        cfg = self.model.get_config()
        by_name = {lc.get("name") or lc["config"]["name"]: lc for lc in cfg["layers"]}
        deps: dict[str, list] = {}
        for name, lc in by_name.items():
            nodes = lc.get("inbound_nodes") or []
            if len(nodes) > 1:
                raise GraphError(f"layer {name!r} is called {len(nodes)} times; shared layers are not supported")
            refs: list = []
            if nodes:
                _tensors_in(nodes[0].get("args", ()), refs)
                _tensors_in(nodes[0].get("kwargs", {}), refs)
            for r in refs:
                if r[0] not in by_name:
                    raise GraphError(f"layer {name!r} reads from unknown layer {r[0]!r}")
            deps[name] = refs
        # Kahn's algorithm, keeping the config order among ready layers (deterministic)
        order, done = [], set()
        names = list(by_name)
        while len(order) < len(names):
            progressed = False
            for n in names:
                if n not in done and all(r[0] in done for r in deps[n]):
                    order.append(n)
                    done.add(n)
                    progressed = True
            if not progressed:
                raise GraphError("the model graph has a cycle")
        for name in order:
            layer = self.model.get_layer(name)
            refs = deps[name]
            in_shapes = [r[3] for r in refs]
            if type(layer).__name__ == "InputLayer":
                out_shapes = [tuple(cfg_shape) for cfg_shape in [by_name[name]["config"].get("batch_shape")]]
            else:
                try:
                    out_shapes = _shape_list(layer.output)
                except (AttributeError, ValueError):
                    raise GraphError(f"layer {name!r} has no known output shape") from None
            kind, reason = _classify(layer, by_name[name], len(refs), in_shapes, out_shapes)
            info = LayerInfo(name, type(layer).__name__, kind, [(r[0], r[2]) for r in refs], in_shapes, out_shapes)
            info.reason = reason
            self.layers[name] = info
            self.order.append(name)
            for r in refs:
                self.layers[r[0]].consumers.append(name)
        self.inputs = [x[0] for x in _norm_refs(cfg["input_layers"])]
        self.outputs = [(x[0], x[2]) for x in _norm_refs(cfg["output_layers"])]

    # ------------------------------------------------------------------ channel propagation

    def _new_nodes(self, n: int, frozen: bool) -> np.ndarray:
        nodes = self._uf.make(int(n))
        if frozen:
            self._frozen_nodes.update(int(v) for v in nodes)
        return nodes

    def _freeze(self, nodes: np.ndarray) -> None:
        self._frozen_nodes.update(int(v) for v in nodes)

    def _propagate(self) -> None:
        for name in self.order:
            info = self.layers[name]
            info.in_maps = [self.layers[p].out_maps[i] for p, i in info.inputs]
            k = info.kind
            last = [s[-1] for s in info.output_shapes]
            if any(d is None for d in last):
                if k not in (K_INPUT,):
                    raise GraphError(f"layer {name!r} has an unknown channel count")
            if k == K_INPUT:
                info.out_maps = [self._new_nodes(last[0], frozen=True)]
            elif k in (K_CONV, K_DENSE):
                nodes = self._new_nodes(last[0], frozen=False)
                info.out_maps = [nodes]
                self._producer_nodes[name] = nodes
            elif k in (K_DEPTHWISE, K_BN, K_PASS):
                info.out_maps = [info.in_maps[0]]
            elif k == K_MERGE:
                first = info.in_maps[0]
                for other in info.in_maps[1:]:
                    for a, b in zip(first, other):
                        self._uf.union(int(a), int(b))
                info.out_maps = [first]
            elif k == K_CONCAT:
                info.out_maps = [np.concatenate(info.in_maps)]
            elif k == K_FLATTEN:
                spatial = int(np.prod(info.input_shapes[0][1:-1], dtype=np.int64))
                info.out_maps = [np.tile(info.in_maps[0], spatial)]
            else:  # opaque
                for m in info.in_maps:
                    self._freeze(m)
                info.out_maps = [self._new_nodes(d if d is not None else 0, frozen=True) for d in last]
                if "mixes channels" not in (info.reason or ""):  # softmax: understood, it just freezes channels
                    self.unsupported.append({"layer": name, "type": info.class_name, "reason": info.reason})
            for m, d in zip(info.out_maps, last):
                if d is not None and len(m) != d:
                    raise GraphError(f"layer {name!r}: channel bookkeeping mismatch ({len(m)} vs {d})")
        for lname, idx in self.outputs:
            self._freeze(self.layers[lname].out_maps[idx])

    def _fold_batchnorm(self) -> None:
        """Pair each BatchNorm that directly and solely follows a conv/dense/depthwise layer."""
        for name in self.order:
            info = self.layers[name]
            if info.kind != K_BN:
                continue
            src, _ = info.inputs[0]
            p = self.layers[src]
            if p.kind in (K_CONV, K_DENSE, K_DEPTHWISE) and p.consumers == [name] and p.folded_bn is None:
                p.folded_bn = name
                info.bn_of = src

    # ------------------------------------------------------------------ classes and groups

    def root(self, node: int) -> int:
        return self._uf.find(int(node))

    def _build_classes(self) -> None:
        roots_frozen = {self.root(n) for n in self._frozen_nodes}
        by_root: dict[int, ChannelClass] = {}
        for name, nodes in self._producer_nodes.items():
            for ch, n in enumerate(nodes):
                r = self.root(n)
                cc = by_root.get(r)
                if cc is None:
                    cc = by_root[r] = ChannelClass(len(by_root), [], [], frozen=r in roots_frozen)
                cc.producers.append((name, ch))
        self.classes: list[ChannelClass] = list(by_root.values())
        self.class_of_root = {r: cc.id for r, cc in by_root.items()}
        # consumers: every layer with per-input-channel weights
        for name in self.order:
            info = self.layers[name]
            if info.kind not in (K_CONV, K_DENSE, K_DEPTHWISE, K_BN):
                continue
            roots = np.array([self.root(n) for n in info.in_maps[0]], dtype=np.int64)
            for r in np.unique(roots):
                cid = self.class_of_root.get(int(r))
                if cid is not None:
                    self.classes[cid].consumers.append((name, np.flatnonzero(roots == r)))
        # groups: producers linked by shared classes
        uf = _UnionFind()
        names = list(self._producer_nodes)
        ids = {n: int(uf.make(1)[0]) for n in names}
        for cc in self.classes:
            for p, _ in cc.producers[1:]:
                uf.union(ids[cc.producers[0][0]], ids[p])
        group_of: dict[int, ChannelGroup] = {}
        for n in names:
            r = uf.find(ids[n])
            if r not in group_of:
                group_of[r] = ChannelGroup(len(group_of), [], [], frozen=False)
            group_of[r].producers.append(n)
        for cc in self.classes:
            g = group_of[uf.find(ids[cc.producers[0][0]])]
            cc.group = g.id
            g.classes.append(cc.id)
        self.groups: list[ChannelGroup] = list(group_of.values())
        for g in self.groups:
            g.frozen = all(self.classes[c].frozen for c in g.classes)
            if g.frozen:
                g.reason = self._frozen_reason(g)

    def _frozen_reason(self, g: ChannelGroup) -> str:
        out_layers = {n for n, _ in self.outputs}
        for p in g.producers:
            seen, stack = set(), [p]
            while stack:  # walk channel-preserving successors
                n = stack.pop()
                if n in seen:
                    continue
                seen.add(n)
                if n in out_layers:
                    return f"reaches the model output via {n!r}"
                for c in self.layers[n].consumers:
                    ci = self.layers[c]
                    if ci.kind == K_OPAQUE:
                        return f"feeds {ci.class_name} {c!r} ({ci.reason})"
                    if ci.kind in (K_BN, K_DEPTHWISE, K_PASS, K_MERGE, K_CONCAT, K_FLATTEN):
                        stack.append(c)
        return "tied to frozen channels"

    # ------------------------------------------------------------------ queries

    def class_ids(self, nodes: np.ndarray) -> np.ndarray:
        """Channel class of each node (-1 for frozen input/opaque nodes that no producer owns)."""
        return np.array([self.class_of_root.get(self.root(n), -1) for n in nodes], dtype=np.int64)

    def conv_layers(self) -> list[str]:
        return [n for n in self.order if self.layers[n].kind == K_CONV]

    def geometry(self, name: str) -> ConvGeometry:
        info = self.layers[name]
        layer = self.model.get_layer(name)
        kh, kw, cin, cout = (int(d) for d in layer.kernel.shape)
        ishape = info.input_shapes[0]
        in_h = ishape[1] if ishape[1] is not None else kh
        in_w = ishape[2] if ishape[2] is not None else kw
        return ConvGeometry(
            kh, kw, cin, cout, int(in_h), int(in_w), _pair(layer.strides), _pair(layer.dilation_rate), layer.padding
        )

    def filterlet_prunable(self, name: str) -> bool:
        info = self.layers[name]
        if info.kind != K_CONV:
            return False
        g = self.geometry(name)
        return g.kh * g.kw > 1

    def summary(self) -> dict:
        """A JSON-ready description: per weighted layer what it can be pruned at, groups, unsupported layers."""
        rows = []
        for name in self.order:
            info = self.layers[name]
            if info.kind not in (K_CONV, K_DENSE, K_DEPTHWISE):
                continue
            row = {"layer": name, "type": info.class_name, "kind": info.kind, "batchnorm": info.folded_bn}
            if info.is_producer:
                gid = self.group_of_producer(name)
                g = self.groups[gid]
                row.update(group=gid, filter_prunable=not g.frozen,
                           filterlet_prunable=self.filterlet_prunable(name))  # fmt: skip
                if info.kind == K_CONV:
                    row["kernel"] = list(self.geometry(name).__dict__.values())[:4]
                    if not self.filterlet_prunable(name):
                        row["note"] = "1x1 kernel: a filterlet is the whole filter, pruned by filter removal only"
            else:
                row.update(group=None, filter_prunable=False, filterlet_prunable=False,
                           note="channels follow its input's group")  # fmt: skip
            rows.append(row)
        groups = [
            {"id": g.id, "producers": g.producers, "channels": len(g.classes), "frozen": g.frozen,
             "reason": g.reason or None}
            for g in self.groups
        ]  # fmt: skip
        return {"layers": rows, "groups": groups, "unsupported": self.unsupported}

    def group_of_producer(self, name: str) -> int:
        return self.classes[self.class_ids(self.layers[name].out_maps[0][:1])[0]].group


def _norm_refs(refs) -> list:
    """input_layers/output_layers are [name, node, index] or a list of them."""
    if refs and isinstance(refs[0], str):
        return [refs]
    return list(refs)
