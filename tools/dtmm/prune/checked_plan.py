"""Plans that meet SRAM and latency budgets on the int8 model, not only in the plan's own prediction.

Flash is exact inside the greedy plan (``costs``); the arena and instructions
are not (``resources`` predicts them per layer). So a plan with an SRAM or
latency budget is checked the way `dtmm estimate` would check its model: the
slim Keras model is converted to int8 (on seeded random inputs -- only its
structure matters here), packed by the real packer (exact arena) and priced by
the board's cost model (predicted instructions). When a figure misses its
budget, the plan's internal target moves by the miss (arena: by the bytes
over; instructions: by the ratio; bisected once one target met its budget
and another missed it) and the greedy plan runs again, at most
``MAX_ROUNDS`` times. The feasible plan that lost the least importance wins.

``check_floor`` answers, before any data is read, whether a budget can be met
at all: it converts and measures the *floor* model (every channel group at its
minimum, one filterlet per kept filter), which is the smallest every figure can
get, whatever the other budgets are.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import plan as P
from .budget import format_bytes, format_instructions

#: greedy plans tried per stage before giving up on a budget
MAX_ROUNDS = 6
#: a met budget closer than this to its limit stops the search early
TOLERANCE = 0.02
#: random inputs used to convert a plan for measuring its structure
STRUCTURE_SAMPLES = 4


@dataclass(frozen=True)
class Budgets:
    """What the board imposes; None = no budget. Arena in bytes, instructions QEMU-retired on `board`."""

    flash: int | None = None
    arena: int | None = None
    instructions: int | None = None
    board: str | None = None

    @property
    def needs_resources(self) -> bool:
        return self.arena is not None or self.instructions is not None


@dataclass
class Measured:
    """A model's exact arena and predicted instructions (its int8 conversion, packed and priced)."""

    arena_bytes: int
    instructions: int
    tflite: bytes
    estimate: dict


def structure_samples(model, n: int = STRUCTURE_SAMPLES, seed: int = 0) -> np.ndarray:
    """Seeded inputs in stored-pixel range (0..255) shaped like the model's input."""
    shape = [int(d) for d in model.inputs[0].shape[1:]]
    return np.random.default_rng(seed).integers(0, 256, size=(n, *shape)).astype(np.float32)


def measure_model(model, board: str | None, *, calibration=None, preprocess_mode: str = "raw") -> Measured:
    """Convert `model` (Keras, pruned filterlets zero) to int8 and measure arena and instructions."""
    from ..cost.estimate import estimate_model
    from .export import to_int8_tflite

    tfl = to_int8_tflite(model, structure_samples(model), preprocess_mode=preprocess_mode)
    if board is None:  # the arena alone (it does not depend on the board)
        from ..pack.packer import pack_model

        return Measured(int(pack_model(tfl, "plan").arena_bytes), 0, tfl, {})
    est = estimate_model(tfl, board, calibration=calibration)
    return Measured(int(est["arena_bytes"]), int(est["instructions"]), tfl, est)


def resource_model(analysis, board: str | None, *, calibration=None, preprocess_mode: str = "raw",
                   group_sizes: dict[str, int] | None = None):  # fmt: skip
    """The plan's instruction and arena model of `analysis` on `board` (`group_sizes`: the layers offered
    channel groups, whose GROUPS cost is probed too)."""
    from .resources import ResourceModel

    m = measure_model(analysis.model, board, calibration=calibration, preprocess_mode=preprocess_mode)
    return ResourceModel(analysis, board, m.tflite, calibration=calibration, group_sizes=group_sizes)


def _misses(b: Budgets, m: Measured) -> dict:
    out = {}
    if b.arena is not None and m.arena_bytes > b.arena:
        out[P.ARENA] = m.arena_bytes - b.arena
    if b.instructions is not None and m.instructions > b.instructions:
        out[P.INSTRUCTIONS] = m.instructions - b.instructions
    return out


def describe(key: str, value: float) -> str:
    return format_bytes(int(value)) if key in (P.FLASH, P.ARENA) else format_instructions(int(value))


BUDGET_NAMES = {P.FLASH: "flash budget", P.ARENA: "SRAM budget (activation arena)", P.INSTRUCTIONS: "latency budget"}


def infeasible_message(key: str, budget: float, floor: float, board: str | None, filterlets: bool = True) -> str:
    where = f" on {board}" if key == P.INSTRUCTIONS and board else ""
    how = " (predicted by the cost model)" if key == P.INSTRUCTIONS else " (exact: the packer's plan)"
    return (f"{BUDGET_NAMES[key]} {describe(key, budget)}{where} cannot be met: the smallest reachable is "
            f"{describe(key, floor)}{how}, with every channel group at its minimum"
            + (" and 1 filterlet per filter" if filterlets else ""))


