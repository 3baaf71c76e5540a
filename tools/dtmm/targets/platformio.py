"""PlatformIO, offline: bootstrap the project-local core and build firmware.

PlatformIO is DTMM's firmware build (platformio.ini at the repository root).
Its core directory is ``.pio-core`` inside the repository, and nothing in it
has to come from PlatformIO's registry:

* PlatformIO runs SCons from a "tool-scons" core package, which it would
  download.  :func:`bootstrap` creates that package from the SCons installed
  from PyPI into this Python (a ``scons.py`` launcher plus the ``package.json``
  and ``.piopm`` metadata PlatformIO looks for), declares it as the version
  PlatformIO requires, and pre-links the local dev-platform.
* It records in the core's ``appstate.json`` that this PlatformIO version has
  been set up and that telemetry and upgrade checks are off, so ``pio`` never
  goes online for them; :func:`pio_environ` sets the same through
  ``PLATFORMIO_SETTING_*`` variables for the processes DTMM starts.

:func:`build` runs ``pio run -e <board>`` for any application source
directory (``PLATFORMIO_SRC_DIR``) into a build directory of its own per
(application, board) (``PLATFORMIO_BUILD_DIR``), with extra defines passed in
``PLATFORMIO_BUILD_FLAGS``, and returns the ELF.

Command line: ``python -m dtmm.targets.platformio bootstrap`` (Makefile, CI) and
``python -m dtmm.targets.platformio build SRC_DIR BOARD [-D NAME=VALUE]...``.
"""
from __future__ import annotations

import argparse
import configparser
import hashlib
import importlib.metadata
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Iterable

from ..errors import DtmmError
from ..fileio import write_if_changed
from ..paths import REPO_ROOT
from .boards import get_board

#: PlatformIO 6.1.x requires core package tool-scons "~4.40801.0"
#: (platformio/dependencies.py); the local package claims that version.
TOOL_SCONS_VERSION = "4.40801.0"
#: The local dev-platform (QEMU and real boards), relative to the repository.
LOCAL_PLATFORM_DIR = "boards/platformio/platform-dtmm"
#: The same platform's directory before it built real boards too (a core bootstrapped then links it).
RENAMED_PLATFORM_DIR = "platform-dtmm-qemu"
#: ``platform =`` of the DTMM envs in platformio.ini.
LOCAL_PLATFORM_SPEC = "symlink://" + LOCAL_PLATFORM_DIR
#: Settings that keep PlatformIO offline (telemetry, upgrade and prune checks).
OFFLINE_SETTINGS = {
    "enable_telemetry": False,
    "check_platformio_interval": 36500,  # days
    "check_prune_system_threshold": 0,  # never computes unnecessary data
}
DEFAULT_CORE_DIR = ".pio-core"
_ERROR_RE = re.compile(
    r"(\berror\b|\bError\b|undefined reference|multiple definition|"
    r"region .* overflowed|No such file or directory)"
)


# ---- locations -----------------------------------------------------------------
def find_repo_root(start: Path | None = None) -> Path:
    """The repository root: the directory with platformio.ini above ``start``
    (default: this module's checkout, then the current directory)."""
    candidates = [REPO_ROOT] if start is None else []
    candidates.append((start or Path.cwd()).resolve())
    for base in candidates:
        for d in (base, *base.parents):
            if (d / "platformio.ini").is_file() and (d / LOCAL_PLATFORM_DIR).is_dir():
                return d
    raise DtmmError("cannot find the DTMM repository (a directory with platformio.ini)")


def core_dir(repo_root: Path) -> Path:
    """``[platformio] core_dir`` of the repository's platformio.ini, absolute."""
    parser = configparser.ConfigParser(interpolation=None, inline_comment_prefixes=(";",))
    parser.read(repo_root / "platformio.ini", encoding="utf-8")
    value = parser.get("platformio", "core_dir", fallback=DEFAULT_CORE_DIR).strip()
    path = Path(value).expanduser()
    return path if path.is_absolute() else repo_root / path


