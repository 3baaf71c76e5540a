"""Per-operator lowering: TFLite operator -> C declarations + one call of a dtmm kernel.

See the package docstring (``dtmm.pack.lowering``) for the contract. Every
function here reads the operator's tensors and options, computes what TFLite
Micro computes in Prepare (via :mod:`.quant`), and returns a
:class:`~dtmm.pack.lowering.LoweredOp`.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

import numpy as np

from ...errors import DtmmError
from ...formats import fwcs
from ...formats.fwcs import reference
from ...formats.fwcs.c_emit import describe
from ...tflite.model import (
    OpInfo,
    TensorInfo,
    TfliteModel,
    _enum_names,
    _schema,
    activation_range,
    check_bias_type,
    constant_bias,
    conv_layer,
)
from . import baseline_conv, lookup_tables, quant
from .cgen import c_array, c_bytes, c_float, c_struct, comment_safe
from .conv_scratch import conv_plans, conv_scratch_bytes, path_variants
from .quant import LoweringError
from .types import LoweredOp

MAX_DIMS = 6  # DTMM_OPS_MAX_DIMS


# --------------------------------------------------------------------------- helpers


def _where(model: TfliteModel, op: OpInfo) -> str:
    return f"{model.source}: {op.opcode} #{op.index}"


def _is_const(model: TfliteModel, t: int) -> bool:
    return model.buffer_span(model.tensors[t].buffer) is not None


def _fused(model: TfliteModel, op: OpInfo) -> str:
    opts = op.options
    code = getattr(opts, "fusedActivationFunction", 0) if opts is not None else 0
    name = _enum_names(_schema().ActivationFunctionType).get(code, f"?{code}")
    if name not in ("NONE", "RELU", "RELU6", "RELU_N1_TO_1"):
        raise LoweringError(f"{_where(model, op)}: unsupported fused activation {name}")
    return name


def _quant1(model: TfliteModel, op: OpInfo, t: TensorInfo, what: str) -> tuple[float, int]:
    if len(t.scales) != 1 or len(t.zero_points) != 1:
        raise LoweringError(f"{_where(model, op)}: {what} tensor {t.name!r} is not per-tensor quantized")
    return float(t.scales[0]), int(t.zero_points[0])


def _require(model: TfliteModel, op: OpInfo, t: TensorInfo, dtype: str, what: str) -> None:
    if t.dtype != dtype:
        raise LoweringError(
            f"{_where(model, op)}: {what} tensor {t.name!r} is {t.dtype}; this kernel needs {dtype}"
        )


def _clamp(model: TfliteModel, op: OpInfo, out: TensorInfo) -> tuple[int, int]:
    scale, zp = _quant1(model, op, out, "output")
    return activation_range(_fused(model, op), scale, zp)


def _padding_same(opts) -> bool:
    return opts.padding == _schema().Padding.SAME


def _out_size(in_size: int, k: int, stride: int, dilation: int, same: bool) -> int:
    eff = (k - 1) * dilation + 1
    return (in_size + stride - 1) // stride if same else (in_size - eff + stride) // stride


def _pad_before(in_size: int, out_size: int, k: int, stride: int, dilation: int) -> int:
    eff = (k - 1) * dilation + 1
    return max(0, (out_size - 1) * stride + eff - in_size) // 2


def _prod(xs) -> int:
    p = 1
    for x in xs:
        p *= int(x)
    return p


@dataclass
class _Operands:
    """Activation inputs become {inK} placeholders; constant inputs become const arrays in c_decls."""

    model: TfliteModel
    op: OpInfo
    prefix: str
    activations: list = field(default_factory=list)
    decls: list = field(default_factory=list)
    flash: int = 0

    def expr(self, t: int, ctype: str = "int8_t") -> str:
        if _is_const(self.model, t):
            data = self.model.tensor_data(t)
            name = f"{self.prefix}const{len(self.decls)}"
            text, n = c_array(name, ctype, np.asarray(data).reshape(-1), comment_safe(f"constant {self.model.tensors[t].name}"))
            self.decls.append(text)
            self.flash += n
            return name
        self.activations.append(t)
        return "{in%d}" % (len(self.activations) - 1)


def _op(model, op, prefix, inputs, c_decls, c_call, flash, scratch=0, **kw) -> LoweredOp:
    return LoweredOp(
        op_index=op.index,
        op_name=op.opcode,
        inputs=tuple(inputs),
        outputs=tuple(op.outputs),
        c_decls=c_decls,
        c_call=c_call,
        scratch_bytes=int(scratch),
        flash_bytes=int(flash),
        **kw,
    )


def _single_output(model: TfliteModel, op: OpInfo) -> TensorInfo:
    if len(op.outputs) != 1:
        raise LoweringError(f"{_where(model, op)}: expected one output, got {len(op.outputs)}")
    return model.tensors[op.outputs[0]]


def _input(model: TfliteModel, op: OpInfo, k: int, what: str) -> TensorInfo:
    if len(op.inputs) <= k or op.inputs[k] < 0:
        raise LoweringError(f"{_where(model, op)}: missing {what} input")
    return model.tensors[op.inputs[k]]


def _activation_input(model: TfliteModel, op: OpInfo, k: int, what: str) -> TensorInfo:
    t = _input(model, op, k, what)
    if _is_const(model, t.index):
        raise LoweringError(f"{_where(model, op)}: a constant {what} tensor is not supported")
    return t


def _unary_operands(model: TfliteModel, op: OpInfo, in_dtype: str, out_dtype: str) -> tuple[TensorInfo, TensorInfo]:
    """The activation input and the output of a one-in, one-out elementwise op, of these types and one size."""
    x = _activation_input(model, op, 0, "input")
    y = _single_output(model, op)
    _require(model, op, x, in_dtype, "input")
    _require(model, op, y, out_dtype, "output")
    if x.size != y.size:
        raise LoweringError(f"{_where(model, op)}: input and output sizes differ")
    return x, y


# --------------------------------------------------------------------------- CONV_2D


def lower_conv_2d(model: TfliteModel, op: OpInfo, prefix: str, storage: str = "fwcs") -> LoweredOp:
    """FWCS blob + dtmm_conv_s8, or with `storage` other than fwcs the baselines' storage where it is
    smaller (see baseline_conv)."""
    try:
        layer = conv_layer(model, op)
    except DtmmError as exc:  # TfliteError / FwcsError already name the operator
        raise LoweringError(str(exc)) from None
    x = model.tensors[layer.input_tensor]
    if _is_const(model, x.index):
        raise LoweringError(f"{_where(model, op)}: a constant input tensor is not supported")
    s = layer.spec
    chosen = baseline_conv.choose_storage(baseline_conv.candidates(layer, storage)) if storage != "fwcs" else "fwcs"
    if chosen != "fwcs":
        return _lower_baseline_conv(model, op, prefix, layer, chosen)
    try:
        blob = groups_blob(layer.weights, layer.bias, layer.multiplier, layer.shift, s)
        if blob is None:
            blob = fwcs.encode(layer.weights, layer.bias, layer.multiplier, layer.shift, s, encoding="auto")
    except fwcs.FwcsError as exc:
        raise LoweringError(f"{_where(model, op)}: {exc}") from None
    return _fwcs_conv_op(model, op, prefix, x, blob, x.shape[0])


def lower_dtmm_conv_2d(model: TfliteModel, op: OpInfo, prefix: str) -> LoweredOp:
    """The custom op of a `dtmm convert`ed model (input 1: its FWCS blob): run as the CONV_2D it replaced,
    after the checks the TFLM adapter makes in Prepare (valid blob, tensors of its shapes and offsets)."""
    where = _where(model, op)
    if len(op.inputs) != 2 or len(op.outputs) != 1 or min(op.inputs) < 0:
        raise LoweringError(f"{where}: expects inputs [input, blob] and one output")
    x, b, y = (model.tensors[i] for i in (op.inputs[0], op.inputs[1], op.outputs[0]))
    span = model.buffer_span(b.buffer)
    if span is None or b.dtype not in ("UINT8", "INT8"):
        raise LoweringError(f"{where}: input 1 must be a constant UINT8 tensor holding an FWCS blob")
    blob = model.data[span[0] : span[0] + span[1]]
    try:
        s = fwcs.validate(blob).spec
    except fwcs.FwcsError as exc:
        raise LoweringError(f"{where}: {exc}") from None
    for t, what, (h, w, c) in ((x, "input", (s.in_h, s.in_w, s.cin)), (y, "output", (s.out_h, s.out_w, s.cout))):
        if t.dtype != "INT8":
            raise LoweringError(f"{where}: {what} is {t.dtype}, only INT8 is supported")
        if len(t.shape) != 4 or tuple(t.shape[1:]) != (h, w, c) or t.shape[0] != x.shape[0]:
            raise LoweringError(f"{where}: {what} shape {list(t.shape)} does not match the blob's [N, {h}, {w}, {c}]")
    if len(y.zero_points) != 1 or int(y.zero_points[0]) != s.output_offset:
        raise LoweringError(f"{where}: the output zero point differs from the blob's output offset {s.output_offset}")
    if _is_const(model, x.index):
        raise LoweringError(f"{where}: a constant input tensor is not supported")
    # named without the "CUSTOM:" prefix: op names become C strings and profile labels (opNN_DTMM_CONV_2D)
    return replace(_fwcs_conv_op(model, op, prefix, x, blob, x.shape[0]), op_name=fwcs.CUSTOM_OP)


def groups_blob(weights, bias, multiplier, shift, spec: fwcs.ConvSpec, group: int | None = None) -> bytes | None:
    """A 1x1 layer pruned by channel groups as a GROUPS blob, or None when that encoding does not pay
    (not 1x1, no group size keeps at most fwcs.AUTO_GROUP_MAX_DENSITY of the groups, or a smaller
    encoding exists); `group` forces that group size.  The input offset is folded into the bias (bias +
    input_offset * sum of the filter's weights, int32 wrap-around) and stored as 0: exact for 1x1
    layers, which have no padding taps, and it spares the kernels a pass over the weights on every call
    (docs/fwcs.md 5.5)."""
    if spec.kh != 1 or spec.kw != 1:
        return None
    g = group
    if g is None:
        encoding, _, g = fwcs.best_encoding(spec, weights)
        if encoding != "groups":
            return None
    folded = quant.fold_input_offset(bias, weights, spec.input_offset)
    return fwcs.encode(weights, folded, multiplier, shift, replace(spec, input_offset=0), "groups", group=g)


def fc_dense_bytes(in_features: int, out_features: int, n_multipliers: int) -> int:
    """Flash of a FULLY_CONNECTED lowered dense: int8 weights, int32 bias, multipliers and shifts (one per
    output channel, or one when per-tensor) -- what a GROUPS blob must beat to replace it."""
    return int(in_features) * int(out_features) + 4 * (int(out_features) + 2 * int(n_multipliers))


def fc_groups_size(weights: np.ndarray, n_multipliers: int) -> tuple[int, int] | None:
    """(blob bytes, group size) of the GROUPS blob a FULLY_CONNECTED with int8 weights [out, in] is lowered
    to -- smallest FWCS encoding and smaller than the dense operator (`fc_dense_bytes`) -- else None."""
    out_f, in_f = weights.shape
    spec = fwcs.ConvSpec(cout=out_f, cin=in_f, kh=1, kw=1, in_h=1, in_w=1)
    encoding, size, g = fwcs.best_encoding(spec, np.asarray(weights).reshape(out_f, 1, 1, in_f))
    return (size, g) if encoding == "groups" and size < fc_dense_bytes(in_f, out_f, n_multipliers) else None


def _fwcs_conv_op(model: TfliteModel, op: OpInfo, prefix: str, x, blob: bytes, batches: int) -> LoweredOp:
    """dtmm_conv_s8 on one FWCS blob per image of the batch (CONV_2D, and FULLY_CONNECTED as GROUPS)."""
    s = fwcs.validate(blob).spec
    name = f"{prefix}blob"
    decls, flash = c_bytes(name, blob, describe(blob))
    in_img = s.in_h * s.in_w * s.cin
    out_img = s.out_h * s.out_w * s.cout
    if batches == 1:
        call = f"status = dtmm_conv_s8({name}, {{in0}}, {{out0}}, {{scratch}});"
    else:
        call = (
            "{\n"
            "    int32_t n_;\n"
            f"    for (n_ = 0; n_ < {batches} && status == DTMM_OK; ++n_) {{\n"
            f"        status = dtmm_conv_s8({name}, {{in0}} + n_ * {in_img}, {{out0}} + n_ * {out_img}, {{scratch}});\n"
            "    }\n"
            "}"
        )
    init = (
        "{\n"
        f"    const int32_t need_ = dtmm_conv_s8_get_buffer_size({name});\n"
        "    status = need_ < 0 ? (dtmm_status)(-need_) : (need_ > {scratch_bytes} ? DTMM_ERR_ARGUMENT : DTMM_OK);\n"
        "}"
    )
    return _op(
        model, op, prefix, (x.index,), decls, call, flash,
        scratch=conv_scratch_bytes(blob),
        c_init=init, scratch_expr=f"dtmm_conv_s8_get_buffer_size({name})",
        conv_variants=path_variants(blob), conv_storage="fwcs", conv_plan=conv_plans(blob),
    )  # fmt: skip


def _lower_baseline_conv(model: TfliteModel, op: OpInfo, prefix: str, layer, chosen: str) -> LoweredOp:
    s = layer.spec
    if chosen == "sparse":
        decls, flash = baseline_conv.sparse_decls(layer, prefix)
        fn, scratch, extra = "dtmm_sparse_conv_s8", 0, ""
    else:
        decls, flash = baseline_conv.pattern_decls(layer, prefix)
        fn, scratch, extra = "dtmm_pattern_conv_s8", 16 * s.cout, ", {scratch}"  # dtmm_pattern_conv_s8_get_buffer_size
    batches = model.tensors[layer.input_tensor].shape[0]
    in_img, out_img = s.in_h * s.in_w * s.cin, s.out_h * s.out_w * s.cout
    if batches == 1:
        call = f"status = {fn}(&{prefix}params, {{in0}}, {{out0}}{extra});"
    else:
        call = (
            "{\n"
            "    int32_t n_;\n"
            f"    for (n_ = 0; n_ < {batches} && status == DTMM_OK; ++n_) {{\n"
            f"        status = {fn}(&{prefix}params, {{in0}} + n_ * {in_img}, {{out0}} + n_ * {out_img}{extra});\n"
            "    }\n"
            "}"
        )
    return _op(model, op, prefix, (layer.input_tensor,), decls, call, flash, scratch=scratch,
               scratch_expr=f"dtmm_pattern_conv_s8_get_buffer_size(&{prefix}params)" if scratch else None,
               conv_storage=chosen)  # fmt: skip


# --------------------------------------------------------------------------- DEPTHWISE_CONV_2D


def lower_depthwise_conv_2d(model: TfliteModel, op: OpInfo, prefix: str) -> LoweredOp:
    w = _input(model, op, 1, "filter")
    x = _activation_input(model, op, 0, "input")
    y = _single_output(model, op)
    where = _where(model, op)
    for t, what in ((x, "input"), (w, "filter"), (y, "output")):
        _require(model, op, t, "INT8", what)
    if len(x.shape) != 4 or len(w.shape) != 4 or len(y.shape) != 4:
        raise LoweringError(f"{where}: expected 4-D input, filter and output")
    _, kh, kw, out_ch = w.shape
    batches, in_h, in_w, in_ch = x.shape
    if w.shape[0] != 1 or out_ch % in_ch != 0:
        raise LoweringError(f"{where}: filter shape {list(w.shape)} does not fit {in_ch} input channels")
    mult = out_ch // in_ch
    opts = op.options
    if opts is None:
        raise LoweringError(f"{where}: missing DepthwiseConv2DOptions")
    if opts.depthMultiplier != mult:  # tflite-micro loops over depth_multiplier: 0 computes nothing
        raise LoweringError(f"{where}: depth_multiplier {opts.depthMultiplier} disagrees with the shapes ({mult})")
    weights = model.tensor_data(w.index)
    if weights is None or w.sparse:
        raise LoweringError(f"{where}: the filter must be a dense constant")
    if len(w.scales) not in (1, out_ch) or any(z != 0 for z in w.zero_points):
        raise LoweringError(f"{where}: filter must be symmetric per-tensor or per-channel quantized")
    if len(w.scales) > 1 and w.quantized_dimension != 3:
        raise LoweringError(f"{where}: filter is quantized along dimension {w.quantized_dimension}, expected 3")
    in_s, in_zp = _quant1(model, op, x, "input")
    out_s, out_zp = _quant1(model, op, y, "output")
    act_min, act_max = _clamp(model, op, y)
    same = _padding_same(opts)
    sh, sw = opts.strideH, opts.strideW
    dh, dw = opts.dilationHFactor, opts.dilationWFactor
    if not (1 <= min(sh, sw, dh, dw) and max(sh, sw, dh, dw) <= 255):  # as FWCS convs: int32 tap arithmetic
        raise LoweringError(f"{where}: strides ({sh}, {sw}) and dilations ({dh}, {dw}) must be in [1, 255]")
    out_h, out_w = _out_size(in_h, kh, sh, dh, same), _out_size(in_w, kw, sw, dw, same)
    if tuple(y.shape) != (batches, out_h, out_w, out_ch):
        raise LoweringError(f"{where}: output shape {list(y.shape)} disagrees with the geometry")
    bias = constant_bias(model, op, out_ch, where, LoweringError)
    m, s = quant.conv_multipliers(in_s, w.scales, out_s, out_ch)
    for v in s:
        quant.check_mbqm_shift(int(v), where)

    decls = []
    flash = 0
    for name, ctype, vals, note in (
        ("weights", "int8_t", weights.reshape(-1), f"filter [{kh}][{kw}][{out_ch}]"),
        ("bias", "int32_t", bias, "bias"),
        ("mult", "int32_t", m, "per-channel multiplier"),
        ("shift", "int32_t", s, "per-channel shift"),
    ):
        text, n = c_array(f"{prefix}{name}", ctype, vals, note)
        decls.append(text)
        flash += n
    text, n = c_struct(
        "dtmm_depthwise_conv_s8_params", f"{prefix}params",
        [
            ("weights", f"{prefix}weights"), ("bias", f"{prefix}bias"),
            ("multiplier", f"{prefix}mult"), ("shift", f"{prefix}shift"),
            ("batches", batches), ("in_h", in_h), ("in_w", in_w), ("in_ch", in_ch),
            ("out_h", out_h), ("out_w", out_w), ("out_ch", out_ch), ("depth_multiplier", mult),
            ("kh", kh), ("kw", kw), ("stride_h", sh), ("stride_w", sw),
            ("dilation_h", dh), ("dilation_w", dw),
            ("pad_top", _pad_before(in_h, out_h, kh, sh, dh)), ("pad_left", _pad_before(in_w, out_w, kw, sw, dw)),
            ("input_offset", -in_zp), ("output_offset", out_zp), ("act_min", act_min), ("act_max", act_max),
        ],
        24,
    )  # fmt: skip
    decls.append(text)
    flash += n
    call = f"status = dtmm_depthwise_conv_s8(&{prefix}params, {{in0}}, {{out0}});"
    return _op(model, op, prefix, (x.index,), "".join(decls), call, flash)


# --------------------------------------------------------------------------- FULLY_CONNECTED


@dataclass(frozen=True)
class _FcOperands:
    x: TensorInfo
    weights: np.ndarray  # int8 [out, in]
    bias: np.ndarray
    multiplier: np.ndarray  # one per output channel, or one (per-tensor)
    shift: np.ndarray
    spec: fwcs.ConvSpec  # the layer as a 1x1 conv on a 1x1 image (what a GROUPS blob stores)
    batches: int


def _fc_operands(model: TfliteModel, op: OpInfo) -> _FcOperands:
    where = _where(model, op)
    x = _activation_input(model, op, 0, "input")
    w = _input(model, op, 1, "weights")
    y = _single_output(model, op)
    for t, what in ((x, "input"), (w, "weights"), (y, "output")):
        _require(model, op, t, "INT8", what)
    opts = op.options
    if opts is not None and getattr(opts, "weightsFormat", 0) != 0:
        raise LoweringError(f"{where}: shuffled weights format is not supported")
    weights = model.tensor_data(w.index)
    if weights is None or w.sparse or len(w.shape) != 2:
        raise LoweringError(f"{where}: the weights must be a dense constant 2-D tensor")
    out_f, in_f = w.shape
    if any(z != 0 for z in w.zero_points):
        raise LoweringError(f"{where}: weights must be symmetrically quantized (zero point 0)")
    if len(w.scales) not in (1, out_f) or (len(w.scales) > 1 and w.quantized_dimension != 0):
        raise LoweringError(f"{where}: weights must be per-tensor or per-output-channel quantized")
    if not y.shape or y.shape[-1] != out_f:
        raise LoweringError(f"{where}: output shape {list(y.shape)} does not end in {out_f}")
    batches = y.size // out_f
    if x.size != batches * in_f:
        raise LoweringError(f"{where}: input of {x.size} elements is not {batches} x {in_f}")
    in_s, in_zp = _quant1(model, op, x, "input")
    out_s, out_zp = _quant1(model, op, y, "output")
    act_min, act_max = _clamp(model, op, y)
    if len(w.scales) > 1:
        m, s = quant.conv_multipliers(in_s, w.scales, out_s, out_f)
    else:
        m0, s0 = quant.fc_per_tensor_multiplier(in_s, w.scales[0], out_s)
        m, s = np.array([m0]), np.array([s0])
        if len(op.inputs) > 2 and op.inputs[2] >= 0:  # GetQuantizedConvolutionMultipler's bias check
            bt = model.tensors[op.inputs[2]]
            product = float(np.float32(in_s) * np.float32(w.scales[0]))
            bias_scale = float(np.float32(bt.scales[0])) if bt.scales else 0.0
            if abs(product - bias_scale) / float(np.float32(out_s)) > 0.02:
                raise LoweringError(f"{where}: bias scale {bias_scale:.6g} is not input scale x weight scale "
                                    f"({product:.6g}), as TFLite requires")
    for v in s:
        quant.check_mbqm_shift(int(v), where)
    check_bias_type(model, op, where, LoweringError)
    bias = constant_bias(model, op, out_f, where, LoweringError)
    spec = fwcs.ConvSpec(cout=out_f, cin=in_f, kh=1, kw=1, in_h=1, in_w=1, input_offset=-in_zp,
                         output_offset=out_zp, act_min=act_min, act_max=act_max)  # fmt: skip
    return _FcOperands(x, weights, bias, m, s, spec, batches)


def _fc_groups_blob(f: _FcOperands) -> bytes | None:
    out_f, in_f = f.weights.shape
    blob = groups_blob(f.weights.reshape(out_f, 1, 1, in_f), f.bias, np.broadcast_to(f.multiplier, (out_f,)),
                       np.broadcast_to(f.shift, (out_f,)), f.spec)  # fmt: skip
    return blob if blob is not None and len(blob) < fc_dense_bytes(in_f, out_f, len(f.multiplier)) else None


def fc_groups_blob(model: TfliteModel, op: OpInfo) -> bytes | None:
    """The GROUPS blob a FULLY_CONNECTED is lowered to (one 1x1 pixel per batch row), None when it runs
    dense (see `fc_groups_size`)."""
    return _fc_groups_blob(_fc_operands(model, op))


def lower_fully_connected(model: TfliteModel, op: OpInfo, prefix: str) -> LoweredOp:
    f = _fc_operands(model, op)
    x, weights, bias, m, s, batches = f.x, f.weights, f.bias, f.multiplier, f.shift, f.batches
    out_f, in_f = weights.shape
    per_channel = len(m) > 1
    out_zp, act_min, act_max, in_zp = f.spec.output_offset, f.spec.act_min, f.spec.act_max, -f.spec.input_offset
    # pruned by channel groups: a GROUPS blob run by the conv kernels (one 1x1 pixel per batch row)
    blob = _fc_groups_blob(f)
    if blob is not None:
        return _fwcs_conv_op(model, op, prefix, x, blob, batches)
    # Fold the input offset: sum w*(x - zp) + b = sum w*x + (b - zp*sum w), exact modulo 2^32 like int32 C.
    folded = quant.fold_input_offset(bias, weights, -in_zp)

    decls = []
    flash = 0
    for name, ctype, vals, note in (
        ("weights", "int8_t", weights.reshape(-1), f"weights [{out_f}][{in_f}]"),
        ("bias", "int32_t", folded, "bias with the input offset folded in"),
        ("mult", "int32_t", m, "per-channel multiplier" if per_channel else "multiplier"),
        ("shift", "int32_t", s, "shift"),
    ):
        text, n = c_array(f"{prefix}{name}", ctype, vals, note)
        decls.append(text)
        flash += n
    text, n = c_struct(
        "dtmm_fully_connected_s8_params", f"{prefix}params",
        [
            ("weights", f"{prefix}weights"), ("bias", f"{prefix}bias"),
            ("multiplier", f"{prefix}mult"), ("shift", f"{prefix}shift"),
            ("batches", batches), ("in_features", in_f), ("out_features", out_f),
            ("per_channel", int(per_channel)), ("output_offset", out_zp),
            ("act_min", act_min), ("act_max", act_max),
        ],
        11,
    )  # fmt: skip
    decls.append(text)
    flash += n
    call = f"status = dtmm_fully_connected_s8(&{prefix}params, {{in0}}, {{out0}});"
    return _op(model, op, prefix, (x.index,), "".join(decls), call, flash)


# --------------------------------------------------------------------------- pooling


def _lower_pool(model: TfliteModel, op: OpInfo, prefix: str, fn: str) -> LoweredOp:
    where = _where(model, op)
    x = _activation_input(model, op, 0, "input")
    y = _single_output(model, op)
    _require(model, op, x, "INT8", "input")
    _require(model, op, y, "INT8", "output")
    if len(x.shape) != 4 or len(y.shape) != 4:
        raise LoweringError(f"{where}: expected 4-D NHWC input and output")
    in_s, in_zp = _quant1(model, op, x, "input")
    out_s, out_zp = _quant1(model, op, y, "output")
    if abs(float(np.float32(in_s) - np.float32(out_s))) > 1e-6 or in_zp != out_zp:
        raise LoweringError(f"{where}: input and output quantization differ (TFLite requires them equal)")
    act_min, act_max = _clamp(model, op, y)
    opts = op.options
    if opts is None:
        raise LoweringError(f"{where}: missing Pool2DOptions")
    b, in_h, in_w, ch = x.shape
    fh, fw, sh, sw = opts.filterHeight, opts.filterWidth, opts.strideH, opts.strideW
    if not (1 <= min(fh, fw, sh, sw) and max(sh, sw) <= 255 and max(fh, fw) <= 65535):
        raise LoweringError(f"{where}: filter ({fh}, {fw}) must be in [1, 65535] and strides ({sh}, {sw}) in [1, 255]")
    same = _padding_same(opts)
    out_h, out_w = _out_size(in_h, fh, sh, 1, same), _out_size(in_w, fw, sw, 1, same)
    if tuple(y.shape) != (b, out_h, out_w, ch):
        raise LoweringError(f"{where}: output shape {list(y.shape)} disagrees with the geometry")
    text, flash = c_struct(
        "dtmm_pool_s8_params", f"{prefix}params",
        [
            ("batches", b), ("in_h", in_h), ("in_w", in_w), ("channels", ch),
            ("out_h", out_h), ("out_w", out_w), ("filter_h", fh), ("filter_w", fw),
            ("stride_h", sh), ("stride_w", sw),
            ("pad_top", _pad_before(in_h, out_h, fh, sh, 1)), ("pad_left", _pad_before(in_w, out_w, fw, sw, 1)),
            ("act_min", act_min), ("act_max", act_max),
        ],
        14,
    )  # fmt: skip
    call = f"status = {fn}(&{prefix}params, {{in0}}, {{out0}});"
    return _op(model, op, prefix, (x.index,), text, call, flash)


def lower_average_pool_2d(model, op, prefix):
    return _lower_pool(model, op, prefix, "dtmm_avg_pool_s8")


def lower_max_pool_2d(model, op, prefix):
    return _lower_pool(model, op, prefix, "dtmm_max_pool_s8")


# --------------------------------------------------------------------------- ADD


def broadcast_layout(shape1, shape2, out_shape) -> tuple[list, list, list] | None:
    """Collapsed (dims, strides1, strides2) of a numpy-style broadcast, or None if no broadcast is needed."""
    if tuple(shape1) == tuple(shape2):
        if tuple(out_shape) != tuple(shape1):
            raise ValueError(f"inputs of shape {list(shape1)} cannot make an output of shape {list(out_shape)}")
        return None
    rank = len(out_shape)
    s1 = [1] * (rank - len(shape1)) + list(shape1)
    s2 = [1] * (rank - len(shape2)) + list(shape2)
    if any(a not in (1, o) for a, o in zip(s1, out_shape)) or any(b not in (1, o) for b, o in zip(s2, out_shape)):
        raise ValueError(f"shapes {list(shape1)} and {list(shape2)} do not broadcast to {list(out_shape)}")

    def strides(s):
        st, acc = [0] * rank, 1
        for d in range(rank - 1, -1, -1):
            st[d] = acc if s[d] != 1 else 0
            acc *= s[d]
        return st

    st1, st2 = strides(s1), strides(s2)
    dims = []
    for d in range(rank):
        if out_shape[d] == 1:
            continue
        if dims:
            pd, p1, p2 = dims[-1]
            # merge with the previous (outer) dim when both inputs walk them as one run
            if p1 == st1[d] * out_shape[d] and p2 == st2[d] * out_shape[d]:
                dims[-1] = (pd * out_shape[d], st1[d], st2[d])
                continue
        dims.append((out_shape[d], st1[d], st2[d]))
    if not dims:
        dims = [(1, 0, 0)]
    if len(dims) > MAX_DIMS:
        raise ValueError(f"broadcast of {list(shape1)} and {list(shape2)} needs more than {MAX_DIMS} dimensions")
    return [d[0] for d in dims], [d[1] for d in dims], [d[2] for d in dims]


#: ADDs with at least this many output elements get per-input lookup tables (2 KB of flash)
ADD_TABLE_MIN_ELEMENTS = 512


def add_input_table(offset: int, left_shift: int, multiplier: int, shift: int) -> np.ndarray:
    """TFLite's per-input ADD rescale for every int8 value x (index x + 128):
    MultiplyByQuantizedMultiplierSmallerThanOneExp((x + offset) << left_shift, multiplier, shift)."""
    x = np.arange(-128, 128, dtype=np.int64) + offset
    shifted = reference._wrap_i32(x << left_shift)
    high = reference.saturating_rounding_doubling_high_mul(shifted, np.int64(multiplier))
    return reference.rounding_divide_by_pot(high, np.full(256, -shift, dtype=np.int64)).astype(np.int64)


def add_variants(params: dict) -> dict[str, str]:
    """{"c", "dsp", "mve": variant name}: the ADD kernel variant each path runs for these
    dtmm_add_s8_params fields (a transcription of dtmm_add_s8_variant(); dtmm_ops.h names them)."""
    if min(params["input1_multiplier"], params["input2_multiplier"], params["output_multiplier"]) < 0:
        mve = "mve_scalar"
    else:
        nd = params["ndims"]
        st1 = params["stride1"][nd - 1] if nd > 0 else 1
        st2 = params["stride2"][nd - 1] if nd > 0 else 1
        if st1 not in (0, 1) or st2 not in (0, 1) or st1 == st2 == 0:
            mve = "mve_scalar"
        elif params["output_shift"] == 0:
            mve = "mve_any"
        else:
            z1 = "z" if params["input1_shift"] == 0 else "n"
            z2 = "z" if params["input2_shift"] == 0 else "n"
            mve = f"mve_vv_{z1}{z2}" if st1 and st2 else f"mve_vb_{z1}" if st1 else f"mve_bv_{z2}"
    return {"c": "portable", "dsp": "dsp", "mve": mve}


@dataclass
class _Binary:
    """ADD/SUB/MUL operands: int8 tensors, per-tensor (scale, zero point) each, the output clamp."""

    a: TensorInfo
    b: TensorInfo
    y: TensorInfo
    q1: tuple
    q2: tuple
    qo: tuple
    act: tuple


def _binary_operands(model: TfliteModel, op: OpInfo) -> _Binary:
    """The two int8 inputs and the int8 output of ADD, SUB or MUL (not both inputs constant)."""
    a = _input(model, op, 0, "first")
    b = _input(model, op, 1, "second")
    y = _single_output(model, op)
    for t, what in ((a, "first input"), (b, "second input"), (y, "output")):
        _require(model, op, t, "INT8", what)
    if _is_const(model, a.index) and _is_const(model, b.index):
        raise LoweringError(f"{_where(model, op)}: both inputs are constants")
    return _Binary(
        a, b, y, _quant1(model, op, a, "first input"), _quant1(model, op, b, "second input"),
        _quant1(model, op, y, "output"), _clamp(model, op, y),
    )  # fmt: skip


def _broadcast_fields(model: TfliteModel, op: OpInfo, a: TensorInfo, b: TensorInfo, y: TensorInfo) -> list:
    """The ndims/shape/stride1/stride2 fields shared by the ADD, SUB and MUL params structs."""
    try:
        layout = broadcast_layout(a.shape, b.shape, y.shape)
    except ValueError as exc:
        raise LoweringError(f"{_where(model, op)}: {exc}") from None
    shape = [1] * MAX_DIMS
    st1 = [0] * MAX_DIMS
    st2 = [0] * MAX_DIMS
    ndims = 0
    if layout is not None:
        dims, l1, l2 = layout
        ndims = len(dims)
        shape[:ndims], st1[:ndims], st2[:ndims] = dims, l1, l2
    return [("size", y.size), ("ndims", ndims), ("shape", shape), ("stride1", st1), ("stride2", st2)]


def _lower_add_or_sub(model: TfliteModel, op: OpInfo, prefix: str, subtract: bool) -> LoweredOp:
    """ADD and SUB share TFLite's parameters (and dtmm_add_s8_params); SUB subtracts input 2."""
    where = _where(model, op)
    bin_ = _binary_operands(model, op)
    a, b, y = bin_.a, bin_.b, bin_.y
    (s1, z1), (s2, z2), (so, zo), (act_min, act_max) = bin_.q1, bin_.q2, bin_.qo, bin_.act
    qp = quant.add_params(s1, s2, so, where)
    layout = _broadcast_fields(model, op, a, b, y)
    ops = _Operands(model, op, prefix)
    e1, e2 = ops.expr(a.index), ops.expr(b.index)
    tables = []
    if y.size >= ADD_TABLE_MIN_ELEMENTS:
        for k, (zp, m, sh) in enumerate(((z1, qp["input1_multiplier"], qp["input1_shift"]),
                                         (z2, qp["input2_multiplier"], qp["input2_shift"]))):  # fmt: skip
            name = f"{prefix}table{k + 1}"
            text, n = c_array(name, "int32_t", add_input_table(-zp, qp["left_shift"], m, sh),
                              f"input {k + 1} rescaled, for every int8 value at [x + 128]")  # fmt: skip
            ops.decls.append(text)
            ops.flash += n
            tables.append(name)
    fields = [
        ("input1_offset", -z1), ("input1_multiplier", qp["input1_multiplier"]), ("input1_shift", qp["input1_shift"]),
        ("input2_offset", -z2), ("input2_multiplier", qp["input2_multiplier"]), ("input2_shift", qp["input2_shift"]),
        ("output_offset", zo), ("output_multiplier", qp["output_multiplier"]), ("output_shift", qp["output_shift"]),
        ("left_shift", qp["left_shift"]), ("act_min", act_min), ("act_max", act_max), *layout,
        ("table1", tables[0] if tables else "NULL"), ("table2", tables[1] if tables else "NULL"),
    ]  # fmt: skip
    text, n = c_struct("dtmm_add_s8_params", f"{prefix}params", fields, 34)
    fn = "dtmm_sub_s8" if subtract else "dtmm_add_s8"
    call = f"status = {fn}(&{prefix}params, {e1}, {e2}, {{out0}});"
    extra = {} if subtract else {"add_variants": add_variants(dict(fields))}
    return _op(
        model, op, prefix, ops.activations, "".join(ops.decls) + text, call, ops.flash + n,
        in_place_ok=dict(layout)["ndims"] == 0 and not _is_const(model, a.index), **extra,
    )  # fmt: skip


def lower_add(model: TfliteModel, op: OpInfo, prefix: str) -> LoweredOp:
    return _lower_add_or_sub(model, op, prefix, subtract=False)


def lower_sub(model: TfliteModel, op: OpInfo, prefix: str) -> LoweredOp:
    return _lower_add_or_sub(model, op, prefix, subtract=True)


# --------------------------------------------------------------------------- MUL


def lower_mul(model: TfliteModel, op: OpInfo, prefix: str) -> LoweredOp:
    where = _where(model, op)
    bin_ = _binary_operands(model, op)
    a, b, y = bin_.a, bin_.b, bin_.y
    (s1, z1), (s2, z2), (so, zo), (act_min, act_max) = bin_.q1, bin_.q2, bin_.qo, bin_.act
    m, sh = quant.quantize_multiplier(float(s1) * float(s2) / float(so))  # TFLite: in double
    quant.check_mbqm_shift(sh, where)
    layout = _broadcast_fields(model, op, a, b, y)
    ops = _Operands(model, op, prefix)
    e1, e2 = ops.expr(a.index), ops.expr(b.index)
    fields = [
        ("input1_offset", -z1), ("input2_offset", -z2), ("output_offset", zo), ("output_multiplier", m),
        ("output_shift", sh), ("act_min", act_min), ("act_max", act_max), *layout,
    ]  # fmt: skip
    text, n = c_struct("dtmm_mul_s8_params", f"{prefix}params", fields, 27)
    call = f"status = dtmm_mul_s8(&{prefix}params, {e1}, {e2}, {{out0}});"
    return _op(
        model, op, prefix, ops.activations, "".join(ops.decls) + text, call, ops.flash + n,
        in_place_ok=dict(layout)["ndims"] == 0 and not _is_const(model, a.index),
    )  # fmt: skip


# --------------------------------------------------------------------------- RELU ... HARD_SWISH (lookup tables)


def _unary_table(model: TfliteModel, op: OpInfo, x: TensorInfo, y: TensorInfo) -> np.ndarray:
    """The op's 256-entry int8 table (lookup_tables), from its tensors' quantization and options."""
    si, zi = _quant1(model, op, x, "input")
    so, zo = _quant1(model, op, y, "output")
    name = op.opcode
    if name == "RELU":
        return lookup_tables.relu(si, zi, so, zo)
    if name == "RELU6":
        return lookup_tables.relu6(si, zi)
    if name == "LEAKY_RELU":
        alpha = float(op.options.alpha) if op.options is not None else 0.0
        return lookup_tables.leaky_relu(si, zi, so, zo, alpha)
    if name == "LOGISTIC":
        return lookup_tables.logistic(si, zi, zo)
    if name == "TANH":
        return lookup_tables.tanh(si, zi)
    if name == "HARD_SWISH":
        return lookup_tables.hard_swish(si, zi, so, zo)
    raise LoweringError(f"{_where(model, op)}: no lookup table for {name}")


def lower_unary_lookup(model: TfliteModel, op: OpInfo, prefix: str) -> LoweredOp:
    """RELU, RELU6, LEAKY_RELU, LOGISTIC, TANH, HARD_SWISH: one 256-byte table and dtmm_lookup_s8."""
    where = _where(model, op)
    x, y = _unary_operands(model, op, "INT8", "INT8")
    try:
        table = _unary_table(model, op, x, y)
    except LoweringError as exc:
        raise LoweringError(f"{where}: {exc}") from None
    text_t, n_t = c_array(f"{prefix}table", "int8_t", table, f"{op.opcode} output for every int8 input at [x + 128]")
    text, n = c_struct(
        "dtmm_lookup_s8_params", f"{prefix}params", [("size", x.size), ("table", f"{prefix}table")], 2,
    )  # fmt: skip
    call = f"status = dtmm_lookup_s8(&{prefix}params, {{in0}}, {{out0}});"
    return _op(model, op, prefix, (x.index,), text_t + text, call, n_t + n, in_place_ok=True)


# --------------------------------------------------------------------------- MEAN


def _axes(model: TfliteModel, op: OpInfo, rank: int) -> list[int]:
    where = _where(model, op)
    t = _input(model, op, 1, "axis")
    data = model.tensor_data(t.index)
    if data is None:
        raise LoweringError(f"{where}: the axis tensor must be a constant")
    axes = []
    for a in np.asarray(data).reshape(-1).tolist():
        a = int(a)
        if not -rank <= a < rank:
            raise LoweringError(f"{where}: axis {a} is out of range for rank {rank}")
        a %= rank
        if a not in axes:
            axes.append(a)
    return sorted(axes)


def mean_layout(shape, axes) -> tuple[list, list, list, list]:
    """(kept_dims, kept_strides, red_dims, red_strides), each padded to 4 with size-1 dims in front."""
    rank = len(shape)
    strides, acc = [0] * rank, 1
    for d in range(rank - 1, -1, -1):
        strides[d] = acc
        acc *= shape[d]
    groups = []  # (reduced?, size, stride) with adjacent same-kind dims merged
    for d in range(rank):
        if shape[d] == 1:
            continue
        red = d in axes
        if groups and groups[-1][0] == red:
            _, size, _ = groups[-1]
            groups[-1] = (red, size * shape[d], strides[d])
        else:
            groups.append((red, shape[d], strides[d]))
    kept = [(s, st) for r, s, st in groups if not r]
    reds = [(s, st) for r, s, st in groups if r]
    if len(kept) > 4 or len(reds) > 4:
        raise ValueError("more than 4 alternating kept/reduced dimension groups")
    kept = [(1, 0)] * (4 - len(kept)) + kept
    reds = [(1, 0)] * (4 - len(reds)) + reds
    return [k[0] for k in kept], [k[1] for k in kept], [r[0] for r in reds], [r[1] for r in reds]


def lower_mean(model: TfliteModel, op: OpInfo, prefix: str) -> LoweredOp:
    where = _where(model, op)
    x = _activation_input(model, op, 0, "input")
    y = _single_output(model, op)
    _require(model, op, x, "INT8", "input")
    _require(model, op, y, "INT8", "output")
    axes = _axes(model, op, len(x.shape))
    count = _prod(x.shape[a] for a in axes)
    if count < 1 or y.size * count != x.size:
        raise LoweringError(f"{where}: output shape {list(y.shape)} does not match reducing axes {axes}")
    in_s, in_zp = _quant1(model, op, x, "input")
    out_s, out_zp = _quant1(model, op, y, "output")
    mult, shift = quant.mean_params(in_s, out_s, count, where)
    try:
        kd, ks, rd, rs = mean_layout(x.shape, axes)
    except ValueError as exc:
        raise LoweringError(f"{where}: {exc}") from None
    text, flash = c_struct(
        "dtmm_mean_s8_params", f"{prefix}params",
        [
            ("kept_dims", kd), ("kept_stride", ks), ("red_dims", rd), ("red_stride", rs),
            ("count", count), ("input_zero_point", in_zp), ("output_zero_point", out_zp),
            ("multiplier", mult), ("shift", shift),
        ],
        21,
    )  # fmt: skip
    call = f"status = dtmm_mean_s8(&{prefix}params, {{in0}}, {{out0}});"
    return _op(model, op, prefix, (x.index,), text, call, flash)


# --------------------------------------------------------------------------- SOFTMAX


def lower_softmax(model: TfliteModel, op: OpInfo, prefix: str) -> LoweredOp:
    where = _where(model, op)
    x = _activation_input(model, op, 0, "input")
    y = _single_output(model, op)
    _require(model, op, x, "INT8", "input")
    _require(model, op, y, "INT8", "output")
    in_s, _ = _quant1(model, op, x, "input")
    out_s, out_zp = _quant1(model, op, y, "output")
    if out_zp != -128 or np.float32(out_s) != np.float32(1.0 / 256):
        raise LoweringError(f"{where}: int8 output must have scale 1/256 and zero point -128 (TFLite requires it)")
    if not x.shape or tuple(x.shape) != tuple(y.shape):
        raise LoweringError(f"{where}: input and output shapes differ")
    if op.options is None:  # tflite-micro aborts on a SOFTMAX without them
        raise LoweringError(f"{where}: missing SoftmaxOptions")
    beta = float(op.options.beta)
    p = quant.softmax_params(beta, in_s, where)
    depth = x.shape[-1]
    text, flash = c_struct(
        "dtmm_softmax_s8_params", f"{prefix}params",
        [
            ("outer", x.size // depth), ("depth", depth), ("input_multiplier", p["input_multiplier"]),
            ("input_left_shift", p["input_left_shift"]), ("diff_min", p["diff_min"]),
        ],
        5,
    )  # fmt: skip
    call = f"status = dtmm_softmax_s8(&{prefix}params, {{in0}}, {{out0}});"
    return _op(model, op, prefix, (x.index,), text, call, flash)


# --------------------------------------------------------------------------- CONCATENATION


def lower_concatenation(model: TfliteModel, op: OpInfo, prefix: str) -> LoweredOp:
    where = _where(model, op)
    y = _single_output(model, op)
    _require(model, op, y, "INT8", "output")
    if _fused(model, op) != "NONE":
        raise LoweringError(f"{where}: a fused activation is not supported (TFLite Micro refuses it too)")
    rank = len(y.shape)
    axis = int(op.options.axis) if op.options is not None else 0
    if not -rank <= axis < rank:
        raise LoweringError(f"{where}: axis {axis} is out of range for rank {rank}")
    axis %= rank
    out_s, out_zp = _quant1(model, op, y, "output")
    outer = _prod(y.shape[:axis])
    inner = _prod(y.shape[axis + 1 :])
    ops = _Operands(model, op, prefix)
    exprs, rows = [], []
    total = 0
    for k, t in enumerate(op.inputs):
        ti = _input(model, op, k, f"#{k}")
        _require(model, op, ti, "INT8", f"input #{k}")
        if len(ti.shape) != rank or any(ti.shape[d] != y.shape[d] for d in range(rank) if d != axis):
            raise LoweringError(f"{where}: input #{k} shape {list(ti.shape)} does not fit output {list(y.shape)}")
        total += ti.shape[axis]
        s, z = _quant1(model, op, ti, f"input #{k}")
        if np.float32(s) == np.float32(out_s) and z == out_zp:
            rows.append([ti.shape[axis] * inner, 0, 0, 0, 0, 0])
        else:
            m, sh = quant.requantize_params(s, out_s, f"{where} input #{k}")
            rows.append([ti.shape[axis] * inner, 1, -z, m, sh, out_zp])
        exprs.append(ops.expr(ti.index))
    if total != y.shape[axis]:
        raise LoweringError(f"{where}: inputs add up to {total} along axis {axis}, output has {y.shape[axis]}")
    lines = [f"static const dtmm_concatenation_input {prefix}inputs[{len(rows)}] = {{"]
    for r in rows:
        lines.append(
            "    {.size = %d, .requantize = %d, .input_offset = %d, .multiplier = %d, .shift = %d, .output_offset = %d},"
            % tuple(r)
        )
    lines.append("};")
    text, n = c_struct(
        "dtmm_concatenation_s8_params", f"{prefix}params",
        [("n_inputs", len(rows)), ("outer", outer), ("inputs", f"{prefix}inputs")],
        3,
    )  # fmt: skip
    decls = "".join(ops.decls) + "\n".join(lines) + "\n" + text
    call = (
        "{\n"
        f"    const int8_t *const ins_[{len(exprs)}] = {{{', '.join(exprs)}}};\n"
        f"    status = dtmm_concatenation_s8(&{prefix}params, ins_, {{out0}});\n"
        "}"
    )
    return _op(model, op, prefix, ops.activations, decls, call, ops.flash + n + 24 * len(rows))


# --------------------------------------------------------------------------- PAD / PADV2


def pad_layout(in_shape, before, after) -> tuple[list, list, list]:
    """Right-aligned (in_shape, before, after) with the innermost unpadded dims merged into the last padded one."""
    rank = len(in_shape)
    padded = [d for d in range(rank) if before[d] or after[d]]
    k = padded[-1] if padded else 0
    inner = _prod(in_shape[k + 1 :])
    shape = list(in_shape[:k]) + [in_shape[k] * inner] if rank else [1]
    b = list(before[:k]) + [before[k] * inner] if rank else [0]
    a = list(after[:k]) + [after[k] * inner] if rank else [0]
    return shape, b, a


def lower_pad(model: TfliteModel, op: OpInfo, prefix: str) -> LoweredOp:
    where = _where(model, op)
    x = _activation_input(model, op, 0, "input")
    y = _single_output(model, op)
    _require(model, op, x, "INT8", "input")
    _require(model, op, y, "INT8", "output")
    pt = _input(model, op, 1, "paddings")
    pads = model.tensor_data(pt.index)
    rank = len(x.shape)
    if pads is None or np.asarray(pads).size != 2 * rank:
        raise LoweringError(f"{where}: paddings must be a constant [{rank}, 2] tensor")
    pads = np.asarray(pads).reshape(rank, 2).astype(np.int64)
    if (pads < 0).any():
        raise LoweringError(f"{where}: negative paddings are not supported")
    if rank > MAX_DIMS:
        raise LoweringError(f"{where}: rank {rank} is above {MAX_DIMS}")
    if tuple(y.shape) != tuple(int(x.shape[d] + pads[d, 0] + pads[d, 1]) for d in range(rank)):
        raise LoweringError(f"{where}: output shape {list(y.shape)} disagrees with the paddings")
    _, out_zp = _quant1(model, op, y, "output")  # TFLite copies the input bytes as they are
    pad_value = out_zp
    if len(op.inputs) > 2 and op.inputs[2] >= 0:  # tflite-micro reads a third input of PAD as PADV2's
        cv = model.tensors[op.inputs[2]]
        data = model.tensor_data(cv.index)
        if cv.dtype != "INT8" or data is None or np.asarray(data).size != 1:
            raise LoweringError(f"{where}: constant_values must be a constant int8 scalar")
        pad_value = int(np.asarray(data).reshape(-1)[0])
    shape, before, after = pad_layout(list(x.shape), pads[:, 0].tolist(), pads[:, 1].tolist())
    nd = len(shape)
    full = lambda v, fill: v + [fill] * (MAX_DIMS - nd)  # noqa: E731
    text, flash = c_struct(
        "dtmm_pad_s8_params", f"{prefix}params",
        [
            ("ndims", nd), ("in_shape", full(shape, 1)), ("pad_before", full(before, 0)),
            ("pad_after", full(after, 0)), ("pad_value", pad_value),
        ],
        20,
    )  # fmt: skip
    call = f"status = dtmm_pad_s8(&{prefix}params, {{in0}}, {{out0}});"
    return _op(model, op, prefix, (x.index,), text, call, flash)


# --------------------------------------------------------------------------- QUANTIZE / DEQUANTIZE


def lower_quantize(model: TfliteModel, op: OpInfo, prefix: str) -> LoweredOp:
    where = _where(model, op)
    x = _activation_input(model, op, 0, "input")
    y = _single_output(model, op)
    _require(model, op, y, "INT8", "output")
    out_s, out_zp = _quant1(model, op, y, "output")
    if x.size != y.size:
        raise LoweringError(f"{where}: input and output sizes differ")
    if x.dtype == "FLOAT32":
        text, flash = c_struct(
            "dtmm_quantize_f32_s8_params", f"{prefix}params",
            [("size", y.size), ("scale", c_float(out_s)), ("zero_point", out_zp)], 3,
        )  # fmt: skip
        call = f"status = dtmm_quantize_f32_s8(&{prefix}params, {{in0}}, {{out0}});"
        return _op(model, op, prefix, (x.index,), text, call, flash)
    if x.dtype == "INT8":
        in_s, in_zp = _quant1(model, op, x, "input")
        m, s = quant.requantize_params(in_s, out_s, where)
        text, flash = c_struct(
            "dtmm_quantize_s8_s8_params", f"{prefix}params",
            [("size", y.size), ("input_offset", -in_zp), ("multiplier", m), ("shift", s), ("output_offset", out_zp)],
            5,
        )  # fmt: skip
        call = f"status = dtmm_quantize_s8_s8(&{prefix}params, {{in0}}, {{out0}});"
        return _op(model, op, prefix, (x.index,), text, call, flash, in_place_ok=True)
    raise LoweringError(f"{where}: QUANTIZE from {x.dtype} is not supported (FLOAT32 or INT8 only)")


def lower_dequantize(model: TfliteModel, op: OpInfo, prefix: str) -> LoweredOp:
    x, y = _unary_operands(model, op, "INT8", "FLOAT32")
    s, z = _quant1(model, op, x, "input")
    text, flash = c_struct(
        "dtmm_dequantize_s8_f32_params", f"{prefix}params",
        [("size", x.size), ("scale", c_float(s)), ("zero_point", z)], 3,
    )  # fmt: skip
    call = f"status = dtmm_dequantize_s8_f32(&{prefix}params, {{in0}}, {{out0}});"
    return _op(model, op, prefix, (x.index,), text, call, flash)


# --------------------------------------------------------------------------- RESHAPE


def lower_reshape(model: TfliteModel, op: OpInfo, prefix: str) -> LoweredOp:
    where = _where(model, op)
    x = _activation_input(model, op, 0, "input")
    y = _single_output(model, op)
    if x.dtype != y.dtype or x.size != y.size:
        raise LoweringError(f"{where}: a reshape must keep type and element count")
    return _op(model, op, prefix, (x.index,), "", "", 0, in_place_ok=True, alias_of_input=True)



# --------------------------------------------------------------------------- TRANSPOSE / STRIDED_SLICE


def _same_bytes(model: TfliteModel, op: OpInfo) -> tuple[TensorInfo, TensorInfo]:
    """Input 0 and the output of an op that moves int8 bytes unchanged: both INT8, quantized alike."""
    x = _activation_input(model, op, 0, "input")
    y = _single_output(model, op)
    quants = []
    for t, what in ((x, "input"), (y, "output")):
        _require(model, op, t, "INT8", what)
        quants.append(_quant1(model, op, t, what))
    (sx, zx), (sy, zy) = quants
    if np.float32(sx) != np.float32(sy) or zx != zy:
        raise LoweringError(
            f"{_where(model, op)}: input and output quantization differ (TFLite Micro copies the bytes unchanged)"
        )
    return x, y


def _const_ints(model: TfliteModel, op: OpInfo, k: int, what: str, n: int) -> list[int]:
    """The n values of constant INT32 input k (TFLite Micro reads these inputs as int32)."""
    t = _input(model, op, k, what)
    data = model.tensor_data(t.index)
    if data is None or t.dtype != "INT32" or np.asarray(data).size != n:
        raise LoweringError(f"{_where(model, op)}: {what} must be a constant int32 tensor of {n} values")
    return [int(v) for v in np.asarray(data).reshape(-1)]


def _row_major_strides(shape) -> list[int]:
    strides, step = [], 1
    for d in reversed(list(shape)):
        strides.append(step)
        step *= int(d)
    return strides[::-1]


def gather_layout(shape, strides) -> tuple[list, list]:
    """(shape, strides) of a strided gather with size-1 dims dropped and contiguous neighbours merged."""
    dims = [(int(n), int(s)) for n, s in zip(shape, strides) if n != 1]
    merged: list = []
    for n, s in dims:
        if merged and merged[-1][1] == s * n:
            merged[-1] = (merged[-1][0] * n, s)
        else:
            merged.append((n, s))
    if not merged:
        return [1], [1]
    return [n for n, _ in merged], [s for _, s in merged]


def _strided_copy_op(model, op, prefix, x, y, shape, strides, offset) -> LoweredOp:
    if _prod(shape) != y.size:
        raise LoweringError(f"{_where(model, op)}: output shape {list(y.shape)} disagrees with the operator")
    if y.size == 0:
        raise LoweringError(f"{_where(model, op)}: an empty output is not supported")
    shape, strides = gather_layout(shape, strides)
    if len(shape) > MAX_DIMS:
        raise LoweringError(f"{_where(model, op)}: more than {MAX_DIMS} dimensions after merging")
    nd = len(shape)
    text, flash = c_struct(
        "dtmm_strided_copy_s8_params", f"{prefix}params",
        [
            ("ndims", nd), ("shape", shape + [1] * (MAX_DIMS - nd)), ("stride", strides + [0] * (MAX_DIMS - nd)),
            ("offset", offset), ("in_size", x.size),
        ],
        3 + 2 * MAX_DIMS,
    )  # fmt: skip
    call = f"status = dtmm_strided_copy_s8(&{prefix}params, {{in0}}, {{out0}});"
    return _op(model, op, prefix, (x.index,), text, call, flash)


def transpose_layout(model: TfliteModel, op: OpInfo) -> tuple[list[int], list[int], int]:
    """TRANSPOSE as a strided gather: (output shape, input stride of each output axis, offset)."""
    where = _where(model, op)
    x, y = _same_bytes(model, op)
    rank = len(x.shape)
    if not 1 <= rank <= 5:
        raise LoweringError(f"{where}: rank {rank} is not supported (1 to 5, as TFLite Micro)")
    perm = _const_ints(model, op, 1, "perm", rank)
    if sorted(perm) != list(range(rank)):
        raise LoweringError(f"{where}: perm {perm} is not a permutation of 0..{rank - 1}")
    shape = [int(x.shape[p]) for p in perm]
    if list(y.shape) != shape:
        raise LoweringError(f"{where}: output shape {list(y.shape)} is not the permuted input shape {shape}")
    st = _row_major_strides(x.shape)
    return shape, [st[p] for p in perm], 0


def lower_transpose(model: TfliteModel, op: OpInfo, prefix: str) -> LoweredOp:
    x, y = _same_bytes(model, op)
    return _strided_copy_op(model, op, prefix, x, y, *transpose_layout(model, op))


def strided_slice_axis(size: int, begin: int, end: int, stride: int, begin_masked: bool, end_masked: bool,
                       shrink: bool) -> tuple[int, int]:
    """(first index, count) of one axis, as TFLite Micro's reference StridedSlice walks it."""  # fmt: skip
    lo, hi = (0, size) if stride > 0 else (-1, size - 1)
    start = begin + size if begin < 0 else begin
    start = min(max(start, lo), hi)
    if begin_masked:
        start = 0 if stride > 0 else size - 1
    if shrink:
        stop = start if start >= size else start + 1
    else:
        stop = end + size if end < 0 else end
        stop = min(max(stop, lo), hi)
        if end_masked:
            stop = size if stride > 0 else -1
    return start, len(range(start, stop, stride))


def strided_slice_layout(model: TfliteModel, op: OpInfo) -> tuple[list[int], list[int], int]:
    """STRIDED_SLICE as a strided gather: (output shape with shrunk axes, input strides, offset)."""
    where = _where(model, op)
    x, y = _same_bytes(model, op)
    o = op.options
    rank = len(x.shape)
    if not 1 <= rank <= 4:
        raise LoweringError(f"{where}: rank {rank} is not supported (1 to 4, as TFLite Micro)")
    for flag in ("ellipsisMask", "newAxisMask"):
        if o is not None and getattr(o, flag, 0):
            raise LoweringError(f"{where}: {flag} is not supported (TFLite Micro ignores it)")
    if o is not None and getattr(o, "offset", False):
        raise LoweringError(f"{where}: offset is not supported (TFLite Micro ignores it)")
    begin = _const_ints(model, op, 1, "begin", rank)
    end = _const_ints(model, op, 2, "end", rank)
    steps = _const_ints(model, op, 3, "strides", rank)
    masks = [int(getattr(o, f, 0)) if o is not None else 0 for f in ("beginMask", "endMask", "shrinkAxisMask")]
    st = _row_major_strides(x.shape)
    shape, strides, kept, offset = [], [], [], 0
    for d in range(rank):
        if steps[d] == 0:
            raise LoweringError(f"{where}: stride 0 on axis {d}")
        bit = 1 << d
        size = int(x.shape[d])
        shrink = bool(masks[2] & bit)
        if shrink and steps[d] < 0:
            raise LoweringError(f"{where}: shrinking axis {d} with a negative stride (TFLite Micro writes nothing)")
        start, n = strided_slice_axis(size, begin[d], end[d], steps[d], bool(masks[0] & bit), bool(masks[1] & bit),
                                      shrink)  # fmt: skip
        if shrink and not 0 <= start < size:
            raise LoweringError(f"{where}: shrunk axis {d} begins at {begin[d]}, outside its size {size}")
        offset += start * st[d] if n else 0
        shape.append(n)
        strides.append(steps[d] * st[d])
        if not shrink:
            kept.append(n)
    if list(y.shape) != kept:
        raise LoweringError(f"{where}: output shape {list(y.shape)} disagrees with the slice {kept}")
    return shape, strides, offset


def lower_strided_slice(model: TfliteModel, op: OpInfo, prefix: str) -> LoweredOp:
    x, y = _same_bytes(model, op)
    return _strided_copy_op(model, op, prefix, x, y, *strided_slice_layout(model, op))


def strided_copy_layout(model: TfliteModel, op: OpInfo) -> tuple[list[int], list[int]]:
    """The (shape, strides) `dtmm_strided_copy_s8` walks for a TRANSPOSE or STRIDED_SLICE, axes merged as
    the lowering merges them: the cost model counts its rows from it."""
    layout = transpose_layout if op.opcode == "TRANSPOSE" else strided_slice_layout
    shape, strides, _ = layout(model, op)
    return gather_layout(shape, strides)


# --------------------------------------------------------------------------- RESIZE_NEAREST_NEIGHBOR


def nearest_index(out_size: int, in_size: int, align_corners: bool, half_pixel_centers: bool) -> list[int]:
    """Source index of each output index, with TFLite's float32 arithmetic (round half away from zero)."""
    f32 = np.float32
    if align_corners and out_size > 1:
        scale = f32(in_size - 1) / f32(out_size - 1)
    else:
        scale = f32(in_size) / f32(out_size)
    shift = f32(0.5 if half_pixel_centers else 0.0)
    table = []
    for i in range(out_size):
        v = float((f32(i) + shift) * scale)  # float32 product, exact as a Python float
        if align_corners:
            k = math.floor(abs(v))
            k = k + 1 if abs(v) - k >= 0.5 else k
            k = -k if v < 0 else k
        else:
            k = math.floor(v)
        k = min(k, in_size - 1)
        table.append(max(k, 0) if half_pixel_centers else k)
    return table


def lower_resize_nearest_neighbor(model: TfliteModel, op: OpInfo, prefix: str) -> LoweredOp:
    where = _where(model, op)
    x, y = _same_bytes(model, op)
    if len(x.shape) != 4:
        raise LoweringError(f"{where}: the input must be 4-D (NHWC), it has rank {len(x.shape)}")
    out_h, out_w = _const_ints(model, op, 1, "size", 2)
    n, in_h, in_w, c = (int(v) for v in x.shape)
    if list(y.shape) != [n, out_h, out_w, c] or y.size == 0:
        raise LoweringError(f"{where}: output shape {list(y.shape)} is not [{n}, {out_h}, {out_w}, {c}]")
    if max(in_h, in_w) > 32767:
        raise LoweringError(f"{where}: input height or width above 32767")
    o = op.options
    align = bool(getattr(o, "alignCorners", False)) if o is not None else False
    half = bool(getattr(o, "halfPixelCenters", False)) if o is not None else False
    rows = nearest_index(out_h, in_h, align, half)
    cols = nearest_index(out_w, in_w, align, half)
    if not all(0 <= r < in_h for r in rows) or not all(0 <= k < in_w for k in cols):
        raise LoweringError(f"{where}: a source index falls outside the input")
    rt, rn = c_array(f"{prefix}rows", "int16_t", rows, "source row of each output row")
    ct, cn = c_array(f"{prefix}cols", "int16_t", cols, "source column of each output column")
    text, flash = c_struct(
        "dtmm_resize_nearest_s8_params", f"{prefix}params",
        [
            ("batches", n), ("in_h", in_h), ("in_w", in_w), ("channels", c), ("out_h", out_h), ("out_w", out_w),
            ("row_index", f"{prefix}rows"), ("col_index", f"{prefix}cols"),
        ],
        8,
    )  # fmt: skip
    call = f"status = dtmm_resize_nearest_s8(&{prefix}params, {{in0}}, {{out0}});"
    return _op(model, op, prefix, (x.index,), rt + ct + text, call, flash + rn + cn)


LOWERINGS = {
    "CONV_2D": lower_conv_2d,
    "DEPTHWISE_CONV_2D": lower_depthwise_conv_2d,
    "FULLY_CONNECTED": lower_fully_connected,
    "ADD": lower_add,
    "SUB": lower_sub,
    "MUL": lower_mul,
    "RELU": lower_unary_lookup,
    "RELU6": lower_unary_lookup,
    "LEAKY_RELU": lower_unary_lookup,
    "LOGISTIC": lower_unary_lookup,
    "TANH": lower_unary_lookup,
    "HARD_SWISH": lower_unary_lookup,
    "AVERAGE_POOL_2D": lower_average_pool_2d,
    "MAX_POOL_2D": lower_max_pool_2d,
    "MEAN": lower_mean,
    "RESHAPE": lower_reshape,
    "SQUEEZE": lower_reshape,
    "EXPAND_DIMS": lower_reshape,
    "SOFTMAX": lower_softmax,
    "CONCATENATION": lower_concatenation,
    "PAD": lower_pad,
    "PADV2": lower_pad,
    "QUANTIZE": lower_quantize,
    "DEQUANTIZE": lower_dequantize,
    "TRANSPOSE": lower_transpose,
    "STRIDED_SLICE": lower_strided_slice,
    "RESIZE_NEAREST_NEIGHBOR": lower_resize_nearest_neighbor,
    "CUSTOM:" + fwcs.CUSTOM_OP: lower_dtmm_conv_2d,
}
