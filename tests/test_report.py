"""`dtmm report DIR`: Markdown and PNG plots from a run directory (synthetic run data, no TensorFlow)."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from dtmm.cli import main as cli
from dtmm.errors import DtmmError
from dtmm.report import find_prune_reports, markdown_summary, render_report, summary_rows, text_table

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
OPS = ["op00_CONV_2D", "op01_CONV_2D", "op02_ADD", "op03_FULLY_CONNECTED"]


def _prune_report(budget: str, packed: int, acc: float, dense_acc: float = 0.82) -> dict:
    return {
        "tool": "dtmm prune", "flash_budget": budget, "flash_budget_bytes": packed + 10, "dense_bytes": 82152,
        "packed_bytes": packed, "planned_bytes": packed, "accuracy_dense_int8": dense_acc,
        "accuracy_pruned_int8": acc, "epochs": 1, "dense_baseline": "finetune", "test_samples_evaluated": 10000,
        "pruned": True, "splits": {"train": 45000}, "phase_times_s": {"fine_tune": 50.0}, "wall_time_s": 300.0,
        "layers": [
            {"name": "conv2d", "dense_bytes": 704, "planned_bytes": 704, "int8_bytes": 704},
            {"name": "conv2d_7", "dense_bytes": 37712, "planned_bytes": 8624, "int8_bytes": 8624},
            {"name": "dense", "dense_bytes": 680, "planned_bytes": 650, "int8_bytes": None},
        ],
    }  # fmt: skip


def _board(instr: int, agree: int, profile_scale: float) -> dict:
    return {
        "conv_path": "dsp", "images": 100, "instructions": [instr] * 3, "instructions_mean": float(instr),
        "agreement": agree, "bit_exact": agree, "device_correct": 80, "flash_bytes": 400000,
        "flash_without_images_bytes": 100000, "ram_bytes": 70000, "test_images_bytes": 300000,
        "profile": {op: 1e6 * (k + 1) * profile_scale for k, op in enumerate(OPS)}, "profile_images": 2,
    }  # fmt: skip


def _summary(ok: bool = True) -> dict:
    return {
        "format": "dtmm-demo", "version": 1, "ok": ok,
        "failures": [] if ok else ["qemu-m4 pruned: firmware predictions agree with tflite-micro on 99/100"],
        "model": "/x/pretrainedResnet.h5", "data": "/x/cifar10-images.tar.gz", "budget": "50%",
        "budget_bytes": 41076, "prune_dir": "prune/50pct", "seed": 0,
        "fine_tune": {"short": True, "epochs": 1, "train_images": 45000, "pruned_seconds": 53.0,
                      "dense_baseline": "finetune"},
        "test_accuracy": {"images": 10000, "evaluator": "tflite-micro", "dense": 0.823, "pruned": 0.7345,
                          "original": {"tflite": "/x/pretrainedResnet_quant.tflite", "accuracy": 0.87,
                                       "images": 10000}},
        "variants": {
            "dense": {"weights_bytes": 82152, "flash_bytes": 88904, "arena_bytes": 53680, "accuracy_int8": 0.823},
            "pruned": {"weights_bytes": 41066, "flash_bytes": 47818, "arena_bytes": 53680, "accuracy_int8": 0.7345},
        },
        "boards": {
            "qemu-m4": {"dense": _board(14330830, 100, 1.0), "pruned": _board(12050811, 100 if ok else 99, 0.8)},
            "qemu-m55": {"dense": _board(3636590, 100, 0.3), "pruned": _board(3223108, 100, 0.25)},
        },
        "wall_time_s": 500.0, "phase_times_s": {"prune": 400.0, "firmware": 90.0},
    }  # fmt: skip


@pytest.fixture
def run_dir(tmp_path) -> Path:
    d = tmp_path / "run"
    for budget, slug, packed, acc in (("50%", "50pct", 41066, 0.7345), ("30KB", "30kb", 29800, 0.61),
                                      ("70%", "70pct", 57500, 0.79)):  # fmt: skip
        p = d / "prune" / slug
        p.mkdir(parents=True)
        (p / "report.json").write_text(json.dumps(_prune_report(budget, packed, acc)))
    (d / "summary.json").write_text(json.dumps(_summary()))
    return d


def test_render_report_writes_markdown_and_pngs(run_dir):
    paths = render_report(run_dir)
    names = [p.name for p in paths]
    assert names == ["report.md", "accuracy_vs_flash.png", "instructions_per_layer.png", "flash_per_layer.png"]
    for p in paths:
        assert p.parent == run_dir / "report" and p.stat().st_size > 0
    for p in paths[1:]:
        assert p.read_bytes()[:8] == PNG_MAGIC
        from PIL import Image

        with Image.open(p) as im:
            im.verify()
    md = paths[0].read_text()
    assert "| weight storage (budget 50% = 41,076 B) | 82,152 B | 41,066 B | 0.50x |" in md
    assert "| instructions per inference, qemu-m4 (dsp kernels) | 14,330,830 | 12,050,811 | 0.84x |" in md
    assert "| on-device predictions = tflite-micro's, qemu-m55 | 100/100 | 100/100 |  |" in md
    assert "| int8 top-1 accuracy, 10,000 test images (tflite-micro) | 82.30% | 73.45% | -8.85 pt |" in md
    assert "| (for reference: pretrainedResnet_quant.tflite as given, no fine-tune, same images) | 87.00% |" in md
    # three budgets, ordered by bytes
    rows = [line for line in md.splitlines() if line.startswith("| flash `")]
    assert [r.split("|")[1].strip() for r in rows] == ["flash `30KB`", "flash `50%`", "flash `70%`"]
    assert "| op01_CONV_2D | 2,000,000 | 1,600,000 | 0.80x |" in md
    assert "Short fine-tune: 1 epoch(s) over 45,000 training images (53 s" in md


def test_render_is_deterministic(run_dir, tmp_path):
    a = [p.read_bytes() for p in render_report(run_dir, tmp_path / "a")]
    b = [p.read_bytes() for p in render_report(run_dir, tmp_path / "b")]
    assert a == b


def test_report_of_prune_output_only(tmp_path):
    """A plain `dtmm prune --out DIR`: accuracy and flash plots, no instruction plot."""
    d = tmp_path / "resnet8-40k"
    d.mkdir()
    (d / "report.json").write_text(json.dumps(_prune_report("40KB", 39000, 0.70)))
    paths = render_report(d)
    assert [p.name for p in paths] == ["report.md", "accuracy_vs_flash.png", "flash_per_layer.png"]
    md = paths[0].read_text()
    assert "No per-operator profile" in md and "| flash `40KB` |" in md
    assert (d / "report.json").is_file()  # the pruner's own files are left alone
    assert [p.name for p, _r in find_prune_reports(d)] == ["report.json"]


def test_report_with_latency_budget_plots_predicted_instructions(tmp_path):
    """A prune run with --latency/--sram: its budgets, arena and predicted instructions, and the per-layer plot."""
    d = tmp_path / "resnet8-lat"
    d.mkdir()
    r = _prune_report("50%", 41000, 0.78)
    r.update(sram_budget="40KB", sram_budget_bytes=40000, latency_budget="60%", latency_budget_instructions=8_400_000,
             board="qemu-m4", arena_bytes=39424, predicted_instructions=8_123_456)  # fmt: skip
    for k, L in enumerate(r["layers"]):
        L.update(predicted_instructions=1_000_000 * (k + 1), dense_predicted_instructions=2_000_000 * (k + 1))
    (d / "report.json").write_text(json.dumps(r))
    paths = render_report(d)
    assert [p.name for p in paths][-1] == "predicted_instructions_per_layer.png"
    md = paths[0].read_text()
    assert "| flash `50%`, SRAM (arena) `40KB`, latency `60%` on qemu-m4 |" in md
    assert "| 39,424 B | 8,123,456 (qemu-m4) |" in md
    assert "latency budget `60%` = 8,400,000 for the whole model, predicted 8,123,456" in md


def test_failed_run_is_marked(tmp_path):
    d = tmp_path / "run"
    d.mkdir()
    (d / "summary.json").write_text(json.dumps(_summary(ok=False)))
    md = render_report(d)[0].read_text()
    assert "**FAILED**" in md and "99/100" in md
    assert "FAILED:" in text_table(_summary(ok=False))


def test_tables_text_and_markdown_agree():
    s = _summary()
    rows = summary_rows(s)
    text = text_table(s)
    md = markdown_summary(s)
    for r in rows:
        assert r[0] in text and r[0] in md
        assert r[1] in text and r[2] in text
    assert text.splitlines()[0].startswith("DTMM demo: pretrainedResnet.h5 on cifar10-images.tar.gz")


def test_report_cli(run_dir, tmp_path):
    result = CliRunner().invoke(cli, ["report", str(run_dir), "--out", str(tmp_path / "r")])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "r" / "report.md").is_file()
    assert str(tmp_path / "r" / "accuracy_vs_flash.png") in result.output


def test_report_cli_errors(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    result = CliRunner().invoke(cli, ["report", str(empty)])
    assert result.exit_code == 2
    assert "no demo summary" in result.output and "make demo" in result.output
    result = CliRunner().invoke(cli, ["report", str(tmp_path / "absent")])
    assert result.exit_code == 2 and "does not exist" in result.output
    with pytest.raises(DtmmError):
        (empty / "summary.json").write_text("{not json")
        render_report(empty)
    (tmp_path / "notes.txt").write_text("x")
    result = CliRunner().invoke(cli, ["report", str(tmp_path / "notes.txt")])
    assert result.exit_code == 2 and "is a file; give the run directory" in result.output
    damaged = tmp_path / "damaged"
    damaged.mkdir()
    (damaged / "report.json").write_text('{"tool": "dtmm prune", ')
    result = CliRunner().invoke(cli, ["report", str(damaged)])
    assert result.exit_code == 2 and "report.json: not valid JSON" in result.output


def test_report_shows_saved_run_model_profiles(tmp_path):
    d = tmp_path / "run"
    d.mkdir()
    (d / "report.json").write_text(json.dumps(_prune_report("40KB", 39000, 0.70)))
    run = {"tool": "dtmm run-model", "model_file": "x/model_int8.tflite", "board": "qemu-m4", "conv_path": "dsp",
           "profile": [{"op00_CONV_2D": 300, "op01_SOFTMAX": 100}, {"op00_CONV_2D": 500, "op01_SOFTMAX": 100}]}
    (d / "run-model-qemu-m4-model.json").write_text(json.dumps(run))
    md = render_report(d)[0].read_text()
    assert "`dtmm run-model --profile` of `model_int8.tflite` on qemu-m4" in md
    assert "| op00_CONV_2D | 400 | 80.0% |" in md and "| **all operators** | 500 | 100.0% |" in md
    assert "No per-operator profile" not in md


def test_report_of_a_report_file_renders_its_directory(tmp_path):
    d = tmp_path / "run"
    d.mkdir()
    (d / "report.json").write_text(json.dumps(_prune_report("40KB", 39000, 0.70)))
    result = CliRunner().invoke(cli, ["report", str(d / "report.json")])
    assert result.exit_code == 0, result.output
    assert (d / "report" / "report.md").is_file()
