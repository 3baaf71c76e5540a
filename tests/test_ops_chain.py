"""All supported operators in one chain: bit-exact on the host, and warning-free for the Cortex-M targets.

A float-in/float-out model built with ModelBuilder strings every supported
operator together (QUANTIZE, PAD, CONV_2D, DEPTHWISE_CONV_2D, MAX_POOL_2D,
AVERAGE_POOL_2D, CONCATENATION, broadcasting ADD with a constant, broadcasting
MUL, SUB, LEAKY_RELU, RELU, RELU6, HARD_SWISH, TANH, LOGISTIC, MEAN,
RESHAPE, FULLY_CONNECTED, SOFTMAX, int8 QUANTIZE, DEQUANTIZE; after the first
QUANTIZE a detour through RESIZE_NEAREST_NEIGHBOR, STRIDED_SLICE, TRANSPOSE,
SQUEEZE and EXPAND_DIMS).  Its lowered C
(and ResNet-8's) must compile with -Wall -Wextra -Werror for cortex-m3,
cortex-m4 (FPU) and cortex-m55 (MVE), like the kernels themselves.
"""
from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from dtmm.pack.lowering import SUPPORTED_OPS, lower_model
from dtmm.tflite.model import TfliteModel
from support.hostbuild import KERNELS_DIR
from support.op_cases import Case, ModelBuilder, activation_code, check_cases, padding_code, random_inputs

pytest.importorskip("tflite_micro.python.tflite_micro.runtime")

CPUS = {
    "cortex-m3": ["-mcpu=cortex-m3"],
    "cortex-m4": ["-mcpu=cortex-m4", "-mfpu=fpv4-sp-d16", "-mfloat-abi=hard"],
    "cortex-m55": ["-mcpu=cortex-m55", "-mfloat-abi=hard"],
}


OP_FUNCTIONS = (
    "fully_connected_s8", "depthwise_conv_s8", "avg_pool_s8", "max_pool_s8", "add_s8", "mean_s8",
    "softmax_s8", "concatenation_s8", "pad_s8", "quantize_f32_s8", "quantize_s8_s8", "dequantize_s8_f32",
    "sub_s8", "mul_s8", "lookup_s8",
    "strided_copy_s8", "resize_nearest_s8",
)  # fmt: skip


def _listed_sources() -> list[str]:
    lines = (KERNELS_DIR / "sources.txt").read_text().splitlines()
    return [s.strip() for s in lines if s.strip() and not s.startswith("#")]


def _elementwise_tail(b: ModelBuilder, rng, x: int, shape: list) -> int:
    """MUL by a broadcast constant, SUB, then every table-driven activation; returns the last tensor."""
    k = b.tensor([1, 1, 1, shape[-1]], scale=0.02, zero_point=-3, data=rng.integers(-127, 128, size=(1, 1, 1, shape[-1])))
    mul = b.tensor(shape, scale=0.05, zero_point=4)
    b.op("MUL", [x, k], [mul], "MulOptions", fusedActivationFunction=activation_code("NONE"))
    sub = b.tensor(shape, scale=0.09, zero_point=-2)
    b.op("SUB", [x, mul], [sub], "SubOptions", fusedActivationFunction=activation_code("NONE"))
    steps = [
        ("LEAKY_RELU", (0.06, -20), "LeakyReluOptions", {"alpha": 0.2}),
        ("RELU", (0.05, -128), None, {}),
        ("RELU6", (0.05, -128), None, {}),
        ("HARD_SWISH", (0.04, -100), "HardSwishOptions", {}),
        ("TANH", (1.0 / 128, 0), None, {}),
        ("LOGISTIC", (1.0 / 256, -128), None, {}),
    ]
    t = sub
    for opcode, (scale, zp), options, fields in steps:
        y = b.tensor(shape, scale=scale, zero_point=zp)
        b.op(opcode, [t], [y], options, **fields)
        t = y
    return t


