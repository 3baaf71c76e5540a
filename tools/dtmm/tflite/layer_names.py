"""One name per layer: the TFLite operator index, its opcode, and the Keras layer name where known.

Every command that shows a per-layer row (``dtmm inspect``, ``dtmm pack``'s
summary, ``dtmm run-model --profile``, ``dtmm report``, the prune report and
the demo) names the layer with :func:`layer_label`, e.g.
``op09_CONV_2D (conv2d_7)``; the ``op09_CONV_2D`` part is the label the
firmware's profiler prints, so measured and static rows join on it.

The Keras name is known when the model carries it: ``dtmm prune`` matches
Keras layers to TFLite operators (``dtmm.prune.export.match_layers``) and
stores the result in the model's metadata under :data:`METADATA_NAME` (JSON
``{"<operator index>": "<keras layer name>"}``), which TFLite and TFLite Micro
ignore. Models from elsewhere get the index and opcode only.
"""
from __future__ import annotations

import json
import re
from typing import Mapping

from .model import TfliteModel, TfliteError, _schema

METADATA_NAME = "dtmm_layer_names"


def label_width(n_ops: int) -> int:
    """Digits of the operator index in labels: at least 2, enough for the model's last operator."""
    return max(2, len(str(max(n_ops - 1, 0))))


def op_label(op_index: int, opcode: str, width: int = 2) -> str:
    """The operator's short label, e.g. ``op09_CONV_2D`` (what the firmware's profiler prints)."""
    return f"op{op_index:0{width}d}_{re.sub(r'[^A-Za-z0-9_]', '_', opcode)}"


def layer_label(op_index: int, opcode: str, keras_name: str | None = None, width: int = 2) -> str:
    """The layer's one name: ``op09_CONV_2D (conv2d_7)``, or ``op09_CONV_2D`` without a Keras name."""
    short = op_label(op_index, opcode, width)
    return f"{short} ({keras_name})" if keras_name else short


def model_layer_labels(model: TfliteModel) -> dict[int, str]:
    """{operator index: layer_label} for every operator of the model's first subgraph."""
    names = keras_layer_names(model)
    width = label_width(len(model.operators))
    return {op.index: layer_label(op.index, op.opcode, names.get(op.index), width) for op in model.operators}


def keras_layer_names(model: TfliteModel) -> dict[int, str]:
    """{operator index: Keras layer name} from the model's metadata; empty when it carries none."""
    fb = _schema()
    root = fb.Model.GetRootAs(model.data, 0)
    for i in range(root.MetadataLength()):
        entry = root.Metadata(i)
        if (entry.Name() or b"").decode("utf-8", "replace") != METADATA_NAME:
            continue
        span = model.buffer_span(entry.Buffer())
        if span is None:
            return {}
        try:
            raw = json.loads(model.data[span[0] : span[0] + span[1]].decode("utf-8"))
            return {int(k): str(v) for k, v in raw.items() if 0 <= int(k) < len(model.operators)}
        except (ValueError, AttributeError, UnicodeDecodeError):
            raise TfliteError(f"{model.source}: metadata {METADATA_NAME!r} is not a JSON object of layer names") from None
    return {}


def with_keras_layer_names(data: bytes, names: Mapping[int, str], source: str = "<bytes>") -> bytes:
    """The model bytes with ``names`` ({operator index: Keras layer name}) stored as its metadata
    (replacing an earlier entry); tensors, operators and buffers are otherwise unchanged."""
    from .write import pack_model_t

    model = TfliteModel(data, source)
    for k in names:
        if not 0 <= int(k) < len(model.operators):
            raise TfliteError(f"{source}: layer name for operator #{k}, but the model has {len(model.operators)}")
    fb = _schema()
    model_t = fb.ModelT.InitFromObj(fb.Model.GetRootAs(model.data, 0))
    if any(b.offset for b in model_t.buffers or []):
        raise TfliteError(f"{source}: buffers stored outside the flatbuffer (offset/size) are not supported")
    payload = json.dumps({str(int(k)): str(v) for k, v in sorted(names.items())}, sort_keys=True).encode()
    metadata = [m for m in (model_t.metadata or []) if _text(m.name) != METADATA_NAME]
    old = [m for m in (model_t.metadata or []) if _text(m.name) == METADATA_NAME]
    buf = fb.BufferT()
    buf.data = list(payload)
    if old:  # reuse its buffer (no tensor refers to it)
        model_t.buffers[old[0].buffer] = buf
        index = old[0].buffer
    else:
        model_t.buffers.append(buf)
        index = len(model_t.buffers) - 1
    entry = fb.MetadataT()
    entry.name = METADATA_NAME
    entry.buffer = index
    model_t.metadata = metadata + [entry]
    return pack_model_t(fb, model_t)


def _text(value) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value or "")


def labels_by_short_label(model: TfliteModel) -> dict[str, str]:
    """{``op09_CONV_2D``: ``op09_CONV_2D (conv2d_7)``}: measured per-operator rows (keyed by the short
    label the firmware prints) renamed to the layer's one name."""
    width = label_width(len(model.operators))
    full = model_layer_labels(model)
    return {op_label(op.index, op.opcode, width): full[op.index] for op in model.operators}
