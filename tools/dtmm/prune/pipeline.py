"""One `dtmm prune` run: model + data + budgets -> pruned Keras model, int8 .tflite, report.

Budgets (any combination, at least one): flash bytes of the weights, the
activation arena (SRAM) and retired instructions on a board (latency).

Order of work (each phase is timed in the report):

1. load and analyse the model; resolve the budgets (latency N% against the
   cost model's prediction for the dense model); refuse a budget below its
   smallest reachable value (``checked_plan.check_floor``) before any data is
   read;
2. load the data and make seeded splits (train / val from train / calib
   subset of train / test);
3. the dense baseline (``--dense-baseline``): as given, fine-tuned with the
   same recipe, or loaded from a file; it is also the distillation teacher
   and (``--prune-from baseline``) the weights pruning starts from;
4. importance on the calibration split (with ``--sensitivity``, rescaled per
   layer by its measured sensitivity); greedy plan to the budgets, checked
   on the int8 conversion of the plan when there is an SRAM or latency budget;
5. physical filter removal, filterlet masks; masked fine-tuning (distilled
   from the teacher) with the best checkpoint chosen on the validation
   split -- steps 4 and 5 are repeated
   for each of --stages budgets on a cubic ramp down to the target;
6. int8 export (pruned model, and the dense baseline), zero filterlets
   verified in the int8 filters, exact packed bytes and arena measured on the
   int8 model, instructions predicted by the board's cost model, every budget
   checked; test accuracy of both with tflite-micro;
7. outputs written atomically into --out.
"""
from __future__ import annotations

import hashlib
import json
import os
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable


from .. import __version__
from ..errors import DtmmError
from ..fileio import check_writable_dir, json_default, save_atomic, write_bytes_atomic, write_text_atomic
from ..tflite.layer_names import keras_layer_names, model_layer_labels
from ..tflite.model import TfliteModel
from . import data as D
from .distill import DistillConfig
from .budget import budgets_text, format_bytes, format_instructions, parse_budgets

MODEL_FILE = "model.keras"
TFLITE_FILE = "model_int8.tflite"
DENSE_TFLITE_FILE = "dense_int8.tflite"
DENSE_KERAS_FILE = "dense_finetuned.keras"
DENSE_BASELINES = ("as-is", "finetune")  # or the path of a Keras model
PRUNE_FROM = ("baseline", "given")  # the dense baseline's weights, or the model's weights as given
#: dtmm: filters + filterlets; the baselines (docs/baselines.md): filter (CHIP), pattern (PatDNN), unstructured
METHODS = ("dtmm", "filter", "pattern", "unstructured")
REPORT_JSON = "report.json"
REPORT_MD = "report.md"
PACKED_DIR = "packed"  # default place of the packed C sources, inside --out


@dataclass
class PruneOptions:
    model: Path
    data: Path
    flash: str | None
    out: Path
    epochs: int = 1
    seed: int = 0
    batch_size: int = 64
    calib_samples: int = 1000
    val_fraction: float = 0.1
    importance: str = "taylor"
    learning_rate: float = 1e-3
    preprocess: str = "raw"
    augment: str = "auto"
    dense_baseline: str = "as-is"
    prune_from: str = "baseline"
    max_filter_ratio: float = 0.75
    test_limit: int | None = None
    rep_samples: int = 300
    cache_dir: Path | None = None
    strategy: str = "auto"
    stages: int | str = "auto"
    progress: bool = True
    sram: str | None = None
    latency: str | None = None
    board: str | None = None
    distill: DistillConfig = field(default_factory=DistillConfig)
    sensitivity: bool = False
    method: str = "dtmm"
    #: channel groups in 1x1 convs / Dense layers: "auto" (per --board's kernel path), "off", or channels per group
    group_size: str | int = "auto"
    #: where the packed C sources of model_int8.tflite go (None: OUT/packed), and their C name
    pack_dir: Path | None = None
    pack_name: str = "model"
    extra: dict = field(default_factory=dict)

    @property
    def packed_sources_dir(self) -> Path:
        return Path(self.pack_dir) if self.pack_dir is not None else Path(self.out) / PACKED_DIR


def _setup_determinism(seed: int) -> None:
    import keras
    import tensorflow as tf

    keras.utils.set_random_seed(seed)
    try:
        tf.config.experimental.enable_op_determinism()
    except Exception:  # pragma: no cover - older TF
        pass


def load_keras_model(path: Path):
    path = Path(path)
    if not path.is_file():
        raise DtmmError(f"{path}: no such file")
    if path.suffix.lower() not in (".h5", ".hdf5", ".keras"):
        raise DtmmError(f"{path}: expected a Keras model (.h5 or .keras)")
    import keras

    try:
        return keras.models.load_model(path, compile=False)
    except Exception as exc:  # keras/h5py raise many types for unreadable files
        if "Unrecognized keyword arguments" not in str(exc):
            raise DtmmError(f"{path}: cannot load the Keras model ({_load_error_detail(exc)})") from None
    try:  # a Keras 2 / tf.keras config: again, with the layers that drop its neutral leftovers
        return keras.models.load_model(path, compile=False, custom_objects=_keras2_compat_layers())
    except Exception as exc:
        raise DtmmError(f"{path}: cannot load the Keras model ({_load_error_detail(exc)})") from None


#: arguments Keras 2 / tf.keras wrote into layer configs that Keras 3 no longer takes, with the one value that
#: means what Keras 3 does anyway (MLPerf Tiny's VWW MobileNet carries DepthwiseConv2D(groups=1))
KERAS2_NEUTRAL_ARGUMENTS = {"DepthwiseConv2D": {"groups": 1}}


def _keras2_compat_layers() -> dict:
    """Keras 3 layer classes that accept the neutral Keras 2 arguments above (and drop them)."""
    import keras

    def compat(base, neutral: dict):
        class Compat(base):
            def __init__(self, *args, **kwargs):
                for arg, value in neutral.items():
                    if arg in kwargs and kwargs[arg] == value:
                        del kwargs[arg]
                super().__init__(*args, **kwargs)

        # named and placed as the Keras class, so a model saved afterwards is plain Keras 3 (no leftovers)
        Compat.__name__, Compat.__qualname__, Compat.__module__ = base.__name__, base.__qualname__, base.__module__
        return Compat

    return {name: compat(getattr(keras.layers, name), neutral) for name, neutral in KERAS2_NEUTRAL_ARGUMENTS.items()}


