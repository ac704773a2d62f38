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

log() { printf 'deploy-tools: %s\n' "$*" >&2; }
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
apt_install() {
    log "installing $* (apt)"
    export DEBIAN_FRONTEND=noninteractive
    $SUDO apt-get update -qq
    $SUDO apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

VENV=target/k8s-tools
if ! "$VENV/bin/kubernetes-validate" --version 2>/dev/null | grep -q "$KUBERNETES_VALIDATE"; then
    command -v python3 >/dev/null || apt_install python3
    python3 -c 'import ensurepip' 2>/dev/null || apt_install python3-venv
    python3 -m venv "$VENV"
    log "installing kubernetes-validate $KUBERNETES_VALIDATE"
    "$VENV/bin/pip" install -q "kubernetes-validate==$KUBERNETES_VALIDATE"
fi
command -v kubectl >/dev/null || log "warning: kubectl is not installed; the deploy tests render with 'kubectl kustomize'"

echo "export SLUICE_KUBERNETES_VALIDATE=$root/$VENV/bin/kubernetes-validate"
