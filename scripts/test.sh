#!/usr/bin/env bash
# The test command: install objstore with its dev extras and the real servers, then run pytest.
# Extra arguments go to pytest (e.g. scripts/test.sh -k swift -x).
set -euo pipefail
cd "$(dirname "$0")/.."
python -m pip install -q --disable-pip-version-check -e ".[dev]"
bash scripts/install-servers.sh
python -m pytest "$@"
