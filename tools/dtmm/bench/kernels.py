"""`dtmm bench kernels`: retired instructions of the conv kernels on every ResNet-8 conv layer.

For each CONV_2D of MLPerf Tiny ResNet-8 and each filterlet density, the
firmware app/bench_kernels measures under QEMU (exact counts, see
docs/measurement.md)

* sparse: dtmm_conv_s8 on the layer magnitude-pruned to that density and
  packed with the encoding the packer picks (auto);
* dense: dtmm_conv_s8 on the unpruned layer as a DENSE blob ("dense mode");
* reference: dtmm_conv_s8_reference, a TFLite-reference-style loop, on the
  same DENSE blob.

Every output is hashed on the device and checked against the numpy golden
model; a benchmark with a wrong output is an error, not a table.  Inputs are
the real activations of one CIFAR-10 test image (the tflite-micro
interpreter's intermediate tensors), or seeded random int8 when the image
archive is absent.  The kernels are compiled with -Ofast
(custom_dtmm_kernels_optimization), the rest of the firmware with -O2.
Generated sources and builds live under the build directory, never in the
repository's tracked files.
"""
from __future__ import annotations

import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from ..errors import DtmmError
from ..formats import fwcs
from ..formats.fwcs import c_emit, reference
from ..paths import APPS_DIR, REPO_ROOT
from ..prune.magnitude import magnitude_keep_mask
from ..targets.boards import get_board
from .model_layers import cifar10_test_image, random_activations, resnet8_activations, resnet8_layers, short_layer_name

BENCH_FIRMWARE = APPS_DIR / "bench_kernels"
DEFAULT_DENSITIES = (1.0, 0.75, 0.5, 0.25, 0.1)
DEFAULT_KERNELS_OPTIMIZATION = "-Ofast"
MODEL_RELPATH = Path("models") / "mlperf-tiny-ic" / "pretrainedResnet_quant.tflite"
IMAGES_RELPATH = Path("data") / "cifar10-images.tar.gz"
SCRATCH_BYTES = 65536  # per-call scratch the firmware offers (BENCH_SCRATCH_BYTES)

_OUT_LINE = re.compile(r"^@bench out (\S+) ([0-9a-f]{8})\s*$", re.M)
_ERR_LINE = re.compile(r"^@bench error (\S+) (.*)$", re.M)


def default_shared_dir() -> Path:
    """$DTMM_SHARED, else ../shared next to the repository (as the test suite)."""
    return Path(os.environ.get("DTMM_SHARED", REPO_ROOT.parent / "shared"))


def fnv1a(data: bytes) -> int:
    """32-bit FNV-1a, the output hash the firmware prints."""
    h = 0x811C9DC5
    for b in data:
        h = ((h ^ b) * 0x01000193) & 0xFFFFFFFF
    return h


def output_hash(arr: np.ndarray) -> int:
    """The FNV-1a hash the firmware prints for an output array (outputs are small: a plain loop)."""
    return fnv1a(arr.tobytes())


@dataclass
class BenchRun:
    """One measured kernel call of the firmware."""

    name: str  # measurement name, e.g. "conv2d_3.d050"
    kind: str  # "sparse" | "dense" | "reference" | "fc" (dtmm_fully_connected_s8 on `fc`)
    blob: bytes  # the FWCS blob (for "fc": empty)
    input_key: str
    output_hash: int
    output_len: int
    fc: dict | None = None  # "fc": weights [out][in] int8, bias (offset folded), multiplier, shift, fields


@dataclass
class BenchLayer:
    name: str
    spec: fwcs.ConvSpec
    input: np.ndarray
    runs: list[BenchRun]
    # per density: (density, encoding, kept filterlets)
    sparse_info: list[tuple[float, str, int]]


def _density_tag(d: float) -> str:
    return f"d{int(round(d * 100)):03d}"


