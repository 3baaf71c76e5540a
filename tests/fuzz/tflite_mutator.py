"""Structure-aware mutations of a .tflite flatbuffer, for fuzzing the model readers (tests/fuzz/fuzz_tflite.py).

Two families, each a list of named mutators drawn at random:

* semantic (:func:`semantic_mutation`): the model unpacked with the schema's object API, one field made
  wrong, packed again -- a well-formed flatbuffer saying something invalid: tensor shapes (zero, negative,
  huge, a dimension more or less), tensor types, buffer indices, buffer data (truncated, grown, emptied),
  quantization arrays (too short or long, NaN / inf / zero / negative scales, zero points out of range,
  the quantized dimension out of range, removed), operator codes (unknown builtin, CUSTOM, version),
  operator tensor lists (indices out of range, -1, dropped, extra, swapped), builtin options (removed, of
  another type, fields out of range), subgraph inputs and outputs, operators removed / duplicated /
  reordered;
* structural (:func:`structural_mutation`): bytes of the flatbuffer itself at the places its reader
  follows -- a table's vtable offset (soffset), vtable entries, the uoffset of a field, a vector's length
  -- plus truncation and random bytes, found by walking the tables the readers use.

Every mutator is deterministic for a given numpy Generator, so a case is reproduced from its seed.
"""
from __future__ import annotations

import copy
import struct
from dataclasses import dataclass

import flatbuffers
import numpy as np

from dtmm.tflite.model import _schema

_U32 = struct.Struct("<I")
_I32 = struct.Struct("<i")
_U16 = struct.Struct("<H")

# values a reader must survive where it expects a count, an index or a dimension
_BAD_INTS = (0, -1, -2, 1, 2, 3, 7, 255, 256, 65535, 65536, 2**31 - 1, -(2**31), 2**30, 10**6)
_BAD_FLOATS = (0.0, -1.0, float("nan"), float("inf"), -float("inf"), 1e-45, 1e38, 3.4e38)


def _pick(rng: np.random.Generator, seq):
    return seq[int(rng.integers(len(seq)))]


def _bad_int(rng: np.random.Generator) -> int:
    return int(_pick(rng, _BAD_INTS)) if rng.random() < 0.7 else int(rng.integers(-1000, 1000))


# --------------------------------------------------------------------------- semantic mutations


def unpack(data: bytes):
    """The model as schema objects (ModelT), for semantic mutations."""
    fb = _schema()
    return fb.ModelT.InitFromObj(fb.Model.GetRootAs(data, 0))


def pack(model) -> bytes:
    builder = flatbuffers.Builder(1024)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


def _tensors(m):
    return m.subgraphs[0].tensors or []


def _ops(m):
    return m.subgraphs[0].operators or []


def _some_tensor(m, rng):
    ts = _tensors(m)
    return ts[int(rng.integers(len(ts)))] if ts else None


def _some_op(m, rng):
    ops = _ops(m)
    return ops[int(rng.integers(len(ops)))] if ops else None


def _m_shape(m, rng):
    t = _some_tensor(m, rng)
    if t is None or t.shape is None or len(t.shape) == 0:
        return "no tensor shape"
    shape = list(np.asarray(t.shape).tolist())
    kind = int(rng.integers(4))
    if kind == 0:
        shape[int(rng.integers(len(shape)))] = _bad_int(rng)
    elif kind == 1:
        shape.append(int(_pick(rng, (1, 2, 3, 0))))
    elif kind == 2:
        shape.pop(int(rng.integers(len(shape))))
    else:
        i = int(rng.integers(len(shape)))
        shape[i] = shape[i] + int(_pick(rng, (1, -1, 2)))
    t.shape = shape
    return f"tensor {t.name!r} shape -> {shape}"


def _m_type(m, rng):
    t = _some_tensor(m, rng)
    if t is None:
        return "no tensor"
    t.type = int(_pick(rng, (0, 1, 2, 3, 4, 7, 9, 10, 17, 100, -1)))
    return f"tensor {t.name!r} type -> {t.type}"


