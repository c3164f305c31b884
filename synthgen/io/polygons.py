"""Masks as polygons along pixel edges (COCO polygons, YOLO segment lines, Label Studio and CVAT
outlines). OpenCV traces the contours; pycocotools rasterises the polygons back to the same mask.

Coordinates are continuous pixels (column c spans [c, c + 1)), flat ``[x0, y0, x1, y1, ...]``.
"""

from __future__ import annotations

import cv2
import numpy as np

from synthgen.io.record import decode_rle

__all__ = ["largest_polygon", "mask_to_polygons", "outer_polygon"]


def mask_to_polygons(mask: np.ndarray) -> list[list[float]] | None:
    """COCO polygons that trace a mask's pixel edges, or None when the mask has holes.

    OpenCV traces the contour of the mask upsampled 2x, so the polygon follows the
    pixels' outer edges rather than their centres; pycocotools rasterises it back to
    exactly the same mask. COCO polygons cannot express holes: callers keep RLE then.

    Args:
        mask: (H, W) bool.

    Returns:
        Flat ``[x0, y0, x1, y1, ...]`` lists in continuous pixel coordinates, one per
        connected part, or None.
    """
    contours, hierarchy = _edge_contours(mask, cv2.RETR_CCOMP)
    if hierarchy is not None and np.any(hierarchy[0][:, 3] >= 0):
        return None
    return [((contour.reshape(-1, 2) + 0.5) / 2.0).ravel().tolist() for contour in contours]


def _edge_contours(mask: np.ndarray, mode: int):
    upsampled = np.kron(mask.astype(np.uint8), np.ones((2, 2), np.uint8))
    return cv2.findContours(upsampled, mode, cv2.CHAIN_APPROX_SIMPLE)


def outer_polygon(mask: np.ndarray) -> list[float] | None:
    """The pixel-edge outline of a mask's largest part (holes ignored), flat ``[x0, y0, ...]``, or None if empty.

    For formats that take one polygon per object (YOLO segment, Label Studio).
    """
    contours, _ = _edge_contours(mask, cv2.RETR_EXTERNAL)
    if not contours:
        return None
    largest = max(contours, key=cv2.contourArea)
    return ((largest.reshape(-1, 2) + 0.5) / 2.0).ravel().tolist()


def largest_polygon(rle: dict) -> list[float] | None:
    """The outline of a COCO RLE mask's largest part, flat ``[x1, y1, ...]`` (pixel edges), or None."""
    return outer_polygon(decode_rle(rle))
