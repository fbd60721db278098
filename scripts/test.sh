#!/usr/bin/env bash
# Lint, then the whole test suite. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 HF_HUB_OFFLINE=1

# Browser tests drive Debian's chromium (browser downloads do not work offline).
if [ ! -x /usr/bin/chromium ] && command -v apt-get >/dev/null 2>&1; then
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo -n"
  echo "test: installing Debian's chromium for the browser tests" >&2
  if ! { $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium; } >/dev/null; then
    echo "test: could not install chromium; browser tests will be skipped" >&2
  fi
fi

.venv/bin/ruff check .
.venv/bin/python -m pytest -q "$@"
