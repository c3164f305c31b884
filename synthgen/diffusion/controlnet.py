"""``controlnet``: redraw the whole image conditioned on the scene's segmentation, depth and/or edges."""

from __future__ import annotations

from collections.abc import Mapping

import cv2
import numpy as np
from PIL import Image

from synthgen.core import Sample
from synthgen.core.errors import ConfigError
from synthgen.core.validation import check_number
from synthgen.diffusion.base import DiffusionGenerator

__all__ = ["ControlNet", "condition_image"]

CONDITIONS = ("segmentation", "depth", "edges")


def _palette(count: int) -> np.ndarray:
    """(count, 3) uint8 distinct colours, black for id 0 (background)."""
    hues = (np.arange(count) * 0.618034) % 1.0
    hsv = np.stack([hues * 179, np.full(count, 200), np.full(count, 255)], axis=1).astype(np.uint8)[None]
    colours = cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)[0]
    colours[0] = 0
    return colours


def condition_image(sample: Sample, condition: str) -> np.ndarray:
    """(H, W, 3) uint8 RGB conditioning image of a sample.

    ``segmentation``: one colour per category (background black); ``depth``: inverse depth
    scaled to 0..255 (near bright, nothing hit black, as MiDaS-style depth ControlNets
    expect); ``edges``: Canny edges of the render (white on black).
    """
    if condition == "segmentation":
        semantic = sample.semantic_mask()
        return _palette(int(semantic.max()) + 1)[semantic]
    if condition == "depth":
        depth = sample.depth
        inverse = np.where(depth > 0, 1.0 / np.maximum(depth, 1e-6), 0.0)
        hit = inverse[depth > 0]
        low, high = (hit.min(), hit.max()) if hit.size else (0.0, 1.0)
        scaled = np.where(depth > 0, (inverse - low) / max(high - low, 1e-9) * 205 + 50, 0)
        return np.repeat(scaled.astype(np.uint8)[..., None], 3, axis=2)
    if condition == "edges":
        edges = cv2.Canny(cv2.cvtColor(sample.image, cv2.COLOR_RGB2GRAY), 100, 200)
        return np.repeat(edges[..., None], 3, axis=2)
    raise ConfigError(f"generator.controlnets: unknown condition {condition!r}; choose from {list(CONDITIONS)}")


class ControlNet(DiffusionGenerator):
    """Redraws the render with ``StableDiffusionControlNetPipeline`` (several conditions: multi-ControlNet).

    The labels are the scene's; every sample is verified and those under
    ``min_agreement`` are quarantined.

    Args:
        controlnets: Condition (``segmentation`` | ``depth`` | ``edges``) -> ControlNet
            folder or hub id, e.g. ``{depth: lllyasviel/sd-controlnet-depth}``.
        conditioning_scale: ControlNet residual scale (one number, or one per condition).
        **kwargs: Every argument of ``DiffusionGenerator`` (``model``: the base model).
    """

    kind = "controlnet"

    def __init__(self, controlnets: Mapping[str, str] | None = None, conditioning_scale=1.0, **kwargs):
        super().__init__(**kwargs)
        self.controlnets = {name: path for name, path in dict(controlnets or {}).items() if path}
        if not self.controlnets:
            raise ConfigError("controlnets: set at least one condition's ControlNet, e.g. "
                              "generator.controlnets.segmentation=DIR/controlnet-segmentation")
        for condition in self.controlnets:
            if condition not in CONDITIONS:
                raise ConfigError(f"controlnets.{condition}: unknown condition; choose from {list(CONDITIONS)}")
        scales = (conditioning_scale if isinstance(conditioning_scale, (list, tuple))
                  else [conditioning_scale] * len(self.controlnets))
        if len(scales) != len(self.controlnets):
            raise ConfigError(f"conditioning_scale: one number or one per condition ({len(self.controlnets)})")
        self.conditioning_scale = [check_number("conditioning_scale", s, minimum=0.0, maximum=10.0) for s in scales]

    def _pipeline_options(self) -> dict:
        return {"controlnets": self.controlnets}

    def _inputs(self, samples: list[Sample]) -> dict:
        height, width = samples[0].image.shape[:2]
        # One image per sample, or (several ControlNets) one list of per-condition images per sample.
        per_sample = [[Image.fromarray(condition_image(sample, condition)) for condition in self.controlnets]
                      for sample in samples]
        single = len(self.controlnets) == 1
        return {"image": [images[0] for images in per_sample] if single else per_sample, "height": height, "width": width,
                "controlnet_conditioning_scale": self.conditioning_scale[0] if single else self.conditioning_scale}

    def _settings(self) -> dict:
        return {**super()._settings(), "conditions": list(self.controlnets),
                "conditioning_scale": self.conditioning_scale}
