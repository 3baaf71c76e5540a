"""`make demo`: prune, pack, build and run MLPerf Tiny ResNet-8 on emulated Cortex-M, end to end.

``dtmm demo [options]`` (the Makefile's ``demo`` target; also ``python -m dtmm.demo``):

1. finds the Keras ResNet-8 and the CIFAR-10 archive in the shared
   directory (``--shared``, ``$DTMM_SHARED``, default ``../shared``);
2. prunes to the flash budget with ``tools/prune.py`` (= ``dtmm prune``):
   a *short* fine-tune (``--epochs``, default 3, with TensorFlow's oneDNN
   kernels) of the dense baseline and then of the pruned model, which starts
   from the fine-tuned dense weights and distils from them; int8 export of
   both, int8 test accuracy of both on the same test split with tflite-micro;
3. picks ``--images`` CIFAR-10 test images (seeded) into ``images.npz``;
4. builds app/image_classification for every ``--boards`` board through the
   PlatformIO envs ``ic-<board>`` -- their pre: hook packs the model -- for
   the dense and the pruned model, plus a profiling build of each
   (per-operator instruction counts, first images only), and runs them under
   QEMU;
5. checks that the firmware's predictions equal the tflite-micro
   interpreter's on the same model and images (and compares the scores bit
   for bit), prints the dense-vs-DTMM table, writes ``summary.json`` /
   ``summary.md`` and renders the report (``dtmm report``).

Everything goes to the run directory (``--out``, default ``out/demo``)::

    demo.json       the recipe (model, data, budget, epochs, seed ...); the hook reads it
    prune/<budget>/ dtmm prune output per budget: model_int8.tflite, dense_int8.tflite, report.json ...
    images.npz      the on-device test images (uint8 pixels, labels, test-split indices)
    packed/<variant>/classifier.{c,h,json}  what the firmware was built with
    firmware/<board>-<variant>[-profile].elf, runs/<...>.log
    summary.json, summary.md, report/ (report.md + PNG plots)

A second run with the same recipe reuses the pruned models (``--force-prune``
redoes them); builds are incremental.  Exit status 0 when every board agreed
with tflite-micro on every image, 1 when not, 2 on errors (one line).
``--prune-only`` (used by the PlatformIO hook when a new budget is asked
for) stops after step 3, taking unspecified options from ``demo.json``.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from ..errors import DtmmError
from ..fileio import json_default
from ..paths import REPO_ROOT
from ..prune.pipeline import DENSE_KERAS_FILE
from ..targets import platformio
from ..targets.boards import get_board
from ..targets.qemu import COUNTER_UNITS
from .eta import FineTuneEta

SUMMARY_FORMAT = "dtmm-demo"
SUMMARY_VERSION = 1

DEFAULT_BUDGET = "50%"
#: the latency budget of the demo's recipe (instructions on LATENCY_BOARD, as dtmm prune --latency) -- with the
#: flash budget it shows both axes: half the weight bytes and 60% of the dense instructions
DEFAULT_LATENCY = "60%"
DEFAULT_LATENCY_BOARD = "qemu-m4"
DEFAULT_BOARDS = ("qemu-m4", "qemu-m55")
DEFAULT_IMAGES = 100
DEFAULT_EPOCHS = 3  # make demo within about 16 minutes on 2 cores; docs/pruning.md §12 has longer runs
DEFAULT_SEED = 0
DEFAULT_OUT = Path("out") / "demo"
MODEL_REL = Path("models") / "mlperf-tiny-ic" / "pretrainedResnet.h5"
DATA_REL = Path("data") / "cifar10-images.tar.gz"
#: the published int8 model, evaluated as given for reference (only with the default --model)
ORIGINAL_TFLITE_REL = Path("models") / "mlperf-tiny-ic" / "pretrainedResnet_quant.tflite"
VARIANTS = ("dense", "pruned")
RUN_TIMEOUT = 900.0
PROFILE_IMAGES = 2
SHARED_HINT = (
    "put the shared resources in ../shared, or point to them with `make demo SHARED=/path/to/shared` "
    "(or DTMM_SHARED=/path/to/shared, or dtmm demo --shared DIR / --model FILE --data FILE)"
)
# TensorFlow / absl start-up chatter of the pruner process, dropped from the demo's output
_NOISE = re.compile(
    r"^(?:[IWEF]\d{4} \d\d:\d\d:\S+\s+\d+ [\w.]+:\d+\] |WARNING: All log messages before absl::InitializeLog"
    r"|To enable the following instructions|oneDNN custom operations)"
)


class DemoFailure(DtmmError):
    """The demo ran but a check failed (the firmware disagrees with tflite-micro)."""


def budget_slug(budget: str) -> str:
    """Directory name of a budget: '50%' -> '50pct', '40 KB' -> '40kb' (the hook has the same)."""
    text = str(budget).strip().lower().replace("%", "pct")
    return re.sub(r"[^a-z0-9.]+", "", text) or "budget"


# ---- progress ------------------------------------------------------------------------------------
class Progress:
    def __init__(self, stream=None):
        self.t0 = time.monotonic()
        self.stream = stream or sys.stdout
        self.phases: dict[str, float] = {}
        self._phase: str | None = None
        self._phase_t = self.t0

    def elapsed(self) -> float:
        return time.monotonic() - self.t0

    def say(self, msg: str) -> None:
        e = int(self.elapsed())
        self.stream.write(f"[demo {e // 60:2d}:{e % 60:02d}] {msg}\n")
        self.stream.flush()

    def phase(self, name: str | None) -> None:
        now = time.monotonic()
        if self._phase is not None:
            self.phases[self._phase] = round(self.phases.get(self._phase, 0.0) + now - self._phase_t, 1)
        self._phase, self._phase_t = name, now


# ---- options -------------------------------------------------------------------------------------
def parse_args(argv: list[str] | None, prog: str = "dtmm demo") -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog=prog,
        description="DTMM end to end: prune ResNet-8 to a flash budget, pack, build and run it on emulated "
        "Cortex-M, compare with the dense model.",
    )
    p.add_argument("--shared", type=Path, default=None,
                   help="directory with models/ and data/ (default $DTMM_SHARED or ../shared)")
    p.add_argument("--model", type=Path, default=None, help=f"Keras model (default SHARED/{MODEL_REL})")
    p.add_argument("--data", type=Path, default=None,
                   help=f"dataset for dtmm prune --data (default SHARED/{DATA_REL})")
    p.add_argument("--budget", default=None,
                   help=f"flash budget for the weights, as dtmm prune --flash: 40KB, 48KiB, 50%% ... "
                   f"(default {DEFAULT_BUDGET.replace('%', '%%')} of the dense weight bytes)")
    p.add_argument("--latency", default=None,
                   help=f"latency budget, as dtmm prune --latency: 12M instructions or N%% of the dense model's on "
                   f"--latency-board (default {DEFAULT_LATENCY.replace('%', '%%')}; 'none': flash budget only)")
    p.add_argument("--latency-board", default=None,
                   help=f"board whose cost model prices --latency (default {DEFAULT_LATENCY_BOARD})")
    p.add_argument("--out", type=Path, default=None, help=f"run directory (default {DEFAULT_OUT})")
    p.add_argument("--epochs", type=int, default=None,
                   help=f"fine-tuning epochs, pruned and dense alike (default {DEFAULT_EPOCHS}: a short fine-tune)")
    p.add_argument("--seed", type=int, default=None, help=f"seed of pruning, training and image choice "
                   f"(default {DEFAULT_SEED})")
    p.add_argument("--images", type=int, default=None,
                   help=f"test images classified on each board (default {DEFAULT_IMAGES})")
    p.add_argument("--test-limit", type=int, default=None,
                   help="evaluate int8 accuracy on a seeded subset of this many test images (default: all)")
    p.add_argument("--boards", default=None,
                   help=f"comma-separated emulated boards (default {','.join(DEFAULT_BOARDS)})")
    p.add_argument("--dense-baseline", choices=("finetune", "as-is"), default=None,
                   help="dense model compared: fine-tuned like the pruned one (default) or as given")
    p.add_argument("--batch-size", type=int, default=None, help="fine-tuning batch size (dtmm prune default)")
    p.add_argument("--original-tflite", type=Path, default=None,
                   help=f"int8 .tflite of the model as given, evaluated on the same test split for reference "
                   f"(default SHARED/{ORIGINAL_TFLITE_REL} when --model is the default; 'none' to skip)")
    p.add_argument("--no-profile", action="store_true", help="skip the per-operator profiling builds")
    p.add_argument("--no-report", action="store_true", help="do not render report/ (dtmm report)")
    p.add_argument("--force-prune", action="store_true", help="prune again even if an identical run exists")
    p.add_argument("--prune-only", action="store_true",
                   help="prune (and write images.npz), nothing else; unset options come from OUT/demo.json")
    p.add_argument("--quiet", action="store_true", help="no progress bars from the pruner")
    p.add_argument("--timeout", type=float, default=RUN_TIMEOUT, help="seconds per QEMU run")
    return p.parse_args(argv)


def resolve(args: argparse.Namespace) -> dict:
    """The run's settings: command line, then (for --prune-only) demo.json, then defaults."""
    out = (args.out or DEFAULT_OUT)
    out = out if out.is_absolute() else Path.cwd() / out
    saved: dict = {}
    if args.prune_only and (out / "demo.json").is_file():
        saved = json.loads((out / "demo.json").read_text())
    shared = args.shared or (Path(os.environ["DTMM_SHARED"]) if os.environ.get("DTMM_SHARED") else None)
    shared = shared or REPO_ROOT.parent / "shared"

    def pick(name, default):
        value = getattr(args, name)
        return value if value is not None else saved.get(name, default)

    model = args.model or (Path(saved["model"]) if "model" in saved and not args.shared else shared / MODEL_REL)
    data = args.data or (Path(saved["data"]) if "data" in saved and not args.shared else shared / DATA_REL)
    boards = args.boards.split(",") if args.boards else list(saved.get("boards", DEFAULT_BOARDS))
    if args.original_tflite is not None:
        original = None if str(args.original_tflite).lower() == "none" else args.original_tflite.expanduser().resolve()
    elif args.model is None and args.prune_only is False:
        candidate = shared / ORIGINAL_TFLITE_REL
        original = candidate.resolve() if candidate.is_file() else None
    else:
        original = None
    cfg = {
        "out": out.resolve(),
        "shared": shared,
        "model": Path(model).expanduser().resolve(),
        "data": Path(data).expanduser().resolve(),
        "budget": str(pick("budget", DEFAULT_BUDGET)),
        "latency": str(pick("latency", DEFAULT_LATENCY)),
        "latency_board": str(pick("latency_board", DEFAULT_LATENCY_BOARD)),
        "epochs": int(pick("epochs", DEFAULT_EPOCHS)),
        "seed": int(pick("seed", DEFAULT_SEED)),
        "images": int(pick("images", DEFAULT_IMAGES)),
        "test_limit": pick("test_limit", None),
        "dense_baseline": pick("dense_baseline", "finetune"),
        "batch_size": pick("batch_size", None),
        "boards": [b.strip() for b in boards if b.strip()],
        "original_tflite": original,
    }
    if cfg["epochs"] < 0:
        raise DtmmError("--epochs must be >= 0")
    if cfg["images"] < 1:
        raise DtmmError("--images must be at least 1")
    for b in cfg["boards"]:
        board = get_board(b)
        if not board.emulated:
            raise DtmmError(f"board '{b}' is real hardware; the demo runs emulated boards only "
                            f"(build it yourself with `pio run -e ic-{b}`, see README.md)")
    if cfg["latency"].lower() == "none":
        cfg["latency"] = None
    from ..prune.budget import parse_budgets

    parse_budgets(cfg["budget"], None, cfg["latency"], cfg["latency_board"])  # one-line errors before anything runs
    return cfg


