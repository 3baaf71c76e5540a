"""The cells of a comparison: one `dtmm prune` run per (method, budget), measured on every board.

Every cell prunes with the same data, splits, seed, epochs, fine-tuning
recipe and dense baseline (fine-tuned once by the first cell with
``--dense-baseline finetune``, then loaded from its file by the others), so
the methods differ only in what they remove and how it is stored. A cell whose
report.json records the same settings is reused; a measurement whose
model hash matches is reused. Measurements run the int8 model packed with the
method's conv storage on 2 seeded random int8 inputs (the kernels have no
data-dependent paths worth speaking of; the mean is reported).
"""
from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from ..errors import DtmmError
from ..fileio import json_default, write_text_atomic
from ..prune.plan import BudgetError

METHODS = ("dtmm", "filter", "pattern", "unstructured")
MEASURE_INPUTS = 2
COMPARE_JSON = "compare.json"


@dataclass
class CompareOptions:
    model: Path
    data: Path
    budgets: list[str]
    out: Path
    methods: list[str] = field(default_factory=lambda: list(METHODS))
    boards: list[str] = field(default_factory=lambda: ["qemu-m4", "qemu-m55"])
    epochs: int = 15
    seed: int = 0
    dense_baseline: str = "finetune"
    prune_kw: dict = field(default_factory=dict)  # further PruneOptions fields (batch_size, test_limit, ...)
    progress: bool = True


def parse_list(text: str, what: str) -> list[str]:
    items = [t.strip() for t in str(text).split(",") if t.strip()]
    if not items:
        raise DtmmError(f"--{what}: give a comma-separated list")
    if len(set(items)) != len(items):
        raise DtmmError(f"--{what} {text}: an entry is repeated")
    return items


def check_options(opts: CompareOptions) -> None:
    """Every argument checked before any work (one-line errors)."""
    from ..prune.budget import parse_flash
    from ..targets.boards import get_board

    for b in opts.budgets:
        parse_flash(b)
    bad = [m for m in opts.methods if m not in METHODS]
    if bad:
        raise DtmmError(f"--methods: unknown method {bad[0]!r} (choose from {', '.join(METHODS)})")
    for name in opts.boards:
        board = get_board(name)
        if not board.emulated:
            raise DtmmError(f"--boards: '{name}' is real hardware; compare measures under QEMU only")
    if not Path(opts.model).is_file():
        raise DtmmError(f"{opts.model}: no such file")
    if not Path(opts.data).exists():
        raise DtmmError(f"{opts.data}: no such file or directory")
    if opts.epochs < 1:
        raise DtmmError("--epochs must be >= 1 (every method is fine-tuned)")
    from ..prune.pipeline import check_dense_baseline

    check_dense_baseline(opts.dense_baseline)
    from ..fileio import check_writable_dir

    check_writable_dir(opts.out)


def cell_name(method: str, budget: str) -> str:
    return f"{method}-" + re.sub(r"[^A-Za-z0-9.]+", "", budget.replace("%", "pct"))


def _settings(opts: CompareOptions, method: str, budget: str) -> dict:
    return {"model": str(opts.model), "data": str(opts.data), "method": method, "flash_budget": budget,
            "epochs": opts.epochs, "seed": opts.seed}  # fmt: skip


def _finished(cell: Path, want: dict) -> dict | None:
    path = cell / "report.json"
    if not path.is_file():
        return None
    rep = json.loads(path.read_text())
    got = {"model": rep.get("model"), "data": rep.get("data"), "method": rep.get("method", "dtmm"),
           "flash_budget": rep.get("flash_budget"), "epochs": rep.get("epochs"), "seed": rep.get("seed")}  # fmt: skip
    return rep if got == want else None


def _prune_cell(opts: CompareOptions, method: str, budget: str, cell: Path, dense_baseline: str, log) -> dict:
    from ..prune.pipeline import PruneOptions, run_prune

    po = PruneOptions(model=Path(opts.model), data=Path(opts.data), flash=budget, out=cell, epochs=opts.epochs,
                      seed=opts.seed, method=method, dense_baseline=dense_baseline, progress=opts.progress,
                      **opts.prune_kw)  # fmt: skip
    rep = run_prune(po, log=log)
    import keras

    keras.backend.clear_session()  # each cell builds its own graphs; do not let them pile up
    return rep


def _measure(tfl_path: Path, storage: str, board: str, cache: Path, log) -> dict:
    """Instructions (mean of MEASURE_INPUTS), arena and flash of a .tflite on a board; cached by model hash."""
    data = tfl_path.read_bytes()
    sha = hashlib.sha256(data).hexdigest()
    if cache.is_file():
        old = json.loads(cache.read_text())
        if old.get("model_sha256") == sha and old.get("conv_storage") == storage:
            return old
    from ..pack.lowering import StorageLowering
    from ..targets.model_runner import run_model
    from ..tflite.model import TfliteModel

    tm = TfliteModel(data, tfl_path.name)
    shape = tm.tensors[tm.inputs[0]].shape
    xs = np.random.default_rng(0).integers(-128, 128, size=(MEASURE_INPUTS, *shape)).astype(np.int8)
    log(f"measuring {tfl_path.parent.name}/{tfl_path.name} on {board} ({storage} storage)")
    res = run_model(tm, board, xs, name="cmp", lowering=StorageLowering(storage) if storage != "fwcs" else None)
    out = {"model_sha256": sha, "conv_storage": storage, "board": board,
           "instructions": int(round(float(np.mean(res.instructions)))),
           "instructions_per_input": [int(v) for v in res.instructions], "arena_bytes": int(res.arena_bytes),
           "flash_bytes": int(res.flash_bytes), "conv_path": res.conv_path}  # fmt: skip
    write_text_atomic(cache, json.dumps(out, indent=2) + "\n")
    return out


