"""`dtmm prune` / tools/prune.py end to end on a tiny model and synthetic data, and its one-line errors."""
from __future__ import annotations

import hashlib
import json
import os
import re
import time
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

keras = pytest.importorskip("keras")

from dtmm.cli import main  # noqa: E402
from dtmm.formats import fwcs  # noqa: E402
from dtmm.tflite.model import TfliteModel, conv_layers  # noqa: E402
from support.keras_models import randomize_batchnorm, synthetic_images, tiny_resnet  # noqa: E402

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    d = tmp_path_factory.mktemp("prune_cli")
    m = tiny_resnet(width=6)
    randomize_batchnorm(m, seed=0)
    m.save(d / "tiny.keras")
    x, y = synthetic_images(160, seed=11)
    xt, yt = synthetic_images(40, seed=12)
    np.savez(d / "data.npz", x=x, y=y, x_test=xt, y_test=yt)
    (d / "garbage.h5").write_bytes(b"this is not HDF5")
    return d


def _run(*args):
    return CliRunner().invoke(main, ["prune", *map(str, args)])


def _common(workdir, out, flash, *extra):
    return (workdir / "tiny.keras", "--data", workdir / "data.npz", "--flash", flash, "--out", workdir / out,
            "--epochs", "1", "--batch-size", "16", "--calib-samples", "32", "--quiet", *extra)  # fmt: skip


def test_end_to_end(workdir):
    r = _run(*_common(workdir, "out", "55%"))
    assert r.exit_code == 0, r.stderr + r.stdout
    out = workdir / "out"
    assert sorted(p.name for p in out.iterdir()) == [
        "dense_int8.tflite", "model.keras", "model_int8.tflite", "packed", "report.json", "report.md"
    ]  # fmt: skip  (no temp files left behind)
    rep = json.loads((out / "report.json").read_text())
    # the packed C sources are dtmm pack's output for the int8 model, ready for an app's build
    assert sorted(p.name for p in (out / "packed").iterdir()) == ["model.c", "model.h", "model.json"]
    assert rep["packed_sources"] == {"dir": str(out / "packed"), "name": "model",
                                     "files": ["model.c", "model.h", "model.json"], "conv_storage": "fwcs"}
    from dtmm.pack import pack_model

    again = pack_model(TfliteModel.load(out / "model_int8.tflite"), "model")
    assert all((out / "packed" / n).read_bytes() == data for n, data in again.files.items())
    for key in ("flash_budget_bytes", "packed_bytes", "dense_bytes", "accuracy_dense_int8", "accuracy_pruned_int8",
                "layers", "wall_time_s", "smallest_reachable_bytes", "history", "best_epoch"):  # fmt: skip
        assert key in rep, key
    # the base of a percentage: what dtmm pack stores for the model as given (here the untrained head's
    # all-zero bias, which the converter drops, is the difference from the dense byte model)
    assert rep["flash_budget_bytes"] == int(0.55 * rep["budget_base_bytes"])
    assert rep["budget_base_bytes"] <= rep["dense_bytes"] and rep["zero_filterlets_given"] == 0
    assert rep["packed_bytes"] <= rep["planned_bytes"] <= rep["flash_budget_bytes"]
    assert rep["pruned"] and rep["evaluator"] == "tflite-micro" and rep["test_samples_evaluated"] == 40
    assert 0 <= rep["accuracy_pruned_int8"] <= 1 and 0 <= rep["accuracy_dense_int8"] <= 1
    layers = {L["name"]: L for L in rep["layers"]}
    assert set(layers) == {"stem", "b1_conv1", "b1_conv2", "b2_conv1", "b2_conv2", "b2_proj", "head"}
    assert layers["stem"]["beta_filter_ratio"] == layers["b1_conv2"]["beta_filter_ratio"]  # one ADD group
    assert any(L["alpha_filterlet_ratio"] for L in rep["layers"] if L["alpha_filterlet_ratio"] is not None)
    assert sum(L["int8_bytes"] for L in rep["layers"]) == rep["packed_bytes"]
    # the saved Keras model is the slim one, and its int8 twin has the planned zero filterlets
    km = keras.models.load_model(out / "model.keras", compile=False)
    assert km.count_params() < keras.models.load_model(workdir / "tiny.keras", compile=False).count_params()
    tm = TfliteModel.load(out / "model_int8.tflite")
    kept = sum(int(fwcs.keep_mask(c.weights).sum()) for c in conv_layers(tm))
    assert kept == sum(L["filterlets_kept"] for L in rep["layers"] if L["filterlets_kept"] is not None)
    md = (out / "report.md").read_text()
    assert "packed weight storage (int8)" in md
    b1 = next(L["layer"] for L in rep["layers"] if L["name"] == "b1_conv1")  # one name per layer
    assert re.fullmatch(r"op\d\d_CONV_2D \(b1_conv1\)", b1) and f"| {b1} |" in md
    assert "dtmm prune: plan:" in r.stderr
    recipe = rep["recipe"]  # the whole fine-tuning recipe is on record; distillation is on by default
    assert recipe["distillation"] == {"enabled": True, "temperature": 4.0, "weight": 0.5,
                                      "teacher": "the model as given"}
    assert recipe["stages"] == rep["stages"] == 1 and recipe["epochs_per_stage"] == [1]
    assert "- distillation: on, teacher the model as given, temperature 4.0, weight 0.5" in md


