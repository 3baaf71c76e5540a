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


def _size(text: str) -> int:
    text = text.strip()
    units = {"K": 1024, "M": 1024 * 1024}
    if text[-1] in units:
        return int(text[:-1], 0) * units[text[-1]]
    return int(text, 0)


def _linker_regions(board: str) -> dict[str, tuple[int, int]]:
    script = (QEMU_DIR / "ld" / f"{board}.ld").read_text()
    regions = {}
    for name, origin, length in re.findall(
        r"(\w+)\s*\([rwx]+\)\s*:\s*ORIGIN\s*=\s*(\w+)\s*,\s*LENGTH\s*=\s*(\w+)", script
    ):
        regions[name] = (int(origin, 0), _size(length))
    return regions


def _board_config() -> str:
    return (QEMU_DIR / "board_config.h").read_text()


@pytest.mark.parametrize("board", [b.name for b in emulated_boards()])
def test_linker_script_sizes_match_board_table(board):
    regions = _linker_regions(board)
    assert regions["FLASH"][1] == BOARDS[board].flash_bytes
    assert regions["RAM"][1] == BOARDS[board].ram_bytes
    stack = re.search(r"DTMM_STACK_SIZE\s*=\s*(\w+)\s*;", (QEMU_DIR / "ld" / f"{board}.ld").read_text()).group(1)
    assert int(stack, 0) == BOARDS[board].stack_bytes


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


def test_boards_cli_table():
    result = CliRunner().invoke(main, ["boards"])
    assert result.exit_code == 0
    lines = result.output.splitlines()
    assert lines[0].split()[:3] == ["board", "cpu", "qemu"]
    m33 = next(line for line in lines if line.startswith("qemu-m33"))
    assert "cortex-m33" in m33 and "mps2-an505" in m33 and "fpu,dsp" in m33
