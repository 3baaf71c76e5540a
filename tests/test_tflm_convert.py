"""`dtmm convert`: CONV_2D -> DTMM_CONV_2D for stock TensorFlow Lite Micro (docs/tflm.md).

The converted model must pass the flatbuffer verifier, shrink by about the pruned bytes, hold blobs that
decode back to exactly the original int8 weights and biases, leave every other operator alone, and compute
bit-exactly what tflite-micro computes on the original model (checked through `dtmm pack`'s runtime, which
runs DTMM_CONV_2D like the TFLM adapter: on the host here, on QEMU in test_tflm_app.py).
"""
from __future__ import annotations

import json
from pathlib import Path

import flatbuffers
import numpy as np
import pytest
from click.testing import CliRunner

from dtmm.cli import main
from dtmm.formats import fwcs
from dtmm.pack.lowering import LoweringError, lower_model
from dtmm.tflite.interpreter import tflm_outputs
from dtmm.tflite.model import TfliteModel, _schema, conv_layer, replace_conv_weights
from dtmm.tflm.rewrite import CUSTOM_CODE, blobs_of, convert_model
from support.host_ops import HostCase, HostProgram
from support.op_cases import ModelBuilder, activation_code, padding_code

CUSTOM = "CUSTOM:" + CUSTOM_CODE


def _scale(rng, lo=0.004, hi=0.25) -> float:
    return float(np.float32(np.exp(rng.uniform(np.log(lo), np.log(hi)))))


def two_conv_model(seed: int = 0, batch: int = 2) -> bytes:
    """int8 [batch,9,9,8] -> CONV 3x3 (most filterlets pruned) -> CONV 1x1 (dense, per-tensor quantized) ->
    MAX_POOL: the first conv gains from DTMM_CONV_2D, the second does not (its blob adds per-channel
    requantization arrays that the per-tensor layer does not store)."""
    rng = np.random.default_rng(seed)
    b = ModelBuilder()
    x = b.tensor([batch, 9, 9, 8], scale=_scale(rng), zero_point=-5)
    w1 = rng.integers(-127, 128, size=(16, 3, 3, 8))
    w1[rng.random((16, 3, 3)) < 0.8] = 0
    t1 = b.tensor([16, 3, 3, 8], scale=[_scale(rng, 0.002, 0.05) for _ in range(16)], zero_point=0, data=w1)
    b1 = b.tensor([16], "INT32", scale=[1e-4] * 16, zero_point=0, data=rng.integers(-900, 900, size=16))
    y1 = b.tensor([batch, 9, 9, 16], scale=_scale(rng, 0.05, 0.3), zero_point=3)
    b.op("CONV_2D", [x, t1, b1], [y1], "Conv2DOptions", padding=padding_code("same"), strideW=1, strideH=1,
         dilationWFactor=1, dilationHFactor=1, fusedActivationFunction=activation_code("RELU"))
    w2 = rng.integers(-127, 128, size=(6, 1, 1, 16))
    t2 = b.tensor([6, 1, 1, 16], scale=_scale(rng, 0.002, 0.05), zero_point=0, data=w2)
    b2 = b.tensor([6], "INT32", scale=1e-4, zero_point=0, data=rng.integers(-900, 900, size=6))
    y2 = b.tensor([batch, 9, 9, 6], scale=_scale(rng, 0.05, 0.3), zero_point=-2)
    b.op("CONV_2D", [y1, t2, b2], [y2], "Conv2DOptions", padding=padding_code("valid"), strideW=1, strideH=1,
         dilationWFactor=1, dilationHFactor=1, fusedActivationFunction=activation_code("NONE"))
    y3 = b.tensor([batch, 4, 4, 6], scale=b.tensors[y2].quantization.scale[0], zero_point=-2)
    b.op("MAX_POOL_2D", [y2], [y3], "Pool2DOptions", padding=padding_code("valid"), strideW=2, strideH=2,
         filterWidth=2, filterHeight=2, fusedActivationFunction=activation_code("NONE"))
    return b.build([x], [y3])


