#!/usr/bin/env python3
"""Thin wrapper: `python tools/pack.py MODEL.tflite --out DIR [--name NAME]` is `dtmm pack`."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from dtmm.cli.pack import pack  # noqa: E402
from dtmm.errors import DtmmError  # noqa: E402

if __name__ == "__main__":
    try:
        pack.main(sys.argv[1:], prog_name="tools/pack.py")
    except DtmmError as exc:
        print(f"dtmm: error: {exc}", file=sys.stderr)
        sys.exit(2)
