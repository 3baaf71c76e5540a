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
from dtmm.cost.calibration_set import DENSITIES, calibration_models, convert, pruned_variant
from dtmm.cost.features import (CONV_COUNTS, COUNTS_OF_KIND, OpFeatures, _dsp_depthwise_path, _dsp_elem,
                                _mve_depthwise_path, board_path, op_features, variant_family)
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


def test_fallback_prefers_the_same_mode_then_the_variant_then_the_operator():
    def group(value, kind="conv_mve"):
        return {"kind": kind, "counts": list(COUNTS_OF_KIND[kind]),
                "coefficients": [float(value)] + [0.0] * (len(COUNTS_OF_KIND[kind]) - 1)}  # fmt: skip

    counts = (1.0,) + (0.0,) * (len(COUNTS_OF_KIND["conv_mve"]) - 1)
    f = OpFeatures("op00_CONV_2D", "CONV_2D", "CONV_2D/mve_quad32/patch", "conv_mve", counts)
    groups = {"CONV_2D/*/patch": group(3), "CONV_2D/mve_quad32": group(2), "CONV_2D": group(1)}
    cal = C.Calibration(_doc(groups=groups))
    assert cal.coefficients(f)[0] == "CONV_2D/*/patch" and cal.predict(f) == 3
    del groups["CONV_2D/*/patch"]
    assert cal.coefficients(f)[0] == "CONV_2D/mve_quad32" and cal.predict(f) == 2
    del groups["CONV_2D/mve_quad32"]
    assert cal.coefficients(f)[0] == "CONV_2D" and cal.predict(f) == 1
    assert C.mode_umbrella("CONV_2D/mve_quad32/patch") == "CONV_2D/*/patch"
    assert C.mode_umbrella("CONV_2D/dsp_band") is None


def test_an_older_calibration_gives_counts_added_since_zero_weight():
    names = list(COUNTS_OF_KIND["conv"])
    old = {"kind": "conv", "counts": names[:3], "coefficients": [5.0, 0.0, 1.0]}  # "calls", "filters", "kept_filters"
    cal = C.Calibration(_doc(groups={"CONV_2D": old}))
    counts = tuple(float(i + 1) for i in range(len(names)))
    f = OpFeatures("op00_CONV_2D", "CONV_2D", "CONV_2D/dsp_band", "conv", counts)
    assert cal.predict(f) == 5 * 1 + 1 * 3


def test_helium_depthwise_path_follows_the_kernels_rules():
    # (in, out, kernel, stride, dilation, channels, multiplier)
    assert _mve_depthwise_path((12, 12), (6, 6), (3, 3), (2, 2), (1, 1), 64, 1) == "lane"  # 36 outputs, 8+ channels
    assert _mve_depthwise_path((12, 12), (6, 6), (3, 3), (2, 2), (1, 1), 4, 1) == "plane_s2"  # too few channels
    assert _mve_depthwise_path((24, 24), (24, 24), (3, 3), (1, 1), (1, 1), 16, 1) == "plane_s1"
    assert _mve_depthwise_path((16, 16), (16, 16), (5, 5), (1, 1), (1, 1), 8, 1) == "plane"
    assert _mve_depthwise_path((96, 96), (96, 96), (3, 3), (1, 1), (1, 1), 8, 1) == "column"  # plane too large
    assert _mve_depthwise_path((8, 8), (8, 8), (3, 3), (1, 1), (1, 1), 8, 2) == "plane_s1"  # no lanes with mult 2


def test_dsp_depthwise_path_follows_the_kernels_rules():
    # (out, kernel, stride, dilation, multiplier)
    assert _dsp_depthwise_path((24, 24), (3, 3), (1, 1), (1, 1), 1) == "plane_s1"
    assert _dsp_depthwise_path((3, 3), (3, 3), (1, 1), (1, 1), 1) == "group"  # 9 outputs: no plane set-up
    assert _dsp_depthwise_path((6, 6), (3, 3), (2, 2), (1, 1), 1) == "group"  # stride 2 needs 64 outputs
    assert _dsp_depthwise_path((12, 12), (3, 3), (2, 2), (1, 1), 1) == "plane_s2"
    assert _dsp_depthwise_path((16, 16), (5, 5), (1, 1), (1, 1), 1) == "group"
    assert _dsp_depthwise_path((8, 8), (5, 5), (2, 2), (1, 1), 2) == "plane"  # multipliers always try the plane
    assert _dsp_depthwise_path((16, 16), (7, 7), (1, 1), (1, 1), 1) == "portable"  # 49 taps


