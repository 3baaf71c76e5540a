"""`dtmm run`: run a firmware ELF on an emulated board and report its results."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from ..targets.qemu import FirmwareTimeout, echo_line, run_firmware

TIMEOUT_EXIT_CODE = 124


@click.command()
@click.argument("firmware", type=click.Path(path_type=Path))
@click.option("--board", "board_name", required=True, help="emulated board, e.g. qemu-m4 (see `dtmm boards`)")
@click.option("--timeout", default=60.0, show_default=True, type=click.FloatRange(min=0.1),
              help="seconds of host time before QEMU is stopped")
@click.option("--json", "as_json", is_flag=True, help="print one JSON object instead of streaming the console")
def run(firmware: Path, board_name: str, timeout: float, as_json: bool):
    """Run FIRMWARE (an ELF) under QEMU; exit with the firmware's own status.

    Measurements printed by the firmware (`@dtmm measure NAME COUNT`) are
    QEMU-retired instruction counts, exact and repeatable.

    \b
    Examples:
      dtmm run .pio/build/qemu-m4/firmware.elf --board qemu-m4
      dtmm run firmware.elf --board qemu-m55 --timeout 30 --json
    """
    try:
        result = run_firmware(firmware, board_name, timeout, on_line=None if as_json else echo_line)
    except FirmwareTimeout as exc:
        if as_json:
            click.echo(json.dumps({"board": board_name, "exit_code": None, "console": exc.console,
                                   "measurements": {}, "error": str(exc)}, indent=2))
        click.echo(f"dtmm: error: {exc}", err=True)
        sys.exit(TIMEOUT_EXIT_CODE)
    if as_json:
        click.echo(json.dumps(result.as_dict(), indent=2))
    sys.exit(result.exit_code)
