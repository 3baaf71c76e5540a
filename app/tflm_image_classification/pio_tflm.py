"""PlatformIO pre: hook of app/tflm_image_classification (the tflm-<board> envs in platformio.ini).

Builds the app against an unmodified TensorFlow Lite Micro source tree:

1. TFLM_DIR (environment variable, else custom_tflm_dir): a tflite-micro
   checkout whose third-party downloads are present under
   tensorflow/lite/micro/tools/make/downloads/ (flatbuffers with TFLM's patch,
   gemmlowp, ruy; cmsis_nn and cmsis for the CMSIS-NN kernels): docs/tflm.md;
2. TFLM's library sources (what its Makefile's list_library_sources lists,
   without the signal library and tests) are compiled into one archive with
   TFLM's own defines; DTMM_TFLM_KERNELS / custom_tflm_kernels = cmsis_nn
   replaces the reference kernels by TFLM's CMSIS-NN ones (and compiles
   CMSIS-NN), as OPTIMIZED_KERNEL_DIR=cmsis_nn does; the flags are those of
   TFLM's BUILD_TYPE=release_with_logs (NDEBUG: debug checks off, error
   messages kept) at the board's optimisation level; TFLM's debug_log.cc is
   left out (the app sends TFLM's log to the board console);
3. the app's model headers are generated into $BUILD_DIR/tflm_app by
   `python -m dtmm.tflm.app_sources` from DTMM_TFLM_MODEL / custom_tflm_model
   (an int8 .tflite, `dtmm convert`ed or not), DTMM_TFLM_INPUTS /
   custom_tflm_inputs (.npy; default 2 random inputs) and DTMM_TFLM_ARENA /
   custom_tflm_arena (bytes);
4. lib/dtmm_kernels compiles its TFLM adapter (tflm/*.cc) because TFLM's
   headers are now on the include path (library.json's pio_sources.py).

Relative paths are relative to the project directory.
"""
import glob
import os
import subprocess
import sys

Import("env")  # noqa: F821  (SCons provides Import)

PROJECT_DIR = env.subst("$PROJECT_DIR")  # noqa: F821
PREFIX = "dtmm tflm_image_classification: "
KERNELS = ("reference", "cmsis_nn")

#: TFLM library sources, relative to TFLM_DIR (tests, test data and the signal library excluded)
TFLM_SOURCE_GLOBS = (
    "tensorflow/lite/micro/*.cc",
    "tensorflow/lite/micro/kernels/*.cc",
    "tensorflow/lite/micro/arena_allocator/*.cc",
    "tensorflow/lite/micro/memory_planner/*.cc",
    "tensorflow/lite/micro/tflite_bridge/*.cc",
    "tensorflow/lite/core/api/*.cc",
    "tensorflow/lite/core/c/*.cc",
    "tensorflow/lite/kernels/*.cc",
    "tensorflow/lite/kernels/internal/*.cc",
    "tensorflow/lite/kernels/internal/reference/*.cc",
    "tensorflow/compiler/mlir/lite/core/api/*.cc",
    "tensorflow/compiler/mlir/lite/schema/*.cc",
)
NOT_LIBRARY = ("_test.cc", "_test_common.cc", "_generated_data.cc")
REPLACED_BY_APP = ("tensorflow/lite/micro/debug_log.cc",)
DOWNLOADS = "tensorflow/lite/micro/tools/make/downloads"


def fail(message):
    sys.stderr.write("Error: " + PREFIX + message + "\n")
    env.Exit(1)  # noqa: F821


def option(env_var, name, default=""):
    value = os.environ.get(env_var)
    if value is None:
        value = env.GetProjectOption("custom_tflm_" + name, default)  # noqa: F821
    return str(value).strip()


def project_path(value):
    value = os.path.expanduser(value)
    return value if os.path.isabs(value) else os.path.normpath(os.path.join(PROJECT_DIR, value))


def tflm_tree():
    tflm = option("TFLM_DIR", "dir")
    if not tflm:
        fail("TFLM_DIR is not set: point it at a tflite-micro checkout with its downloads (docs/tflm.md)")
    tflm = project_path(tflm)
    needed = {
        "TFLM sources": "tensorflow/lite/micro/micro_interpreter.h",
        "flatbuffers (TFLM's download)": DOWNLOADS + "/flatbuffers/include/flatbuffers/flatbuffers.h",
        "gemmlowp (TFLM's download)": DOWNLOADS + "/gemmlowp/fixedpoint/fixedpoint.h",
        "ruy (TFLM's download)": DOWNLOADS + "/ruy/ruy/profiler/instrumentation.h",
    }
    for what, rel in needed.items():
        if not os.path.isfile(os.path.join(tflm, rel)):
            fail("TFLM_DIR=%s has no %s (%s); see docs/tflm.md" % (tflm, what, rel))
    return tflm


def library_sources(tflm, kernels):
    """TFLM's library .cc files; with cmsis_nn each kernel with a CMSIS-NN version uses that one."""
    found = []
    for pattern in TFLM_SOURCE_GLOBS:
        for path in sorted(glob.glob(os.path.join(tflm, pattern))):
            rel = os.path.relpath(path, tflm).replace(os.sep, "/")
            if rel.endswith(NOT_LIBRARY) or rel in REPLACED_BY_APP:
                continue
            if kernels == "cmsis_nn" and rel.startswith("tensorflow/lite/micro/kernels/"):
                optimized = "tensorflow/lite/micro/kernels/cmsis_nn/" + os.path.basename(rel)
                if os.path.isfile(os.path.join(tflm, optimized)):
                    rel = optimized
            found.append(rel)
    return found


