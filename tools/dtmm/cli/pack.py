"""`dtmm pack`: compile an int8 .tflite model to C with a static memory plan."""
from __future__ import annotations

import importlib
from pathlib import Path

import click

from ..errors import DtmmError
from ..fileio import check_writable_dir
from ..pack import pack_model, write_package


CONV_STORAGE_HELP = ("conv weight storage: fwcs (DTMM's, the default); pattern / sparse also offer the "
                     "pruning baselines' pattern / unstructured-sparse storage, smallest all three; per layer "
                     "the smallest offered wins (docs/baselines.md)")


def conv_storage_option(f):
    from ..pack.lowering import CONV_STORAGES

    return click.option("--conv-storage", type=click.Choice(CONV_STORAGES), default="fwcs", show_default=True,
                        help=CONV_STORAGE_HELP)(f)  # fmt: skip


def resolve_lowering(spec: str | None, conv_storage: str = "fwcs"):
    """None (dtmm.pack.lowering), the lowering with another conv storage, or a hidden test hook:
    'module' or 'module:factory'."""
    if spec and conv_storage != "fwcs":
        raise DtmmError("--conv-storage needs the default lowering (not --lowering)")
    if not spec:
        if conv_storage != "fwcs":
            from ..pack.lowering import StorageLowering

            return StorageLowering(conv_storage)
        return None
    module_name, _, factory = spec.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise DtmmError(f"cannot import lowering {module_name}: {exc}") from None
    if not factory:
        return module
    obj = getattr(module, factory, None)
    if obj is None:
        raise DtmmError(f"lowering {spec}: {module_name} has no {factory}")
    return obj()


def summary_lines(packed) -> list[str]:
    s = packed.summary
    ops = ", ".join(f"{name} {n}" for name, n in s["op_counts"].items())
    return [
        f"  operators  {len(s['ops'])} ({ops})",
        f"  input      {s['input']['dtype']} {list(s['input']['shape'])}, output {s['output']['dtype']} "
        f"{list(s['output']['shape'])}",
        f"  arena      {s['arena_bytes']} bytes peak (lower bound {s['arena_lower_bound']}, "
        f"plan {s['arena_strategy']})",
        f"  flash      {s['flash_bytes']} bytes of model flash: weight storage and every op's parameters "
        f"(.tflite file {s['model_bytes']} bytes; docs/figures.md)",
    ] + _storage_line(s) + [
        f"  {family:<4} {path:<5} kernel variants linked: {', '.join(names)}"
        for family in ("conv", "add")
        for path, names in sorted(s.get(f"{family}_variants", {}).items(), key=lambda kv: ("mve", "dsp", "c").index(kv[0]))
    ]  # fmt: skip


def _storage_line(s: dict) -> list[str]:
    counts: dict[str, int] = {}
    for op in s["ops"]:
        if op.get("conv_storage"):
            counts[op["conv_storage"]] = counts.get(op["conv_storage"], 0) + 1
    if set(counts) <= {"fwcs"}:
        return []
    return ["  conv storage " + ", ".join(f"{k} {n}" for k, n in sorted(counts.items()))]


@click.command()
@click.argument("model", type=click.Path(path_type=Path))
@click.option("--out", "out_dir", required=True, type=click.Path(path_type=Path),
              help="directory for NAME.c, NAME.h and NAME.json (created if missing)")
@click.option("--name", default=None, help="C name prefix (default: from the model file name)")
@click.option("--board", "board_name", default=None,
              help="refuse (writing nothing) a model that does not fit this board's flash and RAM, and say how "
                   "it fits one that does (any board of `dtmm boards`, real ones included)")
@conv_storage_option
@click.option("--lowering", default=None, hidden=True, help="lowering module[:factory] (tests)")
def pack(model: Path, out_dir: Path, name: str | None, board_name: str | None, conv_storage: str,
         lowering: str | None):
    """Compile MODEL (an int8 .tflite) to self-contained C: NAME.h / NAME.c plus a NAME.json summary.

    Weights become aligned const arrays, operators straight-line kernel calls,
    and all activations share one static arena planned from tensor
    lifetimes.  Output is byte-identical for the same model.

    \b
    Examples:
      dtmm pack model_int8.tflite --out build/model --name net
      dtmm pack model_int8.tflite --out build/model --conv-storage smallest
      dtmm pack model_int8.tflite --out build/model --board nucleo_l4r5zi
    """
    from ..targets.boards import get_board
    from ..targets.model_runner import check_fit, fit_line

    board = get_board(board_name) if board_name else None
    check_writable_dir(out_dir)
    packed = pack_model(model, name, lowering=resolve_lowering(lowering, conv_storage))
    if board is not None:
        check_fit(packed, 0, board)  # before anything is written
    paths = write_package(packed.files, out_dir)
    click.echo(f"packed {model.name} -> " + ", ".join(str(p) for p in paths))
    for line in summary_lines(packed):
        click.echo(line)
    if board is not None:
        click.echo("  " + fit_line(packed, board))
