"""`dtmm inspect`: table and JSON reports on ResNet-8, magnitude pruning, and one-line errors."""
from __future__ import annotations

import json
import math
import os

import numpy as np
import pytest
from click.testing import CliRunner

from dtmm.cli import main
from dtmm.formats import fwcs
from dtmm.tflite.model import TfliteModel, conv_layers

CONV_NAMES = [f"model/conv2d{s}/Conv2D" for s in ["", "_1", "_2", "_3", "_4", "_5", "_6", "_7", "_8"]]


def _run(*args):
    result = CliRunner().invoke(main, ["inspect", *map(str, args)])
    return result


def _json(*args) -> dict:
    r = _run(*args, "--json")
    assert r.exit_code == 0, r.stderr
    return json.loads(r.stdout)


def test_table_lists_every_weighted_layer(resnet8_tflite):
    r = _run(resnet8_tflite)
    assert r.exit_code == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0].split()[:2] == ["layer", "in"]
    model = TfliteModel.load(resnet8_tflite)
    convs = [op.index for op in model.operators if op.opcode == "CONV_2D"]
    assert len(convs) == len(CONV_NAMES)
    for index in convs:  # one name per layer: docs/figures.md
        assert any(line.split()[0] == f"op{index:02d}_CONV_2D" and "dense" in line for line in lines), index
    assert any(line.startswith("op14_FULLY_CONNECTED ") for line in lines)
    assert any(line.split()[:3] == ["total:", "10", "layers"] for line in lines)
    assert "ops without weights: ADD x3, AVERAGE_POOL_2D x1, RESHAPE x1, SOFTMAX x1" in r.stdout


def test_json_unpruned_resnet8(resnet8_tflite):
    rep = _json(resnet8_tflite)
    rows = rep["layers"]
    assert [r["tensor"] for r in rows] == CONV_NAMES + ["model/dense/MatMul"]
    assert [r["name"] for r in rows] == [f"op{r['index']:02d}_{r['op']}" for r in rows]
    for r in rows:
        required = {"name", "op", "macs", "dense_bytes", "density", "encoding", "packed_bytes", "index_bytes"}
        assert required <= r.keys()
        assert r["encoding"] == "dense" and r["index_bytes"] == 0 and r["packed_bytes"] == r["dense_bytes"]
    first = rows[0]
    assert first["macs"] == 32 * 32 * 16 * 3 * 3 * 3 and first["density"] == 1.0
    assert first["dense_bytes"] == 80 + 12 * 16 + 16 * 9 * 3  # header + requant arrays + OHWI weights
    fc = rows[-1]
    assert fc["op"] == "FULLY_CONNECTED" and fc["density"] is None and fc["macs"] == 640
    assert fc["dense_bytes"] == 640 + 40  # int8 weights + int32 bias
    t = rep["total"]
    for k in ("macs", "dense_bytes", "packed_bytes", "index_bytes", "weight_bytes"):
        assert t[k] == sum(r[k] for r in rows), k
    assert t["macs"] == 12_501_632 and t["saved_bytes"] == 0 and t["packed_layers"] == 0


def test_prune_3x3_half_by_magnitude(resnet8_tflite, tmp_path):
    out = tmp_path / "pruned.tflite"
    rep = _json(resnet8_tflite, "--prune-3x3", "0.5", "--write-pruned", out)
    by_name = {r["tensor"]: r for r in rep["layers"]}
    for layer in conv_layers(TfliteModel.load(resnet8_tflite)):
        r = by_name[layer.name]
        s = layer.spec
        if s.kh == 3:
            assert r["density"] == 0.5 and r["kept_filterlets"] == s.n_filterlets // 2
            assert r["encoding"] == "bitmap"
            assert r["index_bytes"] == math.ceil(s.n_filterlets / 8)
            assert r["weight_bytes"] == s.n_filterlets // 2 * s.cin
            half = np.arange(s.n_filterlets).reshape(s.cout, 3, 3) % 2 == 0  # any mask of the same count
            assert r["packed_bytes"] == fwcs.encoding_costs(s, half)["bitmap"]
            assert r["packed_bytes"] < r["dense_bytes"]
            assert r["index_overhead_pct"] == pytest.approx(100 * r["index_bytes"] / r["weight_bytes"], abs=1e-3)
        else:
            assert r["density"] == 1.0 and r["encoding"] == "dense"
    t = rep["total"]
    assert t["index_bytes"] == sum(math.ceil(c * 9 / 8) for c in (16, 16, 16, 32, 32, 64, 64)) == 270
    assert t["index_overhead_pct"] <= 1.0 and t["conv_index_overhead_pct"] <= 1.0
    assert t["packed_layers"] == 7 and t["saved_bytes"] > 0.4 * t["dense_bytes"]

    # The written model carries the zeros itself: inspecting it without --prune gives the same report.
    assert out.stat().st_size == resnet8_tflite.stat().st_size
    again = _json(out)
    assert again["layers"] == rep["layers"] and again["total"] == rep["total"]


def test_table_shows_packed_layers(resnet8_tflite):
    r = _run(resnet8_tflite, "--prune-3x3", "0.5")
    assert r.exit_code == 0, r.stderr
    row = next(line for line in r.stdout.splitlines() if line.startswith("op09_CONV_2D "))  # model/conv2d_7
    assert "bitmap" in row and "0.500" in row and "19,360" in row and row.endswith("0.39")
    assert "index = 0.67% of stored weight bytes" in r.stdout


def _assert_one_line_error(result, fragment: str):
    assert result.exit_code == 2, (result.stdout, result.stderr)
    err = result.stderr.strip()
    assert err.startswith("dtmm: error: ") and "\n" not in err and "Traceback" not in err, err
    assert fragment in err, err


def test_missing_file(tmp_path):
    _assert_one_line_error(_run(tmp_path / "nope.tflite"), "no such file")


def test_not_a_tflite(tmp_path):
    p = tmp_path / "junk.tflite"
    p.write_bytes(b"this is not a flatbuffer at all")
    _assert_one_line_error(_run(p), "not a TFLite flatbuffer")


def test_truncated_tflite(resnet8_tflite, tmp_path):
    p = tmp_path / "half.tflite"
    p.write_bytes(resnet8_tflite.read_bytes()[:2000])
    _assert_one_line_error(_run(p), "truncated or corrupt TFLite flatbuffer")


def test_bad_prune_options(resnet8_tflite, tmp_path):
    _assert_one_line_error(_run(resnet8_tflite, "--prune-3x3", "1.5"), "prune fraction 1.5 is not in [0, 1]")
    result = _run(resnet8_tflite, "--write-pruned", tmp_path / "x.tflite")
    _assert_one_line_error(result, "--write-pruned needs --prune-3x3")


def test_float_model(tmp_path):
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    tf = pytest.importorskip("tensorflow")
    import keras

    inp = keras.Input((8, 8, 3), batch_size=1)
    model = keras.Model(inp, keras.layers.Conv2D(4, 3)(inp))
    p = tmp_path / "float.tflite"
    p.write_bytes(tf.lite.TFLiteConverter.from_keras_model(model).convert())
    _assert_one_line_error(_run(p), "float model: CONV_2D #0 has a FLOAT32 filter")