def test_dsp_element_list_counts_follow_its_loops():
    from types import SimpleNamespace

    # a DS-CNN first conv: 49x10x1, 10x4 stride 2, 64 filters -> 25x5 outputs, 40-element fields
    s = SimpleNamespace(kh=10, kw=4, cin=1, cout=64, in_h=49, in_w=10, out_h=25, out_w=5, stride_h=2, stride_w=2,
                        dilation_h=1, dilation_w=1, padding="same")  # fmt: skip
    plan = {"pairs": 1, "plane": 1, "rec_bytes": 6144}  # the C planner's, as the probe reports it (below)
    mode, counts = _dsp_elem(s, np.ones((64, 10, 4), dtype=bool), plan)
    filter_blocks, inner, im2col, plane, pass_blocks, input_rows, record_words, fields, elements, plane_rows = counts[:10]
    assert counts[10:] == (0,) * 5  # no field built from the input
    assert mode == "pair"
    assert filter_blocks == 32 * 64  # 125 pixels in blocks of 4 across the map, not per row
    assert inner == 32 * 64 * 10  # 20 pair words of 40 elements: 10 loop iterations (4 elements each) per filter
    assert plane == 58 * 12 and im2col == 125 * 10 * 2  # one pass: every record fits the 6 KB budget
    assert (pass_blocks, fields, plane_rows, input_rows, elements) == (32, 125, 125 * 10, 0, 0)  # all from the plane
    assert record_words == 64 * 20
    keep = np.zeros((64, 10, 4), dtype=bool)
    keep[:, 0, :2] = True  # 2 of 40 kept: the list kernel, one 4-element step per filter
    mode, counts = _dsp_elem(s, keep, {"pairs": 0, "plane": 0, "rec_bytes": 64 * 32})
    inner, im2col, plane, input_rows, record_words, elements = (counts[i] for i in (1, 2, 3, 5, 6, 8))
    assert (mode, inner, plane, im2col) == ("list", 32 * 64, 0, 0)
    assert (input_rows, elements, record_words) == (125 * 10, 125 * 40, 64 * 4)  # fields from the input itself


def test_dsp_element_list_fields_are_counted_as_elem_field_builds_them():
    """3x3 'same' on a 3x3x1 map: per pixel a zero fill above and below the rows inside the input (n = 0
    included), per row inside one run, and where the row leaves the input a zero fill before and after it."""
    from types import SimpleNamespace

    from dtmm.cost.features import _dsp_elem_fields

    s = SimpleNamespace(kh=3, kw=3, cin=1, in_h=3, in_w=3, out_h=3, out_w=3, stride_h=1, stride_w=1, dilation_h=1,
                        dilation_w=1, padding="same")  # fmt: skip
    # rows inside per output row: 2, 3, 2 (7); columns 0 and 2 lose one tap (lead 1 / trail 1), column 1 none
    zero_calls = 9 * 2 + 2 * 7 * 2  # two fills per pixel, two more per row inside in columns 0 and 2
    zero_steps = 3 * (2 + 2) + 7 + 7  # one row of 3 above (y = 0) and below (y = 2): 2 steps each, per column
    runs, steps4, singles = 3 * 7, 0, 7 * (2 + 3 + 2)
    assert _dsp_elem_fields(s) == (zero_calls, zero_steps, runs, steps4, singles)
    s.cin = 4  # runs of 8 / 12 / 8 bytes: whole 4-element steps
    assert _dsp_elem_fields(s)[2:] == (21, 7 * (2 + 3 + 2), 0)


def test_calibration_models_do_not_depend_on_what_was_built_before():
    first = convert(41)
    convert(3)
    assert convert(41) == first


