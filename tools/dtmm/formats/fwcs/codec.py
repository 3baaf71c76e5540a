"""FWCS codec: one packed int8 CONV_2D layer as a self-describing byte blob.

The byte layout is specified in docs/fwcs.md; this module is its executable
twin. It is the contract between the Python tools (which encode) and the C
kernels (which only read), so encoding is deterministic and `validate` rejects
anything a kernel could misread, naming the problem in one line.
"""
from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass

import numpy as np

from ...errors import DtmmError

MAGIC = b"FWCS"
VERSION = 1
HEADER_SIZE = 80
CRC_OFFSET = 72  # the u32 crc32 field; taken as zero while computing the CRC

ENC_DENSE = 0
ENC_BITMAP = 1
ENC_LIST = 2
ENC_GROUPS = 3  # channel groups of a 1x1 layer (docs/fwcs.md 5.5)
ENCODINGS = {"dense": ENC_DENSE, "bitmap": ENC_BITMAP, "list": ENC_LIST, "groups": ENC_GROUPS}
ENCODING_NAMES = {v: k for k, v in ENCODINGS.items()}

FLAG_DENSE_FALLBACK = 0x0001  # DENSE layer that stores at least one all-zero filterlet
KNOWN_FLAGS = FLAG_DENSE_FALLBACK

PADDING_VALID = 0
PADDING_SAME = 1
_PADDING_CODES = {"valid": PADDING_VALID, "same": PADDING_SAME}

LIST_MAX_POSITIONS = 255  # a LIST count is a u8, and may equal kh*kw
#: most multiply-accumulates per output (cin*kh*kw): 65,793 products of magnitude <= 128*255 keep every int32
#: partial sum of every kernel exact; a larger layer is valid FWCS but no kernel runs it (docs/fwcs.md 10)
MAX_TAPS = 65793
GROUP_MAX = 255  # the header's group field is a u8
# Group sizes `encode(group="auto")` tries, widest first (64 = what Helium fully connected layers want,
# 16 = one Helium vector, 4 = one DSP word); ties in size go to the wider group.
AUTO_GROUPS = (64, 32, 16, 8, 4)
# ... and only where at most this fraction of the groups is kept: denser layers run faster dense.
AUTO_GROUP_MAX_DENSITY = 0.75
WEIGHTS_ALIGN = 16

# Little-endian, no implicit padding; field order and offsets as in docs/fwcs.md.
_HEADER = struct.Struct("<4sBBH" "HH" "8B" "6H" "2i" "2bH" "I" "6I" "I" "I")
assert _HEADER.size == HEADER_SIZE

INT32_MIN = -(1 << 31)
INT32_MAX = (1 << 31) - 1


class FwcsError(DtmmError):
    """A malformed FWCS blob or an unencodable layer; the message names the problem."""


def _align(n: int, a: int) -> int:
    return (n + a - 1) // a * a


def _out_size(in_size: int, k: int, stride: int, dilation: int, padding: str) -> int:
    """Output extent by TFLite's rule (ComputeOutSize): SAME = ceil(in/s), VALID = ceil((in-eff+1)/s)."""
    eff = (k - 1) * dilation + 1
    if padding == "same":
        return (in_size + stride - 1) // stride
    return (in_size - eff + stride) // stride


def _pad_before(in_size: int, out_size: int, k: int, stride: int, dilation: int) -> int:
    """Leading padding by TFLite's rule: total = max(0, (out-1)*s + eff - in); before = total // 2."""
    eff = (k - 1) * dilation + 1
    return max(0, (out_size - 1) * stride + eff - in_size) // 2


