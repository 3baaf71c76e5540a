"""Per-layer sensitivity: measured on the model and restored, normalized across layers, responsive to
scores that over-state a layer, and folded into filterlet and channel scores layer by layer."""
from __future__ import annotations

import numpy as np
import pytest

keras = pytest.importorskip("keras")

from dtmm.prune import importance as I  # noqa: E402
from dtmm.prune import sensitivity as SENS  # noqa: E402
from dtmm.prune.graph import GraphAnalysis  # noqa: E402
from support.keras_models import randomize_batchnorm, synthetic_images, tiny_resnet  # noqa: E402


@pytest.fixture(scope="module")
def setup():
    m = tiny_resnet(width=6)
    randomize_batchnorm(m, seed=0)
    x, y = synthetic_images(64, seed=5)
    m.compile(optimizer=keras.optimizers.Adam(1e-2), loss="sparse_categorical_crossentropy")
    m.fit(x.astype(np.float32), y, epochs=30, batch_size=16, verbose=0)  # trained: removals now cost loss
    a = GraphAnalysis(m)
    imp = I.compute_importance("taylor", a, x, y, progress=False)
    return a, imp, x, y


def test_factors_cover_every_conv_are_normalized_and_leave_the_model_unchanged(setup):
    a, imp, x, y = setup
    before = [w.copy() for w in a.model.get_weights()]
    f = SENS.layer_factors(a, imp, x, y)
    assert set(f) == set(a.conv_layers())
    assert all(1 / SENS.CLIP <= v <= SENS.CLIP for v in f.values())
    if all(1 / SENS.CLIP < v < SENS.CLIP for v in f.values()):  # geometric mean 1 unless clipped
        assert abs(float(np.mean(np.log(list(f.values()))))) < 1e-6
    assert all(np.array_equal(p, q) for p, q in zip(before, a.model.get_weights()))


def test_scores_that_overstate_a_layer_lower_its_factor(setup):
    a, imp, x, y = setup
    f = SENS.layer_factors(a, imp, x, y)
    inflated = I.Importance(imp.kind, {**imp.filterlet, "b1_conv1": imp.filterlet["b1_conv1"] * 10.0}, imp.channel)
    g = SENS.layer_factors(a, inflated, x, y)
    # the same filterlets are probed (order unchanged), so only b1_conv1's exchange rate moves, by 10x
    np.testing.assert_allclose(g["b1_conv1"] / g["b2_conv2"], f["b1_conv1"] / f["b2_conv2"] / 10.0, rtol=1e-4)


def test_fold_scales_each_layer_and_the_classes_it_produces(setup):
    a, imp, _x, _y = setup
    factors = {name: 1.0 for name in a.conv_layers()}
    factors["b2_conv1"] = 3.0
    folded = SENS.fold_sensitivity(a, imp, factors)
    np.testing.assert_allclose(folded.filterlet["b2_conv1"], 3.0 * imp.filterlet["b2_conv1"])
    np.testing.assert_array_equal(folded.filterlet["stem"], imp.filterlet["stem"])
    own = np.unique(a.class_ids(a.layers["b2_conv1"].out_maps[0]))  # b2_conv1's output channels: its own classes
    np.testing.assert_allclose(folded.channel[own], 3.0 * imp.channel[own])
    others = np.setdiff1d(np.arange(len(imp.channel)), own)
    np.testing.assert_allclose(folded.channel[others], imp.channel[others])
