# One command to run the app, one to run the tests (see README "Quick start").
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test setup setup-dev lint typecheck format bench bench-web clean

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip

$(VENV)/.runtime: requirements.txt | $(VENV)/bin/python
	$(PIP) install --quiet -r requirements.txt
	touch $@

$(VENV)/.dev: requirements.txt requirements-dev.txt | $(VENV)/bin/python
	$(PIP) install --quiet -r requirements-dev.txt
	touch $@ $(VENV)/.runtime

.env:
	cp .env.example .env

setup: $(VENV)/.runtime .env
	$(PY) manage.py migrate --noinput
	$(PY) manage.py demo

setup-dev: $(VENV)/.dev

## Set up, create the demo data, then serve http://$(HOST):$(PORT) with a Celery worker + beat.
## Ctrl-C stops runserver; the trap, reset before it acts so that it runs once, asks the worker to
## stop and waits for its warm shutdown. The former `trap 'kill 0'` signalled its own shell too,
## which re-ran the trap: ~30 "Warm shutdown" lines, then make's "Segmentation fault".
run: setup
	@$(VENV)/bin/celery -A cerisepro worker --beat --loglevel INFO --concurrency 1 & worker=$$!; \
	trap 'trap - EXIT INT TERM; kill $$worker 2>/dev/null; wait $$worker' EXIT INT TERM; \
	$(PY) manage.py runserver $(HOST):$(PORT)

## Set up and run the whole test suite.
test: setup-dev
	$(VENV)/bin/pytest $(PYTEST_ARGS)

lint: setup-dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

typecheck: setup-dev
	$(VENV)/bin/mypy

format: setup-dev
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

clean:
	rm -rf var/ .pytest_cache

## Benchmarks (see BENCHMARKS.md). All three need PostgreSQL (default 127.0.0.1:5432, databases
## bench_import / bench_national / bench_web, created and dropped); the import also runs on SQLite
## with DATABASE_URL=sqlite:///var/bench.sqlite3. Full scale: BENCH_SCALE=1 BENCH_RUNS=1 (about
## 10 minutes). The national figures are medians of BENCH_RUNS paired floor/job runs.
BENCH_SCALE ?= 0.05
BENCH_RUNS ?= 3
bench: setup-dev
	$(PY) -m bench import
	$(PY) -m bench national --scale $(BENCH_SCALE) --runs $(BENCH_RUNS)

bench-web: setup-dev
	$(PY) -m bench web
