#!/usr/bin/env bash
# Set everything up (first time only) and start the Konstruktor app. Extra arguments go to launcher.py.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
exec .venv/bin/python launcher.py "$@"
