"""`dtmm run-model`: pack a model, build app/model_runner around it, run it under QEMU.

The runner's sources (app/model_runner/src/main.c, the packed NAME.c/NAME.h,
model_runner_config.h and model_inputs.h) are assembled in a directory named
after a hash of their contents, ``.pio/dtmm-run-model/<name>-<hash>/src``,
which is created atomically and reused when the same model and inputs come
again; PlatformIO builds it into ``build-<board>[-profile]`` next to it.
"""
from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import re
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from ..errors import DtmmError
from ..pack.packer import PackedModel, pack_model
from . import cycles as cycles_mod
from . import platformio
from .boards import Board, get_board
from .disasm import disassemble
from .qemu import OUTPUT_LINE, QEMU_BINARY, inference_measurements, output_values, run_firmware
from .timing import timing_for
from .trace import run_traced

RUNNER_APP = Path("app") / "model_runner" / "src"
WORK_DIR = Path(".pio") / "dtmm-run-model"
TOOLCHAIN_GCC = "arm-none-eabi-gcc"
#: RAM the runner needs besides the arena and the board's stack
#: (Board.stack_bytes = DTMM_STACK_SIZE of its linker script): board-support
#: and runner variables.
RUNTIME_VARIABLES_BYTES = 2048
#: flash for code: board support, printf, runner, kernels (generous upper estimate)
CODE_ESTIMATE_BYTES = 48 * 1024
EXIT_CODES = {3: "init failed", 4: "invoke failed", 99: "the firmware crashed (fault)"}

_ERROR_LINE = re.compile(r"^@dtmm error (.*)$")
_CONV_PATH = re.compile(r"^@dtmm model .* conv path (\S+)\s*$", re.M)
_OVERFLOW = re.compile(r"region `?'?(\w+)'? overflowed by (\d+) bytes")


@dataclass
class ModelRun:
    """What one `dtmm run-model` produced."""

    board: str
    name: str
    outputs: list  # one numpy array (int8 or float32, flat) per input
    instructions: list  # retired instructions per inference
    profile: list | None  # per inference: {op label: instructions}, with --profile
    arena_bytes: int
    flash_bytes: int
    console: str = field(repr=False, default="")
    elf: Path | None = None
    conv_path: str | None = None  # the conv kernel path compiled in: "c", "dsp" or "mve"
    estimated_cycles: list | None = None  # per inference, with cycles=True (an estimate, see targets.cycles)
    profile_estimated_cycles: list | None = None  # per inference: {op label: estimated cycles}
    cycle_table: str | None = None  # where the timing table of the estimate comes from

    def as_dict(self) -> dict:
        d = {
            "board": self.board,
            "model": self.name,
            "outputs": [o.tolist() for o in self.outputs],
            "instructions_per_inference": list(self.instructions),
            "arena_bytes": self.arena_bytes,
            "flash_bytes": self.flash_bytes,
            "conv_path": self.conv_path,
        }
        if self.profile is not None:
            d["profile"] = self.profile
        if self.estimated_cycles is not None:
            d["estimated_cycles_per_inference"] = list(self.estimated_cycles)
            d["estimated_cycles_source"] = self.cycle_table
            if self.profile_estimated_cycles is not None:
                d["profile_estimated_cycles"] = self.profile_estimated_cycles
        return d


# ---- inputs --------------------------------------------------------------------------------
def load_inputs(path: str | os.PathLike) -> np.ndarray:
    p = Path(path)
    if not p.is_file():
        raise DtmmError(f"inputs file not found: {p}")
    with open(p, "rb") as f:
        magic = f.read(6)
    if magic != b"\x93NUMPY" and magic[:2] != b"PK":  # neither .npy nor a zip (.npz): numpy's guess would mislead
        raise DtmmError(f"{p}: not a .npy file (no NPY header); save the inputs with numpy.save")
    try:
        data = np.load(p, allow_pickle=False)
    except (ValueError, OSError, EOFError) as exc:
        raise DtmmError(f"{p}: not a readable .npy array ({str(exc).splitlines()[0] if str(exc) else type(exc).__name__})") from None
    if isinstance(data, np.lib.npyio.NpzFile):
        data.close()
        raise DtmmError(f"{p}: is an .npz archive; save one array with numpy.save")
    return data


