"""`python -m dtmm.demo` options and errors, and the app's source generator (no QEMU, no TensorFlow)."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from dtmm.demo import run as demo
from dtmm.demo.imageclass import (
    GENERATED_FILES,
    Images,
    generate,
    generator_files,
    load_images,
    parse_console,
    save_images,
    stamp_of,
)
from dtmm.errors import DtmmError

REPO = Path(__file__).resolve().parents[1]


def _run_demo(*args: str, env_extra: dict | None = None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "DTMM_SHARED"}
    env.update(env_extra or {})
    return subprocess.run([sys.executable, "-m", "dtmm.demo", *args], cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=120, stdin=subprocess.DEVNULL)  # fmt: skip


def test_help_lists_the_options():
    """README points users to `python -m dtmm.demo --help` (it once crashed on the '%' of the default budget)."""
    proc = _run_demo("--help")
    assert proc.returncode == 0, proc.stderr
    text = " ".join(proc.stdout.split())
    assert "--budget BUDGET" in text and "(default 50% of the dense weight bytes)" in text


def test_demo_is_a_subcommand_of_dtmm():
    """`dtmm demo` (what make demo runs) hands every argument to the demo, --help and errors included."""
    env = dict(os.environ, PYTHONPATH=str(REPO / "tools"))
    run = [sys.executable, "-m", "dtmm", "demo"]
    proc = subprocess.run([*run, "--help"], cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0 and proc.stdout.startswith("usage: dtmm demo ") and "--budget BUDGET" in proc.stdout
    proc = subprocess.run([*run, "--bogus"], cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and "dtmm demo: error: unrecognized arguments: --bogus" in proc.stderr
    assert "$(PY) -m dtmm demo " in (REPO / "Makefile").read_text()


# ---- errors before any work ------------------------------------------------------------------------
def test_missing_shared_is_one_line_with_the_fix(tmp_path):
    proc = _run_demo("--shared", str(tmp_path / "nowhere"), "--out", str(tmp_path / "run"))
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("demo: error: MLPerf Tiny ResNet-8 Keras model not found at")
    assert "make demo SHARED=/path/to/shared" in lines[0] and "DTMM_SHARED" in lines[0]
    assert not (tmp_path / "run").exists()


def test_dtmm_shared_environment_variable(tmp_path):
    proc = _run_demo("--out", str(tmp_path / "run"), env_extra={"DTMM_SHARED": str(tmp_path / "elsewhere")})
    assert proc.returncode == 2 and str(tmp_path / "elsewhere") in proc.stderr


def test_missing_data_named(tmp_path):
    model = tmp_path / "m.h5"
    model.write_bytes(b"x")
    proc = _run_demo("--model", str(model), "--data", str(tmp_path / "cifar.tar.gz"), "--out", str(tmp_path / "r"))
    assert proc.returncode == 2 and "CIFAR-10 archive not found at" in proc.stderr


@pytest.mark.parametrize(
    "args, message",
    [
        (["--budget", "40K"], "ambiguous"),
        (["--boards", "nucleo_l4r5zi"], "real hardware"),
        (["--boards", "qemu-m9"], "unknown board"),
        (["--images", "0"], "--images must be at least 1"),
    ],
)
def test_bad_options(args, message, tmp_path):
    proc = _run_demo(*args, "--out", str(tmp_path / "r"))
    assert proc.returncode == 2, proc.stderr
    assert message in proc.stderr and len(proc.stderr.strip().splitlines()) == 1


def test_budget_slug_matches_the_hook():
    """demo.budget_slug and the hook's copy name budget directories alike."""
    hook = (REPO / "app" / "image_classification" / "pio_model.py").read_text()
    assert 'text = budget.strip().lower().replace("%", "pct")' in hook
    assert 're.sub(r"[^a-z0-9.]+", "", text) or "budget"' in hook
    assert demo.budget_slug("50%") == "50pct" and demo.budget_slug(" 40 KB ") == "40kb"
    assert demo.budget_slug("1.5MiB") == "1.5mib"


def test_hook_lists_match_generator():
    from dtmm.demo import imageclass

    hook = (REPO / "app" / "image_classification" / "pio_model.py").read_text()
    for pattern in imageclass.GENERATOR_SOURCES:
        assert f'"{pattern}",' in hook
    assert f'STAMP_FILE = "{imageclass.STAMP_FILE}"' in hook
    assert "GENERATED_FILES = (" + ", ".join(f'"{f}"' for f in GENERATED_FILES) + ")" in hook


