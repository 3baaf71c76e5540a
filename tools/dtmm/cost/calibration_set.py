"""The models a calibration measures: seeded random CNNs and MLPs built with Keras and the converter.

A cost model is only as good as the shapes it was fitted on, so the set is
drawn at random from the space TinyML models live in rather than copied from
any one model: input maps from 8x8 to 48x48 with 1-32 channels, chains of
Conv2D (1x1 to 7x7 and tall/wide kernels such as 10x4, 1x7, 7x1; stride 1-2;
SAME/VALID; 4-96 filters), depthwise convs (3x3/5x5, depth multiplier 1-2),
residual ADDs, channel concatenations, zero padding, max/average pools, and heads of global average pooling (MEAN),
a full-map AVERAGE_POOL_2D or Flatten, then FULLY_CONNECTED and SOFTMAX; one
model in four is a fully-connected stack instead; seeds from :data:`BRANCH_SEEDS_FROM` on build 6-10 single-layer
branches on one input instead (one run measures many shapes). Sizes are capped so every
model fits qemu-m55 (512 KiB flash and RAM). Boards with less than 64 KiB of RAM
(qemu-m0: 16 KiB) get their own set from the same seeds with every activation
capped to what their RAM holds (:func:`max_activation_bytes_for`), so that the
operators of larger models (PAD, CONCATENATION) still appear in models they can run.

Each converted model is measured dense and in ``VARIANTS_PER_MODEL - 1``
pruned versions: every CONV_2D keeps a random share of its filterlets (drawn
per layer from :data:`DENSITIES`, some layers also losing whole filters), so
the fit sees the kept-filterlet counts the pruner produces. Seeds from
:data:`GROUP_SEEDS_FROM` on build 1x1-conv and dense branches instead whose
pruned versions lose channel groups of 4-64 channels (:func:`group_prune`),
which `dtmm pack` stores as GROUPS blobs (the ``GROUPS`` groups of
``features``); seeds from :data:`OP_SEEDS_FROM` on put the weightless
operators (SUB, MUL, the table-driven activations, TRANSPOSE, STRIDED_SLICE,
RESIZE_NEAREST_NEIGHBOR) between small convs (:func:`build_ops`); seeds from :data:`SHAPE_SEEDS_FROM`
on build single-layer branches of the kernel regimes a random chain rarely draws (:func:`build_shapes`:
pointwise convs of 16-256 channels, kernels of more than 32 taps, the few-channel item layouts, depth
multipliers 1-4 on 1x5..7x7 depthwise kernels, 128-256-channel 3x3/1x3/1x1 convs), so every kernel variant has
layers enough to fit its own costs. Weights are random: instruction counts do not depend on what
the weights learned.

Everything is seeded: the same seed gives the same .tflite bytes.
"""
from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from ..fileio import write_bytes_atomic
from ..paths import REPO_ROOT
from ..tflite.model import TfliteModel, conv_layers, replace_conv_weights

