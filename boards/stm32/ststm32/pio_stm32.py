"""PlatformIO pre: extra script of the ststm32-* envs: DTMM's board support on ST's CMSIS framework.

The alternative to DTMM's own platform for users who have PlatformIO's registry: the official
`ststm32` platform with `framework = cmsis` provides the vector table, the reset handler (SystemInit,
C library init, main) and the linker script.  Never run here (no registry on the development
machine); the envs DTMM tests are the ones on its own platform (platformio.ini).  This script adds
  * boards/include and boards/stm32 on the include path,
  * boards/stm32/*.c (clock tree, console), boards/hardware/*.c (DWT cycle counter, exit),
    boards/common/*.c and boards/stm32/ststm32/ststm32_main.c as sources,
  * the DTMM_BOARD_* define, hard-float FPU flags, C99 / gnu++17,
    -g -Wall -Wextra and the optimisation knob custom_dtmm_optimization,
  * -Wl,--wrap=main so the framework's call to main() goes through
    __wrap_main (board init, then main, then dtmm_exit with its status).
ststm32 adds -Os itself; the envs list it in build_unflags.
"""
import os

Import("env")  # noqa: F821  (SCons provides Import)

# ststm32 board id -> (DTMM define, FPU flags)
DTMM_STM32_BOARDS = {
    "disco_f746ng": ("DTMM_BOARD_DISCO_F746NG", ["-mfpu=fpv5-sp-d16", "-mfloat-abi=hard"]),
    "nucleo_l4r5zi": ("DTMM_BOARD_NUCLEO_L4R5ZI", ["-mfpu=fpv4-sp-d16", "-mfloat-abi=hard"]),
}

board_id = env.subst("$BOARD")  # noqa: F821
if board_id not in DTMM_STM32_BOARDS:
    env.Exit("Error: boards/stm32/ststm32/pio_stm32.py has no DTMM support for board %s" % board_id)  # noqa: F821

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

for name, folder in (("stm32", "stm32"), ("hardware", "hardware"), ("common", "common"),
                     ("ststm32", os.path.join("stm32", "ststm32"))):
    env.BuildSources(  # noqa: F821
        os.path.join("$BUILD_DIR", "dtmm_" + name), os.path.join(boards_root, folder), "+<*.c>"
    )
