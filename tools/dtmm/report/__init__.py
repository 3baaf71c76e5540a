"""`dtmm report DIR`: a run directory as Markdown plus PNG plots.

A run directory is what ``make demo`` writes (``summary.json`` and
``prune/<budget>/report.json``), or any directory holding ``dtmm prune``
outputs (``report.json`` in it or in its subdirectories).  The report has

* the dense-vs-DTMM table of the demo (flash, peak RAM, instructions per
  inference per board, int8 test accuracy, on-device agreement);
* ``accuracy_vs_flash.png``: int8 test accuracy against weight flash bytes,
  one dense and one pruned point per pruned budget found;
* ``instructions_per_layer.png``: retired instructions per operator, dense
  vs pruned, one panel per board (from the profiling builds of the demo,
  ``-DDTMM_PROFILE``);
* ``flash_per_layer.png``: weight bytes per layer, dense vs pruned (pruner report);

and the per-budget and per-operator figures as tables.  :func:`text_table`
and :func:`markdown_summary` are also what the demo prints and writes.
"""
from __future__ import annotations

import json
from pathlib import Path

from ..errors import DtmmError
from ..prune.budget import budgets_text

SUMMARY_FILE = "summary.json"
PRUNE_REPORT = "report.json"
RUN_MODEL_GLOB = "run-model-*.json"
PLOTS = ("accuracy_vs_flash.png", "instructions_per_layer.png", "flash_per_layer.png",
         "predicted_instructions_per_layer.png")


# ---- loading ---------------------------------------------------------------------------------------
def load_summary(run_dir: Path) -> dict | None:
    path = Path(run_dir) / SUMMARY_FILE
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text())
    except ValueError as exc:
        raise DtmmError(f"{path}: not valid JSON ({exc})") from None
    if data.get("format") != "dtmm-demo":
        raise DtmmError(f"{path}: not a dtmm demo summary (format {data.get('format')!r})")
    return data


def _is_prune_report(data) -> bool:
    return isinstance(data, dict) and data.get("tool") == "dtmm prune" and "packed_bytes" in data


def find_prune_reports(run_dir: Path) -> list[tuple[Path, dict]]:
    """``dtmm prune`` reports in ``run_dir``, ``run_dir/*`` and ``run_dir/prune/*``, by weight bytes."""
    run_dir = Path(run_dir)
    candidates = [run_dir / PRUNE_REPORT, *sorted(run_dir.glob(f"*/{PRUNE_REPORT}")),
                  *sorted(run_dir.glob(f"prune/*/{PRUNE_REPORT}"))]  # fmt: skip
    found, seen = [], set()
    for path in candidates:
        if not path.is_file() or path.resolve() in seen:
            continue
        seen.add(path.resolve())
        try:
            data = json.loads(path.read_text())
        except ValueError as exc:  # a damaged report is an error, not a run without reports
            raise DtmmError(f"{path}: not valid JSON ({exc})") from None
        if _is_prune_report(data):
            found.append((path, data))
    found.sort(key=lambda pr: (pr[1]["packed_bytes"], str(pr[0])))
    return found


# ---- formatting ------------------------------------------------------------------------------------
def _b(n) -> str:
    return "-" if n is None else f"{int(n):,} B"


def _ratio(a, b) -> str:
    if a is None or b is None or not b:
        return "-"
    return f"{a / b:.2f}x"


def _acc(a) -> str:
    return "-" if a is None else f"{100.0 * a:.2f}%"


def _minstr(n) -> str:
    return "-" if n is None else f"{n:,.0f}"


def fine_tune_note(summary: dict) -> str:
    ft = summary.get("fine_tune", {})
    secs = ft.get("pruned_seconds")
    n = ft.get("train_images")
    dense = ("the dense baseline got the same fine-tune" if ft.get("dense_baseline") == "finetune"
             else "the dense baseline is the model as given, not fine-tuned")  # fmt: skip
    return (
        f"Short fine-tune: {ft.get('epochs')} epoch(s)"
        + (f" over {n:,} training images" if n else "")
        + (f" ({secs:.0f} s for the pruned model on this machine)" if secs is not None else "")
        + f"; {dense}. Short to keep the demo quick: `make demo EPOCHS=N` fine-tunes longer."
    )


