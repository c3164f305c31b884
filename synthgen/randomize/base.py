"""The scene randomizer protocol: a scene in, a varied scene out."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol, runtime_checkable

import numpy as np

from synthgen.core import SceneSpec
from synthgen.core.errors import ConfigError
from synthgen.core.validation import check_choices

__all__ = ["ROLES", "SceneRandomizer", "apply_randomizers", "check_randomizers", "check_roles"]

# What an object in a scene is; randomizers choose the objects they vary by role.
# ``parked``: a labeled instance that motion models leave where it is (a parked car).
ROLES = ("instance", "parked", "support", "container", "distractor", "scenery")


@runtime_checkable
class SceneRandomizer(Protocol):
    """Varies a scene; every random draw comes from the generator passed in."""

    def __call__(self, spec: SceneSpec, rng: np.random.Generator) -> SceneSpec:
        """Return a new scene (the input is not modified)."""
        ...


def check_randomizers(name: str, randomizers: Mapping | None) -> dict[str, SceneRandomizer]:
    """Validate a name -> randomizer mapping from config (None: no randomizers)."""
    if randomizers is None:
        return {}
    if not isinstance(randomizers, Mapping):
        raise ConfigError(f"{name}: must map names to randomizer nodes, got {randomizers!r}")
    for key, randomizer in randomizers.items():
        if not isinstance(randomizer, SceneRandomizer):
            raise ConfigError(f"{name}.{key}: must be a randomizer node (synthgen.randomize.*), got {randomizer!r}")
    return dict(randomizers)


def apply_randomizers(spec: SceneSpec, randomizers: Mapping[str, SceneRandomizer], rng: np.random.Generator) -> SceneSpec:
    """Apply randomizers in order."""
    for randomizer in randomizers.values():
        spec = randomizer(spec, rng)
    return spec


def check_roles(name: str, roles) -> tuple[str, ...]:
    """Validate a list of object roles."""
    return check_choices(name, roles, ROLES)
