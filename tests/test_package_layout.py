"""The dtmm package reads as the pipeline: one package per stage, imports only pointing down it.

Stages in pipeline order (dtmm/__init__.py says the same in prose); a module
may import its own stage and the stages before it, never a later one, so
e.g. the pruner cannot grow a dependency on the packer or the demo.
"""
from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import dtmm

PACKAGE = Path(dtmm.__file__).resolve().parent

#: stage of each top-level name, in pipeline order (lower = earlier)
STAGES = {
    "__init__": 0, "errors": 0, "fileio": 0, "paths": 0, "tf_startup": 0,
    "formats": 1,
    "tflite": 2,
    "pack": 3,
    "targets": 4, "tflm": 4,
    "cost": 5,
    "prune": 6,
    "bench": 7, "report": 7, "reference": 7, "compare": 7,
    "demo": 8,
    "cli": 9, "__main__": 9,
}  # fmt: skip


def _modules() -> dict[str, Path]:
    """dotted name (without the leading 'dtmm.') -> file, for every module of the package."""
    out = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = list(path.relative_to(PACKAGE).with_suffix("").parts)
        out[".".join(parts)] = path
    return out


def _imported(name: str, path: Path) -> list[tuple[int, str]]:
    """(line, absolute module) for every import of a dtmm module in a file, at any depth."""
    here = name.split(".")[:-1]  # the module's package ("pack.lowering.__init__" -> pack.lowering)
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = ["dtmm"] + here[: len(here) - (node.level - 1)]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            targets = [mod] if node.module else [f"{mod}.{a.name}" for a in node.names]
            found += [(node.lineno, t) for t in targets]
        elif isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names]
    return found


def _stage(module: str) -> int | None:
    parts = module.split(".")
    if parts[0] != "dtmm":
        return None
    if len(parts) == 1 or parts[1] not in STAGES:
        return 0  # the dtmm package itself, or a name defined in its __init__ (__version__)
    return STAGES[parts[1]]


def test_top_level_holds_only_stages_and_shared_modules():
    top = {p.stem if p.is_file() else p.name for p in PACKAGE.iterdir()
           if (p.is_file() and p.suffix == ".py") or (p / "__init__.py").is_file()}  # fmt: skip
    assert top == set(STAGES), f"unexpected top-level modules: {sorted(top ^ set(STAGES))}"


def test_imports_point_down_the_pipeline():
    bad = []
    for name, path in _modules().items():
        own = STAGES[name.split(".")[0]]
        for line, target in _imported(name, path):
            stage = _stage(target)
            if stage is not None and stage > own:
                bad.append(f"{path.relative_to(PACKAGE)}:{line} imports {target} (a later stage)")
    assert not bad, "\n".join(bad)


def test_shipped_package_holds_no_test_helpers():
    bad = []
    for name, path in _modules().items():
        if name.split(".")[-1] in ("testing", "conftest") or name.split(".")[-1].startswith("test_"):
            bad.append(f"{path.relative_to(PACKAGE)} is a test module")
        for line, target in _imported(name, path):
            if target.split(".")[0] in ("support", "pytest", "hypothesis", "tests"):
                bad.append(f"{path.relative_to(PACKAGE)}:{line} imports {target}")
    assert not bad, "\n".join(bad)


def test_stage_rule_catches_an_upward_import(tmp_path):
    """The checker itself: a pack module importing the pruner is reported."""
    fake = tmp_path / "packer.py"
    fake.write_text("from ..prune import plan\nfrom ..formats import fwcs\n")
    imported = [t for _, t in _imported("pack.packer", fake)]
    assert imported == ["dtmm.prune", "dtmm.formats"]
    assert _stage("dtmm.prune") > STAGES["pack"] and _stage("dtmm.formats") < STAGES["pack"]


def test_module_entry_points_run():
    """`python -m dtmm` and `python -m dtmm.cli` are the `dtmm` command."""
    for module in ("dtmm", "dtmm.cli"):
        proc = subprocess.run([sys.executable, "-m", module, "--version"], capture_output=True, text=True, timeout=120)
        assert proc.returncode == 0 and proc.stdout.startswith("dtmm, version"), (module, proc.stderr)


def test_every_working_command_shows_examples_in_its_help():
    """A new user's first stop is --help: each command that does work shows how it is typed."""
    from click.testing import CliRunner

    from dtmm.cli import main

    commands = ["prune", "pack", "run", "run-model", "inspect", "estimate", "report", "compare", "calibrate", "profile",
                "convert", ["bench", "kernels"], ["bench", "models"], ["bench", "tflm"]]  # fmt: skip
    for cmd in commands:
        args = [cmd] if isinstance(cmd, str) else cmd
        result = CliRunner().invoke(main, [*args, "--help"])
        assert result.exit_code == 0, (args, result.output)
        example = result.output.split("Example", 1)
        assert len(example) == 2 and f"dtmm {' '.join(args)} " in example[1], (args, result.output)