def _load_error_detail(exc: Exception) -> str:
    """The layer and argument Keras could not take, when its message says so; else its first line, short."""
    import re

    text = str(exc)
    args = re.search(r"Unrecognized keyword arguments passed to (\w+): (\{.*?\})", text)
    name = re.search(r"using config=\{'name': '([^']+)'", text)
    if args:
        layer = f"layer '{name.group(1)}' ({args.group(1)})" if name else f"a {args.group(1)} layer"
        return f"{layer} has arguments this Keras cannot take: {args.group(2)}"
    lines = text.strip().splitlines()
    return f"{type(exc).__name__}: {(lines[0] if lines else '')[:200]}"


def _check_model_io(model, ds: D.Dataset) -> None:
    if len(model.inputs) != 1 or len(model.outputs) != 1:
        raise DtmmError(f"model has {len(model.inputs)} inputs and {len(model.outputs)} outputs; need 1 and 1")
    ishape = tuple(model.inputs[0].shape[1:])
    oshape = tuple(model.outputs[0].shape[1:])
    if len(ishape) != 3:
        raise DtmmError(f"model input is {list(ishape)}; the pruner needs images [H, W, C]")
    if tuple(ds.image_shape) != ishape:
        raise DtmmError(f"{ds.source}: samples are {list(ds.image_shape)}, the model takes {list(ishape)}")
    if len(oshape) != 1:
        raise DtmmError(f"model output is {list(oshape)}; the pruner needs class scores [classes]")
    n_labels = int(max(ds.y_train.max(), ds.y_test.max() if ds.y_test is not None else 0)) + 1
    if n_labels > oshape[0]:
        raise DtmmError(f"{ds.source}: labels go up to {n_labels - 1} but the model has {oshape[0]} outputs")


class _Timer:
    def __init__(self):
        self.t0 = time.perf_counter()
        self.phases: dict[str, float] = {}
        self._last = self.t0

    def lap(self, name: str) -> None:
        now = time.perf_counter()
        self.phases[name] = round(self.phases.get(name, 0.0) + now - self._last, 2)
        self._last = now

    @property
    def total(self) -> float:
        return round(time.perf_counter() - self.t0, 2)


