"""The DTMM pruner: filter (channel), filterlet and channel-group pruning of Keras models to flash, SRAM and latency budgets.

Modules, from the bottom up:

* ``budget``     -- budgets parsed and formatted: flash and SRAM sizes ("64KB", "48KiB", "50%"), latency ("12M", "60%");
* ``data``       -- image-folder / .tar.gz / .npz datasets and deterministic splits;
* ``graph``      -- Keras graph analysis: conv layers, BatchNorm, channel groups;
* ``costs``      -- exact FWCS bytes of conv layers (GROUPS blobs of group-pruned 1x1 / Dense), dense bytes of the rest;
* ``groups``     -- channel groups: which 1x1 Conv2D / Dense layers take the unit, in groups of how many channels;
* ``importance`` -- first-order Taylor and magnitude importance per filter / filterlet / channel group;
* ``sensitivity`` -- per-layer factors (measured loss increase over scores removed) folded into importance;
* ``resources``  -- a plan state's predicted instructions (the board's cost model) and activation arena;
* ``plan``       -- the greedy budget-driven plan (per-layer filter, filterlet and channel-group ratios);
* ``checked_plan`` -- plans with SRAM/latency budgets checked on their int8 conversion, and infeasibility;
* ``surgery``    -- physical filter removal (a smaller dense Keras model), filterlet and channel-group masks;
* ``distill``    -- knowledge distillation: the teacher's softened outputs blended into the loss;
* ``train``      -- masked fine-tuning under a tf.distribute strategy;
* ``export``     -- full-integer int8 .tflite export, checks, tflite-micro evaluation;
* ``pipeline``   -- the whole `dtmm prune` run (its click front end is :mod:`dtmm.cli.prune`);
* ``magnitude``  -- no training: smallest-L1 filterlets zeroed in an int8 .tflite (inspect, benchmarks).

A new pruning method (or a scheduler choosing per-layer ratios) is a module
beside ``plan``; it shares ``graph``, ``costs``, ``importance``, ``surgery``,
``train`` and ``export``.  Only ``budget``, ``data`` and ``magnitude`` can be
imported without TensorFlow.
"""
