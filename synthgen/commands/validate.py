"""``synthgen validate``: the sim-to-real gap of a synthetic vs a real dataset (+ TSTR detectors)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from omegaconf import DictConfig

from synthgen.registry import build_settings
from synthgen.validation.report import ValidateSettings, validate_report

__all__ = ["ValidateSettings", "validate"]


def validate(cfg: DictConfig | Mapping) -> Path:
    """Run ``synthgen validate`` as configured (conf/validate.yaml); returns the output folder."""
    return validate_report(build_settings(ValidateSettings, cfg, "validate"))
