"""Static arena planning: offsets for buffers with known lifetimes, minimising the peak.

A *buffer* is a block of bytes that must stay intact from the step that
writes it (``first``) to the last step that reads it (``last``), both
inclusive; steps are operator indices.  Two buffers whose step intervals
intersect must not share a byte; any others may.  The planner places every
buffer at an ``alignment``-multiple offset in one arena and returns the
arena size (the peak).

Finding the optimal placement is NP-hard (it is dynamic storage allocation),
so :func:`plan_arena` runs a handful of greedy placements — each a buffer
order (by size, by start of lifetime, by size times duration, by duration)
combined with first-fit or best-fit gap selection — and keeps the smallest
arena; while that is above the lower bound it also tries a few dozen
seeded random orders.  Candidates are tried in a fixed order and the first
of equally good ones wins, so the plan is deterministic.  :func:`lower_bound` (the largest
total of simultaneously live bytes) says how far from optimal a plan can be.
"""
from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Callable, Iterable, Sequence

from ..errors import DtmmError

DEFAULT_ALIGNMENT = 16
#: random restarts (seeded, so still deterministic) when the greedy orders miss the lower bound
RESTARTS = 64


class PlanError(DtmmError):
    """Buffers that cannot be planned (negative sizes, bad lifetimes, duplicate names)."""


@dataclass(frozen=True)
class Buffer:
    """``size`` bytes live from step ``first`` to step ``last`` (inclusive)."""

    name: str
    size: int
    first: int
    last: int

    def overlaps(self, other: "Buffer") -> bool:
        return self.first <= other.last and other.first <= self.last


@dataclass(frozen=True)
class ArenaPlan:
    """Where every buffer lives; ``size`` is the arena size (a multiple of the alignment)."""

    offsets: dict  # name -> byte offset
    size: int
    lower_bound: int
    strategy: str
    alignment: int

    def offset(self, name: str) -> int:
        return self.offsets[name]


def align_up(n: int, alignment: int) -> int:
    return (n + alignment - 1) // alignment * alignment


def _check(buffers: Sequence[Buffer], alignment: int) -> None:
    if alignment < 1 or alignment & (alignment - 1):
        raise PlanError(f"alignment {alignment} is not a power of two")
    seen = set()
    for b in buffers:
        if b.name in seen:
            raise PlanError(f"duplicate buffer name {b.name!r}")
        seen.add(b.name)
        if b.size < 0:
            raise PlanError(f"buffer {b.name!r} has negative size {b.size}")
        if b.first > b.last:
            raise PlanError(f"buffer {b.name!r} ends (step {b.last}) before it starts (step {b.first})")


def lower_bound(buffers: Iterable[Buffer], alignment: int = DEFAULT_ALIGNMENT) -> int:
    """The largest total (aligned) size of buffers live at the same step: no plan is smaller."""
    events: dict[int, int] = {}
    for b in buffers:
        if b.size <= 0:
            continue
        s = align_up(b.size, alignment)
        events[b.first] = events.get(b.first, 0) + s
        events[b.last + 1] = events.get(b.last + 1, 0) - s
    best = live = 0
    for step in sorted(events):
        live += events[step]
        best = max(best, live)
    return best


def _place(order: Sequence[Buffer], alignment: int, best_fit: bool) -> tuple[dict, int]:
    """Greedy placement of ``order``: each buffer goes into a gap between the
    already placed buffers it conflicts with (lowest gap, or the tightest one
    for best-fit), else on top of them."""
    placed: list[tuple[int, int, Buffer]] = []  # (offset, aligned end, buffer)
    offsets: dict[str, int] = {}
    peak = 0
    for b in order:
        size = align_up(b.size, alignment)
        if size == 0:
            offsets[b.name] = 0
            continue
        conflicts = sorted((o, e) for o, e, p in placed if p.overlaps(b))
        cursor = 0
        chosen = None
        chosen_gap = None
        for o, e in conflicts:
            gap = o - cursor
            if gap >= size:
                if not best_fit:
                    chosen = cursor
                    break
                if chosen_gap is None or gap < chosen_gap:
                    chosen, chosen_gap = cursor, gap
            cursor = max(cursor, e)
        if chosen is None:
            chosen = cursor
        offsets[b.name] = chosen
        placed.append((chosen, chosen + size, b))
        peak = max(peak, chosen + size)
    return offsets, peak


