"""CHIP's channel independence: the filter scores of the `filter` baseline method.

CHIP (Sui et al., NeurIPS 2021) scores a feature-map channel by how much the
nuclear norm of the layer's feature maps drops when that channel is removed:
a channel that is a combination of the others carries little independent
information. Per calibration image, the feature map A of a producer (its
output after the folded BatchNorm and a following activation, C x H*W) gives
``CI_c = ||A||_* - ||A without row c||_*``, averaged over the images. The
singular values come from the eigenvalues of the C x C Gram matrix A A^T, and
removing row c is removing row and column c of it, so each layer costs C+1
small symmetric eigenproblems per image.

Our plan is global across layers (a budget, not CHIP's per-layer ratios), so
a producer's scores are divided by their mean -- each layer's average channel
scores 1 -- and a channel class (filters tied by residual ADDs) sums the
scores of its producers' channels.
"""
from __future__ import annotations

import numpy as np

from ..errors import DtmmError
from .data import preprocess
from .graph import K_CONV, K_DENSE, GraphAnalysis
from .importance import Importance

ACTIVATION_LAYERS = ("ReLU", "Activation", "LeakyReLU", "ELU", "PReLU")


def feature_layer(analysis: GraphAnalysis, name: str) -> str:
    """The layer whose output is `name`'s feature map: after its folded BatchNorm and a sole activation."""
    cur = analysis.layers[name].folded_bn or name
    consumers = analysis.layers[cur].consumers
    if len(consumers) == 1 and analysis.layers[consumers[0]].class_name in ACTIVATION_LAYERS:
        cur = consumers[0]
    return cur


def nuclear_norm_drops(maps: np.ndarray) -> np.ndarray:
    """maps [N, C, M] -> mean over N of ||A||_* - ||A without row c||_*, per c ([C])."""
    gram = np.einsum("ncm,ndm->ncd", maps, maps)
    full = np.sqrt(np.clip(np.linalg.eigvalsh(gram), 0.0, None)).sum(axis=1)
    c = maps.shape[1]
    out = np.zeros(c)
    for k in range(c):
        keep = np.arange(c) != k
        sub = gram[:, keep][:, :, keep]
        out[k] = float(np.mean(full - np.sqrt(np.clip(np.linalg.eigvalsh(sub), 0.0, None)).sum(axis=1)))
    return out


def chip_importance(analysis: GraphAnalysis, x, *, batch_size: int = 32, preprocess_mode: str = "raw",
                    progress: bool = True) -> Importance:  # fmt: skip
    """Channel-class scores from CHIP's channel independence on the calibration images `x`."""
    import keras

    if len(x) == 0:
        raise DtmmError("no calibration samples for CHIP's channel independence")
    model = analysis.model
    producers = [n for n in analysis.order if analysis.layers[n].kind in (K_CONV, K_DENSE)]
    taps = [feature_layer(analysis, n) for n in producers]
    probe = keras.Model(model.inputs[0], [model.get_layer(t).output for t in taps])
    sums = {n: None for n in producers}
    starts = range(0, len(x), batch_size)
    it = starts
    if progress:
        from tqdm import tqdm

        it = tqdm(starts, desc="importance (chip)", unit="batch", leave=False)
    for s in it:
        outs = probe(preprocess(x[s : s + batch_size], preprocess_mode), training=False)
        outs = outs if isinstance(outs, (list, tuple)) else [outs]
        for n, a in zip(producers, outs):
            a = np.asarray(a, dtype=np.float64)
            maps = a.reshape(a.shape[0], -1, a.shape[-1]).transpose(0, 2, 1)  # [N, C, positions]
            drop = nuclear_norm_drops(maps) * a.shape[0]
            sums[n] = drop if sums[n] is None else sums[n] + drop
    channel = np.zeros(len(analysis.classes))
    for n in producers:
        ci = sums[n] / len(x)
        ci = ci / max(float(np.mean(np.abs(ci))), 1e-12)
        ids = analysis.class_ids(analysis.layers[n].out_maps[0])
        ok = ids >= 0
        np.add.at(channel, ids[ok], ci[ok])
    filterlet = {n: np.zeros((analysis.geometry(n).cout, analysis.geometry(n).kh, analysis.geometry(n).kw))
                 for n in analysis.conv_layers()}  # fmt: skip
    return Importance("chip", filterlet, channel, samples=int(len(x)), batches=len(starts))
