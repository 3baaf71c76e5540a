"""`dtmm bench models`: whole models on a board, instructions per inference and per operator.

The models are the kinds of TinyML workloads MCUs run (shaped like the MLPerf
Tiny benchmarks), so a kernel that is fast on one model but slow on the others
shows:

* ``resnet8``, ``resnet8_f50``, ``resnet8_f25`` -- MLPerf Tiny ResNet-8 (the shared
  int8 .tflite) dense, and with 50% / 25% of its 3x3 filterlets kept (smallest-L1
  filterlets zeroed, :func:`dtmm.prune.magnitude.prune_filterlets`);
* ``ds_cnn`` -- keyword spotting: 49x10x1 input, a 10x4 stride-2 conv with 64
  filters, four depthwise-separable blocks of 64 channels, average pool, FC 12;
* ``mobilenet_v1_025`` -- visual wake words shape: MobileNetV1 alpha 0.25 at 96x96x3, 2 classes;
* ``fc_autoencoder`` -- anomaly detection: 640 -> 128 x4 -> 8 -> 128 x4 -> 640.

Besides these, ``--models conv_shapes`` (or any of its names) runs single-CONV_2D
models of the shapes whose fast paths were added last and are easiest to get
wrong: tall and wide kernels (10x4, 1x7, 7x1, 5x5, 7x7), one- to four-channel
inputs, and 1x1 at strides 1-3 on maps down to 3x3 (:data:`CONV_SHAPES`);
with a baseline, each is compared per operator with another runtime on the
same shape and core.

The built models are made with Keras and the TFLite converter (full-integer
int8, int8 input and output) from seeded random weights: instruction counts
do not depend on what the weights learned.  Built models are cached by name,
seed and builder version.  Every run is checked bit for bit against the
tflite-micro interpreter; a mismatch is an error, not a table.

Numbers are exact QEMU-retired instructions (docs/measurement.md), not cycles;
with ``--cycles`` each run is also traced and priced with the core's timing
table, which adds *estimated* cycles beside them (dtmm.targets.cycles).
A baseline file (``--baseline``, JSON: ``{"models": {NAME: {"instructions_per_inference": N,
"per_op": {"op00_CONV_2D": N, ...}}}}``, ``per_op`` optional, e.g. measured with a stock
TFLM + CMSIS-NN build of your own) is shown beside ours with the ratio, and
every operator that needs more instructions than the baseline's is listed.
``--baseline stock`` uses the stock TFLM + CMSIS-NN measurements that ship in
``dtmm/bench/baselines/`` (qemu-m4 and qemu-m55; how they were made: the README there).
"""
from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from ..errors import DtmmError
from ..fileio import write_bytes_atomic
from ..paths import REPO_ROOT
from ..tflite.model import TfliteModel, op_macs
from .kernels import MODEL_RELPATH, default_shared_dir

#: bump when a builder changes what it produces (invalidates the cache)
BUILDER_VERSION = 1
#: every benchmark model, in table order
MODEL_NAMES = ("resnet8", "resnet8_f50", "resnet8_f25", "ds_cnn", "mobilenet_v1_025", "fc_autoencoder")
DESCRIPTIONS = {
    "resnet8": "MLPerf Tiny ResNet-8 (shared .tflite), dense",
    "resnet8_f50": "ResNet-8, 50% of 3x3 filterlets kept (magnitude)",
    "resnet8_f25": "ResNet-8, 25% of 3x3 filterlets kept (magnitude)",
    "ds_cnn": "DS-CNN keyword spotting, 49x10x1, random weights",
    "mobilenet_v1_025": "MobileNetV1-0.25, 96x96x3, random weights",
    "fc_autoencoder": "FC autoencoder 640-128x4-8-128x4-640, random weights",
}
DEFAULT_INPUTS = 2  # random inputs per model: outputs checked on each, instructions min..max


@dataclass
class BenchModel:
    name: str
    description: str
    data: bytes  # the int8 .tflite

    @property
    def macs(self) -> int:
        model = TfliteModel(self.data, self.name)
        return sum(op_macs(model, op) for op in model.operators)


# ---- Keras builders (random weights) ---------------------------------------------------------------
def _conv_bn_relu(layers, x, filters, kernel, strides=1):
    x = layers.Conv2D(filters, kernel, strides=strides, padding="same", use_bias=False)(x)
    x = layers.BatchNormalization()(x)
    return layers.ReLU()(x)


