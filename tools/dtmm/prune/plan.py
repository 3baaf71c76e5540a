"""The budget-driven pruning plan: which filters and filterlets go, chosen greedily.

State: a set of removed channel classes (filters, see ``graph``) and, per
Conv2D, a keep mask over filterlets. Two kinds of step are offered at every
iteration:

* **filterlet step** in a Conv2D with a kernel larger than 1x1: remove that
  layer's least important remaining filterlets -- as few as make the layer's
  exact FWCS size drop (the first ones may only pay for the index);
* **filter step** in a channel group: remove one channel class -- a filter of
  every producer in the group, their BatchNorm entries and the matching input
  channels of every consumer.

Each step's cost is the importance it loses (for a filter step, the class
score minus what its producers' already-removed filterlets had cost) and its
gain is the exact number of flash bytes it saves (``costs``). The step with
the least importance lost per byte saved is taken until the model fits the
budget. Limits: a channel group loses at most ``max_filter_ratio`` (default
0.75) of its channels and keeps at least one; a kept filter keeps at least
one filterlet. ``floor_bytes`` is the size when every limit binds -- the
smallest reachable size.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import DtmmError
from . import costs
from .graph import K_CONV, K_DENSE, K_DEPTHWISE, GraphAnalysis
from .importance import Importance


class BudgetError(DtmmError):
    """The flash budget cannot be met."""


@dataclass
class LayerState:
    """One weighted layer during planning; channel indices are the original model's."""

    name: str
    kind: str
    cout0: int
    cin0: int
    cout: int
    cin: int
    kh: int = 1
    kw: int = 1
    filterlets: bool = False  # filterlet pruning allowed (Conv2D larger than 1x1)
    keep_out: np.ndarray | None = None  # bool [cout0]
    keep_fl: np.ndarray | None = None  # conv: bool [cout0, kh, kw]
    per_filter: np.ndarray | None = None  # conv: kept filterlets per original filter
    bytes: int = 0
    dense_bytes: int = 0

    @property
    def n_kept(self) -> int:
        """Kept filterlets of the kept filters (conv only)."""
        return int(self.per_filter[self.keep_out].sum()) if self.per_filter is not None else 0


@dataclass
class Plan:
    removed: np.ndarray  # bool per channel class
    layers: dict[str, LayerState]
    budget: int
    dense_bytes: int
    packed_bytes: int
    floor_bytes: int
    other_bytes: int  # layers outside the plan (BN not folded, unsupported weighted layers)
    importance_lost: float
    steps: dict[str, int]

    def keep_out(self, analysis: GraphAnalysis, name: str) -> np.ndarray:
        return ~self.removed_nodes(analysis, analysis.layers[name].out_maps[0])

    def keep_in(self, analysis: GraphAnalysis, name: str) -> np.ndarray:
        return ~self.removed_nodes(analysis, analysis.layers[name].in_maps[0])

    def removed_nodes(self, analysis: GraphAnalysis, nodes: np.ndarray) -> np.ndarray:
        cid = analysis.class_ids(nodes)
        return np.where(cid >= 0, self.removed[np.maximum(cid, 0)], False)

    def filterlet_masks(self) -> dict[str, np.ndarray]:
        """Conv name -> keep mask [cout0, kh, kw] in the original model's coordinates (removed filters False)."""
        return {n: s.keep_fl & s.keep_out[:, None, None] for n, s in self.layers.items() if s.kind == K_CONV}

    def layer_rows(self, analysis: GraphAnalysis) -> list[dict]:
        rows = []
        for name, s in self.layers.items():
            row = {
                "name": name, "type": analysis.layers[name].class_name,
                "cout": s.cout0, "cout_kept": int(s.cout), "cin": s.cin0, "cin_kept": int(s.cin),
                "beta_filter_ratio": round(1.0 - s.cout / s.cout0, 4) if s.kind != K_DEPTHWISE else None,
                "alpha_filterlet_ratio": None, "filterlets": None, "filterlets_kept": None,
                "dense_bytes": s.dense_bytes, "planned_bytes": s.bytes, "encoding": "dense",
            }  # fmt: skip
            if s.kind == K_CONV:
                total = int(s.cout) * s.kh * s.kw
                kept = s.n_kept
                g = analysis.geometry(name)
                row.update(
                    kernel=[s.kh, s.kw], filterlets=s.cout0 * s.kh * s.kw, filterlets_kept=kept,
                    alpha_filterlet_ratio=round(1.0 - kept / total, 4) if total else 0.0,
                    encoding=costs.conv_encoding(g, s.cout, s.cin, kept) if s.cout else "removed",
                )  # fmt: skip
            rows.append(row)
        return rows


