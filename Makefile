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

test: install controlplane ## run all tests: unit, real control plane, Prometheus, helm
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

controlplane: ## build kube-apiserver, controller-manager, scheduler, etcd, kubectl, helm from pinned Go modules (cached)
	deploy/controlplane/build.sh

cluster-up: controlplane ## start the local control plane in the background and print its KUBECONFIG
	$(PYTHON) -m tests.support.controlplane up

cluster-status: ## show whether the control plane of cluster-up runs
	$(PYTHON) -m tests.support.controlplane status

cluster-down: ## stop the control plane of cluster-up and remove its data
	$(PYTHON) -m tests.support.controlplane down

.PHONY: controlplane cluster-up cluster-status cluster-down
