"""Tiny models and synthetic data for the pruner's tests and quick experiments (no downloads)."""
from __future__ import annotations

from pathlib import Path

import numpy as np


def synthetic_images(n: int, *, size: int = 8, classes: int = 3, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """uint8 [n, size, size, 3] images whose class is the brightest colour channel (learnable in a few steps);
    every image holds some 0 and 255 pixels so int8 calibration sees the full 0..255 range."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, classes, n).astype(np.int64)
    x = rng.integers(0, 120, (n, size, size, 3))
    x[np.arange(n), :, :, y % 3] += 100
    x[:, 0, 0, :] = 0
    x[:, -1, -1, :] = 255
    return np.clip(x, 0, 255).astype(np.uint8), y


def write_image_folder(root, x: np.ndarray, y: np.ndarray, x_test: np.ndarray, y_test: np.ndarray,
                       classes: list[str] | None = None, fmt: str = "png") -> Path:  # fmt: skip
    """root/train/<class>/NNNN.png and root/test/<class>/NNNN.png."""
    from PIL import Image

    root = Path(root)
    n_cls = int(max(y.max(), y_test.max())) + 1
    classes = classes or [f"class{k}" for k in range(n_cls)]
    for split, xs, ys in (("train", x, y), ("test", x_test, y_test)):
        for k, (img, lab) in enumerate(zip(xs, ys)):
            d = root / split / classes[int(lab)]
            d.mkdir(parents=True, exist_ok=True)
            Image.fromarray(img.squeeze() if img.shape[-1] == 1 else img).save(d / f"{k:04d}.{fmt}")
    return root


def tiny_resnet(input_shape=(8, 8, 3), classes: int = 3, width: int = 4, seed: int = 0):
    """A ResNet-8 in miniature: stem, an identity block, a strided block with a 1x1 projection, softmax head."""
    import keras
    from keras import layers as L

    keras.utils.set_random_seed(seed)
    inp = keras.Input(input_shape, name="image")
    x = L.Conv2D(width, 3, padding="same", name="stem")(inp)
    x = L.BatchNormalization(name="stem_bn")(x)
    x = L.Activation("relu", name="stem_relu")(x)
    y = L.Conv2D(width, 3, padding="same", name="b1_conv1")(x)
    y = L.BatchNormalization(name="b1_bn1")(y)
    y = L.Activation("relu", name="b1_relu1")(y)
    y = L.Conv2D(width, 3, padding="same", name="b1_conv2")(y)
    y = L.BatchNormalization(name="b1_bn2")(y)
    x = L.Add(name="b1_add")([x, y])
    x = L.Activation("relu", name="b1_out")(x)
    y = L.Conv2D(2 * width, 3, strides=2, padding="same", name="b2_conv1")(x)
    y = L.BatchNormalization(name="b2_bn1")(y)
    y = L.Activation("relu", name="b2_relu1")(y)
    y = L.Conv2D(2 * width, 3, padding="same", name="b2_conv2")(y)
    y = L.BatchNormalization(name="b2_bn2")(y)
    s = L.Conv2D(2 * width, 1, strides=2, padding="same", name="b2_proj")(x)
    x = L.Add(name="b2_add")([s, y])
    x = L.Activation("relu", name="b2_out")(x)
    x = L.GlobalAveragePooling2D(name="pool")(x)
    out = L.Dense(classes, activation="softmax", name="head")(x)
    return keras.Model(inp, out, name="tiny_resnet")


def tiny_branchy(input_shape=(8, 8, 3), classes: int = 3, seed: int = 0):
    """Concatenation of two conv branches, a depthwise conv, a standalone BatchNorm, Flatten + Dense; logits."""
    import keras
    from keras import layers as L

    keras.utils.set_random_seed(seed)
    inp = keras.Input(input_shape, name="image")
    a = L.Conv2D(3, 3, padding="same", activation="relu", name="a")(inp)
    b = L.Conv2D(2, 1, padding="same", name="b")(inp)
    b = L.BatchNormalization(name="b_bn")(b)
    c = L.Concatenate(name="cat")([a, b])
    c = L.DepthwiseConv2D(3, padding="same", name="dw")(c)
    c = L.BatchNormalization(name="dw_bn")(c)
    c = L.MaxPooling2D(2, name="pool")(c)
    d = L.Conv2D(4, 3, padding="same", name="d")(c)
    d = L.ReLU(name="d_relu")(d)
    f = L.Flatten(name="flat")(d)
    h = L.Dense(6, activation="relu", name="hidden")(f)
    out = L.Dense(classes, name="logits")(h)
    return keras.Model(inp, out, name="tiny_branchy")


def tiny_sequential(input_shape=(8, 8, 3), classes: int = 3, seed: int = 0):
    import keras
    from keras import layers as L

    keras.utils.set_random_seed(seed)
    return keras.Sequential(
        [
            keras.Input(input_shape),
            L.Conv2D(4, 3, padding="same", name="c1"),
            L.BatchNormalization(name="c1_bn"),
            L.ReLU(name="c1_relu"),
            L.Conv2D(4, 3, padding="same", activation="relu", name="c2"),
            L.Flatten(name="flat"),
            L.Dense(classes, activation="softmax", name="out"),
        ],
        name="tiny_sequential",
    )


def tiny_dscnn(input_shape=(8, 8, 3), classes: int = 3, width: int = 16, seed: int = 0):
    """A keyword-spotting DS-CNN in miniature: conv, two depthwise + pointwise (1x1) blocks, global pooling,
    a hidden Dense layer and logits -- the layers channel groups are for."""
    import keras
    from keras import layers as L

    keras.utils.set_random_seed(seed)
    inp = keras.Input(input_shape, name="image")
    x = L.Conv2D(width, 3, padding="same", use_bias=False, name="conv")(inp)
    x = L.ReLU(name="conv_relu")(L.BatchNormalization(name="conv_bn")(x))
    for k, c in enumerate((2 * width, 2 * width)):
        x = L.DepthwiseConv2D(3, padding="same", use_bias=False, name=f"dw{k}")(x)
        x = L.ReLU(name=f"dw{k}_relu")(L.BatchNormalization(name=f"dw{k}_bn")(x))
        x = L.Conv2D(c, 1, use_bias=False, name=f"pw{k}")(x)
        x = L.ReLU(name=f"pw{k}_relu")(L.BatchNormalization(name=f"pw{k}_bn")(x))
    x = L.GlobalAveragePooling2D(name="pool")(x)
    x = L.Dense(2 * width, activation="relu", name="fc")(x)
    out = L.Dense(classes, name="logits")(x)
    return keras.Model(inp, out, name="tiny_dscnn")


def randomize_batchnorm(model, seed: int = 0) -> None:
    """Give every BatchNorm non-trivial statistics so equivalence tests are meaningful."""
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        if type(layer).__name__ == "BatchNormalization":
            w = layer.get_weights()
            c = w[0].shape[0]
            vals = []
            for v in layer.weights:
                if "variance" in v.path:
                    vals.append(rng.uniform(0.5, 2.0, c).astype(np.float32))
                elif "gamma" in v.path:
                    vals.append(rng.uniform(0.5, 1.5, c).astype(np.float32) * rng.choice([-1, 1], c))
                else:
                    vals.append(rng.normal(0, 0.3, c).astype(np.float32))
            layer.set_weights(vals)


def write_tiny_prune_case(d, *, width: int, train_seed: int, test_seed: int, n_train: int = 128,
                          n_test: int = 32):  # fmt: skip
    """tiny.keras (a tiny ResNet with randomised BatchNorm) and data.npz (synthetic images) in directory d."""
    m = tiny_resnet(width=width)
    randomize_batchnorm(m, seed=0)
    m.save(d / "tiny.keras")
    x, y = synthetic_images(n_train, seed=train_seed)
    xt, yt = synthetic_images(n_test, seed=test_seed)
    np.savez(d / "data.npz", x=x, y=y, x_test=xt, y_test=yt)
    return d
