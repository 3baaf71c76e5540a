"""The model compiler: an int8 .tflite model to self-contained C with a static memory plan.

* :mod:`.lowering` - every supported operator as C declarations and a kernel call;
* :mod:`.packer` - `dtmm pack`: lower every operator, plan the arena, emit NAME.c / NAME.h / NAME.json;
* :mod:`.planner` - offsets for buffers with lifetimes (greedy strategies, best of several);
* :mod:`.graph` - tensor lifetimes, reshape aliases, in-place merges, scratch buffers;
* :mod:`.emit` - the C text.

Running a packed model on a board is :mod:`dtmm.targets.model_runner`.

docs/runtime.md describes the generated API and the plan.
"""
from .packer import PackedModel, PackError, check_name, default_name, pack_model, write_package
from .planner import ArenaPlan, Buffer, check_plan, lower_bound, plan_arena

__all__ = [
    "ArenaPlan",
    "Buffer",
    "PackError",
    "PackedModel",
    "check_name",
    "check_plan",
    "default_name",
    "lower_bound",
    "pack_model",
    "plan_arena",
    "write_package",
]
