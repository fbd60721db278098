#!/usr/bin/env bash
# The main job, offline: render the shipped explainer workflow (script -> narrated, subtitled
# 1280x720 MP4) and print the path of the MP4 it wrote.
set -euo pipefail
cd "$(dirname "$0")/.."
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 HF_HUB_OFFLINE=1
mkdir -p out/demo
# `reelgraph run` prints the files it wrote on stdout (progress goes to stderr).
paths=$(.venv/bin/reelgraph run explainer --out out/demo)
mp4=$(printf '%s\n' "$paths" | grep -E '\.mp4$' | head -n 1 || true)
if [ -z "$mp4" ]; then
  echo "demo: the explainer ran but wrote no MP4; outputs were:" >&2
  printf '%s\n' "$paths" >&2
  exit 1
fi
echo "$mp4"
