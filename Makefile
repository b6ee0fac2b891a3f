# taskbasket: `make help` lists the targets.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)

COMPARE_PYTHON ?= python3.11
COMPARE_VENV := benchmarks/compare/.venv
COMPARE_STAMP := $(COMPARE_VENV)/.installed-$(shell cat benchmarks/compare/requirements.txt | cksum | cut -d' ' -f1)

.PHONY: help venv browser test-tools demo test test-pgbouncer lint check-lengths typecheck docs pytest bench compare chaos hosts fuzz clean

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-13s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[test]'
	rm -f $(VENV)/.installed-* && touch $(STAMP)

venv: $(STAMP)  ## create the virtualenv with every extra and the test tools

# only the browser test needs Chromium: the demo, lint and typecheck never install it
browser:  ## install Debian's chromium for the dashboard's browser test (apt-get, as root)
	command -v chromium >/dev/null || (apt-get update -qq && apt-get install -y -qq chromium)

# the one-clock tests run workers under libfaketime; the PostgreSQL conformance suite also
# runs through a private PgBouncer in transaction mode; only the test suite needs them
test-tools: browser  ## install what the test suite runs beside Python: chromium, faketime, pgbouncer
	command -v faketime >/dev/null || (apt-get update -qq && apt-get install -y -qq faketime)
	test -x /usr/sbin/pgbouncer || command -v pgbouncer >/dev/null || \
		(apt-get update -qq && apt-get install -y -qq pgbouncer)

demo: $(STAMP)  ## run the SQLite demonstration: a producer, two workers, a live progress bar
	$(BIN)/python examples/demo.py

lint: $(STAMP) check-lengths  ## ruff, the import-layer contracts and the file-length limit
	$(BIN)/ruff check src tests benchmarks examples chaos hosts tools
	$(BIN)/lint-imports

# stdlib only, so it needs no venv; LENGTH_ROOTS= checks other folders (the test does)
LENGTH_ROOTS ?= src
check-lengths:  ## no file under src/ longer than 500 lines (names each one and its length)
	$(PYTHON) tools/check_file_length.py $(LENGTH_ROOTS)

typecheck: $(STAMP)  ## mypy --strict on src
	$(BIN)/mypy --strict src

pytest: $(STAMP) test-tools  ## the test suite alone (installs chromium and faketime first)
	$(BIN)/python -m pytest -q $(PYTEST_ARGS)

# never --quiet: it drops the warnings that --strict counts, and the build passes
docs: $(STAMP)  ## build the documentation site into site/ (mkdocs --strict: a broken link fails)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --site-dir site

test: lint typecheck docs pytest  ## everything CI runs: lint, types, the docs build, tests

test-pgbouncer: $(STAMP) test-tools  ## the whole conformance suite through a private PgBouncer in transaction mode, with and without listen_url (make test runs a part)
	TASKBASKET_PGBOUNCER=all $(BIN)/python -m pytest -q tests/conformance -k pgbouncer $(PYTEST_ARGS)

bench: $(STAMP)  ## drain (launch to last task), CPU per task, RSS, enqueue and latency per backend: a table and benchmarks/results/
	$(BIN)/python -m benchmarks $(BENCH_ARGS)

$(COMPARE_STAMP): benchmarks/compare/requirements.txt
	test -x $(COMPARE_VENV)/bin/python || $(COMPARE_PYTHON) -m venv $(COMPARE_VENV)
	$(COMPARE_VENV)/bin/python -m pip install -q --upgrade pip
	$(COMPARE_VENV)/bin/python -m pip install -q -r benchmarks/compare/requirements.txt
	rm -f $(COMPARE_VENV)/.installed-* && touch $(COMPARE_STAMP)

compare: $(STAMP) $(COMPARE_STAMP)  ## taskbasket beside pgqueuer, procrastinate, huey, dramatiq, rq, celery, saq, arq (COMPARE_ARGS=--quick)
	$(BIN)/python -m benchmarks.compare --peers-python $(COMPARE_VENV)/bin/python $(COMPARE_ARGS)

chaos: $(STAMP)  ## kill workers, crash private servers under load on every backend, time Redis's AOF fsync window; prints tables, writes chaos/results/
	$(BIN)/python -m chaos.aof_window
	$(BIN)/python -m chaos $(CHAOS_ARGS)

# root only (network namespaces); libfaketime for the clock-skew scenario
hosts: $(STAMP)  ## workers on many hosts (network namespaces) against private servers: latency, partition, store cut, clock skew, contention; tables and hosts/results/
	command -v faketime >/dev/null || (apt-get update -qq && apt-get install -y -qq faketime)
	$(BIN)/python -m hosts $(HOSTS_ARGS)

fuzz: $(STAMP)  ## the state-machine model, far longer and random (hypothesis profile fuzz); FUZZ_ARGS=-k sqlite
	TASKBASKET_HYPOTHESIS_PROFILE=fuzz $(BIN)/python -m pytest -q -s -p no:cacheprovider \
		--timeout=0 tests/conformance/test_state_machine.py $(FUZZ_ARGS)

clean:  ## remove the venv and caches
	rm -rf $(VENV) $(COMPARE_VENV) .pytest_cache .mypy_cache .ruff_cache .demo site
