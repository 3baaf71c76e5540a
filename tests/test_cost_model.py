"""The cost model on the host: NNLS, features, calibration files, `dtmm estimate` (no QEMU).

The prediction quality on QEMU is tests/test_cost_qemu.py's.
"""
from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

from dtmm.cli import main
from dtmm.cost import calibration as C
from dtmm.cost.calibration_set import DENSITIES, calibration_models, pruned_variant
from dtmm.cost.features import CONV_COUNTS, board_path, op_features, variant_family
from dtmm.cost.fit import fit_group, nnls, relative_errors
from dtmm.errors import DtmmError
from dtmm.pack.packer import pack_model
from dtmm.targets.boards import emulated_boards, get_board
from dtmm.tflite.model import TfliteModel, conv_layers


def test_nnls_meets_the_optimality_conditions():
    rng = np.random.default_rng(1)
    for _ in range(30):
        a = rng.normal(size=(40, 7))
        b = rng.normal(size=40)
        x = nnls(a, b)
        grad = a.T @ (b - a @ x)
        assert (x >= 0).all()
        assert np.all(grad[x == 0] <= 1e-8)  # no zero coefficient could lower the residual
        assert np.allclose(grad[x > 0], 0.0, atol=1e-8)  # the free ones are at the least-squares optimum


def test_fit_recovers_non_negative_coefficients_and_reports_relative_error():
    rng = np.random.default_rng(2)
    counts = rng.integers(1, 1000, size=(60, 5)).astype(float)
    truth = np.array([30.0, 0.0, 2.5, 0.0, 11.0])
    coef = fit_group(counts, counts @ truth)
    assert np.allclose(coef, truth, rtol=1e-6, atol=1e-6)
    assert np.allclose(relative_errors(counts, counts @ truth * 1.1, coef), -1 / 11)


def test_board_paths_and_variant_families():
    assert board_path(get_board("qemu-m55")) == "mve"
    assert board_path(get_board("qemu-m4")) == "dsp"
    assert board_path(get_board("qemu-m3")) == "c"
    assert variant_family("mve_quad16_s32_full_l") == "mve_quad16"
    assert variant_family("mve_gen_n3_t") == "mve_gen"
    assert variant_family("dsp_band") == "dsp_band"


@pytest.fixture(scope="module")
def cal_model() -> bytes:
    return _first_cnn()


def _first_cnn() -> bytes:
    """The first generated calibration model with a CONV_2D of kernel > 1x1."""
    for seed in range(10):
        dense = next(iter(calibration_models([seed]))).data
        if any(L.spec.kh * L.spec.kw > 1 for L in conv_layers(TfliteModel(dense))):
            return dense
    raise AssertionError("no CNN among the first calibration models")


def test_pruned_variants_keep_one_filterlet_per_kept_filter_and_are_seeded(cal_model):
    a = pruned_variant(cal_model, 7, 1)
    assert a == pruned_variant(cal_model, 7, 1)
    assert a != cal_model
    assert pruned_variant(cal_model, 7, 0) == cal_model
    for L in conv_layers(TfliteModel(a)):
        keep = np.any(L.weights != 0, axis=3).reshape(L.spec.cout, -1)
        assert keep.any()
    assert max(DENSITIES) == 1.0


def test_conv_features_count_kept_filterlets(cal_model):
    pruned = pruned_variant(cal_model, 7, 1)
    model = TfliteModel(pruned)
    feats = op_features(model, pack_model(model, "t").summary, get_board("qemu-m4"))
    convs = [f for f in feats if f.op == "CONV_2D"]
    layers = conv_layers(model)
    assert len(convs) == len(layers)
    for f, L in zip(convs, layers):
        d = dict(zip(CONV_COUNTS, f.counts))
        keep = np.any(L.weights != 0, axis=3)
        pixels = L.spec.out_h * L.spec.out_w
        assert d["filterlets"] == keep.sum()
        assert d["macs"] == pixels * keep.sum() * L.spec.cin
        assert f.group.startswith("CONV_2D/dsp_")
    assert all(f.label.startswith("op") for f in feats)


