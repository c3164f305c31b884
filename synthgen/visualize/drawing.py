"""Draw labels over images (the galleries of ``synthgen preview`` are drawn with it).

Drawn: visible masks (tinted and outlined), boxes (solid), amodal boxes of occluded or
truncated objects (dashed), keypoints (white dot: visible, red ring: occluded) with
their skeleton, cuboids (12 edges) and polylines (thick where visible, thin grey where
hidden).
Sequence datasets also get an animation per clip (GIF or MP4) with every track's id
drawn, also where the object is hidden (dashed box, id in brackets).
"""

from __future__ import annotations

import colorsys
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from synthgen.core import BOX_EDGES, Sample
from synthgen.core.errors import InputError
from synthgen.labels.geometry import OCCLUDED, VISIBLE

__all__ = ["draw_labeled_image", "draw_sample", "draw_tracks", "id_color", "write_clip_animation"]


@dataclass
class _Item:
    color_key: int
    mask: np.ndarray | None
    bbox: np.ndarray
    amodal_bbox: np.ndarray | None
    keypoints: np.ndarray
    skeleton: tuple
    corners_2d: np.ndarray | None


def id_color(key: int) -> tuple[int, int, int]:
    """A distinct, stable RGB colour per id (golden-ratio hues)."""
    r, g, b = colorsys.hsv_to_rgb((key * 0.618034) % 1.0, 0.75, 1.0)
    return int(r * 255), int(g * 255), int(b * 255)


def _point(xy) -> tuple[int, int]:
    return int(round(float(xy[0]) - 0.5)), int(round(float(xy[1]) - 0.5))


def _dashed_rectangle(image: np.ndarray, box: np.ndarray, color, dash: int = 5) -> None:
    x0, y0, x1, y1 = (int(round(v)) for v in box)
    for start, end in (((x0, y0), (x1 - 1, y0)), ((x1 - 1, y0), (x1 - 1, y1 - 1)),
                       ((x1 - 1, y1 - 1), (x0, y1 - 1)), ((x0, y1 - 1), (x0, y0))):
        length = max(abs(end[0] - start[0]), abs(end[1] - start[1]), 1)
        for t in range(0, length, 2 * dash):
            a = np.add(start, np.subtract(end, start) * t / length)
            b = np.add(start, np.subtract(end, start) * min(t + dash, length) / length)
            cv2.line(image, tuple(int(v) for v in a), tuple(int(v) for v in b), color, 1)


