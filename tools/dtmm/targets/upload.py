"""Flashing a real board with OpenOCD or pyOCD: what `pio run -e <real board> -t upload` runs.

The DTMM PlatformIO platform calls ``python -m dtmm.targets.upload`` with the env's
``upload_protocol`` (platformio.ini) and the board manifest's probe settings. The tools' own output
(many lines, most of them noise when nothing is connected) goes to a log file; what the user sees is
one line: what was flashed, or why not — the tool missing, no probe found through the named
interface, a target pyOCD does not know, or the tool's last error line.
"""
from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from ..errors import DtmmError
from ..fileio import write_text_atomic

PROTOCOLS = ("openocd", "pyocd")
#: seconds an upload may take before it is called stuck (a 2 MiB flash programs in well under a minute)
UPLOAD_TIMEOUT_S = 180.0

#: what OpenOCD prints when the adapter itself is not there (ST-LINK, CMSIS-DAP, J-Link, FTDI)
_OPENOCD_NO_PROBE = re.compile(
    r"open failed|No ST-LINK|unable to find a matching CMSIS-DAP device|No J-Link device found|"
    r"unable to open ftdi device|no device found|LIBUSB_ERROR_ACCESS",
    re.IGNORECASE,
)
_PYOCD_NO_PROBE = re.compile(r"No connected debug probes|No target device available", re.IGNORECASE)
_PYOCD_UNKNOWN_TARGET = re.compile(r"Target type '?\S+'? not recognized|not recognized", re.IGNORECASE)


@dataclass(frozen=True)
class UploadRequest:
    protocol: str
    elf: Path
    openocd_interface: str = ""
    openocd_target: str = ""
    pyocd_target: str = ""


def upload_command(req: UploadRequest) -> list[str]:
    """The uploader's command line; DtmmError when the protocol or the board's settings are missing."""
    if req.protocol not in PROTOCOLS:
        raise DtmmError(f"upload_protocol '{req.protocol}' is not supported (use one of: {', '.join(PROTOCOLS)})")
    if req.protocol == "openocd":
        if not (req.openocd_interface and req.openocd_target):
            raise DtmmError("the board manifest has no upload.openocd_interface / upload.openocd_target")
        elf = req.elf.as_posix()
        return ["openocd", "-f", req.openocd_interface, "-f", req.openocd_target,
                "-c", f"program {{{elf}}} verify reset exit"]  # fmt: skip
    if not req.pyocd_target:
        raise DtmmError("the board manifest has no upload.pyocd_target")
    pyocd = shutil.which("pyocd") or str(Path(sys.executable).with_name("pyocd"))
    return [pyocd, "flash", "--no-wait", "--target", req.pyocd_target, str(req.elf)]


def _tool_missing(req: UploadRequest, cmd: list[str]) -> str | None:
    if shutil.which(cmd[0]) or Path(cmd[0]).is_file():
        return None
    if req.protocol == "openocd":
        return "openocd is not installed (Debian/Ubuntu: apt-get install openocd), or use upload_protocol = pyocd"
    return "pyocd is not installed in this Python (pip install pyocd), or use upload_protocol = openocd"


def _failure_line(req: UploadRequest, returncode: int, output: str, log: Path | None) -> str:
    """One line saying why an upload that ran failed."""
    where = f" (details: {log})" if log else ""
    if req.protocol == "openocd":
        via = f"OpenOCD interface {req.openocd_interface}, target {req.openocd_target}"
        if _OPENOCD_NO_PROBE.search(output):
            return (f"no debug probe found through {via}: connect the board's ST-LINK USB port "
                    f"(and check udev permissions){where}")  # fmt: skip
        errors = [ln.strip() for ln in output.splitlines() if ln.startswith("Error")]
    else:
        via = f"pyOCD, target {req.pyocd_target}"
        if _PYOCD_NO_PROBE.search(output):
            return f"no debug probe found by {via}: connect the board's ST-LINK USB port{where}"
        if _PYOCD_UNKNOWN_TARGET.search(output):
            return (f"pyOCD does not know target {req.pyocd_target}: install its CMSIS pack once with "
                    f"'pyocd pack install {req.pyocd_target}' (needs internet), or use upload_protocol = openocd")  # fmt: skip
        errors = [ln.strip() for ln in output.splitlines() if ln.strip()]
    last = errors[-1] if errors else f"exit status {returncode}"
    return f"upload through {via} failed: {last}{where}"


def upload(req: UploadRequest, log: Path | None = None, timeout: float = UPLOAD_TIMEOUT_S) -> str:
    """Flashes ``req.elf``; returns a one-line success message, raises DtmmError with one line otherwise."""
    if not req.elf.is_file():
        raise DtmmError(f"{req.elf}: no such firmware (build it first)")
    cmd = upload_command(req)
    missing = _tool_missing(req, cmd)
    if missing:
        raise DtmmError(missing)
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)
        output, returncode = proc.stdout + proc.stderr, proc.returncode
    except subprocess.TimeoutExpired as exc:
        output = exc.stdout.decode(errors="replace") if isinstance(exc.stdout, bytes) else (exc.stdout or "")
        if log:
            write_text_atomic(log, " ".join(cmd) + "\n" + output)
        raise DtmmError(f"{req.protocol} did not finish within {timeout:g} s (details: {log})") from None
    if log:
        write_text_atomic(log, " ".join(cmd) + "\n" + output)
    if returncode != 0:
        raise DtmmError(_failure_line(req, returncode, output, log))
    return f"flashed {req.elf.name} with {req.protocol}"


def _main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m dtmm.targets.upload", description=__doc__.splitlines()[0])
    ap.add_argument("--protocol", required=True)
    ap.add_argument("--openocd-interface", default="")
    ap.add_argument("--openocd-target", default="")
    ap.add_argument("--pyocd-target", default="")
    ap.add_argument("--log", type=Path)
    ap.add_argument("--timeout", type=float, default=UPLOAD_TIMEOUT_S)
    ap.add_argument("elf", type=Path)
    args = ap.parse_args(argv)
    req = UploadRequest(args.protocol, args.elf, args.openocd_interface, args.openocd_target, args.pyocd_target)
    try:
        print(upload(req, args.log, args.timeout))
    except DtmmError as exc:
        print(f"Error: upload: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(_main())
