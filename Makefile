# dronekit-plzen: one-command set-up, demo, tests and benchmarks.
# Every target creates .venv and installs what it needs (Debian packages included).

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
WARM   := $(VENV)/.kernels-stamp

.PHONY: setup demo demo-lidar demo-photo bench-lidar bench-poa bench-poa-sarenv bench-photo test fuzz lint format bench clean sysdeps interop web-assets serve

setup: $(STAMP) $(WARM)

$(STAMP): pyproject.toml scripts/install-system-deps.sh
	bash scripts/install-system-deps.sh
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip wheel setuptools
	$(PY) -m pip install --quiet -e '.[all,dev]'
	touch $(STAMP)

# the numba kernels compiled into their cache once per install (see scripts/warm_kernels.py)
$(WARM): $(STAMP)
	$(PY) scripts/warm_kernels.py
	touch $(WARM)

sysdeps:
	bash scripts/install-system-deps.sh

# `make demo SERVE=1`: after the SAR demo, the web portal shows its deployment and prints the
# address and one-off demo accounts (requester, pilot, admin)
demo: setup web-assets
	$(BIN)/dronekit-plzen demo
	@if [ -n "$(SERVE)" ]; then \
	  $(BIN)/dronekit-plzen web demo --db demo-output/deployments.db; fi

demo-lidar: setup
	$(BIN)/dronekit-plzen demo lidar

# a Toledo subset (real DJI photos beside the clone) to orthophoto, DSM, cloud and report
demo-photo: setup
	$(BIN)/dronekit-plzen demo photo --out demo-output/photo

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

format: setup
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

# three workers (pytest-xdist) on two cores: most tests wait on simulated flights and subprocesses,
# not the CPU (two workers left the cores idle half the time; 831 s → 715 s for the whole suite)
# --dist loadgroup: a module marked xdist_group (an expensive module-scoped fixture: the training
# class, the demo, the photo pipeline) runs on one worker, so its fixture is built once, not twice
# --max-worker-restart 0: a worker that dies (a native crash) ends the run at once, its test
# failed; replacing it under loadgroup can hang the run to CI's limit (pytest-xdist 3.8, its
# issues 1323 and 1378)
TEST_WORKERS ?= 3
# lint and the kernels' compilation run side by side (-j2: both are one core's work, and
# mypy's first run and the compilation take about half a minute each in a fresh clone)
test: $(STAMP) web-assets
	$(MAKE) --no-print-directory -j2 lint $(WARM)
	QT_QPA_PLATFORM=offscreen PROJ_NETWORK=OFF $(PY) -m pytest -n $(TEST_WORKERS) --dist loadgroup --max-worker-restart 0 --durations=25

# the property tests with fresh random examples, at least 2,000 each (see tests/conftest.py)
fuzz: setup
	HYPOTHESIS_PROFILE=fuzz QT_QPA_PLATFORM=offscreen PROJ_NETWORK=OFF $(PY) -m pytest -q -m property --timeout=0 -p no:cacheprovider --hypothesis-show-statistics

# real firmware (not part of test): SITL_BIN=.../arducopter and/or PX4_DIR=.../PX4-Autopilot
interop: setup
	$(PY) scripts/interop/run.py $(INTEROP_ARGS)

bench: setup
	PROJ_NETWORK=OFF $(PY) bench/run_all.py

# one benchmark alone; ISPRS=/path/to/samples adds the ISPRS filter-test samples (not in the repo)
bench-lidar: setup
	PROJ_NETWORK=OFF $(PY) bench/bench_lidar.py $(if $(ISPRS),--isprs $(ISPRS),)

bench-poa: setup
	PROJ_NETWORK=OFF $(PY) bench/bench_poa.py

# issue 16: our planner on SAREnv's maps against SAREnv's own baselines (needs a SAREnv checkout
# and a venv with its analytics dependencies, both outside the repo; see README "Probability-driven search")
SARENV ?= /work/data/sarenv
SARENV_PYTHON ?= /work/data/sarenv-venv/bin/python
bench-poa-sarenv: setup
	PROJ_NETWORK=OFF SARENV_PYTHON=$(SARENV_PYTHON) $(PY) bench/bench_poa.py --sarenv $(SARENV)

# all 57 Toledo photos (~15 min on 2 cores)
bench-photo: setup
	PROJ_NETWORK=OFF $(PY) bench/bench_photo.py --out bench/results/photo.json

# --- web portal: Leaflet from the npm registry, pinned by package-lock.json, never committed
WEB_STATIC := dronekit_plzen/web/static
LEAFLET_JS := $(WEB_STATIC)/node_modules/leaflet/dist/leaflet.js

web-assets: $(LEAFLET_JS)

$(LEAFLET_JS): $(WEB_STATIC)/package.json $(WEB_STATIC)/package-lock.json
	npm ci --prefix $(WEB_STATIC) --no-audit --no-fund
	touch $@

serve: setup web-assets
	$(BIN)/dronekit-plzen serve

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .mypy_cache .ruff_cache demo-output bench/results