@dataclass(frozen=True)
class ConvSpec:
    """Geometry and quantization of one batch-N NHWC int8 CONV_2D layer.

    Offsets follow TFLite: input_offset = -input_zero_point, output_offset =
    output_zero_point; act_min/act_max already include any fused ReLU/ReLU6.
    """

    cout: int
    cin: int
    kh: int
    kw: int
    in_h: int
    in_w: int
    stride_h: int = 1
    stride_w: int = 1
    dilation_h: int = 1
    dilation_w: int = 1
    padding: str = "valid"
    input_offset: int = 0
    output_offset: int = 0
    act_min: int = -128
    act_max: int = 127

    def __post_init__(self):
        for name in ("cout", "cin", "in_h", "in_w"):
            v = getattr(self, name)
            if not isinstance(v, (int, np.integer)) or not 1 <= v <= 0xFFFF:
                raise FwcsError(f"bad conv spec: {name}={v!r} is not in [1, 65535]")
        for name in ("kh", "kw", "stride_h", "stride_w", "dilation_h", "dilation_w"):
            v = getattr(self, name)
            if not isinstance(v, (int, np.integer)) or not 1 <= v <= 0xFF:
                raise FwcsError(f"bad conv spec: {name}={v!r} is not in [1, 255]")
        if self.padding not in _PADDING_CODES:
            raise FwcsError(f"bad conv spec: padding={self.padding!r} is not 'same' or 'valid'")
        if not -127 <= self.input_offset <= 128:
            raise FwcsError(f"bad conv spec: input_offset={self.input_offset} is not -(int8 zero point)")
        if not -128 <= self.output_offset <= 127:
            raise FwcsError(f"bad conv spec: output_offset={self.output_offset} is not an int8 zero point")
        if not -128 <= self.act_min <= self.act_max <= 127:
            raise FwcsError(f"bad conv spec: activation range [{self.act_min}, {self.act_max}] is not within int8")
        if self.out_h < 1 or self.out_w < 1:
            raise FwcsError(
                f"bad conv spec: VALID {self.kh}x{self.kw} kernel (dilation {self.dilation_h}x{self.dilation_w}) "
                f"does not fit the {self.in_h}x{self.in_w} input"
            )
        if max(self.out_h, self.out_w, self.pad_top, self.pad_left) > 0xFFFF:
            raise FwcsError("bad conv spec: output size or padding exceeds 65535")

    @property
    def out_h(self) -> int:
        return _out_size(self.in_h, self.kh, self.stride_h, self.dilation_h, self.padding)

    @property
    def out_w(self) -> int:
        return _out_size(self.in_w, self.kw, self.stride_w, self.dilation_w, self.padding)

    @property
    def pad_top(self) -> int:
        return _pad_before(self.in_h, self.out_h, self.kh, self.stride_h, self.dilation_h)

    @property
    def pad_left(self) -> int:
        return _pad_before(self.in_w, self.out_w, self.kw, self.stride_w, self.dilation_w)

    @property
    def positions(self) -> int:
        """Kernel positions per filter (kh*kw)."""
        return self.kh * self.kw

    @property
    def n_filterlets(self) -> int:
        return self.cout * self.kh * self.kw

    @property
    def weight_shape(self) -> tuple[int, int, int, int]:
        return (self.cout, self.kh, self.kw, self.cin)

    @property
    def macs(self) -> int:
        """Dense multiply-accumulates per image (padding taps counted, as is customary)."""
        return self.out_h * self.out_w * self.cout * self.kh * self.kw * self.cin


@dataclass(frozen=True)
class FwcsHeader:
    """The parsed fixed header; offsets are relative to the blob start."""

    version: int
    encoding: int
    flags: int
    spec: ConvSpec
    n_kept: int
    index_off: int
    weights_off: int
    bias_off: int
    multiplier_off: int
    shift_off: int
    total_size: int
    crc32: int
    group: int = 0  # channels per group (GROUPS only; 0 otherwise)

    @property
    def encoding_name(self) -> str:
        return ENCODING_NAMES[self.encoding]

    @property
    def index_bytes(self) -> int:
        return index_size(self.encoding, self.spec, self.n_kept, self.group)

    @property
    def unit_bytes(self) -> int:
        """Bytes of one stored unit: a filterlet (cin), or a channel group (group)."""
        return self.group if self.encoding == ENC_GROUPS else self.spec.cin


