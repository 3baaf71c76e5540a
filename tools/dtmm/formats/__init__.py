"""Storage formats of pruned conv weights, each with its codec, C emission and numpy reference.

* :mod:`.fwcs` -- FWCS, DTMM's filterlet-wise compressed storage (docs/fwcs.md).

A format sits below every stage that stores or runs weights: the pruner
counts its exact bytes, the packer emits it, the kernels read it.  It
imports nothing from those stages.
"""
