"""Do an image and a sample's labels still agree? Scores for images a generator redrew (numpy + OpenCV).

A diffusion model that redraws a render (ControlNet, img2img) keeps the layout only
approximately, so the scene's labels must be verified on the new image. Each score is in
[0, 1] and is computed on the new image and on the render (whose labels are exact by
construction); ``relative`` = new / render says how much of the evidence for the labels
survived, which is comparable across scenes.

- ``edges``: image edges concentrate on the labeled objects' mask boundaries: contrast
  of Canny edge density within 2 px of a boundary against the density elsewhere,
  ``(near - far) / (near + far)`` clipped at 0.
- ``colour``: each labeled object stands out from its surround: Lab mean difference
  between the mask and a ring around it, over their pooled standard deviation (``d``),
  mapped to ``d / (1 + d)`` and averaged with the objects' areas as weights.
- ``segmenter`` (when the user provides a model): mean IoU between the model's
  prediction and the sample's semantic mask over the categories in the image.
"""

from __future__ import annotations

from collections.abc import Callable

import cv2
import numpy as np
from scipy.ndimage import find_objects

from synthgen.core import Sample

__all__ = ["agreement_scores", "colour_score", "edge_score", "segmenter_score"]

_MIN_OBJECT_PIXELS = 30
_RING_PIXELS = 5


def _boundaries(instance_ids: np.ndarray, labeled: set[int]) -> np.ndarray:
    """(H, W) bool pixels on a boundary between two ids where one side is a labeled object."""
    is_labeled = np.isin(instance_ids, list(labeled))
    boundary = np.zeros(instance_ids.shape, dtype=bool)
    for axis in (0, 1):
        differs = np.diff(instance_ids, axis=axis) != 0
        either = np.logical_or(np.take(is_labeled, range(instance_ids.shape[axis] - 1), axis=axis),
                               np.take(is_labeled, range(1, instance_ids.shape[axis]), axis=axis))
        edge = differs & either
        if axis == 0:
            boundary[:-1] |= edge
            boundary[1:] |= edge
        else:
            boundary[:, :-1] |= edge
            boundary[:, 1:] |= edge
    return boundary


def edge_score(image: np.ndarray, instance_ids: np.ndarray, labeled: set[int]) -> float:
    """Edge contrast at the labeled boundaries (see module docstring); 0 without boundaries.

    Args:
        image: (H, W, 3) uint8 RGB.
        instance_ids: (H, W) int instance id map.
        labeled: Ids of the labeled objects.
    """
    boundary = _boundaries(instance_ids, labeled)
    if not boundary.any():
        return 0.0
    near = cv2.dilate(boundary.astype(np.uint8), np.ones((5, 5), np.uint8)) > 0
    grey = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
    median = float(np.median(grey))
    edges = cv2.Canny(grey, int(max(0, 0.66 * median)), int(min(255, 1.33 * median) + 1)) > 0
    if near.all():
        return 0.0
    near_density, far_density = edges[near].mean(), edges[~near].mean()
    return float(np.clip((near_density - far_density) / (near_density + far_density + 1e-9), 0.0, 1.0))


def colour_score(image: np.ndarray, instance_ids: np.ndarray, labeled: set[int]) -> float:
    """Area-weighted separability of each labeled object from its surround (module docstring)."""
    lab = cv2.cvtColor(image, cv2.COLOR_RGB2LAB).astype(np.float64)
    kernel = np.ones((2 * _RING_PIXELS + 1, 2 * _RING_PIXELS + 1), np.uint8)
    height, width = instance_ids.shape
    scores, weights = [], []
    # Each object is scored inside its box grown by the ring width (one pass finds every box).
    boxes = find_objects(instance_ids)
    for instance_id in sorted(labeled):
        if instance_id > len(boxes) or boxes[instance_id - 1] is None:
            continue
        rows, cols = boxes[instance_id - 1]
        window = np.s_[max(rows.start - _RING_PIXELS, 0):min(rows.stop + _RING_PIXELS, height),
                       max(cols.start - _RING_PIXELS, 0):min(cols.stop + _RING_PIXELS, width)]
        inside = instance_ids[window] == instance_id
        area = int(inside.sum())
        if area < _MIN_OBJECT_PIXELS:
            continue
        ring = (cv2.dilate(inside.astype(np.uint8), kernel) > 0) & ~inside
        if ring.sum() < _MIN_OBJECT_PIXELS:
            continue
        a, b = lab[window][inside], lab[window][ring]
        spread = np.sqrt(0.5 * (a.var(axis=0) + b.var(axis=0)).sum()) + 1.0  # +1: flat renders stay finite
        d = np.linalg.norm(a.mean(axis=0) - b.mean(axis=0)) / spread
        scores.append(d / (1.0 + d))
        weights.append(area)
    return float(np.average(scores, weights=weights)) if scores else 0.0


def segmenter_score(image: np.ndarray, sample: Sample, segmenter: Callable[[np.ndarray], np.ndarray]) -> float:
    """Mean IoU of a segmentation model's prediction with the sample's labels.

    Args:
        image: (H, W, 3) uint8 RGB.
        sample: The labeled sample.
        segmenter: ``image -> (H, W)`` category id map (0: background), or bool
            foreground mask (then scored against all labeled objects together).
    """
    predicted = np.asarray(segmenter(image))
    semantic = sample.semantic_mask()
    if predicted.dtype == bool:
        pairs = [(predicted, semantic > 0)]
    else:
        pairs = [(predicted == c, semantic == c) for c in sorted({i.category_id for i in sample.instances})]
    ious = [(p & t).sum() / max((p | t).sum(), 1) for p, t in pairs if t.any()]
    return float(np.mean(ious)) if ious else 0.0


def agreement_scores(image: np.ndarray, sample: Sample,
                     segmenter: Callable[[np.ndarray], np.ndarray] | None = None) -> dict:
    """Scores of ``image`` against ``sample``'s labels, of the render (``sample.image``), and relative.

    Returns:
        ``{"image": {name: score}, "render": {name: score}, "relative": {name: ratio},
        "score": mean relative score}`` with names ``edges``, ``colour`` (and ``segmenter``);
        ratios are clipped to [0, 1] and are 1 where the render itself scores 0.
    """
    labeled = {instance.instance_id for instance in sample.instances}
    ids = sample.instance_ids

    def scores(picture: np.ndarray) -> dict:
        result = {"edges": edge_score(picture, ids, labeled), "colour": colour_score(picture, ids, labeled)}
        if segmenter is not None:
            result["segmenter"] = segmenter_score(picture, sample, segmenter)
        return result

    new, render = scores(image), scores(sample.image)
    relative = {name: float(np.clip(new[name] / render[name], 0.0, 1.0)) if render[name] > 0 else 1.0
                for name in new}
    return {"image": new, "render": render, "relative": relative, "score": float(np.mean(list(relative.values())))}