def test_platformio_ini_has_ic_envs():
    import configparser

    ini = configparser.ConfigParser(interpolation=None, inline_comment_prefixes=(";",))
    ini.read(REPO / "platformio.ini")
    for board in ("qemu-m4", "qemu-m55", "nucleo_l4r5zi", "disco_f746ng", "netduinoplus2"):
        assert ini.has_section(f"env:ic-{board}")
    assert "pio_model.py" in ini.get("image_classification", "extra_scripts")
    # real boards on DTMM's own platform; the ststm32 alternative adds its glue and keeps the model hook
    assert ini.get("env:ic-nucleo_l4r5zi", "extends") == "hardware, image_classification"
    assert ini.get("hardware", "platform") == ini.get("qemu", "platform")
    assert "pio_model.py" in ini.get("env:ic-ststm32-nucleo_l4r5zi", "extra_scripts")
    assert "pio_stm32.py" in ini.get("env:ic-ststm32-nucleo_l4r5zi", "extra_scripts")
    # the existing envs and defaults are untouched
    assert ini.get("platformio", "default_envs").split(", ") == ["qemu-m0", "qemu-m3", "qemu-m4", "qemu-m7",
                                                                 "qemu-m33", "qemu-m55"]  # fmt: skip
    assert not ini.has_option("env:qemu-m4", "extra_scripts")


# ---- the generator ---------------------------------------------------------------------------------
@pytest.fixture
def images_npz(tmp_path) -> Path:
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (5, 32, 32, 3)).astype(np.uint8)
    return save_images(tmp_path / "images.npz", Images(x, np.array([0, 1, 2, 3, 9]), [f"c{k}" for k in range(10)],
                                                       np.arange(5), "raw", "test"))  # fmt: skip


def test_images_roundtrip(images_npz):
    imgs = load_images(images_npz)
    assert imgs.x.shape == (5, 32, 32, 3) and imgs.y.tolist() == [0, 1, 2, 3, 9]
    assert imgs.classes[9] == "c9" and imgs.preprocess == "raw" and imgs.index.tolist() == [0, 1, 2, 3, 4]


def test_generate_is_deterministic_and_incremental(resnet8_tflite, images_npz, tmp_path):
    out = tmp_path / "gen"
    g = generate(resnet8_tflite, images_npz, out)
    assert sorted(g.changed) == sorted(GENERATED_FILES)
    assert g.n_images == 5 and g.run_images == 5 and not g.profile
    header = (out / "ic_images.h").read_text()
    assert "#define IC_NUM_IMAGES 5u" in header and "static const int8_t ic_images[5][3072]" in header
    assert '"c9",' in header
    # raw pixels, input scale 1 and zero point -128: int8 = pixel - 128
    assert np.array_equal(g.inputs.reshape(5, -1)[:, :4],
                          (load_images(images_npz).x.reshape(5, -1)[:, :4].astype(int) - 128))  # fmt: skip
    before = {f: (out / f).stat().st_mtime_ns for f in GENERATED_FILES}
    again = generate(resnet8_tflite, images_npz, out)
    assert again.changed == []
    assert {f: (out / f).stat().st_mtime_ns for f in GENERATED_FILES} == before
    prof = generate(resnet8_tflite, images_npz, out, profile=True)
    assert prof.changed == ["ic_config.h"] and prof.run_images == 2
    assert "#define IC_PROFILE 1" in (out / "ic_config.h").read_text()


def test_generate_rejects_mismatched_images(resnet8_tflite, tmp_path):
    p = save_images(tmp_path / "small.npz", Images(np.zeros((2, 8, 8, 3), np.uint8), np.array([0, 1]), ["a", "b"]))
    with pytest.raises(DtmmError, match="the model input is"):
        generate(resnet8_tflite, p, tmp_path / "gen")


def test_stamp_depends_on_model_images_options(resnet8_tflite, images_npz, tmp_path):
    base = stamp_of(resnet8_tflite, images_npz, profile=False)
    assert base == stamp_of(resnet8_tflite, images_npz, profile=False)
    assert base != stamp_of(resnet8_tflite, images_npz, profile=True)
    other = tmp_path / "other.tflite"
    data = bytearray(resnet8_tflite.read_bytes())
    data[-1] ^= 1
    other.write_bytes(bytes(data))
    assert base != stamp_of(other, images_npz, profile=False)
    assert any(f.name == "packer.py" for f in generator_files())


