"""Foreground masks for objects labeled with a box only: OpenCV's GrabCut seeded by the box.

A box-only label (YOLO detect, VOC, Label Studio rectangles) says where an object is, not
which pixels are it. Taking the whole box (or its central part) as the object's surface puts
background and neighbours into textures and cut-outs. ``box_cutout`` segments the object
inside its box with GrabCut (colour models of the box's inside vs a ring around it) and
checks that the result is plausible for a tight box: the mask fills a reasonable share of
the box and reaches the box's edges on at least three sides. Implausible masks are refused
(``None``): callers fall back to something safe and count the refusals.

Deterministic: GrabCut initialises its colour models with OpenCV's k-means, which draws
from OpenCV's thread-local generator; it is reseeded from ``seed`` before every call.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

__all__ = ["CutoutCheck", "box_cutout"]


@dataclass(frozen=True)
class CutoutCheck:
    """Plausibility limits for a box's foreground mask.

    Attributes:
        min_fill: Smallest share of the box the mask may cover (a thin or sparse mask means
            GrabCut took the background).
        max_fill: Largest share (a mask filling the whole box separated nothing).
        min_sides: Box sides the mask must reach (within ``edge_px``): a tight box touches
            its object on all four; three allows for a side cut by occlusion or the frame.
        edge: How close to a side counts as reaching it, as a share of the box's extent across
            that side (boxes drawn by hand are a few pixels loose).
    """

    min_fill: float = 0.25
    max_fill: float = 0.97
    min_sides: int = 3
    edge: float = 0.06


def box_cutout(photo: np.ndarray, box: np.ndarray, seed: int, check: CutoutCheck = CutoutCheck(),
               iterations: int = 5) -> np.ndarray | None:
    """The object's mask inside its box, or None when GrabCut's result is implausible.

    Args:
        photo: (H, W, 3) uint8 image (RGB or BGR: the colour models do not care).
        box: (4,) float ``xyxy`` box in continuous pixels (exclusive maxima).
        seed: Seeds OpenCV's generator for GrabCut's k-means (same seed, same mask).
        check: Plausibility limits.
        iterations: GrabCut iterations.

    Returns:
        (y1 - y0, x1 - x0) bool mask of the box's pixels (the box rounded to whole pixels
        and clipped to the image), the largest connected part of the foreground; None when
        the box is under 4 pixels a side or the mask fails ``check``.
    """
    height, width = photo.shape[:2]
    x0, y0, x1, y1 = np.clip(np.rint(box), 0, [width, height, width, height]).astype(int)
    if x1 - x0 < 4 or y1 - y0 < 4:
        return None
    # GrabCut's background model needs pixels outside the rectangle: a ring of half the box's size.
    pad_x, pad_y = max(4, (x1 - x0) // 2), max(4, (y1 - y0) // 2)
    cx0, cy0, cx1, cy1 = max(0, x0 - pad_x), max(0, y0 - pad_y), min(width, x1 + pad_x), min(height, y1 + pad_y)
    crop = np.ascontiguousarray(photo[cy0:cy1, cx0:cx1, :3])
    labels = np.zeros(crop.shape[:2], np.uint8)
    rect = (x0 - cx0, y0 - cy0, x1 - x0, y1 - y0)
    if rect[0] == 0 and rect[1] == 0 and rect[2] == crop.shape[1] and rect[3] == crop.shape[0]:
        return None  # the box is the whole image: no background to learn from
    cv2.setRNGSeed(int(seed) % 2**31)
    cv2.grabCut(crop, labels, rect, np.zeros((1, 65)), np.zeros((1, 65)), iterations, cv2.GC_INIT_WITH_RECT)
    inside = (labels == cv2.GC_FGD) | (labels == cv2.GC_PR_FGD)
    mask = _largest_part(inside[y0 - cy0:y1 - cy0, x0 - cx0:x1 - cx0])
    return mask if _plausible(mask, check) else None


def _largest_part(mask: np.ndarray) -> np.ndarray:
    count, parts, stats, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8), connectivity=8)
    if count <= 1:
        return np.zeros_like(mask, dtype=bool)
    return parts == 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))


def _plausible(mask: np.ndarray, check: CutoutCheck) -> bool:
    fill = float(mask.mean())
    if not check.min_fill <= fill <= check.max_fill:
        return False
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    h, w = mask.shape
    near_y, near_x = max(2.0, check.edge * h), max(2.0, check.edge * w)
    sides = [rows[0] < near_y, rows[-1] >= h - near_y, cols[0] < near_x, cols[-1] >= w - near_x]
    return sum(sides) >= check.min_sides
