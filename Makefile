# The two commands of the README: `make run` and `make test`. Everything else is a helper.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
SAMPLE ?= samples

.PHONY: run hash-samples test lint typecheck unit install install-test bench robustness index-bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

install: $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .

# The browser tests inject axe-core (pinned in package-lock.json) from node_modules/.
install-test: $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[test]'
	@command -v npm >/dev/null || { echo "npm is missing: apt-get install nodejs npm (the browser tests need axe-core)" >&2; exit 1; }
	npm ci --no-audit --no-fund --loglevel=error

# The main job: the registry service on http://127.0.0.1:8000 (SQLite under ./data by default;
# TAKEDOWN_DATABASE_URL=postgresql+psycopg://... for PostgreSQL). Ctrl-C stops it.
run: install
	$(BIN)/takedown serve

# Fingerprint the sample photo (what a reporter's device computes).
hash-samples: install
	$(BIN)/takedown hash --json $(SAMPLE)

lint: install-test
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench

typecheck: install-test
	$(BIN)/mypy

unit: install-test
	$(BIN)/pytest

# The whole test suite: lint, types, then every test (a skipped test fails the run).
test: install-test
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy
	$(BIN)/pytest

bench: install-test
	$(BIN)/python -m pip install --quiet -e '.[bench]'
	$(BIN)/python bench/hash_speed.py
	$(BIN)/python bench/vpdq_compare.py
	$(BIN)/python bench/robustness.py --update-docs
	$(BIN)/python bench/robustness.py --update-docs --upscale 4 --photos 100 --out robustness-camera

# The robustness benchmark alone (about 10 minutes on 2 cores): table and plot in docs/.
robustness: install-test
	$(BIN)/python -m pip install --quiet -e '.[bench]'
	$(BIN)/python bench/robustness.py --update-docs

# The PDQ index against python-threatexchange's (about 20 minutes, 9 GB free memory).
index-bench: install-test
	$(BIN)/python bench/index_bench.py --update-docs

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache bench/out node_modules
