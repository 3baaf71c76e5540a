"""PlatformIO pre: extra script adding DTMM board support to the real STM32 envs.

UNTESTED ON HARDWARE, and never run on the offline development machine: the
envs using it (disco_f746ng, nucleo_l4r5zi in platformio.ini) need the official
`ststm32` platform and its CMSIS packages from PlatformIO's registry.

With `framework = cmsis` the ststm32 platform provides the vector table, the
reset handler (SystemInit, C library init, main) and the linker script.  This
script adds what DTMM needs on top:
  * boards/include and boards/stm32 on the include path,
  * boards/stm32/board_stm32.c and boards/common/*.c as sources,
  * the DTMM_BOARD_* define, hard-float FPU flags, C99 / gnu++17,
    -g -Wall -Wextra and the optimisation knob custom_dtmm_optimization,
  * -Wl,--wrap=main so the framework's call to main() goes through
    __wrap_main (board init, then main, then dtmm_exit with its status).
ststm32 adds -Os itself; the envs list it in build_unflags.
"""
import os

Import("env")  # noqa: F821  (SCons provides Import)

# board id -> (DTMM define, FPU flags)
DTMM_STM32_BOARDS = {
    # STM32F746: Cortex-M7 with a single-precision FPv5 unit.
    "disco_f746ng": ("DTMM_BOARD_DISCO_F746NG", ["-mfpu=fpv5-sp-d16", "-mfloat-abi=hard"]),
    # STM32L4R5: Cortex-M4F.
    "nucleo_l4r5zi": ("DTMM_BOARD_NUCLEO_L4R5ZI", ["-mfpu=fpv4-sp-d16", "-mfloat-abi=hard"]),
}

board_id = env.subst("$BOARD")  # noqa: F821
if board_id not in DTMM_STM32_BOARDS:
    env.Exit("Error: boards/stm32/pio_stm32.py has no DTMM support for board %s" % board_id)  # noqa: F821

define, fpu_flags = DTMM_STM32_BOARDS[board_id]
boards_root = os.path.join(env.subst("$PROJECT_DIR"), "boards")  # noqa: F821
optimization = env.GetProjectOption("custom_dtmm_optimization", "-O2").strip() or "-O2"  # noqa: F821

env.Append(  # noqa: F821
    CPPDEFINES=[define],
    CPPPATH=[os.path.join(boards_root, "include"), os.path.join(boards_root, "stm32")],
    ASFLAGS=list(fpu_flags),
    CCFLAGS=fpu_flags + [optimization, "-g", "-Wall", "-Wextra"],
    CFLAGS=["-std=c99"],
    CXXFLAGS=["-std=gnu++17"],
    LINKFLAGS=fpu_flags + ["-Wl,--wrap=main"],
)

env.BuildSources(  # noqa: F821
    os.path.join("$BUILD_DIR", "dtmm_board"),
    os.path.join(boards_root, "stm32"),
    "+<board_stm32.c>",
)
env.BuildSources(  # noqa: F821
    os.path.join("$BUILD_DIR", "dtmm_common"),
    os.path.join(boards_root, "common"),
    "+<*.c>",
)
