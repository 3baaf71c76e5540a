"""Reading a real board's run over its serial console (pyserial): the protocol QEMU runs speak.

A DTMM firmware on a real board prints the same ``@dtmm ...`` lines as under
QEMU and ends with ``@dtmm exit STATUS`` (boards/hardware/board_hardware.c), where
QEMU would stop with that status. :func:`read_serial_run` collects the lines
until then and returns a :class:`~dtmm.targets.qemu.RunResult`; its counts are
the board's counter, CPU cycles (the DWT cycle counter), not QEMU-retired
instructions. A port that never answers, or answers without a single
``@dtmm`` line (a wrong baud rate reads as garbage), is one clear error
naming the port and what to check.
"""
from __future__ import annotations

import re
import time
from typing import Callable

from ..errors import DtmmError
from .qemu import COUNTER_UNITS, FirmwareTimeout, RunResult, parse_measurements

EXIT_LINE = re.compile(r"^@dtmm exit (-?\d+)\s*$")
PROTOCOL_PREFIX = "@dtmm "
SERIAL_UNIT = COUNTER_UNITS["cycles"]
DEFAULT_BAUD = 115200


def _open_port(port: str, baud: int):
    try:
        import serial
    except ImportError:  # pragma: no cover - pyserial is a dependency
        raise DtmmError("reading a board over a serial port needs pyserial (pip install pyserial)") from None
    try:
        return serial.serial_for_url(port, baudrate=baud, timeout=0.1)
    except (serial.SerialException, OSError, ValueError) as exc:
        reasons = re.findall(r"\[Errno \d+\] ([^:']+)", str(exc))  # pyserial nests the OS error
        raise DtmmError(f"cannot open serial port {port}: {reasons[-1] if reasons else exc}") from None


def read_serial_run(
    port: str,
    baud: int = DEFAULT_BAUD,
    timeout: float = 60.0,
    on_line: Callable[[str], None] | None = None,
    board_name: str | None = None,
) -> RunResult:
    """Lines from ``port`` until ``@dtmm exit STATUS`` or ``timeout`` seconds; the run's result.

    Raises DtmmError when the port cannot be opened and FirmwareTimeout when the run does not end in
    time (with no data at all, with no protocol line, or stopping part-way)."""
    conn = _open_port(port, baud)
    lines: list[str] = []
    pending = b""
    received = 0
    exit_code = None
    deadline = time.monotonic() + timeout
    try:
        while exit_code is None and time.monotonic() < deadline:
            chunk = conn.read(4096)
            if not chunk:
                continue
            received += len(chunk)
            pending += chunk
            while b"\n" in pending and exit_code is None:
                raw, pending = pending.split(b"\n", 1)
                line = raw.decode("utf-8", errors="replace").rstrip("\r") + "\n"
                lines.append(line)
                if on_line is not None:
                    on_line(line)
                match = EXIT_LINE.match(line.strip())
                if match:
                    exit_code = int(match.group(1))
    finally:
        conn.close()
    console = "".join(lines)
    if exit_code is None:
        where = f"{port} at {baud} baud"
        if received == 0:
            msg = f"no data from {where} within {timeout:g} s: is the board flashed, powered and reset?"
        elif not any(line.startswith(PROTOCOL_PREFIX) for line in lines):
            msg = (f"{where} sent {received} bytes but no '@dtmm' line within {timeout:g} s: "
                   "wrong baud rate, or not a DTMM firmware?")  # fmt: skip
        else:
            last = console.strip().splitlines()[-1]
            msg = f"the firmware on {where} did not finish within {timeout:g} s (last line: {last})"
        raise FirmwareTimeout(msg, console)
    return RunResult(board_name or f"serial:{port}", exit_code, console, parse_measurements(console))
