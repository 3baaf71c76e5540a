"""`.tflite` -> `.tflite` for stock TensorFlow Lite Micro: CONV_2D becomes the custom op DTMM_CONV_2D.

Each CONV_2D that gains from it (its FWCS blob is smaller than what dropping
its filter and bias frees: their data and per-channel quantization records),
or every convertible one with ``convert_all``, is rewritten in place in the
first subgraph:

    inputs  [input, filter, bias]  ->  [input, blob]
    op      CONV_2D + Conv2DOptions ->  CUSTOM "DTMM_CONV_2D", no custom options

The blob is a UINT8 constant tensor of its own whose buffer is 16-byte aligned
(the kernels need that and TFLM maps constant buffers in place), which custom
options could not promise: their bytes have no alignment in the flatbuffer.
The blob carries every parameter the op needs (geometry, offsets, clamp,
bias, per-channel multipliers and shifts: docs/fwcs.md), so nothing else
changes. Filter and bias tensors left without a user are removed with their
buffers, and every tensor/buffer index is renumbered (operators, subgraph I/O,
signature defs, metadata). All other operators and subgraphs are untouched.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..errors import DtmmError
from ..formats import fwcs
from ..pack.lowering.ops import groups_blob
from ..tflite.model import TfliteModel, _schema, conv_layer
from ..tflite.verify import FlatbufferCorrupt, verify_model
from ..tflite.write import BUFFER_ALIGNMENT, pack_model_t

CUSTOM_CODE = fwcs.CUSTOM_OP
BLOB_ALIGNMENT = BUFFER_ALIGNMENT  # bytes; FWCS blobs must be 16-byte aligned (docs/fwcs.md)


class ConvertError(DtmmError):
    """The model cannot be converted (the message names the model and the reason)."""


@dataclass(frozen=True)
class LayerChange:
    """One CONV_2D and what the conversion did with it."""

    op_index: int
    name: str  # the filter tensor's name
    converted: bool
    reason: str  # why it was or was not converted
    replaced_bytes: int  # bytes dropping the filter and bias frees: data + quantization records
    blob_bytes: int = 0  # FWCS blob bytes (0 when not converted)
    encoding: str = ""


@dataclass
class Conversion:
    """The result of :func:`convert_model`."""

    data: bytes
    input_bytes: int
    layers: list[LayerChange] = field(default_factory=list)

    @property
    def converted(self) -> list[LayerChange]:
        return [c for c in self.layers if c.converted]

    @property
    def output_bytes(self) -> int:
        return len(self.data)


def _freed_bytes(model: TfliteModel, tensor_index: int, users: dict[int, int]) -> int:
    """What dropping this tensor saves in the file when nothing else uses it: its data and its quantization
    record (a float32 scale and an int64 zero point per channel).  Names and shapes are not counted."""
    if tensor_index < 0 or users.get(tensor_index, 0) != 1:
        return 0
    t = model.tensors[tensor_index]
    span = model.buffer_span(t.buffer)
    return (0 if span is None else int(span[1])) + 4 * len(t.scales) + 8 * len(t.zero_points)


def _blob_for(model: TfliteModel, op, users: dict[int, int]) -> tuple[bytes, int]:
    """The FWCS blob `dtmm pack` would store for this CONV_2D, and the bytes dropping its filter and bias frees."""
    layer = conv_layer(model, op)
    blob = groups_blob(layer.weights, layer.bias, layer.multiplier, layer.shift, layer.spec)
    if blob is None:
        blob = fwcs.encode(layer.weights, layer.bias, layer.multiplier, layer.shift, layer.spec, encoding="auto")
    freed = sum(_freed_bytes(model, i, users) for i in op.inputs[1:3])
    return blob, freed


def _tensor_users(model: TfliteModel) -> dict[int, int]:
    """How many operator inputs, outputs and subgraph I/O refer to each tensor of the first subgraph."""
    users: dict[int, int] = {}
    for i in [*model.inputs, *model.outputs, *(j for op in model.operators for j in (*op.inputs, *op.outputs))]:
        users[i] = users.get(i, 0) + 1
    return users


def _plan(model: TfliteModel, convert_all: bool) -> tuple[list[LayerChange], dict[int, bytes]]:
    """Which CONV_2D operators to rewrite, with their blobs; every CONV_2D gets a LayerChange."""
    changes: list[LayerChange] = []
    blobs: dict[int, bytes] = {}
    users = _tensor_users(model)
    for op in model.operators:
        if op.opcode != "CONV_2D":
            continue
        name = model.tensors[op.inputs[1]].name if len(op.inputs) > 1 and op.inputs[1] >= 0 else f"op{op.index}"
        try:
            blob, freed = _blob_for(model, op, users)
        except DtmmError as exc:  # TfliteError / FwcsError name the operator and the reason
            changes.append(LayerChange(op.index, name, False, f"not convertible: {exc}", 0))
            continue
        enc = fwcs.validate(blob).encoding_name
        gains = len(blob) < freed
        if gains or convert_all:
            why = (f"saves {freed - len(blob):,} B" if gains
                   else f"converted on request (--all), {len(blob) - freed:,} B larger")
            changes.append(LayerChange(op.index, name, True, why, freed, len(blob), enc))
            blobs[op.index] = blob
        else:
            changes.append(LayerChange(op.index, name, False,
                                       f"nothing to gain: blob {len(blob):,} B >= {freed:,} B freed",
                                       freed, len(blob), enc))
    return changes, blobs


def _custom_opcode_index(fb, model_t) -> int:
    """Index of the DTMM_CONV_2D operator code, added when the model has none."""
    for i, oc in enumerate(model_t.operatorCodes or []):
        code = max(oc.builtinCode, oc.deprecatedBuiltinCode)
        if code == fb.BuiltinOperator.CUSTOM and (oc.customCode or b"") in (CUSTOM_CODE, CUSTOM_CODE.encode()):
            return i
    oc = fb.OperatorCodeT()
    oc.builtinCode = fb.BuiltinOperator.CUSTOM
    oc.deprecatedBuiltinCode = fb.BuiltinOperator.CUSTOM
    oc.customCode = CUSTOM_CODE
    oc.version = 1
    model_t.operatorCodes = list(model_t.operatorCodes or []) + [oc]
    return len(model_t.operatorCodes) - 1


def _rewrite_ops(fb, model_t, blobs: dict[int, bytes]) -> None:
    sg = model_t.subgraphs[0]
    opcode = _custom_opcode_index(fb, model_t)
    for op_index, blob in sorted(blobs.items()):
        op = sg.operators[op_index]
        filt = sg.tensors[op.inputs[1]]
        buf = fb.BufferT()
        buf.data = np.frombuffer(blob, dtype=np.uint8).copy()
        model_t.buffers.append(buf)
        t = fb.TensorT()
        t.shape = [len(blob)]
        t.type = fb.TensorType.UINT8
        t.buffer = len(model_t.buffers) - 1
        t.name = _name(filt.name) + "/dtmm_fwcs"
        sg.tensors.append(t)
        op.opcodeIndex = opcode
        op.inputs = [int(op.inputs[0]), len(sg.tensors) - 1]
        op.builtinOptionsType = 0
        op.builtinOptions = None
        op.customOptions = None
        op.customOptionsFormat = fb.CustomOptionsFormat.FLEXBUFFERS


def _name(n) -> str:
    return n.decode("utf-8", "replace") if isinstance(n, (bytes, bytearray)) else str(n or "")


def _drop_orphans(model_t) -> None:
    """Remove the tensors of subgraph 0 nothing refers to any more, then buffers no tensor or metadata uses;
    renumber every reference."""
    sg = model_t.subgraphs[0]
    used = set(int(i) for i in list(sg.inputs) + list(sg.outputs) if i >= 0)
    for op in sg.operators:
        for seq in (op.inputs, op.outputs, op.intermediates):
            used.update(int(i) for i in (seq if seq is not None else []) if i >= 0)
    for sig in model_t.signatureDefs or []:
        if sig.subgraphIndex == 0:
            used.update(int(tm.tensorIndex) for tm in list(sig.inputs or []) + list(sig.outputs or []))
    keep = [i for i in range(len(sg.tensors)) if i in used]
    tmap = {old: new for new, old in enumerate(keep)}
    sg.tensors = [sg.tensors[i] for i in keep]

    def remap(seq):
        return None if seq is None else [tmap[int(i)] if i >= 0 else int(i) for i in seq]

    sg.inputs, sg.outputs = remap(sg.inputs), remap(sg.outputs)
    for op in sg.operators:
        op.inputs, op.outputs, op.intermediates = remap(op.inputs), remap(op.outputs), remap(op.intermediates)
    for sig in model_t.signatureDefs or []:
        if sig.subgraphIndex == 0:
            for tm in list(sig.inputs or []) + list(sig.outputs or []):
                tm.tensorIndex = tmap[int(tm.tensorIndex)]

    used_buffers = {0}  # buffer 0 is the schema's empty sentinel
    for g in model_t.subgraphs:
        used_buffers.update(int(t.buffer) for t in g.tensors or [])
    for m in model_t.metadata or []:
        used_buffers.add(int(m.buffer))
    keep_b = [i for i in range(len(model_t.buffers)) if i in used_buffers]
    bmap = {old: new for new, old in enumerate(keep_b)}
    model_t.buffers = [model_t.buffers[i] for i in keep_b]
    for g in model_t.subgraphs:
        for t in g.tensors or []:
            t.buffer = bmap[int(t.buffer)]
    for m in model_t.metadata or []:
        m.buffer = bmap[int(m.buffer)]
    if model_t.metadataBuffer is not None:
        model_t.metadataBuffer = [bmap[int(b)] for b in model_t.metadataBuffer if int(b) in bmap]


def convert_model(data: bytes, source: str = "<bytes>", convert_all: bool = False) -> Conversion:
    """The converted model bytes and a LayerChange per CONV_2D of the first subgraph.

    A model with nothing to gain comes back byte for byte unchanged.  Raises ConvertError (or the
    reader's TfliteError) on a model that cannot be read."""
    model = TfliteModel(data, source)
    changes, blobs = _plan(model, convert_all)
    if not blobs:
        return Conversion(bytes(data), len(data), changes)
    fb = _schema()
    model_t = fb.ModelT.InitFromObj(fb.Model.GetRootAs(model.data, 0))
    if any(b.offset for b in model_t.buffers or []):
        raise ConvertError(f"{source}: buffers stored outside the flatbuffer (offset/size) are not supported")
    _rewrite_ops(fb, model_t, blobs)
    _drop_orphans(model_t)
    out = pack_model_t(fb, model_t)
    try:
        verify_model(out)
    except FlatbufferCorrupt as exc:  # a bug here, never the user's input: say so plainly
        raise ConvertError(f"{source}: the converted model fails the flatbuffer verifier: {exc}") from None
    return Conversion(out, len(data), changes)


def blobs_of(data: bytes, source: str = "<bytes>") -> dict[int, bytes]:
    """The FWCS blob of every DTMM_CONV_2D of a converted model, by operator index (for checks and tools)."""
    model = TfliteModel(data, source)
    out: dict[int, bytes] = {}
    for op in model.operators:
        if op.opcode == "CUSTOM:" + CUSTOM_CODE:
            span = model.buffer_span(model.tensors[op.inputs[1]].buffer)
            if span is None:
                raise ConvertError(f"{source}: DTMM_CONV_2D #{op.index} has no blob data")
            out[op.index] = model.data[span[0] : span[0] + span[1]]
    return out
