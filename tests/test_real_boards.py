"""The real STM32 boards build offline on DTMM's own platform, and their firmware boots.

Every real board (nucleo_l4r5zi, disco_f746ng, netduinoplus2) is built with DTMM's start-up, clock
tree, console and linker script - no ststm32 platform, no registry - for the hello app and for the
image-classification app around MLPerf Tiny's ResNet-8; the ELF is checked for what a part needs to
boot (vector table at the start of flash, stack in RAM, the right FPU), for the real-board runtime
(DWT cycles, no semihosting) and for fitting the part.  The Netduino Plus 2 firmware for the *real*
board then runs under QEMU's netduinoplus2 machine (the same STM32F405), where its clock code meets
unmodelled RCC flags and must fall back instead of hanging, and `dtmm run --port` reads its run over
the emulated USART, exposed as a pseudo-terminal.  Upload and real cycle counts need hardware.
"""
from __future__ import annotations

import json
import re
import shutil
import subprocess
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from dtmm.cli import main
from dtmm.targets import platformio
from dtmm.targets.boards import BOARDS

pytestmark = [
    pytest.mark.skipif(shutil.which("arm-none-eabi-gcc") is None, reason="arm-none-eabi-gcc not installed"),
]

REAL_BOARDS = [b.name for b in BOARDS.values() if not b.emulated]
FLASH_ORIGIN = 0x08000000
RAM_ORIGIN = 0x20000000
#: readelf -A's FP architecture per core of the real boards
FP_ARCH = {"cortex-m4": "VFPv4-D16", "cortex-m7": "FPv5/FP-D16 for ARMv8"}


def _symbols(elf: Path) -> dict[str, int]:
    out = subprocess.run(["arm-none-eabi-nm", str(elf)], capture_output=True, text=True, check=True).stdout
    return {parts[2]: int(parts[0], 16) for parts in (ln.split() for ln in out.splitlines()) if len(parts) == 3}


def _word_at(elf: Path, address: int) -> int:
    """The 32-bit word the image holds at ``address`` (through objcopy, as a flasher would write it)."""
    out = subprocess.run(["arm-none-eabi-objdump", "-s", "--start-address", hex(address),
                          "--stop-address", hex(address + 4), str(elf)],
                         capture_output=True, text=True, check=True).stdout  # fmt: skip
    line = next(ln for ln in out.splitlines() if ln.strip().startswith(f"{address:x}"))
    return int.from_bytes(bytes.fromhex(line.split()[1]), "little")


def _check_boots_as_real_board(elf: Path, board: str) -> None:
    b = BOARDS[board]
    sym = _symbols(elf)
    # vector table first in flash, initial SP at the top of the reserved stack in RAM, reset vector in Thumb
    assert sym["dtmm_vector_table"] == FLASH_ORIGIN
    sp, reset = _word_at(elf, FLASH_ORIGIN), _word_at(elf, FLASH_ORIGIN + 4)
    assert sp == sym["__stack_top__"] and RAM_ORIGIN < sp <= RAM_ORIGIN + b.ram_bytes
    assert reset == sym["Reset_Handler"] | 1
    # the real-board runtime: clock tree, DWT counter, exit over the console; not the QEMU one nor ststm32 glue
    assert {"dtmm_stm32_clock_init", "dtmm_console_flush", "SysTick_Handler", "dtmm_fault"} <= set(sym)
    assert "__wrap_main" not in sym and "ticks_origin" not in sym
    exit_code = subprocess.run(["arm-none-eabi-objdump", "-d", "--disassemble=dtmm_exit", str(elf)],
                               capture_output=True, text=True, check=True).stdout  # fmt: skip
    assert "bkpt" in exit_code and "0x00ab" not in exit_code  # a debugger breakpoint, never semihosting
    data = elf.read_bytes()
    assert f"{board}\0".encode() in data and b"cycles\0" in data
    attrs = subprocess.run(["arm-none-eabi-readelf", "-A", str(elf)], capture_output=True, text=True, check=True)
    assert f"Tag_FP_arch: {FP_ARCH[b.cpu]}" in attrs.stdout and "Tag_ABI_VFP_args: VFP registers" in attrs.stdout


def _sizes(elf: Path) -> dict[str, int]:
    out = subprocess.run(["arm-none-eabi-size", "-A", "-d", str(elf)], capture_output=True, text=True, check=True)
    return {p[0]: int(p[1]) for p in (ln.split() for ln in out.stdout.splitlines()) if len(p) >= 2 and p[1].isdigit()}