@dataclass(frozen=True, eq=False)
class FwcsLayer:
    """A decoded blob. `keep` marks the filterlets with a stored weight (all of them
    for DENSE); `positions` lists them as (o, kh_i, kw_i) in storage order and
    `packed` holds their weights, one row of cin bytes each (for GROUPS the
    dropped groups read as zeros; `group_keep` says which groups are stored)."""

    header: FwcsHeader
    keep: np.ndarray  # bool [cout, kh, kw]
    positions: np.ndarray  # int32 [n_filterlets kept, 3]
    packed: np.ndarray  # int8 [n_filterlets kept, cin]
    bias: np.ndarray  # int32 [cout]
    multiplier: np.ndarray  # int32 [cout]
    shift: np.ndarray  # int32 [cout]
    group_keep: np.ndarray | None = None  # GROUPS: bool [cout, cin // group]

    @property
    def spec(self) -> ConvSpec:
        return self.header.spec

    @property
    def encoding(self) -> str:
        return self.header.encoding_name

    @property
    def flags(self) -> int:
        return self.header.flags

    @property
    def weights(self) -> np.ndarray:
        """Dense OHWI int8 weights, zeros where filterlets were not stored."""
        w = np.zeros(self.spec.weight_shape, dtype=np.int8)
        o, i, j = self.positions.T
        w[o, i, j, :] = self.packed
        return w


# --------------------------------------------------------------------------- sizes


def keep_mask(weights: np.ndarray) -> np.ndarray:
    """Filterlets worth storing: any nonzero weight in W[o, kh, kw, :]."""
    return np.any(np.asarray(weights) != 0, axis=3)


def group_keep_mask(weights: np.ndarray, group: int) -> np.ndarray:
    """Channel groups worth storing in a 1x1 layer: bool [cout, cin // group], any nonzero weight."""
    w = np.asarray(weights)
    return np.any(w.reshape(w.shape[0], -1, group) != 0, axis=2)


def groups_possible(spec: ConvSpec, group: int) -> bool:
    """GROUPS applies to 1x1 layers whose cin is a multiple of the group size (docs/fwcs.md 5.5)."""
    return spec.kh == 1 and spec.kw == 1 and 1 <= group <= min(GROUP_MAX, spec.cin) and spec.cin % group == 0


