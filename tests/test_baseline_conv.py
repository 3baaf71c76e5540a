"""The pruning baselines' conv storage and kernels (docs/baselines.md), bit-exact with tflite-micro.

Random CONV_2D models whose zeros are single weights (`unstructured`) or
kernel patterns plus removed kernels (`pattern`) are lowered with
``conv_storage`` sparse / pattern / smallest, run on the host (ASan/UBSan)
and compared tensor by tensor with the tflite-micro interpreter.  Formats
round-trip, sizes match what the lowering emits, and the storage choice never
makes a layer bigger than FWCS.
"""
from __future__ import annotations

import shutil

import numpy as np
import pytest

from dtmm.formats import fwcs, pattern, sparse
from dtmm.pack.lowering import CONV_STORAGES, LoweringError, StorageLowering, lower_model
from dtmm.pack.lowering.baseline_conv import candidates
from dtmm.targets.model_runner import run_model
from dtmm.tflite.interpreter import tflm_outputs
from dtmm.tflite.model import TfliteModel, conv_layers
from support.op_cases import Case, ModelBuilder, activation_code, check_cases, conv_model, padding_code

pytest.importorskip("tflite_micro.python.tflite_micro.runtime")

ACTS = ["NONE", "RELU", "RELU6", "RELU_N1_TO_1"]
#: PatDNN-style 4-tap patterns of a 3x3 kernel (positions ky*3 + kx)
PATTERNS_3X3 = [[1, 3, 4, 5], [1, 4, 5, 7], [3, 4, 5, 7], [1, 3, 4, 7], [0, 1, 3, 4], [4, 5, 7, 8]]


def _scale(rng, lo=0.004, hi=0.25) -> float:
    return float(np.float32(np.exp(rng.uniform(np.log(lo), np.log(hi)))))


def unstructured_weights(rng, shape, density):
    w = rng.integers(-127, 128, size=shape)
    return w * (rng.random(shape) < density)