def summary_rows(summary: dict) -> list[list[str]]:
    """[metric, dense, DTMM, DTMM vs dense] rows of the demo table."""
    v = summary["variants"]
    d, p = v["dense"], v["pruned"]
    rows = [
        ["weight storage (budget " + str(summary.get("budget")) + f" = {summary.get('budget_bytes'):,} B)",
         _b(d["weights_bytes"]), _b(p["weights_bytes"]), _ratio(p["weights_bytes"], d["weights_bytes"])],
        ["model flash: weights + kernel parameters (dtmm pack; docs/figures.md)", _b(d["flash_bytes"]), _b(p["flash_bytes"]),
         _ratio(p["flash_bytes"], d["flash_bytes"])],
        ["peak RAM: activation arena (dtmm pack plan)", _b(d["arena_bytes"]), _b(p["arena_bytes"]),
         _ratio(p["arena_bytes"], d["arena_bytes"])],
    ]  # fmt: skip
    boards = summary.get("boards", {})
    for board, entry in boards.items():
        de, pe = entry.get("dense", {}), entry.get("pruned", {})
        rows.append([f"firmware flash without test images, {board}", _b(de.get("flash_without_images_bytes")),
                     _b(pe.get("flash_without_images_bytes")),
                     _ratio(pe.get("flash_without_images_bytes"), de.get("flash_without_images_bytes"))])  # fmt: skip
    for board, entry in boards.items():
        de, pe = entry.get("dense", {}), entry.get("pruned", {})
        path = pe.get("conv_path") or de.get("conv_path") or "?"
        rows.append([f"instructions per inference, {board} ({path} kernels)", _minstr(de.get("instructions_mean")),
                     _minstr(pe.get("instructions_mean")),
                     _ratio(pe.get("instructions_mean"), de.get("instructions_mean"))])  # fmt: skip
        if pe.get("predicted_instructions") is not None:
            budget = ""
            if summary.get("latency_board") == board and summary.get("latency_budget_instructions"):
                budget = f"; budget {summary['latency_budget']} = {summary['latency_budget_instructions']:,}"
            rows.append([f"  predicted by the {board} cost model (dtmm estimate{budget})",
                         _minstr(de.get("predicted_instructions")), _minstr(pe.get("predicted_instructions")),
                         _ratio(pe.get("predicted_instructions"), de.get("predicted_instructions"))])  # fmt: skip
    ta = summary.get("test_accuracy", {})
    delta = None if ta.get("dense") is None else 100.0 * (ta["pruned"] - ta["dense"])
    rows.append([f"int8 top-1 accuracy, {ta.get('images', 0):,} test images ({ta.get('evaluator', 'tflite-micro')})",
                 _acc(ta.get("dense")), _acc(ta.get("pruned")), "-" if delta is None else f"{delta:+.2f} pt"])  # fmt: skip
    orig = ta.get("original")
    if orig:
        rows.append([f"(for reference: {Path(orig['tflite']).name} as given, no fine-tune, same images)",
                     _acc(orig.get("accuracy")), "", ""])  # fmt: skip
    for board, entry in boards.items():
        de, pe = entry.get("dense", {}), entry.get("pruned", {})
        rows.append([f"on-device predictions = tflite-micro's, {board}",
                     f"{de.get('agreement', '-')}/{de.get('images', '-')}",
                     f"{pe.get('agreement', '-')}/{pe.get('images', '-')}", ""])  # fmt: skip
    first = next(iter(boards.values()), None)
    if first:
        de, pe = first.get("dense", {}), first.get("pruned", {})
        rows.append([f"on-device top-1 on those {pe.get('images', '-')} images",
                     f"{de.get('device_correct', '-')}/{de.get('images', '-')}",
                     f"{pe.get('device_correct', '-')}/{pe.get('images', '-')}", ""])  # fmt: skip
    return rows


HEADER = ["", "dense", "DTMM (pruned)", "DTMM vs dense"]