def _only_second_conv() -> bytes:
    """One dense, per-tensor quantized 1x1 CONV_2D: nothing to gain from DTMM_CONV_2D."""
    rng = np.random.default_rng(11)
    b = ModelBuilder()
    x = b.tensor([1, 9, 9, 16], scale=_scale(rng), zero_point=4)
    t = b.tensor([6, 1, 1, 16], scale=_scale(rng, 0.002, 0.05), zero_point=0,
                 data=rng.integers(-127, 128, size=(6, 1, 1, 16)))  # fmt: skip
    bias = b.tensor([6], "INT32", scale=1e-4, zero_point=0, data=rng.integers(-900, 900, size=6))
    y = b.tensor([1, 9, 9, 6], scale=_scale(rng, 0.05, 0.3), zero_point=-2)
    b.op("CONV_2D", [x, t, bias], [y], "Conv2DOptions", padding=padding_code("valid"), strideW=1, strideH=1,
         dilationWFactor=1, dilationHFactor=1, fusedActivationFunction=activation_code("NONE"))
    return b.build([x], [y])


def prune_half_of_resnet8(data: bytes) -> bytes:
    """ResNet-8 with the smaller-magnitude half of every 3x3 conv's filterlets zeroed."""
    model = TfliteModel(data)
    new = {}
    for op in model.operators:
        if op.opcode == "CONV_2D":
            w = conv_layer(model, op).weights.copy()
            if w.shape[1] * w.shape[2] > 1:
                norms = np.abs(w.astype(np.int32)).sum(axis=3)
                w[norms < np.median(norms)] = 0
                new[op.index] = w
    return replace_conv_weights(model, new)


def host_outputs_of_converted(converted: bytes, inputs: np.ndarray, build_dir: Path) -> list[np.ndarray]:
    """The converted model through `dtmm pack`'s lowering and runtime on the host, one output per input."""
    m = TfliteModel(converted, "converted")
    lowered = lower_model(m, prefix="cv_")
    prog = HostProgram([HostCase("converted", m, lowered, tuple(m.inputs), tuple(m.outputs), in_place=True)],
                       build_dir)  # fmt: skip
    got = prog.run(0, [[x] for x in inputs])
    return [g[m.outputs[0]] for g in got]


def check_converted(original: bytes, converted: bytes) -> None:
    """Structure and content of a conversion: verifier, untouched ops, exact weights and biases, alignment."""
    src, out = TfliteModel(original, "original"), TfliteModel(converted, "converted")  # the reader verifies
    assert [op.opcode for op in out.operators] == [
        CUSTOM if b != a else a for a, b in zip((op.opcode for op in src.operators), (op.opcode for op in out.operators))
    ]
    blobs = blobs_of(converted)
    assert blobs, "nothing was converted"
    for op_index, blob in blobs.items():
        layer = conv_layer(src, src.operators[op_index])
        span = out.buffer_span(out.tensors[out.operators[op_index].inputs[1]].buffer)
        assert span[0] % 16 == 0, f"op {op_index}: blob at offset {span[0]}, not 16-byte aligned"
        decoded = fwcs.decode(blob)
        assert np.array_equal(decoded.weights, layer.weights), f"op {op_index}: weights differ after decoding"
        assert np.array_equal(decoded.multiplier, layer.multiplier) and np.array_equal(decoded.shift, layer.shift)
        if decoded.header.group == 0:  # GROUPS blobs fold the input offset into the bias (docs/fwcs.md 5.5)
            assert np.array_equal(decoded.bias, layer.bias), f"op {op_index}: bias differs"
    for op_src, op_out in zip(src.operators, out.operators):
        if op_src.index not in blobs:
            assert op_out.opcode == op_src.opcode
            for a, b in zip(op_src.inputs, op_out.inputs):
                ta, tb = src.tensors[a], out.tensors[b]
                assert (ta.name, ta.shape, ta.dtype) == (tb.name, tb.shape, tb.dtype)
                da, db = src.tensor_data(a), out.tensor_data(b)
                assert (da is None) == (db is None) and (da is None or np.array_equal(da, db))


def test_pruned_convs_become_the_custom_op_and_compute_the_same(tmp_path):
    original = two_conv_model()
    result = convert_model(original, "two_conv")
    assert [c.converted for c in result.layers] == [True, False]
    assert "nothing to gain" in result.layers[1].reason
    check_converted(original, result.data)
    saved = sum(c.replaced_bytes - c.blob_bytes for c in result.converted)
    # the file shrinks by at least the stored bytes saved (filter + bias -> blob); dropped tensor metadata adds more
    assert result.input_bytes - result.output_bytes >= saved > 0
    rng = np.random.default_rng(1)
    x = rng.integers(-128, 128, size=(3, 2, 9, 9, 8), dtype=np.int8)
    want = tflm_outputs(original, x)
    got = host_outputs_of_converted(result.data, x, tmp_path)
    for i, (g, w) in enumerate(zip(got, want)):
        assert np.array_equal(g.reshape(-1), np.asarray(w).reshape(-1)), f"input {i}: converted model differs"