def pattern_weights(rng, shape, kept_kernels, n_patterns=4, n_taps=4):
    cout, kh, kw, cin = shape
    w = np.zeros(shape, dtype=np.int64)
    if (kh, kw) == (3, 3) and n_taps == 4:
        pats = PATTERNS_3X3[:n_patterns]
    else:  # a layer's own random set of 4-tap patterns
        pats = [sorted(rng.choice(kh * kw, size=min(n_taps, kh * kw), replace=False).tolist())
                for _ in range(n_patterns)]  # fmt: skip
    for o in range(cout):
        for ci in range(cin):
            if rng.random() >= kept_kernels:
                continue
            for t in pats[rng.integers(len(pats))]:
                w[o, t // kw, t % kw, ci] = rng.integers(1, 128) * rng.choice([-1, 1])
    return w


def conv_case(rng, k, weights, batch, hw, stride, dil, pad):
    model, in_shape = conv_model(rng, weights.shape, lambda r: weights, batch, hw, stride, dil, pad, ACTS[k % 4],
                                 _scale)  # fmt: skip
    samples = [[rng.integers(-128, 128, size=in_shape, dtype=np.int8)] for _ in range(2)]
    return Case(f"bconv{k}", model, samples)


def _lowered_kind(case: Case, storage: str) -> str:
    lo = lower_model(TfliteModel(case.model_bytes), conv_storage=storage)[0]
    for fn, kind in (("dtmm_sparse_conv_s8(", "sparse"), ("dtmm_pattern_conv_s8(", "pattern"),
                     ("dtmm_conv_s8(", "fwcs")):  # fmt: skip
        if fn in lo.c_call:
            return kind
    raise AssertionError(lo.c_call)


def test_formats_round_trip_and_sizes():
    rng = np.random.default_rng(3)
    for k in range(20):
        kh, kw = [(3, 3), (1, 1), (5, 5), (3, 1)][k % 4]
        cin, cout = int(rng.integers(1, 40)), int(rng.integers(1, 300 if k % 5 == 0 else 40))
        spec = fwcs.ConvSpec(cout=cout, cin=cin, kh=kh, kw=kw, in_h=9, in_w=9, padding="same",
                             input_offset=int(rng.integers(-127, 129)))  # fmt: skip
        w = unstructured_weights(rng, spec.weight_shape, float(rng.uniform(0.0, 0.7)))
        for enc in sparse.ENCODINGS:
            layer = sparse.encode(w, np.zeros(cout, np.int64), spec, enc)
            assert (sparse.decode(layer, spec) == w).all()
        pw = pattern_weights(rng, spec.weight_shape, float(rng.uniform(0.0, 1.0)))
        player = pattern.encode(pw, np.zeros(cout, np.int64), spec)
        assert (pattern.decode(player, spec) == pw).all()
        assert player.n_taps == min(4, kh * kw) or player.n_kept == 0


def test_pattern_storage_refuses_too_many_patterns():
    rng = np.random.default_rng(4)
    spec = fwcs.ConvSpec(cout=40, cin=40, kh=3, kw=3, in_h=5, in_w=5)
    w = np.zeros(spec.weight_shape, dtype=np.int64)
    for o in range(40):
        for ci in range(40):  # 4 random taps per kernel: far more than 16 distinct patterns
            for t in rng.choice(9, size=4, replace=False):
                w[o, t // 3, t % 3, ci] = 5
    with pytest.raises(pattern.PatternError, match="distinct patterns"):
        pattern.encode(w, np.zeros(40, np.int64), spec)


def test_unknown_storage_is_refused():
    rng = np.random.default_rng(5)
    case = conv_case(rng, 0, unstructured_weights(rng, (4, 3, 3, 2), 0.5), 1, (5, 5), 1, 1, "same")
    with pytest.raises(LoweringError, match="conv storage 'csr': choose fwcs, pattern, sparse, smallest"):
        lower_model(TfliteModel(case.model_bytes), conv_storage="csr")


SPARSE_CONFIGS = [  # shape (cout, kh, kw, cin), density, batch, hw, stride, dilation, padding
    ((16, 3, 3, 8), 0.3, 1, (8, 8), 1, 1, "same"),
    ((6, 3, 3, 3), 0.5, 1, (9, 10), 2, 1, "valid"),
    ((5, 5, 5, 4), 0.15, 2, (7, 7), 1, 1, "same"),
    ((8, 1, 1, 16), 0.4, 1, (6, 5), 1, 1, "valid"),
    ((7, 3, 3, 4), 0.25, 1, (12, 11), 1, 2, "same"),
    ((4, 3, 3, 100), 0.05, 1, (5, 5), 1, 1, "same"),  # kw*cin > 256: CSR with uint16 columns
    ((3, 3, 3, 5), 0.0, 1, (5, 5), 1, 1, "same"),  # everything pruned
]


def test_sparse_conv_bit_exact(tmp_path):
    rng = np.random.default_rng(21)
    cases = [conv_case(rng, k, unstructured_weights(rng, shape, d), *rest)
             for k, (shape, d, *rest) in enumerate(SPARSE_CONFIGS)]  # fmt: skip
    kinds = [_lowered_kind(c, "sparse") for c in cases]
    assert kinds.count("sparse") >= 5, kinds
    encodings = set()
    for c in cases:
        layer = conv_layers(TfliteModel(c.model_bytes))[0]
        encodings.add(sparse.choose_encoding(layer.spec, int(np.count_nonzero(layer.weights))))
    assert encodings == {"bitmap", "csr"}
    stats = check_cases_with(cases, tmp_path, "sparse")
    assert len(stats) == len(cases)


PATTERN_CONFIGS = [  # shape, kept kernels, batch, hw, stride, dilation, padding
    ((16, 3, 3, 8), 0.6, 1, (8, 8), 1, 1, "same"),
    ((16, 3, 3, 12), 1.0, 1, (9, 10), 2, 1, "valid"),
    ((20, 3, 3, 16), 0.3, 2, (7, 7), 1, 1, "same"),
    ((24, 3, 3, 16), 0.5, 1, (12, 11), 1, 2, "same"),
    ((300, 3, 3, 2), 0.5, 1, (4, 4), 1, 1, "same"),  # uint16 counts and filters
    ((16, 5, 5, 16), 0.7, 1, (8, 8), 1, 1, "same"),  # 4 taps of 25, random patterns
]


def test_pattern_conv_bit_exact(tmp_path):
    rng = np.random.default_rng(22)
    cases = [conv_case(rng, k, pattern_weights(rng, shape, kept), *rest)
             for k, (shape, kept, *rest) in enumerate(PATTERN_CONFIGS)]  # fmt: skip
    kinds = [_lowered_kind(c, "pattern") for c in cases]
    assert kinds.count("pattern") >= 5, kinds
    stats = check_cases_with(cases, tmp_path, "pattern")
    assert len(stats) == len(cases)


def test_smallest_storage_never_grows_a_layer():
    rng = np.random.default_rng(23)
    for k in range(12):
        shape = (32, 3, 3, 32)
        w = [unstructured_weights(rng, shape, 0.3), pattern_weights(rng, shape, 0.5),
             unstructured_weights(rng, shape, 1.0)][k % 3]  # fmt: skip
        case = conv_case(rng, k, w, 1, (6, 6), 1, 1, "same")
        layer = conv_layers(TfliteModel(case.model_bytes))[0]
        sizes = candidates(layer, "smallest")
        lo = lower_model(TfliteModel(case.model_bytes), conv_storage="smallest")[0]
        assert lo.flash_bytes == min(sizes.values()) <= sizes["fwcs"]
        assert _lowered_kind(case, "smallest") == ["sparse", "pattern", "fwcs"][k % 3]


def check_cases_with(cases, tmp_path, storage):
    assert storage in CONV_STORAGES
    return check_cases(cases, tmp_path, conv_storage=storage)


# --------------------------------------------------------------------------- QEMU


def chain_model(rng) -> bytes:
    """Four convs in a row, one per kernel path: sparse bitmap, pattern (4 taps: the DSP path),
    sparse CSR, pattern with 3 taps (portable path); SAME borders, stride 2, a 5x5 kernel."""
    layers = [  # weights, stride, padding
        (unstructured_weights(rng, (24, 3, 3, 16), 0.35), 1, "same"),
        (pattern_weights(rng, (32, 3, 3, 24), 0.6), 2, "same"),
        (unstructured_weights(rng, (32, 3, 3, 32), 0.04), 1, "same"),
        (pattern_weights(rng, (24, 5, 5, 32), 0.5, n_taps=3), 1, "valid"),
    ]
    b = ModelBuilder()
    h = w = 14  # every conv has windows inside the input for the 2- and 4-pixel blocks, and borders
    s, z = _scale(rng), int(rng.integers(-128, 128))
    x0 = x = b.tensor([1, h, w, 16], scale=s, zero_point=z)
    for k, (wts, stride, pad) in enumerate(layers):
        cout, kh, kw, cin = wts.shape
        sw = [_scale(rng, 0.002, 0.05) for _ in range(cout)]
        sy, zy = _scale(rng, 0.05, 0.8), int(rng.integers(-128, 128))
        h = (h + stride - 1) // stride if pad == "same" else (h - kh + stride) // stride
        w = (w + stride - 1) // stride if pad == "same" else (w - kw + stride) // stride
        wt = b.tensor([cout, kh, kw, cin], scale=sw, zero_point=0, data=wts)
        bt = b.tensor([cout], "INT32", scale=np.float32(s) * np.asarray(sw, np.float32), zero_point=0,
                      data=rng.integers(-5000, 5000, size=cout))  # fmt: skip
        y = b.tensor([1, h, w, cout], scale=sy, zero_point=zy)
        b.op("CONV_2D", [x, wt, bt], [y], "Conv2DOptions", padding=padding_code(pad), strideH=stride,
             strideW=stride, fusedActivationFunction=activation_code(ACTS[k % 4]))  # fmt: skip
        x, s = y, sy
    return b.build([x0], [x])


def test_chain_model_uses_every_baseline_path():
    lowered = lower_model(TfliteModel(chain_model(np.random.default_rng(31))), conv_storage="smallest")
    calls = [lo.c_call for lo in lowered]
    assert ["dtmm_sparse_conv_s8(" in c for c in calls] == [True, False, True, False], calls
    assert ["dtmm_pattern_conv_s8(" in c for c in calls] == [False, True, False, True], calls
    assert ".bitmap = " in lowered[0].c_decls and ".cols8 = " in lowered[2].c_decls
    assert ".n_taps = 4," in lowered[1].c_decls and ".n_taps = 3," in lowered[3].c_decls


def test_chain_model_host_bit_exact(tmp_path):
    rng = np.random.default_rng(31)
    model = chain_model(rng)
    samples = [[rng.integers(-128, 128, size=(1, 14, 14, 16), dtype=np.int8)] for _ in range(2)]
    assert len(check_cases([Case("chain", model, samples)], tmp_path, conv_storage="smallest")) == 1


@pytest.mark.skipif(shutil.which("qemu-system-arm") is None or shutil.which("arm-none-eabi-gcc") is None,
                    reason="qemu-system-arm or arm-none-eabi-gcc not installed")  # fmt: skip
@pytest.mark.qemu
@pytest.mark.parametrize("board", ["qemu-m4", "qemu-m55"])
def test_chain_model_qemu_bit_exact(board):
    model = chain_model(np.random.default_rng(31))
    xs = np.random.default_rng(32).integers(-128, 128, size=(3, 1, 14, 14, 16)).astype(np.int8)
    res = run_model(TfliteModel(model, "chain"), board, xs, name="chain", lowering=StorageLowering("smallest"))
    for i, (got, want) in enumerate(zip(res.outputs, tflm_outputs(model, xs))):
        assert np.array_equal(got.view(np.uint8), np.asarray(want).reshape(-1).view(np.uint8)), f"input {i}"
