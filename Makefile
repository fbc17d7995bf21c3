# 党员志愿服务平台 — the two commands a newcomer needs: `make run` and `make test`.
# Needs only Python 3.11 and make; PostgreSQL, Redis and Chromium are used when present.

PYTHON ?= $(shell command -v python3.11 2>/dev/null || command -v python3)
VENV   := .venv
PY     := $(VENV)/bin/python
HOST   ?= 127.0.0.1
PORT   ?= 8000
# Test processes (pytest-xdist): one more than the cores, since a worker often waits on PostgreSQL, Chromium or a
# Celery worker (on 2 cores the whole suite took 655 s with 3 workers against 720 s with 2); each gets its own test
# database and Redis database (volunteer_platform/settings_test.py). `make test TEST_WORKERS=0` runs in one process.
# The tests of a module that shares rows made once (the demo, the permission tables: tests/personas.py module_rows)
# run in one worker; the others go wherever a worker is free (tests/conftest.py: pytest_xdist_make_scheduler).
TEST_WORKERS ?= $(shell $(PYTHON) -c 'import os; print((os.cpu_count() or 1) + 1)')

.PHONY: run test test-thorough lint format check-migrations translations messages clean help stack-test bench lock

help:
	@echo "make run    - install, migrate, load demo data, start web + Celery worker + beat on http://$(HOST):$(PORT)/"
	@echo "make test   - install dev requirements and run the whole test suite"
	@echo "make test-thorough - the whole hostile-input corpus, the longer reconcile machine, more fuzzing (.ci/run runs it)"
	@echo "make lint   - ruff check + format check"
	@echo "make stack-test - production stack on 127.0.0.1: 2 gunicorn + 2 workers + beat, one of each killed mid-run"
	@echo "make bench  - seed a district into PostgreSQL (once), then load-test gunicorn with locust (bench/run.py)"

$(VENV)/bin/python:
	$(PYTHON) -c 'import sys; assert sys.version_info[:2] == (3, 11), f"Python 3.11 needed, found {sys.version.split()[0]}"'
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip

# Installs come from the locked files (exact versions with their hashes); `make lock` writes them from the ranges in
# requirements*.in.
$(VENV)/.installed-run: requirements.txt | $(VENV)/bin/python
	$(VENV)/bin/pip install --quiet --require-hashes -r requirements.txt
	touch $@

$(VENV)/.installed-dev: requirements.txt requirements-dev.txt | $(VENV)/bin/python
	$(VENV)/bin/pip install --quiet --require-hashes -r requirements-dev.txt
	touch $@ $(VENV)/.installed-run

run: export DEBUG ?= true
run: $(VENV)/.installed-run
	mkdir -p var
	$(PY) manage.py migrate --no-input
	$(PY) manage.py sync_schedules
	$(PY) manage.py compiletranslations
	$(PY) manage.py seed_demo --if-empty
	$(PY) manage.py rundev --host $(HOST) --port $(PORT)

test: export DJANGO_SETTINGS_MODULE = volunteer_platform.settings_test
# Bytecode kept even where the environment says not to (PYTHONDONTWRITEBYTECODE): without it every process compiles
# the project, and pytest rewrites every test module's asserts again (10 s of a collection's 15, in each worker and
# in every Celery worker, server and pytest the tests start).
test: export PYTHONDONTWRITEBYTECODE =
test: $(VENV)/.installed-dev
	mkdir -p var
	$(PY) manage.py compiletranslations
	$(PY) -m pytest -n $(TEST_WORKERS) -m "not thorough" $(PYTEST_ARGS)

# The heavier variants `make test` keeps small to stay within minutes: the tests marked `thorough` (the hostile
# corpus into the admin's forms, the reconcile machine's random sequences, the 5,000-row import), the whole
# hostile-input corpus into every typed field, the reconcile machine's ci profile, 25 fuzzing examples per target
# instead of 10, and 40 schemathesis examples per API operation and persona instead of 8 (.ci/run runs this after
# `make test`).
test-thorough: export DJANGO_SETTINGS_MODULE = volunteer_platform.settings_test
test-thorough: export PYTHONDONTWRITEBYTECODE =
test-thorough: export NAUGHTY = full
test-thorough: export INVARIANTS_PROFILE = ci
test-thorough: export FUZZ = full
test-thorough: export API_CONTRACT_EXAMPLES = 40
test-thorough: $(VENV)/.installed-dev
	$(PY) manage.py compiletranslations
	$(PY) -m pytest -n $(TEST_WORKERS) -m "thorough" --deselect $(IMPORT_TIMING) $(PYTEST_ARGS)
	$(PY) -m pytest -n $(TEST_WORKERS) -m "not thorough" tests/security/test_naughty.py \
		tests/reconcile/test_invariants.py tests/security/test_fuzz.py tests/api/test_contract.py $(PYTEST_ARGS)
	$(PY) -m pytest -n 0 $(IMPORT_TIMING) $(PYTEST_ARGS)

# A measurement against the clock (30 s for 5,000 rows, about 10 s alone on 2 cores): run alone, after the rest, so
# that it measures the import and not two other workers sharing its cores (33 s once in CI beside them).
IMPORT_TIMING := tests/members/test_import_export.py::test_an_import_of_5000_rows_takes_under_30_seconds

lint: export DJANGO_SETTINGS_MODULE = volunteer_platform.settings_test
lint: $(VENV)/.installed-dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

format: $(VENV)/.installed-dev
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

check-migrations: export DJANGO_SETTINGS_MODULE = volunteer_platform.settings_test
check-migrations: $(VENV)/.installed-dev
	$(PY) manage.py makemigrations --check --dry-run

# Two gunicorn instances, two Celery workers and one beat on production settings, sharing PostgreSQL (database
# vp_stack, recreated) and Redis db 7 on 127.0.0.1; the main journeys survive a killed web instance and worker
# (deploy/stack_test.py, docs/deploy.md). Needs both services; .ci/run runs it after `make test`.
stack-test: $(VENV)/.installed-dev
	$(PY) deploy/stack_test.py

# Refresh the English catalogue from the Chinese source strings (needs GNU gettext; compiling does not).
messages: export DEBUG ?= true
messages: $(VENV)/.installed-run
	$(PY) manage.py makemessages -l en --no-obsolete --ignore=.venv --ignore=var --ignore=static --ignore=tests --ignore=bench

# On demand, never part of `make test`: needs PostgreSQL and Redis on 127.0.0.1 (bench/config.py); results go to
# bench/results/. Pass options with BENCH_ARGS, e.g. make bench BENCH_ARGS="--seconds 10 --only home,me".
bench: $(VENV)/.installed-dev
	$(PY) bench/run.py $(BENCH_ARGS)

# Pin the ranges of requirements.in and requirements-dev.in (exact versions, every file's hash) into the .txt files
# that every install uses. To upgrade one package: make lock LOCK_ARGS="--upgrade-package django"; all of them:
# make lock LOCK_ARGS=--upgrade. Commit the .txt files with the .in change.
LOCK := $(VENV)/bin/pip-compile --quiet --generate-hashes --allow-unsafe --strip-extras --no-emit-index-url \
	--no-emit-find-links $(LOCK_ARGS)
lock: $(VENV)/.installed-dev
	$(LOCK) --output-file requirements.txt requirements.in
	$(LOCK) --output-file requirements-dev.txt requirements-dev.in

clean:
	rm -rf var/broker var/cache var/staticfiles var/test-media
