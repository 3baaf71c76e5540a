"""`dtmm run-model`: pack a model, build the runner firmware, run it under QEMU on given inputs."""
from __future__ import annotations

import json
from pathlib import Path

import click

from ..targets.model_runner import load_inputs
from ..targets.model_runner import run_model as _run_model
from .pack import conv_storage_option, resolve_lowering


def _progress(msg: str) -> None:
    click.echo(f"dtmm: {msg}", err=True)


def _values(arr) -> str:
    return " ".join(repr(float(v)) if arr.dtype.kind == "f" else str(int(v)) for v in arr)


@click.command("run-model")
@click.argument("model", type=click.Path(path_type=Path))
@click.option("--board", "board_name", required=True, help="emulated board, e.g. qemu-m4 (see `dtmm boards`)")
@click.option("--inputs", "inputs_path", required=True, type=click.Path(path_type=Path),
              help=".npy array of N inputs: shape N x the model input shape, the model input dtype")
@click.option("--profile", is_flag=True, help="also measure every operator")
@click.option("--cycles", is_flag=True,
              help="also estimate CPU cycles from an instruction trace and the core's timing table (slower)")
@click.option("--json", "as_json", is_flag=True, help="print one JSON object instead of text")
@click.option("--timeout", default=300.0, show_default=True, type=click.FloatRange(min=0.1),
              help="seconds of host time before QEMU is stopped")
@click.option("--name", default=None, help="C name prefix of the packed model")
@conv_storage_option
@click.option("--lowering", default=None, hidden=True, help="lowering module[:factory] (tests)")
def run_model(model: Path, board_name: str, inputs_path: Path, profile: bool, cycles: bool, as_json: bool,
              timeout: float, name: str | None, conv_storage: str, lowering: str | None):
    """Run MODEL on every input of an .npy file on an emulated board.

    Packs the model (as `dtmm pack`), builds app/model_runner with it for
    BOARD, runs it under QEMU and prints each output with the retired
    instructions of its inference (and of every operator with --profile).
    With --cycles the run is traced and each figure gets estimated cycles
    beside it (an estimate from a per-core timing table, see
    docs/measurement.md; the instruction counts stay exact).
    """
    inputs = load_inputs(inputs_path)
    result = _run_model(model, board_name, inputs, profile=profile, timeout=timeout, name=name,
                        lowering=resolve_lowering(lowering, conv_storage), progress=_progress,
                        inputs_name=str(inputs_path), cycles=cycles)
    if as_json:
        click.echo(json.dumps(result.as_dict(), indent=2))
        return
    est = result.estimated_cycles
    for i, (out, n) in enumerate(zip(result.outputs, result.instructions)):
        cyc = f", {est[i]} estimated cycles" if est else ""
        click.echo(f"[{i}] {n} instructions{cyc}  output: {_values(out)}")
    mean = sum(result.instructions) / len(result.instructions)
    click.echo(f"board {result.board} (conv path {result.conv_path}): {len(result.outputs)} inferences, "
               f"{mean:.0f} instructions per inference (mean), arena {result.arena_bytes} bytes, "
               f"weights {result.flash_bytes} bytes")
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
        for label in labels:
            extra = f"  {cyc_means[label]:>12.0f} est. cycles" if cyc_means else ""
            click.echo(f"  {label:<28} {means[label]:>12.0f}  {100.0 * means[label] / total:5.1f}%{extra}")


def _means(per_inference: list, labels: list) -> dict:
    return {label: sum(p.get(label, 0) for p in per_inference) / len(per_inference) for label in labels}
