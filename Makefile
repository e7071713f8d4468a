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
manifests: $(CONTROLLER_GEN) ## Generate the CRD into config/crd and RBAC into config/rbac.
	$(CONTROLLER_GEN) crd:allowDangerousTypes=true,generateEmbeddedObjectMeta=true paths=./api/... output:crd:artifacts:config=config/crd
	$(CONTROLLER_GEN) rbac:roleName=ramp-controller paths=./controllers/... output:rbac:artifacts:config=config/rbac

.PHONY: verify
verify: generate manifests ## Fail when generated code or manifests are stale, or go vet complains.
	go vet ./...
	@git diff --exit-code -- api config || { echo "generated files are stale: run make generate manifests and commit"; exit 1; }
	@test -z "$$(git status --porcelain -- api config)" || { git status --porcelain -- api config; echo "untracked generated files"; exit 1; }

.PHONY: build
build: ## Build ramp-controller into bin/.
	go build -o $(BIN)/ramp-controller ./cmd/ramp-controller

.PHONY: test
test: tools verify ## Run every test: unit, fuzz seeds and envtest suites on a real kube-apiserver and etcd.
	go test $(GO_TEST_FLAGS) ./... 2>&1 | tee /tmp/ramp-test.log
