"""Where the repository's non-Python parts are, for the stages that build C or firmware.

The dtmm package runs from a checkout (an editable install): the kernels,
apps and board support it compiles live beside ``tools/``.
"""
from pathlib import Path

#: the repository root (the folder holding tools/, lib/, app/, boards/)
REPO_ROOT = Path(__file__).resolve().parents[2]
#: lib/dtmm_kernels: the C kernels, their public headers and sources.txt
KERNELS_DIR = REPO_ROOT / "lib" / "dtmm_kernels"
#: app/: firmware applications (model_runner, image_classification, bench_kernels, hello)
APPS_DIR = REPO_ROOT / "app"
