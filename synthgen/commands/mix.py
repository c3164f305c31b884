"""``synthgen mix``: synthetic and real datasets into one training set (see ``synthgen.mixing``).

The work is ``synthgen.mixing.mix_job.run_mix``; this command builds its settings from the config.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from omegaconf import DictConfig

from synthgen.mixing.mix_job import OUTPUT_FORMATS, MixCommandSettings, run_mix
from synthgen.registry import build_settings

__all__ = ["MixCommandSettings", "OUTPUT_FORMATS", "mix"]


def mix(cfg: DictConfig | Mapping) -> Path:
    """Run ``synthgen mix`` as configured (conf/mix.yaml); returns what it wrote."""
    return run_mix(build_settings(MixCommandSettings, cfg, "mix"))
