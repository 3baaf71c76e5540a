"""`dtmm run-model` plumbing with the checksum lowering: pack -> PlatformIO -> QEMU -> outputs.

The checksum lowering (support.tiny_tflite) makes every output byte depend on
every byte the memory plan must keep intact, so equality with its numpy
reference checks plan, generated code, runner and console parsing on the
real boards without needing the real kernels.  tests/test_run_model_real.py
runs real models bit-exactly against the tflite-micro interpreter.
"""
from __future__ import annotations

import json
import shutil
import types
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from dtmm.cli import main
from dtmm.errors import DtmmError
from dtmm.pack import pack_model
from dtmm.targets import model_runner as runner_mod
from dtmm.targets.model_runner import check_inputs, run_model
from dtmm.tflite.model import TfliteModel
from support.tiny_tflite import T, checksum_lowering, checksum_reference, make_model, residual_model

LOWERING = "support.tiny_tflite:checksum_lowering"
needs_qemu = pytest.mark.skipif(
    shutil.which("qemu-system-arm") is None or shutil.which("arm-none-eabi-gcc") is None,
    reason="qemu-system-arm or arm-none-eabi-gcc not installed",
)


@pytest.fixture(scope="module")
def residual(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("models") / "residual.tflite"
    path.write_bytes(residual_model())
    return path


def _inputs(n: int, shape, seed=0) -> np.ndarray:
    return np.random.default_rng(seed).integers(-128, 128, size=(n, *shape)).astype(np.int8)


# ---- on QEMU -----------------------------------------------------------------------------------
@needs_qemu
@pytest.mark.qemu
@pytest.mark.parametrize("board", ["qemu-m4", "qemu-m55"])
def test_checksum_model_matches_reference(residual, board):
    model = TfliteModel.load(residual)
    xs = _inputs(3, (1, 8, 8, 4))
    result = run_model(residual, board, xs, lowering=checksum_lowering())
    assert result.board == board and len(result.outputs) == 3
    for x, y in zip(xs, result.outputs):
        assert y.dtype == np.int8
        assert np.array_equal(y.view(np.uint8), checksum_reference(model, x))
    assert all(n > 1000 for n in result.instructions)
    assert result.profile is None


@needs_qemu
@pytest.mark.qemu
def test_resnet8_graph_plan_on_qemu(resnet8_tflite):
    """The real ResNet-8 graph (residual branches, reshape alias, scratch) with checksum ops."""
    model = TfliteModel.load(resnet8_tflite)
    xs = _inputs(2, (1, 32, 32, 3), seed=1)
    result = run_model(resnet8_tflite, "qemu-m4", xs, lowering=checksum_lowering(), name="r8sum")
    for x, y in zip(xs, result.outputs):
        assert np.array_equal(y.view(np.uint8), checksum_reference(model, x))


@needs_qemu
@pytest.mark.qemu
def test_profile_reports_every_operator_with_code(residual):
    xs = _inputs(2, (1, 8, 8, 4))
    result = run_model(residual, "qemu-m4", xs, lowering=checksum_lowering(), profile=True)
    assert len(result.profile) == 2
    labels = list(result.profile[0])
    assert labels == ["op00_TANH", "op01_LOGISTIC", "op02_ADD", "op04_FULLY_CONNECTED"]  # RESHAPE is free
    for total, per_op in zip(result.instructions, result.profile):
        assert 0 < sum(per_op.values()) <= total
    assert result.as_dict()["profile"] == result.profile


@needs_qemu
@pytest.mark.qemu
def test_float_io_model_on_qemu(tmp_path):
    data = make_model(
        [T((1, 6), dtype="float32"), T((1, 6)), T((1, 6)), T((1, 5), dtype="float32")],
        [("QUANTIZE", [0], [1]), ("TANH", [1], [2]), ("DEQUANTIZE", [2], [3])],
        [0], [3],
    )  # fmt: skip
    model = TfliteModel(data, "fio.tflite")
    xs = np.linspace(-3, 3, 12, dtype=np.float32).reshape(2, 1, 6)
    result = run_model(model, "qemu-m4", xs, lowering=checksum_lowering(), name="fio")
    for x, y in zip(xs, result.outputs):
        assert y.dtype == np.float32
        assert np.array_equal(y.view(np.uint8), checksum_reference(model, x))


@needs_qemu
@pytest.mark.qemu
def test_cli_json_and_text(residual, tmp_path):
    xs = _inputs(2, (8, 8, 4))  # batch dimension of 1 may be left out
    np.save(tmp_path / "x.npy", xs)
    runner = CliRunner()
    r = runner.invoke(main, ["run-model", str(residual), "--board", "qemu-m4", "--inputs", str(tmp_path / "x.npy"),
                             "--json", "--profile", "--lowering", LOWERING])
    assert r.exit_code == 0, r.output
    report = json.loads(r.stdout)  # progress goes to stderr only
    assert set(report) == {"board", "model", "outputs", "instructions_per_inference", "arena_bytes",
                           "flash_bytes", "conv_path", "profile", "unit"}
    assert report["conv_path"] == "dsp" and report["unit"] == "QEMU-retired instructions (not cycles)"
    assert report["board"] == "qemu-m4" and len(report["outputs"]) == 2 and len(report["outputs"][0]) == 10
    assert "building the model runner for qemu-m4" in r.stderr
    r = runner.invoke(main, ["run-model", str(residual), "--board", "qemu-m4", "--inputs", str(tmp_path / "x.npy"),
                             "--lowering", LOWERING])
    assert r.exit_code == 0, r.output
    lines = r.stdout.splitlines()
    assert lines[0].startswith("[0] ") and " instructions  output: " in lines[0]
    assert lines[0].split("output: ")[1].split() == [str(v) for v in report["outputs"][0]]
    assert "instructions per inference" in lines[2]


def _status_lowering(where: str):
    """The checksum lowering with one operator failing at init or invoke."""
    base = checksum_lowering()

    def lower_op(model, op, prefix):
        lo = base.lower_op(model, op, prefix)
        if op.index != 1:
            return lo
        if where == "invoke":
            return lo.__class__(**{**lo.__dict__, "c_call": "status = DTMM_ERR_UNSUPPORTED;"})
        low = types.SimpleNamespace(**lo.__dict__)
        low.c_init = "status = ({scratch_bytes} > 0) ? DTMM_ERR_HEADER : DTMM_OK;"
        return low

    return types.SimpleNamespace(lower_op=lower_op, unsupported_ops=base.unsupported_ops,
                                 C_INCLUDES=base.C_INCLUDES)


@needs_qemu
@pytest.mark.qemu
@pytest.mark.parametrize("where, message", [
    ("invoke", r"invoke failed: invoke 0 DTMM_ERR_UNSUPPORTED \(operator 1 LOGISTIC\)"),
    ("init", r"init failed: init DTMM_ERR_HEADER \(operator 1 LOGISTIC\)"),
])
def test_runner_failures_are_reported(residual, where, message):
    with pytest.raises(DtmmError, match=f"model runner on qemu-m4: {message}"):
        run_model(residual, "qemu-m4", _inputs(1, (1, 8, 8, 4)), lowering=_status_lowering(where),
                  name=f"fail_{where}")


@needs_qemu
@pytest.mark.qemu
def test_linker_overflow_is_reported(monkeypatch):
    big = make_model([T((1, 200_000))] * 3, [("TANH", [0], [1]), ("ADD", [0, 1], [2])], [0], [2])
    packed = pack_model(TfliteModel(big, "big.tflite"), "big", lowering=checksum_lowering())
    monkeypatch.setattr(runner_mod, "check_fit", lambda *a: None)
    with pytest.raises(DtmmError, match=r"model does not fit qemu-m55: the linker reports region RAM overflowed"):
        run_model(None, "qemu-m55", _inputs(1, (1, 200_000)), packed=packed)


# ---- errors before any build --------------------------------------------------------------------
def test_model_too_big_for_the_board():
    big = make_model([T((1, 200_000))] * 3, [("TANH", [0], [1]), ("ADD", [0, 1], [2])], [0], [2])
    with pytest.raises(DtmmError, match=r"model does not fit qemu-m55: needs about \d+ bytes of RAM .* has 524288"):
        run_model(TfliteModel(big, "big.tflite"), "qemu-m55", _inputs(1, (1, 200_000)),
                  lowering=checksum_lowering())
    many = make_model([T((1, 3000)), T((1, 3000))], [("TANH", [0], [1])], [0], [1])
    with pytest.raises(DtmmError, match=r"needs about \d+ bytes of flash .* 200 inputs"):
        run_model(TfliteModel(many, "many.tflite"), "qemu-m55", _inputs(200, (1, 3000)),
                  lowering=checksum_lowering())


def test_hardware_and_unknown_boards(residual):
    with pytest.raises(DtmmError, match="'nucleo_l4r5zi' is real hardware; run-model runs under QEMU only"):
        run_model(residual, "nucleo_l4r5zi", _inputs(1, (1, 8, 8, 4)), lowering=checksum_lowering())
    with pytest.raises(DtmmError, match="unknown board 'qemu-m99'"):
        run_model(residual, "qemu-m99", _inputs(1, (1, 8, 8, 4)), lowering=checksum_lowering())


def test_input_checks():
    packed = pack_model(TfliteModel(residual_model(), "r.tflite"), "r", lowering=checksum_lowering())
    good = _inputs(2, (1, 8, 8, 4))
    assert check_inputs(good, packed).shape == (2, 1, 8, 8, 4)
    assert check_inputs(good.reshape(2, 8, 8, 4), packed).shape == (2, 1, 8, 8, 4)
    with pytest.raises(DtmmError, match=r"x.npy: dtype is float32, but the model input 'input' is int8"):
        check_inputs(good.astype(np.float32), packed, "x.npy")
    with pytest.raises(DtmmError, match=r"shape \[2, 8, 8, 3\] does not match N x the model input shape "
                                        r"\[1, 8, 8, 4\] \(expected \[N, 1, 8, 8, 4\] or \[N, 8, 8, 4\]\)"):
        check_inputs(_inputs(2, (8, 8, 3)), packed)
    with pytest.raises(DtmmError, match=r"contains no inputs"):
        check_inputs(_inputs(0, (1, 8, 8, 4)), packed)


@pytest.mark.parametrize("content, message", [
    (None, "inputs file not found"),
    (b"not numpy", r"not a \.npy file \(no NPY header\)"),
    (b"\x93NUMPY\x01\x00garbage", "not a readable .npy array"),
    ("npz", "is an .npz archive"),
    ("float", "dtype is float64, but the model input 'input' is int8"),
    ("shape", r"shape \[3, 4\] does not match"),
])
def test_cli_input_errors_are_one_line(residual, tmp_path, content, message):
    path = tmp_path / "x.npy"
    if content == "npz":
        np.savez(tmp_path / "x.npz", a=np.zeros(3))
        path = tmp_path / "x.npz"
    elif content == "float":
        np.save(path, np.zeros((2, 1, 8, 8, 4)))
    elif content == "shape":
        np.save(path, np.zeros((3, 4), np.int8))
    elif content is not None:
        path.write_bytes(content)
    r = CliRunner().invoke(main, ["run-model", str(residual), "--board", "qemu-m4", "--inputs", str(path),
                                  "--lowering", LOWERING])
    assert r.exit_code == 2
    errors = [line for line in r.stderr.splitlines() if line.startswith("dtmm: error:")]
    assert len(errors) == 1 and r.stderr.endswith("\n"), r.stderr
    import re

    assert re.search(message, errors[0]), errors[0]


def test_missing_toolchain_is_a_clear_error(residual, monkeypatch):
    real_which = shutil.which
    monkeypatch.setattr(runner_mod.shutil, "which",
                        lambda name, *a, **k: None if name == "arm-none-eabi-gcc" else real_which(name, *a, **k))
    with pytest.raises(DtmmError, match="arm-none-eabi-gcc not found on PATH"):
        run_model(residual, "qemu-m4", _inputs(1, (1, 8, 8, 4)), lowering=checksum_lowering())
    monkeypatch.setattr(runner_mod.shutil, "which",
                        lambda name, *a, **k: None if name == "qemu-system-arm" else real_which(name, *a, **k))
    with pytest.raises(DtmmError, match="qemu-system-arm not found on PATH"):
        run_model(residual, "qemu-m4", _inputs(1, (1, 8, 8, 4)), lowering=checksum_lowering())


def test_old_work_dirs_are_pruned(tmp_path):
    import os
    import time

    from dtmm.targets.model_runner import prune_work_dirs

    now = time.time()
    for i in range(6):
        d = tmp_path / f"m-{i}"
        (d / "src").mkdir(parents=True)
        age = 7200 if i < 4 else 10  # four old, two recent
        os.utime(d, (now - age - i, now - age - i))
    prune_work_dirs(tmp_path, keep=1, min_age=3600)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m-4", "m-5"]


@needs_qemu
@pytest.mark.qemu
def test_cli_runs_test_images_of_a_dataset(residual, tmp_path):
    """--data/--images: evenly spread test images, quantized with the model input's scale and zero point."""
    rng = np.random.default_rng(7)
    x_test = rng.integers(0, 256, (9, 8, 8, 4)).astype(np.uint8)
    y_test = np.arange(9) % 3
    np.savez(tmp_path / "d.npz", x=x_test[:3], y=y_test[:3], x_test=x_test, y_test=y_test)
    r = CliRunner().invoke(main, ["run-model", str(residual), "--board", "qemu-m4", "--data", str(tmp_path / "d.npz"),
                                  "--images", "3", "--json", "--profile", "--save", str(tmp_path),
                                  "--lowering", LOWERING])  # fmt: skip
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    saved = json.loads((tmp_path / "run-model-qemu-m4-residual.json").read_text())
    assert saved["tool"] == "dtmm run-model" and saved["outputs"] == doc["outputs"] and saved["profile"]
    from dtmm.report import render_report

    assert "`dtmm run-model --profile` of `residual.tflite` on qemu-m4" in render_report(tmp_path)[0].read_text()
    assert doc["labels"] == [int(y_test[i]) for i in (0, 4, 8)]
    model = TfliteModel.load(residual)
    t = model.tensors[model.inputs[0]]
    for i, out in zip((0, 4, 8), doc["outputs"]):
        q = np.clip(np.round(x_test[i].astype(np.float32) / t.scales[0]) + t.zero_points[0], -128, 127)
        want = checksum_reference(model, q.astype(np.int8)[None])
        assert np.array_equal(np.asarray(out, np.int64).astype(np.int8).view(np.uint8), want)


def test_cli_needs_exactly_one_source_of_inputs(residual, tmp_path):
    for extra in ([], ["--inputs", "x.npy", "--data", "d.npz"]):
        r = CliRunner().invoke(main, ["run-model", str(residual), "--board", "qemu-m4", *extra])
        assert r.exit_code == 2 and "give exactly one of --inputs FILE.npy and --data DATASET" in r.output
    np.savez(tmp_path / "d.npz", x=np.zeros((2, 5, 5, 4), np.uint8), y=np.zeros(2, int),
             x_test=np.zeros((2, 5, 5, 4), np.uint8), y_test=np.zeros(2, int))  # fmt: skip
    r = CliRunner().invoke(main, ["run-model", str(residual), "--board", "qemu-m4", "--data", str(tmp_path / "d.npz")])
    assert r.exit_code == 2 and "images are [5, 5, 4], the model takes [8, 8, 4]" in r.stderr