def prepare_layers(model_path, densities: Sequence[float], image: np.ndarray | None, seed: int = 0):
    """The benchmark's layers with their blobs, inputs and expected output hashes."""
    model, layers = resnet8_layers(model_path)
    if image is not None:
        acts = resnet8_activations(model, image)
    else:
        acts = random_activations(layers, seed)
    out = []
    for layer in layers:
        s = layer.spec
        name = short_layer_name(layer)
        x = acts[layer.op_index].reshape(s.in_h, s.in_w, s.cin)
        dense_blob = fwcs.encode(layer.weights, layer.bias, layer.multiplier, layer.shift, s, "dense")
        dense_hash = output_hash(reference.conv2d(dense_blob, x[None])[0])
        n_out = s.out_h * s.out_w * s.cout
        runs = [
            BenchRun(f"{name}.dense", "dense", dense_blob, name, dense_hash, n_out),
            BenchRun(f"{name}.reference", "reference", dense_blob, name, dense_hash, n_out),
        ]
        info = []
        for d in densities:
            keep = magnitude_keep_mask(layer.weights, 1.0 - d)
            w = np.where(keep[..., None], layer.weights, 0).astype(np.int8)
            blob = fwcs.encode(w, layer.bias, layer.multiplier, layer.shift, s)
            h = fwcs.validate(blob)
            kept = int(fwcs.keep_mask(w).sum())
            expected = output_hash(reference.conv2d(blob, x[None])[0])
            runs.append(BenchRun(f"{name}.{_density_tag(d)}", "sparse", blob, name, expected, n_out))
            info.append((d, h.encoding_name, kept))
        out.append(BenchLayer(name, s, x, runs, info))
    return out


def _layer_bytes(layer: BenchLayer) -> int:
    blobs = {r.blob for r in layer.runs}
    return layer.input.size + sum(len(b) + 16 for b in blobs)


def split_layers(layers: Sequence[BenchLayer], flash_bytes: int, reserve: int = 96 * 1024) -> list[list[BenchLayer]]:
    """Consecutive layer groups whose data fits the board's flash, one firmware build each."""
    groups: list[list[BenchLayer]] = []
    used = 0
    for layer in layers:
        size = _layer_bytes(layer)
        if not groups or used + size > flash_bytes - reserve:
            groups.append([])
            used = 0
        groups[-1].append(layer)
        used += size
    return groups


def _fc_params_c(ident: str, fc: dict) -> str:
    """A dtmm_fully_connected_s8_params over the arrays {ident}_weights/_bias/_multiplier/_shift."""
    cast = lambda part, t: f"(const {t} *)(const void *){ident}_{part}"  # noqa: E731
    return (
        f"static const dtmm_fully_connected_s8_params {ident}_params = {{\n"
        f"    {cast('weights', 'int8_t')}, {cast('bias', 'int32_t')}, {cast('multiplier', 'int32_t')},\n"
        f"    {cast('shift', 'int32_t')}, {fc['batches']}, {fc['in_features']}, {fc['out_features']},\n"
        f"    {fc['per_channel']}, {fc['output_offset']}, {fc['act_min']}, {fc['act_max']}}};\n"
    )


