"""`dtmm pack`: an int8 .tflite model to a self-contained C model with a static memory plan.

:func:`pack_model` reads the model, refuses unsupported operators in one
line, lowers every operator with :mod:`dtmm.pack.lowering` (C declarations and a
call per operator), plans the activation arena from tensor lifetimes
(:mod:`.graph`, :mod:`.planner`) and emits NAME.h / NAME.c plus a JSON
summary (:mod:`.emit`).  :func:`write_package` writes them atomically.
"""
from __future__ import annotations

import hashlib
import importlib
import json
import keyword
import os
import re
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np

from ..errors import DtmmError
from ..tflite.layer_names import keras_layer_names, label_width, layer_label, op_label
from ..tflite.model import TfliteModel, _schema
from . import emit
from .graph import C_TYPES, Lifetimes, analyse, scratch_name, tensor_bytes
from .planner import ArenaPlan, check_plan, plan_arena

SUMMARY_VERSION = 1
_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_C_RESERVED = frozenset(
    "auto break case char const continue default do double else enum extern float for goto if inline int "
    "long register restrict return short signed sizeof static struct switch typedef union unsigned void "
    "volatile while _Bool _Complex _Imaginary main".split()
)


class PackError(DtmmError):
    """A model that cannot be packed; the message (one line) says why."""


@dataclass
class PackedModel:
    """The generated files (name -> bytes) and the figures `dtmm pack` reports."""

    name: str
    source: str
    files: dict
    summary: dict
    arena_bytes: int
    flash_bytes: int
    input: emit.IoInfo
    output: emit.IoInfo
    plan: ArenaPlan = field(repr=False)
    lowered: list = field(repr=False)


def default_name(model_path: str | os.PathLike) -> str:
    """A C identifier from a file name: 'pretrainedResnet_quant.tflite' -> 'pretrainedresnet_quant'."""
    stem = Path(model_path).stem
    body = re.sub(r"[^A-Za-z0-9]+", "_", stem).strip("_").lower() or "model"
    if body[0].isdigit():
        body = "m_" + body
    if body in _C_RESERVED or keyword.iskeyword(body):
        body += "_model"
    return body


def check_name(name: str) -> str:
    if not _IDENT.match(name) or name in _C_RESERVED or name.startswith("dtmm_") or len(name) > 40:
        raise PackError(
            f"model name {name!r} must be a C identifier (letters, digits, '_', not starting with a digit), "
            "at most 40 characters, not a C keyword and not starting with 'dtmm_'"
        )
    return name


def load_lowering(module=None):
    """The lowering: ``dtmm.pack.lowering`` unless another module (or any object with
    ``lower_op`` and ``unsupported_ops``, e.g. :func:`support.tiny_tflite.checksum_lowering`) is given."""
    if module is not None and not isinstance(module, str):
        return module
    name = module or "dtmm.pack.lowering"
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name and name.startswith(exc.name):
            raise PackError(f"the operator lowering module {name} is not available in this installation") from None
        raise


def _check_subgraphs(model: TfliteModel) -> None:
    fb = _schema()
    n = fb.Model.GetRootAs(model.data, 0).SubgraphsLength()
    if n != 1:
        raise PackError(f"{model.source}: model has {n} subgraphs; only single-subgraph models are supported")


def _io_info(model: TfliteModel, index: int) -> emit.IoInfo:
    t = model.tensors[index]
    if t.dtype not in ("INT8", "FLOAT32"):
        raise PackError(f"{model.source}: model I/O tensor {t.name!r} is {t.dtype}; expected INT8 or FLOAT32")
    if t.dtype == "INT8":
        if len(t.scales) != 1 or len(t.zero_points) != 1:
            raise PackError(f"{model.source}: model I/O tensor {t.name!r} is not per-tensor quantized")
        scale, zp = float(np.float32(t.scales[0])), int(t.zero_points[0])
    else:
        scale, zp = 1.0, 0
    return emit.IoInfo(
        tensor=index,
        name=t.name,
        shape=tuple(t.shape),
        dtype=t.dtype,
        c_type=C_TYPES[t.dtype],
        elements=t.size,
        bytes=tensor_bytes(model, index),
        scale=scale,
        zero_point=zp,
    )


