# taskbasket: `make help` lists the targets.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)

COMPARE_PYTHON ?= python3.11
COMPARE_VENV := benchmarks/compare/.venv
COMPARE_STAMP := $(COMPARE_VENV)/.installed-$(shell cat benchmarks/compare/requirements.txt | cksum | cut -d' ' -f1)

.PHONY: help venv demo test lint typecheck pytest bench compare chaos clean

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	command -v chromium >/dev/null || (apt-get update -qq && apt-get install -y -qq chromium)
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

bench: $(STAMP)  ## drain (launch to last task), CPU per task, RSS, enqueue and latency per backend: a table and benchmarks/results/
	$(BIN)/python -m benchmarks $(BENCH_ARGS)

$(COMPARE_STAMP): benchmarks/compare/requirements.txt
	test -x $(COMPARE_VENV)/bin/python || $(COMPARE_PYTHON) -m venv $(COMPARE_VENV)
	$(COMPARE_VENV)/bin/python -m pip install -q --upgrade pip
	$(COMPARE_VENV)/bin/python -m pip install -q -r benchmarks/compare/requirements.txt
	rm -f $(COMPARE_VENV)/.installed-* && touch $(COMPARE_STAMP)

compare: $(STAMP) $(COMPARE_STAMP)  ## taskbasket beside pgqueuer, procrastinate, huey, dramatiq, rq, celery, saq, arq (COMPARE_ARGS=--quick)
	$(BIN)/python -m benchmarks.compare --peers-python $(COMPARE_VENV)/bin/python $(COMPARE_ARGS)

chaos: $(STAMP)  ## kill workers and servers under load on every backend; prints a table, writes chaos/results/
	$(BIN)/python -m chaos $(CHAOS_ARGS)

clean:  ## remove the venv and caches
	rm -rf $(VENV) $(COMPARE_VENV) .pytest_cache .mypy_cache .ruff_cache .demo
