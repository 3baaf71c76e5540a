#!/usr/bin/env python3
"""Budget-driven DTMM pruner: `python tools/prune.py MODEL --data PATH --flash 64KB --out DIR`.

The same as `dtmm prune ...` (see docs/pruning.md); this script runs that
command under its own name, so its usage line is what to type and errors print
as one line with exit status 2.
"""
import sys
from pathlib import Path

if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent))  # the dtmm package lives next to this file
    from dtmm.cli.prune import prune
    from dtmm.errors import DtmmError

    try:
        prune.main(sys.argv[1:], prog_name="tools/prune.py")
    except DtmmError as exc:
        print(f"dtmm: error: {exc}", file=sys.stderr)
        sys.exit(2)