def run_prune(opts: PruneOptions, log: Callable[[str], None] = print) -> dict:
    """Do the whole run and write the outputs; returns the report (also written as report.json)."""
    budget_spec, sram_budget, latency_spec = check_budget_options(opts)
    check_dense_baseline(opts.dense_baseline)
    if opts.prune_from not in PRUNE_FROM:
        raise DtmmError(f"--prune-from {opts.prune_from!r}: choose {' or '.join(PRUNE_FROM)}")
    check_method_options(opts, budget_spec)
    weight_level = opts.method in ("pattern", "unstructured")
    filterlets = opts.method == "dtmm"
    from .groups import parse_group_size

    group_choice = parse_group_size(opts.group_size) if filterlets else "off"  # the baselines keep their own units
    timer = _Timer()
    if opts.epochs < 0:
        raise DtmmError("--epochs must be >= 0")
    n_stages = resolve_stages(opts.stages, opts.epochs)
    stage_epochs(opts.epochs, n_stages)  # fail fast on --epochs < --stages
    out = Path(opts.out)
    check_writable_dir(out)  # before the model loads and hours of fine-tuning
    check_writable_dir(opts.packed_sources_dir, "--pack-dir")
    from ..pack.packer import check_name

    check_name(opts.pack_name)

    from ..pack.lowering.baseline_conv import STORAGE_OF_METHOD
    from . import checked_plan as C
    from . import groups as G
    from . import plan as P
    from . import weight_level as WL
    from .graph import GraphAnalysis

    model = load_keras_model(opts.model)
    _setup_determinism(opts.seed)
    analysis = GraphAnalysis(model)
    model = analysis.model
    baseline_file = load_dense_baseline_file(opts, model)
    dense_bytes, floor = P.bytes_summary(analysis, opts.max_filter_ratio, filterlets)
    if weight_level:
        floor = WL.floor_bytes(analysis, opts.method)
    base_bytes, zero_filterlets = P.given_bytes(analysis)  # what `dtmm pack` stores for the model as given
    budget = budget_spec.resolve(base_bytes) if budget_spec is not None else None
    log(f"model {opts.model}: dense weight storage {format_bytes(dense_bytes)}"
        + (f", {format_bytes(base_bytes)} as dtmm pack stores them ({zero_filterlets:,} all-zero filterlets)"
           if base_bytes != dense_bytes else "") + "; "
        + (f"flash budget {format_bytes(budget)}; " if budget is not None else "no flash budget; ")
        + f"smallest reachable {format_bytes(floor)}")  # fmt: skip
    if budget is not None and budget < base_bytes and budget < floor:
        if weight_level:
            WL.make_weight_plan(analysis, opts.method, budget)  # raises the method's own one-line error
        raise P.BudgetError(P.budget_below_floor_message(budget, floor, dense_bytes, opts.max_filter_ratio,
                                                         filterlets))  # fmt: skip
    resources, dense_cost = None, {}
    if sram_budget is not None or latency_spec is not None:
        resources = C.resource_model(analysis, opts.board, preprocess_mode=opts.preprocess,
                                     group_sizes=G.layer_group_sizes(analysis, group_choice,
                                                                     group_kernel_path(opts.board)))  # fmt: skip
        dense_cost = {"arena_bytes": resources.dense_arena_bytes, "instructions": resources.dense_instructions}
    latency_budget = latency_spec.resolve(resources.dense_instructions) if latency_spec is not None else None
    budgets = C.Budgets(budget, sram_budget, latency_budget, opts.board)
    if resources is not None:
        log("dense model: arena " + format_bytes(resources.dense_arena_bytes)
            + (f", {format_instructions(resources.dense_instructions)} predicted on {opts.board}"
               if resources.dense_instructions is not None else "")
            + "".join(f"; {C.BUDGET_NAMES[k]} {C.describe(k, v)}"
                      for k, v in ((P.ARENA, sram_budget), (P.INSTRUCTIONS, latency_budget)) if v is not None))
    prune_needed = (
        (budget is not None and budget < base_bytes)
        or (sram_budget is not None and sram_budget < resources.dense_arena_bytes)
        or (latency_budget is not None and latency_budget < resources.dense_instructions)
    )  # fmt: skip
    floors_exact = {}
    if prune_needed and weight_level:
        floors_exact = {P.FLASH: floor}
    elif prune_needed:
        floors_exact = C.check_floor(analysis, budgets, max_filter_ratio=opts.max_filter_ratio,
                                     preprocess_mode=opts.preprocess,
                                     calibration=resources.calibration if resources else None,
                                     filterlets=filterlets)  # fmt: skip
    timer.lap("analysis")

    channels = int(model.inputs[0].shape[-1]) if len(model.inputs[0].shape) == 4 else 3
    ds = D.load_dataset(opts.data, channels=channels, cache_dir=opts.cache_dir, progress=opts.progress)
    _check_model_io(model, ds)
    splits = D.make_splits(ds, seed=opts.seed, val_fraction=opts.val_fraction, calib_samples=opts.calib_samples)
    augment = opts.augment
    if augment == "auto":
        augment = "flip-crop" if not str(opts.data).lower().endswith(".npz") and channels == 3 else "none"
    x_test, y_test = D.scored_test_subset(splits, opts.test_limit, opts.seed)
    log(f"data {opts.data}: {splits.sizes()} (test used: {len(y_test)}), classes {len(splits.classes)}")
    timer.lap("data")

    from . import chip as CHIP
    from . import export as E
    from . import importance as I
    from . import sensitivity as SENS
    from . import surgery as S
    from . import train as T

    from_logits = not I.output_is_probability(analysis)
    strategy = T.pick_strategy(opts.strategy)
    train_kw = dict(epochs=opts.epochs, batch_size=opts.batch_size, learning_rate=opts.learning_rate, seed=opts.seed,
                    preprocess_mode=opts.preprocess, augment=augment, from_logits=from_logits, strategy=strategy,
                    progress=opts.progress, log=log)  # fmt: skip
    rep = splits.x_calib[: opts.rep_samples]
    report: dict = {
        "tool": "dtmm prune", "version": __version__,
        "model": str(opts.model), "data": str(opts.data),
        "flash_budget": budget_spec.text if budget_spec is not None else None, "flash_budget_bytes": budget,
        "sram_budget": opts.sram, "sram_budget_bytes": sram_budget,
        "latency_budget": opts.latency, "latency_budget_instructions": latency_budget, "board": opts.board,
        "instruction_units": "QEMU-retired instructions on the board, predicted by its cost model (not cycles)",
        "dense_arena_bytes": dense_cost.get("arena_bytes"), "dense_predicted_instructions": dense_cost.get("instructions"),
        "smallest_reachable": {k: v for k, v in floors_exact.items()},
        "size_units": "KB = 1000 B, KiB = 1024 B",
        "dense_bytes": dense_bytes, "smallest_reachable_bytes": floor,
        "budget_base_bytes": base_bytes, "zero_filterlets_given": zero_filterlets,
        "budget_base": "weight storage of the model as given (docs/figures.md), all-zero filterlets not "
                       "stored (a percentage --flash is of this)",
        "seed": opts.seed, "epochs": opts.epochs, "batch_size": opts.batch_size,
        "learning_rate": opts.learning_rate, "augment": augment, "preprocess": opts.preprocess,
        "method": opts.method, "conv_storage": STORAGE_OF_METHOD[opts.method],
        "importance": IMPORTANCE_OF_METHOD.get(opts.method, opts.importance), "max_filter_ratio": opts.max_filter_ratio,
        "stages": n_stages,
        "recipe": _recipe(opts, n_stages, augment),
        "splits": splits.sizes(), "test_samples_evaluated": int(len(y_test)),
        "evaluator": E.EVALUATOR, "dense_baseline": opts.dense_baseline,
        "strategy": T.strategy_name(strategy), "replicas": int(strategy.num_replicas_in_sync),
        "tf_onednn": os.environ.get("TF_ENABLE_ONEDNN_OPTS") == "1",
        "graph": analysis.summary(), "data_notes": list(ds.notes),
    }  # fmt: skip

    if not prune_needed:
        log("every budget is at or above the dense model's figure: no pruning is needed; writing the dense model")
        final = model
        tfl = E.to_int8_tflite(final, rep, preprocess_mode=opts.preprocess)
        timer.lap("export")
        acc = E.evaluate_tflite(tfl, x_test, y_test, preprocess_mode=opts.preprocess, progress=opts.progress,
                                desc="int8 eval (dense)", cache_dir=opts.cache_dir or D.default_cache_dir())  # fmt: skip
        timer.lap("evaluate")
        meas = E.measured_bytes(tfl, final)
        figures = _checked_figures(tfl, final, opts.board, budgets)
        report.update({k: v for k, v in figures.items() if k != "layer_instructions"})
        report.update(
            pruned=False, note="every budget at or above the dense model's figure: no pruning needed",
            packed_bytes=meas["packed_bytes"], planned_bytes=base_bytes,
            accuracy_dense_int8=acc, accuracy_pruned_int8=acc,
            layers=_with_layer_labels(_with_predictions(_dense_layer_rows(analysis, meas), figures), tfl),
            int8=_int8_info(E, tfl, meas, {}),
        )  # fmt: skip
        return _finish(report, out, final, tfl, None, timer, log, pack=opts)

    # ---------------------------------------------------------------- the dense baseline, which is also the teacher
    dense_model, baseline_info = _dense_baseline(opts, model, baseline_file, splits, train_kw, T, log)
    report.update(baseline_info)
    distill_cfg = replace(opts.distill, teacher=report["recipe"]["dense_baseline"]) if opts.distill.enabled \
        else opts.distill
    report["recipe"]["distillation"] = distill_cfg.as_report()
    start = analysis
    if opts.prune_from == "baseline" and dense_model is not model:
        start = GraphAnalysis(with_weights_of(model, dense_model, f"--dense-baseline {opts.dense_baseline}"))
        log("pruning starts from the dense baseline's weights (--prune-from baseline)")
    timer.lap("dense_baseline")

    # ---------------------------------------------------------------- stages: importance, plan, fine-tuning
    stage_targets = _stage_targets(budgets, n_stages, dense_bytes, resources)
    epochs_per_stage = stage_epochs(opts.epochs, n_stages)
    floors = P.min_keep_by_producer(analysis, opts.max_filter_ratio)
    cur_analysis, initial, initial_groups = start, None, None
    group_path = group_kernel_path(opts.board)
    stages, steps = [], dict.fromkeys(P.STEP_KEYS, 0)
    history, best_epoch, best_val = [], 0, None
    wplan = None
    if weight_level:
        stage_targets = []  # the stages below are the weight-level ones
        final, wplan, stages, (history, best_epoch, best_val) = _weight_level_stages(
            opts, start, budget, dense_bytes, n_stages, epochs_per_stage, splits, train_kw, dense_model, distill_cfg,
            timer, log)  # fmt: skip
        cur_analysis = GraphAnalysis(final)
    for k, (b, ep) in enumerate(zip(stage_targets, epochs_per_stage), 1):
        tag = f"stage {k}/{n_stages}: " if n_stages > 1 else ""
        if k > 1:
            cur_analysis = GraphAnalysis(final)
            initial = P.kernel_keep_masks(cur_analysis)
        group_sizes = G.layer_group_sizes(cur_analysis, group_choice, group_path)
        if k > 1:
            initial_groups = G.kernel_group_masks(cur_analysis, group_sizes)
            if resources is not None:  # the per-layer model, refitted on the model as pruned so far
                resources = C.resource_model(cur_analysis, opts.board, calibration=resources.calibration,
                                             preprocess_mode=opts.preprocess, group_sizes=group_sizes)  # fmt: skip
        if opts.method == "filter":
            imp = CHIP.chip_importance(cur_analysis, splits.x_calib, preprocess_mode=opts.preprocess,
                                       progress=opts.progress)  # fmt: skip
        else:
            imp = I.compute_importance(opts.importance, cur_analysis, splits.x_calib, splits.y_calib,
                                       groups=group_sizes, preprocess_mode=opts.preprocess,
                                       progress=opts.progress)  # fmt: skip
        factors = {}
        if opts.sensitivity:
            factors = SENS.layer_factors(cur_analysis, imp, splits.x_calib, splits.y_calib,
                                         preprocess_mode=opts.preprocess)  # fmt: skip
            imp = SENS.fold_sensitivity(cur_analysis, imp, factors)
            log(f"{tag}layer sensitivity factors: " + ", ".join(f"{k} {v:.2f}" for k, v in factors.items()))
        timer.lap("importance")
        plan, checked = C.make_checked_plan(cur_analysis, imp, b, resources=resources, progress=opts.progress,
                                            max_filter_ratio=opts.max_filter_ratio, initial_keep=initial,
                                            min_keep_by_producer=floors, preprocess_mode=opts.preprocess,
                                            log=lambda m: log(tag + m), filterlets=filterlets,
                                            group_sizes=group_sizes, initial_groups=initial_groups)  # fmt: skip
        for key in steps:
            steps[key] += plan.steps[key]
        log(f"{tag}plan: {plan.steps['filter']} filters, {plan.steps['filterlets_removed']} filterlets and "
            f"{plan.steps['groups_removed']} channel groups removed; planned {format_bytes(plan.packed_bytes)}")  # fmt: skip
        slim = S.slim_model(cur_analysis, plan)
        masks = S.slim_masks(cur_analysis, plan)
        timer.lap("plan")
        final, trained = fine_tune_stage(slim, masks, ep, opts.seed + 1000 * (k - 1), splits, train_kw, dense_model,
                                         distill_cfg, tag, log)  # fmt: skip
        if trained is not None:
            history, best_epoch, best_val = trained
        stages.append({"stage": k, "budget_bytes": b.flash, "planned_bytes": plan.packed_bytes, "epochs": ep,
                       "arena_budget_bytes": b.arena, "latency_budget_instructions": b.instructions,
                       "arena_bytes": checked.arena_bytes if checked else None,
                       "predicted_instructions": checked.instructions if checked and b.board else None,
                       "steps": plan.steps, "best_val_accuracy": best_val if ep > 0 else None,
                       "sensitivity_factors": factors})  # fmt: skip
        timer.lap("fine_tune")

    # ---------------------------------------------------------------- export and checks
    tfl = E.to_int8_tflite(final, rep, preprocess_mode=opts.preprocess)
    if weight_level:
        fl_check = E.verify_weight_masks(tfl, final, wplan.masks)
    else:
        keep_slim = {n: k[plan.keep_out(cur_analysis, n)] for n, k in plan.filterlet_masks().items()}
        fl_check = E.verify_filterlets(tfl, final, keep_slim)
        groups_slim = {n: (k[plan.keep_out(cur_analysis, n)], plan.layers[n].group)
                       for n, k in plan.group_masks().items()}  # fmt: skip
        fl_check.update({f"{n} (channel groups)": r for n, r in E.verify_groups(tfl, final, groups_slim).items()})
    meas = E.measured_bytes(tfl, final, conv_storage=STORAGE_OF_METHOD[opts.method])
    figures = _checked_figures(tfl, final, opts.board, budgets, STORAGE_OF_METHOD[opts.method])
    if budget is not None:
        figures["budgets_met"] = {"flash": meas["packed_bytes"] <= budget, **figures["budgets_met"]}
    timer.lap("export")
    dense_tfl = E.to_int8_tflite(dense_model, rep, preprocess_mode=opts.preprocess)
    if opts.board is not None:
        dense_layers = _checked_figures(dense_tfl, dense_model, opts.board, C.Budgets())["layer_instructions"]
        figures["dense_layer_instructions"] = dense_layers
    timer.lap("export")

    eval_cache = opts.cache_dir or D.default_cache_dir()  # the same int8 model on the same test set: read back
    acc_p = E.evaluate_tflite(tfl, x_test, y_test, preprocess_mode=opts.preprocess, progress=opts.progress,
                              desc="int8 eval (pruned)", cache_dir=eval_cache)  # fmt: skip
    acc_d = E.evaluate_tflite(dense_tfl, x_test, y_test, preprocess_mode=opts.preprocess, progress=opts.progress,
                              desc="int8 eval (dense)", cache_dir=eval_cache)  # fmt: skip
    timer.lap("evaluate")

    if weight_level:
        plan_info = {"ratio": wplan.ratio, "ratio_of": WL.RATIO_OF[opts.method], "other_bytes": wplan.other_bytes,
                     "stages": stages}  # fmt: skip
        rows = WL.layer_rows(cur_analysis, wplan, meas)
    else:
        plan_info = {"steps": steps, "importance_lost": plan.importance_lost, "other_bytes": plan.other_bytes,
                     "importance_samples": imp.samples, "stages": stages,
                     "channel_groups": {"choice": group_choice, "kernel_path": group_path,
                                        "offered": dict(group_sizes),
                                        "inputs_kept_for_groups": list(plan.inputs_kept_for_groups)}}  # fmt: skip
        rows = _with_predictions(_rebase_rows(_layer_rows(cur_analysis, plan, meas), analysis), figures)
    report.update(
        pruned=True,
        packed_bytes=meas["packed_bytes"], planned_bytes=(wplan or plan).packed_bytes,
        accuracy_dense_int8=acc_d, accuracy_pruned_int8=acc_p,
        best_epoch=best_epoch, best_val_accuracy=best_val, history=history,
        plan=plan_info, layers=_with_layer_labels(rows, tfl), int8=_int8_info(E, tfl, meas, fl_check),
    )  # fmt: skip
    report.update({k: v for k, v in figures.items() if k not in ("layer_instructions", "dense_layer_instructions")})
    missed = [k for k, ok in figures["budgets_met"].items() if not ok]
    if missed:  # pragma: no cover - the plan was checked on the same structure
        report["note"] = "warning: the int8 model misses the " + ", ".join(missed) + " budget(s)"
        log(report["note"])
    return _finish(report, out, final, tfl, dense_tfl, timer, log,
                   dense_model=dense_model if opts.dense_baseline == "finetune" else None, pack=opts)


