"""Read int8 .tflite flatbuffers and pull out CONV_2D layers with TFLite's exact semantics.

Parsing uses the schema module shipped in the tflite-micro wheel, so no
TensorFlow import is needed. Requantization parameters and activation clamps
are computed the way TFLite's kernels compute them at Prepare time, so the
FWCS blobs built from them reproduce the interpreter bit for bit.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

import numpy as np

from ..errors import DtmmError
from ..formats.fwcs import ConvSpec
from .verify import FlatbufferCorrupt, verify_model

try:
    from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as _fb
except ImportError:  # pragma: no cover - depends on the environment
    _fb = None

FILE_IDENTIFIER = b"TFL3"

_NUMPY_TYPES = {
    "FLOAT32": np.float32, "FLOAT16": np.float16, "FLOAT64": np.float64,
    "INT8": np.int8, "UINT8": np.uint8, "INT16": np.int16, "UINT16": np.uint16,
    "INT32": np.int32, "UINT32": np.uint32, "INT64": np.int64, "UINT64": np.uint64, "BOOL": np.bool_,
}  # fmt: skip


class TfliteError(DtmmError):
    """The file is not a usable .tflite model for DTMM; the message says why."""


def _schema():
    if _fb is None:
        raise TfliteError("the tflite-micro Python package is not installed (pip install tflite-micro)")
    return _fb


_FLOAT32_TINY = float(np.finfo(np.float32).tiny)  # smallest normal float32: scales below it overflow TFLite's math

#: Operands of the operators DTMM reads, as tflite-micro's kernels check them: (fewest inputs, most inputs
#: -- optional ones count, as -1 --, rank of input 1 -- the weights -- or None); each has exactly one output.
OPERANDS_OF = {
    "CONV_2D": (2, 3, 4), "DEPTHWISE_CONV_2D": (2, 3, 4), "FULLY_CONNECTED": (2, 3, 2), "ADD": (2, 2, None),
    "AVERAGE_POOL_2D": (1, 1, None), "MAX_POOL_2D": (1, 1, None), "MEAN": (2, 2, None), "RESHAPE": (1, 2, None),
    "SOFTMAX": (1, 1, None), "CONCATENATION": (1, 10, None), "PAD": (2, 3, None), "PADV2": (2, 3, None),
    "QUANTIZE": (1, 1, None), "DEQUANTIZE": (1, 1, None), "SUB": (2, 2, None), "MUL": (2, 2, None),
    "RELU": (1, 1, None), "RELU6": (1, 1, None), "LEAKY_RELU": (1, 1, None), "LOGISTIC": (1, 1, None),
    "TANH": (1, 1, None), "HARD_SWISH": (1, 1, None),
    "SQUEEZE": (1, 1, None), "EXPAND_DIMS": (2, 2, None), "TRANSPOSE": (2, 2, None), "STRIDED_SLICE": (4, 4, None),
    "RESIZE_NEAREST_NEIGHBOR": (2, 2, None),
}  # fmt: skip

#: The BuiltinOptions table the schema gives each operator DTMM reads; another table there is a corrupt model
#: (its fields would be read as the wrong options).  Missing options are left to the op's reader.
OPTIONS_OF = {
    "CONV_2D": "Conv2DOptions", "DEPTHWISE_CONV_2D": "DepthwiseConv2DOptions",
    "FULLY_CONNECTED": "FullyConnectedOptions", "ADD": "AddOptions", "AVERAGE_POOL_2D": "Pool2DOptions",
    "MAX_POOL_2D": "Pool2DOptions", "MEAN": "ReducerOptions", "RESHAPE": "ReshapeOptions",
    "SOFTMAX": "SoftmaxOptions", "CONCATENATION": "ConcatenationOptions", "PAD": "PadOptions",
    "PADV2": "PadV2Options", "QUANTIZE": "QuantizeOptions", "DEQUANTIZE": "DequantizeOptions",
    "SUB": "SubOptions", "MUL": "MulOptions", "LEAKY_RELU": "LeakyReluOptions", "HARD_SWISH": "HardSwishOptions",
    "SQUEEZE": "SqueezeOptions", "EXPAND_DIMS": "ExpandDimsOptions", "TRANSPOSE": "TransposeOptions",
    "STRIDED_SLICE": "StridedSliceOptions", "RESIZE_NEAREST_NEIGHBOR": "ResizeNearestNeighborOptions",
}  # fmt: skip


def _enum_names(cls) -> dict[int, str]:
    return {v: k for k, v in vars(cls).items() if not k.startswith("_") and isinstance(v, int)}


@dataclass(frozen=True)
class TensorInfo:
    index: int
    name: str
    shape: tuple[int, ...]
    dtype: str  # TensorType name, e.g. "INT8"
    buffer: int
    scales: tuple[float, ...]  # float32 values as stored
    zero_points: tuple[int, ...]
    quantized_dimension: int
    sparse: bool

    @property
    def size(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64)) if self.shape else 1


@dataclass(frozen=True)
class OpInfo:
    index: int
    opcode: str  # BuiltinOperator name, or "CUSTOM:<code>"
    inputs: tuple[int, ...]  # -1 marks an omitted optional input
    outputs: tuple[int, ...]
    options: object  # the schema's *OptionsT object, or None


class TfliteModel:
    """The first subgraph of a .tflite model: tensors, operators and buffer locations."""

    def __init__(self, data: bytes, source: str = "<bytes>"):
        fb = _schema()
        self.data = bytes(data)
        self.source = source
        if len(self.data) < 8 or self.data[4:8] != FILE_IDENTIFIER:
            raise TfliteError(f"{source}: not a TFLite flatbuffer (missing 'TFL3' identifier)")
        try:
            verify_model(self.data)
        except FlatbufferCorrupt as exc:
            raise TfliteError(f"{source}: truncated or corrupt TFLite flatbuffer: {exc}") from None
        try:
            self._parse(fb)
        except TfliteError:
            raise
        except Exception as exc:  # a corrupt flatbuffer fails anywhere in generated code
            detail = f"{type(exc).__name__}: {exc}"
            raise TfliteError(f"{source}: truncated or corrupt TFLite flatbuffer ({detail})") from None

    @classmethod
    def load(cls, path) -> "TfliteModel":
        p = Path(path)
        if p.is_dir():
            raise TfliteError(f"{p} is a directory, not a .tflite model file")
        if not p.is_file():
            raise TfliteError(f"{p}: no such file")
        return cls(p.read_bytes(), str(p))

    def _parse(self, fb) -> None:
        model = fb.Model.GetRootAs(self.data, 0)
        if model.SubgraphsLength() < 1:
            raise TfliteError(f"{self.source}: model has no subgraph")
        op_names = _enum_names(fb.BuiltinOperator)
        type_names = _enum_names(fb.TensorType)
        codes = []
        for i in range(model.OperatorCodesLength()):
            oc = model.OperatorCodes(i)
            code = max(oc.BuiltinCode(), oc.DeprecatedBuiltinCode())
            if code == fb.BuiltinOperator.CUSTOM:
                codes.append("CUSTOM:" + (oc.CustomCode() or b"").decode("utf-8", "replace"))
            else:
                codes.append(op_names.get(code, f"UNKNOWN_{code}"))

        self._spans: list[tuple[int, int] | None] = []
        for i in range(model.BuffersLength()):
            self._spans.append(self._buffer_span(model.Buffers(i)))

        sg = model.Subgraphs(0)
        self.tensors: list[TensorInfo] = []
        for t in range(sg.TensorsLength()):
            ten = sg.Tensors(t)
            q = ten.Quantization()
            scales: tuple = ()
            zps: tuple = ()
            qdim = 0
            if q is not None:
                if not q.ScaleIsNone():
                    scales = tuple(float(s) for s in q.ScaleAsNumpy())
                if not q.ZeroPointIsNone():
                    zps = tuple(int(z) for z in q.ZeroPointAsNumpy())
                qdim = q.QuantizedDimension()
            shape = tuple(int(d) for d in ten.ShapeAsNumpy()) if not ten.ShapeIsNone() else ()
            self.tensors.append(
                TensorInfo(
                    index=t,
                    name=(ten.Name() or b"").decode("utf-8", "replace"),
                    shape=shape,
                    dtype=type_names.get(ten.Type(), f"TYPE_{ten.Type()}"),
                    buffer=ten.Buffer(),
                    scales=scales,
                    zero_points=zps,
                    quantized_dimension=qdim,
                    sparse=ten.Sparsity() is not None,
                )
            )
        self.operators: list[OpInfo] = []
        option_names = _enum_names(fb.BuiltinOptions)
        for k in range(sg.OperatorsLength()):
            op = sg.Operators(k)
            if not 0 <= op.OpcodeIndex() < len(codes):
                raise TfliteError(f"{self.source}: operator #{k} refers to missing operator code {op.OpcodeIndex()}")
            opcode = codes[op.OpcodeIndex()]
            options_type = op.BuiltinOptionsType()
            want = OPTIONS_OF.get(opcode)
            if options_type != 0 and want is not None and option_names.get(options_type) != want:
                got = option_names.get(options_type, f"unknown options type {options_type}")
                raise TfliteError(f"{self.source}: operator #{k} ({opcode}) carries {got}, not {want}")
            options = fb.BuiltinOptionsCreator(options_type, op.BuiltinOptions())
            self.operators.append(
                OpInfo(
                    index=k,
                    opcode=opcode,
                    inputs=tuple(int(i) for i in op.InputsAsNumpy()) if not op.InputsIsNone() else (),
                    outputs=tuple(int(i) for i in op.OutputsAsNumpy()) if not op.OutputsIsNone() else (),
                    options=options,
                )
            )
        self.inputs = tuple(int(i) for i in sg.InputsAsNumpy()) if not sg.InputsIsNone() else ()
        self.outputs = tuple(int(i) for i in sg.OutputsAsNumpy()) if not sg.OutputsIsNone() else ()
        self._check_indices()

    def _check_indices(self) -> None:
        """Refuse dangling tensor/buffer references up front, so later lookups cannot fail obscurely."""
        n_t, n_b = len(self.tensors), len(self._spans)
        for t in self.tensors:
            if not 0 <= t.buffer < max(n_b, 1):
                raise TfliteError(f"{self.source}: tensor {t.index} refers to missing buffer {t.buffer}")
        for op in self.operators:
            if any(not -1 <= i < n_t for i in op.inputs + op.outputs) or any(i < 0 for i in op.outputs):
                raise TfliteError(f"{self.source}: operator #{op.index} refers to a missing tensor")
            if not op.outputs:
                raise TfliteError(f"{self.source}: operator #{op.index} ({op.opcode}) has no output")
        for what, lst in (("input", self.inputs), ("output", self.outputs)):
            bad = [i for i in lst if not 0 <= i < n_t]
            if bad:
                raise TfliteError(f"{self.source}: model {what} {bad[0]} is not a tensor of the subgraph")
        self._check_operands()
        self._check_quantization()

    def _check_operands(self) -> None:
        """The operators dtmm lowers have the operands tflite-micro's kernels accept (OPERANDS_OF)."""
        for op in self.operators:
            if op.opcode not in OPERANDS_OF:
                continue
            fewest, most, weight_rank = OPERANDS_OF[op.opcode]
            if len(op.inputs) < fewest or len(op.inputs) > most or any(i < 0 for i in op.inputs[:fewest]):
                want = f"{fewest}" if fewest == most else f"{fewest} to {most}"
                raise TfliteError(f"{self.source}: operator #{op.index} ({op.opcode}) takes {want} input tensors, "
                                  f"has {list(op.inputs)}")
            if len(op.outputs) != 1:
                raise TfliteError(f"{self.source}: operator #{op.index} ({op.opcode}) has {len(op.outputs)} outputs, "
                                  "not 1")
            if weight_rank is not None and len(self.tensors[op.inputs[1]].shape) != weight_rank:
                raise TfliteError(f"{self.source}: operator #{op.index} ({op.opcode}) has "
                                  f"{len(self.tensors[op.inputs[1]].shape)}-D weights, expected {weight_rank}-D")

    def _check_quantization(self) -> None:
        """Types and quantization parameters tflite-micro can run (and TFLite's arithmetic stays defined on)."""
        for t in self.tensors:
            where = f"{self.source}: tensor {t.index} ({t.name!r})"
            if t.dtype.startswith("TYPE_"):
                raise TfliteError(f"{where} has unknown type {t.dtype[5:]}")
            bad = [s for s in t.scales if not (math.isfinite(s) and s >= _FLOAT32_TINY)]
            if bad:
                raise TfliteError(f"{where} has quantization scale {bad[0]}; scales must be positive, finite, normal "
                                  "float32 numbers")
            if t.dtype == "INT8" and any(not -128 <= z <= 127 for z in t.zero_points):
                bad_zp = next(z for z in t.zero_points if not -128 <= z <= 127)
                raise TfliteError(f"{where} is INT8 with zero point {bad_zp} outside [-128, 127]")
            if len(t.zero_points) != len(t.scales):  # tflite-micro reads such a tensor as not quantized at all
                raise TfliteError(f"{where} has {len(t.scales)} quantization scales but {len(t.zero_points)} zero "
                                  "points")
            if len(t.scales) > 1 and not (0 <= t.quantized_dimension < len(t.shape)
                                          and t.shape[t.quantized_dimension] == len(t.scales)):
                raise TfliteError(f"{where} has {len(t.scales)} scales along dimension {t.quantized_dimension} of "
                                  f"shape {list(t.shape)}")

    def _buffer_span(self, buf) -> tuple[int, int] | None:
        """Absolute (offset, length) of a buffer's bytes in the file, or None if empty."""
        tab = buf._tab  # generated accessors hide the vector position we need for patching
        o = tab.Offset(4)
        if o != 0:
            start, n = tab.Vector(o), tab.VectorLen(o)
        elif buf.Offset() > 1:  # data stored after the flatbuffer (models > 2 GB)
            start, n = int(buf.Offset()), int(buf.Size())
        else:
            return None
        if start + n > len(self.data):
            raise TfliteError(f"{self.source}: truncated or corrupt TFLite flatbuffer (a buffer runs past the end)")
        return (start, n) if n else None

    def buffer_span(self, buffer_index: int) -> tuple[int, int] | None:
        return self._spans[buffer_index]

    def tensor_data(self, tensor_index: int) -> np.ndarray | None:
        """A typed, shaped copy of a constant tensor, or None if it has no data."""
        t = self.tensors[tensor_index]
        span = self._spans[t.buffer] if 0 <= t.buffer < len(self._spans) else None
        if span is None:
            return None
        dt = _NUMPY_TYPES.get(t.dtype)
        if dt is None:
            raise TfliteError(f"{self.source}: tensor {t.name!r} has unsupported type {t.dtype}")
        start, n = span
        itemsize = np.dtype(dt).itemsize
        if n != t.size * itemsize:
            raise TfliteError(
                f"{self.source}: tensor {t.name!r} has {n} data bytes, "
                f"shape {list(t.shape)} needs {t.size * itemsize}"
            )
        return np.frombuffer(self.data, dtype=np.dtype(dt).newbyteorder("<"), count=t.size, offset=start).reshape(
            t.shape
        ).astype(dt)

    def tensor(self, index: int) -> TensorInfo | None:
        return self.tensors[index] if index >= 0 else None


