"""Fuzzing of the Python model readers: mutated .tflite files through `dtmm inspect` and `dtmm pack`.

    python tests/fuzz/fuzz_tflite.py [--cases N] [--seed S] [--workers W] [--verify K] [--json FILE]

Each case takes one base model -- MLPerf Tiny ResNet-8 (when ``../shared`` has it) and small models
written with the schema (CONV_2D; DEPTHWISE_CONV_2D, 1x1 CONV_2D, ADD, MAX_POOL_2D, RESHAPE,
FULLY_CONNECTED, SOFTMAX; QUANTIZE, PAD, CONCATENATION, AVERAGE_POOL_2D, MEAN, DEQUANTIZE) -- applies one
to three structure-aware mutations (tests/fuzz/tflite_mutator.py) and runs both commands in-process
through the real CLI (click), each under a 20 s alarm.  The verdict per command:

* ``ok`` -- exit status 0;
* ``refused`` -- exit status 2 with exactly one line on stderr, ``dtmm: error: ...``, and (pack) no
  output directory left behind;
* a finding otherwise: a traceback (any other exception), a hang, an error of more or fewer lines, or
  output written for a model that was refused.

A mutant that packs into different C than its base is a different model that dtmm accepted: up to
``--verify`` of them (distinct packages) are then built on the host with the kernels (ASan/UBSan) and
compared with the tflite-micro interpreter on random inputs, every activation tensor byte for byte; a
mismatch is a finding, and so is a model the interpreter refuses to run (dtmm accepted an invalid one).
Counted apart: models beyond the interpreter's test arena, mixed-quantization CONCATENATIONs (TFLite and
dtmm requantize, tflite-micro refuses) and models the interpreter itself crashes on (docs/fuzzing.md).
Exit status 1 when anything was found.
"""
from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import multiprocessing as mp
import os
import shutil
import signal
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
sys.path.insert(0, str(HERE.parent))  # tests/ (support.*)
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(REPO / "tools"))

import numpy as np  # noqa: E402

CASE_SECONDS = 20
VERIFY_MAX_ELEMENTS = 1 << 20  # tensors above this are not run through tflite-micro (its test arena is 4 MiB)


class _Hang(Exception):
    pass


# --------------------------------------------------------------------------- base models


def _scale(rng, lo=0.004, hi=0.25) -> float:
    return float(np.float32(np.exp(rng.uniform(np.log(lo), np.log(hi)))))


def _chain_model(rng) -> bytes:
    """int8 [1,8,8,4] -> DEPTHWISE 3x3 -> CONV 1x1 -> ADD -> MAX_POOL 2x2 -> RESHAPE -> FC -> SOFTMAX."""
    from support.op_cases import ModelBuilder, activation_code, padding_code

    b = ModelBuilder()
    c = 4
    x = b.tensor([1, 8, 8, c], scale=_scale(rng), zero_point=-3)
    dw_w = b.tensor([1, 3, 3, c], scale=[_scale(rng, 0.002, 0.05) for _ in range(c)], zero_point=0,
                    data=rng.integers(-127, 128, size=(1, 3, 3, c)), quantized_dimension=3)
    dw_b = b.tensor([c], "INT32", scale=[1e-4] * c, zero_point=0, data=rng.integers(-500, 500, size=c))
    d = b.tensor([1, 8, 8, c], scale=_scale(rng, 0.05, 0.3), zero_point=5)
    b.op("DEPTHWISE_CONV_2D", [x, dw_w, dw_b], [d], "DepthwiseConv2DOptions", padding=padding_code("same"),
         strideW=1, strideH=1, depthMultiplier=1, dilationWFactor=1, dilationHFactor=1,
         fusedActivationFunction=activation_code("RELU"))
    pw_w = b.tensor([c, 1, 1, c], scale=[_scale(rng, 0.002, 0.05) for _ in range(c)], zero_point=0,
                    data=rng.integers(-127, 128, size=(c, 1, 1, c)))
    pw_b = b.tensor([c], "INT32", scale=[1e-4] * c, zero_point=0, data=rng.integers(-500, 500, size=c))
    p = b.tensor([1, 8, 8, c], scale=_scale(rng, 0.05, 0.3), zero_point=-7)
    b.op("CONV_2D", [d, pw_w, pw_b], [p], "Conv2DOptions", padding=padding_code("valid"), strideW=1, strideH=1,
         dilationWFactor=1, dilationHFactor=1, fusedActivationFunction=activation_code("NONE"))
    a = b.tensor([1, 8, 8, c], scale=_scale(rng, 0.05, 0.3), zero_point=2)
    b.op("ADD", [d, p], [a], "AddOptions", fusedActivationFunction=activation_code("NONE"))
    mp_ = b.tensor([1, 4, 4, c], scale=b.tensors[a].quantization.scale[0], zero_point=2)
    b.op("MAX_POOL_2D", [a], [mp_], "Pool2DOptions", padding=padding_code("valid"), strideW=2, strideH=2,
         filterWidth=2, filterHeight=2, fusedActivationFunction=activation_code("NONE"))
    r = b.tensor([1, 16 * c], scale=b.tensors[a].quantization.scale[0], zero_point=2)
    shape = b.tensor([2], "INT32", data=[1, 16 * c])
    b.op("RESHAPE", [mp_, shape], [r], "ReshapeOptions", newShape=[1, 16 * c])
    fc_w = b.tensor([10, 16 * c], scale=0.01, zero_point=0, data=rng.integers(-127, 128, size=(10, 16 * c)))
    fc_b = b.tensor([10], "INT32", scale=1e-4, zero_point=0, data=rng.integers(-500, 500, size=10))
    f = b.tensor([1, 10], scale=_scale(rng, 0.05, 0.3), zero_point=0)
    b.op("FULLY_CONNECTED", [r, fc_w, fc_b], [f], "FullyConnectedOptions",
         fusedActivationFunction=activation_code("NONE"))
    s = b.tensor([1, 10], scale=1 / 256, zero_point=-128)
    b.op("SOFTMAX", [f], [s], "SoftmaxOptions", beta=1.0)
    return b.build([x], [s])