def _shape_detour(b: ModelBuilder, x: int) -> int:
    """[1, 8, 8, 3] -> resize to 16x16 -> every second pixel -> swap H and W -> squeeze and expand the batch
    dim -> [1, 8, 8, 3] again (same quantization throughout); returns the last tensor."""
    def i32(values):
        return b.tensor([len(values)], "INT32", data=np.asarray(values, np.int32))

    def t(shape):
        return b.tensor(shape, scale=0.03, zero_point=-4)

    big, sl, tr, sq, ex = t([1, 16, 16, 3]), t([1, 8, 8, 3]), t([1, 8, 8, 3]), t([8, 8, 3]), t([1, 8, 8, 3])
    b.op("RESIZE_NEAREST_NEIGHBOR", [x, i32([16, 16])], [big], "ResizeNearestNeighborOptions", halfPixelCenters=True)
    b.op("STRIDED_SLICE", [big, i32([0, 1, 0, 0]), i32([1, 16, 16, 3]), i32([1, 2, 2, 1])], [sl],
         "StridedSliceOptions")  # fmt: skip
    b.op("TRANSPOSE", [sl, i32([0, 2, 1, 3])], [tr])
    b.op("SQUEEZE", [tr], [sq], "SqueezeOptions", squeezeDims=[0])
    b.op("EXPAND_DIMS", [sq, i32([0])], [ex])
    return ex


def all_ops_model(seed: int = 0) -> bytes:
    rng = np.random.default_rng(seed)
    b = ModelBuilder()
    i8 = lambda shape: rng.integers(-127, 128, size=shape)  # noqa: E731
    x = b.tensor([1, 8, 8, 3], "FLOAT32", name="input")
    q = b.tensor([1, 8, 8, 3], scale=0.03, zero_point=-4)
    b.op("QUANTIZE", [x], [q])
    pads = b.tensor([4, 2], "INT32", data=np.array([[0, 0], [1, 1], [1, 1], [0, 0]], np.int32))
    p = b.tensor([1, 10, 10, 3], scale=0.03, zero_point=-4)
    b.op("PAD", [_shape_detour(b, q), pads], [p], "PadOptions")
    cw_s = rng.uniform(0.002, 0.01, size=8).astype(np.float32)
    w = i8((8, 3, 3, 3)) * (rng.random((8, 3, 3)) < 0.5)[..., None]
    cw = b.tensor([8, 3, 3, 3], scale=cw_s, zero_point=0, data=w)
    cb = b.tensor([8], "INT32", scale=np.float32(0.03) * cw_s, data=rng.integers(-2000, 2000, 8))
    c = b.tensor([1, 8, 8, 8], scale=0.05, zero_point=-128)
    b.op("CONV_2D", [p, cw, cb], [c], "Conv2DOptions", padding=padding_code("valid"), strideH=1, strideW=1,
         dilationHFactor=1, dilationWFactor=1, fusedActivationFunction=activation_code("RELU"))  # fmt: skip
    dw_s = rng.uniform(0.005, 0.02, size=8).astype(np.float32)
    dw = b.tensor([1, 3, 3, 8], scale=dw_s, zero_point=0, quantized_dimension=3, data=i8((1, 3, 3, 8)))
    db = b.tensor([8], "INT32", scale=np.float32(0.05) * dw_s, data=rng.integers(-2000, 2000, 8))
    d = b.tensor([1, 8, 8, 8], scale=0.05, zero_point=-128)
    b.op("DEPTHWISE_CONV_2D", [c, dw, db], [d], "DepthwiseConv2DOptions", padding=padding_code("same"),
         strideH=1, strideW=1, depthMultiplier=1, dilationHFactor=1, dilationWFactor=1,
         fusedActivationFunction=activation_code("RELU6"))  # fmt: skip
    mp = b.tensor([1, 4, 4, 8], scale=0.05, zero_point=-128)
    b.op("MAX_POOL_2D", [d], [mp], "Pool2DOptions", padding=padding_code("valid"), strideH=2, strideW=2,
         filterHeight=2, filterWidth=2, fusedActivationFunction=0)  # fmt: skip
    ap = b.tensor([1, 4, 4, 8], scale=0.05, zero_point=-128)
    b.op("AVERAGE_POOL_2D", [c], [ap], "Pool2DOptions", padding=padding_code("same"), strideH=2, strideW=2,
         filterHeight=3, filterWidth=3, fusedActivationFunction=0)  # fmt: skip
    cat = b.tensor([1, 4, 4, 16], scale=0.05, zero_point=-128)
    b.op("CONCATENATION", [mp, ap], [cat], "ConcatenationOptions", axis=3, fusedActivationFunction=0)
    k = b.tensor([1, 1, 1, 16], scale=0.02, zero_point=3, data=i8((1, 1, 1, 16)))
    add = b.tensor([1, 4, 4, 16], scale=0.07, zero_point=-20)
    b.op("ADD", [cat, k], [add], "AddOptions", fusedActivationFunction=activation_code("NONE"))
    act = _elementwise_tail(b, rng, add, [1, 4, 4, 16])
    axes = b.tensor([2], "INT32", data=np.array([1, 2], np.int32))
    mean = b.tensor([1, 1, 1, 16], scale=0.04, zero_point=-10)
    b.op("MEAN", [act, axes], [mean], "ReducerOptions", keepDims=True)
    shape = b.tensor([2], "INT32", data=np.array([1, 16], np.int32))
    flat = b.tensor([1, 16], scale=0.04, zero_point=-10)
    b.op("RESHAPE", [mean, shape], [flat], "ReshapeOptions", newShape=[1, 16])
    fw = b.tensor([10, 16], scale=0.01, zero_point=0, data=i8((10, 16)))
    fb = b.tensor([10], "INT32", scale=np.float32(0.04) * np.float32(0.01), data=rng.integers(-500, 500, 10))
    fc = b.tensor([1, 10], scale=0.06, zero_point=5)
    b.op("FULLY_CONNECTED", [flat, fw, fb], [fc], "FullyConnectedOptions", fusedActivationFunction=0)
    sm = b.tensor([1, 10], scale=1.0 / 256, zero_point=-128)
    b.op("SOFTMAX", [fc], [sm], "SoftmaxOptions", beta=1.0)
    rq = b.tensor([1, 10], scale=0.01, zero_point=-100)
    b.op("QUANTIZE", [sm], [rq])
    y = b.tensor([1, 10], "FLOAT32", name="output")
    b.op("DEQUANTIZE", [rq], [y])
    return b.build([x], [y])


