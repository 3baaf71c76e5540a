"""``python -m dtmm.demo``: what `make demo` runs."""
import sys

from .run import main

sys.exit(main(prog="python -m dtmm.demo"))
