"""Benchmarks: exact QEMU-retired instruction counts, printed as tables or JSON.

* :mod:`.kernels` -- `dtmm bench kernels`: the conv kernels on every conv layer of a real model;
* :mod:`.models` -- `dtmm bench models`: whole models (ResNet-8, DS-CNN, MobileNet, FC autoencoder) per board;
* :mod:`.model_layers` -- the conv layers of a real model and their input activations.

Benchmarks print targets; tests never time anything.
"""
