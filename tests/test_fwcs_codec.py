"""FWCS codec: round trips, exact sizes and encoding choice, rejection of malformed blobs, C emission."""
from __future__ import annotations

import re
import shutil
import struct
import subprocess
import zlib
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dtmm.errors import DtmmError
from dtmm.formats import fwcs
from dtmm.formats.fwcs import c_emit

DOC = Path(__file__).resolve().parents[1] / "docs" / "fwcs.md"


# --------------------------------------------------------------------------- strategies


@st.composite
def layers(draw, max_positions: int = 16):
    """(weights, bias, multiplier, shift, spec) with a random filterlet keep density."""
    kh = draw(st.integers(1, 4))
    kw = draw(st.integers(1, max(1, min(4, max_positions // kh))))
    dh, dw = draw(st.integers(1, 2)), draw(st.integers(1, 2))
    sh, sw = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    padding = draw(st.sampled_from(["same", "valid"]))
    in_h = (kh - 1) * dh + 1 + draw(st.integers(0, 4))
    in_w = (kw - 1) * dw + 1 + draw(st.integers(0, 4))
    act_min = draw(st.integers(-128, 127))
    spec = fwcs.ConvSpec(
        cout=draw(st.integers(1, 9)), cin=draw(st.integers(1, 9)), kh=kh, kw=kw, in_h=in_h, in_w=in_w,
        stride_h=sh, stride_w=sw, dilation_h=dh, dilation_w=dw, padding=padding,
        input_offset=draw(st.integers(-127, 128)), output_offset=draw(st.integers(-128, 127)),
        act_min=act_min, act_max=draw(st.integers(act_min, 127)),
    )  # fmt: skip
    density = draw(st.sampled_from([0.0, 0.05, 0.3, 0.5, 0.8, 1.0]))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    w = rng.integers(-128, 128, size=spec.weight_shape, dtype=np.int8)
    w[w == 0] = 1  # so a kept filterlet is never accidentally all zero
    w[rng.random((spec.cout, kh, kw)) >= density] = 0
    bias = rng.integers(-(2**31), 2**31, size=spec.cout).astype(np.int32)
    mult = rng.integers(2**30, 2**31, size=spec.cout).astype(np.int32)
    shift = rng.integers(-31, 31, size=spec.cout).astype(np.int32)
    return w, bias, mult, shift, spec


SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


# --------------------------------------------------------------------------- round trip and sizes


@SETTINGS
@given(layers(), st.sampled_from(["auto", "dense", "bitmap", "list"]))
def test_round_trip(case, encoding):
    w, bias, mult, shift, spec = case
    blob = fwcs.encode(w, bias, mult, shift, spec, encoding)
    layer = fwcs.decode(blob)
    assert layer.spec == spec
    np.testing.assert_array_equal(layer.weights, w)
    np.testing.assert_array_equal(layer.bias, bias)
    np.testing.assert_array_equal(layer.multiplier, mult)
    np.testing.assert_array_equal(layer.shift, shift)
    mask = fwcs.keep_mask(w)
    if layer.encoding == "dense":
        assert layer.keep.all() and layer.header.n_kept == spec.n_filterlets
        assert bool(layer.flags & fwcs.FLAG_DENSE_FALLBACK) == (not mask.all())
    else:
        np.testing.assert_array_equal(layer.keep, mask)
        assert layer.header.n_kept == mask.sum() and layer.flags == 0
    # storage order is (o, kh, kw) and each stored row is that filterlet
    assert [tuple(p) for p in layer.positions] == sorted(tuple(p) for p in layer.positions)
    for (o, i, j), row in zip(layer.positions, layer.packed):
        np.testing.assert_array_equal(row, w[o, i, j])
    assert fwcs.encode(w, bias, mult, shift, spec, encoding) == blob  # deterministic


@SETTINGS
@given(layers())
def test_auto_is_smallest_and_never_larger_than_dense(case):
    w, bias, mult, shift, spec = case
    mask = fwcs.keep_mask(w)
    costs = fwcs.encoding_costs(spec, mask)
    sizes = {e: len(fwcs.encode(w, bias, mult, shift, spec, e)) for e in ("dense", "bitmap", "list")}
    assert costs.pop("groups") is None  # no group size given: GROUPS is not a candidate
    assert sizes == costs  # the cost function is exact
    auto = fwcs.encode(w, bias, mult, shift, spec)
    assert len(auto) == min(sizes.values()) <= sizes["dense"]
    chosen = fwcs.decode(auto).encoding
    simplest_minimum = next(e for e in ("dense", "bitmap", "list") if sizes[e] == min(sizes.values()))
    assert chosen == simplest_minimum
    h = fwcs.validate(auto)
    assert h.index_bytes == fwcs.index_size(chosen, spec, h.n_kept)
    assert h.weights_off % 16 == 0 and h.index_off % 4 == 0 and h.multiplier_off % 4 == 0


def test_list_unavailable_for_more_than_255_positions():
    spec = fwcs.ConvSpec(cout=1, cin=1, kh=16, kw=16, in_h=16, in_w=16)
    w = np.zeros(spec.weight_shape, np.int8)
    w[0, 0, 0, 0] = 1  # 1 of 256 kept: LIST would win if it were allowed
    costs = fwcs.encoding_costs(spec, fwcs.keep_mask(w))
    assert costs["list"] is None and costs["bitmap"] < costs["dense"]
    one = np.ones(1, np.int32)
    with pytest.raises(fwcs.FwcsError, match=r"list encoding needs kh\*kw <= 255"):
        fwcs.encode(w, one, one * 2**30, one * 0, spec, "list")
    assert fwcs.decode(fwcs.encode(w, one, one * 2**30, one * 0, spec)).encoding == "bitmap"


def test_list_wins_when_very_sparse():
    spec = fwcs.ConvSpec(cout=200, cin=8, kh=3, kw=3, in_h=8, in_w=8, padding="same")
    w = np.zeros(spec.weight_shape, np.int8)
    w[0, 1, 1] = 3  # one kept filterlet: 201 list bytes vs 225 bitmap bytes, 2688 vs 2720 after alignment
    z = np.zeros(200, np.int32)
    blob = fwcs.encode(w, z, z + 2**30, z, spec)
    assert fwcs.decode(blob).encoding == "list"
    assert fwcs.validate(blob).index_bytes == 201 and len(blob) == 2688 + 8
    costs = fwcs.encoding_costs(spec, fwcs.keep_mask(w))
    assert costs == {"dense": 2480 + 200 * 9 * 8, "bitmap": 2720 + 8, "list": 2696, "groups": None}


def test_spec_geometry_matches_tflite_rule():
    s = fwcs.ConvSpec(cout=1, cin=1, kh=3, kw=2, in_h=7, in_w=6, stride_h=2, stride_w=3, padding="same")
    assert (s.out_h, s.out_w, s.pad_top, s.pad_left) == (4, 2, 1, 0)  # pads 2 rows (1+1), 1 col (0+1)
    s = fwcs.ConvSpec(cout=1, cin=1, kh=3, kw=3, in_h=9, in_w=9, dilation_h=2, dilation_w=2, padding="same")
    assert (s.out_h, s.pad_top) == (9, 2)
    s = fwcs.ConvSpec(cout=1, cin=1, kh=3, kw=3, in_h=9, in_w=8, stride_h=2, stride_w=2, padding="valid")
    assert (s.out_h, s.out_w, s.pad_top, s.pad_left) == (4, 3, 0, 0)
    with pytest.raises(fwcs.FwcsError, match="does not fit"):
        fwcs.ConvSpec(cout=1, cin=1, kh=5, kw=5, in_h=4, in_w=9)


@pytest.mark.parametrize(
    "bad, match",
    [
        (dict(weights=np.zeros((2, 1, 1, 1), np.float32)), "weights must be integers"),
        (dict(weights=np.zeros((3, 1, 1, 1), np.int8)), "weights has shape"),
        (dict(shift=np.array([0, 31])), r"requant out of range: shift\[1\]=31"),
        (dict(multiplier=np.array([-1, 0])), r"requant out of range: multiplier\[0\]=-1"),
        (dict(bias=np.array([0, 2**31])), "bias has values outside"),
        (dict(encoding="rle"), "unknown index encoding 'rle'"),
    ],
)
def test_encode_rejects_bad_arguments(bad, match):
    spec = fwcs.ConvSpec(cout=2, cin=1, kh=1, kw=1, in_h=1, in_w=1)
    args = dict(weights=np.ones((2, 1, 1, 1), np.int8), bias=np.zeros(2, np.int32),
                multiplier=np.full(2, 2**30), shift=np.zeros(2, np.int32), encoding="auto")  # fmt: skip
    args.update(bad)
    with pytest.raises(fwcs.FwcsError, match=match):
        fwcs.encode(args["weights"], args["bias"], args["multiplier"], args["shift"], spec, args["encoding"])


# --------------------------------------------------------------------------- byte-level conformance


def _doc_example() -> bytes:
    text = DOC.read_text()
    section = text[text.index("## 11. Worked example") :]
    dump = re.search(r"```\n(0000:.*?)```", section, re.S).group(1)
    return bytes(int(b, 16) for line in dump.strip().splitlines() for b in line.split(":")[1].split())


def _example_layer():
    spec = fwcs.ConvSpec(cout=2, cin=4, kh=2, kw=2, in_h=4, in_w=4, padding="same",
                         input_offset=128, output_offset=-3, act_min=-3, act_max=127)  # fmt: skip
    w = np.zeros((2, 2, 2, 4), np.int8)
    w[0, 0, 0], w[0, 1, 1], w[1, 0, 1] = [1, 2, 3, 4], [5, 6, 7, 8], [-1, -2, -3, -4]
    w[1, 1, 0], w[1, 1, 1] = [9, 10, 11, 12], [13, 14, 15, 16]
    return w, np.array([100, -200]), np.array([2**30, 1518500250]), np.array([-7, -8]), spec


def test_encoder_reproduces_the_documented_example():
    assert fwcs.encode(*_example_layer()) == _doc_example()


def test_header_fields_at_documented_offsets():
    blob = fwcs.encode(*_example_layer(), encoding="list")
    u8 = lambda o: blob[o]  # noqa: E731
    u16 = lambda o: struct.unpack_from("<H", blob, o)[0]  # noqa: E731
    u32 = lambda o: struct.unpack_from("<I", blob, o)[0]  # noqa: E731
    i32 = lambda o: struct.unpack_from("<i", blob, o)[0]  # noqa: E731
    assert blob[:4] == b"FWCS" and u8(4) == 1 and u8(5) == 2 and u16(6) == 0
    assert (u16(8), u16(10), u8(12), u8(13), u8(14), u8(15), u8(16), u8(17), u8(18)) == (2, 4, 2, 2, 1, 1, 1, 1, 1)
    assert (u16(20), u16(22), u16(24), u16(26), u16(28), u16(30)) == (4, 4, 4, 4, 0, 0)
    assert (i32(32), i32(36), struct.unpack_from("<bb", blob, 40)) == (128, -3, (-3, 127))
    assert u32(44) == 5  # n_kept
    assert (u32(48), u32(52), u32(56), u32(60), u32(64), u32(68)) == (104, 112, 80, 88, 96, 132)
    assert blob[104:111] == bytes([2, 0, 3, 3, 1, 2, 3])  # per filter: count, then increasing positions
    assert u32(72) == zlib.crc32(blob[:72] + bytes(4) + blob[76:])
    assert len(blob) == u32(68)


def test_crc_is_standard_crc32_with_its_field_zeroed():
    assert zlib.crc32(b"123456789") == 0xCBF43926  # zlib is the standard CRC-32
    blob = fwcs.encode(*_example_layer())
    stored = struct.unpack_from("<I", blob, 72)[0]
    assert stored == 0x3BC2F7E0 == zlib.crc32(blob[:72] + bytes(4) + blob[76:])
    assert fwcs.blob_crc(_set(blob, 72, "I", 0xDEADBEEF, recrc=False)) == stored  # field value is ignored


# --------------------------------------------------------------------------- malformed blobs


def _set(blob: bytes, offset: int, fmt: str, value, recrc: bool = True) -> bytes:
    b = bytearray(blob)
    struct.pack_into("<" + fmt, b, offset, value)
    return fwcs.with_crc(bytes(b)) if recrc else bytes(b)


def _u32(blob: bytes, offset: int) -> int:
    return struct.unpack_from("<I", blob, offset)[0]


def _blob(encoding="auto", density=0.5, cout=5, cin=3, k=3, seed=0):
    rng = np.random.default_rng(seed)
    spec = fwcs.ConvSpec(cout=cout, cin=cin, kh=k, kw=k, in_h=8, in_w=8, padding="same", input_offset=1)
    w = rng.integers(1, 100, size=spec.weight_shape).astype(np.int8)
    w[rng.random((cout, k, k)) >= density] = 0
    w[0, 0, 0] = w[0, 0, 1] = 7  # filter 0 keeps >= 2 positions (0 and 1)
    z = np.zeros(cout, np.int32)
    return fwcs.encode(w, z, z + 2**30, z - 3, spec, encoding)


def _list_first_filter(blob: bytes) -> int:
    return fwcs.validate(blob).index_off  # offset of filter 0's count byte


def test_truncation_at_every_length_is_named():
    blob = _blob("bitmap")
    for n in range(len(blob)):
        with pytest.raises(fwcs.FwcsError, match="truncated blob"):
            fwcs.validate(blob[:n])


MALFORMED = {
    "bad magic": (lambda b: b"FWCZ" + b[4:], "bad magic"),
    "version 2": (lambda b: _set(b, 4, "B", 2), "unsupported version 2"),
    "version 0": (lambda b: _set(b, 4, "B", 0), "unsupported version 0"),
    "unknown encoding": (lambda b: _set(b, 5, "B", 9), "unknown index encoding 9"),
    "unknown flags": (lambda b: _set(b, 6, "H", 0x8000), "unknown flag bits 0x8000"),
    "reserved byte": (lambda b: _set(b, 19, "B", 1), "reserved header fields"),
    "reserved word": (lambda b: _set(b, 76, "I", 1), "reserved header fields"),
    "padding mode": (lambda b: _set(b, 18, "B", 2), "unknown padding mode 2"),
    "zero stride": (lambda b: _set(b, 14, "B", 0), "stride_h=0"),
    "out_h": (lambda b: _set(b, 24, "H", 7), "inconsistent out_h: header says 7"),
    "pad_left": (lambda b: _set(b, 30, "H", 0), "inconsistent pad_left"),
    "act range": (lambda b: _set(_set(b, 40, "b", 10), 41, "b", 5), "activation range"),
    "n_kept too big": (lambda b: _set(b, 44, "I", 10_000), "inconsistent n_kept"),
    "n_kept off by one": (lambda b: _set(b, 44, "I", _u32(b, 44) + 1), "inconsistent"),
    "weights_off": (lambda b: _set(b, 52, "I", _u32(b, 52) + 16), "inconsistent weights_off"),
    "bias_off": (lambda b: _set(b, 56, "I", 84), "inconsistent bias_off"),
    "total_size": (lambda b: _set(b, 68, "I", len(b) + 1), "inconsistent total_size"),
    "trailing bytes": (lambda b: fwcs.with_crc(b + b"\0"), "trailing bytes"),
    "crc field": (lambda b: _set(b, 72, "I", _u32(b, 72) ^ 1, recrc=False), "checksum mismatch"),
    "weight bit flip": (lambda b: b[:-1] + bytes([b[-1] ^ 0x10]), "checksum mismatch"),
    "bias bit flip": (lambda b: _set(b, 80, "i", 12345, recrc=False), "checksum mismatch"),
    "shift range": (lambda b: _set(b, 80 + 8 * 5, "i", 31), r"requant out of range: shift\[0\]=31"),
    "multiplier sign": (lambda b: _set(b, 80 + 4 * 5 + 4, "i", -5), r"requant out of range: multiplier\[1\]=-5"),
    "DENSE_FALLBACK on packed": (lambda b: _set(b, 6, "H", 1), "DENSE_FALLBACK set on a non-DENSE"),
}


@pytest.mark.parametrize("name", sorted(MALFORMED))
@pytest.mark.parametrize("encoding", ["bitmap", "list"])
def test_malformed_header_rejected_with_named_reason(name, encoding):
    mutate, match = MALFORMED[name]
    blob = _blob(encoding)
    fwcs.validate(blob)
    bad = mutate(blob)
    with pytest.raises(fwcs.FwcsError, match=match) as exc:
        fwcs.validate(bad)
    assert isinstance(exc.value, DtmmError) and "\n" not in str(exc.value)
    with pytest.raises(fwcs.FwcsError):
        fwcs.decode(bad)


def test_bitmap_count_and_padding_bits():
    blob = _blob("bitmap", cout=5, k=3)  # 45 bits -> 6 bytes, 3 padding bits
    h = fwcs.validate(blob)
    last = h.index_off + h.index_bytes - 1
    with pytest.raises(fwcs.FwcsError, match="bitmap padding bits are set"):
        fwcs.validate(_set(blob, last, "B", blob[last] | 0x80))
    flipped = _set(blob, h.index_off, "B", blob[h.index_off] ^ 0x04)  # one more/fewer filterlet
    with pytest.raises(fwcs.FwcsError, match=rf"count mismatch: bitmap has \d+ bits set, n_kept is {h.n_kept}"):
        fwcs.validate(flipped)


def test_list_index_errors():
    blob = _blob("list", cout=5, k=3)
    h = fwcs.validate(blob)
    idx = bytearray(blob[h.index_off : h.index_off + h.index_bytes])
    assert idx[0] >= 2 and list(idx[1:3]) == [0, 1]

    def with_index(new: bytes) -> bytes:
        return fwcs.with_crc(blob[: h.index_off] + bytes(new) + blob[h.index_off + len(new) :])

    bad = bytearray(idx)
    bad[2] = 9  # position == kh*kw
    with pytest.raises(fwcs.FwcsError, match="index out of range: filter 0 lists position 9, kh\\*kw is 9"):
        fwcs.validate(with_index(bad))
    bad = bytearray(idx)
    bad[2] = bad[1]  # repeated position
    with pytest.raises(fwcs.FwcsError, match="index not increasing: filter 0 lists position 0 after 0"):
        fwcs.validate(with_index(bad))
    bad = bytearray(idx)
    bad[0] = 10  # count > kh*kw
    with pytest.raises(fwcs.FwcsError, match="index out of range: filter 0 has count 10 > kh\\*kw = 9"):
        fwcs.validate(with_index(bad))
    # the last filter claims one fewer position: counts sum to n_kept - 1
    p, counts_at = 0, []
    while p < len(idx):
        counts_at.append(p)
        p += 1 + idx[p]
    bad = bytearray(idx)
    assert bad[counts_at[-1]] >= 1
    bad[counts_at[-1]] -= 1
    with pytest.raises(fwcs.FwcsError, match=f"index count mismatch: per-filter counts sum to {h.n_kept - 1}"):
        fwcs.validate(with_index(bad))
    bad = bytearray(idx)
    bad[counts_at[-1]] += 1  # the last filter's count overruns the section
    with pytest.raises(fwcs.FwcsError, match="index count mismatch: filter 4 count overruns"):
        fwcs.validate(with_index(bad))


def test_dense_flag_and_padding_rules():
    dense = _blob("dense")
    h = fwcs.validate(dense)
    assert h.flags == fwcs.FLAG_DENSE_FALLBACK and h.index_off == 0
    with pytest.raises(fwcs.FwcsError, match="DENSE_FALLBACK must be set exactly"):
        fwcs.validate(_set(dense, 6, "H", 0))
    with pytest.raises(fwcs.FwcsError, match="inconsistent n_kept: DENSE stores all 45"):
        fwcs.validate(_set(dense, 44, "I", 44))
    with pytest.raises(fwcs.FwcsError, match="inconsistent index_off"):
        fwcs.validate(_set(dense, 48, "I", 140))
    packed = _blob("bitmap")  # index ends at 80+60+6 = 146, weights at 160: 14 padding bytes
    h = fwcs.validate(packed)
    assert h.weights_off - (h.index_off + h.index_bytes) == 14
    with pytest.raises(fwcs.FwcsError, match="nonzero padding bytes before the weights"):
        fwcs.validate(_set(packed, h.weights_off - 1, "B", 1))


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_random_corruption_never_escapes_as_another_exception(data):
    blob = _blob(data.draw(st.sampled_from(["dense", "bitmap", "list"])), seed=data.draw(st.integers(0, 3)))
    pos = data.draw(st.integers(0, len(blob) - 1))
    b = bytearray(blob)
    b[pos] ^= data.draw(st.integers(1, 255))
    bad = fwcs.with_crc(bytes(b)) if data.draw(st.booleans()) and pos not in range(72, 76) else bytes(b)
    try:
        layer = fwcs.decode(bad)
    except fwcs.FwcsError as exc:
        assert str(exc).startswith("fwcs: ") and "\n" not in str(exc)
    else:  # a surviving edit must be a consistent blob that re-encodes to itself
        again = fwcs.encode(layer.weights, layer.bias, layer.multiplier, layer.shift, layer.spec, layer.encoding)
        assert again == bad


# --------------------------------------------------------------------------- C emission


def _emit_blobs():
    return {
        "fwcs_conv_b": _blob("bitmap", seed=1),
        "fwcs_conv_a": _blob("list", seed=2),
        "fwcs_conv_c": _blob("dense", seed=3),
    }


def test_c_header_is_deterministic_and_sorted():
    blobs = _emit_blobs()
    text1 = c_emit.emit_fwcs_header(blobs, "TEST_FWCS_H")
    text2 = c_emit.emit_fwcs_header(dict(reversed(list(blobs.items()))), "TEST_FWCS_H")
    assert text1 == text2
    assert [m.group(1) for m in re.finditer(r"uint8_t (\w+)\[", text1)] == sorted(blobs)
    for name, blob in blobs.items():  # the emitted bytes are the blob
        body = re.search(rf"{name}\[(\d+)\] __attribute__\(\(aligned\(16\)\)\) = \{{(.*?)\}};", text1, re.S)
        assert int(body.group(1)) == len(blob)
        assert bytes(int(x, 16) for x in re.findall(r"0x([0-9a-f]{2})", body.group(2))) == blob
    assert "\r" not in text1 and text1.endswith("#endif /* TEST_FWCS_H */\n")


def test_c_emit_rejects_bad_names_and_blobs():
    blob = _blob()
    with pytest.raises(c_emit.CEmitError, match="not a valid C identifier"):
        c_emit.emit_fwcs_header({"conv-1": blob})
    with pytest.raises(c_emit.CEmitError, match="not a valid C identifier"):
        c_emit.emit_fwcs_header({"int": blob})
    with pytest.raises(c_emit.CEmitError, match="layer 'x': fwcs: checksum mismatch"):
        c_emit.emit_fwcs_header({"x": blob[:-1] + bytes([blob[-1] ^ 1])})
    assert c_emit.c_identifier("model/conv2d_1/Conv2D") == "fwcs_model_conv2d_1_conv2d"


@pytest.mark.skipif(shutil.which("gcc") is None, reason="gcc not installed")
def test_c_header_compiles_with_gcc(tmp_path):
    text = c_emit.emit_fwcs_header(_emit_blobs(), "TEST_FWCS_H")
    c_emit.write_header(tmp_path / "layers.h", text)
    (tmp_path / "use.c").write_text(
        '#include "layers.h"\n'
        '#include "layers.h"\n'  # include guard works
        "typedef char aligned_a[(__alignof__(fwcs_conv_a) == 16) ? 1 : -1];\n"
        "unsigned total(void);\n"
        "unsigned total(void) {\n"
        "    return (unsigned)(sizeof fwcs_conv_a + sizeof fwcs_conv_b + sizeof fwcs_conv_c) + fwcs_conv_a[0];\n"
        "}\n"
    )
    compilers = ["gcc"] + (["arm-none-eabi-gcc"] if shutil.which("arm-none-eabi-gcc") else [])
    for cc in compilers:
        extra = ["-mcpu=cortex-m4", "-mthumb"] if cc.startswith("arm") else []
        r = subprocess.run(
            [cc, "-std=c99", "-Wall", "-Wextra", "-Werror", *extra, "-c", "use.c", "-o", f"use-{cc}.o"],
            cwd=tmp_path, capture_output=True, text=True,
        )  # fmt: skip
        assert r.returncode == 0, r.stderr
