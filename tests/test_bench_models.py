"""`dtmm bench models`: the benchmark models have the documented shapes, runs are checked, errors are one line."""
from __future__ import annotations

import json
import shutil

import pytest
from click.testing import CliRunner

from dtmm.bench import models as bm
from dtmm.cli import main
from dtmm.errors import DtmmError

keras = pytest.importorskip("keras")


def _layers(model, kind):
    return [layer for layer in model.layers if layer.__class__.__name__ == kind]


def test_ds_cnn_shape():
    m = bm.build_ds_cnn()
    assert tuple(m.inputs[0].shape[1:]) == (49, 10, 1)
    convs = _layers(m, "Conv2D")
    assert convs[0].kernel_size == (10, 4) and convs[0].strides == (2, 2) and convs[0].filters == 64
    assert len(_layers(m, "DepthwiseConv2D")) == 4 and all(c.filters == 64 for c in convs)
    assert _layers(m, "AveragePooling2D")[0].pool_size == (25, 5)
    assert _layers(m, "Dense")[0].units == 12


def test_mobilenet_shape():
    m = bm.build_mobilenet_v1_025()
    assert tuple(m.inputs[0].shape[1:]) == (96, 96, 3)
    assert len(_layers(m, "DepthwiseConv2D")) == 13
    assert [c.filters for c in _layers(m, "Conv2D")][-1] == 256  # 1024 * 0.25
    assert tuple(m.outputs[0].shape[1:]) == (2,)


def test_fc_autoencoder_shape():
    m = bm.build_fc_autoencoder()
    assert [d.units for d in _layers(m, "Dense")] == [128, 128, 128, 128, 8, 128, 128, 128, 128, 640]


def test_unknown_model_and_bad_baseline(tmp_path):
    with pytest.raises(DtmmError, match="unknown benchmark model"):
        bm.load_models(["resnet9"])
    bad = tmp_path / "b.json"
    bad.write_text("{not json")
    with pytest.raises(DtmmError, match="is not JSON"):
        bm.load_baseline(bad)
    bad.write_text(json.dumps({"models": {"ds_cnn": {"instructions_per_inference": -3}}}))
    with pytest.raises(DtmmError, match="ds_cnn has no positive integer"):
        bm.load_baseline(bad)
    r = CliRunner().invoke(main, ["bench", "models", "--models", "ds_cnn,nope"])
    assert r.exit_code == 2 and "unknown model(s) nope" in r.output


def test_table_shows_baseline_ratio():
    report = {"board": "qemu-m4", "unit": "QEMU-retired instructions (not cycles)", "baseline": "b.json",
              "models": [{"model": "ds_cnn", "macs": 1000, "instructions_per_inference": 1500,
                          "instructions_per_mac": 1.5, "arena_bytes": 10, "weights_flash_bytes": 20,
                          "baseline_instructions": 3000, "ratio_to_baseline": 0.5,
                          "firmware_text_bytes": 123456, "kernel_text_bytes": 7890,
                          "per_op_type": {"CONV_2D": 1000, "ADD": 500}}]}  # fmt: skip
    text = bm.render_table(report)
    assert "1,500" in text and "3,000" in text and "0.500" in text and "CONV_2D 1,000 (67%)" in text
    assert "kernels B" in text and "123,456" in text and "7,890" in text