# --------------------------------------------------------------------------- TFLite arithmetic


def _round_half_away(x: float) -> int:
    """std::round: halves go away from zero."""
    return int(math.copysign(math.floor(abs(x) + 0.5), x))


def quantize_multiplier(real: float) -> tuple[int, int]:
    """TFLite QuantizeMultiplier: real = q * 2^(shift - 31) with q a Q31 value in [2^30, 2^31)."""
    if real == 0.0:
        return 0, 0
    if not math.isfinite(real):
        raise TfliteError(f"a requantization scale (input * weight / output scale) is {real}: the model's "
                          "quantization scales are out of range")
    frac, shift = math.frexp(real)
    q = _round_half_away(frac * (1 << 31))  # exact: scaling by a power of two
    if q == 1 << 31:
        q //= 2
        shift += 1
    if shift < -31:
        return 0, 0
    if shift > 30:
        return (1 << 31) - 1, 30
    return q, shift


def weighted_op_multiplier(real: float, where: str) -> tuple[int, int]:
    """quantize_multiplier of a conv / fully connected scale ratio, refusing the ones TFLite saturates (2^30 and
    above: shift 30, then int32 arithmetic that overflows, so no result is defined)."""
    if real >= 2.0**30:
        raise TfliteError(f"{where}: requantization scale {real:.3g} (input * weight / output scale) is 2^30 or "
                          "more; TFLite saturates it and its int32 arithmetic overflows")
    return quantize_multiplier(real)


