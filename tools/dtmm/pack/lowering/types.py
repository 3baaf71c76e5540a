"""The record one lowered operator is (see dtmm.pack.lowering for the contract)."""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Mapping

#: the placeholders of c_call; everything else in the template is literal C (braces included)
PLACEHOLDER = re.compile(r"\{(in\d+|out\d+|scratch)\}")
#: the placeholder of c_init
INIT_PLACEHOLDER = re.compile(r"\{(scratch_bytes)\}")


@dataclass(frozen=True)
class LoweredOp:
    op_index: int  # index in the subgraph's operator list
    op_name: str  # e.g. "CONV_2D"
    inputs: tuple[int, ...]  # activation tensor indices read (not constant tensors), in {in0},{in1},... order
    outputs: tuple[int, ...]  # activation tensor indices written, in {out0},{out1},... order
    c_decls: str  # file-scope C: static const params structs and aligned(16) arrays, names prefixed with `prefix`
    c_call: str  # C statement/block template with {inK}/{outK}/{scratch}; sets `dtmm_status status`
    scratch_bytes: int  # scratch the call needs (0 if none); the packer places it in the arena, 16-byte aligned
    flash_bytes: int  # bytes of const data in c_decls (weights + params on a 32-bit target)
    in_place_ok: bool = False  # out0 may alias in0 (the kernel reads each element before writing it)
    alias_of_input: bool = False  # pure reshape: out0 is in0's bytes; c_call is ""
    c_init: str = ""  # optional one-time check run at init; sets `status`; {scratch_bytes} = planned scratch
    scratch_expr: str | None = None  # C expression of the exact scratch need (informational), or None
    conv_variants: Mapping[str, str] | None = None  # CONV_2D: {"c"|"dsp"|"mve": kernel variant name} per path
    add_variants: Mapping[str, str] | None = None  # ADD: {"c"|"dsp"|"mve": kernel variant name} per path
    conv_storage: str | None = None  # CONV_2D: "fwcs", "pattern" or "sparse" (baseline_conv)
    conv_plan: Mapping[str, Mapping[str, int]] | None = None  # CONV_2D: conv_scratch.conv_plans(blob)

    def render_call(self, values: Mapping[str, str]) -> str:
        """c_call with every {inK}/{outK}/{scratch} replaced from ``values`` (KeyError if one is missing)."""
        return PLACEHOLDER.sub(lambda m: values[m.group(1)], self.c_call)

    def render_init(self, scratch_bytes: int) -> str:
        return INIT_PLACEHOLDER.sub(lambda m: str(int(scratch_bytes)), self.c_init)
