"""`dtmm pack` with the real lowering, without QEMU: determinism, warning-free C for every core,
and the packed ResNet-8 run on the host (portable kernels, ASan/UBSan) bit-exact with tflite-micro."""
from __future__ import annotations

import shutil
import subprocess

import numpy as np
import pytest
from click.testing import CliRunner

from dtmm.cli import main
from dtmm.pack import pack_model
from dtmm.prune.magnitude import prune_filterlets
from dtmm.tflite.interpreter import tflm_outputs
from dtmm.tflite.model import TfliteModel
from support.hostbuild import KERNELS_DIR, SANITIZE, build_kernels_library

pytest.importorskip("dtmm.pack.lowering", reason="the operator lowering (dtmm.pack.lowering) is not available")

CPUS = {
    "cortex-m3": ["-mcpu=cortex-m3"],
    "cortex-m4": ["-mcpu=cortex-m4", "-mfpu=fpv4-sp-d16", "-mfloat-abi=hard"],
    "cortex-m55": ["-mcpu=cortex-m55", "-mfloat-abi=hard"],
}


def test_cli_pack_resnet8_is_deterministic(resnet8_tflite, tmp_path):
    runner = CliRunner()
    files = []
    for d in ("a", "b"):
        r = runner.invoke(main, ["pack", str(resnet8_tflite), "--out", str(tmp_path / d), "--name", "resnet8"])
        assert r.exit_code == 0, r.output
        files.append({p.name: p.read_bytes() for p in (tmp_path / d).iterdir()})
    assert files[0] == files[1]
    assert sorted(files[0]) == ["resnet8.c", "resnet8.h", "resnet8.json"]
    import json

    summary = json.loads(files[0]["resnet8.json"])
    assert f"arena      {summary['arena_bytes']} bytes peak" in r.stdout
    # every ResNet-8 conv has cin 16/32/64 rows (or a small-cin patch, read by gathers: pg) and cout <= 64:
    # MVE group kernels only
    mve = summary["conv_variants"]["mve"]
    assert mve and all(v.startswith(("mve_quad", "mve_pg")) for v in mve) and len(set(mve)) == len(mve)
    assert f"conv mve   kernel variants linked: {', '.join(mve)}" in r.stdout
    assert summary["conv_variants"]["dsp"] == ["dsp_band"]


@pytest.mark.skipif(shutil.which("arm-none-eabi-gcc") is None, reason="arm-none-eabi-gcc not installed")
@pytest.mark.parametrize("cpu", sorted(CPUS))
@pytest.mark.parametrize("profile", [False, True])
def test_packed_resnet8_compiles_warning_free(resnet8_tflite, tmp_path, cpu, profile):
    packed = pack_model(resnet8_tflite, "resnet8")
    for name, data in packed.files.items():
        (tmp_path / name).write_bytes(data)
    cmd = ["arm-none-eabi-gcc", "-std=c99", "-O2", "-Wall", "-Wextra", "-Werror", "-mthumb", *CPUS[cpu],
           "-I", str(tmp_path), "-I", str(KERNELS_DIR / "include"),
           "-I", str(KERNELS_DIR.parents[1] / "boards" / "include"),
           "-c", str(tmp_path / "resnet8.c"), "-o", str(tmp_path / "resnet8.o")]
    if profile:
        cmd.append("-DDTMM_PROFILE")
    proc = subprocess.run(cmd, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr


_DRIVER = r"""
#include <stdio.h>
#include <string.h>
#include "resnet8.h"
int main(void)
{
    static int8_t buf[RESNET8_INPUT_BYTES];
    dtmm_status st = resnet8_init();
    if (st != DTMM_OK) { fprintf(stderr, "init %d op %d\n", (int)st, resnet8_error_op()); return 11; }
    while (fread(buf, 1, sizeof buf, stdin) == sizeof buf) {
        memcpy(resnet8_input(), buf, sizeof buf);
        st = resnet8_invoke();
        if (st != DTMM_OK) { fprintf(stderr, "invoke %d op %d\n", (int)st, resnet8_error_op()); return 12; }
        fwrite(resnet8_output(), 1, RESNET8_OUTPUT_BYTES, stdout);
    }
    return 0;
}
"""


@pytest.fixture(scope="module")
def kernels_lib(tmp_path_factory):
    if shutil.which("cmake") is None or shutil.which("cc") is None:
        pytest.skip("cmake or a host C compiler is missing")
    return build_kernels_library(tmp_path_factory.mktemp("kernels"), sanitize=True)


@pytest.mark.parametrize("fraction", [0.0, 0.5])
def test_packed_resnet8_on_host_bit_exact(resnet8_tflite, kernels_lib, tmp_path, fraction):
    data = resnet8_tflite.read_bytes()
    if fraction:
        data = prune_filterlets(data, fraction)
    packed = pack_model(TfliteModel(data, "resnet8.tflite"), "resnet8")
    for name, blob in packed.files.items():
        (tmp_path / name).write_bytes(blob)
    (tmp_path / "driver.c").write_text(_DRIVER)
    exe = tmp_path / "resnet8"
    cmd = ["cc", "-std=c99", "-O1", "-g", "-Wall", "-Wextra", "-Werror", *SANITIZE.split(), "-I", str(tmp_path),
           "-I", str(KERNELS_DIR / "include"), str(tmp_path / "resnet8.c"), str(tmp_path / "driver.c"),
           str(kernels_lib), "-o", str(exe)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    xs = np.random.default_rng(5).integers(-128, 128, size=(10, 1, 32, 32, 3)).astype(np.int8)
    run = subprocess.run([str(exe)], input=xs.tobytes(), capture_output=True, timeout=600)
    assert run.returncode == 0, run.stderr.decode(errors="replace")[-2000:]
    got = np.frombuffer(run.stdout, np.int8).reshape(10, -1)
    want = tflm_outputs(data, xs)
    for i in range(10):
        assert np.array_equal(got[i], want[i]), f"input {i}: {got[i]} vs {want[i]}"


def test_pack_is_identical_across_processes(resnet8_tflite, tmp_path):
    """Separate processes with different hash seeds write the same bytes (tools/pack.py wrapper)."""
    import os
    import sys

    from dtmm.targets.platformio import find_repo_root

    script = find_repo_root() / "tools" / "pack.py"
    outs = []
    for seed in ("1", "2"):
        out = tmp_path / f"out{seed}"
        env = dict(os.environ, PYTHONHASHSEED=seed)
        proc = subprocess.run([sys.executable, str(script), str(resnet8_tflite), "--out", str(out), "--name", "r8"],
                              capture_output=True, text=True, env=env)
        assert proc.returncode == 0, proc.stderr
        assert proc.stdout.startswith("packed ")
        outs.append({p.name: p.read_bytes() for p in out.iterdir()})
    assert outs[0] == outs[1]
