"""`dtmm train-reference`: train a reference network (ResNet-12) from scratch (see docs/pruning.md)."""
from __future__ import annotations

from pathlib import Path

import click

from ..fileio import check_writable_dir
from ..tf_startup import quiet_tensorflow

REFERENCE_NETWORKS = ("resnet12",)  # the keys of dtmm.reference.BUILDERS, without importing Keras for --help


def _log(msg: str) -> None:
    click.echo(f"dtmm train-reference: {msg}", err=True)


@click.command("train-reference")
@click.argument("network", type=click.Choice(REFERENCE_NETWORKS))
@click.option("--data", "data_path", required=True, type=click.Path(path_type=Path),
              help="image folder (train/, test/), .tar.gz of one, or .npz with x, y; 32x32 RGB for resnet12")
@click.option("--epochs", default=30, show_default=True, type=click.IntRange(min=1), help="training epochs")
@click.option("--out", "out_dir", required=True, type=click.Path(path_type=Path, file_okay=False),
              help="output directory: model.keras, model_int8.tflite, report.json, report.md")
@click.option("--seed", default=0, show_default=True, type=int, help="seed for splits, initial weights and training")
@click.option("--batch-size", default=128, show_default=True, type=click.IntRange(min=1), help="global batch size")
@click.option("--lr", "learning_rate", default=2e-3, show_default=True,
              type=click.FloatRange(min=0.0, min_open=True), help="Adam learning rate (cosine decay to 0)")
@click.option("--train-limit", default=None, type=click.IntRange(min=1),
              help="train on a seeded subset of this many training images (default: all)")
@click.option("--test-limit", default=None, type=click.IntRange(min=1),
              help="evaluate on a seeded subset of this many test images (default: all)")
@click.option("--cache-dir", default=None, type=click.Path(path_type=Path, file_okay=False),
              help="cache for decoded archives (default $DTMM_CACHE or ~/.cache/dtmm)")
@click.option("--quiet", is_flag=True, help="no progress bars")
def train_reference(network, data_path, epochs, out_dir, seed, batch_size, learning_rate, train_limit, test_limit,
                    cache_dir, quiet):  # fmt: skip
    """Train NETWORK from scratch on --data and export it int8.

    Reports float and int8 (tflite-micro) test accuracy and the wall time per
    epoch. The trained model.keras is the input `dtmm prune` expects.
    """
    check_writable_dir(out_dir)  # before TensorFlow and the training
    quiet_tensorflow()
    from ..reference.training import ReferenceOptions, train_reference as run

    run(ReferenceOptions(name=network, data=data_path, out=out_dir, epochs=epochs, seed=seed, batch_size=batch_size,
                         learning_rate=learning_rate, train_limit=train_limit, test_limit=test_limit,
                         cache_dir=cache_dir, progress=not quiet), log=_log)  # fmt: skip