def _model_checks(model: TfliteModel) -> None:
    _check_subgraphs(model)
    if len(model.inputs) != 1 or len(model.outputs) != 1:
        raise PackError(
            f"{model.source}: model has {len(model.inputs)} inputs and {len(model.outputs)} outputs; "
            "only models with one input and one output are supported"
        )
    if not model.operators:
        raise PackError(f"{model.source}: model has no operators")
    for t in (model.inputs[0], model.outputs[0]):
        if model.buffer_span(model.tensors[t].buffer) is not None:
            raise PackError(f"{model.source}: model I/O tensor {model.tensors[t].name!r} is a constant")
    if model.inputs[0] == model.outputs[0]:
        raise PackError(f"{model.source}: the model input is also its output")


def _lower_all(model: TfliteModel, lowering, name: str) -> list:
    unsupported = list(lowering.unsupported_ops(model))
    if unsupported:
        names = ", ".join(dict.fromkeys(str(u) for u in unsupported))
        raise PackError(f"{model.source}: unsupported operators: {names}")
    width = label_width(len(model.operators))
    lowered = []
    for op in model.operators:
        prefix = f"{name}_op{op.index:0{width}d}_"
        try:
            lo = lowering.lower_op(model, op, prefix)
        except DtmmError as exc:
            raise PackError(str(exc).splitlines()[0]) from None
        if lo.op_index != op.index:
            raise PackError(f"lowering returned operator #{lo.op_index} for operator #{op.index}")
        lowered.append(lo)
    return lowered


def _summary(
    model: TfliteModel,
    name: str,
    sha: str,
    lowered: Sequence,
    life: Lifetimes,
    plan: ArenaPlan,
    inp: emit.IoInfo,
    out: emit.IoInfo,
    flash: int,
    width: int,
) -> dict:
    ops = []
    keras = keras_layer_names(model)
    for k, lo in enumerate(lowered):
        row = {
            "index": lo.op_index,
            "op": lo.op_name,
            "label": op_label(lo.op_index, lo.op_name, width),
            "layer": layer_label(lo.op_index, lo.op_name, keras.get(lo.op_index), width),
            "inputs": list(lo.inputs),
            "outputs": list(lo.outputs),
            "flash_bytes": int(lo.flash_bytes),
            "scratch_bytes": int(lo.scratch_bytes),
            "scratch_offset": plan.offsets[scratch_name(k)] if k in life.scratch else None,
            "alias": bool(lo.alias_of_input),
            "in_place": lo.op_index in life.in_place,
            "code": bool((lo.c_call or "").strip()),
        }
        if getattr(lo, "conv_storage", None):
            row["conv_storage"] = lo.conv_storage
        if getattr(lo, "conv_plan", None):
            row["conv_plan"] = {path: dict(plan) if plan else None for path, plan in sorted(lo.conv_plan.items())}
        for family in emit.VARIANT_FAMILIES:
            if getattr(lo, family.field, None):
                row[family.field] = dict(sorted(getattr(lo, family.field).items()))
        info = getattr(lo, "info", None)
        if info:
            row["lowering"] = json.loads(json.dumps(info, sort_keys=True, default=str))
        ops.append(row)
    tensors = []
    for t in sorted(life.region_of):
        ten = model.tensors[t]
        r = life.region_of[t]
        tensors.append(
            {
                "index": t,
                "name": ten.name,
                "shape": list(ten.shape),
                "dtype": ten.dtype.lower(),
                "bytes": tensor_bytes(model, t),
                "region": r.name,
                "offset": plan.offsets[r.name],
                "first_op": life.tensor_first[t],
                "last_op": life.tensor_last[t],
            }
        )
    return {
        "format": "dtmm-pack",
        "version": SUMMARY_VERSION,
        "name": name,
        "model_sha256": sha,
        "model_bytes": len(model.data),
        "arena_bytes": plan.size,
        "arena_lower_bound": plan.lower_bound,
        "arena_strategy": plan.strategy,
        "arena_alignment": plan.alignment,
        "flash_bytes": flash,
        "input": inp.as_dict(),
        "output": out.as_dict(),
        "op_counts": dict(sorted(_op_counts(lowered).items())),
        "conv_variants": dict(sorted(emit.model_variants(lowered, "conv_variants").items())),
        "add_variants": dict(sorted(emit.model_variants(lowered, "add_variants").items())),
        "ops": ops,
        "tensors": tensors,
    }


