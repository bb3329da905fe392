# opvangwacht: the two commands a newcomer needs are `make demo` and `make test`.
# Everything runs from a virtualenv in .venv with the project installed from its built wheel.

PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
LINT_PATHS := alerts streams tests $(wildcard bench)
SOURCES := pyproject.toml $(shell find alerts streams -type f -not -path '*/__pycache__/*' 2>/dev/null)

.PHONY: help install demo test lint typecheck unit integration soak bench kafka-start kafka-stop clean

help:
	@echo "make demo     start a local Kafka, a worker and a webhook sink; replay Ter Apel, August 2022"
	@echo "make test     lint, type checks and the test suite but the soak (starts the local Kafka if needed)"
	@echo "make bench    throughput, latency and memory of the worker on the local Kafka"
	@echo "make soak     the crash test with many kills over several seeds (SOAK_SEEDS=1,2,3"
	@echo "              SOAK_KILLS=10 SOAK_SIGTERMS=3; SOAK_CONTROL=1 checks the harness itself)"

$(VENV)/.created:
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip build
	@touch $@

# The wheel is rebuilt and reinstalled whenever a source file changes.
$(VENV)/.installed: $(VENV)/.created $(SOURCES)
	rm -rf dist
	$(PY) -m build --wheel --outdir dist . >/dev/null
	$(PY) -m pip install --quiet --force-reinstall --no-deps dist/*.whl
	$(PY) -m pip install --quiet "$$(ls dist/*.whl)[dev]"
	@touch $@

install: $(VENV)/.installed

demo: install
	$(VENV)/bin/opvangwacht demo

lint: install
	$(VENV)/bin/ruff check $(LINT_PATHS)
	$(VENV)/bin/ruff format --check $(LINT_PATHS)

typecheck: install
	$(VENV)/bin/mypy

# Soak tests (marker "soak") run only in `make soak`.
test: lint typecheck
	$(VENV)/bin/pytest -p no:cacheprovider -m "not soak"

unit: install
	$(VENV)/bin/pytest -p no:cacheprovider tests/core tests/edge tests/agents tests/test_architecture.py

integration: install
	$(VENV)/bin/pytest -p no:cacheprovider -m "integration and not soak"

# The crash test of issue 9 (tests/integration/test_crash.py), with many more kills over several
# seeds; progress lines as it goes. Takes a few minutes per seed and kill-heavy plans longer.
soak: install
	$(VENV)/bin/pytest -p no:cacheprovider -m soak -s tests/integration/test_crash.py

bench: install
	$(PY) -m bench.run

kafka-start: install
	$(VENV)/bin/opvangwacht kafka start

kafka-stop: install
	$(VENV)/bin/opvangwacht kafka stop

clean:
	rm -rf $(VENV) dist build *.egg-info .mypy_cache .ruff_cache
