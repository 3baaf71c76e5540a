"""``python -m dtmm``: the same as the `dtmm` command."""
from .cli import main

main()
