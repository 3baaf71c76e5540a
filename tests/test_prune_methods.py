"""`dtmm prune --method filter|pattern|unstructured`: the baselines in the same pipeline (docs/baselines.md).

A tiny ResNet (width 16) on synthetic images is pruned to 50% of its flash by
every baseline method (1 epoch): the budget is met in the method's own
storage, the int8 model has the method's zero structure, `dtmm pack
--conv-storage` stores exactly the bytes the report counts, the packed
model is bit-exact with tflite-micro on the host (and, for one method, under
QEMU through `dtmm run-model`), and options a method cannot honour are
refused in one line.
"""
from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from click.testing import CliRunner

keras = pytest.importorskip("keras")

from dtmm.cli import main  # noqa: E402
from dtmm.formats import fwcs, pattern  # noqa: E402
from dtmm.pack.lowering import STORAGE_OF_METHOD  # noqa: E402
from dtmm.prune import weight_level as WL  # noqa: E402
from dtmm.prune.chip import nuclear_norm_drops  # noqa: E402
from dtmm.prune.graph import GraphAnalysis  # noqa: E402
from dtmm.tflite.model import TfliteModel, conv_layers  # noqa: E402
from support.keras_models import write_tiny_prune_case  # noqa: E402
from support.op_cases import Case, check_cases  # noqa: E402

METHODS = ("filter", "pattern", "unstructured")


def _run(*args):
    return CliRunner().invoke(main, [*map(str, args)])


def _prune_args(d, out, method, flash="50%", *extra):
    return ("prune", d / "tiny.keras", "--data", d / "data.npz", "--flash", flash, "--out", d / out, "--epochs", "1",
            "--batch-size", "16", "--calib-samples", "32", "--quiet", "--method", method, *extra)  # fmt: skip


@pytest.fixture(scope="module")
def pruned(tmp_path_factory):
    d = write_tiny_prune_case(tmp_path_factory.mktemp("methods"), width=16, train_seed=11, test_seed=12,
                              n_train=160, n_test=40)  # fmt: skip
    reports = {}
    for m in METHODS:
        r = _run(*_prune_args(d, m, m))
        assert r.exit_code == 0, r.stderr + r.stdout
        reports[m] = json.loads((d / m / "report.json").read_text())
    return d, reports


@pytest.mark.parametrize("method", METHODS)
def test_budget_met_in_the_methods_storage(pruned, method):
    d, reports = pruned
    rep = reports[method]
    assert rep["method"] == rep["recipe"]["method"] == method and rep["conv_storage"] == STORAGE_OF_METHOD[method]
    assert rep["packed_bytes"] <= rep["planned_bytes"] <= rep["flash_budget_bytes"] == int(0.5 * rep["budget_base_bytes"])
    # `dtmm pack --conv-storage` stores exactly what the report counts for every conv
    r = _run("pack", d / method / "model_int8.tflite", "--out", d / method / "c", "--conv-storage",
             rep["conv_storage"])  # fmt: skip
    assert r.exit_code == 0, r.output
    summary = json.loads(next((d / method / "c").glob("*.json")).read_text())
    conv_flash = [op["flash_bytes"] for op in summary["ops"] if op["op"] == "CONV_2D"]
    conv_meas = [op["bytes"] for op in rep["int8"]["ops"] if op.get("storage")]
    assert conv_flash == conv_meas
    storages = {op["conv_storage"] for op in summary["ops"] if op["op"] == "CONV_2D"}
    assert storages == ({"fwcs"} if method == "filter" else {"fwcs", STORAGE_OF_METHOD[method]} & storages)
    if method != "filter":
        assert STORAGE_OF_METHOD[method] in storages and "conv storage" in r.output


def test_filter_method_removes_whole_filters_only(pruned):
    d, reports = pruned
    rep = reports["filter"]
    assert rep["importance"] == "chip" and rep["plan"]["steps"]["filterlets_removed"] == 0
    assert rep["plan"]["steps"]["filter"] > 0
    for L in rep["layers"]:
        assert L["alpha_filterlet_ratio"] in (None, 0.0), L
    km = keras.models.load_model(d / "filter" / "model.keras", compile=False)
    assert km.count_params() < keras.models.load_model(d / "tiny.keras", compile=False).count_params()


def test_unstructured_method_prunes_single_weights_uniformly(pruned):
    d, reports = pruned
    rep = reports["unstructured"]
    ratio = rep["plan"]["ratio"]
    assert 0.3 < ratio < 0.95 and rep["plan"]["ratio_of"] == "weights removed"
    for L in rep["layers"]:  # every conv at the same sparsity (up to rounding)
        assert abs(L["weight_sparsity"] - ratio) < 0.02, L
    tm = TfliteModel.load(d / "unstructured" / "model_int8.tflite")
    for c in conv_layers(tm):  # single zeros, not whole filterlets: FWCS alone would save little
        zeros = float(np.mean(c.weights == 0))
        assert zeros >= ratio - 0.02
        if c.spec.cin >= 8:
            assert float(np.mean(~fwcs.keep_mask(c.weights))) < zeros / 2
    assert rep["int8"]["filterlet_check"] and all(v["violations"] == 0 for v in rep["int8"]["filterlet_check"].values())