def check_inputs(inputs: np.ndarray, packed: PackedModel, source: str = "inputs") -> np.ndarray:
    """``inputs`` as a C-contiguous array of shape (N, *input shape) in the model's input dtype."""
    io = packed.input
    want = np.dtype(np.int8 if io.dtype == "INT8" else np.float32)
    shape = tuple(io.shape)
    arr = np.asarray(inputs)
    if arr.dtype != want:
        raise DtmmError(
            f"{source}: dtype is {arr.dtype}, but the model input {io.name!r} is {want} "
            f"(convert with .astype(np.{want}) if the values are already {'quantized' if want == np.int8 else 'floats'})"
        )
    if arr.ndim >= 1 and arr.shape[1:] == shape:
        pass
    elif shape and shape[0] == 1 and arr.shape[1:] == shape[1:]:
        arr = arr.reshape((arr.shape[0],) + shape)
    else:
        raise DtmmError(
            f"{source}: shape {list(arr.shape)} does not match N x the model input shape {list(shape)} "
            f"(expected [N, {', '.join(str(d) for d in shape)}]"
            + (f" or [N, {', '.join(str(d) for d in shape[1:])}])" if shape and shape[0] == 1 else ")")
        )
    if arr.shape[0] < 1:
        raise DtmmError(f"{source}: contains no inputs (N = 0)")
    return np.ascontiguousarray(arr)


# ---- generated runner sources ----------------------------------------------------------------
def runner_config(packed: PackedModel) -> str:
    n, up = packed.name, packed.name.upper()
    return "\n".join(
        [
            "/* model_runner_config.h - generated by dtmm run-model. Do not edit. */",
            "#ifndef MODEL_RUNNER_CONFIG_H",
            "#define MODEL_RUNNER_CONFIG_H",
            f'#include "{n}.h"',
            f'#define RUNNER_MODEL_NAME "{n}"',
            f"#define RUNNER_INIT {n}_init",
            f"#define RUNNER_INVOKE {n}_invoke",
            f"#define RUNNER_INPUT {n}_input",
            f"#define RUNNER_OUTPUT {n}_output",
            f"#define RUNNER_PROFILE_REPORT {n}_profile_report",
            f"#define RUNNER_ERROR_OP {n}_error_op",
            f"#define RUNNER_OP_NAME {n}_op_name",
            f"#define RUNNER_INPUT_BYTES {up}_INPUT_BYTES",
            f"#define RUNNER_OUTPUT_TYPE {up}_OUTPUT_TYPE",
            f"#define RUNNER_OUTPUT_SIZE {up}_OUTPUT_SIZE",
            f"#define RUNNER_OUTPUT_IS_FLOAT {up}_OUTPUT_IS_FLOAT",
            f"#define RUNNER_ARENA_SIZE {up}_ARENA_SIZE",
            f"#define RUNNER_FLASH_BYTES {up}_FLASH_BYTES",
            "#endif",
            "",
        ]
    )


def inputs_header(inputs: np.ndarray, input_bytes: int) -> str:
    raw = np.ascontiguousarray(inputs).view(np.uint8).reshape(inputs.shape[0], -1)
    assert raw.shape[1] == input_bytes
    lines = [
        "/* model_inputs.h - generated by dtmm run-model. Do not edit. */",
        "#ifndef MODEL_INPUTS_H",
        "#define MODEL_INPUTS_H",
        "#include <stdint.h>",
        f"#define RUNNER_NUM_INPUTS {raw.shape[0]}u",
        f"static const uint8_t runner_inputs[{raw.shape[0]}][{input_bytes}] __attribute__((aligned(16))) = {{",
    ]
    for row in raw:
        lines.append("    {")
        for i in range(0, row.size, 24):
            lines.append("        " + ",".join(str(int(v)) for v in row[i : i + 24]) + ",")
        lines.append("    },")
    lines += ["};", "#endif", ""]
    return "\n".join(lines)


def runner_sources(packed: PackedModel, inputs: np.ndarray, repo_root: Path) -> dict:
    main_c = repo_root / RUNNER_APP / "main.c"
    if not main_c.is_file():
        raise DtmmError(f"runner firmware source {main_c} is missing")
    files = {
        "main.c": main_c.read_bytes(),
        f"{packed.name}.c": packed.files[f"{packed.name}.c"],
        f"{packed.name}.h": packed.files[f"{packed.name}.h"],
        "model_runner_config.h": runner_config(packed).encode(),
        "model_inputs.h": inputs_header(inputs, packed.input.bytes).encode(),
    }
    return files


#: work directories kept under .pio/dtmm-run-model (least recently used ones beyond this go)
KEEP_WORK_DIRS = 48
#: ... but never one used in the last this many seconds (a concurrent run may be using it)
KEEP_RECENT_SECONDS = 3600


