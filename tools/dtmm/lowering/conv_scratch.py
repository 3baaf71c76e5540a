"""Scratch bytes of dtmm_conv_s8 for a blob, on every compiled path.

The packer plans the arena statically, before it knows which conv path the
firmware compiles (portable C on Cortex-M0/M3 and the host, the DSP path on
M4/M7/M33, Helium MVE on M55), so a CONV_2D reserves the largest of the
three needs.

The figures come from the kernels' own C code: a small host program
includes dtmm_conv_s8_{c,dsp,mve}_get_buffer_size.c (the DSP and MVE files
with their target feature macros defined, their size computations being
plain C) and prints the three sizes for each blob.  It is compiled once per
process with the host C compiler and rebuilt whenever one of those sources
changes, so the reservation follows the conv paths as they evolve.

Without a host C compiler the sizes come from Python transcriptions of the
same layout code (:func:`c_path_bytes`, :func:`dsp_path_bytes`,
:func:`mve_path_bytes`), which may lag behind the C; the generated init code
compares dtmm_conv_s8_get_buffer_size(blob) with the reservation on the
device either way (DTMM_ERR_ARGUMENT if it does not fit).
"""
from __future__ import annotations

import atexit
import hashlib
import shutil
import subprocess
import tempfile
import warnings
from pathlib import Path


from .. import fwcs
from ..hostbuild import KERNELS_DIR

_PROBE_SOURCES = (
    "src/dtmm_fwcs_view_init.c",
    "src/dtmm_conv_s8_c_get_buffer_size.c",
    "src/dtmm_conv_s8_dsp_get_buffer_size.c",
    "src/dtmm_conv_s8_mve_get_buffer_size.c",
)

_PROBE_C = r"""
/* dtmm.lowering.conv_scratch probe: scratch sizes of the three conv paths. Generated; do not edit. */
#include <stdio.h>
#include <stdlib.h>

#include "dtmm_kernels.h"

#include "dtmm_fwcs_view_init.c"
#include "dtmm_conv_s8_c_get_buffer_size.c"

/* the DSP path's size function as compiled for a core with the DSP extension */
#define __ARM_FEATURE_DSP 1
#define __thumb2__ 1
#define dtmm_conv_s8_dsp_get_buffer_size dtmm_probe_dsp_get_buffer_size
#include "dtmm_conv_s8_dsp_get_buffer_size.c"
#undef __ARM_FEATURE_DSP
#undef __thumb2__

/* the MVE path's size function as compiled for a core with integer Helium */
#define __ARM_FEATURE_MVE 3
#define dtmm_conv_s8_mve_get_buffer_size dtmm_probe_mve_get_buffer_size
#include "dtmm_conv_s8_mve_get_buffer_size.c"
#undef __ARM_FEATURE_MVE

int32_t dtmm_probe_dsp_get_buffer_size(const dtmm_fwcs_view *v);
int32_t dtmm_probe_mve_get_buffer_size(const dtmm_fwcs_view *v);

static uint8_t blob[1u << 22] __attribute__((aligned(16)));

int main(void)
{
    unsigned long n;
    while (scanf("%lu", &n) == 1) {
        dtmm_fwcs_view v;
        if (n > sizeof blob || fread(blob, 1, 1, stdin) != 1 || fread(blob, 1, n, stdin) != n ||
            dtmm_fwcs_view_init(blob, &v) != DTMM_OK) {
            return 3;
        }
        printf("%ld %ld %ld\n", (long)dtmm_conv_s8_c_get_buffer_size(&v), (long)dtmm_probe_dsp_get_buffer_size(&v),
               (long)dtmm_probe_mve_get_buffer_size(&v));
    }
    return 0;
}
"""

_probe: dict = {}  # key -> executable path (or None when it cannot be built)
probe_error = ""  # compiler output of the last failed probe build
_results: dict = {}  # (key, blob digest) -> (c, dsp, mve)


