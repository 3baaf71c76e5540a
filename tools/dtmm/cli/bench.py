"""`dtmm bench`: benchmarks on the emulated boards, in exact QEMU-retired instructions."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from ..bench.kernels import DEFAULT_DENSITIES, DEFAULT_KERNELS_OPTIMIZATION, render_table, run_bench


def _densities(value: str) -> list[float]:
    try:
        out = [float(v) for v in value.replace(",", " ").split()]
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a list of numbers") from None
    if not out or any(not 0.0 < d <= 1.0 for d in out):
        raise click.BadParameter("densities must be in (0, 1]")
    return out


@click.group()
def bench():
    """Benchmarks under QEMU (exact retired-instruction counts, see docs/measurement.md).

    \b
    Examples:
      dtmm bench kernels --board qemu-m55 --json
      dtmm bench models --board qemu-m4 --baseline stock
      TFLM_DIR=~/tflite-micro dtmm bench tflm model_int8.tflite
    """


@bench.command("kernels")
@click.option("--board", "board_name", default="qemu-m4", show_default=True,
              help="emulated board (qemu-m0, qemu-m3, qemu-m4, qemu-m7, qemu-m33, qemu-m55)")
@click.option("--densities", default=",".join(f"{d:g}" for d in DEFAULT_DENSITIES), show_default=True,
              help="filterlet densities to prune every layer to, comma-separated, in (0, 1]")
@click.option("--json", "as_json", is_flag=True, help="print the report as JSON")
@click.option("--model", "model_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="ResNet-8 .tflite (default: $DTMM_SHARED or ../shared, models/mlperf-tiny-ic/)")
@click.option("--images", "images_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="CIFAR-10 image archive for real activations (default: next to the model's shared dir; "
                   "seeded random input when absent)")
@click.option("--optimization", "kernels_optimization", default=DEFAULT_KERNELS_OPTIMIZATION, show_default=True,
              help="compiler optimization of lib/dtmm_kernels (custom_dtmm_kernels_optimization)")
@click.option("--portable", is_flag=True, help="force the portable C path (-DDTMM_KERNELS_PORTABLE)")
@click.option("--build-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="where generated sources and builds go (default: .pio/dtmm-bench/BOARD)")
@click.option("--timeout", default=900.0, show_default=True, type=click.FloatRange(min=1.0),
              help="seconds per firmware run")
def kernels(board_name, densities, as_json, model_path, images_path, kernels_optimization, portable, build_dir,
            timeout):
    """Sparse vs dense mode vs reference conv on every ResNet-8 conv layer.

    For each layer and density: dtmm_conv_s8 on the magnitude-pruned packed
    layer (sparse), dtmm_conv_s8 on the unpruned DENSE blob (dense mode) and
    the TFLite-style reference loop, all verified against the golden model.

    \b
    Examples:
      dtmm bench kernels --board qemu-m4
      dtmm bench kernels --board qemu-m55 --densities 0.5,1 --json
    """
    dens = _densities(densities)
    from tqdm import tqdm

    # progress on stderr, so --json output stays clean; tqdm hides itself when stderr is not a terminal
    bar = tqdm(total=3, desc=f"bench kernels {board_name}", unit="step", file=sys.stderr, disable=None, leave=False)

    def progress(message: str, done: int, total: int) -> None:
        bar.total = total
        bar.n = done
        bar.set_postfix_str(message)  # also refreshes

    try:
        report = run_bench(board_name, dens, model_path=model_path, images_path=images_path, build_dir=build_dir,
                           kernels_optimization=kernels_optimization,
                           defines=["DTMM_KERNELS_PORTABLE"] if portable else [], timeout=timeout,
                           progress=progress)
    finally:
        bar.close()
    if as_json:
        click.echo(json.dumps(report, indent=2))
    else:
        click.echo(render_table(report))


def _ints(value: str, what: str) -> list[int]:
    try:
        return [int(v) for v in value.replace(",", " ").split()]
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a list of {what}") from None


@bench.command("groups")
@click.option("--board", "board_name", default="qemu-m4", show_default=True,
              help="emulated board (qemu-m0, qemu-m3, qemu-m4, qemu-m7, qemu-m33, qemu-m55)")
@click.option("--groups", "group_sizes", default="4,16", show_default=True,
              help="channel-group sizes in channels, comma-separated (4 = one DSP word, 16 = one Helium vector)")
@click.option("--densities", default="1,0.75,0.5,0.25", show_default=True,
              help="fractions of channel groups kept, comma-separated, in (0, 1]")
@click.option("--layers", "shapes", default=None,
              help="layer shapes, comma-separated (default: all of dscnn_pw64, mbnet_pw128, mbnet_pw32, fc256, "
                   "fc128)")
@click.option("--json", "as_json", is_flag=True, help="print the report as JSON")
@click.option("--build-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="where generated sources and builds go (default: .pio/dtmm-bench-groups/BOARD)")
@click.option("--timeout", default=900.0, show_default=True, type=click.FloatRange(min=1.0),
              help="seconds per firmware run")
def groups(board_name, group_sizes, densities, shapes, as_json, build_dir, timeout):
    """Channel-group pruned 1x1 convs and fully connected layers against their dense kernels.

    For each layer shape, group size and density: dtmm_conv_s8 on the GROUPS
    blob the packer writes, against the unpruned layer's DENSE blob and, for
    fully connected shapes, dtmm_fully_connected_s8; every output verified.

    \b
    Examples:
      dtmm bench groups --board qemu-m4 --groups 4,8,16
      dtmm bench groups --board qemu-m55 --groups 16 --layers dscnn_pw64,fc256 --json
    """
    from ..bench.groups import SHAPES, render_group_table, run_group_bench

    dens = _densities(densities)
    sizes = _ints(group_sizes, "channel counts")
    names = [s.strip() for s in shapes.split(",") if s.strip()] if shapes else list(SHAPES)
    from tqdm import tqdm

    bar = tqdm(total=3, desc=f"bench groups {board_name}", unit="step", file=sys.stderr, disable=None, leave=False)

    def progress(message: str, done: int, total: int) -> None:
        bar.total = total
        bar.n = done
        bar.set_postfix_str(message)

    try:
        report = run_group_bench(board_name, names, sizes, dens, build_dir=build_dir, timeout=timeout,
                                 progress=progress)
    finally:
        bar.close()
    click.echo(json.dumps(report, indent=2) if as_json else render_group_table(report))


def _model_names(value: str) -> list[str]:
    from ..bench.models import CONV_SHAPES_SUITE, MODEL_NAMES, SHAPE_NAMES, expand_model_names

    names = [v for v in value.replace(",", " ").split() if v]
    unknown = [n for n in names if n not in MODEL_NAMES + SHAPE_NAMES + (CONV_SHAPES_SUITE,)]
    if not names or unknown:
        raise click.BadParameter(f"unknown model(s) {', '.join(unknown) or '(none)'}; choose from "
                                 f"{', '.join(MODEL_NAMES)}, {CONV_SHAPES_SUITE} (single-conv models: "
                                 f"{', '.join(SHAPE_NAMES)})")  # fmt: skip
    return expand_model_names(names)


@bench.command("models")
@click.option("--board", "board_name", default="qemu-m4", show_default=True,
              help="emulated board (qemu-m0, qemu-m3, qemu-m4, qemu-m7, qemu-m33, qemu-m55)")
@click.option("--models", "models", default="resnet8,resnet8_f50,resnet8_f25,ds_cnn,mobilenet_v1_025,fc_autoencoder",
              show_default=True, help="benchmark models, comma-separated; conv_shapes = the single-conv shape suite")
@click.option("--json", "as_json", is_flag=True, help="print the report as JSON")
@click.option("--model", "model_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="ResNet-8 .tflite (default: $DTMM_SHARED or ../shared, models/mlperf-tiny-ic/)")
@click.option("--baseline", default=None,
              help="JSON of another runtime's instructions per inference (and per operator) per model, "
                   "shown beside ours; 'stock' = the shipped stock TFLM + CMSIS-NN measurements of the board")
@click.option("--seed", default=0, show_default=True, type=int, help="seed of the random weights and inputs")
@click.option("--no-profile", is_flag=True, help="skip the per-operator profiling run")
@click.option("--cycles", is_flag=True,
              help="also estimate CPU cycles from instruction traces and the core's timing table (slower)")
@click.option("--timeout", default=600.0, show_default=True, type=click.FloatRange(min=1.0),
              help="seconds per firmware run")
def models(board_name, models, as_json, model_path, baseline, seed, no_profile, cycles, timeout):
    """Whole models (ResNet-8 dense and pruned, DS-CNN, MobileNetV1-0.25, FC autoencoder) on one board.

    Instructions per inference and per operator, every output checked
    against the tflite-micro interpreter (see dtmm.bench.models).  With
    --cycles, estimated cycles beside them (an estimate, docs/measurement.md).

    \b
    Examples:
      dtmm bench models --board qemu-m4 --baseline stock
      dtmm bench models --board qemu-m55 --models resnet8,ds_cnn --cycles --json
    """
    from ..bench.models import render_table as render_models
    from ..bench.models import run_models_bench

    names = _model_names(models)
    from ..tf_startup import quiet_tensorflow

    quiet_tensorflow()  # the models are built with Keras: no TensorFlow start-up chatter
    if baseline is not None and baseline != "stock" and not Path(baseline).is_file():
        raise click.BadParameter(f"{baseline} does not exist", param_hint="--baseline")
    report = run_models_bench(board_name, names, model_path=model_path, seed=seed, profile=not no_profile,
                              baseline=baseline, timeout=timeout, cycles=cycles,
                              progress=lambda msg: click.echo(f"bench models: {msg}", err=True))  # fmt: skip
    if as_json:
        click.echo(json.dumps(report, indent=2))
    else:
        click.echo(render_models(report))


@bench.command("tflm")
@click.argument("model", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--tflm-dir", envvar="TFLM_DIR", default=None,
              help="tflite-micro tree with its downloads (default: $TFLM_DIR; docs/tflm.md)")
@click.option("--boards", default="qemu-m4,qemu-m55", show_default=True, help="comma-separated: qemu-m4, qemu-m55")
@click.option("--all", "convert_all", is_flag=True,
              help="convert every CONV_2D (dtmm convert --all), not only those whose blob is smaller")
@click.option("--inputs", "n_inputs", default=2, show_default=True, type=click.IntRange(min=1),
              help="seeded random int8 inputs to run")
@click.option("--json", "as_json", is_flag=True, help="print the report as JSON")
@click.option("--timeout", default=900.0, show_default=True, type=click.FloatRange(min=1.0),
              help="seconds per firmware run")
def tflm(model, tflm_dir, boards, convert_all, n_inputs, as_json, timeout):
    """MODEL on stock TensorFlow Lite Micro (reference and CMSIS-NN kernels), on TFLM with DTMM_CONV_2D
    (`dtmm convert`) and on `dtmm pack`'s runtime: instructions per inference, arena, bit-exactness.

    TFLM's library is compiled once per board and kernel set (minutes); later runs reuse it.

    \b
    Examples:
      TFLM_DIR=~/tflite-micro dtmm bench tflm pruned/model_int8.tflite
      dtmm bench tflm model_int8.tflite --tflm-dir ~/tflite-micro --boards qemu-m55 --all --json
    """
    from ..bench.tflm import render_tflm_table, run_tflm_bench

    names = [b.strip() for b in boards.split(",") if b.strip()]
    report = run_tflm_bench(model, names, tflm_dir, n_inputs=n_inputs, convert_all=convert_all, timeout=timeout,
                            progress=lambda m: click.echo(f"dtmm bench tflm: {m} ...", err=True))
    click.echo(json.dumps(report, indent=2) if as_json else render_tflm_table(report))
