"""C text of a packed model: NAME.h (API, sizes, quantization) and NAME.c (weights, plan, calls).

Everything here is a pure function of its arguments: no paths, dates or
dictionary-order accidents, '\n' line endings, so packing is byte-for-byte
reproducible.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from ..tflite.layer_names import op_label
from .graph import C_TYPES, Lifetimes
from .planner import ArenaPlan

PLACEHOLDER = re.compile(r"\{(in\d+|out\d+|scratch)\}")
INIT_PLACEHOLDER = re.compile(r"\{(scratch_bytes)\}")
# the FWCS conv kernel: init checks its scratch needs against the plan
_CONV_CALL = re.compile(r"\bdtmm_conv_s8\s*\(\s*([A-Za-z_][A-Za-z0-9_]*)\s*,")

#: conv paths, as tested in the generated code (dtmm_conv_variants.h; every op family's
#: dispatch picks its path by the same rule)
CONV_PATHS = (("mve", "DTMM_CONV_PATH_MVE"), ("dsp", "DTMM_CONV_PATH_DSP"), ("c", "DTMM_CONV_PATH_C"))


@dataclass(frozen=True)
class VariantFamily:
    """An op family whose kernels come in variants: the lowered field naming them per path, the
    generic call the generated model rewrites into its `_with` form, and the C spellings."""

    field: str  # LoweredOp attribute: {path: variant name}
    generic_call: re.Pattern  # the lowered c_call's generic call, its arguments in group 1
    with_function: str  # e.g. "dtmm_conv_s8_with"
    c_type: str  # the variant object type, e.g. "dtmm_conv_variant"
    object_prefix: str  # variant object = prefix + name, e.g. "dtmm_conv_"
    table_suffix: str  # e.g. "conv_variants" -> NAME_conv_variants[], NAME_CONV_VARIANTS
    portable: str  # the variant of the portable path


VARIANT_FAMILIES = (
    VariantFamily("conv_variants", re.compile(r"\bdtmm_conv_s8\((.*?)\);"), "dtmm_conv_s8_with",
                  "dtmm_conv_variant", "dtmm_conv_", "conv_variants", "portable"),
    VariantFamily("add_variants", re.compile(r"\bdtmm_add_s8\((.*?)\);"), "dtmm_add_s8_with",
                  "dtmm_add_variant", "dtmm_add_", "add_variants", "portable"),
)  # fmt: skip

#: headers every generated model includes besides its own
DEFAULT_INCLUDES = ("dtmm_kernels.h", "dtmm_ops.h")


def model_variants(lowered: Sequence, field: str = "conv_variants") -> dict[str, list[str]]:
    """{path: [variant names]}: the kernel variants (of one family, by LoweredOp field) the model's
    layers run on each path, in order of first use; empty without such layers."""
    out: dict[str, list[str]] = {}
    for lo in lowered:
        for path, variant in (getattr(lo, field, None) or {}).items():
            names = out.setdefault(path, [])
            if variant not in names:
                names.append(variant)
    return out


def model_conv_variants(lowered: Sequence) -> dict[str, list[str]]:
    """model_variants() of the conv family."""
    return model_variants(lowered, "conv_variants")


def _variant_table(name: str, family: VariantFamily, variants: dict[str, list[str]]) -> list[str]:
    """The model's list of one family's variants, per compiled path: the only references to their code."""
    if not variants:
        return []
    table = f"{name}_{family.table_suffix}"
    lines = [
        f"/* ---- {family.with_function}: the kernel variants its layers run (dtmm pack), the only ones linked ---- */",
        "",
    ]
    for k, (path, macro) in enumerate(CONV_PATHS):
        names = variants.get(path) or variants.get("c") or [family.portable]
        items = ", ".join(f"&{family.object_prefix}{v}" for v in names)
        lines.append(("#if" if k == 0 else "#elif" if k < len(CONV_PATHS) - 1 else "#else") +
                     (f" DTMM_CONV_PATH == {macro}" if k < len(CONV_PATHS) - 1 else f" /* {macro} */"))  # fmt: skip
        lines.append(f"static const {family.c_type} *const {table}[] = {{{items}}};")
    lines += [
        "#endif",
        f"#define {table.upper()} {table}, (uint32_t)(sizeof {table} / sizeof {table}[0])",
        "",
    ]
    return lines


@dataclass(frozen=True)
class IoInfo:
    """One model input or output as the generated API exposes it."""

    tensor: int
    name: str
    shape: tuple
    dtype: str  # TensorType name
    c_type: str
    elements: int
    bytes: int
    scale: float  # 1.0 for float tensors
    zero_point: int  # 0 for float tensors

    @property
    def is_float(self) -> bool:
        return self.dtype == "FLOAT32"

    def as_dict(self) -> dict:
        return {
            "tensor": self.tensor,
            "name": self.name,
            "shape": list(self.shape),
            "dtype": self.dtype.lower(),
            "elements": self.elements,
            "bytes": self.bytes,
            "scale": self.scale,
            "zero_point": self.zero_point,
        }


def c_float(value: float) -> str:
    """A C float literal that reads back as exactly this float32 value."""
    v = float(np.float32(value))
    if not np.isfinite(v):
        raise ValueError(f"non-finite quantization parameter {value}")
    text = f"{v:.9g}"
    if not any(c in text for c in ".en"):
        text += ".0"
    return text + "f"


def c_int(value: int) -> str:
    return f"({value})" if value < 0 else str(value)


def c_string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def comment_safe(text: str) -> str:
    return text.replace("*/", "* /").replace("\n", " ")


def _substitute(template: str, values: dict, what: str) -> str:
    def repl(m: re.Match) -> str:
        key = m.group(1)
        if key not in values:
            raise KeyError(f"{what}: placeholder {{{key}}} has no tensor")
        return values[key]

    return PLACEHOLDER.sub(repl, template)


def _indent(text: str, prefix: str) -> list[str]:
    return [(prefix + line) if line.strip() else "" for line in text.strip("\n").split("\n")]


def emit_header(
    name: str,
    *,
    source: str,
    n_ops: int,
    arena_bytes: int,
    flash_bytes: int,
    inp: IoInfo,
    out: IoInfo,
) -> str:
    up = name.upper()
    guard = f"{up}_H"
    lines = [
        f"/* {name}.h - generated by dtmm pack from {comment_safe(source)}. Do not edit. */",
        f"#ifndef {guard}",
        f"#define {guard}",
        "",
        "#include <stdint.h>",
        "",
        '#include "dtmm_status.h"',
        "",
        "#ifdef __cplusplus",
        'extern "C" {',
        "#endif",
        "",
        f"/* Bytes of the static activation arena (tensors and kernel scratch), 16-byte aligned. */",
        f"#define {up}_ARENA_SIZE {arena_bytes}u",
        f"/* Bytes of constant weights and kernel parameters in flash. */",
        f"#define {up}_FLASH_BYTES {flash_bytes}u",
        f"/* Operators of the model, in execution order. */",
        f"#define {up}_NUM_OPS {n_ops}",
        "",
    ]
    for what, io in (("INPUT", inp), ("OUTPUT", out)):
        lines += [
            f"/* {what.lower()}: tensor {io.tensor} {comment_safe(io.name)!s} */",
            f"#define {up}_{what}_TYPE {io.c_type}",
            f"#define {up}_{what}_IS_FLOAT {1 if io.is_float else 0}",
            f"#define {up}_{what}_RANK {len(io.shape)}",
            f"#define {up}_{what}_SHAPE {{{', '.join(str(d) for d in io.shape)}}}",
        ]
        lines += [f"#define {up}_{what}_DIM{i} {d}" for i, d in enumerate(io.shape)]
        lines += [
            f"#define {up}_{what}_SIZE {io.elements}",
            f"#define {up}_{what}_BYTES {io.bytes}u",
            f"#define {up}_{what}_SCALE {c_float(io.scale)}",
            f"#define {up}_{what}_ZERO_POINT {c_int(io.zero_point)}",
            "",
        ]
    lines += [
        "/*",
        " * Call once before the first invoke: checks that every kernel's scratch",
        " * needs fit the planned arena.  Returns DTMM_OK or the first problem.",
        " */",
        f"dtmm_status {name}_init(void);",
        "",
        "/*",
        " * Runs the model on the data at the input pointer and leaves the result at",
        " * the output pointer.  The input is consumed: write it again before every",
        " * call.  Returns DTMM_OK or the first kernel error.",
        " */",
        f"dtmm_status {name}_invoke(void);",
        "",
        "/* Input and output tensors inside the arena (fixed addresses). */",
        f"{inp.c_type} *{name}_input(void);",
        f"{out.c_type} *{name}_output(void);",
        "",
        "/* Name of operator op_index (e.g. \"CONV_2D\"), or 0 when out of range. */",
        f"const char *{name}_op_name(int op_index);",
        "",
        "/* Operator whose init check or kernel returned the last error, -1 if none. */",
        f"int {name}_error_op(void);",
        "",
        "/*",
        " * Profiling.  Define " + f"{up}_OP_HOOK(op_index, op_name)" + " when compiling",
        f" * {name}.c to run code before every operator.  With -DDTMM_PROFILE every",
        " * operator's count (dtmm_measure_begin/end, see dtmm_board.h) is stored in",
        f" * {name}_op_counts and {name}_profile_report() prints them as",
        " * \"@dtmm measure opNN_OPNAME COUNT\" lines.",
        " */",
        "#ifdef DTMM_PROFILE",
        f"extern uint64_t {name}_op_counts[{up}_NUM_OPS];",
        f"void {name}_profile_report(void);",
        "#endif",
        "",
        "#ifdef __cplusplus",
        "}",
        "#endif",
        "",
        f"#endif /* {guard} */",
    ]
    return "\n".join(lines) + "\n"




def emit_source(
    name: str,
    *,
    source: str,
    model_sha256: str,
    model,
    lowered: Sequence,
    life: Lifetimes,
    plan: ArenaPlan,
    inp: IoInfo,
    out: IoInfo,
    includes: Sequence[str] = DEFAULT_INCLUDES,
    label_width: int = 2,
) -> str:
    up = name.upper()
    arena = f"{name}_arena"
    n_ops = len(lowered)

    def tensor_ptr(t: int) -> str:
        off = plan.offsets[life.region_of[t].name]
        return f"(({C_TYPES[model.tensors[t].dtype]} *)&{arena}[{off}])"

    def tensor_note(t: int) -> str:
        ten = model.tensors[t]
        off = plan.offsets[life.region_of[t].name]
        shape = "x".join(str(d) for d in ten.shape) or "scalar"
        return f"t{t} {ten.dtype.lower()} {shape} @{off}"

    lines = [
        f"/* {name}.c - generated by dtmm pack from {comment_safe(source)}. Do not edit.",
        f" * model sha256 {model_sha256}",
        f" * arena {plan.size} bytes (lower bound {plan.lower_bound}, plan {plan.strategy}),",
        f" * {n_ops} operators. */",
        "#include <stddef.h>",
        "#include <stdint.h>",
        "",
        f'#include "{name}.h"',
    ]
    lines += [f'#include "{h}"' for h in includes]
    lines += [
        "",
        "#ifdef DTMM_PROFILE",
        '#include "dtmm_board.h"',
        "#endif",
        "",
        f"#ifndef {up}_OP_HOOK",
        f"#define {up}_OP_HOOK(op_index, op_name) ((void)0)",
        "#endif",
        "",
        "#ifdef DTMM_PROFILE",
        f"uint64_t {name}_op_counts[{up}_NUM_OPS];",
        f"#define {up}_PROFILE_BEGIN() const uint64_t profile_start = dtmm_measure_begin()",
        f"#define {up}_PROFILE_END(op_index) {name}_op_counts[op_index] = dtmm_measure_end(0, profile_start)",
        "#else",
        f"#define {up}_PROFILE_BEGIN() ((void)0)",
        f"#define {up}_PROFILE_END(op_index) ((void)0)",
        "#endif",
        "",
        f"/* ---- weights and kernel parameters ({sum(lo.flash_bytes for lo in lowered)} bytes) ---- */",
        "",
    ]
    for lo in lowered:
        decls = lo.c_decls.strip("\n")
        if decls.strip():
            lines.append(f"/* op {lo.op_index}: {comment_safe(lo.op_name)} ({lo.flash_bytes} bytes) */")
            lines += decls.split("\n")
            lines.append("")

    for family in VARIANT_FAMILIES:
        lines += _variant_table(name, family, model_variants(lowered, family.field))
    lines += [
        "/* ---- activation arena ---- */",
        "",
        "/*",
        " * offset      bytes  steps    contents",
    ]
    rows = []
    for r in life.regions:
        if r.size > 0:
            rows.append((plan.offsets[r.name], r.size, r.first, r.last, ", ".join(f"t{t}" for t in r.tensors)))
    for k, n in sorted(life.scratch.items()):
        rows.append((plan.offsets[f"scratch{k}"], n, k, k, f"scratch of op {lowered[k].op_index}"))
    for off, size, a, b, what in sorted(rows):
        lines.append(f" * {off:>8d} {size:>8d}  {a:>3d}..{b:<3d}  {what}")
    lines += [
        " */",
        f"static uint8_t {arena}[{up}_ARENA_SIZE] __attribute__((aligned(16)));",
        f"static int {name}_ready;",
        f"static int {name}_failed_op = -1;",
        "",
        f"static const char *const {name}_op_names[{max(n_ops, 1)}] = {{",
    ]
    lines += [f"    {c_string(lo.op_name)}," for lo in lowered] or ['    "",']
    lines += [
        "};",
        "",
        f"const char *{name}_op_name(int op_index)",
        "{",
        f"    return (op_index >= 0 && op_index < {up}_NUM_OPS) ? {name}_op_names[op_index] : 0;",
        "}",
        "",
        f"int {name}_error_op(void)",
        "{",
        f"    return {name}_failed_op;",
        "}",
        "",
        f"{inp.c_type} *{name}_input(void)",
        "{",
        f"    return {tensor_ptr(inp.tensor)};",
        "}",
        "",
        f"{out.c_type} *{name}_output(void)",
        "{",
        f"    return {tensor_ptr(out.tensor)};",
        "}",
        "",
    ]

    # ---- init: scratch checks ----
    lines += [f"dtmm_status {name}_init(void)", "{", "    dtmm_status status = DTMM_OK;"]
    lines += [f"    if (((uintptr_t){arena} & 15u) != 0u) {{", "        return DTMM_ERR_ARGUMENT;", "    }"]
    for k, lo in enumerate(lowered):
        planned = life.scratch.get(k, 0)
        c_init = getattr(lo, "c_init", "") or ""
        if c_init.strip():
            body = INIT_PLACEHOLDER.sub(lambda m: str(planned), c_init)
            lines.append(f"    /* op {lo.op_index}: {comment_safe(lo.op_name)} */")
            lines.append("    {")
            lines += _indent(body, "        ")
            lines += ["        if (status != DTMM_OK) {", f"            {name}_failed_op = {lo.op_index};",
                      "            return status;", "        }", "    }"]
            continue
        m = _CONV_CALL.search(lo.c_call or "")
        if m:
            lines += [
                f"    /* op {lo.op_index}: {comment_safe(lo.op_name)} needs at most {planned} scratch bytes */",
                "    {",
                f"        const int32_t need = dtmm_conv_s8_get_buffer_size({m.group(1)});",
                "        if (need < 0 || need > " + str(planned) + ") {",
                f"            {name}_failed_op = {lo.op_index};",
                "            return need < 0 ? (dtmm_status)(-need) : DTMM_ERR_ARGUMENT;",
                "        }",
                "    }",
            ]
    lines += ["    (void)status;", f"    {name}_failed_op = -1;", f"    {name}_ready = 1;", "    return DTMM_OK;", "}", ""]

    # ---- invoke: straight-line calls ----
    lines += [
        f"dtmm_status {name}_invoke(void)",
        "{",
        "    dtmm_status status = DTMM_OK;",
        f"    if (!{name}_ready) {{",
        "        return DTMM_ERR_ARGUMENT;",
        "    }",
    ]
    for k, lo in enumerate(lowered):
        values = {f"in{i}": tensor_ptr(t) for i, t in enumerate(lo.inputs)}
        values.update({f"out{i}": tensor_ptr(t) for i, t in enumerate(lo.outputs)})
        values["scratch"] = f"((void *)&{arena}[{plan.offsets[f'scratch{k}']}])" if k in life.scratch else "NULL"
        ins = "; ".join(tensor_note(t) for t in lo.inputs) or "-"
        outs = "; ".join(tensor_note(t) for t in lo.outputs) or "-"
        note = f"op {lo.op_index}: {comment_safe(lo.op_name)}"
        call = (lo.c_call or "").strip("\n")
        lines.append("")
        lines.append(f"    /* {note}")
        lines.append(f"     *   in:  {ins}")
        lines.append(f"     *   out: {outs}")
        if k in life.scratch:
            lines.append(f"     *   scratch: {life.scratch[k]} bytes @{plan.offsets[f'scratch{k}']}")
        if lo.alias_of_input:
            lines.append("     *   reshape: output aliases input")
        if lo.op_index in life.in_place:
            lines.append("     *   in place: output shares the input's bytes")
        lines.append("     */")
        if not call.strip():
            continue
        for family in VARIANT_FAMILIES:
            if getattr(lo, family.field, None):
                table = f"{up}_{family.table_suffix.upper()}"
                call, n = family.generic_call.subn(rf"{family.with_function}(\1, {table});", call)
                if n == 0:
                    raise KeyError(f"operator #{lo.op_index} ({lo.op_name}): {family.field} but no generic call")
        body = _substitute(call, values, f"operator #{lo.op_index} ({lo.op_name})")
        lines += [
            "    {",
            f"        {up}_OP_HOOK({lo.op_index}, {c_string(lo.op_name)});",
            f"        {up}_PROFILE_BEGIN();",
        ]
        lines += _indent(body, "        ")
        lines += [
            f"        {up}_PROFILE_END({k});",
            "        if (status != DTMM_OK) {",
            f"            {name}_failed_op = {lo.op_index};",
            "            return status;",
            "        }",
            "    }",
        ]
    lines += ["    return status;", "}", ""]

    # ---- profile report ----
    lines += ["#ifdef DTMM_PROFILE", f"void {name}_profile_report(void)", "{"]
    for k, lo in enumerate(lowered):
        if (lo.c_call or "").strip():
            label = op_label(lo.op_index, lo.op_name, label_width)
            lines.append(
                f'    dtmm_printf("@dtmm measure {label} %llu\\n", (unsigned long long){name}_op_counts[{k}]);'
            )
    lines += ["}", "#endif", ""]
    return "\n".join(lines)
