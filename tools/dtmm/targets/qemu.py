"""Run firmware on an emulated board under QEMU and collect what it reports.

QEMU is started with ``-icount shift=ICOUNT_SHIFT`` so that virtual time, and
with it the SysTick counter the firmware reads, advances by a fixed amount per
retired instruction: measurements are exact and repeatable, independent of
host load.  The firmware prints ``@dtmm measure NAME COUNT`` lines; they are
collected into ``RunResult.measurements``.
"""
from __future__ import annotations

import re
import shutil
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from ..errors import DtmmError
from .boards import BOARDS, ICOUNT_SHIFT, Board, emulated_boards, get_board

QEMU_BINARY = "qemu-system-arm"
MEASURE_LINE = re.compile(r"^@dtmm measure (\S+) (\d+)\s*$")
#: ``@dtmm counter <unit>``: what the board's counter counts, printed once at start-up
COUNTER_LINE = re.compile(r"^@dtmm counter (\S+)\s*$", re.M)
#: ``@dtmm clock <Hz>``: the core clock a real board's clock tree reached (cycles -> seconds)
CLOCK_LINE = re.compile(r"^@dtmm clock (\d+)\s*$", re.M)
#: how records name each counter unit (``dtmm run --json``, demo.json)
COUNTER_UNITS = {
    "instructions": "QEMU-retired instructions (not cycles)",
    "cycles": "cycles (DWT cycle counter of the real core)",
}
#: ``@dtmm output <i> <v>...`` (int8 decimal) / ``@dtmm output_f32 <i> <hex bits>...``
OUTPUT_LINE = re.compile(r"^@dtmm (output|output_f32) (\d+)((?: \S+)*)\s*$")
ELF_MAGIC = b"\x7fELF"
EM_ARM = 40


class FirmwareTimeout(DtmmError):
    """The firmware did not exit in time; QEMU was stopped."""

    def __init__(self, message: str, console: str):
        super().__init__(message)
        self.console = console


@dataclass
class RunResult:
    board: str
    exit_code: int
    console: str
    measurements: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict:
        return {
            "board": self.board,
            "exit_code": self.exit_code,
            "console": self.console,
            "measurements": dict(self.measurements),
        }


def counter_unit(console: str) -> str | None:
    """The unit the firmware declared for its counts ("instructions" under QEMU, "cycles" on a real
    board's DWT counter), or None for a console without the line."""
    match = COUNTER_LINE.search(console.replace("\r", ""))
    return match.group(1) if match else None


def core_clock_hz(console: str) -> int | None:
    """The core clock a real board reported at start-up, or None (QEMU boards do not report one)."""
    match = CLOCK_LINE.search(console.replace("\r", ""))
    return int(match.group(1)) if match else None


def parse_measurements(console: str) -> dict[str, int]:
    """``@dtmm measure`` lines as {name: count}; a repeated name gets ``#2``, ``#3``..."""
    found: dict[str, int] = {}
    for line in console.splitlines():
        match = MEASURE_LINE.match(line.strip())
        if not match:
            continue
        name, count = match.group(1), int(match.group(2))
        key, n = name, 1
        while key in found:
            n += 1
            key = f"{name}#{n}"
        found[key] = count
    return found


def inference_measurements(console: str) -> tuple[list[int], list[dict[str, int]]]:
    """Counts of the ``inference`` measurements in order, and for each the other
    measurements (per-operator profile) that follow it up to the next one."""
    instructions: list[int] = []
    profile: list[dict[str, int]] = []
    for line in console.splitlines():
        match = MEASURE_LINE.match(line.strip())
        if not match:
            continue
        if match.group(1) == "inference":
            instructions.append(int(match.group(2)))
            profile.append({})
        elif profile:
            profile[-1][match.group(1)] = int(match.group(2))
    return instructions, profile


def output_values(kind: str, text: str, int_dtype=np.int8) -> np.ndarray:
    """The values of an ``OUTPUT_LINE``: decimal ints, or float32 bit patterns in hex for ``output_f32``."""
    values = text.split()
    if kind == "output_f32":
        return np.array([int(v, 16) for v in values], dtype=np.uint32).view(np.float32)
    return np.array([int(v) for v in values], dtype=np.int64).astype(int_dtype)


def check_firmware_file(elf: Path) -> None:
    """Clear errors for the usual mistakes before QEMU gives a cryptic one."""
    if not elf.exists():
        raise DtmmError(f"firmware file not found: {elf}")
    if not elf.is_file():
        raise DtmmError(f"firmware path is not a file: {elf}")
    header = elf.read_bytes()[:20]
    if header[:4] != ELF_MAGIC:
        raise DtmmError(f"not an ELF file: {elf}")
    if header[4] != 1 or int.from_bytes(header[18:20], "little") != EM_ARM:
        raise DtmmError(f"not a 32-bit Arm ELF file: {elf}")


