"""Test support for the packer, independent of the real kernels.

* :func:`checksum_lowering` is a stand-in for :mod:`dtmm.pack.lowering` that lowers
  *any* operator to a small C function mixing the bytes of its inputs, its
  own constant table and its scratch memory into its outputs.  The result of
  a whole model depends on every byte the plan must keep intact, so a
  packed model that produces the same bytes as :func:`checksum_reference`
  (numpy) had a correct memory plan: no live tensor or scratch area was
  clobbered, reshapes aliased, in-place operators stayed in place.
* :func:`make_model` writes a minimal .tflite flatbuffer (tensors, operators,
  no options) for arbitrary graphs: enough for the packer and the checksum
  lowering, not for an interpreter.
"""
from __future__ import annotations

import types
from dataclasses import dataclass
from typing import Iterable, Sequence

import numpy as np

from dtmm.pack.graph import tensor_bytes
from dtmm.tflite.model import TfliteModel, _schema


@dataclass(frozen=True)
class FakeLoweredOp:
    """Same fields as dtmm.pack.lowering.LoweredOp."""

    op_index: int
    op_name: str
    inputs: tuple
    outputs: tuple
    c_decls: str
    c_call: str
    scratch_bytes: int
    flash_bytes: int
    in_place_ok: bool = False
    alias_of_input: bool = False


def _seed(k: int) -> int:
    return (k * 37 + 11) & 0xFF


def _params(k: int) -> np.ndarray:
    n = 16 + (k * 13) % 48
    return ((_seed(k) + 7 * np.arange(n)) & 0xFF).astype(np.uint8)


def _scratch_bytes(k: int) -> int:
    return 0 if k % 3 == 0 else 8 + (k * 97) % 300


def _activation_inputs(model: TfliteModel, op) -> tuple:
    return tuple(
        t for t in op.inputs if t >= 0 and model.buffer_span(model.tensors[t].buffer) is None
    )


ALIAS_OPS = frozenset({"RESHAPE", "SQUEEZE", "EXPAND_DIMS"})


def checksum_lowering(unsupported: Iterable[str] = ("CUSTOM",)) -> types.SimpleNamespace:
    """A lowering namespace (lower_op, unsupported_ops, SUPPORTED_OPS, C_INCLUDES) for any
    operator except those whose name is, or starts with, one of ``unsupported``."""
    blocked = tuple(unsupported)

    def is_blocked(name: str) -> bool:
        return any(name == b or name.startswith(b + ":") for b in blocked)

    def unsupported_ops(model: TfliteModel) -> list[str]:
        return sorted({op.opcode for op in model.operators if is_blocked(op.opcode)})

    def lower_op(model: TfliteModel, op, prefix: str) -> FakeLoweredOp:
        k = op.index
        ins = _activation_inputs(model, op)
        outs = tuple(op.outputs)
        if op.opcode in ALIAS_OPS and len(ins) == 1 and len(outs) == 1:
            return FakeLoweredOp(k, op.opcode, ins, outs, "", "", 0, 0, alias_of_input=True)
        seed = _seed(k)
        params = _params(k)
        scratch = _scratch_bytes(k)
        in_sizes = [tensor_bytes(model, t) for t in ins]
        out_sizes = [tensor_bytes(model, t) for t in outs]
        table = ", ".join(str(int(v)) for v in params)
        decls = f"""static const uint8_t {prefix}params[{len(params)}] __attribute__((aligned(16))) = {{{table}}};
static dtmm_status {prefix}run(const uint8_t *const *ins, const uint32_t *in_sizes, uint32_t n_in,
                               uint8_t *out, uint32_t out_size, uint32_t m, uint8_t *scratch, uint32_t scratch_size)
{{
    uint32_t i, j;
    for (j = 0; j < scratch_size; j++) {{
        scratch[j] = (uint8_t)({seed}u ^ j);
    }}
    for (j = 0; j < out_size; j++) {{
        uint32_t acc = {seed}u + m + {prefix}params[j % {len(params)}u];
        for (i = 0; i < n_in; i++) {{
            acc += (i + 1u) * ins[i][j % in_sizes[i]];
        }}
        if (scratch_size != 0u) {{
            acc += scratch[j % scratch_size];
        }}
        out[j] = (uint8_t)acc;
    }}
    return DTMM_OK;
}}"""
        n_in = len(ins)
        ptrs = ", ".join(f"(const uint8_t *){{in{i}}}" for i in range(n_in)) or "0"
        sizes = ", ".join(f"{s}u" for s in in_sizes) or "0u"
        call = [
            "{",
            f"    const uint8_t *const ins[{max(n_in, 1)}] = {{{ptrs}}};",
            f"    static const uint32_t in_sizes[{max(n_in, 1)}] = {{{sizes}}};",
        ]
        for m, size in enumerate(out_sizes):
            line = (
                f"status = {prefix}run(ins, in_sizes, {n_in}u, (uint8_t *){{out{m}}}, {size}u, {m}u, "
                f"(uint8_t *){{scratch}}, {scratch}u);"
            )
            call.append("    " + (line if m == 0 else f"if (status == DTMM_OK) {{ {line} }}"))
        call.append("}")
        in_place = n_in == 1 and len(outs) == 1 and in_sizes[0] == out_sizes[0]
        return FakeLoweredOp(
            k, op.opcode, ins, outs, decls, "\n".join(call), scratch, len(params), in_place_ok=in_place
        )

    ns = types.SimpleNamespace(
        lower_op=lower_op,
        unsupported_ops=unsupported_ops,
        SUPPORTED_OPS=frozenset(),
        C_INCLUDES=("dtmm_status.h",),
        LoweredOp=FakeLoweredOp,
    )
    return ns


