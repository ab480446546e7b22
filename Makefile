# The single entry point. `make help` lists the targets.
SHELL := /bin/bash
PY ?= python3
VENV := venv
BIN := $(VENV)/bin
STACK ?= dev
STACKS := dev staging prod
RENDERED := build/rendered
# CRD schemas for custom resources: the reference tree beside the clone, else build/crds
# (`make crds`); tools/inputs.py decides, for the tests too.
CRDS_DIR ?= $(shell $(PY) tools/inputs.py crds-dir)
export CRDS_DIR
CHECKOV_VENV := .venv-checkov
# Local file backend and an empty passphrase (unless set) for the dev stack only, for every
# target that runs pulumi: no Pulumi Cloud account needed on a laptop. Other stacks use
# whatever `pulumi login` chose; prod and staging refuse a file backend.
STATE_DIR ?= $(CURDIR)/.pulumi-state
ifeq ($(STACK),dev)
export PULUMI_BACKEND_URL ?= file://$(STATE_DIR)
export PULUMI_CONFIG_PASSPHRASE ?=
$(shell mkdir -p $(STATE_DIR))
endif
KIND_CLUSTER := k8s-platform-dev
# The smoke suite's cluster: the kind dev cluster unless told otherwise.
E2E_KUBE_CONTEXT ?= kind-$(KIND_CLUSTER)
# The dev Gateway through kind's port mapping (kind/dev-cluster.yaml): `*.localhost` names
# resolve in browsers and curl but not in Python on Linux.
ifeq ($(STACK),dev)
export E2E_GATEWAY_ADDRESS ?= 127.0.0.1:8443
endif
# prod: `make doctor STACK=prod MGMT_CONTEXT=<ctx>` also checks the management cluster.
MGMT_CONTEXT ?=
# The management cluster's supported minors, from the compatibility matrix (./venv: doctor
# builds it first when MGMT_CONTEXT is given).
MGMT_MINOR ?= $(shell $(BIN)/python -m kernel.compat management-range)

.PHONY: help venv test lint unit realjobs apiserver engines live live-dev render validate validate-k8s checkov yamllint crds snapshot \
	dev preview up kind-up kind-down clean doctor destroy e2e runtime charts versions output config urn \
	protected unprotect stack-rm

help: ## List the targets
	@grep -E '^[a-z0-9-]+:.*##' $(MAKEFILE_LIST) | sed 's/:.*## /\t/' | expand -t 14

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet uv==0.13.9

venv: $(BIN)/python ## Create ./venv (the one Pulumi.yaml names) with every dependency
	$(BIN)/uv pip install --quiet --python $(BIN)/python -r requirements-dev.txt

lint: venv ## ruff, mypy and vulture (dead code)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/vulture

unit: venv ## pytest tests/unit (the program under mocks, settings, preflights), tests/contract (the full render), policy/tests
	$(BIN)/python -m pytest -n 2 -m "not realjobs and not live and not apiserver"  # both cores: the suite evaluates the program many times

realjobs: venv ## The etcd-snapshot and bucket Jobs run for real (etcd, moto S3 server, aws CLI)
	$(BIN)/python -m pytest -n 2 -m realjobs

# ENGINES_BIN names engines built elsewhere; otherwise `make engines` builds them (once).
apiserver: venv render $(if $(ENGINES_BIN),,engines) ## Each stack's render judged by a real kube-apiserver: schemas, CRDs, Pod Security, admission policies
	$(BIN)/python -m pytest -p no:xdist -m apiserver tests/apiserver

test: lint unit realjobs validate apiserver live ## Everything CI runs: lint, tests, render, validators, the API server tier, then the real engines

engines: ## Build the real engines (API server, Pulumi CLI, providers, kwok) into build/engines/bin
	engines/build.sh

# The live suite runs in a private network namespace where it may (tests/live/netns.sh).
LIVE := tests/live/netns.sh $(BIN)/python -m pytest -p no:xdist -m live -rs --durations=10
live: venv engines render ## The real Pulumi engine on loopback API servers: dev, staging and prod up, checks, upgrade, destroy
	$(LIVE) tests/live

live-dev: venv engines render ## make live for dev alone
	$(LIVE) tests/live/test_live_dev.py

render: venv ## Render every stack offline into build/rendered/<stack> (YAML + footprint)
	@# One process for every stack: the Helm library and the template parse cache are shared.
	$(BIN)/python tools/render.py --stacks $(STACKS) --out $(RENDERED)

snapshot: venv ## Record the dev and prod stacks' full render in tests/snapshots/render.json (after an intended change)
	$(BIN)/python tools/render.py --snapshot tests/snapshots/render.json

validate: validate-k8s checkov yamllint ## Every offline validator on the rendered stacks

validate-k8s: render ## kubernetes-validate --strict (our objects and the charts') for each stack's Kubernetes version
	$(BIN)/python -m verify.validate_k8s $(addprefix $(RENDERED)/,$(STACKS))

$(CHECKOV_VENV)/bin/checkov:
	$(PY) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/pip install --quiet uv==0.13.9
	$(CHECKOV_VENV)/bin/uv pip install --quiet --python $(CHECKOV_VENV)/bin/python checkov==3.3.30

