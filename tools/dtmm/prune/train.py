"""Masked fine-tuning: a custom training loop whose masks hold through every optimizer step.

Per step (inside ``strategy.run``): forward, loss (cross-entropy, blended
with the teacher's soft targets when distilling, averaged over the *global*
batch, plus the model's regularization losses scaled per replica), gradients, gradients of masked kernels multiplied by their masks,
``optimizer.apply_gradients``. Then, in cross-replica context, every masked
kernel is multiplied by its mask again, so a pruned filterlet is exactly zero
after every step whatever the optimizer does (momentum, weight decay, ...).

The checkpoint kept is the one with the best accuracy on the validation
split (carved from the training data; the test split is never looked at),
including the starting weights (epoch 0).

Works under any ``tf.distribute`` strategy; ``pick_strategy`` uses
MirroredStrategy when more than one device (GPU, or logical CPU) is visible.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from ..errors import DtmmError
from . import distill as D
from .data import preprocess

AUGMENT = ("none", "flip-crop")


@dataclass
class TrainResult:
    model: object  # Keras model with the best weights, built outside any strategy scope
    best_epoch: int
    best_val_accuracy: float
    history: list[dict] = field(default_factory=list)
    replicas: int = 1
    strategy: str = ""


def pick_strategy(kind: str = "auto"):
    """'auto': MirroredStrategy over all GPUs (or all logical CPUs) if there are several, else the default."""
    import tensorflow as tf

    if kind == "none":
        return tf.distribute.get_strategy()
    gpus = tf.config.list_logical_devices("GPU")
    cpus = tf.config.list_logical_devices("CPU")
    devices = [d.name for d in (gpus if gpus else cpus)]
    if kind == "mirrored" or len(devices) > 1:
        return tf.distribute.MirroredStrategy(devices=devices)
    if kind != "auto":
        raise DtmmError(f"unknown strategy {kind!r} (choose auto, mirrored or none)")
    return tf.distribute.get_strategy()


def strategy_name(strategy) -> str:
    name = type(strategy).__name__
    return "default" if name.startswith("_Default") else name


def augment_batch(x: np.ndarray, rng: np.random.Generator, pad: int = 4) -> np.ndarray:
    """Random horizontal flip and random crop from a zero-padded image (uint8 or float NHWC)."""
    n, h, w, _ = x.shape
    flip = rng.random(n) < 0.5
    out = np.where(flip[:, None, None, None], x[:, :, ::-1, :], x)
    padded = np.pad(out, ((0, 0), (pad, pad), (pad, pad), (0, 0)))
    dy = rng.integers(0, 2 * pad + 1, n)
    dx = rng.integers(0, 2 * pad + 1, n)
    rows = dy[:, None] + np.arange(h)[None, :]
    cols = dx[:, None] + np.arange(w)[None, :]
    return padded[np.arange(n)[:, None, None], rows[:, :, None], cols[:, None, :]]


def _clone_into(model, strategy):
    import keras

    with strategy.scope():
        m = keras.models.clone_model(model)
        m.set_weights(model.get_weights())
    return m


def evaluate_keras(model, x, y, *, batch_size: int = 256, preprocess_mode: str = "raw", fn=None) -> float:
    """Float accuracy of a Keras model (argmax of its output); `fn` is a ready tf.function of the model."""
    import tensorflow as tf

    if len(y) == 0:
        return float("nan")
    if fn is None:
        fn = tf.function(lambda t: model(t, training=False), reduce_retracing=True)
    correct = 0
    for s in range(0, len(y), batch_size):
        p = fn(tf.constant(preprocess(x[s : s + batch_size], preprocess_mode))).numpy()
        correct += int((p.argmax(axis=-1) == np.asarray(y[s : s + batch_size])).sum())
    return correct / len(y)


def fine_tune(
    model,
    masks: dict[str, np.ndarray],
    x_train, y_train, x_val, y_val,
    *,
    epochs: int,
    batch_size: int = 64,
    learning_rate: float = 1e-3,
    seed: int = 0,
    preprocess_mode: str = "raw",
    augment: str = "none",
    from_logits: bool = False,
    strategy=None,
    progress: bool = True,
    check_every_step: bool = False,
    log=None,
    teacher=None,
    distill: D.DistillConfig = D.OFF,
) -> TrainResult:  # fmt: skip
    """Fine-tune `model` (not modified) with `masks` (layer name -> kernel-shaped 0/1 array) held.

    With a `teacher` (a Keras model, frozen) and `distill` enabled, the loss
    blends cross-entropy with the teacher's softened outputs (see distill.py).
    Returns the best-validation-accuracy weights in a fresh model. With
    `check_every_step`, asserts after every step that masked weights are zero.
    """
    import keras
    import tensorflow as tf

    if augment not in AUGMENT:
        raise DtmmError(f"unknown augmentation {augment!r} (choose {', '.join(AUGMENT)})")
    if strategy is None:
        strategy = pick_strategy()
    replicas = strategy.num_replicas_in_sync
    n = len(y_train)
    gbs = min(batch_size, n)
    gbs = max(replicas, gbs - gbs % replicas)
    steps = n // gbs
    if steps < 1:
        raise DtmmError(f"too few training samples ({n}) for {replicas} replicas")

    m = _clone_into(model, strategy)
    tm = _clone_into(teacher, strategy) if teacher is not None and distill.enabled else None
    names = [k for k in masks if masks[k] is not None]
    with strategy.scope():
        schedule = keras.optimizers.schedules.CosineDecay(learning_rate, decay_steps=max(1, epochs * steps))
        opt = keras.optimizers.Adam(learning_rate=schedule)
        opt.build(m.trainable_variables)
    kernels = {name: m.get_layer(name).kernel for name in names}
    mask_t = {name: tf.constant(np.asarray(masks[name], dtype=np.float32)) for name in names}
    by_var = {id(kernels[nm]): mask_t[nm] for nm in names}
    tvars = m.trainable_variables
    var_masks = [by_var.get(id(v)) for v in tvars]
    loss_obj = keras.losses.SparseCategoricalCrossentropy(from_logits=from_logits, reduction="none")

    def step_fn(xb, yb):
        with tf.GradientTape() as tape:
            out = m(xb, training=True)
            soft_targets = tf.stop_gradient(tm(xb, training=False)) if tm is not None else None
            per = D.per_sample_loss(loss_obj(yb, out), out, soft_targets, distill, from_logits=from_logits)
            loss = tf.nn.compute_average_loss(per, global_batch_size=gbs)
            if m.losses:
                loss += tf.nn.scale_regularization_loss(tf.add_n(m.losses))
        grads = tape.gradient(loss, tvars)
        grads = [g if mk is None or g is None else g * mk for g, mk in zip(grads, var_masks)]
        opt.apply_gradients(zip(grads, tvars))
        correct = tf.reduce_sum(tf.cast(tf.equal(tf.argmax(out, axis=-1), tf.cast(yb, tf.int64)), tf.float32))
        return loss, correct

    @tf.function
    def train_step(xb, yb):
        loss, correct = strategy.run(step_fn, args=(xb, yb))
        for nm in names:  # cross-replica: every copy of the variable
            kernels[nm].assign(kernels[nm] * mask_t[nm])
        return (strategy.reduce(tf.distribute.ReduceOp.SUM, loss, axis=None),
                strategy.reduce(tf.distribute.ReduceOp.SUM, correct, axis=None))  # fmt: skip

    def check() -> None:
        for nm in names:
            bad = int(np.count_nonzero(kernels[nm].numpy()[masks[nm] == 0]))
            if bad:
                raise AssertionError(f"mask broken in {nm}: {bad} pruned weights are nonzero")

    rng = np.random.default_rng(seed)
    eval_fn = tf.function(lambda t: m(t, training=False), reduce_retracing=True)
    history = [{"epoch": 0, "val_accuracy": evaluate_keras(m, x_val, y_val, preprocess_mode=preprocess_mode,
                                                           fn=eval_fn)}]  # fmt: skip
    best = (history[0]["val_accuracy"], 0, [np.array(v.numpy()) for v in m.weights])
    for epoch in range(1, epochs + 1):
        t_epoch = time.perf_counter()
        perm = rng.permutation(n)[: steps * gbs]
        it = range(steps)
        bar = None
        if progress:
            from tqdm import tqdm

            bar = tqdm(total=steps, desc=f"fine-tune epoch {epoch}/{epochs}", unit="step", leave=False)
        tot_loss, tot_correct = 0.0, 0.0
        ds = _epoch_dataset(x_train, y_train, perm, gbs, rng, augment, preprocess_mode)
        dist = strategy.experimental_distribute_dataset(ds)
        for k, (xb, yb) in zip(it, dist):
            loss, correct = train_step(xb, yb)
            tot_loss += float(loss)
            tot_correct += float(correct)
            if check_every_step:
                check()
            if bar is not None:
                bar.update(1)
                if k % 20 == 0:
                    bar.set_postfix(loss=f"{tot_loss / (k + 1):.3f}", acc=f"{tot_correct / ((k + 1) * gbs):.3f}")
        if bar is not None:
            bar.close()
        check()
        val = evaluate_keras(m, x_val, y_val, preprocess_mode=preprocess_mode, fn=eval_fn)
        history.append({"epoch": epoch, "loss": tot_loss / steps, "train_accuracy": tot_correct / (steps * gbs),
                        "val_accuracy": val, "seconds": round(time.perf_counter() - t_epoch, 2)})  # fmt: skip
        if log is not None:
            h = history[-1]
            log(f"epoch {epoch}/{epochs}: loss {h['loss']:.4f}, train accuracy {h['train_accuracy']:.4f}, "
                f"validation accuracy {val:.4f} ({h['seconds']:.0f} s)")  # fmt: skip
        if val > best[0]:
            best = (val, epoch, [np.array(v.numpy()) for v in m.weights])
    out = keras.models.clone_model(model)
    _set_all_weights(out, best[2])
    return TrainResult(out, best[1], best[0], history, replicas, strategy_name(strategy))


def _set_all_weights(model, values: list[np.ndarray]) -> None:
    for v, val in zip(model.weights, values):
        v.assign(val)


def _epoch_dataset(x, y, perm, gbs, rng, augment, preprocess_mode):
    """One epoch as a tf.data pipeline: numpy does the seeded shuffling/augmentation, TF only batches."""
    import tensorflow as tf

    def gen():
        for s in range(0, len(perm), gbs):
            idx = perm[s : s + gbs]
            xb = x[idx]
            if augment == "flip-crop":
                xb = augment_batch(xb, rng)
            yield preprocess(xb, preprocess_mode), np.asarray(y[idx], dtype=np.int64)

    spec = (tf.TensorSpec((gbs, *x.shape[1:]), tf.float32), tf.TensorSpec((gbs,), tf.int64))
    return tf.data.Dataset.from_generator(gen, output_signature=spec).prefetch(2)
