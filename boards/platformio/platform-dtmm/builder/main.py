"""SCons builder of the DTMM dev-platform (emulated and real boards).

PlatformIO's own builder/main.py sets up the environment (project options,
board manifest, library finder) and then runs this script, which
  * selects the arm-none-eabi toolchain found on PATH (no package download),
  * sets the DTMM compile and link flags from the board manifest
    (build.cpu, build.fpu, build.float_abi, build.extra_flags, build.ldscript;
    inline assembly in unified syntax on every core, ARMv6-M included),
  * adds the board support sources: boards/cortex_m/*.c (vector table, reset),
    boards/<support>/*.c for each directory in build.dtmm_board_support
    (e.g. ["qemu"], ["stm32", "qemu"], ["stm32", "hardware"]) and
    boards/common/*.c,
  * links $BUILD_DIR/firmware.elf with the board's linker script (looked up
    in boards/<support>/ld/; each INCLUDEs boards/cortex_m/sections.ld) and
    reports its size.

Knobs (platformio.ini, per env or in [env]):
  custom_dtmm_optimization = -O2          optimisation of everything
  custom_dtmm_kernels_optimization = -Ofast   only lib/dtmm_kernels (applied by
                                          lib/dtmm_kernels/pio_sources.py)
  build_flags = -DNAME=VALUE ...          extra defines/flags, as usual
Targets: the default builds firmware.elf and checks its size; `-t size` prints
`arm-none-eabi-size`; `-t qemu` runs the firmware in qemu-system-arm (the
DTMM tools run firmware with `dtmm run` instead); `-t upload` flashes a real
board with the `upload_protocol` of the env (openocd or pyocd; the board
manifest's upload.openocd_interface / openocd_target / pyocd_target say what
to drive) through `python -m dtmm.targets.upload`, which turns a missing tool
or probe into one error line.
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
        "arm-none-eabi-gcc was not found on PATH. The dtmm platform uses the "
        "system toolchain and downloads nothing: install it (Debian/Ubuntu: "
        "apt-get install gcc-arm-none-eabi libnewlib-arm-none-eabi) or put an "
        "Arm GNU Toolchain bin/ directory on PATH."
    )

# ---- where the board support lives ---------------------------------------
# The platform is boards/platformio/platform-dtmm, so boards/ is two up.
PLATFORM_DIR = os.path.realpath(env.PioPlatform().get_dir())
BOARDS_ROOT = os.path.dirname(os.path.dirname(PLATFORM_DIR))
CORTEX_M_DIR = os.path.join(BOARDS_ROOT, "cortex_m")
COMMON_DIR = os.path.join(BOARDS_ROOT, "common")
INCLUDE_DIR = os.path.join(BOARDS_ROOT, "include")
_support = board.get("build.dtmm_board_support", "qemu")
SUPPORT_NAMES = [_support] if isinstance(_support, str) else list(_support)
SUPPORT_DIRS = [os.path.join(BOARDS_ROOT, name) for name in SUPPORT_NAMES]
LD_DIRS = [os.path.join(d, "ld") for d in SUPPORT_DIRS if os.path.isdir(os.path.join(d, "ld"))]

for _d in [CORTEX_M_DIR, COMMON_DIR, INCLUDE_DIR] + SUPPORT_DIRS:
    if not os.path.isdir(_d):
        _fail("DTMM board support directory %s is missing" % _d)


def _resolve_ldscript(name):
    """A linker script name from the manifest: absolute, project-relative or in a support ld/."""
    for candidate in [name, os.path.join(env.subst("$PROJECT_DIR"), name)] + [
        os.path.join(d, name) for d in LD_DIRS
    ]:
        if os.path.isabs(candidate) and os.path.isfile(candidate):
            return candidate
    _fail("linker script %s not found (looked in %s)" % (name, ", ".join(LD_DIRS)))
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
    CPPPATH=[INCLUDE_DIR] + SUPPORT_DIRS,
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
    ]
    + ["-L%s" % d for d in LD_DIRS + [CORTEX_M_DIR]]
    + ["-Wl,-T,%s" % LDSCRIPT],
    LIBS=["m"],
)

# ---- board support: compiled as objects (not archived) so the vector table
# and reset handler are always linked ---------------------------------------
env.BuildSources(os.path.join("$BUILD_DIR", "dtmm_cortex_m"), CORTEX_M_DIR, "+<*.c>")
for _name, _dir in zip(SUPPORT_NAMES, SUPPORT_DIRS):
    env.BuildSources(os.path.join("$BUILD_DIR", "dtmm_board_" + _name), _dir, "+<*.c> +<*.S>")
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

# ---- upload (real boards) ----------------------------------------------------
UPLOAD_PROTOCOL = env.subst("$UPLOAD_PROTOCOL") or board.get("upload.protocol", "")
if UPLOAD_PROTOCOL:
    _upload_cmd = [
        '"$PYTHONEXE"', "-m", "dtmm.targets.upload",
        "--protocol", UPLOAD_PROTOCOL,
        "--openocd-interface", board.get("upload.openocd_interface", ""),
        "--openocd-target", board.get("upload.openocd_target", ""),
        "--pyocd-target", board.get("upload.pyocd_target", ""),
        "--log", os.path.join("$BUILD_DIR", "upload.log"),
        "$SOURCE",
    ]
    AlwaysBuild(
        env.Alias(
            "upload",
            target_elf,
            env.VerboseAction(" ".join(_upload_cmd), "Uploading $SOURCE with %s" % UPLOAD_PROTOCOL),
        )
    )
