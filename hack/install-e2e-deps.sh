#!/usr/bin/env bash
# Installs the Debian packages the e2e suite runs as real processes, when they
# are missing: haproxy (the gateway's data plane) and prometheus (analysis).
# Needs root (CI runs as root). Neither package starts a service here (no
# systemd); the e2e harness starts and stops them itself.
set -euo pipefail

missing=()
command -v haproxy >/dev/null 2>&1 || missing+=(haproxy)
command -v prometheus >/dev/null 2>&1 || missing+=(prometheus)

if [[ ${#missing[@]} -eq 0 ]]; then
	echo "hack/install-e2e-deps: haproxy and prometheus present, nothing to do"
	exit 0
fi

SUDO=
[[ $(id -u) -ne 0 ]] && SUDO=sudo
echo "hack/install-e2e-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
# One update first, so a fresh machine (empty package lists) can install.
$SUDO apt-get update
$SUDO apt-get install -y --no-install-recommends "${missing[@]}"
haproxy -v | head -1
prometheus --version 2>&1 | head -1
