"""A firmware ELF's Thumb instructions by address, classified for the cycle estimate.

``arm-none-eabi-objdump -d`` is the decoder (the same GNU toolchain that
built the firmware, so every extension it emits -- DSP, FPU, Helium -- is
known to it); this module turns its text into one :class:`Insn` per address
with the facts the timing model needs: size, class, registers written, read
and used for the address, register-list length.
"""
from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from ..errors import DtmmError

OBJDUMP = "arm-none-eabi-objdump"
#: objdump's machine for cores whose instructions its default (from the ELF attributes) gets wrong:
#: without it binutils 2.40 decodes Helium instructions as LDC/STC and v8.1-M CINC/CSEL as undefined
OBJDUMP_MACHINE = {"cortex-m55": "armv8.1-m.main", "cortex-m33": "armv8-m.main"}
_FUNC = re.compile(r"^([0-9a-f]+) <(.+)>:\s*$")
_INSN = re.compile(r"^\s*([0-9a-f]+):\t([0-9a-f]{4})(?: ([0-9a-f]{4}))?\s*\t(\S+)(?:\t(.*))?$")
_REG = re.compile(r"\b(r1[0-5]|r[0-9]|sp|lr|pc|ip|fp|sl|sb)\b")
_QREG = re.compile(r"\bq[0-7]\b")
_LIST = re.compile(r"\{([^}]*)\}")
_ALIASES = {"ip": "r12", "fp": "r11", "sl": "r10", "sb": "r9"}
CONDITIONS = {"eq", "ne", "cs", "hs", "cc", "lo", "mi", "pl", "vs", "vc", "hi", "ls", "ge", "lt", "gt", "le", "al"}

LOADS = {"ldr", "ldrb", "ldrh", "ldrsb", "ldrsh", "ldrex", "ldrexb", "ldrexh", "ldrt", "ldrbt", "ldrht",
         "ldrsbt", "ldrsht", "lda", "ldab", "ldah", "ldaex", "ldaexb", "ldaexh"}  # fmt: skip
STORES = {"str", "strb", "strh", "strex", "strexb", "strexh", "strt", "strbt", "strht", "stl", "stlb", "stlh",
          "stlex", "stlexb", "stlexh"}  # fmt: skip
DUALS = {"ldrd", "strd", "ldaexd", "strexd", "stlexd"}
MULTI_LOADS = {"ldm", "ldmia", "ldmfd", "ldmdb", "ldmea", "pop"}
MULTI_STORES = {"stm", "stmia", "stmea", "stmdb", "stmfd", "push"}
DIRECT_BRANCHES = {"b", "bl", "cbz", "cbnz", "le", "letp", "wls", "wlstp"}
LOOP_SETUP = {"dls", "dlstp", "lctp"}
NO_DEST = {"cmp", "cmn", "tst", "teq", "nop", "bx", "blx", "bkpt", "svc", "cpsid", "cpsie", "dsb", "dmb", "isb",
           "msr", "pld", "pli", "sev", "wfi", "wfe", "yield"}  # fmt: skip
SIMPLE_CLASSES = {"mul": {"mul"}, "mla": {"mla", "mls"}, "mull": {"smull", "umull"},
                  "mlal": {"smlal", "umlal", "umaal"}, "div": {"sdiv", "udiv"}, "table_branch": {"tbb", "tbh"}}  # fmt: skip
DSP_MAC_PREFIXES = ("smla", "smlsd", "smlsld", "smul", "smuad", "smusd", "smmul", "smmla", "smmls")
FP_MAC = {"vmla", "vmls", "vnmla", "vnmls", "vfma", "vfms", "vfnma", "vfnms"}
VEC_MEMORY_PREFIXES = ("vldr", "vstr", "vld2", "vld4", "vst2", "vst4")
_KNOWN = (LOADS | STORES | DUALS | MULTI_LOADS | MULTI_STORES | DIRECT_BRANCHES | LOOP_SETUP | NO_DEST | FP_MAC
          | {"blx", "bx", "mov", "add", "sub", "lsl", "lsr", "asr", "ror", "and", "orr", "eor", "bic", "mvn", "neg",
             "adc", "sbc", "rsb", "vldm", "vstm", "vpush", "vpop", "vldr", "vstr", "vdiv", "vsqrt"}
          | set().union(*SIMPLE_CLASSES.values()))  # fmt: skip