def check_inputs(cfg: dict) -> None:
    """One-line errors for missing shared files, before any work."""
    for what, path in (("MLPerf Tiny ResNet-8 Keras model", cfg["model"]), ("CIFAR-10 archive", cfg["data"])):
        if not path.exists():
            raise DtmmError(f"{what} not found at {path}: {SHARED_HINT}")


def check_tools() -> None:
    from ..targets.model_runner import check_tools as _check

    _check()


# ---- small helpers -------------------------------------------------------------------------------
def _write_json_if_changed(path: Path, obj) -> None:
    text = json.dumps(obj, indent=2, default=json_default) + "\n"
    try:
        if path.read_text(encoding="utf-8") == text:
            return
    except OSError:
        pass
    from ..fileio import write_text_atomic

    path.parent.mkdir(parents=True, exist_ok=True)
    write_text_atomic(path, text)



def _file_id(path: Path) -> dict:
    st = path.stat()
    return {"path": str(path), "bytes": st.st_size, "mtime_ns": st.st_mtime_ns}


def _rel(path: Path, base: Path) -> str:
    try:
        return str(Path(path).resolve().relative_to(base))
    except ValueError:
        return str(path)


def _stream_filtered(proc: subprocess.Popen, sink, heartbeat=None, every: float = 60.0, on_line=None) -> None:
    """Copies the pruner's stderr to ours as it comes (progress bars included), minus TF start-up noise;
    calls ``heartbeat()`` after every ``every`` seconds of silence and ``on_line(text)`` after each line."""
    import select

    assert proc.stderr is not None
    fd = proc.stderr.fileno()
    pending = b""
    while True:
        ready, _w, _x = select.select([fd], [], [], every)
        if not ready:
            if heartbeat is not None:
                heartbeat()
            continue
        chunk = os.read(fd, 4096)
        if not chunk:
            break
        pending += chunk
        parts = re.split(rb"(?<=[\r\n])", pending)
        pending = parts.pop()  # incomplete tail
        for part in parts:
            text = part.decode("utf-8", errors="replace")
            if not _NOISE.match(text.lstrip("\r")):
                sink.write(text)
                if on_line is not None:
                    sink.flush()
                    on_line(text)
        sink.flush()
    if pending:
        text = pending.decode("utf-8", errors="replace")
        if not _NOISE.match(text):
            sink.write(text)
    sink.flush()


