"""Budgets on the command line: flash and SRAM sizes, latency in instructions.

Sizes (case-insensitive): ``B`` (or none) = 1 byte; SI ``KB`` = 1000,
``MB`` = 1000**2; IEC ``KiB`` = 1024, ``MiB`` = 1024**2. A bare ``K``/``M`` is
refused because vendors use it for both. For ``--flash``, ``N%`` is a
fraction of the model's dense weight bytes; ``--sram`` (the activation arena)
takes absolute sizes only.

Latency is QEMU-retired instructions on one board: a count with an optional
SI multiplier ``k`` (1e3), ``M`` (1e6) or ``G`` (1e9) -- ``12M`` -- or ``N%``
of the dense model's instructions on that board.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass

from ..errors import DtmmError

_UNITS = {"": 1, "b": 1, "kb": 1000, "mb": 1000**2, "kib": 1024, "mib": 1024**2}
_SIZE_RE = re.compile(r"^\s*([0-9]+(?:\.[0-9]*)?|\.[0-9]+)\s*([A-Za-z]*|%)\s*$")


@dataclass(frozen=True)
class FlashBudget:
    """Either an absolute size in bytes or a fraction of the dense weight bytes."""

    text: str
    nbytes: int | None = None
    fraction: float | None = None

    def resolve(self, dense_bytes: int) -> int:
        if self.nbytes is not None:
            return self.nbytes
        return int(math.floor(self.fraction * dense_bytes))


def parse_flash(text: str) -> FlashBudget:
    """Parse '65536', '64KB', '64 KiB', '1.5MB' or '50%' (of the dense weight bytes)."""
    m = _SIZE_RE.match(str(text))
    if not m:
        raise DtmmError(f"bad flash size {text!r}: use bytes or a KB/KiB/MB/MiB suffix (KB=1000, KiB=1024) or N%")
    value = float(m.group(1))
    unit = m.group(2)
    if unit == "%":
        if not 0 < value <= 1000:
            raise DtmmError(f"bad flash size {text!r}: a percentage must be in (0, 1000]")
        return FlashBudget(str(text), fraction=value / 100.0)
    key = unit.lower()
    if key not in _UNITS:
        hint = " (ambiguous: write KB=1000 or KiB=1024 bytes)" if key in ("k", "m", "kilo") else ""
        raise DtmmError(f"bad flash size {text!r}: unknown unit {unit!r}{hint}; use B, KB, KiB, MB or MiB")
    nbytes = int(math.floor(value * _UNITS[key] + 1e-9))
    if nbytes < 1:
        raise DtmmError(f"bad flash size {text!r}: must be at least 1 byte")
    return FlashBudget(str(text), nbytes=nbytes)


def parse_sram(text: str) -> int:
    """Parse an activation-arena size: '65536', '64KB', '40 KiB' (no percentage: the arena has no dense size)."""
    if str(text).strip().endswith("%"):
        raise DtmmError(f"bad SRAM size {text!r}: give bytes, KB, KiB, MB or MiB (a percentage is only for --flash)")
    try:
        spec = parse_flash(text)
    except DtmmError as exc:
        raise DtmmError(str(exc).replace("bad flash size", "bad SRAM size").replace(" or N%", "")) from None
    return int(spec.nbytes)


_COUNT_UNITS = {"": 1, "k": 1000, "m": 1000**2, "g": 1000**3}


@dataclass(frozen=True)
class LatencyBudget:
    """Retired instructions per inference: absolute, or a fraction of the dense model's."""

    text: str
    instructions: int | None = None
    fraction: float | None = None

    def resolve(self, dense_instructions: int) -> int:
        if self.instructions is not None:
            return self.instructions
        return int(math.floor(self.fraction * dense_instructions))


def parse_latency(text: str) -> LatencyBudget:
    """Parse '12000000', '12M', '850k', '1.2G' (instructions) or '60%' (of the dense model's)."""
    m = _SIZE_RE.match(str(text))
    bad = f"bad latency {text!r}: give retired instructions (e.g. 12M = 12,000,000; k, M, G) or N% of the dense model"
    if not m:
        raise DtmmError(bad)
    value, unit = float(m.group(1)), m.group(2)
    if unit == "%":
        if not 0 < value <= 1000:
            raise DtmmError(f"bad latency {text!r}: a percentage must be in (0, 1000]")
        return LatencyBudget(str(text), fraction=value / 100.0)
    if unit.lower() not in _COUNT_UNITS:
        raise DtmmError(bad)
    n = int(math.floor(value * _COUNT_UNITS[unit.lower()] + 1e-9))
    if n < 1:
        raise DtmmError(f"bad latency {text!r}: must be at least 1 instruction")
    return LatencyBudget(str(text), instructions=n)


def format_bytes(n: int) -> str:
    """'12,345 B (12.3 KB)' -- bytes are exact, the KB figure (1000) is for reading."""
    return f"{n:,} B ({n / 1000:.1f} KB)"




def format_instructions(n: int) -> str:
    """'12,345,678 instructions (12.35 M)' ('845,120 instructions' below a million)."""
    return f"{n:,} instructions" + (f" ({n / 1e6:.2f} M)" if n >= 1_000_000 else "")


def parse_budgets(flash: str | None, sram: str | None, latency: str | None, board: str | None):
    """(FlashBudget | None, SRAM bytes | None, LatencyBudget | None), checked before anything is loaded."""
    if flash is None and sram is None and latency is None:
        raise DtmmError("give at least one budget: --flash, --sram or --latency")
    flash_spec = parse_flash(flash) if flash is not None else None
    sram_bytes = parse_sram(sram) if sram is not None else None
    latency_spec = parse_latency(latency) if latency is not None else None
    if latency_spec is not None and board is None:
        raise DtmmError("--latency counts instructions on one board: give --board too (see `dtmm boards`)")
    if board is not None:
        from ..cost.calibration import load_calibration
        from ..targets.boards import get_board

        get_board(board)  # an unknown board: its own one-line error
        load_calibration(board)  # a board without a cost model cannot price a plan
    return flash_spec, sram_bytes, latency_spec


def budgets_text(report: dict, *, values: bool = False) -> str:
    """"flash `50%`, latency `60%` on qemu-m4" from a prune report (values: with the resolved bytes/instructions)."""
    parts = []
    for key, label, resolved, unit in (("flash_budget", "flash", "flash_budget_bytes", "B"),
                                       ("sram_budget", "SRAM (arena)", "sram_budget_bytes", "B"),
                                       ("latency_budget", "latency", "latency_budget_instructions", "instructions")):
        if report.get(key) is None:
            continue
        text = f"{label} `{report[key]}`"
        if values and report.get(resolved) is not None:
            text += f" = {report[resolved]:,} {unit}"
        if key == "latency_budget":
            text += f" on {report.get('board')}"
        parts.append(text)
    return ", ".join(parts) or "-"
