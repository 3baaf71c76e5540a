"""`dtmm compare` end to end on a tiny model (every method, two budgets, qemu-m4), its reuse and its errors."""
from __future__ import annotations

import json
import shutil

import pytest
from click.testing import CliRunner

from dtmm.cli import main
from dtmm.compare import summary as S

pytest.importorskip("keras")
qemu = pytest.mark.skipif(shutil.which("qemu-system-arm") is None or shutil.which("arm-none-eabi-gcc") is None,
                          reason="qemu-system-arm or arm-none-eabi-gcc not installed")  # fmt: skip


def _compare(d, *extra):
    return CliRunner().invoke(main, ["compare", str(d / "tiny.keras"), "--data", str(d / "data.npz"), "--budgets",
                                     "60%,45%", "--boards", "qemu-m4", "--epochs", "1", "--batch-size", "16",
                                     "--calib-samples", "32", "--out", str(d / "cmp"), "--quiet", *extra])  # fmt: skip


@pytest.fixture(scope="module")
def case(tmp_path_factory):
    from support.keras_models import write_tiny_prune_case

    return write_tiny_prune_case(tmp_path_factory.mktemp("compare"), width=16, train_seed=11, test_seed=12,
                                 n_train=160, n_test=40)  # fmt: skip


@qemu
@pytest.mark.qemu
def test_compare_end_to_end_and_reuse(case):
    r = _compare(case)
    assert r.exit_code == 0, r.stderr + r.stdout
    out = case / "cmp"
    res = json.loads((out / "compare.json").read_text())
    assert [(c["budget"], c["method"]) for c in res["cells"]] == [
        (b, m) for b in ("60%", "45%") for m in ("dtmm", "filter", "pattern", "unstructured")]
    for c in res["cells"]:
        assert c["packed_bytes"] <= c["flash_budget_bytes"], c
        m = c["boards"]["qemu-m4"]
        assert m["instructions"] > 0 and m["arena_bytes"] > 0 and m["conv_storage"] == c["conv_storage"]
        assert c["conv_storage"] == {"dtmm": "fwcs", "filter": "fwcs", "pattern": "pattern",
                                     "unstructured": "sparse"}[c["method"]]  # fmt: skip
    assert res["dense"]["boards"]["qemu-m4"]["instructions"] > 0
    assert set(res["summary"]) == {"filter", "pattern", "unstructured"}
    assert res["summary"]["pattern"]["paper"] == {"size": -0.119, "latency": -0.687}
    md = (out / "compare.md").read_text()
    assert "| 45% | pattern | pattern |" in md and "size at equal accuracy" in md
    for p in res["plots"]:
        assert (out / p).stat().st_size > 1000
    assert "pruning (1 epochs)" in r.stderr and "dense baseline (and teacher): " in r.stderr
    assert "DTMM vs pattern (PatDNN): size at equal accuracy" in r.stderr
    # every later cell starts from the first cell's fine-tuned dense model
    assert r.stderr.count("dense_finetuned.keras") >= 7
    again = _compare(case)
    assert again.exit_code == 0, again.stderr
    assert "pruning" not in again.stderr and "measuring" not in again.stderr
    assert again.stderr.count(": reused (int8 accuracy") == 8
    assert json.loads((out / "compare.json").read_text())["cells"] == res["cells"] and res["complete"]


@pytest.mark.parametrize(
    "extra, needle",
    [
        (("--methods", "dtmm,magic"), "unknown method 'magic'"),
        (("--boards", "nucleo_l4r5zi"), "real hardware"),
        (("--budgets", "50%,abc"), "abc"),
        (("--methods", "dtmm,dtmm"), "repeated"),
        (("--dense-baseline", "nowhere.keras"), "--dense-baseline nowhere.keras"),
    ],
)  # fmt: skip
def test_bad_arguments_are_one_line_errors(case, extra, needle):
    r = _compare(case, *extra)
    assert r.exit_code == 2 and needle in r.stderr and "Traceback" not in r.stderr, r.stderr
    assert not (case / "cmp" / "cells").exists() or "pruning" not in r.stderr


def _cell(method, budget, nbytes, acc, instr):
    return {"method": method, "budget": budget, "packed_bytes": nbytes, "accuracy": acc,
            "boards": {"b": {"instructions": instr}}}  # fmt: skip


def test_summary_figures():
    dtmm = [_cell("dtmm", "50%", 1000, 0.80, 100), _cell("dtmm", "30%", 600, 0.76, 60)]
    base = [_cell("filter", "50%", 1000, 0.78, 110), _cell("filter", "30%", 600, 0.70, 66)]
    size = S.size_at_equal_accuracy(dtmm, base)
    # 0.78 sits halfway between DTMM's 0.76 (600 B) and 0.80 (1000 B): 800 B against the baseline's 1000 B
    assert size["points"] == 1 and size["of"] == 2 and size["ratio"] == pytest.approx(-0.2)
    eq = S.at_equal_budget(dtmm, base, ["b"])
    assert eq["accuracy_points"] == pytest.approx(4.0) and eq["instructions"]["b"] == pytest.approx(-1 / 11)
    none = S.size_at_equal_accuracy(dtmm, [_cell("filter", "50%", 900, 0.95, 1)])
    assert none["ratio"] is None and "no baseline accuracy" in none["note"]


def test_a_budget_a_method_cannot_reach_is_recorded_and_the_rest_goes_on(case, tmp_path, monkeypatch):
    from dtmm.compare import cells as C
    from dtmm.prune.plan import BudgetError

    def fake_prune(opts, method, budget, cell, dense_baseline, log):
        if method == "pattern":
            raise BudgetError("flash budget is below the smallest size --method pattern reaches")
        cell.mkdir(parents=True, exist_ok=True)
        (cell / "model_int8.tflite").write_bytes(b"m" + method.encode())
        (cell / "dense_int8.tflite").write_bytes(b"dense")
        return {"flash_budget_bytes": 100, "packed_bytes": 90 if method == "dtmm" else 95, "dense_bytes": 200,
                "accuracy_pruned_int8": 0.8, "accuracy_dense_int8": 0.9, "seed": 0, "epochs": 1, "wall_time_s": 1.0}

    def fake_measure(path, storage, board, cache, log):
        return {"instructions": 1000 + len(path.read_bytes()), "arena_bytes": 64, "flash_bytes": 90,
                "conv_storage": storage}  # fmt: skip

    written = []
    real_write = C._write_outputs
    monkeypatch.setattr(C, "_write_outputs", lambda *a, **kw: written.append(kw["complete"]) or real_write(*a, **kw))
    monkeypatch.setattr(C, "_prune_cell", fake_prune)
    monkeypatch.setattr(C, "_measure", fake_measure)
    opts = C.CompareOptions(model=case / "tiny.keras", data=case / "data.npz", budgets=["50%"], out=tmp_path / "o",
                            methods=["dtmm", "pattern", "unstructured"], boards=["qemu-m4"], epochs=1)  # fmt: skip
    logs = []
    res = C.run_compare(opts, log=logs.append)
    assert [c.get("infeasible") is not None for c in res["cells"]] == [False, True, False]
    assert written == [False, True] and res["complete"]  # the table after the first finished cell, then the end
    assert any("pattern at 50%: infeasible: flash budget" in m for m in logs)
    assert res["summary"]["pattern"]["at_equal_budget"]["budgets"] == []
    md = (tmp_path / "o" / "compare.md").read_text()
    assert "| 50% | pattern | pattern | infeasible |" in md and "- pattern at 50%: flash budget" in md