def activation_range(fused: str, scale: float, zero_point: int) -> tuple[int, int]:
    """int8 clamp for a fused activation, from the output quantization (as TFLite's Prepare does)."""

    def quantize(f: float) -> int:
        with np.errstate(over="ignore", divide="ignore"):
            q = float(np.float32(f) / np.float32(scale))
        if not math.isfinite(q):
            raise TfliteError(f"output scale {scale} is too small for a {fused} clamp ({f} / scale overflows float32)")
        return zero_point + _round_half_away(q)

    if fused == "NONE":
        return -128, 127
    if fused == "RELU":
        return max(-128, quantize(0.0)), 127
    if fused == "RELU6":
        return max(-128, quantize(0.0)), min(127, quantize(6.0))
    if fused == "RELU_N1_TO_1":
        return max(-128, quantize(-1.0)), min(127, quantize(1.0))
    raise TfliteError(f"unsupported fused activation {fused}")


# --------------------------------------------------------------------------- CONV_2D layers


@dataclass(frozen=True, eq=False)
class ConvLayer:
    """One int8 CONV_2D: FWCS-ready spec and arrays plus where it lives in the model."""

    op_index: int
    name: str  # the filter tensor's name (short and stable across converters)
    spec: ConvSpec
    weights: np.ndarray  # int8 OHWI
    bias: np.ndarray  # int32 [cout]
    multiplier: np.ndarray  # int32 [cout]
    shift: np.ndarray  # int32 [cout]
    input_tensor: int
    filter_tensor: int
    output_tensor: int