# ---- step 2: prune -------------------------------------------------------------------------------
def prune_recipe(cfg: dict) -> dict:
    return {
        "model": _file_id(cfg["model"]),
        "data": _file_id(cfg["data"]),
        "budget": cfg["budget"],
        "latency": cfg.get("latency"),
        "latency_board": cfg.get("latency_board") if cfg.get("latency") else None,
        "epochs": cfg["epochs"],
        "seed": cfg["seed"],
        "test_limit": cfg["test_limit"],
        "dense_baseline": cfg["dense_baseline"],
        "batch_size": cfg["batch_size"],
    }


def prune_dir(cfg: dict) -> Path:
    return cfg["out"] / "prune" / budget_slug(cfg["budget"])


def run_prune(cfg: dict, progress: Progress, *, force: bool = False, quiet: bool = False) -> dict:
    """dtmm prune into prune/<budget>/ unless an identical run is there; returns its report."""
    out = prune_dir(cfg)
    recipe = prune_recipe(cfg)
    recipe_file = out / "recipe.json"
    report_file = out / "report.json"
    if not force and recipe_file.is_file() and report_file.is_file() and (out / "model_int8.tflite").is_file():
        try:
            same = json.loads(recipe_file.read_text()) == json.loads(json.dumps(recipe, default=json_default))
        except ValueError:
            same = False
        if same:
            progress.say(f"reusing {_rel(out, Path.cwd())}: pruned by an identical earlier run "
                         "(--force-prune to redo)")
            return json.loads(report_file.read_text())
    recipe_file.unlink(missing_ok=True)
    dense_baseline, reused = cfg["dense_baseline"], None
    if dense_baseline == "finetune":
        reused = earlier_dense_baseline(cfg, recipe)
        if reused is not None:
            dense_baseline = str(reused / DENSE_KERAS_FILE)
            progress.say(f"reusing the dense baseline fine-tuned for {_rel(reused, Path.cwd())} (same model, data, "
                         f"epochs and seed): its {cfg['epochs']} epoch(s) are not run again")  # fmt: skip
    cmd = [sys.executable, str(REPO_ROOT / "tools" / "prune.py"), str(cfg["model"]), "--data", str(cfg["data"]),
           "--flash", cfg["budget"], "--epochs", str(cfg["epochs"]), "--seed", str(cfg["seed"]),
           "--out", str(out), "--dense-baseline", dense_baseline]  # fmt: skip
    if cfg.get("latency"):
        cmd += ["--latency", cfg["latency"], "--board", cfg["latency_board"]]
    if cfg["test_limit"]:
        cmd += ["--test-limit", str(cfg["test_limit"])]
    if cfg["batch_size"]:
        cmd += ["--batch-size", str(cfg["batch_size"])]
    if quiet or not sys.stderr.isatty():
        cmd.append("--quiet")
    progress.say("$ " + " ".join(_rel(Path(c), REPO_ROOT) if c.startswith("/") else c for c in cmd[1:]))
    onednn = os.environ.get("TF_ENABLE_ONEDNN_OPTS", "1")  # the demo's default: oneDNN on (see _prune_once)
    epochs = cfg["epochs"] * (2 if dense_baseline == "finetune" else 1)  # the dense baseline's too
    code = _prune_once(cmd, progress, onednn, epochs)
    if code < 0 and onednn != "0":  # killed by a signal: the oneDNN crash dtmm avoids by default
        progress.say(f"dtmm prune died with signal {-code} under TensorFlow's oneDNN kernels; "
                     "running it again with the stock kernels (TF_ENABLE_ONEDNN_OPTS=0), about 2.4x slower")
        onednn = "0"
        code = _prune_once(cmd, progress, onednn, epochs)
    if code != 0:
        raise DtmmError(f"dtmm prune failed (exit status {code}); its message is above")
    report = json.loads(report_file.read_text())
    if reused is not None:  # what the dense fine-tune measured, from the run that did it
        earlier = json.loads((reused / "report.json").read_text())
        for key in ("dense_baseline_val_accuracy", "dense_baseline_history"):
            if key in earlier and key not in report:
                report[key] = earlier[key]
        report["dense_baseline_reused_from"] = str(reused)
        _write_json_if_changed(report_file, report)
        if not (out / DENSE_KERAS_FILE).is_file():
            shutil.copyfile(reused / DENSE_KERAS_FILE, out / DENSE_KERAS_FILE)  # later budgets can reuse it here too
    _write_json_if_changed(recipe_file, recipe)
    return report


