"""Shared pytest fixtures: where the read-only shared resources live."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]


def pytest_addoption(parser):
    parser.addoption(
        "--shared",
        default=os.environ.get("DTMM_SHARED", str(REPO_ROOT.parent / "shared")),
        help="directory with data/ and models/ (default: ../shared or $DTMM_SHARED)",
    )


@pytest.fixture(scope="session")
def shared_dir(request) -> Path:
    return Path(request.config.getoption("--shared"))


@pytest.fixture(scope="session")
def resnet8_tflite(shared_dir) -> Path:
    path = shared_dir / "models" / "mlperf-tiny-ic" / "pretrainedResnet_quant.tflite"
    if not path.is_file():
        pytest.skip(f"MLPerf Tiny ResNet-8 not found at {path} (pass --shared DIR)")
    return path


@pytest.fixture(scope="session")
def resnet8_h5(shared_dir) -> Path:
    path = shared_dir / "models" / "mlperf-tiny-ic" / "pretrainedResnet.h5"
    if not path.is_file():
        pytest.skip(f"MLPerf Tiny ResNet-8 Keras model not found at {path} (pass --shared DIR)")
    return path


@pytest.fixture(scope="session")
def cifar10_archive(shared_dir) -> Path:
    path = shared_dir / "data" / "cifar10-images.tar.gz"
    if not path.is_file():
        pytest.skip(f"CIFAR-10 image archive not found at {path} (pass --shared DIR)")
    return path