def index_size(encoding: int | str, spec: ConvSpec, n_kept: int, group: int = 0) -> int:
    """Exact bytes of the index section (`group`: channels per group, GROUPS only)."""
    enc = ENCODINGS[encoding] if isinstance(encoding, str) else encoding
    if enc == ENC_DENSE:
        return 0
    if enc == ENC_BITMAP:
        return (spec.n_filterlets + 7) // 8
    if enc == ENC_LIST:
        return spec.cout + n_kept
    if enc == ENC_GROUPS:
        return spec.cout * ((spec.cin // group + 7) // 8)
    raise FwcsError(f"unknown index encoding {encoding!r}")


def _layout(enc: int, spec: ConvSpec, n_kept: int, group: int = 0) -> dict[str, int]:
    """Canonical section offsets; the only layout an encoder may produce."""
    c = spec.cout
    bias_off = HEADER_SIZE
    mult_off = bias_off + 4 * c
    shift_off = mult_off + 4 * c
    index_off = shift_off + 4 * c
    index_end = index_off + index_size(enc, spec, n_kept, group)
    weights_off = _align(index_end, WEIGHTS_ALIGN)
    n_stored = spec.n_filterlets if enc == ENC_DENSE else n_kept
    unit = group if enc == ENC_GROUPS else spec.cin
    return {
        "index_off": 0 if enc == ENC_DENSE else index_off,
        "index_end": index_end,
        "weights_off": weights_off,
        "bias_off": bias_off,
        "multiplier_off": mult_off,
        "shift_off": shift_off,
        "total_size": weights_off + n_stored * unit,
    }


def groups_size(spec: ConvSpec, n_groups: int, group: int) -> int:
    """Exact GROUPS blob bytes of a 1x1 layer keeping `n_groups` groups of `group` channels (over all
    filters): what a planner that counts groups, rather than holding a mask, needs."""
    if not groups_possible(spec, group):
        raise FwcsError(f"GROUPS cannot store a {spec.kh}x{spec.kw} layer of {spec.cin} input channels "
                        f"in groups of {group}")  # fmt: skip
    return _layout(ENC_GROUPS, spec, int(n_groups), group)["total_size"]


def encoding_costs(
    spec: ConvSpec, mask: np.ndarray, group: int = 0, group_mask: np.ndarray | None = None
) -> dict[str, int | None]:
    """Exact total blob size per encoding, None where the encoding cannot express the layer.

    `mask` is the filterlet keep mask; GROUPS is costed only when `group` and its
    `group_mask` ([cout, cin // group]) are given and the layer is 1x1.
    """
    n_kept = int(np.count_nonzero(mask))
    costs: dict[str, int | None] = {}
    for name, enc in ENCODINGS.items():
        if enc == ENC_LIST and spec.positions > LIST_MAX_POSITIONS:
            costs[name] = None
        elif enc == ENC_GROUPS:
            ok = group_mask is not None and groups_possible(spec, group)
            costs[name] = _layout(enc, spec, int(np.count_nonzero(group_mask)), group)["total_size"] if ok else None
        else:
            costs[name] = _layout(enc, spec, n_kept)["total_size"]
    return costs


def choose_encoding(spec: ConvSpec, mask: np.ndarray, group: int = 0, group_mask: np.ndarray | None = None) -> str:
    """Smallest blob wins; ties go to the simpler encoding (dense < bitmap < list < groups)."""
    costs = encoding_costs(spec, mask, group, group_mask)
    return min((c, ENCODINGS[n], n) for n, c in costs.items() if c is not None)[2]


def auto_group(spec: ConvSpec, weights: np.ndarray) -> int:
    """The group size `encode(group="auto")` uses: of AUTO_GROUPS, the one giving the smallest
    GROUPS blob among those keeping at most AUTO_GROUP_MAX_DENSITY of the groups; 0 if none."""
    best: tuple[int, int] | None = None
    for g in AUTO_GROUPS:
        if not groups_possible(spec, g):
            continue
        gm = group_keep_mask(weights, g)
        if gm.mean() > AUTO_GROUP_MAX_DENSITY:
            continue
        size = _layout(ENC_GROUPS, spec, int(np.count_nonzero(gm)), g)["total_size"]
        if best is None or size < best[0]:
            best = (size, g)
    return 0 if best is None else best[1]


def best_encoding(spec: ConvSpec, weights: np.ndarray) -> tuple[str, int, int]:
    """(encoding, exact blob bytes, group size or 0) of the smallest blob for int8 OHWI `weights` --
    GROUPS costed at ``auto_group``'s size for a 1x1 layer, ties to the simpler encoding: what
    ``encode(encoding="auto")`` after ``auto_group`` stores, and what `dtmm pack` emits."""
    g = auto_group(spec, weights) if spec.kh == 1 and spec.kw == 1 else 0
    mask = keep_mask(weights)
    costs = encoding_costs(spec, mask, g, group_keep_mask(weights, g) if g else None)
    size, _, name = min((c, ENCODINGS[n], n) for n, c in costs.items() if c is not None)
    return name, int(size), g if name == "groups" else 0


# --------------------------------------------------------------------------- encode


def _as_int_array(name: str, a, shape: tuple, dtype, lo: int, hi: int) -> np.ndarray:
    arr = np.asarray(a)
    if arr.shape != shape:
        raise FwcsError(f"{name} has shape {arr.shape}, expected {shape}")
    if not np.issubdtype(arr.dtype, np.integer):
        raise FwcsError(f"{name} must be integers, got {arr.dtype}")
    if arr.size and (arr.min() < lo or arr.max() > hi):
        raise FwcsError(f"{name} has values outside [{lo}, {hi}]")
    return arr.astype(dtype)


def _check_requant(multiplier: np.ndarray, shift: np.ndarray, prefix: str = "") -> None:
    bad = np.flatnonzero(multiplier < 0)
    if bad.size:
        raise FwcsError(f"{prefix}requant out of range: multiplier[{bad[0]}]={multiplier[bad[0]]} is negative")
    bad = np.flatnonzero((shift < -31) | (shift > 30))
    if bad.size:
        raise FwcsError(f"{prefix}requant out of range: shift[{bad[0]}]={shift[bad[0]]} is not in [-31, 30]")


def blob_crc(blob: bytes) -> int:
    """CRC-32 (zlib/IEEE) of the blob with its crc32 field read as zero."""
    crc = zlib.crc32(blob[:CRC_OFFSET])
    crc = zlib.crc32(b"\0\0\0\0", crc)
    return zlib.crc32(blob[CRC_OFFSET + 4 :], crc)


def with_crc(blob: bytes) -> bytes:
    """The blob with its crc32 field recomputed (for tools and tests that edit blobs)."""
    b = bytearray(blob)
    struct.pack_into("<I", b, CRC_OFFSET, blob_crc(bytes(b)))
    return bytes(b)


def _index_bytes(enc: int, mask: np.ndarray) -> bytes:
    if enc == ENC_GROUPS:  # one byte-padded bit row per filter
        return np.packbits(mask.astype(np.uint8), axis=1, bitorder="little").tobytes()
    if enc == ENC_BITMAP:
        return np.packbits(mask.reshape(-1).astype(np.uint8), bitorder="little").tobytes()
    if enc == ENC_LIST:
        out = bytearray()
        for row in mask.reshape(mask.shape[0], -1):
            pos = np.flatnonzero(row)
            out.append(len(pos))
            out.extend(pos.astype(np.uint8).tobytes())
        return bytes(out)
    return b""


def _resolve_group(spec: ConvSpec, w: np.ndarray, group, encoding: str) -> int:
    if group is None:
        if encoding == "groups":
            raise FwcsError("groups encoding needs a group size (group=N or group='auto')")
        return 0
    if group == "auto":
        return auto_group(spec, w)
    if not isinstance(group, (int, np.integer)) or isinstance(group, bool):
        raise FwcsError(f"group must be a channel count or 'auto', got {group!r}")
    if not groups_possible(spec, int(group)):
        raise FwcsError(
            f"groups encoding needs a 1x1 layer whose cin ({spec.cin}) is a multiple of the group size "
            f"({group}, at most {GROUP_MAX}); layer is {spec.kh}x{spec.kw}"
        )
    return int(group)


def encode(weights, bias, multiplier, shift, spec: ConvSpec, encoding: str = "auto", group=None) -> bytes:
    """Pack one conv layer. weights: int8 OHWI; bias/multiplier/shift: int32 per output channel.

    Filterlets that are all zero are dropped unless the encoding is DENSE.  `group`
    (channels per group, or "auto") makes GROUPS a candidate for 1x1 layers: then
    all-zero channel groups within a filter are dropped too (docs/fwcs.md 5.5).
    """
    w = _as_int_array("weights", weights, spec.weight_shape, np.int8, -128, 127)
    b = _as_int_array("bias", bias, (spec.cout,), "<i4", INT32_MIN, INT32_MAX)
    m = _as_int_array("multiplier", multiplier, (spec.cout,), "<i4", INT32_MIN, INT32_MAX)
    s = _as_int_array("shift", shift, (spec.cout,), "<i4", INT32_MIN, INT32_MAX)
    _check_requant(m, s)
    _check_taps(spec)
    if encoding != "auto" and encoding not in ENCODINGS:
        raise FwcsError(f"unknown index encoding {encoding!r} (choose auto, dense, bitmap, list or groups)")
    g = _resolve_group(spec, w, group, encoding)
    if encoding == "groups" and g == 0:
        raise FwcsError("groups encoding requested but no group size keeps few enough groups to pay")
    mask = keep_mask(w)
    gmask = group_keep_mask(w, g) if g else None
    if encoding == "auto":
        encoding = choose_encoding(spec, mask, g, gmask)
    enc = ENCODINGS[encoding]
    if enc == ENC_LIST and spec.positions > LIST_MAX_POSITIONS:
        raise FwcsError(f"list encoding needs kh*kw <= {LIST_MAX_POSITIONS}, layer has {spec.positions}")

    if enc == ENC_GROUPS:
        n_kept = int(np.count_nonzero(gmask))
        stored = w.reshape(spec.cout, -1, g)[gmask]  # (o, group) in C order
        flags = 0
        mask = gmask
    elif enc == ENC_DENSE:
        n_kept = spec.n_filterlets
        stored = w.reshape(-1, spec.cin)
        flags = FLAG_DENSE_FALLBACK if not mask.all() else 0
    else:
        n_kept = int(np.count_nonzero(mask))
        stored = w[mask]  # boolean indexing walks (o, kh, kw) in C order
        flags = 0
    if enc != ENC_GROUPS:
        g = 0
    lay = _layout(enc, spec, n_kept, g)

    blob = bytearray(lay["total_size"])
    _HEADER.pack_into(
        blob, 0,
        MAGIC, VERSION, enc, flags,
        spec.cout, spec.cin,
        spec.kh, spec.kw, spec.stride_h, spec.stride_w, spec.dilation_h, spec.dilation_w,
        _PADDING_CODES[spec.padding], g,
        spec.in_h, spec.in_w, spec.out_h, spec.out_w, spec.pad_top, spec.pad_left,
        spec.input_offset, spec.output_offset,
        spec.act_min, spec.act_max, 0,
        n_kept,
        lay["index_off"], lay["weights_off"], lay["bias_off"], lay["multiplier_off"], lay["shift_off"],
        lay["total_size"],
        0, 0,
    )  # fmt: skip
    c4 = 4 * spec.cout
    blob[lay["bias_off"] : lay["bias_off"] + c4] = b.tobytes()
    blob[lay["multiplier_off"] : lay["multiplier_off"] + c4] = m.tobytes()
    blob[lay["shift_off"] : lay["shift_off"] + c4] = s.tobytes()
    idx = _index_bytes(enc, mask)
    if idx:
        blob[lay["index_off"] : lay["index_off"] + len(idx)] = idx
    blob[lay["weights_off"] :] = stored.astype(np.int8).tobytes()
    return with_crc(bytes(blob))


# --------------------------------------------------------------------------- validate / decode


def _parse_header(blob: bytes) -> FwcsHeader:
    n = len(blob)
    if n < 4:
        raise FwcsError(f"fwcs: truncated blob: {n} bytes, too short for the magic")
    if blob[:4] != MAGIC:
        raise FwcsError(f"fwcs: bad magic {bytes(blob[:4])!r}, expected {MAGIC!r}")
    if n < 5:
        raise FwcsError(f"fwcs: truncated blob: {n} bytes, too short for the version")
    if blob[4] != VERSION:
        raise FwcsError(f"fwcs: unsupported version {blob[4]} (this reader supports {VERSION})")
    if n < HEADER_SIZE:
        raise FwcsError(f"fwcs: truncated blob: {n} bytes, the header alone needs {HEADER_SIZE}")
    (
        _magic, version, enc, flags,
        cout, cin, kh, kw, sh, sw, dh, dw, pad, res0,
        in_h, in_w, out_h, out_w, pad_top, pad_left,
        in_off, out_off, act_min, act_max, res1,
        n_kept, index_off, weights_off, bias_off, mult_off, shift_off, total_size, crc, res2,
    ) = _HEADER.unpack_from(blob, 0)  # fmt: skip

    if enc not in ENCODING_NAMES:
        raise FwcsError(f"fwcs: unknown index encoding {enc}")
    if flags & ~KNOWN_FLAGS:
        raise FwcsError(f"fwcs: unknown flag bits 0x{flags & ~KNOWN_FLAGS:04x}")
    group = res0  # byte 19: the group size for GROUPS, reserved (0) otherwise
    if res1 or res2 or (group and enc != ENC_GROUPS):
        raise FwcsError("fwcs: reserved header fields are not zero")
    if pad not in (PADDING_VALID, PADDING_SAME):
        raise FwcsError(f"fwcs: unknown padding mode {pad}")
    try:
        spec = ConvSpec(
            cout=cout, cin=cin, kh=kh, kw=kw, in_h=in_h, in_w=in_w,
            stride_h=sh, stride_w=sw, dilation_h=dh, dilation_w=dw,
            padding="same" if pad == PADDING_SAME else "valid",
            input_offset=in_off, output_offset=out_off, act_min=act_min, act_max=act_max,
        )  # fmt: skip
    except FwcsError as exc:
        raise FwcsError(f"fwcs: inconsistent header: {str(exc).removeprefix('bad conv spec: ')}") from None
    for name, got, want in (
        ("out_h", out_h, spec.out_h), ("out_w", out_w, spec.out_w),
        ("pad_top", pad_top, spec.pad_top), ("pad_left", pad_left, spec.pad_left),
    ):  # fmt: skip
        if got != want:
            raise FwcsError(f"fwcs: inconsistent {name}: header says {got}, the geometry gives {want}")

    if enc == ENC_GROUPS:
        if not groups_possible(spec, group):
            raise FwcsError(
                f"fwcs: inconsistent group: {group} channels per group on a {spec.kh}x{spec.kw} layer with "
                f"cin {spec.cin} (GROUPS needs 1x1 and cin a multiple of the group)"
            )
        if n_kept > spec.cout * (spec.cin // group):
            raise FwcsError(
                f"fwcs: inconsistent n_kept: {n_kept} exceeds cout*cin/group = {spec.cout * (spec.cin // group)}"
            )
    elif enc == ENC_DENSE:
        if n_kept != spec.n_filterlets:
            raise FwcsError(
                f"fwcs: inconsistent n_kept: DENSE stores all {spec.n_filterlets} filterlets, header says {n_kept}"
            )
    elif n_kept > spec.n_filterlets:
        raise FwcsError(f"fwcs: inconsistent n_kept: {n_kept} exceeds cout*kh*kw = {spec.n_filterlets}")
    if enc == ENC_LIST and spec.positions > LIST_MAX_POSITIONS:
        raise FwcsError(f"fwcs: list encoding needs kh*kw <= {LIST_MAX_POSITIONS}, header has {spec.positions}")
    if flags & FLAG_DENSE_FALLBACK and enc != ENC_DENSE:
        raise FwcsError("fwcs: inconsistent flags: DENSE_FALLBACK set on a non-DENSE layer")

    lay = _layout(enc, spec, n_kept, group)
    for name, got in (
        ("index_off", index_off), ("weights_off", weights_off), ("bias_off", bias_off),
        ("multiplier_off", mult_off), ("shift_off", shift_off), ("total_size", total_size),
    ):  # fmt: skip
        if got != lay[name]:
            raise FwcsError(f"fwcs: inconsistent {name}: header says {got}, the layout needs {lay[name]}")
    if n < total_size:
        raise FwcsError(f"fwcs: truncated blob: {n} bytes, header says total_size {total_size}")
    if n > total_size:
        raise FwcsError(f"fwcs: trailing bytes: blob is {n} bytes, header says total_size {total_size}")
    actual = blob_crc(blob)
    if actual != crc:
        raise FwcsError(f"fwcs: checksum mismatch: stored 0x{crc:08x}, computed 0x{actual:08x}")
    return FwcsHeader(
        version, enc, flags, spec, n_kept, index_off, weights_off, bias_off, mult_off, shift_off, total_size, crc,
        group,
    )


def _parse_index(h: FwcsHeader, blob: bytes) -> np.ndarray:
    """The keep mask [cout, kh, kw] described by the index section ([cout, cin // group] for
    GROUPS), checked against n_kept."""
    spec = h.spec
    P = spec.positions
    if h.encoding == ENC_DENSE:
        return np.ones((spec.cout, spec.kh, spec.kw), dtype=bool)
    raw = np.frombuffer(blob, dtype=np.uint8, count=h.index_bytes, offset=h.index_off)
    if h.encoding == ENC_GROUPS:
        n_groups = spec.cin // h.group
        bits = np.unpackbits(raw.reshape(spec.cout, -1), axis=1, bitorder="little")
        if bits[:, n_groups:].any():
            raise FwcsError("fwcs: group bitmap padding bits are set past bit cin/group of a filter's row")
        mask = bits[:, :n_groups].astype(bool)
        if int(mask.sum()) != h.n_kept:
            raise FwcsError(
                f"fwcs: index count mismatch: group bitmap has {int(mask.sum())} bits set, n_kept is {h.n_kept}"
            )
        return mask
    if h.encoding == ENC_BITMAP:
        bits = np.unpackbits(raw, bitorder="little")
        if bits[spec.n_filterlets :].any():
            raise FwcsError("fwcs: bitmap padding bits are set past bit cout*kh*kw")
        mask = bits[: spec.n_filterlets].astype(bool)
        if int(mask.sum()) != h.n_kept:
            raise FwcsError(
                f"fwcs: index count mismatch: bitmap has {int(mask.sum())} bits set, n_kept is {h.n_kept}"
            )
        return mask.reshape(spec.cout, spec.kh, spec.kw)
    # LIST: the section length already assumes n_kept positions, so walk it strictly.
    mask = np.zeros((spec.cout, P), dtype=bool)
    p = 0
    end = len(raw)
    for o in range(spec.cout):
        if p >= end:
            raise FwcsError(
                f"fwcs: index count mismatch: list ends before filter {o} (counts exceed n_kept={h.n_kept})"
            )
        cnt = int(raw[p])
        p += 1
        if cnt > P:
            raise FwcsError(f"fwcs: index out of range: filter {o} has count {cnt} > kh*kw = {P}")
        if p + cnt > end:
            raise FwcsError(
                f"fwcs: index count mismatch: filter {o} count overruns the list (counts exceed n_kept={h.n_kept})"
            )
        pos = raw[p : p + cnt].astype(np.int64)
        p += cnt
        if cnt and pos.max() >= P:
            raise FwcsError(f"fwcs: index out of range: filter {o} lists position {int(pos.max())}, kh*kw is {P}")
        if cnt > 1 and np.any(np.diff(pos) <= 0):
            k = int(np.flatnonzero(np.diff(pos) <= 0)[0])
            raise FwcsError(
                f"fwcs: index not increasing: filter {o} lists position {int(pos[k + 1])} after {int(pos[k])}"
            )
        mask[o, pos] = True
    if p != end:
        raise FwcsError(
            f"fwcs: index count mismatch: per-filter counts sum to {p - spec.cout}, n_kept is {h.n_kept}"
        )
    return mask.reshape(spec.cout, spec.kh, spec.kw)


def _check_taps(spec: ConvSpec) -> None:
    taps = spec.cin * spec.positions
    if taps > MAX_TAPS:
        raise FwcsError(f"fwcs: unsupported layer: cin*kh*kw = {taps} multiply-accumulates per output exceed "
                        f"{MAX_TAPS} (its int32 sums could overflow)")


def _check_body(h: FwcsHeader, blob: bytes) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    c = h.spec.cout
    index_end = h.index_off + h.index_bytes if h.index_off else h.shift_off + 4 * c
    if any(blob[index_end : h.weights_off]):
        raise FwcsError("fwcs: nonzero padding bytes before the weights section")
    bias = np.frombuffer(blob, "<i4", c, h.bias_off).astype(np.int32)
    mult = np.frombuffer(blob, "<i4", c, h.multiplier_off).astype(np.int32)
    shift = np.frombuffer(blob, "<i4", c, h.shift_off).astype(np.int32)
    _check_requant(mult, shift, "fwcs: ")
    unit = h.unit_bytes
    packed = np.frombuffer(blob, np.int8, h.n_kept * unit, h.weights_off).reshape(h.n_kept, unit)
    if h.encoding == ENC_DENSE:
        has_zero = not packed.any(axis=1).all()
        if has_zero != bool(h.flags & FLAG_DENSE_FALLBACK):
            raise FwcsError(
                "fwcs: inconsistent flags: DENSE_FALLBACK must be set exactly when a stored filterlet is all zero"
            )
    _check_taps(h.spec)
    return bias, mult, shift, packed


def validate(blob: bytes) -> FwcsHeader:
    """Check every structural rule of docs/fwcs.md; raise FwcsError naming the first violation."""
    blob = bytes(blob)
    h = _parse_header(blob)
    _parse_index(h, blob)
    _check_body(h, blob)
    return h


def decode(blob: bytes) -> FwcsLayer:
    """Validate and unpack a blob."""
    blob = bytes(blob)
    h = _parse_header(blob)
    mask = _parse_index(h, blob)
    bias, mult, shift, packed = _check_body(h, blob)
    if h.encoding == ENC_GROUPS:  # scatter the stored groups into whole (1x1) filterlets
        spec, gmask = h.spec, mask
        w = np.zeros((spec.cout, spec.cin // h.group, h.group), dtype=np.int8)
        w[gmask] = packed
        mask = gmask.any(axis=1).reshape(spec.cout, 1, 1)
        positions = np.argwhere(mask).astype(np.int32)
        rows = w.reshape(spec.cout, spec.cin)[positions[:, 0]]
        return FwcsLayer(h, mask, positions, rows, bias, mult, shift, gmask.copy())
    positions = np.argwhere(mask).astype(np.int32)  # C order = storage order (o, kh, kw)
    return FwcsLayer(h, mask, positions, packed.copy(), bias, mult, shift)
