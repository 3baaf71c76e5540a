"""`dtmm bench groups`: retired instructions of channel-group pruned 1x1 and fully connected layers.

For each layer shape (keyword-spotting pointwise convs, MobileNet pointwise
convs, autoencoder / classifier fully connected layers) and each group size
and density, the firmware app/bench_kernels measures under QEMU (exact
counts, docs/measurement.md):

* groups: dtmm_conv_s8 on the layer pruned by channel groups (the
  lowest-L1 groups of the layer removed, exactly round(density * units)
  kept) and packed as the packer packs it (GROUPS, input offset folded);
* dense: dtmm_conv_s8 on the unpruned layer as a DENSE blob;
* fc: for fully connected shapes also dtmm_fully_connected_s8 on the
  unpruned layer, the kernel a dense FULLY_CONNECTED runs.

The ratio compares with the faster dense run (issue 15's target: groups /
dense <= density + 0.10).  Weights and inputs are seeded random int8 (the
instruction counts depend on shapes, densities and requantization, not on
trained values); every output is checked against the numpy golden model.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from ..errors import DtmmError
from ..formats import fwcs
from ..formats.fwcs import reference
from ..pack.lowering.conv_scratch import conv_scratch_bytes
from ..pack.lowering.ops import groups_blob
from ..pack.lowering.quant import conv_multipliers, fold_input_offset
from ..paths import REPO_ROOT
from ..targets.boards import get_board
from .kernels import DEFAULT_KERNELS_OPTIMIZATION, BenchLayer, BenchRun, output_hash, measure_layers


@dataclass(frozen=True)
class GroupShape:
    name: str
    cin: int
    cout: int
    h: int  # output pixels h x w (1 x 1: fully connected)
    w: int

    @property
    def fully_connected(self) -> bool:
        return self.h == 1 and self.w == 1


#: the shapes where TinyML models spend their 1x1 / FC MACs
SHAPES = {
    s.name: s
    for s in (
        GroupShape("dscnn_pw64", 64, 64, 25, 5),  # DS-CNN (keyword spotting) pointwise conv
        GroupShape("mbnet_pw128", 128, 128, 6, 6),  # MobileNet-style pointwise conv, late layer
        GroupShape("mbnet_pw32", 32, 64, 12, 12),  # MobileNet-style pointwise conv, early layer
        GroupShape("fc256", 256, 128, 1, 1),  # classifier / autoencoder fully connected
        GroupShape("fc128", 128, 128, 1, 1),  # autoencoder (MLPerf Tiny AD) hidden layer
    )
}
DEFAULT_DENSITIES = (1.0, 0.75, 0.5, 0.25)
DEFAULT_GROUPS = (4, 16)


def _tag(d: float) -> str:
    return f"d{int(round(d * 100)):03d}"


def group_magnitude_prune(weights: np.ndarray, group: int, density: float) -> np.ndarray:
    """The weights with the lowest-L1 channel groups zeroed, exactly round(density * units) kept
    (ties broken by position, so the result is deterministic)."""
    cout = weights.shape[0]
    units = np.abs(weights.astype(np.int64)).reshape(cout, -1, group).sum(axis=2).reshape(-1)
    n_keep = int(round(density * units.size))
    order = np.lexsort((np.arange(units.size), -units))  # largest first, then by index
    keep = np.zeros(units.size, dtype=bool)
    keep[order[:n_keep]] = True
    out = weights.copy()
    out.reshape(cout, -1, group)[~keep.reshape(cout, -1)] = 0
    return out


def _layer(shape: GroupShape, groups: Sequence[int], densities: Sequence[float], seed: int):
    rng = np.random.default_rng(seed)
    spec = fwcs.ConvSpec(cout=shape.cout, cin=shape.cin, kh=1, kw=1, in_h=shape.h, in_w=shape.w,
                         input_offset=128, output_offset=-3, act_min=-3, act_max=127)  # ReLU, zp -128 input
    w = np.clip(np.round(rng.normal(scale=40.0, size=spec.weight_shape)), -127, 127).astype(np.int8)
    bias = rng.integers(-(2**12), 2**12, size=shape.cout).astype(np.int32)
    scales = rng.uniform(0.5, 2.0, size=shape.cout) * 0.02
    mult, shift = conv_multipliers(0.05, scales, 0.05 * 40 * np.sqrt(shape.cin), shape.cout)
    x = rng.integers(-128, 128, size=(shape.h, shape.w, shape.cin), dtype=np.int8)
    n_out = shape.h * shape.w * shape.cout

    def run(name, kind, blob):
        return BenchRun(name, kind, blob, shape.name, output_hash(reference.conv2d(blob, x[None])[0]), n_out)

    dense_blob = fwcs.encode(w, bias, mult, shift, spec, "dense")
    runs = [run(f"{shape.name}.dense", "dense", dense_blob)]
    if shape.fully_connected:
        folded = fold_input_offset(bias, w, spec.input_offset)
        fc = {"weights": w.reshape(shape.cout, -1), "bias": folded.astype("<i4"), "multiplier": mult.astype("<i4"),
              "shift": shift.astype("<i4"), "batches": 1, "in_features": shape.cin, "out_features": shape.cout,
              "per_channel": 1, "output_offset": spec.output_offset, "act_min": spec.act_min,
              "act_max": spec.act_max}  # fmt: skip
        runs.append(BenchRun(f"{shape.name}.fc", "fc", b"", shape.name, runs[0].output_hash, n_out, fc))
    info = []
    for g in groups:
        if shape.cin % g:
            continue
        for d in densities:
            wp = group_magnitude_prune(w, g, d)
            blob = groups_blob(wp, bias, mult, shift, spec, group=g)  # as the packer writes it, any density
            name = f"{shape.name}.g{g}.{_tag(d)}"
            runs.append(run(name, "sparse", blob))
            info.append((g, d, name, fwcs.validate(blob).n_kept, len(blob)))
    return BenchLayer(shape.name, spec, x, runs, []), info, len(dense_blob)


def run_group_bench(
    board: str,
    shapes: Sequence[str] = tuple(SHAPES),
    groups: Sequence[int] = DEFAULT_GROUPS,
    densities: Sequence[float] = DEFAULT_DENSITIES,
    build_dir=None,
    kernels_optimization: str = DEFAULT_KERNELS_OPTIMIZATION,
    timeout: float = 900.0,
    progress: Callable[[str, int, int], None] | None = None,
    seed: int = 0,
) -> dict:
    """Build, run and verify; returns the JSON-ready report."""
    b = get_board(board)
    if not b.emulated:
        raise DtmmError(f"board '{board}' is real hardware; the benchmark runs on emulated boards (qemu-*)")
    unknown = [s for s in shapes if s not in SHAPES]
    if unknown:
        raise DtmmError(f"unknown layer shape {unknown[0]!r} (choose from {', '.join(SHAPES)})")
    densities = sorted({float(d) for d in densities}, reverse=True)
    if not densities or any(not 0.0 < d <= 1.0 for d in densities):
        raise DtmmError("densities must be in (0, 1]")
    if not groups or any(not 1 <= g <= fwcs.GROUP_MAX for g in groups):
        raise DtmmError(f"group sizes must be in [1, {fwcs.GROUP_MAX}] channels")
    say = progress or (lambda msg, done, total: None)
    say("preparing layers and golden outputs", 0, 3)
    layers, infos, dense_bytes = [], {}, {}
    for k, name in enumerate(shapes):
        layer, info, nbytes = _layer(SHAPES[name], groups, densities, seed + k)
        layers.append(layer)
        infos[name], dense_bytes[name] = info, nbytes
    scratch = max(conv_scratch_bytes(r.blob) for x in layers for r in x.runs if r.blob)
    ram = scratch + max(x.input.size for x in layers) + max(r.output_len for x in layers for r in x.runs)
    if ram + b.stack_bytes > b.ram_bytes:
        raise DtmmError(f"the group benchmark needs about {ram + b.stack_bytes} bytes of RAM (scratch {scratch}, "
                        f"the largest input and output, stack), {board} has {b.ram_bytes}; pass smaller --layers")
    work = Path(build_dir) if build_dir else REPO_ROOT / ".pio" / "dtmm-bench-groups" / board
    counts, paths = measure_layers(layers, board, work, [f"BENCH_SCRATCH_BYTES={max(16, scratch)}u"],
                                   kernels_optimization, timeout, say)
    rows = []
    for layer in layers:
        shape = SHAPES[layer.name]
        dense = counts[f"{layer.name}.dense"]
        fc = counts.get(f"{layer.name}.fc")
        best = min(dense, fc) if fc else dense
        for g, d, run_name, kept, nbytes in infos[layer.name]:
            n = counts[run_name]
            rows.append({
                "layer": layer.name, "kind": "fully_connected" if shape.fully_connected else "1x1",
                "cin": shape.cin, "cout": shape.cout, "pixels": shape.h * shape.w, "group": g, "density": d,
                "kept_groups": kept, "groups": shape.cout * shape.cin // g,
                "bytes": nbytes, "dense_bytes": dense_bytes[layer.name],
                "instructions": n, "dense_instructions": dense, "fc_dense_instructions": fc,
                "ratio": n / best, "target": d + 0.10, "meets_target": n / best <= d + 0.10,
            })  # fmt: skip
    return {
        "board": board,
        "path": ",".join(sorted(paths)) or "?",
        "unit": "QEMU-retired instructions",
        "kernels_optimization": kernels_optimization,
        "densities": densities,
        "groups": list(groups),
        "rows": rows,
    }


def render_group_table(report: dict) -> str:
    head = ("layer", "cin", "cout", "pixels", "group", "density", "bytes", "groups", "dense", "fc dense", "ratio",
            "target")  # fmt: skip
    lines = [head]
    for r in report["rows"]:
        fc = f"{r['fc_dense_instructions']:,}" if r["fc_dense_instructions"] else "-"
        mark = "" if r["meets_target"] else " (over)"
        lines.append((r["layer"], str(r["cin"]), str(r["cout"]), str(r["pixels"]), str(r["group"]),
                      f"{r['density']:.2f}", f"{r['bytes']:,}/{r['dense_bytes']:,}", f"{r['instructions']:,}",
                      f"{r['dense_instructions']:,}", fc, f"{r['ratio']:.3f}", f"<= {r['target']:.2f}{mark}"))
    widths = [max(len(row[i]) for row in lines) for i in range(len(head))]
    out = [f"channel groups on {report['board']} (path {report['path']}), {report['unit']}; ratio = groups / "
           "the faster dense run (conv DENSE blob, or dtmm_fully_connected_s8 for fully connected layers)"]
    for k, row in enumerate(lines):
        out.append("  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths))))
        if k == 0:
            out.append("  ".join("-" * w for w in widths))
    return "\n".join(out)