def test_small_board_calibration_set_is_capped_to_its_ram(tmp_path):
    """qemu-m0's 16 KiB takes about a sixth of the default set; its own capped set mostly fits, and the
    models that still do not are left out by name."""
    from dtmm.cost.calibrate import fitting_models
    from dtmm.cost.calibration_set import MAX_ACTIVATION_BYTES, max_activation_bytes_for

    m0 = get_board("qemu-m0")
    cap = max_activation_bytes_for(m0)
    assert cap == (m0.ram_bytes - m0.stack_bytes - 2048) // 3 < MAX_ACTIVATION_BYTES
    assert max_activation_bytes_for(get_board("qemu-m4")) == MAX_ACTIVATION_BYTES
    default = list(calibration_models([1], cache_dir=tmp_path))
    fit, skipped = fitting_models(default, "qemu-m0")
    assert not fit and skipped == ["cal1_v0", "cal1_v1", "cal1_v2"]
    capped = list(calibration_models([2, 3], max_activation_bytes=cap, cache_dir=tmp_path))
    assert [m.name for m in capped] == [f"cal{s}_v{v}" for s in (2, 3) for v in range(3)]
    assert capped[0].data != next(iter(calibration_models([2], cache_dir=tmp_path))).data
    fit, skipped = fitting_models(capped, "qemu-m0")
    assert len(fit) == len(capped) and not skipped
    for m in capped:
        model = TfliteModel(m.data, m.name)
        biggest = max(int(np.prod(model.tensors[t].shape)) for op in model.operators for t in op.outputs)
        assert biggest <= cap, (m.name, biggest)
    assert fitting_models(capped, "qemu-m4") == (capped, [])


@pytest.mark.parametrize("board", [b.name for b in emulated_boards()])
def test_every_qemu_board_ships_a_calibration_with_every_operator(board):
    cal = C.load_calibration(board)
    assert cal.board == (get_board(board).cost_model_board or board)
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


# --------------------------------------------------------------------------- channel groups (GROUPS blobs)


def test_group_models_lose_channel_groups_and_are_priced_as_groups():
    from dtmm.cost.calibration_set import GROUP_SEEDS
    from dtmm.cost.features import GROUPS_COUNTS, groups_blob_of
    from dtmm.formats import fwcs

    variants = list(calibration_models([GROUP_SEEDS[1]]))
    assert [v.name for v in variants] == [f"cal{GROUP_SEEDS[1]}_v{k}" for k in range(3)]
    expect = {"qemu-m0": ("GROUPS/portable",), "qemu-m4": ("GROUPS/dsp_groups",),
              "qemu-m55": ("GROUPS/mve_groups/asm", "GROUPS/mve_groups/any")}  # fmt: skip
    for k, v in enumerate(variants):
        model = TfliteModel(v.data)
        summary = pack_model(model, "t").summary
        for board, groups in expect.items():
            feats = [f for f in op_features(model, summary, get_board(board)) if f.op == "GROUPS"]
            if k == 0:
                assert not feats  # the dense variant has no GROUPS blob
                continue
            assert feats and all(f.group in groups and f.kind == "groups" for f in feats), board
            for f in feats:
                d = dict(zip(GROUPS_COUNTS, f.counts))
                op = model.operators[int(f.label[2:].split("_")[0])]
                layer = fwcs.decode(groups_blob_of(model, op))
                assert d["kept_groups"] == layer.group_keep.sum() * d["calls"]
                assert d["kept_weights"] == d["kept_groups"] * layer.header.group
                assert d["filters"] == layer.spec.cout * d["calls"]


@pytest.mark.parametrize("board", [b.name for b in emulated_boards()])
def test_shipped_calibrations_price_groups_blobs(board):
    from dtmm.cost.calibration_set import GROUP_SEEDS

    cal = C.load_calibration(board)
    assert set(GROUP_SEEDS) <= set(cal.data["seeds"])
    own = {"c": "GROUPS/portable", "dsp": "GROUPS/dsp_groups", "mve": "GROUPS/mve_groups/asm"}[cal.data["path"]]
    g = cal.data["groups"][own]
    assert g["kind"] == "groups" and g["samples"] >= 8 and g["rms_relative_error"] < 0.1, g
    assert cal.data["groups"]["GROUPS"]["kind"] == "groups"  # the umbrella of every GROUPS variant


