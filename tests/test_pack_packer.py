"""`dtmm pack` with the checksum lowering (support.tiny_tflite): plan, emitted C, determinism, errors.

The checksum lowering turns every operator into C that mixes all bytes it
reads (inputs, its constants, its scratch) into its outputs, so a generated
model computing the same bytes as the numpy reference proves the memory plan
kept every live byte intact.  These tests need no kernels and no QEMU; the
host C compiler runs the generated code under AddressSanitizer.
"""
from __future__ import annotations

import json
import random
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from dtmm.cli import main
from dtmm.errors import DtmmError
from dtmm.pack import PackError, check_plan, pack_model, write_package
from dtmm.tflite.model import TfliteModel
from support.tiny_tflite import T, checksum_lowering, checksum_reference, make_model, residual_model

REPO = Path(__file__).resolve().parents[1]
KERNEL_INCLUDE = REPO / "lib" / "dtmm_kernels" / "include"
LOWERING = "support.tiny_tflite:checksum_lowering"


def random_model(seed: int) -> bytes:
    """A random DAG: 1-3 inputs per op, aliases, two-output ops, dead tensors, constants."""
    rng = random.Random(seed)
    tensors = [T((1, rng.randint(1, 300)), name="input")]
    live = [0]
    ops = []
    # operators the model reader does not check the arity of (it checks the ones dtmm lowers); SQUEEZE aliases
    opnames = ["MINIMUM", "SQUARED_DIFFERENCE", "MAXIMUM", "EXP", "PACK", "SQUEEZE", "LOG"]
    for _ in range(rng.randint(2, 14)):
        name = rng.choice(opnames)
        if name == "SQUEEZE":
            src = rng.choice(live)
            tensors.append(T((1, 1, tensors[src].shape[1])))
            ops.append((name, [src], [len(tensors) - 1]))
            live.append(len(tensors) - 1)
            continue
        ins = rng.sample(live, k=min(len(live), rng.randint(1, 3)))
        if rng.random() < 0.3:
            tensors.append(T((rng.randint(1, 64),), data=bytes(rng.randrange(256) for _ in range(64))))
            tensors[-1] = T((64,), data=tensors[-1].data)
            ins.append(len(tensors) - 1)
        outs = []
        for _ in range(2 if rng.random() < 0.2 else 1):
            tensors.append(T((1, rng.randint(1, 400))))
            outs.append(len(tensors) - 1)
        ops.append((name, ins, outs))
        live += outs
        if len(live) > 4 and rng.random() < 0.5:
            live.remove(rng.choice(live[:-1]))  # stop reading some tensors
    return make_model(tensors, ops, [0], [ops[-1][2][0]])


def _pack(data: bytes, name="m", **kw):
    return pack_model(TfliteModel(data, "test.tflite"), name, lowering=checksum_lowering(**kw))


# ---- the plan ----------------------------------------------------------------------------------
def test_reshape_aliases_and_in_place_and_scratch_lifetimes():
    packed = _pack(residual_model())
    s = packed.summary
    t = {row["index"]: row for row in s["tensors"]}
    # RESHAPE: same region and offset, no code
    assert t[4]["region"] == t[3]["region"] and t[4]["offset"] == t[3]["offset"]
    assert s["ops"][3]["alias"] and not s["ops"][3]["code"]
    # op 1 (one input, same size, input dead afterwards? no: tensor 1 is read by the ADD) is not in place
    assert not s["ops"][1]["in_place"]
    # the output lives to the end of the model
    assert t[6]["last_op"] == len(s["ops"]) - 1
    # constants are not in the arena
    assert 5 not in t
    # every buffer that is live at the same step is disjoint
    from dtmm.pack.graph import analyse

    model = TfliteModel(residual_model(), "test.tflite")
    life = analyse(model, packed.lowered, model.inputs, model.outputs)
    check_plan(life.buffers(), packed.plan)
    assert packed.arena_bytes == s["arena_bytes"] >= s["arena_lower_bound"]
    assert packed.flash_bytes == sum(op["flash_bytes"] for op in s["ops"])


def test_in_place_merge_when_input_dies():
    # x -> A -> B (both one-input, same size): B may overwrite A's output
    data = make_model([T((1, 64)), T((1, 64)), T((1, 64))], [("TANH", [0], [1]), ("TANH", [1], [2])], [0], [2])
    packed = _pack(data)
    ops = packed.summary["ops"]
    assert ops[0]["in_place"] and ops[1]["in_place"]
    tens = {row["index"]: row for row in packed.summary["tensors"]}
    assert tens[0]["offset"] == tens[1]["offset"] == tens[2]["offset"]


