"""Structural check of a .tflite flatbuffer before anything reads it, as FlatBuffers' own Verifier does.

The generated Python readers follow offsets without checks, so a corrupt file fails somewhere deep in
generated code, or worse, reads another part of the file as a table.  :func:`verify_model` walks every
table the TFLite schema defines for the model, its operator codes, subgraphs, tensors, quantization,
operators, buffers, metadata and signatures -- root offset, vtables, field positions and alignment,
offsets to tables, vectors and strings, vector lengths, string terminators -- and says what is wrong in
one line.  Option tables (unions) and the tables this reader never opens are checked as tables (header,
vtable, fields inside the buffer) without their contents.
"""
from __future__ import annotations

import struct

_SCALARS = {"u8": 1, "i8": 1, "bool": 1, "u16": 2, "i16": 2, "u32": 4, "i32": 4, "f32": 4, "u64": 8, "i64": 8}
_OPAQUE = ("table", None)

#: (field name, kind) by slot, from tensorflow/lite/schema/schema.fbs (slots past a list are checked as
#: opaque: inside their table)
SCHEMA: dict[str, list] = {
    "Model": [("version", "u32"), ("operator_codes", ("vec", ("table", "OperatorCode"))),
              ("subgraphs", ("vec", ("table", "SubGraph"))), ("description", "str"),
              ("buffers", ("vec", ("table", "Buffer"))), ("metadata_buffer", ("vec", "i32")),
              ("metadata", ("vec", ("table", "Metadata"))), ("signature_defs", ("vec", ("table", "SignatureDef"))),
              ("external_buffer_groups", ("vec", _OPAQUE)), ("external_buffers", ("vec", _OPAQUE))],
    "OperatorCode": [("deprecated_builtin_code", "i8"), ("custom_code", "str"), ("version", "i32"),
                     ("builtin_code", "i32")],
    "SubGraph": [("tensors", ("vec", ("table", "Tensor"))), ("inputs", ("vec", "i32")), ("outputs", ("vec", "i32")),
                 ("operators", ("vec", ("table", "Operator"))), ("name", "str"), ("debug_metadata_index", "i32")],
    "Tensor": [("shape", ("vec", "i32")), ("type", "i8"), ("buffer", "u32"), ("name", "str"),
               ("quantization", ("table", "QuantizationParameters")), ("is_variable", "bool"),
               ("sparsity", _OPAQUE), ("shape_signature", ("vec", "i32")), ("has_rank", "bool"),
               ("variant_tensors", ("vec", _OPAQUE)), ("external_buffer", "u32")],
    "QuantizationParameters": [("min", ("vec", "f32")), ("max", ("vec", "f32")), ("scale", ("vec", "f32")),
                               ("zero_point", ("vec", "i64")), ("details_type", "u8"), ("details", _OPAQUE),
                               ("quantized_dimension", "i32")],
    "Operator": [("opcode_index", "u32"), ("inputs", ("vec", "i32")), ("outputs", ("vec", "i32")),
                 ("builtin_options_type", "u8"), ("builtin_options", _OPAQUE), ("custom_options", ("vec", "u8")),
                 ("custom_options_format", "i8"), ("mutating_variable_inputs", ("vec", "bool")),
                 ("intermediates", ("vec", "i32")), ("large_custom_options_offset", "u64"),
                 ("large_custom_options_size", "u64"), ("builtin_options_2_type", "u8"),
                 ("builtin_options_2", _OPAQUE), ("debug_metadata_index", "i32")],
    "Buffer": [("data", ("vec", "u8")), ("offset", "u64"), ("size", "u64")],
    "Metadata": [("name", "str"), ("buffer", "u32")],
    "SignatureDef": [("inputs", ("vec", ("table", "TensorMap"))), ("outputs", ("vec", ("table", "TensorMap"))),
                     ("signature_key", "str"), ("deprecated_tag", "str"), ("subgraph_index", "u32")],
    "TensorMap": [("name", "str"), ("tensor_index", "u32")],
}  # fmt: skip

MAX_DEPTH = 64
MAX_TABLES = 1_000_000


class FlatbufferCorrupt(ValueError):
    """What is wrong and where (byte offset), in one line."""