def boards_named_in(elf: Path, boards=None) -> list[str]:
    """The boards (default: the emulated ones) whose name the firmware holds as a C string (DTMM firmware
    holds exactly its own)."""
    data = Path(elf).read_bytes()  # (the string may follow code in a literal pool: match its end only)
    return [b.name for b in (emulated_boards() if boards is None else boards) if b.name.encode() + b"\0" in data]


def check_firmware_board(elf: Path, board: Board) -> None:
    """A DTMM firmware built for another board would hang or garble its console there: refuse it up front."""
    named = boards_named_in(elf)
    if named and board.name not in named:
        raise DtmmError(f"{elf} was built for {' / '.join(named)}, not {board.name}; run it with --board {named[0]}")
    if not named:
        real = boards_named_in(elf, [b for b in BOARDS.values() if not b.emulated])
        if real:  # its exit is a line on the UART, not QEMU's: it would run until the timeout
            raise DtmmError(f"{elf} was built for the real board {real[0]}: flash it (pio run -e {real[0]} -t upload) "
                            f"and read it with `dtmm run --port`, or build for an emulated board such as {board.name}")


def qemu_command(board: Board, elf: Path) -> list[str]:
    """The QEMU command line that runs ``elf`` on ``board``."""
    if not board.emulated:
        raise DtmmError(f"board '{board.name}' is real hardware, not emulated; flash it with PlatformIO")
    return [
        QEMU_BINARY,
        "-M", board.qemu_machine,
        "-nographic",
        "-monitor", "none",
        "-serial", "stdio",
        "-semihosting-config", "enable=on,target=native",
        "-icount", f"shift={ICOUNT_SHIFT},align=off,sleep=off",
        "-kernel", str(elf),
    ]


def run_firmware(
    elf: Path | str,
    board_name: str,
    timeout: float = 60.0,
    on_line: Callable[[str], None] | None = None,
) -> RunResult:
    """Run ``elf`` on ``board_name`` until it exits or ``timeout`` seconds pass.

    ``on_line`` receives each console line as it arrives (for streaming).
    Raises FirmwareTimeout when the firmware does not exit in time, and
    DtmmError when QEMU is missing or refuses the firmware.
    """
    board = get_board(board_name)
    elf = Path(elf)
    check_firmware_file(elf)
    check_firmware_board(elf, board)
    cmd = qemu_command(board, elf)
    if shutil.which(QEMU_BINARY) is None:
        raise DtmmError(
            f"{QEMU_BINARY} not found on PATH; install it (apt-get install qemu-system-arm) or run 'make bootstrap'"
        )

    proc = subprocess.Popen(
        cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    lines: list[str] = []
    stderr_chunks: list[bytes] = []

    def pump_stdout():
        assert proc.stdout is not None
        for raw in iter(proc.stdout.readline, b""):
            line = raw.decode("utf-8", errors="replace").replace("\r\n", "\n")
            lines.append(line)
            if on_line is not None:
                on_line(line)

    def pump_stderr():
        assert proc.stderr is not None
        stderr_chunks.append(proc.stderr.read())

    readers = [threading.Thread(target=pump_stdout, daemon=True),
               threading.Thread(target=pump_stderr, daemon=True)]
    for reader in readers:
        reader.start()
    deadline = time.monotonic() + timeout
    try:
        proc.wait(timeout=max(0.0, deadline - time.monotonic()))
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        for reader in readers:
            reader.join(timeout=5)
        console = "".join(lines)
        last = console.strip().splitlines()[-1] if console.strip() else "(no console output)"
        raise FirmwareTimeout(
            f"firmware did not exit within {timeout:g} s on {board.name}; QEMU stopped "
            f"(last console line: {last})",
            console,
        ) from None
    for reader in readers:
        reader.join(timeout=5)

    console = "".join(lines)
    stderr = b"".join(stderr_chunks).decode("utf-8", errors="replace")
    qemu_errors = [l for l in stderr.splitlines() if l.startswith(QEMU_BINARY + ":")]
    if qemu_errors and not console:
        raise DtmmError(f"QEMU could not run {elf.name} on {board.name}: {qemu_errors[0]}")
    return RunResult(board.name, proc.returncode, console, parse_measurements(console))


def echo_line(line: str) -> None:
    """Stream a console line to stdout as it arrives."""
    sys.stdout.write(line)
    sys.stdout.flush()
