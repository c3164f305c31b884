"""A labeled image as torchvision's detection input: an image tensor and a target dict of tv_tensors."""

from __future__ import annotations

import numpy as np

from synthgen.io.dataset import LabeledImage
from synthgen.io.record import decode_rle
from synthgen.torch_import import import_torch

torch = import_torch("synthgen.torch", "pip install 'synthgen[torch]' (torch and torchvision)")
try:
    from torchvision import tv_tensors
except ImportError as error:  # torch without torchvision
    from synthgen.core.errors import ConfigError

    raise ConfigError("synthgen.torch needs torchvision: pip install 'synthgen[torch]'") from error

__all__ = ["collate_detection", "detection_target"]


def _masks(image: LabeledImage) -> np.ndarray | None:
    """(N, H, W) uint8 visible masks, or None when an object has none (a box-only dataset)."""
    if any(obj.segmentation is None for obj in image.objects):
        return None
    masks = np.zeros((len(image.objects), image.height, image.width), np.uint8)
    for k, obj in enumerate(image.objects):
        masks[k] = decode_rle(obj.segmentation)
    return masks


def detection_target(image: LabeledImage, pixels: np.ndarray) -> tuple:
    """An image and its labels as torchvision's detection models and v2 transforms take them.

    Args:
        image: The labeled image (any reader's, or a sample's record).
        pixels: (H, W, 3) uint8 RGB.

    Returns:
        ``(tv_tensors.Image (3, H, W) uint8, target)``, the target holding:
        ``boxes`` (N, 4) float32 ``BoundingBoxes`` XYXY in pixels (exclusive maxima);
        ``labels`` (N,) int64 category ids (synthgen's start at 1: 0 is free for the
        background class of torchvision's detectors); ``masks`` (N, H, W) uint8 ``Mask``
        when every object has one; ``keypoints`` (N, K, 2) float32 ``KeyPoints`` (a plain
        tensor on torchvision < 0.23) and ``keypoints_visible`` (N, K) int64 COCO
        visibility (0 not labeled, 1 hidden, 2 visible) when the objects have keypoints;
        ``image_id`` (the image's index), ``area`` (N,) float32 and ``iscrowd`` (N,) int64.
    """
    height, width = pixels.shape[:2]
    canvas = (height, width)
    boxes = np.array([obj.bbox for obj in image.objects], np.float32).reshape(-1, 4)
    target = {
        "boxes": tv_tensors.BoundingBoxes(torch.from_numpy(boxes), format="XYXY", canvas_size=canvas),
        "labels": torch.tensor([obj.category_id for obj in image.objects], dtype=torch.int64),
        "image_id": int(image.index),
        "area": torch.tensor([obj.area for obj in image.objects], dtype=torch.float32),
        "iscrowd": torch.tensor([int(obj.iscrowd) for obj in image.objects], dtype=torch.int64),
    }
    masks = _masks(image)
    if masks is not None:
        target["masks"] = tv_tensors.Mask(torch.from_numpy(masks))
    counts = {len(obj.keypoints) for obj in image.objects}
    if image.objects and counts != {0} and len(counts) == 1:
        keypoints = np.stack([obj.keypoints for obj in image.objects]).astype(np.float32)
        points = torch.from_numpy(np.ascontiguousarray(keypoints[..., :2]))
        key_points = getattr(tv_tensors, "KeyPoints", None)  # torchvision >= 0.23
        target["keypoints"] = key_points(points, canvas_size=canvas) if key_points else points
        target["keypoints_visible"] = torch.from_numpy(keypoints[..., 2].astype(np.int64))
    tensor = tv_tensors.Image(torch.from_numpy(np.ascontiguousarray(pixels)).permute(2, 0, 1))
    return tensor, target


def collate_detection(batch: list[tuple]) -> tuple[list, list]:
    """A DataLoader ``collate_fn`` for detection: the images and the targets as two lists
    (images of different sizes, targets of different object counts), as torchvision's
    detection models take them."""
    images, targets = zip(*batch)
    return list(images), list(targets)