def test_no_distill_is_recorded_and_changes_the_training(workdir):
    r = _run(*_common(workdir, "plain", "55%", "--no-distill"))
    assert r.exit_code == 0, r.stderr
    plain = json.loads((workdir / "plain" / "report.json").read_text())
    assert plain["recipe"]["distillation"] == {"enabled": False}
    assert "- distillation: off" in (workdir / "plain" / "report.md").read_text()
    r = _run(*_common(workdir, "hot", "55%", "--distill-temperature", "2", "--distill-weight", "0.9"))
    assert r.exit_code == 0, r.stderr
    hot = json.loads((workdir / "hot" / "report.json").read_text())
    assert hot["recipe"]["distillation"]["temperature"] == 2.0 and hot["recipe"]["distillation"]["weight"] == 0.9
    assert plain["layers"] == hot["layers"]  # same plan: distillation only acts in the fine-tune
    assert plain["history"][1]["loss"] != hot["history"][1]["loss"]


def test_dense_baseline_finetuned_first_is_the_teacher_and_reusable(workdir):
    r = _run(*_common(workdir, "ft", "55%", "--dense-baseline", "finetune"))
    assert r.exit_code == 0, r.stderr
    ft = json.loads((workdir / "ft" / "report.json").read_text())
    assert ft["outputs"]["dense_keras"] == "dense_finetuned.keras"
    assert ft["recipe"]["distillation"]["teacher"].startswith("the model fine-tuned")
    assert r.stderr.index("fine-tuning the dense baseline") < r.stderr.index("plan:")  # teacher first
    saved = workdir / "ft" / "dense_finetuned.keras"
    r = _run(*_common(workdir, "reuse", "55%", "--dense-baseline", saved))
    assert r.exit_code == 0, r.stderr
    reuse = json.loads((workdir / "reuse" / "report.json").read_text())
    assert reuse["recipe"]["distillation"]["teacher"] == f"loaded from {saved}"
    assert reuse["accuracy_dense_int8"] == ft["accuracy_dense_int8"]  # the same dense model, scored the same
    strip = [{k: v for k, v in h.items() if k != "seconds"} for h in ft["history"]]
    assert [{k: v for k, v in h.items() if k != "seconds"} for h in reuse["history"]] == strip  # same teacher
    r = _run(*_common(workdir, "bad", "55%", "--dense-baseline", workdir / "nothing.keras"))
    assert r.exit_code == 2 and "--dense-baseline" in r.stderr and not (workdir / "bad").exists()


def test_pruning_starts_from_the_dense_baseline_unless_told_otherwise(workdir):
    r = _run(*_common(workdir, "pf_ft", "55%", "--dense-baseline", "finetune", "--no-distill"))
    assert r.exit_code == 0, r.stderr
    assert "pruning starts from the dense baseline's weights" in r.stderr
    assert json.loads((workdir / "pf_ft" / "report.json").read_text())["recipe"]["prune_from"] == \
        "the dense baseline's weights"
    # a baseline with other weights (as a fine-tune would leave them): the classifier's bias, never pruned, shows
    # which weights the pruned model started from when it is not fine-tuned
    baseline = keras.models.load_model(workdir / "tiny.keras", compile=False)
    baseline.get_layer("head").bias.assign(np.arange(3, dtype=np.float32) + 0.5)
    saved = workdir / "pf_baseline.keras"
    baseline.save(saved)
    r = _run(*_common(workdir, "pf_file", "55%", "--dense-baseline", saved, "--epochs", "0"))
    assert r.exit_code == 0, r.stderr
    r = _run(*_common(workdir, "pf_given", "55%", "--dense-baseline", saved, "--prune-from", "given", "--epochs", "0"))
    assert r.exit_code == 0, r.stderr
    assert "pruning starts from" not in r.stderr
    assert json.loads((workdir / "pf_given" / "report.json").read_text())["recipe"]["prune_from"] == \
        "the model's weights as given"

    def head_bias(path):
        return keras.models.load_model(path, compile=False).get_layer("head").bias.numpy()

    assert np.array_equal(head_bias(workdir / "pf_file" / "model.keras"), [0.5, 1.5, 2.5])
    assert np.array_equal(head_bias(workdir / "pf_given" / "model.keras"), head_bias(workdir / "tiny.keras"))


