#!/usr/bin/env bash
# Sets up and runs every check and test: formatting, clippy (warnings are errors),
# and the whole workspace's tests. This is what CI runs (.ci/run).
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh
# The real servers the integration tests use: PostgreSQL, sshd, git's HTTP backend.
scripts/test-services.sh

echo "== cargo fmt --check"
cargo fmt --all -- --check

echo "== cargo clippy (-D warnings)"
cargo clippy --workspace --all-targets --locked -- -D warnings

echo "== cargo clippy for wasm32-wasip2 (-D warnings): the SDK's no_std and std runtimes"
for guest in threshold-retrain hostile-guest; do
    cargo clippy -p "$guest" --target wasm32-wasip2 --target-dir target/wasm-clippy --locked -- -D warnings
done

echo "== cargo test"
cargo test --workspace --locked
