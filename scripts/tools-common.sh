# Shared by scripts/policy-tools.sh and scripts/deploy-tools.sh (sourced, not run):
# apt installs with sudo where needed, and pinned Python tools in a virtual environment.
# The sourcing script sets TOOL (its name, for log lines).

log() { printf '%s: %s\n' "${TOOL:-tools}" "$*" >&2; }

SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
apt_install() {
    log "installing $* (apt)"
    export DEBIAN_FRONTEND=noninteractive
    $SUDO apt-get update -qq
    $SUDO apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

# pip_tool VENV PACKAGE VERSION COMMAND: unless VENV/bin/COMMAND --version mentions
# VERSION, makes VENV (Debian's pip refuses global installs, PEP 668) and installs
# PACKAGE==VERSION into it.
pip_tool() {
    local venv=$1 package=$2 version=$3 command=$4
    if "$venv/bin/$command" --version 2>/dev/null | grep -q "$version"; then
        return 0
    fi
    command -v python3 >/dev/null || apt_install python3
    python3 -c 'import ensurepip' 2>/dev/null || apt_install python3-venv
    python3 -m venv "$venv"
    log "installing $package $version"
    "$venv/bin/pip" install -q "$package==$version"
}