def _doc(board="qemu-m4", groups=None):
    return {"format": C.FORMAT, "version": C.VERSION, "board": board, "path": "dsp",
            "kernels_digest": C.kernels_digest("dsp"), "groups": groups or {}}  # fmt: skip


def test_calibration_file_errors_are_one_line(tmp_path):
    with pytest.raises(DtmmError, match="no calibration for"):
        C.load_calibration("qemu-m4", tmp_path / "missing.json")
    bad = tmp_path / "bad.json"
    bad.write_text("{")
    with pytest.raises(DtmmError, match="cannot read calibration"):
        C.load_calibration("qemu-m4", bad)
    bad.write_text(json.dumps({"format": "other"}))
    with pytest.raises(DtmmError, match="is not a dtmm-calibration v1 file"):
        C.load_calibration("qemu-m4", bad)


def test_missing_group_names_the_operator_and_the_fix(cal_model):
    model = TfliteModel(cal_model)
    f = op_features(model, pack_model(model, "t").summary, get_board("qemu-m4"))[0]
    with pytest.raises(DtmmError, match=r"no fit for .*dtmm calibrate --board qemu-m4"):
        C.Calibration(_doc()).predict(f)


def test_umbrella_fit_serves_an_unseen_variant(cal_model):
    model = TfliteModel(cal_model)
    f = [f for f in op_features(model, pack_model(model, "t").summary, get_board("qemu-m4")) if f.op == "CONV_2D"][0]
    coef = [0.0] * len(CONV_COUNTS)
    coef[CONV_COUNTS.index("macs")] = 2.0
    cal = C.Calibration(_doc(groups={"CONV_2D": {"kind": "conv", "coefficients": coef}}))
    assert cal.coefficients(f)[0] == "CONV_2D"
    assert cal.predict(f) == round(2.0 * dict(zip(CONV_COUNTS, f.counts))["macs"])


@pytest.mark.parametrize("board", [b.name for b in emulated_boards()])
def test_every_qemu_board_ships_a_calibration_with_every_operator(board):
    cal = C.load_calibration(board)
    assert cal.board == board
    ops = {"CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED", "ADD", "AVERAGE_POOL_2D", "MAX_POOL_2D", "MEAN",
           "SOFTMAX", "PAD", "CONCATENATION"}  # fmt: skip
    assert ops <= set(cal.data["groups"]), sorted(ops - set(cal.data["groups"]))
    for name, g in cal.data["groups"].items():
        assert all(c >= 0 for c in g["coefficients"]), name


def test_estimate_cli_flash_and_arena_are_the_packers(tmp_path, cal_model):
    path = tmp_path / "m.tflite"
    path.write_bytes(cal_model)
    res = CliRunner().invoke(main, ["estimate", str(path), "--board", "qemu-m4", "--json"])
    assert res.exit_code == 0, res.output
    rep = json.loads(res.output)
    packed = pack_model(TfliteModel(cal_model), "x")
    assert rep["flash_bytes"] == packed.flash_bytes
    assert rep["arena_bytes"] == packed.arena_bytes
    assert {"instructions", "flash_bytes", "arena_bytes", "layers"} <= set(rep)
    assert rep["instructions"] == sum(L["instructions"] for L in rep["layers"]) > 0
    assert all({"name", "op", "instructions", "flash_bytes"} <= set(L) for L in rep["layers"])
    text = CliRunner().invoke(main, ["estimate", str(path), "--board", "qemu-m4"])
    assert text.exit_code == 0 and "predicted" in text.output


def test_estimate_cli_bad_input(tmp_path):
    junk = tmp_path / "junk.tflite"
    junk.write_bytes(b"not a model")
    res = CliRunner().invoke(main, ["estimate", str(junk), "--board", "qemu-m4"])
    assert res.exit_code != 0 and "Traceback" not in res.output
    res = CliRunner().invoke(main, ["estimate", str(junk), "--board", "nope"])
    assert res.exit_code == 2 and "unknown board" in res.output