def prune_work_dirs(root: Path, keep: int = KEEP_WORK_DIRS, min_age: float = KEEP_RECENT_SECONDS) -> None:
    """Removes the least recently used work directories beyond ``keep``."""
    try:
        dirs = sorted((d for d in root.iterdir() if d.is_dir() and not d.name.startswith(".")),
                      key=lambda d: d.stat().st_mtime, reverse=True)
    except OSError:
        return
    now = time.time()
    for d in dirs[keep:]:
        try:
            if now - d.stat().st_mtime > min_age:
                shutil.rmtree(d, ignore_errors=True)
        except OSError:
            pass


def materialize(files: dict, root: Path, name: str) -> Path:
    """``root/<name>-<hash>/src`` holding ``files``; created atomically, reused if present."""
    h = hashlib.sha256()
    for fname in sorted(files):
        h.update(fname.encode() + b"\0" + hashlib.sha256(files[fname]).digest())
    work = root / f"{name}-{h.hexdigest()[:16]}"
    src = work / "src"
    if src.is_dir():
        try:
            os.utime(work)  # most recently used
        except OSError:
            pass
        return src
    prune_work_dirs(root)
    work.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".src.", dir=work))
    try:
        for fname, data in files.items():
            (tmp / fname).write_bytes(data)
        try:
            os.rename(tmp, src)
        except OSError:
            if not src.is_dir():
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return src


@contextlib.contextmanager
def _locked(path: Path):
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


# ---- checks -------------------------------------------------------------------------------------
def check_tools() -> None:
    if shutil.which(TOOLCHAIN_GCC) is None:
        raise DtmmError(
            f"{TOOLCHAIN_GCC} not found on PATH; install gcc-arm-none-eabi and libnewlib-arm-none-eabi "
            "(or run 'make bootstrap')"
        )
    if shutil.which(QEMU_BINARY) is None:
        raise DtmmError(f"{QEMU_BINARY} not found on PATH; install qemu-system-arm (or run 'make bootstrap')")


def fit_line(packed: PackedModel, board: Board) -> str:
    """One line saying how the packed model fits `board`, e.g. for `dtmm pack --board` (after check_fit)."""
    ram = packed.arena_bytes + board.stack_bytes + RUNTIME_VARIABLES_BYTES
    flash = packed.flash_bytes + CODE_ESTIMATE_BYTES
    return (f"fits {board.name}: flash about {flash:,} / {board.flash_bytes:,} B (weights and parameters "
            f"{packed.flash_bytes:,} + code ~{CODE_ESTIMATE_BYTES:,}), RAM about {ram:,} / {board.ram_bytes:,} B "
            f"(arena {packed.arena_bytes:,} + stack and runtime {board.stack_bytes + RUNTIME_VARIABLES_BYTES:,})")


def check_fit(packed: PackedModel, n_inputs: int, board: Board) -> None:
    """Refuses up front a model that cannot fit the board (arena + stack in RAM,
    weights + inputs + code in flash); the linker's own check follows."""
    overhead = board.stack_bytes + RUNTIME_VARIABLES_BYTES
    ram = packed.arena_bytes + overhead
    if ram > board.ram_bytes:
        raise DtmmError(
            f"model does not fit {board.name}: needs about {ram} bytes of RAM (arena {packed.arena_bytes} + "
            f"stack and runtime {overhead}), the board has {board.ram_bytes}"
        )
    inputs = n_inputs * packed.input.bytes
    flash = packed.flash_bytes + inputs + CODE_ESTIMATE_BYTES
    if flash > board.flash_bytes:
        raise DtmmError(
            f"model does not fit {board.name}: needs about {flash} bytes of flash (model flash {packed.flash_bytes} + "
            f"{n_inputs} inputs {inputs} + code ~{CODE_ESTIMATE_BYTES}), the board has {board.flash_bytes}"
        )


def _build(src: Path, board: Board, build_dir: Path, profile: bool, repo_root: Path) -> Path:
    defines = ["DTMM_PROFILE"] if profile else []
    try:
        with _locked(build_dir.with_suffix(".lock")):
            return platformio.build(src, board.name, build_dir=build_dir, defines=defines, repo_root=repo_root)
    except DtmmError as exc:
        m = _OVERFLOW.search(str(exc))
        if m:
            raise DtmmError(
                f"model does not fit {board.name}: the linker reports region {m.group(1)} "
                f"overflowed by {m.group(2)} bytes"
            ) from None
        raise