def check_bias_type(model: TfliteModel, op: OpInfo, where: str, error: type[DtmmError] | None = None) -> None:
    """Conv2D / FullyConnected options may name the bias type (quantized_bias_type); tflite-micro refuses a bias
    of another type, so must we."""
    want = getattr(op.options, "quantizedBiasType", 0) if op.options is not None else 0
    if want == 0:  # FLOAT32, the schema's default: not specified
        return
    names = _enum_names(_schema().TensorType)
    have = model.tensors[op.inputs[2]].dtype if len(op.inputs) > 2 and op.inputs[2] >= 0 else "none"
    if names.get(want, f"TYPE_{want}") != have:
        raise (error or TfliteError)(f"{where}: the options say the bias is {names.get(want, want)}, it is {have}")


def constant_bias(model: TfliteModel, op: OpInfo, channels: int, where: str,
                  error: type[DtmmError] | None = None) -> np.ndarray:
    """The int32 bias (input 2) of a conv-like op as int64[channels]; zeros when absent.
    A bias that is not a constant tensor is refused: treating it as zero would be a wrong model."""
    error = error or TfliteError
    if len(op.inputs) <= 2 or op.inputs[2] < 0:
        return np.zeros(channels, dtype=np.int64)
    bt = model.tensors[op.inputs[2]]
    if bt.dtype != "INT32":
        raise error(f"{where}: bias is {bt.dtype}, only INT32 is supported")
    b = model.tensor_data(bt.index)
    if b is None:
        raise error(f"{where}: the bias must be a constant tensor")
    if b.size != channels:
        raise error(f"{where}: the bias has {b.size} values for {channels} output channels")
    return b.reshape(channels).astype(np.int64)