def test_extend_measures_only_the_models_a_calibration_lacks(monkeypatch):
    """qemu-m3's shipped file without its shape models (the family added last), extended: only those are
    measured (served here from the file's own measurements), and the result is the shipped file again."""
    from dtmm.cost import calibrate as cal
    from dtmm.cost import measure as M
    from dtmm.cost.calibration_set import SHAPE_SEEDS

    shipped = C.load_calibration("qemu-m3").data
    assert list(shipped["seeds"][-len(SHAPE_SEEDS):]) == list(SHAPE_SEEDS)
    group_names = {f"cal{s}_v{v}" for s in SHAPE_SEEDS for v in range(3)}
    older = dict(shipped, seeds=[s for s in shipped["seeds"] if s not in SHAPE_SEEDS],
                 measurements=[m for m in shipped["measurements"] if m["name"] not in group_names],
                 skipped_models=[n for n in shipped["skipped_models"] if n not in group_names])  # fmt: skip
    by_name = {m["name"]: m for m in shipped["measurements"]}
    asked = []

    def served(models, board, **kw):
        models = list(models)
        asked.extend(cm.name for cm in models)
        return [by_name[cm.name] for cm in models]

    monkeypatch.setattr(M, "measure", served)
    again = cal.extend(older, list(shipped["seeds"]))
    assert set(asked) <= group_names and asked
    assert again["seeds"] == shipped["seeds"] and again["groups"] == shipped["groups"]
    assert cal.extend(again, list(shipped["seeds"]))["groups"] == shipped["groups"] and len(asked) == len(set(asked))


# --------------------------------------------------------------------------- weightless operators


def test_operator_models_give_each_weightless_op_its_group():
    """The operator models (OP_SEEDS) contain every weightless operator `dtmm pack` lowers, priced by kernel:
    the six table activations as one LOOKUP group, TRANSPOSE / STRIDED_SLICE as one strided copy."""
    from dtmm.cost.calibration_set import OP_SEEDS
    from dtmm.cost.features import LOOKUP_OPS

    ops, groups = set(), {}
    for cm in calibration_models(OP_SEEDS[:6]):
        if not cm.name.endswith("_v0"):
            continue
        model = TfliteModel(cm.data)
        for f in op_features(model, pack_model(model, "t").summary, get_board("qemu-m4")):
            ops.add(f.op)
            groups.setdefault(f.op, set()).add(f.group)
    assert {"SUB", "MUL", "TRANSPOSE", "STRIDED_SLICE", "RESIZE_NEAREST_NEIGHBOR"} <= ops
    assert len(ops & set(LOOKUP_OPS)) >= 4
    for op in ops & set(LOOKUP_OPS):
        assert groups[op] == {"LOOKUP"}
    assert groups["TRANSPOSE"] | groups["STRIDED_SLICE"] <= {"STRIDED_COPY/rows", "STRIDED_COPY/gather"}
    assert "STRIDED_COPY/gather" in groups["TRANSPOSE"] and "STRIDED_COPY/rows" in groups["STRIDED_SLICE"]


@pytest.mark.parametrize("board", [b.name for b in emulated_boards()])
def test_shipped_calibrations_price_weightless_ops(board):
    from dtmm.cost.calibration_set import OP_SEEDS

    cal = C.load_calibration(board)
    assert set(OP_SEEDS) <= set(cal.data["seeds"])
    for group in ("LOOKUP", "SUB", "MUL", "RESIZE_NEAREST_NEIGHBOR", "STRIDED_COPY/rows", "STRIDED_COPY/gather"):
        g = cal.data["groups"].get(group)
        assert g is not None and g["kind"] == "elementwise" and g["samples"] >= 3, (group, g)
        assert g["rms_relative_error"] < 0.15, (group, g["rms_relative_error"])


# --------------------------------------------------------------------------- kernel plans and loop counts


