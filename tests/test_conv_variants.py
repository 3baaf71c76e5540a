"""Per-model conv kernel variants: the packed model names only what its layers run, and links only that.

* host: the packer's variant per layer and path comes from the C selection rule (the conv probe);
  the generated model lists exactly the union of its layers' variants per path and calls
  dtmm_conv_s8_with(), never the generic dtmm_conv_s8();
* QEMU (qemu-m55: Helium MVE, qemu-m4: DSP): the packed model runs bit-exact with the tflite-micro
  interpreter, its firmware holds none of the unused variants' code and less kernel code than the
  same model calling the generic dtmm_conv_s8(); a table without the variant a layer needs makes
  the invoke fail with DTMM_ERR_UNSUPPORTED instead of running anything else.
"""
from __future__ import annotations

import dataclasses
import re
import shutil

import numpy as np
import pytest

from dtmm.errors import DtmmError
from dtmm.pack.lowering.conv_scratch import probe_available
from dtmm.pack.packer import pack_model
from support.op_cases import ModelBuilder, activation_code, padding_code

pytestmark = pytest.mark.skipif(not probe_available(), reason="no host C compiler for the conv probe")

_VARIANT_REF = re.compile(r"&dtmm_conv_(\w+)")


def conv_model(layers, hw=(8, 8), cin=16, seed=0) -> bytes:
    """A chain of CONV_2D layers, [(cout, kernel, stride, activation)], per-channel int8."""
    rng = np.random.default_rng(seed)
    b = ModelBuilder()
    h, w = hw
    x = first = b.tensor([1, h, w, cin], scale=0.05, zero_point=-3)
    sx = 0.05
    for cout, k, stride, act in layers:
        sw = rng.uniform(0.002, 0.01, size=cout).astype(np.float32)
        wt = b.tensor([cout, k, k, cin], scale=sw, zero_point=0, data=rng.integers(-127, 128, size=(cout, k, k, cin)))
        bias = b.tensor([cout], "INT32", scale=np.float32(sx) * sw, zero_point=0,
                        data=rng.integers(-2000, 2000, size=cout))  # fmt: skip
        h, w = (h + stride - 1) // stride, (w + stride - 1) // stride
        zy = -128 if act == "RELU" else 5
        y = b.tensor([1, h, w, cout], scale=0.1, zero_point=zy)
        b.op("CONV_2D", [x, wt, bias], [y], "Conv2DOptions", padding=padding_code("same"), strideH=stride,
             strideW=stride, dilationHFactor=1, dilationWFactor=1, fusedActivationFunction=activation_code(act))  # fmt: skip
        x, cin, sx = y, cout, 0.1
    return b.build([first], [x])


def _table(c_source: str, path_macro: str) -> list[str]:
    """Variant names in the model's table for one conv path."""
    lines = c_source.split("\n")
    for k, line in enumerate(lines):
        if path_macro in line and line.startswith(("#if", "#elif", "#else")):
            return _VARIANT_REF.findall(lines[k + 1])
    raise AssertionError(f"no variant table for {path_macro}")


def test_model_lists_exactly_its_layers_variants():
    # 16->16 3x3 (MVE group kernel, cin 16, pixel step 16), 16->24 stride 2 (cin 16, step 32), then
    # twice 24->24 (24 channels: the MVE generic kernel with one chunk and a tail, listed once)
    data = conv_model([(16, 3, 1, "NONE"), (24, 3, 2, "RELU"), (24, 3, 1, "NONE"), (24, 3, 1, "NONE")])
    packed = pack_model(data, "variants")
    c = packed.files["variants.c"].decode()
    mve = [lo.conv_variants["mve"] for lo in packed.lowered]
    assert mve[0] in ("mve_quad16_s16_full", "mve_pair16_s16")
    assert mve[1] in ("mve_quad16_s32_full", "mve_pair16_s32")
    assert mve[2:] == ["mve_gen_n1_t", "mve_gen_n1_t"]
    assert {lo.conv_variants["dsp"] for lo in packed.lowered} == {"dsp_band"}
    assert {lo.conv_variants["c"] for lo in packed.lowered} == {"portable"}
    assert _table(c, "DTMM_CONV_PATH_MVE") == [mve[0], mve[1], "mve_gen_n1_t"]
    assert _table(c, "DTMM_CONV_PATH_DSP") == ["dsp_band"]
    assert _table(c, "DTMM_CONV_PATH_C") == ["portable"]
    assert c.count("dtmm_conv_s8_with(") == 4 and "dtmm_conv_s8(" not in c
    assert packed.summary["conv_variants"] == {"c": ["portable"], "dsp": ["dsp_band"],
                                               "mve": [mve[0], mve[1], "mve_gen_n1_t"]}  # fmt: skip


