#!/usr/bin/env bash
# Installs the Python and JavaScript policy toolchains the tests build with, pinned,
# under target/: componentize-py in a virtual environment (target/py-tools) and
# componentize-js with rolldown and typescript (target/js-tools/node_modules). Idempotent: a second
# run checks the versions and returns. Prints the two environment variables
# `sluice policy build` reads, for `eval "$(scripts/policy-tools.sh)"`.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

COMPONENTIZE_PY=0.25.1
COMPONENTIZE_JS=0.23.0
ROLLDOWN=1.3.4
TYPESCRIPT=7.0.2

TOOL=policy-tools
. scripts/tools-common.sh

PY=target/py-tools
pip_tool "$PY" componentize-py "$COMPONENTIZE_PY" componentize-py

# JavaScript: node and npm from Debian when missing, then the pinned packages.
JS=target/js-tools
want="$COMPONENTIZE_JS $ROLLDOWN $TYPESCRIPT"
have=""
version() { node -p "require('./$JS/node_modules/$1/package.json').version" 2>/dev/null || true; }
if [ -d "$JS/node_modules" ]; then
    have="$(version @bytecodealliance/componentize-js) $(version rolldown) $(version typescript)"
fi
if [ "$have" != "$want" ]; then
    command -v node >/dev/null && command -v npm >/dev/null || apt_install nodejs npm
    mkdir -p "$JS"
    [ -f "$JS/package.json" ] || echo '{ "private": true }' > "$JS/package.json"
    log "installing componentize-js $COMPONENTIZE_JS, rolldown $ROLLDOWN and typescript $TYPESCRIPT (npm)"
    (cd "$JS" && npm install --no-audit --no-fund --silent \
        "@bytecodealliance/componentize-js@$COMPONENTIZE_JS" "rolldown@$ROLLDOWN" "typescript@$TYPESCRIPT" >&2)
fi

echo "export SLUICE_COMPONENTIZE_PY=$root/$PY/bin/componentize-py"
echo "export SLUICE_JS_TOOLS=$root/$JS"
