# The two commands of the README. Each creates .venv (with python3 -m venv) when it is absent, so a
# fresh clone needs nothing but Python 3.11+.
#   make demo   init a demo repo in demo_run/ -> apply -> plan -> training set, materialize, online reads
#   make test   ruff, mypy and the whole test suite (what CI runs, via .ci/run)
#   make test-laptop   the tests that need no service (no PostgreSQL, Redis, moto or Java): pytest -m 'not services'
#   make test-lowest   the suite (but Spark) with the oldest allowed duckdb/pyarrow/pandas/numpy, in .venv-lowest

PYTHON ?= python3
VENV := .venv
BIN := $(CURDIR)/$(VENV)/bin
DEMO_DIR := demo_run
DEMO_REPO := demo_repo

.PHONY: demo test test-laptop test-lowest venv clean

# The virtualenv, created once and reused by every target.
$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)

venv: $(VENV)/bin/python

demo: $(VENV)/bin/python
	$(BIN)/python -m pip install --quiet -e .
	rm -rf $(DEMO_DIR)
	mkdir -p $(DEMO_DIR)
	cd $(DEMO_DIR) && PATH="$(BIN):$$PATH" ladle init $(DEMO_REPO)
	cd $(DEMO_DIR)/$(DEMO_REPO)/feature_repo && export PATH="$(BIN):$$PATH" && \
		ladle apply && \
		ladle plan && \
		python test_workflow.py && \
		ladle materialize-incremental now && \
		ladle feature-views list

test: $(VENV)/bin/python
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	$(BIN)/ruff check src tests
	$(BIN)/ruff format --check src tests
	$(BIN)/mypy
	$(BIN)/pytest -q

test-laptop: $(VENV)/bin/python
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	$(BIN)/pytest -q -m "not services"

# The lower bounds of pyproject.toml, tested: exactly the versions in .ci/lowest-constraints.txt, in a venv of
# their own. Spark tests are left to `make test` (pyspark needs newer pandas, and they take minutes).
LOWEST := .venv-lowest
$(LOWEST)/bin/python:
	$(PYTHON) -m venv $(LOWEST)

test-lowest: $(LOWEST)/bin/python
	$(LOWEST)/bin/python -m pip install --quiet -c .ci/lowest-constraints.txt -e ".[dev]"
	$(LOWEST)/bin/python -m pip freeze | grep -iE '^(duckdb|pyarrow|pandas|numpy)=='
	$(LOWEST)/bin/pytest -q -k "not spark"

clean:
	rm -rf $(DEMO_DIR)
