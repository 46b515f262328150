# akhbar: `make run` (demo on the bundled sample site), `make test` (the test suite).
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
# torch is pinned first so camel-tools does not pull the CUDA build. Elsewhere, get the CPU build with
#   make install TORCH_INDEX=https://download.pytorch.org/whl/cpu
TORCH_INDEX ?=
export DO_NOT_TRACK := 1
export PREFECT_SERVER_ANALYTICS_ENABLED := false

.PHONY: install run test lint serve clean

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q "torch==2.13.0" $(if $(TORCH_INDEX),--index-url $(TORCH_INDEX))
	$(BIN)/python -m pip install -q -e ".[test,train]"
	touch $@

run: install
	$(BIN)/akhbar demo

test: install
	$(BIN)/python -m pytest -q --durations=15

# ruff (style and common bugs, whole tree) and mypy (types of the three packages); settings in pyproject.toml
lint: install
	$(BIN)/ruff check .
	$(BIN)/mypy

# Local Prefect server + UI and the deployments, in the foreground (Ctrl+C stops both).
# Options: make serve SERVE_ARGS="--port 4300 --db data/akhbar.duckdb"
SERVE_ARGS ?=
serve: install
	$(BIN)/akhbar serve $(SERVE_ARGS)

clean:
	rm -rf $(VENV) data/demo.duckdb *.egg-info
