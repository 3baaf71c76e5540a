"""The shipped cost models against QEMU on models they were never fitted on.

Held out: generated models of seeds outside every calibration set (dense and
pruned), the DS-CNN and FC-autoencoder benchmark models, and ResNet-8 dense
and at 50% filterlets when ../shared has it. Every output is checked against
tflite-micro while measuring. Every model is held to issue 12's 3% (against the sum of its operators,
which is what a plain `dtmm run-model` counts); single CONV_2Ds to the looser bounds they reach today
(docs/cost_model.md, "Accuracy").
"""
from __future__ import annotations

import shutil

import pytest

from dtmm.bench.models import load_models
from dtmm.cost import validate
from dtmm.cost.calibration import load_calibration
from dtmm.cost.calibration_set import CalibrationModel

pytestmark = [
    pytest.mark.qemu,
    pytest.mark.skipif(shutil.which("qemu-system-arm") is None, reason="qemu-system-arm not installed"),
]

#: issue 12's whole-model target, met on these models by the shipped calibrations
MODEL_TARGET = 0.03
#: bound on one CONV_2D (issue 12's 5% is not met by every layer yet)
CONV_BOUND = {"qemu-m4": 0.15, "qemu-m55": 0.20}


@pytest.mark.parametrize("board", ["qemu-m4", "qemu-m55"])
def test_predictions_of_held_out_models(board, shared_dir):
    resnet = shared_dir / "models" / "mlperf-tiny-ic" / "pretrainedResnet_quant.tflite"
    bench = [CalibrationModel(bm.name, bm.data) for bm in load_models(["ds_cnn", "fc_autoencoder"])]
    models = validate.held_out_models(seeds=validate.HELD_OUT_SEEDS[:1], extra=bench,
                                      resnet8=resnet.read_bytes() if resnet.is_file() else None)  # fmt: skip
    models = [m for m in models if m.name != "resnet8_f25"]
    rows = validate.compare(models, board, calibration=load_calibration(board))
    report = validate.render(rows, board)
    for r in rows:
        assert abs(r["error"]) <= MODEL_TARGET, f"{r['model']}: {100 * r['error']:+.1f}%\n{report}"
        assert r["ops"] and all(o["group"] for o in r["ops"])  # every operator priced by a fit of its own
    assert validate.worst(rows)[1] <= CONV_BOUND[board], report


#: bound on one operator stored as GROUPS in the held-out channel-group models (the whole models: 3%)
GROUPS_OP_BOUND = {"qemu-m0": 0.05, "qemu-m4": 0.20, "qemu-m55": 0.20}


@pytest.mark.parametrize("board", ["qemu-m0", "qemu-m4", "qemu-m55"])
def test_predictions_of_held_out_channel_group_models(board):
    from dtmm.cost.calibration_set import max_activation_bytes_for
    from dtmm.targets.boards import get_board

    models = validate.held_out_models(seeds=validate.HELD_OUT_GROUP_SEEDS,
                                      max_activation_bytes=max_activation_bytes_for(get_board(board)))  # fmt: skip
    rows = validate.compare(models, board, calibration=load_calibration(board))
    report = validate.render(rows, board)
    grouped = [o for r in rows for o in r["ops"] if (o["group"] or "").startswith("GROUPS/")]
    assert len(grouped) >= 4, report  # the pruned variants are stored as GROUPS blobs and priced as such
    for r in rows:
        assert abs(r["error"]) <= MODEL_TARGET, f"{r['model']}: {100 * r['error']:+.1f}%\n{report}"
    worst = max(grouped, key=lambda o: abs(o["error"]))
    assert abs(worst["error"]) <= GROUPS_OP_BOUND[board], f"{worst}\n{report}"
