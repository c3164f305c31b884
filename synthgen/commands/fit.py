"""``synthgen fit``: build fit's settings from the config and fit the scene (``synthgen.fit.scene_fit``),
its batches rendered by the generate pipeline."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from omegaconf import DictConfig

from synthgen.fit.scene_fit import FitSettings, fit_scene
from synthgen.pipeline.generation import generate_from_config
from synthgen.registry import build_settings

__all__ = ["FitSettings", "fit"]


def fit(cfg: DictConfig | Mapping) -> Path:
    """Run ``synthgen fit`` as configured (conf/fit.yaml); returns the output folder.

    Raises:
        ConfigError: A bad setting or override (named).
        InputError: The real set has no objects or no category in common with the scene,
            or ``out`` is not usable. Nothing is written before these checks pass.
    """
    return fit_scene(build_settings(FitSettings, cfg, "fit"), generate_from_config)
