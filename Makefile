# Two entry points for a fresh machine:
#   make demo   install, then mirror a bundled synthetic replica of the Allen API offline and query it
#   make test   install, make sure PostgreSQL is up, run the whole test suite
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin

.PHONY: demo test install lint

$(BIN)/ctmirror: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

install: $(BIN)/ctmirror

demo: install
	$(BIN)/ctmirror demo

test: install
	scripts/ensure-postgres
	$(BIN)/python -m pytest

lint: install
	$(BIN)/ruff check etl schema flows migrations tests bench
