"""Conv kernels and FWCS validator, built for the host with ASan/UBSan, against the Python golden model.

Checks every path that compiles on x86 - the portable dtmm_conv_s8_c, the
dispatching wrapper dtmm_conv_s8 (which picks _c here) and the reference loop
dtmm_conv_s8_reference - bit for bit on hundreds of random layers and on every
ResNet-8 conv, and checks that dtmm_fwcs_validate() gives the status the
Python validator implies for malformed and fuzzed blobs without any
out-of-bounds read (the driver puts every blob in a heap block of exactly its
size, so ASan aborts on the first byte read past it).
"""
from __future__ import annotations

import re
import shutil
import struct
import subprocess
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from dtmm.formats import fwcs
from support import conv_cases as kc
from support.hostbuild import KERNELS_DIR, build_host_program, build_kernels_library

DRIVER_SRC = KERNELS_DIR / "tests" / "conv_driver.c"
HOST_PATHS = ("c", "wrapper", "reference")

pytestmark = pytest.mark.skipif(shutil.which("cmake") is None, reason="cmake not installed")


@pytest.fixture(scope="module")
def build(tmp_path_factory) -> dict:
    root = tmp_path_factory.mktemp("conv-host")
    lib = build_kernels_library(root / "lib")
    return {"root": root, "lib": lib, "driver": build_host_program(DRIVER_SRC, root / "conv_driver", lib)}


def _run_cases(build, cases, name: str):
    pack, out = build["root"] / f"{name}.bin", build["root"] / f"{name}.out"
    kc.write_case_pack(cases, pack)
    proc = subprocess.run([str(build["driver"]), "run", str(pack), str(out), *HOST_PATHS],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]  # sanitizer reports end up here
    return kc.read_results(out, cases, HOST_PATHS)


def _check_bit_exact(build, cases, name: str) -> None:
    failures = []
    for case, res in zip(cases, _run_cases(build, cases, name)):
        dense = case.encoding == "dense"
        for path in HOST_PATHS:
            r = res[path]
            if path == "reference" and not dense:
                if r.status != "DTMM_ERR_UNSUPPORTED":
                    failures.append(f"{case.describe()} [reference]: {r.status} on a packed blob")
                continue
            if r.status != "DTMM_OK":
                failures.append(f"{case.describe()} [{path}]: {r.status}")
            elif mismatch := kc.first_mismatch(r.output, case.expected):
                failures.append(f"{case.describe()} [{path}]: {mismatch}")
        # the wrapper dispatches to the portable path on the host: same scratch
        assert res["wrapper"].scratch == res["c"].scratch >= 0
        if case.encoding == "groups":  # init[cout] (dtmm_conv_groups_internal.h)
            assert res["c"].scratch == (4 * case.spec.cout + 15) // 16 * 16
        elif case.spec.positions <= 32:
            runs = (2 * case.header.n_kept + 3) // 4 * 4
            want = 4 * case.spec.cout if dense else 12 * case.spec.cout + 4 + runs
            assert res["c"].scratch == want
    assert not failures, f"{len(failures)} failures:\n" + "\n".join(failures[:20])


# --------------------------------------------------------------------------- kernels


def test_random_cases_bit_exact(build):
    cases = kc.random_cases(240, seed=11) + kc.random_cases(160, seed=12, max_macs=250_000, prefix="big")
    tags = Counter(t for c in cases for t in c.tags)
    # the generator really covers the corners the kernels must get right
    assert min(tags["dense"], tags["bitmap"], tags["list"]) >= 60 and tags["big-kernel"] >= 20
    specs = [c.spec for c in cases]
    assert sum(s.cin % 4 != 0 for s in specs) >= 100 and max(s.cin for s in specs) > 100
    assert any(s.dilation_h > 1 or s.dilation_w > 1 for s in specs) and any(s.stride_h == 2 for s in specs)
    assert any(s.padding == "valid" for s in specs) and any(s.kh != s.kw for s in specs)
    assert any(c.density == 0 for c in cases) and any(c.density == 1 for c in cases)
    assert any(not fwcs.decode(c.blob).keep.reshape(c.spec.cout, -1).any(axis=1).all() for c in cases
               if c.encoding != "dense")  # some filter has no stored filterlet
    _check_bit_exact(build, cases, "random")


def test_group_cases_bit_exact(build):
    """GROUPS blobs (1x1 and fully connected layers pruned by channel groups) on the portable path."""
    cases = kc.random_group_cases(160, seed=13)
    assert all(c.encoding == "groups" for c in cases)
    tags = Counter(t for c in cases for t in c.tags)
    assert tags["fc"] >= 20 and tags["1x1"] >= 60
    sizes = Counter(c.header.group for c in cases)
    assert set(sizes) == set(kc.GROUP_SIZES)
    assert any(c.density == 0 for c in cases) and any(c.density == 1 for c in cases)
    assert any(c.spec.stride_h == 2 for c in cases)
    _check_bit_exact(build, cases, "groups")


