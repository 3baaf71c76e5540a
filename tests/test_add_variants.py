"""Per-model ADD kernel variants: the packed model names only the ADD row kernels its layers run.

* host: the packer's rule (dtmm.pack.lowering.ops.add_variants) is the C rule
  (dtmm_add_s8_variant()) on random parameters, valid and odd; the generated model lists exactly the
  union of its ADDs' variants per path and calls dtmm_add_s8_with(), never dtmm_add_s8();
* qemu-m55 (Helium: one row kernel per variant) and qemu-m4 (DSP: one variant): the packed model
  runs bit-exact with the tflite-micro interpreter, links no other variant object, and a table
  without the variant an ADD needs makes the invoke fail with DTMM_ERR_UNSUPPORTED.
"""
from __future__ import annotations

import dataclasses
import re
import shutil
import subprocess

import numpy as np
import pytest
from dtmm.errors import DtmmError
from dtmm.pack.lowering.ops import add_variants
from dtmm.pack.packer import pack_model
from dtmm.paths import KERNELS_DIR
from support.add_cases import add_chain

_MVE_NAMES = ["mve_vv_zz", "mve_vv_zn", "mve_vv_nz", "mve_vv_nn", "mve_vb_z", "mve_vb_n", "mve_bv_z", "mve_bv_n",
              "mve_any", "mve_scalar", "dsp", "portable"]  # fmt: skip  (DTMM_ADD_VARIANTS ids, in order)
_ADD_REF = re.compile(r"&dtmm_add_(\w+)")


def _random_params(rng, n: int) -> list[dict]:
    out = []
    for _ in range(n):
        nd = int(rng.integers(0, 7))
        st = [int(v) for v in rng.choice([0, 1, 1, 1, 2, 7], size=6)]
        st2 = [int(v) for v in rng.choice([0, 1, 1, 1, 3], size=6)]
        out.append({
            "input1_multiplier": int(rng.choice([-5, 1 << 30, 1518500250])),
            "input2_multiplier": int(rng.choice([-1, 1 << 30, 1073741824])),
            "output_multiplier": int(rng.choice([-7, 1 << 30, 2147483647])),
            "input1_shift": int(rng.choice([0, 0, -1, -9])), "input2_shift": int(rng.choice([0, 0, -2, -31])),
            "output_shift": int(rng.choice([0, -1, -20])), "ndims": nd, "stride1": st, "stride2": st2,
        })  # fmt: skip
    return out


@pytest.mark.skipif(shutil.which("cc") is None, reason="no host C compiler")
def test_packer_rule_is_the_c_rule(tmp_path):
    cases = _random_params(np.random.default_rng(7), 400)
    rows = []
    for p in cases:
        vals = ", ".join(str(v) for v in (p["ndims"], p["input1_multiplier"], p["input2_multiplier"],
                                          p["output_multiplier"], p["input1_shift"], p["input2_shift"],
                                          p["output_shift"], *p["stride1"], *p["stride2"]))  # fmt: skip
        rows.append(f"{{{vals}}}")
    driver = tmp_path / "rule.c"
    driver.write_text(
        '#include <stdio.h>\n#include "dtmm_ops.h"\n'
        f"static const int32_t cases[][19] = {{{', '.join(rows)}}};\n"
        "int main(void) {\n"
        "    for (unsigned k = 0; k < sizeof cases / sizeof cases[0]; k++) {\n"
        "        const int32_t *c = cases[k];\n"
        "        dtmm_add_s8_params p = {0};\n"
        "        p.ndims = c[0]; p.input1_multiplier = c[1]; p.input2_multiplier = c[2];\n"
        "        p.output_multiplier = c[3]; p.input1_shift = c[4]; p.input2_shift = c[5]; p.output_shift = c[6];\n"
        "        for (int d = 0; d < 6; d++) { p.stride1[d] = c[7 + d]; p.stride2[d] = c[13 + d]; }\n"
        "        printf(\"%d %d %d\\n\", (int)dtmm_add_s8_variant(&p, 2), (int)dtmm_add_s8_variant(&p, 1),\n"
        "               (int)dtmm_add_s8_variant(&p, 0));\n"
        "    }\n"
        "    { dtmm_add_s8_params q = {0}; q.ndims = 7;\n"
        "        printf(\"%d %d\\n\", (int)dtmm_add_s8_variant(&q, 2), (int)dtmm_add_s8_variant(&q, 3)); }\n"
        "    return 0;\n}\n"
    )
    exe = tmp_path / "rule"
    src = KERNELS_DIR / "src" / "elementwise" / "dtmm_add_s8_variant.c"
    subprocess.run(["cc", "-std=c99", "-Wall", "-Werror", "-I", str(KERNELS_DIR / "include"),
                    str(driver), str(src), "-o", str(exe)], check=True)  # fmt: skip
    lines = subprocess.run([str(exe)], check=True, capture_output=True, text=True).stdout.split("\n")
    seen = set()
    for p, line in zip(cases, lines):
        mve, dsp, c = (_MVE_NAMES[int(v)] for v in line.split())
        assert add_variants(p) == {"mve": mve, "dsp": dsp, "c": c}, p
        seen.add(mve)
    assert seen == set(_MVE_NAMES[:10])  # the random cases reach every Helium variant
    assert all(int(v) < 0 for v in lines[len(cases)].split())  # ndims 7, path 3: errors


