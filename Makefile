# dronekit-plzen: one-command set-up, demo, tests and benchmarks.
# Every target creates .venv and installs what it needs (Debian packages included).

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

.PHONY: setup demo demo-lidar test fuzz lint format bench clean sysdeps interop

setup: $(STAMP)

$(STAMP): pyproject.toml scripts/install-system-deps.sh
	bash scripts/install-system-deps.sh
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip wheel setuptools
	$(PY) -m pip install --quiet -e '.[all,dev]'
	touch $(STAMP)

sysdeps:
	bash scripts/install-system-deps.sh

demo: setup
	$(BIN)/dronekit-plzen demo

demo-lidar: setup
	$(BIN)/dronekit-plzen demo lidar

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

format: setup
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

test: setup lint
	QT_QPA_PLATFORM=offscreen PROJ_NETWORK=OFF $(PY) -m pytest

# the property tests with fresh random examples, at least 2,000 each (see tests/conftest.py)
fuzz: setup
	HYPOTHESIS_PROFILE=fuzz QT_QPA_PLATFORM=offscreen PROJ_NETWORK=OFF $(PY) -m pytest -q -m property --timeout=0 -p no:cacheprovider --hypothesis-show-statistics

# real firmware (not part of test): SITL_BIN=.../arducopter and/or PX4_DIR=.../PX4-Autopilot
interop: setup
	$(PY) scripts/interop/run.py $(INTEROP_ARGS)

bench: setup
	PROJ_NETWORK=OFF $(PY) bench/run_all.py

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .mypy_cache .ruff_cache demo-output bench/results
