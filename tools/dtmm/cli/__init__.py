"""The `dtmm` command line: a click group; each subcommand lives in its own module."""
from __future__ import annotations

import sys

import click

from .. import __version__
from ..errors import DtmmError


class _Group(click.Group):
    """Turns DtmmError into a one-line message and exit status 2, never a traceback."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except DtmmError as exc:
            click.echo(f"dtmm: error: {exc}", err=True)
            sys.exit(2)


@click.group(cls=_Group)
@click.version_option(__version__, prog_name="dtmm")
def main():
    """DTMM: filterlet-pruned TinyML models on Cortex-M microcontrollers."""


def _register():
    from . import (bench, boards, calibrate, compare, convert, demo, estimate, inspect, pack, profile, prune, report,
                   run, run_model, train_reference)

    main.add_command(boards.boards)
    main.add_command(run.run)
    main.add_command(inspect.inspect)
    main.add_command(bench.bench)
    main.add_command(pack.pack)
    main.add_command(run_model.run_model)
    main.add_command(prune.prune)
    main.add_command(compare.compare)
    main.add_command(report.report)
    main.add_command(calibrate.calibrate)
    main.add_command(estimate.estimate)
    main.add_command(train_reference.train_reference)
    main.add_command(demo.demo)
    main.add_command(profile.profile)
    main.add_command(convert.convert)


_register()


if __name__ == "__main__":
    main()
