"""Helpers the tests share, kept out of the shipped dtmm package.

* :mod:`.keras_models` -- tiny Keras models and synthetic image data for the pruner;
* :mod:`.tiny_tflite` -- a minimal .tflite writer and a checksum lowering for the packer;
* :mod:`.op_cases` -- single-operator .tflite models checked against tflite-micro on the host;
* :mod:`.host_ops` -- the host C harness that runs lowered operators;
* :mod:`.hostbuild` -- CMake/cc host builds of lib/dtmm_kernels with sanitizers;
* :mod:`.conv_cases` -- conv kernel cases (random, targeted, ResNet-8, malformed blobs) and the
  tests/firmware/conv_check runner.

pyproject.toml puts tests/ on the path, so tests import ``support.<module>``.
"""