def _title(summary: dict) -> str:
    latency = (f", latency budget {summary['latency_budget']} on {summary['latency_board']}"
               if summary.get("latency_budget") else "")
    return (f"DTMM demo: {Path(summary.get('model', 'model')).name} on {Path(summary.get('data', 'data')).name}, "
            f"flash budget {summary.get('budget')}{latency}")  # fmt: skip


def text_table(summary: dict) -> str:
    rows = [HEADER] + summary_rows(summary)
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    lines = [_title(summary), ""]
    for k, r in enumerate(rows):
        lines.append("  ".join([r[0].ljust(widths[0])] + [r[i].rjust(widths[i]) for i in (1, 2, 3)]).rstrip())
        if k == 0:
            lines.append("  ".join("-" * w for w in widths))
    lines += ["", fine_tune_note(summary), _measure_note(summary)]
    if summary.get("wall_time_s") is not None and summary.get("phase_times_s"):
        lines.append(_wall_note(summary))
    if not summary.get("ok", True):
        lines.append("FAILED: " + "; ".join(summary.get("failures", [])))
    return "\n".join(lines)


def _measure_note(summary: dict) -> str:
    return ("Instructions are QEMU-retired instructions (exact, repeatable; not cycles). Agreement: the "
            "firmware's predicted class equals the tflite-micro Python interpreter's on the same int8 model "
            "and image; accuracy is on the test split, never used for training or checkpoint choice.")


def _wall_note(summary: dict) -> str:
    phases = ", ".join(f"{k} {v:.0f} s" for k, v in summary.get("phase_times_s", {}).items())
    return f"Wall time of the demo: {summary['wall_time_s']:.0f} s ({phases})."


def markdown_table(header: list[str], rows: list[list[str]], align: str | None = None) -> list[str]:
    align = align or ("l" + "r" * (len(header) - 1))
    esc = lambda s: str(s).replace("|", "\\|")  # noqa: E731
    lines = ["| " + " | ".join(esc(h) for h in header) + " |",
             "|" + "|".join("---:" if a == "r" else "---" for a in align) + "|"]  # fmt: skip
    lines += ["| " + " | ".join(esc(c) for c in r) + " |" for r in rows]
    return lines


def markdown_summary(summary: dict) -> str:
    lines = [f"# {_title(summary)}", ""]
    lines += markdown_table(HEADER, summary_rows(summary))
    lines += ["", fine_tune_note(summary), "", _measure_note(summary)]
    if summary.get("wall_time_s") is not None and summary.get("phase_times_s"):
        lines += ["", _wall_note(summary)]
    if not summary.get("ok", True):
        lines += ["", "**FAILED**: " + "; ".join(summary.get("failures", []))]
    return "\n".join(lines) + "\n"


# ---- the report ------------------------------------------------------------------------------------
def budget_rows(reports: list[tuple[Path, dict]], base: Path) -> list[list[str]]:
    rows = []
    for path, r in reports:
        rows.append([
            budgets_text(r),
            f"{r['packed_bytes']:,}",
            f"{100.0 * r['packed_bytes'] / r['dense_bytes']:.1f}%" if r.get("dense_bytes") else "-",
            _acc(r.get("accuracy_pruned_int8")),
            _acc(r.get("accuracy_dense_int8")),
            f"{r.get('epochs')} ({r.get('dense_baseline', '-')})",
            f"{r.get('test_samples_evaluated', 0):,}",
            _b(r.get("arena_bytes")),
            _minstr(r.get("predicted_instructions")) + (f" ({r['board']})" if r.get("predicted_instructions") else ""),
            f"`{_relpath(path.parent, base)}`",
        ])  # fmt: skip
    return rows


def _relpath(path: Path, base: Path) -> str:
    try:
        return str(Path(path).resolve().relative_to(Path(base).resolve())) or "."
    except ValueError:
        return str(path)


def layer_names(summary: dict) -> dict[str, str]:
    """{profiler label: the layer's one name} (docs/figures.md) from a demo summary's variants."""
    names: dict[str, str] = {}
    for variant in (summary or {}).get("variants", {}).values():
        names.update(variant.get("layers") or {})
    return names


