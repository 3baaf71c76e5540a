"""What a cost model sees of one operator: its kernel group and a few shape counts.

Each operator the packer emits becomes one :class:`OpFeatures`: a *group*
(the operator type, and for CONV_2D and ADD the family of the kernel variant
the board's path selects -- the packer's probe of the C dispatch rule, see
``dtmm.pack.lowering.conv_scratch``) and counts that the kernels' loops scale
with: pixels, output elements, kept filterlets, multiply-accumulates, chunks
of SIMD lanes. A group's cost model is a non-negative linear function of its
counts (``dtmm.cost.fit``), so every count here is something a loop in the
kernels runs once per unit of. Where the kernels' own planners decide how a
layer runs (the Helium path's row handling, patch and item modes; the DSP
band kernel's phases, row slots and tiles), the counts take the plan the
packer's probe read from the C code (``conv_plan`` in the packer's summary)
rather than guess it.

The path of a board follows its CPU features: Helium (MVE) on qemu-m55, the
DSP extension on M4/M7/M33, portable C otherwise.
"""
from __future__ import annotations

from dataclasses import dataclass
from math import ceil, prod

import numpy as np

from ..errors import DtmmError
from ..formats import fwcs
from ..pack.lowering.ops import (ADD_TABLE_MIN_ELEMENTS, broadcast_layout, fc_groups_blob, groups_blob,
                                 strided_copy_layout)
from ..targets.boards import Board
from ..tflite.model import TfliteModel, _schema, conv_layer

#: counts per group kind (the order is the coefficient order in a calibration file)
CONV_COUNTS = ("calls", "filters", "kept_filters", "filterlets", "pixels", "rows", "outputs", "kept_outputs",
               "pixel_filterlets", "pixel_chunks4", "pixel_chunks16", "macs", "receptive", "input_elements",
               "blocks4", "block_outputs", "block_filterlets", "block_chunks4", "band_columns", "input_groups",
               "input_group_phases", "slow_requant_outputs", "clamp_outputs", "pair_block_pairs",
               "list_block_elements", "plane_field_elements", "interior_macs", "border_macs", "pixel_runs",
               "index_walk_macs", "index_walk_bitmap_positions",
               "elem_filter_blocks", "elem_inner", "elem_im2col", "elem_plane_fill", "elem_pass_blocks",
               "elem_field_rows", "elem_record_words", "elem_field_pixels", "elem_field_elements",
               "elem_plane_field_rows", "elem_field_zero_calls", "elem_field_zero_words", "elem_field_run_calls",
               "elem_field_run_blocks4", "elem_field_run_singles", "band_passes", "band_expansions", "band_words",
               "band_row_calls", "band_repack_bytes", "band_tail_words", "band_zero_words", "interior_pairs",
               "single_interior_macs",
               *(f"portable_{n}" for n in ("pairs", "pair_filters", "pair_empty", "pair_runs", "pair_blocks8",
                                          "pair_block4", "pair_loops4", "pair_bytes", "singles", "single_filters",
                                          "single_empty", "single_runs", "single_loops4", "single_bytes",
                                          "borders", "border_filters", "border_empty", "border_walk",
                                          "border_taps", "border_loops4", "border_bytes", "border_tap_tests",
                                          "weights", "pair_runs_any_length", "pair_filters_any_length",
                                          "walk_taps", "walk_loops4", "walk_bytes")))
DEPTHWISE_COUNTS = ("calls", "channels", "pixels", "rows", "outputs", "row_channels", "macs", "input_elements",
                    "edge_outputs", "outputs_3x3_s1", "outputs_3x3_s2", "outputs_small_map", "macs_small_map",
                    "leftover_channel_outputs", "channel_tail_outputs", "lane_outputs", "lane_macs",
                    "plane_outputs", "plane_macs", "plane_fill", "plane3x3_outputs", "quad_groups",
                    "quad_group_taps", "quad_group_tap_rows", "channel_taps", "portable_quads",
                    "portable_quad_rows", "portable_quad_taps", "portable_channels", "portable_channel_rows",
                    "portable_channel_taps")
#: the shared depthwise counts the portable kernel's fit keeps besides its own: per call, output pixel and row
_PORTABLE_DEPTHWISE_SHARED = ("calls", "pixels", "rows")
#: per SIMD path, the depthwise counts that gate the other path's kernels (Helium: channels on lanes for small
#: maps, 16-channel tails; DSP: the last cout % 4 channels, its 3x3 plane rule), left out of its fits
_DEPTHWISE_OTHER_PATH = {
    "dsp": ("outputs_small_map", "macs_small_map", "channel_tail_outputs", "lane_outputs", "lane_macs"),
    "mve": ("leftover_channel_outputs", "plane3x3_outputs"),
}
FC_COUNTS = ("calls", "outputs", "kept_outputs", "inputs", "macs", "chunks4", "chunks16", "row_quads",
             "quad_chunks4", "quad_chunks16", "quad_tail_inputs", "single_rows", "single_chunks4",
             "single_chunks16", "single_tail_inputs", "leftover_blocks")
POOL_COUNTS = ("calls", "pixels", "outputs", "window_elements", "input_elements", "large_window_elements",
               "padded_window_outputs")
#: walk_rows: the row calls of ADD / SUB / MUL's broadcast walk (1 without broadcasting), on its merged axes
ELEMENTWISE_COUNTS = ("calls", "outputs", "input_elements", "rows", "inputs", "walk_rows")
#: MEAN: the SIMD paths sum at most 256 values per output in int16 lanes; beyond, the DSP path runs portable
#: C and the Helium path int32 lanes
REDUCE_COUNTS = ("calls", "outputs", "input_elements", "large_outputs", "large_input_elements",
                 "quad_inputs", "leftover_channel_inputs", "oct_inputs", "wide_quad_inputs", "oct_steps",
                 "wide_quad_steps")

#: the Helium path's conv: blocks of 4 pixels, 16-channel chunks, filters in groups of 4 (quad) or 2 (pair)
MVE_CONV_COUNTS = ("calls", "filters", "kept_filters", "kept_chunks16", "pixels", "rows", "blocks4",
                   "block_filters", "block_quads", "block_pairs", "block_filterlets", "block_chunks16",
                   "row_tail_filters", "patch_gather", "patch_block_chunks", "elem_gather", "elem_block_weights",
                   "padded_input_elements", "slow_requant_outputs", "clamp_outputs", "empty_filter_outputs",
                   "elem_pixel_chunks", "patch_block_kept_chunks",
                   "elem_filter_blocks", "elem_chunk_blocks", "elem_patch_elements", "elem_based_chunk_blocks",
                   "elem_gather_vectors", "elem_copy_short_rows", "elem_copy_vectors", "elem_record_chunks",
                   "elem_record_elements", "elem_pass_blocks", "elem_copy_long_rows", "elem_record_filterlets",
                   "edge_blocks", "edge_rows", "edge_vectors", "window_rows", "window_vectors",
                   "window_compact_vectors", "last_block_rows", "tail_filterlets", "tail_chunks16",
                   "block_empty_chunks16", "block_pad_filterlets", "block_single_filters",
                   "block_single_filterlets", "kept_filterlets", "block_items", "items", "patch_gather_vectors",
                   "patch_copy_rows", "last_edge_rows", "tail2_chunks16")

#: a 1x1 conv or fully connected layer stored as an FWCS GROUPS blob: per call a pass over the group masks and
#: kept weights, 4-pixel blocks (the input copied, filters in quads, each kept group in 4- or 16-lane chunks),
#: leftover pixels one at a time, filters with a slow requantization in a scalar pass; portable C per pixel
GROUPS_COUNTS = ("calls", "filters", "kept_groups", "kept_weights", "pixels", "blocks4", "block_input_elements",
                 "block_quads", "block_filters", "block_kept_groups", "block_kept_chunks4", "block_kept_chunks16",
                 "tail_pixels", "tail_filters", "tail_kept_groups", "tail_kept_chunks4", "tail_kept_chunks16",
                 "pixel_filters", "pixel_mask_bytes", "pixel_kept_groups", "pixel_kept_weights",
                 "slow_outputs", "slow_kept_weights", "clamp_outputs", "input_elements", "filter_group_slots",
                 "block_mask_bytes", "block_group_slots")

