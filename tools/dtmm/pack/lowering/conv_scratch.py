"""Scratch bytes and kernel variant of dtmm_conv_s8 for a blob, on every compiled path.

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

The same probe reports the kernel variant each path selects for the blob
(dtmm_mve_variant(), dtmm_dsp_variant(): the rule the firmware runs, see
docs/kernels.md "Variant selection"), so the generated code can list
exactly the variants its layers use and the linker drop the others.

The C code is the only source of these sizes (a Python transcription would
drift as the kernels evolve), so packing needs a host C compiler, which
`make bootstrap` installs.  The generated init code also compares
dtmm_conv_s8_get_buffer_size(blob) with the reservation on the device
(DTMM_ERR_ARGUMENT if it does not fit).
"""
from __future__ import annotations

import atexit
import hashlib
import shutil
import subprocess
import tempfile
from pathlib import Path

from ...errors import DtmmError
from ...formats import fwcs
from ...paths import KERNELS_DIR

_PROBE_SOURCES = (
    "src/fwcs/dtmm_fwcs_view_init.c",
    "src/conv/dtmm_conv_flat_view.h",
    "src/conv/dtmm_conv_s8_c_get_buffer_size.c",
    "src/conv/dtmm_conv_s8_dsp_get_buffer_size.c",
    "src/conv/dtmm_conv_dsp_band_plan.c",
    "src/conv/dtmm_conv_dsp_elem_plan.c",
    "src/conv/dtmm_conv_s8_mve_get_buffer_size.c",
    "src/conv/dtmm_conv_mve_layout.c",
    "src/conv/dtmm_conv_mve_elem_layout.c",
)

_PROBE_C = r"""
/* dtmm.pack.lowering.conv_scratch probe: scratch sizes and variants of the three conv paths. Generated; do not edit. */
#include <stdio.h>
#include <stdlib.h>

#include "dtmm_kernels.h"

#include "dtmm_conv_flat_view.h"
#include "dtmm_fwcs_view_init.c"
#include "dtmm_conv_s8_c_get_buffer_size.c"

/* the DSP path's size function as compiled for a core with the DSP extension */
#define __ARM_FEATURE_DSP 1
#define __thumb2__ 1
#define dtmm_conv_s8_dsp_get_buffer_size dtmm_probe_dsp_get_buffer_size
#include "dtmm_conv_s8_dsp_get_buffer_size.c"
#include "dtmm_conv_dsp_band_plan.c"
#include "dtmm_conv_dsp_elem_plan.c"
#undef __ARM_FEATURE_DSP
#undef __thumb2__

/* the MVE path's size function as compiled for a core with integer Helium */
#define __ARM_FEATURE_MVE 3
#define dtmm_conv_s8_mve_get_buffer_size dtmm_probe_mve_get_buffer_size
#include "dtmm_conv_s8_mve_get_buffer_size.c"
#include "dtmm_conv_mve_layout.c"
#include "dtmm_conv_mve_elem_layout.c"
#undef __ARM_FEATURE_MVE

int32_t dtmm_probe_dsp_get_buffer_size(const dtmm_fwcs_view *v);
int32_t dtmm_probe_mve_get_buffer_size(const dtmm_fwcs_view *v);

#define DTMM_PROBE_NAME_(id, name) [id] = #name,
static const char *const variant_names[DTMM_CONV_VARIANT_COUNT] = {DTMM_CONV_VARIANTS(DTMM_PROBE_NAME_)};

static uint8_t blob[1u << 22] __attribute__((aligned(16)));

int main(void)
{
    unsigned long n;
    while (scanf("%lu", &n) == 1) {
        dtmm_fwcs_view view;
        if (n > sizeof blob || fread(blob, 1, 1, stdin) != 1 || fread(blob, 1, n, stdin) != n ||
            dtmm_fwcs_view_init(blob, &view) != DTMM_OK) {
            return 3;
        }
        dtmm_fwcs_header flat; /* the layer as dtmm_conv_s8() hands it to its path */
        dtmm_conv_flatten(&view, &flat);
        const dtmm_fwcs_view v = view;
        dtmm_mve_layout layout;
        printf("%ld %ld %ld %s %s", (long)dtmm_conv_s8_c_get_buffer_size(&v), (long)dtmm_probe_dsp_get_buffer_size(&v),
               (long)dtmm_probe_mve_get_buffer_size(&v), variant_names[dtmm_dsp_variant(v.hdr)],
               variant_names[dtmm_mve_variant(&v, &layout)]);
        /* the DSP band kernel's plan of the layer (dtmm_dsp_make_band_plan()), or '-' when it does not run it */
        dtmm_dsp_plan band;
        if (v.hdr->encoding != DTMM_FWCS_ENC_GROUPS && dtmm_dsp_variant(v.hdr) == DTMM_CONV_V_dsp_band) {
            dtmm_conv_dsp_band_plan(v.hdr, &band);
            printf(" %u %u %u %u %u %u %u %u %u", (unsigned)band.phases, (unsigned)band.ring, (unsigned)band.slots,
                   (unsigned)band.blocks, (unsigned)band.tile_blocks, (unsigned)band.cols, (unsigned)band.groups,
                   (unsigned)band.repack, (unsigned)band.repack_bytes);
        } else {
            printf(" -");
        }
        /* the DSP element-list kernel's plan (dtmm_dsp_make_elem_plan()), or '-' */
        dtmm_dsp_elem_plan elem;
        if (v.hdr->encoding != DTMM_FWCS_ENC_GROUPS && dtmm_dsp_variant(v.hdr) == DTMM_CONV_V_dsp_elem &&
            dtmm_conv_dsp_elem_plan(v.hdr, &elem)) {
            printf(" %u %u %u", (unsigned)elem.pairs, (unsigned)elem.plane, (unsigned)elem.rec_bytes);
        } else {
            printf(" -");
        }
        /* the MVE path's plan of the layer (dtmm_mve_layout_compute()), or '-' when its layout rejects it */
        if (v.hdr->encoding != DTMM_FWCS_ENC_GROUPS && dtmm_conv_mve_layout(v.hdr, &layout) == 0) {
            printf(" %u %u %u %u %u %u %u %u %u %u %u", (unsigned)layout.rows, (unsigned)layout.patch,
                   (unsigned)layout.items, (unsigned)layout.pgather, (unsigned)layout.n_blocks, (unsigned)layout.ring_w,
                   (unsigned)layout.edge_w, (unsigned)layout.win_rows, (unsigned)layout.pitch, (unsigned)layout.cin_eff,
                   (unsigned)layout.last_edge);
        } else {
            printf(" -");
        }
        /* the MVE element-list kernel's layout (dtmm_mve_elem_layout_compute()), or '-' */
        dtmm_mve_elem_layout mve_elem;
        if (v.hdr->encoding != DTMM_FWCS_ENC_GROUPS && dtmm_mve_variant(&v, &layout) == DTMM_CONV_V_mve_elem &&
            dtmm_conv_mve_elem_layout(v.hdr, &mve_elem) == 0) {
            printf(" %u\n", (unsigned)mve_elem.rec_bytes);
        } else {
            printf(" -\n");
        }
    }
    return 0;
}
"""

