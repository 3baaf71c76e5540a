"""Graph analysis: conv layers and their BatchNorm, residual ADD groups, concatenation, unsupported layers."""
from __future__ import annotations

import numpy as np
import pytest

keras = pytest.importorskip("keras")

from dtmm.prune import costs  # noqa: E402
from dtmm.prune.graph import GraphAnalysis, GraphError  # noqa: E402
from dtmm.prune.plan import bytes_summary  # noqa: E402
from support.keras_models import tiny_branchy, tiny_resnet, tiny_sequential  # noqa: E402


def _groups(a: GraphAnalysis) -> dict[tuple, bool]:
    return {tuple(sorted(g.producers)): g.frozen for g in a.groups}


def test_tiny_resnet_groups_and_batchnorm():
    a = GraphAnalysis(tiny_resnet())
    assert _groups(a) == {
        ("b1_conv2", "stem"): False,  # identity shortcut ties the stem to the block's last conv
        ("b1_conv1",): False,
        ("b2_conv1",): False,
        ("b2_conv2", "b2_proj"): False,  # 1x1 projection shortcut joins the ADD group
        ("head",): True,  # model output
    }
    assert a.layers["stem"].folded_bn == "stem_bn"
    assert a.layers["b2_proj"].folded_bn is None
    assert a.filterlet_prunable("b1_conv1") and not a.filterlet_prunable("b2_proj")
    rows = {r["layer"]: r for r in a.summary()["layers"]}
    assert "whole filter" in rows["b2_proj"]["note"]
    assert rows["head"]["filter_prunable"] is False
    assert a.unsupported == []
    # every channel class of the stem group has one channel of each of its two producers
    g = next(g for g in a.groups if "stem" in g.producers)
    assert len(g.classes) == 4
    for cid in g.classes:
        assert sorted(p for p, _ in a.classes[cid].producers) == ["b1_conv2", "stem"]


def test_concat_depthwise_flatten():
    a = GraphAnalysis(tiny_branchy())
    groups = _groups(a)
    assert groups[("a",)] is False and groups[("b",)] is False  # concatenated, not tied
    assert groups[("d",)] is False and groups[("hidden",)] is False and groups[("logits",)] is True
    # the depthwise conv's input is the concatenation: channels 0-2 from a, 3-4 from b
    ids = a.class_ids(a.layers["dw"].in_maps[0])
    assert [a.classes[i].producers[0][0] for i in ids] == ["a", "a", "a", "b", "b"]
    # Flatten of 4x4x4: each of d's channels feeds 16 Dense rows
    cons = {c: pos for c, pos in a.classes[a.class_ids(a.layers["d"].out_maps[0][:1])[0]].consumers}
    assert len(cons["hidden"]) == 16 and list(np.diff(cons["hidden"])) == [4] * 15
    assert a.layers["b"].folded_bn == "b_bn" and a.layers["dw"].folded_bn == "dw_bn"


def test_sequential_model_is_analysed():
    a = GraphAnalysis(tiny_sequential())
    assert _groups(a) == {("c1",): False, ("c2",): False, ("out",): True}


def test_unsupported_layers_are_reported_not_crashed_on():
    inp = keras.Input((6, 6, 3))
    x = keras.layers.Conv2D(4, 3, padding="same", name="c1")(inp)
    x = keras.layers.LayerNormalization(name="ln")(x)
    x = keras.layers.Conv2D(4, 3, padding="same", name="c2")(x)
    x = keras.layers.Reshape((36, 4), name="rs")(x)
    x = keras.layers.GlobalAveragePooling1D(name="gap")(x)
    out = keras.layers.Dense(2, name="out")(x)
    a = GraphAnalysis(keras.Model(inp, out))
    assert {u["layer"]: u["type"] for u in a.unsupported} == {"ln": "LayerNormalization", "rs": "Reshape"}
    g = {tuple(gr.producers): gr for gr in a.groups}
    assert g[("c1",)].frozen and "LayerNormalization 'ln'" in g[("c1",)].reason
    assert g[("c2",)].frozen and "Reshape 'rs'" in g[("c2",)].reason
    assert a.filterlet_prunable("c1")  # frozen channels can still lose filterlets


def test_subclassed_and_shared_layers_are_refused():
    class Sub(keras.Model):
        def __init__(self):
            super().__init__()
            self.d = keras.layers.Dense(2)

        def call(self, x):
            return self.d(x)

    m = Sub()
    m(np.zeros((1, 3), np.float32))
    with pytest.raises(GraphError, match="subclassed"):
        GraphAnalysis(m)
    inp = keras.Input((4, 4, 2))
    conv = keras.layers.Conv2D(2, 3, padding="same", name="shared")
    out = keras.layers.Flatten()(conv(conv(inp)))
    with pytest.raises(GraphError, match="called 2 times"):
        GraphAnalysis(keras.Model(inp, out))


def test_resnet8_h5(resnet8_h5, resnet8_tflite):
    from dtmm.cli.inspect import build_report
    from dtmm.tflite.model import TfliteModel

    m = keras.models.load_model(resnet8_h5, compile=False)
    a = GraphAnalysis(m)
    assert len(a.conv_layers()) == 9
    groups = _groups(a)
    assert groups[("conv2d", "conv2d_2")] is False  # identity shortcut
    assert groups[("conv2d_4", "conv2d_5")] is False  # 1x1 projection
    assert groups[("conv2d_7", "conv2d_8")] is False
    assert groups[("dense",)] is True
    assert sum(not f for f in groups.values()) == 6
    assert not a.filterlet_prunable("conv2d_5") and not a.filterlet_prunable("conv2d_8")
    assert a.layers["conv2d_5"].folded_bn is None and a.layers["conv2d_4"].folded_bn == "batch_normalization_4"
    dense, floor = bytes_summary(a)
    # the Keras-side byte model agrees with `dtmm inspect` on the MLPerf int8 model
    assert dense == build_report(TfliteModel.load(resnet8_tflite))["total"]["dense_bytes"] == 82_152
    assert 0 < floor < dense // 10
    assert costs.dense_model_bytes(a)["dense"] == 64 * 10 + 4 * 10


def test_softmax_layer_freezes_without_being_unsupported():
    inp = keras.Input((6, 6, 3))
    x = keras.layers.Conv2D(4, 3, name="c1")(inp)
    x = keras.layers.GlobalAveragePooling2D()(x)
    x = keras.layers.Dense(3, name="logits")(x)
    out = keras.layers.Softmax(name="sm")(x)
    a = GraphAnalysis(keras.Model(inp, out))
    assert a.unsupported == []
    g = {tuple(gr.producers): gr for gr in a.groups}
    assert g[("logits",)].frozen and not g[("c1",)].frozen
    assert "Softmax 'sm'" in g[("logits",)].reason
