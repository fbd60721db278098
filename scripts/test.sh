#!/usr/bin/env bash
# Lint, then the whole test suite. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 HF_HUB_OFFLINE=1

# Debian packages the tests use: chromium for the browser tests (browser downloads do
# not work offline), opencv-data for the Haar cascade of the photo-presenter's face finder.
missing=()
[ -x /usr/bin/chromium ] || missing+=(chromium)
[ -f /usr/share/opencv4/haarcascades/haarcascade_frontalface_default.xml ] || missing+=(opencv-data)
if [ ${#missing[@]} -gt 0 ] && command -v apt-get >/dev/null 2>&1; then
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo -n"
  echo "test: installing Debian packages: ${missing[*]}" >&2
  if ! { $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}"; } >/dev/null; then
    echo "test: could not install ${missing[*]}; the tests that need them will be skipped" >&2
  fi
fi

.venv/bin/ruff check .
.venv/bin/python -m pytest -q "$@"
