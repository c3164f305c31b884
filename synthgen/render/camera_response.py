"""How linear light becomes 8-bit sRGB pixels: exposure, white balance and the encoding.

Rasterizers write display values; these tables turn them into what synthgen promises
(sRGB, IEC 61966-2-1) with the camera's exposure and white balance applied in linear
light. Per-channel 256-entry tables (applied with ``np.take``), so the cost is one
lookup per pixel.
"""

from __future__ import annotations

import numpy as np

from synthgen.core.color import linear_to_srgb8, srgb_to_linear

__all__ = ["apply_table", "camera_gains", "encode_linear", "gamma22_to_srgb_table", "srgb_gain_table"]

_LEVELS = np.arange(256, dtype=np.float64)


def camera_gains(exposure_ev: float, white_balance: np.ndarray) -> np.ndarray:
    """(3,) float64 linear per-channel gains of an exposure (stops) and white balance."""
    return np.asarray(white_balance, dtype=np.float64) * 2.0 ** float(exposure_ev)


def srgb_gain_table(gains: np.ndarray) -> np.ndarray:
    """(256, 3) uint8: sRGB level -> sRGB level after multiplying linear light by ``gains``."""
    return linear_to_srgb8(srgb_to_linear(np.repeat(_LEVELS[:, None], 3, axis=1)) * np.asarray(gains)[None, :])


def gamma22_to_srgb_table() -> np.ndarray:
    """(256, 3) uint8: pyrender's display encoding (a pure 2.2 power) -> the sRGB curve.

    pyrender's shader decodes textures with the sRGB curve but encodes its output as
    ``linear ** (1 / 2.2)``: dark colours come out lighter than sRGB would write them
    (linear 0.01: level 31 instead of 25). The table re-encodes each level.
    """
    linear = (_LEVELS / 255.0) ** 2.2
    return linear_to_srgb8(np.repeat(linear[:, None], 3, axis=1))


_ENCODE_STEPS = 4096
# sRGB level of each of 4096 linear steps: finer than 8 bits anywhere on the curve but the
# darkest step (linear 1/4095 is level 0.8).
_ENCODE_TABLE = linear_to_srgb8(np.linspace(0.0, 1.0, _ENCODE_STEPS))


def encode_linear(linear: np.ndarray) -> np.ndarray:
    """(..., 3) float linear radiance -> (..., 3) uint8 sRGB (clipped at 1), through a table."""
    steps = np.clip(np.asarray(linear, dtype=np.float32) * np.float32(_ENCODE_STEPS - 1) + np.float32(0.5),
                    0, _ENCODE_STEPS - 1)
    return _ENCODE_TABLE[steps.astype(np.uint16)]


def apply_table(image: np.ndarray, table: np.ndarray) -> np.ndarray:
    """(H, W, 3) uint8 through a (256, 3) per-channel table."""
    out = np.empty_like(image)
    for channel in range(3):
        out[..., channel] = table[image[..., channel], channel]
    return out