def _dw_bn_relu(layers, x, strides=1):
    x = layers.DepthwiseConv2D(3, strides=strides, padding="same", use_bias=False)(x)
    x = layers.BatchNormalization()(x)
    return layers.ReLU()(x)


def build_ds_cnn():
    """DS-CNN as in MLPerf Tiny keyword spotting (without dropout, which inference drops anyway)."""
    import keras
    from keras import layers

    inp = keras.Input((49, 10, 1))
    x = _conv_bn_relu(layers, inp, 64, (10, 4), strides=2)
    for _ in range(4):
        x = _dw_bn_relu(layers, x)
        x = _conv_bn_relu(layers, x, 64, 1)
    x = layers.AveragePooling2D(pool_size=tuple(x.shape[1:3]))(x)
    x = layers.Flatten()(x)
    x = layers.Dense(12)(x)
    return keras.Model(inp, layers.Softmax()(x), name="ds_cnn")


def build_mobilenet_v1_025():
    """MobileNetV1, width multiplier 0.25, 96x96x3 input, 2 classes (the visual wake words shape)."""
    import keras
    from keras import layers

    def block(x, filters, strides):
        x = _dw_bn_relu(layers, x, strides)
        return _conv_bn_relu(layers, x, filters, 1)

    alpha = 0.25
    inp = keras.Input((96, 96, 3))
    x = _conv_bn_relu(layers, inp, int(32 * alpha), 3, strides=2)
    plan = [(64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2)] + [(512, 1)] * 5 + [(1024, 2), (1024, 1)]
    for filters, strides in plan:
        x = block(x, int(filters * alpha), strides)
    x = layers.GlobalAveragePooling2D()(x)
    x = layers.Dense(2)(x)
    return keras.Model(inp, layers.Softmax()(x), name="mobilenet_v1_025")


def build_fc_autoencoder():
    """The MLPerf Tiny anomaly-detection autoencoder: 640 -> 128 x4 -> 8 -> 128 x4 -> 640."""
    import keras
    from keras import layers

    inp = keras.Input((640,))
    x = inp
    for units in (128, 128, 128, 128, 8, 128, 128, 128, 128):
        x = layers.Dense(units)(x)
        x = layers.BatchNormalization()(x)
        x = layers.ReLU()(x)
    return keras.Model(inp, layers.Dense(640)(x), name="fc_autoencoder")


@dataclass(frozen=True)
class ConvShape:
    """One CONV_2D layer of the conv-shape suite: input H x W x Cin, Cout filters of kh x kw."""

    name: str
    input_hwc: tuple[int, int, int]
    filters: int
    kernel: tuple[int, int]
    strides: int = 1
    padding: str = "same"

    @property
    def description(self) -> str:
        h, w, c = self.input_hwc
        return (f"CONV_2D {self.kernel[0]}x{self.kernel[1]} stride {self.strides} {self.padding}, "
                f"{h}x{w}x{c} -> {self.filters} filters, random weights")  # fmt: skip

    def build(self):
        import keras
        from keras import layers

        inp = keras.Input(self.input_hwc)
        x = layers.Conv2D(self.filters, self.kernel, strides=self.strides, padding=self.padding)(inp)
        return keras.Model(inp, layers.ReLU()(x), name=self.name)


#: the conv-shape suite (``--models conv_shapes``): kernels taller or wider than 3x3, few input
#: channels, and 1x1 at any stride, including maps whose pixel count is not a multiple of 4
CONV_SHAPES = (
    ConvShape("conv_10x4_s2_c1", (49, 10, 1), 64, (10, 4), 2),
    ConvShape("conv_1x7_c16", (24, 24, 16), 16, (1, 7)),
    ConvShape("conv_7x1_c16", (24, 24, 16), 16, (7, 1)),
    ConvShape("conv_5x5_c8", (24, 24, 8), 16, (5, 5)),
    ConvShape("conv_7x7_s2_c3", (64, 64, 3), 16, (7, 7), 2),
    ConvShape("conv_3x3_c1", (32, 32, 1), 16, (3, 3)),
    ConvShape("conv_3x3_c2", (32, 32, 2), 16, (3, 3)),
    ConvShape("conv_3x3_s2_c3", (96, 96, 3), 8, (3, 3), 2),
    ConvShape("conv_3x3_c4", (24, 24, 4), 16, (3, 3)),
    ConvShape("conv_1x1_c64", (25, 5, 64), 64, (1, 1)),
    ConvShape("conv_1x1_s2_c32", (16, 16, 32), 64, (1, 1), 2, "valid"),
    ConvShape("conv_1x1_s3_c16", (15, 15, 16), 32, (1, 1), 3, "valid"),
    ConvShape("conv_1x1_map3x3_c64", (3, 3, 64), 64, (1, 1)),
    ConvShape("conv_1x1_map7x7_c24", (7, 7, 24), 40, (1, 1)),
)
SHAPE_NAMES = tuple(c.name for c in CONV_SHAPES)
#: a --models entry that stands for every conv shape
CONV_SHAPES_SUITE = "conv_shapes"

