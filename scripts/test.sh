#!/usr/bin/env bash
# The test command: install objstore with its dev extras and the real servers, then run pytest.
# Run it in a virtual environment (python3 -m venv). Extra arguments go to pytest
# (e.g. scripts/test.sh -k swift -x).
set -euo pipefail
cd "$(dirname "$0")/.."
echo "tests: installing objstore[dev] into $(python -c 'import sys; print(sys.prefix)') ..."
# A current pip first: the one a fresh venv ships backtracks for a long time on this dependency set.
python -m pip install -q --disable-pip-version-check --upgrade pip
python -m pip install -q --disable-pip-version-check -e ".[dev]"
bash scripts/install-servers.sh
python -m pytest "$@"
