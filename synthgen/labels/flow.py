"""Exact optical flow between two frames from depth, instance ids and known motion (numpy only).

A pixel of frame t sees a surface point at its depth; that point belongs to an object
(the instance id map) or to the static world (id 0). Moving it with its object's rigid
motion from t to t+1 and projecting it with frame t+1's camera gives where it appears
next: the flow is the difference. Pixel centres are at ``(col + 0.5, row + 0.5)`` in the
continuous image coordinates of :class:`~synthgen.types.Camera`; flow is a displacement,
so the convention cancels.

Occlusion: a point can move behind another surface. ``occluded`` marks pixels whose
point lands inside frame t+1 but farther than what frame t+1's depth shows there.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from synthgen.types import Camera

__all__ = ["optical_flow"]


def _pixel_rays(camera: Camera) -> np.ndarray:
    """(H, W, 3) camera-frame directions with z = 1 through every pixel centre."""
    cols, rows = np.meshgrid(np.arange(camera.width) + 0.5, np.arange(camera.height) + 0.5)
    pixels = np.stack([cols, rows, np.ones_like(cols)], axis=-1)
    return pixels @ np.linalg.inv(camera.K).T


def optical_flow(
    depth: np.ndarray,
    instance_ids: np.ndarray,
    camera: Camera,
    next_camera: Camera,
    motions: Mapping[int, np.ndarray],
    next_depth: np.ndarray | None = None,
    depth_tolerance: float = 0.01,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Flow from one frame to the next.

    Args:
        depth: (H, W) float32 z-depth of frame t in metres; 0 where nothing was hit.
        instance_ids: (H, W) int32 instance id map of frame t (0: static world).
        camera: Frame t's camera.
        next_camera: Frame t+1's camera (same size).
        motions: Instance id -> (4, 4) world-frame rigid motion ``pose_{t+1} @ inv(pose_t)``;
            ids not listed (and id 0) are static.
        next_depth: (H, W) depth of frame t+1, to flag occluded pixels; None skips it.
        depth_tolerance: Relative depth difference still counted as the same surface.

    Returns:
        ``flow`` (H, W, 2) float32 ``(du, dv)`` in pixels (NaN where invalid), ``valid``
        (H, W) bool (a surface was hit and lands in front of the next camera), and
        ``occluded`` (H, W) bool (valid, inside frame t+1, but hidden there).
    """
    height, width = depth.shape
    points = _pixel_rays(camera) * depth[..., None]  # camera t frame
    to_world = np.linalg.inv(camera.world_to_camera)
    world = points @ to_world[:3, :3].T + to_world[:3, 3]
    for instance_id, motion in motions.items():
        selected = instance_ids == instance_id
        if instance_id and selected.any():
            motion = np.asarray(motion, dtype=np.float64)
            world[selected] = world[selected] @ motion[:3, :3].T + motion[:3, 3]
    moved = world @ next_camera.world_to_camera[:3, :3].T + next_camera.world_to_camera[:3, 3]
    valid = (depth > 0) & (moved[..., 2] > 1e-9)
    projected = moved @ next_camera.K.T
    with np.errstate(divide="ignore", invalid="ignore"):
        uv = projected[..., :2] / projected[..., 2:3]
    cols, rows = np.meshgrid(np.arange(width) + 0.5, np.arange(height) + 0.5)
    flow = (uv - np.stack([cols, rows], axis=-1)).astype(np.float32)
    flow[~valid] = np.nan
    occluded = np.zeros((height, width), dtype=bool)
    if next_depth is not None:
        inside = valid & (uv[..., 0] >= 0) & (uv[..., 0] < width) & (uv[..., 1] >= 0) & (uv[..., 1] < height)
        col = np.floor(np.clip(np.nan_to_num(uv[..., 0]), 0, width - 1)).astype(int)
        row = np.floor(np.clip(np.nan_to_num(uv[..., 1]), 0, height - 1)).astype(int)
        seen = next_depth[row, col]
        hidden = (seen <= 0) | (moved[..., 2] > seen * (1.0 + depth_tolerance))
        occluded = inside & hidden
    return flow, valid, occluded
