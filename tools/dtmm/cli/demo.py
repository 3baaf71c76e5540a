"""`dtmm demo`: the whole DTMM demo (what `make demo` runs), as a subcommand of the dtmm command line.

The demo keeps its own argparse options (dtmm.demo.run); this command hands
every argument to it unchanged, --help included.
"""
from __future__ import annotations

import sys

import click


@click.command("demo", add_help_option=False,
               context_settings={"ignore_unknown_options": True, "allow_extra_args": True})
@click.pass_context
def demo(ctx: click.Context):
    """Prune ResNet-8 to a budget, pack, build and run it on emulated Cortex-M, compare with dense.

    `dtmm demo --help` lists the options (the same as `make demo`'s).
    """
    from ..demo.run import main as demo_main

    sys.exit(demo_main(list(ctx.args)))
