"""DTMM inside stock TensorFlow Lite Micro: the adapter's checks, the app's generated sources, and -- with a
TFLM tree -- the app itself on qemu-m4 and qemu-m55, bit-exact with the tflite-micro interpreter on the
original, unconverted model (docs/tflm.md).

TFLM's sources are on no registry CI can reach: the tests that build against them skip in one line when
TFLM_DIR is unset; everything else (the converter, the C checks the adapter's Prepare relies on, the
generated sources) runs everywhere.
"""
from __future__ import annotations

import os
import subprocess
from pathlib import Path

import numpy as np
import pytest

from dtmm.errors import DtmmError
from dtmm.formats import fwcs
from dtmm.tflite.interpreter import tflm_outputs
from dtmm.tflite.model import TfliteModel
from dtmm.tflm.app_sources import app_files, resolver_method
from dtmm.tflm.rewrite import blobs_of, convert_model
from support.hostbuild import build_host_program
from support.host_ops import kernels_library
from test_tflm_convert import prune_half_of_resnet8, two_conv_model

TFLM_DIR = os.environ.get("TFLM_DIR", "")
needs_tflm = pytest.mark.skipif(not TFLM_DIR, reason="TFLM_DIR is not set: no TFLM tree to build against (docs/tflm.md)")


# --------------------------------------------------------------------------- the C checks of Prepare


def _c_bytes(data: bytes) -> str:
    return ",".join(str(b) for b in data)


CHECK_PROGRAM = """
#include <stdio.h>
#include <string.h>
#include "dtmm_kernels.h"

static const uint8_t blob_src[] = {%(blob)s};
static uint8_t storage[sizeof blob_src + 16] __attribute__((aligned(16)));

static void report(const char *name, const uint8_t *blob, uint32_t size, dtmm_conv_tensors t)
{
    int32_t scratch = -1;
    const char *problem = "unset";
    dtmm_status s = dtmm_conv_s8_check_tensors(blob, size, &t, &scratch, &problem);
    printf("%%s %%s %%d %%s\\n", name, dtmm_status_name(s), (int)scratch, problem);
}

int main(void)
{
    memcpy(storage, blob_src, sizeof blob_src);
    const uint32_t n = (uint32_t)sizeof blob_src;
    const dtmm_conv_tensors good = {%(tensors)s};
    dtmm_conv_tensors t;
    report("ok", storage, n, good);
    printf("buffer_size %%d\\n", (int)dtmm_conv_s8_get_buffer_size(storage));
    t = good; t.in_c += 1; report("in_c", storage, n, t);
    t = good; t.in_h -= 1; report("in_h", storage, n, t);
    t = good; t.out_w += 1; report("out_w", storage, n, t);
    t = good; t.out_c -= 1; report("out_c", storage, n, t);
    t = good; t.output_zero_point += 1; report("zero_point", storage, n, t);
    t = good; t.batches = 0; report("batches", storage, n, t);
    report("short", storage, n - 1, good);
    storage[n / 2] ^= 0x40; report("crc", storage, n, good); storage[n / 2] ^= 0x40;
    memmove(storage + 4, storage, n); report("misaligned", storage + 4, n, good);
    report("null", 0, n, good);
    return 0;
}
"""


