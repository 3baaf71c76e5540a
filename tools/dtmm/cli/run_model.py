"""`dtmm run-model`: pack a model, build the runner firmware, run it under QEMU on given inputs."""
from __future__ import annotations

import json
from pathlib import Path

import click

from ..prune.data import PREPROCESS
from ..targets.model_runner import load_inputs
from ..targets.model_runner import run_model as _run_model
from ..targets.qemu import COUNTER_UNITS
from .pack import conv_storage_option, resolve_lowering


def _progress(msg: str) -> None:
    click.echo(f"dtmm: {msg}", err=True)


def _values(arr) -> str:
    return " ".join(repr(float(v)) if arr.dtype.kind == "f" else str(int(v)) for v in arr)


@click.command("run-model")
@click.argument("model", type=click.Path(path_type=Path))
@click.option("--board", "board_name", required=True, help="emulated board, e.g. qemu-m4 (see `dtmm boards`)")
@click.option("--inputs", "inputs_path", default=None, type=click.Path(path_type=Path),
              help=".npy array of N inputs: shape N x the model input shape, the model input dtype")
@click.option("--data", "data_path", default=None, type=click.Path(path_type=Path),
              help="instead of --inputs: test images of a dataset as `dtmm prune --data` reads it "
                   "(folder, .tar.gz, .npz), quantized to the model input")
@click.option("--images", "n_images", default=4, show_default=True, type=click.IntRange(min=1),
              help="with --data: how many test images, spread evenly over the test set")
@click.option("--preprocess", default="raw", show_default=True, type=click.Choice(PREPROCESS),
              help="with --data: pixel scaling before quantization, as the model was trained (dtmm prune's)")
@click.option("--profile", is_flag=True, help="also measure every operator")
@click.option("--cycles", is_flag=True,
              help="also estimate CPU cycles from an instruction trace and the core's timing table (slower)")
@click.option("--json", "as_json", is_flag=True, help="print one JSON object instead of text")
@click.option("--save", "save_dir", default=None, type=click.Path(path_type=Path, file_okay=False),
              help="also write the JSON record to DIR/run-model-<board>-<name>.json, where `dtmm report DIR` "
                   "shows it (e.g. the `dtmm prune --out` directory)")
@click.option("--timeout", default=300.0, show_default=True, type=click.FloatRange(min=0.1),
              help="seconds of host time before QEMU is stopped")
