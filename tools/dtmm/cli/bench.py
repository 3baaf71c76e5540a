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
    """Benchmarks under QEMU (exact retired-instruction counts, see docs/measurement.md)."""


@bench.command("kernels")
@click.option("--board", "board_name", default="qemu-m4", show_default=True,
              help="emulated board (qemu-m3, qemu-m4, qemu-m7, qemu-m33, qemu-m55)")
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
