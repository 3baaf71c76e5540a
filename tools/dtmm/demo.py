"""`make demo`: for now, build the hello app for every emulated board and run it.

This is the placeholder end-to-end demo of the foundation issue: it proves
the toolchain, PlatformIO build, QEMU boards and instruction counting work
on this machine.  The full prune -> pack -> run demo replaces it.
"""
from __future__ import annotations

import sys
from pathlib import Path

from .boards import emulated_boards
from .errors import DtmmError
from .platformio import build
from .qemu import run_firmware

REPO_ROOT = Path(__file__).resolve().parents[2]


def main() -> int:
    app = REPO_ROOT / "app" / "hello" / "src"
    rows = []
    try:
        for board in emulated_boards():
            print(f"== {board.name} ({board.cpu}, QEMU {board.qemu_machine})", flush=True)
            elf = build(app, board.name)
            result = run_firmware(elf, board.name, timeout=60, on_line=lambda l: print("   " + l, end=""))
            rows.append((board.name, result.exit_code, result.measurements.get("fnv1a_1000")))
    except DtmmError as exc:
        print(f"demo: error: {exc}", file=sys.stderr)
        return 2
    print("\nboard      exit  instructions(fnv1a_1000)")
    for name, code, count in rows:
        print(f"{name:<10} {code:>4}  {count}")
    return 0 if all(code == 0 for _, code, _ in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
