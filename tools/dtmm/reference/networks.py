"""Reference networks for 32x32 images; ResNet-12 is the CNN of the DTMM paper's prototype.

Four stages of 32, 64, 128 and 256 channels, one residual block each: three
3x3 conv + BatchNorm layers (ReLU after the first two, and after the add), a
strided 1x1 conv + BatchNorm shortcut, and the first conv of stages 2-4 at
stride 2 (32 -> 16 -> 8 -> 4 pixels). Twelve 3x3 convs give the name. Then
global average pooling and a dense classifier giving logits. About 2.0 M
weights (2.0 MB int8): an MCU's flash needs it cut by an order of magnitude,
which is the regime the paper prunes in.
"""
from __future__ import annotations

WIDTHS = (32, 64, 128, 256)
STRIDES = (1, 2, 2, 2)
WEIGHT_DECAY = 1e-4  # L2 on every conv and dense kernel (training recipe, docs/pruning.md)


def resnet12(input_shape=(32, 32, 3), classes: int = 10, *, widths=WIDTHS, weight_decay: float = WEIGHT_DECAY,
             seed: int = 0):  # fmt: skip
    """Build ResNet-12 (uncompiled, logits out); `seed` fixes the initial weights."""
    import keras
    from keras import layers as L

    reg = keras.regularizers.L2(weight_decay) if weight_decay else None
    init_seed = [seed]

    def conv(x, ch, k, stride, name):
        init_seed[0] += 1
        return L.Conv2D(ch, k, strides=stride, padding="same", use_bias=False, kernel_regularizer=reg,
                        kernel_initializer=keras.initializers.HeNormal(seed=init_seed[0]), name=name)(x)  # fmt: skip

    inp = keras.Input(shape=tuple(input_shape), name="image")
    x = inp
    for s, (ch, stride) in enumerate(zip(widths, STRIDES), 1):
        p = f"stage{s}"
        y = x
        for c in (1, 2, 3):
            y = conv(y, ch, 3, stride if c == 1 else 1, f"{p}_conv{c}")
            y = L.BatchNormalization(name=f"{p}_bn{c}")(y)
            if c < 3:
                y = L.ReLU(name=f"{p}_relu{c}")(y)
        short = conv(x, ch, 1, stride, f"{p}_shortcut")
        short = L.BatchNormalization(name=f"{p}_shortcut_bn")(short)
        x = L.ReLU(name=f"{p}_out")(L.Add(name=f"{p}_add")([y, short]))
    x = L.GlobalAveragePooling2D(name="pool")(x)
    init_seed[0] += 1
    out = L.Dense(classes, kernel_regularizer=reg, name="logits",
                  kernel_initializer=keras.initializers.GlorotUniform(seed=init_seed[0]))(x)  # fmt: skip
    return keras.Model(inp, out, name="resnet12")
