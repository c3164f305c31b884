"""Train on synthetic, test on real (TSTR), with train-on-real and synthetic + real baselines.

The real dataset is split once (seeded) into a real test split and a real training pool,
exactly as ``synthgen mix`` splits it, so every run is scored on the same real images. A
run trains :class:`~synthgen.validation.detector.MobileNetV2Detector` for a fixed number of
steps on

- ``synthetic + real_fraction`` of the real pool (``real_fraction`` 0: synthetic only, TSTR),
- and, as the baseline, the real pool alone (train on real, test on real),

and scores it with pycocotools (boxes, and masks when both sides have them). Runs are
independent, so a Hydra multirun over ``tstr.real_fractions`` computes one point per job
and the report draws the curve from all points found in the output folder.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Collection, Iterator, Mapping, Sequence

import numpy as np
from tqdm import tqdm

from synthgen.core.errors import ConfigError, InputError
from synthgen.core.validation import check_choice, check_number
from synthgen.io.dataset import LabeledDataset
from synthgen.mixing.mixer import MixSettings, mix_datasets
from synthgen.validation.detector import DetectorTraining

__all__ = ["TstrSettings", "check_tstr_inputs", "run_tstr", "tstr_settings"]


@dataclasses.dataclass
class TstrSettings(DetectorTraining):
    """What to train and how (conf/validate.yaml ``tstr:`` documents each field).

    ``real_fractions`` accepts one number too (the form a Hydra multirun sweep passes).
    """

    enabled: bool = False
    real_fractions: Sequence[float] | float = (0.0,)
    real_only: bool = True
    test_fraction: float = 0.5
    masks: str = "auto"
    bootstrap: int = 200
    device: str = "auto"

    def __post_init__(self):
        fractions = self.real_fractions
        fractions = [fractions] if isinstance(fractions, (int, float)) else list(fractions or [])
        for fraction in fractions:
            check_number("tstr.real_fractions", fraction, minimum=0.0, maximum=1.0)
        self.real_fractions = sorted({float(f) for f in fractions})
        check_number("tstr.test_fraction", self.test_fraction, minimum=0.05, maximum=0.95)
        check_choice("tstr.masks", str(self.masks).lower(), ["auto", "true", "false"])
        self.masks = str(self.masks).lower()
        self.check_training("tstr")
        check_number("tstr.bootstrap", self.bootstrap, minimum=0, integer=True)
        check_choice("tstr.device", self.device, ["auto", "cpu", "cuda"])
        if self.enabled and not self.real_fractions and not self.real_only:
            raise ConfigError("tstr.real_fractions: empty and tstr.real_only=false leaves nothing to train; "
                              "give e.g. tstr.real_fractions=[0.0]")

    def comparison_key(self) -> dict:
        """The settings every point of one curve must share (all but which points to run)."""
        return {k: v for k, v in dataclasses.asdict(self).items() if k not in ("enabled", "real_fractions", "real_only")}


def _device(name: str) -> str:
    from synthgen.validation.features import torch_device

    return torch_device(name, "tstr.device")


def _has_masks(images) -> bool:
    objects = [obj for image in images for obj in image.objects]
    return bool(objects) and all(obj.segmentation is not None for obj in objects)


def _splits(synthetic: LabeledDataset, real: LabeledDataset, settings: TstrSettings, real_fraction: float | None):
    """(label space, training images, real test images) for one run; ``None`` fraction: real only."""
    # unmatched=drop: synthetic-only categories cannot be scored on real data; real-only ones stay
    # (they score 0 when synthetic data lacks them, which is worth seeing).
    mix = MixSettings(unmatched="drop", test_fraction=settings.test_fraction, seed=settings.seed,
                      synthetic_count=0 if real_fraction is None else None,
                      real_count=None if real_fraction is None else _real_count(real, settings, real_fraction))
    mixed = mix_datasets([synthetic], [real], mix)
    train = [image for image in mixed.images if image.split == "train"]
    test = [image for image in mixed.images if image.split == "test"]
    return mixed.categories, train, test


def _real_count(real: LabeledDataset, settings: TstrSettings, real_fraction: float) -> int:
    pool = len(real.images) - int(round(settings.test_fraction * len(real.images)))
    return int(round(real_fraction * pool))


def _run_name(real_fraction: float | None) -> str:
    if real_fraction is None:
        return "real only"
    return "synthetic only" if real_fraction == 0 else f"synthetic + {real_fraction:.0%} of real"


def _one_run(synthetic, real, settings: TstrSettings, real_fraction: float | None, device: str, progress: bool) -> dict:
    from synthgen.validation.detector import coco_scores

    categories, train, test = _splits(synthetic, real, settings, real_fraction)
    objects = [c for c in categories if c.kind == "object"]
    masks = {"true": True, "false": False, "auto": _has_masks(train) and _has_masks(test)}[settings.masks]
    detector = settings.build([c.id for c in objects], masks, device)
    started = time.perf_counter()
    with tqdm(total=settings.steps, desc=f"TSTR {_run_name(real_fraction)}", unit="step", disable=not progress) as bar:
        losses = detector.fit(train, bar)
    seconds = time.perf_counter() - started
    results = detector.predict(test)
    test_set = LabeledDataset(real.name, tuple(objects), test)
    rng = np.random.default_rng(settings.seed)
    counts = {"synthetic": sum(i.source["kind"] == "synthetic" for i in train),
              "real": sum(i.source["kind"] == "real" for i in train)}
    run = {
        "name": _run_name(real_fraction),
        "kind": "real_only" if real_fraction is None else "synthetic_plus_real",
        "real_fraction": real_fraction,
        "train_images": counts,
        "test_images": [str(image.path) for image in test],
        "model": f"{'Mask' if masks else 'Faster'} R-CNN, MobileNetV2 (ImageNet) stride-16 backbone",
        "device": device,
        "train_seconds": round(seconds, 2),
        "loss_first_last": [losses[0], float(np.mean(losses[-max(1, len(losses) // 10):]))],
        "bbox": coco_scores(test_set, results, "bbox", settings.bootstrap, rng),
    }
    if masks:
        run["segm"] = coco_scores(test_set, results, "segm", settings.bootstrap, rng)
    return run


def check_tstr_inputs(synthetic: LabeledDataset, real: LabeledDataset, settings: TstrSettings) -> None:
    """Raise the errors a run would raise, before anything is written or trained.

    Raises:
        InputError: The real test split has no labeled objects, or a training set has none.
        ConfigError: ``tstr.device=cuda`` without a CUDA device.
    """
    _device(settings.device)
    fractions: list[float | None] = list(settings.real_fractions) + ([None] if settings.real_only else [])
    for fraction in fractions:
        _, train, test = _splits(synthetic, real, settings, fraction)
        if not any(image.objects for image in test):
            raise InputError(f"real={real.name}: the real test split ({len(test)} images at tstr.test_fraction="
                             f"{settings.test_fraction}) has no labeled objects; use more real images or raise it")
        if not any(image.objects for image in train):
            raise InputError(f"the training set of run {_run_name(fraction)!r} ({len(train)} images) has no labeled "
                             "objects; add labeled images or change tstr.real_fractions")


def run_tstr(synthetic: LabeledDataset, real: LabeledDataset, settings: TstrSettings, progress: bool = True,
             skip: Collection[float | None] = ()) -> Iterator[dict]:
    """Train and score every configured run, yielding one result per run as it finishes.

    Args:
        synthetic: The synthetic dataset.
        real: The real dataset (split into test and training pool here).
        settings: What to run.
        progress: Show a progress bar per run.
        skip: Runs already done (real fractions; ``None`` for the real-only baseline).
    """
    device = _device(settings.device)
    fractions: list[float | None] = list(settings.real_fractions) + ([None] if settings.real_only else [])
    for fraction in fractions:
        if fraction not in skip:
            yield _one_run(synthetic, real, settings, fraction, device, progress)


def tstr_settings(block: Mapping | None) -> TstrSettings:
    """The ``tstr`` config block as ``TstrSettings`` (unknown keys named as ``tstr.<key>``)."""
    block = dict(block or {})
    fields = {f.name for f in dataclasses.fields(TstrSettings)}
    unknown = sorted(set(block) - fields)
    if unknown:
        raise ConfigError(f"tstr.{unknown[0]}: unknown key; allowed keys: {sorted(fields)}")
    return TstrSettings(**block)