def test_table_labels_estimated_cycles():
    report = {"board": "qemu-m4", "unit": "QEMU-retired instructions (not cycles)", "baseline": None,
              "estimated_cycles_source": "Cortex-M4 TRM",
              "models": [{"model": "ds_cnn", "macs": 1000, "instructions_per_inference": 1500,
                          "instructions_per_mac": 1.5, "arena_bytes": 10, "weights_flash_bytes": 20,
                          "estimated_cycles_per_inference": 2250, "per_op_type": {"CONV_2D": 1000, "ADD": 500},
                          "per_op_type_estimated_cycles": {"CONV_2D": 1800, "ADD": 450}}]}  # fmt: skip
    lines = bm.render_table(report).splitlines()
    assert lines[2].split()[-4:] == ["est.", "cycles", "est.", "cycles/instr"]
    assert lines[3].split()[-2:] == ["2,250", "1.50"]
    assert any("per op type, estimated cycles (profiled run): CONV_2D 1,800 (80%)" in line for line in lines)
    assert lines[-1].startswith("est. cycles: an estimate from an instruction trace and Cortex-M4 TRM")
    assert not any(" cycles" in line.replace("(not cycles)", "") and "est" not in line for line in lines)  # never bare


@pytest.mark.qemu
@pytest.mark.skipif(shutil.which("qemu-system-arm") is None, reason="qemu-system-arm not installed")
def test_fc_autoencoder_runs_bit_exact_on_qemu(tmp_path, monkeypatch):
    monkeypatch.setenv("DTMM_BENCH_MODELS_CACHE", str(tmp_path / "cache"))
    base = tmp_path / "base.json"
    base.write_text(json.dumps({"models": {"fc_autoencoder": {"instructions_per_inference": 1000}}}))
    r = CliRunner().invoke(main, ["bench", "models", "--board", "qemu-m4", "--models", "fc_autoencoder", "--json",
                                  "--baseline", str(base)])  # fmt: skip
    assert r.exit_code == 0, r.output
    report = json.loads(r.stdout)
    (row,) = report["models"]
    assert row["model"] == "fc_autoencoder" and row["bit_exact_inputs"] == bm.DEFAULT_INPUTS
    assert row["macs"] == 640 * 128 + 3 * 128 * 128 + 128 * 8 + 8 * 128 + 3 * 128 * 128 + 128 * 640
    assert row["instructions_per_inference"] > row["macs"] / 8  # no SIMD path does 8 MACs per instruction on an M4
    assert set(row["per_op_type"]) == {"FULLY_CONNECTED"}
    assert row["ratio_to_baseline"] == round(row["instructions_per_inference"] / 1000, 3)
    # code size from the built ELF and its map: the FC kernels, but no conv code (no CONV_2D layer)
    assert 0 < row["kernel_text_bytes"] < 8000 < row["firmware_text_bytes"]
    assert list((tmp_path / "cache").glob("fc_autoencoder-*.tflite"))


def test_conv_shape_suite_names_and_layers():
    assert bm.expand_model_names(["ds_cnn", "conv_shapes", "conv_1x7_c16"]) == ["ds_cnn", *bm.SHAPE_NAMES]
    for shape in bm.CONV_SHAPES:
        m = shape.build()
        (conv,) = _layers(m, "Conv2D")
        assert conv.kernel_size == shape.kernel and conv.strides == (shape.strides,) * 2
        assert tuple(m.inputs[0].shape[1:]) == shape.input_hwc and conv.filters == shape.filters
    r = CliRunner().invoke(main, ["bench", "models", "--models", "conv_shapes,conv_9x9"])
    assert r.exit_code == 2 and "unknown model(s) conv_9x9" in r.output and "conv_10x4_s2_c1" in r.output


def test_golden_outputs_of_a_model_beyond_the_interpreters_default_arena():
    # 32x32x16 int8 output alone is 16 KB: more than the tflite-micro interpreter's default arena
    import numpy as np

    from dtmm.tflite.interpreter import tflm_outputs

    data = bm.keras_int8("conv_3x3_c1", seed=0)
    xs = np.random.default_rng(0).integers(-128, 128, size=(2, 32, 32, 1), dtype=np.int8)
    outs = tflm_outputs(data, xs)
    assert len(outs) == 2 and outs[0].size == 32 * 32 * 16 and not np.array_equal(outs[0], outs[1])