def test_model_input_read_twice_is_not_overwritten():
    data = make_model(
        [T((1, 64)), T((1, 64)), T((1, 64))], [("TANH", [0], [1]), ("ADD", [0, 1], [2])], [0], [2]
    )
    packed = _pack(data)
    assert not packed.summary["ops"][0]["in_place"]  # tensor 0 is read again by the ADD


# ---- determinism and files ---------------------------------------------------------------------
def test_pack_is_deterministic(tmp_path):
    data = residual_model()
    (tmp_path / "m.tflite").write_bytes(data)
    runner = CliRunner()
    outs = []
    for d in ("a", "b"):
        r = runner.invoke(main, ["pack", str(tmp_path / "m.tflite"), "--out", str(tmp_path / d),
                                 "--lowering", LOWERING])
        assert r.exit_code == 0, r.output
        outs.append({p.name: p.read_bytes() for p in sorted((tmp_path / d).iterdir())})
    assert outs[0] == outs[1]
    assert sorted(outs[0]) == ["m.c", "m.h", "m.json"]
    # the file name is not part of the output: the same bytes under another name pack identically
    (tmp_path / "renamed.tflite").write_bytes(data)
    r = runner.invoke(main, ["pack", str(tmp_path / "renamed.tflite"), "--out", str(tmp_path / "c"), "--name", "m",
                             "--lowering", LOWERING])  # fmt: skip
    assert r.exit_code == 0, r.output
    assert {p.name: p.read_bytes() for p in sorted((tmp_path / "c").iterdir())} == outs[0]
    # and in-process, for random graphs
    for seed in range(5):
        assert _pack(random_model(seed)).files == _pack(random_model(seed)).files


def test_pack_resnet8_is_deterministic_and_reaches_the_bound(resnet8_tflite, tmp_path):
    a = pack_model(resnet8_tflite, "resnet8", lowering=checksum_lowering())
    b = pack_model(resnet8_tflite, "resnet8", lowering=checksum_lowering())
    assert a.files == b.files
    assert a.arena_bytes == a.summary["arena_lower_bound"]
    s = json.loads(a.files["resnet8.json"])
    assert s["op_counts"]["CONV_2D"] == 9 and len(s["ops"]) == 16
    assert s["input"]["shape"] == [1, 32, 32, 3] and s["output"]["dtype"] == "int8"


def test_cli_summary_and_json(tmp_path):
    (tmp_path / "m.tflite").write_bytes(residual_model())
    r = CliRunner().invoke(main, ["pack", str(tmp_path / "m.tflite"), "--out", str(tmp_path / "o"),
                                  "--name", "net", "--lowering", LOWERING])
    assert r.exit_code == 0, r.output
    s = json.loads((tmp_path / "o" / "net.json").read_text())
    assert f"arena      {s['arena_bytes']} bytes peak" in r.stdout
    assert f"flash      {s['flash_bytes']} bytes" in r.stdout
    assert set(s) >= {"ops", "arena_bytes", "flash_bytes", "tensors", "input", "output", "model_sha256"}
    h = (tmp_path / "o" / "net.h").read_text()
    for needle in ("NET_ARENA_SIZE", "NET_INPUT_SCALE", "NET_OUTPUT_ZERO_POINT", "dtmm_status net_init(void);",
                   "dtmm_status net_invoke(void);", "int8_t *net_input(void);", "int8_t *net_output(void);"):
        assert needle in h


def test_write_package_is_atomic_and_leaves_no_temporaries(tmp_path):
    out = tmp_path / "nested" / "dir"
    write_package({"a.c": b"1", "a.h": b"2"}, out)
    (out / "keep.txt").write_text("mine")
    write_package({"a.c": b"3", "a.h": b"4"}, out)
    assert sorted(p.name for p in out.iterdir()) == ["a.c", "a.h", "keep.txt"]
    assert (out / "a.c").read_bytes() == b"3"
    assert sorted(p.name for p in out.parent.iterdir()) == ["dir"]
    (tmp_path / "file").write_text("x")
    with pytest.raises(PackError, match="exists and is not a directory"):
        write_package({"a.c": b"1"}, tmp_path / "file")