def _single_quant(model: TfliteModel, t: TensorInfo, what: str, op: OpInfo) -> tuple[float, int]:
    if len(t.scales) != 1 or len(t.zero_points) != 1:
        raise TfliteError(f"{model.source}: {op.opcode} #{op.index}: {what} is not per-tensor quantized")
    return t.scales[0], t.zero_points[0]


def _require_int8(model: TfliteModel, op: OpInfo, t: TensorInfo, what: str) -> None:
    if t.dtype == "FLOAT32":
        raise TfliteError(
            f"{model.source}: float model: {op.opcode} #{op.index} has a FLOAT32 {what}; "
            "only full-integer int8 models are supported"
        )
    if t.dtype != "INT8":
        raise TfliteError(f"{model.source}: {op.opcode} #{op.index}: {what} is {t.dtype}, only INT8 is supported")


def conv_layer(model: TfliteModel, op: OpInfo) -> ConvLayer:
    """Extract one CONV_2D operator; raises TfliteError for anything outside the int8 contract."""
    fb = _schema()
    if op.opcode != "CONV_2D":
        raise TfliteError(f"{model.source}: operator #{op.index} is {op.opcode}, not CONV_2D")
    where = f"{model.source}: CONV_2D #{op.index}"
    x = model.tensors[op.inputs[0]]
    f = model.tensors[op.inputs[1]]
    y = model.tensors[op.outputs[0]]
    _require_int8(model, op, f, "filter")
    _require_int8(model, op, x, "input")
    _require_int8(model, op, y, "output")
    if f.sparse:
        raise TfliteError(f"{where}: sparse filter tensors are not supported")
    if len(x.shape) != 4 or len(f.shape) != 4 or len(y.shape) != 4:
        raise TfliteError(f"{where}: expected 4-D NHWC input/output and OHWI filter")
    cout, kh, kw, cin = f.shape
    if x.shape[3] != cin:
        raise TfliteError(
            f"{where}: grouped convolution (input has {x.shape[3]} channels, filter {cin}) is not supported"
        )
    w = model.tensor_data(f.index)
    if w is None:
        raise TfliteError(f"{where}: filter tensor has no constant data")
    if len(f.scales) not in (1, cout) or any(z != 0 for z in f.zero_points):
        raise TfliteError(f"{where}: filter must be symmetric per-tensor or per-output-channel quantized")
    if len(f.scales) == cout and cout > 1 and f.quantized_dimension != 0:
        raise TfliteError(f"{where}: filter is quantized along dimension {f.quantized_dimension}, expected 0")
    in_scale, in_zp = _single_quant(model, x, "input", op)
    out_scale, out_zp = _single_quant(model, y, "output", op)

    opts = op.options
    if opts is None:
        raise TfliteError(f"{where}: missing Conv2DOptions")
    fused = _enum_names(fb.ActivationFunctionType).get(opts.fusedActivationFunction, "?")
    if fused not in ("NONE", "RELU", "RELU6", "RELU_N1_TO_1"):
        raise TfliteError(f"{where}: unsupported fused activation {fused}")
    act_min, act_max = activation_range(fused, out_scale, out_zp)
    spec = ConvSpec(
        cout=cout, cin=cin, kh=kh, kw=kw, in_h=x.shape[1], in_w=x.shape[2],
        stride_h=opts.strideH, stride_w=opts.strideW,
        dilation_h=opts.dilationHFactor, dilation_w=opts.dilationWFactor,
        padding="same" if opts.padding == fb.Padding.SAME else "valid",
        input_offset=-in_zp, output_offset=out_zp, act_min=act_min, act_max=act_max,
    )  # fmt: skip
    if (y.shape[0], y.shape[1], y.shape[2], y.shape[3]) != (x.shape[0], spec.out_h, spec.out_w, cout):
        raise TfliteError(f"{where}: output shape {list(y.shape)} disagrees with the conv geometry")

    check_bias_type(model, op, where)
    bias = constant_bias(model, op, cout, where).astype(np.int32)

    f_scales = f.scales if len(f.scales) == cout else f.scales * cout
    mult = np.zeros(cout, dtype=np.int32)
    shift = np.zeros(cout, dtype=np.int32)
    for o, fs in enumerate(f_scales):
        # double(input_scale) * double(filter_scale) / double(output_scale), as TFLite does
        mult[o], shift[o] = weighted_op_multiplier(float(in_scale) * float(fs) / float(out_scale), where)
    return ConvLayer(op.index, f.name, spec, w.astype(np.int8), bias, mult, shift, x.index, f.index, y.index)


