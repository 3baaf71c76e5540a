"""`pio run -e <real board> -t upload`: OpenOCD or pyOCD, one clear line when it cannot flash.

With no probe attached (this machine, CI) the upload must fail with exactly one error line naming the
interface it looked for - not OpenOCD's or pyOCD's page of output.  Flashing itself needs a board.
"""
from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from dtmm.errors import DtmmError
from dtmm.targets import platformio
from dtmm.targets.upload import UploadRequest, _failure_line, upload, upload_command

REPO = platformio.REPO_ROOT
ELF = Path("/tmp/firmware.elf")


def _pio_upload(tmp_path: Path, env: str, extra_ini: str = "") -> subprocess.CompletedProcess:
    """`pio run -e env -t upload` on the repository's platformio.ini, plus ``extra_ini`` when given."""
    platformio.bootstrap(REPO)
    environ = platformio.pio_environ(REPO)
    environ["PLATFORMIO_BUILD_DIR"] = str(tmp_path / "build")
    environ.pop("PLATFORMIO_SRC_DIR", None)
    cmd = platformio.pio_command() + ["run", "-d", str(REPO), "-e", env, "-t", "upload"]
    if extra_ini:
        ini = tmp_path / "platformio.ini"
        ini.write_text((REPO / "platformio.ini").read_text() + "\n" + extra_ini)
        cmd += ["-c", str(ini)]
    return subprocess.run(cmd, cwd=REPO, env=environ, capture_output=True, text=True, timeout=600,
                          stdin=subprocess.DEVNULL)  # fmt: skip


def _error_lines(proc: subprocess.CompletedProcess) -> list[str]:
    return [ln for ln in (proc.stdout + proc.stderr).splitlines() if ln.startswith("Error: upload:")]


@pytest.mark.skipif(shutil.which("arm-none-eabi-gcc") is None, reason="arm-none-eabi-gcc not installed")
@pytest.mark.skipif(shutil.which("openocd") is None, reason="openocd not installed (apt-get install openocd)")
def test_openocd_upload_without_probe_fails_in_one_line(tmp_path):
    proc = _pio_upload(tmp_path, "nucleo_l4r5zi")
    assert proc.returncode != 0
    lines = _error_lines(proc)
    assert len(lines) == 1, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert "no debug probe found through OpenOCD interface interface/stlink.cfg, target target/stm32l4x.cfg" in lines[0]
    assert "Open On-Chip Debugger" not in proc.stdout + proc.stderr  # OpenOCD's own output went to the log
    log = tmp_path / "build" / "nucleo_l4r5zi" / "upload.log"
    assert "openocd -f interface/stlink.cfg -f target/stm32l4x.cfg" in log.read_text()


@pytest.mark.skipif(shutil.which("arm-none-eabi-gcc") is None, reason="arm-none-eabi-gcc not installed")
def test_pyocd_upload_chosen_in_platformio_ini_fails_in_one_line(tmp_path):
    pytest.importorskip("pyocd")
    # the protocol is an option of the env in platformio.ini
    proc = _pio_upload(tmp_path, "disco_f746ng-pyocd",
                       "[env:disco_f746ng-pyocd]\nextends = hardware\nboard = dtmm_disco_f746ng\nupload_protocol = pyocd\n")
    assert proc.returncode != 0
    lines = _error_lines(proc)
    assert len(lines) == 1, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert "no debug probe found by pyOCD, target stm32f746nghx" in lines[0]


def test_commands_follow_the_board_manifest():
    req = UploadRequest("openocd", ELF, "interface/stlink.cfg", "target/stm32f4x.cfg", "stm32f405rgtx")
    assert upload_command(req) == ["openocd", "-f", "interface/stlink.cfg", "-f", "target/stm32f4x.cfg",
                                   "-c", "program {/tmp/firmware.elf} verify reset exit"]  # fmt: skip
    pyocd = upload_command(UploadRequest("pyocd", ELF, pyocd_target="stm32f405rgtx"))
    assert pyocd[1:] == ["flash", "--no-wait", "--target", "stm32f405rgtx", str(ELF)]
    with pytest.raises(DtmmError, match=r"upload_protocol 'stlink' is not supported \(use one of: openocd, pyocd\)"):
        upload_command(UploadRequest("stlink", ELF))
    with pytest.raises(DtmmError, match="no upload.pyocd_target"):
        upload_command(UploadRequest("pyocd", ELF))


def test_failures_are_one_line_each():
    ocd = UploadRequest("openocd", ELF, "interface/stlink.cfg", "target/stm32l4x.cfg")
    line = _failure_line(ocd, 1, "Info : clock speed 500 kHz\nError: open failed\nin procedure 'program'\n", None)
    assert line.startswith("no debug probe found through OpenOCD interface interface/stlink.cfg")
    line = _failure_line(ocd, 1, "Info : x\nError: init mode failed (unable to connect to the target)\n", Path("u.log"))
    assert line == ("upload through OpenOCD interface interface/stlink.cfg, target target/stm32l4x.cfg failed: "
                    "Error: init mode failed (unable to connect to the target) (details: u.log)")
    py = UploadRequest("pyocd", ELF, pyocd_target="stm32l4r5zitx")
    assert "pyocd pack install stm32l4r5zitx" in _failure_line(py, 1, "Target type stm32l4r5zitx not recognized.", None)
    for line in (_failure_line(ocd, 1, "", None), _failure_line(py, 2, "No connected debug probes\n", None)):
        assert "\n" not in line


def test_missing_tool_and_missing_firmware_are_named(tmp_path, monkeypatch):
    with pytest.raises(DtmmError, match="no such firmware"):
        upload(UploadRequest("openocd", tmp_path / "none.elf", "interface/stlink.cfg", "target/stm32l4x.cfg"))
    elf = tmp_path / "firmware.elf"
    elf.write_bytes(b"\x7fELF")
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(DtmmError, match=r"openocd is not installed \(Debian/Ubuntu: apt-get install openocd\)"):
        upload(UploadRequest("openocd", elf, "interface/stlink.cfg", "target/stm32l4x.cfg"))
    monkeypatch.setattr(sys, "executable", str(tmp_path / "python"))
    with pytest.raises(DtmmError, match=r"pyocd is not installed in this Python \(pip install pyocd\)"):
        upload(UploadRequest("pyocd", elf, pyocd_target="stm32l4r5zitx"))