def emit_bench_header(layers: Sequence[BenchLayer]) -> str:
    """bench_cases.h: blobs and inputs (16-byte aligned, via dtmm.formats.fwcs.c_emit) and the table of runs."""
    arrays: dict[str, bytes] = {}
    comments: dict[str, str] = {}
    blob_ident: dict[bytes, str] = {}
    runs_c: list[str] = []
    fc_params: list[str] = []
    for k, layer in enumerate(layers):
        in_ident = f"l{k}_{c_emit.c_identifier(layer.name, prefix='')}_in"
        arrays[in_ident] = layer.input.tobytes()
        for r in layer.runs:
            ident = f"l{k}_{c_emit.c_identifier(r.name, prefix='')}"
            if r.kind == "fc":
                for part in ("weights", "bias", "multiplier", "shift"):
                    arrays[f"{ident}_{part}"] = np.ascontiguousarray(r.fc[part]).tobytes()
                fc_params.append(_fc_params_c(ident, r.fc))
                runs_c.append(f'    {{"{r.name}", 2, NULL, &{ident}_params, {in_ident}, {layer.input.size}u, '
                              f"{r.output_len}u}},")  # fmt: skip
                continue
            if r.blob not in blob_ident:
                blob_ident[r.blob] = f"{ident}_blob"
                arrays[f"{ident}_blob"] = r.blob
                comments[f"{ident}_blob"] = c_emit.describe(r.blob)
            kind = 1 if r.kind == "reference" else 0
            runs_c.append(f'    {{"{r.name}", {kind}, {blob_ident[r.blob]}, NULL, {in_ident}, {layer.input.size}u, '
                          f"{r.output_len}u}},")  # fmt: skip
    data = c_emit.emit_header(arrays, "DTMM_BENCH_CASES_H", comments)
    body = data.rsplit("#endif", 1)[0].rstrip("\n")
    if fc_params:
        body += "\n\n#include \"dtmm_ops.h\"\n\n" + "\n".join(fc_params)
    all_runs = [r for layer in layers for r in layer.runs]
    lines = [
        body,
        "",
        "typedef struct {",
        "    const char *name;",
        "    int kind; /* 0: dtmm_conv_s8, 1: dtmm_conv_s8_reference, 2: dtmm_fully_connected_s8 */",
        "    const uint8_t *blob;",
        "    const void *fc; /* kind 2: its dtmm_fully_connected_s8_params */",
        "    const uint8_t *input;",
        "    uint32_t input_len;",
        "    uint32_t output_len;",
        "} bench_run;",
        "",
        f"#define BENCH_RUN_COUNT {len(all_runs)}u",
        f"#define BENCH_MAX_INPUT {max(layer.input.size for layer in layers)}u",
        f"#define BENCH_MAX_OUTPUT {max(r.output_len for r in all_runs)}u",
        "",
        "static const bench_run bench_runs[BENCH_RUN_COUNT] = {",
        *runs_c,
        "};",
        "",
        "#endif /* DTMM_BENCH_CASES_H */",
        "",
    ]
    return "\n".join(lines)


def measure_layers(
    layers: Sequence[BenchLayer],
    board: str,
    work: Path,
    defines: Sequence[str],
    kernels_optimization: str,
    timeout: float,
    say: Callable[[str, int, int], None],
) -> tuple[dict[str, int], set[str]]:
    """Build app/bench_kernels with the layers' runs (several firmware parts when the board's flash is
    too small), run each under QEMU, check every output hash; returns {run name: instructions} and the
    conv paths the firmware reported.  Raises DtmmError naming the first failures."""
    from ..targets.platformio import build
    from ..targets.qemu import run_firmware

    b = get_board(board)
    groups = split_layers(layers, b.flash_bytes)
    total = 1 + 2 * len(groups)
    work.mkdir(parents=True, exist_ok=True)
    counts: dict[str, int] = {}
    hashes: dict[str, int] = {}
    errors: list[str] = []
    paths: set[str] = set()
    for g, group in enumerate(groups):
        src = work / f"src{g}"
        if src.exists():
            shutil.rmtree(src)
        src.mkdir(parents=True)
        shutil.copyfile(BENCH_FIRMWARE / "main.c", src / "main.c")
        c_emit.write_header(src / "bench_cases.h", emit_bench_header(group))
        say(f"building {board} part {g + 1}/{len(groups)}", 1 + 2 * g, total)
        elf = build(src, board, build_dir=work / f"build{g}", defines=list(defines),
                    kernels_optimization=kernels_optimization)
        say(f"running {board} part {g + 1}/{len(groups)}", 2 + 2 * g, total)
        result = run_firmware(elf, board, timeout=timeout)
        counts.update(result.measurements)
        hashes.update({m.group(1): int(m.group(2), 16) for m in _OUT_LINE.finditer(result.console)})
        errors += [f"{m.group(1)}: {m.group(2).strip()}" for m in _ERR_LINE.finditer(result.console)]
        paths.update(re.findall(r"^bench_kernels on \S+: path (\w+),", result.console, re.M))
        if result.exit_code != 0 and not errors:
            tail = result.console.strip().splitlines()[-1:] or ["(no output)"]
            errors.append(f"firmware part {g + 1} exited with status {result.exit_code}: {tail[0]}")

    say("verifying outputs", total, total)
    for layer in layers:
        for r in layer.runs:
            if r.name not in counts or r.name not in hashes:
                errors.append(f"{r.name}: not measured")
            elif hashes[r.name] != r.output_hash:
                errors.append(f"{r.name}: wrong output (hash {hashes[r.name]:08x}, expected {r.output_hash:08x})")
    if errors:
        raise DtmmError(f"benchmark on {board} failed verification:\n  " + "\n  ".join(errors[:20]))
    return counts, paths


