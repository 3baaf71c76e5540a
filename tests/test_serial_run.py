"""`dtmm run --port`: a real board's run read over a serial port, against a pseudo-terminal.

The pty's far end plays the board: a recorded session of the image
classification app (its measurement protocol, CRLF line ends as a UART
sends them), a board that never answers, one that sends garbage (what a
wrong baud rate looks like), and one that stops part-way.
"""
from __future__ import annotations

import json
import os
import threading
import time
import tty

import pytest
from click.testing import CliRunner

pytest.importorskip("serial")

from dtmm.cli import main  # noqa: E402
from dtmm.targets.qemu import FirmwareTimeout  # noqa: E402
from dtmm.targets.serial_port import SERIAL_UNIT, read_serial_run  # noqa: E402

SESSION = (
    b"\x00\xff"  # line noise at power-up, before the first line
    b"@dtmm counter cycles\r\n"
    b"@dtmm clock 120000000\r\n"
    b"dtmm hello from nucleo_l4r5zi\r\n"
    b"@dtmm model model on nucleo_l4r5zi: 2 images, arena 53680 bytes, weights 47728 bytes, conv path dsp\r\n"
    b"@dtmm image 0 label 3\r\n"
    b"@dtmm measure inference 11873020\r\n"
    b"@dtmm output 0 -128 -128 -120 90 -128 -128 -128 -128 -128 -128\r\n"
    b"@dtmm image 1 label 8\r\n"
    b"@dtmm measure inference 11873311\r\n"
    b"@dtmm output 1 -128 -100 -128 -128 -128 -128 -128 -128 80 -128\r\n"
    b"@dtmm accuracy 2 2\r\n"
    b"@dtmm done 2\r\n"
    b"@dtmm exit 0\r\n"
    b"after exit: not read\r\n"
)


@pytest.fixture
def board():
    """(port path, send(bytes, chunk, delay)): a pty whose far end the test writes as the board."""
    master, slave = os.openpty()
    tty.setraw(slave)  # like a UART: no line discipline (pyserial sets this too, but only once it opens)
    path = os.ttyname(slave)
    threads = []

    def send(data: bytes, chunk: int = 7, delay: float = 0.002):
        def play():
            for i in range(0, len(data), chunk):
                try:
                    os.write(master, data[i : i + chunk])
                except OSError:
                    return
                time.sleep(delay)

        t = threading.Thread(target=play, daemon=True)
        t.start()
        threads.append(t)

    yield path, send
    for t in threads:
        t.join(timeout=5)
    os.close(master)
    os.close(slave)


def test_recorded_session_is_read_like_a_qemu_run(board):
    path, send = board
    send(SESSION)
    seen = []
    result = read_serial_run(path, 115200, timeout=10, on_line=seen.append, board_name="nucleo_l4r5zi")
    assert result.exit_code == 0 and result.board == "nucleo_l4r5zi"
    assert result.measurements == {"inference": 11873020, "inference#2": 11873311}
    assert seen[-1] == "@dtmm exit 0\n" and "after exit" not in result.console
    assert all(not line.endswith("\r\n") for line in seen)


def test_cli_json_names_the_unit_and_exits_with_the_firmware_status(board):
    path, send = board
    send(SESSION.replace(b"@dtmm exit 0", b"@dtmm exit 3"))
    r = CliRunner().invoke(main, ["run", "--port", path, "--timeout", "10", "--json"])
    assert r.exit_code == 3, r.output
    doc = json.loads(r.stdout)
    assert doc["unit"] == SERIAL_UNIT and "cycles" in doc["unit"]
    assert doc["core_clock_hz"] == 120_000_000  # from the firmware's "@dtmm clock" line
    assert doc["measurements"]["inference"] == 11873020 and doc["board"] == f"serial:{path}"


def test_board_that_never_answers(board):
    path, _send = board
    t0 = time.monotonic()
    with pytest.raises(FirmwareTimeout, match=r"no data from .* at 115200 baud within 0.5 s: is the board flashed"):
        read_serial_run(path, 115200, timeout=0.5)
    assert time.monotonic() - t0 < 5
    r = CliRunner().invoke(main, ["run", "--port", path, "--timeout", "0.5"])
    assert r.exit_code == 124 and r.stderr.strip().count("\n") == 0 and "no data from" in r.stderr


def test_garbage_reads_as_a_wrong_baud_rate(board):
    path, send = board
    send(bytes(range(256)) * 4, chunk=64)
    with pytest.raises(FirmwareTimeout, match=r"at 9600 baud sent \d+ bytes but no '@dtmm' line within 1 s: wrong baud"):
        read_serial_run(path, 9600, timeout=1)


def test_run_that_stops_part_way_names_the_last_line(board):
    path, send = board
    send(SESSION.split(b"@dtmm image 1")[0])
    with pytest.raises(FirmwareTimeout, match=r"did not finish within 1 s \(last line: @dtmm output 0 "):
        read_serial_run(path, 115200, timeout=1)


def test_usage_errors():
    runner = CliRunner()
    r = runner.invoke(main, ["run", "fw.elf", "--port", "/dev/ttyACM0"])
    assert r.exit_code == 2 and "give no FIRMWARE" in r.output
    r = runner.invoke(main, ["run"])
    assert r.exit_code == 2 and "give FIRMWARE and --board (QEMU), or --port" in r.output
    r = runner.invoke(main, ["run", "--port", "/dev/does-not-exist-dtmm"])
    assert r.exit_code == 2 and "cannot open serial port /dev/does-not-exist-dtmm: No such file" in r.stderr