BUILDERS: dict[str, Callable] = {
    "ds_cnn": build_ds_cnn,
    "mobilenet_v1_025": build_mobilenet_v1_025,
    "fc_autoencoder": build_fc_autoencoder,
    **{c.name: c.build for c in CONV_SHAPES},
}
DESCRIPTIONS.update({c.name: c.description for c in CONV_SHAPES})


def expand_model_names(names: Sequence[str]) -> list[str]:
    """`names` with the suite name conv_shapes replaced by its models, each once, in order."""
    out: list[str] = []
    for name in names:
        for n in SHAPE_NAMES if name == CONV_SHAPES_SUITE else (name,):
            if n not in out:
                out.append(n)
    return out


def _randomize_batchnorm(model, rng: np.random.Generator) -> None:
    """Random BatchNorm statistics, so the folded weights and scales look like a trained model's."""
    for layer in model.layers:
        if layer.__class__.__name__ == "BatchNormalization":
            gamma, beta, mean, var = (np.asarray(w) for w in layer.get_weights())
            layer.set_weights([
                rng.uniform(0.5, 1.5, gamma.shape).astype(np.float32),
                rng.normal(0.0, 0.1, beta.shape).astype(np.float32),
                rng.normal(0.0, 0.1, mean.shape).astype(np.float32),
                rng.uniform(0.5, 1.5, var.shape).astype(np.float32),
            ])  # fmt: skip


def keras_int8(name: str, seed: int) -> bytes:
    """Builds model `name` with seeded random weights and converts it to a full-integer int8 .tflite."""
    import keras

    from ..prune.export import to_int8_tflite

    keras.utils.set_random_seed(seed)
    model = BUILDERS[name]()
    rng = np.random.default_rng(seed)
    _randomize_batchnorm(model, rng)
    shape = tuple(model.inputs[0].shape[1:])
    x_rep = rng.normal(0.0, 1.0, size=(32, *shape)).astype(np.float32)
    return to_int8_tflite(model, x_rep, preprocess_mode="raw")


def _cache_key(name: str, seed: int) -> str:
    import tensorflow as tf

    text = f"{name}\0{seed}\0{BUILDER_VERSION}\0{tf.__version__}"
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def default_cache_dir() -> Path:
    """Where built benchmark models are cached ($DTMM_BENCH_MODELS_CACHE, else .pio/dtmm-bench-models)."""
    return Path(os.environ.get("DTMM_BENCH_MODELS_CACHE", REPO_ROOT / ".pio" / "dtmm-bench-models"))


def load_models(names: Sequence[str], *, model_path=None, seed: int = 0, cache_dir=None,
                progress: Callable[[str], None] | None = None) -> list[BenchModel]:  # fmt: skip
    """The benchmark models by name: ResNet-8 variants from the shared .tflite, the rest built (cached)."""
    from ..prune.magnitude import prune_filterlets

    say = progress or (lambda msg: None)
    names = expand_model_names(names)
    unknown = [n for n in names if n not in DESCRIPTIONS]
    if unknown:
        raise DtmmError(f"unknown benchmark model(s) {', '.join(unknown)} "
                        f"(choose from {', '.join(MODEL_NAMES)}, {CONV_SHAPES_SUITE} or {', '.join(SHAPE_NAMES)})")
    cache = Path(cache_dir) if cache_dir else default_cache_dir()
    out = []
    resnet = None
    for name in names:
        if name.startswith("resnet8"):
            if resnet is None:
                path = Path(model_path) if model_path else default_shared_dir() / MODEL_RELPATH
                if not path.is_file():
                    raise DtmmError(f"ResNet-8 model not found at {path} (pass --model, or leave out the resnet8 models)")
                resnet = path.read_bytes()
            kept = {"resnet8": 1.0, "resnet8_f50": 0.5, "resnet8_f25": 0.25}[name]
            data = resnet if kept == 1.0 else prune_filterlets(resnet, 1.0 - kept)
        else:
            file = cache / f"{name}-{_cache_key(name, seed)}.tflite"
            if file.is_file():
                data = file.read_bytes()
            else:
                say(f"building {name} with Keras and the TFLite converter (seed {seed}) ...")
                data = keras_int8(name, seed)
                cache.mkdir(parents=True, exist_ok=True)
                write_bytes_atomic(file, data)
        out.append(BenchModel(name, DESCRIPTIONS[name], data))
    return out


