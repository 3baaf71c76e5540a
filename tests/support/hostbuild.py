"""Host (x86) builds of lib/dtmm_kernels for tests: CMake from the shared source
list, with AddressSanitizer and UndefinedBehaviorSanitizer on by default."""
from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from dtmm.errors import DtmmError
from dtmm.paths import KERNELS_DIR

SANITIZE = "-fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer"


def _check(cmd: list[str], what: str) -> None:
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-20:])
        raise DtmmError(f"{what} failed: {' '.join(cmd[:3])} ...\n{tail}")


def build_kernels_library(build_dir: Path, sanitize: bool = True) -> Path:
    """Configure and build libdtmm_kernels.a with CMake; returns the archive path."""
    if shutil.which("cmake") is None:
        raise DtmmError("cmake not found on PATH; run 'make bootstrap'")
    flags = f"-O1 -g {SANITIZE}" if sanitize else "-O2 -g"
    build_dir.mkdir(parents=True, exist_ok=True)
    _check(["cmake", "-S", str(KERNELS_DIR), "-B", str(build_dir), f"-DCMAKE_C_FLAGS={flags}",
            "-DCMAKE_BUILD_TYPE=None"], "CMake configure of dtmm_kernels")
    _check(["cmake", "--build", str(build_dir), "--parallel", "2"], "build of dtmm_kernels")
    return build_dir / "libdtmm_kernels.a"


def build_host_program(source: Path, out: Path, library: Path, sanitize: bool = True) -> Path:
    """Compiles a C test driver against the kernels library."""
    cmd = ["cc", "-std=c99", "-Wall", "-Wextra", "-Werror", "-g", "-I", str(KERNELS_DIR / "include"),
           str(source), str(library), "-o", str(out)]
    if sanitize:
        cmd[1:1] = SANITIZE.split()
    _check(cmd, f"compile of {source.name}")
    return out
