"""The tflite-micro Python interpreter as the reference for packed models.

:func:`tflm_outputs` runs a model on a batch of inputs (what the packed
model must reproduce bit for bit); :func:`tflm_min_arena` finds by bisection
the smallest ``arena_size`` with which the interpreter still loads and runs a
model, the figure the packer's static plan is compared with (each try runs
in a forked child, so the interpreter crashing on some sizes cannot take the
caller down; POSIX only, like the rest of the tool chain).
"""
from __future__ import annotations

import contextlib
import faulthandler
import os
import sys

import numpy as np

from ..errors import DtmmError


def _runtime():
    try:
        from tflite_micro.python.tflite_micro import runtime
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise DtmmError(f"the tflite-micro runtime is not available ({exc})") from None
    return runtime


@contextlib.contextmanager
def _quiet_stderr():
    """TFLM prints allocation failures on the C stderr; silence them during bisection."""
    try:
        fd = sys.stderr.fileno()
    except (AttributeError, ValueError, OSError):
        yield
        return
    sys.stderr.flush()
    saved = os.dup(fd)
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), fd)
            yield
    finally:
        os.dup2(saved, fd)
        os.close(saved)


#: arena of the golden-model runs: the interpreter's default (16 KB) is too small for many models;
#: MCU models need far less than this, and on the host it is only a buffer
GOLDEN_ARENA_BYTES = 16 << 20


def tflm_outputs(model_data: bytes, inputs: np.ndarray) -> list[np.ndarray]:
    """Flattened output of the interpreter for each input in ``inputs`` (N x input shape)."""
    runtime = _runtime()
    it = runtime.Interpreter.from_bytes(bytes(model_data), arena_size=GOLDEN_ARENA_BYTES)
    shape = tuple(it.get_input_details(0)["shape"])
    outs = []
    for x in inputs:
        it.set_input(np.asarray(x).reshape(shape), 0)
        it.invoke()
        outs.append(np.array(it.get_output(0)).reshape(-1))
    return outs


def _runs(runtime, data: bytes, x: np.ndarray, arena: int) -> bool:
    """Whether the interpreter loads and runs the model with this arena, tried in a forked child:
    some arena sizes just too small crash tflite-micro (a tail allocation computes a negative
    free size, seen on a model with STRIDED_SLICE and RESIZE_NEAREST_NEIGHBOR), and a crash
    there must mean "too small", not kill the caller."""
    pid = os.fork()
    if pid == 0:  # child: report by exit status only
        ok = False
        faulthandler.disable()  # a crash here is an answer, not a traceback for the log
        try:
            it = runtime.Interpreter.from_bytes(data, arena_size=arena)
            it.set_input(x, 0)
            it.invoke()
            it.get_output(0)
            ok = True
        except BaseException:  # allocation failures surface as RuntimeError/ValueError
            pass
        finally:
            os._exit(0 if ok else 1)
    _, status = os.waitpid(pid, 0)
    return os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0


def tflm_min_arena(model_data: bytes, hi: int = 1 << 22) -> int:
    """Smallest ``arena_size`` (bytes) with which the tflite-micro interpreter loads and runs the model."""
    runtime = _runtime()
    data = bytes(model_data)
    probe = runtime.Interpreter.from_bytes(data)
    details = probe.get_input_details(0)
    x = np.zeros(tuple(details["shape"]), dtype=details["dtype"])
    del probe
    with _quiet_stderr():
        if not _runs(runtime, data, x, hi):
            raise DtmmError(f"the tflite-micro interpreter cannot run the model even with a {hi}-byte arena")
        lo = 0
        while hi - lo > 1:
            mid = (lo + hi) // 2
            if _runs(runtime, data, x, mid):
                hi = mid
            else:
                lo = mid
    return hi