def conv_layers(model: TfliteModel) -> list[ConvLayer]:
    """Every CONV_2D of the first subgraph, in execution order."""
    return [conv_layer(model, op) for op in model.operators if op.opcode == "CONV_2D"]


# --------------------------------------------------------------------------- costs


def op_weight_tensor(model: TfliteModel, op: OpInfo) -> TensorInfo | None:
    """The constant weight tensor of CONV_2D / DEPTHWISE_CONV_2D / FULLY_CONNECTED, else None."""
    if op.opcode in ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED") and len(op.inputs) > 1:
        t = model.tensor(op.inputs[1])
        if t is not None and model.buffer_span(t.buffer) is not None:
            return t
    return None


def op_macs(model: TfliteModel, op: OpInfo) -> int:
    """Dense multiply-accumulates of one inference for the weighted ops; 0 for the rest."""
    w = op_weight_tensor(model, op)
    if w is None or not op.outputs:
        return 0
    y = model.tensors[op.outputs[0]]
    out_elems = y.size
    if op.opcode == "CONV_2D":
        return out_elems * int(np.prod(w.shape[1:]))  # each output: kh*kw*cin MACs
    if op.opcode == "DEPTHWISE_CONV_2D":
        return out_elems * w.shape[1] * w.shape[2]  # each output: kh*kw MACs
    return out_elems * w.shape[-1]  # FULLY_CONNECTED: each output: in_features MACs


