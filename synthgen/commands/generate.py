"""``synthgen generate``: build the run's settings from the config and generate the dataset.

The pipeline itself lives in ``synthgen.pipeline`` (``generation.generate_from_config``); tests
and the Python API call ``generate(cfg)`` with a composed config.
"""

from __future__ import annotations

from collections.abc import Mapping

from omegaconf import DictConfig

from synthgen.pipeline.generation import GenerateSettings, GenerateSummary, generate_from_config

__all__ = ["GenerateSettings", "GenerateSummary", "generate"]


def generate(cfg: DictConfig | Mapping) -> GenerateSummary:
    """Generate a dataset as the config describes (see conf/generate.yaml).

    Args:
        cfg: The composed generate config.

    Returns:
        What was produced; also printed when ``progress`` is on.

    Raises:
        ConfigError: A config key or value is invalid (the message names the key).
        InputError: The output folder or an input file cannot be used.
    """
    return generate_from_config(cfg)
