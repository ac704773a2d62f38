#!/usr/bin/env bash
# Installs kubernetes-validate (PyPI), pinned, in a virtual environment under
# target/k8s-tools; the deploy tests validate every rendered overlay with it.
# Idempotent: a second run checks the version and returns. Prints the environment
# variable the tests read, for `eval "$(scripts/deploy-tools.sh)"`. `kubectl` (with its
# built-in kustomize) is expected on the machine.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

KUBERNETES_VALIDATE=1.37.0

TOOL=deploy-tools
. scripts/tools-common.sh

VENV=target/k8s-tools
pip_tool "$VENV" kubernetes-validate "$KUBERNETES_VALIDATE" kubernetes-validate
command -v kubectl >/dev/null || log "warning: kubectl is not installed; the deploy tests render with 'kubectl kustomize'"

echo "export SLUICE_KUBERNETES_VALIDATE=$root/$VENV/bin/kubernetes-validate"
