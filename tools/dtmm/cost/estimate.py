"""`dtmm estimate`: a model's cost on a board without running it.

Flash and arena are exact: the model is packed by the real packer, so
``flash_bytes`` is what `dtmm pack` emits (weights and kernel parameters) and
``arena_bytes`` is its static arena plan. Instructions are *predicted* by the
board's calibration (``dtmm.cost.calibration``): per operator from its kernel
group and shape counts, in total as their sum. The unit is QEMU-retired
instructions, the unit `dtmm run-model` measures.
"""
from __future__ import annotations

from ..pack.packer import pack_model
from ..targets.boards import get_board
from ..tflite.model import TfliteModel
from .calibration import Calibration, load_calibration
from .features import op_features


def estimate_model(model: TfliteModel | bytes, board: str, *, calibration: Calibration | None = None,
                   packed=None) -> dict:  # fmt: skip
    """{"instructions", "flash_bytes", "arena_bytes", "layers": [...]} of `model` on `board`."""
    b = get_board(board)
    if not isinstance(model, TfliteModel):
        model = TfliteModel(bytes(model))
    cal = calibration or load_calibration(board)
    if packed is None:
        packed = pack_model(model, "estimate")
    features = {f.label: f for f in op_features(model, packed.summary, b)}
    layers = []
    for row in packed.summary["ops"]:
        f = features.get(row["label"])
        entry = {"name": row["layer"], "label": row["label"], "op": row["op"], "instructions": 0,
                 "flash_bytes": int(row["flash_bytes"])}
        if f is not None:
            group, _ = cal.coefficients(f)
            entry["instructions"] = cal.predict(f)
            entry["group"] = group
        layers.append(entry)
    return {
        "board": board,
        "unit": "QEMU-retired instructions (predicted; not cycles)",
        "instructions": sum(e["instructions"] for e in layers),
        "flash_bytes": int(packed.flash_bytes),
        "arena_bytes": int(packed.arena_bytes),
        "calibration_stale": cal.stale(),
        "layers": layers,
    }


def render_estimate(report: dict, source: str) -> str:
    lines = [f"dtmm estimate {source} on {report['board']}",
             f"  instructions {report['instructions']:,} (predicted QEMU-retired instructions, not cycles)",
             f"  model flash {report['flash_bytes']:,} B (weights + kernel parameters, exact; docs/figures.md)",
             f"  arena {report['arena_bytes']:,} B (static plan, exact)", ""]  # fmt: skip
    width = max(len(e["name"]) for e in report["layers"]) if report["layers"] else 4
    lines.append(f"  {'layer'.ljust(width)}  {'instructions':>12}  {'flash B':>9}  group")
    for e in report["layers"]:
        lines.append(f"  {e['name'].ljust(width)}  {e['instructions']:>12,}  {e['flash_bytes']:>9,}  "
                     f"{e.get('group', '-')}")  # fmt: skip
    if report["calibration_stale"]:
        lines.append("  note: lib/dtmm_kernels changed since this calibration was measured; "
                     f"`dtmm calibrate --board {report['board']}` measures it again")  # fmt: skip
    return "\n".join(lines)