def _m_buffer_index(m, rng):
    t = _some_tensor(m, rng)
    if t is None:
        return "no tensor"
    t.buffer = int(_pick(rng, (0, len(m.buffers), len(m.buffers) + 7, 2**31 - 1, int(rng.integers(len(m.buffers))))))
    return f"tensor {t.name!r} buffer -> {t.buffer}"


def _m_buffer_data(m, rng):
    full = [b for b in (m.buffers or []) if b.data is not None and len(b.data)]
    if not full:
        return "no buffer data"
    b = _pick(rng, full)
    data = np.asarray(b.data, dtype=np.uint8)
    kind = int(rng.integers(4))
    if kind == 0:
        data = data[: int(rng.integers(len(data)))]
    elif kind == 1:
        data = np.concatenate([data, rng.integers(0, 256, size=int(rng.integers(1, 64)), dtype=np.uint8)])
    elif kind == 2:
        data = np.zeros(0, np.uint8)
    else:
        data = data.copy()
        data[int(rng.integers(len(data)))] ^= np.uint8(1 << int(rng.integers(8)))
    b.data = data
    return f"buffer data -> {len(data)} bytes ({('truncated', 'grown', 'emptied', 'bit flip')[kind]})"


def _m_quant(m, rng):
    ts = [t for t in _tensors(m) if t.quantization is not None]
    if not ts:
        return "no quantization"
    t = _pick(rng, ts)
    q = t.quantization
    kind = int(rng.integers(7))
    if kind == 0:
        t.quantization = None
    elif kind == 1 and q.scale is not None and len(q.scale):
        q.scale = list(np.asarray(q.scale).tolist())[: int(rng.integers(len(q.scale)))]
    elif kind == 2:
        q.scale = list(np.asarray(q.scale if q.scale is not None else []).tolist()) + [0.5] * int(rng.integers(1, 4))
    elif kind == 3 and q.scale is not None and len(q.scale):
        s = list(np.asarray(q.scale).tolist())
        s[int(rng.integers(len(s)))] = float(_pick(rng, _BAD_FLOATS))
        q.scale = s
    elif kind == 4 and q.zeroPoint is not None and len(q.zeroPoint):
        z = list(np.asarray(q.zeroPoint).tolist())
        z[int(rng.integers(len(z)))] = int(_pick(rng, (128, -129, 255, 2**31 - 1, -(2**31), 1000)))
        q.zeroPoint = z
    elif kind == 5:
        q.quantizedDimension = _bad_int(rng)
    else:
        q.zeroPoint = list(np.asarray(q.zeroPoint if q.zeroPoint is not None else []).tolist())[:-1] or None
    return f"tensor {t.name!r} quantization mutation {kind}"


def _m_opcode(m, rng):
    if not m.operatorCodes:
        return "no operator code"
    oc = _pick(rng, m.operatorCodes)
    kind = int(rng.integers(4))
    if kind == 0:
        oc.builtinCode = int(_pick(rng, (32, 0, 1, 3, 4, 9, 25, 17, 40, 114, 150, 255, 2**31 - 1)))
        oc.deprecatedBuiltinCode = min(max(oc.builtinCode, 0), 127)
    elif kind == 1:
        oc.deprecatedBuiltinCode = int(_pick(rng, (0, 32, 127, -1)))
    elif kind == 2:
        oc.builtinCode, oc.deprecatedBuiltinCode, oc.customCode = 32, 32, _pick(rng, (b"DTMM_CONV_2D", b"", b"\xff"))
    else:
        oc.version = _bad_int(rng)
    return f"operator code mutation {kind} -> {oc.builtinCode}"


def _m_opcode_index(m, rng):
    op = _some_op(m, rng)
    if op is None:
        return "no operator"
    op.opcodeIndex = int(_pick(rng, (len(m.operatorCodes or []), 2**31 - 1, 1000, 0)))
    return f"operator opcode index -> {op.opcodeIndex}"


