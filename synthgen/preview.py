"""Draw a sample's labels over its image: masks, boxes, amodal boxes, keypoints, cuboids, polylines."""

from __future__ import annotations

import colorsys

import cv2
import numpy as np

from synthgen.labels.geometry import OCCLUDED, VISIBLE
from synthgen.scene.assets import BOX_EDGES
from synthgen.types import Sample

__all__ = ["draw_sample"]


def _color(key: int) -> tuple[int, int, int]:
    """A distinct, stable RGB colour per id (golden-ratio hues)."""
    r, g, b = colorsys.hsv_to_rgb((key * 0.618034) % 1.0, 0.75, 1.0)
    return int(r * 255), int(g * 255), int(b * 255)


def _point(xy) -> tuple[int, int]:
    return int(round(float(xy[0]) - 0.5)), int(round(float(xy[1]) - 0.5))


def _dashed_rectangle(image: np.ndarray, box: np.ndarray, color, dash: int = 5) -> None:
    x0, y0, x1, y1 = (int(v) for v in box)
    for start, end in (((x0, y0), (x1 - 1, y0)), ((x1 - 1, y0), (x1 - 1, y1 - 1)),
                       ((x1 - 1, y1 - 1), (x0, y1 - 1)), ((x0, y1 - 1), (x0, y0))):
        length = max(abs(end[0] - start[0]), abs(end[1] - start[1]), 1)
        for t in range(0, length, 2 * dash):
            a = np.add(start, np.subtract(end, start) * t / length)
            b = np.add(start, np.subtract(end, start) * min(t + dash, length) / length)
            cv2.line(image, tuple(int(v) for v in a), tuple(int(v) for v in b), color, 1)


def draw_sample(sample: Sample, masks: bool = True, cuboids: bool = True) -> np.ndarray:
    """The sample's image with its labels drawn on it.

    Visible masks are tinted and outlined; boxes are solid, amodal boxes dashed; keypoints visible
    (v=2) are filled dots, occluded (v=1) hollow rings, with the category's skeleton;
    cuboids are drawn as their 12 edges; polylines solid where visible and thin where
    hidden.

    Args:
        sample: The sample.
        masks: Tint and outline visible masks.
        cuboids: Draw 3D boxes.

    Returns:
        (H, W, 3) uint8 RGB.
    """
    image = sample.image.copy()
    categories = {c.id: c for c in sample.categories}
    if masks:
        tint = image.copy()
        for instance in sample.instances:
            tint[instance.mask] = _color(instance.instance_id)
        image = cv2.addWeighted(image, 0.65, tint, 0.35, 0)
        for instance in sample.instances:
            contours, _ = cv2.findContours(instance.mask.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
            cv2.drawContours(image, contours, -1, _color(instance.instance_id), 1)
    for instance in sample.instances:
        color = _color(instance.instance_id)
        x0, y0, x1, y1 = (int(v) for v in instance.bbox)
        cv2.rectangle(image, (x0, y0), (x1 - 1, y1 - 1), color, 1)
        if instance.occlusion > 0 or instance.truncation > 0:
            _dashed_rectangle(image, instance.amodal_bbox, color)
        if cuboids and np.isfinite(instance.cuboid.corners_2d).all():
            corners = instance.cuboid.corners_2d
            for a, b in BOX_EDGES:
                cv2.line(image, _point(corners[a]), _point(corners[b]), (255, 255, 255), 1, cv2.LINE_AA)
        keypoints = instance.keypoints
        for a, b in categories[instance.category_id].skeleton if len(keypoints) else ():
            if keypoints[a, 2] > 0 and keypoints[b, 2] > 0:
                cv2.line(image, _point(keypoints[a]), _point(keypoints[b]), color, 1, cv2.LINE_AA)
        for x, y, v in keypoints:
            if v == VISIBLE:
                cv2.circle(image, _point((x, y)), 2, (255, 255, 255), -1, cv2.LINE_AA)
            elif v == OCCLUDED:
                cv2.circle(image, _point((x, y)), 3, (255, 60, 60), 1, cv2.LINE_AA)
    for line in sample.polylines:
        color = _color(1000 + line.category_id)
        points = line.points
        for (xa, ya, va), (xb, yb, vb) in zip(points[:-1], points[1:]):
            visible = va == VISIBLE and vb == VISIBLE
            cv2.line(image, _point((xa, ya)), _point((xb, yb)), color if visible else (128, 128, 128),
                     2 if visible else 1, cv2.LINE_AA)
    return image
