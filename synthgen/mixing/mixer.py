"""Mixing synthetic and real datasets into one training set, with real-only held-out splits
(``synthgen mix`` runs it: ``synthgen.commands.mix``).

Steps: read every input (any readable format); map categories onto one label space
(the real datasets' categories, by name, after an optional explicit rename map;
synthetic categories that match nothing are an error, dropped, or merged in as new
categories); hold out real-only ``val``/``test`` splits first (they are never mixed);
draw the training mix by ratio or counts; record each image's provenance (synthetic or
real, dataset, original id) and weight; write it with any exporter plus a
``mix_manifest.json``. Every draw comes from ``seed``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

import numpy as np

from synthgen.core import CategoryInfo
from synthgen.core.errors import ConfigError, InputError
from synthgen.core.validation import check_choice, check_number
from synthgen.io.dataset import LabeledDataset, LabeledImage

__all__ = ["MixSettings", "mix_datasets"]


@dataclasses.dataclass
class MixSettings:
    """How to mix (see conf/mix.yaml for the meaning of each field)."""

    category_map: dict = dataclasses.field(default_factory=dict)
    unmatched: str = "error"
    real_fraction: float | None = None
    synthetic_per_real: float | None = None
    synthetic_count: int | None = None
    real_count: int | None = None
    val_fraction: float = 0.0
    test_fraction: float = 0.2
    synthetic_weight: float = 1.0
    real_weight: float = 1.0
    seed: int = 0

    def __post_init__(self):
        check_choice("unmatched", self.unmatched, ["error", "drop", "merge"])
        given = [k for k in ("real_fraction", "synthetic_per_real") if getattr(self, k) is not None]
        counts = [k for k in ("synthetic_count", "real_count") if getattr(self, k) is not None]
        if len(given) > 1 or (given and counts):
            raise ConfigError(f"{(given + counts)[0]}: choose one way to size the mix: real_fraction, "
                              "synthetic_per_real, or synthetic_count/real_count")
        if self.real_fraction is not None:
            check_number("real_fraction", self.real_fraction, minimum=0.0, maximum=1.0)
        if self.synthetic_per_real is not None:
            check_number("synthetic_per_real", self.synthetic_per_real, minimum=0.0)
        for key in counts:
            check_number(key, getattr(self, key), minimum=0, integer=True)
        check_number("val_fraction", self.val_fraction, minimum=0.0, maximum=1.0)
        check_number("test_fraction", self.test_fraction, minimum=0.0, maximum=1.0)
        if self.val_fraction + self.test_fraction >= 1.0:
            raise ConfigError("test_fraction: val_fraction + test_fraction must leave real images to train on (< 1)")
        check_number("synthetic_weight", self.synthetic_weight, minimum=0.0)
        check_number("real_weight", self.real_weight, minimum=0.0)
        check_number("seed", self.seed, minimum=0, integer=True)
        if not isinstance(self.category_map, Mapping):
            raise ConfigError(f"category_map: must map source names to target names, got {self.category_map!r}")


def _label_space(real: list[LabeledDataset], synthetic: list[LabeledDataset], settings: MixSettings):
    """Target categories and, per input dataset, source category id -> target id (None: drop)."""
    rename = {str(k): str(v) for k, v in settings.category_map.items()}
    targets: dict[str, CategoryInfo] = {}

    def add(category: CategoryInfo, name: str) -> None:
        if name not in targets:
            targets[name] = CategoryInfo(len(targets) + 1, name, category.keypoint_names, category.skeleton,
                                         category.kind)

    for dataset in real:
        for category in dataset.categories:
            add(category, rename.get(category.name, category.name))
    anchored = bool(real)
    unmatched = []
    for dataset in synthetic:
        for category in dataset.categories:
            name = rename.get(category.name, category.name)
            if name in targets or not anchored:
                add(category, name)
            elif settings.unmatched == "merge":
                add(category, name)
            else:
                unmatched.append(f"{dataset.name}:{category.name}")
    if unmatched and settings.unmatched == "error":
        raise InputError(
            f"unmatched: synthetic categories {unmatched} have no real counterpart among {sorted(targets)}; "
            "map them with category_map (e.g. +category_map.{name}=REAL_NAME on the command line), or set unmatched=drop or merge"
        )
    mappings = []
    for dataset in [*real, *synthetic]:
        mapping = {}
        for category in dataset.categories:
            target = targets.get(rename.get(category.name, category.name))
            if target is not None and target.keypoint_names and category.keypoint_names != target.keypoint_names:
                raise InputError(f"category {category.name!r} of {dataset.name} has keypoints "
                                 f"{list(category.keypoint_names)} but {target.name!r} has {list(target.keypoint_names)}; "
                                 "map it to a category with the same keypoints (or one without keypoints)")
            mapping[category.id] = None if target is None else target.id
        mappings.append(mapping)
    return tuple(targets.values()), mappings


def _relabel(dataset: LabeledDataset, mapping: dict, kind: str, weight: float,
             categories: tuple[CategoryInfo, ...]) -> list[LabeledImage]:
    with_keypoints = {c.id for c in categories if c.keypoint_names}
    names = {c.id: c.name for c in categories}
    images = []
    for image in dataset.images:
        # Keypoints survive only into a category that has the same ones.
        objects = [dataclasses.replace(obj, category_id=mapping[obj.category_id],
                                       keypoints=obj.keypoints if mapping[obj.category_id] in with_keypoints
                                       else np.zeros((0, 3)))
                   for obj in image.objects if mapping.get(obj.category_id) is not None]
        polylines = [dataclasses.replace(line, category_id=mapping[line.category_id],
                                         category=names[mapping[line.category_id]])
                     for line in image.polylines if mapping.get(line.category_id) is not None]
        source = {"kind": kind, "dataset": dataset.name, "original_id": image.source.get("original_id", image.index)}
        images.append(dataclasses.replace(image, objects=objects, polylines=polylines, source=source, weight=weight))
    return images


def _training_counts(settings: MixSettings, synthetic: int, real: int) -> tuple[int, int]:
    """(synthetic, real) training images; errors name the setting that asks for too many."""
    if settings.synthetic_per_real is not None:
        wanted = int(round(settings.synthetic_per_real * real))
        if wanted > synthetic:
            raise InputError(f"synthetic_per_real={settings.synthetic_per_real}: {real} real training images need "
                             f"{wanted} synthetic ones, only {synthetic} available; generate more or lower it")
        return wanted, real
    if settings.real_fraction is not None:
        if settings.real_fraction == 1.0:
            return 0, real
        wanted = int(round(settings.real_fraction / (1.0 - settings.real_fraction) * synthetic))
        if wanted > real:
            raise InputError(f"real_fraction={settings.real_fraction}: {synthetic} synthetic images need {wanted} "
                             f"real training images, only {real} available; lower it or use fewer synthetic")
        return synthetic, wanted
    counts = (settings.synthetic_count if settings.synthetic_count is not None else synthetic,
              settings.real_count if settings.real_count is not None else real)
    for key, wanted, available in (("synthetic_count", counts[0], synthetic), ("real_count", counts[1], real)):
        if wanted > available:
            raise InputError(f"{key}={wanted}: only {available} images available")
    return counts


def mix_datasets(synthetic: list[LabeledDataset], real: list[LabeledDataset], settings: MixSettings) -> LabeledDataset:
    """Mix datasets in memory; images get splits (``train`` mixed, ``val``/``test`` real only)."""
    if not synthetic and not real:
        raise ConfigError("synthetic/real: give at least one dataset")
    categories, mappings = _label_space(real, synthetic, settings)
    real_images = [image for dataset, mapping in zip(real, mappings)
                   for image in _relabel(dataset, mapping, "real", settings.real_weight, categories)]
    synthetic_images = [image for dataset, mapping in zip(synthetic, mappings[len(real):])
                        for image in _relabel(dataset, mapping, "synthetic", settings.synthetic_weight, categories)]
    rng = np.random.default_rng(settings.seed)
    real_images = [real_images[i] for i in rng.permutation(len(real_images))]
    synthetic_images = [synthetic_images[i] for i in rng.permutation(len(synthetic_images))]
    n_test = int(round(settings.test_fraction * len(real_images)))
    n_val = int(round(settings.val_fraction * len(real_images)))
    test, val, pool = real_images[:n_test], real_images[n_test:n_test + n_val], real_images[n_test + n_val:]
    n_synthetic, n_real = _training_counts(settings, len(synthetic_images), len(pool))
    train = synthetic_images[:n_synthetic] + pool[:n_real]
    train = [train[i] for i in rng.permutation(len(train))]
    images = []
    for split, part in (("train", train), ("val", val), ("test", test)):
        for image in part:
            images.append(dataclasses.replace(image, index=len(images), split=split))
    return LabeledDataset("mix", categories, images)