def earlier_dense_baseline(cfg: dict, recipe: dict) -> Path | None:
    """The prune/<budget>/ directory of an earlier run whose recipe differs from this one only in its budgets
    and holds the fine-tuned dense baseline: fine-tuning it again would give the same model."""
    budget_keys = ("budget", "latency", "latency_board")
    mine = {k: v for k, v in json.loads(json.dumps(recipe, default=json_default)).items() if k not in budget_keys}
    root = cfg["out"] / "prune"
    for d in sorted(root.iterdir()) if root.is_dir() else []:
        if d == prune_dir(cfg) or not (d / DENSE_KERAS_FILE).is_file() or not (d / "report.json").is_file():
            continue
        try:
            theirs = json.loads((d / "recipe.json").read_text())
        except (OSError, ValueError):
            continue
        if {k: v for k, v in theirs.items() if k not in budget_keys} == mine:
            return d
    return None


def _prune_once(cmd: list[str], progress: Progress, onednn: str, epochs: int) -> int:
    """Run the pruner once; its exit status (negative: killed by that signal).  After each fine-tuning epoch
    and after a minute of silence it says how many of the `epochs` are done and about how long the rest
    takes (demo/eta.py).

    The demo fine-tunes with TensorFlow's oneDNN kernels (TF_ENABLE_ONEDNN_OPTS=1), 2.4x faster on ResNet-8
    than the stock ones dtmm defaults to; they crash on some small residual models (tools/dtmm/__init__.py),
    which run_prune answers by running again with the stock kernels."""
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", PYTHONUNBUFFERED="1", TF_ENABLE_ONEDNN_OPTS=onednn)
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=None, stderr=subprocess.PIPE, env=env,
                            cwd=REPO_ROOT)  # fmt: skip
    eta = FineTuneEta(epochs)

    def heartbeat():
        progress.say(eta.status())

    def on_line(text: str) -> None:
        if eta.feed(text):
            progress.say(eta.status())

    try:
        _stream_filtered(proc, sys.stderr, heartbeat, on_line=on_line)
    finally:
        code = proc.wait()
    return code


