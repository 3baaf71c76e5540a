"""`dtmm bench tflm`: one model through stock TFLM, TFLM + DTMM_CONV_2D and `dtmm pack`'s runtime.

Per board, the same inputs through
  tflm-reference          stock TFLM, reference kernels, the model as given
  tflm-cmsis_nn           stock TFLM, CMSIS-NN kernels (when the TFLM tree has them)
  tflm-reference+dtmm     the `dtmm convert`ed model: DTMM_CONV_2D for the converted convs, reference kernels else
  tflm-cmsis_nn+dtmm      the same with CMSIS-NN kernels for every other op
  dtmm-pack               `dtmm pack`'s runtime (run-model) on the model as given
each with QEMU-retired instructions per inference (not cycles; the smaller of the inputs' counts), the arena
and whether every output equals the tflite-micro Python interpreter's on the model as given.
"""
from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Callable

import numpy as np

from ..errors import DtmmError
from ..formats import fwcs
from ..tflite.interpreter import tflm_outputs
from ..tflite.model import TfliteModel
from ..tflm.firmware import KERNELS, TFLM_BOARDS, check_tflm_dir, run_app
from ..tflm.rewrite import convert_model

DOWNLOADS = Path("tensorflow") / "lite" / "micro" / "tools" / "make" / "downloads"


def kernel_sets(tflm_dir: Path) -> list[str]:
    """TFLM kernel sets this tree can build: reference always, cmsis_nn when its downloads are there."""
    have = ["reference"]
    if (tflm_dir / DOWNLOADS / "cmsis_nn" / "Include").is_dir() and (tflm_dir / DOWNLOADS / "cmsis").is_dir():
        have.append("cmsis_nn")
    return [k for k in KERNELS if k in have]


def _exact(outputs, want) -> bool:
    return all(np.array_equal(np.asarray(g).reshape(-1), np.asarray(w).reshape(-1)) for g, w in zip(outputs, want))


def run_tflm_bench(model_path: Path, boards: list[str], tflm_dir, n_inputs: int = 2, seed: int = 0,
                   convert_all: bool = False, timeout: float = 900.0,
                   progress: Callable[[str], None] | None = None) -> dict:  # fmt: skip
    say = progress or (lambda m: None)
    for b in boards:
        if b not in TFLM_BOARDS:
            raise DtmmError(f"board {b}: the TFLM app has environments for {', '.join(TFLM_BOARDS)}")
    tflm = check_tflm_dir(tflm_dir)
    model = TfliteModel.load(model_path)
    if any(op.opcode == "CUSTOM:" + fwcs.CUSTOM_OP for op in model.operators):
        raise DtmmError(f"{model_path} is already converted; give the model before `dtmm convert` "
                        "(its outputs are checked against the tflite-micro interpreter)")  # fmt: skip
    x_t = model.tensors[model.inputs[0]]
    if x_t.dtype != "INT8":
        raise DtmmError(f"{model_path}: input is {x_t.dtype}; the TFLM app runs int8 models")
    inputs = np.random.default_rng(seed).integers(-128, 128, size=(n_inputs, *x_t.shape), dtype=np.int8)
    want = tflm_outputs(model.data, inputs)
    conversion = convert_model(model.data, str(model_path), convert_all=convert_all)
    report = {
        "model": str(model_path), "model_bytes": conversion.input_bytes,
        "converted_bytes": conversion.output_bytes, "converted_convs": len(conversion.converted),
        "conv_2d": len(conversion.layers), "inputs": n_inputs, "seed": seed, "tflm_dir": str(tflm),
        "unit": "QEMU-retired instructions per inference (not cycles)", "boards": {},
    }  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="dtmm-bench-tflm-") as tmp:
        converted = Path(tmp) / (Path(model_path).stem + "_dtmm.tflite")
        converted.write_bytes(conversion.data)
        for board in boards:
            rows = {}
            for kernels in kernel_sets(tflm):
                for suffix, path in (("", Path(model_path)), ("+dtmm", converted)):
                    if suffix and not conversion.converted:
                        continue
                    name = f"tflm-{kernels}{suffix}"
                    say(f"{board}: {name}")
                    run = run_app(path, inputs, board, tflm, kernels, timeout=timeout)
                    rows[name] = {"instructions_per_inference": min(run.instructions),
                                  "arena_bytes": run.arena_used_bytes, "bit_exact": _exact(run.outputs, want)}
            say(f"{board}: dtmm-pack")
            from ..targets.model_runner import run_model

            r = run_model(Path(model_path), board, inputs, timeout=timeout)
            rows["dtmm-pack"] = {"instructions_per_inference": min(r.instructions), "arena_bytes": r.arena_bytes,
                                 "bit_exact": _exact(r.outputs, want)}  # fmt: skip
            report["boards"][board] = rows
    return report


def render_tflm_table(report: dict) -> str:
    lines = [f"{report['model']}: {report['model_bytes']:,} B; converted {report['converted_convs']} of "
             f"{report['conv_2d']} CONV_2D -> {report['converted_bytes']:,} B",
             f"{report['unit']}; arena = TFLM arena_used_bytes / dtmm pack's static arena"]  # fmt: skip
    for board, rows in report["boards"].items():
        base = rows.get("tflm-cmsis_nn", rows.get("tflm-reference"))["instructions_per_inference"]
        lines.append(f"\n{board}")
        lines.append(f"  {'runtime':<22} {'instructions':>14} {'vs TFLM best stock':>19} {'arena B':>9}  bit-exact")
        for name, row in rows.items():
            n = row["instructions_per_inference"]
            lines.append(f"  {name:<22} {n:>14,} {n / base:>18.3f}x {row['arena_bytes']:>9,}  "
                         f"{'yes' if row['bit_exact'] else 'NO'}")  # fmt: skip
    return "\n".join(lines)
