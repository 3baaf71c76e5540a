"""Test support for the operator kernels: tiny .tflite models, the tflite-micro golden, comparisons.

* :class:`ModelBuilder` writes single-operator (or few-operator) int8 models
  directly with the flatbuffer object API: milliseconds per model and full
  control over quantization parameters and options, including cases the
  TF converter never produces (odd scales, broadcasting, beta != 1).
* :func:`tflm_tensors` runs the tflite-micro interpreter with every tensor
  preserved and returns the requested ones: the golden reference.
* :func:`check_cases` lowers every case, runs it on the host
  (:mod:`support.host_ops`) and compares each dumped tensor with the
  interpreter, byte for byte.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np

from dtmm.pack.lowering import lower_model
from dtmm.tflite.model import TfliteModel, _schema
from support.host_ops import NP_TYPES, HostCase, HostProgram

_TYPE_CODES = {"INT8": 9, "FLOAT32": 0, "INT32": 2, "UINT8": 3, "INT16": 7, "INT64": 4}


def _flatbuffers():
    import flatbuffers

    return flatbuffers


@dataclass
class ModelBuilder:
    """A one-subgraph .tflite model assembled tensor by tensor, operator by operator."""

    tensors: list = field(default_factory=list)
    buffers: list = field(default_factory=list)
    opcodes: dict = field(default_factory=dict)
    operators: list = field(default_factory=list)

    def __post_init__(self):
        fb = _schema()
        self.buffers.append(fb.BufferT())  # buffer 0: the empty buffer

    def tensor(
        self, shape, dtype: str = "INT8", scale=None, zero_point=None, data=None, name: str | None = None,
        quantized_dimension: int = 0,
    ) -> int:  # fmt: skip
        """Add a tensor (constant when ``data`` is given); returns its index."""
        fb = _schema()
        t = fb.TensorT()
        t.shape = [int(d) for d in shape]
        t.type = _TYPE_CODES[dtype]
        t.name = name or f"t{len(self.tensors)}"
        if scale is not None:
            q = fb.QuantizationParametersT()
            q.scale = [float(s) for s in np.atleast_1d(scale)]
            zps = np.atleast_1d(zero_point if zero_point is not None else 0)
            if zps.size == 1 and len(q.scale) > 1:
                zps = np.repeat(zps, len(q.scale))
            q.zeroPoint = [int(z) for z in zps]
            q.quantizedDimension = quantized_dimension
            t.quantization = q
        if data is not None:
            b = fb.BufferT()
            arr = np.ascontiguousarray(np.asarray(data, dtype=NP_TYPES.get(dtype, np.int64)).reshape(t.shape))
            b.data = list(arr.tobytes())
            self.buffers.append(b)
            t.buffer = len(self.buffers) - 1
        else:
            t.buffer = 0
        self.tensors.append(t)
        return len(self.tensors) - 1

    def op(self, opcode: str, inputs: Sequence[int], outputs: Sequence[int], options: str | None = None, **fields):
        """Add an operator; ``options`` names the BuiltinOptions table (e.g. "AddOptions")."""
        fb = _schema()
        code = getattr(fb.BuiltinOperator, opcode)
        if code not in self.opcodes:
            oc = fb.OperatorCodeT()
            oc.builtinCode = code
            oc.deprecatedBuiltinCode = min(code, 127)
            oc.version = 1
            self.opcodes[code] = (len(self.opcodes), oc)
        o = fb.OperatorT()
        o.opcodeIndex = self.opcodes[code][0]
        o.inputs = [int(i) for i in inputs]
        o.outputs = [int(i) for i in outputs]
        if options is not None:
            o.builtinOptionsType = getattr(fb.BuiltinOptions, options)
            opt = getattr(fb, options + "T")()
            for k, v in fields.items():
                if not hasattr(opt, k):
                    raise AttributeError(f"{options} has no field {k}")
                setattr(opt, k, v)
            o.builtinOptions = opt
        self.operators.append(o)

    def build(self, inputs: Sequence[int], outputs: Sequence[int]) -> bytes:
        fb = _schema()
        sg = fb.SubGraphT()
        sg.tensors = self.tensors
        sg.operators = self.operators
        sg.inputs = [int(i) for i in inputs]
        sg.outputs = [int(i) for i in outputs]
        m = fb.ModelT()
        m.version = 3
        m.operatorCodes = [oc for _, oc in sorted(self.opcodes.values(), key=lambda p: p[0])]
        m.subgraphs = [sg]
        m.buffers = self.buffers
        m.description = "support.op_cases"
        builder = _flatbuffers().Builder(1024)
        builder.Finish(m.Pack(builder), file_identifier=b"TFL3")
        return bytes(builder.Output())


def conv_model(rng, shape, make_weights, batch, hw, stride, dil, pad, act, scale) -> tuple[bytes, list]:
    """One random int8 CONV_2D model and its input shape. `shape` is the OHWI filter's, `make_weights(rng)`
    draws it (after the quantization parameters), `scale(rng, lo, hi)` draws scales."""
    b = ModelBuilder()
    cout, kh, kw, cin = shape
    sx, zx = scale(rng), int(rng.integers(-128, 128))
    sw = [scale(rng, 0.002, 0.05) for _ in range(cout)]
    sy, zy = scale(rng, 0.05, 0.8), int(rng.integers(-128, 128))
    w = make_weights(rng)
    same = pad == "same"
    eff_h, eff_w = (kh - 1) * dil + 1, (kw - 1) * dil + 1
    oh = (hw[0] + stride - 1) // stride if same else (hw[0] - eff_h + stride) // stride
    ow = (hw[1] + stride - 1) // stride if same else (hw[1] - eff_w + stride) // stride
    x = b.tensor([batch, *hw, cin], scale=sx, zero_point=zx)
    wt = b.tensor([cout, kh, kw, cin], scale=sw, zero_point=0, data=w)
    bs = np.float32(sx) * np.asarray(sw, dtype=np.float32)
    bt = b.tensor([cout], "INT32", scale=bs, zero_point=0, data=rng.integers(-5000, 5000, size=cout))
    y = b.tensor([batch, oh, ow, cout], scale=sy, zero_point=zy)
    b.op("CONV_2D", [x, wt, bt], [y], "Conv2DOptions", padding=padding_code(pad), strideH=stride, strideW=stride,
         dilationHFactor=dil, dilationWFactor=dil, fusedActivationFunction=activation_code(act))  # fmt: skip
    return b.build([x], [y]), [batch, *hw, cin]


def activation_code(name: str) -> int:
    return getattr(_schema().ActivationFunctionType, name)


def padding_code(name: str) -> int:
    return getattr(_schema().Padding, name.upper())


# --------------------------------------------------------------------------- random parameters


def random_scale(rng, lo=0.004, hi=0.25) -> float:
    """A float32 scale, log-uniform in [lo, hi]."""
    return float(np.float32(np.exp(rng.uniform(np.log(lo), np.log(hi)))))


def random_zero_point(rng) -> int:
    return int(rng.integers(-128, 128))


def random_int8(rng, shape) -> np.ndarray:
    return rng.integers(-128, 128, size=shape, dtype=np.int8)


# --------------------------------------------------------------------------- golden


def _interpreter(model_bytes: bytes):
    from tflite_micro.python.tflite_micro import runtime

    cfg = runtime.InterpreterConfig.kPreserveAllTensors
    arena = max(len(model_bytes) * 10, 4 << 20)  # the default (10x model size) is too small for tiny models
    return runtime.Interpreter.from_bytes(model_bytes, arena_size=arena, intrepreter_config=cfg)


def tflm_tensors(model_bytes: bytes, samples: Sequence[Sequence[np.ndarray]], tensors: Sequence[int]) -> list:
    """For each sample (one array per model input): {tensor: array} of the requested tensors after invoke."""
    it = _interpreter(model_bytes)
    out = []
    for sample in samples:
        for k, x in enumerate(sample):
            it.set_input(np.asarray(x), k)
        it.invoke()
        out.append({t: np.array(it.GetTensor(t, 0)["tensor_data"]) for t in tensors})
    return out


def random_inputs(model: TfliteModel, rng: np.random.Generator, n: int) -> list:
    """n samples of random model inputs: full int8 range, or floats spanning the input's quantized range."""
    samples = []
    for _ in range(n):
        sample = []
        for t in model.inputs:
            ten = model.tensors[t]
            if ten.dtype == "INT8":
                sample.append(rng.integers(-128, 128, size=ten.shape, dtype=np.int8))
            elif ten.dtype == "FLOAT32":
                sample.append(rng.normal(scale=2.0, size=ten.shape).astype(np.float32))
            else:
                raise ValueError(f"input type {ten.dtype} not handled")
        samples.append(sample)
    return samples


