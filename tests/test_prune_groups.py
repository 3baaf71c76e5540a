"""Channel groups in the pruner: sizes per kernel path, exact bytes, scores, the plan's two orders,
masks through surgery and int8 export, and `dtmm prune --group-size` end to end (bit-exact packed model)."""
from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest
from click.testing import CliRunner

keras = pytest.importorskip("keras")

from dtmm.cli import main  # noqa: E402
from dtmm.errors import DtmmError  # noqa: E402
from dtmm.formats import fwcs  # noqa: E402
from dtmm.pack.lowering.ops import fc_groups_size, groups_blob  # noqa: E402
from dtmm.prune import costs, export, importance, plan as P, surgery  # noqa: E402
from dtmm.prune import groups as G  # noqa: E402
from dtmm.prune.graph import GraphAnalysis  # noqa: E402
from support.keras_models import randomize_batchnorm, synthetic_images, tiny_dscnn  # noqa: E402


def _randomized(seed: int):
    """tiny_dscnn with BatchNorm statistics and Dense biases that are not their initial zeros."""
    m = tiny_dscnn(width=16)
    randomize_batchnorm(m, seed=seed)
    rng = np.random.default_rng(seed)
    for name in ("fc", "logits"):
        k, b = m.get_layer(name).get_weights()
        m.get_layer(name).set_weights([k, rng.normal(scale=0.1, size=b.shape).astype(np.float32)])
    return m


@pytest.fixture(scope="module")
def dscnn():
    return GraphAnalysis(_randomized(2))


@pytest.fixture(scope="module")
def scores(dscnn):
    x, y = synthetic_images(24, seed=5)
    sizes = G.layer_group_sizes(dscnn, "auto", "dsp")
    return sizes, importance.compute_importance("taylor", dscnn, x, y, groups=sizes, progress=False)


# --------------------------------------------------------------------------- sizes


def test_group_size_follows_the_kernel_path():
    assert [G.group_size(c, "dsp") for c in (16, 32, 64, 128, 1024, 2048, 60, 24)] == [8, 16, 16, 16, 32, 64, 0, 8]
    assert [G.group_size(c, "mve") for c in (32, 48, 64, 128, 256, 24, 4096)] == [16, 16, 32, 64, 64, 0, 0]
    assert G.group_size(64, "c") == 16


def test_layers_offered_groups(dscnn):
    assert G.group_layers(dscnn) == {"pw0": 16, "pw1": 32, "fc": 32, "logits": 32}
    assert G.layer_group_sizes(dscnn, "auto", "dsp") == {"pw0": 8, "pw1": 16, "fc": 16, "logits": 16}
    assert G.layer_group_sizes(dscnn, "auto", "mve") == {"pw1": 16, "fc": 16, "logits": 16}
    assert G.layer_group_sizes(dscnn, 8) == {"pw0": 8, "pw1": 8, "fc": 8, "logits": 8}
    assert G.layer_group_sizes(dscnn, 32) == {}  # a single group per filter is a filter
    assert G.layer_group_sizes(dscnn, "off") == {}
    assert G.parse_group_size("AUTO") == "auto" and G.parse_group_size("16") == 16
    for bad in ("0", "256", "x", "-4", "1.5"):
        with pytest.raises(DtmmError, match="--group-size"):
            G.parse_group_size(bad)


# --------------------------------------------------------------------------- bytes


