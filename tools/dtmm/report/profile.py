"""`dtmm profile`: one per-layer table of a model on a board, joining what pack, inspect and run-model know.

Per operator (labelled `opNN_TYPE` as everywhere else): dense MACs, the int8
weight bytes of the model as given, the flash the packer stores for it
(weights kept, index and per-channel parameters), its scratch, the
activation bytes live while it runs (tensors in the arena plus its scratch,
from the packer's lifetimes), and, on an emulated board the model fits, the
QEMU-retired instructions of a profiled run with instructions per MAC.
Totals, and the fit against the board's flash and RAM (real boards too).
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable

import numpy as np

from ..pack.packer import pack_model
from ..targets.boards import get_board
from ..targets.model_runner import CODE_ESTIMATE_BYTES, RUNTIME_VARIABLES_BYTES
from ..tflite.model import TfliteModel, op_macs, op_weight_tensor

UNIT = "QEMU-retired instructions (not cycles)"


def _live_bytes(summary: dict) -> dict[int, int]:
    """Arena bytes live at each op: its tensors' regions (aliases counted once) plus its scratch."""
    live: dict[int, int] = {}
    for op in summary["ops"]:
        k = op["index"]
        regions = {t["region"]: t["bytes"] for t in summary["tensors"] if t["first_op"] <= k <= t["last_op"]}
        live[k] = sum(regions.values()) + int(op.get("scratch_bytes") or 0)
    return live


def fit_of(summary: dict, board) -> dict:
    """Flash and RAM the model needs on `board` (the estimates `dtmm run-model` and `pack --board` use)."""
    flash = summary["flash_bytes"] + CODE_ESTIMATE_BYTES
    ram = summary["arena_bytes"] + board.stack_bytes + RUNTIME_VARIABLES_BYTES
    return {"fits": flash <= board.flash_bytes and ram <= board.ram_bytes, "flash_bytes": flash,
            "board_flash_bytes": board.flash_bytes, "ram_bytes": ram, "board_ram_bytes": board.ram_bytes,
            "code_estimate_bytes": CODE_ESTIMATE_BYTES,
            "stack_and_runtime_bytes": board.stack_bytes + RUNTIME_VARIABLES_BYTES}  # fmt: skip


def profile_model(model_path, board_name: str, *, run: bool = True, seed: int = 0, timeout: float = 300.0,
                  progress: Callable[[str], None] | None = None) -> dict:  # fmt: skip
    """The JSON-ready per-layer profile of the int8 model at `model_path` on `board_name`."""
    board = get_board(board_name)
    model = TfliteModel.load(model_path)
    packed = pack_model(model, "profile")
    summary = packed.summary
    fit = fit_of(summary, board)
    measured = None
    note = None
    if not board.emulated:
        note = f"{board.name} is real hardware: no instructions measured (QEMU boards only)"
    elif not fit["fits"]:
        note = f"does not fit {board.name}: not run"
    elif run:
        from ..targets.model_runner import run_model

        t = model.tensors[model.inputs[0]]
        dtype = np.int8 if t.dtype == "INT8" else np.float32
        rng = np.random.default_rng(seed)
        x = (rng.integers(-128, 128, size=(1, *t.shape)) if dtype == np.int8 else rng.normal(size=(1, *t.shape)))
        result = run_model(model, board.name, x.astype(dtype), profile=True, timeout=timeout, progress=progress)
        measured = result.profile[0]
    live = _live_bytes(summary)
    layers = []
    for op, row in zip(model.operators, summary["ops"]):
        w = op_weight_tensor(model, op)
        macs = op_macs(model, op)
        n = measured.get(row["label"]) if measured else None
        layers.append({"name": row["layer"], "label": row["label"], "op": row["op"], "macs": macs,
                       "weight_bytes_dense": int(w.size) if w is not None else 0,
                       "flash_bytes_packed": int(row["flash_bytes"]), "scratch_bytes": int(row.get("scratch_bytes") or 0),
                       "live_activation_bytes": live[row["index"]], "instructions": n,
                       "instructions_per_mac": round(n / macs, 3) if n is not None and macs else None})  # fmt: skip
    total_n = sum(L["instructions"] for L in layers if L["instructions"] is not None) if measured else None
    total_macs = sum(L["macs"] for L in layers)
    return {
        "model": str(model_path), "board": board.name, "unit": UNIT, "input_seed": seed if measured else None,
        "layers": layers,
        "totals": {"macs": total_macs, "weight_bytes_dense": sum(L["weight_bytes_dense"] for L in layers),
                   "flash_bytes_packed": summary["flash_bytes"], "arena_bytes": summary["arena_bytes"],
                   "instructions": total_n,
                   "instructions_per_mac": round(total_n / total_macs, 3) if total_n and total_macs else None},
        "fit": fit, "note": note,
    }  # fmt: skip


def render_profile(doc: dict) -> str:
    head = ["layer", "MACs", "weights B", "packed B", "scratch B", "live B", "instructions", "instr/MAC"]

    def fmt(v):
        return "-" if v is None else (f"{v:,}" if isinstance(v, int) else f"{v:.3f}")

    rows = [[L["name"], fmt(L["macs"]), fmt(L["weight_bytes_dense"]), fmt(L["flash_bytes_packed"]),
             fmt(L["scratch_bytes"]), fmt(L["live_activation_bytes"]), fmt(L["instructions"]),
             fmt(L["instructions_per_mac"])] for L in doc["layers"]]  # fmt: skip
    t = doc["totals"]
    rows.append(["total", fmt(t["macs"]), fmt(t["weight_bytes_dense"]), fmt(t["flash_bytes_packed"]), "-",
                 f"arena {t['arena_bytes']:,}", fmt(t["instructions"]), fmt(t["instructions_per_mac"])])
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(head)]
    lines = [f"dtmm profile of {Path(doc['model']).name} on {doc['board']} ({doc['unit']})", ""]
    lines.append("  ".join(h.ljust(w) if i == 0 else h.rjust(w) for i, (h, w) in enumerate(zip(head, widths))))
    for r in rows:
        lines.append("  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths))))
    f = doc["fit"]
    verdict = "fits" if f["fits"] else "does not fit"
    lines += ["", f"{verdict} {doc['board']}: flash {f['flash_bytes']:,} / {f['board_flash_bytes']:,} B (model flash "
              f"{t['flash_bytes_packed']:,} + code ~{f['code_estimate_bytes']:,}), RAM {f['ram_bytes']:,} / "
              f"{f['board_ram_bytes']:,} B (arena {t['arena_bytes']:,} + stack and runtime "
              f"{f['stack_and_runtime_bytes']:,})"]  # fmt: skip
    lines.append("weights B: int8 weights of the model as given; packed B: the layer's model flash (what dtmm pack "
                 "stores: kept weights, index, kernel parameters); live B: arena bytes live while the layer runs, "
                 "its scratch included (docs/figures.md)")
    if doc["note"]:
        lines.append(doc["note"])
    return "\n".join(lines)