def _io_model(rng) -> bytes:
    """float [1,6,6,3] -> QUANTIZE -> PAD -> CONCATENATION -> AVERAGE_POOL_2D -> MEAN -> DEQUANTIZE."""
    from support.op_cases import ModelBuilder, activation_code, padding_code

    b = ModelBuilder()
    x = b.tensor([1, 6, 6, 3], "FLOAT32")
    q = b.tensor([1, 6, 6, 3], scale=0.05, zero_point=1)
    b.op("QUANTIZE", [x], [q])
    pads = b.tensor([4, 2], "INT32", data=[[0, 0], [1, 1], [1, 1], [0, 0]])
    p = b.tensor([1, 8, 8, 3], scale=0.05, zero_point=1)
    b.op("PAD", [q, pads], [p], "PadOptions")
    c = b.tensor([1, 8, 8, 6], scale=0.05, zero_point=1)  # tflite-micro's int8 concatenation needs equal scales
    b.op("CONCATENATION", [p, p], [c], "ConcatenationOptions", axis=3,
         fusedActivationFunction=activation_code("NONE"))
    a = b.tensor([1, 4, 4, 6], scale=0.05, zero_point=1)
    b.op("AVERAGE_POOL_2D", [c], [a], "Pool2DOptions", padding=padding_code("valid"), strideW=2, strideH=2,
         filterWidth=2, filterHeight=2, fusedActivationFunction=activation_code("NONE"))
    axes = b.tensor([2], "INT32", data=[1, 2])
    m = b.tensor([1, 6], scale=0.03, zero_point=0)
    b.op("MEAN", [a, axes], [m], "ReducerOptions", keepDims=False)
    y = b.tensor([1, 6], "FLOAT32")
    b.op("DEQUANTIZE", [m], [y])
    return b.build([x], [y])


def _conv_only(rng) -> bytes:
    from support.op_cases import conv_model

    w = rng.integers(-127, 128, size=(6, 3, 3, 5), dtype=np.int8)
    w[:2, 1] = 0  # pruned filterlets: the packer stores this layer sparse
    data, _ = conv_model(rng, (6, 3, 3, 5), lambda r: w, 1, (7, 7), 2, 1, "same", "RELU6", _scale)
    return data


def _resnet8(shared: Path | None) -> bytes | None:
    base = shared if shared is not None else Path(os.environ.get("DTMM_SHARED", REPO.parent / "shared"))
    path = base / "models" / "mlperf-tiny-ic" / "pretrainedResnet_quant.tflite"
    return path.read_bytes() if path.is_file() else None


