# kubesat developer tasks. `make help` lists them.
SHELL := /bin/bash
PYTHON ?= python3

.DEFAULT_GOAL := help

help: ## list the targets
	@grep -E '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-16s %s\n", $$1, $$2}'

install: ## install kubesat with its development tools (editable)
	$(PYTHON) -m pip install -e '.[dev]'

simulate: install ## the main job: simulate the example constellation under every policy
	kubesat simulate examples/sso-12.yaml --duration 24h --policy all --json out/sso-12.json --plots out/plots

test: install ## run all tests: unit, real control plane, Prometheus, helm
	$(PYTHON) -m pytest -q

test-unit: ## run the fast unit tests only (no cluster needed)
	$(PYTHON) -m pytest -q tests/unit

lint: ## ruff, formatting and the pure-core import contract
	ruff check operator tests benchmarks
	ruff format --check operator tests benchmarks
	lint-imports

bench: ## run the benchmarks (print measured ratios)
	$(PYTHON) benchmarks/propagation.py

.PHONY: help install simulate test test-unit lint bench
