#!/usr/bin/env bash
# Render the shipped example workflow offline and print where the output went.
set -euo pipefail
cd "$(dirname "$0")/.."
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 HF_HUB_OFFLINE=1
.venv/bin/reelgraph run workflows/demo_image.json --out out/demo
