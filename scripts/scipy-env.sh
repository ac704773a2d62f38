#!/usr/bin/env bash
# A Python virtual environment with NumPy and SciPy at target/scipy-venv, for the
# statistics benchmark's same-run comparison (host/stats/benches/compare.rs) and for
# regenerating the statistics reference values. Idempotent. Not needed by the tests.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=target/scipy-venv
if [ -x "$VENV/bin/python" ] && "$VENV/bin/python" -c 'import numpy, scipy, mpmath' 2>/dev/null; then
    exit 0
fi
if ! python3 -c 'import ensurepip' 2>/dev/null; then
    echo "scipy-env: installing python3-venv" >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends python3-venv >/dev/null
fi
python3 -m venv "$VENV"
"$VENV/bin/pip" install -q numpy scipy mpmath
"$VENV/bin/python" -c 'import numpy, scipy, mpmath; print("scipy-env:", numpy.__version__, scipy.__version__, mpmath.__version__)'