def test_resnet8_layers_bit_exact(build, resnet8_tflite, shared_dir):
    model, layers = kc.resnet8_layers(resnet8_tflite)
    # real activations of a CIFAR-10 image when the archive is there, else of a random input image
    image = kc.cifar10_test_image(shared_dir / "data" / "cifar10-images.tar.gz")
    acts = kc.resnet8_activations(model, image, seed=1)
    assert len(layers) == 9 and set(acts) == {L.op_index for L in layers}
    cases = kc.resnet8_cases(resnet8_tflite, acts, densities=(1.0, 0.8, 0.5, 0.2, 0.0), seed=1)
    cases += kc.resnet8_cases(resnet8_tflite, acts, densities=(0.75, 0.25), masks="magnitude", seed=2)
    for enc in ("bitmap", "list"):  # force each index encoding on every layer
        cases += [
            kc.KernelCase(f"{c.name}_{enc}", c.blob, c.input, c.expected, c.density, c.tags)
            for c in kc.resnet8_cases(resnet8_tflite, acts, densities=(0.6,), encoding=enc, seed=3)
        ]
    cases += kc.resnet8_cases(resnet8_tflite, kc.random_activations(layers, seed=5), densities=(1.0, 0.4), seed=4)
    assert Counter(c.encoding for c in cases)["dense"] >= 18
    _check_bit_exact(build, cases, "resnet8")


