"""Full-integer int8 export, checks on the exported model, and int8 accuracy with tflite-micro.

Export: the Keras model is converted by ``dtmm.tflite.convert`` (the
TFLite converter with a representative dataset, builtin int8 ops
only and int8 input/output) -- what the MLPerf Tiny model is. For 0..255 data
the converter picks input scale 1.0 and zero point -128, so a uint8 pixel p
is fed as p - 128.

Checks: BatchNorm is folded into the conv filters (per-output-channel scaling)
and weights are quantized symmetrically per channel, so a zero filterlet must
stay exactly zero. ``verify_filterlets`` reads the int8 filters back with
``dtmm.tflite.model`` and compares ``dtmm.formats.fwcs.keep_mask`` with the plan.
TFLite conv operators are matched to Keras Conv2D layers by weight shape and
per-filter correlation (TFLite names are not stable across converters).

Evaluation runs the .tflite in the tflite-micro interpreter, one image at a
time. (TF's own tf.lite.Interpreter is ~180x faster but goes through XNNPACK,
whose int8 outputs differ from tflite-micro's, so it is not used.)
"""
from __future__ import annotations


import numpy as np

from ..errors import DtmmError
from ..formats import fwcs
from ..pack.lowering.ops import fc_groups_size
from ..tflite.convert import ConversionError, keras_to_int8_tflite
from ..tflite.layer_names import with_keras_layer_names
from ..tflite.model import TfliteModel, conv_layers, op_weight_tensor
from .data import preprocess

EVALUATOR = "tflite-micro"


class ExportError(DtmmError):
    """The model could not be converted or the converted model breaks the pruning contract."""


def to_int8_tflite(model, x_rep: np.ndarray, *, preprocess_mode: str = "raw", quiet: bool = True) -> bytes:
    """Full-integer int8 .tflite (int8 in/out, batch 1) calibrated on `x_rep` (stored pixels), carrying
    the Keras layer names of its weighted operators (dtmm.tflite.layer_names)."""
    reps = [preprocess(x_rep[i : i + 1], preprocess_mode) for i in range(len(x_rep))]
    try:
        tfl = keras_to_int8_tflite(model, reps, quiet=quiet)
    except ConversionError as exc:
        raise ExportError(str(exc)) from None
    # every later command names the layers "op09_CONV_2D (conv2d_7)": carry the Keras names along
    names = {index: name for name, index in match_layers(tfl, model).items()}
    return with_keras_layer_names(tfl, names) if names else tfl


def input_quantization(tfl: bytes) -> tuple[float, int]:
    m = TfliteModel(tfl)
    t = m.tensors[m.inputs[0]]
    return float(t.scales[0]), int(t.zero_points[0])


def _keras_as_tflite(layer) -> np.ndarray | None:
    """A Keras layer's kernel in the layout TFLite stores it: OHWI conv, [out, in] dense, [1, kh, kw, C] depthwise."""
    kind = type(layer).__name__
    k = np.array(layer.kernel.numpy()) if hasattr(layer, "kernel") else None
    if kind == "Conv2D":
        return np.transpose(k, (3, 0, 1, 2))
    if kind == "Dense":
        return k.T
    if kind == "DepthwiseConv2D":
        kh, kw, c, mult = k.shape
        return k.reshape(1, kh, kw, c * mult)
    return None


_OP_FOR = {"Conv2D": "CONV_2D", "Dense": "FULLY_CONNECTED", "DepthwiseConv2D": "DEPTHWISE_CONV_2D"}


def _rows(w: np.ndarray, opcode: str) -> np.ndarray:
    """One row per output channel, in TFLite layout."""
    if opcode == "DEPTHWISE_CONV_2D":
        return w.reshape(-1, w.shape[-1]).T
    return w.reshape(w.shape[0], -1)