def checksum_reference(model: TfliteModel, x: np.ndarray, lowering=None) -> np.ndarray:
    """What a packed model lowered with :func:`checksum_lowering` computes, in numpy (bytes in, bytes out)."""
    lowering = lowering or checksum_lowering()
    inp, outp = model.inputs[0], model.outputs[0]
    mem: dict[int, np.ndarray] = {inp: np.frombuffer(np.ascontiguousarray(x).tobytes(), dtype=np.uint8).copy()}
    if mem[inp].size != tensor_bytes(model, inp):
        raise ValueError("input has the wrong number of bytes")
    for op in model.operators:
        lo = lowering.lower_op(model, op, "x_")
        if lo.alias_of_input:
            mem[lo.outputs[0]] = mem[lo.inputs[0]]
            continue
        seed, params, scratch = _seed(op.index), _params(op.index), lo.scratch_bytes
        for m, t in enumerate(lo.outputs):
            j = np.arange(tensor_bytes(model, t), dtype=np.int64)
            acc = seed + m + params[j % params.size].astype(np.int64)
            for i, src in enumerate(lo.inputs):
                acc = acc + (i + 1) * mem[src][j % mem[src].size].astype(np.int64)
            if scratch:
                acc = acc + ((seed ^ (j % scratch)) & 0xFF)
            mem[t] = (acc & 0xFF).astype(np.uint8)
    return mem[outp]


# --------------------------------------------------------------------------- tiny .tflite writer

_DTYPES = {"int8": "INT8", "float32": "FLOAT32", "int32": "INT32", "int16": "INT16", "uint8": "UINT8"}


@dataclass(frozen=True)
class T:
    """A tensor for :func:`make_model`: ``data`` makes it a constant."""

    shape: tuple
    dtype: str = "int8"
    data: bytes | None = None
    scale: float = 0.5
    zero_point: int = -3
    name: str = ""


def make_model(
    tensors: Sequence[T],
    ops: Sequence[tuple[str, Sequence[int], Sequence[int]]],
    inputs: Sequence[int],
    outputs: Sequence[int],
) -> bytes:
    """A .tflite flatbuffer with these tensors and (opcode name, inputs, outputs) operators."""
    import flatbuffers

    fb = _schema()
    buffers = [fb.BufferT()]  # buffer 0: the empty sentinel
    ten_objs = []
    for i, t in enumerate(tensors):
        to = fb.TensorT()
        to.shape = list(t.shape)
        to.type = getattr(fb.TensorType, _DTYPES[t.dtype])
        to.name = t.name or f"tensor{i}"
        if t.data is not None:
            b = fb.BufferT()
            b.data = list(t.data)
            buffers.append(b)
            to.buffer = len(buffers) - 1
        else:
            buffers.append(fb.BufferT())
            to.buffer = len(buffers) - 1
        if t.dtype in ("int8", "int16", "uint8"):
            q = fb.QuantizationParametersT()
            q.scale = [t.scale]
            q.zeroPoint = [t.zero_point]
            to.quantization = q
        ten_objs.append(to)
    codes: list[str] = []
    op_objs = []
    for name, ins, outs in ops:
        if name not in codes:
            codes.append(name)
        o = fb.OperatorT()
        o.opcodeIndex = codes.index(name)
        o.inputs = list(ins)
        o.outputs = list(outs)
        op_objs.append(o)
    code_objs = []
    for name in codes:
        c = fb.OperatorCodeT()
        if name.startswith("CUSTOM:"):
            c.builtinCode = fb.BuiltinOperator.CUSTOM
            c.customCode = name.split(":", 1)[1]
        else:
            c.builtinCode = getattr(fb.BuiltinOperator, name)
        c.deprecatedBuiltinCode = min(c.builtinCode, 127)
        code_objs.append(c)
    sg = fb.SubGraphT()
    sg.tensors = ten_objs
    sg.operators = op_objs
    sg.inputs = list(inputs)
    sg.outputs = list(outputs)
    m = fb.ModelT()
    m.version = 3
    m.operatorCodes = code_objs
    m.subgraphs = [sg]
    m.buffers = buffers
    builder = flatbuffers.Builder(1024)
    builder.Finish(m.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


def residual_model() -> bytes:
    """x -> TANH -> LOGISTIC -> ADD(both outputs) -> RESHAPE -> FC (with a constant) -> out: a small graph
    with a reshape alias, a tensor read twice and a constant, for packer and runner tests."""
    tensors = [
        T((1, 8, 8, 4), name="input"),  # 0
        T((1, 8, 8, 8)),  # 1
        T((1, 8, 8, 8)),  # 2
        T((1, 8, 8, 8)),  # 3
        T((1, 512)),  # 4 reshape of 3
        T((10, 512), data=bytes(range(256)) * 20),  # 5 constant weights
        T((1, 10), name="output"),  # 6
    ]
    ops = [
        ("TANH", [0], [1]),  # stand-ins: the checksum lowering runs any operator
        ("LOGISTIC", [1], [2]),
        ("ADD", [1, 2], [3]),
        ("RESHAPE", [3], [4]),
        ("FULLY_CONNECTED", [4, 5], [6]),
    ]
    return make_model(tensors, ops, [0], [6])