def test_all_ops_chain_bit_exact(tmp_path):
    data = all_ops_model()
    model = TfliteModel(data, "all_ops")
    # PADV2 has its own tests; DTMM_CONV_2D (dtmm convert's custom op) cannot run in tflite-micro:
    # tests/test_tflm_convert.py checks it against the model before conversion
    assert {op.opcode for op in model.operators} == SUPPORTED_OPS - {"PADV2", "CUSTOM:DTMM_CONV_2D"}
    samples = random_inputs(model, np.random.default_rng(1), 4)
    check_cases([Case("all_ops", data, samples)], tmp_path)


def _generated_c(models: dict) -> str:
    """One translation unit: every lowered operator's declarations and calls into a static arena."""
    parts = ['#include <stddef.h>', '#include <stdint.h>', '#include "dtmm_kernels.h"', '#include "dtmm_ops.h"', ""]
    for name, model in models.items():
        lowered = lower_model(model, prefix=f"{name}_")
        parts += [lo.c_decls for lo in lowered]
        sizes = {}
        for t in {t for lo in lowered for t in lo.inputs + lo.outputs}:
            ten = model.tensors[t]
            sizes[t] = ten.size * (4 if ten.dtype == "FLOAT32" else 1)
        offsets, off = {}, 0
        for t in sorted(sizes):
            offsets[t] = off
            off += (sizes[t] + 15) // 16 * 16
        scratch = max([lo.scratch_bytes for lo in lowered] + [16])
        parts.append(f"static uint8_t {name}_arena[{off + scratch}] __attribute__((aligned(16)));")
        parts.append(f"dtmm_status {name}_run(void);")
        parts.append(f"dtmm_status {name}_run(void)\n{{\n    dtmm_status status = DTMM_OK;")
        for lo in lowered:
            if lo.c_init:
                parts.append("    " + lo.render_init(scratch).replace("\n", "\n    "))
            ctype = lambda t: "float" if model.tensors[t].dtype == "FLOAT32" else "int8_t"  # noqa: E731
            values = {f"in{k}": f"(({ctype(t)} *)&{name}_arena[{offsets[t]}])" for k, t in enumerate(lo.inputs)}
            values.update({f"out{k}": f"(({ctype(t)} *)&{name}_arena[{offsets[t]}])" for k, t in enumerate(lo.outputs)})
            values["scratch"] = f"((void *)&{name}_arena[{off}])"
            if lo.c_call:
                parts.append("    if (status == DTMM_OK) {\n        " + lo.render_call(values).replace("\n", "\n        ") + "\n    }")
        parts.append("    return status;\n}\n")
    return "\n".join(parts)


