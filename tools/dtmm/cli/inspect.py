"""`dtmm inspect`: what FWCS packing would cost and save, layer by layer, for a .tflite model.

It packs every CONV_2D from the model's actual zero filterlets (optionally
after magnitude-pruning 3x3 filterlets first), so the figures are exact blob
sizes, not estimates. A FULLY_CONNECTED pruned by channel groups is listed as
the GROUPS blob the packer stores it as; other weighted ops as dense TFLite
tensors.
"""
from __future__ import annotations

import json
from pathlib import Path

import click
import numpy as np

from ..errors import DtmmError
from ..fileio import check_writable_file, json_default, write_bytes_atomic
from ..formats import fwcs
from ..pack.lowering.ops import fc_groups_size, groups_blob
from ..prune.magnitude import prune_filterlets
from ..tflite.layer_names import model_layer_labels
from ..tflite.model import TfliteModel, conv_layer, op_macs, op_weight_tensor

_OTHER_WEIGHTED = ("DEPTHWISE_CONV_2D", "FULLY_CONNECTED")


def _pct(num: int, den: int) -> float:
    return round(100.0 * num / den, 3) if den else 0.0


def _conv_row(model: TfliteModel, op) -> dict:
    layer = conv_layer(model, op)
    # as `dtmm pack` packs it: channel groups where they pay (1x1 layers), else filterlets
    blob = groups_blob(layer.weights, layer.bias, layer.multiplier, layer.shift, layer.spec)
    if blob is None:
        blob = fwcs.encode(layer.weights, layer.bias, layer.multiplier, layer.shift, layer.spec)
    return _fwcs_row(model, op, "CONV_2D", layer.name, layer.weights, blob)


def _custom_conv_row(model: TfliteModel, op) -> dict:
    """A `dtmm convert`ed layer: the blob it carries, as stored."""
    where = f"{model.source}: {fwcs.CUSTOM_OP} #{op.index}"
    if len(op.inputs) != 2 or len(op.outputs) != 1 or min(op.inputs) < 0:
        raise DtmmError(f"{where}: expects inputs [input, blob] and one output")
    t = model.tensors[op.inputs[1]]
    span = model.buffer_span(t.buffer)
    if span is None:
        raise DtmmError(f"{where}: input 1 holds no blob data")
    blob = model.data[span[0] : span[0] + span[1]]
    return _fwcs_row(model, op, fwcs.CUSTOM_OP, t.name, fwcs.decode(blob).weights, blob)


def _fwcs_row(model: TfliteModel, op, op_name: str, name: str, weights, blob: bytes) -> dict:
    h = fwcs.validate(blob)
    spec = h.spec
    mask = fwcs.keep_mask(weights)
    n_nonzero = int(mask.sum())
    group_mask = fwcs.group_keep_mask(weights, h.group) if h.group else None
    costs = fwcs.encoding_costs(spec, mask, h.group, group_mask)
    weight_bytes = spec.n_filterlets * spec.cin if h.encoding == fwcs.ENC_DENSE else h.n_kept * h.unit_bytes
    kept_macs = spec.out_h * spec.out_w * (h.n_kept * h.group if h.group else n_nonzero * spec.cin)
    return {
        "index": op.index,
        "name": model_layer_labels(model)[op.index],
        "tensor": name,
        "op": op_name,
        "format": "fwcs",
        "input_shape": list(model.tensors[op.inputs[0]].shape),
        "output_shape": list(model.tensors[op.outputs[0]].shape),
        "weight_shape": list(spec.weight_shape),
        "macs": spec.macs,
        "kept_macs": kept_macs,
        "filterlets": spec.n_filterlets,
        "kept_filterlets": n_nonzero,
        "density": round(n_nonzero / spec.n_filterlets, 4),
        "encoding": h.encoding_name,
        "group": h.group or None,  # channels per stored group (GROUPS), else None
        "kept_groups": h.n_kept if h.group else None,
        "dense_fallback": bool(h.flags & fwcs.FLAG_DENSE_FALLBACK),
        "dense_bytes": costs["dense"],
        "packed_bytes": h.total_size,
        "weight_bytes": weight_bytes,
        "index_bytes": h.index_bytes,
        "index_overhead_pct": _pct(h.index_bytes, weight_bytes),
        "encoding_bytes": costs,
    }