def test_failed_write_leaves_nothing(tmp_path, monkeypatch):
    import os as _os

    real_rename = _os.rename

    def boom(*a, **k):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(_os, "rename", boom)
    with pytest.raises(PackError, match="No space left"):
        write_package({"a.c": b"1"}, tmp_path / "out")
    monkeypatch.setattr(_os, "rename", real_rename)
    assert list(tmp_path.iterdir()) == []


# ---- errors -------------------------------------------------------------------------------------
def test_unsupported_ops_are_listed_in_one_line():
    data = make_model(
        [T((1, 4)), T((1, 4)), T((1, 4)), T((1, 4))],
        [("CUSTOM:MyOp", [0], [1]), ("TANH", [1], [2]), ("CUSTOM:MyOp", [2], [3])],
        [0], [3],
    )  # fmt: skip
    with pytest.raises(PackError) as exc:
        _pack(data, unsupported=("CUSTOM", "TANH"))
    assert str(exc.value) == "test.tflite: unsupported operators: CUSTOM:MyOp, TANH"


def test_unsupported_ops_cli_one_line(tmp_path):
    data = make_model([T((1, 4)), T((1, 4))], [("CUSTOM:Foo", [0], [1])], [0], [1])
    (tmp_path / "m.tflite").write_bytes(data)
    r = CliRunner().invoke(main, ["pack", str(tmp_path / "m.tflite"), "--out", str(tmp_path / "o"),
                                  "--lowering", LOWERING])
    assert r.exit_code == 2
    assert r.stderr == f"dtmm: error: {tmp_path / 'm.tflite'}: unsupported operators: CUSTOM:Foo\n"
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda: make_model([T((1, 4)), T((1, 4)), T((1, 4))], [("ADD", [0, 1], [2])], [0, 1], [2]),
         "2 inputs and 1 outputs; only models with one input and one output"),
        (lambda: make_model([T((1, 4)), T((1, 4))], [], [0], [1]), "model has no operators"),
        (lambda: make_model([T((1, 4), dtype="int32"), T((1, 4))], [("TANH", [0], [1])], [0], [1]),
         "INT32; expected INT8 or FLOAT32"),
        (lambda: make_model([T((1, 4)), T((1, 4)), T((1, 4))], [("ADD", [0, 2], [1])], [0], [1]),
         "reads tensor 2 .* before anything writes it"),
    ],
)
def test_bad_models_are_refused(make, message):
    with pytest.raises(PackError if "reads" not in message else DtmmError, match=message):
        _pack(make())


def test_bad_name_missing_file_and_not_tflite(tmp_path):
    with pytest.raises(PackError, match="must be a C identifier"):
        _pack(residual_model(), name="9lives")
    with pytest.raises(PackError, match="must be a C identifier"):
        _pack(residual_model(), name="int")
    runner = CliRunner()
    r = runner.invoke(main, ["pack", str(tmp_path / "nope.tflite"), "--out", str(tmp_path / "o")])
    assert r.exit_code == 2 and "no such file" in r.stderr
    r = runner.invoke(main, ["pack", str(tmp_path), "--out", str(tmp_path / "o")])
    assert r.exit_code == 2 and "is a directory, not a .tflite model file" in r.stderr
    (tmp_path / "x.tflite").write_bytes(b"garbage!" * 10)
    r = runner.invoke(main, ["pack", str(tmp_path / "x.tflite"), "--out", str(tmp_path / "o")])
    assert r.exit_code == 2 and "not a TFLite flatbuffer" in r.stderr


def test_missing_lowering_module_is_a_clear_error():
    with pytest.raises(PackError, match="lowering module dtmm.no_such_lowering is not available"):
        pack_model(TfliteModel(residual_model()), "m", lowering="dtmm.no_such_lowering")


def test_default_name_from_file():
    from dtmm.pack import default_name

    assert default_name("/x/pretrainedResnet_quant.tflite") == "pretrainedresnet_quant"
    assert default_name("3net.tflite") == "m_3net"
    assert default_name("int.tflite") == "int_model"


