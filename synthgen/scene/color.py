"""Colour conversions between how users give colours (sRGB, 0..255) and renderers use them."""

from __future__ import annotations

import numpy as np

__all__ = ["srgb_to_linear"]


def srgb_to_linear(rgb_255: np.ndarray) -> np.ndarray:
    """Convert sRGB colours in 0..255 to linear RGB in 0..1 (IEC 61966-2-1).

    Args:
        rgb_255: (..., 3) float sRGB values in [0, 255].

    Returns:
        (..., 3) float64 linear values in [0, 1], as PBR base colours expect.
    """
    srgb = np.clip(np.asarray(rgb_255, dtype=np.float64) / 255.0, 0.0, 1.0)
    return np.where(srgb <= 0.04045, srgb / 12.92, ((srgb + 0.055) / 1.055) ** 2.4)