def run_bench(
    board: str,
    densities: Sequence[float] = DEFAULT_DENSITIES,
    model_path=None,
    images_path=None,
    build_dir=None,
    kernels_optimization: str = DEFAULT_KERNELS_OPTIMIZATION,
    defines: Sequence[str] = (),
    timeout: float = 900.0,
    progress: Callable[[str, int, int], None] | None = None,
    seed: int = 0,
) -> dict:
    """Build, run and verify; returns the JSON-ready report (see docs/kernels.md).

    `progress(message, steps_done, steps_total)` is called before each step (preparing the golden
    outputs, then one build and one run per firmware part)."""
    b = get_board(board)
    if not b.emulated:
        raise DtmmError(f"board '{board}' is real hardware; the benchmark runs on emulated boards (qemu-*)")
    densities = sorted({float(d) for d in densities}, reverse=True)
    if not densities or any(not 0.0 < d <= 1.0 for d in densities):
        raise DtmmError("densities must be in (0, 1]")
    shared = default_shared_dir()
    model_path = Path(model_path) if model_path else shared / MODEL_RELPATH
    if not model_path.is_file():
        raise DtmmError(f"ResNet-8 model not found at {model_path} (pass --model)")
    images_path = Path(images_path) if images_path else shared / IMAGES_RELPATH
    image = cifar10_test_image(images_path) if images_path.is_file() else None
    if image is not None:
        input_desc = f"CIFAR-10 {images_path.name}:test/airplane/0000.jpg"
    else:
        input_desc = f"random int8, seed {seed}"

    say = progress or (lambda msg, done, total: None)
    say("preparing layers and golden outputs", 0, 3)
    layers = prepare_layers(model_path, densities, image, seed)
    ram = SCRATCH_BYTES + max(layer.input.size for layer in layers) + max(
        r.output_len for layer in layers for r in layer.runs) + b.stack_bytes  # fmt: skip
    if ram > b.ram_bytes:
        raise DtmmError(f"the kernel benchmark needs about {ram} bytes of RAM on {board} (scratch {SCRATCH_BYTES} + "
                        f"ResNet-8's largest conv input and output + stack), the board has {b.ram_bytes}")
    work = Path(build_dir) if build_dir else REPO_ROOT / ".pio" / "dtmm-bench" / board
    counts, paths = measure_layers(layers, board, work, [f"BENCH_SCRATCH_BYTES={SCRATCH_BYTES}", *defines],
                                   kernels_optimization, timeout, say)

    rows = []
    for layer in layers:
        s = layer.spec
        for d, enc, kept in layer.sparse_info:
            rows.append({
                "layer": layer.name,
                "kernel": [s.kh, s.kw],
                "cin": s.cin,
                "cout": s.cout,
                "density": d,
                "macs": s.macs,
                "encoding": enc,
                "kept_filterlets": kept,
                "filterlets": s.n_filterlets,
                "sparse_instructions": counts[f"{layer.name}.{_density_tag(d)}"],
                "dense_instructions": counts[f"{layer.name}.dense"],
                "reference_instructions": counts[f"{layer.name}.reference"],
            })  # fmt: skip
    dense_total = sum(counts[f"{layer.name}.dense"] for layer in layers)
    ref_total = sum(counts[f"{layer.name}.reference"] for layer in layers)
    per_density = {
        str(d): sum(r["sparse_instructions"] for r in rows if r["density"] == d) for d in densities
    }
    return {
        "board": board,
        "path": ",".join(sorted(paths)) or "?",
        "kernels_optimization": kernels_optimization,
        "defines": list(defines),
        "unit": "QEMU-retired instructions",
        "input": input_desc,
        "densities": densities,
        "rows": rows,
        "totals": {
            "macs": sum(layer.spec.macs for layer in layers),
            "dense_instructions": dense_total,
            "reference_instructions": ref_total,
            "sparse_instructions": per_density,
        },
    }