# ---- the generated C, run on the host --------------------------------------------------------------
_DRIVER = r"""
#include <stdio.h>
#include <string.h>
#include "MODEL.h"
int main(void)
{
    static unsigned char buf[MODEL_UP_INPUT_BYTES];
    if (MODEL_invoke() == DTMM_OK) return 10; /* invoke before init must fail */
    if (MODEL_init() != DTMM_OK) return 11;
    while (fread(buf, 1, sizeof buf, stdin) == sizeof buf) {
        memcpy(MODEL_input(), buf, sizeof buf);
        if (MODEL_invoke() != DTMM_OK) return 12;
        fwrite(MODEL_output(), 1, MODEL_UP_OUTPUT_BYTES, stdout);
    }
    return 0;
}
"""


def _host_run(packed, inputs: np.ndarray, tmp_path: Path) -> list[np.ndarray]:
    cc = shutil.which("cc") or shutil.which("gcc")
    if cc is None:
        pytest.skip("no host C compiler")
    for fname, data in packed.files.items():
        (tmp_path / fname).write_bytes(data)
    driver = _DRIVER.replace("MODEL_UP", packed.name.upper()).replace("MODEL", packed.name)
    (tmp_path / "driver.c").write_text(driver)
    exe = tmp_path / "model"
    cmd = [cc, "-std=c99", "-O1", "-g", "-Wall", "-Wextra", "-Werror", "-fsanitize=address,undefined",
           "-fno-sanitize-recover=all", "-I", str(tmp_path), "-I", str(KERNEL_INCLUDE),
           str(tmp_path / f"{packed.name}.c"), str(tmp_path / "driver.c"), "-o", str(exe)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    run = subprocess.run([str(exe)], input=inputs.tobytes(), capture_output=True)
    assert run.returncode == 0, run.stderr.decode()
    n = packed.output.bytes
    return [np.frombuffer(run.stdout[i * n : (i + 1) * n], np.uint8) for i in range(len(run.stdout) // n)]


@pytest.mark.parametrize("seed", range(8))
def test_generated_c_computes_the_reference_on_random_graphs(seed, tmp_path):
    data = random_model(seed)
    model = TfliteModel(data, "test.tflite")
    packed = _pack(data)
    rng = np.random.default_rng(seed)
    xs = rng.integers(-128, 128, size=(3, packed.input.bytes)).astype(np.int8)
    got = _host_run(packed, xs, tmp_path)
    assert len(got) == 3
    for x, y in zip(xs, got):
        assert np.array_equal(y, checksum_reference(model, x)), f"seed {seed}"


def test_generated_c_with_float_io(tmp_path):
    data = make_model(
        [T((1, 6), dtype="float32"), T((1, 6)), T((1, 6)), T((1, 3), dtype="float32")],
        [("QUANTIZE", [0], [1]), ("TANH", [1], [2]), ("DEQUANTIZE", [2], [3])],
        [0], [3],
    )  # fmt: skip
    model = TfliteModel(data, "test.tflite")
    packed = _pack(data, name="fio")
    h = packed.files["fio.h"].decode()
    assert "float *fio_input(void);" in h and "#define FIO_INPUT_IS_FLOAT 1" in h
    assert "#define FIO_OUTPUT_BYTES 12u" in h
    xs = np.arange(12, dtype=np.float32).reshape(2, 6)
    got = _host_run(packed, xs, tmp_path)
    for x, y in zip(xs, got):
        assert np.array_equal(y, checksum_reference(model, x))


def test_pack_board_fit_check(resnet8_tflite, tmp_path):
    """--board: one line saying how the model fits, or a one-line refusal with nothing written."""
    runner = CliRunner()
    r = runner.invoke(main, ["pack", str(resnet8_tflite), "--out", str(tmp_path / "ok"), "--board", "nucleo_l4r5zi"])
    assert r.exit_code == 0, r.output
    assert "fits nucleo_l4r5zi: flash about " in r.output and "/ 655,360 B (arena 53,680 + " in r.output
    r = runner.invoke(main, ["pack", str(resnet8_tflite), "--out", str(tmp_path / "no"), "--board", "qemu-m0"])
    assert r.exit_code == 2
    assert r.stderr.strip() == ("dtmm: error: model does not fit qemu-m0: needs about 57776 bytes of RAM "
                                "(arena 53680 + stack and runtime 4096), the board has 16384")
    assert not (tmp_path / "no").exists()
    r = runner.invoke(main, ["pack", str(resnet8_tflite), "--out", str(tmp_path / "x"), "--board", "qemu-m9"])
    assert r.exit_code == 2 and "unknown board 'qemu-m9'" in r.stderr and not (tmp_path / "x").exists()
