"""`make demo` end to end at small scale, the image-classification firmware and its PlatformIO hook.

A tiny ResNet-like Keras model and a few hundred synthetic 8x8 images go
through the whole demo (`python -m dtmm.demo`): `tools/prune.py` with a
one-epoch fine-tune, both models packed by the ic-qemu-m4 env's pre: hook,
built with PlatformIO, run under QEMU on 20 test images, compared with the
tflite-micro interpreter, summarised and rendered by `dtmm report`.  Then the
hook itself: a build with nothing changed regenerates and recompiles
nothing, a changed model file or variant is picked up, a missing
configuration is one clear error.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from dtmm.demo.imageclass import STAMP_FILE, load_images, model_inputs, stamp_of
from dtmm.demo.run import budget_slug, pio_build
from dtmm.errors import DtmmError
from dtmm.pack import pack_model
from dtmm.targets.qemu import run_firmware
from dtmm.tflite.interpreter import tflm_outputs

REPO = Path(__file__).resolve().parents[1]
BUDGET = "60%"
N_IMAGES = 20

pytestmark = [
    pytest.mark.qemu,
    pytest.mark.filterwarnings("ignore::UserWarning"),
    pytest.mark.filterwarnings("ignore::DeprecationWarning"),
    pytest.mark.skipif(
        shutil.which("qemu-system-arm") is None or shutil.which("arm-none-eabi-gcc") is None,
        reason="qemu-system-arm or arm-none-eabi-gcc not installed",
    ),
]


def _tiny_inputs(root: Path) -> tuple[Path, Path]:
    """A tiny residual Keras model (8x8x3 -> 3 classes) and an .npz of synthetic images.
    (8x8: TensorFlow 2.21 with oneDNN crashes computing gradients of this model on 16x16 inputs.)"""
    pytest.importorskip("tensorflow")
    from support.keras_models import synthetic_images, tiny_resnet

    x, y = synthetic_images(360, size=8, classes=3, seed=1)
    xt, yt = synthetic_images(90, size=8, classes=3, seed=2)
    data = root / "data.npz"
    np.savez(data, x=x, y=y, x_test=xt, y_test=yt, classes=np.array(["red", "green", "blue"]))
    model = tiny_resnet(input_shape=(8, 8, 3), classes=3, width=8, seed=0)
    path = root / "tiny.keras"
    model.save(path)
    return path, data


def _demo(args: list[str], timeout: float = 600) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    return subprocess.run([sys.executable, "-m", "dtmm.demo", *args], cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=timeout, stdin=subprocess.DEVNULL)  # fmt: skip


@pytest.fixture(scope="module")
def small_run(tmp_path_factory):
    """One small demo run on qemu-m4; returns (run dir, completed process, model, data)."""
    root = tmp_path_factory.mktemp("demo")
    model, data = _tiny_inputs(root)
    run = root / "run"
    proc = _demo(["--model", str(model), "--data", str(data), "--budget", BUDGET, "--epochs", "1",
                  "--images", str(N_IMAGES), "--boards", "qemu-m4", "--out", str(run), "--quiet"])  # fmt: skip
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return run, proc, model, data


# ---- the demo --------------------------------------------------------------------------------------
def test_demo_writes_run_directory(small_run):
    run, _proc, _m, _d = small_run
    pdir = run / "prune" / budget_slug(BUDGET)
    for rel in ("demo.json", "images.npz", "summary.json", "summary.md",
                "firmware/qemu-m4-dense.elf", "firmware/qemu-m4-pruned.elf",
                "firmware/qemu-m4-pruned-profile.elf", "runs/qemu-m4-pruned.log",
                "packed/pruned/classifier.c", "packed/dense/classifier.json", "report/report.md"):  # fmt: skip
        assert (run / rel).is_file(), rel
    for rel in ("model_int8.tflite", "dense_int8.tflite", "report.json", "recipe.json"):
        assert (pdir / rel).is_file(), rel
    recipe = json.loads((run / "demo.json").read_text())
    assert recipe["budget"] == BUDGET and recipe["epochs"] == 1 and recipe["boards"] == ["qemu-m4"]


def test_demo_summary_numbers(small_run):
    run, proc, _m, _d = small_run
    s = json.loads((run / "summary.json").read_text())
    assert s["format"] == "dtmm-demo" and s["ok"] is True and s["failures"] == []
    d, p = s["variants"]["dense"], s["variants"]["pruned"]
    assert p["weights_bytes"] <= s["budget_bytes"] < d["weights_bytes"]
    assert 0 < p["flash_bytes"] < d["flash_bytes"]
    assert p["arena_bytes"] > 0 and d["arena_bytes"] > 0
    b = s["boards"]["qemu-m4"]
    for variant in ("dense", "pruned"):
        e = b[variant]
        assert e["images"] == N_IMAGES
        assert e["agreement"] == N_IMAGES and e["bit_exact"] == N_IMAGES  # the firmware is tflite-micro, exactly
        assert len(e["instructions"]) == N_IMAGES and e["instructions_mean"] > 0
        assert e["conv_path"] == "dsp"
        assert e["profile"] and all(k.startswith("op") for k in e["profile"])
        assert e["flash_without_images_bytes"] < e["flash_bytes"]
    assert b["pruned"]["instructions_mean"] < b["dense"]["instructions_mean"]
    # the default recipe's latency budget (60% of the dense instructions on qemu-m4, as predicted) is met
    assert s["latency_budget"] == "60%" and s["latency_board"] == "qemu-m4"
    assert b["pruned"]["predicted_instructions"] <= s["latency_budget_instructions"] < b["dense"]["predicted_instructions"]
    ft = s["fine_tune"]
    assert ft["short"] and ft["epochs"] == 1 and ft["pruned_seconds"] is not None
    assert s["test_accuracy"]["images"] == 90 and s["test_accuracy"]["evaluator"] == "tflite-micro"
    assert s["wall_time_s"] > 0 and "firmware" in s["phase_times_s"]
    # the printed table
    out = proc.stdout
    assert "DTMM (pruned)" in out and "instructions per inference, qemu-m4" in out
    assert "predicted by the qemu-m4 cost model (dtmm estimate; budget 60% = " in out
    assert f"{N_IMAGES}/{N_IMAGES}" in out and "Short fine-tune: 1 epoch(s)" in out
    assert "done in" in out


def test_demo_firmware_matches_tflite_micro(small_run):
    """Independent re-check of the agreement: rerun the ELF, compare with the interpreter."""
    run, _proc, _m, _d = small_run
    images = load_images(run / "images.npz")
    tfl = run / "prune" / budget_slug(BUDGET) / "model_int8.tflite"
    packed = pack_model(tfl, "classifier")
    want = [int(np.argmax(o)) for o in tflm_outputs(tfl.read_bytes(), model_inputs(images, packed.input))]
    result = run_firmware(run / "firmware" / "qemu-m4-pruned.elf", "qemu-m4", timeout=120)
    assert result.exit_code == 0
    from dtmm.demo.imageclass import parse_console

    got = parse_console(result.console)
    assert got.predictions == want
    assert got.labels == [int(v) for v in images.y]
    assert f"@dtmm accuracy {got.correct} {N_IMAGES}" in result.console


def test_demo_report_of_the_run(small_run):
    run, _proc, _m, _d = small_run
    md = (run / "report" / "report.md").read_text()
    assert "| instructions per inference, qemu-m4 (dsp kernels) |" in md
    assert "accuracy_vs_flash.png" in md and "instructions_per_layer.png" in md
    from PIL import Image

    for name in ("accuracy_vs_flash.png", "instructions_per_layer.png", "flash_per_layer.png"):
        with Image.open(run / "report" / name) as im:
            im.verify()
            assert im.format == "PNG" and im.size[0] > 400 and im.size[1] > 300


def test_demo_second_run_reuses_pruning(small_run, tmp_path):
    """Same recipe again: no pruning, same numbers (the firmware is deterministic)."""
    run, _proc, model, data = small_run
    before = json.loads((run / "summary.json").read_text())
    proc = _demo(["--model", str(model), "--data", str(data), "--budget", BUDGET, "--epochs", "1",
                  "--images", str(N_IMAGES), "--boards", "qemu-m4", "--out", str(run), "--quiet",
                  "--no-profile", "--no-report"])  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "reusing" in proc.stdout and "dtmm prune:" not in proc.stderr
    after = json.loads((run / "summary.json").read_text())
    for variant in ("dense", "pruned"):
        assert after["boards"]["qemu-m4"][variant]["instructions"] == before["boards"]["qemu-m4"][variant]["instructions"]


def test_demo_fails_loudly_when_firmware_disagrees(small_run, tmp_path, monkeypatch, capsys):
    """A reference that differs from the firmware (here: a doctored interpreter) fails the demo, exit 1."""
    run, _proc, model, data = small_run
    copy = tmp_path / "run"
    shutil.copytree(run, copy, ignore=shutil.ignore_patterns("build", "firmware", "runs", "report"))
    import dtmm.tflite.interpreter as tflm

    real = tflm.tflm_outputs

    def doctored(model_bytes, inputs):
        outs = real(model_bytes, inputs)
        outs[3] = np.roll(outs[3], 1)  # image 3 now predicts another class
        return outs

    monkeypatch.setattr(tflm, "tflm_outputs", doctored)
    from dtmm.demo import run as demo

    code = demo.main(["--model", str(model), "--data", str(data), "--budget", BUDGET, "--epochs", "1",
                      "--images", str(N_IMAGES), "--boards", "qemu-m4", "--out", str(copy), "--quiet",
                      "--no-profile", "--no-report"])  # fmt: skip
    out, err = capsys.readouterr()
    assert code == 1
    assert f"demo: FAILED: qemu-m4 dense: firmware predictions agree with tflite-micro on {N_IMAGES - 1}/{N_IMAGES}" in err
    assert "differing: [3]" in err
    s = json.loads((copy / "summary.json").read_text())
    assert s["ok"] is False and len(s["failures"]) == 2
    assert "FAILED" in out


# ---- the PlatformIO hook --------------------------------------------------------------------------
def _gen_files(build: Path) -> dict[str, int]:
    gen = build / "ic-qemu-m4" / "dtmm_model"
    files = {p.name: p.stat().st_mtime_ns for p in gen.iterdir() if p.is_file()}
    obj = build / "ic-qemu-m4" / "dtmm_model_obj" / "ic_model.o"
    files["ic_model.o"] = obj.stat().st_mtime_ns
    return files


def _weights_line(elf: Path) -> int:
    result = run_firmware(elf, "qemu-m4", timeout=120)
    assert result.exit_code == 0, result.console[-500:]
    model_line = next(line for line in result.console.splitlines() if line.startswith("@dtmm model "))
    return int(model_line.split("weights ")[1].split(" bytes")[0])


def test_hook_builds_demo_model_and_skips_when_unchanged(small_run, tmp_path):
    run, _proc, _m, _d = small_run
    build = tmp_path / "build"
    psum = json.loads((run / "packed" / "pruned" / "classifier.json").read_text())
    elf, log = pio_build("ic-qemu-m4", build, {"run_dir": run})
    assert "generating model sources (budget 60%, pruned model" in log
    assert _weights_line(elf) == psum["flash_bytes"]
    before = _gen_files(build)
    stamp = (build / "ic-qemu-m4" / "dtmm_model" / STAMP_FILE).read_text().strip()
    tfl = run / "prune" / budget_slug(BUDGET) / "model_int8.tflite"
    assert stamp == stamp_of(tfl, run / "images.npz", profile=False, extra="hook=1\0model_file=model_int8.tflite")

    elf2, log2 = pio_build("ic-qemu-m4", build, {"run_dir": run})
    assert "model sources up to date" in log2 and "generating" not in log2
    assert "Compiling" not in log2  # nothing recompiled
    assert _gen_files(build) == before


def test_hook_picks_up_changed_model_file_and_variant(small_run, tmp_path):
    run, _proc, _m, _d = small_run
    pdir = run / "prune" / budget_slug(BUDGET)
    dense_flash = json.loads((run / "packed" / "dense" / "classifier.json").read_text())["flash_bytes"]
    pruned_flash = json.loads((run / "packed" / "pruned" / "classifier.json").read_text())["flash_bytes"]
    build = tmp_path / "build"
    model = tmp_path / "my_model.tflite"
    shutil.copyfile(pdir / "model_int8.tflite", model)
    overrides = {"model": model, "images": run / "images.npz"}
    elf, log = pio_build("ic-qemu-m4", build, overrides)
    assert "generating model sources (model " in log
    assert _weights_line(elf) == pruned_flash

    shutil.copyfile(pdir / "dense_int8.tflite", model)  # same path, new content
    elf, log = pio_build("ic-qemu-m4", build, overrides)
    assert "generating model sources" in log and "ic_model.o" in log
    assert _weights_line(elf) == dense_flash

    elf, log = pio_build("ic-qemu-m4", build, {"run_dir": run, "variant": "dense"})
    assert "generating model sources (budget 60%, dense model" in log  # other file name: regenerated
    assert _weights_line(elf) == dense_flash


def test_hook_without_configuration_says_what_to_do(tmp_path):
    with pytest.raises(DtmmError) as err:
        pio_build("ic-qemu-m4", tmp_path / "build", {"run_dir": tmp_path / "nothing"})
    assert "run `make demo` first" in str(err.value)


def test_hook_missing_model_file(tmp_path):
    with pytest.raises(DtmmError) as err:
        pio_build("ic-qemu-m4", tmp_path / "build", {"model": tmp_path / "absent.tflite"})
    assert "absent.tflite does not exist" in str(err.value)


def test_hook_prunes_a_new_budget_and_report_shows_both(small_run, tmp_path):
    """custom_dtmm_budget / DTMM_IC_BUDGET set to a budget not pruned yet: the hook prunes it
    (demo recipe), builds it; `dtmm report` then plots both budgets."""
    run, _proc, _m, _d = small_run
    build = tmp_path / "build"
    elf, log = pio_build("ic-qemu-m4", build, {"run_dir": run, "budget": "80%"})
    assert "has not been pruned yet" in log
    new = run / "prune" / budget_slug("80%")
    assert (new / "model_int8.tflite").is_file()
    # same recipe but the budget: the 60% run's fine-tuned dense baseline is reused, not fine-tuned again
    first = run / "prune" / budget_slug(BUDGET)
    assert "reusing the dense baseline fine-tuned for" in log
    r_new, r_first = (json.loads((d / "report.json").read_text()) for d in (new, first))
    assert Path(r_new["dense_baseline_reused_from"]) == first
    assert r_new["dense_baseline_val_accuracy"] == r_first["dense_baseline_val_accuracy"]
    from dtmm.prune.export import unnamed_model_bytes

    dense_new, dense_first = ((d / "dense_int8.tflite").read_bytes() for d in (new, first))
    assert unnamed_model_bytes(dense_new) == unnamed_model_bytes(dense_first)  # the same model, so its
    assert r_new["accuracy_dense_int8"] == r_first["accuracy_dense_int8"]  # evaluation is read back
    flash = pack_model(new / "model_int8.tflite", "classifier").flash_bytes
    assert _weights_line(elf) == flash
    assert json.loads((run / "demo.json").read_text())["budget"] == BUDGET  # the demo's own budget is kept
    from dtmm.report import render_report

    paths = render_report(run, tmp_path / "report")
    md = paths[0].read_text()
    assert "| flash `60%`" in md and "| flash `80%`" in md


def test_demo_budget_above_the_dense_size_says_nothing_was_pruned(small_run, tmp_path):
    """A flash budget at or above the dense model and no latency budget: the demo says no pruning and no
    fine-tune ran, not "pruned"."""
    _run, _proc, model, data = small_run
    proc = _demo(["--model", str(model), "--data", str(data), "--budget", "200%", "--latency", "none", "--epochs", "1",
                  "--images", str(N_IMAGES), "--out", str(tmp_path / "run"), "--prune-only", "--quiet"])  # fmt: skip
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert "nothing pruned: the budget" in proc.stdout and "no fine-tuning ran" in proc.stdout
    assert "pruned: weight storage" not in proc.stdout
