# Thin wrappers a developer can read. `make demo` and `make test` each build .venv first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PG_ADMIN_URL ?= postgresql://postgres@127.0.0.1:5432/postgres
export TEST_DATABASE_URL ?= postgresql+psycopg://postgres@127.0.0.1:5432/kntc_test
export TEST_REDIS_URL ?= redis://127.0.0.1:6379/13
# Its own database, so checkouts side by side can run `make test` at once.
MIGRATIONS_DB ?= kntc_migrations
MIGRATIONS_URL := postgresql+psycopg://postgres@127.0.0.1:5432/$(MIGRATIONS_DB)

.PHONY: venv demo test lint types migrations-check unit bench clean lock

venv: $(STAMP)

$(STAMP): requirements.lock pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.lock
	$(BIN)/python -m pip install --quiet --no-deps -e .
	touch $(STAMP)

demo: venv
	$(BIN)/kntc demo

test: lint types migrations-check unit

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

types: venv
	$(BIN)/mypy

# One head, upgrade from empty, and no drift between the models and the migrations.
migrations-check: venv
	psql "$(PG_ADMIN_URL)" -q -c "DROP DATABASE IF EXISTS $(MIGRATIONS_DB) WITH (FORCE)" -c "CREATE DATABASE $(MIGRATIONS_DB)"
	DATABASE_URL=$(MIGRATIONS_URL) $(BIN)/alembic heads | grep -c head | grep -qx 1
	DATABASE_URL=$(MIGRATIONS_URL) $(BIN)/alembic upgrade head
	DATABASE_URL=$(MIGRATIONS_URL) $(BIN)/alembic check

unit: venv
	$(BIN)/pytest

# The intake surge, ours against the naive intake; e.g. make bench BENCH_ARGS="-n 5000 --redis-db 14"
# (bench/intake.py --help). wrk gives the load when installed (apt-get install wrk).
bench: venv
	$(BIN)/python bench/intake.py $(BENCH_ARGS)

# Re-pin every dependency after changing pyproject.toml.
lock: venv
	$(BIN)/python -m pip install --quiet uv
	$(BIN)/uv pip compile pyproject.toml --extra dev -o requirements.lock

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
