# Ramp — make help lists the targets.
SHELL := /usr/bin/env bash -o pipefail
ROOT := $(abspath .)
BIN := $(ROOT)/bin
CONTROLLER_GEN := $(BIN)/controller-gen
export KUBEBUILDER_ASSETS := $(BIN)
GO_TEST_FLAGS ?= -count=1 -timeout 20m

.PHONY: help
help: ## List the targets.
	@awk 'BEGIN {FS = ":.*##"} /^[a-zA-Z_-]+:.*##/ {printf "  %-12s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

.PHONY: tools
tools: $(CONTROLLER_GEN) ## Build kube-apiserver, etcd and controller-gen from Go modules into bin/ (reused when present).
	hack/build-tools.sh etcd kube-apiserver

$(CONTROLLER_GEN):
	cd hack/tools/controller-gen && go build -o $(CONTROLLER_GEN) sigs.k8s.io/controller-tools/cmd/controller-gen

.PHONY: generate
generate: $(CONTROLLER_GEN) ## Generate deepcopy code.
	$(CONTROLLER_GEN) object:headerFile=hack/boilerplate.go.txt paths=./api/...

.PHONY: manifests
manifests: $(CONTROLLER_GEN) ## Generate the CRD into config/crd, RBAC into config/rbac and the Rollout schema for kustomize.
	$(CONTROLLER_GEN) crd:allowDangerousTypes=true,generateEmbeddedObjectMeta=true paths=./api/... output:crd:artifacts:config=config/crd
	$(CONTROLLER_GEN) rbac:roleName=ramp-controller paths=./controllers/... output:rbac:artifacts:config=config/rbac
	hack/sync-chart-crds.sh
	go run ./hack/kustomize-schema

.PHONY: verify
verify: generate manifests ## Fail when generated code or manifests are stale, or go vet complains.
	go vet ./...
	cd hack/charttest && go vet ./...
	@git diff --exit-code -- api config charts/ramp/crds || { echo "generated files are stale: run make generate manifests and commit"; exit 1; }
	@test -z "$$(git status --porcelain -- api config charts/ramp/crds)" || { git status --porcelain -- api config charts/ramp/crds; echo "untracked generated files"; exit 1; }

.PHONY: build
build: ## Build ramp-controller into bin/.
	go build -o $(BIN)/ramp-controller ./cmd/ramp-controller

.PHONY: test
test: tools verify ## Run every test: unit, fuzz seeds, envtest suites, then the end-to-end scenarios.
	go test $(GO_TEST_FLAGS) ./... 2>&1 | tee $(BIN)/test.log
	cd hack/charttest && go test $(GO_TEST_FLAGS) ./... 2>&1 | tee $(BIN)/charttest.log
	$(MAKE) e2e

.PHONY: test-chart
test-chart: tools ## Lint, render and dry-run the Helm chart; the controller under its RBAC; leader failover.
	cd hack/charttest && go test $(GO_TEST_FLAGS) ./...

BENCH_N ?= 100,1000,10000
BENCH_FLAGS ?=

.PHONY: bench
bench: tools ## Scale benchmark on envtest (N = $(BENCH_N), up to 10 min + 0.3 s per rollout a size); rewrites docs/BENCHMARKS.md and docs/bench.png. Not part of test.
	go run ./hack/bench -n $(BENCH_N) $(BENCH_FLAGS)

.PHONY: bench-hanging
bench-hanging: tools ## Rollback latency of healthy Rollouts while 50 others query a hanging Prometheus, before and after (docs/HANGING.md). Not part of test.
	hack/bench/hanging.sh

E2E_TOOLS := etcd kube-apiserver kube-controller-manager kube-scheduler kwok

.PHONY: e2e-deps
e2e-deps: ## Build the e2e control-plane tools into bin/ and install haproxy and prometheus (Debian; root).
	hack/build-tools.sh $(E2E_TOOLS)
	hack/install-e2e-deps.sh

.PHONY: e2e
e2e: e2e-deps ## End-to-end scenarios a–h on a real local stack (~9 min); writes e2e/RESULTS.md.
	go test -tags e2e -p 1 -count=1 -v -timeout 40m ./e2e/... 2>&1 | tee $(BIN)/e2e.log | grep -E '^(=== RUN|--- |PASS|FAIL|ok|\?|panic)|_test.go:|\|'

.PHONY: demo
demo: e2e-deps ## Show a promotion and a rollback on a local control plane in about three minutes; Ctrl-C stops everything.
	go build -o $(BIN)/ramp-demo ./e2e/cmd/demo
	$(BIN)/ramp-demo
