# The single entry point. `make help` lists the targets.
SHELL := /bin/bash
PY ?= python3
VENV := venv
BIN := $(VENV)/bin
STACK ?= dev
# Local file backend: no Pulumi Cloud account needed for dev.
STATE_DIR ?= $(CURDIR)/.pulumi-state
export PULUMI_BACKEND_URL ?= file://$(STATE_DIR)

.PHONY: help venv test lint unit dev preview up kind-up kind-down clean

help: ## List the targets
	@grep -E '^[a-z-]+:.*##' $(MAKEFILE_LIST) | sed 's/:.*## /\t/' | expand -t 14

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet uv==0.13.9

venv: $(BIN)/python ## Create ./venv (the one Pulumi.yaml names) with every dependency
	$(BIN)/uv pip install --quiet --python $(BIN)/python -r requirements-dev.txt

lint: venv ## ruff and mypy
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

unit: venv ## pytest: the whole program per stack under mocks, settings, policies, preflights
	$(BIN)/python -m pytest

test: lint unit ## Everything CI runs: lint, tests, offline render and validation

kind-up: ## Create the dev cluster: 1 control plane + 3 workers in zones a/b/c
	kind create cluster --config kind/dev-cluster.yaml

kind-down: ## Delete the dev cluster
	kind delete cluster --name k8s-platform-dev

dev: venv ## Deploy the dev stack to the current kube context (local state)
	mkdir -p $(STATE_DIR)
	export PULUMI_CONFIG_PASSPHRASE="$${PULUMI_CONFIG_PASSPHRASE-}"; \
	  pulumi stack select --create dev && pulumi up --stack dev

preview: venv ## pulumi preview for STACK (default dev)
	mkdir -p $(STATE_DIR)
	pulumi stack select --create $(STACK) && pulumi preview --stack $(STACK) --diff

up: venv ## pulumi up for STACK
	pulumi up --stack $(STACK)

clean: ## Remove generated files (keeps the state directory)
	rm -rf $(VENV) .venv-checkov build .mypy_cache .ruff_cache
