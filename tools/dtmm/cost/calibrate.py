"""`dtmm calibrate`: measure the calibration set on a QEMU board and fit its cost model.

Steps: build (or take from the cache) the seeded calibration models
(``calibration_set``), run each on the board with per-operator profiling
(``measure``), pack each again to read the features of every operator
(``features``), fit every group (``calibration.fit_calibration``) and write
the calibration file atomically. ``refit`` redoes the last two steps from the
measurements a calibration file already holds, without QEMU.
"""
from __future__ import annotations

import json
from typing import Callable, Sequence

from ..errors import DtmmError
from ..pack.packer import pack_model
from ..targets.boards import get_board
from ..tflite.model import TfliteModel
from . import calibration_set
from .calibration import FORMAT, VERSION, fit_calibration, kernels_digest
from .features import OpFeatures, board_path, op_features

#: the calibration set: seeds of the generated models (each measured dense and pruned), and the channel-group
#: and operator models every calibration measures besides them
EXTRA_SEEDS = calibration_set.GROUP_SEEDS + calibration_set.OP_SEEDS + calibration_set.SHAPE_SEEDS
DEFAULT_SEEDS = tuple(range(40)) + EXTRA_SEEDS


def fitting_models(models, board: str) -> tuple[list, list[str]]:
    """The calibration models that fit `board` (arena and stack in its RAM, weights in its flash) and the
    names of those that do not: a 16 KiB Cortex-M0 runs only the smaller ones."""
    from ..targets.model_runner import check_fit

    b = get_board(board)
    fit, skipped = [], []
    for cm in models:
        packed = pack_model(TfliteModel(cm.data, f"{cm.name}.tflite"), "calibration")
        try:
            check_fit(packed, 1, b)
        except DtmmError:
            skipped.append(cm.name)
            continue
        fit.append(cm)
    return fit, skipped


def training_rows(models, measured: list[dict], board: str) -> list[tuple[OpFeatures, int]]:
    """(features, measured instructions) of every operator of every measured model."""
    b = get_board(board)
    by_name = {m["name"]: m for m in measured}
    rows = []
    for cm in models:
        m = by_name.get(cm.name)
        if m is None:
            raise DtmmError(f"calibration model {cm.name} has no measurement on {board}")
        model = TfliteModel(cm.data, f"{cm.name}.tflite")
        for f in op_features(model, pack_model(model, "calibration").summary, b):
            if f.label not in m["per_op"]:
                raise DtmmError(f"{cm.name} on {board}: no measurement of {f.label}")
            rows.append((f, int(m["per_op"][f.label])))
    return rows


def calibration_document(board: str, seeds: Sequence[int], measured: list[dict], rows,
                         skipped: Sequence[str] = ()) -> dict:  # fmt: skip
    """The calibration file's content: deterministic for the same kernels, seeds and measurements."""
    b = get_board(board)
    return {
        "format": FORMAT,
        "version": VERSION,
        "board": board,
        "cpu": b.cpu,
        "path": board_path(b),
        "unit": "QEMU-retired instructions (not cycles)",
        "kernels_digest": kernels_digest(board_path(b)),
        "generator_version": calibration_set.GENERATOR_VERSION,
        "seeds": list(seeds),
        "variants_per_model": calibration_set.VARIANTS_PER_MODEL,
        "max_activation_bytes": calibration_set.max_activation_bytes_for(b),
        "operators": len(rows),
        "skipped_models": list(skipped),
        "groups": fit_calibration(rows),
        "measurements": measured,
    }


def calibrate(board: str, seeds: Sequence[int] = DEFAULT_SEEDS, *, timeout: float = 600.0,
              progress: Callable[[str], None] | None = None) -> dict:  # fmt: skip
    """Measures the calibration set on `board` and returns the calibration document."""
    from .measure import measure

    b = get_board(board)
    if not b.emulated:
        raise DtmmError(f"board '{board}' is real hardware; calibrations are measured under QEMU (qemu-* boards)")
    cap = calibration_set.max_activation_bytes_for(b)
    generated = calibration_set.calibration_models(seeds, max_activation_bytes=cap, progress=progress)
    models, skipped = fitting_models(generated, board)
    if not models:
        raise DtmmError(f"no calibration model fits {board} ({b.ram_bytes} bytes of RAM)")
    if skipped and progress:
        progress(f"{len(skipped)} of {len(skipped) + len(models)} calibration models do not fit {board}; "
                 f"measuring the other {len(models)}")
    measured = measure(models, board, timeout=timeout, progress=progress)
    return calibration_document(board, seeds, measured, training_rows(models, measured, board), skipped)


def extend(document: dict, seeds: Sequence[int], *, timeout: float = 600.0,
           progress: Callable[[str], None] | None = None) -> dict:  # fmt: skip
    """`document` with the models of `seeds` it lacks measured on its board and every group refitted; its
    other measurements (and the kernel digest they were made on) are kept. This is how a calibration
    gains models added to the set later -- the channel-group and operator models -- without measuring the
    rest again."""
    from .measure import measure

    board = document["board"]
    if document.get("generator_version") != calibration_set.GENERATOR_VERSION:
        raise DtmmError("the calibration's models came from another generator version; measure again")
    new = [s for s in dict.fromkeys(int(s) for s in seeds) if s not in document["seeds"]]
    out = dict(document)
    if new:
        cap = document.get("max_activation_bytes", calibration_set.MAX_ACTIVATION_BYTES)
        generated = calibration_set.calibration_models(new, max_activation_bytes=cap, progress=progress)
        models, skipped = fitting_models(generated, board)
        measured = measure(models, board, timeout=timeout, progress=progress) if models else []
        out["seeds"] = list(document["seeds"]) + new
        out["measurements"] = list(document["measurements"]) + measured
        out["skipped_models"] = list(document.get("skipped_models", [])) + skipped
    return refit(out, progress)


def refit(document: dict, progress: Callable[[str], None] | None = None) -> dict:
    """The same calibration refitted from its stored measurements (after a change to the features)."""
    board = document["board"]
    if document.get("generator_version") != calibration_set.GENERATOR_VERSION:
        raise DtmmError("the calibration's models came from another generator version; measure again")
    seeds = document["seeds"]
    cap = document.get("max_activation_bytes", calibration_set.MAX_ACTIVATION_BYTES)
    generated = calibration_set.calibration_models(seeds, max_activation_bytes=cap, progress=progress)
    # the models the calibration measured: those it found too large for the board stay out even if a later
    # packer would fit them (they have no measurement to fit)
    skipped = set(document.get("skipped_models", []))
    models = [cm for cm in generated if cm.name not in skipped]
    rows = training_rows(models, document["measurements"], board)
    out = dict(document)
    out["groups"] = fit_calibration(rows)
    out["operators"] = len(rows)
    return out


def dumps(document: dict) -> str:
    return json.dumps(document, indent=1, sort_keys=False) + "\n"
