"""Simple per-image statistics of the pixels: brightness, contrast and colourfulness.

Cheap enough to compute on every image of a small batch (``synthgen fit`` renders
many), and interpretable: each maps to a scene knob (light intensity, light and
background variety, light colour and background kinds).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from synthgen.io.input_checks import read_color_image

__all__ = ["IMAGE_STATISTICS", "image_statistics"]

IMAGE_STATISTICS = ("brightness", "contrast", "colourfulness")
_LONGER_SIDE = 256  # the statistics are global, so a small copy gives the same values


def _one_image(path: Path) -> tuple[float, float, float]:
    image = read_color_image(path, _LONGER_SIDE)
    blue, green, red = (image[..., c].astype(np.float64) / 255.0 for c in range(3))
    luma = 0.299 * red + 0.587 * green + 0.114 * blue  # Rec. 601 on the encoded values
    # Hasler and Suesstrunk (2003): spread and mean of the opponent channels rg and yb.
    rg, yb = red - green, 0.5 * (red + green) - blue
    colourfulness = np.hypot(rg.std(), yb.std()) + 0.3 * np.hypot(rg.mean(), yb.mean())
    return float(luma.mean()), float(luma.std()), float(colourfulness)


def image_statistics(paths: Sequence[str | Path]) -> dict[str, np.ndarray]:
    """Per-image pixel statistics of encoded (sRGB) images.

    Args:
        paths: Image files (any format OpenCV reads; grey images count as colourless).

    Returns:
        ``brightness`` (images,) mean Rec. 601 luma in 0..1, ``contrast`` (images,) its
        standard deviation, ``colourfulness`` (images,) Hasler-Suesstrunk's metric on
        0..1 values (0 for grey images, about 0.3-0.5 for very colourful ones); float64.

    Raises:
        InputError: An image cannot be read.
    """
    values = np.array([_one_image(Path(p)) for p in paths], dtype=np.float64).reshape(-1, 3)
    return {name: values[:, i] for i, name in enumerate(IMAGE_STATISTICS)}