def activation_tensors(model: TfliteModel) -> list[int]:
    """Every non-constant tensor some operator writes."""
    seen = []
    for op in model.operators:
        for t in op.outputs:
            if t not in seen:
                seen.append(t)
    return seen


@dataclass
class Case:
    name: str
    model_bytes: bytes
    samples: list  # list of per-input arrays
    in_place: bool = False  # let in_place_ok operators overwrite their input (then only model outputs are compared)


def check_cases(cases: Sequence[Case], build_dir: Path, conv_storage: str = "fwcs") -> dict:
    """Lower, build one host program for all cases, run, compare every activation tensor with TFLM.

    Returns {case name: (number of tensors compared, number of elements)};
    raises AssertionError naming the case, tensor and first mismatch.
    """
    models = [TfliteModel(c.model_bytes, c.name) for c in cases]
    host_cases = []
    for c, m in zip(cases, models):
        lowered = lower_model(m, prefix=f"{_ident(c.name)}_", conv_storage=conv_storage)
        dump = tuple(m.outputs) if c.in_place else tuple(activation_tensors(m))
        host_cases.append(HostCase(c.name, m, lowered, tuple(m.inputs), dump, in_place=c.in_place))
    prog = HostProgram(host_cases, build_dir)
    stats = {}
    for k, (c, m, hc) in enumerate(zip(cases, models, host_cases)):
        got = prog.run(k, c.samples)
        want = tflm_tensors(c.model_bytes, c.samples, hc.dump)
        n_el = 0
        for s, (g, w) in enumerate(zip(got, want)):
            for t in hc.dump:
                a, b = g[t], np.asarray(w[t]).reshape(g[t].shape)
                if a.dtype != b.dtype:
                    b = b.astype(a.dtype)
                if a.dtype == np.float32:
                    same = a.view(np.uint32) == b.view(np.uint32)
                else:
                    same = a == b
                if not same.all():
                    bad = np.argwhere(~same)
                    i = tuple(bad[0])
                    raise AssertionError(
                        f"{c.name}: sample {s}, tensor {t} ({m.tensors[t].name!r}, written by "
                        f"{_writer(m, t)}): {len(bad)} of {a.size} elements differ, first at {list(i)}: "
                        f"host {a[i]!r} vs tflm {b[i]!r}"
                    )
                n_el += a.size
        stats[c.name] = (len(hc.dump), n_el)
    return stats


def _writer(model: TfliteModel, t: int) -> str:
    for op in model.operators:
        if t in op.outputs:
            return f"{op.opcode} #{op.index}"
    return "input"


def _ident(name: str) -> str:
    import re

    body = re.sub(r"[^A-Za-z0-9]+", "_", name).strip("_") or "case"
    return body if not body[0].isdigit() else "c" + body
