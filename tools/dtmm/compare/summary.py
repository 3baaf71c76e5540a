"""The comparison's figures: Pareto table, the paper's summary lines and the plots.

The paper (Han, Xiao, Li 2024) summarises DTMM against CHIP and PatDNN as
*model size at equal accuracy* (-39.5% and -11.9%) and *latency at equal
size* (-1.1% and -68.7%). Here:

* size at equal accuracy: for each baseline cell, the packed bytes DTMM needs
  for the same accuracy, interpolated linearly on DTMM's own cells (best
  accuracy so far, by increasing bytes); only baseline cells whose accuracy
  lies within DTMM's range count. Reported as DTMM's bytes / baseline's - 1.
* instructions at equal size: per budget, DTMM's measured instructions /
  the baseline's - 1, per board, averaged over budgets (instructions, not
  cycles).
* accuracy at equal size: per budget, DTMM's accuracy - the baseline's, in
  points, averaged.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

PAPER = {"filter": {"size": -0.395, "latency": -0.011}, "pattern": {"size": -0.119, "latency": -0.687}}
BASELINE_NAMES = {"filter": "filter (CHIP)", "pattern": "pattern (PatDNN)", "unstructured": "unstructured"}


def _by(cells: list, method: str) -> list:
    return [c for c in cells if c["method"] == method and not c.get("infeasible")]


def size_at_equal_accuracy(dtmm: list, base: list) -> dict:
    pts = sorted((c["packed_bytes"], c["accuracy"]) for c in dtmm)
    if len(pts) < 2:
        return {"ratio": None, "points": 0, "of": len(base), "note": "needs two DTMM budgets"}
    xs = np.array([p[0] for p in pts], dtype=float)
    ys = np.maximum.accumulate(np.array([p[1] for p in pts], dtype=float))  # best accuracy up to this size
    ratios = []
    for c in base:
        a = c["accuracy"]
        if not ys[0] <= a <= ys[-1]:
            continue
        k = int(np.searchsorted(ys, a, side="left"))
        if k == 0 or ys[k] == ys[k - 1]:
            need = xs[k]
        else:
            need = xs[k - 1] + (a - ys[k - 1]) * (xs[k] - xs[k - 1]) / (ys[k] - ys[k - 1])
        ratios.append(need / c["packed_bytes"] - 1.0)
    return {"ratio": float(np.mean(ratios)) if ratios else None, "points": len(ratios), "of": len(base),
            "note": None if ratios else "no baseline accuracy within DTMM's range"}  # fmt: skip


def at_equal_budget(dtmm: list, base: list, boards: list) -> dict:
    d = {c["budget"]: c for c in dtmm}
    pairs = [(d[c["budget"]], c) for c in base if c["budget"] in d]
    out = {"budgets": [c["budget"] for _x, c in pairs],
           "accuracy_points": float(np.mean([100 * (x["accuracy"] - c["accuracy"]) for x, c in pairs]))
           if pairs else None, "instructions": {}, "bytes": None}  # fmt: skip
    if pairs:
        out["bytes"] = float(np.mean([x["packed_bytes"] / c["packed_bytes"] - 1 for x, c in pairs]))
    for b in boards:
        r = [x["boards"][b]["instructions"] / c["boards"][b]["instructions"] - 1 for x, c in pairs]
        out["instructions"][b] = float(np.mean(r)) if r else None
    return out


def summary(result: dict) -> dict:
    cells, boards = result["cells"], result["boards"]
    dtmm = _by(cells, "dtmm")
    out = {}
    for m in result["methods"]:
        if m == "dtmm":
            continue
        base = _by(cells, m)
        out[m] = {"size_at_equal_accuracy": size_at_equal_accuracy(dtmm, base),
                  "at_equal_budget": at_equal_budget(dtmm, base, boards), "paper": PAPER.get(m)}  # fmt: skip
    return out


def summary_lines(r: dict) -> list[str]:
    """One console line per baseline: DTMM's size at equal accuracy, accuracy and instructions at equal budget."""
    out = []
    for m, s in r["summary"].items():
        eq = s["at_equal_budget"]
        size = s["size_at_equal_accuracy"]
        acc = "-" if eq["accuracy_points"] is None else f"{eq['accuracy_points']:+.2f} pt"
        instr = ", ".join(f"{b} {_pct(v)}" for b, v in eq["instructions"].items())
        out.append(f"DTMM vs {BASELINE_NAMES.get(m, m)}: size at equal accuracy {_pct(size['ratio'])} "
                   f"({size['points']}/{size['of']} points); at equal budget accuracy {acc}, instructions {instr}")  # fmt: skip
    return out