#: the fields of the MVE path's plan the probe prints (dtmm_mve_layout, dtmm_conv_mve_internal.h); rows:
#: 0 read straight from the input, 1 through a zero-point padded row window, 2 per-block edge patches
MVE_PLAN_FIELDS = ("rows", "patch", "items", "pgather", "n_blocks", "ring_w", "edge_w", "win_rows", "pitch",
                   "cin_eff", "last_edge")

#: the fields of the DSP band kernel's plan the probe prints (dtmm_dsp_plan, dtmm_conv_dsp_internal.h)
DSP_BAND_PLAN_FIELDS = ("phases", "ring", "slots", "blocks", "tile_blocks", "cols", "groups", "repack",
                        "repack_bytes")
#: ... of the DSP element-list kernel's plan (dtmm_dsp_elem_plan): pair kernel, int16 plane, record bytes
DSP_ELEM_PLAN_FIELDS = ("pairs", "plane", "rec_bytes")
#: ... of the Helium element-list kernel's layout (dtmm_mve_elem_layout): record bytes per filter batch
MVE_ELEM_PLAN_FIELDS = ("rec_bytes",)


def _plan(words: list[str], fields: tuple[str, ...]) -> tuple[dict | None, list[str]]:
    """One plan off the front of a probe line's words ('-' when the path does not plan the layer) and the rest."""
    if words[:1] == ["-"]:
        return None, words[1:]
    return dict(zip(fields, (int(x) for x in words[:len(fields)]))), words[len(fields):]


_probe: dict = {}  # key -> executable path (or None when it cannot be built)
probe_error = ""  # compiler output of the last failed probe build
_results: dict = {}  # (key, blob digest) -> (c, dsp, mve, dsp variant, mve variant, {kernel: plan or None})


