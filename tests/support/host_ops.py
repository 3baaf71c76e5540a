"""Run lowered operators on the host: a minimal C harness around the kernels (tests, debugging).

One generated C program holds any number of *cases* (a model's lowered
operators plus which tensors to feed and dump).  Each tensor gets its own
static 16-byte-aligned buffer (reshapes alias their input; with
``in_place=True`` operators that allow it write over their input), every
scratch area its own buffer, so AddressSanitizer sees any overrun.  Outputs
and scratch are filled with junk before each call so that a kernel that
relies on zeroed memory or leaves outputs unwritten is caught.  The program
is built against libdtmm_kernels (support.hostbuild, ASan/UBSan by default)
and run as ``prog CASE IN.bin OUT.bin``: IN holds one or more samples (the
fed tensors' bytes, in order), OUT receives the dumped tensors' bytes per
sample.
"""
from __future__ import annotations

import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from dtmm.errors import DtmmError
from dtmm.pack.lowering.types import LoweredOp
from dtmm.tflite.model import TfliteModel
from support.hostbuild import build_host_program, build_kernels_library

C_TYPES = {"INT8": "int8_t", "FLOAT32": "float", "INT32": "int32_t", "UINT8": "uint8_t", "INT16": "int16_t"}
NP_TYPES = {"INT8": np.int8, "FLOAT32": np.float32, "INT32": np.int32, "UINT8": np.uint8, "INT16": np.int16}

_LIBRARIES: dict[bool, Path] = {}


def kernels_library(build_dir: Path | None = None, sanitize: bool = True) -> Path:
    """libdtmm_kernels.a, built once per process (and per sanitize setting)."""
    lib = _LIBRARIES.get(sanitize)
    if lib is None or not lib.is_file():
        d = Path(build_dir) if build_dir is not None else Path(tempfile.mkdtemp(prefix="dtmm-kernels-"))
        lib = build_kernels_library(d, sanitize=sanitize)
        _LIBRARIES[sanitize] = lib
    return lib


@dataclass
class HostCase:
    name: str  # C identifier fragment, unique within a program
    model: TfliteModel
    lowered: Sequence[LoweredOp]
    feed: tuple  # tensors read from the input file, in order
    dump: tuple  # tensors written to the output file, in order
    in_place: bool = False

    def tensor_bytes(self, t: int) -> int:
        ten = self.model.tensors[t]
        return ten.size * np.dtype(NP_TYPES[ten.dtype]).itemsize

    @property
    def feed_bytes(self) -> int:
        return sum(self.tensor_bytes(t) for t in self.feed)


def _case_source(k: int, case: HostCase) -> str:
    model = case.model
    pre = f"c{k}_"
    lines = [f"/* ---- case {k}: {case.name} ---- */"]
    for lo in case.lowered:
        if lo.c_decls:
            lines.append(lo.c_decls)
    # buffers: reshape aliases share, in-place outputs reuse their input when allowed
    root: dict[int, int] = {}
    last_use: dict[int, int] = {}
    for i, lo in enumerate(case.lowered):
        for t in lo.inputs:
            last_use[t] = i

    def find(t: int) -> int:
        while root.get(t, t) != t:
            t = root[t]
        return t

    for i, lo in enumerate(case.lowered):
        if lo.alias_of_input:
            root[lo.outputs[0]] = find(lo.inputs[0])
        elif (
            case.in_place and lo.in_place_ok and lo.inputs and lo.outputs
            and last_use.get(lo.inputs[0]) == i and lo.inputs[0] not in case.dump and lo.inputs[0] not in case.feed
            and lo.inputs[0] not in lo.inputs[1:]
            and case.tensor_bytes(lo.inputs[0]) == case.tensor_bytes(lo.outputs[0])
        ):  # fmt: skip
            root[lo.outputs[0]] = find(lo.inputs[0])
    tensors = set(case.feed) | set(case.dump)
    for lo in case.lowered:
        tensors.update(lo.inputs)
        tensors.update(lo.outputs)
    sizes: dict[int, int] = {}
    for t in tensors:
        r = find(t)
        sizes[r] = max(sizes.get(r, 1), case.tensor_bytes(t))
    for r in sorted(sizes):
        lines.append(f"static uint8_t {pre}buf{r}[{sizes[r]}] __attribute__((aligned(16)));")

    def ptr(t: int) -> str:
        ctype = C_TYPES[model.tensors[t].dtype]
        return f"(({ctype} *){pre}buf{find(t)})"

    for i, lo in enumerate(case.lowered):
        if lo.scratch_bytes > 0:
            lines.append(f"static uint8_t {pre}scratch{i}[{lo.scratch_bytes}] __attribute__((aligned(16)));")
    lines.append(f"static int {pre}run(FILE *in, FILE *out)")
    lines.append("{")
    lines.append("    dtmm_status status = DTMM_OK;")
    for i, lo in enumerate(case.lowered):
        if lo.c_init.strip():
            lines.append("    {")
            lines.append("        " + lo.render_init(lo.scratch_bytes).replace("\n", "\n        "))
            lines.append("    }")
            lines.append(
                f'    if (status != DTMM_OK) {{ fprintf(stderr, "init op {lo.op_index} {lo.op_name}: %s\\n", '
                "dtmm_status_name(status)); return 3; }"
            )
    lines.append("    for (;;) {")
    for j, t in enumerate(case.feed):
        n = case.tensor_bytes(t)
        if j == 0:
            lines.append(f"        size_t got = fread({pre}buf{find(t)}, 1, {n}, in);")
            lines.append("        if (got == 0) { return 0; }")
            lines.append(f'        if (got != {n}) {{ fprintf(stderr, "short input\\n"); return 2; }}')
        else:
            lines.append(f'        if (fread({pre}buf{find(t)}, 1, {n}, in) != {n}) {{ fprintf(stderr, "short input\\n"); return 2; }}')
    if not case.feed:
        lines.append("        static int done_ = 0;")
        lines.append("        if (done_++) { return 0; }")
    for i, lo in enumerate(case.lowered):
        if not lo.c_call.strip():
            continue
        for t in lo.outputs:
            if find(t) not in {find(u) for u in lo.inputs}:
                lines.append(f"        memset({pre}buf{find(t)}, 0x5a, {case.tensor_bytes(t)});")
        values = {f"in{j}": ptr(t) for j, t in enumerate(lo.inputs)}
        values.update({f"out{j}": ptr(t) for j, t in enumerate(lo.outputs)})
        if lo.scratch_bytes > 0:
            lines.append(f"        memset({pre}scratch{i}, 0xa5, {lo.scratch_bytes});")
            values["scratch"] = f"((void *){pre}scratch{i})"
        else:
            values["scratch"] = "NULL"
        lines.append("        {")
        lines.append("            " + lo.render_call(values).replace("\n", "\n            "))
        lines.append("        }")
        lines.append(
            f'        if (status != DTMM_OK) {{ fprintf(stderr, "op {lo.op_index} {lo.op_name}: %s\\n", '
            "dtmm_status_name(status)); return 1; }"
        )
    for t in case.dump:
        n = case.tensor_bytes(t)
        lines.append(f"        if (fwrite({pre}buf{find(t)}, 1, {n}, out) != {n}) {{ return 2; }}")
    lines.append("    }")
    lines.append("}")
    return "\n".join(lines) + "\n"