def _m_op_tensors(m, rng):
    op = _some_op(m, rng)
    if op is None:
        return "no operator"
    which = "inputs" if rng.random() < 0.6 else "outputs"
    lst = list(np.asarray(getattr(op, which) if getattr(op, which) is not None else []).tolist())
    kind = int(rng.integers(5))
    n_t = len(_tensors(m))
    if kind == 0 and lst:
        lst[int(rng.integers(len(lst)))] = int(_pick(rng, (-1, n_t, n_t + 5, 2**31 - 1, -7)))
    elif kind == 1 and lst:
        lst.pop(int(rng.integers(len(lst))))
    elif kind == 2:
        lst.append(int(rng.integers(-1, n_t + 1)))
    elif kind == 3 and len(lst) > 1:
        i, j = rng.choice(len(lst), size=2, replace=False)
        lst[i], lst[j] = lst[j], lst[i]
    elif lst:
        lst[int(rng.integers(len(lst)))] = int(rng.integers(n_t))
    setattr(op, which, lst)
    return f"operator {which} -> {lst}"


def _m_options(m, rng):
    op = _some_op(m, rng)
    if op is None:
        return "no operator"
    fb = _schema()
    kind = int(rng.integers(3))
    if kind == 0 or op.builtinOptions is None:
        op.builtinOptions, op.builtinOptionsType = None, 0
        return "operator options removed"
    if kind == 1:
        names = [n for n in vars(fb.BuiltinOptions) if not n.startswith("_") and n != "NONE"]
        name = _pick(rng, names)
        cls = getattr(fb, name + "T", None)
        if cls is None:
            return "no such options class"
        op.builtinOptions, op.builtinOptionsType = cls(), getattr(fb.BuiltinOptions, name)
        return f"operator options -> {name}"
    fields = [k for k, v in vars(op.builtinOptions).items() if isinstance(v, (int, float)) and not isinstance(v, bool)]
    if not fields:
        return "options without numeric fields"
    f = _pick(rng, fields)
    setattr(op.builtinOptions, f, _bad_int(rng) if isinstance(getattr(op.builtinOptions, f), int)
            else float(_pick(rng, _BAD_FLOATS)))
    return f"operator option {f} -> {getattr(op.builtinOptions, f)}"


def _m_subgraph_io(m, rng):
    sg = m.subgraphs[0]
    which = "inputs" if rng.random() < 0.5 else "outputs"
    lst = list(np.asarray(getattr(sg, which) if getattr(sg, which) is not None else []).tolist())
    n_t = len(_tensors(m))
    kind = int(rng.integers(3))
    if kind == 0 and lst:
        lst[0] = int(_pick(rng, (-1, n_t, 2**31 - 1, int(rng.integers(max(1, n_t))))))
    elif kind == 1:
        lst = []
    else:
        lst.append(int(rng.integers(max(1, n_t))))
    setattr(sg, which, lst)
    return f"subgraph {which} -> {lst}"


def _m_operators(m, rng):
    ops = _ops(m)
    if not ops:
        return "no operator"
    kind = int(rng.integers(4))
    i = int(rng.integers(len(ops)))
    if kind == 0:
        ops.pop(i)
    elif kind == 1:
        ops.insert(i, copy.deepcopy(ops[i]))
    elif kind == 2 and len(ops) > 1:
        j = int(rng.integers(len(ops)))
        ops[i], ops[j] = ops[j], ops[i]
    else:
        m.subgraphs[0].operators = []
    return f"operators mutation {kind} at {i}"


def _m_subgraphs(m, rng):
    kind = int(rng.integers(2))
    if kind == 0:
        m.subgraphs = []
    else:
        m.subgraphs.append(copy.deepcopy(m.subgraphs[0]))
    return f"subgraphs mutation {kind}"