def test_prepare_checks_refuse_every_mismatch_in_one_phrase(tmp_path):
    original = two_conv_model()
    blob = next(iter(blobs_of(convert_model(original, "m").data).values()))
    s = fwcs.validate(blob).spec
    tensors = f"2, {s.in_h}, {s.in_w}, {s.cin}, {s.out_h}, {s.out_w}, {s.cout}, {s.output_offset}"
    src = tmp_path / "check.c"
    src.write_text(CHECK_PROGRAM % {"blob": _c_bytes(blob), "tensors": tensors})
    exe = build_host_program(src, tmp_path / "check", kernels_library())
    out = subprocess.run([str(exe)], capture_output=True, text=True, check=True).stdout
    rows = {line.split(" ", 1)[0]: line.split(" ", 1)[1] for line in out.strip().splitlines()}
    status, scratch, _ = rows["ok"].split(" ", 2)
    assert status == "DTMM_OK" and scratch == rows["buffer_size"]
    expected = {
        "in_c": ("DTMM_ERR_ARGUMENT", "input shape"), "in_h": ("DTMM_ERR_ARGUMENT", "input shape"),
        "out_w": ("DTMM_ERR_ARGUMENT", "output shape"), "out_c": ("DTMM_ERR_ARGUMENT", "output shape"),
        "zero_point": ("DTMM_ERR_ARGUMENT", "zero point"), "batches": ("DTMM_ERR_ARGUMENT", "batch"),
        "short": ("DTMM_ERR_TRUNCATED", "not a valid FWCS blob"), "crc": ("DTMM_ERR_CHECKSUM", "not a valid"),
        "misaligned": ("DTMM_ERR_ARGUMENT", "16-byte aligned"), "null": ("DTMM_ERR_ARGUMENT", "NULL"),
    }  # fmt: skip
    for name, (want_status, phrase) in expected.items():
        got_status, got_scratch, problem = rows[name].split(" ", 2)
        assert got_status == want_status and phrase in problem, f"{name}: {rows[name]}"
        assert got_scratch == "-1", f"{name}: scratch written on failure"


def test_adapter_sources_are_listed_and_use_only_the_checked_entry_points():
    """The adapter's list names files that exist; its Prepare goes through dtmm_conv_s8_check_tensors."""
    kernels = Path(__file__).resolve().parents[1] / "lib" / "dtmm_kernels"
    listed = [ln.strip() for ln in (kernels / "tflm" / "sources.txt").read_text().splitlines()
              if ln.strip() and not ln.startswith("#")]  # fmt: skip
    assert listed and all((kernels / p).is_file() for p in listed)
    body = (kernels / "tflm" / "dtmm_conv_2d_tflm.cc").read_text()
    assert "dtmm_conv_s8_check_tensors" in body and "RequestScratchBufferInArena" in body
    assert "malloc" not in body and " new " not in body


# --------------------------------------------------------------------------- generated sources


@pytest.mark.parametrize("op, method", [
    ("CONV_2D", "AddConv2D"), ("DEPTHWISE_CONV_2D", "AddDepthwiseConv2D"), ("AVERAGE_POOL_2D", "AddAveragePool2D"),
    ("FULLY_CONNECTED", "AddFullyConnected"), ("PADV2", "AddPadV2"), ("RELU6", "AddRelu6"),
    ("HARD_SWISH", "AddHardSwish"), ("RESIZE_NEAREST_NEIGHBOR", "AddResizeNearestNeighbor"),
    ("BATCH_MATMUL", "AddBatchMatMul"),
])  # fmt: skip
def test_resolver_method_names(op, method):
    assert resolver_method(op) == method


def test_app_files_register_each_op_kind_once_and_embed_the_model():
    converted = convert_model(two_conv_model(batch=1), "m").data
    files = app_files(TfliteModel(converted, "m.tflite"))
    ops = files["tflm_ops.h"]
    assert "#define TFLM_APP_NUM_OPS 3" in ops
    assert ops.count("AddConv2D()") == 1 and ops.count("Register_DTMM_CONV_2D()") == 1 and "AddMaxPool2D()" in ops
    assert f"tflm_model_data[{len(converted)}]" in files["tflm_model_data.h"]
    assert "alignas(16)" in files["tflm_model_data.h"]
    assert "#define TFLM_APP_NUM_INPUTS 2u" in files["tflm_inputs.h"]


def test_app_files_refuse_what_the_app_cannot_run():
    model = TfliteModel(two_conv_model(batch=1), "m.tflite")
    with pytest.raises(DtmmError, match="inputs must be int8"):
        app_files(model, np.zeros((2, 5), dtype=np.int8))
    with pytest.raises(DtmmError, match="arena"):
        app_files(model, arena_bytes=1000)


