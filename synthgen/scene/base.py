"""The scene sampler protocol: one random scene per sample."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import numpy as np

from synthgen.core import CategoryInfo, SceneSpec

__all__ = ["SceneSampler"]


@runtime_checkable
class SceneSampler(Protocol):
    """Draws scenes; all randomness comes from the generator passed in."""

    categories: tuple[CategoryInfo, ...]

    def sample(self, rng: np.random.Generator, width: int, height: int) -> SceneSpec:
        """Return a scene whose camera renders a ``width`` x ``height`` image."""
        ...
