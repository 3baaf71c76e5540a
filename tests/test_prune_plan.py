"""Exact FWCS byte costs, the greedy plan, and physical filter removal == masking."""
from __future__ import annotations

import numpy as np
import pytest

keras = pytest.importorskip("keras")

from dtmm.formats import fwcs  # noqa: E402
from dtmm.prune import costs, importance, surgery  # noqa: E402
from dtmm.prune.graph import GraphAnalysis  # noqa: E402
from dtmm.prune.plan import BudgetError, bytes_summary, make_plan  # noqa: E402
from support.keras_models import randomize_batchnorm, synthetic_images, tiny_branchy, tiny_resnet, tiny_sequential


@pytest.fixture(scope="module")
def resnet():
    m = tiny_resnet(width=6)
    randomize_batchnorm(m, seed=1)
    return GraphAnalysis(m)


def test_conv_bytes_are_exact_fwcs_sizes(resnet):
    rng = np.random.default_rng(0)
    g = resnet.geometry("b2_conv2")
    spec = fwcs.ConvSpec(cout=g.cout, cin=g.cin, kh=3, kw=3, in_h=g.in_h, in_w=g.in_w, padding="same")
    for density in (1.0, 0.6, 0.3, 0.05):
        w = rng.integers(-127, 128, spec.weight_shape).astype(np.int8)
        keep = rng.random((g.cout, 3, 3)) < density
        w[~keep] = 0
        blob = fwcs.encode(w, np.zeros(g.cout, np.int32), np.full(g.cout, 1 << 30, np.int32),
                           np.zeros(g.cout, np.int32), spec)  # fmt: skip
        assert costs.conv_bytes(g, g.cout, g.cin, int(keep.sum())) == len(blob)
        assert costs.conv_bytes_for_mask(g, keep, g.cin)[0] == len(blob)


@pytest.mark.parametrize("kind", ["taylor", "taylor-abs", "magnitude"])
@pytest.mark.parametrize("frac", [0.7, 0.4])
def test_plan_meets_budget_and_uses_both_granularities(resnet, kind, frac):
    x, y = synthetic_images(32, seed=3)
    imp = importance.compute_importance(kind, resnet, x, y, progress=False)
    dense, floor = bytes_summary(resnet)
    budget = int(frac * dense)
    plan = make_plan(resnet, imp, budget)
    assert plan.dense_bytes == dense and plan.packed_bytes <= budget
    # the planned total is the sum of exact per-layer costs
    total = 0
    for name, st in plan.layers.items():
        if st.kind == "conv":
            keep = plan.filterlet_masks()[name][st.keep_out]
            assert costs.conv_bytes_for_mask(resnet.geometry(name), keep, st.cin)[0] == st.bytes
        total += st.bytes
    assert total + plan.other_bytes == plan.packed_bytes
    # residual consistency: producers of one ADD group keep the same channels
    for g in resnet.groups:
        keeps = [plan.keep_out(resnet, p) for p in g.producers]
        assert all(np.array_equal(keeps[0], k) for k in keeps[1:])
    if frac == 0.4 and kind != "taylor-abs":
        assert plan.steps["filter"] > 0 and plan.steps["filterlets_removed"] > 0


def test_budget_below_floor_names_the_smallest_size(resnet):
    imp = importance.magnitude_importance(resnet)
    dense, floor = bytes_summary(resnet)
    with pytest.raises(BudgetError) as e:
        make_plan(resnet, imp, floor - 1)
    assert f"{floor:,} B" in str(e.value) and "smallest reachable" in str(e.value)
    plan = make_plan(resnet, imp, floor)
    assert plan.packed_bytes == floor


def _assert_equivalent(a: GraphAnalysis, frac: float, seed: int = 0):
    imp = importance.magnitude_importance(a)
    dense, _ = bytes_summary(a)
    plan = make_plan(a, imp, int(frac * dense))
    slim = surgery.slim_model(a, plan)
    ref = surgery.masked_reference(a, plan)
    x = np.random.default_rng(seed).uniform(0, 255, (4, *a.model.inputs[0].shape[1:])).astype(np.float32)
    got, want = slim.predict(x, verbose=0), ref.predict(x, verbose=0)
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)
    assert slim.count_params() < a.model.count_params()
    # pruned filterlets are exact zeros in the slim model
    for name, m in surgery.slim_filterlet_masks(a, plan).items():
        k = np.asarray(slim.get_layer(name).kernel)
        assert k.shape == m.shape and not k[m == 0].any()
    return plan, slim