@dataclass(frozen=True)
class Insn:
    """One decoded instruction and what the timing model needs of it."""

    pc: int
    size: int
    text: str  # mnemonic and operands as objdump prints them
    base: str  # mnemonic without condition, flag-setting 's', width or data-type suffix
    cls: str  # timing class (see dtmm.targets.timing.CoreTiming and cycles.base_cost)
    dests: frozenset  # core registers written
    srcs: frozenset  # core registers read
    addr: frozenset  # core registers forming a load/store address
    nregs: int  # registers moved by LDM/STM/PUSH/POP/VLDM/VSTM (words for D registers)

    @property
    def fallthrough(self) -> int:
        return self.pc + self.size


@dataclass
class Program:
    """Every decoded instruction of an ELF by address, and the functions' start addresses."""

    insns: dict  # pc -> Insn
    functions: dict  # name -> start address

    def function_at(self, pc: int) -> str | None:
        """The name of the function whose code holds ``pc`` (the nearest start at or below it)."""
        best, best_start = None, -1
        for name, start in self.functions.items():
            if best_start < start <= pc:
                best, best_start = name, start
        return best

    def symbol(self, name: str, elf: str | Path = "the firmware") -> int:
        try:
            return self.functions[name]
        except KeyError:
            raise DtmmError(
                f"{elf}: no symbol {name}; the cycle estimate needs an unstripped firmware ELF "
                "built with boards/common/dtmm_measure.c"
            ) from None


def normalize(mnemonic: str) -> str:
    """'ldrbne.w' -> 'ldrb', 'movs' -> 'mov', 'bls.n' -> 'b', 'vldrb.s16' -> 'vldrb'."""
    m = mnemonic.lower().split(".")[0]
    strip_cond = m[:-2] if m[-2:] in CONDITIONS else m
    for candidate in (m, strip_cond, m[:-1] if m.endswith("s") else m,
                      strip_cond[:-1] if strip_cond.endswith("s") else strip_cond):  # fmt: skip
        if candidate in _KNOWN:
            return candidate
    return m


def _regs(text: str) -> list[str]:
    return [_ALIASES.get(r, r) for r in _REG.findall(text)]


def _list_length(operands: str) -> int:
    m = _LIST.search(operands)
    if not m:
        return 0
    n = 0
    for item in m.group(1).split(","):
        item = item.strip()
        lo, _, hi = item.partition("-")
        width = 2 if lo.startswith("d") else 1
        if hi:
            n += width * (int(re.sub(r"\D", "", hi)) - int(re.sub(r"\D", "", lo)) + 1)
        elif item:
            n += width
    return n


def classify(base: str, operands: str) -> str:
    """The timing class of an instruction (``base`` from :func:`normalize`)."""
    if _QREG.search(operands):
        return "vec_mem" if base.startswith(VEC_MEMORY_PREFIXES) else "vec_alu"
    if base.startswith(("vpst", "vctp")):
        return "vec_setup"
    for cls, names in SIMPLE_CLASSES.items():
        if base in names:
            return cls
    if base in LOADS:
        return "load"
    if base in STORES:
        inside = operands[operands.find("[") :]
        return "store_reg" if len(_regs(inside.split("]")[0])) > 1 else "store"
    if base in DUALS:
        return "load_dual"
    if base in MULTI_LOADS or base in MULTI_STORES:
        return "multi"
    if base in DIRECT_BRANCHES or (base == "blx" and not _regs(operands)):
        return "branch"
    if base in ("bx", "blx"):
        return "branch_indirect"
    if base.startswith(DSP_MAC_PREFIXES):
        return "mac"
    if base.startswith("v"):
        if base in ("vdiv", "vsqrt"):
            return "fp_div"
        if base in FP_MAC:
            return "fp_mac"
        if base in ("vldr", "vstr"):
            return "fp_load"
        if base.startswith(("vldm", "vstm", "vpush", "vpop")):
            return "fp_multi"
        return "fp"
    return "alu"