def _other_row(model: TfliteModel, op) -> dict:
    w = op_weight_tensor(model, op)
    if w.dtype == "FLOAT32":
        raise DtmmError(
            f"{model.source}: float model: {op.opcode} #{op.index} has FLOAT32 weights; "
            "only full-integer int8 models are supported"
        )
    nbytes = model.buffer_span(w.buffer)[1]
    if len(op.inputs) > 2 and op.inputs[2] >= 0:
        b = model.tensors[op.inputs[2]]
        span = model.buffer_span(b.buffer)
        nbytes += span[1] if span else 0
    macs = op_macs(model, op)
    row = {
        "index": op.index,
        "name": model_layer_labels(model)[op.index],
        "tensor": w.name,
        "op": op.opcode,
        "format": "tflite",
        "input_shape": list(model.tensors[op.inputs[0]].shape),
        "output_shape": list(model.tensors[op.outputs[0]].shape),
        "weight_shape": list(w.shape),
        "macs": macs,
        "kept_macs": macs,
        "filterlets": None,
        "kept_filterlets": None,
        "density": None,
        "encoding": "dense",
        "dense_fallback": False,
        "dense_bytes": nbytes,
        "packed_bytes": nbytes,
        "weight_bytes": model.buffer_span(w.buffer)[1],
        "index_bytes": 0,
        "index_overhead_pct": 0.0,
        "encoding_bytes": None,
    }
    if op.opcode == "FULLY_CONNECTED":  # pruned by channel groups: `dtmm pack` stores a GROUPS blob
        data = model.tensor_data(w.index)
        grouped = fc_groups_size(data, len(w.scales))
        if grouped is not None:
            size, g = grouped
            kept = int(fwcs.group_keep_mask(data, g).sum())
            spec = fwcs.ConvSpec(cout=data.shape[0], cin=data.shape[1], kh=1, kw=1, in_h=1, in_w=1)
            index = fwcs.index_size("groups", spec, kept, g)
            row.update(format="fwcs", encoding="groups", group=g, kept_groups=kept, packed_bytes=size,
                       kept_macs=macs * kept * g // data.size, weight_bytes=kept * g, index_bytes=index,
                       index_overhead_pct=_pct(index, kept * g))  # fmt: skip
    return row


def build_report(model: TfliteModel) -> dict:
    """The JSON-ready report: one row per weighted op, totals, and the weightless ops by name."""
    rows, others = [], []
    for op in model.operators:
        if op.opcode == "CONV_2D":
            rows.append(_conv_row(model, op))
        elif op.opcode == "CUSTOM:" + fwcs.CUSTOM_OP:
            rows.append(_custom_conv_row(model, op))
        elif op.opcode in _OTHER_WEIGHTED and op_weight_tensor(model, op) is not None:
            rows.append(_other_row(model, op))
        else:
            others.append({"index": op.index, "op": op.opcode})
    summed = ("macs", "kept_macs", "dense_bytes", "packed_bytes", "weight_bytes", "index_bytes")
    total = {k: sum(r[k] for r in rows) for k in summed}
    conv = [r for r in rows if r["op"] in ("CONV_2D", fwcs.CUSTOM_OP)]
    conv_weight = sum(r["weight_bytes"] for r in conv)
    total.update(
        layers=len(rows),
        packed_layers=sum(r["encoding"] != "dense" for r in rows if r["format"] == "fwcs"),
        saved_bytes=total["dense_bytes"] - total["packed_bytes"],
        index_overhead_pct=_pct(total["index_bytes"], total["weight_bytes"]),
        conv_weight_bytes=conv_weight,
        conv_index_overhead_pct=_pct(total["index_bytes"], conv_weight),
    )
    return {"model": model.source, "layers": rows, "total": total, "other_ops": others}


def _shape(s: list) -> str:
    return "x".join(str(d) for d in s)


def _short(name: str, width: int = 28) -> str:
    return name if len(name) <= width else "..." + name[-(width - 3) :]


