# Hotline: the two commands in the README are `make demo` and `make test`.
# Everything they need is installed by these targets on a fresh machine.
SHELL := /bin/bash
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | md5sum | cut -c1-8)

.PHONY: demo test venv venv-embedded deps deps-up deps-down protos check-protos unit integration bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	touch $(STAMP)

venv: $(STAMP)

venv-embedded: venv
	$(BIN)/python -c 'import chdb' 2>/dev/null || $(BIN)/pip install -q -e '.[dev,embedded]'

# Run the product's main job on embedded defaults (in-process bus, chdb, SQLite, simulator).
demo: venv-embedded
	$(BIN)/hotline demo

# Start the real dependencies (Kafka, ClickHouse), run every test, stop them again.
# The embedded engine (chdb) is installed too: reporting is tested on both engines.
test: venv-embedded
	deploy/test.sh

protos: venv
	$(BIN)/python scripts/protos.py

check-protos: venv
	$(BIN)/python scripts/protos.py --check

unit: venv
	$(BIN)/pytest tests/unit -q

clean:
	rm -rf $(VENV) .cache var
