"""Lighting rigs: ambient light plus sun-like directional lights."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from synthgen.types import Light
from synthgen.validation import check_range_pair

__all__ = ["Lighting"]


class Lighting:
    """Ambient light and directional lights from random directions above the scene.

    Args:
        ambient: [min, max] ambient intensity, 0..1 (applied to all three channels).
        num_lights: [min, max] number of directional lights.
        intensity: [min, max] directional intensity in W/m^2 (pyrender units; 2-5 is daylight-like).
        elevation_deg: [min, max] elevation the light comes from, degrees above the horizon.
    """

    def __init__(
        self,
        ambient: Sequence[float] = (0.15, 0.35),
        num_lights: Sequence[int] = (1, 2),
        intensity: Sequence[float] = (1.5, 3.5),
        elevation_deg: Sequence[float] = (35.0, 85.0),
    ):
        self.ambient = check_range_pair("ambient", ambient, minimum=0.0, maximum=1.0)
        self.num_lights = check_range_pair("num_lights", num_lights, minimum=0, maximum=8, integer=True)
        self.intensity = check_range_pair("intensity", intensity, minimum=0.0)
        self.elevation_deg = check_range_pair("elevation_deg", elevation_deg, minimum=0.0, maximum=90.0)

    def sample(self, rng: np.random.Generator) -> tuple[np.ndarray, tuple[Light, ...]]:
        """Draw ``(ambient (3,) float64, lights)``."""
        ambient = np.full(3, rng.uniform(*self.ambient))
        lights = []
        for _ in range(int(rng.integers(self.num_lights[0], self.num_lights[1] + 1))):
            elevation = np.deg2rad(rng.uniform(*self.elevation_deg))
            azimuth = rng.uniform(0.0, 2.0 * np.pi)
            towards_light = np.array(
                [np.cos(elevation) * np.cos(azimuth), np.cos(elevation) * np.sin(azimuth), np.sin(elevation)]
            )
            lights.append(Light("directional", np.ones(3), float(rng.uniform(*self.intensity)), direction=-towards_light))
        return ambient, tuple(lights)
