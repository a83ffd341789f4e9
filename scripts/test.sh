#!/usr/bin/env bash
# Set up and run the whole test suite. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --test
# Browser tests drive Debian's Chromium (never a downloaded browser build).
if [[ -d tests/e2e ]] && ls tests/e2e/test_*.py >/dev/null 2>&1 && ! command -v chromium >/dev/null; then
  if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null; then
    echo "Installing Debian's chromium for the browser tests ..." >&2
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
      || echo "warning: could not install chromium; browser tests will be skipped" >&2
  else
    echo "warning: chromium is not installed (apt-get install chromium); browser tests will be skipped" >&2
  fi
fi
export KONSTRUKTOR_OFFLINE=1
exec .venv/bin/python -m pytest "$@"
