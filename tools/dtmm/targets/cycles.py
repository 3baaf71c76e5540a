"""Estimated cycles: a per-core timing table applied to an exact instruction trace.

QEMU gives the exact sequence of executed instructions (:mod:`.trace`); this
module prices each one with the core's table (:mod:`.timing`) and the few
neighbour rules the TRMs state -- pipelined loads, address-generation stalls,
pipeline refills after a change of flow (taken or not is known from the next
address), M7 dual issue, M55 Helium beats -- and sums the estimate over the
regions the firmware measures.  The result is an *estimate* (docs/measurement.md
lists what it leaves out); the instruction count of each region is checked to
equal the firmware's exact measurement, which proves the trace complete.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Iterable

from ..errors import DtmmError
from .disasm import Insn, Program
from .timing import CoreTiming

MEASURE_BEGIN = "dtmm_measure_begin"
MEASURE_END = "dtmm_measure_end"
MEASURE_CALIBRATE = "dtmm_measure_calibrate"
MEMORY = frozenset({"load", "store", "store_reg", "load_dual", "multi", "fp_load", "fp_multi"})
SINGLE_MEMORY = frozenset({"load", "store", "store_reg"})
DATA_PROCESSING = frozenset({"alu", "mul", "mla", "mull", "mlal", "mac", "div"})
MULTIPLIES = frozenset({"mul", "mla", "mull", "mlal", "mac", "div"})
#: classes the M7 model lets issue in the same cycle as the instruction before
DUAL_ISSUE = frozenset({"alu", "mul", "mla", "mac", "load", "store", "store_reg", "fp"})
#: an instruction QEMU executed that objdump did not decode (costed as one ALU instruction)
UNKNOWN = Insn(-1, 0, "?", "?", "alu", frozenset(), frozenset(), frozenset(), 0)


def base_cost(insn: Insn, t: CoreTiming) -> int:
    """Cycles of ``insn`` alone (no neighbours, no change of flow)."""
    cls = insn.cls
    if cls == "multi":
        return t.multi_base + math.ceil(t.multi_per_reg * max(insn.nregs, 1))
    if cls == "fp_multi":
        return 1 + max(insn.nregs, 1)
    if cls == "table_branch":
        return 2
    if cls in ("branch", "branch_indirect"):
        return 1
    if cls in ("vec_mem", "vec_alu"):
        return t.vec_beats_cycles
    return getattr(t, cls, t.alu)


class CostModel:
    """Prices one instruction given the one before it; ``model`` picks the core's rules."""

    def __init__(self, timing: CoreTiming):
        self.t = timing
        self.paired = False  # M7: the previous instruction issued together with the one before it
        self._base: dict = {}

    def base(self, insn: Insn) -> int:
        c = self._base.get(insn.pc)
        if c is None:
            c = self._base[insn.pc] = base_cost(insn, self.t)
        return c

    def cost(self, cur: Insn, prev: Insn | None, taken: bool) -> int:
        t = self.t
        c = self.base(cur)
        cls = cur.cls
        if prev is not None:
            if t.load_pipelining and cls in SINGLE_MEMORY and prev.cls == "load" and not (prev.dests & cur.addr):
                c = max(1, c - 1)  # TRM: LDR pipelines its data phase with a following LDR/STR
            if t.agu_stall and cls in MEMORY and prev.cls in DATA_PROCESSING and prev.dests & cur.addr:
                c += t.agu_stall  # address from the previous data-processing result: no forwarding
            if t.load_use and prev.cls in ("load", "load_dual", "multi") and prev.dests & (cur.srcs | cur.addr):
                c += t.load_use
            if t.model == "beats" and cls in ("vec_mem", "vec_alu") and prev.cls in ("vec_mem", "vec_alu") \
                    and prev.cls != cls:
                c -= t.vec_overlap  # the two beats of a load/store overlap those of an arithmetic/MAC
        if taken:
            c += t.refill_direct if cls == "branch" else t.refill_indirect
        if t.model == "dual_issue":
            pair = (not self.paired and prev is not None and c == 1 and cls in DUAL_ISSUE and prev.cls in DUAL_ISSUE
                    and self.base(prev) == 1 and not (cls in MEMORY and prev.cls in MEMORY)
                    and not (cls in MULTIPLIES and prev.cls in MULTIPLIES)
                    and not (prev.dests & (cur.srcs | cur.addr | cur.dests)))  # fmt: skip
            self.paired = pair
            if pair:
                c = 0
        return c