def _op_counts(lowered: Sequence) -> dict:
    counts: dict[str, int] = {}
    for lo in lowered:
        counts[lo.op_name] = counts.get(lo.op_name, 0) + 1
    return counts


def pack_model(
    model: TfliteModel | str | os.PathLike | bytes,
    name: str | None = None,
    *,
    lowering=None,
    source: str | None = None,
) -> PackedModel:
    """Packs a model (path, bytes or TfliteModel) into C sources held in memory."""
    if isinstance(model, (str, os.PathLike)):
        model = TfliteModel.load(model)
    elif isinstance(model, (bytes, bytearray)):
        model = TfliteModel(bytes(model), source or "<bytes>")
    if name is None:
        name = default_name(model.source if model.source != "<bytes>" else "model")
    check_name(name)
    _model_checks(model)
    low = load_lowering(lowering)
    lowered = _lower_all(model, low, name)
    inp = _io_info(model, model.inputs[0])
    out = _io_info(model, model.outputs[0])
    life = analyse(model, lowered, model.inputs, model.outputs)
    buffers = life.buffers()
    plan = plan_arena(buffers)
    check_plan(buffers, plan)  # never emit an overlapping plan

    sha = hashlib.sha256(model.data).hexdigest()
    flash = sum(int(lo.flash_bytes) for lo in lowered)
    width = label_width(len(lowered))
    # the model is named by its content, not its file name: renaming a .tflite changes no output byte
    src_name = f"the model with SHA-256 {sha[:16]}"
    includes = tuple(getattr(low, "C_INCLUDES", emit.DEFAULT_INCLUDES))
    header = emit.emit_header(
        name, source=src_name, n_ops=len(lowered), arena_bytes=plan.size, flash_bytes=flash, inp=inp, out=out
    )
    try:
        c_source = emit.emit_source(
            name, source=src_name, model_sha256=sha, model=model, lowered=lowered, life=life, plan=plan,
            inp=inp, out=out, includes=includes, label_width=width,
        )  # fmt: skip
    except KeyError as exc:
        raise PackError(f"{model.source}: {exc.args[0]}") from None
    summary = _summary(model, name, sha, lowered, life, plan, inp, out, flash, width)
    files = {
        f"{name}.h": header.encode("utf-8"),
        f"{name}.c": c_source.encode("utf-8"),
        f"{name}.json": (json.dumps(summary, indent=2, sort_keys=False) + "\n").encode("utf-8"),
    }
    return PackedModel(name, model.source, files, summary, plan.size, flash, inp, out, plan, lowered)


def write_package(files: dict, out_dir: str | os.PathLike) -> list[Path]:
    """Writes ``files`` (name -> bytes) into ``out_dir`` without ever leaving a
    half-written file: a new directory is filled under a temporary name and
    renamed into place; into an existing directory every file is written to a
    temporary file first and renamed over its target."""
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise PackError(f"output path {out} exists and is not a directory")
    parent = out.resolve().parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
        if not out.exists():
            tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".tmp", dir=parent))
            try:
                for fname, data in sorted(files.items()):
                    (tmp / fname).write_bytes(data)
                os.chmod(tmp, 0o755)
                try:
                    os.rename(tmp, out)
                except OSError:
                    if not out.is_dir():
                        raise
                    shutil.rmtree(tmp, ignore_errors=True)  # created concurrently: fall through
                    return write_package(files, out)
            except BaseException:
                shutil.rmtree(tmp, ignore_errors=True)
                raise
        else:
            tmp = Path(tempfile.mkdtemp(prefix=".dtmm-pack.", suffix=".tmp", dir=out))
            try:
                for fname, data in sorted(files.items()):
                    (tmp / fname).write_bytes(data)
                    os.chmod(tmp / fname, 0o644)
                for fname in sorted(files):
                    os.replace(tmp / fname, out / fname)
            finally:
                shutil.rmtree(tmp, ignore_errors=True)
    except OSError as exc:
        raise PackError(f"cannot write to {out}: {exc.strerror or exc}") from None
    return [out / fname for fname in sorted(files)]
