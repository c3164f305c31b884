"""Write tiny randomly initialised diffusion pipelines (no download) for tests, demos and users without weights.

Usage:
    python scripts/make_tiny_pipelines.py DIR

Writes DIR/sd (img2img and ControlNet base), DIR/sd-inpaint (inpainting) and
DIR/controlnet-{segmentation,depth,edges}; then, e.g.:

    synthgen generate generator=inpaint_background generator.model=DIR/sd-inpaint render.width=256 render.height=192
    synthgen generate generator=controlnet generator.model=DIR/sd generator.controlnets.depth=DIR/controlnet-depth
Their images are noise-like (random weights): the point is exercising the whole path.
"""

from __future__ import annotations

import os
import sys

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from synthgen.diffusion.tiny import make_tiny_pipelines  # noqa: E402

if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    print(f"wrote {make_tiny_pipelines(sys.argv[1])}")