def _table(c_source: str, path_macro: str) -> list[str]:
    lines = c_source.split("\n")
    for k, line in enumerate(lines):
        if path_macro in line and line.startswith(("#if", "#elif", "#else")) and "add_variants" in lines[k + 1]:
            return _ADD_REF.findall(lines[k + 1])
    raise AssertionError(f"no ADD variant table for {path_macro}")


def test_model_lists_exactly_its_adds_variants():
    packed = pack_model(add_chain(10, [1, 3, 5, 7]), "adds")
    c = packed.files["adds.c"].decode()
    mve = [lo.add_variants["mve"] for lo in packed.lowered if lo.op_name == "ADD"]
    assert len(mve) == 11 and len(set(mve)) >= 4  # broadcasts both ways, equal scales, output shift 0
    assert "mve_any" in mve and any(v.startswith("mve_vb") for v in mve) and any(v.startswith("mve_bv") for v in mve)
    assert _table(c, "DTMM_CONV_PATH_MVE") == list(dict.fromkeys(mve))
    assert _table(c, "DTMM_CONV_PATH_DSP") == ["dsp"]
    assert _table(c, "DTMM_CONV_PATH_C") == ["portable"]
    assert c.count("dtmm_add_s8_with(") == 11 and "dtmm_add_s8(" not in c
    assert packed.summary["add_variants"]["mve"] == list(dict.fromkeys(mve))


def _wrong_table(packed, path_macro: str):
    name = packed.name
    c = packed.files[f"{name}.c"].decode()
    lines = c.split("\n")
    for k, line in enumerate(lines):
        if path_macro in line and line.startswith(("#if", "#elif")) and "add_variants" in lines[k + 1]:
            lines[k + 1] = re.sub(r"\{.*\}", "{&dtmm_add_portable}", lines[k + 1])
            break
    files = dict(packed.files, **{f"{name}.c": "\n".join(lines).encode()})
    return dataclasses.replace(packed, files=files)


@pytest.mark.qemu
@pytest.mark.skipif(shutil.which("qemu-system-arm") is None, reason="qemu-system-arm not installed")
@pytest.mark.parametrize("board, macro", [("qemu-m55", "DTMM_CONV_PATH_MVE"), ("qemu-m4", "DTMM_CONV_PATH_DSP")])
def test_add_model_links_only_its_variants(board, macro):
    from dtmm.targets.codesize import kernel_sections
    from dtmm.targets.model_runner import run_model
    from dtmm.tflite.interpreter import tflm_outputs
    from dtmm.tflite.model import TfliteModel
    from support.op_cases import ModelBuilder

    # two same-shape activations with equal scales: the ResNet residual ADD (one variant)
    b = ModelBuilder()
    x = b.tensor([1, 6, 6, 8], scale=0.05, zero_point=-3)
    y = b.tensor([1, 6, 6, 8], scale=0.05, zero_point=-3)
    b.op("ADD", [x, x], [y], "AddOptions", fusedActivationFunction=1)
    data = b.build([x], [y])
    model = TfliteModel(data, "one_add.tflite")
    packed = pack_model(model, "one_add")
    path = "mve" if "MVE" in macro else "dsp"
    variant = packed.lowered[0].add_variants[path]
    assert variant == ("mve_vv_zz" if path == "mve" else "dsp")
    xs = np.random.default_rng(3).integers(-128, 128, size=(2, 1, 6, 6, 8), dtype=np.int8)
    golden = tflm_outputs(data, xs)

    run = run_model(model, board, xs, name="one_add", packed=packed)
    for got, want in zip(run.outputs, golden):
        assert np.array_equal(np.asarray(got).reshape(-1), np.asarray(want).reshape(-1))
    names = {s.name for s in kernel_sections(run.elf.with_suffix(".map"))}
    linked = {n[len(".rodata.dtmm_add_"):] for n in names if n.startswith(".rodata.dtmm_add_")}
    assert linked == {variant}
    assert ".text.dtmm_add_s8_c" not in names

    with pytest.raises(DtmmError, match="invoke failed: invoke 0 DTMM_ERR_UNSUPPORTED"):
        run_model(model, board, xs[:1], name="one_add_wrong", packed=_wrong_table(packed, macro))
