"""Unstructured-sparse storage of one int8 CONV_2D: the `unstructured` baseline (docs/baselines.md).

Rows are (o, ky) of the OHWI filter; a row's columns are c = kx*cin + ci, so
the kept weights of a row whose window lies inside the input are read as
one contiguous input slice (``dtmm_sparse_conv_s8``). Two index encodings,
the smaller wins per layer:

* ``bitmap``: one bit per weight, each row padded to whole bytes;
* ``csr``: a uint16 count per row and one column per kept weight (uint8
  when kw*cin <= 256, else uint16).

Kept weights follow as int8, row by row. The exact flash bytes of a layer
(``layer_bytes``) count the params struct, the int32 bias (input offset
folded in), multiplier and shift per output channel, the index and the
weights -- what `dtmm pack` emits.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .fwcs import ConvSpec

ENCODINGS = ("bitmap", "csr")
#: 4-byte members of dtmm_sparse_conv_s8_params (8 pointers, 18 int32)
PARAM_MEMBERS = 26
PARAM_BYTES = 4 * PARAM_MEMBERS


def row_length(spec: ConvSpec) -> int:
    return spec.kw * spec.cin


def index_bytes(spec: ConvSpec, nnz: int, encoding: str) -> int:
    rows = spec.cout * spec.kh
    if encoding == "bitmap":
        return rows * ((row_length(spec) + 7) // 8)
    if encoding == "csr":
        return 2 * rows + max(nnz, 1) * (1 if row_length(spec) <= 256 else 2)
    raise ValueError(f"unknown sparse encoding {encoding!r}")


def layer_bytes(spec: ConvSpec, nnz: int, encoding: str | None = None) -> int:
    """Exact flash bytes of the layer with `nnz` kept weights (smallest encoding when None)."""
    if encoding is None:
        return min(layer_bytes(spec, nnz, e) for e in ENCODINGS)
    return PARAM_BYTES + 12 * spec.cout + index_bytes(spec, nnz, encoding) + max(nnz, 1)


def choose_encoding(spec: ConvSpec, nnz: int) -> str:
    return min(ENCODINGS, key=lambda e: (layer_bytes(spec, nnz, e), ENCODINGS.index(e)))


@dataclass(frozen=True)
class SparseConv:
    """One encoded layer: the arrays `dtmm pack` emits (None where the encoding has none)."""

    encoding: str
    values: np.ndarray  # int8 [nnz]
    bitmap: np.ndarray | None  # uint8 [cout*kh*row_bytes]
    counts: np.ndarray | None  # uint16 [cout*kh]
    cols: np.ndarray | None  # uint8 or uint16 [nnz]
    bias: np.ndarray  # int32 [cout], input offset folded in
    nnz: int


def folded_bias(weights: np.ndarray, bias: np.ndarray, input_offset: int) -> np.ndarray:
    """bias + input_offset * sum of each filter's weights, wrapped to int32 like the C arithmetic."""
    v = np.asarray(bias, dtype=np.int64) + int(input_offset) * np.asarray(weights, np.int64).reshape(
        len(bias), -1).sum(axis=1)  # fmt: skip
    return (((v + (1 << 31)) % (1 << 32)) - (1 << 31)).astype(np.int32)


def encode(weights: np.ndarray, bias: np.ndarray, spec: ConvSpec, encoding: str = "auto") -> SparseConv:
    """Encode int8 OHWI weights (zeros are the pruned ones)."""
    w = np.asarray(weights, dtype=np.int8)
    if w.shape != spec.weight_shape:
        raise ValueError(f"weights have shape {w.shape}, expected {spec.weight_shape}")
    rows = w.reshape(spec.cout * spec.kh, row_length(spec))
    keep = rows != 0
    nnz = int(keep.sum())
    if encoding == "auto":
        encoding = choose_encoding(spec, nnz)
    if encoding not in ENCODINGS:
        raise ValueError(f"unknown sparse encoding {encoding!r} (choose auto, {', '.join(ENCODINGS)})")
    values = rows[keep].astype(np.int8)
    bitmap = counts = cols = None
    if encoding == "bitmap":
        bitmap = np.packbits(keep, axis=1, bitorder="little").reshape(-1)
    else:
        counts = keep.sum(axis=1).astype(np.uint16)
        cols = np.nonzero(keep)[1].astype(np.uint8 if row_length(spec) <= 256 else np.uint16)
    return SparseConv(encoding, values, bitmap, counts, cols, folded_bias(w, bias, spec.input_offset), nnz)


def decode(layer: SparseConv, spec: ConvSpec) -> np.ndarray:
    """The int8 OHWI weights back (for tests)."""
    n_rows, length = spec.cout * spec.kh, row_length(spec)
    if layer.encoding == "bitmap":
        keep = np.unpackbits(layer.bitmap.reshape(n_rows, -1), axis=1, bitorder="little")[:, :length].astype(bool)
    else:
        keep = np.zeros((n_rows, length), dtype=bool)
        r = np.repeat(np.arange(n_rows), layer.counts.astype(np.int64))
        keep[r, layer.cols.astype(np.int64)] = True
    rows = np.zeros((n_rows, length), dtype=np.int8)
    rows[keep] = layer.values
    return rows.reshape(spec.weight_shape)
