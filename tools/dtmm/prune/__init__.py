"""The DTMM pruner: filter (channel) and filterlet pruning of Keras models to a flash budget.

Modules, from the bottom up:

* ``budget``     -- flash sizes ("64KB", "48KiB", "50%") and atomic file writes;
* ``data``       -- image-folder / .tar.gz / .npz datasets and deterministic splits;
* ``graph``      -- Keras graph analysis: conv layers, BatchNorm, channel groups;
* ``costs``      -- exact FWCS bytes of conv layers, dense bytes of the rest;
* ``importance`` -- first-order Taylor and magnitude importance per filter / filterlet;
* ``plan``       -- the greedy budget-driven plan (per-layer filter and filterlet ratios);
* ``surgery``    -- physical filter removal (a smaller dense Keras model) and filterlet masks;
* ``train``      -- masked fine-tuning under a tf.distribute strategy;
* ``export``     -- full-integer int8 .tflite export, checks, tflite-micro evaluation;
* ``pipeline``   -- the whole `dtmm prune` run; ``command`` is its click front end.

Only ``budget``, ``data`` and ``command`` can be imported without TensorFlow.
"""