def test_probe_reports_how_the_helium_path_reads_its_rows():
    """The packer's probe prints the MVE layout the C code plans (conv_scratch.conv_plans) and the summary
    carries it: an unpadded 3x3 conv reads the input rows directly, a padded one through the row window,
    a 1x1 layer flattened to a row of 490 pixels (not a multiple of 4) directly with an edge patch for its
    last block only, and a 10x4 kernel (the element-list kernel) has no such plan."""
    import keras
    from keras import layers

    from dtmm.tflite.convert import keras_to_int8_tflite

    keras.utils.set_random_seed(0)
    inp = keras.Input((49, 10, 16))
    heads = [layers.Conv2D(16, 3, padding="valid")(inp), layers.Conv2D(16, 3, padding="same")(inp),
             layers.Conv2D(12, 1)(inp), layers.Conv2D(8, (10, 4), padding="same")(inp)]
    x = layers.Concatenate()([layers.GlobalAveragePooling2D()(h) for h in heads])
    rng = np.random.default_rng(0)
    data = keras_to_int8_tflite(keras.Model(inp, x), list(rng.normal(size=(4, 1, 49, 10, 16)).astype(np.float32)))
    model = TfliteModel(data)
    plans = {}
    for r in pack_model(model, "plan").summary["ops"]:
        op = model.operators[r["index"]]
        if op.opcode == "CONV_2D":
            _, kh, kw, _ = model.tensors[op.inputs[1]].shape
            plans[(int(kh), int(kw), int(op.options.padding))] = r["conv_plan"]["mve"]
    same, valid = 0, 1  # tflite Padding
    assert plans[(3, 3, valid)]["rows"] == 0 and plans[(3, 3, same)]["rows"] == 1
    assert plans[(3, 3, valid)]["last_edge"] == 0 and plans[(3, 3, same)]["last_edge"] == 0
    flat = plans[(1, 1, valid)]
    assert flat["rows"] == 0 and flat["last_edge"] == 1
    assert flat["n_blocks"] == 123 and flat["edge_w"] == 4 and flat["cin_eff"] == 16
    assert plans[(10, 4, same)] is None


def test_probe_reports_the_element_list_plans():
    """A DS-CNN first conv (49x10x1, 10x4 stride 2, 64 filters): the DSP element-list planner picks the pair
    kernel on its int16 plane with a 6 KiB record budget (what test_dsp_element_list_counts_follow_its_loops
    feeds the counts), the Helium one an 8 KiB budget; neither path plans it as a band or row layout."""
    from dtmm.bench.models import load_models

    model = TfliteModel(next(m for m in load_models(["ds_cnn"]) if m.name == "ds_cnn").data)
    first = next(r for r in pack_model(model, "ds").summary["ops"] if r["op"] == "CONV_2D")
    plans = first["conv_plan"]
    assert plans["dsp_elem"] == {"pairs": 1, "plane": 1, "rec_bytes": 6144}
    assert plans["mve_elem"] == {"rec_bytes": 8192}
    assert plans["dsp"] is None and plans["mve"] is None


def test_helium_counts_follow_its_loops():
    """Item windows, element-list chunks and the group kernels' extra filter slots, by hand."""
    from dtmm.cost.features import _mve_elem_chunks, _mve_group_slots, _mve_items

    keep = np.zeros((2, 1, 5), dtype=bool)  # cin 8, kw 5: a 40-byte row in windows of filterlets 0-1, 2-3, 4
    keep[0] = True  # dense: 3 items, not 5 filterlets
    keep[1, 0, [0, 4]] = True  # two windows hold a kept filterlet
    assert _mve_items(keep, 8) == 3 + 2
    # K <= 256: kept elements in chunks of 16; beyond, a chunk also closes 256 bytes past its first element
    assert _mve_elem_chunks(np.array([1, 1, 0, 1]), 8, 32) == 2
    row = np.zeros(300, dtype=bool)
    row[[0, 1, 280]] = True
    assert _mve_elem_chunks(row, 1, 300) == 2
    # quads: 6 live filters -> one group and 2 run one by one; 3 live + 1 empty -> the empty completes it
    assert _mve_group_slots("CONV_2D/mve_quad16", np.array([9, 9, 9, 9, 9, 5]), False, 10, 16) == (0, 20, 140)
    assert _mve_group_slots("CONV_2D/mve_quad16", np.array([9, 0, 9, 9]), False, 10, 16) == (10, 0, 0)
    # pairs complete with a copy of the last live filter; pg groups of 4 in chunks of 16 kept weights
    assert _mve_group_slots("CONV_2D/mve_pair16", np.array([9, 9, 4]), False, 10, 16) == (40, 0, 0)
    assert _mve_group_slots("CONV_2D/mve_pg", np.array([9] * 5), False, 10, 3) == (3 * 2 * 10, 0, 0)


