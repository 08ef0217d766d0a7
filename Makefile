# Entry points. Each target creates the virtual environment (.venv) first if needed.
#   make reproduce               full reproduction, profile from params/pipeline.yaml (paper)
#   make reproduce PROFILE=quick shortened training on a CPU workstation
#   make smoke                   the whole DAG offline on synthetic data, in minutes
#   make test                    the test suite (what CI runs)
PYTHON ?= python3.11
VENV   ?= .venv
BIN    := $(VENV)/bin
PROFILE ?=
CONFIG := $(if $(PROFILE),--config profile=$(PROFILE),)
export DVC_NO_ANALYTICS := 1

.PHONY: setup reproduce smoke test clean

setup: $(VENV)/.installed

$(VENV)/.installed: requirements.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt
	$(BIN)/python -m pip install --quiet --no-deps -e .
	touch $@

reproduce: setup
	PATH="$(abspath $(BIN)):$$PATH" snakemake --cores all $(CONFIG)

smoke: setup
	PATH="$(abspath $(BIN)):$$PATH" snakemake --cores all --config profile=smoke

# pytest exits 5 when it collects no test; that is reported, not treated as a pass or a crash.
test: setup
	@PATH="$(abspath $(BIN)):$$PATH" $(BIN)/python -m pytest $(PYTEST_ARGS); rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "pytest collected no tests"; exit 1; fi; exit $$rc

clean:
	rm -rf .snakemake logs results reports/index.html data/smoke