def program_source(cases: Sequence[HostCase]) -> str:
    parts = [
        "/* Generated by support.host_ops: host harness for lowered operators. */",
        "#include <stddef.h>",
        "#include <stdint.h>",
        "#include <stdio.h>",
        "#include <stdlib.h>",
        "#include <string.h>",
        "",
        '#include "dtmm_kernels.h"',
        '#include "dtmm_ops.h"',
        "",
    ]
    for k, case in enumerate(cases):
        parts.append(_case_source(k, case))
    parts.append("int main(int argc, char **argv)")
    parts.append("{")
    parts.append("    if (argc != 4) { fprintf(stderr, \"usage: prog CASE IN OUT\\n\"); return 2; }")
    parts.append("    FILE *in = fopen(argv[2], \"rb\");")
    parts.append("    FILE *out = fopen(argv[3], \"wb\");")
    parts.append("    if (in == NULL || out == NULL) { fprintf(stderr, \"cannot open files\\n\"); return 2; }")
    parts.append("    int rc = 2;")
    parts.append("    switch (atoi(argv[1])) {")
    for k in range(len(cases)):
        parts.append(f"    case {k}: rc = c{k}_run(in, out); break;")
    parts.append("    default: fprintf(stderr, \"no such case\\n\"); break;")
    parts.append("    }")
    parts.append("    fclose(in);")
    parts.append("    if (fclose(out) != 0) { rc = 2; }")
    parts.append("    return rc;")
    parts.append("}")
    return "\n".join(parts) + "\n"


class HostProgram:
    """A compiled harness for a list of cases."""

    def __init__(self, cases: Sequence[HostCase], build_dir: Path, sanitize: bool = True):
        self.cases = list(cases)
        self.build_dir = Path(build_dir)
        self.build_dir.mkdir(parents=True, exist_ok=True)
        lib = kernels_library(self.build_dir / "kernels", sanitize=sanitize)
        src = self.build_dir / "harness.c"
        src.write_text(program_source(self.cases))
        self.exe = build_host_program(src, self.build_dir / "harness", lib, sanitize=sanitize)
        self._runs = 0

    def run(self, index: int, samples: Sequence[Sequence[np.ndarray]]) -> list[dict[int, np.ndarray]]:
        """Run case ``index`` on each sample (one array per fed tensor); returns {tensor: array} per sample."""
        case = self.cases[index]
        blob = bytearray()
        for sample in samples:
            if len(sample) != len(case.feed):
                raise ValueError(f"case {case.name}: {len(case.feed)} inputs expected, got {len(sample)}")
            for t, arr in zip(case.feed, sample):
                ten = case.model.tensors[t]
                a = np.ascontiguousarray(np.asarray(arr, dtype=NP_TYPES[ten.dtype]))
                if a.size != ten.size:
                    raise ValueError(f"case {case.name}: tensor {t} needs {ten.size} elements, got {a.size}")
                blob += a.tobytes()
        self._runs += 1
        fin = self.build_dir / f"in{self._runs}.bin"
        fout = self.build_dir / f"out{self._runs}.bin"
        fin.write_bytes(bytes(blob))
        proc = subprocess.run([str(self.exe), str(index), str(fin), str(fout)], capture_output=True, text=True)
        if proc.returncode != 0:
            raise DtmmError(f"host run of case {case.name} failed ({proc.returncode}): {proc.stderr.strip()[-3000:]}")
        data = fout.read_bytes()
        results = []
        off = 0
        for _ in samples:
            res = {}
            for t in case.dump:
                ten = case.model.tensors[t]
                n = case.tensor_bytes(t)
                res[t] = np.frombuffer(data[off : off + n], dtype=NP_TYPES[ten.dtype]).reshape(ten.shape).copy()
                off += n
            results.append(res)
        if off != len(data):
            raise DtmmError(f"host run of case {case.name}: {len(data)} output bytes, expected {off}")
        return results
