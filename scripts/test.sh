#!/usr/bin/env bash
# Sets up and runs every check and test: formatting, clippy (warnings are errors),
# and the whole workspace's tests. This is what CI runs (.ci/run).
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh

# A clean build of every test binary takes about 3.3 GB under target/. Say so up
# front rather than let the linker die half-way with "No space left on device".
# A checkout that has built before needs less, so there it is only a warning.
need_kb=$((4 * 1024 * 1024))
mkdir -p target
free_kb=$(df -Pk target | awk 'NR == 2 { print $4 }')
if [ "${free_kb:-0}" -lt "$need_kb" ]; then
    msg="only $((free_kb / 1024)) MiB free on the disk holding $(pwd)/target; a clean test
build needs about 4 GiB. Free some space (for example 'cargo clean' in other checkouts)."
    if [ -d target/debug/deps ]; then
        echo "test.sh: warning: $msg" >&2
    else
        echo "test.sh: $msg" >&2
        exit 1
    fi
fi

# The real servers the integration tests use: PostgreSQL, sshd, git's HTTP backend.
scripts/test-services.sh

# The Python and JavaScript policy toolchains (componentize-py, componentize-js,
# rolldown), pinned under target/; the polyglot tests build policies with them.
eval "$(scripts/policy-tools.sh)"

# kubernetes-validate (PyPI), pinned under target/; the deploy tests validate every
# rendered kustomize overlay with it.
eval "$(scripts/deploy-tools.sh)"

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
