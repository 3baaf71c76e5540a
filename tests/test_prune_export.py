"""int8 export: zero filterlets survive BatchNorm folding and quantization, the model runs in tflite-micro."""
from __future__ import annotations

import numpy as np
import pytest

keras = pytest.importorskip("keras")

from dtmm.formats import fwcs  # noqa: E402
from dtmm.prune import export, importance, surgery  # noqa: E402
from dtmm.prune.graph import GraphAnalysis  # noqa: E402
from dtmm.prune.plan import bytes_summary, make_plan  # noqa: E402
from dtmm.tflite.model import TfliteModel, conv_layers  # noqa: E402
from support.keras_models import randomize_batchnorm, synthetic_images, tiny_resnet  # noqa: E402


@pytest.fixture(scope="module")
def pruned():
    m = tiny_resnet(width=6)
    randomize_batchnorm(m, seed=3)
    a = GraphAnalysis(m)
    x, y = synthetic_images(40, seed=7)
    imp = importance.compute_importance("taylor", a, x, y, progress=False)
    plan = make_plan(a, imp, int(0.5 * bytes_summary(a)[0]))
    slim = surgery.slim_model(a, plan)
    keep = {n: k[plan.keep_out(a, n)] for n, k in plan.filterlet_masks().items()}
    tfl = export.to_int8_tflite(slim, x)
    return a, plan, slim, keep, tfl, x, y


def test_zero_filterlets_survive_int8_export(pruned):
    a, plan, slim, keep, tfl, *_ = pruned
    assert any(not k.all() for k in keep.values())
    report = export.verify_filterlets(tfl, slim, keep)
    for name, r in report.items():
        assert r["violations"] == 0 and r["zero_in_int8"] >= r["pruned"]
    # independent check straight from the flatbuffer
    matched = export.match_convs(tfl, slim)
    for name, k in keep.items():
        actual = fwcs.keep_mask(matched[name].weights)
        assert not (actual & ~k).any()
    assert len(conv_layers(TfliteModel(tfl))) == len(keep)


def test_int8_io_and_measured_bytes(pruned):
    a, plan, slim, keep, tfl, *_ = pruned
    assert export.input_quantization(tfl) == (1.0, -128)  # 0..255 data, like the MLPerf model
    tm = TfliteModel(tfl)
    assert tm.tensors[tm.inputs[0]].dtype == "INT8" and tm.tensors[tm.outputs[0]].dtype == "INT8"
    meas = export.measured_bytes(tfl, slim)
    assert meas["packed_bytes"] <= plan.packed_bytes <= plan.budget
    names = {r["name"] for r in meas["ops"]}
    assert {"stem", "b2_proj", "head"} <= names  # ops carry the Keras layer names


def test_runs_in_tflite_micro_and_agrees_with_keras(pruned):
    a, plan, slim, keep, tfl, x, y = pruned
    acc = export.evaluate_tflite(tfl, x, y, progress=False)
    assert 0.0 <= acc <= 1.0
    from tflite_micro.python.tflite_micro import runtime

    interp = runtime.Interpreter.from_bytes(tfl, arena_size=1 << 20)
    agree = 0
    keras_pred = slim.predict(x.astype(np.float32), verbose=0).argmax(-1)
    for i in range(len(x)):
        interp.set_input((x[i : i + 1].astype(np.int16) - 128).astype(np.int8), 0)
        interp.invoke()
        agree += int(interp.get_output(0).reshape(-1).argmax() == keras_pred[i])
    assert agree >= 0.8 * len(x)  # int8 tracks float
    assert acc == export.evaluate_tflite(tfl, x, y, progress=False)  # deterministic


def test_evaluation_is_cached_by_model_content_not_names(pruned, tmp_path, monkeypatch):
    """The same int8 model on the same test set is evaluated once; tensor names do not count, the weights do."""
    import flatbuffers

    from dtmm.tflite.model import _schema

    *_, tfl, x, y = pruned
    calls = []
    real = export._evaluate_tflite
    monkeypatch.setattr(export, "_evaluate_tflite", lambda *a, **k: calls.append(1) or real(*a, **k))
    first = export.evaluate_tflite(tfl, x, y, progress=False, cache_dir=tmp_path)
    fb = _schema()
    m = fb.ModelT.InitFromObj(fb.Model.GetRootAs(tfl, 0))
    for t in m.subgraphs[0].tensors:
        t.name = b"renamed_" + (t.name or b"")
    builder = flatbuffers.Builder(1024)
    builder.Finish(m.Pack(builder), file_identifier=b"TFL3")
    renamed = bytes(builder.Output())
    assert export.evaluate_tflite(renamed, x, y, progress=False, cache_dir=tmp_path) == first and len(calls) == 1
    export.evaluate_tflite(tfl, x[:-1], y[:-1], progress=False, cache_dir=tmp_path)  # another test set
    assert len(calls) == 2
    assert export.evaluate_tflite(tfl, x, y, progress=False) == first and len(calls) == 3  # no cache_dir: evaluates


def test_export_carries_keras_layer_names_to_every_command(pruned, tmp_path):
    """The exported .tflite names its weighted operators after their Keras layers (metadata), and
    `dtmm pack` and `dtmm inspect` show the one name `opNN_OPCODE (keras_name)`."""
    from click.testing import CliRunner

    from dtmm.cli import main
    from dtmm.pack import pack_model
    from dtmm.tflite.layer_names import keras_layer_names

    a, plan, slim, keep, tfl, *_ = pruned
    model = TfliteModel(tfl)
    names = keras_layer_names(model)
    assert {index: name for name, index in export.match_layers(tfl, slim).items()} == names
    assert {"stem", "b2_proj", "head"} <= set(names.values())
    stem = next(i for i, n in names.items() if n == "stem")
    want = f"op{stem:02d}_{model.operators[stem].opcode} (stem)"
    assert pack_model(model, "m").summary["ops"][stem]["layer"] == want
    path = tmp_path / "m.tflite"
    path.write_bytes(tfl)
    r = CliRunner().invoke(main, ["inspect", str(path)])
    assert r.exit_code == 0 and any(line.startswith(want) for line in r.output.splitlines()), r.output
