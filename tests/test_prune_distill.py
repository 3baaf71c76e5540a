"""Knowledge distillation in the masked fine-tune: the soft loss is the Hinton formula on logits and on
softmax outputs alike, it is wired into training (it changes the result, pulls the student to the teacher),
and pruned filterlets stay exactly zero while distilling."""
from __future__ import annotations

import numpy as np
import pytest

keras = pytest.importorskip("keras")
import tensorflow as tf  # noqa: E402

from dtmm.errors import DtmmError  # noqa: E402
from dtmm.prune import distill, train  # noqa: E402
from support.keras_models import synthetic_images, tiny_resnet  # noqa: E402


def _np_soft_loss(s_logits, t_logits, T):
    def log_softmax(z):
        z = z / T
        z = z - z.max(axis=-1, keepdims=True)
        return z - np.log(np.exp(z).sum(axis=-1, keepdims=True))

    ls, lt = log_softmax(s_logits), log_softmax(t_logits)
    return T * T * (np.exp(lt) * (lt - ls)).sum(axis=-1)


def test_soft_loss_matches_the_formula_for_logits_and_probabilities():
    rng = np.random.default_rng(0)
    s = rng.normal(size=(5, 7)).astype(np.float32) * 3
    t = rng.normal(size=(5, 7)).astype(np.float32) * 3
    want = _np_soft_loss(s, t, 4.0)
    got = distill.soft_loss(tf.constant(s), tf.constant(t), from_logits=True, temperature=4.0).numpy()
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    probs = distill.soft_loss(tf.nn.softmax(s), tf.nn.softmax(t), from_logits=False, temperature=4.0).numpy()
    np.testing.assert_allclose(probs, want, rtol=1e-4, atol=1e-5)  # log-probabilities are logits up to a constant
    same = distill.soft_loss(tf.constant(s), tf.constant(s), from_logits=True, temperature=2.0).numpy()
    np.testing.assert_allclose(same, 0.0, atol=1e-6)


def test_blend_weights_and_off():
    hard = tf.constant([1.0, 2.0])
    s = tf.constant([[0.0, 1.0], [1.0, 0.0]])
    t = tf.constant([[1.0, 0.0], [1.0, 0.0]])
    soft = distill.soft_loss(s, t, from_logits=True, temperature=1.0).numpy()
    cfg = distill.DistillConfig(temperature=1.0, weight=0.25)
    got = distill.per_sample_loss(hard, s, t, cfg, from_logits=True).numpy()
    np.testing.assert_allclose(got, 0.75 * hard.numpy() + 0.25 * soft, rtol=1e-6)
    assert distill.per_sample_loss(hard, s, t, distill.OFF, from_logits=True) is hard
    assert distill.OFF.as_report() == {"enabled": False}
    assert distill.DistillConfig().as_report()["teacher"] == "dense baseline"


@pytest.mark.parametrize("kw, msg", [({"temperature": 0.0}, "--distill-temperature"),
                                     ({"weight": 1.5}, "--distill-weight")])  # fmt: skip
def test_bad_settings_are_one_line_errors(kw, msg):
    with pytest.raises(DtmmError, match=msg):
        distill.DistillConfig(**kw)


def _masked_student():
    student = tiny_resnet(seed=1)
    k = student.get_layer("b1_conv1").kernel
    keep = np.random.default_rng(0).random((k.shape[3], 3, 3)) < 0.5
    mask = np.broadcast_to(np.transpose(keep, (1, 2, 0))[:, :, None, :], k.shape).astype(np.float32)
    k.assign(np.asarray(k) * mask)
    return student, {"b1_conv1": mask}


def _mean_soft_loss(student, teacher, x):
    xs = tf.constant(x.astype(np.float32))
    return float(np.mean(distill.soft_loss(student(xs), teacher(xs), from_logits=False, temperature=2.0)))


def test_distillation_is_wired_and_masks_hold():
    teacher = tiny_resnet(seed=7, width=6)
    student, masks = _masked_student()
    x, y = synthetic_images(96, seed=5)
    xv, yv = synthetic_images(24, seed=6)
    kw = dict(epochs=3, batch_size=16, learning_rate=1e-2, seed=0, progress=False, check_every_step=True)
    plain = train.fine_tune(student, masks, x, y, xv, yv, **kw)
    zero = train.fine_tune(student, masks, x, y, xv, yv, **kw, teacher=teacher,
                           distill=distill.DistillConfig(weight=0.0, temperature=2.0))  # fmt: skip
    soft = train.fine_tune(student, masks, x, y, xv, yv, **kw, teacher=teacher,
                           distill=distill.DistillConfig(weight=1.0, temperature=2.0))  # fmt: skip
    w = {r: np.asarray(m.model.get_layer("b1_conv1").kernel) for r, m in
         (("plain", plain), ("zero", zero), ("soft", soft))}  # fmt: skip
    np.testing.assert_allclose(w["zero"], w["plain"], rtol=1e-5, atol=1e-6)  # weight 0 is plain cross-entropy
    assert not np.allclose(w["soft"], w["plain"], atol=1e-4)  # the teacher changes the training
    assert not w["soft"][masks["b1_conv1"] == 0].any()  # pruned filterlets stay exactly zero
    before = _mean_soft_loss(student, teacher, x)
    after = _mean_soft_loss(soft.model, teacher, x)
    assert after < 0.5 * before  # the soft loss alone pulls the student's outputs to the teacher's