def match_layers(tfl: bytes, model) -> dict[str, int]:
    """Keras layer name -> TFLite operator index for Conv2D / Dense / DepthwiseConv2D.

    Matched by weight shape and mean per-output |correlation| (BatchNorm folding only scales outputs)."""
    tm = TfliteModel(tfl)
    ops = []
    for op in tm.operators:
        w = op_weight_tensor(tm, op)
        data = tm.tensor_data(w.index) if w is not None else None
        if data is not None:
            ops.append((op.index, op.opcode, _rows(data, op.opcode).astype(np.float64)))
    pairs = []
    for layer in model.layers:
        kt = _keras_as_tflite(layer)
        if kt is None:
            continue
        opcode = _OP_FOR[type(layer).__name__]
        k2 = _rows(kt, opcode).astype(np.float64)
        for idx, code, d2 in ops:
            if code == opcode and d2.shape == k2.shape:
                pairs.append((_filter_corr(d2, k2), idx, layer.name))
    pairs.sort(key=lambda p: -p[0])
    out, used = {}, set()
    for _score, idx, name in pairs:
        if name in out or idx in used:
            continue
        out[name] = idx
        used.add(idx)
    return out


def match_convs(tfl: bytes, model) -> dict[str, object]:
    """Keras Conv2D name -> tflite ConvLayer (see match_layers)."""
    tm = TfliteModel(tfl)
    convs = {c.op_index: c for c in conv_layers(tm)}
    matched = match_layers(tfl, model)
    out = {name: convs[idx] for name, idx in matched.items() if idx in convs}
    missing = sorted(l.name for l in model.layers if type(l).__name__ == "Conv2D" and l.name not in out)
    if missing:
        raise ExportError(f"converted model has no CONV_2D matching Keras layer(s) {', '.join(missing)}")
    return out


def _filter_corr(a: np.ndarray, b: np.ndarray) -> float:
    a = a - a.mean(axis=1, keepdims=True)
    b = b - b.mean(axis=1, keepdims=True)
    den = np.sqrt((a * a).sum(axis=1) * (b * b).sum(axis=1))
    with np.errstate(invalid="ignore", divide="ignore"):
        c = np.where(den > 0, np.abs((a * b).sum(axis=1)) / den, 0.0)
    return float(c.mean())


def verify_filterlets(tfl: bytes, model, keep_masks: dict[str, np.ndarray]) -> dict[str, dict]:
    """Per pruned conv: filterlets the plan removed that are nonzero in the int8 model (must be 0).

    `keep_masks` maps Keras conv names to keep masks [cout, kh, kw] in the model's own coordinates.
    """
    matched = match_convs(tfl, model)
    out = {}
    for name, keep in keep_masks.items():
        tc = matched[name]
        actual = fwcs.keep_mask(tc.weights)
        if actual.shape != keep.shape:
            raise ExportError(f"{name}: int8 filter has {actual.shape} filterlets, the plan {keep.shape}")
        violations = int(np.count_nonzero(actual & ~keep))
        out[name] = {"pruned": int((~keep).sum()), "zero_in_int8": int((~actual).sum()), "violations": violations}
    bad = {n: r["violations"] for n, r in out.items() if r["violations"]}
    if bad:
        raise ExportError(f"pruned filterlets are nonzero after int8 conversion: {bad}")
    return out


def verify_groups(tfl: bytes, model, keep_masks: dict[str, tuple[np.ndarray, int]]) -> dict[str, dict]:
    """Per group-pruned layer: channel groups the plan removed that are nonzero in the int8 model (must be 0).

    `keep_masks` maps Keras 1x1 Conv2D / Dense names to (keep mask [cout, cin // g], g) in the model's own
    coordinates."""
    tm = TfliteModel(tfl)
    matched = match_layers(tfl, model)
    out = {}
    for name, (keep, g) in keep_masks.items():
        if name not in matched:
            raise ExportError(f"converted model has no operator matching Keras layer {name}")
        op = tm.operators[matched[name]]
        w = tm.tensor_data(op_weight_tensor(tm, op).index)
        rows = w.reshape(w.shape[0], -1)  # [out, in] for a 1x1 CONV_2D (OHWI) and FULLY_CONNECTED alike
        if rows.shape != (keep.shape[0], keep.shape[1] * g):
            raise ExportError(f"{name}: int8 weights are {list(rows.shape)}, the plan's groups {list(keep.shape)} of {g}")
        actual = fwcs.group_keep_mask(rows, g)
        violations = int(np.count_nonzero(actual & ~keep))
        out[name] = {"group_size": g, "pruned": int((~keep).sum()), "zero_in_int8": int((~actual).sum()),
                     "violations": violations}  # fmt: skip
    bad = {n: r["violations"] for n, r in out.items() if r["violations"]}
    if bad:
        raise ExportError(f"pruned channel groups are nonzero after int8 conversion: {bad}")
    return out


