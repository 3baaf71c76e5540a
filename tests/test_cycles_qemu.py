"""Estimated cycles on QEMU: the trace counts exactly what the firmware measures, and the CLI shows it.

The tiny checksum-lowered model (support.tiny_tflite) keeps the traced run to
about a hundred thousand instructions, so this takes seconds.
"""
from __future__ import annotations

import json
import shutil
import subprocess
import time

import numpy as np
import pytest
from click.testing import CliRunner

from dtmm.cli import main
from dtmm.errors import DtmmError
from dtmm.targets.cycles import estimate, inference_regions
from dtmm.targets.disasm import disassemble
from dtmm.targets.model_runner import run_model
from dtmm.targets.qemu import FirmwareTimeout, inference_measurements
from dtmm.targets.timing import timing_for
from dtmm.targets.trace import run_traced
from support.tiny_tflite import checksum_lowering, residual_model

LOWERING = "support.tiny_tflite:checksum_lowering"
pytestmark = [
    pytest.mark.qemu,
    pytest.mark.skipif(
        any(shutil.which(t) is None for t in ("qemu-system-arm", "arm-none-eabi-gcc", "arm-none-eabi-objdump")),
        reason="qemu-system-arm or the arm-none-eabi toolchain not installed",
    ),
]


@pytest.fixture(scope="module")
def residual(tmp_path_factory):
    path = tmp_path_factory.mktemp("models") / "residual.tflite"
    path.write_bytes(residual_model())
    return path


def _inputs(n: int) -> np.ndarray:
    return np.random.default_rng(3).integers(-128, 128, size=(n, 1, 8, 8, 4)).astype(np.int8)


def test_trace_counts_exactly_the_measured_instructions(residual):
    xs = _inputs(2)
    plain = run_model(residual, "qemu-m4", xs, lowering=checksum_lowering(), profile=True)
    program = disassemble(plain.elf)
    run, summary = run_traced(plain.elf, "qemu-m4", lambda pcs: estimate(pcs, program, timing_for("cortex-m4")))
    assert run.exit_code == 0 and summary.unknown == 0
    instructions, profile = inference_measurements(run.console)
    assert instructions == plain.instructions  # tracing does not change what the firmware measures
    regions = inference_regions(summary)
    assert [r.instructions for r in regions] == instructions  # the trace is complete: not one instruction more or less
    assert [[ops[0] for ops in r.ops] for r in regions] == [list(p.values()) for p in profile]
    for r in regions:
        assert r.estimated_cycles >= r.instructions  # no M4 instruction takes less than a cycle
        assert all(c >= n for n, c in r.ops)


def test_cli_shows_estimated_cycles(residual, tmp_path):
    np.save(tmp_path / "x.npy", _inputs(1))
    args = ["run-model", str(residual), "--board", "qemu-m4", "--inputs", str(tmp_path / "x.npy"),
            "--lowering", LOWERING, "--cycles", "--profile"]  # fmt: skip
    r = CliRunner().invoke(main, args + ["--json"])
    assert r.exit_code == 0, r.output
    report = json.loads(r.stdout)
    (cycles,) = report["estimated_cycles_per_inference"]
    (instructions,) = report["instructions_per_inference"]
    assert instructions <= cycles < 3 * instructions
    assert "Cortex-M4 TRM" in report["estimated_cycles_source"]
    (per_op,) = report["profile_estimated_cycles"]
    assert list(per_op) == list(report["profile"][0]) and sum(per_op.values()) < cycles
    assert "tracing 1 inference on qemu-m4" in r.stderr
    r = CliRunner().invoke(main, args)
    assert r.exit_code == 0, r.output
    lines = r.stdout.splitlines()
    assert lines[0].startswith(f"[0] {instructions} instructions, {cycles} estimated cycles  output: ")
    assert any(line.startswith("estimated cycles per inference (mean): ") and "an estimate" in line for line in lines)
    assert any("op00_TANH" in line and line.endswith(f"{per_op['op00_TANH']} est. cycles") for line in lines)


def test_stripped_firmware_is_a_one_line_error(residual, tmp_path):
    plain = run_model(residual, "qemu-m4", _inputs(1), lowering=checksum_lowering())
    stripped = tmp_path / "stripped.elf"
    subprocess.run(["arm-none-eabi-strip", "-o", str(stripped), str(plain.elf)], check=True)
    with pytest.raises(DtmmError, match=r"stripped.elf: .* no symbols .*; the cycle estimate needs an unstripped") as e:
        disassemble(stripped)
    assert "\n" not in str(e.value)


def test_traced_run_times_out_cleanly(residual):
    plain = run_model(residual, "qemu-m4", _inputs(1), lowering=checksum_lowering())

    def slow(pcs):  # QEMU cannot finish while its log (megabytes) waits in a 64 KiB pipe; killed at 0.05 s
        time.sleep(0.5)
        return sum(1 for _ in pcs)

    with pytest.raises(FirmwareTimeout, match=r"traced firmware did not exit within 0.05 s on qemu-m4; QEMU stopped"):
        run_traced(plain.elf, "qemu-m4", slow, timeout=0.05)


def test_cycles_on_real_hardware_is_refused(residual, tmp_path):
    np.save(tmp_path / "x.npy", _inputs(1))
    r = CliRunner().invoke(main, ["run-model", str(residual), "--board", "disco_f746ng", "--inputs",
                                  str(tmp_path / "x.npy"), "--lowering", LOWERING, "--cycles"])  # fmt: skip
    assert r.exit_code != 0 and "real hardware" in r.output and len(r.output.strip().splitlines()) == 1
