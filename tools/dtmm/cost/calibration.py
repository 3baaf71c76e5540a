"""A board's calibration: fitted coefficients per kernel group, and predicting with them.

A calibration file (JSON, ``dtmm-calibration`` format) holds, per group of
``dtmm.cost.features``, the coefficients of instructions per count, how many
measured operators they were fitted on and how well they fit them; per
operator type an umbrella fit over all of its groups, used for a kernel
variant the calibration set never selected, and per feature kind one over
every operator of that kind (``kind:elementwise`` prices, say, a QUANTIZE
the calibration set never had); and the raw measurements, so a
change to the features can be refitted without QEMU (``dtmm calibrate
--refit``). The calibrations of the six QEMU boards ship in
``dtmm/cost/calibrations/``.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import DtmmError
from ..paths import KERNELS_DIR
from ..targets.boards import BOARDS
from .features import COUNTS_OF_KIND, OpFeatures
from .fit import fit_group, relative_errors

FORMAT = "dtmm-calibration"
VERSION = 1
CALIBRATIONS_DIR = Path(__file__).resolve().parent / "calibrations"
#: a group needs this many measured operators for its own fit; below, the operator's umbrella fit is used
MIN_SAMPLES = 4
#: ... from at least this many distinct layer shapes (a layer's pruned versions do not count apart): the
#: fit of a few shapes reproduces them and says nothing about others
MIN_LAYERS = 4


def _layer_key(f: OpFeatures) -> str:
    """A layer's shape without its kept filterlets: the pruned versions of one layer share it."""
    return f.shape.split(" kept ")[0] if f.shape else f.label


_PATH_TAGS = ("dsp", "mve")


def kernels_digest(path: str) -> str:
    """sha256 (first 16 hex) of the lib/dtmm_kernels sources a board of kernel path `path` ('c', 'dsp',
    'mve') compiles into its kernels: every file but those of the other SIMD paths (``*_dsp*``,
    ``*_mve*``). A calibration is of these exact sources."""
    h = hashlib.sha256()
    skip = [t for t in _PATH_TAGS if t != path]
    for p in sorted((KERNELS_DIR / "src").rglob("*")) + sorted((KERNELS_DIR / "include").rglob("*")):
        if any(f"_{t}" in p.name for t in skip):
            continue
        if p.is_file() and p.suffix in (".c", ".h"):
            h.update(p.relative_to(KERNELS_DIR).as_posix().encode())
            h.update(p.read_bytes())
    return h.hexdigest()[:16]


@dataclass
class Calibration:
    data: dict

    @property
    def board(self) -> str:
        return self.data["board"]

    def coefficients(self, f: OpFeatures) -> tuple[str, np.ndarray]:
        """(group actually used, coefficients) for an operator: its own group, else the umbrella of its
        operator's variants in the same mode (``CONV_2D/*/patch``), else its group's parent (the group
        without its last ``/`` part), else its operator's umbrella, else the fit of its kind."""
        groups = self.data["groups"]
        parent = f.group.rsplit("/", 1)[0] if f.group.count("/") >= 2 else None
        for name in (f.group, mode_umbrella(f.group), parent, f.op, f"kind:{f.kind}"):
            g = groups.get(name) if name else None
            if g is not None and g["kind"] == f.kind:
                return name, _aligned(g, f.kind)
        raise DtmmError(f"the {self.board} calibration has no fit for {f.op} ({f.group}); "
                        f"regenerate it with `dtmm calibrate --board {self.board}`")  # fmt: skip

    def predict(self, f: OpFeatures) -> int:
        """Predicted QEMU-retired instructions of one operator."""
        _, coef = self.coefficients(f)
        return int(round(float(np.dot(coef, f.counts))))

    def stale(self) -> bool:
        """True when lib/dtmm_kernels changed since the calibration was measured."""
        return self.data.get("kernels_digest") != kernels_digest(self.data.get("path", ""))


def load_calibration(board: str, path: str | Path | None = None) -> Calibration:
    """The calibration in `path`, else the one shipped for `board` (for a board that runs another's
    code instruction for instruction, Board.cost_model_board names whose)."""
    if path is None:
        known = BOARDS.get(board)
        board = known.cost_model_board or board if known is not None else board
    file = Path(path) if path else CALIBRATIONS_DIR / f"{board}.json"
    if not file.is_file():
        have = sorted(p.stem for p in CALIBRATIONS_DIR.glob("*.json"))
        where = f"{file}" if path else f"board {board} (shipped: {', '.join(have) or 'none'})"
        raise DtmmError(f"no calibration for {where}; measure one with `dtmm calibrate --board {board}`")
    try:
        data = json.loads(file.read_text())
    except (OSError, ValueError) as exc:
        raise DtmmError(f"cannot read calibration {file}: {exc}") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT or data.get("version") != VERSION:
        raise DtmmError(f"{file} is not a {FORMAT} v{VERSION} file")
    if path is None and data.get("board") != board:
        raise DtmmError(f"{file} is a calibration of {data.get('board')}, not {board}")
    return Calibration(data)


def _aligned(g: dict, kind: str) -> np.ndarray:
    """A group's coefficients in the order of today's counts of its kind, matched by count name: a count
    added to the features after a calibration was measured gets 0 from that calibration."""
    coef = np.asarray(g["coefficients"], dtype=float)
    names = g.get("counts")
    if not names:
        return coef
    by_name = dict(zip(names, coef))
    return np.array([by_name.get(c, 0.0) for c in COUNTS_OF_KIND[kind]], dtype=float)


def mode_umbrella(group: str) -> str | None:
    """'CONV_2D/mve_quad32/patch' -> 'CONV_2D/*/patch': every variant of an operator run in one mode (the
    mode, not the variant, sets most of the cost: a variant never measured in patch mode is priced from
    the other variants' patch-mode fit, not from the non-patch fit of its own variant); None without a mode."""
    parts = group.split("/")
    return f"{parts[0]}/*/{parts[-1]}" if len(parts) >= 3 else None


def fit_calibration(rows: list[tuple[OpFeatures, int]]) -> dict:
    """{group: fit} for every group and operator umbrella among `rows` (features, measured instructions)."""
    by_group: dict[str, list] = {}
    for f, n in rows:
        by_group.setdefault(f.group, []).append((f, n))
        if mode_umbrella(f.group):
            by_group.setdefault(mode_umbrella(f.group), []).append((f, n))
        if f.group != f.op:
            by_group.setdefault(f.op, []).append((f, n))
        by_group.setdefault(f"kind:{f.kind}", []).append((f, n))
    groups = {}
    for name in sorted(by_group):
        members = by_group[name]
        kinds = {f.kind for f, _ in members}
        if len(kinds) != 1:
            raise DtmmError(f"calibration group {name} mixes feature kinds {sorted(kinds)}")
        own = name.startswith("kind:") or name == members[0][0].op  # umbrellas are always fitted
        if (len(members) < MIN_SAMPLES or len({_layer_key(f) for f, _ in members}) < MIN_LAYERS) and not own:
            continue
        x = np.array([f.counts for f, _ in members])
        y = np.array([n for _, n in members], dtype=float)
        coef = fit_group(x, y)
        err = relative_errors(x, y, coef)
        groups[name] = {
            "kind": kinds.pop(),
            "counts": list(COUNTS_OF_KIND[members[0][0].kind]),
            "coefficients": [float(f"{c:.6g}") for c in coef],
            "samples": len(members),
            "max_abs_relative_error": round(float(np.abs(err).max()), 4),
            "rms_relative_error": round(float(np.sqrt(np.mean(err**2))), 4),
        }
    return groups
