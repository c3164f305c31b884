"""``inpaint_background``: keep the rendered objects, paint everything else from a prompt."""

from __future__ import annotations

import numpy as np
from PIL import Image

from synthgen.core import Sample
from synthgen.diffusion.base import DiffusionGenerator

__all__ = ["InpaintBackground", "object_pixels"]


def object_pixels(sample: Sample) -> np.ndarray:
    """(H, W) bool pixels of every object with an instance id (labeled or too small)."""
    return sample.instance_ids > 0


class InpaintBackground(DiffusionGenerator):
    """Inpaints the background (``StableDiffusionInpaintPipeline``) around the rendered objects.

    The rendered object pixels are copied back over the pipeline's output, so they are
    unchanged bit for bit and every label stays exact by construction (no verification
    needed). ``model`` is best an inpainting model (SD or SDXL inpainting, UNet with 9 input
    channels); a plain text-to-image model also works (diffusers blends its latents with
    the render's outside the mask). Takes every argument of ``DiffusionGenerator``.
    """

    kind = "inpaint"
    verifies_labels = False

    def _inputs(self, samples: list[Sample]) -> dict:
        masks = [Image.fromarray(np.where(object_pixels(sample), 0, 255).astype(np.uint8)) for sample in samples]
        height, width = samples[0].image.shape[:2]
        return {"image": [Image.fromarray(sample.image) for sample in samples], "mask_image": masks,
                "height": height, "width": width}

    def _finish_image(self, generated: np.ndarray, sample: Sample) -> np.ndarray:
        # The VAE round trip alters every pixel slightly: put the rendered objects back exactly.
        return np.where(object_pixels(sample)[..., None], sample.image, generated)