def test_physical_removal_equals_masking_resnet(resnet):
    plan, slim = _assert_equivalent(resnet, 0.45)
    assert plan.steps["filter"] > 0
    # ADD inputs still line up in the slim model (from_config would fail otherwise), e.g. stem == b1_conv2
    assert slim.get_layer("stem").kernel.shape[-1] == slim.get_layer("b1_conv2").kernel.shape[-1]


@pytest.mark.parametrize("builder", [tiny_branchy, tiny_sequential])
def test_physical_removal_equals_masking_other_graphs(builder):
    m = builder()
    randomize_batchnorm(m, seed=2)
    _assert_equivalent(GraphAnalysis(m), 0.35, seed=1)


def test_plan_is_deterministic(resnet):
    x, y = synthetic_images(16, seed=4)
    imp = importance.compute_importance("taylor", resnet, x, y, progress=False)
    budget = int(0.5 * bytes_summary(resnet)[0])
    p1, p2 = make_plan(resnet, imp, budget), make_plan(resnet, imp, budget)
    assert np.array_equal(p1.removed, p2.removed)
    for n, k in p1.filterlet_masks().items():
        assert np.array_equal(k, p2.filterlet_masks()[n])


def test_second_stage_plan_starts_from_existing_zeros(resnet):
    x, y = synthetic_images(16, seed=4)
    dense, _ = bytes_summary(resnet)
    from dtmm.prune.plan import kernel_keep_masks, min_keep_by_producer

    floors = min_keep_by_producer(resnet)
    p1 = make_plan(resnet, importance.compute_importance("taylor", resnet, x, y, progress=False), int(0.7 * dense))
    slim = surgery.slim_model(resnet, p1)
    a2 = GraphAnalysis(slim)
    initial = kernel_keep_masks(a2)
    for n, keep in p1.filterlet_masks().items():  # the zeros read back from the slim kernels are the plan's
        assert np.array_equal(initial[n], keep[p1.keep_out(resnet, n)])
    imp2 = importance.compute_importance("taylor", a2, x, y, progress=False)
    start = make_plan(a2, imp2, 1 << 40, initial_keep=initial, min_keep_by_producer=floors)
    assert start.packed_bytes == p1.packed_bytes  # the second stage starts exactly where the first ended
    p2 = make_plan(a2, imp2, int(0.45 * dense), initial_keep=initial, min_keep_by_producer=floors)
    assert p2.packed_bytes <= int(0.45 * dense) and p2.dense_bytes < dense
    for n, keep in p2.filterlet_masks().items():
        kept_filters = p2.keep_out(a2, n)
        assert not (keep[kept_filters] & ~initial[n][kept_filters]).any()  # pruned filterlets stay pruned
    for g in resnet.groups:  # channel floors are those of the original model
        if not g.frozen:
            left = int(p2.keep_out(a2, g.producers[0]).sum())
            assert left >= floors[g.producers[0]]


def test_budget_base_is_what_pack_stores_for_the_model_as_given():
    """Issue 19 item 5: a model published with all-zero filters and filterlets is based on what `dtmm pack`
    stores for it, not on the dense byte model -- checked against the measured int8 export."""
    from dtmm.prune.export import measured_bytes, to_int8_tflite
    from dtmm.prune.plan import given_bytes

    m = tiny_resnet(width=6)
    randomize_batchnorm(m, seed=2)
    rng = np.random.default_rng(3)
    zeroed = 0
    for name in ("b1_conv1", "b2_conv2"):
        layer = m.get_layer(name)
        k = layer.kernel.numpy()
        k[..., 0] = 0  # a whole filter
        keep = rng.random(k.shape[:2] + k.shape[3:]) < 0.6  # (kh, kw, cout): some filterlets
        k = np.where(keep[:, :, None, :], k, 0)
        zeroed += int((~np.any(k != 0, axis=2)).sum())
        layer.kernel.assign(k)
    analysis = GraphAnalysis(m)
    dense, _ = bytes_summary(analysis)
    base, zero = given_bytes(analysis)
    assert zero == zeroed and base < dense
    x, _ = synthetic_images(16, size=8, seed=4)
    tfl = to_int8_tflite(analysis.model, x)
    assert measured_bytes(tfl, analysis.model)["packed_bytes"] == base  # (the head's all-zero bias is dropped too)
    trained = tiny_resnet(width=6)
    trained.get_layer("head").bias.assign(np.full(3, 0.1, np.float32))
    dense_model = GraphAnalysis(trained)
    assert given_bytes(dense_model) == (bytes_summary(dense_model)[0], 0)  # nothing zero: the dense byte model
