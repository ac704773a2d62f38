#!/usr/bin/env bash
# Installs what building and testing sluice needs on a Debian machine with Rust
# (rustup) installed. Idempotent: safe to run any number of times.
set -euo pipefail

log() { printf 'setup: %s\n' "$*" >&2; }

# The policies are WebAssembly components built for wasm32-wasip2.
if ! rustup target list --installed 2>/dev/null | grep -qx wasm32-wasip2; then
    log "installing the Rust target wasm32-wasip2"
    rustup target add wasm32-wasip2
fi

# git2 builds libgit2 and libssh2 against the system's OpenSSL.
missing=()
dpkg -s libssl-dev >/dev/null 2>&1 || missing+=(libssl-dev)
command -v pkg-config >/dev/null || missing+=(pkg-config)
command -v cc >/dev/null || missing+=(gcc)
if [ ${#missing[@]} -gt 0 ]; then
    SUDO=""
    [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    log "installing ${missing[*]} (apt)"
    export DEBIAN_FRONTEND=noninteractive
    $SUDO apt-get update -qq
    $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

log "ready"
