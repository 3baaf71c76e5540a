"""Estimated cycles without QEMU: objdump parsing, trace lines, the cost rules and measured windows.

A tiny hand-written disassembly and address trace stand in for the firmware;
the expected cycle figures are worked out by hand from the rules in
docs/measurement.md, so a change of a rule or a table value shows here.
"""
from __future__ import annotations

import pytest

from dtmm.errors import DtmmError
from dtmm.targets.cycles import (
    CostModel,
    RegionEstimate,
    TraceSummary,
    Window,
    estimate,
    inference_regions,
    match_measurements,  # fmt: skip
)
from dtmm.targets.disasm import decode, normalize, parse_objdump
from dtmm.targets.timing import TIMINGS, timing_for
from dtmm.targets.trace import trace_pcs

OBJDUMP = """
firmware.elf:     file format elf32-littlearm

Disassembly of section .text:

00000000 <dtmm_vector_table>:
       0:	40 47 00 20 d9 02 00 00 cd 02 00 00 c1 02 00 00     @G. ............

00000100 <dtmm_measure_begin>:
     100:	4770      	bx	lr

00000102 <dtmm_measure_end>:
     102:	4770      	bx	lr

00000104 <dtmm_measure_calibrate>:
     104:	b500      	push	{lr}
     106:	f7ff fffb 	bl	100 <dtmm_measure_begin>
     10a:	f7ff fffa 	bl	102 <dtmm_measure_end>
     10e:	bd00      	pop	{pc}

00000110 <main>:
     110:	f7ff fff6 	bl	100 <dtmm_measure_begin>
     114:	6808      	ldr	r0, [r1, #0]
     116:	684a      	ldr	r2, [r1, #4]
     118:	1c5b      	adds	r3, r3, #1
     11a:	6818      	ldr	r0, [r3, #0]
     11c:	d1fa      	bne.n	114 <main+0x4>
     11e:	f7ff fff0 	bl	102 <dtmm_measure_end>
     122:	00000100 	.word	0x00000100
"""

#: calibration (empty region), then main: one measured region, the loop body twice (taken, then not)
LOOP = ["114", "116", "118", "11a", "11c"]
PCS = (["104", "106", "100", "10a", "102", "10e", "110", "100"] + LOOP + LOOP + ["11e", "102"])


def _hex(pcs):
    return [f"{int(p, 16):08x}" for p in pcs]


def test_objdump_lines_become_instructions():
    prog = parse_objdump(OBJDUMP)
    assert sorted(prog.insns) == [0x100, 0x102, 0x104, 0x106, 0x10a, 0x10e, 0x110, 0x114, 0x116, 0x118, 0x11a,
                                  0x11c, 0x11e]  # fmt: skip  (data: vector table, .word)
    assert prog.functions["main"] == 0x110 and prog.function_at(0x11c) == "main"
    bl, ldr, pop = prog.insns[0x106], prog.insns[0x11a], prog.insns[0x10e]
    assert (bl.size, bl.cls, bl.fallthrough) == (4, "branch", 0x10a)
    assert (ldr.size, ldr.cls, ldr.dests, ldr.addr) == (2, "load", {"r0"}, {"r3"})
    assert (pop.cls, pop.nregs, "pc" in pop.dests) == ("multi", 1, True)


@pytest.mark.parametrize("mnemonic, base", [("ldrbne.w", "ldrb"), ("movs", "mov"), ("bls.n", "b"), ("bl", "bl"),
                                            ("lsls", "lsl"), ("teq", "teq"), ("ldrhi", "ldr"), ("vldrb.s16", "vldrb"),
                                            ("umlal", "umlal"), ("blt.w", "b")])  # fmt: skip
def test_mnemonics_lose_condition_and_suffixes(mnemonic, base):
    assert normalize(mnemonic) == base


