"""Small deterministic C text builders for the lowered operators' declarations."""
from __future__ import annotations

import math
import re
from typing import Iterable, Sequence

import numpy as np

_ITEMSIZE = {"int8_t": 1, "uint8_t": 1, "int16_t": 2, "uint16_t": 2, "int32_t": 4, "uint32_t": 4, "float": 4}
_PER_LINE = {1: 16, 2: 12, 4: 8}
_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")

#: sizeof of every params-struct member on the 32-bit targets (int32, float and pointers)
FIELD_BYTES = 4


def check_prefix(prefix: str) -> None:
    if not _IDENT.match(prefix):
        from .quant import LoweringError

        raise LoweringError(f"prefix {prefix!r} is not the start of a C identifier")


def c_float(value: float) -> str:
    """An exact C99 literal of a float32 value (hexadecimal floating constant)."""
    v = float(np.float32(value))
    if not math.isfinite(v):
        raise ValueError(f"non-finite float {value!r}")
    if v == 0.0:
        return "0.0f"
    return f"{v.hex()}f"


def c_int(v: int) -> str:
    v = int(v)
    if v == -(1 << 31):
        return "INT32_MIN"
    return str(v)


def c_array(name: str, ctype: str, values: Iterable, comment: str = "") -> tuple[str, int]:
    """`static const CTYPE NAME[n] __attribute__((aligned(16))) = {...};` and its byte size."""
    vals = np.asarray(list(values) if not isinstance(values, np.ndarray) else values).reshape(-1)
    if vals.size == 0:
        vals = np.zeros(1, dtype=np.int64)  # C has no empty arrays
    size = _ITEMSIZE[ctype]
    if ctype == "float":
        items = [c_float(v) for v in vals.tolist()]
    else:
        items = [c_int(v) for v in vals.astype(np.int64).tolist()]
    per_line = _PER_LINE[size]
    lines = []
    if comment:
        lines.append(f"/* {comment} */")
    lines.append(f"static const {ctype} {name}[{len(items)}] __attribute__((aligned(16))) = {{")
    for i in range(0, len(items), per_line):
        lines.append("    " + ", ".join(items[i : i + per_line]) + ",")
    lines.append("};")
    return "\n".join(lines) + "\n", len(items) * size


def c_bytes(name: str, data: bytes, comment: str = "") -> tuple[str, int]:
    """A byte blob as `static const uint8_t NAME[n] __attribute__((aligned(16)))`, hex, 16 per line."""
    lines = []
    if comment:
        lines.append(f"/* {comment} */")
    lines.append(f"static const uint8_t {name}[{len(data)}] __attribute__((aligned(16))) = {{")
    for i in range(0, len(data), 16):
        lines.append("    " + ", ".join(f"0x{b:02x}" for b in data[i : i + 16]) + ",")
    lines.append("};")
    return "\n".join(lines) + "\n", len(data)


def _value(v) -> str:
    if isinstance(v, str):
        return v
    if isinstance(v, float):
        return c_float(v)
    if isinstance(v, (list, tuple, np.ndarray)):
        return "{" + ", ".join(_value(x) for x in v) + "}"
    return c_int(int(v))


def c_struct(ctype: str, name: str, fields: Sequence[tuple[str, object]], n_members: int) -> tuple[str, int]:
    """`static const CTYPE NAME = {.field = value, ...};` with designated initializers.

    ``n_members`` is the number of 4-byte members of the struct (arrays
    counted element-wise), for the flash size report.
    """
    lines = [f"static const {ctype} {name} = {{"]
    for field, value in fields:
        lines.append(f"    .{field} = {_value(value)},")
    lines.append("};")
    return "\n".join(lines) + "\n", n_members * FIELD_BYTES


def comment_safe(text: str) -> str:
    return text.replace("*/", "* /").replace("\n", " ")
