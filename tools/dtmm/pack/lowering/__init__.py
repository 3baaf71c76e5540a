"""Per-operator lowering of int8 .tflite models to calls of the dtmm C kernels.

`dtmm pack` (tools/dtmm/pack) walks a model's operators and asks this
package, one operator at a time, for the C that runs it: constant data and
parameters (computed exactly as TensorFlow Lite Micro's Prepare computes
them) and one kernel call.  Every supported operator is bit-exact with the
tflite-micro reference interpreter (tests/test_ops_*.py).

Interface
---------

::

    @dataclass(frozen=True)
    class LoweredOp:
        op_index: int                 # index in the subgraph's operator list
        op_name: str                  # e.g. "CONV_2D"
        inputs: tuple[int, ...]       # activation tensor indices read (not constant tensors)
        outputs: tuple[int, ...]      # activation tensor indices written
        c_decls: str                  # file-scope C: const params structs and weight arrays
        c_call: str                   # statement/block template, sets `status`
        scratch_bytes: int            # scratch the op needs during its call (0 if none)
        flash_bytes: int              # bytes of const data in c_decls (weights + params)
        in_place_ok: bool = False     # out0 may alias in0
        alias_of_input: bool = False  # pure reshape: no call, out0 is in0's bytes
        c_init: str = ""              # optional one-time check at init (see below)
        scratch_expr: str | None = None  # C expression of the exact scratch need, informational
        conv_variants: Mapping[str, str] | None = None  # CONV_2D: kernel variant per conv path
        add_variants: Mapping[str, str] | None = None   # ADD: kernel variant per path
        conv_storage: str | None = None  # CONV_2D: "fwcs", "pattern" or "sparse"
        conv_plan: Mapping | None = None  # CONV_2D: the SIMD paths' plans of the layer (conv_plans)

    SUPPORTED_OPS: frozenset[str]
    def lower_op(model: TfliteModel, op: OpInfo, prefix: str) -> LoweredOp
    def unsupported_ops(model: TfliteModel) -> list[str]

Contract details
----------------

* ``inputs``/``outputs`` list activation tensors only, in placeholder order:
  ``{in0}`` is ``inputs[0]``, ``{out0}`` is ``outputs[0]``.  Constant inputs
  (weights, biases, a constant ADD/CONCATENATION operand, axis/shape/padding
  tensors) are folded into ``c_decls``.
* ``c_decls`` declares everything ``static const`` at file scope (meant for
  one generated .c file), arrays ``__attribute__((aligned(16)))``, every name
  starting with ``prefix`` (``prefix`` must be the start of a C identifier,
  unique per operator, e.g. ``"model_op03_"``).  It needs
  ``#include "dtmm_kernels.h"`` and ``#include "dtmm_ops.h"``.
* ``c_call`` is a template.  Substitute the tokens ``{inK}``, ``{outK}`` and
  ``{scratch}`` only (regular expression ``\\{(in\\d+|out\\d+|scratch)\\}``;
  ``LoweredOp.render_call`` does it) -- other braces are literal C, so do
  not use ``str.format``.  ``{inK}``/``{outK}`` must be pointer expressions
  of the tensor's C element type (``int8_t *`` for INT8, ``float *`` for
  FLOAT32 -- the QUANTIZE input and DEQUANTIZE output of float models),
  e.g. ``((int8_t *)&arena[1024])``; ``{scratch}`` a ``void *`` to
  ``scratch_bytes`` bytes, 16-byte aligned (``NULL`` when 0).  The template
  assigns a ``dtmm_status`` to a variable ``status`` that the caller
  declares.  It is empty for ``alias_of_input`` operators.
* Tensors must be 16-byte aligned in the arena (the conv kernel reads
  words; float tensors need 4).  Inputs and outputs of one call must not
  overlap, except out0 with in0 when ``in_place_ok``.
* ``c_init`` (CONV_2D only) runs once before the first inference, after
  replacing ``{scratch_bytes}`` with the planned scratch size; it sets
  ``status`` to ``DTMM_ERR_ARGUMENT`` if the compiled conv path needs more
  scratch than planned (``LoweredOp.render_init``).  It does not fail with
  this library's default build: ``scratch_bytes`` is
  :func:`conv_scratch_bytes`, the largest ``dtmm_conv_s8_get_buffer_size``
  of the portable, DSP and MVE paths for that blob, computed by Python
  transcriptions of the paths' layout code (:mod:`.conv_scratch`, checked
  against the C layout code by tests/test_ops_conv.py), so one static plan
  is valid on every board.
* ``conv_variants`` (CONV_2D only): the kernel variant each conv path runs
  for the layer (``{"c": "portable", "dsp": "dsp_band", "mve":
  "mve_quad16_s16_full"}``, names of ``dtmm_conv_variants.h``), reported by
  the same C probe.  ``c_call`` itself calls the generic ``dtmm_conv_s8``;
  the packer's generated model turns it into ``dtmm_conv_s8_with`` over the
  union of its layers' variants, so only those are linked.
* ``conv_plan`` (CONV_2D stored as FWCS): ``conv_scratch.conv_plans``, the
  SIMD paths' plans of the layer from the same probe (``dsp``: the band
  kernel's phases, row slots, column tiles, weight repacking; ``dsp_elem``:
  the DSP element-list kernel's pair and plane modes and record bytes;
  ``mve``: how the Helium path reads input rows, patch and item modes, row
  window geometry; ``mve_elem``: the Helium element-list record bytes),
  ``None`` for a path that runs another kernel; the cost model takes the
  kernels' decisions from them instead of copying the rules.
* ``add_variants`` (ADD only): the same for ``dtmm_add_s8`` (names of
  ``DTMM_ADD_VARIANTS`` in ``dtmm_ops.h``), from :func:`.ops.add_variants`,
  a transcription of the C rule (``dtmm_add_s8_variant()``, checked against
  it by tests/test_add_variants.py); the generated model calls
  ``dtmm_add_s8_with``.
* ``lower_op`` raises :class:`LoweringError` (a ``DtmmError``) naming the
  model, operator and reason when an operator of a supported type uses
  options the kernels do not implement (int16 tensors, non-constant
  weights, ...).  ``unsupported_ops`` lists the operator codes of the model
  that are not in ``SUPPORTED_OPS``, in order of first appearance, each
  once.

Operators
---------

CONV_2D (FWCS blob, ``fwcs.encode(encoding="auto")``: pruned filterlets are
skipped, layers stay DENSE when an index would not pay; ``dtmm_conv_s8``;
with ``conv_storage`` the pruning baselines' unstructured-sparse
``dtmm_sparse_conv_s8`` or pattern ``dtmm_pattern_conv_s8`` storage where it
is smaller, see ``baseline_conv``),
DEPTHWISE_CONV_2D (any depth multiplier, per-channel), FULLY_CONNECTED
(per-tensor or per-channel int8 weights, int32 bias, keep_num_dims either
way), ADD (TFLite rescaling with left shift 20, numpy broadcasting up to 6-D),
AVERAGE_POOL_2D, MAX_POOL_2D, MEAN (int8, any axes, keep_dims either way),
RESHAPE (alias), SOFTMAX (int8 -> int8, any beta), CONCATENATION (any axis;
inputs whose quantization differs from the output are requantized as by
TFLite's QUANTIZE -- TFLite Micro itself refuses such models), PAD and
PADV2 (int8), QUANTIZE (float32 -> int8 and int8 -> int8), DEQUANTIZE
(int8 -> float32), SUB (ADD's rescaling and broadcasting, input 2
subtracted), MUL (int8, broadcasting), and RELU, RELU6, LEAKY_RELU, LOGISTIC,
TANH, HARD_SWISH as 256-entry tables (``lookup_tables``: TFLite Micro's integer
rule evaluated for every int8 input).  Fused activations NONE, RELU, RELU6,
RELU_N1_TO_1.

Shape operators (int8, input and output quantized alike; bytes are copied
unchanged): SQUEEZE and EXPAND_DIMS (aliases, like RESHAPE), TRANSPOSE (rank
1 to 5, constant perm) and STRIDED_SLICE (rank 1 to 4, constant begin, end
and strides, begin/end/shrink-axis masks, negative strides; not the
ellipsis and new-axis masks or ``offset``, which TFLite Micro ignores), both
one strided gather ``dtmm_strided_copy_s8``; RESIZE_NEAREST_NEIGHBOR (NHWC,
constant size, align_corners and half_pixel_centers) with source row and
column tables computed on the host, ``dtmm_resize_nearest_s8``.
"""
from __future__ import annotations