# ---- step 3: images ------------------------------------------------------------------------------
def write_images(cfg: dict, progress: Progress):
    """images.npz: ``--images`` seeded test images; rewritten only when they change (the hook hashes it)."""
    from ..prune.data import load_dataset
    from .imageclass import Images, load_images, save_images

    path = cfg["out"] / "images.npz"
    ds = load_dataset(cfg["data"], channels=3, progress=False)
    if ds.x_test is None:  # .npz without a test split: the pruner's held-out split, same seed
        from ..prune.data import make_splits

        sp = make_splits(ds, seed=cfg["seed"])
        x_test, y_test = sp.x_test, sp.y_test
    else:
        x_test, y_test = ds.x_test, ds.y_test
    n = min(cfg["images"], len(y_test))
    idx = np.sort(np.random.default_rng(cfg["seed"] + 7).choice(len(y_test), n, replace=False))
    x = x_test[idx]
    imgs = Images(x, np.asarray(y_test[idx], dtype=np.int64), list(ds.classes), idx, "raw", str(cfg["data"]))
    if path.is_file():
        try:
            old = load_images(path)
            if (old.x.dtype == x.dtype and np.array_equal(old.x, x) and np.array_equal(old.y, imgs.y)
                    and old.classes == imgs.classes and old.index is not None and np.array_equal(old.index, idx)):
                return old  # fmt: skip
        except DtmmError:
            pass
    save_images(path, imgs)
    progress.say(f"wrote {n} test images (seeded choice from {len(y_test)}) to {_rel(path, Path.cwd())}")
    return load_images(path)


def evaluate_original(cfg: dict, progress: Progress) -> dict | None:
    """int8 accuracy of the model as given (e.g. the published MLPerf .tflite) on the pruner's test split;
    cached in original_accuracy.json."""
    path = cfg["original_tflite"]
    if path is None:
        return None
    if not path.is_file():
        raise DtmmError(f"--original-tflite {path} does not exist")
    from ..prune.data import load_dataset, make_splits, scored_test_subset  # the pruner's own subset: the same images
    from ..prune.export import evaluate_tflite

    key = {"tflite": _file_id(path), "data": _file_id(cfg["data"]), "seed": cfg["seed"],
           "test_limit": cfg["test_limit"]}  # fmt: skip
    cache = cfg["out"] / "original_accuracy.json"
    if cache.is_file():
        try:
            old = json.loads(cache.read_text())
            if old.get("key") == json.loads(json.dumps(key, default=json_default)):
                return old
        except ValueError:
            pass
    ds = load_dataset(cfg["data"], channels=3, progress=False)
    splits = make_splits(ds, seed=cfg["seed"])
    x, y = scored_test_subset(splits, cfg["test_limit"], cfg["seed"])
    progress.say(f"evaluating the model as given ({path.name}) on the same {len(y):,} test images ...")
    acc = evaluate_tflite(path.read_bytes(), x, y, progress=False)
    result = {"key": key, "tflite": str(path), "accuracy": acc, "images": int(len(y))}
    _write_json_if_changed(cache, result)
    return result


# ---- step 4: build and run -------------------------------------------------------------------------
def pio_build(env_name: str, build_dir: Path, overrides: dict, *, repo_root: Path = REPO_ROOT) -> tuple[Path, str]:
    """``pio run -e env_name`` with DTMM_IC_* overrides for the hook; returns (ELF, output)."""
    platformio.bootstrap(repo_root)
    env = platformio.pio_environ(repo_root)
    for var in ("PLATFORMIO_SRC_DIR", "PLATFORMIO_BUILD_FLAGS", "PLATFORMIO_BUILD_SRC_FLAGS",
                "PLATFORMIO_BUILD_SRC_FILTER", "PLATFORMIO_DEFAULT_ENVS", "DTMM_KERNELS_OPTIMIZATION"):  # fmt: skip
        env.pop(var, None)
    for key in list(env):
        if key.startswith("DTMM_IC_"):
            env.pop(key)
    env["PLATFORMIO_BUILD_DIR"] = str(build_dir)
    env.update({f"DTMM_IC_{k.upper()}": str(v) for k, v in overrides.items()})
    cmd = platformio.pio_command() + ["run", "-d", str(repo_root), "-e", env_name]
    proc = subprocess.run(cmd, cwd=repo_root, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True, errors="replace")  # fmt: skip
    lines = proc.stdout.splitlines(keepends=True)
    if proc.returncode != 0:
        details = "\n".join("  " + line for line in platformio._error_lines(lines))
        raise DtmmError(f"PlatformIO build of {env_name} failed (pio run exit status {proc.returncode})\n{details}")
    elf = build_dir / env_name / "firmware.elf"
    if not elf.is_file():
        raise DtmmError(f"PlatformIO build of {env_name} produced no {elf}")
    return elf, proc.stdout


