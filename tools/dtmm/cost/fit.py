"""Fitting a group's instructions as a non-negative linear function of its counts.

Every count in ``dtmm.cost.features`` is a number of times some loop of a
kernel runs, so a coefficient is instructions per iteration and can never be
negative; non-negative least squares (Lawson and Hanson's active-set method)
keeps the fit physical and stops it from trading one count against another
where the calibration shapes happen to correlate them. Rows are weighted by
1/instructions so that the fit minimizes *relative* error: a 200-instruction
SOFTMAX matters as much, in percent, as a 2-million-instruction conv.
"""
from __future__ import annotations

import numpy as np


def nnls(a: np.ndarray, b: np.ndarray, max_iter: int | None = None) -> np.ndarray:
    """x >= 0 minimizing ||a x - b||_2 (Lawson-Hanson)."""
    m, n = a.shape
    x = np.zeros(n)
    passive = np.zeros(n, dtype=bool)
    w = a.T @ (b - a @ x)
    tol = 10 * np.finfo(float).eps * np.linalg.norm(a, 1) * max(m, n)
    for _ in range(max_iter or 3 * n):
        if passive.all() or w[~passive].max(initial=-np.inf) <= tol:
            break
        j = np.argmax(np.where(passive, -np.inf, w))
        passive[j] = True
        while True:
            z = np.zeros(n)
            z[passive] = np.linalg.lstsq(a[:, passive], b, rcond=None)[0]
            if z[passive].min() > 0:
                x = z
                break
            neg = passive & (z <= 0)
            alpha = np.min(x[neg] / (x[neg] - z[neg]))
            x = x + alpha * (z - x)
            passive &= x > tol
            x[~passive] = 0.0
        w = a.T @ (b - a @ x)
    return x


def fit_group(counts: np.ndarray, instructions: np.ndarray) -> np.ndarray:
    """Coefficients (instructions per count) for rows `counts` [n, p] measured as `instructions` [n]."""
    x = np.asarray(counts, dtype=float)
    y = np.asarray(instructions, dtype=float)
    weight = 1.0 / np.maximum(y, 1.0)
    a = x * weight[:, None]
    scale = np.linalg.norm(a, axis=0)
    scale[scale == 0] = 1.0
    coef = nnls(a / scale, y * weight) / scale
    return coef


def relative_errors(counts: np.ndarray, instructions: np.ndarray, coef: np.ndarray) -> np.ndarray:
    """(predicted - measured) / measured per row."""
    y = np.asarray(instructions, dtype=float)
    return (np.asarray(counts, dtype=float) @ coef - y) / np.maximum(y, 1.0)