def profile_rows(summary: dict, board: str) -> list[list[str]]:
    entry = summary["boards"][board]
    dp, pp = entry.get("dense", {}).get("profile") or {}, entry.get("pruned", {}).get("profile") or {}
    labels = list(dict.fromkeys([*dp, *pp]))
    names = layer_names(summary)
    rows = []
    for lab in labels:
        a, b = dp.get(lab), pp.get(lab)
        rows.append([names.get(lab, lab), _minstr(a), _minstr(b), _ratio(b, a)])
    ta, tb = sum(dp.values()) if dp else None, sum(pp.values()) if pp else None
    rows.append(["**all operators**", _minstr(ta), _minstr(tb), _ratio(tb, ta)])
    return rows


def find_model_runs(run_dir: Path) -> list[tuple[Path, dict]]:
    """`dtmm run-model --save DIR` records in ``run_dir`` with a per-operator profile, by file name."""
    found = []
    for path in sorted(Path(run_dir).glob(RUN_MODEL_GLOB)):
        try:
            data = json.loads(path.read_text())
        except ValueError as exc:
            raise DtmmError(f"{path}: not valid JSON ({exc})") from None
        if isinstance(data, dict) and data.get("tool") == "dtmm run-model" and data.get("profile"):
            found.append((path, data))
    return found


def model_run_rows(run: dict) -> list[list[str]]:
    """Operator, mean instructions over the profiled inferences and share of the operators' total."""
    labels = list(run["profile"][0])
    means = {lab: sum(p.get(lab, 0) for p in run["profile"]) / len(run["profile"]) for lab in labels}
    total = sum(means.values()) or 1
    names = run.get("layers") or {}
    rows = [[names.get(lab, lab), f"{means[lab]:,.0f}", f"{100 * means[lab] / total:.1f}%"] for lab in labels]
    rows.append(["**all operators**", f"{sum(means.values()):,.0f}", "100.0%"])
    return rows


