"""`dtmm prune`: prune a Keras model to a flash budget, fine-tune it, export int8 (see docs/pruning.md).

TensorFlow is imported only when the command runs, so `dtmm --help` stays fast.
"""
from __future__ import annotations

from pathlib import Path

import click

from ..fileio import check_writable_dir
from ..prune.budget import parse_budgets
from ..prune.data import PREPROCESS
from ..prune.distill import DistillConfig
from ..prune.groups import parse_group_size
from ..tf_startup import quiet_tensorflow


def _log(msg: str) -> None:
    click.echo(f"dtmm prune: {msg}", err=True)


@click.command("prune")
@click.argument("model_path", metavar="MODEL", type=click.Path(path_type=Path))
@click.option("--data", "data_path", default=None, type=click.Path(path_type=Path),
              help="image folder (train/, test/), .tar.gz of one, or .npz with x, y (required for a Keras MODEL; "
                   "for a .tflite MODEL optional: calibration images for the importance, test images for accuracy)")
@click.option("--flash", default=None, metavar="SIZE",
              help="flash budget for the weights: bytes, or KB (1000), KiB (1024), MB, MiB, or N% of the dense size")
@click.option("--sram", default=None, metavar="SIZE",
              help="SRAM budget for the activation arena (the packer's static plan): bytes, KB, KiB, MB or MiB")
@click.option("--latency", default=None, metavar="N|N%",
              help="latency budget: QEMU-retired instructions per inference on --board (12M = 12,000,000; "
                   "k, M, G) or N% of the dense model's, as the board's cost model predicts them")
@click.option("--board", default=None, metavar="BOARD",
              help="board whose cost model prices --latency (and reports predicted instructions), and whose kernel "
                   "path picks the channel-group size (64 on Helium, 16 on DSP and portable C); see `dtmm boards`")
@click.option("--group-size", default="auto", show_default=True, metavar="auto|off|N",
              help="channel groups in 1x1 convs and Dense layers (--method dtmm): auto: per layer for --board's "
                   "kernel path (16 without a board); off: filters and filterlets only; N: N input channels")
@click.option("--out", "out_dir", required=True, type=click.Path(path_type=Path, file_okay=False),
              help="output directory (created; files in it are replaced atomically)")
@click.option("--pack-dir", "pack_dir", default=None, type=click.Path(path_type=Path, file_okay=False),
              help="where the packed C sources of model_int8.tflite go (`dtmm pack` output: NAME.c/.h/.json) for "
                   "an app's build to pick up [default: OUT/packed]")
@click.option("--pack-name", default="model", show_default=True, help="C name of the packed model")
@click.option("--epochs", default=1, show_default=True, type=click.IntRange(min=0), help="fine-tuning epochs")
@click.option("--seed", default=0, show_default=True, type=int, help="seed for splits, training and TF")
@click.option("--batch-size", default=64, show_default=True, type=click.IntRange(min=1), help="global batch size")
@click.option("--calib-samples", default=1000, show_default=True, type=click.IntRange(min=1),
              help="training samples for the importance (and int8 calibration)")
@click.option("--val-fraction", default=0.1, show_default=True, type=click.FloatRange(0.0, 1.0, max_open=True),
              help="fraction of the training data held out for checkpoint selection")
@click.option("--method", default="dtmm", show_default=True,
              type=click.Choice(["dtmm", "filter", "pattern", "unstructured"]),
              help="dtmm: filters + filterlets; the baselines (docs/baselines.md): filter (CHIP channel pruning), "
                   "pattern (PatDNN kernel patterns + connectivity), unstructured (single weights by magnitude)")
@click.option("--importance", default="taylor", show_default=True,
              type=click.Choice(["taylor", "taylor-abs", "magnitude"]),
              help="scores of --method dtmm -- taylor: squared first-order Taylor per sample; taylor-abs: |w.g| "
                   "per sample; magnitude: L1 (the baselines use their own: CHIP, magnitude)")