@pytest.mark.parametrize("mnemonic, operands, cls", [
    ("smlad", "r0, r1, r2, r0", "mac"), ("udiv", "r4, r1, r7", "div"), ("str.w", "r0, [r1, r2, lsl #2]", "store_reg"),
    ("strb", "r0, [r1, #3]", "store"), ("ldrd", "r0, r1, [r4]", "load_dual"), ("tbb", "[pc, r3]", "table_branch"),
    ("vldrb.s16", "q0, [r1], #8", "vec_mem"), ("vmladava.s8", "r0, q1, q2", "vec_alu"), ("vpst", "", "vec_setup"),
    ("vdiv.f32", "s0, s1, s2", "fp_div"), ("vfma.f32", "s0, s1, s2", "fp_mac"), ("bx", "lr", "branch_indirect"),
    ("le", "lr, 100 <f>", "branch"), ("vpush", "{d8-d9}", "fp_multi"),
])  # fmt: skip
def test_instruction_classes(mnemonic, operands, cls):
    assert decode(mnemonic, operands, 0, 4).cls == cls


def test_trace_lines_drop_retracted_blocks():
    lines = [
        "Trace 0: 0x7f00 [00800408/00000100/00000110/ff020201] a\n",
        "Trace 0: 0x7f40 [00800408/00000102/00000110/ff020201] a\n",
        "cpu_io_recompile: rewound execution of TB to 00000102\n",
        "Trace 0: 0x7f80 [00800408/00000102/00000110/ff028201] a\n",
        "Trace 0: 0x7fc0 [00800408/00000104/00000110/ff020201] a\n",
        "Stopped execution of TB chain before 0x7fc0 [00000104] a\n",
        "qemu-system-arm: something\n",
        "Trace 0: 0x7fc0 [00800408/00000104/00000110/ff020201] a\n",
    ]  # fmt: skip
    other: list = []
    assert list(trace_pcs(lines, other)) == ["00000100", "00000102", "00000104"]
    assert other == ["qemu-system-arm: something"]
    with pytest.raises(DtmmError, match="unexpected QEMU trace line"):
        list(trace_pcs(["Trace 0: garbage\n"]))


def test_estimate_on_the_m4_by_hand():
    summary = estimate(_hex(PCS), parse_objdump(OBJDUMP), timing_for("cortex-m4"))
    calib, region = summary.windows
    # calibration: the bl to dtmm_measure_end alone, 1 + P = 2 cycles
    assert (calib.depth, calib.caller, calib.instructions, calib.cycles) == (0, "dtmm_measure_calibrate", 1, 2)
    # loop, taken: ldr 2, ldr pipelined 1, adds 1, ldr after adds wrote its base 2 + 1, bne 1 + P = 2 -> 9;
    # not taken: 2 + 1 + 1 + 3 + 1 = 8; then the bl to dtmm_measure_end 2
    assert (region.depth, region.caller, region.instructions, region.cycles) == (0, "main", 11, 9 + 8 + 2)
    assert summary.instructions == len(PCS) and summary.unknown == 0
    (inference,) = inference_regions(summary)
    assert (inference.instructions, inference.estimated_cycles, inference.ops) == (10, 17, [])


def test_m3_prices_multiply_accumulate_higher():
    mla = decode("mla", "r1, r2, r3, r1", 0x200, 4)
    assert CostModel(timing_for("cortex-m3")).cost(mla, None, False) == 2
    assert CostModel(timing_for("cortex-m4")).cost(mla, None, False) == 1


def test_helium_beats_overlap_only_across_kinds():
    model = CostModel(timing_for("cortex-m55"))
    load = decode("vldrb.s16", "q0, [r1], #8", 0x200, 4)
    mac = decode("vmladava.s16", "r0, q0, q1", 0x204, 4)
    assert model.cost(load, None, False) == 2  # two beats per cycle, four beats per 128-bit vector
    assert model.cost(mac, load, False) == 1  # overlaps the load's second half
    assert model.cost(mac, mac, False) == 2  # same kind: no overlap


def test_m7_dual_issues_independent_pairs():
    model = CostModel(timing_for("cortex-m7"))
    a = decode("adds", "r0, r0, #1", 0x200, 2)
    b = decode("adds", "r1, r1, #1", 0x202, 2)
    c = decode("adds", "r2, r1, #1", 0x204, 2)
    assert model.cost(a, None, False) == 1
    assert model.cost(b, a, False) == 0  # pairs with a
    assert model.cost(c, b, False) == 1  # reads b's result, and b was already paired


