#!/usr/bin/env python3
"""Budget-driven DTMM pruner: `python tools/prune.py MODEL --data PATH --flash 64KB --out DIR`.

The same as `dtmm prune ...` (see docs/pruning.md); this script only forwards
its arguments to the dtmm command line, so errors print as one line and exit 2.
"""
import sys
from pathlib import Path

if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent))  # the dtmm package lives next to this file
    from dtmm.cli import main

    main(["prune", *sys.argv[1:]], prog_name="tools/prune.py")
