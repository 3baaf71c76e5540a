"""The board table (Python) agrees with the firmware side, and `dtmm boards` shows it."""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from dtmm.cli import main
from dtmm.errors import DtmmError
from dtmm.targets.boards import BOARDS, ICOUNT_SHIFT, emulated_boards, get_board

REPO = Path(__file__).resolve().parents[1]
QEMU_DIR = REPO / "boards" / "qemu"
MANIFEST_DIR = REPO / "boards" / "platformio" / "boards"


def _size(text: str) -> int:
    text = text.strip()
    units = {"K": 1024, "M": 1024 * 1024}
    if text[-1] in units:
        return int(text[:-1], 0) * units[text[-1]]
    return int(text, 0)


def _manifest(board: str) -> dict:
    b = BOARDS[board]
    return json.loads((MANIFEST_DIR / f"{b.pio_board or b.name}.json").read_text())


def _linker_script(board: str) -> str:
    """The board's linker script, found as the platform builder finds it (a support directory's ld/)."""
    build = _manifest(board)["build"]
    support = build["dtmm_board_support"]
    support = [support] if isinstance(support, str) else support
    found = [REPO / "boards" / d / "ld" / build["ldscript"] for d in support]
    found = [p for p in found if p.is_file()]
    assert len(found) == 1, (board, found)
    return found[0].read_text()


def _linker_regions(board: str) -> dict[str, tuple[int, int]]:
    script = _linker_script(board)
    regions = {}
    for name, origin, length in re.findall(
        r"(\w+)\s*\([rwx]+\)\s*:\s*ORIGIN\s*=\s*(\w+)\s*,\s*LENGTH\s*=\s*(\w+)", script
    ):
        regions[name] = (int(origin, 0), _size(length))
    return regions


def _board_config() -> str:
    return (QEMU_DIR / "board_config.h").read_text()


@pytest.mark.parametrize("board", list(BOARDS))
def test_linker_script_sizes_match_board_table(board):
    regions = _linker_regions(board)
    assert regions["FLASH"][1] == BOARDS[board].flash_bytes
    assert regions["RAM"][1] == BOARDS[board].ram_bytes
    stack = re.search(r"DTMM_STACK_SIZE\s*=\s*(\w+)\s*;", _linker_script(board)).group(1)
    assert int(stack, 0) == BOARDS[board].stack_bytes
    upload = _manifest(board)["upload"]
    assert (upload["maximum_size"], upload["maximum_ram_size"]) == (BOARDS[board].flash_bytes, BOARDS[board].ram_bytes)


@pytest.mark.parametrize("board", [b.name for b in BOARDS.values() if not b.emulated])
def test_real_board_manifest_and_facts_agree(board):
    """Real boards: our own support (no framework), DWT cycles, an uploader, and board_facts.h's core clock."""
    m = _manifest(board)
    assert m["build"]["dtmm_board_support"] == ["stm32", "hardware"] and m["frameworks"] == []
    assert m["dtmm"]["counter_unit"] == "cycles"
    assert set(m["upload"]["protocols"]) == {"openocd", "pyocd"} and m["upload"]["protocol"] == "openocd"
    assert int(m["build"]["f_cpu"].rstrip("L")) == BOARDS[board].sysclk_hz
    facts = (REPO / "boards" / "stm32" / "board_facts.h").read_text()
    macro = m["build"]["extra_flags"].removeprefix("-D")
    block = facts.partition(f"defined({macro})")[2].split("#elif")[0]
    assert f'"{board}"' in block
    assert int(re.search(r"DTMM_STM32_SYSCLK_TARGET_HZ (\d+)u", block).group(1)) == BOARDS[board].sysclk_hz


@pytest.mark.parametrize("board", [b.name for b in emulated_boards()])
def test_board_config_clock_matches_board_table(board):
    macro = "DTMM_BOARD_" + board.upper().replace("-", "_")
    block = _board_config().split(f"defined({macro})")[1].split("#elif")[0]
    clock = int(re.search(r"DTMM_SYSCLK_HZ\s+(\d+)u", block).group(1))
    assert clock == BOARDS[board].sysclk_hz
    assert f'"{board}"' in block


def test_icount_shift_agrees_and_keeps_counts_exact():
    shift = int(re.search(r"#define DTMM_ICOUNT_SHIFT (\d+)", _board_config()).group(1))
    assert shift == ICOUNT_SHIFT
    for board in emulated_boards():
        ticks_per_instruction = board.sysclk_hz * 2**ICOUNT_SHIFT / 1e9
        # rounding tick differences is exact only when r >= 2 (docs/measurement.md)
        assert ticks_per_instruction >= 2, board.name


def test_required_boards_present():
    machines = {b.name: b.qemu_machine for b in emulated_boards()}
    assert machines == {
        "qemu-m0": "microbit",
        "qemu-m3": "mps2-an385",
        "qemu-m4": "mps2-an386",
        "qemu-m7": "mps2-an500",
        "qemu-m33": "mps2-an505",
        "qemu-m55": "mps3-an547",
        "qemu-stm32f405": "netduinoplus2",
    }
    assert not BOARDS["disco_f746ng"].emulated
    assert not BOARDS["nucleo_l4r5zi"].emulated
    assert not BOARDS["netduinoplus2"].emulated
    assert "mve" in BOARDS["qemu-m55"].features
    assert "dsp" not in BOARDS["qemu-m3"].features
    assert BOARDS["qemu-m0"].cpu == "cortex-m0" and BOARDS["qemu-m0"].features == ()


def test_unknown_board_error_lists_known_boards():
    with pytest.raises(DtmmError, match=r"unknown board 'qemu-m9' \(known boards: qemu-m0, qemu-m3, "):
        get_board("qemu-m9")


def test_boards_cli_json():
    result = CliRunner().invoke(main, ["boards", "--json"])
    assert result.exit_code == 0, result.output
    rows = {row["name"]: row for row in json.loads(result.output)}
    assert rows["qemu-m55"]["qemu_machine"] == "mps3-an547"
    assert rows["qemu-m55"]["features"] == ["fpu", "dsp", "mve"]
    assert rows["qemu-m4"]["ram_bytes"] == 4 * 1024 * 1024
    assert rows["nucleo_l4r5zi"]["emulated"] is False
    assert rows["nucleo_l4r5zi"]["counter_unit"] == "cycles" and rows["qemu-m4"]["counter_unit"] == "instructions"


def test_boards_cli_table():
    result = CliRunner().invoke(main, ["boards"])
    assert result.exit_code == 0
    lines = result.output.splitlines()
    assert lines[0].split()[:3] == ["board", "cpu", "qemu"]
    m33 = next(line for line in lines if line.startswith("qemu-m33"))
    assert "cortex-m33" in m33 and "mps2-an505" in m33 and "fpu,dsp" in m33
