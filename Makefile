# One-command entry points (contract: ../shared/DESIGN.md). Every target installs what is missing first.
SHELL := /bin/bash
PY := .venv/bin/python

.PHONY: setup stack stack-down demo test chaos bench bench-quick

setup:  ## virtualenv, Postgres server, Chromium, Kafka and Spark jars (idempotent)
	@bash scripts/setup.sh

stack: setup  ## start the local Kafka broker and Postgres in the background, schema applied
	@$(PY) -m devstack up

stack-down:  ## stop the local Kafka broker and Postgres
	@if [ -x $(PY) ]; then $(PY) -m devstack down; else echo "[stack] nothing to stop (no .venv)"; fi

demo: setup  ## stack + producer + streaming job + webapp in one terminal; Ctrl-C stops everything
	@$(PY) -m devstack demo

test: setup  ## every test: unit, integration (real Kafka, Spark, Postgres) and end to end
	@$(PY) -m pytest

bench: setup  ## the benchmarks on a private local stack (~15-20 min); report in bench/results/ and README
	@$(PY) -m bench

bench-quick: setup  ## the same benchmarks, one run each at smaller sizes (a few minutes)
	@$(PY) -m bench --quick

chaos: setup  ## the long fault tests (60 s outages, many kills, every Kafka node killed in turn); counts in var/fault-counts.log
	@rm -f var/fault-counts.log
	@$(PY) -m pytest -m chaos; status=$$?; cat var/fault-counts.log 2>/dev/null; exit $$status
