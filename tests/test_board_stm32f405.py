"""The emulated STM32 board (qemu-stm32f405: QEMU netduinoplus2, STM32F405RG), end to end.

Unlike the MPS2/MPS3 boards, its firmware drives ST's own peripherals: RCC
(clock enables, HSI as system clock, with bounded waits because QEMU does
not model RCC), GPIO alternate functions and USART1 (the console QEMU
connects to -serial), plus SysTick as the instruction counter. A hello
firmware, a model with every operator `dtmm pack` lowers and ResNet-8 run
there bit-exact with the tflite-micro interpreter.
"""
from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from click.testing import CliRunner

from dtmm.cli import main
from dtmm.targets.boards import get_board

pytestmark = [
    pytest.mark.qemu,
    pytest.mark.skipif(shutil.which("qemu-system-arm") is None, reason="qemu-system-arm not installed"),
    pytest.mark.skipif(shutil.which("arm-none-eabi-gcc") is None, reason="arm-none-eabi-gcc not installed"),
]

BOARD = "qemu-stm32f405"


def test_board_table_entry():
    b = get_board(BOARD)
    assert b.qemu_machine == "netduinoplus2" and b.cpu == "cortex-m4" and "dsp" in b.features
    assert b.flash_bytes == 1024 * 1024 and b.ram_bytes == 128 * 1024


def test_hello_runs_over_usart1_and_measures(tmp_path):
    from dtmm.targets import platformio
    from dtmm.targets.qemu import run_firmware

    elf = platformio.build(platformio.REPO_ROOT / "app" / "hello" / "src", BOARD, build_dir=tmp_path)
    result = run_firmware(elf, BOARD, timeout=60)
    assert result.exit_code == 0, result.console
    assert f"hello from DTMM on {BOARD}" in result.console  # came out of the STM32 USART model
    n = result.measurements["fnv1a_1000"]
    assert 4900 <= n <= 5100, n  # the same loop as on qemu-m4 (5,008 there)


def test_every_operator_bit_exact():
    pytest.importorskip("tflite_micro.python.tflite_micro.runtime")
    from test_ops_chain import all_ops_model
    from test_run_model_real import _check_bit_exact, _random_inputs

    from dtmm.tflite.model import TfliteModel

    data = all_ops_model()
    result = _check_bit_exact(data, "all_ops.tflite", BOARD, _random_inputs(TfliteModel(data), 3, seed=5), "all_ops")
    assert result.board == BOARD and result.conv_path == "dsp"


def test_resnet8_bit_exact_and_counts_like_qemu_m4(resnet8_tflite, tmp_path):
    pytest.importorskip("tflite_micro.python.tflite_micro.runtime")
    from dtmm.tflite.interpreter import tflm_outputs

    xs = np.random.default_rng(1).integers(-128, 128, size=(2, 1, 32, 32, 3), dtype=np.int8)
    np.save(tmp_path / "x.npy", xs)
    r = CliRunner().invoke(main, ["run-model", str(resnet8_tflite), "--board", BOARD, "--inputs",
                                  str(tmp_path / "x.npy"), "--json"])  # fmt: skip
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    want = tflm_outputs(resnet8_tflite.read_bytes(), xs)
    for got, w in zip(doc["outputs"], want):
        assert np.array_equal(np.asarray(got).reshape(-1), np.asarray(w).reshape(-1))
    # the same Cortex-M4 code as qemu-m4 (13.84 M there); SysTick interrupts every ~0.8 M instructions
    # at this board's 168 MHz add a few hundred
    for n in doc["instructions_per_inference"]:
        assert 13.5e6 < n < 14.2e6, n
