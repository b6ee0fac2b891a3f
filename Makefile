# taskbasket: `make help` lists the targets.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)

.PHONY: help venv demo test lint typecheck pytest bench chaos clean

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	command -v chromium >/dev/null || (apt-get update -qq && apt-get install -y -qq chromium)
	command -v faketime >/dev/null || (apt-get update -qq && apt-get install -y -qq faketime)
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[test]'
	rm -f $(VENV)/.installed-* && touch $(STAMP)

venv: $(STAMP)  ## create the virtualenv with every extra and the test tools

demo: $(STAMP)  ## run the SQLite demonstration: a producer, two workers, a live progress bar
	$(BIN)/python examples/demo.py

lint: $(STAMP)  ## ruff and the import-layer contracts
	$(BIN)/ruff check src tests benchmarks examples chaos
	$(BIN)/lint-imports

typecheck: $(STAMP)  ## mypy --strict on src
	$(BIN)/mypy --strict src

pytest: $(STAMP)  ## the test suite alone
	$(BIN)/python -m pytest -q $(PYTEST_ARGS)

test: lint typecheck pytest  ## everything CI runs: lint, types, tests

bench: $(STAMP)  ## throughput and latency per backend: prints a table, writes benchmarks/results/
	$(BIN)/python -m benchmarks $(BENCH_ARGS)

chaos: $(STAMP)  ## kill workers, crash private servers under load on every backend, time Redis's AOF fsync window; prints tables, writes chaos/results/
	$(BIN)/python -m chaos.aof_window
	$(BIN)/python -m chaos $(CHAOS_ARGS)

clean:  ## remove the venv and caches
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .demo
