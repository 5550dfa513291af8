#!/usr/bin/env bash
# The tests: set up (Debian packages when root, the venv), then pytest.
source "$(dirname "$0")/setup.sh"
install_debs $TEST_DEBS
make_venv
cd "$ROOT"
exec "$VENV/bin/python" -m pytest "$@"
