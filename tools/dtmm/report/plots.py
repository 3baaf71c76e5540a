"""The PNG plots of `dtmm report` (matplotlib, Agg backend: no display needed)."""
from __future__ import annotations

from pathlib import Path

DENSE_COLOR = "#4C72B0"
PRUNED_COLOR = "#DD8452"
DPI = 120


def _pyplot():
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path: Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp.png")
    # no timestamps in the PNG: the same data gives the same bytes
    fig.savefig(tmp, dpi=DPI, metadata={"Software": None})
    tmp.replace(path)
    return path


METHOD_LABELS = {"dtmm": "DTMM (filter + filterlet)", "filter": "filter pruning (CHIP)",
                 "pattern": "pattern pruning (PatDNN)", "unstructured": "unstructured pruning"}  # fmt: skip


def _pruned_label(pruned: list) -> str:
    methods = sorted({r.get("method", "dtmm") for _b, _a, r in pruned})
    return "pruned int8: " + ", ".join(METHOD_LABELS.get(m, m) for m in methods)


def accuracy_vs_flash(reports: list, path: Path, reference: dict | None = None) -> Path:
    """int8 test accuracy (%) against weight flash (KB): dense and pruned points of every prune report;
    ``reference`` ({"label", "accuracy", "bytes"}) adds the model as given."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7.5, 5.0))
    pruned = sorted(((r["packed_bytes"], r["accuracy_pruned_int8"], r) for _p, r in reports), key=lambda t: t[0])
    dense = {}
    for _p, r in reports:
        if r.get("pruned") is False:
            continue
        key = (r["dense_bytes"], round(r["accuracy_dense_int8"], 6), r.get("epochs"), r.get("dense_baseline"))
        dense[key] = r
    for k, ((nbytes, acc, epochs, baseline), r) in enumerate(sorted(dense.items())):
        how = f"fine-tuned {epochs} ep." if baseline == "finetune" else "as given"
        ax.scatter([nbytes / 1000], [100 * acc], s=90, marker="s", color=DENSE_COLOR, zorder=3,
                   label=f"dense int8 ({how})" if k == 0 or len(dense) > 1 else None)  # fmt: skip
        ax.annotate(f"dense\n{100 * acc:.1f}%", (nbytes / 1000, 100 * acc), textcoords="offset points",
                    xytext=(-8, 10), ha="right", fontsize=9, color=DENSE_COLOR)  # fmt: skip
    if pruned:
        xs = [b / 1000 for b, _a, _r in pruned]
        ys = [100 * a for _b, a, _r in pruned]
        ax.plot(xs, ys, "-o", color=PRUNED_COLOR, markersize=8, zorder=3,
                label=_pruned_label(pruned))  # fmt: skip
        for k, (b, a, r) in enumerate(pruned):
            # alternate below-right / above-left so labels of neighbouring budgets do not overlap
            below = k % 2 == len(pruned) % 2
            ax.annotate(f"budget {r.get('flash_budget')}\n{100 * a:.1f}%, {r.get('epochs')} ep.",
                        (b / 1000, 100 * a), textcoords="offset points", xytext=(8, -6) if below else (-8, 6),
                        ha="left" if below else "right", va="top" if below else "bottom", fontsize=9,
                        color="#8c4a1c")  # fmt: skip
    if reference:
        rb, ra = reference["bytes"] / 1000, 100 * reference["accuracy"]
        ax.scatter([rb], [ra], s=80, marker="D", color="#7f7f7f", zorder=3, label=reference["label"])
        ax.annotate(f"{ra:.1f}%", (rb, ra), textcoords="offset points", xytext=(-8, -4), ha="right", va="top",
                    fontsize=9, color="#555555")  # fmt: skip
    allx = [b / 1000 for b, _a, _r in pruned] + [k[0] / 1000 for k in dense]
    ally = [100 * a for _b, a, _r in pruned] + [100 * k[1] for k in dense]
    if reference:
        allx.append(reference["bytes"] / 1000)
        ally.append(100 * reference["accuracy"])
    if allx:
        span = max(allx) - min(allx) or max(allx) or 1.0
        ax.set_xlim(max(0.0, min(allx) - 0.25 * span), max(allx) + 0.35 * span)
        yspan = max(ally) - min(ally) or 5.0
        ax.set_ylim(max(0.0, min(ally) - 0.5 * yspan), min(100.0, max(ally) + 0.5 * yspan))
    n = max((r.get("test_samples_evaluated") or 0) for _p, r in reports) if reports else 0
    ax.set_xlabel("flash for weights (KB = 1000 bytes; pruner byte model, FWCS for convolutions)")
    ax.set_ylabel(f"int8 top-1 test accuracy (%), {n:,} images, tflite-micro")
    ax.set_title("Accuracy vs flash: dense vs pruned")
    return _finish(plt, fig, ax, path)


def _finish(plt, fig, ax, path: Path) -> Path:
    """Grid, legend, tight layout; saved (see _save) and closed."""
    ax.grid(True, alpha=0.3)
    ax.legend(loc="lower right")
    fig.tight_layout()
    out = _save(fig, path)
    plt.close(fig)
    return out


def instructions_per_layer(summary: dict, boards: list[str], path: Path) -> Path:
    """Grouped bars per operator, dense vs pruned, one panel per board (millions of instructions)."""
    from . import layer_names

    plt = _pyplot()
    import numpy as np

    fig, axes = plt.subplots(len(boards), 1, figsize=(10, 3.9 * len(boards)), squeeze=False)
    for ax, board in zip(axes[:, 0], boards):
        e = summary["boards"][board]
        dp = e.get("dense", {}).get("profile") or {}
        pp = e.get("pruned", {}).get("profile") or {}
        labels = list(dict.fromkeys([*dp, *pp]))
        x = np.arange(len(labels))
        w = 0.4
        dv = [dp.get(l, 0) / 1e6 for l in labels]
        pv = [pp.get(l, 0) / 1e6 for l in labels]
        ax.bar(x - w / 2, dv, w, color=DENSE_COLOR, label=f"dense ({sum(dv):.2f} M in all operators)")
        ax.bar(x + w / 2, pv, w, color=PRUNED_COLOR, label=f"DTMM pruned ({sum(pv):.2f} M in all operators)")
        ax.set_xticks(x)
        names = layer_names(summary)
        ax.set_xticklabels([names.get(l, l) for l in labels], rotation=40, ha="right", fontsize=8)
        path_name = e.get("pruned", {}).get("conv_path") or e.get("dense", {}).get("conv_path") or "?"
        ax.set_title(f"{board} ({path_name} conv kernels): retired instructions per operator, one inference")
        ax.set_ylabel("instructions (millions)")
        ax.set_xlabel("layer (operator index, type and Keras name: docs/figures.md; execution order)")
        ax.grid(True, axis="y", alpha=0.3)
        ax.legend(loc="upper right")
    fig.tight_layout()
    out = _save(fig, path)
    plt.close(fig)
    return out


def _dense_vs_pruned(names: list[str], dense: list[float], pruned: list[float], *, unit: str, ylabel: str,
                     title: str, path: Path, title_size: float | None = None) -> Path:
    """Grouped bars per layer, dense vs pruned, totals in the legend."""
    plt = _pyplot()
    import numpy as np

    fig, ax = plt.subplots(figsize=(10, 4.2))
    x = np.arange(len(names))
    w = 0.4
    ax.bar(x - w / 2, dense, w, color=DENSE_COLOR, label=f"dense ({sum(dense):.2f} {unit})")
    ax.bar(x + w / 2, pruned, w, color=PRUNED_COLOR, label=f"DTMM pruned ({sum(pruned):.2f} {unit})")
    ax.set_xticks(x)
    ax.set_xticklabels(names, rotation=40, ha="right", fontsize=8)
    ax.set_ylabel(ylabel)
    ax.set_xlabel("layer")
    ax.set_title(title, fontsize=title_size)
    ax.grid(True, axis="y", alpha=0.3)
    ax.legend(loc="upper left")
    fig.tight_layout()
    out = _save(fig, path)
    plt.close(fig)
    return out


def flash_per_layer(report: dict, path: Path) -> Path:
    """Weight storage per layer (dense vs pruned int8, docs/figures.md) from a dtmm prune report."""
    layers = [L for L in report["layers"] if L.get("dense_bytes")]
    dense = [L["dense_bytes"] / 1000 for L in layers]
    pruned = [(L.get("int8_bytes") if L.get("int8_bytes") is not None else L.get("planned_bytes", 0)) / 1000
              for L in layers]  # fmt: skip
    return _dense_vs_pruned([L.get("layer", L["name"]) for L in layers], dense, pruned, unit="KB",
                            ylabel="weight storage (KB = 1000 bytes)",
                            title=f"Weight storage per layer, flash budget {report.get('flash_budget') or 'none'}",
                            path=path)  # fmt: skip


def predicted_instructions_per_layer(report: dict, path: Path) -> Path:
    """Predicted instructions per weighted layer (dense vs pruned int8, the board's cost model) from a prune report."""
    layers = [L for L in report["layers"] if L.get("predicted_instructions") is not None]
    dense = [(L.get("dense_predicted_instructions") or 0) / 1e6 for L in layers]
    pruned = [L["predicted_instructions"] / 1e6 for L in layers]
    budget = report.get("latency_budget_instructions")
    title = f"Predicted QEMU-retired instructions per layer on {report.get('board')}"
    if budget:
        title += (f"; whole model {report.get('predicted_instructions', 0) / 1e6:.2f} M of budget "
                  f"{report.get('latency_budget')} = {budget / 1e6:.2f} M")
    return _dense_vs_pruned([L.get("layer", L["name"]) for L in layers], dense, pruned, unit="M in these layers",
                            ylabel="instructions (millions, predicted)", title=title, path=path,
                            title_size=10)  # fmt: skip


METHOD_STYLE = {"dtmm": ("#DD8452", "o"), "filter": ("#55A868", "s"), "pattern": ("#8172B3", "^"),
                "unstructured": ("#C44E52", "D")}  # fmt: skip


def pareto_plot(cells: list, x_of, xlabel: str, path: Path, dense: tuple | None = None) -> Path:
    """int8 accuracy (%) against `x_of(cell)` for every method of a `dtmm compare` (one line per method)."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7.5, 5.0))
    cells = [c for c in cells if not c.get("infeasible")]
    for method in dict.fromkeys(c["method"] for c in cells):
        pts = sorted((x_of(c), 100 * c["accuracy"]) for c in cells if c["method"] == method)
        color, marker = METHOD_STYLE.get(method, ("#333333", "x"))
        ax.plot([p[0] for p in pts], [p[1] for p in pts], "-" + marker, color=color, label=method, markersize=7)
    if dense is not None:
        ax.scatter([dense[0]], [100 * dense[1]], s=90, marker="*", color=DENSE_COLOR, zorder=3, label="dense int8")
    ax.set_xlabel(xlabel)
    ax.set_ylabel("int8 test accuracy (%)")
    return _finish(plt, fig, ax, path)
