"""PlatformIO extraScript of dtmm_kernels (see library.json).

Makes PlatformIO compile exactly the files listed in sources.txt, the one
source list shared with CMakeLists.txt (and a Zephyr module later): the library's
source filter becomes "-<*>" plus "+<path>" for every listed path (relative to
this directory, which library.json makes the library's srcDir).

Knob: `custom_dtmm_kernels_optimization = -Ofast` (platformio.ini, per env or
in [env]) replaces the optimisation level for the kernels only; the
environment variable DTMM_KERNELS_OPTIMIZATION, when set, overrides it for one
build (dtmm.targets.platformio.build(kernels_optimization=...) sets it).
"""
import os
import re

Import("env", "pio_lib_builder")  # noqa: F821  (SCons provides Import)

LIB_DIR = pio_lib_builder.path  # noqa: F821
SOURCES_TXT = os.path.join(LIB_DIR, "sources.txt")


def read_sources(path):
    """The non-blank, non-comment lines of sources.txt, in order."""
    sources = []
    with open(path, encoding="utf-8") as fp:
        for line in fp:
            line = line.strip()
            if line and not line.startswith("#"):
                sources.append(line)
    return sources


sources = read_sources(SOURCES_TXT)
missing = [s for s in sources if not os.path.isfile(os.path.join(LIB_DIR, s))]
if missing:
    env.Exit(  # noqa: F821
        "Error: %s lists files that do not exist: %s" % (SOURCES_TXT, ", ".join(missing))
    )

def tflm_headers_found():
    """True when TFLM's headers are on this build's include path (an app built against TFLM put them there)."""
    for d in env.get("CPPPATH", []):  # noqa: F821
        if os.path.isfile(os.path.join(env.subst(str(d)), "tensorflow", "lite", "micro", "micro_common.h")):  # noqa: F821
            return True
    return False


# The TFLM adapter (tflm/sources.txt) compiles only against TFLM's headers.
if tflm_headers_found():
    sources += read_sources(os.path.join(LIB_DIR, "tflm", "sources.txt"))
    env.Append(CPPPATH=[os.path.join(LIB_DIR, "tflm")])  # noqa: F821

env.Replace(SRC_FILTER=["-<*>"] + ["+<%s>" % s for s in sources])  # noqa: F821

kernels_opt = os.environ.get("DTMM_KERNELS_OPTIMIZATION", "").strip() or env.GetProjectOption(  # noqa: F821
    "custom_dtmm_kernels_optimization", ""
).strip()
if kernels_opt:
    env.Replace(  # noqa: F821
        CCFLAGS=[
            f
            for f in env.get("CCFLAGS", [])  # noqa: F821
            if not (isinstance(f, str) and re.fullmatch(r"-O[0-3sgz]?|-Ofast", f))
        ]
        + [kernels_opt]
    )
