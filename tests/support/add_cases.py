"""ADD chains that reach every case of the ADD kernels (its paths and variants): shared by the SIMD
bit-exactness tests and the variant tests."""
from __future__ import annotations

import numpy as np

from support.op_cases import ModelBuilder, activation_code

ACTS = ["NONE", "RELU", "RELU6", "RELU_N1_TO_1"]


def random_quant(rng, lo=0.004, hi=0.3):
    """(scale, zero point): a float32 scale log-uniform in [lo, hi], any int8 zero point."""
    return float(np.float32(np.exp(rng.uniform(np.log(lo), np.log(hi))))), int(rng.integers(-128, 128))


def add_chain(seed: int, shape, n_ops: int = 11) -> bytes:
    """x -> ADDs with constants of the full shape, of the last dim, of one
    element, broadcast along H or W, with the previous tensor and with x; every
    activation; random scales (one huge output scale, one tiny), equal input
    scales (input shifts 0, the ResNet residual case, also with a broadcast
    operand) and an output scale small enough for an output shift of 0."""
    rng = np.random.default_rng(seed)
    b = ModelBuilder()
    qx = random_quant(rng)
    x = b.tensor(shape, scale=qx[0], zero_point=qx[1])
    prev, cur = x, x
    kinds = ["full", "last", "scalar", "h", "prev", "w", "x", "full_rev", "same", "same_last", "full"]
    scales = {x: qx[0]}
    for k in range(n_ops):
        kind = kinds[k % len(kinds)]
        qo = random_quant(rng, 0.01, 0.5)
        if k == 2:
            qo = (8.0, 127)  # output scale far above the inputs': output shift 0 territory
        if k == 5:
            qo = (0.001, -128)
        if k == 10:  # output multiplier 2 * max_in / (2^20 * out) in [0.5, 1): output shift 0
            qo = (float(np.float32(2 * max(scales[cur], 0.3) / 2**20 / 0.7)), 3)
        if kind in ("full", "full_rev", "last", "scalar", "h", "w", "same", "same_last"):
            cshape = {"full": shape, "full_rev": shape, "last": [shape[-1]], "scalar": [1], "same": shape,
                      "same_last": [shape[-1]], "h": [1, shape[1], 1, 1], "w": [1, 1, shape[2], shape[3]]}[kind]  # fmt: skip
            qc = random_quant(rng, 0.001, 1.0)
            if kind.startswith("same"):
                qc = (scales[cur], int(rng.integers(-128, 128)))
            if k == 10:
                qc = (0.3, qc[1])
            other = b.tensor(cshape, scale=qc[0], zero_point=qc[1],
                             data=rng.integers(-128, 128, size=cshape).astype(np.int8))  # fmt: skip
        else:
            other = {"prev": prev, "x": x}[kind]
        y = b.tensor(shape, scale=qo[0], zero_point=qo[1])
        scales[y] = qo[0]
        ins = [other, cur] if kind in ("full_rev", "h") else [cur, other]
        b.op("ADD", ins, [y], "AddOptions", fusedActivationFunction=activation_code(ACTS[k % 4]))
        prev, cur = cur, y
    return b.build([x], [cur])