def test_parse_console():
    console = "\n".join([
        "@dtmm model m.tflite on qemu-m4: 2 images, arena 10 bytes, weights 20 bytes, conv path dsp",
        "@dtmm measure inference 1000",
        "@dtmm measure op00_CONV_2D 600",
        "@dtmm measure op01_SOFTMAX 400",
        "@dtmm image 0 predicted 3 label 3 (cat / cat)",
        "@dtmm output 0 -128 5 -3 100",
        "@dtmm measure inference 1001",
        "@dtmm image 1 predicted 1 label 2 (car / bird)",
        "@dtmm output 1 -1 7 -3 0",
        "@dtmm accuracy 1 2",
        "@dtmm done 2",
    ])  # fmt: skip
    run = parse_console(console)
    assert run.predictions == [3, 1] and run.labels == [3, 2] and run.correct == 1
    assert run.instructions == [1000, 1001] and run.conv_path == "dsp" and run.done == 2
    assert run.profile == [{"op00_CONV_2D": 600, "op01_SOFTMAX": 400}]
    assert run.outputs[1].tolist() == [-1, 7, -3, 0] and run.outputs[1].dtype == np.int8


def _prune_cfg(tmp_path: Path) -> dict:
    for name in ("model.h5", "data.npz"):
        (tmp_path / name).write_bytes(b"x")
    return {"out": tmp_path / "run", "model": tmp_path / "model.h5", "data": tmp_path / "data.npz", "budget": "50%",
            "latency": None, "latency_board": None, "epochs": 1, "seed": 0, "test_limit": None,
            "dense_baseline": "finetune", "batch_size": None}  # fmt: skip


def test_prune_runs_with_onednn_and_reruns_with_stock_kernels_after_a_crash(tmp_path, monkeypatch, capsys):
    cfg = _prune_cfg(tmp_path)
    calls = []

    def fake_prune_once(cmd, progress, onednn, epochs):
        calls.append(onednn)
        if onednn != "0":
            return -11  # SIGSEGV, as TensorFlow's oneDNN kernels do on some small residual models
        out = demo.prune_dir(cfg)
        out.mkdir(parents=True, exist_ok=True)
        (out / "report.json").write_text('{"accuracy_pruned_int8": 0.5}')
        return 0

    monkeypatch.delenv("TF_ENABLE_ONEDNN_OPTS", raising=False)
    monkeypatch.setattr(demo, "_prune_once", fake_prune_once)
    report = demo.run_prune(cfg, demo.Progress(), force=True, quiet=True)
    assert calls == ["1", "0"] and report == {"accuracy_pruned_int8": 0.5}
    assert "died with signal 11 under TensorFlow's oneDNN kernels" in capsys.readouterr().out


def test_prune_failure_is_not_retried(tmp_path, monkeypatch):
    cfg = _prune_cfg(tmp_path)
    calls = []
    monkeypatch.setenv("TF_ENABLE_ONEDNN_OPTS", "1")
    monkeypatch.setattr(demo, "_prune_once", lambda cmd, progress, onednn, epochs: calls.append(onednn) or 2)
    with pytest.raises(DtmmError, match="exit status 2"):
        demo.run_prune(cfg, demo.Progress(), force=True, quiet=True)
    assert calls == ["1"]  # an ordinary error (bad input, ...) is reported, not retried


def test_original_model_is_scored_on_the_pruners_test_images(resnet8_tflite, tmp_path):
    from dtmm.prune.data import load_dataset, make_splits, scored_test_subset

    rng = np.random.default_rng(3)
    data = tmp_path / "data.npz"
    np.savez(data, x=rng.integers(0, 256, (30, 32, 32, 3), dtype=np.uint8), y=rng.integers(0, 10, 30),
             x_test=rng.integers(0, 256, (20, 32, 32, 3), dtype=np.uint8), y_test=rng.integers(0, 10, 20))
    cfg = {"original_tflite": resnet8_tflite, "data": data, "seed": 2, "test_limit": 7, "out": tmp_path}
    result = demo.evaluate_original(cfg, demo.Progress())
    assert result["images"] == 7 and 0.0 <= result["accuracy"] <= 1.0
    _x, y = scored_test_subset(make_splits(load_dataset(data), seed=2), 7, 2)
    assert len(y) == 7 and (tmp_path / "original_accuracy.json").is_file()