# --------------------------------------------------------------------------- patching


_WEIGHTED_REPLACEABLE = ("CONV_2D", "FULLY_CONNECTED")


def replace_conv_weights(model: TfliteModel | bytes, new_weights: Mapping[int, np.ndarray]) -> bytes:
    """A copy of the model bytes with CONV_2D (or FULLY_CONNECTED) filters replaced, keyed by operator index.

    Buffers are patched in place, so the file keeps its size and every offset;
    a filter buffer shared with any other tensor is refused.
    """
    return _replace_operands(model, new_weights, 1, "filter", "INT8", np.int8)


def replace_conv_biases(model: TfliteModel | bytes, new_biases: Mapping[int, np.ndarray]) -> bytes:
    """The same for the int32 biases (input 2) of CONV_2D / FULLY_CONNECTED operators."""
    return _replace_operands(model, new_biases, 2, "bias", "INT32", np.dtype("<i4"))


def _replace_operands(model, new: Mapping[int, np.ndarray], slot: int, what_name: str, dtype: str, np_dtype) -> bytes:
    if not isinstance(model, TfliteModel):
        model = TfliteModel(model)
    out = bytearray(model.data)
    users: dict[int, int] = {}
    for t in model.tensors:
        users[t.buffer] = users.get(t.buffer, 0) + 1
    for op_index, w in sorted(new.items()):
        if not 0 <= op_index < len(model.operators) or model.operators[op_index].opcode not in _WEIGHTED_REPLACEABLE:
            raise TfliteError(f"{model.source}: operator #{op_index} is not a CONV_2D or FULLY_CONNECTED")
        op = model.operators[op_index]
        what = f"{model.source}: {op.opcode} #{op_index}"
        if len(op.inputs) <= slot or op.inputs[slot] < 0:
            raise TfliteError(f"{what} has no {what_name} tensor")
        f = model.tensors[op.inputs[slot]]
        arr = np.asarray(w)
        if arr.shape != f.shape or arr.dtype != np_dtype:
            raise TfliteError(
                f"{model.source}: new {what_name} for #{op_index} must be {dtype.lower()} {list(f.shape)}, "
                f"got {arr.dtype} {list(arr.shape)}"
            )
        if f.dtype != dtype:
            raise TfliteError(f"{what} {what_name} is {f.dtype}, not {dtype}")
        if users.get(f.buffer, 0) != 1:
            raise TfliteError(f"{what} {what_name} buffer is shared; refusing to patch it")
        span = model.buffer_span(f.buffer)
        if span is None or span[1] != arr.nbytes:
            raise TfliteError(f"{what} {what_name} buffer has no {arr.nbytes}-byte data")
        out[span[0] : span[0] + span[1]] = np.ascontiguousarray(arr).astype(np_dtype).tobytes()
    return bytes(out)