def test_all_converts_every_conv_and_stays_exact(tmp_path):
    original = two_conv_model(seed=3, batch=1)
    result = convert_model(original, "two_conv", convert_all=True)
    assert all(c.converted for c in result.layers)
    check_converted(original, result.data)
    x = np.random.default_rng(2).integers(-128, 128, size=(2, 1, 9, 9, 8), dtype=np.int8)
    want = tflm_outputs(original, x)
    got = host_outputs_of_converted(result.data, x, tmp_path)
    assert all(np.array_equal(g.reshape(-1), np.asarray(w).reshape(-1)) for g, w in zip(got, want))


def test_converting_a_converted_model_changes_nothing():
    once = convert_model(two_conv_model(), "m").data
    twice = convert_model(once, "m")
    assert twice.data == once and not twice.converted


def test_resnet8_half_pruned_keeps_signatures_and_metadata(resnet8_tflite, tmp_path):
    original = prune_half_of_resnet8(resnet8_tflite.read_bytes())
    result = convert_model(original, "resnet8-50")
    assert len(result.converted) >= 6
    check_converted(original, result.data)
    fb = _schema()
    a = fb.ModelT.InitFromObj(fb.Model.GetRootAs(original, 0))
    b = fb.ModelT.InitFromObj(fb.Model.GetRootAs(result.data, 0))
    assert [m.name for m in a.metadata or []] == [m.name for m in b.metadata or []]
    for ma, mb in zip(a.metadata or [], b.metadata or []):  # metadata buffers renumbered, not lost
        assert bytes(a.buffers[ma.buffer].data) == bytes(b.buffers[mb.buffer].data)
    for sa, sb in zip(a.signatureDefs or [], b.signatureDefs or []):
        for ta, tb in zip(list(sa.inputs) + list(sa.outputs), list(sb.inputs) + list(sb.outputs)):
            assert a.subgraphs[0].tensors[ta.tensorIndex].name == b.subgraphs[0].tensors[tb.tensorIndex].name
    x = np.random.default_rng(5).integers(-128, 128, size=(2, 1, 32, 32, 3), dtype=np.int8)
    want = tflm_outputs(original, x)
    got = host_outputs_of_converted(result.data, x, tmp_path)
    assert all(np.array_equal(g.reshape(-1), np.asarray(w).reshape(-1)) for g, w in zip(got, want))