# ---- measuring ---------------------------------------------------------------------------------------
def random_inputs(model: TfliteModel, n: int, seed: int) -> np.ndarray:
    t = model.tensors[model.inputs[0]]
    if t.dtype != "INT8":
        raise DtmmError(f"benchmark model input is {t.dtype}; only int8 inputs are benchmarked")
    return np.random.default_rng(seed).integers(-128, 128, size=(n, *t.shape[1:]), dtype=np.int8)


def _op_type(label: str) -> str:
    """'op09_CONV_2D' -> 'CONV_2D'."""
    head, _, rest = label.partition("_")
    return rest if head.startswith("op") and rest else label


def _by_type(per_op: dict) -> dict:
    """{'op09_CONV_2D': n, ...} summed per operator type, largest first."""
    by_type: dict[str, int] = {}
    for label, count in per_op.items():
        by_type[_op_type(label)] = by_type.get(_op_type(label), 0) + int(count)
    return dict(sorted(by_type.items(), key=lambda kv: -kv[1]))


def measure_model(bm: BenchModel, board: str, *, n_inputs: int = DEFAULT_INPUTS, seed: int = 0,
                  profile: bool = True, timeout: float = 600.0, cycles: bool = False,
                  progress: Callable[[str], None] | None = None) -> dict:  # fmt: skip
    """Runs one model on `board` (and once more with per-operator profiling); checks every output.

    With ``cycles`` both runs are traced for estimated cycles (per inference and per operator)."""
    from ..targets.model_runner import run_model
    from ..tflite.interpreter import tflm_outputs

    model = TfliteModel(bm.data, f"{bm.name}.tflite")
    xs = random_inputs(model, n_inputs, seed)
    golden = tflm_outputs(bm.data, xs)
    run = run_model(model, board, xs, name=bm.name, timeout=timeout, progress=progress, cycles=cycles)
    for i, (got, want) in enumerate(zip(run.outputs, golden)):
        if not np.array_equal(np.asarray(got).reshape(-1), np.asarray(want).reshape(-1)):
            raise DtmmError(f"{bm.name} on {board}: output of input {i} differs from the tflite-micro interpreter")
    macs = bm.macs
    entry = {
        "model": bm.name,
        "description": bm.description,
        "macs": macs,
        "instructions_per_inference": int(min(run.instructions)),
        "instructions_range": [int(min(run.instructions)), int(max(run.instructions))],
        "instructions_per_mac": round(min(run.instructions) / macs, 4) if macs else None,
        "arena_bytes": run.arena_bytes,
        "weights_flash_bytes": run.flash_bytes,
        "conv_path": run.conv_path,
        "bit_exact_inputs": len(golden),
    }
    if cycles:
        est = run.estimated_cycles
        entry["estimated_cycles_per_inference"] = int(est[run.instructions.index(min(run.instructions))])
        entry["estimated_cycles_range"] = [int(min(est)), int(max(est))]
    if run.elf is not None:  # .text of the firmware and lib/dtmm_kernels' share of it (dtmm.targets.codesize)
        from ..targets.codesize import firmware_code_size

        entry.update(firmware_code_size(run.elf))
    if profile:
        prof = run_model(model, board, xs[:1], name=bm.name, timeout=timeout, profile=True, progress=progress,
                         cycles=cycles)
        per_op = prof.profile[0]
        entry["per_op"] = {label: int(count) for label, count in per_op.items()}
        entry["per_op_type"] = _by_type(per_op)
        if cycles:
            entry["per_op_estimated_cycles"] = {k: int(v) for k, v in prof.profile_estimated_cycles[0].items()}
            entry["per_op_type_estimated_cycles"] = _by_type(prof.profile_estimated_cycles[0])
    return entry


