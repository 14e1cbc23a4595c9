# Entry points for a fresh machine:
#   make demo    install, then mirror a bundled synthetic replica of the Allen API offline and query it
#   make test    install, run the static checks, then the whole test suite (CI runs exactly this)
#   make check   install, run the static checks, then the fast tests (a couple of minutes)
#   make faults  install, then the whole fault and fuzz suite, tests/faults (docs/faults.md)
#   make schedule-check  scheduled syncs on a Prefect server of its own (docs/operations.md)
#   make neuron  install with the neuron extra, then the biophysical model tests (tests/biophys)
# Static checks on their own: make static (all three), make lint, make typecheck, make contracts.
# A target with several steps runs them all and fails if any failed.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin

# the fast tests: no end-to-end sync, no acceptance run on the published data, DuckDB only
# (unless CTMIRROR_TEST_BACKENDS says otherwise)
FAST_TESTS := -m "not slow and not faults" --ignore=tests/e2e --ignore=tests/acceptance

.PHONY: demo test check faults neuron compat schedule-check static lint typecheck contracts install superset-check

$(BIN)/ctmirror: pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -c constraints.txt -e '.[test]'
	touch $@

install: $(BIN)/ctmirror

demo: install
	$(BIN)/ctmirror demo

# PostgreSQL tests use CTMIRROR_TEST_POSTGRES_URL when set, else a throwaway cluster in a
# temporary folder (tests/pg_cluster.py): nothing outside the checkout is changed.
test: install
	@status=0; \
	PYTHON=$(BIN)/python scripts/check || status=1; \
	$(BIN)/python -m pytest || status=1; \
	if [ $$status -ne 0 ]; then echo "make test: FAILED (see above)" >&2; fi; \
	exit $$status

check: install
	@status=0; \
	PYTHON=$(BIN)/python scripts/check || status=1; \
	CTMIRROR_TEST_BACKENDS=$${CTMIRROR_TEST_BACKENDS:-duckdb} \
		$(BIN)/python -m pytest -q $(FAST_TESTS) || status=1; \
	if [ $$status -ne 0 ]; then echo "make check: FAILED (see above)" >&2; fi; \
	exit $$status

# the fault matrix, kill -9 at random points, the hostile-input corpus and the property tests;
# `-m ""` lifts the default `-m 'not faults'` (pyproject.toml), so every case of the folder runs
faults: install
	$(BIN)/python -m pytest -q -m "" tests/faults

# the biophysical tests with NEURON installed (without it, `make test` skips them with a reason)
neuron: install
	$(BIN)/pip install --quiet -c constraints.txt -e '.[test,neuron]'
	$(BIN)/python -m pytest -q -rs tests/biophys

# the Superset dashboard end to end (docs/superset.md): Superset in its own cached virtualenv,
# a corpus synced into a throwaway database on PostgreSQL (SUPERSET_CHECK_POSTGRES), every chart
# queried, a screenshot by headless Chromium into SUPERSET_CHECK_OUT; needs psql and chromium
SUPERSET_CHECK_OUT ?= build/superset-check
SUPERSET_CHECK_POSTGRES ?= postgresql+psycopg://postgres@127.0.0.1:5432/postgres
superset-check: install
	$(BIN)/python bench/superset_check.py $(SUPERSET_CHECK_OUT) --postgres $(SUPERSET_CHECK_POSTGRES)

# scheduled syncs through `ctmirror schedule serve` on a Prefect server of its own virtualenv
# (made once under .venv/prefect-server, a few minutes): run logs, the summary artifact, task
# runs, two syncs at once, a failure past the retries and its webhook (docs/operations.md)
schedule-check: install
	$(BIN)/python -m pytest -q -m scheduled tests/e2e/test_scheduled_sync.py

# DuckDB 1.1.3 in its own virtualenv (made once under .venv/compat) opens the published copy
compat: install
	$(BIN)/python -m pytest -q -m compat tests/compat

static: install
	PYTHON=$(BIN)/python scripts/check

lint: install
	$(BIN)/ruff check etl schema flows migrations tests bench scripts scripts/typecheck scripts/contracts

typecheck: install
	$(BIN)/python scripts/typecheck

contracts: install
	$(BIN)/python scripts/contracts