def _draw(image: np.ndarray, items: list[_Item], polylines: list[tuple[int, np.ndarray]],
          masks: bool, cuboids: bool) -> np.ndarray:
    image = np.ascontiguousarray(image.copy())
    if masks and any(item.mask is not None for item in items):
        tint = image.copy()
        for item in items:
            if item.mask is not None:
                tint[item.mask] = id_color(item.color_key)
        image = cv2.addWeighted(image, 0.65, tint, 0.35, 0)
        for item in items:
            if item.mask is not None:
                contours, _ = cv2.findContours(item.mask.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
                cv2.drawContours(image, contours, -1, id_color(item.color_key), 1)
    for item in items:
        color = id_color(item.color_key)
        x0, y0, x1, y1 = (int(round(v)) for v in item.bbox)
        cv2.rectangle(image, (x0, y0), (x1 - 1, y1 - 1), color, 1)
        if item.amodal_bbox is not None:
            _dashed_rectangle(image, item.amodal_bbox, color)
        if cuboids and item.corners_2d is not None and np.isfinite(item.corners_2d).all():
            for a, b in BOX_EDGES:
                cv2.line(image, _point(item.corners_2d[a]), _point(item.corners_2d[b]), (255, 255, 255), 1, cv2.LINE_AA)
        keypoints = item.keypoints
        for a, b in item.skeleton if len(keypoints) else ():
            if keypoints[a, 2] > 0 and keypoints[b, 2] > 0:
                cv2.line(image, _point(keypoints[a]), _point(keypoints[b]), color, 1, cv2.LINE_AA)
        for x, y, v in keypoints:
            if v == VISIBLE:
                cv2.circle(image, _point((x, y)), 2, (255, 255, 255), -1, cv2.LINE_AA)
            elif v == OCCLUDED:
                cv2.circle(image, _point((x, y)), 3, (255, 60, 60), 1, cv2.LINE_AA)
    for category_id, points in polylines:
        color = id_color(1000 + category_id)
        for (xa, ya, va), (xb, yb, vb) in zip(points[:-1], points[1:]):
            visible = va == VISIBLE and vb == VISIBLE
            cv2.line(image, _point((xa, ya)), _point((xb, yb)), color if visible else (128, 128, 128),
                     2 if visible else 1, cv2.LINE_AA)
    return image


def draw_sample(sample: Sample, masks: bool = True, cuboids: bool = True) -> np.ndarray:
    """The sample's image with its labels drawn on it.

    Args:
        sample: The sample.
        masks: Tint and outline visible masks.
        cuboids: Draw 3D boxes.

    Returns:
        (H, W, 3) uint8 RGB.
    """
    skeletons = {c.id: c.skeleton for c in sample.categories}
    items = [
        _Item(instance.instance_id, instance.mask, instance.bbox,
              instance.amodal_bbox if instance.occlusion > 0 or instance.truncation > 0 else None,
              instance.keypoints, skeletons[instance.category_id], instance.cuboid.corners_2d)
        for instance in sample.instances
    ]
    lines = [(line.category_id, line.points) for line in sample.polylines]
    return _draw(sample.image, items, lines, masks, cuboids)


def draw_labeled_image(image, dataset, masks: bool = True, cuboids: bool = True) -> np.ndarray:
    """An image of a ``LabeledDataset`` (synthetic or real) with its labels drawn on it.

    Args:
        image: A ``LabeledImage`` of ``dataset``.
        dataset: Its ``LabeledDataset``.
        masks: Tint and outline masks (where the format has them).
        cuboids: Draw 3D boxes (synthetic datasets).

    Returns:
        (H, W, 3) uint8 RGB.

    Raises:
        InputError: The image file cannot be read.
    """
    from synthgen.io.record import decode_rle

    pixels = cv2.imread(str(image.path), cv2.IMREAD_COLOR)
    if pixels is None:
        raise InputError(f"{image.path}: missing or unreadable image")
    items = []
    for k, obj in enumerate(image.objects):
        hidden = obj.occlusion or obj.truncation
        items.append(_Item(
            k + 1 if obj.track_id is None else obj.track_id,
            decode_rle(obj.segmentation) if obj.segmentation else None, obj.bbox,
            np.asarray(obj.amodal_bbox, dtype=np.float64) if hidden and obj.amodal_bbox is not None else None,
            obj.keypoints, dataset.category(obj.category_id).skeleton,
            None if obj.cuboid is None else np.asarray(obj.cuboid.corners_2d, dtype=np.float64),
        ))
    lines = [(line.category_id, np.asarray(line.points)) for line in image.polylines]
    return _draw(pixels[..., ::-1], items, lines, masks, cuboids)


def draw_tracks(pixels: np.ndarray, image) -> np.ndarray:
    """Track ids over a drawn sequence frame (in place); hidden tracks get a dashed box and ``(id)``.

    Args:
        pixels: (H, W, 3) uint8 RGB, usually ``draw_labeled_image``'s output.
        image: The frame's ``LabeledImage`` (its ``tracks``).
    """
    for track in image.tracks:
        if track.state == "out_of_view":
            continue
        color = id_color(track.track_id)
        x0, y0 = (int(round(v)) for v in track.amodal_bbox[:2])
        text = str(track.track_id) if track.state in ("visible", "too_small") else f"({track.track_id})"
        if track.state == "occluded":
            _dashed_rectangle(pixels, np.asarray(track.amodal_bbox), color)
        cv2.putText(pixels, text, (x0 + 1, max(y0 - 2, 9)), cv2.FONT_HERSHEY_SIMPLEX, 0.35, (0, 0, 0), 2, cv2.LINE_AA)
        cv2.putText(pixels, text, (x0 + 1, max(y0 - 2, 9)), cv2.FONT_HERSHEY_SIMPLEX, 0.35, color, 1, cv2.LINE_AA)
    return pixels


def write_clip_animation(images, dataset, path: Path, masks: bool = True, cuboids: bool = False) -> Path:
    """Write one clip's frames (in order) with labels and track ids as ``.gif`` or ``.mp4`` (by suffix).

    Raises:
        InputError: The MP4 encoder is not available.
    """
    fps = float(images[0].frame.fps)
    frames = [draw_tracks(draw_labeled_image(image, dataset, masks, cuboids), image) for image in images]
    if path.suffix == ".gif":
        from PIL import Image

        pictures = [Image.fromarray(frame) for frame in frames]
        pictures[0].save(path, save_all=True, append_images=pictures[1:], duration=round(1000 / fps), loop=0)
        return path
    height, width = frames[0].shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (width, height))
    if not writer.isOpened():
        raise InputError(f"{path}: this OpenCV build cannot write MP4; use animation=gif")
    for frame in frames:
        writer.write(frame[..., ::-1])
    writer.release()
    return path


