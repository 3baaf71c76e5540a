"""`dtmm prune --sram/--latency/--board`: every budget met on the int8 model, infeasible ones refused.

Host tests (no QEMU): the plan's arena is the packer's on the exported model,
instructions are what `dtmm estimate` predicts for it, an impossible budget
gets one line naming it and the smallest reachable value and writes nothing.
The QEMU check that measured instructions follow the prediction is in
tests/test_prune_budgets_qemu.py.
"""
from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

keras = pytest.importorskip("keras")

from dtmm.cli import main  # noqa: E402
from dtmm.cost.estimate import estimate_model  # noqa: E402
from dtmm.errors import DtmmError  # noqa: E402
from dtmm.pack.packer import pack_model  # noqa: E402
from dtmm.prune.budget import parse_budgets, parse_latency, parse_sram  # noqa: E402
from support.keras_models import write_tiny_prune_case  # noqa: E402

BOARD = "qemu-m4"


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    return write_tiny_prune_case(tmp_path_factory.mktemp("prune_budgets"), width=8, train_seed=21, test_seed=22)


def _prune(workdir, out, *budget_args):
    args = ["prune", workdir / "tiny.keras", "--data", workdir / "data.npz", "--out", workdir / out, "--epochs", "0",
            "--calib-samples", "32", "--quiet", *budget_args]  # fmt: skip
    return CliRunner().invoke(main, [str(a) for a in args])


def test_parsing():
    assert parse_sram("40KB") == 40_000 and parse_sram("40 KiB") == 40_960
    assert parse_latency("12M").resolve(0) == 12_000_000 and parse_latency("850k").resolve(0) == 850_000
    assert parse_latency("60%").resolve(1_000_000) == 600_000
    for bad, what in (("40%", "SRAM"), ("12 parsecs", "latency")):
        with pytest.raises(DtmmError, match=what):
            parse_sram(bad) if what == "SRAM" else parse_latency(bad)
    with pytest.raises(DtmmError, match="at least one budget"):
        parse_budgets(None, None, None, None)
    with pytest.raises(DtmmError, match="--board"):
        parse_budgets(None, None, "50%", None)
    with pytest.raises(DtmmError, match="no-such-board"):
        parse_budgets(None, None, "50%", "no-such-board")


@pytest.mark.parametrize("budgets", [
    ("--latency", "60%", "--board", BOARD),
    ("--flash", "70%", "--latency", "55%", "--board", BOARD),
    ("--sram", "{arena80}", "--flash", "80%"),
])  # fmt: skip
def test_budgets_met_on_the_int8_model(workdir, budgets):
    dense = _prune(workdir, "dense_probe", "--flash", "100%")  # the dense figures (no pruning needed)
    assert dense.exit_code == 0, dense.stderr + dense.stdout
    dense_arena = json.loads((workdir / "dense_probe" / "report.json").read_text())["arena_bytes"]
    args = [a.replace("{arena80}", str(int(0.8 * dense_arena))) for a in budgets]
    out = "out_" + "_".join(a.strip("-%{}") for a in budgets[::2])
    r = _prune(workdir, out, *args)
    assert r.exit_code == 0, r.stderr + r.stdout
    rep = json.loads((workdir / out / "report.json").read_text())
    tfl = (workdir / out / "model_int8.tflite").read_bytes()
    assert rep["pruned"] and all(rep["budgets_met"].values()), rep["budgets_met"]
    # the arena in the report is dtmm pack's for the exported model, and within the SRAM budget
    assert rep["arena_bytes"] == pack_model(tfl, "check").arena_bytes
    if rep["sram_budget_bytes"] is not None:
        assert rep["arena_bytes"] <= rep["sram_budget_bytes"] < dense_arena
    if rep["latency_budget_instructions"] is not None:
        est = estimate_model(tfl, BOARD)
        assert rep["predicted_instructions"] == est["instructions"] <= rep["latency_budget_instructions"]
        assert rep["latency_budget_instructions"] < rep["dense_predicted_instructions"]
        assert all(L["predicted_instructions"] for L in rep["layers"])
        md = (workdir / out / "report.md").read_text()
        assert "latency" in md and f"{rep['predicted_instructions']:,}" in md
    if rep["flash_budget_bytes"] is not None:
        assert rep["packed_bytes"] <= rep["flash_budget_bytes"]


@pytest.mark.parametrize("args,named", [
    (("--latency", "1k", "--board", BOARD), "latency budget 1,000 instructions"),
    (("--sram", "64B"), "SRAM budget (activation arena) 64 B"),
    (("--flash", "90%", "--latency", "2%", "--board", BOARD), "latency budget"),
])  # fmt: skip
def test_infeasible_budget_named_with_its_floor(workdir, args, named):
    r = _prune(workdir, "infeasible", *args)
    assert r.exit_code != 0
    line = r.stderr.strip().splitlines()[-1] if r.stderr.strip() else r.output.strip().splitlines()[-1]
    assert named in line and "smallest reachable is" in line, line
    assert not (workdir / "infeasible").exists()  # nothing written