def group_kernel_path(board: str | None) -> str:
    """The kernel path whose channel-group sizes the plan uses: the board's ('mve', 'dsp', 'c'), 'dsp'
    without a board (16-channel groups, fine for portable C too)."""
    if board is None:
        return "dsp"
    from ..cost.features import board_path
    from ..targets.boards import get_board

    return board_path(get_board(board))


#: the importance each baseline method uses (dtmm uses --importance)
IMPORTANCE_OF_METHOD = {"filter": "chip", "pattern": "magnitude", "unstructured": "magnitude"}


def check_method_options(opts: PruneOptions, budget_spec) -> None:
    """One-line refusals of options a --method cannot honour, before any work."""
    if opts.method not in METHODS:
        raise DtmmError(f"--method {opts.method!r}: choose {', '.join(METHODS)}")
    if opts.method in ("pattern", "unstructured"):
        if opts.sram is not None or opts.latency is not None:
            raise DtmmError(f"--method {opts.method} prunes single weights: it keeps every activation and has no "
                            "cost model, so it takes a --flash budget only (no --sram or --latency)")  # fmt: skip
        if budget_spec is None:
            raise DtmmError(f"--method {opts.method} needs a --flash budget")
    if opts.sensitivity and opts.method != "dtmm":
        raise DtmmError("--sensitivity scales DTMM's filterlet scores: use it with --method dtmm")
    if isinstance(opts.group_size, int) and opts.method != "dtmm":
        raise DtmmError(f"--group-size {opts.group_size}: channel groups are a unit of --method dtmm; the baselines "
                        "keep their own units")  # fmt: skip


