"""`dtmm run`: run a firmware ELF on an emulated board, or read a real board over its serial port."""
from __future__ import annotations

import json
import sys
from functools import partial
from pathlib import Path

import click

from ..targets.qemu import COUNTER_UNITS, FirmwareTimeout, core_clock_hz, counter_unit, echo_line, run_firmware
from ..targets.serial_port import DEFAULT_BAUD, SERIAL_UNIT, read_serial_run

TIMEOUT_EXIT_CODE = 124
QEMU_UNIT = COUNTER_UNITS["instructions"]


@click.command()
@click.argument("firmware", type=click.Path(path_type=Path), required=False)
@click.option("--board", "board_name", default=None, help="emulated board, e.g. qemu-m4 (see `dtmm boards`)")
@click.option("--port", default=None, metavar="DEVICE",
              help="read a real board's run from this serial port instead (e.g. /dev/ttyACM0); no FIRMWARE")
@click.option("--baud", default=DEFAULT_BAUD, show_default=True, type=click.IntRange(min=50),
              help="with --port: the console's baud rate")
@click.option("--timeout", default=60.0, show_default=True, type=click.FloatRange(min=0.1),
              help="seconds of host time before QEMU is stopped (or the serial port given up)")
@click.option("--json", "as_json", is_flag=True, help="print one JSON object instead of streaming the console")
def run(firmware: Path | None, board_name: str | None, port: str | None, baud: int, timeout: float, as_json: bool):
    """Run FIRMWARE (an ELF) under QEMU, or read a flashed real board's run with --port; exit with the
    firmware's own status.

    Measurements printed by the firmware (`@dtmm measure NAME COUNT`) are
    QEMU-retired instruction counts under QEMU (exact and repeatable) and CPU
    cycles on a real board (its DWT cycle counter); the JSON names the unit.
    With --port the board runs what it was flashed with (`pio run -e ENV -t
    upload`); reset it after starting the command.

    \b
    Examples:
      dtmm run .pio/build/qemu-m4/firmware.elf --board qemu-m4
      dtmm run firmware.elf --board qemu-m55 --timeout 30 --json
      dtmm run --port /dev/ttyACM0 --baud 115200 --timeout 120 --json
    """
    if port is not None:
        if firmware is not None:
            raise click.UsageError("with --port the board runs what it was flashed with: give no FIRMWARE")
        unit = SERIAL_UNIT
        start = partial(read_serial_run, port, baud, timeout, on_line=None if as_json else echo_line,
                        board_name=board_name)
    else:
        if firmware is None or board_name is None:
            raise click.UsageError("give FIRMWARE and --board (QEMU), or --port (a real board)")
        unit = QEMU_UNIT
        start = partial(run_firmware, firmware, board_name, timeout, on_line=None if as_json else echo_line)
    try:
        result = start()
    except FirmwareTimeout as exc:
        if as_json:
            click.echo(json.dumps({"board": board_name or f"serial:{port}", "exit_code": None, "unit": unit,
                                   "console": exc.console, "measurements": {}, "error": str(exc)}, indent=2))
        click.echo(f"dtmm: error: {exc}", err=True)
        sys.exit(TIMEOUT_EXIT_CODE)
    declared = counter_unit(result.console)
    if declared is not None:
        unit = COUNTER_UNITS.get(declared, declared)
    if as_json:
        doc = {**result.as_dict(), "unit": unit}
        clock = core_clock_hz(result.console)
        if clock is not None:
            doc["core_clock_hz"] = clock  # cycles / core_clock_hz = seconds on that board
        click.echo(json.dumps(doc, indent=2))
    sys.exit(result.exit_code)