@dataclass
class Window:
    """One measured region seen in the trace: from the return of dtmm_measure_begin to the call of dtmm_measure_end."""

    depth: int  # 0 = outermost (an inference), 1 = nested inside it (an operator with --profile)
    caller: str | None  # function that called dtmm_measure_begin
    instructions: int
    cycles: int


@dataclass
class TraceSummary:
    windows: list = field(default_factory=list)  # closed windows, in the order they closed
    instructions: int = 0  # every traced instruction
    cycles: int = 0
    unknown: int = 0  # executed instructions objdump did not decode


def estimate(pcs: Iterable[str], program: Program, timing: CoreTiming) -> TraceSummary:
    """Prices a stream of executed addresses (QEMU's ``%08x`` hex) and cuts it into measured windows."""
    table = {f"{pc:08x}": (insn, f"{insn.fallthrough:08x}") for pc, insn in program.insns.items()}
    begin = f"{program.symbol(MEASURE_BEGIN):08x}"
    end = f"{program.symbol(MEASURE_END):08x}"
    model = CostModel(timing)
    out = TraceSummary()
    n = cyc = unknown = 0
    stack: list = []
    pending_return = caller = None
    prev = before = None
    prev_fall = ""
    for pc in pcs:
        entry = table.get(pc)
        if prev is not None:
            cyc += model.cost(prev, before, pc != prev_fall)
            n += 1
            before = prev
        if entry is None:
            cur, fall = UNKNOWN, ""
            unknown += 1
        else:
            cur, fall = entry
        if pc == end:
            if not stack:
                raise DtmmError("instruction trace: dtmm_measure_end called outside a measured region")
            n0, c0, caller = stack.pop()
            out.windows.append(Window(len(stack), caller, n - n0, cyc - c0))
        elif pc == pending_return:
            stack.append((n, cyc, caller))
            pending_return = None
        elif pc == begin:
            pending_return = prev_fall
            caller = program.function_at(prev.pc) if prev is not None else None
        prev, prev_fall = cur, fall
    if prev is not None:
        cyc += model.cost(prev, before, False)
        n += 1
    out.instructions, out.cycles, out.unknown = n, cyc, unknown
    return out


@dataclass
class RegionEstimate:
    """An inference's measured instructions and estimated cycles, and those of its operators (--profile)."""

    instructions: int
    estimated_cycles: int
    ops: list = field(default_factory=list)  # [(instructions, estimated_cycles)] in execution order


def inference_regions(summary: TraceSummary) -> list[RegionEstimate]:
    """The trace's windows as the firmware reports them: the first (empty) one calibrates, the
    outermost others are inferences, the nested ones their operators; the calibration is
    subtracted from every region as dtmm_measure_end subtracts it."""
    if not summary.windows:
        raise DtmmError("instruction trace: no measured region (dtmm_measure_begin/end never ran)")
    calib = summary.windows[0]
    if calib.depth != 0 or (calib.caller not in (None, MEASURE_CALIBRATE)):
        raise DtmmError(f"instruction trace: the first measured region is in {calib.caller}, not the calibration")
    regions: list[RegionEstimate] = []
    ops: list = []
    for w in summary.windows[1:]:
        pair = (w.instructions - calib.instructions, w.cycles - calib.cycles)
        if w.depth == 0:
            regions.append(RegionEstimate(pair[0], pair[1], ops))
            ops = []
        else:
            ops.append(pair)
    return regions


def match_measurements(regions: list[RegionEstimate], instructions: list, profile: list | None):
    """Estimated cycles per inference, and per operator as {label: cycles} when ``profile`` is given,
    after checking that the trace counts exactly the instructions the firmware measured."""
    if len(regions) != len(instructions):
        raise DtmmError(f"instruction trace has {len(regions)} measured inferences, the console {len(instructions)}")
    for i, (r, n) in enumerate(zip(regions, instructions)):
        traced = [r.instructions] + [ops[0] for ops in r.ops]
        measured = [n] + (list(profile[i].values()) if profile is not None else [])
        if traced != measured:
            raise DtmmError(f"instruction trace disagrees with the measurement of inference {i} "
                            f"(traced {traced[:6]}, measured {measured[:6]} instructions); no estimate")  # fmt: skip
    cycles = [r.estimated_cycles for r in regions]
    if profile is None:
        return cycles, None
    return cycles, [dict(zip(p, (ops[1] for ops in r.ops))) for r, p in zip(regions, profile)]
