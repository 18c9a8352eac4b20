# Chainrule: `make run` starts everything on a fresh machine; `make test` runs every test.
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
export PYTHONDONTWRITEBYTECODE := 1

.PHONY: install run test lint bench check-course schema clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[dev]"
	touch $@

# The interface's translations: locale/*/LC_MESSAGES/*.po compiled to .mo with polib (pure Python,
# no GNU gettext needed); only catalogs changed since their last compile are rewritten.
install: $(VENV)/.installed
	$(PY) -m config.catalogs

# The embedded default: SQLite under var/, Redis if one answers (else files under var/), DEBUG on.
RUN_ADDRESS ?= 127.0.0.1:8000
run: export DEBUG ?= 1
run: install
	$(PY) manage.py migrate --noinput
	$(PY) manage.py sync_course
	$(PY) manage.py demo_users
	$(PY) manage.py serve $(RUN_ADDRESS)

test: install
	$(PY) -m pytest

lint: install
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/ruff check .
	$(VENV)/bin/lint-imports
	$(VENV)/bin/mypy

check-course: export DEBUG ?= 1
check-course: install
	$(PY) manage.py check_course

# exercises/schema.json, from the exercise models in grader/engine/schema/ (a test in `make test`
# fails when the checked-in copy differs).
schema: install
	$(PY) -m grader.engine.schema --write

bench: export DEBUG ?= 1
bench: install
	$(PY) -m benchmarks

clean:
	rm -rf $(VENV) var .pytest_cache