def _pct(v) -> str:
    return "-" if v is None else f"{100 * v:+.1f}%"


def render_markdown(r: dict) -> str:
    boards = r["boards"]
    lines = [
        "# dtmm compare" + ("" if r.get("complete", True) else " (in progress: the cells finished so far)"),
        "",
        f"- model `{r['model']}`, data `{r['data']}`; {r['epochs']} fine-tuning epochs per cell, seed {r['seed']}",
        f"- dense int8: accuracy {100 * r['dense']['accuracy']:.2f}%, weight storage {r['dense']['dense_bytes']:,} B; "
        + ", ".join(f"{b} {r['dense']['boards'][b]['instructions']:,} instructions, arena "
                    f"{r['dense']['boards'][b]['arena_bytes']:,} B" for b in boards),
        f"- instructions: {r['units']['instructions']}; accuracy: {r['units']['accuracy']}",
        "",
        "| budget | method | storage | packed B | accuracy | "
        + " | ".join(f"{b} instructions | {b} vs dense | {b} arena B" for b in boards) + " | wall s |",
        "|---|---|---|---:|---:|" + "---:|---:|---:|" * len(boards) + "---:|",
    ]
    for c in r["cells"]:
        if c.get("infeasible"):
            lines.append(f"| {c['budget']} | {c['method']} | {c['conv_storage']} | infeasible | - | "
                         + " | ".join("- | - | -" for _ in boards) + " | - |")  # fmt: skip
            continue
        per = []
        for b in boards:
            m = c["boards"][b]
            per.append(f"{m['instructions']:,} | {m['instructions'] / r['dense']['boards'][b]['instructions']:.2f}x "
                       f"| {m['arena_bytes']:,}")  # fmt: skip
        wall = f"{c['wall_time_s']:.0f}" if c.get("wall_time_s") is not None else "-"
        lines.append(f"| {c['budget']} | {c['method']} | {c['conv_storage']} | {c['packed_bytes']:,} "
                     f"| {100 * c['accuracy']:.2f}% | " + " | ".join(per) + f" | {wall} |")  # fmt: skip
    lines += ["", "## DTMM against each baseline", "",
              "| baseline | size at equal accuracy | accuracy at equal budget | "
              + " | ".join(f"instructions at equal budget, {b}" for b in boards) + " | paper: size, latency |",
              "|---|---:|---:|" + "---:|" * len(boards) + "---|"]  # fmt: skip
    for m, s in r["summary"].items():
        size = s["size_at_equal_accuracy"]
        eq = s["at_equal_budget"]
        size_txt = _pct(size["ratio"]) + f" ({size['points']}/{size['of']} points)"
        acc = "-" if eq["accuracy_points"] is None else f"{eq['accuracy_points']:+.2f} pt"
        paper = f"{_pct(s['paper']['size'])}, {_pct(s['paper']['latency'])}" if s.get("paper") else "-"
        lines.append(f"| {BASELINE_NAMES.get(m, m)} | {size_txt} | {acc} | "
                     + " | ".join(_pct(eq["instructions"][b]) for b in boards) + f" | {paper} |")  # fmt: skip
    for c in r["cells"]:
        if c.get("infeasible"):
            lines.append(f"- {c['method']} at {c['budget']}: {c['infeasible']}")
    lines += ["", "Negative = DTMM smaller / fewer instructions. The paper's latency is wall time on its MCUs; "
              "ours are QEMU-retired instructions, not cycles."]  # fmt: skip
    return "\n".join(lines) + "\n"


def plots(r: dict, out: Path) -> list[Path]:
    from ..report.plots import pareto_plot

    paths = [pareto_plot(r["cells"], lambda c: c["packed_bytes"] / 1000, "packed weights (KB)",
                         out / "pareto_accuracy_vs_flash.png",
                         dense=(r["dense"]["dense_bytes"] / 1000, r["dense"]["accuracy"]))]  # fmt: skip
    for b in r["boards"]:
        paths.append(pareto_plot(r["cells"], lambda c, b=b: c["boards"][b]["instructions"] / 1e6,
                                 f"retired instructions per inference on {b} (millions)",
                                 out / f"pareto_accuracy_vs_instructions_{b}.png",
                                 dense=(r["dense"]["boards"][b]["instructions"] / 1e6, r["dense"]["accuracy"])))  # fmt: skip
    return paths
