"""CONV_2D lowering: the static scratch reservation covers the conv path of every board.

dtmm.pack.lowering reserves conv_scratch_bytes(blob) per CONV_2D because the
arena is planned before the firmware's conv path (portable C, DSP, MVE) is
known.  The sizes come from the kernels' own get_buffer_size code, compiled
on the host with each path's feature macros (dtmm.pack.lowering.conv_scratch);
these tests check that probe on many layers (every encoding, strides,
dilations, channel counts around the SIMD widths, kernels up to 9x9) against
the host library, and that packing without a host compiler fails clearly.
"""
from __future__ import annotations

import subprocess

import numpy as np
import pytest

from dtmm.errors import DtmmError
from dtmm.formats import fwcs
from dtmm.pack.lowering import conv_scratch, conv_scratch_bytes, lower_model
from dtmm.pack.lowering.conv_scratch import c_probe_bytes, host_compiler, probe_available
from dtmm.tflite.model import TfliteModel
from support.host_ops import kernels_library
from support.hostbuild import build_host_program

DRIVER = r"""
#include <stdio.h>

#include "dtmm_kernels.h"

static uint8_t blob[1 << 22] __attribute__((aligned(16)));

int main(int argc, char **argv)
{
    FILE *f = fopen(argv[1], "rb");
    unsigned long long n;
    if (argc != 2 || f == NULL) {
        return 2;
    }
    while (fread(&n, sizeof n, 1, f) == 1) {
        if (n > sizeof blob || fread(blob, 1, n, f) != n) {
            return 3;
        }
        printf("%ld\n", (long)dtmm_conv_s8_get_buffer_size(blob));
    }
    fclose(f);
    return 0;
}
"""


def _blobs(rng):
    blobs = []
    shapes = [
        (8, 3, 3, 3, 1, 1), (16, 16, 3, 3, 1, 1), (16, 16, 3, 3, 2, 1), (32, 32, 3, 3, 2, 1),
        (64, 64, 3, 3, 1, 1), (32, 16, 1, 1, 2, 1), (4, 1, 5, 5, 1, 1), (7, 9, 7, 7, 1, 2),
        (3, 2, 9, 9, 1, 1), (12, 5, 3, 1, 3, 1), (1, 1, 1, 1, 1, 1), (96, 8, 3, 3, 1, 3),
        (10, 260, 3, 3, 1, 1), (200, 40, 3, 3, 1, 1), (17, 6, 2, 5, 2, 2), (24, 24, 5, 5, 1, 1),
    ]  # fmt: skip
    for cout, cin, kh, kw, stride, dil in shapes:
        for in_hw, padding in ((5, "same"), (32, "same"), (12, "valid")):
            h = max(in_hw, (kh - 1) * dil + 1)
            w = max(in_hw, (kw - 1) * dil + 1)
            spec = fwcs.ConvSpec(cout=cout, cin=cin, kh=kh, kw=kw, in_h=h, in_w=w, stride_h=stride, stride_w=stride,
                                 dilation_h=dil, dilation_w=dil, padding=padding)  # fmt: skip
            for density in (1.0, 0.4, 0.03):
                wts = rng.integers(-127, 128, size=spec.weight_shape)
                wts = (wts * (rng.random((cout, kh, kw)) < density)[..., None]).astype(np.int8)
                z = np.zeros(cout, np.int32)
                for enc in ("auto", "dense", "bitmap", "list"):
                    blobs.append(fwcs.encode(wts, z, np.full(cout, 1 << 30, np.int32), z, spec, enc))
    return blobs


@pytest.fixture(scope="module")
def blobs():
    return _blobs(np.random.default_rng(0))


@pytest.fixture(scope="module")
def probed(blobs):
    if host_compiler() is None:
        pytest.skip("no host C compiler: conv scratch sizes come from the Python fallback")
    assert probe_available(), f"the conv scratch probe does not build:\n{conv_scratch.probe_error}"
    got = c_probe_bytes(blobs)
    assert got is not None and len(got) == len(blobs)
    return got


def test_probe_sizes_cover_every_path(blobs, probed):
    kinds = set()
    for blob, (c, dsp, mve) in zip(blobs, probed):
        assert min(c, dsp, mve) >= 0
        reserved = conv_scratch_bytes(blob)
        assert reserved >= max(c, dsp, mve) and reserved % 16 == 0 and reserved - max(c, dsp, mve) < 16
        kinds.add("dsp" if dsp != c else "dsp=c")
        kinds.add("mve" if mve != c else "mve=c")
    assert {"dsp", "mve", "dsp=c"} <= kinds, kinds  # the probe really ran the SIMD paths' size code


def test_probe_portable_size_matches_host_library(blobs, probed, tmp_path):
    """On the host dtmm_conv_s8_get_buffer_size is the portable path: it must equal the probe's figure."""
    lib = kernels_library(tmp_path / "kernels")
    src = tmp_path / "size_driver.c"
    src.write_text(DRIVER)
    exe = build_host_program(src, tmp_path / "size_driver", lib)
    (tmp_path / "blobs.bin").write_bytes(b"".join(np.uint64(len(b)).tobytes() + b for b in blobs))
    out = subprocess.run([str(exe), str(tmp_path / "blobs.bin")], capture_output=True, text=True, check=True).stdout
    host = [int(v) for v in out.split()]
    assert host == [c for c, _, _ in probed]


def test_missing_probe_is_a_clear_error(monkeypatch, blobs):
    monkeypatch.setattr(conv_scratch, "_c_probe", lambda _blobs: None)
    monkeypatch.setattr(conv_scratch, "host_compiler", lambda: None)
    with pytest.raises(DtmmError, match="needs a host C compiler"):
        conv_scratch.conv_scratch_bytes(blobs[0])


def test_resnet8_conv_scratch(resnet8_tflite):
    model = TfliteModel.load(resnet8_tflite)
    for lo in lower_model(model):
        if lo.op_name == "CONV_2D":
            assert lo.scratch_bytes > 0 and lo.scratch_bytes % 16 == 0
            assert lo.scratch_expr.startswith("dtmm_conv_s8_get_buffer_size(")