@click.option("--lr", "learning_rate", default=1e-3, show_default=True, type=click.FloatRange(min=0.0, min_open=True),
              help="Adam learning rate (cosine decay to 0)")
@click.option("--preprocess", default="raw", show_default=True, type=click.Choice(PREPROCESS),
              help="pixel scaling the model expects: raw 0..255, unit 0..1, symmetric -1..1")
@click.option("--augment", default="auto", show_default=True, type=click.Choice(["auto", "none", "flip-crop"]),
              help="training augmentation (auto: flip-crop for RGB image data, none for .npz)")
@click.option("--dense-baseline", default="as-is", show_default=True, metavar="as-is|finetune|FILE",
              help="the dense model to compare with and distill from: the input model as is, the input model "
                   "fine-tuned first with the same recipe and epochs (saved as dense_finetuned.keras), or a Keras "
                   "file (e.g. an earlier run's dense_finetuned.keras)")
@click.option("--prune-from", default="baseline", show_default=True, type=click.Choice(["baseline", "given"]),
              help="start pruning from the dense baseline's weights (the fine-tuned model with --dense-baseline "
                   "finetune or FILE) or from the input model's weights as given")
@click.option("--max-filter-ratio", default=0.75, show_default=True,
              type=click.FloatRange(0.0, 1.0, max_open=True), help="most filters a channel group may lose")
@click.option("--stages", default="auto", show_default=True, metavar="N|auto",
              help="prune in N steps (cubic budget ramp) with one epoch of fine-tuning between them; "
                   "auto: epochs // 3, between 1 and 5")
@click.option("--test-limit", default=None, type=click.IntRange(min=1),
              help="evaluate on a seeded subset of this many test samples (default: all)")
@click.option("--cache-dir", default=None, type=click.Path(path_type=Path, file_okay=False),
              help="cache for decoded archives (default $DTMM_CACHE or ~/.cache/dtmm)")
@click.option("--strategy", default="auto", show_default=True, type=click.Choice(["auto", "mirrored", "none"]),
              help="tf.distribute strategy (auto: MirroredStrategy when several devices are visible)")
@click.option("--distill/--no-distill", default=True, show_default=True,
              help="fine-tune with the dense baseline (see --dense-baseline) as teacher (knowledge distillation)")
@click.option("--distill-temperature", default=DistillConfig.temperature, show_default=True,
              type=click.FloatRange(min=0.0, min_open=True), help="softening temperature T of both models' outputs")
@click.option("--distill-weight", default=DistillConfig.weight, show_default=True, type=click.FloatRange(0.0, 1.0),
              help="share of the teacher's soft loss in the total (the rest is cross-entropy with the labels)")
@click.option("--sensitivity/--no-sensitivity", default=False, show_default=True,
              help="scale each conv layer's importance by its measured sensitivity (loss increase when half its "
                   "filterlets go, over what the scores predicted) before planning")