def elf_sizes(elf: Path) -> dict:
    """Flash and RAM of a firmware from its sections, and the bytes of the embedded test images."""
    out = subprocess.run(["arm-none-eabi-size", "-A", "-d", str(elf)], capture_output=True, text=True, check=True)
    sec = {}
    for line in out.stdout.splitlines():
        parts = line.split()
        if len(parts) >= 2 and parts[0].startswith(".") and parts[1].isdigit():
            sec[parts[0]] = int(parts[1])
    flash = sum(sec.get(s, 0) for s in (".text", ".ARM.exidx", ".init_array", ".data"))
    ram = sum(sec.get(s, 0) for s in (".data", ".bss", ".stack"))
    images = 0
    nm = subprocess.run(["arm-none-eabi-nm", "-S", str(elf)], capture_output=True, text=True)
    for line in nm.stdout.splitlines():
        parts = line.split()
        if len(parts) == 4 and parts[3] in ("ic_images", "ic_labels"):
            images += int(parts[1], 16)
    return {"flash_bytes": flash, "ram_bytes": ram, "test_images_bytes": images,
            "flash_without_images_bytes": flash - images, "stack_bytes": sec.get(".stack", 0)}  # fmt: skip


def build_and_run(cfg: dict, board: str, variant: str, model: Path, images_path: Path, *, profile: bool,
                  progress: Progress, timeout: float):  # fmt: skip
    from ..targets.qemu import run_firmware
    from .imageclass import firmware_error, parse_console

    out = cfg["out"]
    tag = f"{board}-{variant}{'-profile' if profile else ''}"
    env_name = f"ic-{board}"
    t0 = time.monotonic()
    elf, log = pio_build(env_name, out / "build", {"model": model, "images": images_path,
                                                   "profile": "yes" if profile else "no", "run_dir": out})
    gen = out / "build" / env_name / "dtmm_model"
    hook = [l.strip() for l in log.splitlines() if l.startswith("dtmm image_classification:")]
    (out / "firmware").mkdir(parents=True, exist_ok=True)
    kept = out / "firmware" / f"{tag}.elf"
    shutil.copyfile(elf, kept)
    if not profile:
        pk = out / "packed" / variant
        pk.mkdir(parents=True, exist_ok=True)
        for name in ("classifier.c", "classifier.h", "classifier.json", "ic_images.h"):
            if (gen / name).is_file():
                shutil.copyfile(gen / name, pk / name)
    summary = json.loads((gen / "classifier.json").read_text())
    build_s = time.monotonic() - t0
    t1 = time.monotonic()
    result = run_firmware(kept, board, timeout=timeout)
    (out / "runs").mkdir(parents=True, exist_ok=True)
    (out / "runs" / f"{tag}.log").write_text(result.console)
    if result.exit_code != 0:
        detail = firmware_error(result.console) or (result.console.strip().splitlines() or ["(no output)"])[-1]
        raise DtmmError(f"{tag}: firmware exited with status {result.exit_code}: {detail}")
    run = parse_console(result.console)
    progress.say(f"{tag}: built in {build_s:.0f} s ({hook[-1].split(': ', 1)[1].split(' (')[0] if hook else 'built'}), "
                 f"ran {len(run.predictions)} images in {time.monotonic() - t1:.0f} s")
    return kept, summary, run


# ---- the table -------------------------------------------------------------------------------------
def print_table(summary: dict, stream=None) -> None:
    from ..report import text_table

    stream = stream or sys.stdout
    stream.write("\n" + text_table(summary) + "\n")
    stream.flush()


