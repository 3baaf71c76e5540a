"""Channel groups (FWCS encoding GROUPS, docs/fwcs.md 5.5): format, packer lowering, kernels on every board.

A GROUPS blob stores, per filter of a 1x1 conv or fully connected layer,
only its kept groups of `group` consecutive input channels.  Here: the codec
round trip and every validation rule; `dtmm pack` choosing GROUPS for
group-pruned pointwise convs and dense layers and staying bit-exact with the
tflite-micro interpreter on a converter-made model; which kernel variant each
path selects (the C selection code, through the packer's host probe); and
random GROUPS layers bit-exact on every emulated core (the host run is in
test_conv_host.py).
"""
from __future__ import annotations

import json
import os
import shutil

import numpy as np
import pytest
from click.testing import CliRunner

from dtmm.cli import main
from dtmm.formats import fwcs
from dtmm.formats.fwcs import reference
from dtmm.pack.lowering import lower_model
from dtmm.pack.lowering.conv_scratch import path_variants
from dtmm.pack.lowering.ops import groups_blob
from dtmm.tflite.model import TfliteModel
from support import conv_cases as kc


def _layer(rng, cout=6, cin=32, g=8, density=0.5, h=3, w=4, in_off=17):
    spec = fwcs.ConvSpec(cout=cout, cin=cin, kh=1, kw=1, in_h=h, in_w=w, input_offset=in_off, output_offset=-5)
    wts = rng.integers(-128, 128, size=spec.weight_shape, dtype=np.int8)
    wts[wts == 0] = 3
    keep = rng.random((cout, cin // g)) < density
    wts.reshape(cout, -1, g)[~keep] = 0
    bias = rng.integers(-5000, 5000, size=cout).astype(np.int32)
    mult = np.full(cout, 1 << 30, np.int32)
    shift = np.full(cout, -9, np.int32)
    return spec, wts, bias, mult, shift, keep


# --------------------------------------------------------------------------- format


@pytest.mark.parametrize("g", [1, 3, 4, 8, 16, 32])
def test_groups_round_trip(g):
    rng = np.random.default_rng(g)
    spec, w, b, m, s, keep = _layer(rng, cin=4 * g * 3 if g < 32 else 64, g=g)
    blob = fwcs.encode(w, b, m, s, spec, "groups", group=g)
    h = fwcs.validate(blob)
    assert (h.encoding_name, h.group, h.n_kept) == ("groups", g, int(keep.sum()))
    assert h.index_bytes == spec.cout * ((spec.cin // g + 7) // 8)
    assert len(blob) == h.weights_off + h.n_kept * g
    layer = fwcs.decode(blob)
    np.testing.assert_array_equal(layer.weights, w)
    np.testing.assert_array_equal(layer.group_keep, keep)
    x = rng.integers(-128, 128, size=(2, spec.in_h, spec.in_w, spec.cin), dtype=np.int8)
    dense = fwcs.encode(w, b, m, s, spec, "dense")
    np.testing.assert_array_equal(reference.conv2d(blob, x), reference.conv2d(dense, x))


def test_auto_group_picks_the_pruned_size_and_only_when_it_pays():
    rng = np.random.default_rng(1)
    for g in (4, 8, 16, 64):
        spec, w, b, m, s, _ = _layer(rng, cout=16, cin=128, g=g, density=0.4)
        assert fwcs.auto_group(spec, w) == g  # coarser groups keep more, finer ones cost more index
        blob = fwcs.encode(w, b, m, s, spec, group="auto")
        assert fwcs.validate(blob).encoding_name == "groups"
        assert len(blob) < len(fwcs.encode(w, b, m, s, spec, "dense"))
    spec, w, b, m, s, _ = _layer(rng, cout=16, cin=64, g=8, density=0.9)  # too dense to run faster
    assert fwcs.auto_group(spec, w) == 0
    assert fwcs.validate(fwcs.encode(w, b, m, s, spec, group="auto")).encoding_name != "groups"
    spec3 = fwcs.ConvSpec(cout=2, cin=16, kh=3, kw=3, in_h=5, in_w=5)
    assert fwcs.auto_group(spec3, np.zeros(spec3.weight_shape, np.int8)) == 0  # 3x3: filterlets, not groups


def test_groups_encoding_errors_name_the_problem():
    rng = np.random.default_rng(2)
    spec, w, b, m, s, _ = _layer(rng, cin=24, g=8)
    with pytest.raises(fwcs.FwcsError, match="needs a group size"):
        fwcs.encode(w, b, m, s, spec, "groups")
    with pytest.raises(fwcs.FwcsError, match=r"cin \(24\) is a multiple of the group size \(16"):
        fwcs.encode(w, b, m, s, spec, "groups", group=16)
    spec3 = fwcs.ConvSpec(cout=2, cin=8, kh=3, kw=1, in_h=5, in_w=5)
    with pytest.raises(fwcs.FwcsError, match="layer is 3x1"):
        fwcs.encode(np.ones(spec3.weight_shape, np.int8), b[:2], m[:2], s[:2], spec3, "groups", group=4)
    with pytest.raises(fwcs.FwcsError, match="group must be a channel count"):
        fwcs.encode(w, b, m, s, spec, "groups", group="eight")


def test_validator_rejects_every_group_mutation():
    rng = np.random.default_rng(3)
    spec, w, b, m, s, _ = _layer(rng, cin=40, g=4)  # 10 groups: a 2-byte row with padding bits
    blob = fwcs.encode(w, b, m, s, spec, "groups", group=4)
    labelled = dict(kc.malformed_blobs(blob))
    for label in ("group 0", "group not dividing cin", "group > cin", "groups on 3x1", "group row padding bit",
                  "group popcount", "encoding 4", "n_kept + 1"):
        assert label in labelled
        with pytest.raises(fwcs.FwcsError):
            fwcs.validate(labelled[label])
    # a filterlet blob with the group byte set, or relabelled GROUPS, is malformed too
    bitmap = fwcs.encode(w, b, m, s, spec, "bitmap")
    for label in ("reserved0", "GROUPS without a group size"):
        with pytest.raises(fwcs.FwcsError, match="reserved|inconsistent group"):
            fwcs.validate(dict(kc.malformed_blobs(bitmap))[label])


def test_folded_groups_blob_is_exact_and_needs_no_input_offset():
    """The packer folds the input offset into the bias of a GROUPS blob (1x1: no padding taps)."""
    rng = np.random.default_rng(4)
    spec, w, b, m, s, _ = _layer(rng, cout=9, cin=48, g=16, density=0.3, in_off=128)
    folded = groups_blob(w, b, m, s, spec)
    h = fwcs.validate(folded)
    assert (h.encoding_name, h.group, h.spec.input_offset) == ("groups", 16, 0)
    x = rng.integers(-128, 128, size=(3, spec.in_h, spec.in_w, spec.cin), dtype=np.int8)
    plain = fwcs.encode(w, b, m, s, spec, "dense")
    np.testing.assert_array_equal(reference.conv2d(folded, x), reference.conv2d(plain, x))
    dense_spec, wd, bd, md, sd, _ = _layer(rng, cout=9, cin=48, g=16, density=1.0)
    assert groups_blob(wd, bd, md, sd, dense_spec) is None  # unpruned: stays a filterlet blob


def test_path_variants_of_groups_blobs():
    """The C selection rule (run on the host by the packer's probe): DSP takes groups of whole words and at
    most 32 groups per filter, Helium every group size, the portable path the rest."""
    rng = np.random.default_rng(5)
    want = {  # (cin, g): (dsp, mve)
        (64, 4): ("dsp_groups", "mve_groups"), (128, 4): ("dsp_groups", "mve_groups"),
        (256, 4): ("portable", "mve_groups"), (64, 16): ("dsp_groups", "mve_groups"),
        (48, 12): ("dsp_groups", "mve_groups"), (30, 3): ("portable", "mve_groups"),
    }  # fmt: skip
    for (cin, g), (dsp, mve) in want.items():
        spec, w, b, m, s, _ = _layer(rng, cin=cin, g=g)
        blob = fwcs.encode(w, b, m, s, spec, "groups", group=g)
        got = path_variants(blob)
        assert (got["dsp"], got["mve"], got["c"]) == (dsp, mve, "portable"), (cin, g, got)


# --------------------------------------------------------------------------- packer, bit-exact with tflite-micro


@pytest.fixture(scope="module")
def tf():
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    return pytest.importorskip("tensorflow")


def _group_pruned_model(tf, seed: int, g: int):
    """A keyword-spotting-shaped model: conv, depthwise + pointwise, dense; the pointwise conv and the
    dense layer keep 40% of their channel groups (zeros survive int8 quantization exactly)."""
    import keras
    from keras import layers as L

    rng = np.random.default_rng(seed)
    inp = keras.Input((12, 6, 1), batch_size=1)
    x = L.Conv2D(32, (5, 3), strides=2, padding="same", activation="relu")(inp)
    x = L.DepthwiseConv2D(3, padding="same", activation="relu")(x)
    x = L.Conv2D(48, 1, activation="relu")(x)
    x = L.GlobalAveragePooling2D()(x)
    x = L.Dense(32, activation="relu")(x)
    out = L.Dense(6)(x)
    model = keras.Model(inp, out)
    for layer in model.layers:
        ws = layer.get_weights()
        if not ws:
            continue
        new = [rng.normal(scale=0.5, size=v.shape).astype(np.float32) for v in ws]
        k = new[0]
        if isinstance(layer, L.Conv2D) and not isinstance(layer, L.DepthwiseConv2D) and k.shape[:2] == (1, 1):
            ci, co = k.shape[2:]
            keep = rng.random((ci // g, co)) < 0.4
            new[0] = k * np.repeat(keep, g, axis=0)[None, None]
        elif isinstance(layer, L.Dense) and k.shape[1] == 32:
            ci, co = k.shape
            keep = rng.random((ci // g, co)) < 0.4
            new[0] = k * np.repeat(keep, g, axis=0)
        layer.set_weights(new)

    from dtmm.tflite.convert import keras_to_int8_tflite

    return keras_to_int8_tflite(model, [rng.normal(scale=1.5, size=(1, 12, 6, 1)).astype(np.float32)
                                        for _ in range(8)])  # fmt: skip


@pytest.mark.parametrize("g", [4, 16])
def test_packer_lowers_group_pruned_layers_bit_exact(tf, g, tmp_path):
    pytest.importorskip("tflite_micro.python.tflite_micro.runtime")
    from support.op_cases import Case, check_cases, random_inputs

    data = _group_pruned_model(tf, seed=g, g=g)
    model = TfliteModel(data, f"kws-groups-{g}")
    lowered = lower_model(model)
    kinds = {}
    for op, lo in zip(model.operators, lowered):
        blob_groups = "groups" in str(lo.conv_variants or {})
        kinds.setdefault(op.opcode, []).append(blob_groups)
    assert kinds["CONV_2D"] == [False, True]  # the 5x3 conv keeps filterlets; the pointwise one is GROUPS
    assert kinds["FULLY_CONNECTED"] == [True, False]  # the pruned dense layer runs as GROUPS
    rng = np.random.default_rng(g)
    check_cases([Case(f"kws_groups_{g}", data, random_inputs(model, rng, 4))], tmp_path)
    # dtmm inspect reports the pointwise conv as the packer packs it
    path = tmp_path / "kws.tflite"
    path.write_bytes(data)
    result = CliRunner().invoke(main, ["inspect", str(path), "--json"])
    assert result.exit_code == 0, result.output
    convs = [r for r in json.loads(result.stdout)["layers"] if r["op"] == "CONV_2D"]
    assert [(r["encoding"], r["group"]) for r in convs][1] == ("groups", g)
    assert convs[1]["packed_bytes"] < convs[1]["dense_bytes"] and convs[1]["kept_groups"] > 0
    # ... and the group-pruned fully connected layer as the GROUPS blob it becomes, the other one dense
    fcs = [r for r in json.loads(result.stdout)["layers"] if r["op"] == "FULLY_CONNECTED"]
    assert [r["encoding"] for r in fcs] == ["groups", "dense"] and fcs[0]["group"] == g
    assert fcs[0]["packed_bytes"] < fcs[0]["dense_bytes"] and fcs[0]["kept_macs"] < fcs[0]["macs"]
    lowered_fc = [lo for op, lo in zip(model.operators, lowered) if op.opcode == "FULLY_CONNECTED"][0]
    assert fcs[0]["packed_bytes"] == lowered_fc.flash_bytes  # the blob is the lowered op's only constant data


# --------------------------------------------------------------------------- every board

BOARDS = ["qemu-m0", "qemu-m3", "qemu-m4", "qemu-m33", "qemu-m55"]
EXPECTED_PATH = {"qemu-m0": "c", "qemu-m3": "c", "qemu-m4": "dsp", "qemu-m33": "dsp", "qemu-m55": "mve"}


@pytest.mark.qemu
@pytest.mark.skipif(shutil.which("qemu-system-arm") is None, reason="qemu-system-arm not installed")
@pytest.mark.skipif(shutil.which("arm-none-eabi-gcc") is None, reason="arm-none-eabi-gcc not installed")
@pytest.mark.parametrize("board", BOARDS)
def test_group_cases_on_board(board, tmp_path):
    """Random GROUPS layers (every group size, fully connected and strided 1x1, slow requantization) bit
    for bit through dtmm_conv_s8 on each core; on the DSP and Helium cores the fast variants run most."""
    from dtmm.targets.boards import get_board

    cases = kc.random_group_cases(40, seed=17, max_macs=40_000)
    cases += [kc.targeted_case(np.random.default_rng(k), f"g16_fc{k}", ["fc"], cout=20 + k, cin=64, kh=1, kw=1,
                               in_h=1, in_w=1, density=0.5, group=16, requant=("normal", "slow")[k])
              for k in range(2)]  # fmt: skip
    cases = [c for c in cases if kc.fits_ram(c, get_board(board))]
    assert len(cases) >= 20
    run = kc.run_cases_on_board(cases, board, tmp_path)
    assert run.path == EXPECTED_PATH[board]
    assert not run.failures(), "\n".join(run.failures()[:20])
    assert {c.name for c in cases} <= {n for n, (v, _) in run.verdicts.items() if v == "PASS"}
    if run.path != "c":
        fast = sum(path_variants(c.blob)[run.path] != "portable" for c in cases)
        assert fast >= len(cases) // 2