checkov: render $(CHECKOV_VENV)/bin/checkov ## checkov on our objects and every chart's: zero unwaived failures
	@# One run per stack over its whole render (our objects beside the chart objects, so graph
	@# checks see our NetworkPolicies); an unchanged render reuses its cached report.
	$(BIN)/python tools/checkov_run.py --checkov $(CHECKOV_VENV)/bin/checkov \
	  --cache build/checkov-cache $(addprefix $(RENDERED)/,$(STACKS))
	$(BIN)/python -m verify.checkov_report --skips verify/checkov_skips.yaml \
	  $(foreach s,$(STACKS),$(RENDERED)/$(s)/checkov.json --rendered $(RENDERED)/$(s))

versions: venv ## Newest release of every pinned component, and each Kubernetes minor's end of life (needs the network)
	$(BIN)/python tools/versions.py

charts: venv ## Pull every catalogue chart with its dependencies into build/charts (needs the chart repositories)
	$(BIN)/python tools/chart_sources.py pull

crds: ## Fetch the pinned CRD schemas into build/crds (where ../shared is not beside the clone)
	mkdir -p build/crds
	grep -v '^#' tools/crd_sources.txt | while read -r name url; do \
	  curl -fsSL --retry 3 -o build/crds/$$name "$$url" || { echo "cannot fetch $$url" >&2; exit 1; }; done

yamllint: render ## yamllint the rendered YAML and the workflows
	@# Our own YAML only: chart objects are upstream text (long PromQL lines, block
	@# scalars), checked for meaning by the validators above, not for style.
	$(BIN)/yamllint -c .yamllint.yaml --strict $(foreach s,$(STACKS),$(addprefix $(RENDERED)/$(s)/,k8s crs charts)) \
	  .github/workflows

kind-up: ## Create the dev cluster: 1 control plane + 3 workers in zones a/b/c
	kind create cluster --config kind/dev-cluster.yaml

kind-down: ## Delete the dev cluster
	kind delete cluster --name $(KIND_CLUSTER)

# The runtime requirements only (requirements.txt): what `pulumi up` needs, no test tools.
runtime: $(BIN)/python ## Install only the program's runtime requirements into ./venv
	$(BIN)/uv pip install --quiet --python $(BIN)/python -r requirements.txt

doctor: $(if $(MGMT_CONTEXT),venv) ## Check every prerequisite and its minimum version (STACK=prod: CAPI tools, MGMT_CONTEXT)
	@$(PY) tools/doctor.py --stack $(STACK) \
	  $(if $(MGMT_CONTEXT),--mgmt-context $(MGMT_CONTEXT) --mgmt-minor $(MGMT_MINOR))

dev: doctor runtime ## Deploy the dev stack to the kind cluster kind-k8s-platform-dev (local state)
	pulumi stack select --create dev && pulumi up --stack dev

preview: runtime ## pulumi preview for STACK (default dev)
	pulumi stack select --create $(STACK) && pulumi preview --stack $(STACK) --diff

up: runtime ## pulumi up for STACK (REPLACE=<urn> replaces that resource)
	pulumi up --stack $(STACK) $(if $(REPLACE),--replace '$(REPLACE)')

output: ## A stack output of STACK: OUTPUT=<name> (all when unset), SECRETS=1 shows secrets
	@pulumi stack output $(OUTPUT) --stack $(STACK) $(if $(SECRETS),--show-secrets)

config: ## Set a config key of STACK: KEY=<path> VALUE=<value>, SECRET=1 encrypts it
	pulumi config set --path $(if $(SECRET),--secret) --stack $(STACK) -- '$(KEY)' '$(VALUE)'

urn: ## The URN of the resource NAME in STACK's state (for REPLACE= and URN=)
	@pulumi stack export --stack $(STACK) | $(PY) tools/stack_state.py urn '$(NAME)'

protected: ## List STACK's resources still protected (from `pulumi stack export`); fails if any
	@pulumi stack export --stack $(STACK) | $(PY) tools/stack_state.py protected

unprotect: ## Release one protected resource of STACK: URN=<urn>
	pulumi state unprotect --stack $(STACK) --yes '$(URN)'

destroy: runtime ## dev: pulumi destroy, then delete the kind cluster; other STACKs: pulumi destroy
ifeq ($(STACK),dev)
	@if kind get clusters 2>/dev/null | grep -qx '$(KIND_CLUSTER)'; then \
	  pulumi destroy --yes --stack dev && kind delete cluster --name $(KIND_CLUSTER); \
	else \
	  echo "kind cluster $(KIND_CLUSTER) is gone: dropping the dev stack's state (config kept)"; \
	  pulumi stack rm --yes --force --preserve-config dev; \
	fi
else
	pulumi destroy --stack $(STACK)
endif

stack-rm: ## Remove STACK once `make destroy` left no resources (its stack file stays)
	pulumi stack rm --stack $(STACK) --preserve-config

e2e: venv ## Smoke suite (tests/e2e) against E2E_KUBE_CONTEXT; Grafana URL from the stack
	E2E_GRAFANA_URL="$${E2E_GRAFANA_URL:-$$(pulumi stack output grafanaPublicUrl --stack $(STACK))}" \
	  $(BIN)/python -m pytest tests/e2e --kube-context=$(E2E_KUBE_CONTEXT) -rs

clean: ## Remove generated files (keeps the state directory)
	rm -rf $(VENV) .venv-checkov build .mypy_cache .ruff_cache