# ---- main ------------------------------------------------------------------------------------------
def run_demo(args: argparse.Namespace) -> int:
    progress = Progress()
    cfg = resolve(args)
    out = cfg["out"]
    check_inputs(cfg)
    if not args.prune_only:
        check_tools()
    out.mkdir(parents=True, exist_ok=True)
    latency = f", latency budget {cfg['latency']} on {cfg['latency_board']}" if cfg.get("latency") else ""
    progress.say(f"DTMM demo: {cfg['model'].name} on {cfg['data'].name}, flash budget {cfg['budget']}{latency}, "
                 f"boards {', '.join(cfg['boards'])}, run directory {_rel(out, Path.cwd())}")  # fmt: skip

    # 1. prune
    progress.phase("prune")
    progress.say(f"[1/5] pruning to {cfg['budget']} with a short fine-tune ({cfg['epochs']} epoch(s), pruned and "
                 f"dense alike) and int8 test accuracy of both (this is the long step, minutes)")
    report = run_prune(cfg, progress, force=args.force_prune, quiet=args.quiet)
    pdir = prune_dir(cfg)
    pruned_tfl = pdir / "model_int8.tflite"
    dense_tfl = pdir / "dense_int8.tflite"
    if not dense_tfl.is_file():  # budget at or above the dense size: nothing was pruned
        dense_tfl = pruned_tfl
    if report.get("pruned") is False:  # say what really ran: no pruning, no fine-tune, one model
        progress.say(f"nothing pruned: the budget ({report['flash_budget_bytes']:,} B) is at or above the dense "
                     f"model's {report['dense_bytes']:,} B; no fine-tuning ran and the model as given is used for "
                     f"both variants (int8 test accuracy {report['accuracy_dense_int8']:.4f})")  # fmt: skip
    else:
        progress.say(f"pruned: weight storage {report['dense_bytes']:,} B -> {report['packed_bytes']:,} B "
                     f"(budget {report['flash_budget_bytes']:,} B); int8 test accuracy dense "
                     f"{report['accuracy_dense_int8']:.4f}, pruned {report['accuracy_pruned_int8']:.4f}")

    # 2. images
    progress.phase("images")
    progress.say("[2/5] choosing the on-device test images")
    images = write_images(cfg, progress)
    images_path = out / "images.npz"
    if not args.prune_only:
        recipe = {k: (str(v) if isinstance(v, Path) else v) for k, v in cfg.items()
                  if k not in ("out", "original_tflite")}  # fmt: skip
        _write_json_if_changed(out / "demo.json", recipe)
    if args.prune_only:
        progress.phase(None)
        progress.say(f"pruned models in {_rel(pdir, Path.cwd())}")
        return 0

    # 3. reference outputs
    progress.phase("reference")
    progress.say(f"[3/5] tflite-micro reference outputs of both models on the {len(images.y)} images"
                 + (" and accuracy of the model as given" if cfg["original_tflite"] else ""))
    from ..pack import pack_model
    from ..tflite.interpreter import tflm_outputs
    from .imageclass import model_inputs

    original = evaluate_original(cfg, progress)
    models = {"dense": dense_tfl, "pruned": pruned_tfl}
    reference = {}
    for variant, path in models.items():
        packed = pack_model(path, "classifier")
        xs = model_inputs(images, packed.input)
        outs = tflm_outputs(path.read_bytes(), xs)
        reference[variant] = outs

    # 4. build and run
    progress.phase("firmware")
    progress.say(f"[4/5] building app/image_classification (PlatformIO envs ic-<board>) and running it under QEMU")
    boards: dict = {}
    failures: list[str] = []
    packed_summary: dict = {}
    for board in cfg["boards"]:
        boards[board] = {}
        for variant in VARIANTS:
            elf, psum, run = build_and_run(cfg, board, variant, models[variant], images_path, profile=False,
                                           progress=progress, timeout=args.timeout)  # fmt: skip
            packed_summary[variant] = psum
            ref = reference[variant]
            ref_pred = [int(np.argmax(o)) for o in ref]
            n = len(ref_pred)
            agree = [i for i in range(min(n, len(run.predictions))) if run.predictions[i] == ref_pred[i]]
            exact = [i for i in range(min(n, len(run.outputs)))
                     if np.array_equal(np.asarray(run.outputs[i]).view(np.uint8),
                                       np.asarray(ref[i]).reshape(-1).view(np.uint8))]  # fmt: skip
            entry = {
                "firmware": _rel(elf, out),
                "conv_path": run.conv_path,
                "images": n,
                "unit": COUNTER_UNITS.get(run.counter_unit or "instructions", run.counter_unit),
                "instructions": run.instructions,
                "instructions_mean": float(np.mean(run.instructions)) if run.instructions else None,
                "instructions_min": min(run.instructions) if run.instructions else None,
                "instructions_max": max(run.instructions) if run.instructions else None,
                "agreement": len(agree),
                "bit_exact": len(exact),
                "device_correct": run.correct,
                "disagreeing_images": [i for i in range(n) if i not in set(agree)][:20],
                "predicted_instructions": predicted_instructions(models[variant], board),
                **elf_sizes(elf),
            }
            if len(run.predictions) != n or len(agree) != n:
                failures.append(f"{board} {variant}: firmware predictions agree with tflite-micro on "
                                f"{len(agree)}/{n} images (differing: {entry['disagreeing_images'][:10]})")
            if not args.no_profile:
                _elf, _ps, prun = build_and_run(cfg, board, variant, models[variant], images_path, profile=True,
                                                progress=progress, timeout=args.timeout)  # fmt: skip
                if prun.profile:
                    labels = list(prun.profile[0])
                    entry["profile"] = {k: float(np.mean([p.get(k, 0) for p in prun.profile])) for k in labels}
                    entry["profile_images"] = len(prun.profile)
            boards[board][variant] = entry
            progress.say(f"{board} {variant}: {entry['instructions_mean']:,.0f} instructions/inference, "
                         f"agreement with tflite-micro {len(agree)}/{n}, scores bit-exact {len(exact)}/{n}")

    # 5. summary, table, report
    progress.phase("report")
    progress.say("[5/5] summary, table and report")
    summary = build_summary(cfg, report, images, packed_summary, boards, failures, progress, pdir)
    if original is not None:
        summary["test_accuracy"]["original"] = {"tflite": original["tflite"], "accuracy": original["accuracy"],
                                                "images": original["images"]}  # fmt: skip
    from ..report import markdown_summary

    progress.phase(None)
    summary["wall_time_s"] = round(progress.elapsed(), 1)
    summary["phase_times_s"] = dict(progress.phases)
    _write_json_if_changed(out / "summary.json", summary)
    (out / "summary.md").write_text(markdown_summary(summary))
    print_table(summary)
    if not args.no_report:
        from ..report import render_report

        paths = render_report(out, out / "report")
        progress.say("report: " + ", ".join(_rel(p, Path.cwd()) for p in paths))
    if failures:
        for f in failures:
            print(f"demo: FAILED: {f}", file=sys.stderr)
        progress.say(f"FAILED after {progress.elapsed():.0f} s: the firmware disagrees with tflite-micro "
                     f"(details above; consoles in {_rel(out / 'runs', Path.cwd())})")
        return 1
    progress.say(f"done in {progress.elapsed():.0f} s: every board agrees with tflite-micro on every image; "
                 f"summary {_rel(out / 'summary.json', Path.cwd())}")
    return 0


