"""Activation tensors of a lowered model, their lifetimes and the buffers the planner places.

Steps are operator indices.  A tensor written by operator ``p`` and last read
by operator ``q`` lives over ``[p, q]``; the model input lives from step 0 to
its last reader and the model output from its writer to the last step (it
must survive ``invoke``).  Tensors that share bytes form one *region*:

* a pure reshape (``alias_of_input``) makes its output the same bytes as its
  input;
* an operator that may work in place (``in_place_ok``) gets its output merged
  into its first input's region when that region is not read after it and
  holds no model output.

Every region is one planner buffer, as is the scratch memory of every
operator that needs some (live only during its own step).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

from ..errors import DtmmError
from ..tflite.model import _NUMPY_TYPES, TfliteModel
from .planner import Buffer

C_TYPES = {
    "INT8": "int8_t", "UINT8": "uint8_t", "INT16": "int16_t", "UINT16": "uint16_t",
    "INT32": "int32_t", "UINT32": "uint32_t", "INT64": "int64_t", "UINT64": "uint64_t",
    "FLOAT32": "float", "BOOL": "uint8_t",
}  # fmt: skip


class GraphError(DtmmError):
    """A lowered model whose tensor flow cannot be planned; the message says why."""


def tensor_bytes(model: TfliteModel, index: int) -> int:
    t = model.tensors[index]
    dt = _NUMPY_TYPES.get(t.dtype)
    if dt is None or t.dtype not in C_TYPES:
        raise GraphError(f"{model.source}: tensor {index} ({t.name!r}) has unsupported type {t.dtype}")
    if any(d < 0 for d in t.shape):
        raise GraphError(f"{model.source}: tensor {index} ({t.name!r}) has a dynamic shape {list(t.shape)}")
    return t.size * np.dtype(dt).itemsize


@dataclass
class Region:
    """Bytes shared by one or more activation tensors (aliases, in-place results)."""

    name: str
    tensors: list = field(default_factory=list)
    size: int = 0
    first: int = 0
    last: int = 0


@dataclass
class Lifetimes:
    """Everything the planner and the emitter need to know about activation memory."""

    regions: list  # [Region], in order of their first tensor
    region_of: dict  # tensor index -> Region
    tensor_first: dict  # tensor index -> first step
    tensor_last: dict  # tensor index -> last step
    in_place: frozenset  # op indices whose output was merged into their input
    scratch: dict  # op index -> scratch bytes (> 0 only)

    def buffers(self) -> list[Buffer]:
        out = [Buffer(r.name, r.size, r.first, r.last) for r in self.regions]
        out += [Buffer(scratch_name(k), n, k, k) for k, n in sorted(self.scratch.items())]
        return out


def scratch_name(op_index: int) -> str:
    return f"scratch{op_index}"


class _UnionFind:
    def __init__(self):
        self.parent: dict[int, int] = {}

    def find(self, x: int) -> int:
        self.parent.setdefault(x, x)
        root = x
        while self.parent[root] != root:
            root = self.parent[root]
        while self.parent[x] != root:
            self.parent[x], x = root, self.parent[x]
        return root

    def union(self, a: int, b: int) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:  # smaller index is the root: deterministic region names
            lo, hi = min(ra, rb), max(ra, rb)
            self.parent[hi] = lo


def analyse(model: TfliteModel, lowered: Sequence, inputs: Sequence[int], outputs: Sequence[int]) -> Lifetimes:
    """Lifetimes and regions of the activation tensors of ``lowered`` (one LoweredOp per operator)."""
    n_steps = len(lowered)
    last_step = max(n_steps - 1, 0)
    producer: dict[int, int] = {}
    first: dict[int, int] = {}
    last: dict[int, int] = {}
    for t in inputs:
        first[t] = 0
        last[t] = 0
    for k, lo in enumerate(lowered):
        for t in lo.inputs:
            if t not in first:
                raise GraphError(
                    f"{model.source}: operator #{lo.op_index} ({lo.op_name}) reads tensor {t} "
                    f"({model.tensors[t].name!r}) before anything writes it"
                )
            last[t] = max(last[t], k)
        for t in lo.outputs:
            if t in producer or t in inputs:
                raise GraphError(
                    f"{model.source}: tensor {t} ({model.tensors[t].name!r}) is written twice "
                    f"(operators #{lowered[producer[t]].op_index if t in producer else 'input'} and #{lo.op_index})"
                )
            producer[t] = k
            first[t] = k
            last[t] = k
    for t in outputs:
        if t not in first:
            raise GraphError(f"{model.source}: model output tensor {t} is never written")
        last[t] = last_step

    sizes = {t: tensor_bytes(model, t) for t in first}
    uf = _UnionFind()
    for t in first:
        uf.find(t)
    for lo in lowered:
        if lo.alias_of_input:
            if len(lo.inputs) < 1 or len(lo.outputs) != 1:
                raise GraphError(
                    f"{model.source}: operator #{lo.op_index} ({lo.op_name}) is an alias but does not have "
                    "one input and one output"
                )
            if sizes[lo.outputs[0]] != sizes[lo.inputs[0]]:
                raise GraphError(
                    f"{model.source}: operator #{lo.op_index} ({lo.op_name}) aliases tensors of different sizes "
                    f"({sizes[lo.inputs[0]]} and {sizes[lo.outputs[0]]} bytes)"
                )
            uf.union(lo.inputs[0], lo.outputs[0])

    def group_span(root: int) -> tuple[int, int, bool]:
        members = [t for t in first if uf.find(t) == root]
        return (min(first[t] for t in members), max(last[t] for t in members),
                any(t in outputs for t in members))  # fmt: skip

    in_place = set()
    for k, lo in enumerate(lowered):
        if not lo.in_place_ok or lo.alias_of_input or not lo.inputs or not lo.outputs:
            continue
        a, b = uf.find(lo.inputs[0]), uf.find(lo.outputs[0])
        if a == b:
            continue
        a_first, a_last, a_holds_output = group_span(a)
        if a_last != k or a_holds_output:
            continue  # the input is still needed after this operator
        # another input of this operator living in the same region would be clobbered
        if any(uf.find(t) == a for t in lo.inputs[1:] if t != lo.inputs[0]):
            continue
        uf.union(a, b)
        in_place.add(lo.op_index)

    regions: dict[int, Region] = {}
    for t in sorted(first):
        root = uf.find(t)
        r = regions.get(root)
        if r is None:
            r = regions[root] = Region(name=f"t{root}", first=first[t], last=last[t])
        r.tensors.append(t)
        r.size = max(r.size, sizes[t])
        r.first = min(r.first, first[t])
        r.last = max(r.last, last[t])
    region_of = {t: regions[uf.find(t)] for t in first}
    scratch = {k: int(lo.scratch_bytes) for k, lo in enumerate(lowered) if lo.scratch_bytes > 0}
    return Lifetimes(
        regions=[regions[r] for r in sorted(regions)],
        region_of=region_of,
        tensor_first=first,
        tensor_last=last,
        in_place=frozenset(in_place),
        scratch=scratch,
    )