#: bump when the generator changes what it produces (invalidates the cache)
GENERATOR_VERSION = 3
#: kept-filterlet shares a pruned variant draws from, per CONV_2D
DENSITIES = (1.0, 0.8, 0.6, 0.45, 0.3, 0.2, 0.1)
VARIANTS_PER_MODEL = 3
#: seeds from here on build multi-branch models (build_branches), the ones below chains and MLPs
BRANCH_SEEDS_FROM = 40
#: seeds from here on build channel-group models (build_groups): 1x1 convs and dense layers whose pruned
#: variants lose channel groups, so `dtmm pack` stores them as FWCS GROUPS blobs
GROUP_SEEDS_FROM = 2000
#: the channel-group seeds every calibration measures besides its generated CNNs and MLPs
GROUP_SEEDS = tuple(range(GROUP_SEEDS_FROM, GROUP_SEEDS_FROM + 8))
#: group sizes and kept-group shares the group models' pruned variants draw from
GROUP_SIZES = (4, 8, 16, 32, 64)
GROUP_DENSITIES = (0.7, 0.55, 0.4, 0.25, 0.1)
#: seeds from here on build operator models (build_ops): SUB, MUL, the table-driven activations, TRANSPOSE,
#: STRIDED_SLICE and RESIZE_NEAREST_NEIGHBOR between small convs, so each has a fit of its own
OP_SEEDS_FROM = 4000
#: the operator seeds every calibration measures besides its generated CNNs, MLPs and group models
OP_SEEDS = tuple(range(OP_SEEDS_FROM, OP_SEEDS_FROM + 10))
#: bump when build_ops changes what it produces (its models' cache keys; the other models keep theirs)
OP_GENERATOR_VERSION = 1
#: seeds from here on build shape models (build_shapes): single-layer branches of one kernel regime each
SHAPE_SEEDS_FROM = 5000
#: the shape seeds every calibration measures besides the families above (six per regime)
SHAPE_SEEDS = tuple(range(SHAPE_SEEDS_FROM, SHAPE_SEEDS_FROM + 30))
#: bump when build_shapes changes what it produces (its models' cache keys)
SHAPE_GENERATOR_VERSION = 1
#: largest activation tensor a generated model may have (bytes): keeps the arena small on every board
MAX_ACTIVATION_BYTES = 48 * 1024
#: boards with less RAM than this get a set with smaller activations (max_activation_bytes_for)
SMALL_BOARD_RAM_BYTES = 64 * 1024
#: most multiply-accumulates of one generated CONV_2D (keeps the portable path's runs short)
MAX_LAYER_MACS = 3_000_000
#: largest weight count of one layer: keeps every model within qemu-m55's flash
MAX_LAYER_WEIGHTS = 48 * 1024

_KERNELS = ((1, 1), (1, 1), (3, 3), (3, 3), (3, 3), (5, 5), (1, 7), (7, 1), (3, 1), (1, 3), (10, 4), (7, 7), (2, 2))
_FILTERS = (4, 8, 12, 16, 24, 32, 48, 64, 96)
_INPUT_MAPS = ((8, 8), (12, 12), (16, 16), (20, 20), (24, 24), (32, 32), (48, 48), (49, 10), (40, 8), (28, 28))
_INPUT_CHANNELS = (1, 1, 2, 3, 3, 4, 8, 16, 32)


@dataclass(frozen=True)
class CalibrationModel:
    """One measured model: its name (``cal<seed>_v<variant>``) and int8 .tflite bytes."""

    name: str
    data: bytes


