"""``synthgen mix``: synthetic and real datasets into one training set (see ``synthgen.mixing``)."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

from synthgen.core.errors import ConfigError
from synthgen.core.validation import check_choice, check_list
from synthgen.io.dataset import LabeledDataset
from synthgen.io.export_files import prepare_export_folder
from synthgen.io.formats import WRITE_ANY_FORMATS, read_dataset
from synthgen.mixing.mixer import MixSettings, mix_datasets
from synthgen.paths import export_node
from synthgen.registry import instantiate

__all__ = ["OUTPUT_FORMATS", "MixCommandSettings", "run_mix"]

OUTPUT_FORMATS = WRITE_ANY_FORMATS


class MixCommandSettings:
    """The settings of ``synthgen mix`` (conf/mix.yaml): inputs, output, and ``MixSettings``.

    Args:
        synthetic: Synthetic datasets (any readable format) to mix in.
        real: Real datasets; their categories are the label space.
        out: An empty folder (``overwrite`` replaces an earlier mix there).
        overwrite: Replace an earlier mix in ``out``.
        format: Output format: one that writes any labeled dataset (``WRITE_ANY_FORMATS``).
        task: yolo only: detect | segment | pose.

    The other arguments are ``MixSettings``' fields (category map and unmatched policy,
    ratio or counts, val/test fractions, weights, seed), checked there.
    """

    def __init__(self, synthetic: list, real: list, out: str, overwrite: bool = False, format: str = "coco",
                 task: str | None = None, category_map: dict | None = None, unmatched: str = "error",
                 real_fraction: float | None = None, synthetic_per_real: float | None = None,
                 synthetic_count: int | None = None, real_count: int | None = None, val_fraction: float = 0.0,
                 test_fraction: float = 0.2, synthetic_weight: float = 1.0, real_weight: float = 1.0, seed: int = 0):
        self.synthetic = check_list("synthetic", synthetic, example="[data/a,data/b]")
        self.real = check_list("real", real, example="[data/a,data/b]")
        self.out, self.overwrite = out, bool(overwrite)
        self.format = check_choice("format", format, OUTPUT_FORMATS)
        if task is not None and format != "yolo":
            raise ConfigError(f"task: only the yolo format takes a task, not {format!r}")
        self.task = task
        self.mixing = MixSettings(
            category_map=category_map or {}, unmatched=unmatched, real_fraction=real_fraction,
            synthetic_per_real=synthetic_per_real, synthetic_count=synthetic_count, real_count=real_count,
            val_fraction=val_fraction, test_fraction=test_fraction, synthetic_weight=synthetic_weight,
            real_weight=real_weight, seed=seed)

    def exporter(self):
        """The format's writer: its conf/export node (with ``task`` for yolo)."""
        task = {"task": self.task} if self.task is not None else {}
        return instantiate({**export_node(self.format), **task}, f"export.{self.format}")


def _summary(dataset: LabeledDataset) -> dict:
    counts: dict = {}
    for image in dataset.images:
        split = counts.setdefault(image.split, {"synthetic": 0, "real": 0})
        split[image.source["kind"]] += 1
    return counts


def run_mix(settings: MixCommandSettings) -> Path:
    """Run ``synthgen mix`` as configured (conf/mix.yaml); returns the output folder."""
    exporter = settings.exporter()
    synthetic = [read_dataset(path, name=Path(path).name) for path in settings.synthetic]
    real = [read_dataset(path, name=Path(path).name) for path in settings.real]
    for dataset, path in zip(synthetic + real, settings.synthetic + settings.real):
        dataset.name = Path(path).name  # provenance names the input as the user gave it
    mixed = mix_datasets(synthetic, real, settings.mixing)
    out = prepare_export_folder(settings.out, settings.overwrite)
    exporter.write(mixed, out)
    manifest = {
        "inputs": {"synthetic": settings.synthetic, "real": settings.real},
        "settings": dataclasses.asdict(settings.mixing),
        "format": settings.format,
        "categories": [{"id": c.id, "name": c.name} for c in mixed.categories],
        "counts": _summary(mixed),
        "images": [{"index": i.index, "split": i.split, "weight": i.weight, **i.source} for i in mixed.images],
    }
    (out / "mix_manifest.json").write_text(json.dumps(manifest, indent=1))
    return out
