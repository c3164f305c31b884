"""Model-assisted pre-labels for unlabeled real images, in the order humans should review them.

A detector (``synthgen.validation.detector.MobileNetV2Detector``, the one TSTR trains) is
trained on synthetic (+ real) datasets or loaded from an earlier run's ``model.pt``; it
predicts on every image of a folder. Detections scoring at least ``score_threshold``
become pre-labels (boxes, and outlines from the mask head); the image's uncertainty
(``synthgen.annotate.uncertainty``) orders the review, most uncertain first. A task is
auto-accepted when the model is sure of everything it saw: at least one pre-label, and
every detection (score >= 0.05) scores either >= ``auto_accept`` or < 1 - ``auto_accept``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image

from synthgen.annotate.qa import match_objects
from synthgen.annotate.uncertainty import image_uncertainty
from synthgen.core import CategoryInfo
from synthgen.core.errors import InputError
from synthgen.io.dataset import LabeledDataset, LabeledImage, LabeledObject
from synthgen.validation.detector import DetectorTraining, MobileNetV2Detector, coco_results, coco_scores
from synthgen.validation.features import import_torch

__all__ = ["IMAGE_SUFFIXES", "DetectorSettings", "evaluate_prelabels", "load_detector", "prelabel_images",
           "save_detector", "unlabeled_images"]

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp")
_MODEL_FORMAT = "synthgen-prelabel-detector-1"


@dataclasses.dataclass
class DetectorSettings(DetectorTraining):
    """The pre-labelling detector: how it is trained, and whether it has a mask head."""

    masks: bool = False


def unlabeled_images(folder: str | Path) -> list[LabeledImage]:
    """The images of a folder (not its subfolders), sorted by name, with their sizes.

    Raises:
        InputError: Not a folder, no image in it, or an image that cannot be read.
    """
    folder = Path(folder).expanduser()
    if not folder.is_dir():
        raise InputError(f"images={folder}: not a folder; give a folder of images to pre-label")
    paths = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
    if not paths:
        raise InputError(f"images={folder}: holds no image ({', '.join(IMAGE_SUFFIXES)})")
    images = []
    for index, path in enumerate(paths):
        try:
            with Image.open(path) as pil:
                width, height = pil.size
        except OSError as error:
            raise InputError(f"{path}: image could not be read ({error}); fix or remove it") from error
        images.append(LabeledImage(index=index, path=path.resolve(), width=width, height=height,
                                   source={"kind": "real", "dataset": folder.name, "original_id": path.name}))
    return images


def save_detector(detector: MobileNetV2Detector, categories: Sequence[CategoryInfo], settings: DetectorSettings,
                  path: Path) -> None:
    """Write the trained detector with its categories and settings (``torch.save``)."""
    torch, _ = import_torch()
    torch.save({"format": _MODEL_FORMAT, "categories": [c.name for c in categories],
                "settings": dataclasses.asdict(settings), "state_dict": detector.model.state_dict()}, path)


def load_detector(path: str | Path, device: str) -> tuple[MobileNetV2Detector, tuple[CategoryInfo, ...], DetectorSettings]:
    """A detector written by ``save_detector``.

    Raises:
        InputError: The file is missing or was not written by synthgen prelabel.
    """
    torch, _ = import_torch()
    path = Path(path).expanduser()
    import pickle

    try:
        saved = torch.load(path, map_location="cpu", weights_only=True)
    except (OSError, RuntimeError, ValueError, EOFError, pickle.UnpicklingError) as error:
        raise InputError(f"model={path}: could not be read ({error}); give a model.pt written by synthgen prelabel") \
            from error
    if not isinstance(saved, dict) or saved.get("format") != _MODEL_FORMAT:
        raise InputError(f"model={path}: not a model written by synthgen prelabel")
    categories = tuple(CategoryInfo(i + 1, name) for i, name in enumerate(saved["categories"]))
    settings = DetectorSettings(**saved["settings"])
    detector = settings.build([c.id for c in categories], settings.masks, device)
    detector.model.load_state_dict(saved["state_dict"])
    return detector, categories, settings


def _accepted(scores: np.ndarray, auto_accept: float, score_threshold: float) -> bool:
    sure = (scores >= auto_accept) | (scores < 1.0 - auto_accept)
    return bool(np.any(scores >= max(auto_accept, score_threshold)) and np.all(sure))


def prelabel_images(detector: MobileNetV2Detector, images: Sequence[LabeledImage], strategy: str,
                    score_threshold: float, auto_accept: float) -> list[dict]:
    """Detect on every image and rank the images for review.

    Returns:
        One entry per image, most uncertain first: ``image`` (a ``LabeledImage`` whose
        objects are the pre-labels, each with its ``score``), ``uncertainty``,
        ``auto_accept`` (bool), ``detections`` (every detection: boxes, category_ids,
        scores, probabilities, masks as ``MobileNetV2Detector.detect`` gives them).
    """
    entries = []
    for image, found in zip(images, detector.detect(images)):
        keep = np.flatnonzero(found["scores"] >= score_threshold)
        objects = []
        for i in keep:
            mask = found["masks"][i] if found["masks"] is not None else None
            objects.append(LabeledObject(int(found["category_ids"][i]), found["boxes"][i].copy(), segmentation=mask,
                                         score=float(found["scores"][i])))
        entries.append({"image": dataclasses.replace(image, objects=objects),
                        "uncertainty": image_uncertainty(found["probabilities"], strategy),
                        "auto_accept": _accepted(found["scores"], auto_accept, score_threshold),
                        "detections": found})
    return sorted(entries, key=lambda e: (-e["uncertainty"], e["image"].path.name))


def _labeled(image: LabeledImage, categories: dict[int, str]) -> list:
    return [(categories[o.category_id], o) for o in image.objects]


def evaluate_prelabels(entries: Sequence[dict], categories: Sequence[CategoryInfo], truth: LabeledDataset,
                       iou_threshold: float = 0.5) -> dict:
    """Score pre-labels against ground truth for the same images (matched by file name).

    Returns:
        ``images`` scored, ``bbox`` (COCO mAP / mAP50 of all detections, pycocotools),
        ``auto_accepted`` and ``auto_accepted_exact`` (tasks whose pre-labels match the
        truth one to one: class + IoU >= ``iou_threshold``, nothing missed or extra), and
        ``errors_first_half`` / ``errors_second_half``: missed + extra pre-labels per image
        in each half of the review order (a useful order puts the errors first).

    Raises:
        InputError: No image of the folder is in the ground truth, or no shared category.
    """
    by_name = {image.path.name: image for image in truth.images}
    names = {c.id: c.name for c in categories}
    truth_names = {c.id: c.name for c in truth.categories}
    if not set(names.values()) & set(truth_names.values()):
        raise InputError(f"ground_truth={truth.name}: shares no category with the detector's {sorted(names.values())}")
    scored = [e for e in entries if e["image"].path.name in by_name]
    if not scored:
        raise InputError(f"ground_truth={truth.name}: none of the pre-labeled images is in it (matched by file name)")
    target = {c.name: c.id for c in categories}
    test_images, results, errors, exact = [], [], [], []
    for position, entry in enumerate(scored):
        real = by_name[entry["image"].path.name]
        kept = [dataclasses.replace(o, category_id=target[truth_names[o.category_id]]) for o in real.objects
                if truth_names[o.category_id] in target]
        test_images.append(dataclasses.replace(real, objects=kept, polylines=[]))
        results += coco_results(entry["detections"], position + 1)
        gold, predicted = _labeled(test_images[-1], names), _labeled(entry["image"], names)
        matched = len(match_objects(gold, predicted, False, iou_threshold))
        errors.append(len(gold) + len(predicted) - 2 * matched)
        if entry["auto_accept"]:
            exact.append(errors[-1] == 0)
    scores = coco_scores(LabeledDataset(truth.name, tuple(categories), test_images), results, "bbox", 0,
                         np.random.default_rng(0))
    half = (len(errors) + 1) // 2
    return {"images": len(scored), "bbox": {"map": scores["map"], "map50": scores["map50"],
                                            "per_class": scores["per_class"]},
            "auto_accepted": len(exact), "auto_accepted_exact": int(sum(exact)),
            "errors_first_half": float(np.mean(errors[:half])), "errors_second_half":
                float(np.mean(errors[half:])) if errors[half:] else None}
