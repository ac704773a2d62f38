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

log "ready"
