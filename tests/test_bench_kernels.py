"""`dtmm bench kernels`: measures every ResNet-8 conv under QEMU and refuses wrong outputs."""
from __future__ import annotations

import json
import shutil

import pytest
from click.testing import CliRunner

from dtmm.bench import kernels as kernel_bench
from dtmm.cli import main
from dtmm.errors import DtmmError
from dtmm.targets.platformio import build

REPO = kernel_bench.REPO_ROOT

pytestmark = [
    pytest.mark.qemu,
    pytest.mark.skipif(shutil.which("qemu-system-arm") is None, reason="qemu-system-arm not installed"),
    pytest.mark.skipif(shutil.which("arm-none-eabi-gcc") is None, reason="arm-none-eabi-gcc not installed"),
]

ROW_KEYS = {"layer", "kernel", "cin", "cout", "density", "macs", "sparse_instructions", "dense_instructions",
            "reference_instructions"}


def test_bench_kernels_json_on_m3(resnet8_tflite, tmp_path):
    result = CliRunner().invoke(main, ["bench", "kernels", "--board", "qemu-m3", "--densities", "0.5,1",
                                       "--model", str(resnet8_tflite), "--build-dir", str(tmp_path), "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["board"] == "qemu-m3" and report["path"] == "c"
    assert report["kernels_optimization"] == "-Ofast"
    rows = report["rows"]
    assert len(rows) == 9 * 2 and all(ROW_KEYS <= set(r) for r in rows)
    assert {tuple(r["kernel"]) for r in rows} == {(3, 3), (1, 1)}
    for r in rows:
        assert r["macs"] == r["cout"] * r["cin"] * r["kernel"][0] * r["kernel"][1] * (
            32 * 32 if r["layer"] in ("conv2d", "conv2d_1", "conv2d_2") else
            16 * 16 if r["layer"] in ("conv2d_3", "conv2d_4", "conv2d_5") else 8 * 8)
        # dense mode beats the reference loop; pruning half the filterlets makes the kernel cheaper
        assert r["dense_instructions"] < r["reference_instructions"]
        if r["density"] == 1.0:
            assert abs(r["sparse_instructions"] - r["dense_instructions"]) < 100  # the same DENSE blob
        else:
            assert r["sparse_instructions"] < 0.8 * r["dense_instructions"]
    t = report["totals"]
    assert t["dense_instructions"] == sum(r["dense_instructions"] for r in rows if r["density"] == 1.0)
    assert t["macs"] == sum(r["macs"] for r in rows if r["density"] == 1.0) == 12_500_992


def test_bench_kernels_table_mentions_flags_and_totals(resnet8_tflite, tmp_path, monkeypatch):
    _only_last_layers(monkeypatch, 2)
    result = CliRunner().invoke(main, ["bench", "kernels", "--board", "qemu-m4", "--densities", "0.25",
                                       "--model", str(resnet8_tflite), "--build-dir", str(tmp_path)])
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "kernels compiled with -Ofast" in out and "qemu-m4" in out
    assert "sparse/dense" in out and "dense/ref" in out
    assert "conv stack (2 layers" in out and "density 0.25: sparse" in out


def _only_last_layers(monkeypatch, n):
    real = kernel_bench.resnet8_layers

    def fewer(path):
        model, layers = real(path)
        return model, layers[-n:]

    monkeypatch.setattr(kernel_bench, "resnet8_layers", fewer)


def test_wrong_output_is_an_error_not_a_table(resnet8_tflite, tmp_path, monkeypatch):
    _only_last_layers(monkeypatch, 1)
    real = kernel_bench.prepare_layers

    def tampered(*args, **kwargs):
        layers = real(*args, **kwargs)
        layers[0].runs[-1].output_hash ^= 1  # the golden output of one sparse run no longer matches
        return layers

    monkeypatch.setattr(kernel_bench, "prepare_layers", tampered)
    with pytest.raises(DtmmError, match=r"failed verification:\n  conv2d_8\.d050: wrong output"):
        kernel_bench.run_bench("qemu-m3", [0.5], model_path=resnet8_tflite, build_dir=tmp_path)


def test_board_without_the_ram_is_refused_before_any_build(resnet8_tflite, tmp_path):
    with pytest.raises(DtmmError, match=r"needs about \d+ bytes of RAM on qemu-m0 .* the board has 16384"):
        kernel_bench.run_bench("qemu-m0", [0.5], model_path=resnet8_tflite, build_dir=tmp_path)
    assert not list(tmp_path.iterdir())


def test_bad_arguments_are_clear_errors(tmp_path):
    runner = CliRunner()
    result = runner.invoke(main, ["bench", "kernels", "--densities", "0.5,2"])
    assert result.exit_code == 2 and "densities must be in (0, 1]" in result.output
    result = runner.invoke(main, ["bench", "kernels", "--board", "nucleo_l4r5zi", "--model", str(tmp_path / "x")])
    assert result.exit_code == 2 and "real hardware" in result.output
    result = runner.invoke(main, ["bench", "kernels", "--model", str(tmp_path / "missing.tflite")])
    assert result.exit_code == 2 and "not found" in result.output
    with pytest.raises(DtmmError, match="bad kernels optimization"):
        build(REPO / "app" / "hello" / "src", "qemu-m3", kernels_optimization="-O2 -fno-foo")
