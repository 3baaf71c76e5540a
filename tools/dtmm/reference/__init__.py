"""Reference networks for CIFAR-10-sized images and the recipe that trains them from scratch.

Each builder returns an uncompiled Keras model ready for `dtmm prune`;
`training.train_reference` trains one (see `dtmm train-reference`).
"""
from __future__ import annotations

from .networks import resnet12

BUILDERS = {"resnet12": resnet12}

__all__ = ["BUILDERS", "resnet12"]
