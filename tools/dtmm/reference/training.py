"""Train a reference network from scratch: the documented recipe behind `dtmm train-reference`.

Recipe (docs/pruning.md, "Reference networks"): Adam with cosine decay to 0,
batch 128, L2 weight decay in the builder, random flip + 4-pixel crop
augmentation for RGB data, raw 0..255 pixels (so the int8 input is the pixel
minus 128, no scaling on the MCU), the checkpoint with the best accuracy on a
validation split carved from the training data. It reuses the pruner's data
loading, training loop (without masks) and int8 export, so a reference model
and a pruned one are trained, quantized and scored the same way.
"""
from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from .. import __version__
from ..errors import DtmmError
from ..fileio import check_writable_dir, json_default, save_atomic, write_bytes_atomic, write_text_atomic

MODEL_FILE = "model.keras"
TFLITE_FILE = "model_int8.tflite"
REPORT_JSON = "report.json"
REPORT_MD = "report.md"
PREPROCESS = "raw"


@dataclass
class ReferenceOptions:
    name: str
    data: Path
    out: Path
    epochs: int = 30
    seed: int = 0
    batch_size: int = 128
    learning_rate: float = 2e-3
    val_fraction: float = 0.1
    train_limit: int | None = None
    test_limit: int | None = None
    rep_samples: int = 300
    cache_dir: Path | None = None
    progress: bool = True


def train_reference(opts: ReferenceOptions, log: Callable[[str], None] = print) -> dict:
    """Build, train, export int8 and score the named network; writes model, int8 model and report."""
    from . import BUILDERS

    if opts.name not in BUILDERS:
        raise DtmmError(f"unknown reference network {opts.name!r} (choose {', '.join(sorted(BUILDERS))})")
    if opts.epochs < 1:
        raise DtmmError("--epochs must be at least 1")
    out = Path(opts.out)
    check_writable_dir(out)
    t0 = time.perf_counter()

    import keras

    from ..prune import data as D
    from ..prune import export as E
    from ..prune import train as T

    ds = D.load_dataset(opts.data, channels=3, cache_dir=opts.cache_dir, progress=opts.progress)
    splits = D.make_splits(ds, seed=opts.seed, val_fraction=opts.val_fraction, calib_samples=opts.rep_samples)
    x_train, y_train = D.seeded_subset(splits.x_train, splits.y_train, opts.train_limit, opts.seed)
    x_test, y_test = D.seeded_subset(splits.x_test, splits.y_test, opts.test_limit, opts.seed + 1)
    classes = len(splits.classes)
    keras.utils.set_random_seed(opts.seed)
    model = BUILDERS[opts.name](input_shape=ds.image_shape, classes=classes, seed=opts.seed)
    log(f"{opts.name}: {model.count_params():,} parameters, input {list(ds.image_shape)}, {classes} classes; "
        f"data {opts.data}: train {len(y_train)}, val {len(splits.y_val)}, test {len(y_test)}")  # fmt: skip
    augment = "flip-crop" if ds.image_shape[-1] == 3 else "none"
    res = T.fine_tune(model, {}, x_train, y_train, splits.x_val, splits.y_val, epochs=opts.epochs,
                      batch_size=opts.batch_size, learning_rate=opts.learning_rate, seed=opts.seed,
                      preprocess_mode=PREPROCESS, augment=augment, from_logits=True,
                      progress=opts.progress, log=log)  # fmt: skip
    train_s = [h["seconds"] for h in res.history if "seconds" in h]
    float_acc = T.evaluate_keras(res.model, x_test, y_test, preprocess_mode=PREPROCESS)
    tfl = E.to_int8_tflite(res.model, splits.x_calib[: opts.rep_samples], preprocess_mode=PREPROCESS)
    int8_acc = E.evaluate_tflite(tfl, x_test, y_test, preprocess_mode=PREPROCESS, progress=opts.progress)
    meas = E.measured_bytes(tfl, res.model)
    report = {
        "tool": "dtmm train-reference", "version": __version__, "network": opts.name, "data": str(opts.data),
        "parameters": int(model.count_params()), "weight_bytes_int8": int(meas["packed_bytes"]),
        "recipe": {"optimizer": "adam", "learning_rate": opts.learning_rate,
                   "schedule": "cosine decay to 0 over all epochs", "batch_size": opts.batch_size,
                   "epochs": opts.epochs, "augment": augment, "preprocess": PREPROCESS,
                   "weight_decay": "L2 in the builder", "checkpoint": "best validation accuracy"},
        "seed": opts.seed, "train_samples": int(len(y_train)), "val_samples": int(len(splits.y_val)),
        "test_samples_evaluated": int(len(y_test)),
        "best_epoch": res.best_epoch, "best_val_accuracy": res.best_val_accuracy,
        "accuracy_float": float_acc, "accuracy_int8": int8_acc, "evaluator": E.EVALUATOR,
        "seconds_per_epoch": round(float(np.mean(train_s)), 1) if train_s else None,
        "history": res.history, "outputs": {"keras": MODEL_FILE, "tflite": TFLITE_FILE},
    }  # fmt: skip
    out.mkdir(parents=True, exist_ok=True)
    save_atomic(out / MODEL_FILE, res.model.save, suffix=".keras")
    write_bytes_atomic(out / TFLITE_FILE, tfl)
    report["wall_time_s"] = round(time.perf_counter() - t0, 1)
    write_text_atomic(out / REPORT_JSON, json.dumps(report, indent=2, default=json_default) + "\n")
    write_text_atomic(out / REPORT_MD, render_markdown(report))
    log(f"test accuracy: float {float_acc:.4f}, int8 {int8_acc:.4f} ({len(y_test)} images); "
        f"{report['seconds_per_epoch']} s per epoch; wrote {out}")  # fmt: skip
    return report


def render_markdown(r: dict) -> str:
    """The human-readable twin of report.json."""
    rc = r["recipe"]
    lines = [
        f"# dtmm train-reference: {r['network']}",
        "",
        f"- data: `{r['data']}` -- train {r['train_samples']:,}, validation {r['val_samples']:,}, "
        f"test evaluated {r['test_samples_evaluated']:,}",
        f"- {r['parameters']:,} parameters; int8 weights {r['weight_bytes_int8']:,} B",
        f"- recipe: {rc['epochs']} epochs, {rc['optimizer']} lr {rc['learning_rate']} ({rc['schedule']}), "
        f"batch {rc['batch_size']}, augment {rc['augment']}, preprocess {rc['preprocess']}, seed {r['seed']}",
        f"- best validation accuracy {r['best_val_accuracy']:.4f} at epoch {r['best_epoch']}",
        f"- **test accuracy: float {r['accuracy_float']:.4f}, int8 {r['accuracy_int8']:.4f}** ({r['evaluator']})",
        f"- wall time: {r['wall_time_s']:.0f} s, {r['seconds_per_epoch']} s per training epoch",
        "",
        "| epoch | loss | train accuracy | validation accuracy | seconds |",
        "|---:|---:|---:|---:|---:|",
    ]
    for h in r["history"][1:]:
        lines.append(f"| {h['epoch']} | {h['loss']:.4f} | {h['train_accuracy']:.4f} | {h['val_accuracy']:.4f} "
                     f"| {h['seconds']:.0f} |")  # fmt: skip
    return "\n".join(lines) + "\n"
