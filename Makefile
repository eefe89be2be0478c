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

deps: ## install the Debian packages the tests need (prometheus, promtool, openssl, shellcheck; sudo when not root)
	deploy/install-system-packages.sh

test: deps install controlplane docs ## install everything the tests need, build the docs, then run all tests: unit, real control plane, Prometheus, helm
	$(PYTHON) -m pytest -q

test-unit: ## run the fast unit tests only (no cluster needed)
	$(PYTHON) -m pytest -q tests/unit

lint: ## ruff, formatting and the pure-core import contract
	ruff check operator tests benchmarks deploy/dashboards
	ruff format --check operator tests benchmarks deploy/dashboards
	lint-imports

bench: ## run the benchmarks (print measured ratios)
	$(PYTHON) benchmarks/propagation.py

.PHONY: help deps install simulate test test-unit lint bench

# -- documentation: the MkDocs site in docs/, reference pages generated from the sources
reference: ## write docs/reference/ (CRD fields, metrics, CLI) from crds/, metrics.py and the parsers
	$(PYTHON) -m kubesat.docgen

docs: install ## fail on a stale reference page, then build the site with mkdocs --strict into site/
	$(PYTHON) -m kubesat.docgen --check
	NO_MKDOCS_2_WARNING=1 $(PYTHON) -m mkdocs build --strict --site-dir site

.PHONY: reference docs

controlplane: ## build kube-apiserver, controller-manager, scheduler, etcd, kubectl, helm from pinned Go modules (cached)
	@command -v go >/dev/null || { echo "Go is required to build the control plane (apt-get install golang-go, or go.dev)" >&2; exit 1; }
	deploy/controlplane/build.sh

cluster-up: controlplane ## start the local control plane in the background and print its KUBECONFIG
	$(PYTHON) -m tests.support.controlplane up

cluster-status: ## show whether the control plane of cluster-up runs
	$(PYTHON) -m tests.support.controlplane status

cluster-down: ## stop the control plane of cluster-up and remove its data
	$(PYTHON) -m tests.support.controlplane down

.PHONY: controlplane cluster-up cluster-status cluster-down

# -- packaging: image, Helm chart, kind quickstart ------------------------------------
VERSION := $(shell sed -n 's/^version = "\(.*\)"$$/\1/p' pyproject.toml | head -n 1)
IMAGE ?= kubesat:$(VERSION)

dashboards: ## write deploy/dashboards/*.json from their Python modules, then copy them into the chart
	$(PYTHON) -m deploy.dashboards.build
	deploy/sync-chart-assets.sh

chart-sync: ## copy crds/, deploy/dashboards, deploy/alerts and the RBAC rules into charts/kubesat
	deploy/sync-chart-assets.sh

verify: ## fail if the chart's copies (CRDs, dashboards, alerts, RBAC rules) or docs/reference/ differ from their sources
	deploy/sync-chart-assets.sh --check
	$(PYTHON) -m deploy.dashboards.build --check
	$(PYTHON) -m kubesat.docgen --check

image: ## build the operator image kubesat:<version> (needs Docker; IMAGE=... to rename)
	docker build -t $(IMAGE) .

kind-up: ## kind cluster + kube-prometheus-stack + kubesat chart + example (needs Docker, kind, helm)
	deploy/kind/up.sh

kind-down: ## delete the kind cluster of kind-up
	deploy/kind/down.sh

.PHONY: dashboards chart-sync verify image kind-up kind-down

# -- observability: metrics, dashboards, alerts ----------------------------------------
METRICS_PORT ?= 9464

alerts: ## check and unit-test the Prometheus alert rules with promtool
	promtool check rules deploy/alerts/kubesat-rules.yaml
	promtool test rules deploy/alerts/kubesat-rules.test.yaml

test-prometheus: ## dashboards and alerts against a real Prometheus scraping a live simulation
	$(PYTHON) -m pytest -q -m prometheus tests/integration/test_prometheus.py

simulate-live: install ## simulate sso-12 at its clock's speedup, serving metrics on port METRICS_PORT (9464)
	kubesat simulate examples/sso-12.yaml --duration 24h --metrics-port $(METRICS_PORT) --linger 600

.PHONY: alerts test-prometheus simulate-live