def test_prune_from_baseline_needs_the_same_layers(workdir):
    other = workdir / "wider.keras"
    tiny_resnet(width=8).save(other)
    r = _run(*_common(workdir, "pf_bad", "55%", "--dense-baseline", other))
    assert r.exit_code == 2 and "do not match the model's layers" in r.stderr and "--prune-from given" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1 and not (workdir / "pf_bad").exists()
    r = _run(*_common(workdir, "pf_bad_given", "55%", "--dense-baseline", other, "--prune-from", "given"))
    assert r.exit_code == 0, r.stderr  # a teacher of another shape is fine when pruning the input's weights


def test_layer_sensitivity_is_measured_recorded_and_changes_the_scores(workdir):
    r = _run(*_common(workdir, "sens", "40%", "--sensitivity"))
    assert r.exit_code == 0, r.stderr
    rep = json.loads((workdir / "sens" / "report.json").read_text())
    assert rep["recipe"]["layer_sensitivity"] is True
    factors = rep["plan"]["stages"][0]["sensitivity_factors"]
    assert set(factors) == {"stem", "b1_conv1", "b1_conv2", "b2_conv1", "b2_conv2", "b2_proj"}
    assert "layer sensitivity factors: stem" in r.stderr
    r = _run(*_common(workdir, "nosens", "40%"))
    assert r.exit_code == 0, r.stderr
    plain = json.loads((workdir / "nosens" / "report.json").read_text())
    assert plain["recipe"]["layer_sensitivity"] is False and plain["plan"]["stages"][0]["sensitivity_factors"] == {}
    if len(set(round(f, 6) for f in factors.values())) > 1:  # unequal factors move the exchange rate
        assert plain["plan"]["importance_lost"] != rep["plan"]["importance_lost"]


def test_same_seed_same_outputs(workdir):
    r1 = _run(*_common(workdir, "det1", "60%", "--seed", "3"))
    r2 = _run(*_common(workdir, "det2", "60%", "--seed", "3"))
    assert r1.exit_code == 0 and r2.exit_code == 0, r1.stderr + r2.stderr
    # same weights and quantization (tensor *names* carry a per-process model counter, so not bytes)
    ta = TfliteModel.load(workdir / "det1" / "model_int8.tflite")
    tb = TfliteModel.load(workdir / "det2" / "model_int8.tflite")
    assert [o.opcode for o in ta.operators] == [o.opcode for o in tb.operators]
    for x, y in zip(ta.tensors, tb.tensors):
        assert (x.shape, x.dtype, x.scales, x.zero_points) == (y.shape, y.dtype, y.scales, y.zero_points)
        dx, dy = ta.tensor_data(x.index), tb.tensor_data(y.index)
        assert (dx is None and dy is None) or np.array_equal(dx, dy)
    ja = json.loads((workdir / "det1" / "report.json").read_text())
    jb = json.loads((workdir / "det2" / "report.json").read_text())
    def timeless(history):  # epoch wall times differ between runs, nothing else may
        return [{k: v for k, v in h.items() if k != "seconds"} for h in history]

    assert timeless(ja["history"]) == timeless(jb["history"]) and ja["layers"] == jb["layers"]


def test_two_stages(workdir):
    r = _run(*_common(workdir, "staged", "45%", "--stages", "2", "--epochs", "2"))
    assert r.exit_code == 0, r.stderr
    assert "stage 1/2: plan:" in r.stderr and "stage 2/2: plan:" in r.stderr
    rep = json.loads((workdir / "staged" / "report.json").read_text())
    st = rep["plan"]["stages"]
    assert [s["epochs"] for s in st] == [1, 1] and st[0]["budget_bytes"] > st[1]["budget_bytes"]
    assert st[1]["budget_bytes"] == rep["flash_budget_bytes"] >= rep["packed_bytes"]
    layers = {L["name"]: L for L in rep["layers"]}
    assert layers["b2_conv2"]["cout"] == 12  # ratios are against the original model
    assert all(v["violations"] == 0 for v in rep["int8"]["filterlet_check"].values())


