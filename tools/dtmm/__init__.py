"""DTMM: deploy filterlet-pruned TinyML models on Cortex-M microcontrollers."""

import os as _os

# TensorFlow 2.21's oneDNN CPU kernels corrupt the heap (segfault) computing
# gradients of some small residual models, e.g. 16x16 inputs (tests/
# test_prune_onednn.py reproduces it); the stock kernels are ~15% slower at
# fine-tuning ResNet-8 here but never crash and give run-to-run identical
# floats.  Set before TensorFlow is first imported; TF_ENABLE_ONEDNN_OPTS=1
# in the environment opts back in.
_os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")

__version__ = "0.1.0"