# --------------------------------------------------------------------------- the app on stock TFLM


@pytest.fixture(scope="module")
def pruned_resnet8(resnet8_tflite, tmp_path_factory):
    d = tmp_path_factory.mktemp("tflm")
    original = d / "resnet8_50.tflite"
    original.write_bytes(prune_half_of_resnet8(resnet8_tflite.read_bytes()))
    converted = d / "resnet8_50_dtmm.tflite"
    converted.write_bytes(convert_model(original.read_bytes(), str(original)).data)
    return original, converted


@needs_tflm
@pytest.mark.parametrize("board", ["qemu-m4", "qemu-m55"])
def test_tflm_app_with_dtmm_op_is_bit_exact_with_the_original_model(pruned_resnet8, board):
    from dtmm.tflm.firmware import run_app

    original, converted = pruned_resnet8
    x = np.random.default_rng(7).integers(-128, 128, size=(2, 1, 32, 32, 3), dtype=np.int8)
    want = tflm_outputs(original.read_bytes(), x)
    run = run_app(converted, x, board, TFLM_DIR, kernels="reference")
    for i, (g, w) in enumerate(zip(run.outputs, want)):
        assert np.array_equal(g.reshape(-1), np.asarray(w).reshape(-1)), f"{board} input {i} differs"
    assert run.arena_used_bytes > 0 and all(n > 0 for n in run.instructions)


def test_app_console_errors_become_one_line():
    """What the app prints when TFLM's AllocateTensors fails (e.g. the adapter's Prepare refusing a blob)."""
    from dtmm.tflm.firmware import parse_console

    console = "DTMM_CONV_2D: the input shape differs (DTMM_ERR_ARGUMENT)\n@dtmm error setup AllocateTensors\n"
    with pytest.raises(DtmmError, match="the TFLM app failed: setup AllocateTensors"):
        parse_console(console, 1)
    with pytest.raises(DtmmError, match="reported 1 outputs for 2 inputs"):
        parse_console("@dtmm measure inference 5\n@dtmm output 0 1 2\n@dtmm tflm arena_used 10\n", 2)


@needs_tflm
def test_adapter_builds_warning_free_with_cmake_against_tflm(tmp_path):
    """The optional CMake part: -DTFLM_DIR builds dtmm_kernels_tflm (host compiler, -Wall -Wextra -Werror)."""
    kernels = Path(__file__).resolve().parents[1] / "lib" / "dtmm_kernels"
    subprocess.run(["cmake", "-S", str(kernels), "-B", str(tmp_path), f"-DTFLM_DIR={TFLM_DIR}"], check=True,
                   capture_output=True)  # fmt: skip
    proc = subprocess.run(["cmake", "--build", str(tmp_path), "--parallel", "2"], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert (tmp_path / "libdtmm_kernels_tflm.a").is_file()


def test_cmake_without_tflm_builds_no_adapter(tmp_path):
    kernels = Path(__file__).resolve().parents[1] / "lib" / "dtmm_kernels"
    subprocess.run(["cmake", "-S", str(kernels), "-B", str(tmp_path)], check=True, capture_output=True)
    targets = subprocess.run(["cmake", "--build", str(tmp_path), "--target", "help"], capture_output=True,
                             text=True, check=True).stdout  # fmt: skip
    assert "dtmm_kernels" in targets and "dtmm_kernels_tflm" not in targets


def test_cmake_refuses_a_tflm_dir_that_is_not_one_in_one_line(tmp_path):
    kernels = Path(__file__).resolve().parents[1] / "lib" / "dtmm_kernels"
    proc = subprocess.run(["cmake", "-S", str(kernels), "-B", str(tmp_path), f"-DTFLM_DIR={tmp_path}"],
                          capture_output=True, text=True)  # fmt: skip
    assert proc.returncode != 0 and "is not a tflite-micro tree" in " ".join(proc.stderr.split())  # CMake wraps
