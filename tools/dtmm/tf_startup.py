"""TensorFlow start-up without its chatter, for the commands that train or build Keras models.

TensorFlow's C++ runtime prints its oneDNN notice, the absl preamble and the
CUDA probe ("Could not find cuda drivers", "failed call to cuInit") straight
to file descriptor 2 before its own log level applies, so a CPU-only machine
gets a screen of warnings ahead of every `dtmm prune`. Importing it once here
with fd 1/2 silenced leaves the command's own output clean; an import failure
still raises with its message.
"""
from __future__ import annotations

import contextlib
import os
import sys


@contextlib.contextmanager
def quiet_fds():
    """Silences C++ and Python output on stdout/stderr (fds 1 and 2) inside the block, restored afterwards."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = [os.dup(1), os.dup(2)]
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 1)
        os.dup2(devnull, 2)
        with contextlib.redirect_stdout(open(os.devnull, "w")):
            yield
    finally:
        sys.stdout.flush()
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        for fd in (*saved, devnull):
            os.close(fd)


def quiet_tensorflow() -> None:
    """Imports TensorFlow (once) and probes its devices with stdout/stderr silenced."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    if "tensorflow" in sys.modules:
        return
    with quiet_fds():
        import tensorflow as tf

        tf.config.list_physical_devices()  # the CUDA probe, whose failure TensorFlow reports on stderr
