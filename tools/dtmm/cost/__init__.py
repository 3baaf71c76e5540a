"""Cost model: predicted instructions per operator on a board, from a calibration measured on QEMU.

Down the pipeline: ``calibration_set`` (the generated models) -> ``measure``
(QEMU runs) -> ``features`` (what an operator's cost depends on) -> ``fit``
(non-negative least squares) -> ``calibration`` (the fitted file, predicting)
-> ``estimate`` (a whole model: predicted instructions, exact flash and arena).
``calibrate`` ties the first five together for `dtmm calibrate`.
"""