def fine_tune_stage(model, masks: dict, epochs: int, seed: int, splits, train_kw: dict, teacher, distill_cfg,
                    tag: str, log):  # fmt: skip
    """One stage's masked fine-tune (every method): (model, (history, best epoch, best validation accuracy)
    or None without epochs); the masks are checked to hold afterwards."""
    from . import surgery as S
    from . import train as T

    trained = None
    if epochs > 0:
        log(f"{tag}fine-tuning the pruned model for {epochs} epoch(s)")
        res = T.fine_tune(model, masks, splits.x_train, splits.y_train, splits.x_val, splits.y_val,
                          **{**train_kw, "epochs": epochs, "seed": seed}, teacher=teacher, distill=distill_cfg)  # fmt: skip
        model, trained = res.model, (res.history, res.best_epoch, res.best_val_accuracy)
        log(f"{tag}fine-tuned {epochs} epoch(s): best validation accuracy {res.best_val_accuracy:.4f} at epoch "
            f"{res.best_epoch}")  # fmt: skip
    broken = {n: v for n, v in S.check_masks(model, masks).items() if v}
    if broken:  # pragma: no cover - the training loop re-applies masks every step
        raise DtmmError(f"internal error: pruning masks broken after fine-tuning: {broken}")
    return model, trained


def _weight_level_stages(opts, start, budget, dense_bytes, n_stages, epochs_per_stage, splits, train_kw,
                         dense_model, distill_cfg, timer, log):  # fmt: skip
    """The pattern / unstructured methods: per stage a mask plan (weight_level) on the ramp, then masked
    fine-tuning. Returns (model, last plan, stage rows, (history, best epoch, best validation accuracy))."""
    from . import weight_level as WL
    from .graph import GraphAnalysis

    model, previous, wplan = start.model, {}, None
    history, best_epoch, best_val, stages = [], 0, None, []
    for k, (b, ep) in enumerate(zip(stage_budgets(dense_bytes, budget, n_stages), epochs_per_stage), 1):
        tag = f"stage {k}/{n_stages}: " if n_stages > 1 else ""
        wplan = WL.make_weight_plan(GraphAnalysis(model) if k > 1 else start, opts.method, b, previous)
        log(f"{tag}plan ({opts.method}): {WL.RATIO_OF[opts.method]} {wplan.ratio:.3f}; planned "
            f"{format_bytes(wplan.packed_bytes)}")  # fmt: skip
        masked = WL.apply_masks(model, wplan.masks)
        masks = {n: m.astype("float32") for n, m in wplan.masks.items()}
        timer.lap("plan")
        model, trained = fine_tune_stage(masked, masks, ep, opts.seed + 1000 * (k - 1), splits, train_kw,
                                         dense_model, distill_cfg, tag, log)  # fmt: skip
        if trained is not None:
            history, best_epoch, best_val = trained
        previous = wplan.masks
        stages.append({"stage": k, "budget_bytes": b, "planned_bytes": wplan.packed_bytes, "epochs": ep,
                       "ratio": wplan.ratio, "best_val_accuracy": best_val if ep > 0 else None})  # fmt: skip
        timer.lap("fine_tune")
    return model, wplan, stages, (history, best_epoch, best_val)


MAX_AUTO_STAGES = 5


def check_dense_baseline(value: str) -> Path | None:
    """The file of a --dense-baseline FILE (checked to exist), or None for as-is / finetune."""
    if value in DENSE_BASELINES:
        return None
    path = Path(value)
    if not path.is_file():
        raise DtmmError(f"--dense-baseline {value}: not 'as-is', 'finetune' or an existing Keras model file")
    return path


def load_dense_baseline_file(opts: PruneOptions, model):
    """The --dense-baseline FILE's model, checked against `model` (None for as-is / finetune)."""
    path = check_dense_baseline(opts.dense_baseline)
    if path is None:
        return None
    dense = load_keras_model(path)
    if tuple(dense.inputs[0].shape[1:]) != tuple(model.inputs[0].shape[1:]) or \
            tuple(dense.outputs[0].shape[1:]) != tuple(model.outputs[0].shape[1:]):
        raise DtmmError(f"--dense-baseline {path}: its input/output shapes differ from the model's")
    if opts.prune_from == "baseline":
        check_same_weights(model, dense, f"--dense-baseline {path}")
    return dense


def _dense_baseline(opts: PruneOptions, model, loaded, splits, train_kw: dict, T, log):
    """The dense model the pruned one is compared with and distilled from: as given, fine-tuned here with
    the pruned model's recipe and epochs, or loaded from a file (e.g. an earlier run's dense_finetuned.keras)."""
    if loaded is not None:
        log(f"dense baseline (and teacher): {opts.dense_baseline}")
        return loaded, {}
    if opts.dense_baseline == "finetune" and opts.epochs > 0:
        log(f"fine-tuning the dense baseline (the teacher) for {opts.epochs} epoch(s)")
        res = T.fine_tune(model, {}, splits.x_train, splits.y_train, splits.x_val, splits.y_val, **train_kw)
        log(f"dense baseline: best validation accuracy {res.best_val_accuracy:.4f} at epoch {res.best_epoch}")
        return res.model, {"dense_baseline_val_accuracy": res.best_val_accuracy,
                           "dense_baseline_history": res.history}  # fmt: skip
    return model, {}


