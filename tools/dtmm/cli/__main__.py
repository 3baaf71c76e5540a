"""``python -m dtmm.cli``: the same as the `dtmm` command."""
from . import main

main()
