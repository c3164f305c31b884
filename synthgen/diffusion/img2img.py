"""``img2img``: refine the render at low strength (``StableDiffusionImg2ImgPipeline``)."""

from __future__ import annotations

from PIL import Image

from synthgen.core import Sample
from synthgen.core.errors import ConfigError
from synthgen.core.validation import check_number
from synthgen.diffusion.base import DiffusionGenerator

__all__ = ["Img2Img"]


class Img2Img(DiffusionGenerator):
    """Re-noises the render to ``strength`` and denoises it with the prompt.

    Low strength keeps the layout (and so, mostly, the labels); every sample's labels
    are verified and those under ``min_agreement`` are quarantined.

    Args:
        strength: 0..1 share of the denoising schedule re-run (0.2-0.4 keeps layouts).
        **kwargs: Every argument of ``DiffusionGenerator``.
    """

    kind = "img2img"

    def __init__(self, strength: float = 0.3, **kwargs):
        super().__init__(**kwargs)
        self.strength = check_number("strength", strength, minimum=0.01, maximum=1.0)
        if int(self.steps * self.strength) < 1:
            raise ConfigError(f"steps={self.steps} x strength={self.strength} < 1: no denoising step would "
                              f"run; raise steps to at least {int(1 / self.strength) + 1}")

    def _inputs(self, samples: list[Sample]) -> dict:
        return {"image": [Image.fromarray(sample.image) for sample in samples], "strength": self.strength}

    def _settings(self) -> dict:
        return {**super()._settings(), "strength": self.strength}