def pio_environ(repo_root: Path, base: dict | None = None) -> dict:
    """Environment for a ``pio`` process: project core dir, no telemetry, no
    upgrade checks, no colours or progress bars."""
    env = dict(os.environ if base is None else base)
    env.update(
        PLATFORMIO_CORE_DIR=str(core_dir(repo_root)),
        PLATFORMIO_SETTING_ENABLE_TELEMETRY="No",
        PLATFORMIO_SETTING_CHECK_PLATFORMIO_INTERVAL=str(OFFLINE_SETTINGS["check_platformio_interval"]),
        PLATFORMIO_SETTING_CHECK_PRUNE_SYSTEM_THRESHOLD="0",
        PLATFORMIO_DISABLE_PROGRESSBAR="true",
        PLATFORMIO_NO_ANSI="true",
        PLATFORMIO_CALLER="dtmm",
    )
    return env


def pio_command() -> list[str]:
    """How to start PlatformIO: this Python's platformio module, else pio on PATH."""
    if importlib.util.find_spec("platformio") is not None:
        return [sys.executable, "-m", "platformio"]
    for name in ("pio", "platformio"):
        exe = shutil.which(name)
        if exe:
            return [exe]
    raise DtmmError("PlatformIO is not installed (pip install platformio)")


# ---- bootstrap -------------------------------------------------------------------
def _write_if_changed(path: Path, content: str) -> bool:
    return write_if_changed(path, content.encode("utf-8"))


def _scons_location() -> tuple[str, str]:
    """(site directory holding the SCons package, PyPI scons version)."""
    spec = importlib.util.find_spec("SCons")
    if spec is None or not spec.submodule_search_locations:
        raise DtmmError(
            "SCons is not installed in this Python; install it from PyPI: "
            f"{sys.executable} -m pip install scons"
        )
    site = str(Path(list(spec.submodule_search_locations)[0]).resolve().parent)
    try:
        version = importlib.metadata.version("scons")
    except importlib.metadata.PackageNotFoundError:
        version = "unknown"
    return site, version


_SCONS_LAUNCHER = '''\
"""SCons launcher of the project-local PlatformIO core package tool-scons.

Generated by dtmm.targets.platformio.bootstrap: PlatformIO starts this file with its
own Python; it runs the SCons {version} that PyPI installed for that Python
(found at bootstrap time in {site}).
"""
import sys

try:
    import SCons.Script
except ImportError:
    sys.path.insert(0, {site!r})
    import SCons.Script

SCons.Script.main()
'''


def _tool_scons_files(site: str, version: str) -> dict[str, str]:
    manifest = {
        "name": "tool-scons",
        "version": TOOL_SCONS_VERSION,
        "description": f"SCons {version} from PyPI, wrapped for PlatformIO by dtmm.targets.platformio "
        "(local package, never downloaded)",
        "keywords": ["build tool"],
        "homepage": "https://scons.org",
        "license": "MIT",
    }
    piopm = {
        "type": "tool",
        "name": "tool-scons",
        "version": TOOL_SCONS_VERSION,
        "spec": {
            "owner": "platformio",
            "id": None,
            "name": "tool-scons",
            "requirements": None,
            "uri": None,
        },
    }
    return {
        "package.json": json.dumps(manifest, indent=2) + "\n",
        ".piopm": json.dumps(piopm),
        "scons.py": _SCONS_LAUNCHER.format(site=site, version=version),
    }


def _platform_link(repo_root: Path) -> str:
    """The .pio-link PlatformIO itself writes when it installs the local
    platform from ``symlink://...`` while running in the repository."""
    spec = {
        "owner": None,
        "id": None,
        "name": Path(LOCAL_PLATFORM_DIR).name,
        "requirements": None,
        "uri": LOCAL_PLATFORM_SPEC,
    }
    return json.dumps({"cwd": str(repo_root), "spec": spec})


def _platformio_version() -> str | None:
    try:
        return importlib.metadata.version("platformio")
    except importlib.metadata.PackageNotFoundError:
        return None


