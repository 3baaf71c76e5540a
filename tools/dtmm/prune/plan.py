"""The budget-driven pruning plan: which filters and filterlets go, chosen greedily.

State: a set of removed channel classes (filters, see ``graph``), per
Conv2D a keep mask over filterlets and, per layer offered channel groups
(``groups``: 1x1 Conv2D and Dense), a keep mask over its filters' groups.
Three kinds of step are offered at every iteration:

* **filterlet step** in a Conv2D with a kernel larger than 1x1: remove that
  layer's least important remaining filterlets -- as few as make the layer's
  exact FWCS size drop (the first ones may only pay for the index);
* **group step** in a layer offered channel groups: remove its least
  important remaining groups, as few as make its exact bytes drop (the first
  step pays for the GROUPS index and must leave at most
  ``fwcs.AUTO_GROUP_MAX_DENSITY`` of the groups, where `dtmm pack` starts
  storing them so);
* **filter step** in a channel group: remove one channel class -- a filter of
  every producer in the group, their BatchNorm entries and the matching input
  channels of every consumer.

Groups are counted in the layer's input channels, so the two units that
change those channels exclude each other per layer: a layer whose input
channels lost a class takes no group step, and once a layer lost a group the
classes it consumes are no longer removed (its own filters still can be).
Which comes first matters -- one free (dead) filter of the producer costs the
consumer its groups -- so with channel groups offered the plan is made with
every step competing, then again with the input channels of one more layer
offered groups kept (layers in model order, each kept when the plan then
loses less importance and every kept layer lost groups), then with all of
them kept, and without new groups;
the plan losing least is taken (3 + one greedy run per such layer), so
offering groups never gives a plan the scores rate worse than filters and
filterlets alone.

Each step's cost is the importance it loses (for a filter step, the class
score minus what its producers' already-removed filterlets had cost). Its
gain is what it saves of every budget not yet met -- flash bytes exactly
(``costs``), instructions and arena bytes as ``resources`` predicts them --
each as a fraction of how far that budget still is: ``sum_k saved_k /
excess_k``. The step with the least importance lost per unit of gain is
taken until every budget is met; with the flash budget alone that is the
least importance per byte. Without a flash budget a filterlet or group step removes
a few at a time (a 64th of the layer's kept ones, at least one). A group
step can *cost* instructions (a layer just stored as GROUPS may run slower
than dense): its negative saving counts against its gain, and a step that
would push a met budget back over its target is not taken. Limits: a filter
group loses at most ``max_filter_ratio`` (default
0.75) of its channels and keeps at least one; a kept filter keeps at least
one filterlet (a kept filter of a grouped layer one group). ``floor_bytes``
is the size when every limit binds with filters and filterlets -- the
smallest size those reach (channel groups can go a little lower).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..errors import DtmmError
from . import costs
from .graph import K_CONV, K_DENSE, K_DEPTHWISE, GraphAnalysis
from .importance import Importance


class BudgetError(DtmmError):
    """A budget cannot be met: `budget` names it (FLASH, INSTRUCTIONS, ARENA), `floor` is its smallest value."""

    def __init__(self, message: str, budget: str = "flash", floor: float | None = None):
        super().__init__(message)
        self.budget = budget
        self.floor = floor


#: budget keys of a plan: exact flash bytes, predicted instructions, arena proxy bytes (see ``resources``)
FLASH, INSTRUCTIONS, ARENA = "flash", "instructions", "arena"


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
    group: int = 0  # channel-group size (a 1x1 Conv2D or Dense layer offered the unit), 0 without
    keep_grp: np.ndarray | None = None  # bool [cout0, cin0 // group]
    grp_per_filter: np.ndarray | None = None  # kept groups per original filter
    groups_removed: int = 0  # groups removed from kept filters (> 0: its input classes stay)
    bytes: int = 0
    dense_bytes: int = 0
    instructions: float = 0.0

    @property
    def n_kept(self) -> int:
        """Kept filterlets of the kept filters (conv only)."""
        return int(self.per_filter[self.keep_out].sum()) if self.per_filter is not None else 0

    @property
    def n_groups(self) -> int | None:
        """Kept channel groups of the kept filters, None for a layer without the unit."""
        return int(self.grp_per_filter[self.keep_out].sum()) if self.group else None

    def units(self) -> list[str]:
        """The pruning units this layer's state used: filters, filterlets, channel groups."""
        out = []
        if self.kind != K_DEPTHWISE and self.cout < self.cout0:
            out.append("filters")
        if self.kind == K_CONV and self.filterlets and self.n_kept < self.cout * self.kh * self.kw:
            out.append("filterlets")
        if self.groups_removed:
            out.append("channel groups")
        return out


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
    instructions: float | None = None  # the plan's own prediction (resources), None without a resource model
    arena_proxy: int | None = None
    targets: dict | None = None
    #: layers whose input channels the plan kept so they could lose channel groups (see make_plan)
    inputs_kept_for_groups: list[str] = field(default_factory=list)

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

    def group_masks(self) -> dict[str, np.ndarray]:
        """Layer name -> channel-group keep mask [cout0, cin0 // g] (removed filters False), for the layers
        that lost groups."""
        return {n: s.keep_grp & s.keep_out[:, None] for n, s in self.layers.items() if s.groups_removed}

    def layer_rows(self, analysis: GraphAnalysis) -> list[dict]:
        rows = []
        for name, s in self.layers.items():
            row = {
                "name": name, "type": analysis.layers[name].class_name,
                "cout": s.cout0, "cout_kept": int(s.cout), "cin": s.cin0, "cin_kept": int(s.cin),
                "beta_filter_ratio": round(1.0 - s.cout / s.cout0, 4) if s.kind != K_DEPTHWISE else None,
                "alpha_filterlet_ratio": None, "filterlets": None, "filterlets_kept": None,
                "dense_bytes": s.dense_bytes, "planned_bytes": s.bytes, "encoding": "dense",
                "units": s.units(), "group_size": s.group or None, "groups": None, "groups_kept": None,
                "group_ratio": None,
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
            if s.group:
                total = int(s.cout) * (s.cin0 // s.group)
                row.update(groups=s.cout0 * (s.cin0 // s.group), groups_kept=s.n_groups,
                           group_ratio=round(1.0 - s.n_groups / total, 4) if total else 0.0)  # fmt: skip
                if s.groups_removed:
                    row["encoding"] = layer_bytes(analysis, s, s.cout, s.cin, s.n_kept, s.n_groups)[1]
            rows.append(row)
        return rows


DEFAULT_MAX_FILTER_RATIO = 0.75
#: counters of a plan's steps (`Plan.steps`)
STEP_KEYS = ("filter", "filterlet", "filterlets_removed", "group", "groups_removed")


def layer_bytes(analysis: GraphAnalysis, st: LayerState, cout: int, cin: int, n_kept: int,
                n_groups: int | None = None) -> tuple[int, str]:  # fmt: skip
    """(exact bytes, encoding) of layer `st` with this many output / input channels, kept filterlets
    (Conv2D) and kept channel groups (a layer with the unit whose input channels are all there)."""
    if cout == 0 and st.kind != K_DEPTHWISE:
        return 0, "removed"
    if st.kind == K_CONV:
        geo = analysis.geometry(st.name)
        b, enc = costs.conv_bytes(geo, cout, cin, n_kept), costs.conv_encoding(geo, cout, cin, n_kept)
    else:
        b, enc = costs.layer_weight_bytes(analysis, st.name, cout=cout, cin=cin), "dense"
    if st.group and n_groups is not None and cin == st.cin0:
        size = costs.grouped_bytes(b, cout, cin, st.group, n_groups, dense_layer=st.kind == K_DENSE)
        if size is not None:
            return size, "groups"
    return b, enc


def group_min_keep(n_channels: int, max_filter_ratio: float) -> int:
    """Channels a group keeps at least: 1, and (1 - max_filter_ratio) of them rounded up."""
    return max(1, int(np.ceil((1.0 - max_filter_ratio) * n_channels - 1e-9)))


class _Greedy:
    def __init__(self, analysis: GraphAnalysis, imp: Importance, max_filter_ratio: float = DEFAULT_MAX_FILTER_RATIO,
                 initial_keep: dict[str, np.ndarray] | None = None,
                 min_keep_by_producer: dict[str, int] | None = None, resources=None,
                 filterlets: bool = True, group_sizes: dict[str, int] | None = None,
                 initial_groups: dict[str, np.ndarray] | None = None, keep_inputs_of: frozenset = frozenset()):  # fmt: skip
        if not 0.0 <= max_filter_ratio < 1.0:
            raise DtmmError(f"max filter ratio {max_filter_ratio} is not in [0, 1)")
        self.a = analysis
        self.imp = imp
        self.res = resources
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
                st = LayerState(name, K_CONV, cout, cin, cout, cin, kh, kw,
                                filterlets and analysis.filterlet_prunable(name))  # fmt: skip
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
            g = (group_sizes or {}).get(name, 0)
            if g:
                if name not in imp.group or imp.group[name].shape != (st.cout0, st.cin0 // g):
                    raise DtmmError(f"internal error: no channel-group scores of {name} in groups of {g}")
                st.group = g
                st.keep_grp = np.ones((st.cout0, st.cin0 // g), dtype=bool)
                if initial_groups is not None and name in initial_groups:  # already-pruned groups
                    st.keep_grp = np.array(initial_groups[name], dtype=bool)
                    st.keep_grp[st.keep_grp.sum(axis=1) == 0] = True  # never start below 1 per filter
                    st.groups_removed = int((~st.keep_grp).sum())
                st.grp_per_filter = st.keep_grp.sum(axis=1).astype(np.int64)
            st.dense_bytes = self._bytes(st, st.cout, st.cin, st.cout * st.kh * st.kw if info.kind == K_CONV else 0)
            st.bytes = self._bytes(st, st.cout, st.cin, st.n_kept if info.kind == K_CONV else 0, st.n_groups)
            st.instructions = self._instr(st, st.cout, st.cin, st.n_kept, st.n_groups)
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
        # channel-group candidates, least important first (ties: storage order)
        self.grp_order: dict[str, list[tuple[int, int, float]]] = {}
        for name, st in self.layers.items():
            if st.group:
                sc = imp.group[name]
                flat = sc.reshape(-1)
                order = np.argsort(flat, kind="stable")
                o, j = np.unravel_index(order, sc.shape)
                self.grp_order[name] = list(zip(o.tolist(), j.tolist(), flat[order].tolist()))
        self.cls_cons_names = [[c for c, _ in cons] for cons in self.cls_cons]
        # the classes consumed by the layers in keep_inputs_of stay: their input channels are their groups
        self.keep_inputs_of = frozenset(keep_inputs_of)
        self.reserved = np.array([any(c in self.keep_inputs_of for c in names) for names in self.cls_cons_names],
                                 dtype=bool)  # fmt: skip
        self.lost = 0.0
        self.steps = dict.fromkeys(STEP_KEYS, 0)
        self.buf_sizes = resources.buffer_sizes(self.removed) if resources is not None else []

    # ------------------------------------------------------------------ bytes

    def _bytes(self, st: LayerState, cout: int, cin: int, n_kept: int, n_groups: int | None = None) -> int:
        return layer_bytes(self.a, st, cout, cin, n_kept, n_groups)[0]

    def total(self) -> int:
        return sum(s.bytes for s in self.layers.values()) + self.other_bytes

    def _instr(self, st: LayerState, cout: int, cin: int, n_kept: int, n_groups: int | None = None) -> float:
        if self.res is None:
            return 0.0
        if st.kind == K_DEPTHWISE:
            cout = cin
        grouped = st.group and n_groups is not None and layer_bytes(self.a, st, cout, cin, n_kept, n_groups)[1] == "groups"
        return self.res.layer_instructions(st.name, cout, cin, n_kept, n_groups if grouped else None)

    def total_instructions(self) -> float:
        return sum(s.instructions for s in self.layers.values()) + (self.res.fixed_instructions if self.res else 0.0)

    def arena(self) -> int:
        return self.res.proxy_from_sizes(self.buf_sizes) if self.res is not None else 0

    def current(self) -> dict:
        return {FLASH: self.total(), INSTRUCTIONS: self.total_instructions(), ARENA: self.arena()}

    # ------------------------------------------------------------------ candidates

    def filterlet_candidate(self, name: str, by_bytes: bool = True):
        """(importance lost, {budget: saved}, filterlets) of the next filterlet step in `name`, or None.

        by_bytes: as few filterlets as make the layer's bytes drop; else a 64th of its kept ones (at least 1)."""
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
        chunk = max(1, n_kept // 64)
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
            if (by_bytes and new < st.bytes) or (not by_bytes and len(taken) >= chunk):
                saved_instr = st.instructions - self._instr(st, st.cout, st.cin, n_kept - len(taken))
                return score, {FLASH: st.bytes - new, INSTRUCTIONS: saved_instr, ARENA: 0}, taken
        if taken and not by_bytes:
            new = self._bytes(st, st.cout, st.cin, n_kept - len(taken))
            saved_instr = st.instructions - self._instr(st, st.cout, st.cin, n_kept - len(taken))
            return score, {FLASH: st.bytes - new, INSTRUCTIONS: saved_instr, ARENA: 0}, taken
        return None

    def group_candidate(self, name: str, by_bytes: bool = True):
        """(importance lost, {budget: saved}, groups) of the next channel-group step in `name`, or None.

        by_bytes: as few groups as make the layer's bytes drop; else a 64th of its kept ones (at least 1).
        None while the layer's input channels are not all there (groups are counted in them)."""
        st = self.layers[name]
        if st.cin != st.cin0 or st.cout == 0:
            return None
        n_groups = st.n_groups
        taken: list[tuple[int, int]] = []  # every group that may go, least important first
        left: dict[int, int] = {}
        for o, j, _ in self.grp_order[name]:
            if st.keep_out[o] and st.keep_grp[o, j]:
                rem = left.get(o, int(st.grp_per_filter[o]))
                if rem > 1:  # a kept filter keeps a group
                    left[o] = rem - 1
                    taken.append((o, j))
        if not taken:
            return None
        if by_bytes:  # the fewest that make the bytes drop (bytes fall monotonically with the groups kept)
            lo, hi = 1, len(taken)
            if self._bytes(st, st.cout, st.cin, st.n_kept, n_groups - hi) >= st.bytes:
                return None
            while lo < hi:
                mid = (lo + hi) // 2
                if self._bytes(st, st.cout, st.cin, st.n_kept, n_groups - mid) < st.bytes:
                    hi = mid
                else:
                    lo = mid + 1
            taken = taken[:lo]
        else:
            taken = taken[: max(1, n_groups // 64)]
        score = float(sum(self.imp.group[name][o, j] for o, j in taken))
        new = self._bytes(st, st.cout, st.cin, st.n_kept, n_groups - len(taken))
        saved_instr = st.instructions - self._instr(st, st.cout, st.cin, st.n_kept, n_groups - len(taken))
        return score, {FLASH: st.bytes - new, INSTRUCTIONS: saved_instr, ARENA: 0}, taken

    def class_candidate(self, cid: int, with_arena: bool = False):
        """(lost, {budget: saved}, new (bytes, dout, din, instructions) per layer) for removing channel class cid."""
        delta: dict[str, list[int]] = {}
        lost = float(self.imp.channel[cid])
        for p, ch in self.cls_prod[cid]:
            st = self.layers[p]
            d = delta.setdefault(p, [0, 0, 0, 0])
            d[0] += 1
            if st.kind == K_CONV:
                d[2] += int(st.per_filter[ch])
            if st.group:
                d[3] += int(st.grp_per_filter[ch])
            lost -= self.removed_fl_score.get((p, ch), 0.0)
        for c, npos in self.cls_cons[cid]:
            delta.setdefault(c, [0, 0, 0, 0])[1] += npos
        saved = 0
        saved_instr = 0.0
        new_bytes = {}
        for name, (dout, din, dkept, dgroups) in delta.items():
            st = self.layers[name]
            if st.kind == K_DEPTHWISE:  # channels pass through: output follows input
                dout = din = max(dout, din)
            kept = (st.n_kept - dkept) if st.kind == K_CONV else 0
            nb = self._bytes(st, st.cout - dout, st.cin - din, kept, st.n_groups - dgroups if st.group else None)
            ni = self._instr(st, st.cout - dout, st.cin - din, kept, st.n_groups - dgroups if st.group else None)
            new_bytes[name] = (nb, dout, din, ni)
            saved += st.bytes - nb
            saved_instr += st.instructions - ni
        saved_arena = 0
        if with_arena and self.res is not None:
            sizes = list(self.buf_sizes)
            for bi, n in self.res.class_buffers[cid]:
                sizes[bi] -= n
            saved_arena = self.arena() - self.res.proxy_from_sizes(sizes)
        return max(lost, 0.0), {FLASH: saved, INSTRUCTIONS: saved_instr, ARENA: saved_arena}, new_bytes

    # ------------------------------------------------------------------ steps

    def apply_filterlets(self, name: str, taken, score: float) -> None:
        st = self.layers[name]
        for o, i, j in taken:
            st.keep_fl[o, i, j] = False
            st.per_filter[o] -= 1
            self.removed_fl_score[(name, o)] = self.removed_fl_score.get((name, o), 0.0) + float(
                self.imp.filterlet[name][o, i, j]
            )
        st.bytes = self._bytes(st, st.cout, st.cin, st.n_kept, st.n_groups)
        st.instructions = self._instr(st, st.cout, st.cin, st.n_kept, st.n_groups)
        self.lost += score
        self.steps["filterlet"] += 1
        self.steps["filterlets_removed"] += len(taken)

    def apply_groups(self, name: str, taken, score: float) -> None:
        st = self.layers[name]
        for o, j in taken:
            st.keep_grp[o, j] = False
            st.grp_per_filter[o] -= 1
            self.removed_fl_score[(name, o)] = self.removed_fl_score.get((name, o), 0.0) + float(
                self.imp.group[name][o, j]
            )
        st.groups_removed += len(taken)
        st.bytes = self._bytes(st, st.cout, st.cin, st.n_kept, st.n_groups)
        st.instructions = self._instr(st, st.cout, st.cin, st.n_kept, st.n_groups)
        self.lost += score
        self.steps["group"] += 1
        self.steps["groups_removed"] += len(taken)

    def apply_class(self, cid: int, lost: float, new_bytes) -> None:
        self.removed[cid] = True
        for p, ch in self.cls_prod[cid]:
            self.layers[p].keep_out[ch] = False
        for name, (nb, dout, din, ni) in new_bytes.items():
            st = self.layers[name]
            st.cout -= dout
            st.cin -= din
            if st.kind == K_DEPTHWISE:
                st.keep_out = np.ones(st.cout0, dtype=bool)  # bookkeeping only: depthwise follows its input
            st.bytes = nb
            st.instructions = ni
        if self.res is not None:
            for bi, n in self.res.class_buffers[cid]:
                self.buf_sizes[bi] -= n
        self.group_alive[self.a.classes[cid].group] -= 1
        self.lost += lost
        self.steps["filter"] += 1

    def removable(self, cid: int) -> bool:
        cc = self.a.classes[cid]
        return (not cc.frozen and not self.removed[cid] and self.group_alive[cc.group] > self.min_keep[cc.group]
                and not self.reserved[cid] and not any(self.layers[c].groups_removed for c in self.cls_cons_names[cid]))

    # ------------------------------------------------------------------ floor

    def floor(self) -> dict:
        """Every budget's smallest reachable value: each group at its minimum channels, 1 filterlet per kept filter.

        All three only fall as pruning goes on, so this one state is the smallest for each of them at once.
        Channel groups count only in layers that already lost some (earlier stages), at 1 per kept filter, with
        the classes they consume kept; elsewhere the figure is what filters and filterlets reach."""
        cout = {n: s.cout0 for n, s in self.layers.items()}
        cin = {n: s.cin0 for n, s in self.layers.items()}
        removed = np.zeros(len(self.a.classes), dtype=bool)
        for g in self.a.groups:
            frozen = [c for c in g.classes if self.a.classes[c].frozen]
            free = [c for c in g.classes if not self.a.classes[c].frozen
                    and not any(self.layers[n].groups_removed for n in self.cls_cons_names[c])]
            drop = free[: max(0, min(len(free), len(g.classes) - self.min_keep[g.id]))]
            for cid in drop:
                removed[cid] = True
                for p, _ in self.cls_prod[cid]:
                    cout[p] -= 1
                for c, npos in self.cls_cons[cid]:
                    cin[c] -= npos
        total, instr = self.other_bytes, 0.0
        for n, s in self.layers.items():
            if s.kind == K_CONV:
                kept = cout[n] * (1 if s.filterlets else s.kh * s.kw)
                total += self._bytes(s, cout[n], cin[n], kept, cout[n] if s.groups_removed else None)
                instr += self._instr(s, cout[n], cin[n], kept, cout[n] if s.groups_removed else None)
            elif s.kind == K_DEPTHWISE:
                total += self._bytes(s, cin[n], cin[n], 0)
                instr += self._instr(s, cin[n], cin[n], 0)
            else:
                total += self._bytes(s, cout[n], cin[n], 0, cout[n] if s.groups_removed else None)
                instr += self._instr(s, cout[n], cin[n], 0, cout[n] if s.groups_removed else None)
        out = {FLASH: total, INSTRUCTIONS: instr + (self.res.fixed_instructions if self.res else 0.0), ARENA: 0}
        if self.res is not None:
            out[ARENA] = self.res.arena_proxy(removed)
        out["removed"] = removed
        out["shapes"] = (cout, cin)
        return out

    def floor_bytes(self) -> int:
        return self.floor()[FLASH]

    # ------------------------------------------------------------------ loop

    def run(self, targets: dict, progress: bool = False) -> None:
        """Take steps until every target in `targets` ({FLASH|INSTRUCTIONS|ARENA: value}) is met."""
        fl_cache: dict[str, tuple | None] = {}
        grp_cache: dict[str, tuple | None] = {}
        cls_cache: dict[int, tuple] = {}
        cur = self.current()
        excess = {k: cur[k] - v for k, v in targets.items() if cur[k] > v}
        start = dict(excess)
        by_bytes = FLASH in targets
        bar = None
        if progress:
            from tqdm import tqdm

            bar = tqdm(total=1000, desc="plan", unit="‰", leave=False)
        while excess:
            with_arena = ARENA in excess
            best = None  # (key, action)

            def gain(saved: dict) -> float:
                """Saved over excess, summed over the budgets not yet met; 0 for a step that would push a
                budget over its target (a GROUPS layer can cost more instructions than dense)."""
                if any(saved[k] < 0 and cur[k] - saved[k] > v for k, v in targets.items()):
                    return 0.0
                return sum(saved[k] / e for k, e in excess.items())

            for kind, cache, candidate in (("fl", fl_cache, self.filterlet_candidate),
                                           ("grp", grp_cache, self.group_candidate)):  # fmt: skip
                for name in self.fl_order if kind == "fl" else self.grp_order:
                    if name not in cache:
                        cache[name] = candidate(name, by_bytes)
                    c = cache[name]
                    if c is not None:
                        g = gain(c[1])
                        if g > 0:
                            key = (c[0] / g, -g, 0, name)
                            if best is None or key < best[0]:
                                best = (key, (kind, name, c))
            for cid in range(len(self.a.classes)):
                if not self.removable(cid):
                    continue
                if cid not in cls_cache or (with_arena and cls_cache[cid][3] is False):
                    lost, saved, nb = self.class_candidate(cid, with_arena)
                    cls_cache[cid] = (lost, saved, nb, with_arena)
                lost, saved, nb, _ = cls_cache[cid]
                g = gain(saved)
                if g <= 0:
                    continue
                key = (lost / g, -g, 1, cid)
                if best is None or key < best[0]:
                    best = (key, ("cls", cid, (lost, saved, nb)))
            if best is None:
                break
            kind, target, c = best[1]
            if kind == "fl":
                self.apply_filterlets(target, c[2], c[0])
                touched = {target}
            elif kind == "grp":
                self.apply_groups(target, c[2], c[0])
                touched = {target}
            else:
                self.apply_class(target, c[0], c[2])
                touched = set(c[2])
                for cid in list(cls_cache):  # every buffer size may have moved: arena gains are stale
                    if cls_cache[cid][3]:
                        del cls_cache[cid]
            for n in touched:
                fl_cache.pop(n, None)
                grp_cache.pop(n, None)
            for cid in list(cls_cache):
                if self.cls_layers[cid] & touched:
                    del cls_cache[cid]
            cur = self.current()
            excess = {k: cur[k] - v for k, v in targets.items() if cur[k] > v}
            if bar is not None:
                done = min((1 - excess.get(k, 0) / e) for k, e in start.items()) if start else 1.0
                bar.n = int(1000 * done)
                bar.refresh()
        if bar is not None:
            bar.close()


def make_plan(analysis: GraphAnalysis, imp: Importance, budget: int | None, *, progress: bool = False,
              max_filter_ratio: float = DEFAULT_MAX_FILTER_RATIO, initial_keep: dict[str, np.ndarray] | None = None,
              min_keep_by_producer: dict[str, int] | None = None, resources=None,
              instructions: float | None = None, arena: int | None = None, filterlets: bool = True,
              group_sizes: dict[str, int] | None = None, initial_groups: dict[str, np.ndarray] | None = None) -> Plan:  # fmt: skip
    """Greedy plan meeting `budget` flash bytes (None: no flash budget) and, with `resources`
    (``resources.ResourceModel``), `instructions` and `arena` (arena proxy bytes, before the offset).

    Raises BudgetError when a target is below its smallest reachable value. `initial_keep` (conv name ->
    keep mask [cout, kh, kw]) starts from filterlets that are already pruned, and `min_keep_by_producer`
    fixes each group's channel floor, for pruning in several stages. `filterlets=False` plans filters
    only (the `filter` baseline method). `group_sizes` (layer name -> channels per group, see ``groups``)
    offers channel groups in those layers, `initial_groups` (name -> keep mask [cout, cin // g]) starts
    from groups already pruned. Group steps block the classes their layer consumes; should that leave a
    target out of reach near the floor, the plan is made again with groups only where they were pruned before.
    """
    if resources is None and (instructions is not None or arena is not None):
        raise DtmmError("internal error: instruction or arena targets need a resource model")
    def greedy(keep_inputs_of=frozenset(), sizes=group_sizes) -> _Greedy:
        return _Greedy(analysis, imp, max_filter_ratio, initial_keep, min_keep_by_producer, resources, filterlets,
                       sizes, initial_groups, keep_inputs_of)  # fmt: skip

    g = greedy()
    dense = sum(s.dense_bytes for s in g.layers.values()) + g.other_bytes
    floor = g.floor()
    targets = {k: v for k, v in ((FLASH, budget), (INSTRUCTIONS, instructions), (ARENA, arena)) if v is not None}
    if budget is not None and budget < floor[FLASH]:
        raise BudgetError(budget_below_floor_message(budget, floor[FLASH], dense, max_filter_ratio, filterlets),
                          FLASH, floor[FLASH])  # fmt: skip
    for key in (INSTRUCTIONS, ARENA):
        if key in targets and targets[key] < floor[key]:
            raise BudgetError(f"{key} target {targets[key]:,.0f} is below the plan floor {floor[key]:,.0f}", key,
                              floor[key])  # fmt: skip

    def met(x: _Greedy) -> bool:
        cur = x.current()
        return all(cur[k] <= v for k, v in targets.items())

    def run(x: _Greedy) -> _Greedy:
        if not met(x):
            x.run(targets, progress)
        return x

    # which layers keep their input channels for channel groups (see the module docstring): none first, then
    # each layer offered groups in model order, kept when the plan then loses less importance; then all of them
    run(g)
    best = g if met(g) else None
    chosen: frozenset = frozenset()
    layers = list(g.grp_order) if FLASH in targets else []  # group steps save flash only

    def better(x: _Greedy) -> bool:  # kept inputs must have served groups: blocking filters alone is no plan
        return met(x) and all(x.layers[n].groups_removed for n in x.keep_inputs_of) and (
            best is None or x.lost < best.lost)

    for name in layers:
        trial = run(greedy(chosen | {name}))
        if better(trial):
            best, chosen = trial, chosen | {name}
    if layers and chosen != frozenset(layers):
        trial = run(greedy(frozenset(layers)))
        if better(trial):
            best = trial
    fallback = g
    if layers:  # and without new groups: a group step taken early can block filters that lose less
        pruned_before = {n: v for n, v in group_sizes.items() if initial_groups and n in initial_groups}
        fallback = trial = run(greedy(sizes=pruned_before))
        if met(trial) and (best is None or trial.lost < best.lost):
            best = trial
    # none met every target: instruction and arena targets are the resource model's estimates, which
    # checked_plan measures and moves; the flash budget is exact and the floor check makes it reachable
    g = best if best is not None else fallback
    cur = g.current()
    if budget is not None and cur[FLASH] > budget:  # pragma: no cover - the floor check makes this unreachable
        raise BudgetError(budget_below_floor_message(budget, cur[FLASH], dense, max_filter_ratio, filterlets), FLASH,
                          cur[FLASH])  # fmt: skip
    return Plan(g.removed.copy(), g.layers, budget if budget is not None else dense, dense, cur[FLASH], floor[FLASH],
                g.other_bytes, g.lost, dict(g.steps),
                instructions=cur[INSTRUCTIONS] if resources is not None else None,
                arena_proxy=cur[ARENA] if resources is not None else None, targets=targets,
                inputs_kept_for_groups=sorted(g.keep_inputs_of))  # fmt: skip


def budget_below_floor_message(budget: int, floor: int, dense: int, max_filter_ratio: float,
                               filterlets: bool = True) -> str:  # fmt: skip
    return (
        f"flash budget {budget:,} B is below the smallest reachable size {floor:,} B "
        f"({100.0 * floor / dense:.1f}% of the dense {dense:,} B, with at most {max_filter_ratio:g} of each "
        "channel group's filters removed" + (" and 1 filterlet left per filter)" if filterlets else ")")
    )


def plan_floor(analysis: GraphAnalysis, resources=None, max_filter_ratio: float = DEFAULT_MAX_FILTER_RATIO,
               min_keep_by_producer: dict[str, int] | None = None, initial_keep=None,
               filterlets: bool = True) -> dict:  # fmt: skip
    """The floor state's figures ({FLASH, INSTRUCTIONS, ARENA}, see ``_Greedy.floor``)."""
    return _Greedy(analysis, zero_importance(analysis), max_filter_ratio, initial_keep, min_keep_by_producer,
                   resources, filterlets).floor()  # fmt: skip


def floor_plan(analysis: GraphAnalysis, max_filter_ratio: float = DEFAULT_MAX_FILTER_RATIO,
               min_keep_by_producer: dict[str, int] | None = None, initial_keep=None,
               filterlets: bool = True) -> Plan:  # fmt: skip
    """The floor state as a Plan (which channels and filterlets go is arbitrary: only the sizes matter)."""
    g = _Greedy(analysis, zero_importance(analysis), max_filter_ratio, initial_keep, min_keep_by_producer,
                filterlets=filterlets)  # fmt: skip
    dense = sum(s.dense_bytes for s in g.layers.values()) + g.other_bytes
    f = g.floor()
    for cid in np.flatnonzero(f["removed"]):
        lost, _saved, nb = g.class_candidate(int(cid))
        g.apply_class(int(cid), lost, nb)
    for st in g.layers.values():
        if st.kind == K_CONV and st.filterlets:
            for o in np.flatnonzero(st.keep_out):
                idx = np.argwhere(st.keep_fl[o])
                for i, j in idx[1:]:
                    st.keep_fl[o, i, j] = False
                st.per_filter[o] = 1
            st.bytes = g._bytes(st, st.cout, st.cin, st.n_kept)
    total = g.total()
    return Plan(g.removed.copy(), g.layers, total, dense, total, total, g.other_bytes, g.lost, dict(g.steps))


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


def given_bytes(analysis: GraphAnalysis) -> tuple[int, int]:
    """(bytes, all-zero filterlets): what `dtmm pack` stores for the model's weights as they are.

    Published models sometimes carry all-zero filters or filterlets; the packer stores none of them, so
    the model never cost the dense byte model's figure.  This is the base of a percentage flash budget.
    (The TFLite converter also drops an all-zero Dense bias: a FULLY_CONNECTED without one.)"""
    g = _Greedy(analysis, zero_importance(analysis))
    total, zero = g.other_bytes, 0
    for name, st in g.layers.items():
        layer = analysis.model.get_layer(name)
        if st.kind == K_CONV:
            kernel = np.asarray(layer.kernel)  # (kh, kw, cin, cout)
            stored = np.any(kernel != 0, axis=2)
            zero += int(stored.size - stored.sum())
            total += layer_bytes(analysis, st, st.cout, st.cin, int(stored.sum()))[0]
        else:
            total += st.bytes
            bias = getattr(layer, "bias", None)
            if st.kind == K_DENSE and bias is not None and not np.any(np.asarray(bias)) and \
                    analysis.layers[name].folded_bn is None:
                total -= 4 * st.cout
    return total, zero


def bytes_summary(analysis: GraphAnalysis, max_filter_ratio: float = DEFAULT_MAX_FILTER_RATIO,
                  filterlets: bool = True) -> tuple[int, int]:  # fmt: skip
    """(dense bytes, smallest reachable bytes) -- for checking a budget before any data is read."""
    g = _Greedy(analysis, zero_importance(analysis), max_filter_ratio, filterlets=filterlets)
    return g.total(), g.floor_bytes()
