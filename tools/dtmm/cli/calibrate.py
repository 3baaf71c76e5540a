"""`dtmm calibrate`: measure the kernels on a QEMU board and fit the cost model `dtmm estimate` uses."""
from __future__ import annotations

import json
import time
from pathlib import Path

import click

from ..errors import DtmmError


def _progress(msg: str) -> None:
    click.echo(f"dtmm calibrate: {msg}", err=True)


@click.command("calibrate")
@click.option("--board", "board_name", required=True, help="emulated board, e.g. qemu-m4 (see `dtmm boards`)")
@click.option("--out", "out_path", default=None, type=click.Path(path_type=Path, dir_okay=False),
              help="calibration file to write (default: the one shipped for BOARD in dtmm/cost/calibrations/)")
@click.option("--models", "n_models", default=None, type=click.IntRange(min=1),
              help="generated models to measure (default: as many as BOARD's shipped calibration, else 40); "
                   "each runs dense and pruned twice; with --extend, the first N join the calibration")
@click.option("--refit", "refit_path", default=None, type=click.Path(path_type=Path, dir_okay=False, exists=True),
              help="refit the cost model from the measurements in this calibration file, without QEMU")
@click.option("--extend", is_flag=True,
              help="measure only the calibration set's models BOARD's calibration lacks (such as the channel-group "
                   "models, added later) and refit; the other measurements are kept")
@click.option("--check", is_flag=True,
              help="do not calibrate: measure held-out models (other seeds, DS-CNN, MobileNetV1-0.25, the FC "
                   "autoencoder, ResNet-8 dense/50%/25% when ../shared has it) and compare with the predictions")
@click.option("--calibration", "cal_path", default=None, type=click.Path(path_type=Path, dir_okay=False, exists=True),
              help="with --check: the calibration file to check (default: the one shipped for BOARD)")
@click.option("--json", "as_json", is_flag=True, help="with --check: print JSON")
@click.option("--timeout", default=600.0, show_default=True, type=click.FloatRange(min=1.0),
              help="seconds per firmware run")
def calibrate(board_name: str, out_path: Path | None, n_models: int | None, refit_path: Path | None, extend: bool,
              check: bool, cal_path: Path | None, as_json: bool, timeout: float):
    """Fit BOARD's cost model: instructions per operator from its shape and kept filterlets.

    Builds seeded random CNNs and MLPs (dense and with pruned filterlets),
    runs each under QEMU with per-operator profiling (outputs checked against
    the tflite-micro interpreter), and fits every kernel group's instructions
    as a non-negative linear function of its shape counts. Takes 10-60
    minutes per board (5-10 s per generated model and variant; the times per
    board are in docs/cost_model.md); the file is deterministic for the same
    kernels, and a rerun resumes from the measurements already made.

    \b
    Examples:
      dtmm calibrate --board qemu-m4 --out my-m4.json
      dtmm calibrate --board qemu-m0 --check
      dtmm calibrate --board qemu-m55 --extend
    """
    from ..cost import calibrate as cal
    from ..cost.calibration import CALIBRATIONS_DIR
    from ..fileio import write_bytes_atomic
    from ..targets.boards import get_board

    from ..tf_startup import quiet_tensorflow

    get_board(board_name)
    if check:
        quiet_tensorflow()
        _check(board_name, cal_path, as_json)
        return
    out = out_path or CALIBRATIONS_DIR / f"{board_name}.json"
    if out.parent and not out.parent.is_dir():
        raise DtmmError(f"output directory {out.parent} does not exist")
    from ..fileio import check_writable_file

    check_writable_file(out)
    quiet_tensorflow()  # calibration models are built with Keras: no TensorFlow start-up chatter
    start = time.monotonic()
    if refit_path is not None:
        doc = json.loads(refit_path.read_text())
        if doc.get("board") != board_name:
            raise DtmmError(f"{refit_path} is a calibration of {doc.get('board')}, not {board_name}")
        doc = cal.refit(doc, progress=_progress)
    elif extend:
        from ..cost.calibration import load_calibration

        seeds = _shipped_seeds(board_name) if n_models is None else tuple(range(n_models))
        doc = cal.extend(load_calibration(board_name, out if out.is_file() else None).data,
                         seeds + cal.EXTRA_SEEDS, timeout=timeout, progress=_progress)  # fmt: skip
    else:
        seeds = _shipped_seeds(board_name) if n_models is None else tuple(range(n_models)) + cal.EXTRA_SEEDS
        doc = cal.calibrate(board_name, seeds, timeout=timeout, progress=_progress)
    write_bytes_atomic(out, cal.dumps(doc).encode())
    worst = max((g["rms_relative_error"], name) for name, g in doc["groups"].items() if not name.startswith("kind:"))
    _progress(f"{doc['operators']} operators in {len(doc['groups'])} groups fitted in "
              f"{time.monotonic() - start:.0f} s; worst group RMS error {100 * worst[0]:.1f}% ({worst[1]})")
    click.echo(str(out))


def _check(board_name: str, cal_path: Path | None, as_json: bool) -> None:
    from ..bench.kernels import MODEL_RELPATH, default_shared_dir
    from ..bench.models import load_models
    from ..cost import validate
    from ..cost.calibration import load_calibration
    from ..cost.calibration_set import CalibrationModel, max_activation_bytes_for
    from ..targets.boards import get_board

    cal = load_calibration(board_name, cal_path)
    resnet = default_shared_dir() / MODEL_RELPATH
    bench = [CalibrationModel(bm.name, bm.data)
             for bm in load_models(["ds_cnn", "mobilenet_v1_025", "fc_autoencoder"], progress=_progress)]
    cap = max_activation_bytes_for(get_board(board_name))
    seeds = (validate.HELD_OUT_SEEDS + validate.HELD_OUT_GROUP_SEEDS + validate.HELD_OUT_OP_SEEDS
             + validate.HELD_OUT_SHAPE_SEEDS)
    models = validate.held_out_models(seeds=seeds, max_activation_bytes=cap,
                                      resnet8=resnet.read_bytes() if resnet.is_file() else None, extra=bench,
                                      progress=_progress)
    rows = validate.compare(models, board_name, calibration=cal, progress=_progress)
    click.echo(json.dumps({"board": board_name, "models": rows}, indent=1) if as_json
               else validate.render(rows, board_name))


def _shipped_seeds(board_name: str) -> tuple[int, ...]:
    """The seeds of BOARD's shipped calibration (so the default run reproduces it), else the default set."""
    from ..cost import calibrate as cal
    from ..cost.calibration import CALIBRATIONS_DIR

    try:
        return tuple(int(s) for s in json.loads((CALIBRATIONS_DIR / f"{board_name}.json").read_text())["seeds"])
    except (OSError, ValueError, KeyError, TypeError):
        return cal.DEFAULT_SEEDS