#: measured baselines shipped with the package: ``--baseline stock`` on a board picks its file
BASELINES_DIR = Path(__file__).resolve().parent / "baselines"
STOCK_BASELINE = "stock"


def stock_baseline_path(board: str) -> Path:
    """The shipped stock TFLM + CMSIS-NN measurement for `board` (baselines/README.md says how it was made)."""
    path = BASELINES_DIR / f"stock-tflm-cmsis-nn-{board}.json"
    if not path.is_file():
        have = sorted(p.stem.removeprefix("stock-tflm-cmsis-nn-") for p in BASELINES_DIR.glob("stock-tflm-*.json"))
        raise DtmmError(f"no stock TFLM + CMSIS-NN baseline ships for {board} (boards with one: {', '.join(have)})")
    return path


def load_baseline(path) -> dict:
    """{model name: {"instructions": per inference, "per_op": {label: instructions}}} from a baseline
    JSON file (per_op empty when the file has none)."""
    try:
        data = json.loads(Path(path).read_text())
    except OSError as exc:
        raise DtmmError(f"cannot read baseline {path}: {exc.strerror or exc}") from None
    except ValueError as exc:
        raise DtmmError(f"baseline {path} is not JSON: {exc}") from None
    models = data.get("models") if isinstance(data, dict) else None
    if not isinstance(models, dict):
        raise DtmmError(f"baseline {path} has no 'models' object")
    out = {}
    for name, entry in models.items():
        n = entry.get("instructions_per_inference") if isinstance(entry, dict) else None
        if not isinstance(n, int) or n <= 0:
            raise DtmmError(f"baseline {path}: model {name} has no positive integer instructions_per_inference")
        per_op = entry.get("per_op", {})
        if not isinstance(per_op, dict) or not all(isinstance(v, int) and v >= 0 for v in per_op.values()):
            raise DtmmError(f"baseline {path}: model {name} has a per_op that is not {{label: instructions}}")
        out[name] = {"instructions": n, "per_op": per_op}
    return out


def ops_above_baseline(per_op: dict, base_per_op: dict) -> dict[str, float]:
    """{label: ours / baseline} of the operators (same opNN_NAME label) that need more instructions
    than the baseline's; a label missing on either side is not compared."""
    return {label: round(n / base_per_op[label], 3) for label, n in per_op.items()
            if base_per_op.get(label) and n > base_per_op[label]}  # fmt: skip


def run_models_bench(board: str, names: Sequence[str] = MODEL_NAMES, *, model_path=None, seed: int = 0,
                     n_inputs: int = DEFAULT_INPUTS, profile: bool = True, baseline=None, cache_dir=None,
                     timeout: float = 600.0, cycles: bool = False,
                     progress: Callable[[str], None] | None = None) -> dict:  # fmt: skip
    """Every model in `names` on `board`; the JSON-ready report."""
    from ..targets.boards import get_board
    from ..targets.timing import timing_for

    b = get_board(board)
    if not b.emulated:
        raise DtmmError(f"board '{board}' is real hardware; the benchmark runs on emulated boards (qemu-*)")
    if baseline is not None and str(baseline) == STOCK_BASELINE:
        baseline = stock_baseline_path(board)
    base = load_baseline(baseline) if baseline else {}
    models = load_models(names, model_path=model_path, seed=seed, cache_dir=cache_dir, progress=progress)
    models, not_run = _models_that_fit(models, b, n_inputs)
    if not models:
        raise DtmmError(f"no benchmark model fits {board}: " + "; ".join(f"{n['model']}: {n['reason']}" for n in not_run))
    rows = []
    for bm in models:
        if progress:
            progress(f"{bm.name} on {board}")
        entry = measure_model(bm, board, n_inputs=n_inputs, seed=seed, profile=profile, timeout=timeout, cycles=cycles,
                              progress=progress if cycles else None)
        if bm.name in base:
            ref = base[bm.name]
            entry["baseline_instructions"] = ref["instructions"]
            entry["ratio_to_baseline"] = round(entry["instructions_per_inference"] / ref["instructions"], 3)
            if ref["per_op"] and entry.get("per_op"):
                entry["baseline_per_op"] = ref["per_op"]
                entry["ops_above_baseline"] = ops_above_baseline(entry["per_op"], ref["per_op"])
        rows.append(entry)
    return {
        "board": board,
        "unit": "QEMU-retired instructions (not cycles)",
        "seed": seed,
        "estimated_cycles_source": timing_for(b.cpu).source if cycles else None,
        "baseline": str(baseline) if baseline else None,
        "models": rows,
        "not_run": not_run,
    }


