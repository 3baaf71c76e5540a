"""Build app/tflm_image_classification against a TFLM tree, run it under QEMU, read what it printed.

One (board, kernels) pair keeps one PlatformIO build directory under
.pio/dtmm-build/tflm-app/, so TFLM's library (a few minutes to compile) is
built once and a new model recompiles only the app.
"""
from __future__ import annotations

import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import DtmmError
from ..targets import platformio
from ..targets.qemu import OUTPUT_LINE, inference_measurements, output_values, run_firmware

#: boards with a tflm-<board> environment in platformio.ini
TFLM_BOARDS = ("qemu-m4", "qemu-m55")
KERNELS = ("reference", "cmsis_nn")
APP_SRC = Path("app") / "tflm_image_classification" / "src"
_ARENA_LINE = re.compile(r"^@dtmm tflm arena_used (\d+)\s*$", re.M)
_ERROR_LINE = re.compile(r"^@dtmm error (.*)$", re.M)


@dataclass(frozen=True)
class TflmRun:
    """What one run of the app printed: outputs and instructions per input, the arena TFLM used."""

    board: str
    kernels: str
    outputs: list[np.ndarray]
    instructions: list[int]  # QEMU-retired instructions per Invoke()
    arena_used_bytes: int
    elf: Path


def check_tflm_dir(tflm_dir: str | os.PathLike | None) -> Path:
    """The TFLM tree, or one line saying why it cannot be used (the hook checks its downloads)."""
    if not tflm_dir:
        raise DtmmError("no TFLM tree: set TFLM_DIR to a tflite-micro checkout with its downloads (docs/tflm.md)")
    p = Path(tflm_dir).expanduser().resolve()
    if not (p / "tensorflow" / "lite" / "micro" / "micro_interpreter.h").is_file():
        raise DtmmError(f"TFLM_DIR={p} is not a tflite-micro checkout (no tensorflow/lite/micro/micro_interpreter.h)")
    return p


def build_app(model: str | os.PathLike, inputs: np.ndarray, board: str, tflm_dir, kernels: str = "reference",
              arena_bytes: int | None = None, repo_root: Path | None = None) -> Path:  # fmt: skip
    """The app's ELF for this model, inputs, board and TFLM kernels."""
    if board not in TFLM_BOARDS:
        raise DtmmError(f"board {board}: the TFLM app has environments for {', '.join(TFLM_BOARDS)}")
    if kernels not in KERNELS:
        raise DtmmError(f"kernels {kernels!r}: choose {' or '.join(KERNELS)}")
    tflm = check_tflm_dir(tflm_dir)
    root = repo_root or platformio.find_repo_root()
    app_root = root / ".pio" / "dtmm-build" / "tflm-app"
    build_dir = app_root / f"{board}-{kernels}"  # PlatformIO's own: nothing else may go in it
    (app_root / "inputs").mkdir(parents=True, exist_ok=True)
    fd, inputs_path = tempfile.mkstemp(suffix=".npy", dir=app_root / "inputs")
    os.close(fd)
    try:
        np.save(inputs_path, np.asarray(inputs))
        extra = {"TFLM_DIR": str(tflm), "DTMM_TFLM_MODEL": str(Path(model).resolve()),
                 "DTMM_TFLM_INPUTS": inputs_path, "DTMM_TFLM_KERNELS": kernels}  # fmt: skip
        if arena_bytes:
            extra["DTMM_TFLM_ARENA"] = str(int(arena_bytes))
        return platformio.build(root / APP_SRC, board, build_dir=build_dir, repo_root=root,
                                env_name=f"tflm-{board}", extra_env=extra)  # fmt: skip
    finally:
        os.unlink(inputs_path)


def parse_console(console: str, n_inputs: int) -> tuple[list[np.ndarray], list[int], int]:
    err = _ERROR_LINE.search(console)
    if err:
        raise DtmmError(f"the TFLM app failed: {err.group(1).strip()}")
    outputs = [output_values(m.group(1), m.group(3)) for m in map(OUTPUT_LINE.match, console.splitlines()) if m]
    instructions, _ = inference_measurements(console)
    arena = _ARENA_LINE.search(console)
    if len(outputs) != n_inputs or len(instructions) != n_inputs or arena is None:
        last = console.strip().splitlines()[-1] if console.strip() else "(no console output)"
        raise DtmmError(f"the TFLM app reported {len(outputs)} outputs for {n_inputs} inputs (last line: {last})")
    return outputs, instructions, int(arena.group(1))


def run_app(model: str | os.PathLike, inputs: np.ndarray, board: str, tflm_dir, kernels: str = "reference",
            arena_bytes: int | None = None, timeout: float = 600.0) -> TflmRun:  # fmt: skip
    """Build (if needed) and run the app on every input; raises DtmmError when it fails."""
    elf = build_app(model, inputs, board, tflm_dir, kernels, arena_bytes)
    result = run_firmware(elf, board, timeout=timeout)
    outputs, instructions, arena = parse_console(result.console, len(inputs))
    if result.exit_code != 0:
        raise DtmmError(f"the TFLM app exited with status {result.exit_code} on {board}")
    return TflmRun(board, kernels, outputs, instructions, arena, elf)