def test_shape_models_cover_the_rarer_kernels():
    """The shape models (SHAPE_SEEDS, one regime per seed) hold what random chains rarely draw: kernels of
    more than 32 taps, 1x1 convs of 128 or more channels, depth multipliers above 1, cin 4/8 layers."""
    from dtmm.cost.calibration_set import SHAPE_REGIMES, SHAPE_SEEDS

    seen = set()
    for seed in SHAPE_SEEDS[:len(SHAPE_REGIMES)]:
        model = TfliteModel(next(iter(calibration_models([seed]))).data)
        for op in model.operators:
            w = model.tensors[op.inputs[1]].shape if op.opcode in ("CONV_2D", "DEPTHWISE_CONV_2D") else None
            if w is None:
                continue
            cin = model.tensors[op.inputs[0]].shape[-1]
            if op.opcode == "CONV_2D" and w[1] * w[2] > 32:
                seen.add("large_kernel")
            if op.opcode == "CONV_2D" and (w[1], w[2]) == (1, 1) and cin >= 128:
                seen.add("wide_pointwise")
            if op.opcode == "CONV_2D" and cin in (4, 8) and w[1] * w[2] > 1:
                seen.add("few_channels")
            if op.opcode == "DEPTHWISE_CONV_2D" and w[3] > cin:
                seen.add("depth_multiplier")
    assert seen == {"large_kernel", "wide_pointwise", "few_channels", "depth_multiplier"}, seen


@pytest.mark.parametrize("board", [b.name for b in emulated_boards()])
def test_shipped_calibrations_measured_the_shape_models(board):
    from dtmm.cost.calibration_set import SHAPE_SEEDS

    cal = C.load_calibration(board)
    assert set(SHAPE_SEEDS) <= set(cal.data["seeds"])


@pytest.mark.parametrize("board", ["qemu-m0", "qemu-m3"])
def test_portable_conv_is_priced_by_its_three_loops(board):
    """The portable kernel's index walk (>32 taps), DENSE runs and listed runs each have a fit of their own,
    closer than the one fit over all three was (13.6-13.7% RMS error on both boards)."""
    groups = C.load_calibration(board).data["groups"]
    for loop in ("walk", "dense", "sparse"):
        g = groups[f"CONV_2D/portable/{loop}"]
        assert g["samples"] >= 20 and g["rms_relative_error"] < 0.13, (loop, g["samples"], g["rms_relative_error"])


def test_portable_index_walk_counts_only_the_kept_taps_inside_the_input():
    """A 1x3 'same' kernel over one row of 3 pixels: tap 0 is outside for the first pixel, tap 2 for the last
    (7 of 9 taps inside); only kept filterlets count, each cin = 5 bytes in one 4-byte step and one byte."""
    from types import SimpleNamespace

    from dtmm.cost.features import _portable_walk

    s = SimpleNamespace(kh=1, kw=3, cin=5, stride_h=1, stride_w=1, dilation_h=1, dilation_w=1, padding="same")
    assert _portable_walk(s, np.ones((1, 1, 3), dtype=bool), 1, 3, 1, 3) == (7, 7, 7)
    keep = np.array([[[True, False, True]], [[False, True, False]]])  # two filters: taps 0 and 2, tap 1
    assert _portable_walk(s, keep, 1, 3, 1, 3) == (2 + 2 + 3, 7, 7)
    s.padding = "valid"  # one output pixel, every tap inside
    assert _portable_walk(s, keep, 1, 1, 1, 3)[0] == 3


def test_dsp_band_rows_outside_the_input_zero_their_slot():
    """A 3x1 'same' kernel over 2 input rows: output row 0 needs rows -1, 0, 1 and row 1 needs 0, 1, 2; rows 0
    and 1 are expanded once (the ring of 3 slots still holds them), rows -1 and 2 zero a slot instead."""
    from types import SimpleNamespace

    from dtmm.cost.features import _dsp_band

    s = SimpleNamespace(kh=3, cin=4, stride_h=1, stride_w=1, dilation_h=1, dilation_w=1, pad_top=1)
    plan = {"groups": 1, "repack": 0, "repack_bytes": 0, "slots": 3, "ring": 1, "blocks": 1, "tile_blocks": 1,
            "cols": 4, "phases": 1}  # fmt: skip
    passes, expanded, words, row_calls, repacked, tail_words, zero_steps = _dsp_band(
        s, plan, np.ones((1, 3, 1), dtype=bool), out_h=2, in_h=2)
    assert (passes, expanded, words, row_calls, repacked, tail_words) == (1, 2, 2 * 4, 2, 0, 0)
    assert zero_steps == 2 * (1 * 1 * 4 * 8 // 32)  # two slots of groups x phases x cols x 8 bytes, 32 at a time