class _Walker:
    def __init__(self, data: bytes):
        self.buf = data
        self.n = len(data)
        self.tables = 0

    def _need(self, ok: bool, what: str, pos: int) -> None:
        if not ok:
            raise FlatbufferCorrupt(f"{what} at byte {pos}")

    def _u32(self, pos: int) -> int:
        self._need(0 <= pos and pos + 4 <= self.n, "offset runs past the end of the file", pos)
        return struct.unpack_from("<I", self.buf, pos)[0]

    def _offset(self, pos: int, what: str) -> int:
        """Target of the uoffset stored at pos."""
        self._need(pos % 4 == 0, f"misaligned offset to {what}", pos)
        u = self._u32(pos)
        self._need(0 < u < self.n and pos + u < self.n, f"offset to {what} points outside the file", pos)
        return pos + u

    def table(self, pos: int, name: str | None, depth: int) -> None:
        self.tables += 1
        self._need(self.tables <= MAX_TABLES, "too many tables", pos)
        self._need(depth <= MAX_DEPTH, "tables nested too deeply", pos)
        what = f"{name or 'options'} table"
        self._need(pos % 4 == 0 and pos + 4 <= self.n, f"misaligned or truncated {what}", pos)
        vt = pos - struct.unpack_from("<i", self.buf, pos)[0]
        self._need(0 <= vt and vt % 2 == 0 and vt + 4 <= self.n, f"{what} has its vtable outside the file", pos)
        vsize, tsize = struct.unpack_from("<HH", self.buf, vt)
        self._need(vsize >= 4 and vsize % 2 == 0 and vt + vsize <= self.n, f"{what} has a bad vtable size", vt)
        self._need(tsize >= 4 and pos + tsize <= self.n, f"{what} runs past the end of the file", pos)
        kinds = SCHEMA.get(name, []) if name else []
        for slot in range((vsize - 4) // 2):
            voff = struct.unpack_from("<H", self.buf, vt + 4 + 2 * slot)[0]
            if voff == 0:
                continue
            field, kind = kinds[slot] if slot < len(kinds) else (f"field {slot}", None)
            self._field(pos, voff, tsize, kind, f"{name or 'options'}.{field}", depth)

    def _field(self, pos: int, voff: int, tsize: int, kind, what: str, depth: int) -> None:
        size = _SCALARS.get(kind, 4) if isinstance(kind, str) and kind != "str" else 4
        if kind is None:  # a field this schema does not list: at least inside its table
            self._need(voff + 1 <= tsize, f"{what} lies outside its table", pos)
            return
        self._need(voff + size <= tsize, f"{what} lies outside its table", pos)
        at = pos + voff
        if isinstance(kind, str) and kind != "str":
            self._need(at % size == 0, f"misaligned {what}", at)
            return
        target = self._offset(at, what)
        if kind == "str":
            length = self._u32(target)
            self._need(target + 4 + length < self.n and self.buf[target + 4 + length] == 0,
                       f"{what}: string runs past the end of the file or lacks its terminator", target)
        elif kind[0] == "table":
            self.table(target, kind[1], depth + 1)
        else:  # vector
            self.vector(target, kind[1], what, depth)

    def vector(self, target: int, elem, what: str, depth: int) -> None:
        self._need(target % 4 == 0, f"misaligned vector {what}", target)
        length = self._u32(target)
        esize = _SCALARS[elem] if isinstance(elem, str) else 4
        start = target + 4
        self._need(start + length * esize <= self.n, f"{what}: vector of {length} elements runs past the end of "
                   "the file", target)
        self._need(start % min(esize, 8) == 0, f"misaligned elements of {what}", start)
        if isinstance(elem, tuple):
            for i in range(length):
                self.table(self._offset(start + 4 * i, what), elem[1], depth + 1)


def verify_model(data: bytes) -> None:
    """Raises FlatbufferCorrupt unless every table of the model lies where its offsets say."""
    w = _Walker(bytes(data))
    if w.n < 8:
        raise FlatbufferCorrupt(f"file of {w.n} bytes is too short for a flatbuffer")
    w.table(w._offset(0, "the root table"), "Model", 0)