DEFAULT_MAX_FILTER_RATIO = 0.75


def group_min_keep(n_channels: int, max_filter_ratio: float) -> int:
    """Channels a group keeps at least: 1, and (1 - max_filter_ratio) of them rounded up."""
    return max(1, int(np.ceil((1.0 - max_filter_ratio) * n_channels - 1e-9)))


class _Greedy:
    def __init__(self, analysis: GraphAnalysis, imp: Importance, max_filter_ratio: float = DEFAULT_MAX_FILTER_RATIO,
                 initial_keep: dict[str, np.ndarray] | None = None,
                 min_keep_by_producer: dict[str, int] | None = None):  # fmt: skip
        if not 0.0 <= max_filter_ratio < 1.0:
            raise DtmmError(f"max filter ratio {max_filter_ratio} is not in [0, 1)")
        self.a = analysis
        self.imp = imp
        self.min_keep = {g.id: group_min_keep(len(g.classes), max_filter_ratio) for g in analysis.groups}
        if min_keep_by_producer:  # limits fixed on the original model (multi-stage pruning)
            for g in analysis.groups:
                known = [min_keep_by_producer[p] for p in g.producers if p in min_keep_by_producer]
                if known:
                    self.min_keep[g.id] = min(max(known), len(g.classes))
        self.removed = np.zeros(len(analysis.classes), dtype=bool)
        self.layers: dict[str, LayerState] = {}
        for name in analysis.order:
            info = analysis.layers[name]
            if info.kind not in (K_CONV, K_DENSE, K_DEPTHWISE):
                continue
            layer = analysis.model.get_layer(name)
            shape = [int(d) for d in layer.kernel.shape]
            if info.kind == K_CONV:
                kh, kw, cin, cout = shape
                st = LayerState(name, K_CONV, cout, cin, cout, cin, kh, kw, analysis.filterlet_prunable(name))
                st.keep_fl = np.ones((cout, kh, kw), dtype=bool)
                if initial_keep is not None and name in initial_keep and st.filterlets:
                    st.keep_fl = np.array(initial_keep[name], dtype=bool)  # already-pruned filterlets
                    st.keep_fl[st.keep_fl.sum(axis=(1, 2)) == 0] = True  # never start below 1 per filter
                st.per_filter = st.keep_fl.sum(axis=(1, 2)).astype(np.int64)
            elif info.kind == K_DENSE:
                st = LayerState(name, K_DENSE, shape[1], shape[0], shape[1], shape[0])
            else:
                st = LayerState(name, K_DEPTHWISE, shape[2], shape[2], shape[2], shape[2], shape[0], shape[1])
            st.keep_out = np.ones(st.cout0, dtype=bool)
            st.dense_bytes = self._bytes(st, st.cout, st.cin, st.cout * st.kh * st.kw if info.kind == K_CONV else 0)
            st.bytes = self._bytes(st, st.cout, st.cin, st.n_kept if info.kind == K_CONV else 0)
            self.layers[name] = st
        self.other_bytes = sum(
            costs.layer_weight_bytes(analysis, n) for n in analysis.order if n not in self.layers
        )  # fmt: skip
        # removal footprint of each class: producer (layer, channel) and consumer (layer, #positions)
        self.cls_prod = [[(p, ch) for p, ch in cc.producers] for cc in analysis.classes]
        self.cls_cons = [[(c, len(pos)) for c, pos in cc.consumers if c in self.layers] for cc in analysis.classes]
        self.cls_layers = [
            {p for p, _ in self.cls_prod[i]} | {c for c, _ in self.cls_cons[i]} for i in range(len(analysis.classes))
        ]
        self.group_alive = {g.id: sum(1 for _ in g.classes) for g in analysis.groups}
        self.removed_fl_score: dict[tuple[str, int], float] = {}
        # filterlet candidates, least important first (ties: storage order)
        self.fl_order: dict[str, list[tuple[int, int, int, float]]] = {}
        self.fl_ptr: dict[str, int] = {}
        for name, st in self.layers.items():
            if st.kind == K_CONV and st.filterlets:
                sc = imp.filterlet[name]
                flat = sc.reshape(-1)
                order = np.argsort(flat, kind="stable")
                o, i, j = np.unravel_index(order, sc.shape)
                self.fl_order[name] = list(zip(o.tolist(), i.tolist(), j.tolist(), flat[order].tolist()))
                self.fl_ptr[name] = 0
        self.lost = 0.0
        self.steps = {"filter": 0, "filterlet": 0, "filterlets_removed": 0}

    # ------------------------------------------------------------------ bytes

    def _bytes(self, st: LayerState, cout: int, cin: int, n_kept: int) -> int:
        if st.kind == K_CONV:
            return costs.conv_bytes(self.a.geometry(st.name), cout, cin, n_kept)
        return costs.layer_weight_bytes(self.a, st.name, cout=cout, cin=cin)

    def total(self) -> int:
        return sum(s.bytes for s in self.layers.values()) + self.other_bytes

    # ------------------------------------------------------------------ candidates

    def filterlet_candidate(self, name: str):
        st = self.layers[name]
        order, ptr = self.fl_order[name], self.fl_ptr[name]
        # drop entries that can never be taken again
        while ptr < len(order):
            o, i, j, _ = order[ptr]
            if st.keep_out[o] and st.keep_fl[o, i, j] and st.per_filter[o] > 1:
                break
            ptr += 1
        self.fl_ptr[name] = ptr
        n_kept = st.n_kept
        taken: list[tuple[int, int, int]] = []
        left: dict[int, int] = {}
        score = 0.0
        for k in range(ptr, len(order)):
            o, i, j, s = order[k]
            if not (st.keep_out[o] and st.keep_fl[o, i, j]):
                continue
            rem = left.get(o, int(st.per_filter[o]))
            if rem <= 1:
                continue
            left[o] = rem - 1
            taken.append((o, i, j))
            score += s
            new = self._bytes(st, st.cout, st.cin, n_kept - len(taken))
            if new < st.bytes:
                return score, st.bytes - new, taken
        return None

    def class_candidate(self, cid: int):
        """(lost, saved, new bytes per layer) for removing channel class cid."""
        delta: dict[str, list[int]] = {}
        lost = float(self.imp.channel[cid])
        for p, ch in self.cls_prod[cid]:
            st = self.layers[p]
            d = delta.setdefault(p, [0, 0, 0])
            d[0] += 1
            if st.kind == K_CONV:
                d[2] += int(st.per_filter[ch])
            lost -= self.removed_fl_score.get((p, ch), 0.0)
        for c, npos in self.cls_cons[cid]:
            delta.setdefault(c, [0, 0, 0])[1] += npos
        saved = 0
        new_bytes = {}
        for name, (dout, din, dkept) in delta.items():
            st = self.layers[name]
            if st.kind == K_DEPTHWISE:  # channels pass through: output follows input
                dout = din = max(dout, din)
            nb = self._bytes(st, st.cout - dout, st.cin - din, (st.n_kept - dkept) if st.kind == K_CONV else 0)
            new_bytes[name] = (nb, dout, din)
            saved += st.bytes - nb
        return max(lost, 0.0), saved, new_bytes

    # ------------------------------------------------------------------ steps

    def apply_filterlets(self, name: str, taken, score: float) -> None:
        st = self.layers[name]
        for o, i, j in taken:
            st.keep_fl[o, i, j] = False
            st.per_filter[o] -= 1
            self.removed_fl_score[(name, o)] = self.removed_fl_score.get((name, o), 0.0) + float(
                self.imp.filterlet[name][o, i, j]
            )
        st.bytes = self._bytes(st, st.cout, st.cin, st.n_kept)
        self.lost += score
        self.steps["filterlet"] += 1
        self.steps["filterlets_removed"] += len(taken)

    def apply_class(self, cid: int, lost: float, new_bytes) -> None:
        self.removed[cid] = True
        for p, ch in self.cls_prod[cid]:
            self.layers[p].keep_out[ch] = False
        for name, (nb, dout, din) in new_bytes.items():
            st = self.layers[name]
            st.cout -= dout
            st.cin -= din
            if st.kind == K_DEPTHWISE:
                st.keep_out = np.ones(st.cout0, dtype=bool)  # bookkeeping only: depthwise follows its input
            st.bytes = nb
        self.group_alive[self.a.classes[cid].group] -= 1
        self.lost += lost
        self.steps["filter"] += 1

    def removable(self, cid: int) -> bool:
        cc = self.a.classes[cid]
        return not cc.frozen and not self.removed[cid] and self.group_alive[cc.group] > self.min_keep[cc.group]

    # ------------------------------------------------------------------ floor

    def floor_bytes(self) -> int:
        """Bytes when every limit binds: each group at its minimum channels, 1 filterlet per kept filter."""
        cout = {n: s.cout0 for n, s in self.layers.items()}
        cin = {n: s.cin0 for n, s in self.layers.items()}
        for g in self.a.groups:
            frozen = [c for c in g.classes if self.a.classes[c].frozen]
            free = [c for c in g.classes if not self.a.classes[c].frozen]
            drop = free[: max(0, min(len(free), len(g.classes) - self.min_keep[g.id]))]
            for cid in drop:
                for p, _ in self.cls_prod[cid]:
                    cout[p] -= 1
                for c, npos in self.cls_cons[cid]:
                    cin[c] -= npos
        total = self.other_bytes
        for n, s in self.layers.items():
            if s.kind == K_CONV:
                kept = cout[n] * (1 if s.filterlets else s.kh * s.kw)
                total += self._bytes(s, cout[n], cin[n], kept)
            elif s.kind == K_DEPTHWISE:
                total += self._bytes(s, cin[n], cin[n], 0)
            else:
                total += self._bytes(s, cout[n], cin[n], 0)
        return total

    # ------------------------------------------------------------------ loop

    def run(self, budget: int, progress: bool = False) -> None:
        total = self.total()
        fl_cache: dict[str, tuple | None] = {}
        cls_cache: dict[int, tuple] = {}
        bar = None
        if progress:
            from tqdm import tqdm

            bar = tqdm(total=max(total - budget, 0), desc="plan", unit="B", leave=False)
        start = total
        while total > budget:
            best = None  # (ratio, -saved, order key, action)
            for name in self.fl_order:
                if name not in fl_cache:
                    fl_cache[name] = self.filterlet_candidate(name)
                c = fl_cache[name]
                if c is not None:
                    key = (c[0] / c[1], -c[1], 0, name)
                    if best is None or key < best[0]:
                        best = (key, ("fl", name, c))
            for cid in range(len(self.a.classes)):
                if not self.removable(cid):
                    continue
                if cid not in cls_cache:
                    cls_cache[cid] = self.class_candidate(cid)
                lost, saved, nb = cls_cache[cid]
                if saved <= 0:
                    continue
                key = (lost / saved, -saved, 1, cid)
                if best is None or key < best[0]:
                    best = (key, ("cls", cid, (lost, saved, nb)))
            if best is None:
                break
            kind, target, c = best[1]
            if kind == "fl":
                self.apply_filterlets(target, c[2], c[0])
                touched = {target}
            else:
                self.apply_class(target, c[0], c[2])
                touched = set(c[2])
            total = self.total()
            for n in touched:
                fl_cache.pop(n, None)
            for cid in list(cls_cache):
                if self.cls_layers[cid] & touched:
                    del cls_cache[cid]
            if bar is not None:
                bar.n = min(start - total, bar.total)
                bar.refresh()
        if bar is not None:
            bar.close()


