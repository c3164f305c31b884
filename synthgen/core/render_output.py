"""What a renderer produces for one scene (shared by render, labels and diffusion)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

__all__ = ["RenderOutput"]


@dataclass
class RenderOutput:
    """What a renderer produces for one scene.

    Attributes:
        image: (H, W, 3) uint8 RGB (anti-aliased).
        depth: (H, W) float32 metres along the optical axis, sampled at pixel centres
            in the same pass as ``instance_ids`` (so both agree on every pixel); 0 where
            nothing was hit.
        instance_ids: (H, W) int32 visible instance id per pixel, exact (no
            anti-aliasing); 0 for background and unlabeled occluders.
        amodal_masks: instance id -> (H, W) bool pixels the object covers when
            rendered alone. Empty when amodal rendering was not asked for.
        amodal_passes: Number of extra passes the amodal masks took.
    """

    image: np.ndarray
    depth: np.ndarray
    instance_ids: np.ndarray
    amodal_masks: dict[int, np.ndarray] = field(default_factory=dict)
    amodal_passes: int = 0
