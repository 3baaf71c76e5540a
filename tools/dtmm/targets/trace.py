"""Run firmware under QEMU with an instruction trace, streamed (never stored) into a consumer.

QEMU 7.2 logs every translation block it starts with ``-d exec,nochain``;
with ``-singlestep`` a block is one instruction, so the ``Trace`` lines are
the executed addresses in order.  A block QEMU starts but abandons (an
instruction doing I/O re-translated by ``cpu_io_recompile``, or a chain
stopped by a pending interrupt) is logged and then retracted by the next
line; :func:`trace_pcs` drops it, so one address is one retired instruction.
``-icount`` stays on, so the run -- interrupts included -- is the same as the
measured one.  The log goes to QEMU's stderr pipe and is consumed as it
arrives: a ResNet-8 inference is ~15 M lines, about 1 GB of text.
"""
from __future__ import annotations

import io
import subprocess
import threading
from pathlib import Path
from typing import Callable, Iterable, Iterator, TypeVar

from ..errors import DtmmError
from .boards import get_board
from .qemu import QEMU_BINARY, FirmwareTimeout, RunResult, check_firmware_file, parse_measurements, qemu_command

TRACE_FLAGS = ["-singlestep", "-d", "exec,nochain"]
_RETRACT = ("Stopped execution of TB chain", "cpu_io_recompile:")
PROGRESS_EVERY = 1 << 22  # instructions between progress reports
T = TypeVar("T")


def trace_pcs(lines: Iterable[str], other: list | None = None,
              progress: Callable[[int], None] | None = None) -> Iterator[str]:  # fmt: skip
    """The executed addresses (``%08x``) of QEMU ``-d exec`` log lines, retracted blocks dropped.

    Lines that are neither trace nor retraction (QEMU's own messages) go to ``other``."""
    pending = None
    count = 0
    for line in lines:
        if line.startswith("Trace "):
            if pending is not None:
                yield pending
                count += 1
                if progress is not None and count % PROGRESS_EVERY == 0:
                    progress(count)
            try:
                pending = line.split("/", 2)[1]
            except IndexError:
                raise DtmmError(f"unexpected QEMU trace line: {line.strip()[:80]}") from None
        elif line.startswith(_RETRACT):
            pending = None
        elif other is not None and len(other) < 20:
            other.append(line.rstrip("\n"))
    if pending is not None:
        yield pending


def run_traced(elf: Path | str, board_name: str, consume: Callable[[Iterator[str]], T], timeout: float = 600.0,
               progress: Callable[[int], None] | None = None) -> tuple[RunResult, T]:  # fmt: skip
    """Runs ``elf`` on ``board_name`` like :func:`.qemu.run_firmware`, feeding the executed
    addresses to ``consume`` as they arrive; returns the run and what ``consume`` returned."""
    board = get_board(board_name)
    elf = Path(elf)
    check_firmware_file(elf)
    cmd = qemu_command(board, elf) + TRACE_FLAGS
    try:
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    except FileNotFoundError:
        raise DtmmError(f"{QEMU_BINARY} not found on PATH; install qemu-system-arm (or run 'make bootstrap')") from None
    console: list[str] = []
    timed_out = threading.Event()

    def pump_stdout():
        assert proc.stdout is not None
        for raw in iter(proc.stdout.readline, b""):
            console.append(raw.decode("utf-8", errors="replace").replace("\r\n", "\n"))

    def expire():
        timed_out.set()
        proc.kill()

    reader = threading.Thread(target=pump_stdout, daemon=True)
    reader.start()
    timer = threading.Timer(timeout, expire)
    timer.start()
    other: list[str] = []
    try:
        assert proc.stderr is not None
        log = io.TextIOWrapper(proc.stderr, encoding="ascii", errors="replace")
        result = consume(trace_pcs(log, other, progress))
        for _ in log:  # whatever the consumer left (it should have read everything)
            pass
        proc.wait()
    except BaseException:
        proc.kill()
        proc.wait()
        raise
    finally:
        timer.cancel()
        reader.join(timeout=5)
    text = "".join(console)
    if timed_out.is_set():
        last = text.strip().splitlines()[-1] if text.strip() else "(no console output)"
        raise FirmwareTimeout(f"traced firmware did not exit within {timeout:g} s on {board.name}; QEMU stopped "
                              f"(last console line: {last})", text)  # fmt: skip
    errors = [line for line in other if line.startswith(QEMU_BINARY + ":")]
    if errors and not text:
        raise DtmmError(f"QEMU could not trace {elf.name} on {board.name}: {errors[0]}")
    return RunResult(board.name, proc.returncode, text, parse_measurements(text)), result
