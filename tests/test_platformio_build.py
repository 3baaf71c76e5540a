"""PlatformIO is the firmware build, and it works offline.

Covers dtmm.targets.platformio (bootstrap of the project-local core, build()), the
local dev-platform boards/platformio/platform-dtmm with its board
manifests, lib/dtmm_kernels' PlatformIO integration and the STM32 board
support (compile check only: the real boards cannot be built offline).
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from dtmm.errors import DtmmError
from dtmm.targets.boards import BOARDS, emulated_boards
from dtmm.targets.platformio import bootstrap, build, core_dir, pio_command

REPO = Path(__file__).resolve().parents[1]
BOARD_NAMES = [b.name for b in emulated_boards()]
HAVE_GCC = shutil.which("arm-none-eabi-gcc") is not None
HAVE_QEMU = shutil.which("qemu-system-arm") is not None

needs_gcc = pytest.mark.skipif(not HAVE_GCC, reason="arm-none-eabi-gcc not installed")
needs_qemu = pytest.mark.skipif(not HAVE_QEMU, reason="qemu-system-arm not installed")


def _snapshot(root: Path) -> dict[str, tuple[int, str]]:
    return {
        str(p.relative_to(root)): (p.stat().st_mtime_ns, hashlib.sha1(p.read_bytes()).hexdigest())
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def _offline_env() -> dict:
    """The environment of a user typing `pio run`: no DTMM variables, and any
    attempt to reach the network fails at once (proxy on a closed port)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PLATFORMIO_")}
    for var in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "all_proxy"):
        env[var] = "http://127.0.0.1:9"
    env.pop("NO_PROXY", None)
    env.pop("no_proxy", None)
    return env


def _kernel_sources() -> list[str]:
    lines = (REPO / "lib" / "dtmm_kernels" / "sources.txt").read_text().splitlines()
    return [line.strip() for line in lines if line.strip() and not line.strip().startswith("#")]


def _qemu_run(elf: Path, board: str, timeout: float = 30) -> subprocess.CompletedProcess:
    return subprocess.run(
        [
            "qemu-system-arm", "-M", BOARDS[board].qemu_machine, "-nographic", "-monitor", "none",
            "-serial", "stdio", "-semihosting-config", "enable=on,target=native",
            "-icount", "shift=7", "-kernel", str(elf),
        ],
        capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL,
    )


# ---- bootstrap ------------------------------------------------------------------
def test_bootstrap_creates_core_from_scratch(tmp_path):
    shutil.copy(REPO / "platformio.ini", tmp_path / "platformio.ini")
    bootstrap(tmp_path)
    scons = tmp_path / ".pio-core" / "packages" / "tool-scons"
    manifest = json.loads((scons / "package.json").read_text())
    meta = json.loads((scons / ".piopm").read_text())
    assert manifest["name"] == meta["name"] == "tool-scons"
    assert manifest["version"] == meta["version"] == "4.40801.0"  # PlatformIO wants ~4.40801.0
    assert meta["spec"]["owner"] == "platformio" and meta["type"] == "tool"
    assert "SCons.Script.main()" in (scons / "scons.py").read_text()
    state = json.loads((tmp_path / ".pio-core" / "appstate.json").read_text())
    assert state["settings"]["enable_telemetry"] is False


def test_bootstrap_is_idempotent_and_fast():
    bootstrap(REPO)
    core = core_dir(REPO)
    assert core == REPO / ".pio-core"
    before = _snapshot(core / "packages" / "tool-scons")
    before.update({"appstate": _snapshot(core)["appstate.json"]})
    started = time.monotonic()
    bootstrap(REPO)
    elapsed = time.monotonic() - started
    after = _snapshot(core / "packages" / "tool-scons")
    after.update({"appstate": _snapshot(core)["appstate.json"]})
    assert after == before
    assert elapsed < 2.0


