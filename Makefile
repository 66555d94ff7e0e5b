# Herald — the two commands: `make run` and `make test`. See README.md.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
# Where `make test` runs its own PostgreSQL and Redis (loopback only).
PG_PORT ?= 54329
REDIS_PORT ?= 6399
# Where `make run` serves (the embedded PostgreSQL has no port: a socket in var/pg).
RUN_PORT ?= 8000
TEST_DATABASE_URL ?= postgres://postgres@127.0.0.1:$(PG_PORT)/herald
TEST_BROKER_URL ?= redis://127.0.0.1:$(REDIS_PORT)/0

# What mypy checks in `make lint` (config in pyproject.toml; tests and bench are not typed yet).
MYPY_PACKAGES ?= config core contacts whatsapp channels campaigns journeys infobip inbox ui api

.PHONY: run test unit integration lint services services-stop bench drill fuzz clean

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip

# Stamp files: reinstall only when the pins change.
$(VENV)/.runtime: $(PY) pyproject.toml requirements.lock
	$(PY) -m pip install -q -c requirements.lock -r <($(PY) scripts/deps.py runtime)
	@touch $@

$(VENV)/.dev: $(VENV)/.runtime
	$(PY) -m pip install -q -c requirements.lock -r <($(PY) scripts/deps.py dev)
	@touch $@

# The embedded PostgreSQL (var/pg) unless DATABASE_URL is set; migrate, demo admin, processes.
run: $(VENV)/.runtime
	$(PY) scripts/bootstrap_env.py
	RUN_PORT=$(RUN_PORT) $(PY) scripts/run.py

services:
	scripts/services.sh up $(PG_PORT) $(REDIS_PORT)

services-stop:
	scripts/services.sh down $(PG_PORT) $(REDIS_PORT)

lint: $(VENV)/.dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	HERALD_READ_DOTENV=false DEBUG=true $(PY) -W "ignore:Got an error checking a consistent" \
	  manage.py makemigrations --check --dry-run
	$(VENV)/bin/lint-imports --no-cache
	HERALD_READ_DOTENV=false DEBUG=true $(VENV)/bin/mypy $(MYPY_PACKAGES)

# On the checkout's own embedded PostgreSQL (var/pgtest), started and stopped by the session.
unit: $(VENV)/.dev
	$(PY) -m pytest -m "not integration and not browser" --disable-socket --allow-unix-socket --allow-hosts=127.0.0.1,::1,localhost $(PYTEST_ARGS)

# Integration tests must run, not skip: HERALD_REQUIRE_INTEGRATION turns a skip into a failure
# and a run of zero integration tests into a failure.
integration: $(VENV)/.dev services
	scripts/ensure_browser.sh
	DATABASE_URL=$(TEST_DATABASE_URL) CELERY_BROKER_URL=$(TEST_BROKER_URL) \
	CELERY_TASK_ALWAYS_EAGER=false HERALD_REQUIRE_INTEGRATION=1 \
	$(PY) -m pytest -m "integration or browser" $(PYTEST_ARGS)

test: lint unit integration

# The property-based tests with fresh draws (`make test` runs them derandomized): schemathesis
# with HERALD_FUZZ_EXAMPLES per operation (default 200), the others at their own sizes. The seed
# is printed; HERALD_FUZZ_SEED=N replays it.
fuzz: $(VENV)/.dev services
	DATABASE_URL=$(TEST_DATABASE_URL) CELERY_BROKER_URL=$(TEST_BROKER_URL) \
	CELERY_TASK_ALWAYS_EAGER=false HERALD_FUZZ=1 \
	$(PY) -m pytest -m property -s $(PYTEST_ARGS)

bench: $(VENV)/.dev services
	DATABASE_URL=$(TEST_DATABASE_URL) CELERY_BROKER_URL=$(TEST_BROKER_URL) $(PY) -m bench $(BENCH_ARGS)

drill: $(VENV)/.dev services
	DATABASE_URL=$(TEST_DATABASE_URL) CELERY_BROKER_URL=$(TEST_BROKER_URL) $(PY) -m bench.drill $(DRILL_ARGS)

clean:
	-[ -x $(PY) ] && for name in pg pgtest; do $(PY) -m core.embedded_pg stop --name $$name; done
	rm -rf $(VENV) var
