# One-command entry points (contract: ../shared/DESIGN.md). Every target installs what is missing first.
SHELL := /bin/bash
PY := .venv/bin/python

.PHONY: setup venv stack stack-down demo test unit lint fmt chaos bench bench-quick

setup:  ## virtualenv, Postgres server, Chromium, Kafka and Spark jars (idempotent)
	@bash scripts/setup.sh

venv:  ## the virtualenv alone (what unit, lint and fmt need)
	@bash scripts/setup.sh python

stack: setup  ## start the local Kafka broker and Postgres in the background, schema applied
	@$(PY) -m devstack up

stack-down:  ## stop the local Kafka broker and Postgres
	@if [ -x $(PY) ]; then $(PY) -m devstack down; else echo "[stack] nothing to stop (no .venv)"; fi

demo: setup  ## stack + producer + streaming job + webapp in one terminal; Ctrl-C stops everything
	@$(PY) -m devstack demo

test: setup  ## every test: unit, integration (real Kafka, Spark, Postgres) and end to end
	@# Two workers (most of a test's time is waiting on servers and processes), each with its own Kafka and
	@# Postgres and given the next test as it finishes one, so the long ones spread over both; tests that
	@# share a module's servers stay together. On servers named in the environment, one: tests empty tables.
	@$(PY) -m pytest -n $(if $(and $(KAFKA_BOOTSTRAP_SERVERS),$(DATABASE_URL)),0,2) --dist loadgroup

unit: venv  ## the pure tests, no server (seconds)
	@$(PY) -m pytest tests/unit -q

lint: venv  ## ruff (lint and format check) and mypy; fails on any finding
	@.venv/bin/ruff check .
	@.venv/bin/ruff format --check .
	@.venv/bin/mypy

fmt: venv  ## format the code and apply ruff's safe fixes
	@.venv/bin/ruff format .
	@.venv/bin/ruff check --fix .

bench: setup  ## the benchmarks on a private local stack (about 50 minutes); report in bench/results/ and README
	@$(PY) -m bench

bench-quick: setup  ## the harness's smoke tests (pytest -m bench), then the benchmarks, one run each at smaller sizes
	@$(PY) -m pytest -m bench -q
	@$(PY) -m bench --quick

chaos: setup  ## the long fault tests (60 s outages, many kills, every Kafka node killed in turn); counts in var/fault-counts.log
	@rm -f var/fault-counts.log
	@$(PY) -m pytest -m chaos; status=$$?; cat var/fault-counts.log 2>/dev/null; exit $$status