def _sources_key() -> str:
    h = hashlib.sha256(_PROBE_C.encode())
    paths = [KERNELS_DIR / s for s in _PROBE_SOURCES]
    paths += sorted((KERNELS_DIR / "include").glob("*.h")) + sorted((KERNELS_DIR / "src").glob("*.h"))
    for p in paths:
        h.update(p.name.encode())
        h.update(p.read_bytes() if p.is_file() else b"<missing>")
    return h.hexdigest()[:16]


def host_compiler() -> str | None:
    for cc in ("cc", "gcc", "clang"):
        if shutil.which(cc):
            return cc
    return None


def _probe_exe(key: str) -> Path | None:
    if key in _probe:
        return _probe[key]
    exe = None
    cc = host_compiler()
    if cc is not None:
        d = Path(tempfile.mkdtemp(prefix="dtmm-conv-scratch-"))
        atexit.register(shutil.rmtree, d, True)
        src = d / "probe.c"
        src.write_text(_PROBE_C)
        cmd = [cc, "-std=c99", "-O1", "-w", "-I", str(KERNELS_DIR / "include"), "-I", str(KERNELS_DIR / "src"),
               str(src), "-o", str(d / "probe")]  # fmt: skip
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode == 0:
            exe = d / "probe"
        else:
            global probe_error
            probe_error = proc.stderr.strip()[-2000:]
            warnings.warn(
                "dtmm.lowering: could not build the conv scratch probe; conv scratch sizes come from the "
                f"Python fallback: {probe_error.splitlines()[-1] if probe_error else '?'}",
                stacklevel=3,
            )
    _probe[key] = exe
    return exe


def probe_available() -> bool:
    """True when the sizes come from the C code (a host compiler built the probe)."""
    return _probe_exe(_sources_key()) is not None


def c_probe_bytes(blobs: list[bytes]) -> list[tuple[int, int, int]] | None:
    """(portable, DSP, MVE) scratch bytes per blob from the kernels' C code, or None without a compiler."""
    key = _sources_key()
    exe = _probe_exe(key)
    if exe is None:
        return None
    digests = [hashlib.sha256(b).hexdigest() for b in blobs]
    todo = [i for i, dg in enumerate(digests) if (key, dg) not in _results]
    if todo:
        payload = b"".join(f"{len(blobs[i])}\n".encode() + blobs[i] for i in todo)
        proc = subprocess.run([str(exe)], input=payload, capture_output=True)
        lines = proc.stdout.decode().split("\n")
        if proc.returncode != 0 or len(lines) < len(todo):
            return None
        for i, line in zip(todo, lines):
            c, dsp, mve = (int(v) for v in line.split())
            _results[(key, digests[i])] = (c, dsp, mve)
    return [_results[(key, dg)] for dg in digests]


# --------------------------------------------------------------------------- Python fallback


def _a16(n: int) -> int:
    return (n + 15) & ~15


def c_path_bytes(h: fwcs.FwcsHeader) -> int:
    """dtmm_conv_s8_c_get_buffer_size."""
    s = h.spec
    if s.kh * s.kw > 32:
        return 0
    if h.encoding == fwcs.ENC_DENSE:
        return 4 * s.cout
    return 12 * s.cout + 4 + ((2 * h.n_kept + 3) & ~3)