def check_same_weights(model, other, what: str) -> None:
    """One-line error unless `other` has `model`'s weight shapes in the same order (same architecture)."""
    a, b = model.get_weights(), other.get_weights()
    if len(a) != len(b) or any(x.shape != y.shape for x, y in zip(a, b)):
        raise DtmmError(f"{what}: its weights do not match the model's layers, so pruning cannot start from them "
                        "(use --prune-from given)")


def with_weights_of(model, other, what: str):
    """A copy of `model` (the analysed graph) holding `other`'s weights."""
    import keras

    check_same_weights(model, other, what)
    copy = keras.models.clone_model(model)
    copy.set_weights(other.get_weights())
    return copy


def _recipe(opts: PruneOptions, n_stages: int, augment: str) -> dict:
    """Everything that shapes the fine-tune, as report.json records it."""
    return {
        "distillation": opts.distill.as_report(),
        "stages": n_stages, "epochs_per_stage": stage_epochs(opts.epochs, n_stages),
        "method": opts.method, "budget_ramp": "cubic",
        "importance": IMPORTANCE_OF_METHOD.get(opts.method, opts.importance), "importance_recomputed_each_stage": True,
        "layer_sensitivity": opts.sensitivity,
        "optimizer": "adam", "learning_rate": opts.learning_rate,
        "schedule": "cosine decay to 0 within each stage (a warm restart per stage)",
        "batch_size": opts.batch_size, "augment": augment,
        "dense_baseline": {"as-is": "the model as given",
                           "finetune": "the model fine-tuned with this recipe and epochs (cross-entropy only)"}.get(
            opts.dense_baseline, f"loaded from {opts.dense_baseline}"),
        "prune_from": {"baseline": "the dense baseline's weights", "given": "the model's weights as given"}[
            opts.prune_from],
    }  # fmt: skip


def check_budget_options(opts: PruneOptions):
    """(flash spec, SRAM bytes, latency spec) from the options (see ``budget.parse_budgets``)."""
    return parse_budgets(opts.flash, opts.sram, opts.latency, opts.board)


def _stage_targets(budgets, n_stages: int, dense_bytes: int, resources) -> list:
    """Each stage's budgets: a cubic ramp from the dense figure to each budget (the last stage is the budget)."""
    from .checked_plan import Budgets

    def ramp(dense, target):
        if target is None:
            return [None] * n_stages
        return stage_budgets(max(int(dense), int(target)), int(target), n_stages)

    flash = ramp(dense_bytes, budgets.flash)
    arena = ramp(resources.dense_arena_bytes if resources else 0, budgets.arena)
    instr = ramp(resources.dense_instructions if resources and resources.dense_instructions else 0,
                 budgets.instructions)  # fmt: skip
    return [Budgets(f, a, i, budgets.board) for f, a, i in zip(flash, arena, instr)]


def _checked_figures(tfl: bytes, model, board: str | None, budgets, conv_storage: str = "fwcs") -> dict:
    """The int8 model's arena (exact, packed with `conv_storage`) and, on a board, predicted instructions
    (FWCS storage only: the cost models know DTMM's kernels); each budget checked."""
    from ..pack.lowering import StorageLowering
    from ..pack.packer import pack_model

    lowering = StorageLowering(conv_storage) if conv_storage != "fwcs" else None
    out = {"arena_bytes": int(pack_model(tfl, "checked", lowering=lowering).arena_bytes),
           "predicted_instructions": None, "layer_instructions": {}}  # fmt: skip
    if board is not None and conv_storage != "fwcs":
        out["instructions_note"] = (f"no cost model for the {conv_storage} kernels: measure them with "
                                    "`dtmm run-model --conv-storage` or `dtmm compare`")  # fmt: skip
    elif board is not None:
        from ..cost.estimate import estimate_model
        from .export import match_layers

        est = estimate_model(tfl, board)
        out["predicted_instructions"] = int(est["instructions"])
        out["calibration_stale"] = bool(est["calibration_stale"])
        by_op = [e["instructions"] for e in est["layers"]]
        out["layer_instructions"] = {name: int(by_op[i]) for name, i in match_layers(tfl, model).items()}
        out["op_instructions"] = [{"name": e["name"], "op": e["op"], "predicted_instructions": e["instructions"]}
                                  for e in est["layers"]]  # fmt: skip
    met = {}
    if budgets.arena is not None:
        met["sram"] = out["arena_bytes"] <= budgets.arena
    if budgets.instructions is not None:
        met["latency"] = out["predicted_instructions"] <= budgets.instructions
    out["budgets_met"] = met
    return out


def _with_predictions(rows: list[dict], figures: dict) -> list[dict]:
    for r in rows:
        r["predicted_instructions"] = figures["layer_instructions"].get(r["name"])
        if "dense_layer_instructions" in figures:
            r["dense_predicted_instructions"] = figures["dense_layer_instructions"].get(r["name"])
    return rows


