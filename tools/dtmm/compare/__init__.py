"""`dtmm compare`: DTMM against the pruning baselines on one model, measured (docs/baselines.md).

* :mod:`.cells` -- prune with every method at every budget (finished cells are reused), then measure each
  int8 model on each board under QEMU (retired instructions, arena, packed flash);
* :mod:`.summary` -- the Pareto table and the paper's summary figures (size at equal accuracy, instructions
  and accuracy at equal size), compare.md.
"""
from .cells import CompareOptions, run_compare

__all__ = ["CompareOptions", "run_compare"]
