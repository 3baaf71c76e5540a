"""The board table: every board DTMM can build for, emulated (QEMU) or real.

This is the single Python-side description of a board; the firmware side of the
same facts lives in the PlatformIO board manifests (boards/platformio/boards),
boards/qemu/board_config.h, boards/stm32/board_facts.h and the linker scripts,
and tests/test_boards.py checks that they agree.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from ..errors import DtmmError

#: QEMU runs with ``-icount shift=ICOUNT_SHIFT``: every retired instruction
#: advances virtual time by exactly 2**ICOUNT_SHIFT ns.  With 128 ns per
#: instruction the SysTick clock (16-32 MHz) ticks at least 2.048 times per
#: instruction, which makes the tick count convertible back to an exact
#: instruction count (see docs/measurement.md).
ICOUNT_SHIFT = 7


@dataclass(frozen=True)
class Board:
    name: str
    cpu: str
    description: str
    features: tuple[str, ...]
    flash_bytes: int
    ram_bytes: int
    qemu_machine: str | None = None
    sysclk_hz: int | None = None
    #: stack reserved by the linker script (DTMM_STACK_SIZE), counted in the RAM a model needs
    stack_bytes: int = 16 * 1024
    pio_env: str = ""
    #: PlatformIO board id of its manifest in boards/platformio/boards ("" = the board's name)
    pio_board: str = ""
    #: the board whose shipped cost model (calibration) this one uses: same core and same compiled code,
    #: so the same instructions (only the timer interrupts of the counter differ); "" = its own
    cost_model_board: str = ""
    notes: str = ""
    extra: dict = field(default_factory=dict)

    @property
    def emulated(self) -> bool:
        return self.qemu_machine is not None

    def as_dict(self) -> dict:
        return {
            "name": self.name,
            "cpu": self.cpu,
            "description": self.description,
            "qemu_machine": self.qemu_machine,
            "features": list(self.features),
            "flash_bytes": self.flash_bytes,
            "ram_bytes": self.ram_bytes,
            "sysclk_hz": self.sysclk_hz,
            "stack_bytes": self.stack_bytes,
            "emulated": self.emulated,
            "pio_env": self.pio_env or self.name,
            "pio_board": self.pio_board or self.name,
            "counter_unit": "instructions" if self.emulated else "cycles",
        }


KiB = 1024
MiB = 1024 * KiB
_REAL_BOARD_NOTES = ("DTMM's own board support (boards/stm32, boards/hardware), builds offline; "
                     "counts CPU cycles; untested on hardware")

BOARDS: dict[str, Board] = {
    b.name: b
    for b in [
        Board("qemu-m0", "cortex-m0", "BBC micro:bit, nRF51822 (QEMU microbit), ARMv6-M", (),
              256 * KiB, 16 * KiB, "microbit", 16_000_000, stack_bytes=2 * KiB),
        Board("qemu-m3", "cortex-m3", "Arm MPS2 AN385 (QEMU mps2-an385)", (),
              4 * MiB, 4 * MiB, "mps2-an385", 25_000_000),
        Board("qemu-m4", "cortex-m4", "Arm MPS2 AN386 (QEMU mps2-an386)", ("fpu", "dsp"),
              4 * MiB, 4 * MiB, "mps2-an386", 25_000_000),
        Board("qemu-m7", "cortex-m7", "Arm MPS2 AN500 (QEMU mps2-an500)", ("fpu", "dsp"),
              4 * MiB, 4 * MiB, "mps2-an500", 25_000_000),
        Board("qemu-m33", "cortex-m33", "Arm MPS2 AN505 (QEMU mps2-an505), secure state",
              ("fpu", "dsp"), 4 * MiB, 4 * MiB, "mps2-an505", 20_000_000),
        Board("qemu-m55", "cortex-m55", "Arm MPS3 AN547 (QEMU mps3-an547), ITCM/DTCM, secure state",
              ("fpu", "dsp", "mve"), 512 * KiB, 512 * KiB, "mps3-an547", 32_000_000),
        Board("qemu-stm32f405", "cortex-m4",
              "Netduino Plus 2, STM32F405RG (QEMU netduinoplus2): ST's RCC, GPIO, USART1, SysTick",
              ("fpu", "dsp"), 1 * MiB, 128 * KiB, "netduinoplus2", 168_000_000, cost_model_board="qemu-m4"),
        Board("nucleo_l4r5zi", "cortex-m4", "ST NUCLEO-L4R5ZI, STM32L4R5ZI at 120 MHz, MLPerf Tiny reference "
              "(real hardware)", ("fpu", "dsp"), 2 * MiB, 640 * KiB, sysclk_hz=120_000_000,
              pio_board="dtmm_nucleo_l4r5zi", notes=_REAL_BOARD_NOTES),
        Board("disco_f746ng", "cortex-m7", "ST 32F746G-DISCOVERY, STM32F746NG at 216 MHz, caches on (real hardware)",
              ("fpu", "dsp"), 1 * MiB, 320 * KiB, sysclk_hz=216_000_000, pio_board="dtmm_disco_f746ng",
              notes=_REAL_BOARD_NOTES),
        Board("netduinoplus2", "cortex-m4", "Netduino Plus 2, STM32F405RG at 168 MHz (real hardware)",
              ("fpu", "dsp"), 1 * MiB, 128 * KiB, sysclk_hz=168_000_000, pio_board="dtmm_netduinoplus2",
              notes=_REAL_BOARD_NOTES),
    ]
}


def get_board(name: str) -> Board:
    """The board called ``name``, or a DtmmError listing the known boards."""
    try:
        return BOARDS[name]
    except KeyError:
        known = ", ".join(BOARDS)
        raise DtmmError(f"unknown board '{name}' (known boards: {known})") from None


def emulated_boards() -> list[Board]:
    return [b for b in BOARDS.values() if b.emulated]
