"""``synthgen prelabel``: pre-label real images with a detector trained on synthetic (+ real) data.

Writes to ``out``::

    tasks.json             Label Studio tasks with predictions (scores per region), in review order
    labeling_config.xml    the project's labeling interface
    images/<name>          the images (hard links or copies); tasks point at /data/local-files/?d=images/<name>
    coco_results.json      every detection as COCO results (image ids as in coco_images.json)
    coco_images.json       the images and categories those ids refer to
    prelabel_report.json   settings, training, the review order, auto-accept share (+ scores with ground_truth=)
    model.pt               the detector, for model=out/model.pt next time

The method is ``synthgen.annotate.prelabel``'s; serve the images as for the Label Studio
export (README "Label Studio").
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping, Sequence
from pathlib import Path

from tqdm import tqdm

from synthgen.annotate.prelabel import (
    DetectorSettings,
    evaluate_prelabels,
    load_detector,
    prelabel_images,
    save_detector,
    unlabeled_images,
)
from synthgen.annotate.uncertainty import STRATEGIES
from synthgen.core.errors import ConfigError, InputError
from synthgen.core.validation import check_choice, check_list, check_number
from synthgen.io.dataset import LabeledDataset
from synthgen.io.export_files import place_image, prepare_export_folder
from synthgen.io.files import write_bytes_atomic, write_json_list_streamed
from synthgen.io.formats import read_dataset
from synthgen.io.labelstudio import labeling_config, labelstudio_regions
from synthgen.mixing.mixer import MixSettings, mix_datasets
from synthgen.validation.detector import coco_results
from synthgen.validation.features import torch_device

__all__ = ["PrelabelSettings", "run_prelabel"]

_DETECTOR_KEYS = ("masks", "image_size", "steps", "batch_size", "learning_rate", "trainable_blocks", "weights", "seed")


class PrelabelSettings:
    """The settings of ``synthgen prelabel`` (conf/prelabel.yaml documents each key)."""

    def __init__(self, images: str, out: str, train: Sequence | None = None, model: str | None = None,
                 ground_truth: str | None = None, overwrite: bool = False, strategy: str = "least_confidence",
                 score_threshold: float = 0.5, auto_accept: float = 0.9, detector: Mapping | None = None,
                 device: str = "auto", progress: bool = True):
        self.train = check_list("train", train, example="[runs/synthetic,photos/labeled]")
        if bool(self.train) == (model is not None):
            raise ConfigError("train/model: give train=[DATASET,...] to train a detector, or model=PATH/model.pt to "
                              "use one trained before (not both)")
        if not isinstance(overwrite, bool):
            raise ConfigError(f"overwrite: must be true or false, got {overwrite!r}")
        self.images, self.out, self.model, self.ground_truth = str(images), str(out), model, ground_truth
        self.overwrite, self.device, self.progress = overwrite, device, bool(progress)
        self.strategy = check_choice("strategy", strategy, STRATEGIES)
        self.score_threshold = check_number("score_threshold", score_threshold, minimum=0.05, maximum=1.0)
        self.auto_accept = check_number("auto_accept", auto_accept, minimum=0.5, maximum=1.0)
        detector = dict(detector or {})
        unknown = sorted(set(detector) - set(_DETECTOR_KEYS))
        if unknown:
            raise ConfigError(f"detector.{unknown[0]}: unknown key; allowed keys: {list(_DETECTOR_KEYS)}")
        self.masks = check_choice("detector.masks", str(detector.pop("masks", "auto")).lower(), ["auto", "true", "false"])
        DetectorSettings(**detector).check_training("detector")
        self.detector = detector


def _training_set(paths: Sequence[str]) -> LabeledDataset:
    datasets = [read_dataset(path, name=Path(path).name) for path in paths]
    combined = mix_datasets(datasets, [], MixSettings(unmatched="merge", test_fraction=0.0))
    if not any(image.objects for image in combined.images):
        raise InputError(f"train={list(paths)}: no labeled objects to train a detector on")
    return combined


def _train(settings: PrelabelSettings, train: LabeledDataset, device: str, out: Path):
    objects = [o for image in train.images for o in image.objects]
    masks = {"true": True, "false": False, "auto": all(o.segmentation is not None for o in objects)}[settings.masks]
    detector_settings = DetectorSettings(masks=masks, **settings.detector)
    categories = tuple(c for c in train.categories if c.kind == "object")
    detector = detector_settings.build([c.id for c in categories], masks, device)
    with tqdm(total=detector_settings.steps, desc="prelabel: train", unit="step", disable=not settings.progress) as bar:
        losses = detector.fit(train.images, bar)
    save_detector(detector, categories, detector_settings, out / "model.pt")
    training = {"datasets": settings.train, "images": len(train.images), "objects": len(objects),
                "loss_first_last": [losses[0], losses[-1]]}
    return detector, categories, detector_settings, training


def _task(entry: dict, rank: int, dataset: LabeledDataset) -> dict:
    image = entry["image"]
    return {"data": {"image": f"/data/local-files/?d=images/{image.path.name}", "file_name": image.path.name,
                     "review_rank": rank, "uncertainty": entry["uncertainty"], "auto_accept": entry["auto_accept"]},
            "predictions": [{"model_version": "synthgen-prelabel", "score": 1.0 - entry["uncertainty"],
                             "result": labelstudio_regions(image, dataset)}]}


def _coco(entries: list[dict], categories) -> tuple[dict, list[dict]]:
    images, results = [], []
    for image_id, entry in enumerate(entries, start=1):
        image = entry["image"]
        images.append({"id": image_id, "file_name": image.path.name, "width": image.width, "height": image.height})
        results += coco_results(entry["detections"], image_id)
    return {"images": images, "categories": [{"id": c.id, "name": c.name} for c in categories]}, results


def run_prelabel(settings: PrelabelSettings) -> Path:
    """Run ``synthgen prelabel`` as configured (conf/prelabel.yaml); returns the output folder.

    Raises:
        ConfigError: Bad settings. InputError: unusable images, datasets, model or ``out``
        (checked before anything is written).
    """
    images = unlabeled_images(settings.images)
    device = torch_device(settings.device, "device")
    truth = settings.ground_truth and read_dataset(settings.ground_truth, name=Path(settings.ground_truth).name)
    if settings.model is not None:
        detector, categories, detector_settings = load_detector(settings.model, device)
        training = {"model": str(settings.model)}
        out = prepare_export_folder(settings.out, settings.overwrite)
    else:
        train = _training_set(settings.train)  # read (and checked) before out is touched
        out = prepare_export_folder(settings.out, settings.overwrite)
        detector, categories, detector_settings, training = _train(settings, train, device, out)
    entries = prelabel_images(detector, images, settings.strategy, settings.score_threshold, settings.auto_accept)
    dataset = LabeledDataset("prelabel", categories, [e["image"] for e in entries])
    (out / "labeling_config.xml").write_text(labeling_config(dataset))
    for entry in entries:
        place_image(entry["image"].path, out / "images" / entry["image"].path.name)
    write_json_list_streamed(out / "tasks.json", (_task(e, rank, dataset) for rank, e in enumerate(entries, start=1)))
    coco_images, results = _coco(entries, categories)
    write_bytes_atomic(out / "coco_images.json", json.dumps(coco_images).encode())
    write_bytes_atomic(out / "coco_results.json", json.dumps(results).encode())
    accepted = sum(e["auto_accept"] for e in entries)
    report = {
        "images": len(entries), "categories": [c.name for c in categories], "strategy": settings.strategy,
        "score_threshold": settings.score_threshold, "auto_accept": settings.auto_accept,
        "auto_accepted": accepted, "auto_accept_share": accepted / len(entries),
        "pre_labels": sum(len(e["image"].objects) for e in entries),
        "detector": dataclasses.asdict(detector_settings), "device": device, "training": training,
        "review_order": [{"file_name": e["image"].path.name, "uncertainty": e["uncertainty"],
                          "auto_accept": e["auto_accept"], "pre_labels": len(e["image"].objects)} for e in entries],
    }
    if truth is not None:
        report["evaluation"] = evaluate_prelabels(entries, categories, truth)
    write_bytes_atomic(out / "prelabel_report.json", json.dumps(report, indent=1).encode())
    return out