COUNTS_OF_KIND = {"conv": CONV_COUNTS, "conv_mve": MVE_CONV_COUNTS, "depthwise": DEPTHWISE_COUNTS, "fc": FC_COUNTS, "pool": POOL_COUNTS,
                  "elementwise": ELEMENTWISE_COUNTS, "reduce": REDUCE_COUNTS, "groups": GROUPS_COUNTS}  # fmt: skip


@dataclass(frozen=True)
class OpFeatures:
    """One operator as the cost model sees it."""

    label: str  # the packer's profiling label, e.g. op03_CONV_2D
    op: str  # TFLite operator name
    group: str  # cost-model group, e.g. CONV_2D/dsp_band
    kind: str  # key of COUNTS_OF_KIND
    counts: tuple[float, ...]  # in COUNTS_OF_KIND[kind] order
    shape: str = ""  # for reading: e.g. "3x3/1 same 32x32x16 -> 32"

    def as_dict(self) -> dict:
        return dict(zip(COUNTS_OF_KIND[self.kind], self.counts))


def board_path(board: Board) -> str:
    """'mve', 'dsp' or 'c': the kernel path the board's firmware compiles."""
    if "mve" in board.features:
        return "mve"
    if "dsp" in board.features:
        return "dsp"
    return "c"


def variant_family(variant: str) -> str:
    """A kernel variant's family: 'mve_quad16_s32_full_l' -> 'mve_quad16', 'mve_gen_n3_t' -> 'mve_gen',
    'mve_pg_clamp' -> 'mve_pg'."""
    parts = variant.split("_")
    if variant.startswith(("mve_quad", "mve_pair")):
        return "_".join(parts[:2])
    if variant == "mve_gen_loop":  # the looping form (8 or more chunks of 16 channels), a kernel of its own
        return "mve_gen_loop"
    if variant.startswith("mve_gen"):
        return "mve_gen"
    if variant.startswith("mve_pg"):
        return "mve_pg"
    return variant


def _shape(model: TfliteModel, t: int) -> tuple[int, ...]:
    return tuple(int(d) for d in model.tensors[t].shape)


def _pad_before(out: int, size: int, k: int, stride: int, dilation: int, padding: str) -> int:
    """Padding before the first input element along one axis (TFLite's SAME: half, rounded down)."""
    span = (k - 1) * dilation + 1
    return max((out - 1) * stride + span - size, 0) // 2 if padding == "same" else 0


def _inside(out: int, size: int, k: int, stride: int, dilation: int, padding: str) -> int:
    """Output positions along one axis whose whole kernel window lies inside the input."""
    return int(_axis_valid(out, size, k, stride, dilation, padding).all(axis=1).sum())


def _axis_valid(out: int, size: int, k: int, stride: int, dilation: int, padding: str) -> np.ndarray:
    """[out, k]: tap t of output position o lies inside [0, size) (the taps dtmm_tap_range() keeps)."""
    pad = _pad_before(out, size, k, stride, dilation, padding)
    pos = np.arange(out)[:, None] * stride - pad + np.arange(k)[None, :] * dilation
    return (pos >= 0) & (pos < size)


