"""``synthgen prelabel``: pre-label real images with a detector trained on synthetic (+ real) data.

The work is ``synthgen.annotate.prelabel_job.run_prelabel``; this command builds its settings from the config.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from omegaconf import DictConfig

from synthgen.annotate.prelabel_job import PrelabelSettings, run_prelabel
from synthgen.registry import build_settings

__all__ = ["PrelabelSettings", "prelabel"]


def prelabel(cfg: DictConfig | Mapping) -> Path:
    """Run ``synthgen prelabel`` as configured (conf/prelabel.yaml); returns what it wrote."""
    return run_prelabel(build_settings(PrelabelSettings, cfg, "prelabel"))