def max_activation_bytes_for(board) -> int:
    """The activation cap of `board`'s calibration set: the default, or on a small board a third of the RAM
    left beside its stack and the runtime (the arena holds about two activations and some scratch)."""
    if board.ram_bytes >= SMALL_BOARD_RAM_BYTES:
        return MAX_ACTIVATION_BYTES
    return max(1024, (board.ram_bytes - board.stack_bytes - 2048) // 3)


def _conv_block(layers, rng, x, *, kernel=None, filters=None, stride=None, max_out_bytes=None):
    h, w, c = (int(d) for d in x.shape[1:])
    if kernel is None:
        fits = [k for k in _KERNELS if k[0] <= h and k[1] <= w]
        kernel = fits[rng.integers(len(fits))]
    if filters is None:
        filters = int(rng.choice(_FILTERS))
    while filters > 4 and kernel[0] * kernel[1] * c * filters > MAX_LAYER_WEIGHTS:
        filters //= 2
    if stride is None:
        stride = 2 if min(h, w) >= 8 and rng.random() < 0.3 else 1
    while filters > 4 and -(-h // stride) * -(-w // stride) * kernel[0] * kernel[1] * c * filters > MAX_LAYER_MACS:
        filters //= 2
    while max_out_bytes is not None and filters > 4 and -(-h // stride) * -(-w // stride) * filters > max_out_bytes:
        filters //= 2
    fits = kernel[0] <= h and kernel[1] <= w
    padding = "same" if kernel == (1, 1) or not fits or rng.random() < 0.7 else "valid"
    x = layers.Conv2D(filters, kernel, strides=stride, padding=padding, use_bias=bool(rng.random() < 0.5))(x)
    if rng.random() < 0.6:
        x = layers.BatchNormalization()(x)
    act = rng.random()
    if act < 0.5:
        x = layers.ReLU()(x)
    elif act < 0.75:
        x = layers.ReLU(6.0)(x)
    return x


def _depthwise_block(layers, rng, x):
    h, w, c = (int(d) for d in x.shape[1:])
    k = 3 if min(h, w) < 5 or rng.random() < 0.7 else 5
    mult = 2 if c <= 16 and rng.random() < 0.25 else 1
    stride = 2 if min(h, w) >= 8 and rng.random() < 0.3 else 1
    x = layers.DepthwiseConv2D(k, strides=stride, padding="same", depth_multiplier=mult, use_bias=False)(x)
    x = layers.BatchNormalization()(x)
    return layers.ReLU()(x)


def _residual_block(layers, rng, x):
    c = int(x.shape[-1])
    y = _conv_block(layers, rng, x, kernel=(3, 3), filters=c, stride=1)
    if tuple(y.shape[1:]) != tuple(x.shape[1:]):
        return y
    return layers.Add()([x, y])


def _pool_block(layers, rng, x):
    h, w, _ = (int(d) for d in x.shape[1:])
    if min(h, w) < 4:
        return x
    cls = layers.MaxPooling2D if rng.random() < 0.5 else layers.AveragePooling2D
    if rng.random() < 0.6:
        return cls(2)(x)
    return cls(3, strides=1, padding="same")(x)


def _branch_block(layers, rng, x):
    """Two 1x1/3x3 branches concatenated on channels (CONCATENATION), or ZeroPadding2D then a VALID conv (PAD)."""
    if rng.random() < 0.5:
        a = _conv_block(layers, rng, x, kernel=(1, 1), stride=1)
        b = _conv_block(layers, rng, x, kernel=(3, 3), stride=1)
        if tuple(a.shape[1:3]) == tuple(b.shape[1:3]):
            return layers.Concatenate()([a, b])
        return a
    x = layers.ZeroPadding2D(1)(x)
    return _conv_block(layers, rng, x, kernel=(3, 3))


def _activation_bytes(x) -> int:
    return int(np.prod([int(d) for d in x.shape[1:]]))


def _input_maps(cap: int) -> tuple:
    """The input maps a model may start from: those a 4-filter conv keeps under the activation cap."""
    return _INPUT_MAPS if cap >= MAX_ACTIVATION_BYTES else tuple(m for m in _INPUT_MAPS if m[0] * m[1] * 4 <= cap)


def build_cnn(rng: np.random.Generator, name: str, cap: int = MAX_ACTIVATION_BYTES):
    import keras
    from keras import layers

    small = cap < MAX_ACTIVATION_BYTES
    maps = _input_maps(cap)
    h, w = maps[rng.integers(len(maps))]
    c = int(rng.choice(_INPUT_CHANNELS))
    if small:
        c = max(1, min(c, cap // (h * w)))
    inp = keras.Input((h, w, c))
    x = _conv_block(layers, rng, inp, max_out_bytes=cap if small else None)
    for _ in range(int(rng.integers(4, 10))):
        r = rng.random()
        if r < 0.4:
            y = _conv_block(layers, rng, x)
        elif r < 0.6:
            y = _depthwise_block(layers, rng, x)
        elif r < 0.75:
            y = _residual_block(layers, rng, x)
        elif r < 0.85:
            y = _branch_block(layers, rng, x)
        else:
            y = _pool_block(layers, rng, x)
        if _activation_bytes(y) <= cap and min(int(d) for d in y.shape[1:3]) >= 1:
            x = y
    head = rng.random()
    if head < 0.45:
        x = layers.GlobalAveragePooling2D()(x)
    elif head < 0.7:
        x = layers.AveragePooling2D(pool_size=tuple(int(d) for d in x.shape[1:3]))(x)
        x = layers.Flatten()(x)
    else:
        while _activation_bytes(x) > 2048 and min(int(d) for d in x.shape[1:3]) >= 2:
            x = layers.MaxPooling2D(2)(x)
        x = layers.Flatten()(x)
    x = layers.Dense(int(rng.choice((2, 10, 12, 32))))(x)
    return keras.Model(inp, layers.Softmax()(x) if rng.random() < 0.7 else x, name=name)


def build_mlp(rng: np.random.Generator, name: str):
    import keras
    from keras import layers

    n_in = int(rng.choice((64, 128, 250, 490, 640)))
    inp = keras.Input((n_in,))
    x = inp
    n_prev = n_in
    for _ in range(int(rng.integers(2, 6))):
        units = min(int(rng.choice((8, 16, 32, 64, 128, 200))), MAX_LAYER_WEIGHTS // n_prev)
        n_prev = units
        x = layers.Dense(units)(x)
        if rng.random() < 0.5:
            x = layers.BatchNormalization()(x)
        x = layers.ReLU()(x)
    x = layers.Dense(int(rng.choice((2, 10, 64, 128))))(x)
    return keras.Model(inp, layers.Softmax()(x) if rng.random() < 0.5 else x, name=name)


def build_branches(rng: np.random.Generator, name: str, cap: int = MAX_ACTIVATION_BYTES):
    """Many single-layer branches on one input, each pooled to a vector: one run measures 6-10 shapes."""
    import keras
    from keras import layers

    small = cap < MAX_ACTIVATION_BYTES
    maps = _input_maps(cap)
    h, w = maps[rng.integers(len(maps))]
    c = int(rng.choice(_INPUT_CHANNELS + (12, 24, 48, 64)))
    c = max(1, min(c, cap // (h * w)))
    inp = keras.Input((h, w, c))
    heads = []
    for _ in range(int(rng.integers(6, 11))):
        if rng.random() < 0.7:
            y = _conv_block(layers, rng, inp, max_out_bytes=cap if small else None)
        else:
            y = _depthwise_block(layers, rng, inp)
        heads.append(layers.GlobalAveragePooling2D()(y))
    x = layers.Concatenate()(heads)
    x = layers.Dense(int(rng.choice((2, 10, 12))))(x)
    return keras.Model(inp, layers.Softmax()(x), name=name)


def build_groups(rng: np.random.Generator, name: str, cap: int = MAX_ACTIVATION_BYTES):
    """Branches of 1x1 convs (stride 1 or 2, pooled to a vector) and dense layers (on the pooled or
    flattened input) on one input: the layers channel groups are for, over maps from 1x1 to 12x12."""
    import keras
    from keras import layers

    maps = [m for m in ((1, 1), (2, 2), (3, 3), (4, 4), (6, 6), (8, 8), (12, 12), (5, 10)) if m[0] * m[1] * 16 <= cap]
    h, w = maps[rng.integers(len(maps))]
    c = int(rng.choice((16, 32, 48, 64, 96, 128, 256)))
    c = max(16, min(c, cap // (h * w)) // 16 * 16)
    inp = keras.Input((h, w, c))
    heads = []
    for _ in range(int(rng.integers(4, 8))):
        cout = int(rng.choice((4, 8, 12, 16, 24, 32, 48, 64, 96)))
        if rng.random() < 0.6:
            stride = 2 if min(h, w) >= 4 and rng.random() < 0.25 else 1
            while cout > 4 and (cout * c > MAX_LAYER_WEIGHTS or -(-h // stride) * -(-w // stride) * cout > cap):
                cout //= 2
            y = layers.Conv2D(cout, 1, strides=stride, use_bias=bool(rng.random() < 0.5))(inp)
            if rng.random() < 0.5:
                y = layers.BatchNormalization()(y)
            heads.append(layers.GlobalAveragePooling2D()(layers.ReLU()(y) if rng.random() < 0.5 else y))
        else:
            x = layers.Flatten()(inp) if h * w * c <= 1024 and rng.random() < 0.5 else layers.GlobalAveragePooling2D()(inp)
            while cout > 4 and cout * int(x.shape[-1]) > MAX_LAYER_WEIGHTS:
                cout //= 2
            heads.append(layers.Dense(cout, activation="relu" if rng.random() < 0.5 else None)(x))
    x = layers.Concatenate()(heads)
    x = layers.Dense(int(rng.choice((2, 10, 12))))(x)
    return keras.Model(inp, layers.Softmax()(x), name=name)


#: the weightless operators of build_ops, taken in turn (activations twice as often: six share one fit)
_OP_KINDS = ("activation", "binary", "activation", "transpose", "crop", "resize")
_ACTIVATIONS = ("relu", "relu6", "leaky", "sigmoid", "tanh", "hard_swish")


def _op_block(layers, rng, x, cap: int, kind: str, activation: str):
    """One operator that copies, combines or maps elements (no weights), on a conv's output; None if it
    would not fit the activation cap.  RELU and RELU6 follow a CONCATENATION (the converter folds them
    into a conv or ADD)."""
    h, w, c = (int(d) for d in x.shape[1:])
    if kind == "activation":
        if activation in ("relu", "relu6"):
            x = layers.Concatenate()([x, _conv_block(layers, rng, x, kernel=(1, 1), filters=4, stride=1)])
            return layers.ReLU(6.0 if activation == "relu6" else None)(x) if _activation_bytes(x) <= cap else None
        if activation == "leaky":
            return layers.LeakyReLU(negative_slope=float(rng.choice((0.01, 0.1, 0.3))))(x)
        return layers.Activation(activation)(x)
    if kind == "binary":
        y = layers.Conv2D(c, 1)(x)
        if rng.random() < 0.3:  # broadcast: one value per channel
            y = layers.GlobalAveragePooling2D(keepdims=True)(y)
        return (layers.Subtract() if rng.random() < 0.5 else layers.Multiply())([x, y])
    if kind == "transpose":  # the innermost axis kept (rows copied) or moved (elements gathered)
        return layers.Permute((2, 1, 3) if rng.random() < 0.5 else (3, 1, 2))(x)
    if kind == "crop":
        if min(h, w) < 3:
            return None
        crop = [int(rng.integers(0, d // 3 + 1)) for d in (h, h, w, w)]
        return layers.Cropping2D(((crop[0], crop[1]), (crop[2], crop[3])))(x)
    scale = float(rng.choice((0.5, 1.5, 2.0)))
    nh, nw = max(1, int(h * scale)), max(1, int(w * scale))
    if nh * nw * c > cap:
        return None
    return layers.Resizing(nh, nw, interpolation="nearest")(x)


def build_ops(rng: np.random.Generator, name: str, cap: int = MAX_ACTIVATION_BYTES):
    """Small convs with the weightless operators between them (_op_block), then a pooled dense head."""
    import keras
    from keras import layers

    small = cap < MAX_ACTIVATION_BYTES
    maps = [m for m in _input_maps(cap) if max(m) <= 32]
    h, w = maps[rng.integers(len(maps))]
    c = max(1, min(int(rng.choice((1, 3, 4, 8, 16))), cap // (h * w)))
    inp = keras.Input((h, w, c))
    x = _conv_block(layers, rng, inp, filters=int(rng.choice((4, 8, 16))), max_out_bytes=cap if small else None)
    first, act = int(rng.integers(len(_OP_KINDS))), int(rng.integers(len(_ACTIVATIONS)))
    for i in range(int(rng.integers(6, 10))):
        kind = _OP_KINDS[(first + i) % len(_OP_KINDS)]
        if kind == "activation":
            act += 1
        y = _op_block(layers, rng, x, cap, kind, _ACTIVATIONS[act % len(_ACTIVATIONS)])
        if y is not None and _activation_bytes(y) <= cap and min(int(d) for d in y.shape[1:3]) >= 1:
            x = y
        if rng.random() < 0.3:
            y = _conv_block(layers, rng, x, kernel=(3, 3), filters=int(rng.choice((4, 8, 16))), stride=1)
            if _activation_bytes(y) <= cap:
                x = y
    x = layers.Dense(int(rng.choice((2, 10))))(layers.GlobalAveragePooling2D()(x))
    return keras.Model(inp, layers.Softmax()(x), name=name)


#: build_shapes' regimes, one per seed in turn (seed % 5)
SHAPE_REGIMES = ("pointwise", "large_kernel", "few_channels", "depth_multiplier", "wide")


def _shape_layer(layers, rng, x, regime: str, cap: int):
    """One layer of `regime` on input `x` (a conv or depthwise block); None when nothing of the regime fits."""
    h, w, c = (int(d) for d in x.shape[1:])
    small = cap < MAX_ACTIVATION_BYTES
    if regime == "depth_multiplier":
        k = [k for k in ((3, 3), (5, 5), (3, 3), (7, 7), (1, 5), (5, 1)) if k[0] <= h + 2 and k[1] <= w + 2]
        kernel = k[rng.integers(len(k))]
        mult = int(rng.choice((1, 2, 2, 3, 4)))
        while mult > 1 and h * w * c * mult > cap:
            mult -= 1
        stride = 2 if min(h, w) >= 6 and rng.random() < 0.4 else 1
        fits = kernel[0] <= h and kernel[1] <= w
        y = layers.DepthwiseConv2D(kernel, strides=stride, padding="valid" if fits and rng.random() < 0.3 else "same",
                                   depth_multiplier=mult, use_bias=bool(rng.random() < 0.5))(x)
        return layers.ReLU()(y) if rng.random() < 0.5 else y
    if regime == "pointwise":
        kernel, filters = (1, 1), int(rng.choice((8, 16, 24, 32, 48, 64, 96, 128)))
    elif regime == "large_kernel":
        fits = [k for k in ((10, 4), (7, 7), (5, 7), (7, 5), (3, 11), (6, 6), (8, 8), (5, 9), (9, 5), (4, 10))
                if k[0] <= h and k[1] <= w]
        if not fits:
            return None
        kernel, filters = fits[rng.integers(len(fits))], int(rng.choice((4, 8, 16, 32, 64)))
    elif regime == "few_channels":
        fits = [k for k in ((3, 3), (5, 5), (3, 5), (1, 7), (7, 1), (2, 2), (4, 4), (1, 3), (3, 1))
                if k[0] <= h and k[1] <= w]
        kernel, filters = fits[rng.integers(len(fits))], int(rng.choice((4, 8, 16, 24, 32, 64)))
    else:  # wide
        kernel, filters = ((3, 3), (1, 3), (3, 1), (1, 1))[rng.integers(4)], int(rng.choice((8, 16, 32)))
    stride = 2 if min(h, w) >= 8 and rng.random() < 0.3 else 1
    return _conv_block(layers, rng, x, kernel=kernel, filters=filters, stride=stride,
                       max_out_bytes=cap if small else None)


def build_shapes(rng: np.random.Generator, name: str, regime: str, cap: int = MAX_ACTIVATION_BYTES):
    """Single-layer branches of one kernel regime (SHAPE_REGIMES) on one input, each pooled to a vector:
    the layer shapes random chains rarely draw, each run measuring 6-9 of them."""
    import keras
    from keras import layers

    if regime == "pointwise":
        maps, chans = ((1, 1), (3, 3), (4, 4), (6, 6), (8, 8), (12, 12), (16, 16), (25, 5), (7, 7)), \
            (16, 24, 32, 48, 64, 96, 128, 160, 256)
    elif regime == "large_kernel":
        maps, chans = ((49, 10), (40, 8), (32, 32), (24, 24), (28, 28), (20, 20), (16, 16), (12, 12)), (1, 1, 2, 3, 4, 8)
    elif regime == "few_channels":
        maps, chans = ((8, 8), (12, 12), (16, 16), (24, 24), (32, 32), (10, 20)), (4, 8)
    elif regime == "depth_multiplier":
        maps, chans = ((4, 4), (6, 6), (8, 8), (12, 12), (16, 16), (24, 24), (32, 8)), (1, 3, 4, 8, 16, 32, 48)
    else:  # wide
        maps, chans = ((3, 3), (4, 4), (5, 5), (6, 6), (8, 8)), (128, 160, 192, 256)
    maps = [m for m in maps if m[0] * m[1] * min(chans) <= cap] or [(1, 1)]
    h, w = maps[rng.integers(len(maps))]
    c = int(rng.choice(chans))
    c = max(1, min(c, cap // (h * w)))
    inp = keras.Input((h, w, c))
    heads = []
    for _ in range(int(rng.integers(6, 10))):
        y = _shape_layer(layers, rng, inp, regime, cap)
        if y is not None and _activation_bytes(y) <= cap and min(int(d) for d in y.shape[1:3]) >= 1:
            heads.append(layers.GlobalAveragePooling2D()(y))
    if not heads:
        heads.append(layers.GlobalAveragePooling2D()(inp))
    x = layers.Concatenate()(heads) if len(heads) > 1 else heads[0]
    x = layers.Dense(int(rng.choice((2, 10, 12))))(x)
    return keras.Model(inp, layers.Softmax()(x), name=name)


def group_prune(dense: bytes, rng: np.random.Generator, sizes: dict[int, int] | None = None,
                density: float | None = None) -> bytes:
    """`dense` with 1x1 CONV_2Ds and FULLY_CONNECTEDs keeping a random share of channel groups (at least one
    per filter), as channel-group pruning leaves them: every such operator, in groups of a random size with
    a random share kept, or the operators of `sizes` ({op index: group size}) keeping `density`."""
    model = TfliteModel(dense)
    new = {}
    for op in model.operators:
        if op.opcode not in ("CONV_2D", "FULLY_CONNECTED") or (sizes is not None and op.index not in sizes):
            continue
        w = model.tensor_data(op.inputs[1])
        if w is None or w.dtype != np.int8 or (w.ndim == 4 and w.shape[1:3] != (1, 1)):
            continue
        rows = w.reshape(w.shape[0], -1)
        cout, cin = rows.shape
        choices = [sizes[op.index]] if sizes is not None else [g for g in GROUP_SIZES if cin % g == 0 and cin // g >= 2]
        if not choices or cin % choices[0]:
            continue
        g = int(rng.choice(choices))
        keep = rng.random((cout, cin // g)) < (density if density is not None else float(rng.choice(GROUP_DENSITIES)))
        keep[np.arange(cout), rng.integers(0, cin // g, cout)] = True
        new[op.index] = (rows * np.repeat(keep, g, axis=1)).astype(np.int8).reshape(w.shape)
    return replace_conv_weights(model, new)


def _randomize_batchnorm(model, rng: np.random.Generator) -> None:
    for layer in model.layers:
        if layer.__class__.__name__ == "BatchNormalization":
            shapes = [np.asarray(w).shape for w in layer.get_weights()]
            layer.set_weights([rng.uniform(0.5, 1.5, shapes[0]), rng.normal(0.0, 0.1, shapes[1]),
                               rng.normal(0.0, 0.1, shapes[2]), rng.uniform(0.5, 1.5, shapes[3])])  # fmt: skip


def convert(seed: int, max_activation_bytes: int = MAX_ACTIVATION_BYTES) -> bytes:
    """The dense int8 .tflite of calibration model `seed` (activations capped at `max_activation_bytes`)."""
    import keras

    from ..tflite.convert import keras_to_int8_tflite

    # a fresh Keras session: layer names (and with them the converter's order of parallel branches, so
    # the operator labels a calibration's measurements are keyed by) never depend on what was built before
    keras.backend.clear_session()
    keras.utils.set_random_seed(seed)
    rng = np.random.default_rng(seed)
    name = f"cal{seed}"
    cap = max_activation_bytes
    if seed >= SHAPE_SEEDS_FROM:
        model = build_shapes(rng, name, SHAPE_REGIMES[seed % len(SHAPE_REGIMES)], cap)
    elif seed >= OP_SEEDS_FROM:
        model = build_ops(rng, name, cap)
    elif seed >= GROUP_SEEDS_FROM:
        model = build_groups(rng, name, cap)
    elif seed >= BRANCH_SEEDS_FROM:
        model = build_branches(rng, name, cap)
    else:
        model = build_mlp(rng, name) if rng.random() < 0.25 else build_cnn(rng, name, cap)
    _randomize_batchnorm(model, rng)
    shape = tuple(model.inputs[0].shape[1:])
    x_rep = rng.normal(0.0, 1.0, size=(16, 1, *shape)).astype(np.float32)
    return keras_to_int8_tflite(model, list(x_rep))


def _keep_share(rng: np.random.Generator, cout: int, kh: int, kw: int, density: float) -> np.ndarray:
    """Random keep mask [cout, kh, kw] with `density` of the filterlets, at least one per filter."""
    keep = rng.random((cout, kh, kw)) < density
    if kh * kw > 1:  # a kept filter keeps at least one filterlet, as the pruner's plans do
        for o in np.flatnonzero(~keep.reshape(cout, -1).any(axis=1)):
            keep[o].flat[rng.integers(kh * kw)] = True
    return keep


def prune_to_density(dense: bytes, density: float, seed: int = 0) -> bytes:
    """`dense` with every CONV_2D larger than 1x1 keeping a random `density` of its filterlets."""
    rng = np.random.default_rng(seed)
    model = TfliteModel(dense)
    new = {}
    for layer in conv_layers(model):
        cout, kh, kw, _ = layer.weights.shape
        if kh * kw > 1:
            keep = _keep_share(rng, cout, kh, kw, density)
            new[layer.op_index] = np.where(keep[..., None], layer.weights, 0).astype(np.int8)
    return replace_conv_weights(model, new)


def pruned_variant(dense: bytes, seed: int, variant: int) -> bytes:
    """`dense` with a random share of each CONV_2D's filterlets zeroed (variant 0: `dense` itself); a
    channel-group model's 1x1 convs and dense layers lose channel groups instead."""
    if variant == 0:
        return dense
    rng = np.random.default_rng([seed, variant])
    if GROUP_SEEDS_FROM <= seed < OP_SEEDS_FROM:
        return group_prune(dense, rng)
    model = TfliteModel(dense)
    new = {}
    for layer in conv_layers(model):
        w = layer.weights
        cout, kh, kw, _ = w.shape
        keep = _keep_share(rng, cout, kh, kw, float(rng.choice(DENSITIES)))
        if rng.random() < 0.3:  # whole filters removed too
            keep[rng.random(cout) < 0.25] = False
        if keep.any():
            new[layer.op_index] = np.where(keep[..., None], w, 0).astype(np.int8)
    return replace_conv_weights(model, new)


def default_cache_dir() -> Path:
    """Built calibration models ($DTMM_CALIBRATION_CACHE, else .pio/dtmm-calibration-models)."""
    return Path(os.environ.get("DTMM_CALIBRATION_CACHE", REPO_ROOT / ".pio" / "dtmm-calibration-models"))


def _cache_key(seed: int, max_activation_bytes: int = MAX_ACTIVATION_BYTES) -> str:
    import tensorflow as tf

    text = f"{seed}\0{GENERATOR_VERSION}\0{tf.__version__}"
    if seed >= SHAPE_SEEDS_FROM:
        text += f"\0shapes{SHAPE_GENERATOR_VERSION}"
    elif seed >= OP_SEEDS_FROM:
        text += f"\0ops{OP_GENERATOR_VERSION}"
    if max_activation_bytes != MAX_ACTIVATION_BYTES:
        text += f"\0{max_activation_bytes}"
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def calibration_models(seeds, *, max_activation_bytes: int = MAX_ACTIVATION_BYTES, cache_dir=None,
                       progress: Callable[[str], None] | None = None):  # fmt: skip
    """Yields every variant of every seed's model (built once, then cached)."""
    cache = Path(cache_dir) if cache_dir else default_cache_dir()
    for seed in seeds:
        file = cache / f"cal{seed}-{_cache_key(seed, max_activation_bytes)}.tflite"
        if file.is_file():
            dense = file.read_bytes()
        else:
            if progress:
                progress(f"building calibration model {seed} with Keras and the TFLite converter ...")
            dense = convert(seed, max_activation_bytes)
            cache.mkdir(parents=True, exist_ok=True)
            write_bytes_atomic(file, dense)
        for v in range(VARIANTS_PER_MODEL):
            yield CalibrationModel(f"cal{seed}_v{v}", pruned_variant(dense, seed, v))