def render_table(report: dict) -> str:
    """Human-readable table with ratios and whole-stack totals."""
    head = ("layer", "kernel", "cin", "cout", "MACs", "density", "encoding", "sparse", "dense", "reference",
            "sparse/dense", "dense/ref")  # fmt: skip
    rows = []
    for r in report["rows"]:
        rows.append((
            r["layer"], f"{r['kernel'][0]}x{r['kernel'][1]}", str(r["cin"]), str(r["cout"]), f"{r['macs']:,}",
            f"{r['density']:.2f}", r["encoding"], f"{r['sparse_instructions']:,}", f"{r['dense_instructions']:,}",
            f"{r['reference_instructions']:,}", f"{r['sparse_instructions'] / r['dense_instructions']:.3f}",
            f"{r['dense_instructions'] / r['reference_instructions']:.3f}",
        ))  # fmt: skip
    t = report["totals"]
    widths = [max(len(x[i]) for x in [head, *rows]) for i in range(len(head))]
    right = {2, 3, 4, 5, 7, 8, 9, 10, 11}

    def fmt(row):
        return "  ".join(c.rjust(w) if i in right else c.ljust(w) for i, (c, w) in enumerate(zip(row, widths))).rstrip()

    rule = "  ".join("-" * w for w in widths)
    lines = [
        f"dtmm bench kernels on {report['board']}: dtmm_conv_s8 path '{report['path']}', kernels compiled with "
        f"{report['kernels_optimization']}" + (f", defines {' '.join(report['defines'])}" if report["defines"] else ""),
        f"unit: {report['unit']} (exact; compare ratios, not latency); input: {report['input']}",
        "sparse = dtmm_conv_s8 on the magnitude-pruned layer (auto encoding); dense = dtmm_conv_s8 on the unpruned "
        "DENSE blob; reference = dtmm_conv_s8_reference (TFLite-style loop) on the same blob; all outputs verified",
        "",
        fmt(head),
        rule,
        *(fmt(r) for r in rows),
        rule,
        f"conv stack ({len({r['layer'] for r in report['rows']})} layers, {t['macs']:,} MACs), dense mode: "
        f"{t['dense_instructions']:,} instructions vs reference {t['reference_instructions']:,} "
        f"(dense/ref {t['dense_instructions'] / t['reference_instructions']:.3f}, "
        f"{t['dense_instructions'] / t['macs']:.2f} instructions per MAC)",
    ]
    for d, n in t["sparse_instructions"].items():
        lines.append(
            f"  density {float(d):.2f}: sparse {n:,} instructions, sparse/dense {n / t['dense_instructions']:.3f}"
        )
    return "\n".join(lines)