def test_pattern_method_keeps_four_tap_patterns(pruned):
    d, reports = pruned
    rep = reports["pattern"]
    assert rep["plan"]["ratio_of"] == "kernels removed"
    pruned_layers = {L["name"] for L in rep["layers"]}
    assert "b2_proj" not in pruned_layers and {"stem", "b1_conv1"} <= pruned_layers  # 1x1 stays dense
    km = keras.models.load_model(d / "pattern" / "model.keras", compile=False)
    for name in pruned_layers:
        k = km.get_layer(name).kernel.numpy()  # HWIO
        sup = (k != 0).transpose(3, 2, 0, 1).reshape(k.shape[3], k.shape[2], -1)  # [o, ci, taps]
        taps = sup.sum(axis=2)
        assert taps.max() <= WL.PATTERN_TAPS
        shapes = {tuple(s) for s in sup.reshape(-1, sup.shape[-1]) if s.sum() == WL.PATTERN_TAPS}
        assert 1 <= len(shapes) <= WL.PATTERNS_PER_LAYER
        L = next(L for L in rep["layers"] if L["name"] == name)
        assert L["kernels_kept"] == int((taps > 0).sum())
    tm = TfliteModel.load(d / "pattern" / "model_int8.tflite")
    for c in conv_layers(tm):
        if c.spec.kh * c.spec.kw > WL.PATTERN_TAPS:
            pattern.pattern_set(pattern.supports(c.weights))  # the int8 zeros still form <= 16 patterns


@pytest.mark.parametrize("method", METHODS)
def test_pruned_models_bit_exact_on_host(pruned, method, tmp_path):
    d, reports = pruned
    data = (d / method / "model_int8.tflite").read_bytes()
    tm = TfliteModel(data)
    shape = tm.tensors[tm.inputs[0]].shape
    rng = np.random.default_rng(7)
    samples = [[rng.integers(-128, 128, size=shape, dtype=np.int8)] for _ in range(2)]
    assert len(check_cases([Case(method, data, samples)], tmp_path, conv_storage=reports[method]["conv_storage"])) == 1


@pytest.mark.skipif(shutil.which("qemu-system-arm") is None or shutil.which("arm-none-eabi-gcc") is None,
                    reason="qemu-system-arm or arm-none-eabi-gcc not installed")  # fmt: skip
@pytest.mark.qemu
def test_run_model_runs_a_pattern_model_on_qemu(pruned, tmp_path):
    from dtmm.tflite.interpreter import tflm_outputs

    d, _ = pruned
    data = (d / "pattern" / "model_int8.tflite").read_bytes()
    tm = TfliteModel(data)
    xs = np.random.default_rng(8).integers(-128, 128, size=(2, *tm.tensors[tm.inputs[0]].shape)).astype(np.int8)
    np.save(tmp_path / "x.npy", xs)
    r = _run("run-model", d / "pattern" / "model_int8.tflite", "--board", "qemu-m4", "--inputs", tmp_path / "x.npy",
             "--conv-storage", "pattern", "--json")  # fmt: skip
    assert r.exit_code == 0, r.output
    res = json.loads(r.stdout[r.stdout.index("{"):])
    for got, want in zip(res["outputs"], tflm_outputs(data, xs)):
        assert np.array_equal(np.asarray(got).reshape(-1), np.asarray(want).reshape(-1))


@pytest.mark.parametrize(
    "extra, needle",
    [
        (("--method", "pattern", "--sram", "4KB"), "--method pattern prunes single weights"),
        (("--method", "unstructured", "--latency", "50%", "--board", "qemu-m4"), "no --sram or --latency"),
        (("--method", "filter", "--sensitivity"), "use it with --method dtmm"),
    ],
)  # fmt: skip
def test_options_a_method_cannot_honour_are_refused(pruned, extra, needle):
    d, _ = pruned
    args = ("prune", d / "tiny.keras", "--data", d / "data.npz", "--flash", "50%", "--out", d / "e", *extra)
    r = _run(*args)
    assert r.exit_code == 2 and needle in r.stderr and "Traceback" not in r.stderr, r.stderr


@pytest.mark.parametrize("method", ["pattern", "unstructured"])
def test_budget_below_a_methods_floor_is_refused_before_training(pruned, method):
    d, _ = pruned
    r = _run(*_prune_args(d, "floor", method, "2KB"))
    assert r.exit_code == 2 and f"smallest size --method {method} reaches" in r.stderr, r.stderr
    assert "fine-tun" not in r.stderr


def test_weight_plans_meet_the_budget_exactly_and_keep_earlier_zeros(pruned):
    from dtmm.prune.plan import bytes_summary

    d, _ = pruned
    analysis = GraphAnalysis(keras.models.load_model(d / "tiny.keras", compile=False))
    dense, _floor = bytes_summary(analysis)
    for method in ("pattern", "unstructured"):
        budget = int(0.6 * dense)
        plan = WL.make_weight_plan(analysis, method, budget)
        assert plan.packed_bytes <= budget and WL.floor_bytes(analysis, method) < budget
        exact = sum(WL.storage_bytes(method, WL._spec(analysis, n), np.transpose(m, (3, 0, 1, 2)))
                    for n, m in plan.masks.items())  # fmt: skip
        assert exact == sum(plan.layer_bytes.values())
        tighter = WL.make_weight_plan(analysis, method, int(0.45 * dense), previous=plan.masks)
        for n, m in tighter.masks.items():
            assert not (m & ~plan.masks[n]).any(), f"{method} {n}: a pruned weight came back"
        assert tighter.ratio >= plan.ratio and tighter.packed_bytes <= int(0.45 * dense)


def test_channel_independence_matches_the_svd():
    rng = np.random.default_rng(0)
    maps = rng.normal(size=(3, 5, 12))
    maps[:, 4] = 2 * maps[:, 0] - maps[:, 1]  # a dependent channel
    want = []
    for c in range(5):
        want.append(np.mean([np.linalg.svd(a, compute_uv=False).sum()
                             - np.linalg.svd(np.delete(a, c, axis=0), compute_uv=False).sum() for a in maps]))  # fmt: skip
    assert np.allclose(nuclear_norm_drops(maps), want)
