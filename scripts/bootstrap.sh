#!/usr/bin/env bash
# Set up .venv with everything reelgraph needs; fast no-op when nothing changed.
# torch is pinned to the CPU build found on local disk: any other torch spec
# would pull gigabytes of CUDA packages.
set -euo pipefail
cd "$(dirname "$0")/.."

# Debian packages: chromium (browser tests; browser downloads do not work offline),
# opencv-data (the photo presenter's Haar cascade), espeak-ng (the offline voice for
# languages without a Piper voice), Noto fonts (Arabic, Devanagari, CJK ... on cards).
missing=()
[ -x /usr/bin/chromium ] || missing+=(chromium)
[ -f /usr/share/opencv4/haarcascades/haarcascade_frontalface_default.xml ] || missing+=(opencv-data)
command -v espeak-ng >/dev/null 2>&1 || missing+=(espeak-ng)
[ -d /usr/share/fonts/truetype/noto ] || missing+=(fonts-noto-core)
[ -d /usr/share/fonts/opentype/noto ] || missing+=(fonts-noto-cjk)
# Pillow's wheel bundles libraqm + HarfBuzz (shaping) but loads FriBiDi (right-to-left
# order) from the system: without it Arabic and Hebrew are drawn left to right.
ldconfig -p 2>/dev/null | grep -q 'libfribidi\.so\.0' || missing+=(libfribidi0)
if [ ${#missing[@]} -gt 0 ] && command -v apt-get >/dev/null 2>&1; then
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo -n"
  echo "bootstrap: installing Debian packages: ${missing[*]}" >&2
  if ! { $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}"; } >/dev/null; then
    echo "bootstrap: could not install ${missing[*]}; what needs them will say so" >&2
  fi
fi

PY=${PYTHON:-}
if [ -z "$PY" ]; then
  for cand in python3.11 python3.12 python3; do
    if command -v "$cand" >/dev/null 2>&1; then PY=$cand; break; fi
  done
fi
[ -n "$PY" ] || { echo "bootstrap: no python3 found" >&2; exit 1; }

if [ ! -x .venv/bin/python ]; then
  echo "bootstrap: creating .venv with $PY" >&2
  "$PY" -m venv .venv
fi

stamp=.venv/.reelgraph-installed
want=$(cat pyproject.toml scripts/constraints.txt | sha256sum | cut -c1-16)
if [ "$(cat "$stamp" 2>/dev/null || true)" != "$want" ]; then
  echo "bootstrap: installing Python packages into .venv" >&2
  export PIP_CONSTRAINT="$PWD/scripts/constraints.txt" PIP_DISABLE_PIP_VERSION_CHECK=1
  .venv/bin/python -m pip install -q torch==2.13.0
  .venv/bin/python -m pip install -q -e ".[dev,diffusion,ray]"
  echo "$want" > "$stamp"
fi

# An editable install compiles its modules on import and, where PYTHONDONTWRITEBYTECODE
# is set (CI images, sandboxes), never keeps the result: every process (each
# `reelgraph run`, a batch's Ray worker) compiled all of reelgraph again, ~0.2 s of CPU.
# A wheel install compiles them once, at install; this does the same for the checkout
# (files edited later are compiled again as usual).
.venv/bin/python -m compileall -q -j 0 reelgraph >/dev/null || true