def _update_appstate(path: Path) -> bool:
    """Offline settings, current version and fresh check times in appstate.json;
    rewrites the file only when something is missing."""
    try:
        state = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(state, dict):
            state = {}
    except (FileNotFoundError, ValueError):
        state = {}
    changed = False
    settings = state.setdefault("settings", {})
    for key, value in OFFLINE_SETTINGS.items():
        if settings.get(key) != value:
            settings[key] = value
            changed = True
    version = _platformio_version()
    # A different "last_version" makes PlatformIO "upgrade" its core packages
    # online at the next command; "0.0.0" (fresh) only prints a banner.
    if version and state.get("last_version") != version:
        state["last_version"] = version
        changed = True
    last_check = state.setdefault("last_check", {})
    now = int(time.time())
    for key in ("platformio_upgrade", "prune_system"):
        if not last_check.get(key):
            last_check[key] = now
            changed = True
    if changed:
        _write_if_changed(path, json.dumps(state))
    return changed


def bootstrap(repo_root: Path | None = None) -> None:
    """Makes ``pio run`` work offline in ``repo_root``; idempotent, and it
    writes nothing when everything is already in place."""
    repo_root = Path(repo_root).resolve() if repo_root else find_repo_root()
    if not (repo_root / "platformio.ini").is_file():
        raise DtmmError(f"{repo_root} has no platformio.ini")
    core = core_dir(repo_root)
    site, version = _scons_location()
    pkg = core / "packages" / "tool-scons"
    for name, content in _tool_scons_files(site, version).items():
        _write_if_changed(pkg / name, content)
    _write_if_changed(
        core / "platforms" / f"{Path(LOCAL_PLATFORM_DIR).name}.pio-link", _platform_link(repo_root)
    )
    # the platform's name before it built real boards too: a stale link would shadow nothing but confuse
    (core / "platforms" / f"{RENAMED_PLATFORM_DIR}.pio-link").unlink(missing_ok=True)
    _update_appstate(core / "appstate.json")


# ---- build -------------------------------------------------------------------------
def _app_build_root(repo_root: Path, src_dir: Path) -> Path:
    name = src_dir.parent.name if src_dir.name == "src" else src_dir.name
    digest = hashlib.sha1(str(src_dir).encode()).hexdigest()[:8]
    return repo_root / ".pio" / "dtmm-build" / f"{name}-{digest}"


def _check_define(define: str) -> str:
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*(=\S*)?", define):
        raise DtmmError(f"bad define '{define}' (expected NAME or NAME=VALUE without spaces)")
    return define


def _error_lines(lines: list[str], limit: int = 30) -> list[str]:
    found: list[str] = []
    for line in lines:
        line = line.rstrip()
        if not line or line in found or line.startswith("Verbose mode"):
            continue
        if _ERROR_RE.search(line) and "[FAILED]" not in line and "[SUCCESS]" not in line:
            found.append(line)
    if not found:
        found = [line.rstrip() for line in lines if line.strip()][-15:]
    return found[:limit]


