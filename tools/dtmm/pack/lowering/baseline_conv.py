"""CONV_2D in the pruning baselines' storage: unstructured sparse and pattern (docs/baselines.md).

`dtmm pack --conv-storage` decides per layer: ``fwcs`` (the default) keeps
every conv in FWCS; ``pattern`` and ``sparse`` also offer that storage and
``smallest`` offers all three; the smallest candidate wins, FWCS on ties, so
a layer never grows. The storage a baseline method's model needs is
``STORAGE_OF_METHOD``.
"""
from __future__ import annotations

import numpy as np

from ...formats import fwcs, pattern, sparse
from ...tflite.model import ConvLayer
from .cgen import c_array, c_struct

CONV_STORAGES = ("fwcs", "pattern", "sparse", "smallest")
STORAGE_OF_METHOD = {"dtmm": "fwcs", "filter": "fwcs", "pattern": "pattern", "unstructured": "sparse"}


def offered_bytes(spec: fwcs.ConvSpec, weights: np.ndarray, storage: str) -> dict[str, int]:
    """Flash bytes of each storage `storage` offers for int8 OHWI weights (zeros pruned): FWCS always, the
    baselines' storage where it can hold the layer."""
    if storage not in CONV_STORAGES:
        raise ValueError(f"unknown conv storage {storage!r} (choose {', '.join(CONV_STORAGES)})")
    out = {"fwcs": fwcs.best_encoding(spec, weights)[1]}
    if storage in ("sparse", "smallest"):
        out["sparse"] = sparse.layer_bytes(spec, int(np.count_nonzero(weights)))
    if storage in ("pattern", "smallest"):
        nbytes = pattern.stored_bytes(spec, weights)
        if nbytes is not None:
            out["pattern"] = nbytes
    return out


def candidates(layer: ConvLayer, storage: str) -> dict[str, int]:
    """``offered_bytes`` of a model's conv layer."""
    return offered_bytes(layer.spec, layer.weights, storage)


def choose_storage(offered: dict[str, int]) -> str:
    """The smallest of the offered storages (``candidates``), FWCS on ties."""
    order = ("fwcs", "pattern", "sparse")
    return min(offered, key=lambda k: (offered[k], order.index(k)))


def _geometry(s: fwcs.ConvSpec) -> list[tuple[str, object]]:
    return [
        ("in_h", s.in_h), ("in_w", s.in_w), ("cin", s.cin), ("out_h", s.out_h), ("out_w", s.out_w),
        ("cout", s.cout), ("kh", s.kh), ("kw", s.kw), ("stride_h", s.stride_h), ("stride_w", s.stride_w),
        ("dilation_h", s.dilation_h), ("dilation_w", s.dilation_w), ("pad_top", s.pad_top),
        ("pad_left", s.pad_left), ("input_offset", s.input_offset), ("output_offset", s.output_offset),
        ("act_min", s.act_min), ("act_max", s.act_max),
    ]  # fmt: skip


def _arrays(prefix: str, items) -> tuple[list[str], int]:
    decls, flash = [], 0
    for name, ctype, vals, note in items:
        text, n = c_array(f"{prefix}{name}", ctype, vals, note)
        decls.append(text)
        flash += n
    return decls, flash


def sparse_decls(layer: ConvLayer, prefix: str) -> tuple[str, int]:
    """Const arrays + params struct of an unstructured-sparse layer, and their flash bytes."""
    s = layer.spec
    enc = sparse.encode(layer.weights, layer.bias, s)
    items = [("weights", "int8_t", enc.values, f"{enc.nnz} kept weights of {s.cout}x{s.kh}x{s.kw}x{s.cin}"),
             ("bias", "int32_t", enc.bias, "bias with the input offset folded in"),
             ("mult", "int32_t", layer.multiplier, "multiplier"), ("shift", "int32_t", layer.shift, "shift")]  # fmt: skip
    fields = [("weights", f"{prefix}weights")]
    if enc.encoding == "bitmap":
        items.append(("bitmap", "uint8_t", enc.bitmap, "kept-weight bitmap, one row per (o, ky)"))
        fields += [("bitmap", f"{prefix}bitmap")]
    else:
        col_type = "uint8_t" if enc.cols.dtype == np.uint8 else "uint16_t"
        items += [("counts", "uint16_t", enc.counts, "kept weights per row (o, ky)"),
                  ("cols", col_type, enc.cols, "column kx*cin + ci of each kept weight")]  # fmt: skip
        fields += [("counts", f"{prefix}counts"), ("cols8" if col_type == "uint8_t" else "cols16", f"{prefix}cols")]
    decls, flash = _arrays(prefix, items)
    fields += [("bias", f"{prefix}bias"), ("multiplier", f"{prefix}mult"), ("shift", f"{prefix}shift")]
    text, n = c_struct("dtmm_sparse_conv_s8_params", f"{prefix}params", fields + _geometry(s), sparse.PARAM_MEMBERS)
    decls.append(text)
    assert flash + n == sparse.layer_bytes(s, enc.nnz, enc.encoding), "sparse size formula out of date"
    return "".join(decls), flash + n


def pattern_decls(layer: ConvLayer, prefix: str) -> tuple[str, int]:
    """Const arrays + params struct of a pattern layer, and their flash bytes."""
    s = layer.spec
    enc = pattern.encode(layer.weights, layer.bias, s)
    count_type = "uint8_t" if enc.counts.dtype == np.uint8 else "uint16_t"
    filter_type = "uint8_t" if enc.filters.dtype == np.uint8 else "uint16_t"
    items = [
        ("weights", "int8_t", enc.weights, f"{enc.n_kept} kept kernels x {enc.n_taps} taps"),
        ("counts", count_type, enc.counts, f"kept kernels per (input channel, pattern), {enc.n_patterns} patterns"),
        ("filters", filter_type, enc.filters, "output channel of each kept kernel"),
        ("positions", "uint8_t", enc.patterns, "pattern taps, ky*kw + kx"),
        ("offsets", "int32_t", enc.tap_offsets, "pattern taps as NHWC input offsets"),
        ("bias", "int32_t", enc.bias, "bias with the input offset folded in"),
        ("mult", "int32_t", layer.multiplier, "multiplier"), ("shift", "int32_t", layer.shift, "shift"),
    ]  # fmt: skip
    decls, flash = _arrays(prefix, items)
    fields = [
        ("weights", f"{prefix}weights"),
        ("counts8" if count_type == "uint8_t" else "counts16", f"{prefix}counts"),
        ("filters8" if filter_type == "uint8_t" else "filters16", f"{prefix}filters"),
        ("positions", f"{prefix}positions"), ("tap_offsets", f"{prefix}offsets"),
        ("bias", f"{prefix}bias"), ("multiplier", f"{prefix}mult"), ("shift", f"{prefix}shift"),
        ("n_patterns", enc.n_patterns), ("n_taps", enc.n_taps),
    ]  # fmt: skip
    text, n = c_struct("dtmm_pattern_conv_s8_params", f"{prefix}params", fields + _geometry(s), pattern.PARAM_MEMBERS)
    decls.append(text)
    assert flash + n == pattern.layer_bytes(s, enc.n_kept, enc.n_patterns, enc.n_taps), "pattern size formula out of date"
    return "".join(decls), flash + n