SEMANTIC = {
    "shape": _m_shape, "type": _m_type, "buffer_index": _m_buffer_index, "buffer_data": _m_buffer_data,
    "quantization": _m_quant, "operator_code": _m_opcode, "opcode_index": _m_opcode_index,
    "operator_tensors": _m_op_tensors, "options": _m_options, "subgraph_io": _m_subgraph_io,
    "operators": _m_operators, "subgraphs": _m_subgraphs,
}  # fmt: skip
_SEMANTIC_WEIGHTS = {"shape": 3, "quantization": 3, "operator_tensors": 3, "options": 3, "buffer_data": 2,
                     "type": 2, "buffer_index": 2, "operator_code": 2, "opcode_index": 1, "subgraph_io": 1,
                     "operators": 1, "subgraphs": 0.3}


def semantic_mutation(model_obj, rng: np.random.Generator, n: int = 1) -> tuple[bytes, str]:
    """n semantic mutations of a deep copy of `model_obj` (a ModelT); returns the packed bytes and what changed.

    A value the field's type cannot hold (the schema's Pack refuses it) is drawn again."""
    names = list(_SEMANTIC_WEIGHTS)
    p = np.array([_SEMANTIC_WEIGHTS[k] for k in names], float)
    for _attempt in range(20):
        m = copy.deepcopy(model_obj)
        what = []
        for _ in range(n):
            name = names[int(rng.choice(len(names), p=p / p.sum()))]
            try:
                what.append(f"{name}: {SEMANTIC[name](m, rng)}")
            except (IndexError, AttributeError, TypeError):  # an earlier mutation removed what this one needs
                what.append(f"{name}: nothing left to mutate")
        try:
            return pack(m), "; ".join(what)
        except (TypeError, struct.error, OverflowError, ValueError):
            continue
    return pack(copy.deepcopy(model_obj)), "none (no packable mutation drawn)"


# --------------------------------------------------------------------------- structural mutations


@dataclass(frozen=True)
class Layout:
    """Byte positions of the places a flatbuffer reader follows, in one model file."""

    soffsets: tuple  # a table's int32 offset to its vtable
    vtable_entries: tuple  # u16 field offsets inside vtables
    fields: tuple  # where a field's value (scalar or uoffset) is stored
    vector_lengths: tuple  # u32 element counts of vectors


