"""Channel groups: the pruning unit finer than a filter where a filterlet is a whole filter.

In a 1x1 Conv2D or a Dense layer one filter (one output row) is one
filterlet, so filterlet pruning can only remove whole filters. A channel
group is ``g`` consecutive input channels of one filter, removed as a whole
and skipped by the GROUPS kernels (docs/fwcs.md 5.5).

``g`` is chosen per layer for the board's kernel path, from what the kernels
run fast (docs/kernels.md, `dtmm bench groups`): Helium wants 64-channel
groups (its four-pixel bodies exist for 16, 32 and 64; narrower groups waste
lanes -- a 4-channel DS-CNN ran 5.7x its dense instructions); the DSP path
walks its group mask per 4-pixel block, which 16 channels amortize better
than 4 or 8; portable C takes anything and gets 16. A layer takes the unit
only if some ``g`` of its path's list divides its input channels into 2 to
``MAX_GROUPS`` groups (the SIMD fast paths hold one 32-bit mask per filter);
without a board the DSP list is used.
"""
from __future__ import annotations

import numpy as np

from .graph import K_CONV, K_DENSE, GraphAnalysis

#: group sizes per kernel path, preferred first
GROUP_SIZES = {"mve": (64, 32, 16), "dsp": (16, 32, 64, 8), "c": (16, 32, 64, 8)}
#: most groups per filter the SIMD fast paths take (one 32-bit mask word per filter)
MAX_GROUPS = 32
#: the `--group-size` choices besides an explicit number of channels
GROUP_SIZE_CHOICES = ("auto", "off")


def group_size(cin: int, path: str = "dsp") -> int:
    """The channel-group size for a layer of `cin` input channels on kernel `path`, 0 if none fits."""
    for g in GROUP_SIZES[path]:
        if cin % g == 0 and 2 <= cin // g <= MAX_GROUPS:
            return g
    return 0


def group_layers(analysis: GraphAnalysis) -> dict[str, int]:
    """Layers that can take the unit -> their input channels: 1x1 Conv2D (any stride, not a grouped
    conv) and Dense layers."""
    out = {}
    for name in analysis.order:
        info = analysis.layers[name]
        layer = analysis.model.get_layer(name)
        if info.kind == K_CONV:
            kh, kw, cin, _ = (int(d) for d in layer.kernel.shape)
            if (kh, kw) == (1, 1) and int(getattr(layer, "groups", 1) or 1) == 1:
                out[name] = cin
        elif info.kind == K_DENSE and len(layer.kernel.shape) == 2:
            out[name] = int(layer.kernel.shape[0])
    return out


def parse_group_size(value: str) -> str | int:
    """`--group-size`: 'auto', 'off' or a number of channels (1..255)."""
    from ..errors import DtmmError

    v = str(value).strip().lower()
    if v in GROUP_SIZE_CHOICES:
        return v
    if not v.isdigit() or not 1 <= int(v) <= 255:
        raise DtmmError(f"--group-size {value!r}: choose auto, off or a number of channels from 1 to 255")
    return int(v)


def layer_group_sizes(analysis: GraphAnalysis, choice: str | int = "auto", path: str | None = None) -> dict[str, int]:
    """Layer name -> group size for every layer offered the unit (`choice`: 'auto' per `path`, 'off', or
    a fixed size, offered where it divides the input channels into at least 2 groups)."""
    if choice == "off":
        return {}
    out = {}
    for name, cin in group_layers(analysis).items():
        if choice == "auto":
            g = group_size(cin, path or "dsp")
        else:
            g = int(choice) if cin % int(choice) == 0 and cin // int(choice) >= 2 else 0
        if g:
            out[name] = g
    return out


def kernel_group_masks(analysis: GraphAnalysis, sizes: dict[str, int]) -> dict[str, np.ndarray]:
    """Layer name -> channel-group keep mask [cout, cin // g] read from the kernel's zeros (a group is
    kept while any of its weights is nonzero), for pruning in several stages."""
    out = {}
    for name, g in sizes.items():
        k = analysis.model.get_layer(name).kernel.numpy()
        k2 = k.reshape(-1, k.shape[-1])  # [cin, cout] for both 1x1 Conv2D (HWIO) and Dense
        out[name] = np.any(k2.reshape(k2.shape[0] // g, g, k2.shape[1]) != 0, axis=1).T
    return out


def kernel_mask(keep: np.ndarray, group: int, kernel_shape: tuple) -> np.ndarray:
    """float32 mask of a 1x1 Conv2D (HWIO) or Dense ([in, out]) kernel from a group keep mask [cout, cin // g]."""
    m = np.repeat(keep.T, group, axis=0)  # [cin, cout]
    return m.reshape(kernel_shape).astype(np.float32)
