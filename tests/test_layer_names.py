"""One name per layer (docs/figures.md): labels, the Keras names a model carries as metadata, and where
commands use them."""
from __future__ import annotations

import json

import numpy as np
import pytest

from dtmm.tflite.layer_names import (
    METADATA_NAME,
    keras_layer_names,
    label_width,
    labels_by_short_label,
    layer_label,
    model_layer_labels,
    op_label,
    with_keras_layer_names,
)
from dtmm.tflite.model import TfliteError, TfliteModel
from support.op_cases import ModelBuilder, activation_code


def _two_op_model() -> bytes:
    b = ModelBuilder()
    x = b.tensor([1, 8], scale=0.1, zero_point=0)
    w = b.tensor([4, 8], scale=0.02, zero_point=0, data=np.arange(32).reshape(4, 8) % 7 - 3)
    h = b.tensor([1, 4], scale=0.1, zero_point=0)
    y = b.tensor([1, 4], scale=1.0 / 256, zero_point=-128)
    b.op("FULLY_CONNECTED", [x, w, -1], [h], "FullyConnectedOptions", fusedActivationFunction=activation_code("NONE"))
    b.op("LOGISTIC", [h], [y])
    return b.build([x], [y])


def test_labels():
    assert op_label(9, "CONV_2D") == "op09_CONV_2D"
    assert op_label(3, "CUSTOM:DTMM_CONV_2D", 3) == "op003_CUSTOM_DTMM_CONV_2D"
    assert layer_label(9, "CONV_2D", "conv2d_7") == "op09_CONV_2D (conv2d_7)"
    assert layer_label(9, "CONV_2D", None) == "op09_CONV_2D"
    assert [label_width(n) for n in (1, 10, 11, 101)] == [2, 2, 2, 3]


def test_names_round_trip_and_leave_the_model_unchanged():
    data = _two_op_model()
    assert keras_layer_names(TfliteModel(data)) == {}
    named = with_keras_layer_names(data, {0: "dense_3"})
    m = TfliteModel(named)
    assert keras_layer_names(m) == {0: "dense_3"}
    assert model_layer_labels(m) == {0: "op00_FULLY_CONNECTED (dense_3)", 1: "op01_LOGISTIC"}
    assert labels_by_short_label(m) == {"op00_FULLY_CONNECTED": "op00_FULLY_CONNECTED (dense_3)",
                                        "op01_LOGISTIC": "op01_LOGISTIC"}  # fmt: skip
    # replacing the names keeps one metadata entry
    again = with_keras_layer_names(named, {1: "sigmoid"})
    assert keras_layer_names(TfliteModel(again)) == {1: "sigmoid"}
    from dtmm.tflite.model import _schema

    root = _schema().Model.GetRootAs(again, 0)
    assert [root.Metadata(i).Name().decode() for i in range(root.MetadataLength())].count(METADATA_NAME) == 1
    # tensors, operators and the interpreter's results are those of the model without names
    pytest.importorskip("tflite_micro.python.tflite_micro.runtime")
    from dtmm.tflite.interpreter import tflm_outputs

    x = np.arange(-64, 64, 16, dtype=np.int8).reshape(1, 1, 8)
    assert (tflm_outputs(data, x)[0] == tflm_outputs(again, x)[0]).all()
    a, b = TfliteModel(data), TfliteModel(again)
    assert [(t.name, t.shape, t.scales) for t in a.tensors] == [(t.name, t.shape, t.scales) for t in b.tensors]


def test_bad_names_are_refused():
    data = _two_op_model()
    with pytest.raises(TfliteError, match="operator #5, but the model has 2"):
        with_keras_layer_names(data, {5: "nope"})
    # metadata that is not a JSON object of names: one clear error
    from dtmm.tflite.model import _schema
    from dtmm.tflite.write import pack_model_t

    fb = _schema()
    model_t = fb.ModelT.InitFromObj(fb.Model.GetRootAs(with_keras_layer_names(data, {0: "a"}), 0))
    entry = next(m for m in model_t.metadata if m.name in (METADATA_NAME, METADATA_NAME.encode()))
    model_t.buffers[entry.buffer].data = list(b"[1, 2")
    with pytest.raises(TfliteError, match="not a JSON object of layer names"):
        keras_layer_names(TfliteModel(pack_model_t(fb, model_t)))


def test_pack_summary_and_profile_rows_use_the_layer_name(tmp_path):
    from dtmm.pack import pack_model

    named = with_keras_layer_names(_two_op_model(), {0: "dense_3"})
    ops = pack_model(TfliteModel(named), "m").summary["ops"]
    assert [(o["label"], o["layer"]) for o in ops] == [
        ("op00_FULLY_CONNECTED", "op00_FULLY_CONNECTED (dense_3)"), ("op01_LOGISTIC", "op01_LOGISTIC")]
    assert json.loads(json.dumps(ops))  # plain JSON


def test_report_rows_rename_profiler_labels():
    """`dtmm report` shows the demo's and run-model's measured rows under the layer's one name."""
    from dtmm.report import model_run_rows, profile_rows

    summary = {
        "variants": {"pruned": {"layers": {"op00_CONV_2D": "op00_CONV_2D (stem)", "op01_ADD": "op01_ADD"}}},
        "boards": {"qemu-m4": {"dense": {"profile": {"op00_CONV_2D": 100.0, "op01_ADD": 5.0}},
                               "pruned": {"profile": {"op00_CONV_2D": 50.0, "op01_ADD": 5.0}}}},
    }  # fmt: skip
    assert [r[0] for r in profile_rows(summary, "qemu-m4")] == ["op00_CONV_2D (stem)", "op01_ADD", "**all operators**"]
    run = {"profile": [{"op00_CONV_2D": 10, "op01_ADD": 2}], "layers": {"op00_CONV_2D": "op00_CONV_2D (stem)"}}
    assert [r[0] for r in model_run_rows(run)] == ["op00_CONV_2D (stem)", "op01_ADD", "**all operators**"]
