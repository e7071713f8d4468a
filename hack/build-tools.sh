#!/usr/bin/env bash
# Builds the real control-plane components the tests run against, from Go
# modules, into bin/. A binary already present is reused; delete it to rebuild.
# Nothing is downloaded except through the Go module proxy.
# Usage: hack/build-tools.sh [etcd] [kube-apiserver] [kube-controller-manager] [kube-scheduler] [kwok]
# (no argument: etcd kube-apiserver). The e2e suite needs all five.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
BIN="${BIN:-$ROOT/bin}"
mkdir -p "$BIN"

K8S_VERSION=v1.37.2
ETCD_VERSION=v3.6.16
KWOK_VERSION=v0.8.0 # pinned in hack/tools/kwok/go.mod; reports its version without ldflags

build() { # name dir pkg ldflags
	local name=$1 dir=$2 pkg=$3 ldflags=${4:-}
	if [[ -x "$BIN/$name" ]]; then
		echo "hack/build-tools: $name present in $BIN, reusing it"
		return
	fi
	echo "hack/build-tools: building $name from $pkg (first build of kube-apiserver takes ~10 min on 2 cores)"
	local start=$SECONDS
	(cd "$ROOT/hack/tools/$dir" && go build -trimpath -ldflags "$ldflags" -o "$BIN/$name.tmp" "$pkg")
	mv "$BIN/$name.tmp" "$BIN/$name"
	echo "hack/build-tools: built $name in $((SECONDS - start))s"
}

vflags="-s -w -X k8s.io/component-base/version.gitVersion=${K8S_VERSION} -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=37"

want=("$@")
[[ ${#want[@]} -eq 0 ]] && want=(etcd kube-apiserver)
for t in "${want[@]}"; do
	case "$t" in
	etcd) build etcd etcd go.etcd.io/etcd/server/v3 "-s -w" ;;
	kube-apiserver) build kube-apiserver k8s k8s.io/kubernetes/cmd/kube-apiserver "$vflags" ;;
	kube-controller-manager) build kube-controller-manager k8s k8s.io/kubernetes/cmd/kube-controller-manager "$vflags" ;;
	kube-scheduler) build kube-scheduler k8s k8s.io/kubernetes/cmd/kube-scheduler "$vflags" ;;
	kwok) build kwok kwok sigs.k8s.io/kwok/cmd/kwok "-s -w" ;; # $KWOK_VERSION, ~5.5 min cold
	*) echo "hack/build-tools: unknown tool $t" >&2; exit 2 ;;
	esac
done