def verify_weight_masks(tfl: bytes, model, keep_masks: dict[str, np.ndarray]) -> dict[str, dict]:
    """Per pruned conv: single weights the plan removed that are nonzero in the int8 model (must be 0).

    `keep_masks` maps Keras conv names to keep masks of their HWIO kernels (pattern / unstructured)."""
    matched = match_convs(tfl, model)
    out = {}
    for name, keep in keep_masks.items():
        actual = matched[name].weights != 0  # OHWI
        keep_ohwi = np.transpose(keep, (3, 0, 1, 2))
        if actual.shape != keep_ohwi.shape:
            raise ExportError(f"{name}: int8 filter is {actual.shape}, the plan's mask {keep_ohwi.shape}")
        violations = int(np.count_nonzero(actual & ~keep_ohwi))
        out[name] = {"pruned": int((~keep_ohwi).sum()), "zero_in_int8": int((~actual).sum()),
                     "violations": violations}  # fmt: skip
    bad = {n: r["violations"] for n, r in out.items() if r["violations"]}
    if bad:
        raise ExportError(f"pruned weights are nonzero after int8 conversion: {bad}")
    return out


def measured_bytes(tfl: bytes, model=None, conv_storage: str = "fwcs") -> dict:
    """Exact flash bytes of the exported weights: every CONV_2D as `dtmm pack --conv-storage` stores it
    (FWCS blob from its actual zero filterlets or channel groups by default), int8 weights + int32 bias of
    FULLY_CONNECTED / DEPTHWISE_CONV_2D -- or the GROUPS blob `dtmm pack` stores a group-pruned
    FULLY_CONNECTED as."""
    from ..pack.lowering.baseline_conv import candidates, choose_storage

    tm = TfliteModel(tfl)
    names = {}
    if model is not None:
        names = {idx: k for k, idx in match_layers(tfl, model).items()}
    convs = {c.op_index: c for c in conv_layers(tm)}
    rows, total, dense_total = [], 0, 0
    for op in tm.operators:
        if op.opcode == "CONV_2D":
            layer = convs[op.index]
            mask = fwcs.keep_mask(layer.weights)
            costs = fwcs.encoding_costs(layer.spec, mask)
            enc = fwcs.best_encoding(layer.spec, layer.weights)[0]
            name = names.get(op.index, layer.name)
            offered = candidates(layer, conv_storage)
            storage = choose_storage(offered)
            nbytes = offered[storage]
            rows.append({"op": op.index, "name": name, "bytes": nbytes, "dense_bytes": costs["dense"],
                         "encoding": enc if storage == "fwcs" else storage, "storage": storage,
                         "kept_filterlets": int(mask.sum()), "kept_weights": int(np.count_nonzero(layer.weights))})  # fmt: skip
            total += nbytes
            dense_total += costs["dense"]
        elif op.opcode in ("FULLY_CONNECTED", "DEPTHWISE_CONV_2D"):
            w = op_weight_tensor(tm, op)
            if w is None:
                continue
            n = tm.buffer_span(w.buffer)[1]
            if len(op.inputs) > 2 and op.inputs[2] >= 0:
                span = tm.buffer_span(tm.tensors[op.inputs[2]].buffer)
                n += span[1] if span else 0
            dense_n = n
            enc = "tflite"
            if op.opcode == "FULLY_CONNECTED":
                grouped = fc_groups_size(tm.tensor_data(w.index), len(w.scales))
                if grouped is not None:  # `dtmm pack` stores it as a GROUPS blob run by the conv kernels
                    n, enc = grouped[0], "groups"
            rows.append({"op": op.index, "name": names.get(op.index, w.name), "bytes": n, "dense_bytes": dense_n,
                         "encoding": enc})  # fmt: skip
            total += n
            dense_total += dense_n
    return {"packed_bytes": total, "dense_bytes": dense_total, "ops": rows, "file_bytes": len(tfl)}


#: bump when evaluate_tflite's result for the same inputs could change (invalidates cached accuracies)
EVALUATION_VERSION = 1