def test_cli_writes_the_model_and_reports_each_layer(tmp_path):
    src = tmp_path / "m.tflite"
    src.write_bytes(two_conv_model())
    out = tmp_path / "m_dtmm.tflite"
    res = CliRunner().invoke(main, ["convert", str(src), "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert "1 of 2 CONV_2D as DTMM_CONV_2D" in res.output and "nothing to gain" in res.output
    assert blobs_of(out.read_bytes())
    res = CliRunner().invoke(main, ["convert", str(src), "--out", str(out), "--json"])
    doc = json.loads(res.output)
    assert doc["converted"] == 1 and doc["output_bytes"] == out.stat().st_size < doc["input_bytes"]


def test_cli_model_with_nothing_to_gain_comes_out_unchanged(tmp_path):
    kept = tmp_path / "dense.tflite"
    kept.write_bytes(_only_second_conv())
    out = tmp_path / "same.tflite"
    res = CliRunner().invoke(main, ["convert", str(kept), "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert "no CONV_2D gains" in res.output and "unchanged" in res.output
    assert out.read_bytes() == kept.read_bytes()


def test_a_dense_per_channel_model_still_gains_in_size():
    """Dropping a per-channel filter's quantization record (12 B per channel, twice) outweighs the blob's
    header and requantization arrays: dense ResNet-8-like layers are converted and the file shrinks."""
    rng = np.random.default_rng(0)
    from support.op_cases import conv_model

    data, _ = conv_model(rng, (16, 3, 3, 8), lambda r: r.integers(-127, 128, size=(16, 3, 3, 8)), 1, (8, 8), 1, 1,
                         "same", "RELU", _scale)  # fmt: skip
    result = convert_model(data, "dense")
    assert [c.converted for c in result.layers] == [True] and result.output_bytes < result.input_bytes
    check_converted(data, result.data)


@pytest.mark.parametrize("content, message", [
    (None, "no such file"),
    (b"not a model at all", "not a TFLite flatbuffer"),
    (b"\x00\x00\x00\x00TFL3" + b"\xff" * 40, "corrupt"),
])  # fmt: skip
def test_cli_bad_input_one_line_and_no_output(tmp_path, content, message):
    src = tmp_path / "bad.tflite"
    if content is not None:
        src.write_bytes(content)
    out = tmp_path / "out.tflite"
    res = CliRunner().invoke(main, ["convert", str(src), "--out", str(out)])
    assert res.exit_code == 2
    lines = res.output.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], res.output
    assert not out.exists()


def test_cli_refuses_to_overwrite_its_input(tmp_path):
    src = tmp_path / "m.tflite"
    src.write_bytes(two_conv_model())
    res = CliRunner().invoke(main, ["convert", str(src), "--out", str(src)])
    assert res.exit_code == 2 and "is the input model" in res.output
    assert src.read_bytes() == two_conv_model()


def test_pack_checks_a_custom_op_blob_against_its_tensors():
    """A blob swapped between layers of other shapes is refused in one line, as the TFLM adapter's Prepare does."""
    data = convert_model(two_conv_model(), "m", convert_all=True).data
    a, b = (op.index for op in TfliteModel(data).operators if op.opcode == CUSTOM)
    fb = _schema()
    mt = fb.ModelT.InitFromObj(fb.Model.GetRootAs(data, 0))
    ops = mt.subgraphs[0].operators
    ops[a].inputs, ops[b].inputs = [ops[a].inputs[0], ops[b].inputs[1]], [ops[b].inputs[0], ops[a].inputs[1]]
    builder = flatbuffers.Builder(1024)
    builder.Finish(mt.Pack(builder), file_identifier=b"TFL3")
    with pytest.raises(LoweringError, match="does not match the blob"):
        lower_model(TfliteModel(bytes(builder.Output()), "swapped"), prefix="s_")


@pytest.mark.parametrize("board", ["qemu-m4", "qemu-m55"])
def test_converted_model_runs_bit_exact_on_the_boards(board):
    """dtmm pack's runtime on QEMU runs DTMM_CONV_2D with the board's kernels (DSP / Helium), per operator
    labelled by the op's name."""
    from dtmm.targets.model_runner import run_model

    original = two_conv_model(seed=4)
    converted = convert_model(original, "two_conv", convert_all=True).data
    x = np.random.default_rng(9).integers(-128, 128, size=(2, 2, 9, 9, 8), dtype=np.int8)
    want = tflm_outputs(original, x)
    run = run_model(converted, board, x, profile=True, timeout=300)
    assert all(np.array_equal(np.asarray(g).reshape(-1), np.asarray(w).reshape(-1)) for g, w in zip(run.outputs, want))
    assert any(label.endswith("_DTMM_CONV_2D") for label in run.profile[0]), run.profile[0]


def test_inspect_reads_a_converted_model_like_the_original():
    """`dtmm inspect` shows each DTMM_CONV_2D as the packed layer it carries: same totals as before conversion."""
    from dtmm.cli.inspect import build_report

    original = two_conv_model()
    before = build_report(TfliteModel(original, "m"))
    after = build_report(TfliteModel(convert_model(original, "m").data, "m_dtmm"))
    assert [r["op"] for r in after["layers"]] == ["DTMM_CONV_2D", "CONV_2D"]
    for key in ("macs", "kept_macs", "dense_bytes", "packed_bytes", "weight_bytes", "index_bytes"):
        assert after["total"][key] == before["total"][key], key


def test_malformed_custom_op_gets_one_line_from_inspect_and_pack(tmp_path):
    """Found by the .tflite fuzzer: a DTMM_CONV_2D without its blob input made `dtmm inspect` crash."""
    data = convert_model(two_conv_model(), "m").data
    fb = _schema()
    mt = fb.ModelT.InitFromObj(fb.Model.GetRootAs(data, 0))
    op = next(o for o in mt.subgraphs[0].operators if mt.operatorCodes[o.opcodeIndex].customCode)
    op.inputs = [int(op.inputs[0])]
    builder = flatbuffers.Builder(1024)
    builder.Finish(mt.Pack(builder), file_identifier=b"TFL3")
    path = tmp_path / "bad.tflite"
    path.write_bytes(bytes(builder.Output()))
    for args in (["inspect", str(path)], ["pack", str(path), "--out", str(tmp_path / "p")]):
        res = CliRunner().invoke(main, args)
        assert res.exit_code == 2 and res.exc_info[0] is SystemExit, res.output
        lines = res.output.strip().splitlines()
        assert len(lines) == 1 and "expects inputs [input, blob]" in lines[0], res.output