def render_report(run_dir: str | Path, out_dir: str | Path | None = None) -> list[Path]:
    """Writes report.md and the PNG plots into ``out_dir`` (default RUN_DIR/report); returns their paths."""
    from . import plots

    run_dir = Path(run_dir)
    if run_dir.is_file():
        if run_dir.name not in (SUMMARY_FILE, PRUNE_REPORT):
            raise DtmmError(f"{run_dir} is a file; give the run directory (or its {SUMMARY_FILE} / {PRUNE_REPORT})")
        run_dir = run_dir.parent  # the file names its run directory
    if not run_dir.is_dir():
        raise DtmmError(f"run directory {run_dir} does not exist")
    out = Path(out_dir) if out_dir else run_dir / "report"
    summary = load_summary(run_dir)
    reports = find_prune_reports(run_dir)
    if summary is None and not reports and not find_model_runs(run_dir):
        raise DtmmError(
            f"{run_dir} holds no demo summary ({SUMMARY_FILE}), no dtmm prune report ({PRUNE_REPORT}) and no "
            "`dtmm run-model --save` record; run `make demo` or `dtmm prune ... --out DIR` first"
        )
    out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    lines = [f"# DTMM report: `{run_dir}`", ""]
    if summary:
        lines += [f"Model `{summary.get('model')}`, data `{summary.get('data')}`, flash budget "
                  f"`{summary.get('budget')}` ({summary.get('budget_bytes'):,} B of weight storage).", ""]  # fmt: skip
        lines += ["## Dense vs DTMM", ""] + markdown_table(HEADER, summary_rows(summary))
        lines += ["", fine_tune_note(summary), "", _measure_note(summary)]
        if summary.get("wall_time_s") is not None and summary.get("phase_times_s"):
            lines += ["", _wall_note(summary)]
        if not summary.get("ok", True):
            lines += ["", "**FAILED**: " + "; ".join(summary.get("failures", []))]
        lines.append("")

    lines += ["## Accuracy vs flash", ""]
    if reports:
        orig = ((summary or {}).get("test_accuracy") or {}).get("original")
        ref = None
        if orig and summary.get("variants", {}).get("dense", {}).get("weights_bytes"):
            ref = {"label": f"{Path(orig['tflite']).name} as given (no fine-tune)", "accuracy": orig["accuracy"],
                   "bytes": summary["variants"]["dense"]["weights_bytes"]}  # fmt: skip
        p = plots.accuracy_vs_flash(reports, out / PLOTS[0], reference=ref)
        written.append(p)
        lines += [f"![int8 test accuracy vs weight flash]({p.name})", ""]
        lines += markdown_table(
            ["budgets", "pruned weight storage B", "of dense", "pruned int8 acc.", "dense int8 acc.",
             "fine-tune epochs (dense baseline)", "test images", "arena B", "predicted instructions", "directory"],
            budget_rows(reports, run_dir), align="lrrrrrrrrl",
        )  # fmt: skip
        lines.append("")
    else:
        lines += ["No `dtmm prune` report found.", ""]

    lines += ["## Instructions per layer", ""]
    profiled = [b for b, e in (summary or {}).get("boards", {}).items()
                if e.get("dense", {}).get("profile") or e.get("pruned", {}).get("profile")]  # fmt: skip
    if profiled:
        p = plots.instructions_per_layer(summary, profiled, out / PLOTS[1])
        written.append(p)
        lines += [f"![instructions per operator, dense vs DTMM]({p.name})", ""]
        for board in profiled:
            e = summary["boards"][board]
            n = e.get("pruned", {}).get("profile_images") or e.get("dense", {}).get("profile_images")
            lines += [f"{board} ({e.get('pruned', {}).get('conv_path') or '?'} kernels), retired instructions "
                      f"per operator (profiling build, mean of {n} image(s); the measurement overhead is "
                      "calibrated out, so the operators add up to the whole inference):", ""]  # fmt: skip
            lines += markdown_table(["operator", "dense", "DTMM", "DTMM vs dense"], profile_rows(summary, board))
            lines.append("")
    runs = find_model_runs(run_dir)
    for path, run in runs:
        lines += [f"`dtmm run-model --profile` of `{Path(run.get('model_file', '?')).name}` on {run['board']} "
                  f"({run.get('conv_path')} kernels; `{path.name}`), QEMU-retired instructions per operator, mean "
                  f"of {len(run['profile'])} inference(s):", ""]  # fmt: skip
        lines += markdown_table(["operator", "instructions", "share"], model_run_rows(run), align="lrr")
        lines.append("")
    if not profiled and not runs:
        lines += ["No per-operator profile in this directory (`make demo` records one with its profiling "
                  "builds; `dtmm run-model --profile --save DIR` another).", ""]  # fmt: skip

    main_report = _main_report(summary, reports, run_dir)
    if main_report is not None and main_report.get("layers"):
        p = plots.flash_per_layer(main_report, out / PLOTS[2])
        written.append(p)
        lines += ["## Flash per layer", "", f"![weight storage per layer]({p.name})", "",
                  f"Budget `{main_report.get('flash_budget')}`; weight storage per layer (docs/figures.md), "
                  "dense vs pruned int8.", ""]  # fmt: skip

    if main_report is not None and any(L.get("predicted_instructions") for L in main_report.get("layers", [])):
        p = plots.predicted_instructions_per_layer(main_report, out / PLOTS[3])
        written.append(p)
        lines += ["## Predicted instructions per layer", "", f"![predicted instructions per layer]({p.name})", "",
                  f"QEMU-retired instructions (not cycles) per weighted layer as the {main_report.get('board')} cost "
                  "model predicts them (`dtmm estimate`), dense vs pruned int8"
                  + (f"; latency budget `{main_report['latency_budget']}` = "
                     f"{main_report['latency_budget_instructions']:,} for the whole model, predicted "
                     f"{main_report['predicted_instructions']:,}" if main_report.get("latency_budget_instructions")
                     else "") + ".", ""]  # fmt: skip

    md = out / "report.md"
    md.write_text("\n".join(lines).rstrip() + "\n")
    return [md, *written]


def _main_report(summary, reports, run_dir: Path):
    if summary and summary.get("prune_dir"):
        path = run_dir / summary["prune_dir"] / PRUNE_REPORT
        for p, r in reports:
            if p.resolve() == path.resolve():
                return r
    return reports[-1][1] if reports else None


__all__ = [
    "find_prune_reports",
    "load_summary",
    "markdown_summary",
    "render_report",
    "summary_rows",
    "text_table",
]