def build(
    src_dir: str | os.PathLike,
    board: str,
    *,
    build_dir: str | os.PathLike | None = None,
    defines: Iterable[str] = (),
    kernels_optimization: str | None = None,
    verbose: bool = False,
    repo_root: str | os.PathLike | None = None,
    env_name: str | None = None,
    extra_env: dict[str, str] | None = None,
) -> Path:
    """Builds the application in ``src_dir`` for ``board`` with PlatformIO.

    ``build_dir`` is PlatformIO's project build directory (the ELF lands in
    ``<build_dir>/<board>/firmware.elf``); by default every (application,
    board) pair gets its own under ``.pio/dtmm-build/``, so builds of
    different apps or boards never clobber each other.  ``defines`` are
    ``NAME`` or ``NAME=VALUE`` strings.  ``kernels_optimization`` (e.g.
    ``-Ofast``) compiles lib/dtmm_kernels at that level for this build only,
    overriding ``custom_dtmm_kernels_optimization``.  PlatformIO empties the build
    directory when the configuration changes (other defines, for example), so
    it must be empty or one PlatformIO created.  ``verbose`` echoes PlatformIO's
    output (with full command lines).  Returns the ELF path; raises DtmmError
    with the compiler's error lines when the build fails.  ``env_name`` picks another
    platformio.ini environment for the board (e.g. ``tflm-qemu-m4``, whose pre: hook
    builds against TFLM); ``extra_env`` adds environment variables for the hooks.
    """
    b = get_board(board)
    env_name = env_name or b.pio_env or b.name
    root = Path(repo_root).resolve() if repo_root else find_repo_root()
    src = Path(src_dir).resolve()
    if not src.is_dir():
        raise DtmmError(f"application source directory {src_dir} does not exist")
    flags = " ".join("-D" + _check_define(d) for d in defines)
    bootstrap(root)

    project_build = Path(build_dir).resolve() if build_dir else _app_build_root(root, src) / env_name
    # PlatformIO deletes a build directory whose project.checksum is missing or
    # stale; never let it wipe a directory that is not one of its own.
    if (
        project_build.is_dir()
        and any(project_build.iterdir())
        and not (project_build / "project.checksum").is_file()
    ):
        raise DtmmError(
            f"build directory {project_build} is not empty and not a PlatformIO build "
            "directory (PlatformIO would delete its contents); choose another"
        )
    env = pio_environ(root)
    for var in ("PLATFORMIO_BUILD_SRC_FLAGS", "PLATFORMIO_BUILD_SRC_FILTER", "PLATFORMIO_DEFAULT_ENVS"):
        env.pop(var, None)
    env.pop("DTMM_KERNELS_OPTIMIZATION", None)
    if kernels_optimization:
        if not re.fullmatch(r"-O(fast|[0-3sgz]?)", kernels_optimization):
            raise DtmmError(
                f"bad kernels optimization {kernels_optimization!r} (expected -O0..-O3, -Os, -Oz, -Og or -Ofast)"
            )
        env["DTMM_KERNELS_OPTIMIZATION"] = kernels_optimization
    env.update(extra_env or {})
    env["PLATFORMIO_SRC_DIR"] = str(src)
    env["PLATFORMIO_BUILD_DIR"] = str(project_build)
    if flags:
        env["PLATFORMIO_BUILD_FLAGS"] = flags
    else:
        env.pop("PLATFORMIO_BUILD_FLAGS", None)

    cmd = pio_command() + ["run", "-d", str(root), "-e", env_name]
    if verbose:
        cmd.append("-v")
    try:
        proc = subprocess.Popen(
            cmd,
            cwd=root,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            text=True,
            errors="replace",
        )
    except OSError as exc:
        raise DtmmError(f"cannot start PlatformIO ({cmd[0]}): {exc}") from None
    lines: list[str] = []
    assert proc.stdout is not None
    for line in proc.stdout:
        lines.append(line)
        if verbose:
            sys.stdout.write(line)
            sys.stdout.flush()
    returncode = proc.wait()

    elf = project_build / env_name / "firmware.elf"
    if returncode != 0:
        details = "\n".join("  " + line for line in _error_lines(lines))
        raise DtmmError(
            f"PlatformIO build of {src} for {board} failed (pio run exit status {returncode})\n"
            f"{details}"
        )
    if not elf.is_file():
        raise DtmmError(f"PlatformIO build of {src} for {board} produced no {elf}")
    return elf


# ---- command line -----------------------------------------------------------------
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m dtmm.targets.platformio", description=__doc__.split("\n")[0])
    parser.add_argument("--repo-root", type=Path, default=None, help="repository root (default: found)")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("bootstrap", help="set up the project-local PlatformIO core (offline)")
    p_build = sub.add_parser("build", help="build an application for a board, print the ELF path")
    p_build.add_argument("src_dir")
    p_build.add_argument("board")
    p_build.add_argument("-D", dest="defines", action="append", default=[], metavar="NAME[=VALUE]")
    p_build.add_argument("--build-dir", default=None)
    p_build.add_argument("-v", "--verbose", action="store_true")
    args = parser.parse_args(argv)
    try:
        root = args.repo_root.resolve() if args.repo_root else find_repo_root()
        if args.command == "bootstrap":
            started = time.monotonic()
            bootstrap(root)
            print(f"PlatformIO core ready in {core_dir(root)} ({time.monotonic() - started:.2f} s)")
        else:
            elf = build(
                args.src_dir,
                args.board,
                build_dir=args.build_dir,
                defines=args.defines,
                verbose=args.verbose,
                repo_root=root,
            )
            print(elf)
    except DtmmError as exc:
        print(f"dtmm: error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
