"""`dtmm estimate`: predicted instructions, exact flash and arena of a model on a board, without QEMU."""
from __future__ import annotations

import json
from pathlib import Path

import click


@click.command("estimate")
@click.argument("model", type=click.Path(path_type=Path, dir_okay=False))
@click.option("--board", "board_name", required=True, help="board whose calibration predicts (see `dtmm boards`)")
@click.option("--calibration", "cal_path", default=None, type=click.Path(path_type=Path, dir_okay=False),
              help="calibration file (default: the one shipped for BOARD)")
@click.option("--json", "as_json", is_flag=True, help="print one JSON object instead of text")
def estimate(model: Path, board_name: str, cal_path: Path | None, as_json: bool):
    """Estimate MODEL (.tflite) on BOARD in seconds: instructions per operator and in total
    (predicted by the board's calibration, QEMU-retired instructions), flash bytes and arena
    bytes (exact: the packer's).

    \b
    Examples:
      dtmm estimate model_int8.tflite --board qemu-m4
      dtmm estimate model_int8.tflite --board qemu-m55 --json
    """
    from ..cost.calibration import load_calibration
    from ..cost.estimate import estimate_model, render_estimate
    from ..targets.boards import get_board
    from ..tflite.model import TfliteModel

    board = get_board(board_name)
    cal = load_calibration(board.name, cal_path)
    tfl = TfliteModel.load(model)
    report = estimate_model(tfl, board.name, calibration=cal)
    click.echo(json.dumps(report, indent=2) if as_json else render_estimate(report, model.name))
