"""`dtmm profile`: the per-layer table joins the packer's figures, a measured run and the board fit."""
from __future__ import annotations

import json
import shutil

import pytest
from click.testing import CliRunner

from dtmm.cli import main
from dtmm.pack import pack_model
from dtmm.tflite.model import TfliteModel, op_macs


def _profile(*args):
    result = CliRunner().invoke(main, ["profile", *map(str, args), "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_static_columns_and_fit_on_a_real_board(resnet8_tflite):
    doc = _profile(resnet8_tflite, "--board", "nucleo_l4r5zi")
    model = TfliteModel.load(resnet8_tflite)
    packed = pack_model(model, "x").summary
    assert [L["name"] for L in doc["layers"]] == [op["layer"] for op in packed["ops"]]
    assert [L["macs"] for L in doc["layers"]] == [op_macs(model, op) for op in model.operators]
    assert sum(L["flash_bytes_packed"] for L in doc["layers"]) == doc["totals"]["flash_bytes_packed"] == packed["flash_bytes"]
    assert max(L["live_activation_bytes"] for L in doc["layers"]) <= doc["totals"]["arena_bytes"] == packed["arena_bytes"]
    assert doc["fit"]["fits"] and doc["fit"]["board_ram_bytes"] == 640 * 1024
    assert all(L["instructions"] is None for L in doc["layers"]) and "real hardware" in doc["note"]


def test_too_large_for_the_board_is_said_not_run(resnet8_tflite):
    doc = _profile(resnet8_tflite, "--board", "qemu-m0")
    assert not doc["fit"]["fits"] and doc["fit"]["ram_bytes"] > doc["fit"]["board_ram_bytes"] == 16384
    assert doc["note"] == "does not fit qemu-m0: not run" and doc["totals"]["instructions"] is None
    text = CliRunner().invoke(main, ["profile", str(resnet8_tflite), "--board", "qemu-m0"]).stdout
    assert "does not fit qemu-m0: flash " in text and "RAM 57,776 / 16,384 B" in text


@pytest.mark.qemu
@pytest.mark.skipif(shutil.which("qemu-system-arm") is None, reason="qemu-system-arm not installed")
def test_measured_instructions_per_layer_add_up(resnet8_tflite):
    doc = _profile(resnet8_tflite, "--board", "qemu-m4")
    ran = [L for L in doc["layers"] if L["instructions"] is not None]
    assert len(ran) == len(doc["layers"]) - 1  # every op but the RESHAPE, which is no code
    assert doc["totals"]["instructions"] == sum(L["instructions"] for L in ran)
    conv = [L for L in ran if L["op"] == "CONV_2D"]
    assert all(L["instructions_per_mac"] == round(L["instructions"] / L["macs"], 3) for L in conv)
    assert doc["unit"].startswith("QEMU-retired instructions") and doc["fit"]["fits"] and doc["note"] is None


def test_unknown_board_is_one_line(tmp_path):
    result = CliRunner().invoke(main, ["profile", str(tmp_path / "m.tflite"), "--board", "qemu-m9"])
    assert result.exit_code == 2 and "unknown board 'qemu-m9'" in result.stderr
