# DTMM: `make demo` and `make test` each work as the first command on a fresh
# Debian machine; every set-up step is idempotent and quick when already done.

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
STAMP := $(VENV)/.dtmm-installed
PYTEST_ARGS ?=
# make demo options (empty = the demo's defaults)
SHARED ?=
BUDGET ?=
LATENCY ?=
EPOCHS ?=
DEMO_ARGS ?=
# make fuzz: seconds per libFuzzer target
FUZZ_SECONDS ?= 60

.PHONY: all bootstrap system-deps python-deps pio-bootstrap test test-all demo calibrations fuzz lock clean help

all: help

help:
	@echo "make demo       set up everything, then run the DTMM demo end to end"
	@echo "make test       set up everything, then run the test suite (what CI runs)"
	@echo "make test-all   the test suite including slow tests"
	@echo "make bootstrap  only the set-up: system packages, .venv, PlatformIO offline"
	@echo "make calibrations  measure the cost models of the six QEMU boards again (dtmm calibrate)"
	@echo "make fuzz       libFuzzer on the C validator and conv kernels, FUZZ_SECONDS=N per target (default 60)"
	@echo "make lock       re-pin requirements.lock from requirements.in"

bootstrap: system-deps python-deps pio-bootstrap

system-deps:
	@tools/bootstrap-system.sh

python-deps: $(STAMP)

$(STAMP): requirements.lock pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip==26.3 setuptools==80.9.0 wheel==0.48.0
	$(PIP) install --quiet -r requirements.lock
	$(PIP) install --quiet --no-deps --no-build-isolation -e .
	@touch $@

pio-bootstrap: python-deps
	@$(PY) -m dtmm.targets.platformio bootstrap

test: bootstrap
	$(PY) -m pytest -m "not slow" $(PYTEST_ARGS)

test-all: bootstrap
	$(PY) -m pytest $(PYTEST_ARGS)

# make demo [SHARED=/path/to/shared] [BUDGET=40KB] [LATENCY=60%|none] [EPOCHS=3] [DEMO_ARGS="--boards qemu-m4 ..."]
# (dtmm demo --help lists every option; SHARED defaults to $$DTMM_SHARED or ../shared)
DEMO_OPTS = $(if $(SHARED),--shared "$(SHARED)") $(if $(BUDGET),--budget "$(BUDGET)") \
	$(if $(LATENCY),--latency "$(LATENCY)") \
	$(if $(EPOCHS),--epochs "$(EPOCHS)") $(DEMO_ARGS)

demo: bootstrap
	$(PY) -m dtmm demo $(strip $(DEMO_OPTS))

# the shipped cost-model calibrations (docs/cost_model.md): models measured per board
CALIBRATION_MODELS = qemu-m4:60 qemu-m55:60 qemu-m3:20 qemu-m7:20 qemu-m33:20 qemu-m0:60

calibrations: bootstrap
	@for bm in $(CALIBRATION_MODELS); do \
		$(PY) -m dtmm calibrate --board $${bm%%:*} --models $${bm##*:} || exit 1; \
	done

# the C fuzz targets (tests/fuzz): FUZZ_SECONDS per target; crash inputs land in build/fuzz/crashes/
fuzz: bootstrap
	$(PY) tests/fuzz/run_fuzz.py --seconds $(FUZZ_SECONDS)

lock: system-deps
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet -r requirements.in
	$(PIP) freeze --exclude-editable | grep -v '^dtmm' > requirements.lock

clean:
	rm -rf .pio build out
