"""`dtmm compare`: prune with DTMM and the baselines at several budgets, measure all on QEMU boards."""
from __future__ import annotations

from pathlib import Path

import click

from ..tf_startup import quiet_tensorflow


def _log(msg: str) -> None:
    click.echo(f"dtmm compare: {msg}", err=True)


@click.command("compare")
@click.argument("model_path", metavar="MODEL", type=click.Path(path_type=Path))
@click.option("--data", "data_path", required=True, type=click.Path(path_type=Path),
              help="image folder (train/, test/), .tar.gz of one, or .npz with x, y (as for dtmm prune)")
@click.option("--budgets", required=True, metavar="LIST",
              help="flash budgets, comma-separated, each as for dtmm prune --flash (e.g. 50%,30%,20%)")
@click.option("--methods", default="dtmm,filter,pattern,unstructured", show_default=True, metavar="LIST",
              help="pruning methods, comma-separated (docs/baselines.md)")
@click.option("--boards", default="qemu-m4,qemu-m55", show_default=True, metavar="LIST",
              help="emulated boards to measure retired instructions and arena on")
@click.option("--epochs", default=15, show_default=True, type=click.IntRange(min=1),
              help="fine-tuning epochs of every cell (and of the dense baseline)")
@click.option("--seed", default=0, show_default=True, type=int, help="seed of every cell")
@click.option("--dense-baseline", default="finetune", show_default=True, metavar="finetune|as-is|FILE",
              help="the dense model every method starts from and is compared with (as for dtmm prune)")
@click.option("--batch-size", default=64, show_default=True, type=click.IntRange(min=1))
@click.option("--calib-samples", default=1000, show_default=True, type=click.IntRange(min=1))
@click.option("--test-limit", default=None, type=click.IntRange(min=1),
              help="evaluate on a seeded subset of this many test samples (default: all)")
@click.option("--out", "out_dir", required=True, type=click.Path(path_type=Path, file_okay=False),
              help="output directory: cells/ (one dtmm prune run each), compare.json, compare.md, plots")
@click.option("--quiet", is_flag=True, help="no progress bars")
def compare(model_path, data_path, budgets, methods, boards, epochs, seed, dense_baseline, batch_size, calib_samples,
            test_limit, out_dir, quiet):  # fmt: skip
    """Prune MODEL with every method at every budget and measure every result.

    Each cell is a `dtmm prune --method M --flash B` run with the same data,
    seed, epochs and dense baseline; its int8 model is then run under QEMU on
    each board with the method's conv storage. Finished cells and
    measurements are reused when the command is run again. Writes
    compare.json, compare.md and Pareto plots (accuracy against flash and
    against instructions per board) into --out.

    \b
    Example:
      dtmm compare pretrainedResnet.h5 --data cifar10-images.tar.gz --budgets 50%,30% \\
          --boards qemu-m4,qemu-m55 --epochs 15 --out out/compare
    """
    from ..compare.cells import CompareOptions, check_options, parse_list

    opts = CompareOptions(
        model=model_path, data=data_path, budgets=parse_list(budgets, "budgets"), out=out_dir,
        methods=parse_list(methods, "methods"), boards=parse_list(boards, "boards"), epochs=epochs, seed=seed,
        dense_baseline=dense_baseline, progress=not quiet,
        prune_kw={"batch_size": batch_size, "calib_samples": calib_samples, "test_limit": test_limit},
    )  # fmt: skip
    check_options(opts)  # one-line errors before TensorFlow is imported
    quiet_tensorflow()
    from ..compare import run_compare

    run_compare(opts, log=_log)
