"""SCons builder of the DTMM QEMU dev-platform.

PlatformIO's own builder/main.py sets up the environment (project options,
board manifest, library finder) and then runs this script, which
  * selects the arm-none-eabi toolchain found on PATH (no package download),
  * sets the DTMM compile and link flags from the board manifest
    (build.cpu, build.fpu, build.float_abi, build.extra_flags, build.ldscript;
    inline assembly in unified syntax on every core, ARMv6-M included),
  * adds the board support sources boards/<support>/*.c and boards/common/*.c,
  * links $BUILD_DIR/firmware.elf with the board's linker script from
    boards/<support>/ld/ and reports its size.

Knobs (platformio.ini, per env or in [env]):
  custom_dtmm_optimization = -O2          optimisation of everything
  custom_dtmm_kernels_optimization = -Ofast   only lib/dtmm_kernels (applied by
                                          lib/dtmm_kernels/pio_sources.py)
  build_flags = -DNAME=VALUE ...          extra defines/flags, as usual
Targets: the default builds firmware.elf and checks its size; `-t size` prints
`arm-none-eabi-size`; `-t qemu` runs the firmware in qemu-system-arm (the
DTMM tools run firmware with `dtmm run` instead).
"""
import os
import shutil
import sys

from SCons.Script import AlwaysBuild, Default, DefaultEnvironment

env = DefaultEnvironment()
board = env.BoardConfig()

TOOLCHAIN_PREFIX = "arm-none-eabi-"


def _fail(message):
    sys.stderr.write("Error: %s\n" % message)
    env.Exit(1)


# ---- toolchain: whatever arm-none-eabi-gcc is on PATH --------------------
_gcc = shutil.which(TOOLCHAIN_PREFIX + "gcc", path=env["ENV"].get("PATH", os.defpath))
if not _gcc:
    _fail(
        "arm-none-eabi-gcc was not found on PATH. The dtmm-qemu platform uses the "
        "system toolchain and downloads nothing: install it (Debian/Ubuntu: "
        "apt-get install gcc-arm-none-eabi libnewlib-arm-none-eabi) or put an "
        "Arm GNU Toolchain bin/ directory on PATH."
    )

# ---- where the board support lives ---------------------------------------
# The platform is boards/platformio/platform-dtmm-qemu, so boards/ is two up.
PLATFORM_DIR = os.path.realpath(env.PioPlatform().get_dir())
BOARDS_ROOT = os.path.dirname(os.path.dirname(PLATFORM_DIR))
SUPPORT_DIR = os.path.join(BOARDS_ROOT, board.get("build.dtmm_board_support", "qemu"))
COMMON_DIR = os.path.join(BOARDS_ROOT, "common")
INCLUDE_DIR = os.path.join(BOARDS_ROOT, "include")
LD_DIR = os.path.join(SUPPORT_DIR, "ld")

for _d in (SUPPORT_DIR, COMMON_DIR, INCLUDE_DIR, LD_DIR):
    if not os.path.isdir(_d):
        _fail("DTMM board support directory %s is missing" % _d)


def _resolve_ldscript(name):
    """A linker script name from the manifest: absolute, project-relative or in LD_DIR."""
    for candidate in (
        name,
        os.path.join(env.subst("$PROJECT_DIR"), name),
        os.path.join(LD_DIR, name),
    ):
        if os.path.isabs(candidate) and os.path.isfile(candidate):
            return candidate
    _fail("linker script %s not found (looked in %s)" % (name, LD_DIR))
    return None


LDSCRIPT = _resolve_ldscript(board.get("build.ldscript", "%s.ld" % env.subst("$BOARD")))

# ---- flags -----------------------------------------------------------------
machine_flags = ["-mcpu=%s" % board.get("build.cpu"), "-mthumb"]
# Inline assembly is written in unified syntax; GCC assumes divided syntax
# for ARMv6-M (Cortex-M0) unless told.
machine_flags.append("-masm-syntax-unified")
if board.get("build.fpu", ""):
    machine_flags.append("-mfpu=%s" % board.get("build.fpu"))
machine_flags.append("-mfloat-abi=%s" % board.get("build.float_abi", "soft"))

