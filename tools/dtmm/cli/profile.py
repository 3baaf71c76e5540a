"""`dtmm profile MODEL --board B`: per-layer MACs, bytes, live activations and measured instructions, with fit."""
from __future__ import annotations

import json
from pathlib import Path

import click


def _progress(msg: str) -> None:
    click.echo(f"dtmm: {msg}", err=True)


@click.command("profile")
@click.argument("model", type=click.Path(path_type=Path))
@click.option("--board", "board_name", required=True, help="any board of `dtmm boards` (real ones: no measurement)")
@click.option("--no-run", is_flag=True, help="do not measure instructions (static columns and the fit only)")
@click.option("--json", "as_json", is_flag=True, help="print one JSON object instead of the table")
@click.option("--timeout", default=300.0, show_default=True, type=click.FloatRange(min=0.1),
              help="seconds of host time before QEMU is stopped")
def profile(model: Path, board_name: str, no_run: bool, as_json: bool, timeout: float):
    """One table per layer of MODEL (an int8 .tflite) on BOARD, with totals and whether it fits.

    MACs, int8 weight bytes as given and as packed, scratch, activation bytes
    live at the layer, and (on an emulated board the model fits) QEMU-retired
    instructions of a profiled run on one seeded random input, per layer and
    per MAC. The fit compares flash (packed bytes + code estimate) and RAM
    (arena + stack and runtime) with the board's.

    \b
    Examples:
      dtmm profile model_int8.tflite --board qemu-m4
      dtmm profile model_int8.tflite --board nucleo_l4r5zi --json
    """
    from ..report.profile import profile_model, render_profile
    from ..targets.boards import get_board

    get_board(board_name)  # one line for an unknown board, before the model is read
    doc = profile_model(model, board_name, run=not no_run, timeout=timeout, progress=_progress)
    click.echo(json.dumps(doc, indent=2) if as_json else render_profile(doc))
