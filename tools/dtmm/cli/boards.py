"""`dtmm boards`: the boards DTMM can build for, emulated and real."""
from __future__ import annotations

import json

import click

from ..targets.boards import BOARDS


def _size(n: int) -> str:
    return f"{n // (1024 * 1024)} MiB" if n % (1024 * 1024) == 0 else f"{n // 1024} KiB"


@click.command()
@click.option("--json", "as_json", is_flag=True, help="print a JSON list instead of a table")
def boards(as_json: bool):
    """List boards with CPU, QEMU machine, features and memory sizes.

    \b
    Examples:
      dtmm boards
      dtmm boards --json | jq '.[] | select(.qemu_machine != null) | .name'
    """
    rows = [b.as_dict() for b in BOARDS.values()]
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    header = ("board", "cpu", "qemu machine", "features", "flash", "ram", "description")
    table = [header] + [
        (r["name"], r["cpu"], r["qemu_machine"] or "-(hardware)", ",".join(r["features"]) or "-",
         _size(r["flash_bytes"]), _size(r["ram_bytes"]), r["description"])
        for r in rows
    ]
    widths = [max(len(row[i]) for row in table) for i in range(len(header) - 1)]
    for row in table:
        cells = [cell.ljust(width) for cell, width in zip(row, widths)]
        click.echo("  ".join(cells + [row[-1]]).rstrip())
