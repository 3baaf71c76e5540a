"""`dtmm report DIR`: render a run directory (make demo, dtmm prune) as Markdown plus PNG plots."""
from __future__ import annotations

from pathlib import Path

import click


@click.command("report")
@click.argument("run_dir", metavar="DIR", type=click.Path(path_type=Path))
@click.option("--out", "out_dir", default=None, type=click.Path(path_type=Path, file_okay=False),
              help="output directory (default DIR/report)")
def report(run_dir: Path, out_dir: Path | None):
    """Render DIR as report.md plus PNG plots (accuracy vs flash, instructions per layer, flash per layer).

    DIR is a `make demo` run directory (out/demo: summary.json and
    prune/<budget>/report.json) or a directory holding `dtmm prune` output
    (report.json in it or in its subdirectories; every budget found becomes
    a point of the accuracy-vs-flash plot), plus the per-operator profiles
    `dtmm run-model --profile --save DIR` left there. DIR may also be given
    as its summary.json or report.json.

    \b
    Examples:
      dtmm report out/demo
      dtmm report out/m50 --out out/m50-report
    """
    from ..report import render_report

    paths = render_report(run_dir, out_dir)
    for p in paths:
        click.echo(str(p))