def make_plan(analysis: GraphAnalysis, imp: Importance, budget: int, *, progress: bool = False,
              max_filter_ratio: float = DEFAULT_MAX_FILTER_RATIO, initial_keep: dict[str, np.ndarray] | None = None,
              min_keep_by_producer: dict[str, int] | None = None) -> Plan:  # fmt: skip
    """Greedy plan reaching `budget` bytes; raises BudgetError when it is below the smallest reachable size.

    `initial_keep` (conv name -> keep mask [cout, kh, kw]) starts from filterlets that are already pruned,
    and `min_keep_by_producer` fixes each group's channel floor, for pruning in several stages.
    """
    g = _Greedy(analysis, imp, max_filter_ratio, initial_keep, min_keep_by_producer)
    dense = sum(s.dense_bytes for s in g.layers.values()) + g.other_bytes
    floor = g.floor_bytes()
    if budget < floor:
        raise BudgetError(budget_below_floor_message(budget, floor, dense, max_filter_ratio))
    if budget < g.total():
        g.run(budget, progress)
    total = g.total()
    if total > budget:  # pragma: no cover - the floor check makes this unreachable
        raise BudgetError(budget_below_floor_message(budget, total, dense, max_filter_ratio))
    return Plan(g.removed.copy(), g.layers, budget, dense, total, floor, g.other_bytes, g.lost, dict(g.steps))


