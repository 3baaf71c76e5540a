"""Per-core instruction timing tables for the estimated-cycles model (docs/measurement.md).

The numbers are cycles at zero wait states, taken from each core's Technical
Reference Manual where it has a timing table (Cortex-M0 TRM DDI 0432C,
Cortex-M3 TRM DDI 0337I and Cortex-M4 TRM DDI 0439, all section 3.3); where a TRM gives a range that
depends on data we do not trace (divide, pipeline refill) the value used is
stated here and in the docs.  Cores whose TRM publishes no table (M7, M33,
M55) reuse the M4 table with the simplifications of their ``model``.  This is
the data; :mod:`.cycles` applies it to an instruction trace.
"""
from __future__ import annotations

from dataclasses import dataclass

from ..errors import DtmmError


@dataclass(frozen=True)
class CoreTiming:
    """Cycles per instruction class on one core, and which pipeline model applies them."""

    cpu: str
    model: str  # "inorder" (M0/M3/M4/M33), "dual_issue" (M7) or "beats" (M55 with Helium)
    source: str  # where the numbers come from, for reports and docs
    alu: int = 1  # data processing, moves, shifts, extends, SIMD, saturation, bitfield, IT, NOP, system
    mul: int = 1  # MUL
    mla: int = 1  # MLA, MLS
    mull: int = 1  # SMULL, UMULL
    mlal: int = 1  # SMLAL, UMLAL, UMAAL
    mac: int = 1  # DSP multiplies: SMLAD, SMUAD, SMLABB, SMMUL, SMLALD, ...
    div: int = 7  # SDIV, UDIV: the TRM's 2..12 depends on the operands; the middle is used
    load: int = 2  # LDR/LDRB/LDRH/LDRSB/LDRSH single; 1 when pipelined after a load (see cycles.py)
    store: int = 1  # STR immediate offset: the data phase overlaps the next instruction
    store_reg: int = 2  # STR with a register offset
    load_dual: int = 3  # LDRD, STRD: 1 + N with N = 2, never pipelined
    multi_base: int = 1  # LDM, STM, PUSH, POP: multi_base + multi_per_reg * N
    multi_per_reg: float = 1.0
    refill_direct: int = 1  # P of a taken B, BL, CBZ, CBNZ, B<cond>: the target is fetched early
    refill_indirect: int = 2  # P of BX, BLX Rm, TBB/TBH, POP {pc}, LDR pc, MOV/ADD pc
    load_pipelining: bool = True  # a load followed by a load/store saves a cycle (M3/M4 TRM 3.3.2)
    agu_stall: int = 1  # load/store whose address the previous data-processing instruction wrote
    load_use: int = 0  # instruction reading the register the previous load wrote (M7)
    fp: int = 1  # VADD, VMUL, VMOV, VCVT, VCMP, ... (scalar FPU)
    fp_mac: int = 3  # VMLA, VMLS, VFMA, VFMS, VNMLA, ...
    fp_div: int = 14  # VDIV, VSQRT
    fp_load: int = 2  # VLDR, VSTR
    vec_beats_cycles: int = 2  # Helium: a 128-bit vector instruction in two cycles of two beats
    vec_overlap: int = 1  # cycles saved when a vector instruction follows one of the other kind
    vec_setup: int = 1  # VPST, VPT without vector work, VCTP


M4_SOURCE = "Cortex-M4 TRM (DDI 0439) 3.3.1 Table 3-1 and 3.3.2 load/store timings"

TIMINGS: dict[str, CoreTiming] = {
    t.cpu: t
    for t in [
        # ARMv6-M, 2-stage pipeline: single loads and stores 2 cycles and never pipelined, taken branches
        # 3 (BL 4 and POP {pc} 4+N in the TRM: this model gives 3 and 3+N), MULS 1 (the fast-multiplier
        # configuration; the small one takes 32)
        CoreTiming("cortex-m0", "inorder", "Cortex-M0 TRM (DDI 0432C) 3.3 Table 3-1, fast multiplier",
                   store=2, store_reg=2, load_dual=3, refill_direct=2, refill_indirect=2,
                   load_pipelining=False, agu_stall=0),
        CoreTiming("cortex-m3", "inorder", "Cortex-M3 TRM (DDI 0337I) 3.3.1 Table 3-1 and 3.3.2 load/store timings",
                   mla=2, mull=4, mlal=5),
        CoreTiming("cortex-m4", "inorder", M4_SOURCE),
        CoreTiming("cortex-m33", "inorder", "no published table; " + M4_SOURCE + " (same 3-stage in-order core)"),
        CoreTiming("cortex-m7", "dual_issue",
                   "no published table; " + M4_SOURCE + " with M7 simplifications (dual issue, 64-bit loads)",
                   load=1, store=1, store_reg=1, load_dual=1, multi_base=1, multi_per_reg=0.5,
                   agu_stall=0, load_use=1, fp_mac=1, fp_load=1),
        CoreTiming("cortex-m55", "beats",
                   "no published table; " + M4_SOURCE + " for scalar code, Helium beat rule of docs/measurement.md"),
    ]
}  # fmt: skip


def timing_for(cpu: str) -> CoreTiming:
    """The timing table of core ``cpu`` (e.g. ``cortex-m4``)."""
    try:
        return TIMINGS[cpu]
    except KeyError:
        raise DtmmError(f"no timing table for {cpu} (known: {', '.join(TIMINGS)})") from None