def _sources_key() -> str:
    h = hashlib.sha256(_PROBE_C.encode())
    paths = [KERNELS_DIR / s for s in _PROBE_SOURCES]
    paths += sorted((KERNELS_DIR / "include").glob("*.h")) + sorted((KERNELS_DIR / "src").rglob("*.h"))
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
        cmd = [cc, "-std=c99", "-O1", "-w", "-I", str(KERNELS_DIR / "include"), "-I", str(KERNELS_DIR / "src" / "fwcs"), "-I", str(KERNELS_DIR / "src" / "conv"),
               str(src), "-o", str(d / "probe")]  # fmt: skip
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode == 0:
            exe = d / "probe"
        else:
            global probe_error
            probe_error = proc.stderr.strip()[-2000:]
    _probe[key] = exe
    return exe


def probe_available() -> bool:
    """True when the sizes come from the C code (a host compiler built the probe)."""
    return _probe_exe(_sources_key()) is not None


def _c_probe(blobs: list[bytes]) -> list[tuple] | None:
    """(portable, DSP, MVE scratch bytes, DSP variant, MVE variant) per blob from the kernels' C code,
    or None without a compiler."""
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
            c, dsp, mve, v_dsp, v_mve, *plans = line.split()
            band, plans = _plan(plans, DSP_BAND_PLAN_FIELDS)
            dsp_elem, plans = _plan(plans, DSP_ELEM_PLAN_FIELDS)
            layout, plans = _plan(plans, MVE_PLAN_FIELDS)
            mve_elem, _ = _plan(plans, MVE_ELEM_PLAN_FIELDS)
            plans = {"dsp": band, "dsp_elem": dsp_elem, "mve": layout, "mve_elem": mve_elem}
            _results[(key, digests[i])] = (int(c), int(dsp), int(mve), v_dsp, v_mve, plans)
    return [_results[(key, dg)] for dg in digests]


def c_probe_bytes(blobs: list[bytes]) -> list[tuple[int, int, int]] | None:
    """(portable, DSP, MVE) scratch bytes per blob from the kernels' C code, or None without a compiler."""
    got = _c_probe(blobs)
    return None if got is None else [r[:3] for r in got]


# --------------------------------------------------------------------------- API


def _probe_blob(blob: bytes) -> tuple:
    got = _c_probe([blob])
    if got is None:
        if host_compiler() is None:
            raise DtmmError("packing conv layers needs a host C compiler (cc/gcc/clang) to size their scratch; "
                            "run 'make bootstrap'")
        last = probe_error.splitlines()[-1] if probe_error else "probe failed to run"
        raise DtmmError(f"cannot build the conv scratch probe from lib/dtmm_kernels: {last}")
    return got[0]


def path_bytes(blob: bytes) -> dict[str, int]:
    """{"c": ..., "dsp": ..., "mve": ...}: dtmm_conv_s8_get_buffer_size(blob) of each path."""
    c, dsp, mve = _probe_blob(blob)[:3]
    return {"c": c, "dsp": dsp, "mve": mve}


def path_variants(blob: bytes) -> dict[str, str]:
    """{"c": ..., "dsp": ..., "mve": ...}: the kernel variant each path runs for the blob, by its
    dtmm_conv_variants.h name (the object is dtmm_conv_<name>), e.g. {"mve": "mve_quad16_s16_full"}."""
    v_dsp, v_mve = _probe_blob(blob)[3:5]
    return {"c": "portable", "dsp": v_dsp, "mve": v_mve}


def conv_plans(blob: bytes) -> dict[str, dict[str, int] | None]:
    """How the SIMD paths' planners lay out the blob's layer, as their C code computes it: {"dsp": the band
    kernel's plan (DSP_BAND_PLAN_FIELDS), "dsp_elem": the DSP element-list plan, "mve": the Helium layout
    (MVE_PLAN_FIELDS: how input rows are read, patch and item modes, blocks per row, row window geometry),
    "mve_elem": the Helium element-list layout}, each None when that path runs another kernel for it."""
    return {k: (dict(p) if p is not None else None) for k, p in _probe_blob(blob)[5].items()}


def _a16(n: int) -> int:
    return (n + 15) & ~15


def conv_scratch_bytes(blob: bytes) -> int:
    """Scratch to reserve for dtmm_conv_s8(blob, ...): the largest need of the three paths, 16-aligned."""
    fwcs.validate(blob)
    sizes = path_bytes(blob)
    if min(sizes.values()) < 0:
        raise fwcs.FwcsError(f"a conv path rejects the blob (sizes {sizes})")
    return _a16(max(sizes.values()))


__all__ = ["conv_plans", "conv_scratch_bytes", "path_bytes", "path_variants", "probe_available"]