def base_models(shared: Path | None = None) -> dict[str, bytes]:
    rng = np.random.default_rng(20261204)
    bases = {"chain": _chain_model(rng), "io": _io_model(rng), "conv": _conv_only(rng)}
    r8 = _resnet8(shared)
    if r8 is not None:
        bases["resnet8"] = r8
    return bases


# --------------------------------------------------------------------------- one case


@contextlib.contextmanager
def _alarm(seconds: int):
    def _raise(signum, frame):
        raise _Hang(f"no answer in {seconds} s")

    old = signal.signal(signal.SIGALRM, _raise)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


def _package_fingerprint(out: Path) -> str:
    """SHA-256 of a package's files with the model's own SHA-256 taken out (the packer names the model by it)."""
    h = hashlib.sha256()
    model_sha = None
    meta = out / "m.json"
    if meta.is_file():
        model_sha = json.loads(meta.read_text()).get("model_sha256")
    for p in sorted(out.iterdir()):
        data = p.read_bytes()
        if model_sha:
            data = data.replace(model_sha.encode(), b"")
        h.update(p.name.encode() + b"\0" + data)
    return h.hexdigest()


def _verdict(cmd: str, res, out: Path | None) -> tuple[str, str]:
    exc = res.exception
    if isinstance(exc, _Hang):
        return "finding", f"{cmd}: hang ({exc})"
    if exc is not None and not isinstance(exc, SystemExit):
        return "finding", f"{cmd}: traceback: {type(exc).__name__}: {exc}"[:400]
    if res.exit_code == 0:
        return "ok", ""
    lines = res.stderr.strip().splitlines()
    if res.exit_code != 2 or len(lines) != 1 or not lines[0].startswith("dtmm: error: "):
        return "finding", f"{cmd}: exit {res.exit_code} with {len(lines)} stderr line(s): {res.stderr[:300]!r}"
    if out is not None and out.exists() and any(out.iterdir()):
        return "finding", f"{cmd}: refused ({lines[0]}) but wrote {sorted(p.name for p in out.iterdir())}"
    return "refused", lines[0]


def _refusal_kind(line: str) -> str:
    """A refusal's message without the model path and numbers, to count refusals by kind."""
    import re

    text = line.removeprefix("dtmm: error: ").removeprefix("MODEL: ")
    return re.sub(r"-?\d[\d.e+-]*", "N", text)[:90]


class CaseRunner:
    """Runs mutants of the base models through `dtmm inspect` and `dtmm pack` in this process."""

    def __init__(self, bases: dict[str, bytes], workdir: Path):
        from click.testing import CliRunner

        import tflite_mutator as tm
        from dtmm.cli import main

        self.tm, self.main, self.runner = tm, main, CliRunner()
        self.bases = bases
        self.names = sorted(bases)
        self.objects = {k: tm.unpack(v) for k, v in bases.items()}
        self.layouts = {k: tm.layout(v) for k, v in bases.items()}
        self.workdir = workdir
        self.base_fingerprints = {k: self._pack(v)[2] for k, v in bases.items()}

    def _invoke(self, args: list[str]):
        with _alarm(CASE_SECONDS):
            return self.runner.invoke(self.main, args)

    def _pack(self, data: bytes) -> tuple[str, str, str | None]:
        path, out = self.workdir / "m.tflite", self.workdir / "out"
        path.write_bytes(data)
        if out.exists():
            shutil.rmtree(out)
        res = self._invoke(["pack", str(path), "--out", str(out), "--name", "m"])
        verdict, msg = _verdict("pack", res, out)
        return verdict, msg.replace(str(path), "MODEL"), _package_fingerprint(out) if verdict == "ok" else None

    def mutant(self, seed: int, index: int) -> tuple[str, bytes, str, str]:
        rng = np.random.default_rng([seed, index])
        base = self.names[int(rng.integers(len(self.names)))]
        n = int(rng.choice([1, 1, 1, 2, 3]))
        if rng.random() < 0.55:
            data, what = self.tm.semantic_mutation(self.objects[base], rng, n)
            family = "semantic"
        else:
            data, what = self.bases[base], []
            for _ in range(n):
                data, kind = self.tm.structural_mutation(data, self.layouts[base], rng)
                what.append(kind)
            what, family = ", ".join(what), "structural"
        return base, data, family, what

    def run(self, seed: int, index: int) -> dict:
        base, data, family, what = self.mutant(seed, index)
        path = self.workdir / "m.tflite"
        path.write_bytes(data)
        inspect_verdict, inspect_msg = _verdict("inspect", self._invoke(["inspect", str(path)]), None)
        pack_verdict, pack_msg, fp = self._pack(data)
        changed = pack_verdict == "ok" and fp != self.base_fingerprints[base]
        return {
            "index": index, "base": base, "family": family, "what": what[:300],
            "inspect": inspect_verdict, "pack": pack_verdict,
            "findings": [m for v, m in ((inspect_verdict, inspect_msg), (pack_verdict, pack_msg)) if v == "finding"],
            "refusal": _refusal_kind(pack_msg) if pack_verdict == "refused" else "",
            "fingerprint": fp if changed else None,
            "model": data if changed else None,
        }  # fmt: skip