def check_floor(analysis, budgets: Budgets, *, max_filter_ratio: float, preprocess_mode: str = "raw",
                calibration=None, min_keep_by_producer=None, filterlets: bool = True) -> dict:  # fmt: skip
    """The floor model's exact arena and predicted instructions; raises BudgetError if a budget is below them."""
    from . import surgery as S

    plan = P.floor_plan(analysis, max_filter_ratio, min_keep_by_producer, filterlets=filterlets)
    floor = {P.FLASH: plan.packed_bytes}
    if budgets.needs_resources:
        m = measure_model(S.slim_model(analysis, plan), budgets.board, calibration=calibration,
                          preprocess_mode=preprocess_mode)  # fmt: skip
        floor.update({P.ARENA: m.arena_bytes, P.INSTRUCTIONS: m.instructions})
    for key, value in ((P.FLASH, budgets.flash), (P.ARENA, budgets.arena), (P.INSTRUCTIONS, budgets.instructions)):
        if value is not None and value < floor[key]:
            raise P.BudgetError(infeasible_message(key, value, floor[key], budgets.board, filterlets), key, floor[key])
    return floor


def make_checked_plan(analysis, imp, budgets: Budgets, *, resources=None, max_filter_ratio: float,
                      initial_keep=None, min_keep_by_producer=None, preprocess_mode: str = "raw",
                      progress: bool = False, log=None, filterlets: bool = True, group_sizes=None,
                      initial_groups=None) -> tuple[P.Plan, Measured | None]:  # fmt: skip
    """A plan meeting every budget, and (with SRAM/latency budgets) its measured figures.
    `filterlets=False`: filters only (the `filter` baseline); `group_sizes`: channel groups offered (see plan)."""
    kw = dict(max_filter_ratio=max_filter_ratio, initial_keep=initial_keep, min_keep_by_producer=min_keep_by_producer,
              progress=progress, filterlets=filterlets, group_sizes=group_sizes, initial_groups=initial_groups)  # fmt: skip
    if not budgets.needs_resources:
        return P.make_plan(analysis, imp, budgets.flash, **kw), None
    from . import surgery as S

    res = resources
    # internal targets (plan units: predicted instructions, arena proxy bytes) and the real budgets they stand for
    target = {}
    if budgets.instructions is not None:
        target[P.INSTRUCTIONS] = float(budgets.instructions)
    if budgets.arena is not None:
        target[P.ARENA] = float(budgets.arena - res.arena_offset)
    real = {P.INSTRUCTIONS: budgets.instructions, P.ARENA: budgets.arena}
    ok_t, bad_t = {}, {}  # per budget: largest internal target that met it, smallest that missed it
    best, last_miss = None, None
    for round_ in range(1, MAX_ROUNDS + 1):
        try:
            plan = P.make_plan(analysis, imp, budgets.flash, resources=res, instructions=target.get(P.INSTRUCTIONS),
                               arena=target.get(P.ARENA), **kw)  # fmt: skip
        except P.BudgetError as exc:
            if exc.budget == P.FLASH:
                raise
            break  # an internal target went below the plan's floor: nothing more to try
        m = measure_model(S.slim_model(analysis, plan), budgets.board, calibration=res.calibration,
                          preprocess_mode=preprocess_mode)  # fmt: skip
        miss = _misses(budgets, m)
        got = {P.INSTRUCTIONS: m.instructions, P.ARENA: m.arena_bytes}
        if log:
            state = "meets every budget" if not miss else "misses " + ", ".join(
                f"{k} by {describe(k, v)}" for k, v in miss.items())
            log(f"plan round {round_}: arena {format_bytes(m.arena_bytes)}"
                + (f", {format_instructions(m.instructions)} predicted" if budgets.board else "")
                + f"; {state}")  # fmt: skip
        tight = all(got[k] >= real[k] * (1 - TOLERANCE) for k in target)
        if not miss:
            if best is None or plan.importance_lost < best[0].importance_lost:
                best = (plan, m)
            bound_by_flash = budgets.flash is not None and plan.packed_bytes >= budgets.flash * (1 - TOLERANCE)
            if tight or bound_by_flash:
                break
        last_miss = miss or last_miss
        for k in target:  # bracket each internal target between one that met its budget and one that missed it
            t = target[k]
            if got[k] > real[k]:
                bad_t[k] = min(bad_t.get(k, t), t)
            else:
                ok_t[k] = max(ok_t.get(k, t), t)
            if k in ok_t and k in bad_t:
                target[k] = (ok_t[k] + bad_t[k]) / 2
            elif k == P.INSTRUCTIONS:  # from where this plan actually landed (its last step may overshoot t)
                target[k] = min(t, plan.instructions) * real[k] / max(got[k], 1)
            else:
                target[k] = min(t, plan.arena_proxy) + (real[k] - got[k])
    if best is None:
        key = next(iter(last_miss)) if last_miss else P.INSTRUCTIONS
        floor = check_floor(analysis, budgets, max_filter_ratio=max_filter_ratio, preprocess_mode=preprocess_mode,
                            calibration=res.calibration, min_keep_by_producer=min_keep_by_producer,
                            filterlets=filterlets)  # fmt: skip
        value = budgets.arena if key == P.ARENA else budgets.instructions
        raise P.BudgetError(
            f"{BUDGET_NAMES[key]} {describe(key, value)} was not met in {MAX_ROUNDS} plans (the floor is "
            f"{describe(key, floor[key])}): try a slightly larger budget", key, floor[key])  # fmt: skip
    return best
