"""LiDAR previews: a bird's-eye view of a sweep with its 3D boxes, and its points drawn over the
camera image (the calibration checked by eye)."""

from __future__ import annotations

import cv2
import numpy as np

from synthgen.core import LidarBox, LidarSweep
from synthgen.visualize.drawing import id_color

__all__ = ["draw_bev", "draw_lidar_overlay", "draw_lidar_views"]


def _box_corners_xy(box: LidarBox) -> np.ndarray:
    """(4, 2) float64 footprint corners of a box in the LiDAR frame (x forward, y left)."""
    half = box.dimensions[:2] / 2
    signs = np.array([[1, 1], [1, -1], [-1, -1], [-1, 1]], dtype=np.float64)
    return (signs * half) @ box.rotation[:2, :2].T + box.center[:2]


def draw_bev(sweep: LidarSweep, extent_m: float = 60.0, size: int = 480) -> np.ndarray:
    """(size, size, 3) uint8 RGB top view: forward up, left to the left, ``extent_m`` metres each way.

    Points are coloured by class id (grey: unknown), boxes outlined in their track colour with
    the forward edge marked; the sensor is the white cross in the centre.
    """
    canvas = np.full((size, size, 3), 16, np.uint8)
    scale = size / (2 * extent_m)

    def pixels(xy: np.ndarray) -> np.ndarray:
        return np.stack([size / 2 - xy[:, 1] * scale, size / 2 - xy[:, 0] * scale], axis=1)

    at = np.rint(pixels(sweep.deskewed[:, :2].astype(np.float64))).astype(np.int64)
    inside = np.all((at >= 0) & (at < size), axis=1)
    palette = {int(c): (np.array(id_color(int(c))) if c else np.array([128, 128, 128])) for c in np.unique(sweep.class_ids)}
    colors = np.array([palette[int(c)] for c in sweep.class_ids], dtype=np.uint8).reshape(-1, 3)
    canvas[at[inside, 1], at[inside, 0]] = colors[inside]
    for box in sweep.boxes:
        corners = np.rint(pixels(_box_corners_xy(box))).astype(np.int32)
        color = id_color(box.instance_id)
        cv2.polylines(canvas, [corners], True, color, 1, cv2.LINE_AA)
        cv2.line(canvas, tuple(corners[0]), tuple(corners[1]), (255, 255, 255), 2, cv2.LINE_AA)
    centre = size // 2
    cv2.drawMarker(canvas, (centre, centre), (255, 255, 255), cv2.MARKER_CROSS, 10, 1)
    return canvas


def draw_lidar_overlay(image: np.ndarray, sweep: LidarSweep, K: np.ndarray, max_range_m: float = 60.0) -> np.ndarray:
    """(H, W, 3) uint8 RGB: the sweep's deskewed points projected into the camera, coloured by range."""
    drawn = (image.astype(np.float32) * 0.6).astype(np.uint8)
    camera = sweep.deskewed.astype(np.float64) @ sweep.lidar_to_camera[:3, :3].T + sweep.lidar_to_camera[:3, 3]
    front = camera[:, 2] > 0.1
    uv = camera[front, :2] / camera[front, 2:3] @ np.asarray(K)[:2, :2].T + np.asarray(K)[:2, 2]
    pixels = np.floor(uv).astype(np.int64)
    height, width = image.shape[:2]
    inside = (pixels[:, 0] >= 0) & (pixels[:, 0] < width) & (pixels[:, 1] >= 0) & (pixels[:, 1] < height)
    ranges = np.linalg.norm(sweep.deskewed[front][inside], axis=1)
    levels = np.clip(255 - ranges / max_range_m * 255, 0, 255).astype(np.uint8)
    colors = cv2.applyColorMap(levels.reshape(-1, 1), cv2.COLORMAP_JET).reshape(-1, 3)[:, ::-1]
    drawn[pixels[inside, 1], pixels[inside, 0]] = colors
    return drawn


def draw_lidar_views(image: np.ndarray, sweep: LidarSweep, K: np.ndarray) -> np.ndarray:
    """The overlay and the bird's-eye view side by side, as one RGB image the camera image's height."""
    overlay = draw_lidar_overlay(image, sweep, K)
    height = overlay.shape[0]
    bev = cv2.resize(draw_bev(sweep), (height, height), interpolation=cv2.INTER_NEAREST)
    return np.concatenate([overlay, bev], axis=1)
