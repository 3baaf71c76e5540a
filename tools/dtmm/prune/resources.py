"""What a plan state costs besides flash: predicted instructions and activation arena.

The greedy plan (``plan``) needs, for every candidate step, how many
instructions and arena bytes it saves. Both are exact only on an int8 model
(``dtmm estimate``: the packer's arena plan, the board's cost model), so the
plan steers by a per-layer model fitted to the cost model, and the pipeline
then checks the real figures on the converted model and re-plans
(``ResourceModel`` here; the loop is in ``plan.make_checked_plan``).

Instructions, per weighted layer (its TFLite operator found by
``export.match_layers``): ``I_dense`` is the cost model's prediction on the
dense int8 model. A Conv2D with filterlets is also predicted with a random half
of its filterlets zeroed, which gives the instructions of one kept filterlet
``s``; the rest, ``r = I_dense - s * filterlets``, is work per output channel:

    I(cout, cin, kept) = r * cout / cout0 + s * kept * cin / cin0

A 1x1 Conv2D or a Dense layer has no filterlets to measure that split on; its
multiply-accumulate share is taken as ``MAC_SHARE``:
``I = I_dense * ((1 - MAC_SHARE) * cout / cout0 + MAC_SHARE * cout * cin / (cout0 * cin0))``.
A depthwise layer scales with its channels. A layer offered channel groups
(``groups``) is also predicted with its groups pruned to two densities
(``_GROUP_PROBES``, in the plan's group size): stored as GROUPS it costs
``I = b * cout / cout0 + t * kept_groups``, the line through the two (the
GROUPS kernels' cost model is linear in kept groups); stored otherwise, the
formula above. Every other operator (ADD,
pooling, softmax, ...) is counted at its dense cost, which over-states a
pruned model a little -- the check on the converted model corrects that.

Arena: every Keras layer output that is its own TFLite tensor is a buffer of
its (pruned) int8 size, live from its producer to its last consumer in
topological order; BatchNorm, activations, Dropout and Flatten alias their
input (folded, fused or a reshape in place). ``arena_proxy`` is the largest
sum of buffers live at once -- the lower bound of the real planner, which
adds kernel scratch and alignment; the difference is measured on the
converted model and carried as an offset.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..pack.planner import Buffer, lower_bound
from .graph import K_BN, K_CONV, K_DENSE, K_DEPTHWISE, K_FLATTEN, K_INPUT, GraphAnalysis

#: assumed share of a 1x1 conv's or a dense layer's instructions that scale with its MACs
MAC_SHARE = 0.9
#: layers whose output is their input's tensor in the int8 model
_ALIAS_CLASSES = {"Activation", "ReLU", "Dropout", "SpatialDropout2D", "GaussianNoise", "GaussianDropout",
                  "AlphaDropout", "Identity", "ActivityRegularization", "Flatten", "Reshape"}  # fmt: skip
#: filterlet density of the variant that measures a filterlet's instructions
_PROBE_DENSITY = 0.5
#: kept-group shares of the two variants that measure a GROUPS layer's line
_GROUP_PROBES = (0.5, 0.25)


@dataclass
class LayerInstructions:
    """A weighted layer's instruction model (see the module docstring)."""

    kind: str
    dense: float
    per_output: float  # r / cout0 (conv with filterlets) -- else 0
    per_filterlet: float  # s at the full cin (conv with filterlets) -- else 0; r = I_dense - s * kept filterlets
    cout0: int
    cin0: int
    group_base: float | None = None  # b: stored as GROUPS, instructions per call at cout0 besides the kept groups
    per_group: float = 0.0  # t: instructions per kept group

    def at(self, cout: int, cin: int, kept: int, groups: int | None = None) -> float:
        """Instructions at this shape; `groups`: kept channel groups when the layer is stored as GROUPS."""
        if self.cout0 == 0 or cout <= 0:
            return 0.0
        if groups is not None and self.group_base is not None:
            return self.group_base * cout / self.cout0 + self.per_group * groups
        if self.kind == K_CONV and self.per_filterlet > 0:
            return self.per_output * cout + self.per_filterlet * kept * cin / self.cin0
        if self.kind == K_DEPTHWISE:
            return self.dense * cin / self.cin0
        ratio_out = cout / self.cout0
        return self.dense * ((1 - MAC_SHARE) * ratio_out + MAC_SHARE * ratio_out * cin / self.cin0)