from ...tflite.model import OpInfo, TfliteModel
from .baseline_conv import CONV_STORAGES, STORAGE_OF_METHOD
from .cgen import check_prefix
from .conv_scratch import conv_scratch_bytes
from .ops import LOWERINGS
from .quant import LoweringError
from .types import LoweredOp

SUPPORTED_OPS: frozenset[str] = frozenset(LOWERINGS)

__all__ = [
    "CONV_STORAGES",
    "LoweredOp",
    "LoweringError",
    "STORAGE_OF_METHOD",
    "SUPPORTED_OPS",
    "StorageLowering",
    "conv_scratch_bytes",
    "lower_model",
    "lower_op",
    "unsupported_ops",
]


def lower_op(model: TfliteModel, op: OpInfo, prefix: str, conv_storage: str = "fwcs") -> LoweredOp:
    """C declarations and call of one operator; raises LoweringError for anything unsupported.

    `conv_storage` (one of CONV_STORAGES) offers the pruning baselines' conv storage too (baseline_conv)."""
    fn = LOWERINGS.get(op.opcode)
    if fn is None:
        raise LoweringError(f"{model.source}: operator #{op.index} {op.opcode} is not supported")
    check_prefix(prefix)
    if op.opcode == "CONV_2D":
        if conv_storage not in CONV_STORAGES:
            raise LoweringError(f"conv storage {conv_storage!r}: choose {', '.join(CONV_STORAGES)}")
        return fn(model, op, prefix, conv_storage)
    return fn(model, op, prefix)


class StorageLowering:
    """This lowering with a conv storage other than the default, as `dtmm pack --conv-storage` uses it."""

    def __init__(self, conv_storage: str):
        if conv_storage not in CONV_STORAGES:
            raise LoweringError(f"conv storage {conv_storage!r}: choose {', '.join(CONV_STORAGES)}")
        self.conv_storage = conv_storage

    def lower_op(self, model: TfliteModel, op: OpInfo, prefix: str) -> LoweredOp:
        return lower_op(model, op, prefix, self.conv_storage)

    @staticmethod
    def unsupported_ops(model: TfliteModel) -> list[str]:
        return unsupported_ops(model)


def unsupported_ops(model: TfliteModel) -> list[str]:
    """Operator codes of the model that have no kernel, in first-appearance order, each once."""
    return list(dict.fromkeys(op.opcode for op in model.operators if op.opcode not in SUPPORTED_OPS))


def lower_model(model: TfliteModel, prefix: str = "m_", conv_storage: str = "fwcs") -> list[LoweredOp]:
    """Every operator of the model, in order, with prefixes ``{prefix}op{k}_`` (tests and tools)."""
    missing = unsupported_ops(model)
    if missing:
        raise LoweringError(f"{model.source}: unsupported operators: {', '.join(missing)}")
    return [lower_op(model, op, f"{prefix}op{op.index}_", conv_storage) for op in model.operators]
