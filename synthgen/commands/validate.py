"""``synthgen validate``: the sim-to-real gap of a synthetic vs a real dataset (+ TSTR detectors)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from omegaconf import DictConfig

from synthgen.core.errors import ConfigError
from synthgen.core.validation import check_number
from synthgen.registry import build_settings
from synthgen.validate.report import validate_report
from synthgen.validate.tstr import tstr_settings

__all__ = ["ValidateSettings", "validate"]


class ValidateSettings:
    """The settings of ``synthgen validate`` (conf/validate.yaml).

    Args:
        synthetic: A synthetic dataset (synthgen, or any readable format).
        real: The real test set: COCO, YOLO, VOC or Label Studio.
        out: An empty folder (``overwrite`` replaces an earlier report there).
        overwrite: Replace an earlier report in ``out``.
        features: Image-feature extractor node (``_target_``), or None for label statistics only.
        max_images: Images per side, drawn with ``seed``.
        kid_subsets: Subsets for KID's mean and standard deviation.
        permutations: Label shuffles for the classifier two-sample test's p-value.
        gallery: Images per gallery of the report.
        tstr: The train-on-synthetic-test-on-real block (see ``TstrSettings``).
        seed: Seed of every draw.
        progress: Progress bars on stderr.
    """

    def __init__(self, synthetic: str, real: str, out: str, overwrite: bool = False, features: dict | None = None,
                 max_images: int = 500, kid_subsets: int = 50, permutations: int = 50, gallery: int = 8,
                 tstr: dict | None = None, seed: int = 0, progress: bool = True):
        self.synthetic, self.real, self.out = str(synthetic), str(real), out
        if not isinstance(overwrite, bool):
            raise ConfigError(f"overwrite: must be true or false, got {overwrite!r}")
        self.overwrite, self.features, self.progress = overwrite, features, bool(progress)
        self.max_images = check_number("max_images", max_images, minimum=2, integer=True)
        self.kid_subsets = check_number("kid_subsets", kid_subsets, minimum=1, integer=True)
        self.permutations = check_number("permutations", permutations, minimum=0, integer=True)
        self.seed = check_number("seed", seed, minimum=0, integer=True)
        self.gallery = check_number("gallery", gallery, minimum=0, integer=True)
        self.tstr = tstr_settings(tstr)


def validate(cfg: DictConfig | Mapping) -> Path:
    """Run ``synthgen validate`` as configured (conf/validate.yaml); returns the output folder."""
    return validate_report(build_settings(ValidateSettings, cfg, "validate"))