class ResourceModel:
    """Instructions and arena of plan states of one analysed Keras model on one board."""

    def __init__(self, analysis: GraphAnalysis, board: str | None, dense_tfl: bytes, *, calibration=None,
                 group_sizes: dict[str, int] | None = None):  # fmt: skip
        from ..pack.packer import pack_model

        self.analysis = analysis
        self.board = board
        self.layers: dict[str, LayerInstructions] = {}
        self.calibration = None
        self.dense_instructions = None
        self.fixed_instructions = 0.0
        if board is None:  # an SRAM budget alone: the arena does not depend on the board
            self.dense_arena_bytes = int(pack_model(dense_tfl, "plan").arena_bytes)
        else:
            self._fit_instructions(dense_tfl, calibration, group_sizes or {})
        self._build_buffers()
        self.arena_offset = self.dense_arena_bytes - self.arena_proxy(np.zeros(len(analysis.classes), dtype=bool))

    # ------------------------------------------------------------------ instructions

    def _fit_instructions(self, dense_tfl: bytes, calibration, group_sizes: dict[str, int]) -> None:
        from ..cost.calibration import load_calibration
        from ..cost.calibration_set import prune_to_density
        from ..cost.estimate import estimate_model
        from ..tflite.model import TfliteModel, conv_layers
        from .export import match_layers

        analysis, board = self.analysis, self.board
        self.calibration = calibration or load_calibration(board)
        dense = estimate_model(dense_tfl, board, calibration=self.calibration)
        probe_tfl = prune_to_density(dense_tfl, _PROBE_DENSITY, seed=0)
        probe = estimate_model(probe_tfl, board, calibration=self.calibration)
        kept_probe = {c.op_index: int(np.any(c.weights != 0, axis=3).sum()) for c in conv_layers(TfliteModel(probe_tfl))}
        kept_dense = {c.op_index: int(np.any(c.weights != 0, axis=3).sum()) for c in conv_layers(TfliteModel(dense_tfl))}
        per_op = [e["instructions"] for e in dense["layers"]]
        per_op_probe = [e["instructions"] for e in probe["layers"]]
        self.dense_instructions = int(dense["instructions"])
        self.dense_arena_bytes = int(dense["arena_bytes"])
        matched = match_layers(dense_tfl, analysis.model)
        for name, op in matched.items():
            info = analysis.layers[name]
            layer = analysis.model.get_layer(name)
            shape = [int(d) for d in layer.kernel.shape]
            if info.kind == K_CONV:
                kh, kw, cin0, cout0 = shape
            elif info.kind == K_DENSE:
                cin0, cout0 = shape
                kh = kw = 1
            elif info.kind == K_DEPTHWISE:
                kh, kw = shape[:2]
                cin0 = cout0 = shape[2]
            else:
                continue
            entry = LayerInstructions(info.kind, float(per_op[op]), 0.0, 0.0, cout0, cin0)
            kept = kept_dense.get(op, 0)  # filterlets of the model as it is (earlier stages may have pruned some)
            if info.kind == K_CONV and kh * kw > 1 and op in kept_probe and kept_probe[op] < kept:
                s = max(0.0, (per_op[op] - per_op_probe[op]) / (kept - kept_probe[op]))
                s = min(s, per_op[op] / kept)
                entry.per_filterlet = s
                entry.per_output = (per_op[op] - s * kept) / cout0
            self.layers[name] = entry
        self.fixed_instructions = float(sum(per_op) - sum(e.dense for e in self.layers.values()))
        self._fit_groups(dense_tfl, matched, group_sizes)

    def _fit_groups(self, dense_tfl: bytes, matched: dict[str, int], group_sizes: dict[str, int]) -> None:
        """Each layer offered channel groups: its GROUPS line from two probes with its groups pruned."""
        from ..cost.calibration_set import group_prune
        from ..cost.estimate import estimate_model
        from ..tflite.model import TfliteModel

        sizes = {matched[n]: g for n, g in group_sizes.items() if n in matched and n in self.layers}
        if not sizes:
            return
        probes = []  # per probe: {op index: (instructions, kept groups)} of the operators stored as GROUPS
        for k, density in enumerate(_GROUP_PROBES):
            probe = group_prune(dense_tfl, np.random.default_rng([7, k]), sizes, density)
            layers = estimate_model(probe, self.board, calibration=self.calibration)["layers"]  # one per operator
            model = TfliteModel(probe)
            points = {}
            for op, g in sizes.items():
                if layers[op].get("group", "").startswith("GROUPS"):
                    w = model.tensor_data(model.operators[op].inputs[1])
                    points[op] = (layers[op]["instructions"], int(np.any(w.reshape(w.shape[0], -1, g) != 0, axis=2).sum()))
            probes.append(points)
        for name, op in matched.items():
            if op in probes[0] and op in probes[1] and probes[0][op][1] != probes[1][op][1]:
                (i1, k1), (i2, k2) = probes[0][op], probes[1][op]
                e = self.layers[name]
                e.per_group = max(0.0, (i1 - i2) / (k1 - k2))
                e.group_base = max(0.0, i1 - e.per_group * k1)


    def layer_instructions(self, name: str, cout: int, cin: int, kept: int, groups: int | None = None) -> float:
        """Predicted instructions of layer `name` at this shape (`groups`: kept groups, stored as GROUPS)."""
        e = self.layers.get(name)
        return e.at(cout, cin, kept, groups) if e is not None else 0.0

    # ------------------------------------------------------------------ arena

    def _build_buffers(self) -> None:
        a = self.analysis
        step, alias = {}, {}
        for name in a.order:
            info = a.layers[name]
            if info.kind == K_BN or (info.kind == K_FLATTEN) or (info.class_name in _ALIAS_CLASSES and info.inputs):
                alias[name] = alias.get(info.inputs[0][0], info.inputs[0][0]) if info.inputs else name
            else:
                step[name] = len(step)
        self._alias = alias
        last = {n: s for n, s in step.items()}
        for name in a.order:
            if name in step:
                for prod, _ in a.layers[name].inputs:
                    src = alias.get(prod, prod)
                    last[src] = max(last.get(src, 0), step[name])
        for out, _ in a.outputs:
            last[alias.get(out, out)] = len(step)
        self._buffers = []  # (name, spatial elements, class ids per channel (or -1), first, last)
        for name, s in step.items():
            info = a.layers[name]
            if not info.output_shapes or not info.out_maps:
                continue
            shape = [int(d) for d in info.output_shapes[0][1:] if d is not None]
            spatial = int(np.prod(shape[:-1])) if len(shape) > 1 else 1
            cids = a.class_ids(info.out_maps[0])
            first = s if info.kind != K_INPUT else 0
            self._buffers.append((name, spatial, cids, first, last[name]))
        # per channel class: (buffer index, elements it takes from that buffer)
        self.class_buffers: list[list[tuple[int, int]]] = [[] for _ in a.classes]
        for bi, (_n, spatial, cids, _f, _l) in enumerate(self._buffers):
            ids, counts = np.unique(cids[cids >= 0], return_counts=True)
            for cid, c in zip(ids.tolist(), counts.tolist()):
                self.class_buffers[cid].append((bi, spatial * c))

    def buffer_sizes(self, removed: np.ndarray) -> list[int]:
        out = []
        for _n, spatial, cids, _f, _l in self._buffers:
            alive = np.where(cids >= 0, ~removed[np.maximum(cids, 0)], True)
            out.append(int(spatial * alive.sum()))
        return out

    def proxy_from_sizes(self, sizes: list[int]) -> int:
        return lower_bound([Buffer(b[0], sz, b[3], b[4]) for b, sz in zip(self._buffers, sizes)])

    def arena_proxy(self, removed: np.ndarray) -> int:
        """Largest live activation bytes of the plan state `removed` (channel classes), before the offset."""
        return self.proxy_from_sizes(self.buffer_sizes(removed))

    def predicted_arena(self, removed: np.ndarray) -> int:
        return self.arena_proxy(removed) + self.arena_offset