def _models_that_fit(models, board, n_inputs: int) -> tuple[list, list[dict]]:
    """The models that fit `board` and [{"model", "reason"}] for the others (the 16 KiB qemu-m0 runs few)."""
    from ..pack.packer import pack_model
    from ..targets.model_runner import check_fit

    fit, not_run = [], []
    for bm in models:
        try:
            check_fit(pack_model(TfliteModel(bm.data, f"{bm.name}.tflite"), bm.name), n_inputs, board)
        except DtmmError as exc:
            not_run.append({"model": bm.name, "reason": str(exc)})
            continue
        fit.append(bm)
    return fit, not_run


def render_table(report: dict) -> str:
    has_base = any("baseline_instructions" in r for r in report["models"])
    has_cycles = any("estimated_cycles_per_inference" in r for r in report["models"])
    head = ["model", "MACs", "instructions", "instr/MAC", "arena B", "weights B", "text B", "kernels B"]
    if has_cycles:
        head += ["est. cycles", "est. cycles/instr"]
    if has_base:
        head += ["baseline", "ours/baseline"]
    rows = []
    for r in report["models"]:
        row = [r["model"], f"{r['macs']:,}", f"{r['instructions_per_inference']:,}",
               f"{r['instructions_per_mac']:.3f}" if r["instructions_per_mac"] else "-",
               f"{r['arena_bytes']:,}", f"{r['weights_flash_bytes']:,}",
               f"{r['firmware_text_bytes']:,}" if "firmware_text_bytes" in r else "-",
               f"{r['kernel_text_bytes']:,}" if "kernel_text_bytes" in r else "-"]  # fmt: skip
        if has_cycles:
            c = r.get("estimated_cycles_per_inference")
            row += [f"{c:,}" if c else "-", f"{c / r['instructions_per_inference']:.2f}" if c else "-"]
        if has_base:
            b = r.get("baseline_instructions")
            row += [f"{b:,}" if b else "-", f"{r['ratio_to_baseline']:.3f}" if b else "-"]
        rows.append(row)
    widths = [max(len(h), *(len(row[i]) for row in rows)) for i, h in enumerate(head)]
    lines = [f"dtmm bench models on {report['board']} ({report['unit']}; outputs bit-exact with tflite-micro)", ""]
    lines.append("  ".join(h.ljust(w) if i == 0 else h.rjust(w) for i, (h, w) in enumerate(zip(head, widths))))
    for row in rows:
        lines.append("  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths))))
    for r in report["models"]:
        if r.get("per_op_type"):
            total = sum(r["per_op_type"].values()) or 1
            parts = ", ".join(f"{k} {v:,} ({100 * v / total:.0f}%)" for k, v in r["per_op_type"].items())
            lines.append(f"  {r['model']} per op type (profiled run): {parts}")
        if r.get("per_op_type_estimated_cycles"):
            total = sum(r["per_op_type_estimated_cycles"].values()) or 1
            parts = ", ".join(f"{k} {v:,} ({100 * v / total:.0f}%)" for k, v in r["per_op_type_estimated_cycles"].items())
            lines.append(f"  {r['model']} per op type, estimated cycles (profiled run): {parts}")
    for r in report["models"]:
        if "ops_above_baseline" in r:
            above = r["ops_above_baseline"]
            parts = ", ".join(f"{k} x{v:.3f}" for k, v in above.items()) or "none"
            lines.append(f"  {r['model']} operators above the baseline's instructions: {parts}")
    if report.get("estimated_cycles_source"):
        lines.append(f"est. cycles: an estimate from an instruction trace and {report['estimated_cycles_source']} "
                     "(docs/measurement.md); instructions are exact")
    if report.get("baseline"):
        lines.append(f"baseline: {report['baseline']}")
    for n in report.get("not_run", []):
        lines.append(f"not run: {n['model']}: {n['reason']}")
    return "\n".join(lines)
