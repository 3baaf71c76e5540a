"""`dtmm convert`: a `.tflite` for stock TensorFlow Lite Micro with pruned CONV_2Ds as the DTMM_CONV_2D custom op."""
from __future__ import annotations

import json
from pathlib import Path

import click

from ..errors import DtmmError
from ..fileio import check_writable_file, json_default, write_bytes_atomic
from ..tflite.model import TfliteModel


@click.command()
@click.argument("model", type=click.Path(path_type=Path))
@click.option("--out", "out_path", required=True, type=click.Path(path_type=Path),
              help="the converted .tflite (written atomically; not written when the input cannot be converted)")
@click.option("--all", "convert_all", is_flag=True,
              help="convert every CONV_2D the op supports, also those whose blob is not smaller "
                   "(e.g. per-tensor quantized layers, for DTMM's kernels)")
@click.option("--json", "as_json", is_flag=True, help="print one JSON object instead of text")
def convert(model: Path, out_path: Path, convert_all: bool, as_json: bool):
    """Rewrite MODEL for stock TensorFlow Lite Micro: each CONV_2D whose FWCS blob is smaller than what its
    filter and bias take (data and quantization records) becomes the custom op DTMM_CONV_2D, the blob in a
    16-byte aligned buffer of its own; every other operator is untouched.  The application registers the op once (docs/tflm.md):

        resolver.AddCustom("DTMM_CONV_2D", dtmm::Register_DTMM_CONV_2D());

    A model with nothing to gain is written unchanged, with a note saying so.

    \b
    Examples:
      dtmm convert pruned/model_int8.tflite --out model_dtmm.tflite
      dtmm convert model_int8.tflite --out model_dtmm.tflite --all --json
    """
    from ..tflm.rewrite import convert_model

    if out_path.resolve() == model.resolve():
        raise DtmmError(f"--out {out_path} is the input model; choose another file")
    check_writable_file(out_path)
    source = TfliteModel.load(model)  # one-line error on a missing, unreadable or corrupt model
    result = convert_model(source.data, str(model), convert_all=convert_all)
    write_bytes_atomic(out_path, result.data)
    if as_json:
        click.echo(json.dumps({
            "model": str(model), "out": str(out_path),
            "input_bytes": result.input_bytes, "output_bytes": result.output_bytes,
            "converted": len(result.converted), "conv_2d": len(result.layers),
            "layers": [vars(c) for c in result.layers],
        }, indent=2, default=json_default))  # fmt: skip
        return
    for c in result.layers:
        mark = "DTMM_CONV_2D" if c.converted else "CONV_2D     "
        size = f"{c.replaced_bytes:>9,} B -> {c.blob_bytes:>9,} B {c.encoding:<6}" if c.blob_bytes else " " * 33
        click.echo(f"  op {c.op_index:>3}  {mark}  {size}  {c.name}: {c.reason}")
    if not result.converted:
        click.echo(f"dtmm: {model}: no CONV_2D gains from DTMM_CONV_2D; {out_path} is the input unchanged "
                   f"({result.input_bytes:,} B)")  # fmt: skip
        return
    saved = result.input_bytes - result.output_bytes
    change = f"{saved:,} B saved" if saved >= 0 else f"{-saved:,} B larger"
    click.echo(f"dtmm: wrote {out_path}: {len(result.converted)} of {len(result.layers)} CONV_2D as DTMM_CONV_2D, "
               f"{result.input_bytes:,} B -> {result.output_bytes:,} B ({change})")
