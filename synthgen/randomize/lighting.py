"""Lighting rigs: ambient light plus directional, point and spot lights from random directions."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from synthgen.core import Light
from synthgen.core.color import kelvin_to_linear_rgb
from synthgen.core.validation import check_choices, check_range_pair, check_vector

__all__ = ["Lighting"]

LIGHT_KINDS = ("directional", "point", "spot")


def _direction(elevation_deg: float, azimuth_deg: float) -> np.ndarray:
    elevation, azimuth = np.deg2rad(elevation_deg), np.deg2rad(azimuth_deg)
    return np.array([np.cos(elevation) * np.cos(azimuth), np.cos(elevation) * np.sin(azimuth), np.sin(elevation)])


class Lighting:
    """Ambient light and lights of random kind, strength, colour and direction above the scene.

    Brightness is given the same way for every kind: ``intensity`` is the irradiance
    a light delivers at ``target`` in W/m^2 (pyrender's unit; 2-5 is daylight-like
    for these scenes). A point or spot light at distance d gets ``intensity * d^2``
    candela, so moving it away does not darken the scene.

    Args:
        ambient: [min, max] ambient intensity, 0..1 (applied to all three channels).
        num_lights: [min, max] number of lights.
        kinds: Light kinds drawn uniformly per light: ``directional``, ``point``, ``spot``.
        intensity: [min, max] irradiance at the target, W/m^2.
        temperature_k: [min, max] colour temperature in Kelvin (2700 warm bulb,
            5500-6500 daylight, 10000 blue sky).
        elevation_deg: [min, max] angle the light comes from, degrees above the horizon.
        azimuth_deg: [min, max] direction the light comes from about the vertical, degrees.
        distance: [min, max] distance of point and spot lights from the target, metres.
        spot_cone_deg: [min, max] half-angle of a spot light's cone, degrees.
        target: [x, y, z] point the lights aim at, metres.
    """

    def __init__(
        self,
        ambient: Sequence[float] = (0.15, 0.35),
        num_lights: Sequence[int] = (1, 3),
        kinds: Sequence[str] = ("directional", "point", "spot"),
        intensity: Sequence[float] = (1.5, 3.5),
        temperature_k: Sequence[float] = (3500.0, 8000.0),
        elevation_deg: Sequence[float] = (35.0, 85.0),
        azimuth_deg: Sequence[float] = (0.0, 360.0),
        distance: Sequence[float] = (1.0, 3.0),
        spot_cone_deg: Sequence[float] = (20.0, 45.0),
        target: Sequence[float] = (0.0, 0.0, 0.0),
    ):
        self.ambient = check_range_pair("ambient", ambient, minimum=0.0, maximum=1.0)
        self.num_lights = check_range_pair("num_lights", num_lights, minimum=0, maximum=8, integer=True)
        self.kinds = check_choices("kinds", kinds, LIGHT_KINDS)
        self.intensity = check_range_pair("intensity", intensity, minimum=0.0)
        self.temperature_k = check_range_pair("temperature_k", temperature_k, minimum=1000.0, maximum=40000.0)
        self.elevation_deg = check_range_pair("elevation_deg", elevation_deg, minimum=0.0, maximum=90.0)
        self.azimuth_deg = check_range_pair("azimuth_deg", azimuth_deg, minimum=-360.0, maximum=720.0)
        self.distance = check_range_pair("distance", distance, minimum=0.01)
        self.spot_cone_deg = check_range_pair("spot_cone_deg", spot_cone_deg, minimum=1.0, maximum=89.0)
        self.target = np.array(check_vector("target", target, 3))

    def sample(self, rng: np.random.Generator) -> tuple[np.ndarray, tuple[Light, ...]]:
        """Draw ``(ambient (3,) float64, lights)``."""
        ambient = np.full(3, rng.uniform(*self.ambient))
        lights = tuple(self._light(rng) for _ in range(int(rng.integers(self.num_lights[0], self.num_lights[1] + 1))))
        return ambient, lights

    def _light(self, rng: np.random.Generator) -> Light:
        kind = self.kinds[int(rng.integers(len(self.kinds)))]
        towards_light = _direction(rng.uniform(*self.elevation_deg), rng.uniform(*self.azimuth_deg))
        irradiance = float(rng.uniform(*self.intensity))
        color = kelvin_to_linear_rgb(rng.uniform(*self.temperature_k))
        if kind == "directional":
            return Light("directional", color, irradiance, direction=-towards_light)
        distance = rng.uniform(*self.distance)
        position = self.target + distance * towards_light
        candela = irradiance * distance**2
        if kind == "point":
            return Light("point", color, candela, position=position)
        outer = rng.uniform(*self.spot_cone_deg)
        return Light("spot", color, candela, direction=-towards_light, position=position,
                     inner_cone_deg=0.6 * outer, outer_cone_deg=outer)