def _portable_conv(s, keep: np.ndarray, out_h: int, out_w: int, in_h: int, in_w: int) -> tuple[int, ...]:
    """The loops of the portable conv (dtmm_conv_s8_c.c, kernels of at most 32 taps), pixel by pixel as it
    walks them: interior pixels in pairs sharing each weight load (an odd one alone), border pixels testing
    their taps; per filter its runs (a DENSE kernel row, or listed kept filterlets adjacent in a row), each a
    dot product unrolled by 8 and 4 bytes (lengths a multiple of 4) or by 4 with a byte tail; once per call
    the sum of every stored weight, byte by byte (the input offset's share of each filter's bias)."""
    span_h, span_w = (s.kh - 1) * s.dilation_h, (s.kw - 1) * s.dilation_w
    pad_t = _pad_before(out_h, in_h, s.kh, s.stride_h, s.dilation_h, s.padding)
    pad_l = _pad_before(out_w, in_w, s.kw, s.stride_w, s.dilation_w, s.padding)
    iy0 = np.arange(out_h) * s.stride_h - pad_t
    ix0 = np.arange(out_w) * s.stride_w - pad_l
    row_inside = (iy0 >= 0) & (iy0 + span_h < in_h)
    col_inside = (ix0 >= 0) & (ix0 + span_w < in_w)
    pairs_per_row = singles_per_row = 0  # an inside row: the x loop of dtmm_conv_s8_c()
    x = 0
    while x < out_w:
        if col_inside[x] and x + 1 < out_w and ix0[x] + s.stride_w + span_w < in_w:
            pairs_per_row, x = pairs_per_row + 1, x + 2
        else:
            singles_per_row, x = singles_per_row + int(col_inside[x]), x + 1
    n_in_rows = int(row_inside.sum())
    pairs, singles = n_in_rows * pairs_per_row, n_in_rows * singles_per_row
    border = ~(row_inside[:, None] & col_inside[None, :])  # [out_h, out_w]
    borders = int(border.sum())
    vy = _axis_valid(out_h, in_h, s.kh, s.stride_h, s.dilation_h, s.padding).astype(np.int64)
    vx = _axis_valid(out_w, in_w, s.kw, s.stride_w, s.dilation_w, s.padding).astype(np.int64)
    valid_at = vy.T @ border.astype(np.int64) @ vx  # [kh, kw]: border pixels where the tap is inside
    flat = keep.reshape(s.cout, -1)
    live = flat.any(axis=1)
    dense = bool(keep.all())
    if dense:
        n_runs, run_len = (s.kh, s.kw * s.cin) if s.dilation_w == 1 else (s.kh * s.kw, s.cin)
        lens = np.full(s.cout * n_runs, run_len)
        x4 = run_len % 4 == 0
    else:
        lens = []
        for o in range(s.cout):
            for i in range(s.kh):
                row = keep[o, i]
                j = 0
                while j < s.kw:
                    if not row[j]:
                        j += 1
                        continue
                    n = 1
                    while s.dilation_w == 1 and j + n < s.kw and row[j + n]:
                        n += 1
                    lens.append(n * s.cin)
                    j += n
        lens = np.asarray(lens, dtype=np.int64)
        x4 = s.cin % 4 == 0
    n_live, n_empty = (s.cout, 0) if dense else (int(live.sum()), int((~live).sum()))
    blocks8 = int((lens // 8).sum()) if x4 else 0
    block4 = int((lens % 8 >= 4).sum()) if x4 else 0
    loops4 = 0 if x4 else int((lens // 4).sum())
    tail = 0 if x4 else int((lens % 4).sum())
    taps = int((flat.sum(axis=0) * valid_at.reshape(-1)).sum())
    border_walk = borders * int(flat.sum()) if not dense else taps  # a packed filter walks all its filterlets
    return (pairs, pairs * n_live * x4, pairs * n_empty, pairs * len(lens) * x4, pairs * blocks8, pairs * block4,
            pairs * loops4, pairs * tail,
            singles, singles * n_live, singles * n_empty, singles * len(lens), singles * int((lens // 4).sum()),
            singles * int((lens % 4).sum()),
            borders, borders * n_live, borders * n_empty, border_walk, taps, taps * (s.cin // 4), taps * (s.cin % 4),
            borders * (s.kh + s.kw), int(flat.sum()) * s.cin,
            pairs * len(lens) * (not x4), pairs * n_live * (not x4))  # fmt: skip


def _portable_walk(s, keep: np.ndarray, out_h: int, out_w: int, in_h: int, in_w: int) -> tuple[int, int, int]:
    """The portable conv's index walk (kernels of more than 32 taps, run_generic()): every pixel tests each
    kept filterlet's tap and multiplies only those inside the input, in 4-byte steps and a byte tail."""
    rows = _axis_valid(out_h, in_h, s.kh, s.stride_h, s.dilation_h, s.padding).sum(axis=0)  # [kh]
    cols = _axis_valid(out_w, in_w, s.kw, s.stride_w, s.dilation_w, s.padding).sum(axis=0)  # [kw]
    taps = int((keep.sum(axis=0) * np.outer(rows, cols)).sum())
    return taps, taps * (s.cin // 4), taps * (s.cin % 4)


#: the CONV_2D counts the index walk's fit keeps besides its own: per call, pixel, filter and kept filterlet
#: of every pixel, and the positions a BITMAP index tests
_WALK_SHARED = ("calls", "pixels", "outputs", "pixel_filterlets", "index_walk_bitmap_positions")


#: dtmm_conv_dsp_internal.h: DTMM_DSP_ELEM_HDR_WORDS (a list record's header)
_DSP_ELEM_HDR_WORDS = 4


def _dsp_elem(s, keep: np.ndarray, plan: dict) -> tuple[str, tuple[int, ...]]:
    """The DSP element-list kernel's loops (dtmm_dsp_make_elem_plan() and elem_conv()): 'pair' or 'list'
    mode and (filter x block epilogues, inner-loop iterations, plane words copied into fields, plane
    elements, blocks of every filter batch, field rows built from the input, record words built,
    receptive fields built, field elements built from the input, field rows copied from the plane).

    Pixels run in blocks of 4 across the whole map; filters in batches whose records fit the record
    scratch, and every batch builds the 4-pixel receptive fields again. `plan` is the C planner's
    (conv_plan["dsp_elem"] of the packer's summary): pair or list kernel, the int16 plane, record bytes."""
    K = s.kh * s.kw * s.cin
    per_filter = keep.reshape(s.cout, -1).sum(axis=1) * s.cin  # kept weights of each filter
    cap, pairs, plane = plan["rec_bytes"], plan["pairs"], int(plan["plane"])
    pixels = s.out_h * s.out_w
    blocks = ceil(pixels / 4)
    if pairs:
        pw = ((K + 1) // 2 + 1) & ~1
        per_batch = max(1, cap // (16 + 4 * pw))
        passes = ceil(s.cout / per_batch)
        inner = blocks * s.cout * (pw // 2)
    else:
        passes, used = 1, 0
        for n in per_filter:
            b = 4 * _DSP_ELEM_HDR_WORDS + 16 * ceil(int(n) / 4)
            if used + b > cap:
                passes, used = passes + 1, 0
            used += b
        inner = blocks * int(sum(ceil(int(n) / 4) for n in per_filter))
    ph = (s.out_h - 1) * s.stride_h + (s.kh - 1) * s.dilation_h + 1
    pwc = (s.out_w - 1) * s.stride_w + s.kw
    im2col = passes * pixels * (s.kh * ((s.kw * s.cin) // 2) if plane else K)
    # per call: each filter's record (pair kernel: its pair words; list: 4 words per 4 kept weights)
    record_words = s.cout * pw if pairs else int(sum(4 * ceil(int(n) / 4) for n in per_filter))
    # receptive fields from the int16 plane are word copies per kernel row; else built from the input
    # element by element (elem_field()), row by row
    fields = passes * pixels
    built = tuple(passes * c for c in _dsp_elem_fields(s)) if not plane else (0,) * 5
    return ("pair" if pairs else "list"), (blocks * s.cout, inner, im2col * plane, ph * pwc * s.cin if plane else 0,
                                           passes * blocks, fields * s.kh * (1 - plane), record_words, fields,
                                           fields * K * (1 - plane), fields * s.kh * plane) + built


def _dsp_elem_fields(s) -> tuple[int, int, int, int, int]:
    """How elem_field() builds every output pixel's receptive field from the input: (zero fills, their
    2-element steps, input runs, their 4-element steps, their single elements). Per pixel the rows above and
    below the input are one zero fill each; a row inside is one run (the whole kernel row when it is inside
    the input and undilated), else a zero fill, a run (a run per tap column when dilated) and a zero fill."""
    rows_in = _axis_valid(s.out_h, s.in_h, s.kh, s.stride_h, s.dilation_h, s.padding)  # [out_h, kh]
    cols_in = _axis_valid(s.out_w, s.in_w, s.kw, s.stride_w, s.dilation_w, s.padding)  # [out_w, kw]
    row_len = s.kw * s.cin
    zc = zw = rc = r4 = r1 = 0
    for x in range(s.out_w):
        nc = int(cols_in[x].sum())
        lead = int(np.argmax(cols_in[x])) * s.cin if nc else row_len
        mid = nc * s.cin
        trail = row_len - lead - mid
        whole = lead == 0 and trail == 0 and s.dilation_w == 1
        for y in range(s.out_h):
            nr = int(rows_in[y].sum())
            above = int(np.argmax(rows_in[y])) if nr else s.kh
            below = s.kh - above - nr
            for n in (above * row_len, below * row_len):  # the two zero fills around the rows inside
                zc, zw = zc + 1, zw + n // 2 + n % 2
            if whole:
                rc, r4, r1 = rc + nr, r4 + nr * (mid // 4), r1 + nr * (mid % 4)
                continue
            zc, zw = zc + 2 * nr, zw + nr * (lead // 2 + lead % 2 + trail // 2 + trail % 2)
            if s.dilation_w == 1:
                rc, r4, r1 = rc + nr, r4 + nr * (mid // 4), r1 + nr * (mid % 4)
            else:
                rc, r4, r1 = rc + nr * nc, r4 + nr * nc * (s.cin // 4), r1 + nr * nc * (s.cin % 4)
    return zc, zw, rc, r4, r1


#: dtmm_conv_mve_internal.h: DTMM_MVE_ELEM_HDR_BYTES, _CHUNK_BYTES (the record format)
_MVE_ELEM_HDR, _MVE_ELEM_CHUNK = 20, 36


def _mve_elem_chunks(kept_positions: np.ndarray, cin: int, K: int) -> int:
    """Chunks of one filter's record (elem_records()): ceil(kept elements / 16) for fields of at most 256
    elements, else a chunk also closes where the next kept element lies 256 or more bytes past its first."""
    positions = np.flatnonzero(kept_positions)
    if K <= 256:
        return ceil(len(positions) * cin / 16)
    elements = (positions[:, None] * cin + np.arange(cin)[None, :]).ravel()
    count, base, fill = 0, 0, 16
    for e in elements.tolist():
        if fill == 16 or e - base > 255:
            count, base, fill = count + 1, e, 0
        fill += 1
    return count


def _mve_elem(s, keep: np.ndarray, plan: dict) -> tuple[int, ...]:
    """The Helium element-list kernel's loops (dtmm_mve_elem_layout_compute() and elem_conv()): (filter x
    block epilogues, chunk x block gathers, receptive-field elements copied, chunk x block gathers with a
    chunk base (K > 256), field vectors gathered, field rows copied, field elements copied, record chunks
    built, record elements built one by one (K > 256), blocks of every filter batch).

    Pixels run in blocks of 4 across the whole map; filters in batches whose records (a header and
    16-element chunks of kept weights) fit the record scratch, each batch building the 4 receptive fields of
    every block again: by byte gathers, 16 elements at a time, when the field has at most 256 elements and
    every tap's offset fits a byte (elem_gather_init()), else row by row. Records of fields over 256
    elements are built (and their chunks counted) element by element. `plan` is the C layout's
    (conv_plan["mve_elem"] of the packer's summary): the record bytes of a filter batch."""
    K = s.kh * s.kw * s.cin
    n = keep.reshape(s.cout, -1).sum(axis=1) * s.cin
    chunks = [_mve_elem_chunks(row, s.cin, K) for row in keep.reshape(s.cout, -1)]
    cap = plan["rec_bytes"]
    passes, used = 1, 0
    for c in chunks:
        b = _MVE_ELEM_HDR + _MVE_ELEM_CHUNK * c
        if used + b > cap:
            passes, used = passes + 1, 0
        used += b
    pixels = s.out_h * s.out_w
    blocks = ceil(pixels / 4)
    reach = (s.kh - 1) * s.dilation_h * s.in_w * s.cin + (s.kw - 1) * s.dilation_w * s.cin + s.cin - 1
    gather = int(K <= 256 and reach <= 255)
    fields = passes * pixels
    wide = int(K > 256)
    row = s.kw * s.cin  # bytes of a field row: under 16 straight-line stores, else a vector loop
    copied = fields * s.kh * (1 - gather)
    dense = int(bool(keep.all()) and K <= 256)
    return (blocks * s.cout, blocks * sum(chunks), fields * K, blocks * sum(chunks) * wide,
            fields * ceil(K / 16) * gather, copied * (row < 16), copied * (row >= 16) * ceil(row / 16),
            sum(chunks) * (1 - wide), int(n.sum()) * wide, passes * blocks, copied * (row >= 16),
            int(keep.sum()) * (1 - wide) * (1 - dense))


def _mve_group_slots(group: str, kept_per_filter: np.ndarray, patch: bool, blocks: int,
                     cin: int) -> tuple[int, int, int]:
    """The Helium group kernels' extra filter slots (the record stream of dtmm_conv_s8_mve_with()):
    (filterlets of the filters that complete a short last group, leftover live filters a quad kernel runs
    one at a time, their filterlets), each per block. Quads (and the pg kernels) group 4 filters, pairs 2;
    a quad kernel runs the live filters beyond a multiple of 4 one by one, unless there are fewer than 4;
    a group is completed with an empty filter (one dummy filterlet) or a copy of the last live one. The pg
    kernels count chunks of 16 kept weights instead of filterlets and complete every short last group."""
    size = 4 if group in ("CONV_2D/mve_quad16", "CONV_2D/mve_quad32", "CONV_2D/mve_quad64", "CONV_2D/mve_pg") \
        else 2 if group.startswith("CONV_2D/mve_pair") else 1
    if size == 1:
        return (0, 0, 0)
    pg = group == "CONV_2D/mve_pg"
    live = [int(k) if not patch else 1 for k in kept_per_filter if k > 0]
    if pg:  # slots of the pg kernels are chunks of 16 kept weights, and every short last group is completed
        live = [ceil(k * cin / 16) for k in live]
    n_live, n_empty = len(live), len(kept_per_filter) - len(live)
    single, pad = (n_live % 4, 0) if size == 4 else (0, n_live % 2)
    if pg:
        single, pad = 0, -n_live % 4
    if 0 < n_live < size:
        single, pad = 0, size - n_live
    pad_empty = min(pad, n_empty)
    pad_filterlets = pad_empty + (pad - pad_empty) * (live[-1] if live else 1)
    single_filterlets = sum(live[n_live - single:]) if single else 0
    return (blocks * pad_filterlets, blocks * single, blocks * single_filterlets)


def _mve_items(keep: np.ndarray, cin: int) -> int:
    """Items of a layer in the Helium path's item mode (item_windows(), item_records()): a kernel row's
    kw*cin bytes are covered by 16-byte windows starting at filterlets (the last one ending at the row's
    end), and a filter runs each window of its rows whose counted filterlets hold a kept one."""
    cout, kh, kw = keep.shape
    row, last, start, windows = kw * cin, kw * cin - 16, 0, []
    while start < row:
        j0 = start // cin
        off = min(j0 * cin, last)
        windows.append((j0, (off + 15) // cin))  # the filterlets whose bytes it counts
        start = off + 16
    return int(sum(keep[:, :, j0:j1 + 1].any(axis=2).sum() for j0, j1 in windows))


def _mve_patches(s, plan: dict | None, blocks: int) -> tuple[int, int]:
    """Patch mode's im2col (run_blocks()): each of a block's 4 fields is gathered 16 bytes at a time when every
    tap offset of a field fits a byte, else copied kernel row by kernel row. (vectors gathered, rows copied)"""
    if plan is None:
        return (0, 0)
    row_step = plan["pitch"] * (s.dilation_h if plan["rows"] != _MVE_ROWS_EDGE else 1)
    gather = int((s.kh - 1) * row_step + (s.kw - 1) * s.dilation_w * s.cin + s.cin - 1 <= 255)
    return (blocks * 4 * (plan["cin_eff"] // 16) * gather, blocks * 4 * s.kh * (1 - gather))


#: dtmm_conv_mve_internal.h: DTMM_MVE_ROWS_WINDOW, DTMM_MVE_ROWS_EDGE
_MVE_ROWS_WINDOW, _MVE_ROWS_EDGE = 1, 2


def _mve_rows(s, plan: dict | None, out_h: int, out_w: int, in_w: int) -> tuple[int, ...]:
    """How the Helium path's group and generic kernels get their input rows (run_layer(), from the plan the
    packer's probe read from the C layout code): (edge-patch blocks, their kernel rows, their 16-byte
    vectors; window rows appended, their vectors, vectors moved when the window is compacted; rows ending in
    a partial block). A block of edge patches is also a kernel call of its own."""
    if plan is None:
        return (0,) * 7
    eff_h = (s.kh - 1) * s.dilation_h + 1
    last = out_h * int(out_w % 4 != 0)
    if plan["rows"] == _MVE_ROWS_EDGE:
        blocks = out_h * plan["n_blocks"]
        return (blocks, blocks * s.kh, blocks * s.kh * ceil(plan["edge_w"] * s.cin / 16), 0, 0, 0, last)
    if plan["rows"] == _MVE_ROWS_WINDOW:
        appended = min((out_h - 1) * s.stride_h + eff_h, out_h * eff_h)
        copy = min(in_w, plan["ring_w"] - s.pad_left)
        keep = max(eff_h - s.stride_h, 0)
        compactions = appended // max(plan["win_rows"] - keep, 1)
        return (0, 0, 0, appended, appended * ceil(copy * s.cin / 16),
                compactions * keep * ceil(plan["pitch"] / 16), last)
    return (0, 0, 0, 0, 0, 0, last)


def _dsp_band(s, plan: dict | None, keep: np.ndarray, out_h: int, in_h: int) -> tuple[int, ...]:
    """The DSP band kernel's loops (band_conv(), from the plan the packer's probe read from the C code):
    (filter batches, input rows expanded into the band, band words written, kernel calls per tile and
    output row, weight bytes repacked, band words of a last channel group of 1-3 channels, 32-byte steps
    zeroing a slot for a row above or below the input). Per filter batch (cin % 4 != 0: as many filters as
    the repack budget holds) and column tile, every output row expands the input rows its kernel rows need
    into the band's row slots, unless the slot still holds that row (a ring of slots when the dilated kernel
    is at most twice its height); a row is expanded for each band phase (input column modulo the stride) a
    kept tap uses, in groups of 4 channels; a row outside the input zeroes its whole slot instead."""
    if plan is None:
        return (0,) * 7
    cin4 = 4 * plan["groups"]
    per_filter = keep.reshape(keep.shape[0], -1).sum(axis=1)
    passes, used = 1, 0
    if plan["repack"]:
        for n in per_filter:
            if used + int(n) * cin4 > plan["repack_bytes"] and used:
                passes, used = passes + 1, 0
            used += int(n) * cin4
    rows_needed = keep.any(axis=(0, 2))
    phases = len({(j * s.dilation_w) % s.stride_w for j in np.flatnonzero(keep.any(axis=(0, 1)))})
    tags, expansions, zeroed = {}, 0, 0
    for y in range(out_h):
        for i in range(s.kh):
            iy = y * s.stride_h - s.pad_top + i * s.dilation_h
            slot = iy % plan["slots"] if plan["ring"] else i
            if rows_needed[i] and tags.get(slot) != iy:
                tags[slot] = iy
                if 0 <= iy < in_h:
                    expansions += 1
                else:
                    zeroed += 1
    tiles = ceil(plan["blocks"] / plan["tile_blocks"])
    expanded = passes * tiles * expansions
    words = expanded * phases * plan["cols"] * plan["groups"]
    slot_steps = plan["groups"] * plan["phases"] * plan["cols"] // 4  # a slot's bytes / 32
    # (cin % 4 != 0: the last group of every column is widened from 1-3 channels, a slower step)
    return (passes, expanded, words, passes * tiles * out_h, int(keep.sum()) * cin4 * plan["repack"],
            words // plan["groups"] * int(s.cin % 4 != 0), passes * tiles * zeroed * slot_steps)


def _conv(model: TfliteModel, op, path: str, row: dict) -> tuple[str, str, tuple, str]:
    layer = conv_layer(model, op)
    s = layer.spec
    keep = np.any(layer.weights != 0, axis=3)  # [cout, kh, kw]
    if fwcs.choose_encoding(s, keep) == "dense":  # what `dtmm pack` stores: a DENSE blob computes every filterlet
        keep = np.ones_like(keep)
    kept = int(keep.sum())
    live = keep.reshape(s.cout, -1).any(axis=1)
    kept_filters = int(live.sum())
    out_h, out_w, in_h, in_w = s.out_h, s.out_w, s.in_h, s.in_w
    if (s.kh, s.kw, s.stride_h, s.stride_w) == (1, 1, 1, 1) and (in_h, in_w) == (out_h, out_w) and out_h > 1 \
            and out_h * out_w <= 0xFFFF:  # a 1x1 layer runs as one row (dtmm_conv_flatten())
        out_h, out_w, in_h, in_w = 1, out_h * out_w, 1, out_h * out_w
    pixels = out_h * out_w
    blocks = out_h * ceil(out_w / 4)  # 4-pixel blocks of an output row, the SIMD kernels' unit
    # filters whose requantization is not the fast exact form (multiplier >= 2^30, right shift >= 2):
    # the SIMD paths finish them with a scalar pass; a clamp narrower than int8 is another pass
    fast = (layer.multiplier >= (1 << 30)) & (layer.shift <= -2)
    slow = int((~fast & live).sum())
    clamp = int(s.act_min > -128 or s.act_max < 127)
    field = s.kh * s.kw * s.cin
    padding = int(s.padding == "same" and (s.kh > 1 or s.kw > 1))
    variant = (row.get("conv_variants") or {}).get(path, "portable")
    shape = f"{s.kh}x{s.kw}/{s.stride_h} {s.padding} {s.in_h}x{s.in_w}x{s.cin} -> {s.cout} kept {kept}/{s.cout * s.kh * s.kw}"
    group = f"CONV_2D/{variant_family(variant)}"
    if path == "mve":
        # patch mode (cin < 16, fields of at most 64 elements): fields gathered per pixel, dense weights
        patch = int(s.cin < 16 and field <= 64 and s.kh * s.kw <= 32)
        elem = int(s.kh * s.kw > 32)
        # element lists and the gather (pg) kernels: each filter's kept weights in chunks of 16 lanes; the
        # other patch-mode kernels multiply whole fields, pruned weights as zeros (no fewer chunks when pruned)
        pg = group == "CONV_2D/mve_pg"
        chunks = int(np.ceil(keep.reshape(s.cout, -1).sum(axis=1) * s.cin / 16).sum()) if pg or elem \
            else kept_filters * ceil(field / 16)
        sparse = 1 - patch - elem if not (patch and elem) else 0
        c16 = ceil(s.cin / 16)
        # the generic family (and item mode, which runs its kernel) ends a row of 1 or 2 extra pixels with its
        # tail kernel, not a whole block, and gives a filter with nothing kept one dummy filterlet of zeros
        gen = group in ("CONV_2D/mve_gen", "CONV_2D/mve_gen_loop", "CONV_2D/mve_items")
        tail_rows = out_h * int(gen and out_w % 4 in (1, 2))
        blocks -= tail_rows
        empties = s.cout - kept_filters
        counts = (1, s.cout, kept_filters, kept * c16 * sparse, pixels, out_h, blocks,
                  blocks * kept_filters, blocks * ceil(kept_filters / 4), blocks * ceil(kept_filters / 2),
                  blocks * kept * sparse, blocks * kept * c16 * sparse, out_h * (out_w % 4 != 0) * kept_filters,
                  pixels * field * patch, blocks * kept_filters * ceil(field / 16) * patch,
                  pixels * field * elem, blocks * kept * s.cin * elem, in_h * in_w * s.cin * padding,
                  pixels * slow, pixels * s.cout * clamp, pixels * (s.cout - kept_filters),
                  pixels * chunks * elem, blocks * chunks * patch)  # fmt: skip
        if group == "CONV_2D/mve_elem":
            counts += _mve_elem(s, keep, row["conv_plan"]["mve_elem"])
        else:
            counts += (0,) * 12
        counts += _mve_rows(s, (row.get("conv_plan") or {}).get("mve"), out_h, out_w, in_w)
        eff16 = ceil(field / 16) if patch and not elem else c16
        counts += (tail_rows * (kept * sparse + kept_filters * (1 - sparse) + empties * gen),
                   tail_rows * (kept * sparse + kept_filters * (1 - sparse) + empties * gen) * eff16,
                   blocks * empties * eff16 * gen)
        counts += _mve_group_slots(group, keep.reshape(s.cout, -1).sum(axis=1), bool(patch and not pg), blocks,
                                   s.cin)
        counts += (kept,)  # the records: a list entry or weight copy per kept filterlet, once per call
        items = _mve_items(keep, s.cin) if group == "CONV_2D/mve_items" else 0
        counts += (blocks * (items + empties * int(items > 0)), items)
        counts += _mve_patches(s, (row.get("conv_plan") or {}).get("mve"), blocks) if patch and not elem and not pg \
            else (0, 0)
        # rows read directly whose partial last block reads an edge patch of its own (kh = 1)
        last_edge = ((row.get("conv_plan") or {}).get("mve") or {}).get("last_edge", 0)
        counts += (out_h * int(out_w % 4 != 0) * int(last_edge),)
        # a row tail of 2 pixels loads a second input vector per 16-channel chunk (gen_tail2: 5 instructions
        # a chunk against gen_tail1's 3)
        counts += (out_h * int(gen and out_w % 4 == 2) * (kept * sparse + kept_filters * (1 - sparse) + empties * gen)
                   * eff16,)
        # (pg kernels are patch mode by definition and scale with the kept weights: a family of their own, outside
        # the CONV_2D/*/patch umbrella of the dense-field kernels)
        return group + ("/patch" if patch and not elem and not pg else ""), "conv_mve", counts, shape
    # element-list kernels: whole receptive fields in int16 pairs (pruned weights as zeros) when at least
    # 3/8 of the filterlets are kept and a field has at most 512 elements, else a list of kept weights
    pairs = int(8 * kept >= 3 * s.cout * s.kh * s.kw and field <= 512)
    # ... whose fields are word copies from a zero-padded int16 copy of the input when it is small
    padded = (in_h + s.kh) * (in_w + s.kw) * s.cin * 2
    plane = int(s.dilation_w == 1 and (s.kw * s.cin) % 2 == 0 and padded <= 4096)
    phases = len({(j * s.dilation_w) % s.stride_w for j in range(s.kw)})  # input column phases of a stride
    # portable path: pixels whose every tap is inside the input run a cheaper loop than border pixels,
    # and adjacent kept filterlets of a kernel row are one dot product (a "run")
    interior = _inside(s.out_h, s.in_h, s.kh, s.stride_h, s.dilation_h, s.padding) * \
        _inside(s.out_w, s.in_w, s.kw, s.stride_w, s.dilation_w, s.padding)
    walk = int(s.kh * s.kw > 32)  # no 32-bit position masks: the portable path walks the index itself
    bitmap = int(fwcs.choose_encoding(s, keep) == "bitmap")  # ... testing every position of a bitmap
    if s.dilation_w == 1:
        starts = keep & ~np.concatenate([np.zeros_like(keep[:, :, :1]), keep[:, :, :-1]], axis=2)
        runs = int(starts.sum())
    else:
        runs = kept
    counts = (1, s.cout, kept_filters, kept, pixels, out_h, pixels * s.cout, pixels * kept_filters,
              pixels * kept, pixels * kept * ceil(s.cin / 4), pixels * kept * ceil(s.cin / 16), pixels * kept * s.cin,
              pixels * field, in_h * in_w * s.cin,
              blocks, blocks * s.cout, blocks * kept, blocks * kept * ceil(s.cin / 4),
              out_h * in_w * ceil(s.cin / 4) * s.kh, in_h * in_w * ceil(s.cin / 4),
              in_h * in_w * ceil(s.cin / 4) * phases, pixels * slow, pixels * s.cout * clamp,
              blocks * kept_filters * ceil(field / 2) * pairs, blocks * kept * s.cin * (1 - pairs),
              pixels * field * pairs * plane, interior * kept * s.cin, (pixels - interior) * kept * s.cin,
              pixels * runs, pixels * kept * s.cin * walk, pixels * s.cout * s.kh * s.kw * walk * bitmap)  # fmt: skip
    band = _dsp_band(s, row["conv_plan"]["dsp"], keep, out_h, in_h) if group == "CONV_2D/dsp_band" \
        else (0,) * 7
    elem = (0,) * 15
    # portable C: interior pixels of a row run in pairs that share every weight load, an odd last one alone
    ih = _inside(out_h, in_h, s.kh, s.stride_h, s.dilation_h, s.padding)
    iw = _inside(out_w, in_w, s.kw, s.stride_w, s.dilation_w, s.padding)
    pairing = (ih * (iw // 2), ih * (iw % 2) * kept * s.cin)
    if group == "CONV_2D/dsp_elem":
        mode, elem = _dsp_elem(s, keep, row["conv_plan"]["dsp_elem"])
        group += "/" + mode
    elif group == "CONV_2D/portable":
        # three kernels in one (dtmm_conv_s8_c.c): kernels of more than 32 taps walk the index per pixel;
        # DENSE blobs run a run per kernel row, packed ones the listed runs of each filter
        group += "/walk" if s.kh * s.kw > 32 else "/dense" if keep.all() else "/sparse"
    portable = (0,) * 28  # the portable kernels' loops: the pair / single / border kernels', then the walk's
    if group in ("CONV_2D/portable/dense", "CONV_2D/portable/sparse"):
        portable = _portable_conv(s, keep, out_h, out_w, in_h, in_w) + (0,) * 3
    elif group == "CONV_2D/portable/walk":  # its loops counted exactly, without the other kernels' counts
        names = CONV_COUNTS[:len(counts)]
        counts = tuple(c if n in _WALK_SHARED else 0 for n, c in zip(names, counts))
        elem, band, pairing = (0,) * len(elem), (0,) * len(band), (0,) * len(pairing)
        portable = (0,) * 25 + _portable_walk(s, keep, out_h, out_w, in_h, in_w)
    return group, "conv", counts + elem + band + pairing + portable, shape


#: dtmm_depthwise_conv_s8_mve.c: DW_LANE_PX, DW_MVE_PLANE, DW_MVE_BUF, DW_MVE_MAX_TAPS
_DW_MVE_LANE_PX, _DW_MVE_PLANE, _DW_MVE_BUF, _DW_MVE_MAX_TAPS = 64, 3072, 256, 100


def _mve_depthwise_path(in_hw, out_hw, k, stride, dilation, cin, mult) -> str:
    """The Helium depthwise kernel dtmm_depthwise_conv_s8_mve() runs (its lane_fits()/plane_fits() rules):
    'lane', 'plane_s1' / 'plane_s2' (3x3 planes), 'plane' (other kernels) or 'column'."""
    (in_h, in_w), (out_h, out_w), (kh, kw), (sh, sw), (dh, dw) = in_hw, out_hw, k, stride, dilation
    if mult == 1 and cin >= 8 and out_h * out_w <= _DW_MVE_LANE_PX and kh * kw <= _DW_MVE_MAX_TAPS:
        return "lane"
    if out_w < out_h:  # the plane path runs the op transposed
        in_h, in_w, out_h, out_w, kh, kw, sh, sw, dh, dw = in_w, in_h, out_w, out_h, kw, kh, sw, sh, dw, dh
        in_px = in_w * cin
    else:
        in_px = cin
    k33 = (kh, kw, dh, dw) == (3, 3, 1, 1)
    kind = "plane_s1" if k33 and (sh, sw) == (1, 1) else "plane_s2" if k33 and (sh, sw) == (2, 2) else "plane"
    ow4 = (out_w + 3) & ~3
    wp = ((out_w if kind == "plane_s1" else ow4) - 1) * sw + (kw - 1) * dw + 1
    hp = (out_h - 1) * sh + (kh - 1) * dh + 1
    row_sums = wp if kind == "plane_s1" else ow4
    if wp * hp <= _DW_MVE_PLANE and kh * kw <= _DW_MVE_MAX_TAPS and row_sums <= _DW_MVE_BUF and in_px * 7 <= 65535:
        return kind
    return "column"


#: dtmm_depthwise_conv_s8_dsp.c: DW_DSP_PLANE (int16 elements), DW_DSP_MAX_TAPS
_DW_DSP_PLANE, _DW_DSP_MAX_TAPS = 2048, 32


def _dsp_depthwise_path(out_hw, k, stride, dilation, mult) -> str:
    """The DSP depthwise kernel dtmm_depthwise_conv_s8_dsp() runs (dsp_plane_fits(), group_path()):
    'plane_s1' / 'plane_s2' (3x3 planes), 'plane' (other kernels, depth multipliers), 'group' (channels
    in fours) or 'portable'."""
    (out_h, out_w), (kh, kw), (sh, sw), (dh, dw) = out_hw, k, stride, dilation
    k33 = (kh, kw, dh, dw) == (3, 3, 1, 1)
    s1, s2 = (sh, sw) == (1, 1), (sh, sw) == (2, 2)
    group = "group" if kh * kw <= _DW_DSP_MAX_TAPS else "portable"
    if mult == 1 and not (k33 and ((s1 and out_h * out_w >= 16) or (s2 and out_h * out_w >= 64))):
        return group
    if out_w < out_h:  # the plane path runs the op transposed
        out_h, out_w, kh, kw, sh, sw, dh, dw = out_w, out_h, kw, kh, sw, sh, dw, dh
    wp = (out_w - 1) * sw + (kw - 1) * dw + 2
    if (_DW_DSP_PLANE - 2) // wp < (kh - 1) * dh + 1 or kh * kw > _DW_DSP_MAX_TAPS:
        return group if mult == 1 else "portable"
    return "plane_s1" if k33 and s1 else "plane_s2" if k33 and s2 else "plane"


def _depthwise(model: TfliteModel, op, path: str) -> tuple[str, str, tuple]:
    _, in_h, in_w, cin = _shape(model, op.inputs[0])
    _, kh, kw, cout = _shape(model, op.inputs[1])
    _, out_h, out_w, _ = _shape(model, op.outputs[0])
    pixels = out_h * out_w
    opts = op.options
    mult = cout // max(cin, 1)
    # outputs whose window crosses the padded border (the kernels take a slower path there)
    inner_h = max(0, min(out_h, (in_h - kh) // max(opts.strideH, 1) + 1))
    inner_w = max(0, min(out_w, (in_w - kw) // max(opts.strideW, 1) + 1))
    edge = (pixels - inner_h * inner_w) * cout
    # the SIMD paths pick a kernel by kernel shape, stride and map size, and run channels in fours or
    # in vectors of 16 (the leftovers one at a time); gated counts let each regime have its own cost
    outputs = pixels * cout
    k33 = (kh, kw) == (3, 3)
    s1 = opts.strideH == opts.strideW == 1
    small = pixels <= 64
    lane = int(small and mult == 1 and cout >= 8)  # Helium: channels on lanes, pixel by pixel
    plane = int(not lane and (in_h + kh - 1) * (in_w + kw - 1) * 2 <= 3072)  # a padded int16 channel plane
    plane3x3 = int(mult > 1 or (k33 and ((s1 and pixels >= 16) or (not s1 and pixels >= 64))))  # DSP plane path
    counts = (1, cout, pixels, out_h, outputs, out_h * cout, outputs * kh * kw, in_h * in_w * cin, edge,
              outputs * (k33 and s1), outputs * (k33 and not s1), outputs * small, outputs * kh * kw * small,
              pixels * (cout % 4), pixels * (cout % 16), outputs * lane, outputs * kh * kw * lane,
              outputs * plane, outputs * kh * kw * plane, in_h * in_w * cin * plane,
              outputs * plane3x3)  # fmt: skip
    # the plane paths run the op in plane orientation (transposed when out_w < out_h), each output row in
    # groups of 4 outputs (the last one partly idle), every group one multiply per tap
    (oh, ow, th, tw) = (out_w, out_h, kw, kh) if out_w < out_h else (out_h, out_w, kh, kw)
    quads = cout * oh * ceil(ow / 4)
    counts += (quads, quads * th * tw, quads * th, cout * kh * kw)
    group = "DEPTHWISE_CONV_2D"
    stride, dilation = (opts.strideH, opts.strideW), (opts.dilationHFactor, opts.dilationWFactor)
    if path == "mve":  # each SIMD path picks among kernels that differ far more than the shared counts
        group += "/mve_" + _mve_depthwise_path((in_h, in_w), (out_h, out_w), (kh, kw), stride, dilation, cin, mult)
    elif path == "dsp":
        group += "/dsp_" + _dsp_depthwise_path((out_h, out_w), (kh, kw), stride, dilation, mult)
    # the portable kernel (dtmm_depthwise_conv_s8_c), where it runs: per output pixel only the taps inside
    # the input, channels in fours (depth multiplier 1; the last cout % 4 one by one) or one by one
    portable = (0,) * 6
    if path == "c" or group.endswith("/dsp_portable"):
        padding = "same" if opts.padding == _schema().Padding.SAME else "valid"
        rows_in = int(_axis_valid(out_h, in_h, kh, opts.strideH, opts.dilationHFactor, padding).sum()) * out_w
        taps_in = rows_in // out_w * int(_axis_valid(out_w, in_w, kw, opts.strideW, opts.dilationWFactor,
                                                     padding).sum())
        n_quads = cout // 4 if mult == 1 else 0
        n_single = cout - 4 * n_quads
        portable = (n_quads * pixels, n_quads * rows_in, n_quads * taps_in, n_single * pixels, n_single * rows_in,
                    n_single * taps_in)
        # its loops are counted exactly: the SIMD kernels' counts would only let a fit on few shapes (the DSP
        # path's fallback sees few) trade them against the taps
        counts = tuple(c if name in _PORTABLE_DEPTHWISE_SHARED else 0 for name, c in zip(DEPTHWISE_COUNTS, counts))
    elif path in _DEPTHWISE_OTHER_PATH:  # a SIMD kernel: not the other SIMD path's gates
        counts = tuple(0 if name in _DEPTHWISE_OTHER_PATH[path] else c for name, c in zip(DEPTHWISE_COUNTS, counts))
    counts += portable
    if mult > 1:
        group += "/multiplier"
    shape = f"{kh}x{kw}/{opts.strideH} {in_h}x{in_w}x{cin} -> {cout}"
    return group, "depthwise", counts, shape


def _fully_connected(model: TfliteModel, op) -> tuple[str, str, tuple]:
    w = model.tensor_data(op.inputs[1])
    n_out, n_in = (int(d) for d in model.tensors[op.inputs[1]].shape)
    batch = max(1, model.tensors[op.outputs[0]].size // max(n_out, 1))
    kept = int(np.any(np.asarray(w) != 0, axis=1).sum()) if w is not None else n_out
    counts = (1, batch * n_out, batch * kept, batch * n_in, batch * kept * n_in, batch * kept * ceil(n_in / 4),
              batch * kept * ceil(n_in / 16))  # fmt: skip
    # the SIMD kernels run the rows four at a time (sharing each input load), 4 (DSP) or 16 (Helium) inputs
    # per step, the DSP path the last in_features % 4 one by one; leftover rows one at a time
    quads, singles = batch * (n_out // 4), batch * (n_out % 4)
    counts += (quads, quads * (n_in // 4), quads * ceil(n_in / 16), quads * (n_in % 4), singles,
               singles * (n_in // 4), singles * ceil(n_in / 16), singles * (n_in % 4), batch * int(n_out % 4 != 0))
    return "FULLY_CONNECTED", "fc", counts, f"{batch}x{n_in} -> {n_out} kept {kept}"


def _pool(model: TfliteModel, op) -> tuple[str, str, tuple]:
    in_shape = _shape(model, op.inputs[0])
    _, out_h, out_w, c = _shape(model, op.outputs[0])
    opts = op.options
    window = int(opts.filterHeight) * int(opts.filterWidth)
    pixels = out_h * out_w
    # windows of more than 256 values take another kernel; SAME windows clipped at the border another loop
    large = int(window > 256)
    same = int(opts.padding == _schema().Padding.SAME and window > 1)
    counts = (1, pixels, pixels * c, pixels * c * window, prod(in_shape), pixels * c * window * large,
              pixels * c * same)
    return op.opcode, "pool", counts, f"{opts.filterHeight}x{opts.filterWidth}/{opts.strideH} {in_shape} -> {out_h}x{out_w}x{c}"


def _mean(model: TfliteModel, op) -> tuple[str, str, tuple, str]:
    in_shape = _shape(model, op.inputs[0])
    n_in, n_out = prod(in_shape), max(1, prod(_shape(model, op.outputs[0])))
    summed = n_in // n_out
    large = int(summed > 256)
    # channels kept innermost: the DSP kernel sums them in quads (the last c % 4 one by one), the Helium
    # kernel in vectors of 8 (of 4 beyond 256 values); a reduction over channels runs portable C
    out_shape = _shape(model, op.outputs[0])
    c = in_shape[-1] if out_shape and out_shape[-1] == in_shape[-1] else 0
    sets = n_out // c if c else 0  # output vectors of c channels
    counts = (1, n_out, n_in, n_out * large, n_in * large, sets * summed * (c // 4), sets * summed * (c % 4),
              sets * summed * ceil(c / 8) * (1 - large), sets * summed * ceil(c / 4) * large,
              sets * ceil(c / 8) * (1 - large), sets * ceil(c / 4) * large)  # (per step: setup, requantization)
    return "MEAN", "reduce", counts, f"{list(in_shape)} -> {n_out}"


#: the activations `dtmm pack` lowers to one 256-entry table (dtmm_lookup_s8): one kernel, one fit
LOOKUP_OPS = ("RELU", "RELU6", "LEAKY_RELU", "LOGISTIC", "TANH", "HARD_SWISH")


def _strided_copy(model: TfliteModel, op) -> tuple[str, int]:
    """TRANSPOSE and STRIDED_SLICE run one strided gather (dtmm_strided_copy_s8) over the lowering's merged
    axes: a memcpy per row when the innermost axis is contiguous, element by element otherwise. (group,
    rows the kernel walks)."""
    shape, strides = strided_copy_layout(model, op)
    rows = prod(shape) // max(shape[-1], 1)
    return "STRIDED_COPY/" + ("rows" if strides[-1] == 1 else "gather"), rows


def _walk_rows(model: TfliteModel, op) -> int:
    """Row calls of the broadcast walk (dtmm_broadcast_walk.h) on the lowering's merged axes."""
    try:
        layout = broadcast_layout(_shape(model, op.inputs[0]), _shape(model, op.inputs[1]), _shape(model, op.outputs[0]))
    except ValueError:
        return 1
    return 1 if layout is None else prod(layout[0][:-1])


def _elementwise(model: TfliteModel, op, row: dict) -> tuple[str, str, tuple]:
    out_shape = _shape(model, op.outputs[0])
    n_out = prod(out_shape)
    n_in = sum(prod(_shape(model, t)) for t in op.inputs if t >= 0 and model.tensor_data(t) is None)
    rows = n_out // max(out_shape[-1], 1) if out_shape else 1
    group = op.opcode
    if group in LOOKUP_OPS:
        group = "LOOKUP"
    elif group in ("TRANSPOSE", "STRIDED_SLICE"):
        group, rows = _strided_copy(model, op)
    variant = (row.get("add_variants") or {})
    n_inputs = sum(1 for t in op.inputs if t >= 0 and model.tensor_data(t) is None)
    walk = _walk_rows(model, op) if op.opcode in ("ADD", "SUB", "MUL") else 0
    return group, "elementwise", (1, n_out, n_in, rows, n_inputs, walk), variant, f"{list(out_shape)}"


#: dtmm_conv_groups_internal.h: group sizes with Helium assembly bodies, most groups per filter of the SIMD paths
_MVE_ASM_GROUPS, _SIMD_MAX_GROUPS = (16, 32, 64), 32


def groups_blob_of(model: TfliteModel, op) -> bytes | None:
    """The FWCS GROUPS blob `dtmm pack` lowers a CONV_2D or FULLY_CONNECTED to, None if it lowers it otherwise."""
    if op.opcode == "FULLY_CONNECTED":
        return fc_groups_blob(model, op)
    if _shape(model, op.inputs[1])[1:3] != (1, 1):  # GROUPS stores 1x1 layers only: no need to read the weights
        return None
    layer = conv_layer(model, op)
    return groups_blob(layer.weights, layer.bias, layer.multiplier, layer.shift, layer.spec)


def _groups(model: TfliteModel, op, path: str, row: dict, blob: bytes) -> tuple[str, str, tuple, str]:
    """A GROUPS blob's loops (dtmm_conv_groups_s8_c.c, groups_conv in dtmm_conv_s8_dsp_with.c,
    dtmm_conv_groups_s8_mve.c); a FULLY_CONNECTED runs it once per batch row."""
    layer = fwcs.decode(blob)
    s, g = layer.spec, layer.header.group
    keep = layer.group_keep
    n_groups = s.cin // g
    kept = int(keep.sum())
    calls = 1
    if op.opcode == "FULLY_CONNECTED":
        calls = prod(_shape(model, op.outputs[0])) // s.cout
    pixels = s.out_h * s.out_w
    if path == "dsp":  # 4-pixel blocks over the whole map, the last one padded; under 4 pixels one at a time
        blocks, tail = (ceil(pixels / 4), 0) if pixels >= 4 else (0, pixels)
    else:  # Helium: 4-pixel blocks, then the leftover pixels one at a time (portable C: pixel counts only)
        blocks, tail = pixels // 4, pixels % 4
    fast = (layer.multiplier >= (1 << 30)) & (layer.shift <= -2)
    slow_kept = int(keep[~fast].sum())
    clamp = int(s.act_min > -128 or s.act_max < 127)
    c4, c16 = ceil(g / 4), ceil(g / 16)
    row_bytes = (n_groups + 7) // 8
    counts = (1, s.cout, kept, kept * g, pixels, blocks, blocks * 4 * s.cin, blocks * ceil(s.cout / 4),
              blocks * s.cout, blocks * kept, blocks * kept * c4, blocks * kept * c16,
              tail, tail * s.cout, tail * kept, tail * kept * c4, tail * kept * c16,
              pixels * s.cout, pixels * s.cout * row_bytes, pixels * kept, pixels * kept * g,
              pixels * int((~fast).sum()), pixels * slow_kept * g, pixels * s.cout * clamp,
              pixels * s.cin, s.cout * n_groups, blocks * s.cout * row_bytes, blocks * n_groups)  # fmt: skip
    variant = (row.get("conv_variants") or {}).get(path, "portable")
    group = f"GROUPS/{variant}"
    if variant == "mve_groups":
        group += "/asm" if g in _MVE_ASM_GROUPS and n_groups <= _SIMD_MAX_GROUPS else "/any"
    shape = (f"{op.opcode} 1x1/{s.stride_h} {s.in_h}x{s.in_w}x{s.cin} -> {s.cout} groups of {g}: "
             f"kept {kept}/{s.cout * n_groups}")  # fmt: skip
    return group, "groups", tuple(calls * c for c in counts), shape


def op_features(model: TfliteModel, summary: dict, board: Board) -> list[OpFeatures]:
    """Features of every operator of a packed model that runs code (pure reshapes cost nothing).

    `summary` is the packer's summary (``PackedModel.summary``) of `model`."""
    path = board_path(board)
    out = []
    for row in summary["ops"]:
        if not row["code"]:
            continue
        op = model.operators[row["index"]]
        name = op.opcode
        blob = groups_blob_of(model, op) if row.get("conv_variants") and name in ("CONV_2D", "FULLY_CONNECTED") \
            and row.get("conv_storage", "fwcs") == "fwcs" else None
        if blob is not None:  # a 1x1 conv or FC stored by channel groups: its own operator for the cost model
            group, kind, counts, shape = _groups(model, op, path, row, blob)
            out.append(OpFeatures(row["label"], "GROUPS", group, kind, tuple(float(c) for c in counts), shape))
            continue
        if name == "CONV_2D":
            group, kind, counts, shape = _conv(model, op, path, row)
        elif name == "DEPTHWISE_CONV_2D":
            group, kind, counts, shape = _depthwise(model, op, path)
        elif name == "FULLY_CONNECTED":
            group, kind, counts, shape = _fully_connected(model, op)
        elif name in ("AVERAGE_POOL_2D", "MAX_POOL_2D"):
            group, kind, counts, shape = _pool(model, op)
        elif name == "MEAN":
            group, kind, counts, shape = _mean(model, op)
        else:
            group, kind, counts, variants, shape = _elementwise(model, op, row)
            if name == "ADD" and variants.get(path):
                table = "table" if prod(_shape(model, op.outputs[0])) >= ADD_TABLE_MIN_ELEMENTS else "direct"
                group = f"ADD/{variants[path]}/{table}"
        if len(counts) != len(COUNTS_OF_KIND[kind]):  # a count added to a kind without its name, or the reverse
            raise AssertionError(f"{name}: {len(counts)} counts for the {len(COUNTS_OF_KIND[kind])} names of {kind}")
        out.append(OpFeatures(row["label"], name, group, kind, tuple(float(c) for c in counts), shape))
    if not out and summary["ops"]:
        raise DtmmError(f"{model.source}: no operator runs code")
    return out