# --------------------------------------------------------------------------- workers and the run

_WORKER: CaseRunner | None = None


def _init_worker(bases: dict[str, bytes]) -> None:
    global _WORKER
    import warnings

    warnings.filterwarnings("ignore")
    _WORKER = CaseRunner(bases, Path(tempfile.mkdtemp(prefix="dtmm-fuzz-tflite-")))


def _run_chunk(args: tuple[int, int, int]) -> list[dict]:
    seed, start, stop = args
    return [_WORKER.run(seed, i) for i in range(start, stop)]


def run_cases(n_cases: int, seed: int = 0, workers: int = 1, shared: Path | None = None, progress=None) -> dict:
    """Runs n_cases mutants; returns counts, findings and the accepted changed models (bytes, deduplicated)."""
    bases = base_models(shared)
    chunk = 200
    jobs = [(seed, s, min(n_cases, s + chunk)) for s in range(0, n_cases, chunk)]
    counts: Counter = Counter()
    by_family: Counter = Counter()
    refusals: Counter = Counter()
    findings, changed = [], {}
    t0 = time.monotonic()
    done = 0

    def absorb(results):
        nonlocal done
        for r in results:
            done += 1
            counts[f"inspect {r['inspect']}"] += 1
            counts[f"pack {r['pack']}"] += 1
            by_family[f"{r['family']} / pack {r['pack']}"] += 1
            if r["refusal"]:
                refusals[r["refusal"]] += 1
            for f in r["findings"]:
                findings.append({"seed": seed, "index": r["index"], "base": r["base"], "mutation": r["what"],
                                 "finding": f})
            if r["fingerprint"] and r["fingerprint"] not in changed:
                changed[r["fingerprint"]] = (r["index"], r["base"], r["what"], r["model"])
        if progress:
            rate = done / max(1e-9, time.monotonic() - t0)
            progress(f"{done:,}/{n_cases:,} cases, {len(findings)} findings, {len(changed)} distinct accepted "
                     f"mutants, {rate:.0f} cases/s, ETA {(n_cases - done) / max(rate, 1e-9) / 60:.1f} min")

    if workers <= 1:
        _init_worker(bases)
        for job in jobs:
            absorb(_run_chunk(job))
    else:
        with mp.get_context("fork").Pool(workers, initializer=_init_worker, initargs=(bases,)) as pool:
            for results in pool.imap_unordered(_run_chunk, jobs):
                absorb(results)
    return {
        "cases": done, "seconds": round(time.monotonic() - t0, 1), "bases": sorted(bases), "counts": dict(counts),
        "by_family": dict(sorted(by_family.items())), "top_refusals": dict(refusals.most_common(25)),
        "findings": findings, "changed": changed,
    }  # fmt: skip


def _tflm_child(data: bytes, samples: list, conn) -> None:
    from support.op_cases import tflm_tensors
    from dtmm.tflite.model import TfliteModel

    try:
        tflm_tensors(data, samples, list(TfliteModel(data, "m").outputs))
        conn.send("")
    except Exception as exc:
        conn.send(f"{type(exc).__name__}: {(str(exc).splitlines() or [''])[0][:200]}")


def tflm_refusal(data: bytes, samples: list) -> str:
    """'' when tflite-micro sets the model up and runs the samples; else why not.  In a child process: the
    interpreter aborts the process on some corrupt models."""
    ctx = mp.get_context("fork")
    parent, child = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_tflm_child, args=(data, samples, child))
    proc.start()
    child.close()
    proc.join(120)
    if proc.is_alive():
        proc.kill()
        return "tflite-micro hung"
    if proc.exitcode != 0:
        return f"tflite-micro crashed (exit {proc.exitcode})"
    return parent.recv() if parent.poll() else "tflite-micro gave no answer"


