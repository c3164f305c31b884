#!/usr/bin/env bash
# Device check: the tiny diffusion pipelines on CUDA in fp16 (it/s per generator), then one
# `synthgen generate generator=inpaint_background` end to end on the GPU (EGL rendering too).
# Run on a CUDA machine from the repository root, with the project installed ('.[dev]'):
#   bash scripts/device_check_diffusion.sh [OUT]      (OUT: where the report goes; default ./device_check)
set -euo pipefail
out="${1:-device_check}"
mkdir -p "$out"
export HF_HUB_OFFLINE=1 PYOPENGL_PLATFORM="${PYOPENGL_PLATFORM:-egl}"
python=${PYTHON:-python}
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv | tee "$out/gpu.txt"
"$python" - "$out" <<'PY' 2>&1 | tee "$out/report.txt"
import sys, time
from pathlib import Path
import numpy as np
from PIL import Image
out = Path(sys.argv[1])
from synthgen.diffusion.tiny import make_tiny_pipelines
from synthgen.diffusion.models import load_pipeline
import torch
assert torch.cuda.is_available(), "no CUDA device"
models = make_tiny_pipelines(out / "tiny")
size, steps, batch = 512, 20, 4
image = Image.fromarray(np.full((size, size, 3), 128, np.uint8))
mask = Image.fromarray(np.full((size, size), 255, np.uint8))
cases = {
    "inpaint": ("inpaint", models / "sd-inpaint", {}, {"image": [image] * batch, "mask_image": [mask] * batch,
                                                       "height": size, "width": size}),
    "img2img": ("img2img", models / "sd", {}, {"image": [image] * batch, "strength": 1.0}),
    "controlnet": ("controlnet", models / "sd", {"controlnets": {"depth": str(models / "controlnet-depth")}},
                   {"image": [image] * batch, "height": size, "width": size}),
}
for name, (kind, model, options, inputs) in cases.items():
    pipeline = load_pipeline(kind, str(model), device="cuda", dtype="float16", **options)
    arguments = dict(prompt=["a mug on a table"] * batch, num_inference_steps=steps, output_type="np", **inputs)
    pipeline(**{**arguments, "num_inference_steps": 2})  # warm-up
    torch.cuda.synchronize()
    start = time.perf_counter()
    result = pipeline(**arguments, generator=[torch.Generator("cuda").manual_seed(i) for i in range(batch)])
    torch.cuda.synchronize()
    seconds = time.perf_counter() - start
    finite = bool(np.isfinite(result.images).all())
    print(f"{name}: {steps / seconds:.1f} it/s (batch {batch}, {size}x{size}, fp16), "
          f"{batch / seconds:.2f} images/s, finite output: {finite}")
PY
"$python" -m synthgen.cli generate out="$out/generated" overwrite=true n=8 render.width=256 render.height=192 \
  generator=inpaint_background generator.model="$out/tiny/sd-inpaint" generator.device=cuda \
  generator.dtype=float16 generator.batch_size=4 generator.steps=10 2>&1 | tail -6 | tee -a "$out/report.txt"