@click.option("--quiet", is_flag=True, help="no progress bars")
def prune(model_path, data_path, flash, sram, latency, board, group_size, out_dir, pack_dir, pack_name, epochs, seed, batch_size, calib_samples, val_fraction, method, importance,
          learning_rate, preprocess, augment, dense_baseline, prune_from, max_filter_ratio, stages, test_limit, cache_dir,
          strategy, distill, distill_temperature, distill_weight, sensitivity, quiet):  # fmt: skip
    """Prune MODEL (.h5 or .keras) to fit its budgets, fine-tune, and export int8; or an int8 MODEL.tflite, after
    training.

    Budgets, any combination (at least one): --flash (weight bytes), --sram
    (activation arena bytes) and --latency (instructions on --board). Every
    budget is checked on the int8 model: packed bytes and arena exactly,
    instructions by the board's cost model. Writes model.keras,
    model_int8.tflite, dense_int8.tflite, report.json and report.md into --out,
    and the packed C sources of the int8 model (`dtmm pack`) into --pack-dir.

    A .tflite MODEL (no Keras model, no training data needed) is pruned after
    training, without fine-tuning: whole filterlets of its convs by weight
    magnitude (times input activity with --data) to --flash; it writes
    model_int8.tflite, the packed sources and the reports, and with --data
    measures int8 accuracy before and after (--test-limit images).

    \b
    Examples:
      dtmm prune model.h5 --data cifar10-images.tar.gz --flash 50% --out out/m50
      dtmm prune model.h5 --data images/ --flash 40KB --latency 60% --board qemu-m4 --out out/m40
      dtmm prune model.keras --data data.npz --sram 40KB --flash 50% --method filter --out out/f50
      dtmm prune model_int8.tflite --flash 70% --data images/ --out out/t70
    """
    parse_budgets(flash, sram, latency, board)  # one-line errors before TensorFlow is even imported
    if model_path.suffix.lower() == ".tflite":
        _prune_tflite(model_path, data_path, flash, sram, latency, method, out_dir, pack_dir, pack_name, seed,
                      calib_samples, test_limit, preprocess, cache_dir, quiet)
        return
    if data_path is None:
        raise click.UsageError("--data is required to prune (and fine-tune) a Keras model")
    group_size = parse_group_size(group_size)
    check_writable_dir(out_dir)
    if pack_dir is not None:
        check_writable_dir(pack_dir, "--pack-dir")
    quiet_tensorflow()
    from ..prune.pipeline import PruneOptions, check_dense_baseline, run_prune

    check_dense_baseline(dense_baseline)
    opts = PruneOptions(
        model=model_path, data=data_path, flash=flash, sram=sram, latency=latency, board=board, out=out_dir, epochs=epochs, seed=seed, batch_size=batch_size,
        calib_samples=calib_samples, val_fraction=val_fraction, importance=importance, learning_rate=learning_rate,
        preprocess=preprocess, augment=augment, dense_baseline=dense_baseline, prune_from=prune_from, max_filter_ratio=max_filter_ratio,
        stages=stages, test_limit=test_limit, cache_dir=cache_dir, strategy=strategy, progress=not quiet,
        distill=DistillConfig(enabled=distill, temperature=distill_temperature, weight=distill_weight),
        sensitivity=sensitivity, method=method, pack_dir=pack_dir, pack_name=pack_name, group_size=group_size,
    )  # fmt: skip
    run_prune(opts, log=_log)


def _prune_tflite(model_path, data_path, flash, sram, latency, method, out_dir, pack_dir, pack_name, seed,
                  calib_samples, test_limit, preprocess, cache_dir, quiet):
    """Post-training pruning of an int8 .tflite (dtmm.prune.post_training)."""
    from ..errors import DtmmError
    from ..prune.budget import parse_flash
    from ..prune.post_training import PostTrainingOptions, run

    if flash is None or sram is not None or latency is not None:
        raise DtmmError("a .tflite MODEL is pruned to a --flash budget only (--sram and --latency need the Keras "
                        "model's fine-tuning)")
    if method != "dtmm":
        raise DtmmError(f"--method {method} needs a Keras model; a .tflite MODEL is pruned by filterlets (dtmm)")
    if not model_path.is_file():
        raise DtmmError(f"{model_path}: no such file")
    if data_path is not None and not data_path.exists():
        raise DtmmError(f"{data_path}: no such file or directory")
    check_writable_dir(out_dir)
    if pack_dir is not None:
        check_writable_dir(pack_dir, "--pack-dir")
    opts = PostTrainingOptions(model=model_path, out=out_dir, flash=parse_flash(flash), data=data_path,
                               calib_samples=min(calib_samples, 256), test_limit=test_limit, preprocess=preprocess,
                               seed=seed, cache_dir=cache_dir, pack_dir=pack_dir, pack_name=pack_name,
                               progress=not quiet)  # fmt: skip
    run(opts, log=_log)