@pytest.fixture(scope="module")
def generated(request, tmp_path_factory):
    models = {"all_ops": TfliteModel(all_ops_model(), "all_ops")}
    shared = request.config.getoption("--shared")
    from pathlib import Path

    resnet = Path(shared) / "models" / "mlperf-tiny-ic" / "pretrainedResnet_quant.tflite"
    if resnet.is_file():
        models["resnet8"] = TfliteModel.load(resnet)
    src = tmp_path_factory.mktemp("gen") / "generated.c"
    src.write_text(_generated_c(models))
    return src


def _cc(compiler: str, flags: list, src, out) -> None:
    cmd = [compiler, "-std=c99", "-O2", "-Wall", "-Wextra", "-Werror", *flags, "-I", str(KERNELS_DIR / "include"),
           "-c", str(src), "-o", str(out)]  # fmt: skip
    proc = subprocess.run(cmd, capture_output=True, text=True)
    assert proc.returncode == 0, f"{' '.join(cmd)}\n{proc.stderr[-3000:]}"


def test_generated_code_compiles_for_host(generated, tmp_path):
    _cc("cc", ["-Wshadow", "-Wstrict-prototypes"], generated, tmp_path / "gen.o")


@pytest.mark.parametrize("cpu", sorted(CPUS))
def test_generated_code_and_kernels_compile_for_cortex_m(generated, cpu, tmp_path):
    if shutil.which("arm-none-eabi-gcc") is None:
        pytest.skip("arm-none-eabi-gcc not installed (make bootstrap)")
    flags = ["-mthumb", *CPUS[cpu]]
    _cc("arm-none-eabi-gcc", flags, generated, tmp_path / "gen.o")
    by_function = {Path(s).stem: s for s in _listed_sources()}
    assert {f"dtmm_{name}" for name in OP_FUNCTIONS} <= set(by_function)
    for s in (by_function[f"dtmm_{name}"] for name in OP_FUNCTIONS):
        _cc("arm-none-eabi-gcc", flags, KERNELS_DIR / s, tmp_path / (s.split("/")[-1] + ".o"))


def test_tflm_min_arena_survives_interpreter_crashes():
    """tflite-micro segfaults on some arena sizes just below this model's need (a negative tail size);
    the bisection tries each size in a child process, so it finishes and finds the boundary."""
    from dtmm.tflite.interpreter import _runs, _runtime, tflm_min_arena

    data = all_ops_model()
    need = tflm_min_arena(data)
    x = np.zeros((1, 8, 8, 3), np.float32)
    assert _runs(_runtime(), data, x, need) and not _runs(_runtime(), data, x, need - 1)
    assert not _runs(_runtime(), data, x, 4200)  # a size that crashes the interpreter in-process
