"""How unsure a detector is about an image: the order in which humans should review pre-labels.

Each detected box has a class distribution ``p`` over background and the C categories (the
box head's softmax on the final box). Per box:

- ``least_confidence``: 1 - max(p): how far the chosen answer is from certain;
- ``margin``: 1 - (p_first - p_second): how close the two most likely answers are (a box
  torn between "fig" and "date", or between "fig" and "nothing", scores high);
- ``entropy``: -sum(p log p) / log(C + 1): the whole distribution's spread, 0..1.

An image's uncertainty is its most uncertain box (one doubtful box is enough to need a
look); an image without any detection scores 1 (the model sees nothing: it may be missing
everything). Images are reviewed in decreasing uncertainty, ties by name.
"""

from __future__ import annotations

import numpy as np

__all__ = ["STRATEGIES", "box_uncertainty", "image_uncertainty"]

STRATEGIES = ("least_confidence", "margin", "entropy")


def box_uncertainty(probabilities: np.ndarray, strategy: str) -> np.ndarray:
    """(N, C + 1) float class distributions (rows sum to 1) -> (N,) float64 uncertainties in 0..1."""
    p = np.asarray(probabilities, dtype=np.float64)
    if p.ndim != 2:
        raise ValueError(f"probabilities must be (N, C + 1), got shape {p.shape}")
    if strategy == "least_confidence":
        return 1.0 - p.max(axis=1, initial=0.0)
    if strategy == "margin":
        top = -np.sort(-p, axis=1)
        second = top[:, 1] if p.shape[1] > 1 else np.zeros(len(p))
        return 1.0 - (top[:, 0] - second)
    if strategy == "entropy":
        logs = np.log(np.clip(p, 1e-12, 1.0))
        return -(p * logs).sum(axis=1) / np.log(max(p.shape[1], 2))
    raise ValueError(f"strategy must be one of {STRATEGIES}, got {strategy!r}")


def image_uncertainty(probabilities: np.ndarray, strategy: str) -> float:
    """An image's uncertainty: its most uncertain box's, or 1.0 when nothing was detected."""
    values = box_uncertainty(probabilities, strategy)
    return float(values.max()) if len(values) else 1.0
