"""Measuring the calibration set on a QEMU board: instructions per operator, checked bit for bit.

Every model runs once on one seeded random input with per-operator profiling
(``dtmm run-model --profile``'s counters, QEMU-retired instructions), and its
output is compared with the tflite-micro interpreter's: a calibration never
fits a kernel that computes the wrong thing. All models are built under one
package name, so PlatformIO recompiles only the generated model source between
runs, and every measurement is journalled so an interrupted calibration resumes.
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Callable, Iterable

import numpy as np

from ..errors import DtmmError
from ..fileio import write_text_atomic
from ..tflite.model import TfliteModel
from .calibration_set import CalibrationModel


def package_name(board: str) -> str:
    """Package name of every model measured on `board`: one build directory per board, the kernels compiled once."""
    return "calibration_" + board.replace("-", "_")


def random_input(model: TfliteModel, seed: int) -> np.ndarray:
    t = model.tensors[model.inputs[0]]
    return np.random.default_rng(seed).integers(-128, 128, size=(1, *t.shape[1:]), dtype=np.int8)


def measure(models: Iterable[CalibrationModel], board: str, *, timeout: float = 600.0, cache_dir=None,
            progress: Callable[[str], None] | None = None) -> list[dict]:  # fmt: skip
    """[{"name", "per_op": {label: instructions}, "instructions"}] for each model on `board`.

    Measurements are journalled per board and kernel sources (see :class:`_Journal`)."""
    from ..targets.model_runner import run_model
    from ..tflite.interpreter import tflm_outputs

    journal = _Journal(board, cache_dir)
    out = []
    for k, cm in enumerate(models):
        model = TfliteModel(cm.data, f"{cm.name}.tflite")
        x = random_input(model, k)
        done = journal.get(cm, x)
        if done is not None:
            out.append(done)
            continue
        if progress:
            progress(f"measuring {cm.name} on {board}")
        run = run_model(model, board, x, name=package_name(board), timeout=timeout, profile=True)
        want = tflm_outputs(cm.data, x)[0]
        if not np.array_equal(np.asarray(run.outputs[0]).reshape(-1), np.asarray(want).reshape(-1)):
            raise DtmmError(f"{cm.name} on {board}: output differs from the tflite-micro interpreter")
        out.append({"name": cm.name, "instructions": int(run.instructions[0]),
                    "per_op": {label: int(n) for label, n in run.profile[0].items()}})  # fmt: skip
        journal.put(cm, x, out[-1])
    return out


class _Journal:
    """Measurements already made with these kernels (one JSON file per board), so an interrupted
    calibration resumes where it stopped instead of measuring everything again."""

    def __init__(self, board: str, cache_dir=None):
        from ..targets.boards import get_board
        from .calibration import kernels_digest
        from .calibration_set import default_cache_dir
        from .features import board_path

        root = Path(cache_dir) if cache_dir else default_cache_dir()
        self.path = root / f"measured-{board}-{kernels_digest(board_path(get_board(board)))}.json"
        try:
            self.entries = json.loads(self.path.read_text())
        except (OSError, ValueError):
            self.entries = {}

    @staticmethod
    def _key(cm: CalibrationModel, x: np.ndarray) -> str:
        return hashlib.sha256(cm.data + x.tobytes()).hexdigest()

    def get(self, cm: CalibrationModel, x: np.ndarray) -> dict | None:
        entry = self.entries.get(self._key(cm, x))
        return None if entry is None else {**entry, "name": cm.name}

    def put(self, cm: CalibrationModel, x: np.ndarray, entry: dict) -> None:
        self.entries[self._key(cm, x)] = entry
        self.path.parent.mkdir(parents=True, exist_ok=True)
        write_text_atomic(self.path, json.dumps(self.entries))