def test_every_emulated_core_has_a_table():
    from dtmm.targets.boards import emulated_boards

    assert {b.cpu for b in emulated_boards()} <= set(TIMINGS)
    with pytest.raises(DtmmError, match="no timing table for cortex-a9"):
        timing_for("cortex-a9")


def test_missing_symbols_and_unbalanced_windows_are_errors():
    stripped = parse_objdump("\n".join(line for line in OBJDUMP.splitlines() if "<dtmm_measure_begin>:" not in line))
    with pytest.raises(DtmmError, match="no symbol dtmm_measure_begin; the cycle estimate needs an unstripped"):
        estimate(_hex(PCS), stripped, timing_for("cortex-m4"))
    with pytest.raises(DtmmError, match="dtmm_measure_end called outside a measured region"):
        estimate(_hex(["110", "102"]), parse_objdump(OBJDUMP), timing_for("cortex-m4"))
    with pytest.raises(DtmmError, match="no measured region"):
        inference_regions(TraceSummary())
    with pytest.raises(DtmmError, match="first measured region is in main"):
        inference_regions(TraceSummary([Window(0, "main", 3, 3)]))


def test_measurements_must_match_the_trace():
    regions = [RegionEstimate(100, 130, [(40, 50), (50, 70)])]
    assert match_measurements(regions, [100], [{"op0": 40, "op1": 50}]) == ([130], [{"op0": 50, "op1": 70}])
    assert match_measurements([RegionEstimate(100, 130)], [100], None) == ([130], None)
    with pytest.raises(DtmmError, match=r"disagrees with the measurement of inference 0 \(traced \[100, 40, 50\], "
                                        r"measured \[100, 41, 50\]"):  # fmt: skip
        match_measurements(regions, [100], [{"op0": 41, "op1": 50}])
    with pytest.raises(DtmmError, match="1 measured inferences, the console 2"):
        match_measurements(regions, [100, 100], None)


def test_objdump_gets_the_machine_helium_needs(monkeypatch, tmp_path):
    """binutils 2.40 decodes an M55 ELF's Helium code as LDC/STC unless told the machine."""
    import subprocess
    import types

    from dtmm.targets import disasm

    calls = []

    def fake_run(cmd, **kwargs):
        calls.append(cmd)
        text = OBJDUMP + ("     124:\tea54 94d4 \t\t\t@ <UNDEFINED> instruction: 0xea5494d4\n" if "bad" in cmd[-1] else "")
        return types.SimpleNamespace(returncode=0, stdout=text, stderr="")

    monkeypatch.setattr(disasm.shutil, "which", lambda name: "/usr/bin/" + name)
    monkeypatch.setattr(subprocess, "run", fake_run)
    assert disasm.disassemble("fw.elf", "cortex-m55").functions["main"] == 0x110
    assert disasm.disassemble("fw.elf", "cortex-m4").insns
    assert calls[0][1:] == ["-d", "-marmv8.1-m.main", "fw.elf"] and calls[1][1:] == ["-d", "fw.elf"]
    with pytest.raises(DtmmError, match=r"bad.elf: arm-none-eabi-objdump cannot decode 1 instruction\(s\); no estimate"):
        disasm.disassemble("bad.elf", "cortex-m4")


def test_fewer_instructions_can_cost_more_cycles():
    """What the estimate is for: one UDIV replaces three adds, saves two instructions, costs four cycles."""
    model = CostModel(timing_for("cortex-m4"))
    div = decode("udiv", "r0, r1, r2", 0x200, 4)
    adds = [decode("adds", f"r{k}, r{k}, #1", 0x204 + 2 * k, 2) for k in range(3)]
    assert model.cost(div, None, False) == 7
    assert sum(model.cost(a, None, False) for a in adds) == 3


def test_missing_objdump_is_a_one_line_error(monkeypatch):
    from dtmm.targets import disasm

    monkeypatch.setattr(disasm.shutil, "which", lambda name: None)
    with pytest.raises(DtmmError, match=r"^arm-none-eabi-objdump not found on PATH; install binutils-arm-none-eabi"):
        disasm.disassemble("fw.elf", "cortex-m4")
