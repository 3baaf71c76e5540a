"""`dtmm bench groups`: channel-group pruned 1x1 and fully connected layers measured under QEMU."""
from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from click.testing import CliRunner

from dtmm.bench.groups import SHAPES, group_magnitude_prune, run_group_bench
from dtmm.cli import main
from dtmm.errors import DtmmError


def test_group_magnitude_prune_keeps_exactly_the_largest_groups():
    rng = np.random.default_rng(0)
    w = rng.integers(-60, 60, size=(8, 1, 1, 32), dtype=np.int8)
    out = group_magnitude_prune(w, 4, 0.25)
    kept = np.any(out.reshape(8, 8, 4) != 0, axis=2)
    assert kept.sum() == 16  # round(0.25 * 64)
    norms = np.abs(w.astype(int)).reshape(8, 8, 4).sum(axis=2)
    assert norms[kept].min() >= norms[~kept].max()
    np.testing.assert_array_equal(out.reshape(8, 8, 4)[kept], w.reshape(8, 8, 4)[kept])


def test_bad_arguments_are_refused_before_any_build(tmp_path):
    with pytest.raises(DtmmError, match="unknown layer shape 'nope'"):
        run_group_bench("qemu-m4", ["nope"], build_dir=tmp_path)
    with pytest.raises(DtmmError, match="group sizes"):
        run_group_bench("qemu-m4", ["fc128"], groups=[0], build_dir=tmp_path)
    with pytest.raises(DtmmError, match="densities"):
        run_group_bench("qemu-m4", ["fc128"], densities=[1.5], build_dir=tmp_path)
    assert not any(tmp_path.iterdir())


@pytest.mark.qemu
@pytest.mark.skipif(shutil.which("qemu-system-arm") is None, reason="qemu-system-arm not installed")
@pytest.mark.skipif(shutil.which("arm-none-eabi-gcc") is None, reason="arm-none-eabi-gcc not installed")
@pytest.mark.parametrize("board", ["qemu-m4", "qemu-m55"])
def test_bench_groups_json(board, tmp_path):
    result = CliRunner().invoke(main, ["bench", "groups", "--board", board, "--groups", "16",
                                       "--densities", "1,0.5,0.25", "--layers", "mbnet_pw32,fc128",
                                       "--build-dir", str(tmp_path), "--json"])  # fmt: skip
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["unit"] == "QEMU-retired instructions" and report["path"] == {"qemu-m4": "dsp"}.get(board, "mve")
    rows = report["rows"]
    assert [(r["layer"], r["density"]) for r in rows] == [
        (s, d) for s in ("mbnet_pw32", "fc128") for d in (1.0, 0.5, 0.25)
    ]
    for layer in ("mbnet_pw32", "fc128"):
        mine = [r for r in rows if r["layer"] == layer]
        # a pruned group costs nothing: instructions and bytes fall with the density
        assert mine[0]["instructions"] > mine[1]["instructions"] > mine[2]["instructions"]
        assert mine[0]["bytes"] > mine[1]["bytes"] > mine[2]["bytes"]
        assert all(r["kept_groups"] == round(r["density"] * r["groups"]) for r in mine)
    fc = [r for r in rows if r["layer"] == "fc128"]
    assert all(r["fc_dense_instructions"] > 0 and r["kind"] == "fully_connected" for r in fc)
    assert all(r["fc_dense_instructions"] is None for r in rows if r["layer"] == "mbnet_pw32")
    assert set(SHAPES) >= {r["layer"] for r in rows}