def budget_below_floor_message(budget: int, floor: int, dense: int, max_filter_ratio: float) -> str:
    return (
        f"flash budget {budget:,} B is below the smallest reachable size {floor:,} B "
        f"({100.0 * floor / dense:.1f}% of the dense {dense:,} B, with at most {max_filter_ratio:g} of each "
        "channel group's filters removed and 1 filterlet left per filter)"
    )


def zero_importance(analysis: GraphAnalysis) -> Importance:
    """All-zero scores with the right shapes, for questions about bytes only."""
    filterlet = {}
    for n in analysis.conv_layers():
        geo = analysis.geometry(n)
        filterlet[n] = np.zeros((geo.cout, geo.kh, geo.kw))
    return Importance("none", filterlet, np.zeros(len(analysis.classes)))


def min_keep_by_producer(analysis: GraphAnalysis, max_filter_ratio: float = DEFAULT_MAX_FILTER_RATIO) -> dict:
    """Each producer's group floor on this (original) model, to carry through later stages."""
    return {p: group_min_keep(len(g.classes), max_filter_ratio) for g in analysis.groups for p in g.producers}


def kernel_keep_masks(analysis: GraphAnalysis) -> dict[str, np.ndarray]:
    """Conv name -> filterlet keep mask [cout, kh, kw] read from the model's zeros."""
    out = {}
    for n in analysis.conv_layers():
        k = analysis.model.get_layer(n).kernel.numpy()
        out[n] = np.transpose(np.any(k != 0, axis=2), (2, 0, 1))
    return out


def bytes_summary(analysis: GraphAnalysis, max_filter_ratio: float = DEFAULT_MAX_FILTER_RATIO) -> tuple[int, int]:
    """(dense bytes, smallest reachable bytes) -- for checking a budget before any data is read."""
    g = _Greedy(analysis, zero_importance(analysis), max_filter_ratio)
    return g.total(), g.floor_bytes()
