"""DTMM: deploy filterlet-pruned TinyML models on Cortex-M microcontrollers.

The package reads as the pipeline, one stage per package, each importing
only the stages above it in this list (tests/test_package_layout.py checks):

* shared by every stage: :mod:`.errors`, :mod:`.fileio` (atomic writes), :mod:`.paths`;
* :mod:`.formats` -- how pruned weights are stored (FWCS: codec, numpy reference, C emission);
* :mod:`.tflite` -- reading .tflite models; the tflite-micro interpreter as the golden model;
* :mod:`.pack` -- `dtmm pack`: an int8 .tflite lowered to C with a static arena;
* :mod:`.targets` -- boards, QEMU, PlatformIO builds, packed models run on a board;
* :mod:`.cost` -- per-board cost models of retired instructions (`dtmm calibrate`, `dtmm estimate`);
* :mod:`.prune` -- `dtmm prune`: Keras models pruned to budgets, fine-tuned (distilled), exported to int8;
* :mod:`.bench` and :mod:`.report` -- instruction benchmarks; reports and plots of a run;
* :mod:`.reference` -- reference networks (ResNet-12) trained from scratch with the pruner's loop;
* :mod:`.compare` -- `dtmm compare`: DTMM against the baseline methods, measured on QEMU boards;
* :mod:`.demo` -- `make demo`, end to end;
* :mod:`.cli` -- the `dtmm` command, one module per subcommand.

The C kernels are in lib/dtmm_kernels, the firmware apps in app/, board
support in boards/; test-only helpers live in tests/support, not here.
"""

import os as _os

# TensorFlow 2.21's oneDNN CPU kernels corrupt the heap (segfault) computing
# gradients of some small residual models, e.g. 16x16 inputs (tests/
# test_prune_onednn.py reproduces it); the stock kernels never crash and give
# run-to-run identical floats, but fine-tune ResNet-8 on CIFAR-10 2.4x slower
# on the 2-core CI machine (103 s per epoch against 43 s).  Set before TensorFlow is first imported; TF_ENABLE_ONEDNN_OPTS=1
# in the environment opts back in.
_os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")

__version__ = "0.1.0"