def unnamed_model_bytes(tfl: bytes) -> bytes:
    """The model re-serialized without tensor names, signature defs, description and metadata: what its
    outputs depend on.  The converter names tensors after Keras' per-process counters (keras_tensor_561),
    so the same weights exported in two processes differ only there."""
    import flatbuffers

    from ..tflite.model import _schema

    fb = _schema()
    m = fb.ModelT.InitFromObj(fb.Model.GetRootAs(tfl, 0))
    for sg in m.subgraphs or []:
        sg.name = None
        for t in sg.tensors or []:
            t.name = None
    for entry in m.metadata or []:  # e.g. the Keras layer names, which follow the same counters
        m.buffers[entry.buffer].data = None
    m.signatureDefs, m.metadata, m.metadataBuffer, m.description = None, None, None, None
    builder = flatbuffers.Builder(1024)
    builder.Finish(m.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


def _evaluation_key(tfl: bytes, x: np.ndarray, y: np.ndarray, preprocess_mode: str) -> str:
    import hashlib

    h = hashlib.sha256(f"v{EVALUATION_VERSION}|{EVALUATOR}|{preprocess_mode}|{x.dtype}|{x.shape}|".encode())
    for part in (unnamed_model_bytes(tfl), np.ascontiguousarray(x).tobytes(),
                 np.ascontiguousarray(y, dtype=np.int64).tobytes()):  # fmt: skip
        h.update(hashlib.sha256(part).digest())
    return h.hexdigest()[:32]


def evaluate_tflite(tfl: bytes, x: np.ndarray, y: np.ndarray, *, preprocess_mode: str = "raw",
                    progress: bool = True, desc: str = "int8 eval", cache_dir=None) -> float:  # fmt: skip
    """Top-1 accuracy of an int8 .tflite in the tflite-micro interpreter (batch 1).

    With `cache_dir` the result is kept in <cache_dir>/accuracy/, keyed by the model bytes, the test
    images, labels and preprocessing: the same int8 model on the same test set (a dense baseline reused
    for a new budget, an identical rerun) is read back instead of evaluated again (minutes on CIFAR-10)."""
    if cache_dir is None:
        return _evaluate_tflite(tfl, x, y, preprocess_mode=preprocess_mode, progress=progress, desc=desc)
    import json
    from pathlib import Path

    from ..fileio import write_text_atomic

    path = Path(cache_dir) / "accuracy" / f"{_evaluation_key(tfl, x, y, preprocess_mode)}.json"
    try:
        cached = json.loads(path.read_text())
        if cached.get("images") == len(y):
            return float(cached["accuracy"])
    except (OSError, ValueError, KeyError, TypeError):
        pass  # no entry, or a damaged one: evaluate
    acc = _evaluate_tflite(tfl, x, y, preprocess_mode=preprocess_mode, progress=progress, desc=desc)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_text_atomic(path, json.dumps({"accuracy": acc, "images": len(y), "evaluator": EVALUATOR}))
    except OSError:
        pass  # an unwritable cache costs the next run time, not this one its result
    return acc


def _evaluate_tflite(tfl: bytes, x: np.ndarray, y: np.ndarray, *, preprocess_mode: str, progress: bool,
                     desc: str) -> float:  # fmt: skip
    from tflite_micro.python.tflite_micro import runtime

    scale, zp = input_quantization(tfl)
    try:
        interp = runtime.Interpreter.from_bytes(tfl, arena_size=max(10 * len(tfl), 4 << 20))
    except Exception as exc:
        raise ExportError(f"tflite-micro cannot load the model: {exc}") from None
    it = range(len(y))
    if progress:
        from tqdm import tqdm

        it = tqdm(it, desc=desc, unit="img", leave=False, mininterval=1.0)
    correct = 0
    chunk = 256
    q = None
    for i in it:
        if i % chunk == 0:
            xf = preprocess(x[i : i + chunk], preprocess_mode)
            q = np.clip(np.round(xf / scale) + zp, -128, 127).astype(np.int8)
        interp.set_input(q[i % chunk][None], 0)
        interp.invoke()
        out = interp.get_output(0)
        correct += int(np.argmax(out.reshape(-1)) == int(y[i]))
    return correct / max(len(y), 1)
