"""Coverage-guided fuzzing of the C side (libFuzzer, ASan, UBSan): build, seed, run, report.

    python tests/fuzz/run_fuzz.py [--seconds N] [--target NAME ...] [--json FILE] [--shared DIR]

Targets (tests/fuzz/fuzz_*.c): ``fuzz_fwcs_validate`` (dtmm_fwcs_validate on
arbitrary bytes) and ``fuzz_conv_s8`` (the conv entry point on every blob the
validator accepts, checked against the reference kernel).  The kernel library
is compiled once with clang for the host (the portable path, which is also the
Cortex-M0/M3 code) with ``-fsanitize=fuzzer-no-link,address,undefined``.  The
seed corpus is packed layers: every CONV_2D of MLPerf Tiny ResNet-8 (from
``--shared`` when present) dense and pruned in each encoding, plus random layers
and channel-group layers from tests/support/conv_cases.py.  Each target runs
for ``--seconds`` (``make fuzz FUZZ_SECONDS=N``); crash inputs are kept in
build/fuzz/crashes/TARGET/ and make the run fail.  Inputs saved in
tests/fuzz/regressions/TARGET/ are replayed by tests/test_fuzz.py.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
sys.path.insert(0, str(HERE.parent))  # tests/ (support.*)
sys.path.insert(0, str(REPO / "tools"))  # dtmm, when not installed

KERNELS = REPO / "lib" / "dtmm_kernels"
TARGETS = ("fuzz_fwcs_validate", "fuzz_conv_s8")
REGRESSIONS = HERE / "regressions"
DEFAULT_BUILD = REPO / "build" / "fuzz"
SANITIZERS = "address,undefined"
#: libFuzzer options shared by every run: inputs up to 64 KiB (ResNet-8's largest packed layer is 37 KiB),
#: a 10 s hang limit, 2 GiB of RSS.
LIBFUZZER_OPTIONS = ("-max_len=65536", "-timeout=10", "-rss_limit_mb=2048", "-print_final_stats=1")


class FuzzError(RuntimeError):
    """A set-up problem (no clang, a build failure), said in one line."""


def kernel_sources() -> list[Path]:
    lines = (KERNELS / "sources.txt").read_text().splitlines()
    return [KERNELS / ln.strip() for ln in lines if ln.strip() and not ln.lstrip().startswith("#")]


def find_clang() -> str:
    for name in ("clang", "clang-16", "clang-15", "clang-14"):
        path = shutil.which(name)
        if path:
            return path
    raise FuzzError("clang not found on PATH (libFuzzer needs it): run 'make bootstrap' or apt-get install clang")


def _run(cmd: list[str], what: str) -> None:
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-15:])
        raise FuzzError(f"{what} failed:\n{tail}")


def _build_key(clang: str) -> str:
    h = hashlib.sha256(clang.encode())
    for path in [*kernel_sources(), *sorted((KERNELS / "include").glob("*.h")), *sorted(HERE.glob("*.[ch]"))]:
        h.update(path.read_bytes())
    for path in sorted((KERNELS / "src").rglob("*.h")):
        h.update(path.read_bytes())
    return h.hexdigest()[:16]


def build(build_dir: Path = DEFAULT_BUILD, targets=TARGETS) -> dict[str, Path]:
    """The fuzz target binaries, rebuilt only when a C source or header changed."""
    clang = find_clang()
    key = _build_key(clang)
    out = build_dir / "bin" / key
    binaries = {t: out / t for t in targets}
    if all(b.is_file() for b in binaries.values()):
        return binaries
    objs_dir = out / "obj"
    objs_dir.mkdir(parents=True, exist_ok=True)
    common = ["-std=c99", "-g", "-O1", f"-fsanitize={SANITIZERS}", "-fno-sanitize-recover=all",
              "-fno-omit-frame-pointer", "-Wall", "-Wextra", "-Werror", "-I", str(KERNELS / "include")]
    objects = []
    for src in kernel_sources():
        obj = objs_dir / (src.stem + ".o")
        _run([clang, *common, "-fsanitize=fuzzer-no-link", "-c", str(src), "-o", str(obj)], f"compile of {src.name}")
        objects.append(str(obj))
    for target, binary in binaries.items():
        _run([clang, *common, "-fsanitize=fuzzer", str(HERE / f"{target}.c"), *objects, "-o", str(binary)],
             f"link of {target}")
    return binaries


def _shared_resnet8(shared: Path | None) -> Path | None:
    base = shared if shared is not None else Path(os.environ.get("DTMM_SHARED", REPO.parent / "shared"))
    path = base / "models" / "mlperf-tiny-ic" / "pretrainedResnet_quant.tflite"
    return path if path.is_file() else None


def seed_blobs(shared: Path | None = None) -> dict[str, bytes]:
    """Named seed blobs: packed layers (ResNet-8 when available), random layers, channel-group layers."""
    from support import conv_cases as kc

    seeds: dict[str, bytes] = {}
    resnet8 = _shared_resnet8(shared)
    if resnet8 is not None:
        for enc in ("auto", "bitmap", "list"):
            for case in kc.resnet8_cases(resnet8, densities=(1.0, 0.5, 0.1), masks="magnitude", encoding=enc):
                seeds[f"resnet8_{case.name}_{enc}"] = case.blob
    for case in kc.random_cases(48, seed=11, max_macs=20_000):
        seeds[case.name] = case.blob
    for case in kc.random_group_cases(24, seed=12, max_macs=20_000):
        seeds[case.name] = case.blob
    return seeds


def write_corpus(corpus_dir: Path, shared: Path | None = None) -> int:
    """Seeds into corpus_dir (named by content, so a rerun adds nothing twice); returns how many."""
    corpus_dir.mkdir(parents=True, exist_ok=True)
    seeds = seed_blobs(shared)
    for blob in seeds.values():
        path = corpus_dir / hashlib.sha1(blob).hexdigest()
        if not path.exists():
            path.write_bytes(blob)
    return len(seeds)


_STAT = re.compile(r"^stat::(\w+):\s*(\d+)", re.M)


def run_target(binary: Path, seconds: int, corpus_dir: Path, crash_dir: Path, seed_dir: Path) -> dict:
    """One libFuzzer run of `seconds`; its executions, corpus growth and crash files."""
    crash_dir.mkdir(parents=True, exist_ok=True)
    before = {p.name for p in crash_dir.iterdir()}
    corpus_dir.mkdir(parents=True, exist_ok=True)
    cmd = [str(binary), *LIBFUZZER_OPTIONS, f"-max_total_time={seconds}", f"-artifact_prefix={crash_dir}/",
           str(corpus_dir), str(seed_dir)]
    env = dict(os.environ, ASAN_OPTIONS="abort_on_error=1:detect_leaks=1", UBSAN_OPTIONS="print_stacktrace=1")
    t0 = time.monotonic()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=seconds + 300)
    stats = {k: int(v) for k, v in _STAT.findall(proc.stderr)}
    crashes = sorted(p.name for p in crash_dir.iterdir() if p.name not in before)
    finding = ""
    if proc.returncode != 0:
        lines = [ln for ln in proc.stderr.splitlines()
                 if "fuzz finding" in ln or "ERROR:" in ln or "runtime error" in ln or "SUMMARY" in ln]
        finding = lines[0] if lines else proc.stderr.strip().splitlines()[-1:][0] if proc.stderr.strip() else ""
    return {
        "target": binary.name,
        "seconds": round(time.monotonic() - t0, 1),
        "executions": stats.get("number_of_executed_units", 0),
        "corpus_files": sum(1 for _ in corpus_dir.iterdir()),
        "crashes": crashes,
        "exit_code": proc.returncode,
        "finding": finding,
    }


def replay(binary: Path, inputs: list[Path]) -> subprocess.CompletedProcess:
    """Runs saved inputs once each through a target (how the regression tests use them)."""
    env = dict(os.environ, ASAN_OPTIONS="abort_on_error=1:detect_leaks=1")
    return subprocess.run([str(binary), *LIBFUZZER_OPTIONS, *map(str, inputs)], capture_output=True, text=True,
                          env=env, timeout=600)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seconds", type=int, default=int(os.environ.get("FUZZ_SECONDS", "60")),
                    help="seconds per target (default: $FUZZ_SECONDS or 60)")
    ap.add_argument("--target", action="append", choices=TARGETS, help="only this target (repeatable)")
    ap.add_argument("--build-dir", type=Path, default=DEFAULT_BUILD)
    ap.add_argument("--shared", type=Path, default=None, help="directory with models/ (default: ../shared)")
    ap.add_argument("--json", type=Path, default=None, help="also write the results here")
    args = ap.parse_args(argv)
    if args.seconds < 1:
        ap.error(f"--seconds {args.seconds}: must be at least 1")
    targets = tuple(args.target or TARGETS)
    try:
        print(f"fuzz: building {len(targets)} target(s) with clang (ASan, UBSan, libFuzzer) ...", flush=True)
        binaries = build(args.build_dir, targets)
        seed_dir = args.build_dir / "seeds"
        n_seeds = write_corpus(seed_dir, args.shared)
        print(f"fuzz: {n_seeds} seed blobs in {seed_dir}", flush=True)
    except FuzzError as exc:
        print(f"fuzz: error: {exc}", file=sys.stderr)
        return 2
    results = []
    for target in targets:
        print(f"fuzz: {target} for {args.seconds} s ...", flush=True)
        r = run_target(binaries[target], args.seconds, args.build_dir / "corpus" / target,
                       args.build_dir / "crashes" / target, seed_dir)
        results.append(r)
        verdict = f"{len(r['crashes'])} crash(es): {r['finding']}" if r["exit_code"] else "no findings"
        print(f"fuzz: {target}: {r['executions']:,} executions in {r['seconds']} s, "
              f"corpus {r['corpus_files']} files, {verdict}", flush=True)
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"seconds_per_target": args.seconds, "targets": results}, indent=2) + "\n")
    total = sum(r["executions"] for r in results)
    failed = [r["target"] for r in results if r["exit_code"]]
    print(f"fuzz: {total:,} executions in all; " + (f"FINDINGS in {', '.join(failed)} (inputs in "
          f"{args.build_dir / 'crashes'})" if failed else "no findings"), flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