def test_public_api_argument_handling(build):
    rng = np.random.default_rng(3)
    case = kc.random_case(rng, "api", "bitmap", density=0.6)
    path = build["root"] / "api.bin"
    path.write_bytes(struct.pack("<I", len(case.blob)) + case.blob)
    proc = subprocess.run([str(build["driver"]), "api", str(path)], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    got = dict(line.split(" ", 1) for line in proc.stdout.splitlines())
    S = kc.STATUS
    assert got.pop("path") == "c"
    expected = {
        "validate_null": S["DTMM_ERR_ARGUMENT"],
        "validate_ok": S["DTMM_OK"],
        "validate_misaligned": S["DTMM_OK"],  # validation reads bytes: any alignment
        "conv_null_blob": S["DTMM_ERR_ARGUMENT"],
        "conv_null_input": S["DTMM_ERR_ARGUMENT"],
        "conv_null_output": S["DTMM_ERR_ARGUMENT"],
        "conv_null_scratch": S["DTMM_ERR_ARGUMENT"],
        "conv_misaligned_scratch": S["DTMM_ERR_ARGUMENT"],
        "conv_misaligned_blob": S["DTMM_ERR_ARGUMENT"],
        "conv_bad_magic": S["DTMM_ERR_MAGIC"],
        "conv_ok": S["DTMM_OK"],
        "size_ok": 12 * case.spec.cout + 4 + (2 * case.header.n_kept + 3) // 4 * 4,
        "size_null": -S["DTMM_ERR_ARGUMENT"],
        "size_bad_magic": -S["DTMM_ERR_MAGIC"],
        "c_size_null": -S["DTMM_ERR_ARGUMENT"],
        "c_null_view": S["DTMM_ERR_ARGUMENT"],
        "reference_packed": S["DTMM_ERR_UNSUPPORTED"],
        "reference_null": S["DTMM_ERR_ARGUMENT"],
        "variant": 34,  # DTMM_CONV_V_portable: the host build runs the portable path
        "variant_bad_magic": -S["DTMM_ERR_MAGIC"],
        "with_ok": S["DTMM_OK"],
        "with_empty": S["DTMM_ERR_UNSUPPORTED"],  # its variant not listed: nothing runs
        "with_null_list": S["DTMM_ERR_UNSUPPORTED"],
        "with_null_input": S["DTMM_ERR_ARGUMENT"],
    }
    assert {k: int(v) for k, v in got.items()} == expected


def test_inline_requantize_equals_dtmm_requantize(build):
    """The kernels' inline requantization (src/common/dtmm_fixedpoint.h) agrees with dtmm_requantize
    (itself checked against TFLite's rounding in lib/dtmm_kernels/tests) on edge and 2M random inputs."""
    proc = subprocess.run([str(build["driver"]), "requant", "2000000"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["0"]


# --------------------------------------------------------------------------- validation


def _validate_in_c(build, blobs, name: str) -> list[str]:
    pack = build["root"] / f"{name}.blobs"
    kc.write_blob_pack(blobs, pack)
    proc = subprocess.run([str(build["driver"]), "validate", str(pack)], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    codes = proc.stdout.split()
    assert len(codes) == len(blobs)
    return [kc.STATUS_NAMES[int(c)] for c in codes]


def _base_blobs(seed: int) -> list[bytes]:
    rng = np.random.default_rng(seed)
    blobs = []
    for enc in ("dense", "bitmap", "list"):
        for density in (0.0, 0.3, 0.8, 1.0):
            blobs.append(kc.random_case(rng, "v", enc, density=density, max_macs=4000).blob)
    for i in range(6):
        blobs.append(kc.random_group_case(rng, "g", max_macs=4000).blob)
    return blobs


def test_validate_names_every_malformed_blob_like_python(build):
    labelled = [(label, bad) for blob in _base_blobs(21) for label, bad in kc.malformed_blobs(blob)]
    got = _validate_in_c(build, [b for _, b in labelled], "malformed")
    failures, seen = [], Counter()
    for (label, blob), status in zip(labelled, got):
        want = kc.python_status(blob)
        seen[want] += 1
        assert want != "DTMM_OK", f"mutation {label!r} left a valid blob"
        if status != want:
            failures.append(f"{label}: C says {status}, Python implies {want}")
    assert not failures, "\n".join(failures[:20])
    assert set(seen) == set(kc.STATUS_NAMES) - {"DTMM_OK", "DTMM_ERR_UNSUPPORTED"}, seen


def test_validate_fuzz_never_reads_out_of_bounds_or_accepts_bad_blobs(build):
    rng = np.random.default_rng(5)
    blobs = []
    for blob in _base_blobs(22):
        blobs.append(blob)
        blobs.extend(kc.fuzz_blobs(blob, rng, n_flips=400))
    got = _validate_in_c(build, blobs, "fuzz")
    verdicts = Counter()
    mismatches = []
    for blob, status in zip(blobs, got):
        want = kc.python_status(blob)
        verdicts[want] += 1
        if status != want:
            mismatches.append(f"{len(blob)} bytes: C {status}, Python {want}")
    assert not mismatches, f"{len(mismatches)} of {len(blobs)} differ:\n" + "\n".join(mismatches[:20])
    # the fuzz reached past the header checks, into the checksum, index and body rules
    assert verdicts["DTMM_ERR_CHECKSUM"] > 100 and verdicts["DTMM_ERR_HEADER"] > 100 and verdicts["DTMM_OK"] >= 12


def test_validate_refuses_layers_whose_int32_sums_could_overflow(build, monkeypatch):
    """docs/fwcs.md 10 rule 9: cin*kh*kw above 65,793 is DTMM_ERR_UNSUPPORTED in C as in Python."""
    monkeypatch.setattr("dtmm.formats.fwcs.codec._check_taps", lambda spec: None)  # make such blobs at all
    rng = np.random.default_rng(9)
    blobs = []
    for cin, kh, kw in ((7311, 3, 3), (7310, 3, 3), (65535, 1, 1), (2631, 5, 5)):
        spec = fwcs.ConvSpec(cout=2, cin=cin, kh=kh, kw=kw, in_h=kh, in_w=kw, padding="valid")
        w = rng.integers(-128, 128, size=spec.weight_shape, dtype=np.int8)
        w[w == 0] = 1
        ones = np.ones(2, np.int32)
        blobs.append(fwcs.encode(w, ones, ones << 30, -ones, spec, "dense"))
    monkeypatch.undo()
    want = ["DTMM_ERR_UNSUPPORTED", "DTMM_OK", "DTMM_OK", "DTMM_OK"]
    assert [kc.python_status(b) for b in blobs] == want
    assert _validate_in_c(build, blobs, "taps") == want


# --------------------------------------------------------------------------- library hygiene


def test_one_public_function_per_file(build):
    """CMSIS-NN style: each object of the library defines exactly the function (or, for a conv kernel
    variant, the object) its file is named after."""
    nm = shutil.which("nm")
    if nm is None:
        pytest.skip("nm not installed")
    out = subprocess.run([nm, "--defined-only", "-g", "-A", str(build["lib"])], capture_output=True, text=True,
                         check=True).stdout
    symbols: dict[str, set] = {}
    for line in out.splitlines():  # "lib.a:file.c.o:0000000000000000 T name"
        m = re.match(r"^.*:([^:/]+)\.c\.o:\S*\s+\w\s+(\S+)$", line)
        if m and not m.group(2).startswith("__odr_asan."):  # AddressSanitizer's marker of a global object
            symbols.setdefault(m.group(1), set()).add(m.group(2))
    sources = [Path(s).stem for s in (KERNELS_DIR / "sources.txt").read_text().split() if s.endswith(".c")]
    assert sorted(symbols) == sorted(sources)
    on_disk = sorted(p.stem for p in (KERNELS_DIR / "src").rglob("*.c"))
    assert on_disk == sorted(sources), "every C file under src/ is listed in sources.txt, and only those"
    wrong = {obj: syms for obj, syms in symbols.items() if syms != {obj}}
    assert not wrong, wrong
