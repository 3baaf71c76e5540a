"""Knowledge distillation for the masked fine-tune: the unpruned (dense baseline) model teaches the pruned one.

Loss per sample (Hinton et al., 2015)::

    (1 - weight) * CE(label, student) + weight * T^2 * KL(softmax(teacher / T) || softmax(student / T))

The T^2 factor keeps the soft term's gradient on the scale of the hard term's
whatever the temperature, so `weight` means the same thing at every T. Models
that end in a softmax give probabilities, not logits; their log-probabilities
are logits up to a per-sample constant, which the softmax ignores, so both
kinds of output go through the same formula.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

from ..errors import DtmmError

PROBABILITY_FLOOR = 1e-7  # log(0) guard for models that output probabilities


@dataclass(frozen=True)
class DistillConfig:
    """Settings of the distillation term; `enabled=False` is plain cross-entropy."""

    enabled: bool = True
    temperature: float = 4.0
    weight: float = 0.5
    teacher: str = "dense baseline"  # the unpruned model the report compares with (frozen); described in the report

    def __post_init__(self):
        if not self.temperature > 0:
            raise DtmmError(f"--distill-temperature must be > 0, got {self.temperature}")
        if not 0.0 <= self.weight <= 1.0:
            raise DtmmError(f"--distill-weight must be between 0 and 1, got {self.weight}")

    def as_report(self) -> dict:
        """The settings as report.json records them (only `enabled` when it is off)."""
        return asdict(self) if self.enabled else {"enabled": False}


OFF = DistillConfig(enabled=False)


def as_logits(out, from_logits: bool):
    """Logits, or log-probabilities (logits up to a constant) of a softmax output."""
    import tensorflow as tf

    if from_logits:
        return out
    return tf.math.log(tf.clip_by_value(out, PROBABILITY_FLOOR, 1.0))


def soft_loss(student_out, teacher_out, *, from_logits: bool, temperature: float):
    """Per-sample T^2 * KL(teacher || student) on temperature-softened distributions."""
    import tensorflow as tf

    t = float(temperature)
    s_log = tf.nn.log_softmax(as_logits(student_out, from_logits) / t, axis=-1)
    t_log = tf.nn.log_softmax(as_logits(teacher_out, from_logits) / t, axis=-1)
    kl = tf.reduce_sum(tf.exp(t_log) * (t_log - s_log), axis=-1)
    return (t * t) * kl


def per_sample_loss(hard, student_out, teacher_out, config: DistillConfig, *, from_logits: bool):
    """Blend the per-sample hard-label loss with the soft teacher loss as `config` says."""
    if not config.enabled or teacher_out is None:
        return hard
    w = float(config.weight)
    soft = soft_loss(student_out, teacher_out, from_logits=from_logits, temperature=config.temperature)
    return (1.0 - w) * hard + w * soft