# ---- console parsing ----------------------------------------------------------------------------
def parse_console(console: str, packed: PackedModel, n_inputs: int, profile: bool):
    outputs: list = []
    instructions, prof = inference_measurements(console)
    dtype = np.float32 if packed.output.is_float else np.int8
    for line in console.splitlines():
        m = OUTPUT_LINE.match(line.strip())
        if m:
            arr = output_values(m.group(1), m.group(3), dtype)
            if arr.size != packed.output.elements:
                raise DtmmError(f"runner printed {arr.size} output values, expected {packed.output.elements}")
            outputs.append(arr)
    if len(outputs) != n_inputs or len(instructions) != n_inputs:
        raise DtmmError(
            f"runner reported {len(outputs)} outputs and {len(instructions)} measurements for {n_inputs} inputs"
        )
    return outputs, instructions, (prof if profile else None)


# ---- the whole thing ----------------------------------------------------------------------------
def run_model(
    model,
    board: str,
    inputs: np.ndarray,
    *,
    profile: bool = False,
    timeout: float = 300.0,
    name: str | None = None,
    lowering=None,
    progress: Callable[[str], None] | None = None,
    repo_root: str | os.PathLike | None = None,
    packed: PackedModel | None = None,
    inputs_name: str = "inputs",
    cycles: bool = False,
) -> ModelRun:
    """Packs ``model`` (unless ``packed`` is given), builds the runner for ``board`` and runs every input.

    With ``cycles`` the run is traced instruction by instruction and priced with the
    core's timing table (:mod:`.cycles`): estimated cycles beside the exact instructions."""
    say = progress or (lambda msg: None)
    b = get_board(board)
    if not b.emulated:
        raise DtmmError(
            f"board '{b.name}' is real hardware; run-model runs under QEMU only "
            "(pack the model with `dtmm pack` and build it into your own firmware)"
        )
    root = Path(repo_root).resolve() if repo_root else platformio.find_repo_root()
    if packed is None:
        packed = pack_model(model, name, lowering=lowering)
    arr = check_inputs(inputs, packed, inputs_name)
    n = arr.shape[0]
    say(
        f"packed {packed.name}: {len(packed.lowered)} ops, arena {packed.arena_bytes} bytes, "
        f"model flash {packed.flash_bytes} bytes"
    )
    check_fit(packed, n, b)
    check_tools()
    src = materialize(runner_sources(packed, arr, root), root / WORK_DIR, packed.name)
    build_dir = src.parent / f"build-{b.name}{'-profile' if profile else ''}"
    say(f"building the model runner for {b.name} with PlatformIO ...")
    elf = _build(src, b, build_dir, profile, root)
    estimate = None
    if cycles:
        say(f"tracing {n} inference{'s' if n != 1 else ''} on {b.name} under QEMU (one log line per instruction) ...")
        result, estimate = _traced_run(elf, b, timeout, say)
    else:
        say(f"running {n} inference{'s' if n != 1 else ''} on {b.name} under QEMU ...")
        result = run_firmware(elf, b.name, timeout)
    if result.exit_code != 0:
        errors = [m.group(1) for m in map(_ERROR_LINE.match, result.console.splitlines()) if m]
        last = result.console.strip().splitlines()[-1] if result.console.strip() else "(no console output)"
        what = EXIT_CODES.get(result.exit_code, f"exit status {result.exit_code}")
        detail = errors[0] if errors else last
        raise DtmmError(f"model runner on {b.name}: {what}: {detail}")
    outputs, instructions, prof = parse_console(result.console, packed, n, profile)
    est_cycles = est_profile = None
    if estimate is not None:
        est_cycles, est_profile = cycles_mod.match_measurements(cycles_mod.inference_regions(estimate),
                                                                instructions, prof)
    return ModelRun(
        board=b.name,
        name=packed.name,
        outputs=outputs,
        instructions=instructions,
        profile=prof,
        arena_bytes=packed.arena_bytes,
        flash_bytes=packed.flash_bytes,
        console=result.console,
        elf=elf,
        conv_path=(lambda m: m.group(1) if m else None)(_CONV_PATH.search(result.console)),
        estimated_cycles=est_cycles,
        profile_estimated_cycles=est_profile,
        cycle_table=timing_for(b.cpu).source if cycles else None,
    )


def _traced_run(elf: Path, board: Board, timeout: float, say: Callable[[str], None]):
    """The runner under QEMU with its instruction trace priced as it streams by."""
    program = disassemble(elf, board.cpu)
    timing = timing_for(board.cpu)
    result, summary = run_traced(elf, board.name, lambda pcs: cycles_mod.estimate(pcs, program, timing), timeout,
                                 progress=lambda count: say(f"traced {count / 1e6:.1f} M instructions ..."))
    if summary.unknown:
        say(f"warning: {summary.unknown} traced instructions were not in the disassembly (priced at 1 cycle)")
    return result, summary
