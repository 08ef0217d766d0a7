# Entry points. Each target creates the virtual environment (.venv) first if needed.
#   make reproduce               full reproduction, profile from params/pipeline.yaml (paper)
#   make reproduce PROFILE=quick shortened training on a CPU workstation
#   make smoke                   the whole DAG offline on synthetic data, in minutes
#   make test                    the test suite (what CI runs)
#   make lock                    regenerate the lock files from requirements.txt (needs PyPI)
#   make schema                  regenerate params/schema.json and params/pipeline.schema.json from
#                                the typed params (memae/params_model.py); a test fails while stale
#   make dvc                     regenerate dvc.yaml (its datasets, studies and plots) from the registry
#                                and the params files (memae/dvcgen.py); a test fails while stale
# Dependencies: requirements.txt lists the direct pins; requirements.lock every package with its
# hashes for Python 3.11 on a CPU machine (torch's CPU wheel: what CI and the workstations run);
# requirements-cuda.lock the same pins from PyPI alone, for a CUDA machine or Python 3.12/3.13:
#   make setup LOCK=requirements-cuda.lock PYTHON=python3.12
PYTHON ?= python3.11
VENV   ?= .venv
BIN    := $(VENV)/bin
LOCK   ?= requirements.lock
PROFILE ?=
CONFIG := $(if $(PROFILE),--config profile=$(PROFILE),)
export DVC_NO_ANALYTICS := 1

.PHONY: setup reproduce smoke test clean lock schema dvc

setup: $(VENV)/.installed

$(VENV)/.installed: $(LOCK) pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet --require-hashes -r $(LOCK)
	$(BIN)/python -m pip install --quiet --no-deps -e .
	touch $@

# pip-compile resolves through pip's own configuration (local wheels such as torch's CPU build
# included); uv reads PyPI only and writes one lock for every Python the package supports.
lock:
	$(PYTHON) -m venv build/lockvenv
	build/lockvenv/bin/python -m pip install --quiet pip-tools uv
	CUSTOM_COMPILE_COMMAND="make lock" build/lockvenv/bin/pip-compile --quiet --generate-hashes \
	  --allow-unsafe --strip-extras --no-emit-index-url --no-emit-find-links -o requirements.lock requirements.txt
	{ sed -n 1,2p requirements-cuda.lock; build/lockvenv/bin/uv pip compile --quiet --generate-hashes --universal \
	  --python-version 3.11 --no-header requirements.txt; } > requirements-cuda.lock.new
	mv requirements-cuda.lock.new requirements-cuda.lock

schema: setup
	$(BIN)/python -m memae.params_model params

dvc: setup
	$(BIN)/python -m memae.dvcgen

# Snakemake prints, before it starts, what it will train and about how long that takes on this
# device (memae/estimate.py); at its end, each selected dataset that did not run, what it lacks and
# where to put it (memae/missing.py), and then it exits non-zero, and so does make.
reproduce: setup
	PATH="$(abspath $(BIN)):$$PATH" snakemake --cores all $(CONFIG)

smoke: setup
	PATH="$(abspath $(BIN)):$$PATH" snakemake --cores all --config profile=smoke

# pytest exits 5 when it collects no test; that is reported, not treated as a pass or a crash.
test: setup
	@PATH="$(abspath $(BIN)):$$PATH" $(BIN)/python -m pytest $(PYTEST_ARGS); rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "pytest collected no tests"; exit 1; fi; exit $$rc

clean:
	rm -rf build/lockvenv .snakemake logs results reports/index.html data/smoke
