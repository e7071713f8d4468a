#!/usr/bin/env bash
# Copy the generated CRDs (config/crd, written by `make manifests`) into the
# Helm chart's crds/ folder. The chart's copies are never edited by hand.
set -euo pipefail
cd "$(dirname "$0")/.."
rm -f charts/ramp/crds/*.yaml
cp config/crd/*.yaml charts/ramp/crds/
