"""Flash sizes on the command line (atomic file writes live in dtmm.fileio).

Units (case-insensitive): ``B`` (or none) = 1 byte; SI ``KB`` = 1000,
``MB`` = 1000**2; IEC ``KiB`` = 1024, ``MiB`` = 1024**2. A bare ``K``/``M`` is
refused because vendors use it for both. ``N%`` is a fraction of the model's
dense weight bytes.
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


def format_bytes(n: int) -> str:
    """'12,345 B (12.3 KB)' -- bytes are exact, the KB figure (1000) is for reading."""
    return f"{n:,} B ({n / 1000:.1f} KB)"


