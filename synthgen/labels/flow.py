"""Exact optical flow between two frames from depth, instance ids and known motion (numpy only).

A pixel of frame t sees a surface point at its depth; that point belongs to an object
(the instance id map) or to the static world (id 0). Moving it with its object's rigid
motion from t to t+1 and projecting it with frame t+1's camera gives where it appears
next: the flow is the difference. Pixel centres are at ``(col + 0.5, row + 0.5)`` in the
continuous image coordinates of :class:`~synthgen.core.Camera`; flow is a displacement,
so the convention cancels.

Occlusion: a point can move behind another surface. ``occluded`` marks pixels whose
point lands inside frame t+1 but farther than what frame t+1's depth shows there.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from synthgen.core import Camera

__all__ = ["optical_flow"]


def _pixel_transforms(camera: Camera, next_camera: Camera, motion: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(A, b)`` with ``next homogeneous pixel = depth * A @ [u, v, 1] + b`` for a point moved by ``motion``.

    Back-projection, world motion, the change of camera and projection compose into one
    3x3 matrix and one offset, so a whole image maps with a few multiply-adds per pixel.
    """
    to_next = next_camera.world_to_camera @ motion @ np.linalg.inv(camera.world_to_camera)
    return next_camera.K @ to_next[:3, :3] @ np.linalg.inv(camera.K), next_camera.K @ to_next[:3, 3]


def optical_flow(
    depth: np.ndarray,
    instance_ids: np.ndarray,
    camera: Camera,
    next_camera: Camera,
    motions: Mapping[int, np.ndarray],
    next_depth: np.ndarray | None = None,
    depth_tolerance: float = 0.01,
    count_leaving: bool = False,
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
        count_leaving: Also flag valid pixels that land outside frame t+1 as occluded.

    Returns:
        ``flow`` (H, W, 2) float32 ``(du, dv)`` in pixels (NaN where invalid), ``valid``
        (H, W) bool (a surface was hit and lands in front of the next camera), and
        ``occluded`` (H, W) bool (valid, inside frame t+1, but hidden there; with
        ``count_leaving`` also valid and outside frame t+1).
    """
    height, width = depth.shape
    u = np.arange(width, dtype=np.float32) + np.float32(0.5)
    v = np.arange(height, dtype=np.float32)[:, None] + np.float32(0.5)
    depth = depth.astype(np.float32, copy=False)
    matrix, offset = (x.astype(np.float32) for x in _pixel_transforms(camera, next_camera, np.eye(4)))
    # (3, H, W) next-frame homogeneous pixels of the static world, row by row of A.
    projected = np.stack([depth * (row[0] * u + row[1] * v + row[2]) + shift for row, shift in zip(matrix, offset)])
    moving = [(instance_id, motion) for instance_id, motion in motions.items() if instance_id]
    if moving:
        # One pass over the moving objects' pixels: each gathers its object's transform.
        lookup = np.zeros(max(int(instance_ids.max()), max(i for i, _ in moving)) + 1, dtype=np.intp)
        transforms = [_pixel_transforms(camera, next_camera, np.asarray(m, dtype=np.float64)) for _, m in moving]
        lookup[[i for i, _ in moving]] = np.arange(1, len(moving) + 1)
        which = lookup[instance_ids]
        rows, cols = np.nonzero(which)
        chosen = which[rows, cols] - 1
        matrices = np.stack([t[0] for t in transforms])[chosen]
        offsets = np.stack([t[1] for t in transforms])[chosen]
        pixels = np.stack([cols + 0.5, rows + 0.5, np.ones(rows.size)], axis=1)
        moved = depth[rows, cols, None] * np.einsum("nij,nj->ni", matrices, pixels) + offsets
        projected[:, rows, cols] = moved.T
    moved_z = projected[2]  # the camera frame's z: K's last row is (0, 0, 1)
    valid = (depth > 0) & (moved_z > 1e-9)
    with np.errstate(divide="ignore", invalid="ignore"):
        inverse_z = np.float32(1.0) / moved_z
    next_u, next_v = projected[0] * inverse_z, projected[1] * inverse_z
    flow = np.empty((height, width, 2), dtype=np.float32)
    np.subtract(next_u, u, out=flow[..., 0])
    np.subtract(next_v, v, out=flow[..., 1])
    flow[~valid] = np.nan
    with np.errstate(invalid="ignore"):
        inside = valid & (next_u >= 0) & (next_u < width) & (next_v >= 0) & (next_v < height)
    occluded = valid & ~inside if count_leaving else np.zeros((height, width), dtype=bool)
    if next_depth is not None:
        # Coordinates inside the image are non-negative: truncation is the floor.
        seen = next_depth[next_v[inside].astype(np.intp), next_u[inside].astype(np.intp)]
        occluded[inside] = (seen <= 0) | (moved_z[inside] > seen * (1.0 + depth_tolerance))
    return flow, valid, occluded