def test_variants_follow_the_layer_shape():
    # cin 1: the DSP element-list routine; a 7x7 kernel (49 positions): MVE element list
    one = pack_model(conv_model([(8, 3, 1, "NONE")], cin=1), "one").lowered[0].conv_variants
    assert one["dsp"] == "dsp_elem"
    big = pack_model(conv_model([(8, 7, 1, "NONE")], hw=(10, 10), cin=4), "big").lowered[0].conv_variants
    assert big["mve"] == "mve_elem"


def _generic_call(packed):
    """The same packed model calling the generic dtmm_conv_s8() (every variant of the path linked)."""
    name = packed.name
    c = packed.files[f"{name}.c"].decode()
    c, n = re.subn(rf"dtmm_conv_s8_with\((.*?), {name.upper()}_CONV_VARIANTS\);", r"dtmm_conv_s8(\1);", c)
    assert n > 0
    c = c.replace(f"#define {name.upper()}_CONV_VARIANTS", f"#define {name.upper()}_UNUSED_VARIANTS")
    c = c.replace(f"static const dtmm_conv_variant *const {name}_conv_variants[]",
                  f"__attribute__((unused)) static const dtmm_conv_variant *const {name}_conv_variants[]")  # fmt: skip
    files = dict(packed.files, **{f"{name}.c": c.encode()})
    return dataclasses.replace(packed, files=files, name=name)


def _wrong_table(packed, board_variant: str):
    """The packed model with its table for the board's path naming another variant than its layers need."""
    name = packed.name
    c = packed.files[f"{name}.c"].decode()
    macro = "DTMM_CONV_PATH_MVE" if board_variant.startswith("mve") else "DTMM_CONV_PATH_DSP"
    lines = c.split("\n")
    for k, line in enumerate(lines):
        if macro in line and line.startswith(("#if", "#elif")):
            lines[k + 1] = re.sub(r"\{.*\}", "{&dtmm_conv_portable}", lines[k + 1])
            break
    files = dict(packed.files, **{f"{name}.c": "\n".join(lines).encode()})
    return dataclasses.replace(packed, files=files)


@pytest.mark.qemu
@pytest.mark.skipif(shutil.which("qemu-system-arm") is None, reason="qemu-system-arm not installed")
@pytest.mark.parametrize("board, path", [("qemu-m55", "mve"), ("qemu-m4", "dsp")])
def test_one_conv_model_links_only_its_variant(board, path):
    from dtmm.targets.codesize import kernel_sections
    from dtmm.targets.model_runner import run_model
    from dtmm.tflite.interpreter import tflm_outputs
    from dtmm.tflite.model import TfliteModel

    data = conv_model([(16, 3, 1, "RELU")])
    model = TfliteModel(data, "one_conv.tflite")
    packed = pack_model(model, "one_conv")
    variant = packed.lowered[0].conv_variants[path]
    xs = np.random.default_rng(1).integers(-128, 128, size=(2, 1, 8, 8, 16), dtype=np.int8)
    golden = tflm_outputs(data, xs)

    run = run_model(model, board, xs, name="one_conv", packed=packed)
    assert run.conv_path == path
    for got, want in zip(run.outputs, golden):
        assert np.array_equal(np.asarray(got).reshape(-1), np.asarray(want).reshape(-1))
    sections = kernel_sections(run.elf.with_suffix(".map"))
    names = {s.name for s in sections}
    assert f".rodata.dtmm_conv_{variant}" in names
    objects = [n for n in names if n.startswith(".rodata.dtmm_conv_") and not n.startswith(".rodata.dtmm_conv_s8")]
    linked = {n[len(".rodata.dtmm_conv_"):] for n in objects}
    assert linked == {variant}  # no other variant object, hence no other variant's code
    assert ".text.dtmm_conv_s8_c" not in names and ".text.elem_conv" not in names
    selected = sum(s.size for s in sections)

    generic = run_model(model, board, xs, name="one_conv_all", packed=_generic_call(packed))
    assert [np.asarray(o).tolist() for o in generic.outputs] == [np.asarray(o).tolist() for o in run.outputs]
    everything = sum(s.size for s in kernel_sections(generic.elf.with_suffix(".map")))
    assert selected < everything - 4000, (selected, everything)

    with pytest.raises(DtmmError, match="invoke failed: invoke 0 DTMM_ERR_UNSUPPORTED"):
        run_model(model, board, xs[:1], name="one_conv_wrong", packed=_wrong_table(packed, variant))