@pytest.mark.parametrize("board", REAL_BOARDS)
def test_hello_builds_offline_and_boots_as_a_real_board(board):
    elf = platformio.build(platformio.REPO_ROOT / "app" / "hello" / "src", board)
    _check_boots_as_real_board(elf, board)


@pytest.mark.parametrize("board", REAL_BOARDS)
def test_image_classification_app_builds_for_the_board(board, resnet8_tflite, tmp_path):
    """`pio run -e ic-<board>` around ResNet-8 (what `-t upload` would flash) fits the part."""
    from dtmm.demo.imageclass import Images, save_images
    from dtmm.demo.run import pio_build

    rng = np.random.default_rng(0)
    images = save_images(tmp_path / "images.npz", Images(rng.integers(0, 256, (2, 32, 32, 3), dtype=np.uint8),
                                                         np.array([3, 8]), [str(k) for k in range(10)]))
    env = f"ic-{board}"
    elf, log = pio_build(env, tmp_path / "build", {"model": resnet8_tflite, "images": images})
    _check_boots_as_real_board(elf, board)
    sec = _sizes(elf)
    flash = sec[".text"] + sec.get(".ARM.exidx", 0) + sec.get(".init_array", 0) + sec.get(".data", 0)
    ram = sec.get(".data", 0) + sec[".bss"] + sec[".stack"]
    assert 80_000 < flash <= BOARDS[board].flash_bytes  # ResNet-8's 78 KB of weights are in there
    assert ram <= BOARDS[board].ram_bytes
    assert "SUCCESS" in log


# ---- the real Netduino Plus 2 firmware under QEMU, read like a board over its serial port ------------
def _qemu_on_pty(elf: Path):
    """QEMU netduinoplus2 paused (-S) with USART1 on a pty; returns (process, pty path)."""
    proc = subprocess.Popen(["qemu-system-arm", "-M", "netduinoplus2", "-nographic", "-S", "-monitor", "stdio",
                             "-serial", "pty", "-icount", "shift=7", "-kernel", str(elf)],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)  # fmt: skip
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        match = re.search(r"char device redirected to (\S+)", line)
        if match:
            return proc, match.group(1)
    proc.kill()
    pytest.fail("QEMU did not report its pty")


@pytest.mark.qemu
@pytest.mark.skipif(shutil.which("qemu-system-arm") is None, reason="qemu-system-arm not installed")
def test_real_netduino_firmware_boots_under_qemu_and_dtmm_run_port_reads_it():
    pytest.importorskip("serial")
    elf = platformio.build(platformio.REPO_ROOT / "app" / "hello" / "src", "netduinoplus2")
    proc, pty = _qemu_on_pty(elf)
    outcome = {}
    try:
        def read():
            outcome["result"] = CliRunner().invoke(main, ["run", "--port", pty, "--timeout", "30", "--json"])

        reader = threading.Thread(target=read)
        reader.start()
        time.sleep(1.5)  # the port is open before the core starts (QEMU drops output nobody reads)
        proc.stdin.write("cont\n")
        proc.stdin.flush()
        reader.join(60)
    finally:
        proc.kill()
        proc.wait()
    result = outcome["result"]
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["exit_code"] == 0 and "cycles" in doc["unit"]
    console = doc["console"]
    assert "hello from DTMM on netduinoplus2" in console
    # QEMU models no RCC: the HSE and PLL waits ran out and the clock tree fell back to HSI, 16 MHz
    assert "@dtmm clock 16000000" in console and doc["core_clock_hz"] == 16_000_000
    # nor the DWT: the firmware says its counts are meaningless here instead of printing zeros silently
    assert "DWT cycle counter does not advance" in console
    assert doc["measurements"] == {"fnv1a_1000": 0}


def test_dtmm_run_refuses_real_board_firmware_under_qemu():
    """Its exit is a UART line, not QEMU's: it would run until the timeout; say what to do instead."""
    elf = platformio.build(platformio.REPO_ROOT / "app" / "hello" / "src", "nucleo_l4r5zi")
    r = CliRunner().invoke(main, ["run", str(elf), "--board", "qemu-m4"])
    assert r.exit_code == 2
    assert "built for the real board nucleo_l4r5zi: flash it (pio run -e nucleo_l4r5zi -t upload)" in r.output