def _table_fields(buf: bytes, pos: int, acc: dict) -> list[int]:
    acc["soffsets"].append(pos)
    vt = pos - _I32.unpack_from(buf, pos)[0]
    vt_len = _U16.unpack_from(buf, vt)[0]
    out = []
    for k in range(max(0, (vt_len - 4) // 2)):
        entry = vt + 4 + 2 * k
        acc["vtable_entries"].append(entry)
        voff = _U16.unpack_from(buf, entry)[0]
        if voff:
            acc["fields"].append(pos + voff)
            out.append(pos + voff)
    return out


def _vector(buf: bytes, tab, slot: int, acc: dict) -> None:
    o = tab.Offset(slot)
    if o:
        acc["vector_lengths"].append(tab.Vector(o) - 4)


def _table_and_vectors(buf: bytes, tab, vector_slots, acc: dict) -> None:
    _table_fields(buf, tab.Pos, acc)
    for slot in vector_slots:
        _vector(buf, tab, slot, acc)


def layout(data: bytes) -> Layout:
    """Walks the model, its operator codes, first subgraph, tensors (and their quantization), operators
    (and their options) and buffers, recording where each table, vtable entry, field and vector length is."""
    fb = _schema()
    acc = {"soffsets": [], "vtable_entries": [], "fields": [], "vector_lengths": []}
    model = fb.Model.GetRootAs(data, 0)
    _table_fields(data, model._tab.Pos, acc)
    for slot in (6, 8, 12):  # operator_codes, subgraphs, buffers
        _vector(data, model._tab, slot, acc)
    for i in range(model.OperatorCodesLength()):
        _table_fields(data, model.OperatorCodes(i)._tab.Pos, acc)
    for i in range(model.BuffersLength()):
        _table_and_vectors(data, model.Buffers(i)._tab, (4,), acc)  # data
    if model.SubgraphsLength():
        sg = model.Subgraphs(0)
        _table_and_vectors(data, sg._tab, (4, 6, 8, 10), acc)  # tensors, inputs, outputs, operators
        for i in range(sg.TensorsLength()):
            t = sg.Tensors(i)
            _table_and_vectors(data, t._tab, (4,), acc)  # shape
            q = t.Quantization()
            if q is not None:
                _table_and_vectors(data, q._tab, (4, 6, 8, 10), acc)  # min, max, scale, zero_point
        for i in range(sg.OperatorsLength()):
            op = sg.Operators(i)
            _table_and_vectors(data, op._tab, (6, 8), acc)  # inputs, outputs
            opts = op.BuiltinOptions()
            if opts is not None:
                _table_fields(data, opts.Pos, acc)
    return Layout(*(tuple(sorted(set(acc[k]))) for k in ("soffsets", "vtable_entries", "fields", "vector_lengths")))


def _put(buf: bytearray, pos: int, st: struct.Struct, value: int) -> None:
    """Writes value (wrapped to the field's width) when the field is inside the buffer."""
    if 0 <= pos <= len(buf) - st.size:
        bits = 8 * st.size
        value %= 1 << bits
        if st.format[-1].islower() and value >= 1 << (bits - 1):  # signed formats
            value -= 1 << bits
        st.pack_into(buf, pos, value)


def structural_mutation(data: bytes, lay: Layout, rng: np.random.Generator) -> tuple[bytes, str]:
    """One byte-level mutation at a place the reader follows (or a truncation / random bytes)."""
    buf = bytearray(data)
    kinds = ("soffset", "vtable_entry", "field_u32", "field_byte", "vector_length", "truncate", "bytes",
             "root_offset")
    kind = kinds[int(rng.choice(len(kinds), p=[0.12, 0.16, 0.2, 0.1, 0.2, 0.07, 0.1, 0.05]))]
    n = len(buf)
    if n < 8:  # an earlier mutation truncated it
        return bytes(buf), "none (too short)"
    if kind == "soffset" and lay.soffsets:
        pos = _pick(rng, lay.soffsets)
        _put(buf, pos, _I32, int(_pick(rng, (0, 4, -4, n, -n, 2**31 - 1, -(2**31), int(rng.integers(-n, n))))))
    elif kind == "vtable_entry" and lay.vtable_entries:
        pos = _pick(rng, lay.vtable_entries)
        _put(buf, pos, _U16, int(_pick(rng, (0, 1, 2, 3, 4, 0xFFFF, 0x8000, int(rng.integers(0, 0x10000))))))
    elif kind == "field_u32" and lay.fields:
        pos = _pick(rng, lay.fields)
        _put(buf, pos, _U32, int(_pick(rng, (0, 1, 4, n, n - 4, 0xFFFFFFFF, 0x7FFFFFFF, int(rng.integers(0, 2**32))))))
    elif kind == "field_byte" and lay.fields:
        pos = _pick(rng, lay.fields)
        if pos < n:
            buf[pos] = int(rng.integers(256))
    elif kind == "vector_length" and lay.vector_lengths:
        pos = _pick(rng, lay.vector_lengths)
        cur = _U32.unpack_from(buf, pos)[0] if pos <= n - 4 else 0
        _put(buf, pos, _U32, int(_pick(rng, (0, cur + 1, cur - 1 if cur else 1, cur * 2 + 1, n, 0x3FFFFFFF,
                                             0xFFFFFFFF))))
    elif kind == "truncate":
        buf = buf[: int(rng.integers(0, n))]
    elif kind == "root_offset":
        _put(buf, 0, _U32, int(_pick(rng, (0, 4, 8, n, n - 4, 0xFFFFFFFF, int(rng.integers(0, n))))))
    else:
        kind = "bytes"
        for _ in range(int(rng.integers(1, 9))):
            buf[int(rng.integers(n))] = int(rng.integers(256))
    return bytes(buf), kind