def generate_app_headers(out_dir):
    model = option("DTMM_TFLM_MODEL", "model")
    if not model:
        fail("no model: set custom_tflm_model (platformio.ini) or DTMM_TFLM_MODEL to an int8 .tflite")
    cmd = [dtmm_python(), "-m", "dtmm.tflm.app_sources", "--model", project_path(model), "--out", out_dir]
    inputs = option("DTMM_TFLM_INPUTS", "inputs")
    if inputs:
        cmd += ["--inputs", project_path(inputs)]
    arena = option("DTMM_TFLM_ARENA", "arena")
    if arena:
        cmd += ["--arena", arena]
    env_vars = dict(os.environ)
    tools = os.path.join(PROJECT_DIR, "tools")
    env_vars["PYTHONPATH"] = tools + (os.pathsep + env_vars["PYTHONPATH"] if env_vars.get("PYTHONPATH") else "")
    result = subprocess.run(cmd, env=env_vars, cwd=PROJECT_DIR)
    if result.returncode != 0:
        fail("generating the model headers failed (exit status %d): %s" % (result.returncode, " ".join(cmd)))


def dtmm_python():
    venv = os.path.join(PROJECT_DIR, ".venv", "bin", "python")
    return venv if os.path.isfile(venv) else sys.executable


def configure():
    tflm = tflm_tree()
    kernels = option("DTMM_TFLM_KERNELS", "kernels", "reference") or "reference"
    if kernels not in KERNELS:
        fail("kernels %r: choose %s" % (kernels, " or ".join(KERNELS)))
    downloads = os.path.join(tflm, DOWNLOADS)
    includes = [tflm, os.path.join(downloads, "flatbuffers", "include"), os.path.join(downloads, "gemmlowp"),
                os.path.join(downloads, "ruy")]
    # TFLM's release_with_logs build: its debug checks off (NDEBUG), its error messages kept
    defines = ["TF_LITE_STATIC_MEMORY", "TF_LITE_DISABLE_X86_NEON", "TF_LITE_MCU_DEBUG_LOG", "NDEBUG"]
    if kernels == "cmsis_nn":
        cmsis_nn, cmsis = os.path.join(downloads, "cmsis_nn"), os.path.join(downloads, "cmsis")
        for d in (os.path.join(cmsis_nn, "Include"), os.path.join(cmsis, "CMSIS", "Core", "Include")):
            if not os.path.isdir(d):
                fail("custom_tflm_kernels = cmsis_nn needs %s (TFLM's CMSIS-NN downloads; docs/tflm.md)" % d)
        includes += [cmsis, cmsis_nn, os.path.join(cmsis, "CMSIS", "Core", "Include"), os.path.join(cmsis_nn, "Include")]
        # as TFLM's cmsis_nn.inc by default: integer kernels only (ARM_NN_ENABLE_F16/F32 = 0)
        defines += ["CMSIS_NN", ("ARM_NN_ENABLE_F16", 0), ("ARM_NN_ENABLE_F32", 0)]
    app_src = project_path("app/tflm_image_classification/src")
    if not os.environ.get("PLATFORMIO_SRC_DIR"):
        env.Replace(PROJECT_SRC_DIR=app_src)  # noqa: F821
    out_dir = os.path.join(env.subst("$BUILD_DIR"), "tflm_app")  # noqa: F821
    generate_app_headers(out_dir)
    adapter = os.path.join(PROJECT_DIR, "lib", "dtmm_kernels", "tflm")
    # TFLM's headers as system headers too (-isystem wins over -I): the app and the adapter are built
    # with -Wall -Wextra, which TFLM's headers do not pass
    env.Append(CPPPATH=includes + [out_dir, adapter], CPPDEFINES=defines,  # noqa: F821
               CCFLAGS=["-isystem" + d for d in includes])

    filters = ["-<*>"] + ["+<%s>" % s for s in library_sources(tflm, kernels)]
    # TFLM's sources are third-party code: built without our warnings (-w). On cortex-m55 also
    # -fno-if-conversion2: arm-none-eabi-gcc 12.2 at -O2 puts a float VCVT in an IT block (e.g. in TFLM's
    # resize_nearest_neighbor.cc), which the assembler refuses with MVE.  Both through a build middleware
    # and CPPFLAGS (which the platform leaves empty), for TFLM's files only: this pre: script runs
    # before the platform sets CCFLAGS/CXXFLAGS, so overriding those here would drop the machine flags.
    tflm_flags = ["-w"]
    if env.BoardConfig().get("build.cpu", "") == "cortex-m55":  # noqa: F821
        tflm_flags.append("-fno-if-conversion2")
    env.AddBuildMiddleware(  # noqa: F821
        lambda e, node: e.Object(node, CPPFLAGS=list(e.get("CPPFLAGS", [])) + tflm_flags), os.path.join(tflm, "*")
    )
    lib = env.BuildLibrary(os.path.join("$BUILD_DIR", "tflm"), tflm, src_filter=filters)  # noqa: F821
    libs = [lib]
    if kernels == "cmsis_nn":
        nn = env.BuildLibrary(  # noqa: F821
            os.path.join("$BUILD_DIR", "cmsis_nn"), os.path.join(downloads, "cmsis_nn", "Source"),
            src_filter=["+<*/*.c>", "-<*/*_f16.c>", "-<*/*_f32.c>", "-<*/arm_nntables_flt.c>"],
        )
        libs.append(nn)
    env.Prepend(LIBS=libs)  # noqa: F821
    sys.stderr.write("%sTFLM %s, %s kernels\n" % (PREFIX, tflm, kernels))


configure()