def dsp_path_bytes(h: fwcs.FwcsHeader) -> int:
    """dtmm_dsp_make_plan (src/dtmm_conv_dsp_internal.h, default budgets)."""
    s = h.spec
    kh, kw, cin, cout = s.kh, s.kw, s.cin, s.cout
    sw, dw, dh = s.stride_w, s.dilation_w, s.dilation_h
    positions = kh * kw
    groups = (cin + 3) // 4
    if positions > 32 or groups > 64:
        return c_path_bytes(h)
    cin4 = groups * 4
    phases: list[int] = []
    hq = 0
    for j in range(kw):
        a = j * dw
        if a % sw not in phases:
            phases.append(a % sw)
        if a // sw > 255:
            return c_path_bytes(h)
        hq = max(hq, a // sw)
    n_ph = len(phases)
    span = (kh - 1) * dh + 1
    slots = span if span <= 2 * kh and span <= 32 else kh
    blocks = (s.out_w + 3) // 4
    row_unit = slots * groups * n_ph * 8
    tb = blocks
    while tb > 1 and row_unit * ((4 * tb + hq + 3) & ~3) > 4096:
        tb -= 1
    tiles = (blocks + tb - 1) // tb
    tile_blocks = (blocks + tiles - 1) // tiles
    cols = (4 * tile_blocks + hq + 3) & ~3
    slot_bytes = groups * n_ph * cols * 8
    repack_bytes = min(h.n_kept * cin4, max(2048, positions * cin4)) if cin & 3 else 0
    total = _a16(32 * cout) + slots * slot_bytes + _a16(repack_bytes) + _a16(cout)
    total += 0 if cin & 3 else _a16(cin)
    return total if total <= 12288 else c_path_bytes(h)


def mve_path_bytes(h: fwcs.FwcsHeader) -> int:
    """dtmm_mve_layout_compute (src/dtmm_conv_mve_internal.h, default ring budget)."""
    s = h.spec
    kh, kw, cin, cout = s.kh, s.kw, s.cin, s.cout
    sw, dw, dh = s.stride_w, s.dilation_w, s.dilation_h
    P = kh * kw
    if P > 32:
        return c_path_bytes(h)
    patch = cin < 16 and P * cin <= 64
    cin_eff, pos_eff = (_a16(P * cin), 1) if patch else (cin, P)
    step = cin_eff if patch else sw * cin
    pair = (cin_eff, step) in ((16, 16), (16, 32), (32, 32), (32, 64), (64, 64))
    tab_entry = 4 if pair else 16
    n_blocks = (s.out_w + 3) // 4
    run_max = min(n_blocks, 8)
    edge_w = 3 * sw + (kw - 1) * dw + 1
    ring_w = (4 * n_blocks - 1) * sw + (kw - 1) * dw + 1
    hpad = s.pad_left > 0 or ring_w > s.in_w
    vpad = s.pad_top > 0 or (s.out_h - 1) * s.stride_h + (kh - 1) * dh >= s.in_h
    ring_rows = (kh - 1) * dh + 1 if hpad else 0
    row_bytes = _a16(ring_w * cin)
    ring_bytes = (ring_rows + int(vpad)) * row_bytes
    ring = ring_bytes <= 12288
    list_bytes = (P if h.encoding == fwcs.ENC_DENSE else h.n_kept) + 1
    blocks_per_call = run_max if ring else 1
    off = _a16((cout + 3) * (11 * 4 + 8) + 11 * 4 + (cout // 2 + 1) * 32)
    off += _a16(blocks_per_call * pos_eff * tab_entry + 16)
    off += max(_a16(cin_eff), 32) + 16
    off += _a16(1 if patch else list_bytes)
    if patch:
        off += _a16(cout * cin_eff)
    if ring:
        off += ring_bytes
    w = 0 if ring else _a16(kh * edge_w * cin)
    if patch:
        w += blocks_per_call * 4 * cin_eff
    w += _a16(4 * cout)
    return off + max(w, _a16(4 * cout))


def python_path_bytes(blob: bytes) -> tuple[int, int, int]:
    h = fwcs.validate(blob)
    return c_path_bytes(h), dsp_path_bytes(h), mve_path_bytes(h)


# --------------------------------------------------------------------------- API


def path_bytes(blob: bytes) -> dict[str, int]:
    """{"c": ..., "dsp": ..., "mve": ...}: dtmm_conv_s8_get_buffer_size(blob) of each path."""
    got = c_probe_bytes([blob])
    c, dsp, mve = got[0] if got is not None else python_path_bytes(blob)
    return {"c": c, "dsp": dsp, "mve": mve}


def conv_scratch_bytes(blob: bytes) -> int:
    """Scratch to reserve for dtmm_conv_s8(blob, ...): the largest need of the three paths, 16-aligned."""
    fwcs.validate(blob)
    sizes = path_bytes(blob)
    if min(sizes.values()) < 0:
        raise fwcs.FwcsError(f"a conv path rejects the blob (sizes {sizes})")
    return _a16(max(sizes.values()))


__all__ = ["conv_scratch_bytes", "path_bytes", "probe_available", "python_path_bytes"]
