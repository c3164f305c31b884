#!/usr/bin/env bash
# Device check, every GPU measurement in one run (about 8 minutes on a 16-core H100 box), ending
# with one table:
#   1. EGL on the GPU: the OpenGL vendor and renderer pyrender gets (must be NVIDIA's, not llvmpipe);
#   2. the replay benchmark with GPU renders: CPU ms per labeled image per stage, the GPU render
#      time, and the projected images/s of this box (scripts/bench_replay.py, cores = this box's);
#   3. generate end to end against the raw render loop on the GPU (scripts/bench_generate.py);
#   4. Cycles with OptiX/CUDA (scripts/device_check_cycles.sh; needs bpy, CPython 3.11);
#   5. the diffusion pipelines on CUDA (scripts/device_check_diffusion.sh; needs diffusers).
# A step that fails or whose dependency is missing is reported in the table; the others still run.
#
# Run from the repository root:
#   bash scripts/device_check_all.sh [OUT]          (OUT: where the reports go; default ./device_check)
#   QUICK=1 bash scripts/device_check_all.sh [OUT]  (a one-minute smoke test of this script)
# with synthgen installed ('.[dev]'), or, on a machine without package registries, the wheels made
# beforehand by scripts/device_wheelhouse.sh in .device_wheels (git-ignored), carried along.
# The real photos of tabletop_fruits_photos are read from $SHARED_DATA (default ../shared/data); where
# they do not travel, carry a copy in a git-ignored folder and point SHARED_DATA at it.
set -uo pipefail
out="${1:-device_check}"
mkdir -p "$out"
export PYOPENGL_PLATFORM="${PYOPENGL_PLATFORM:-egl}" HF_HUB_OFFLINE=1
python=${PYTHON:-python3}
shared="${SHARED_DATA:-../shared/data}"
steps="$out/steps.tsv"
: > "$steps"

step() {  # step NAME COMMAND...: runs it, keeps its output in $out/NAME.txt, records status and seconds
  local name=$1 start status
  shift
  start=$(date +%s)
  if "$@" > "$out/$name.txt" 2>&1; then status=ok; else status="FAILED (exit $?, see $name.txt)"; fi
  printf '%s\t%s\t%s s\n' "$name" "$status" "$(( $(date +%s) - start ))" >> "$steps"
  tail -n 3 "$out/$name.txt"
}

if ! "$python" -c "import synthgen" 2> /dev/null && [ -d .device_wheels ]; then
  step install bash -c "'$python' -m pip install --no-index --no-deps .device_wheels/* &&
    '$python' -m pip install --no-index --no-deps --no-build-isolation -e ."
fi
if [ -d .gl ]; then  # EGL loader libraries carried as .deb files (the device tool's README)
  for f in .gl/*.deb; do dpkg -x "$f" /; done
  ldconfig
fi
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv | tee "$out/gpu.txt"

step egl "$python" - <<'PY'
import synthgen.render.pyrender_backend  # noqa: F401  (sets EGL and pyrender's numpy 2 shim, in one place)
import pyrender
from OpenGL import GL
renderer = pyrender.OffscreenRenderer(64, 64)
vendor, name = GL.glGetString(GL.GL_VENDOR).decode(), GL.glGetString(GL.GL_RENDERER).decode()
print(f"OpenGL vendor: {vendor}; renderer: {name}")
assert "llvmpipe" not in name.lower(), "EGL fell back to llvmpipe (CPU): check the NVIDIA EGL vendor library"
PY

if [ "${QUICK:-0}" = 1 ]; then  # a smoke test of this script: one scene, tiny sizes
  scenes=tabletop sizes=(small=4 large=40 record=4) generate_n=10
else
  scenes=tabletop,tabletop_fruits,tabletop_fruits_photos,road sizes=(small=20 large=200 record=20) generate_n=100
fi
step replay "$python" scripts/bench_replay.py "scenes=$scenes" "${sizes[@]}" "threads=$(nproc)" "data=$shared" \
  "out=$out/replay.md"
step generate "$python" scripts/bench_generate.py "scenes=${scenes/tabletop_fruits_photos,/}" "n=$generate_n" \
  "page=$out/generate.md"
if "$python" -c "import bpy" 2> /dev/null; then
  step cycles bash scripts/device_check_cycles.sh "$out"
else
  printf 'cycles\tskipped: bpy is not installed (bpy 5.0.1 needs CPython 3.11)\t0 s\n' >> "$steps"
fi
if "$python" -c "import diffusers, torch; assert torch.cuda.is_available()" 2> /dev/null; then
  step diffusion bash scripts/device_check_diffusion.sh "$out"
else
  printf 'diffusion\tskipped: diffusers or CUDA torch missing\t0 s\n' >> "$steps"
fi

{
  echo "== device check: $(head -n 2 "$out/gpu.txt" | tail -n 1), $(nproc) cores =="
  column -t -s $'\t' "$steps"
  grep -h "OpenGL vendor" "$out/egl.txt" 2> /dev/null
  echo "-- replay (CPU ms per image, GPU render ms, projected images/s of this box) --"
  grep -E "^\| " "$out/replay.md" 2> /dev/null
  echo "-- generate against the raw render loop --"
  grep -E "^\| " "$out/generate.md" 2> /dev/null
} | tee "$out/summary.txt"
