"""Colour conversions between how users give colours (sRGB, 0..255) and renderers use them."""

from __future__ import annotations

import numpy as np

__all__ = ["kelvin_to_linear_rgb", "linear_to_srgb", "linear_to_srgb8", "srgb_to_linear"]


def srgb_to_linear(rgb_255: np.ndarray) -> np.ndarray:
    """Convert sRGB colours in 0..255 to linear RGB in 0..1 (IEC 61966-2-1).

    Args:
        rgb_255: (..., 3) float sRGB values in [0, 255].

    Returns:
        (..., 3) float64 linear values in [0, 1], as PBR base colours expect.
    """
    srgb = np.clip(np.asarray(rgb_255, dtype=np.float64) / 255.0, 0.0, 1.0)
    return np.where(srgb <= 0.04045, srgb / 12.92, ((srgb + 0.055) / 1.055) ** 2.4)


def linear_to_srgb(linear: np.ndarray) -> np.ndarray:
    """Convert linear RGB in 0..1 to sRGB in 0..255 (the inverse of ``srgb_to_linear``).

    Args:
        linear: (..., 3) float linear values.

    Returns:
        (..., 3) float64 sRGB values in [0, 255].
    """
    value = np.clip(np.asarray(linear, dtype=np.float64), 0.0, 1.0)
    srgb = np.where(value <= 0.0031308, value * 12.92, 1.055 * value ** (1 / 2.4) - 0.055)
    return srgb * 255.0


def linear_to_srgb8(linear: np.ndarray) -> np.ndarray:
    """Linear RGB in 0..1 (clipped) to the nearest 8-bit sRGB level: (..., 3) uint8."""
    return np.clip(np.rint(linear_to_srgb(linear)), 0, 255).astype(np.uint8)


def kelvin_to_linear_rgb(kelvin: float) -> np.ndarray:
    """(3,) float64 linear RGB of a black body at ``kelvin``, brightest channel 1.

    Tanner Helland's fit to the CIE 1964 black-body colours, 1000-40000 K
    (6500 K is close to white, 2700 K a warm bulb, 10000 K blue sky).
    """
    t = np.clip(kelvin, 1000.0, 40000.0) / 100.0
    red = 255.0 if t <= 66 else 329.698727446 * (t - 60) ** -0.1332047592
    green = 99.4708025861 * np.log(t) - 161.1195681661 if t <= 66 else 288.1221695283 * (t - 60) ** -0.0755148492
    blue = 255.0 if t >= 66 else (0.0 if t <= 19 else 138.5177312231 * np.log(t - 10) - 305.0447927307)
    linear = srgb_to_linear(np.clip([red, green, blue], 0.0, 255.0))
    return linear / linear.max()