@pytest.mark.parametrize("cout, cin, g", [(24, 64, 16), (10, 32, 8), (33, 128, 64)])
def test_grouped_bytes_are_what_the_packer_stores(cout, cin, g):
    rng = np.random.default_rng(cout)
    spec = fwcs.ConvSpec(cout=cout, cin=cin, kh=1, kw=1, in_h=3, in_w=3)
    dense_conv = fwcs.encoding_costs(spec, np.ones((cout, 1, 1), bool))["dense"]
    for density in (0.9, 0.75, 0.5, 0.2):
        keep = rng.random((cout, cin // g)) < density
        keep[np.arange(cout), rng.integers(0, cin // g, cout)] = True  # every filter keeps a group
        w = rng.integers(1, 127, (cout, 1, 1, cin)).astype(np.int8) * np.repeat(keep, g, axis=1)[:, None, None, :]
        blob = groups_blob(w, np.zeros(cout, np.int32), np.full(cout, 1 << 30, np.int32), np.full(cout, -3, np.int32),
                           spec)  # fmt: skip
        planned = costs.grouped_bytes(dense_conv, cout, cin, g, int(keep.sum()), dense_layer=False)
        assert planned == (len(blob) if blob is not None else None), density
        # a FULLY_CONNECTED is replaced only by a blob smaller than its per-channel dense operator
        fc = costs.grouped_bytes(cin * cout + 4 * cout, cout, cin, g, int(keep.sum()), dense_layer=True)
        lowered = fc_groups_size(w.reshape(cout, cin), cout)
        assert fc == (lowered[0] if lowered else None)
    assert costs.grouped_bytes(dense_conv, cout, cin, g, cout * (cin // g), dense_layer=False) is None  # > 75% kept


# --------------------------------------------------------------------------- scores


def test_group_scores(dscnn, scores):
    sizes, imp = scores
    for name, g in sizes.items():
        k = dscnn.model.get_layer(name).kernel.numpy()
        cin, cout = k.reshape(-1, k.shape[-1]).shape
        assert imp.group[name].shape == (cout, cin // g) and (imp.group[name] >= 0).all()
        assert imp.group[name].sum() > 0
    mag = importance.compute_importance("magnitude", dscnn, groups=sizes)
    w = np.abs(dscnn.model.get_layer("pw1").kernel.numpy()[0, 0])  # [cin, cout]
    per_filter = w.sum(axis=0)
    # a filter's groups add up to its L1 norm, in the layer's unit (its mean filter norm)
    np.testing.assert_allclose(mag.group["pw1"].sum(axis=1), per_filter / per_filter.mean(), rtol=1e-5)
    loop = np.array([[w[j * 16:(j + 1) * 16, o].sum() for j in range(2)] for o in range(w.shape[1])])
    np.testing.assert_allclose(importance.group_sums(w, 16), loop, rtol=1e-6)


# --------------------------------------------------------------------------- the plan


def _free_groups(imp):
    """Scores under which channel groups cost nothing and filters a lot."""
    return replace(imp, group={n: np.zeros_like(v) for n, v in imp.group.items()},
                   channel=imp.channel + 1.0)  # fmt: skip


def test_plan_uses_groups_where_they_pay_and_blocks_their_inputs(dscnn, scores):
    sizes, imp = scores
    dense = P.bytes_summary(dscnn)[0]
    plan = P.make_plan(dscnn, _free_groups(imp), int(0.7 * dense), group_sizes=sizes)
    assert plan.packed_bytes <= int(0.7 * dense) and plan.steps["groups_removed"] > 0
    rows = {r["name"]: r for r in plan.layer_rows(dscnn)}
    grouped = [n for n, r in rows.items() if "channel groups" in r["units"]]
    assert grouped and all(rows[n]["encoding"] == "groups" for n in grouped)
    for n in grouped:  # a grouped layer keeps every input channel and at least one group per kept filter
        st = plan.layers[n]
        assert st.cin == st.cin0 and rows[n]["group_size"] == sizes[n]
        assert st.keep_grp[st.keep_out].sum(axis=1).min() >= 1
        assert rows[n]["groups_kept"] == int(plan.group_masks()[n].sum())
    total = sum(st.bytes for st in plan.layers.values()) + plan.other_bytes
    assert total == plan.packed_bytes
    # scores that make groups dear: the same budget is met by filters (and filterlets) alone
    dear = replace(imp, group={n: v + 1e3 for n, v in imp.group.items()})
    plan2 = P.make_plan(dscnn, dear, int(0.7 * dense), group_sizes=sizes)
    assert plan2.steps["groups_removed"] == 0 and plan2.inputs_kept_for_groups == [] and plan2.steps["filter"] > 0
    # without the unit offered, nothing changes from before
    plan3 = P.make_plan(dscnn, imp, int(0.7 * dense))
    assert plan3.steps["groups_removed"] == 0 and all(not st.group for st in plan3.layers.values())


def test_plan_keeps_inputs_for_groups_only_where_that_loses_less(dscnn, scores):
    sizes, imp = scores
    dense = P.bytes_summary(dscnn)[0]
    free = _free_groups(imp)
    budget = int(0.7 * dense)
    plan = P.make_plan(dscnn, free, budget, group_sizes=sizes)
    met = []
    for keep in (frozenset(), frozenset(sizes), frozenset(plan.inputs_kept_for_groups)):
        g = P._Greedy(dscnn, free, group_sizes=sizes, keep_inputs_of=keep)
        g.run({P.FLASH: budget})
        if g.total() <= budget and all(g.layers[n].groups_removed for n in keep):
            met.append(g.lost)
    assert met and plan.importance_lost == min(met)  # no worse than none or all kept, and reproducible
    assert all(plan.layers[n].groups_removed for n in plan.inputs_kept_for_groups)
    assert set(plan.inputs_kept_for_groups) <= set(sizes)
    again = P.make_plan(dscnn, free, budget, group_sizes=sizes)
    assert {n: s.keep_grp.tolist() for n, s in again.layers.items() if s.group} == \
        {n: s.keep_grp.tolist() for n, s in plan.layers.items() if s.group}  # deterministic


def test_groups_blocking_a_deep_budget_fall_back_to_filters(dscnn, scores):
    sizes, imp = scores
    budget = int(0.6 * P.bytes_summary(dscnn)[0])  # grouped layers would keep too many input channels for this
    plan = P.make_plan(dscnn, _free_groups(imp), budget, group_sizes=sizes)
    assert plan.packed_bytes <= budget and plan.steps["groups_removed"] == 0 and plan.steps["filter"] > 0


def test_slim_model_with_groups_computes_the_masked_reference(dscnn, scores):
    sizes, imp = scores
    plan = P.make_plan(dscnn, _free_groups(imp), int(0.7 * P.bytes_summary(dscnn)[0]), group_sizes=sizes)
    assert plan.group_masks()
    slim = surgery.slim_model(dscnn, plan)
    ref = surgery.masked_reference(dscnn, plan)
    x, _ = synthetic_images(6, seed=9)
    np.testing.assert_allclose(slim.predict(x.astype(np.float32), verbose=0),
                               ref.predict(x.astype(np.float32), verbose=0), rtol=1e-4, atol=1e-5)  # fmt: skip
    masks = surgery.slim_masks(dscnn, plan)
    assert set(plan.group_masks()) <= set(masks)
    assert all(v == 0 for v in surgery.check_masks(slim, masks).values())


def test_group_masks_hold_through_fine_tuning(dscnn, scores):
    from dtmm.prune import train

    sizes, imp = scores
    plan = P.make_plan(dscnn, _free_groups(imp), int(0.7 * P.bytes_summary(dscnn)[0]), group_sizes=sizes)
    slim = surgery.slim_model(dscnn, plan)
    masks = surgery.slim_masks(dscnn, plan)
    grouped = set(plan.group_masks())
    assert grouped and all(masks[n].shape == tuple(slim.get_layer(n).kernel.shape) for n in grouped)
    x, y = synthetic_images(64, seed=7)
    res = train.fine_tune(slim, masks, x, y, x[:16], y[:16], epochs=1, batch_size=16, learning_rate=1e-2,
                          from_logits=True, progress=False, check_every_step=True)  # fmt: skip
    for name in grouped:
        k = np.asarray(res.model.get_layer(name).kernel)
        assert not k[masks[name] == 0].any() and k[masks[name] == 1].all()


def test_planned_group_bytes_survive_int8_export_and_pack_bit_exact(dscnn, scores, tmp_path):
    pytest.importorskip("tflite_micro.python.tflite_micro.runtime")
    from support.op_cases import Case, check_cases, random_inputs
    from dtmm.tflite.model import TfliteModel

    sizes, imp = scores
    plan = P.make_plan(dscnn, _free_groups(imp), int(0.7 * P.bytes_summary(dscnn)[0]), group_sizes=sizes)
    slim = surgery.slim_model(dscnn, plan)
    x, _ = synthetic_images(16, seed=4)
    tfl = export.to_int8_tflite(slim, x)
    meas = {r["name"]: r for r in export.measured_bytes(tfl, slim)["ops"]}
    for name, st in plan.layers.items():
        assert meas[name]["bytes"] == st.bytes, name  # exact, grouped layers included
        if st.groups_removed:
            assert meas[name]["encoding"] == "groups"
    keep = {n: (k[plan.keep_out(dscnn, n)], plan.layers[n].group) for n, k in plan.group_masks().items()}
    checked = export.verify_groups(tfl, slim, keep)
    assert set(checked) == set(keep) and all(r["violations"] == 0 for r in checked.values())
    broken = {n: (np.ones_like(k), g) for n, (k, g) in keep.items()}  # a plan claiming fewer zeros is fine ...
    export.verify_groups(tfl, slim, broken)
    name, (k, g) = next(iter(keep.items()))
    k2 = k.copy()
    k2[np.nonzero(k)[0][0], np.nonzero(k)[1][0]] = False  # ... one claiming a kept group was pruned is not
    with pytest.raises(export.ExportError, match="nonzero after int8"):
        export.verify_groups(tfl, slim, {name: (k2, g)})
    model = TfliteModel(tfl, "dscnn-groups")
    check_cases([Case("dscnn_groups", tfl, random_inputs(model, np.random.default_rng(1), 3))], tmp_path)


# --------------------------------------------------------------------------- dtmm prune


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    d = tmp_path_factory.mktemp("prune_groups")
    _randomized(0).save(d / "dscnn.keras")
    x, y = synthetic_images(120, seed=11)
    xt, yt = synthetic_images(30, seed=12)
    np.savez(d / "data.npz", x=x, y=y, x_test=xt, y_test=yt)
    return d


def _prune(workdir, out, *extra):
    return CliRunner().invoke(main, ["prune", str(workdir / "dscnn.keras"), "--data", str(workdir / "data.npz"),
                                     "--flash", "60%", "--out", str(workdir / out), "--epochs", "1",
                                     "--batch-size", "16", "--calib-samples", "32", "--quiet", *extra])  # fmt: skip


def test_prune_reports_group_sizes_and_units_per_layer(workdir):
    r = _prune(workdir, "g8", "--group-size", "8")
    assert r.exit_code == 0, r.stderr + r.stdout
    rep = json.loads((workdir / "g8" / "report.json").read_text())
    cg = rep["plan"]["channel_groups"]
    assert cg["choice"] == 8 and cg["offered"] == {"pw0": 8, "pw1": 8, "fc": 8, "logits": 8}
    assert set(rep["plan"]["steps"]) >= {"group", "groups_removed"}
    assert "channel groups removed" in r.stderr
    layers = {L["name"]: L for L in rep["layers"]}
    for name, L in layers.items():
        assert isinstance(L["units"], list) and set(L["units"]) <= {"filters", "filterlets", "channel groups"}
        assert L["int8_bytes"] == L["planned_bytes"], name
        if "channel groups" in L["units"]:
            assert L["encoding"] == "groups" and L["group_size"] == 8 and L["groups_kept"] < L["groups"]
            assert rep["int8"]["filterlet_check"][f"{name} (channel groups)"]["violations"] == 0
    assert rep["packed_bytes"] <= rep["flash_budget_bytes"]
    md = (workdir / "g8" / "report.md").read_text()
    assert "units pruned" in md and "channel groups (--group-size 8, dsp kernel path)" in md
    off = _prune(workdir, "off", "--group-size", "off")
    assert off.exit_code == 0, off.stderr
    rep_off = json.loads((workdir / "off" / "report.json").read_text())
    assert rep_off["plan"]["channel_groups"]["offered"] == {} and rep_off["plan"]["steps"]["groups_removed"] == 0


def test_prune_group_size_choice_follows_the_board(workdir):
    from dtmm.prune.pipeline import group_kernel_path

    assert [group_kernel_path(b) for b in (None, "qemu-m0", "qemu-m4", "qemu-m55")] == ["dsp", "c", "dsp", "mve"]


@pytest.mark.parametrize("extra", [("--group-size", "0"), ("--group-size", "300"), ("--group-size", "sixteen"),
                                   ("--group-size", "16", "--method", "filter")])
def test_bad_group_size_is_a_one_line_error(workdir, extra):
    r = _prune(workdir, "bad", *extra)
    assert r.exit_code == 2
    err = [ln for ln in r.stderr.splitlines() if ln.startswith("dtmm: error:")]
    assert len(err) == 1 and "--group-size" in err[0] and "Traceback" not in r.stderr
    assert not (workdir / "bad").exists()


# --------------------------------------------------------------------------- instructions


@pytest.mark.parametrize("board", ["qemu-m4", "qemu-m55"])
def test_resource_model_prices_grouped_layers_like_the_cost_model(dscnn, scores, board):
    from dtmm.cost.estimate import estimate_model
    from dtmm.prune.resources import ResourceModel

    sizes = G.layer_group_sizes(dscnn, "auto", "mve" if board == "qemu-m55" else "dsp")
    x, y = synthetic_images(16, seed=4)
    imp = importance.compute_importance("taylor", dscnn, x, y, groups=sizes, progress=False)
    dense_tfl = export.to_int8_tflite(dscnn.model, x)
    res = ResourceModel(dscnn, board, dense_tfl, group_sizes=sizes)
    fitted = [n for n in sizes if res.layers[n].group_base is not None]
    assert fitted and all(res.layers[n].per_group > 0 for n in fitted)
    plan = P.make_plan(dscnn, _free_groups(imp), int(0.7 * P.bytes_summary(dscnn)[0]), group_sizes=sizes,
                       resources=res)  # fmt: skip
    grouped = [n for n in plan.group_masks() if n in fitted]
    assert grouped
    slim = surgery.slim_model(dscnn, plan)
    tfl = export.to_int8_tflite(slim, x)
    est = estimate_model(tfl, board)["layers"]
    ops = export.match_layers(tfl, slim)
    for name in grouped:  # the plan's GROUPS line agrees with the cost model on the layer it planned
        entry = est[ops[name]]
        assert entry["group"].startswith("GROUPS/")
        assert plan.layers[name].instructions == pytest.approx(entry["instructions"], rel=0.15), name