def test_ops_above_baseline_are_listed(tmp_path):
    base = tmp_path / "b.json"
    base.write_text(json.dumps({"models": {"ds_cnn": {"instructions_per_inference": 3000,
                                                      "per_op": {"op00_CONV_2D": 1000, "op01_SOFTMAX": 100}}}}))
    ref = bm.load_baseline(base)["ds_cnn"]
    assert ref == {"instructions": 3000, "per_op": {"op00_CONV_2D": 1000, "op01_SOFTMAX": 100}}
    above = bm.ops_above_baseline({"op00_CONV_2D": 900, "op01_SOFTMAX": 150, "op02_ADD": 5}, ref["per_op"])
    assert above == {"op01_SOFTMAX": 1.5}
    report = {"board": "qemu-m4", "unit": "QEMU-retired instructions (not cycles)", "baseline": str(base),
              "models": [{"model": "ds_cnn", "macs": 1000, "instructions_per_inference": 1500,
                          "instructions_per_mac": 1.5, "arena_bytes": 10, "weights_flash_bytes": 20,
                          "baseline_instructions": 3000, "ratio_to_baseline": 0.5, "ops_above_baseline": above},
                         {"model": "fc_autoencoder", "macs": 10, "instructions_per_inference": 15,
                          "instructions_per_mac": 1.5, "arena_bytes": 10, "weights_flash_bytes": 20,
                          "baseline_instructions": 30, "ratio_to_baseline": 0.5, "ops_above_baseline": {}}]}  # fmt: skip
    text = bm.render_table(report)
    assert "ds_cnn operators above the baseline's instructions: op01_SOFTMAX x1.500" in text
    assert "fc_autoencoder operators above the baseline's instructions: none" in text
    base.write_text(json.dumps({"models": {"ds_cnn": {"instructions_per_inference": 3, "per_op": {"op00": -1}}}}))
    with pytest.raises(DtmmError, match="ds_cnn has a per_op that is not"):
        bm.load_baseline(base)


@pytest.mark.parametrize("board", ["qemu-m4", "qemu-m55"])
def test_shipped_stock_baselines_cover_every_benchmark_model(board):
    base = bm.load_baseline(bm.stock_baseline_path(board))
    assert set(base) == set(bm.MODEL_NAMES) | set(bm.SHAPE_NAMES)
    for name, ref in base.items():
        assert ref["per_op"] and min(ref["per_op"].values()) > 0, name  # the comparison op by op
        # the ops make up the inference (profiled in a separate, logging build: within 1%)
        assert abs(sum(ref["per_op"].values()) / ref["instructions"] - 1) < 0.01, name
    # stock CMSIS-NN does not skip pruned weights: the pruned ResNet-8s cost what the dense one does (+-1%)
    assert abs(base["resnet8_f50"]["instructions"] / base["resnet8"]["instructions"] - 1) < 0.01


def test_models_too_large_for_the_board_are_named_not_run(tmp_path):
    from dtmm.targets.boards import get_board

    models = bm.load_models(["ds_cnn", "fc_autoencoder"], cache_dir=tmp_path)
    fit, not_run = bm._models_that_fit(models, get_board("qemu-m0"), 2)
    assert not fit
    assert [n["model"] for n in not_run] == ["ds_cnn", "fc_autoencoder"]
    assert "bytes of RAM" in not_run[0]["reason"] and "bytes of flash" in not_run[1]["reason"]
    assert bm._models_that_fit(models, get_board("qemu-m4"), 2) == (models, [])
    with pytest.raises(DtmmError, match="no benchmark model fits qemu-m0: ds_cnn: model does not fit"):
        bm.run_models_bench("qemu-m0", ["ds_cnn"], cache_dir=tmp_path)


def test_stock_baseline_of_a_board_without_one_is_one_line():
    with pytest.raises(DtmmError, match="no stock TFLM \\+ CMSIS-NN baseline ships for qemu-m3 .*qemu-m4"):
        bm.stock_baseline_path("qemu-m3")