def _orders(alignment: int) -> list[tuple[str, Callable[[tuple[int, Buffer]], tuple]]]:
    def size(ib):
        return align_up(ib[1].size, alignment)

    def duration(ib):
        return ib[1].last - ib[1].first + 1

    return [
        ("size", lambda ib: (-size(ib), ib[1].first, ib[0])),
        ("lifetime", lambda ib: (ib[1].first, -size(ib), ib[0])),
        ("area", lambda ib: (-size(ib) * duration(ib), -size(ib), ib[1].first, ib[0])),
        ("duration", lambda ib: (-duration(ib), -size(ib), ib[1].first, ib[0])),
    ]


def plan_arena(buffers: Sequence[Buffer], alignment: int = DEFAULT_ALIGNMENT, restarts: int | None = None) -> ArenaPlan:
    """The smallest arena found by the greedy strategies (then by up to ``restarts``
    seeded random orders while above the lower bound); deterministic for a given input."""
    buffers = list(buffers)
    _check(buffers, alignment)
    bound = lower_bound(buffers, alignment)
    best: ArenaPlan | None = None
    indexed = list(enumerate(buffers))
    for order_name, key in _orders(alignment):
        order = [b for _, b in sorted(indexed, key=key)]
        for best_fit in (True, False):
            offsets, peak = _place(order, alignment, best_fit)
            if best is None or peak < best.size:
                strategy = f"{order_name}/{'best-fit' if best_fit else 'first-fit'}"
                best = ArenaPlan({b.name: offsets[b.name] for b in buffers}, peak, bound, strategy, alignment)
            if best.size == bound:
                return best
    if best is None:  # no buffers at all
        return ArenaPlan({}, 0, 0, "empty", alignment)
    # Still above the bound: deterministic random restarts, half of them
    # perturbed size orders, half plain shuffles (first-fit; cheap enough for
    # the few hundred buffers of a TinyML model).
    restarts = restarts if restarts is not None else (RESTARTS if len(buffers) <= 400 else 0)
    for i in range(restarts):
        rng = random.Random(i)
        if i % 2 == 0:
            keys = [align_up(b.size, alignment) * rng.uniform(0.5, 1.5) for b in buffers]
            order = [b for _, b in sorted(zip(keys, buffers), key=lambda kb: -kb[0])]
        else:
            order = list(buffers)
            rng.shuffle(order)
        offsets, peak = _place(order, alignment, best_fit=False)
        if peak < best.size:
            best = ArenaPlan({b.name: offsets[b.name] for b in buffers}, peak, bound, f"restart-{i}/first-fit", alignment)
            if best.size == bound:
                break
    return best


def check_plan(buffers: Sequence[Buffer], plan: ArenaPlan) -> None:
    """Raises PlanError if two simultaneously live buffers share bytes or one is
    misaligned or outside the arena (used by the tests and by the packer as a
    final safety check)."""
    live = [b for b in buffers if b.size > 0]
    for b in live:
        off = plan.offsets[b.name]
        if off % plan.alignment:
            raise PlanError(f"buffer {b.name!r} at offset {off} is not {plan.alignment}-byte aligned")
        if off < 0 or off + b.size > plan.size:
            raise PlanError(f"buffer {b.name!r} [{off}, {off + b.size}) is outside the arena of {plan.size} bytes")
    live.sort(key=lambda b: plan.offsets[b.name])
    for i, a in enumerate(live):
        a_off = plan.offsets[a.name]
        for b in live[i + 1 :]:
            b_off = plan.offsets[b.name]
            if b_off >= a_off + a.size:
                break
            if a.overlaps(b):
                raise PlanError(
                    f"buffers {a.name!r} and {b.name!r} are live together (steps {max(a.first, b.first)}.."
                    f"{min(a.last, b.last)}) and overlap in the arena"
                )