OPTIMIZATION = env.GetProjectOption("custom_dtmm_optimization", "-O2").strip() or "-O2"

env.Replace(
    AR=TOOLCHAIN_PREFIX + "gcc-ar",
    AS=TOOLCHAIN_PREFIX + "as",
    CC=TOOLCHAIN_PREFIX + "gcc",
    CXX=TOOLCHAIN_PREFIX + "g++",
    GDB=TOOLCHAIN_PREFIX + "gdb",
    OBJCOPY=TOOLCHAIN_PREFIX + "objcopy",
    OBJDUMP=TOOLCHAIN_PREFIX + "objdump",
    RANLIB=TOOLCHAIN_PREFIX + "gcc-ranlib",
    SIZETOOL=TOOLCHAIN_PREFIX + "size",
    ARFLAGS=["rc"],
    # Size check (PlatformIO's "checkprogsize"): section sizes from `size -A`.
    # Flash holds code, constants and the initial values of .data; RAM holds
    # .data, .bss and the stack reserved by sections.ld.
    SIZECHECKCMD="$SIZETOOL -A -d $SOURCES",
    SIZEPROGREGEXP=r"^(?:\.text|\.ARM\.exidx|\.init_array|\.data)\s+(\d+).*",
    SIZEDATAREGEXP=r"^(?:\.data|\.bss|\.stack)\s+(\d+).*",
    SIZEPRINTCMD="$SIZETOOL -B -d $SOURCES",
    PROGSUFFIX=".elf",
    LDSCRIPT_PATH=LDSCRIPT,
)
if env.get("PROGNAME", "program") == "program":
    env.Replace(PROGNAME="firmware")

env.Append(
    ASFLAGS=list(machine_flags),
    ASPPFLAGS=machine_flags + ["-x", "assembler-with-cpp"],
    CCFLAGS=machine_flags
    + [
        OPTIMIZATION,
        "-g",
        "-Wall",
        "-Wextra",
        "-ffunction-sections",
        "-fdata-sections",
        "--specs=nano.specs",
    ],
    CFLAGS=["-std=c99"],
    CXXFLAGS=["-std=gnu++17", "-fno-rtti", "-fno-exceptions", "-fno-threadsafe-statics"],
    CPPPATH=[INCLUDE_DIR, SUPPORT_DIR],
    LINKFLAGS=machine_flags
    + [
        OPTIMIZATION,
        "-g",
        "-nostartfiles",
        "--specs=nano.specs",
        "--specs=nosys.specs",
        "-Wl,--gc-sections",
        "-Wl,-Map,%s" % os.path.join("$BUILD_DIR", "${PROGNAME}.map"),
        # -L before -T: ld looks for the script and its INCLUDE sections.ld
        # in the -L directories given before it.
        "-L%s" % LD_DIR,
        "-Wl,-T,%s" % LDSCRIPT,
    ],
    LIBS=["m"],
)

# ---- board support: compiled as objects (not archived) so the vector table
# and reset handler are always linked ---------------------------------------
env.BuildSources(os.path.join("$BUILD_DIR", "dtmm_board"), SUPPORT_DIR, "+<*.c> +<*.S>")
env.BuildSources(os.path.join("$BUILD_DIR", "dtmm_common"), COMMON_DIR, "+<*.c>")

# ---- targets ---------------------------------------------------------------
target_elf = env.BuildProgram()

Default(env.Alias("buildprog", target_elf))

AlwaysBuild(
    env.Alias(
        "size",
        target_elf,
        env.VerboseAction("$SIZEPRINTCMD", "Calculating size $SOURCE"),
    )
)

QEMU_MACHINE = board.get("dtmm.qemu_machine", "")
if QEMU_MACHINE:
    AlwaysBuild(
        env.Alias(
            "qemu",
            target_elf,
            env.VerboseAction(
                "qemu-system-arm -M %s -nographic -monitor none -serial stdio "
                "-semihosting-config enable=on,target=native -icount shift=7 "
                "-kernel $SOURCE" % QEMU_MACHINE,
                "Running $SOURCE in qemu-system-arm -M %s" % QEMU_MACHINE,
            ),
        )
    )