def render_table(report: dict) -> str:
    head = (
        "layer", "in -> out", "MACs", "dense B", "density", "encoding", "packed B", "index B", "index %"
    )  # fmt: skip
    lines = []
    for r in report["layers"]:
        lines.append((
            _short(r["name"], 40),
            f"{_shape(r['input_shape'])} -> {_shape(r['output_shape'])}",
            f"{r['macs']:,}", f"{r['dense_bytes']:,}",
            "-" if r["density"] is None else f"{r['density']:.3f}",
            r["encoding"] + (f"/{r['group']}" if r.get("group") else "") + ("*" if r["dense_fallback"] else ""),
            f"{r['packed_bytes']:,}", f"{r['index_bytes']:,}", f"{r['index_overhead_pct']:.2f}",
        ))  # fmt: skip
    t = report["total"]
    total = (
        f"total: {t['layers']} layers ({t['packed_layers']} packed)", "",
        f"{t['macs']:,}", f"{t['dense_bytes']:,}", "", "",
        f"{t['packed_bytes']:,}", f"{t['index_bytes']:,}", f"{t['index_overhead_pct']:.2f}",
    )  # fmt: skip
    widths = [max(len(row[i]) for row in [head, total, *lines]) for i in range(len(head))]
    right = {2, 3, 4, 6, 7, 8}

    def fmt(row):
        cells = (c.rjust(w) if i in right else c.ljust(w) for i, (c, w) in enumerate(zip(row, widths)))
        return "  ".join(cells).rstrip()

    rule = "  ".join("-" * w for w in widths)
    out = [fmt(head), rule, *(fmt(r) for r in lines), rule, fmt(total)]
    out.append(
        f"saved {t['saved_bytes']:,} bytes ({_pct(t['saved_bytes'], t['dense_bytes']):.1f}% of dense); "
        f"index = {t['index_overhead_pct']:.2f}% of stored weight bytes "
        f"({t['conv_index_overhead_pct']:.2f}% of conv weights)"
    )
    if any(r["dense_fallback"] for r in report["layers"]):
        out.append("* dense fallback: the layer has zero filterlets but an index would not make it smaller")
    if any(r.get("group") for r in report["layers"]):
        out.append("groups/N: a 1x1 conv or fully connected layer stored by channel groups of N channels "
                   "(docs/fwcs.md 5.5); a conv's density column counts filters with any group kept")
    if report["other_ops"]:
        counts: dict[str, int] = {}
        for o in report["other_ops"]:
            counts[o["op"]] = counts.get(o["op"], 0) + 1
        out.append("ops without weights: " + ", ".join(f"{k} x{v}" for k, v in sorted(counts.items())))
    return "\n".join(out)


@click.command("inspect")
@click.argument("model_path", metavar="MODEL.tflite")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.option(
    "--prune-3x3",
    "prune_3x3",
    type=float,
    default=None,
    metavar="FRACTION",
    help="First zero this fraction of every 3x3 conv's filterlets (smallest L1 norm per layer).",
)
@click.option(
    "--write-pruned",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    metavar="FILE",
    help="With --prune-3x3: also write the pruned .tflite (a golden model for kernel tests).",
)
def inspect(model_path: str, as_json: bool, prune_3x3: float | None, write_pruned: Path | None):
    """Per-layer FWCS packing report: MACs, filterlet density, chosen encoding, bytes, index overhead.

    \b
    Examples:
      dtmm inspect model_int8.tflite
      dtmm inspect pretrainedResnet_quant.tflite --prune-3x3 0.5 --json
    """
    model = TfliteModel.load(model_path)
    if write_pruned is not None and prune_3x3 is None:
        raise DtmmError("--write-pruned needs --prune-3x3")
    if write_pruned is not None:
        check_writable_file(write_pruned, "--write-pruned")
    if prune_3x3 is not None:
        model = TfliteModel(prune_filterlets(model, prune_3x3), f"{model_path} (3x3 pruned {prune_3x3:g})")
        if write_pruned is not None:
            write_bytes_atomic(write_pruned, model.data)
    report = build_report(model)
    if as_json:
        click.echo(json.dumps(report, indent=2, default=json_default))
    else:
        click.echo(render_table(report))