def test_stage_schedule():
    from dtmm.prune.pipeline import resolve_stages, stage_budgets, stage_epochs

    assert stage_budgets(1000, 300, 1) == [300]
    b = stage_budgets(1000, 300, 4)
    assert b[-1] == 300 and b == sorted(b, reverse=True) and b[0] < 1000
    assert stage_epochs(15, 1) == [15] and stage_epochs(15, 5) == [1, 1, 1, 1, 11] and stage_epochs(0, 3) == [0] * 3
    assert [resolve_stages("auto", e) for e in (0, 1, 5, 6, 9, 15, 40)] == [1, 1, 1, 2, 3, 5, 5]
    assert resolve_stages("2", 9) == 2
    r = _run("m.keras", "--data", "d", "--flash", "1KB", "--out", "o", "--epochs", "2", "--stages", "3")
    assert r.exit_code == 2 and "--epochs 2 is less than --stages 3" in r.stderr
    r = _run("m.keras", "--data", "d", "--flash", "1KB", "--out", "o", "--stages", "many")
    assert r.exit_code == 2 and "not a number or 'auto'" in r.stderr


def test_budget_at_or_above_dense_needs_no_pruning(workdir):
    r = _run(*_common(workdir, "dense", "100%"))
    assert r.exit_code == 0, r.stderr
    assert "no pruning is needed" in r.stderr
    rep = json.loads((workdir / "dense" / "report.json").read_text())
    assert rep["pruned"] is False and rep["planned_bytes"] == rep["budget_base_bytes"] <= rep["dense_bytes"]
    assert rep["packed_bytes"] <= rep["budget_base_bytes"]  # int8 rounding may zero a few tiny filterlets
    assert rep["accuracy_pruned_int8"] == rep["accuracy_dense_int8"]
    assert (workdir / "dense" / "model_int8.tflite").is_file()


@pytest.mark.parametrize(
    "args, needle",
    [
        (lambda w: _common(w, "e1", "64K"), "ambiguous"),
        (lambda w: _common(w, "e2", "10B"), "smallest reachable size"),
        (lambda w: (w / "missing.keras", "--data", w / "data.npz", "--flash", "1KB", "--out", w / "e3"),
         "no such file"),
        (lambda w: (w / "garbage.h5", "--data", w / "data.npz", "--flash", "1KB", "--out", w / "e4"),
         "cannot load the Keras model"),
        (lambda w: (w / "tiny.keras", "--data", w / "nodata", "--flash", "1KB", "--out", w / "e5"),
         "no such file or directory"),
        (lambda w: (w / "data.npz", "--data", w / "data.npz", "--flash", "1KB", "--out", w / "e6"),
         "expected a Keras model"),
    ],
)  # fmt: skip
def test_errors_are_one_line_exit_2(workdir, args, needle):
    r = _run(*args(workdir))
    assert r.exit_code == 2, r.stdout + r.stderr
    err = [ln for ln in r.stderr.splitlines() if ln.startswith("dtmm: error:")]
    assert len(err) == 1 and needle in err[0], r.stderr
    assert "Traceback" not in r.stderr


def test_wrong_image_size_is_reported(workdir, tmp_path):
    x, y = synthetic_images(20, size=6, seed=1)
    np.savez(tmp_path / "small.npz", x=x, y=y)
    r = _run(workdir / "tiny.keras", "--data", tmp_path / "small.npz", "--flash", "80%", "--out", tmp_path / "o")
    assert r.exit_code == 2 and "samples are [6, 6, 3], the model takes [8, 8, 3]" in r.stderr


def test_tools_prune_script():
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
    script = REPO / "tools" / "prune.py"
    h = subprocess.run([sys.executable, script, "--help"], capture_output=True, text=True, env=env, timeout=60)
    assert h.returncode == 0 and "--flash" in h.stdout and "KiB (1024)" in h.stdout
    assert h.stdout.startswith("Usage: tools/prune.py [OPTIONS] MODEL")  # what to type, no subcommand
    e = subprocess.run([sys.executable, script, "m.h5", "--data", "d", "--flash", "12 parsecs", "--out", "o"],
                       capture_output=True, text=True, env=env, timeout=60)  # fmt: skip
    assert e.returncode == 2 and e.stderr.strip().startswith("dtmm: error: bad flash size")