def resolve_stages(stages: int | str, epochs: int) -> int:
    """'auto': one stage per three epochs, at most 5 (so --epochs 1..5 prunes in one shot, 15 in 5 stages)."""
    if stages == "auto":
        return max(1, min(MAX_AUTO_STAGES, epochs // 3))
    try:
        n = int(stages)
    except (TypeError, ValueError):
        raise DtmmError(f"--stages {stages!r} is not a number or 'auto'") from None
    if n < 1:
        raise DtmmError("--stages must be at least 1")
    return n


def stage_budgets(dense: int, target: int, stages: int) -> list[int]:
    """Budgets of the pruning stages: a cubic ramp from dense to the target (the last one is the target)."""
    if stages < 1:
        raise DtmmError("--stages must be at least 1")
    return [int(target + (dense - target) * (1.0 - k / stages) ** 3) for k in range(1, stages + 1)]


def stage_epochs(epochs: int, stages: int) -> list[int]:
    """One epoch for every stage but the last, which gets the rest."""
    if stages == 1:
        return [epochs]
    if epochs and epochs < stages:
        raise DtmmError(f"--epochs {epochs} is less than --stages {stages} (each stage trains at least one epoch)")
    return [1 if epochs else 0] * (stages - 1) + [max(epochs - (stages - 1), 0)]


def _rebase_rows(rows: list[dict], original) -> list[dict]:
    """Express filter counts, beta and dense bytes against the original model (multi-stage runs)."""
    from . import plan as P

    ref = {r["name"]: r for r in P.make_plan(original, P.zero_importance(original), budget=1 << 62).layer_rows(original)}
    for r in rows:
        o = ref.get(r["name"])
        if o is None:
            continue
        r["cout"], r["cin"], r["dense_bytes"] = o["cout"], o["cin"], o["dense_bytes"]
        if o["filterlets"] is not None:
            r["filterlets"] = o["filterlets"]
        if r["beta_filter_ratio"] is not None:
            r["beta_filter_ratio"] = round(1.0 - r["cout_kept"] / r["cout"], 4)
            if r["cout_kept"] < r["cout"] and "filters" not in r["units"]:  # removed in an earlier stage
                r["units"] = ["filters", *r["units"]]
    return rows


def _int8_info(E, tfl: bytes, meas: dict, fl_check: dict) -> dict:
    scale, zp = E.input_quantization(tfl)
    return {"input_scale": scale, "input_zero_point": zp, "file_bytes": len(tfl),
            "filterlet_check": fl_check, "ops": meas["ops"]}  # fmt: skip


def _layer_rows(analysis, plan, meas: dict) -> list[dict]:
    by_name = {r["name"]: r for r in meas["ops"]}
    rows = plan.layer_rows(analysis)
    for r in rows:
        m = by_name.get(r["name"])
        r["int8_bytes"] = m["bytes"] if m else None
        if m and m["encoding"] != "tflite":
            r["encoding"] = m["encoding"]
    return rows


def _dense_layer_rows(analysis, meas: dict) -> list[dict]:
    from . import plan as P

    dense_plan = P.make_plan(analysis, P.zero_importance(analysis), budget=1 << 62)
    return _layer_rows(analysis, dense_plan, meas)


def _write_packed_sources(tfl: bytes, conv_storage: str, opts: PruneOptions, log) -> dict:
    """`dtmm pack` of the int8 model into the pack directory, so an app's build picks it up right after pruning."""
    from ..pack import pack_model, write_package
    from ..pack.lowering import StorageLowering

    lowering = StorageLowering(conv_storage) if conv_storage != "fwcs" else None
    packed = pack_model(TfliteModel(tfl, TFLITE_FILE), opts.pack_name, lowering=lowering)
    paths = write_package(packed.files, opts.packed_sources_dir)
    log(f"packed sources: {', '.join(str(p) for p in paths)}")
    return {"dir": str(opts.packed_sources_dir), "name": opts.pack_name, "files": [Path(p).name for p in paths],
            "conv_storage": conv_storage}


def _finish(report: dict, out: Path, final_model, tfl: bytes, dense_tfl: bytes | None, timer: _Timer, log,
            dense_model=None, pack: PruneOptions | None = None) -> dict:  # fmt: skip
    """Writes the outputs so that an interrupted run never leaves a report beside models it does not describe:
    an earlier report goes first, each file is written atomically, and report.json, the mark of a complete
    run, comes last with the SHA-256 of every file it describes."""
    out.mkdir(parents=True, exist_ok=True)
    for stale in (REPORT_JSON, REPORT_MD):
        (out / stale).unlink(missing_ok=True)
    for name in (MODEL_FILE, TFLITE_FILE, DENSE_KERAS_FILE, DENSE_TFLITE_FILE, REPORT_JSON, REPORT_MD):
        for debris in out.glob(f".{name}.*.tmp*"):  # temporaries of a write that was killed
            debris.unlink(missing_ok=True)
    save_atomic(out / MODEL_FILE, final_model.save, suffix=".keras")
    write_bytes_atomic(out / TFLITE_FILE, tfl)
    outputs = {"keras": MODEL_FILE, "tflite": TFLITE_FILE}
    if dense_model is not None:  # reusable as --dense-baseline FILE by runs with the same recipe
        save_atomic(out / DENSE_KERAS_FILE, dense_model.save, suffix=".keras")
        outputs["dense_keras"] = DENSE_KERAS_FILE
    if dense_tfl is not None:
        write_bytes_atomic(out / DENSE_TFLITE_FILE, dense_tfl)
        outputs["dense_tflite"] = DENSE_TFLITE_FILE
    if pack is not None:
        report["packed_sources"] = _write_packed_sources(tfl, report["conv_storage"], pack, log)
    timer.lap("write")
    report["outputs"] = outputs
    report["outputs_sha256"] = {k: hashlib.sha256((out / f).read_bytes()).hexdigest() for k, f in outputs.items()}
    report["phase_times_s"] = dict(timer.phases)
    report["wall_time_s"] = timer.total
    write_text_atomic(out / REPORT_MD, render_markdown(report))
    write_text_atomic(out / REPORT_JSON, json.dumps(report, indent=2, default=json_default) + "\n")
    log(f"int8 accuracy: dense {report['accuracy_dense_int8']:.4f}, pruned {report['accuracy_pruned_int8']:.4f}; "
        + budget_summary(report) + f"; wrote {out}")  # fmt: skip
    return report



def budget_summary(r: dict) -> str:
    """'packed 40,424 B of 41,076 B; arena ...; ... instructions predicted of ...' for the budgets given."""
    parts = [f"packed {format_bytes(r['packed_bytes'])}"
             + (f" of budget {format_bytes(r['flash_budget_bytes'])}" if r.get("flash_budget_bytes") else "")]
    if r.get("arena_bytes") is not None:
        parts.append(f"arena {format_bytes(r['arena_bytes'])}"
                     + (f" of budget {format_bytes(r['sram_budget_bytes'])}" if r.get("sram_budget_bytes") else ""))
    if r.get("predicted_instructions") is not None:
        parts.append(f"{format_instructions(r['predicted_instructions'])} predicted on {r['board']}"
                     + (f" of budget {r['latency_budget_instructions']:,}" if r.get("latency_budget_instructions")
                        else ""))  # fmt: skip
    return "; ".join(parts)


def _with_layer_labels(rows: list[dict], tfl: bytes) -> list[dict]:
    """Each row (keyed by its Keras layer name) gains "layer", its one name in every command:
    ``op09_CONV_2D (conv2d_7)`` (dtmm.tflite.layer_names); rows with no operator keep the Keras name."""
    model = TfliteModel(tfl)
    labels = model_layer_labels(model)
    by_keras = {name: labels[index] for index, name in keras_layer_names(model).items()}
    return [{**row, "layer": by_keras.get(row["name"], row["name"])} for row in rows]


def _pct(a, b) -> str:
    return f"{100.0 * a / b:.1f}%" if b else "-"


def _fmt(v, nd=4) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:.{nd}f}"
    return f"{v:,}" if isinstance(v, int) else str(v)


def _weight_level_table(r: dict) -> list[str]:
    lines = ["", "| layer | type | kernel | weights kept | kernels kept | dense B | planned B | int8 B | storage |",
             "|---|---|---|---:|---:|---:|---:|---:|---|"]  # fmt: skip
    for L in r["layers"]:
        kernels = f"{L['kernels_kept']}/{L['kernels']}" if "kernels" in L else "-"
        lines.append(f"| {L.get('layer', L['name'])} | {L['type']} | {L['kernel'][0]}x{L['kernel'][1]} "
                     f"| {L['weights_kept']}/{L['weights']} | {kernels} | {L['dense_bytes']:,} "
                     f"| {L['planned_bytes']:,} | {_fmt(L.get('bytes'))} | {L.get('storage') or '-'} |")  # fmt: skip
    lines += ["", "Layers not listed stay dense."]
    return lines


def render_markdown(r: dict) -> str:
    """The human-readable twin of report.json."""
    lines = [
        f"# dtmm prune report",
        "",
        f"- model: `{r['model']}`",
        f"- data: `{r['data']}` -- splits {r['splits']}, test images evaluated: {r['test_samples_evaluated']}",
        f"- budgets: {budgets_text(r, values=True)} ({r['size_units']})",
        f"- dense weight storage: {r['dense_bytes']:,} B"
        + (f" ({r['budget_base_bytes']:,} B as dtmm pack stores the model as given, the budget base: "
           f"{r.get('zero_filterlets_given', 0):,} all-zero filterlets)"
           if r.get("budget_base_bytes") not in (None, r["dense_bytes"]) else "")
        + f"; planned: {r['planned_bytes']:,} B; "
        f"**packed weight storage (int8): {r['packed_bytes']:,} B** ({_pct(r['packed_bytes'], r['dense_bytes'])} of dense); "
        f"smallest reachable: {r['smallest_reachable_bytes']:,} B",
        f"- int8 arena: {_fmt(r.get('arena_bytes'))} B (dense {_fmt(r.get('dense_arena_bytes'))} B); predicted "
        f"instructions on {r.get('board') or '-'}: {_fmt(r.get('predicted_instructions'))} (dense "
        f"{_fmt(r.get('dense_predicted_instructions'))}; {r['instruction_units']})",
        f"- int8 test accuracy ({r['evaluator']}): dense {_fmt(r['accuracy_dense_int8'])} "
        f"({r['dense_baseline']}), **pruned {_fmt(r['accuracy_pruned_int8'])}**",
        f"- wall time: {r['wall_time_s']:.1f} s ({', '.join(f'{k} {v:.1f}' for k, v in r['phase_times_s'].items())})",
    ]
    if r.get("note"):
        lines.append(f"- note: {r['note']}")
    if r.get("pruned"):
        lines.append(
            f"- fine-tuning: {r['epochs']} epoch(s), batch {r['batch_size']}, lr {r['learning_rate']}, "
            f"augment {r['augment']}, {r['strategy']} x{r['replicas']}, TensorFlow oneDNN kernels "
            f"{'on' if r.get('tf_onednn') else 'off'}; best validation accuracy "
            f"{_fmt(r['best_val_accuracy'])} at epoch {r['best_epoch']} (checkpoint chosen on validation only)"
        )
        kd = r.get("recipe", {}).get("distillation", {})
        lines.append("- distillation: " + (f"on, teacher {kd['teacher']}, temperature {kd['temperature']}, "
                                           f"weight {kd['weight']}" if kd.get("enabled") else "off"))
        if r.get("recipe", {}).get("prune_from"):
            lines.append(f"- pruning started from: {r['recipe']['prune_from']}")
        if "steps" in r["plan"]:
            lines.append(
                f"- plan: method {r.get('method', 'dtmm')}, importance {r['importance']}, "
                f"{r['plan']['steps']['filter']} filter steps, {r['plan']['steps']['filterlets_removed']} "
                f"filterlets and {r['plan']['steps'].get('groups_removed', 0)} channel groups removed"
            )
            cg = r["plan"].get("channel_groups") or {}
            if cg:
                offered = ", ".join(f"{n} {g}" for n, g in cg["offered"].items()) or "none"
                lines.append(f"- channel groups (--group-size {cg['choice']}, {cg['kernel_path']} kernel path): "
                             f"offered in {offered} (input channels per group)")  # fmt: skip
        else:
            lines.append(f"- plan: method {r['method']} (conv storage {r['conv_storage']}), {r['plan']['ratio_of']} "
                         f"{r['plan']['ratio']:.3f} in every layer it prunes")  # fmt: skip
        if len(r["plan"].get("stages", [])) > 1:
            lines.append("- stages (budget B / planned B / epochs / best val): " + "; ".join(
                f"{s['budget_bytes']:,} / {s['planned_bytes']:,} / {s['epochs']} / {_fmt(s['best_val_accuracy'])}"
                for s in r["plan"]["stages"]))  # fmt: skip
    if r.get("pruned") and "steps" not in r["plan"]:
        return "\n".join(lines + _weight_level_table(r)) + "\n"
    lines += [
        "",
        "| layer | type | units pruned | filters kept | in-channels kept | beta (filters removed) "
        "| alpha (filterlets removed) | channel groups removed (size) | encoding | dense B | planned B | int8 B "
        "| predicted instructions |",
        "|---|---|---|---:|---:|---:|---:|---:|---|---:|---:|---:|---:|",
    ]
    for L in r["layers"]:
        grp = f"{_fmt(L.get('group_ratio'), 3)} ({L['group_size']})" if L.get("group_size") else "-"
        lines.append(
            f"| {L.get('layer', L['name'])} | {L['type']} | {', '.join(L.get('units') or []) or '-'} "
            f"| {L['cout_kept']}/{L['cout']} | {L['cin_kept']}/{L['cin']} "
            f"| {_fmt(L['beta_filter_ratio'], 3)} | {_fmt(L['alpha_filterlet_ratio'], 3)} | {grp} | {L['encoding']} "
            f"| {L['dense_bytes']:,} | {L['planned_bytes']:,} | {_fmt(L.get('int8_bytes'))} "
            f"| {_fmt(L.get('predicted_instructions'))} |"
        )
    groups = r["graph"]["groups"]
    lines += ["", "Filter groups (producers whose filters are removed together):", ""]
    for g in groups:
        state = f"frozen: {g['reason']}" if g["frozen"] else "prunable"
        lines.append(f"- group {g['id']}: {', '.join(g['producers'])} ({g['channels']} channels, {state})")
    if r["graph"]["unsupported"]:
        lines += ["", "Layers the pruner does not slice (their channels are kept):", ""]
        for u in r["graph"]["unsupported"]:
            lines.append(f"- {u['layer']} ({u['type']}): {u['reason']}")
    return "\n".join(lines) + "\n"