@click.option("--name", default=None, help="C name prefix of the packed model")
@conv_storage_option
@click.option("--lowering", default=None, hidden=True, help="lowering module[:factory] (tests)")
def run_model(model: Path, board_name: str, inputs_path: Path | None, data_path: Path | None, n_images: int,
              preprocess: str, profile: bool, cycles: bool, as_json: bool, save_dir: Path | None, timeout: float,
              name: str | None, conv_storage: str, lowering: str | None):
    """Run MODEL on every input of an .npy file (or on test images) on an emulated board.

    Packs the model (as `dtmm pack`), builds app/model_runner with it for
    BOARD, runs it under QEMU and prints each output with the retired
    instructions of its inference (and of every operator with --profile).
    With --cycles the run is traced and each figure gets estimated cycles
    beside it (an estimate from a per-core timing table, see
    docs/measurement.md; the instruction counts stay exact).

    \b
    Examples:
      dtmm run-model model_int8.tflite --board qemu-m4 --inputs x.npy --profile
      dtmm run-model model_int8.tflite --board qemu-m55 --data cifar10-images.tar.gz --images 8
    """
    if (inputs_path is None) == (data_path is None):
        raise click.UsageError("give exactly one of --inputs FILE.npy and --data DATASET")
    if save_dir is not None and not save_dir.is_dir():
        raise click.BadParameter(f"{save_dir} is not an existing directory", param_hint="--save")
    labels = None
    if inputs_path is not None:
        inputs = load_inputs(inputs_path)
    else:
        inputs, labels = _dataset_inputs(model, data_path, n_images, preprocess)
    result = _run_model(model, board_name, inputs, profile=profile, timeout=timeout, name=name,
                        lowering=resolve_lowering(lowering, conv_storage), progress=_progress,
                        inputs_name=str(inputs_path or data_path), cycles=cycles)
    doc = {**result.as_dict(), "unit": COUNTER_UNITS["instructions"]}
    if labels is not None:
        doc["labels"] = labels
    if save_dir is not None:
        from ..fileio import write_text_atomic

        record = {"tool": "dtmm run-model", "model_file": str(model), **doc}
        if result.profile:  # the profiler's labels -> each layer's one name (docs/figures.md)
            from ..tflite.layer_names import labels_by_short_label
            from ..tflite.model import TfliteModel

            record["layers"] = labels_by_short_label(TfliteModel.load(model))
        path = save_dir / f"run-model-{result.board}-{result.name}.json"
        write_text_atomic(path, json.dumps(record, indent=2) + "\n")
        _progress(f"wrote {path}")
    if as_json:
        click.echo(json.dumps(doc, indent=2))
        return
    est = result.estimated_cycles
    for i, (out, n) in enumerate(zip(result.outputs, result.instructions)):
        cyc = f", {est[i]} estimated cycles" if est else ""
        label = f"  (label {labels[i]}, predicted {int(out.argmax())})" if labels is not None else ""
        click.echo(f"[{i}] {n} instructions{cyc}  output: {_values(out)}{label}")
    mean = sum(result.instructions) / len(result.instructions)
    click.echo(f"board {result.board} (conv path {result.conv_path}): {len(result.outputs)} inferences, "
               f"{mean:.0f} instructions per inference (mean), arena {result.arena_bytes} bytes, "
               f"model flash {result.flash_bytes} bytes (weights + kernel parameters)")
    if est:
        click.echo(f"estimated cycles per inference (mean): {sum(est) / len(est):.0f}, "
                   f"{sum(est) / sum(result.instructions):.2f} per instruction "
                   f"(an estimate: {result.cycle_table}; see docs/measurement.md)")
    if result.profile:
        labels = list(result.profile[0])
        means = _means(result.profile, labels)
        total = sum(means.values()) or 1
        cyc_means = _means(result.profile_estimated_cycles, labels) if result.profile_estimated_cycles else None
        click.echo("per operator (instructions, mean over inferences, share of the operators' total"
                   + (", estimated cycles):" if cyc_means else "):"))
        from ..tflite.layer_names import labels_by_short_label
        from ..tflite.model import TfliteModel

        names = labels_by_short_label(TfliteModel.load(model))
        for label in labels:
            extra = f"  {cyc_means[label]:>12.0f} est. cycles" if cyc_means else ""
            click.echo(f"  {names.get(label, label):<36} {means[label]:>12.0f}  {100.0 * means[label] / total:5.1f}%{extra}")


def _dataset_inputs(model: Path, data_path: Path, n: int, preprocess_mode: str):
    """N test images of the dataset, spread evenly over its test set, quantized to the model input
    (rounded to nearest, clamped to int8; float inputs as they are), and their labels."""
    import numpy as np

    from ..errors import DtmmError
    from ..prune.data import load_dataset, preprocess
    from ..tflite.model import TfliteModel

    tfl = TfliteModel.load(model)
    t = tfl.tensors[tfl.inputs[0]]
    ds = load_dataset(data_path, channels=int(t.shape[-1]))
    if ds.x_test is None or len(ds.x_test) == 0:
        raise DtmmError(f"{data_path}: no test images (expected a test/ folder or x_test in the .npz)")
    if tuple(ds.x_test.shape[1:]) != tuple(t.shape[1:]):
        raise DtmmError(f"{data_path}: images are {list(ds.x_test.shape[1:])}, the model takes {list(t.shape[1:])}")
    pick = np.linspace(0, len(ds.x_test) - 1, min(n, len(ds.x_test))).round().astype(int)
    x = preprocess(ds.x_test[pick], preprocess_mode)
    if t.dtype == "INT8":
        scale, zero = float(t.scales[0]), int(t.zero_points[0])
        x = np.clip(np.round(x / scale) + zero, -128, 127).astype(np.int8)
    else:
        x = x.astype(np.float32)
    return x[:, None], [int(v) for v in ds.y_test[pick]]


def _means(per_inference: list, labels: list) -> dict:
    return {label: sum(p.get(label, 0) for p in per_inference) / len(per_inference) for label in labels}