def test_bootstrap_command_line():
    result = subprocess.run(
        [sys.executable, "-m", "dtmm.targets.platformio", "bootstrap"],
        cwd=REPO, capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert ".pio-core" in result.stdout


# ---- board manifests agree with the board table ------------------------------
@pytest.mark.parametrize("board", BOARD_NAMES)
def test_board_manifest_matches_board_table(board):
    manifest = json.loads((REPO / "boards" / "platformio" / "boards" / f"{board}.json").read_text())
    b = BOARDS[board]
    build_opts = manifest["build"]
    assert build_opts["cpu"] == b.cpu
    assert build_opts["mcu"] == b.qemu_machine == manifest["dtmm"]["qemu_machine"]
    assert manifest["upload"]["maximum_size"] == b.flash_bytes
    assert manifest["upload"]["maximum_ram_size"] == b.ram_bytes
    assert int(build_opts["f_cpu"].rstrip("L")) == b.sysclk_hz
    assert f"-DDTMM_BOARD_{board.upper().replace('-', '_')}" in build_opts["extra_flags"].split()
    support = build_opts["dtmm_board_support"]
    support = [support] if isinstance(support, str) else support
    assert "qemu" in support  # the emulated boards count instructions and exit through semihosting
    assert any((REPO / "boards" / d / "ld" / build_opts["ldscript"]).is_file() for d in support)
    assert build_opts["float_abi"] == ("hard" if "fpu" in b.features else "soft")


# ---- pio run, offline -------------------------------------------------------------
@needs_gcc
def test_pio_run_builds_hello_offline(tmp_path):
    bootstrap(REPO)
    env = _offline_env()
    env["PLATFORMIO_BUILD_DIR"] = str(tmp_path)  # keep the developer's .pio/build alone
    result = subprocess.run(
        pio_command() + ["run", "-e", "qemu-m4"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "DTMM Cortex-M" in output  # the local platform
    assert "Flash:" in output and "RAM:" in output  # size summary
    for unwanted in ("Installing", "Downloading", "HTTPClientError", "Internet", "upgrade"):
        assert unwanted not in output, output
    elf = tmp_path / "qemu-m4" / "firmware.elf"
    assert elf.is_file()
    if HAVE_QEMU:
        run = _qemu_run(elf, "qemu-m4")
        assert run.returncode == 0, run.stdout + run.stderr
        assert "hello from DTMM on qemu-m4" in run.stdout


# ---- build() ----------------------------------------------------------------------------
@needs_gcc
@needs_qemu
@pytest.mark.qemu
@pytest.mark.parametrize("board", BOARD_NAMES)
def test_build_measure_runs_on_every_board(board, tmp_path):
    elf = build(REPO / "tests" / "firmware" / "measure", board, build_dir=tmp_path)
    assert elf == tmp_path / board / "firmware.elf" and elf.is_file()
    run = _qemu_run(elf, board)
    assert run.returncode == 0, run.stdout + run.stderr
    assert f"measure selftest on {board}" in run.stdout
    assert "measure selftest done" in run.stdout


def test_build_default_dirs_are_separate_per_app_and_board():
    from dtmm.targets.platformio import _app_build_root

    hello = _app_build_root(REPO, REPO / "app" / "hello" / "src")
    measure = _app_build_root(REPO, REPO / "tests" / "firmware" / "measure")
    assert hello != measure
    assert hello.name.startswith("hello-") and measure.name.startswith("measure-")


def test_build_unknown_board_lists_boards():
    with pytest.raises(DtmmError, match=r"unknown board 'qemu-m9'.*qemu-m4.*qemu-m55"):
        build(REPO / "app" / "hello" / "src", "qemu-m9")


def test_build_missing_source_dir(tmp_path):
    with pytest.raises(DtmmError, match="does not exist"):
        build(tmp_path / "nope", "qemu-m4")


@needs_gcc
def test_build_error_names_the_file(tmp_path):
    src = tmp_path / "broken_app"
    src.mkdir()
    (src / "broken.c").write_text("int main(void) { return not_declared_anywhere; }\n")
    with pytest.raises(DtmmError) as excinfo:
        build(src, "qemu-m4", build_dir=tmp_path / "build")
    message = str(excinfo.value)
    first, *rest = message.splitlines()
    assert "failed" in first and "qemu-m4" in first
    assert any("broken.c" in line and "not_declared_anywhere" in line for line in rest), message


@needs_gcc
@needs_qemu
@pytest.mark.qemu
def test_kernels_library_compiles_exactly_sources_txt(tmp_path):
    src = tmp_path / "kernels_app"
    src.mkdir()
    (src / "main.c").write_text(
        '#include "dtmm_board.h"\n'
        '#include "dtmm_kernels.h"\n'
        "int main(void)\n{\n"
        '    dtmm_printf("requantize %d tag %d\\n", (int)dtmm_requantize(1000, 1073741824, 1), DTMM_TEST_TAG);\n'
        "    return 0;\n}\n"
    )
    build_dir = tmp_path / "build"
    elf = build(src, "qemu-m55", build_dir=build_dir, defines=["DTMM_TEST_TAG=7"])
    # PlatformIO compiles a library into $BUILD_DIR/lib<hash>/<name>/, mirroring
    # the source tree below the library's srcDir (the library root here).
    lib_dirs = list(build_dir.glob("qemu-m55/lib*/dtmm_kernels"))
    assert len(lib_dirs) == 1, lib_dirs
    compiled = sorted(str(o.relative_to(lib_dirs[0]).with_suffix("")) for o in lib_dirs[0].rglob("*.o"))
    expected = sorted(str(Path(s).with_suffix("")) for s in _kernel_sources())
    assert compiled == expected
    run = _qemu_run(elf, "qemu-m55")
    assert run.returncode == 0, run.stdout + run.stderr
    assert "requantize 1000 tag 7" in run.stdout


def test_foreign_build_dir_is_refused(tmp_path):
    (tmp_path / "precious.txt").write_text("keep me")
    with pytest.raises(DtmmError, match="not a PlatformIO build directory"):
        build(REPO / "app" / "hello" / "src", "qemu-m4", build_dir=tmp_path)
    assert (tmp_path / "precious.txt").read_text() == "keep me"


def test_bad_define_is_rejected(tmp_path):
    with pytest.raises(DtmmError, match="bad define"):
        build(REPO / "app" / "hello" / "src", "qemu-m4", build_dir=tmp_path, defines=["A B"])


# ---- the ststm32 alternative: its DTMM sources compile (the platform itself needs the registry) ----
@needs_gcc
@pytest.mark.parametrize(
    "define, flags",
    [
        ("DTMM_BOARD_DISCO_F746NG", ["-mcpu=cortex-m7", "-mfpu=fpv5-sp-d16"]),
        ("DTMM_BOARD_NUCLEO_L4R5ZI", ["-mcpu=cortex-m4", "-mfpu=fpv4-sp-d16"]),
    ],
)
def test_ststm32_alternative_sources_compile(define, flags):
    boards = REPO / "boards"
    sources = [*sorted((boards / "stm32").glob("*.c")), *sorted((boards / "hardware").glob("*.c")),
               boards / "stm32" / "ststm32" / "ststm32_main.c"]  # fmt: skip
    result = subprocess.run(
        ["arm-none-eabi-gcc", *flags, "-mthumb", "-mfloat-abi=hard", "-std=c99", "-O2",
         "-Wall", "-Wextra", "-Werror", "-fsyntax-only", f"-D{define}",
         "-I", str(boards / "include"), "-I", str(boards / "stm32"), *map(str, sources)],
        capture_output=True, text=True,
    )
    assert result.returncode == 0, result.stderr


@needs_qemu
@pytest.mark.qemu
@pytest.mark.parametrize("board", ["qemu-m0", "qemu-m4", "qemu-m55"])
def test_runtime_runs_constructors_and_formats_into_buffers(board, tmp_path):
    """C++ apps (app/tflm_image_classification) rely on both: static constructors before main(), after the
    console is up, and dtmm_vsnprintf for TFLM's DebugVsnprintf."""
    elf = build(REPO / "tests" / "firmware" / "runtime_check", board, build_dir=tmp_path)
    run = _qemu_run(elf, board)
    assert run.returncode == 0, run.stdout + run.stderr
    lines = run.stdout.splitlines()
    assert lines.index("constructor ran") < lines.index("constructed 42")
    assert "vsnprintf 11 [v=-1234]" in lines  # 11 characters formatted, 7 and a NUL stored
    assert "vsnprintf 2 [7%]" in lines and "vsnprintf 1 7" in lines  # size 0: nothing written