def predicted_instructions(model_path, board: str) -> int | None:
    """The board's cost-model prediction for the model (None when the board ships no calibration)."""
    from ..cost.calibration import CALIBRATIONS_DIR
    from ..cost.estimate import estimate_model

    if not (CALIBRATIONS_DIR / f"{board}.json").is_file():
        return None
    return int(estimate_model(Path(model_path).read_bytes(), board)["instructions"])


def build_summary(cfg, report, images, packed_summary, boards, failures, progress, pdir) -> dict:
    out = cfg["out"]
    ft_seconds = report.get("phase_times_s", {}).get("fine_tune")
    splits = report.get("splits", {})
    variants = {}
    for variant in VARIANTS:
        ps = packed_summary.get(variant, {})
        variants[variant] = {
            "tflite": _rel(pdir / ("model_int8.tflite" if variant == "pruned" else "dense_int8.tflite"), out),
            "weights_bytes": report["packed_bytes"] if variant == "pruned" else report["dense_bytes"],
            "flash_bytes": ps.get("flash_bytes"),
            "arena_bytes": ps.get("arena_bytes"),
            "ops": [o["label"] for o in ps.get("ops", [])],
            "layers": {o["label"]: o.get("layer", o["label"]) for o in ps.get("ops", [])},  # docs/figures.md
            "accuracy_int8": report["accuracy_pruned_int8" if variant == "pruned" else "accuracy_dense_int8"],
        }
    return {
        "format": SUMMARY_FORMAT,
        "version": SUMMARY_VERSION,
        "ok": not failures,
        "failures": failures,
        "model": str(cfg["model"]),
        "data": str(cfg["data"]),
        "budget": cfg["budget"],
        "budget_bytes": report["flash_budget_bytes"],
        "latency_budget": cfg.get("latency"),
        "latency_board": cfg.get("latency_board") if cfg.get("latency") else None,
        "latency_budget_instructions": report.get("latency_budget_instructions"),
        "prune_dir": _rel(pdir, out),
        "seed": cfg["seed"],
        "fine_tune": {
            "short": True,
            "epochs": cfg["epochs"],
            "train_images": splits.get("train"),
            "pruned_seconds": ft_seconds,
            "dense_baseline": cfg["dense_baseline"],
            "best_val_accuracy": report.get("best_val_accuracy"),
            "dense_val_accuracy": report.get("dense_baseline_val_accuracy"),
        },
        "test_accuracy": {
            "images": report.get("test_samples_evaluated"),
            "split": "test",
            "evaluator": report.get("evaluator", "tflite-micro"),
            "dense": report["accuracy_dense_int8"],
            "pruned": report["accuracy_pruned_int8"],
        },
        "device_images": {"n": int(len(images.y)), "indices": [int(i) for i in (images.index if images.index is not None else [])],
                          "source": "images.npz"},  # fmt: skip
        "variants": variants,
        "boards": boards,
        "prune_wall_time_s": report.get("wall_time_s"),
        "wall_time_s": round(progress.elapsed(), 1),
        "phase_times_s": dict(progress.phases),
    }


def main(argv: list[str] | None = None, prog: str = "dtmm demo") -> int:
    try:
        args = parse_args(argv, prog)
        return run_demo(args)
    except DtmmError as exc:
        msg = str(exc)
        print(f"demo: error: {msg}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("demo: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
