"""Camera exposure and white balance, randomized: the camera, not the lights, changes.

``ExposureRandomizer`` sets ``SceneSpec.exposure_ev`` (stops) and ``white_balance``
(per-channel linear gains of a camera balanced for a colour temperature other than the
light's); renderers apply both in linear light to every pixel, the background included.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np

from synthgen.core import SceneSpec
from synthgen.core.color import kelvin_to_linear_rgb
from synthgen.core.validation import check_number, check_range_pair

__all__ = ["ExposureRandomizer"]


class ExposureRandomizer:
    """The camera's exposure and white balance (applied in linear light to every pixel).

    Args:
        exposure_ev: [min, max] exposure change in stops (+1: twice as bright).
        white_balance_k: [min, max] colour temperature the camera is balanced for, or
            null for a neutral balance. A camera balanced for a lower temperature than
            the light (``reference_k``) renders it bluer; for a higher one, warmer.
        reference_k: The scene light's temperature the balance is relative to.
    """

    def __init__(self, exposure_ev: Sequence[float] = (-0.5, 0.5), white_balance_k: Sequence[float] | None = (5000.0, 8000.0),
                 reference_k: float = 6500.0):
        self.exposure_ev = check_range_pair("exposure_ev", exposure_ev, minimum=-10.0, maximum=10.0)
        self.white_balance_k = None if white_balance_k is None else check_range_pair(
            "white_balance_k", white_balance_k, minimum=1000.0, maximum=40000.0)
        self.reference = kelvin_to_linear_rgb(check_number("reference_k", reference_k, minimum=1000.0, maximum=40000.0))

    def __call__(self, spec: SceneSpec, rng: np.random.Generator) -> SceneSpec:
        exposure = float(rng.uniform(*self.exposure_ev))
        gains = np.ones(3)
        if self.white_balance_k is not None:
            # Balancing for temperature T divides by T's colour; relative to the light's own.
            gains = self.reference / kelvin_to_linear_rgb(rng.uniform(*self.white_balance_k))
            gains = gains / float(gains @ [0.2126, 0.7152, 0.0722])
        return dataclasses.replace(spec, exposure_ev=spec.exposure_ev + exposure, white_balance=spec.white_balance * gains)
