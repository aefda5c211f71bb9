#!/usr/bin/env bash
# The test command: set up what is missing, then run every tier of tests (host, engine, unix port, emulator).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
python3 -m pytest "$@"