def decode(mnemonic: str, operands: str, pc: int, size: int) -> Insn:
    base = normalize(mnemonic)
    operands = operands.split("@")[0].strip()
    cls = classify(base, operands)
    regs = _regs(operands)
    addr: list[str] = []
    if "[" in operands:
        before, _, rest = operands.partition("[")
        addr = _regs(rest.split("]")[0])
        dests = _regs(before) if base.startswith(("ld", "vld")) else []
    elif cls == "multi":
        listed = _regs(_LIST.search(operands).group(1)) if _LIST.search(operands) else []
        dests = listed if base in MULTI_LOADS else []
        addr = _regs(operands.split("{")[0]) or ["sp"]
    elif base in NO_DEST or cls in ("branch", "branch_indirect", "table_branch", "vec_setup") or not regs:
        dests = []
    elif cls in ("mull", "mlal") or base.startswith(("smlal", "smlsld")):
        dests = regs[:2]
    elif cls.startswith("vec") or (cls.startswith("fp") and not operands.startswith("r")):
        dests = []
    else:
        dests = regs[:1]
    srcs = addr if base.startswith(("ld", "vld")) else regs[len(dests):]
    nregs = _list_length(operands) if cls in ("multi", "fp_multi") else 0
    return Insn(pc, size, f"{mnemonic} {operands}".strip(), base, cls, frozenset(dests), frozenset(srcs),
                frozenset(addr), nregs)  # fmt: skip


def parse_objdump(text: str) -> Program:
    """A Program from ``objdump -d`` output (instruction lines with raw halfwords shown)."""
    insns: dict = {}
    functions: dict = {}
    for line in text.splitlines():
        m = _INSN.match(line)
        if m:
            pc = int(m.group(1), 16)
            size = 4 if m.group(3) else 2
            insns[pc] = decode(m.group(4), m.group(5) or "", pc, size)
            continue
        f = _FUNC.match(line)
        if f:
            functions.setdefault(f.group(2), int(f.group(1), 16))
    return Program(insns, functions)


def disassemble(elf: str | Path, cpu: str | None = None) -> Program:
    """Runs objdump on ``elf`` (built for core ``cpu``); a one-line DtmmError when it is missing or refuses the file."""
    exe = shutil.which(OBJDUMP)
    if exe is None:
        raise DtmmError(f"{OBJDUMP} not found on PATH; install binutils-arm-none-eabi (or run 'make bootstrap')")
    machine = [f"-m{OBJDUMP_MACHINE[cpu]}"] if cpu in OBJDUMP_MACHINE else []
    proc = subprocess.run([exe, "-d", *machine, str(elf)], capture_output=True, text=True)
    if proc.returncode != 0:
        first = (proc.stderr.strip().splitlines() or ["no output"])[0]
        raise DtmmError(f"{OBJDUMP} could not disassemble {elf}: {first}")
    program = parse_objdump(proc.stdout)
    if not program.insns or not program.functions:
        raise DtmmError(f"{elf}: {OBJDUMP} finds no symbols or no Thumb code in it; "
                        "the cycle estimate needs an unstripped firmware ELF")
    undefined = proc.stdout.count("<UNDEFINED>")
    if undefined:
        raise DtmmError(f"{elf}: {OBJDUMP} cannot decode {undefined} instruction(s); no estimate")
    return program