def _write_outputs(opts: CompareOptions, out: Path, cells: list, *, complete: bool, log) -> dict | None:
    """compare.json / compare.md / plots of the cells so far (None while no cell has a model)."""
    from . import summary as S

    done = [c for c in cells if not c.get("infeasible")]
    if not done:
        return None
    first = out / done[0]["cell"]
    quiet = log or (lambda m: None)
    dense = {b: _measure(first / "dense_int8.tflite", "fwcs", b, out / "cells" / f"dense-measure-{b}.json", quiet)
             for b in opts.boards}  # fmt: skip
    result = {
        "tool": "dtmm compare", "model": str(opts.model), "data": str(opts.data), "budgets": list(opts.budgets),
        "methods": list(opts.methods), "boards": list(opts.boards), "epochs": opts.epochs, "seed": opts.seed,
        "complete": complete,
        "units": {"instructions": "QEMU-retired instructions per inference (not cycles)", "bytes": "B",
                  "accuracy": "int8 top-1 on the test split, tflite-micro"},
        "dense": {"accuracy": done[0]["accuracy_dense"], "dense_bytes": done[0]["dense_bytes"], "boards": dense},
        "cells": cells,
    }  # fmt: skip
    result["summary"] = S.summary(result)
    result["plots"] = [str(p.relative_to(out)) for p in S.plots(result, out)]
    write_text_atomic(out / "compare.md", S.render_markdown(result))
    write_text_atomic(out / COMPARE_JSON, json.dumps(result, indent=2, default=json_default) + "\n")
    if log is not None:
        for line in S.summary_lines(result):
            log(line)
        log(f"wrote {out / COMPARE_JSON}, {out / 'compare.md'} and {len(result['plots'])} plots")
    return result


def run_compare(opts: CompareOptions, log: Callable[[str], None] = print) -> dict:
    """Run (or reuse) every cell, measure, write compare.json / compare.md / plots; returns compare.json's dict."""
    from ..pack.lowering import STORAGE_OF_METHOD

    check_options(opts)
    out = Path(opts.out)
    if out.exists() and not out.is_dir():
        raise DtmmError(f"{out}: exists and is not a directory")
    cells_dir = out / "cells"
    plan = [(b, m) for b in opts.budgets for m in opts.methods]
    dense_baseline = opts.dense_baseline
    cells = []
    for k, (budget, method) in enumerate(plan, 1):
        name = cell_name(method, budget)
        cell = cells_dir / name
        tag = f"[{k}/{len(plan)}] {method} at {budget}"
        rep = _finished(cell, _settings(opts, method, budget))
        if rep is not None:
            log(f"{tag}: reused (int8 accuracy {rep['accuracy_pruned_int8']:.4f}, {rep['packed_bytes']:,} B)")
        else:
            log(f"{tag}: pruning ({opts.epochs} epochs)")
            try:
                rep = _prune_cell(opts, method, budget, cell, dense_baseline, lambda m, t=tag: log(f"{t}: {m}"))
            except BudgetError as exc:  # this method cannot reach this budget: a result, not a failure
                log(f"{tag}: infeasible: {exc}")
                cells.append({"method": method, "budget": budget, "cell": None, "infeasible": str(exc),
                              "conv_storage": STORAGE_OF_METHOD[method]})  # fmt: skip
                continue
        if dense_baseline == "finetune" and (cell / "dense_finetuned.keras").is_file():
            dense_baseline = str(cell / "dense_finetuned.keras")  # every later cell starts from the same model
        storage = STORAGE_OF_METHOD[method]
        measured = {b: _measure(cell / "model_int8.tflite", storage, b, cell / f"measure-{b}.json", log)
                    for b in opts.boards}  # fmt: skip
        cells.append({"method": method, "budget": budget, "cell": str(cell.relative_to(out)), "conv_storage": storage,
                      "flash_budget_bytes": rep["flash_budget_bytes"], "packed_bytes": rep["packed_bytes"],
                      "dense_bytes": rep["dense_bytes"], "accuracy": rep["accuracy_pruned_int8"],
                      "accuracy_dense": rep["accuracy_dense_int8"], "seed": rep["seed"], "epochs": rep["epochs"],
                      "wall_time_s": rep.get("wall_time_s"), "boards": measured})  # fmt: skip
        if k < len(plan):  # the table so far, so a long comparison can be read (and plotted) while it runs
            _write_outputs(opts, out, cells, complete=False, log=None)
    result = _write_outputs(opts, out, cells, complete=True, log=log)
    if result is None:
        raise DtmmError("no method reached any of the budgets: " + "; ".join(c["infeasible"] for c in cells[:2]))
    return result