def test_tools_prune_script_prints_no_tensorflow_start_up_noise(workdir, tmp_path):
    """TensorFlow is imported (the model loads) but its CUDA probe and absl preamble never reach the user."""
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    (tmp_path / "empty").mkdir()
    r = subprocess.run([sys.executable, REPO / "tools" / "prune.py", workdir / "tiny.keras", "--data",
                        tmp_path / "empty", "--flash", "80%", "--out", tmp_path / "o"],
                       capture_output=True, text=True, env=env, timeout=300)  # fmt: skip
    assert r.returncode == 2 and "dense weight storage" in r.stderr, r.stderr  # got past loading the Keras model
    assert r.stderr.splitlines()[-1].startswith("dtmm: error:")
    for noise in ("cuda", "cuInit", "absl", "oneDNN", "I0000", "E0000"):
        assert noise not in r.stderr, r.stderr


def _consistent(out):
    """A report is present only beside the exact files it describes."""
    if not (out / "report.json").is_file():
        return False
    rep = json.loads((out / "report.json").read_text())
    for key, name in rep["outputs"].items():
        assert hashlib.sha256((out / name).read_bytes()).hexdigest() == rep["outputs_sha256"][key], name
    return True


def test_killed_run_never_pairs_a_report_with_other_models(workdir, tmp_path):
    """A finished run, then a second run into the same --out killed as soon as it starts writing: the old
    report is gone (no stale pairing), no file is half-written, and running again completes cleanly."""
    out = tmp_path / "out"

    def args(flash):
        return [str(a) for a in (workdir / "tiny.keras", "--data", workdir / "data.npz", "--flash", flash, "--out",
                                 out, "--epochs", "1", "--batch-size", "16", "--calib-samples", "32", "--quiet")]

    first = CliRunner().invoke(main, ["prune", *args("55%")])
    assert first.exit_code == 0, first.stderr
    assert _consistent(out)
    proc = subprocess.Popen([sys.executable, "-m", "dtmm", "prune", *args("45%")], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, env=dict(os.environ, PYTHONPATH=str(REPO / "tools")))
    try:
        deadline = time.monotonic() + 300
        while (out / "report.json").is_file() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.005)  # the second run removes the old report first thing when it writes
        proc.kill()
    finally:
        proc.wait()
    assert not (out / "report.json").is_file() or _consistent(out)  # killed in time, or finished: never stale
    again = CliRunner().invoke(main, ["prune", *args("45%")])
    assert again.exit_code == 0, again.stderr
    assert _consistent(out) and json.loads((out / "report.json").read_text())["flash_budget"] == "45%"
    assert not list(out.glob(".*.tmp*"))  # debris of the killed write is cleared by the next run


def _keras2_depthwise_h5(path, groups):
    """An .h5 whose DepthwiseConv2D config carries `groups`, as Keras 2 / tf.keras wrote it (MLPerf Tiny VWW)."""
    import h5py
    import keras

    inp = keras.Input((8, 8, 3))
    x = keras.layers.Conv2D(8, 3, padding="same", activation="relu", name="stem")(inp)
    x = keras.layers.DepthwiseConv2D(3, padding="same", name="dw1")(x)
    x = keras.layers.Conv2D(8, 1, activation="relu", name="pw1")(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    keras.Model(inp, keras.layers.Dense(3)(x)).save(path)
    with h5py.File(path, "r+") as f:
        cfg = json.loads(f.attrs["model_config"])
        for layer in cfg["config"]["layers"]:
            if layer["class_name"] == "DepthwiseConv2D":
                layer["config"]["groups"] = groups
        f.attrs["model_config"] = json.dumps(cfg)


def test_keras2_depthwise_with_groups_loads_and_prunes(workdir, tmp_path):
    _keras2_depthwise_h5(tmp_path / "vww_like.h5", groups=1)
    r = _run(tmp_path / "vww_like.h5", "--data", workdir / "data.npz", "--flash", "70%", "--out", tmp_path / "o",
             "--epochs", "1", "--batch-size", "16", "--calib-samples", "32", "--quiet")  # fmt: skip
    assert r.exit_code == 0, r.stderr
    import keras

    again = keras.models.load_model(tmp_path / "o" / "model.keras", compile=False)  # plain Keras 3, no leftovers
    assert "groups" not in again.get_layer("dw1").get_config()
    _keras2_depthwise_h5(tmp_path / "grouped.h5", groups=2)
    r = _run(tmp_path / "grouped.h5", "--data", workdir / "data.npz", "--flash", "70%", "--out", tmp_path / "o2")
    assert r.exit_code == 2
    assert "layer 'dw1' (DepthwiseConv2D) has arguments this Keras cannot take: {'groups': 2}" in r.stderr
    assert len(r.stderr.strip().splitlines()[-1]) < 200
