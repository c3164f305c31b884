#!/usr/bin/env bash
# Device check: Cycles on the GPU (OptiX or CUDA, OptiX denoising) against the CPU, then one
# `synthgen generate render=cycles render.device=gpu` end to end (labels from EGL on the GPU too).
# Run on a CUDA machine from the repository root, with the project installed ('.[dev,cycles]'):
#   bash scripts/device_check_cycles.sh [OUT]      (OUT: where the report goes; default ./device_check)
set -euo pipefail
out="${1:-device_check}"
mkdir -p "$out"
export PYOPENGL_PLATFORM="${PYOPENGL_PLATFORM:-egl}"
python=${PYTHON:-python}
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv | tee "$out/gpu.txt"
{
  echo "== bench_cycles on the GPU (640x480) =="
  "$python" scripts/bench_cycles.py device=gpu n=4 width=640 height=480 samples=16,64,256
  echo "== bench_cycles on the CPU (640x480) =="
  "$python" scripts/bench_cycles.py device=cpu n=2 width=640 height=480 samples=16,64
  echo "== generate render=cycles render.device=gpu =="
  rm -rf "$out/cycles_gpu"
  synthgen generate out="$out/cycles_gpu" n=20 scene=tabletop_fruits render=cycles render.device=gpu render.samples=64
} 2>&1 | tee "$out/report_cycles.txt"