def _mixed_concatenation(model) -> bool:
    """A CONCATENATION whose inputs are quantized unlike its output."""
    for op in model.operators:
        if op.opcode == "CONCATENATION":
            y = model.tensors[op.outputs[0]]
            if any((model.tensors[i].scales, model.tensors[i].zero_points) != (y.scales, y.zero_points)
                   for i in op.inputs if i >= 0):
                return True
    return False


def verify_changed(changed: dict, limit: int, build_dir: Path, seed: int = 0) -> dict:
    """Host build (ASan/UBSan) vs tflite-micro for up to `limit` distinct accepted mutants."""
    from dtmm.tflite.model import TfliteModel
    from support.op_cases import Case, check_cases, random_inputs

    rng = np.random.default_rng(seed)
    verified, refused_by_tflm, tflm_crashed, findings = 0, [], [], []
    items = sorted(changed.values(), key=lambda v: v[0])[:limit]
    batch = []
    too_large = beyond_tflm = 0
    for index, base, what, data in items:
        model = TfliteModel(data, "m")
        if max((t.size for t in model.tensors), default=0) > VERIFY_MAX_ELEMENTS:
            too_large += 1  # beyond the interpreter's arena here, not a wrong model
            continue
        samples = random_inputs(model, rng, 2)
        why = tflm_refusal(data, samples)
        if why and _mixed_concatenation(model):
            beyond_tflm += 1  # TFLite requantizes such inputs (dtmm does too, tests/test_ops_synthetic.py); TFLM refuses
            continue
        if why.startswith("tflite-micro crashed"):  # the golden's own defect: nothing to compare with
            tflm_crashed.append({"index": index, "base": base, "mutation": what, "tflm": why})
            continue
        if why:  # the golden refuses a model dtmm packed
            refused_by_tflm.append({"index": index, "base": base, "mutation": what, "tflm": why})
            continue
        batch.append(Case(f"mutant{index}", data, samples))
    for k in range(0, len(batch), 16):
        part = batch[k : k + 16]
        try:
            check_cases(part, build_dir / f"b{k}")
            verified += len(part)
        except Exception:  # one at a time to name the one that differs
            for case in part:
                try:
                    check_cases([case], build_dir / f"{case.name}")
                    verified += 1
                except Exception as exc:
                    findings.append({"case": case.name, "finding": f"{type(exc).__name__}: {str(exc)[:400]}"})
    return {"verified_bit_exact": verified, "too_large_to_verify": too_large,
            "mixed_concatenation_beyond_tflm": beyond_tflm, "tflm_crashed": tflm_crashed,
            "refused_by_tflm": refused_by_tflm, "findings": findings}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--cases", type=int, default=2000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--workers", type=int, default=max(1, min(2, os.cpu_count() or 1)))
    ap.add_argument("--verify", type=int, default=50, help="accepted, changed mutants to check against tflite-micro")
    ap.add_argument("--shared", type=Path, default=None)
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args(argv)
    if args.cases < 1:
        ap.error(f"--cases {args.cases}: must be at least 1")

    def progress(line):
        print(f"fuzz-tflite: {line}", file=sys.stderr, flush=True)

    result = run_cases(args.cases, args.seed, args.workers, args.shared, progress)
    with tempfile.TemporaryDirectory(prefix="dtmm-fuzz-verify-") as tmp:
        check = verify_changed(result["changed"], args.verify, Path(tmp), args.seed)
    result["distinct_accepted_mutants"] = len(result.pop("changed"))
    result["verification"] = check
    n_find = len(result["findings"]) + len(check["findings"]) + len(check["refused_by_tflm"])
    summary = (f"fuzz-tflite: {result['cases']:,} cases in {result['seconds']} s: {result['counts']}; "
               f"{result['distinct_accepted_mutants']} distinct accepted mutants, {check['verified_bit_exact']} "
               f"verified bit-exact with tflite-micro ({check['too_large_to_verify']} too large, "
               f"{check['mixed_concatenation_beyond_tflm']} mixed-quantization concatenations, "
               f"{len(check['tflm_crashed'])} crashed tflite-micro); {n_find} findings")
    print(summary)
    for f in (result["findings"] + check["findings"] + check["refused_by_tflm"])[:30]:
        print(f"  {f}")
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=2, default=str) + "\n")
    return 1 if n_find else 0


if __name__ == "__main__":
    sys.exit(main())
