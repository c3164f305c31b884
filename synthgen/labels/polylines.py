"""Polyline labels: 3D lines (lane markings) projected, clipped to the image, with visibility. Pure numpy.

A 3D polyline is resampled at a fixed spacing (so per-vertex visibility means
something along long straight lines), clipped in 3D to the camera's view frustum
(near plane and the four image borders; the cut points land exactly on the border),
projected, and each vertex gets COCO visibility from the depth map: 2 when the
surface seen there is the line itself, 1 when something closer hides it.
"""

from __future__ import annotations

import numpy as np

from synthgen.core import Camera
from synthgen.labels.geometry import OCCLUDED, VISIBLE

__all__ = ["clip_polyline_2d", "polyline_labels", "resample_polyline"]

_NEAR_M = 1e-3


def resample_polyline(points: np.ndarray, spacing: float) -> np.ndarray:
    """(M, D) points along a (N, D) polyline, no farther than ``spacing`` apart, keeping the originals."""
    pieces = [points[:1]]
    for start, end in zip(points[:-1], points[1:]):
        steps = max(int(np.ceil(np.linalg.norm(end - start) / spacing)), 1)
        t = np.arange(1, steps + 1)[:, None] / steps
        pieces.append(start + t * (end - start))
    return np.concatenate(pieces)


def _clip_parameters(points: np.ndarray, planes: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Liang-Barsky clipping of every segment ``points[i] + t (points[i + 1] - points[i])`` to the
    half-spaces ``planes @ [p, 1] >= 0`` at once.

    Args:
        points: (N, D) float64 polyline vertices.
        planes: (P, D + 1) float64 half-spaces.

    Returns:
        (N - 1,) float64 t0 and t1 of each segment's part inside, and (N - 1,) bool: whether
        it has one (t0 < t1 and no plane has both ends outside).
    """
    # Signed distances as explicit products and sums, the same on every machine (a BLAS dot
    # product's rounding depends on the CPU's kernel).
    distance = points[:, :1] * planes[:, 0]
    for axis in range(1, points.shape[1]):
        distance = distance + points[:, axis:axis + 1] * planes[:, axis]
    distance = distance + planes[:, -1]
    a, b = distance[:-1], distance[1:]
    with np.errstate(divide="ignore", invalid="ignore"):
        cut = a / (a - b)
    enters, leaves = a < 0, (a >= 0) & (b < 0)
    t0 = np.max(np.where(enters, cut, 0.0), axis=1, initial=0.0)
    t1 = np.min(np.where(leaves, cut, 1.0), axis=1, initial=1.0)
    inside = ~np.any(enters & (b < 0), axis=1) & (t0 < t1)
    return t0, t1, inside


def _runs(points: np.ndarray, planes: np.ndarray) -> list[tuple[np.ndarray, list[int]]]:
    """Connected pieces of a polyline inside the half-spaces ``planes`` (each (D + 1,)).

    Returns:
        (M, D) points of each piece, and for each point the index of the original vertex
        it stands for: itself, or for a cut point the segment's vertex inside.
    """
    runs: list[tuple[np.ndarray, list[int]]] = []
    current: list[np.ndarray] = []
    sources: list[int] = []

    def close() -> None:
        if len(current) >= 2:
            runs.append((np.array(current), list(sources)))
        current.clear()
        sources.clear()

    t0, t1, inside = _clip_parameters(points, planes)
    step = points[1:] - points[:-1]
    first, last = points[:-1] + t0[:, None] * step, points[:-1] + t1[:, None] * step
    for i in range(len(points) - 1):
        if not inside[i]:
            close()
            continue
        if not current or t0[i] > 0:
            close()
            current.append(first[i])
            sources.append(i if t0[i] == 0 else i + 1)
        current.append(last[i])
        sources.append(i + 1 if t1[i] == 1 else i)
        if t1[i] < 1:
            close()
    close()
    return runs


def _image_planes(width: int, height: int) -> np.ndarray:
    """Half-spaces ``a x + b y + c >= 0`` of the image rectangle [0, W] x [0, H]."""
    return np.array([[1.0, 0.0, 0.0], [-1.0, 0.0, width], [0.0, 1.0, 0.0], [0.0, -1.0, height]])


def _frustum_planes(camera: Camera) -> np.ndarray:
    """Half-spaces ``n . p + d >= 0`` (camera frame) of the view frustum, (5, 4)."""
    fx, fy, cx, cy = camera.K[0, 0], camera.K[1, 1], camera.K[0, 2], camera.K[1, 2]
    width, height = camera.width, camera.height
    return np.array([
        [0.0, 0.0, 1.0, -_NEAR_M],
        [fx, 0.0, cx, 0.0],                 # u >= 0
        [-fx, 0.0, width - cx, 0.0],        # u <= W
        [0.0, fy, cy, 0.0],                 # v >= 0
        [0.0, -fy, height - cy, 0.0],       # v <= H
    ])


def clip_polyline_2d(points: np.ndarray, width: int, height: int) -> list[np.ndarray]:
    """Clip an image polyline to the image; a cut point takes the visibility of its segment's inside vertex.

    Args:
        points: (N, 3) float rows ``x, y, v`` in continuous pixel coordinates.
        width: Image width.
        height: Image height.

    Returns:
        Connected pieces inside [0, W] x [0, H], each (M, 3) with M >= 2.
    """
    runs = _runs(points[:, :2].astype(np.float64), _image_planes(width, height))
    return [np.column_stack([run, points[sources, 2]]) for run, sources in runs]


def _visibility(uv: np.ndarray, z: np.ndarray, depth: np.ndarray, tolerance: float, relative: float) -> np.ndarray:
    """COCO visibility per point: the depth seen at its exact position vs its own depth.

    Inverse depth is interpolated bilinearly over the 2x2 pixel centres around the
    point (inverse depth is linear across the image on a plane, so on the road this is
    exact up to the raster); a point is hidden when the surface seen there is closer
    than ``tolerance + relative * z``. A point whose 2x2 block touches empty background
    (at the horizon, beyond the far plane) counts as visible.

    Args:
        uv: (N, 2) float continuous pixel coordinates inside the image.
        z: (N,) float depths of the points.
        depth: (H, W) float32 depth map, 0 where nothing was hit.
        tolerance: Slack in metres.
        relative: Extra slack per metre of depth.

    Returns:
        (N,) float64 visibility, 1 or 2.
    """
    height, width = depth.shape
    col0 = np.clip(np.floor(uv[:, 0] - 0.5), 0, width - 2).astype(int)
    row0 = np.clip(np.floor(uv[:, 1] - 0.5), 0, height - 2).astype(int)
    fx = np.clip(uv[:, 0] - 0.5 - col0, 0.0, 1.0)
    fy = np.clip(uv[:, 1] - 0.5 - row0, 0.0, 1.0)
    corners = np.stack([depth[row0, col0], depth[row0, col0 + 1], depth[row0 + 1, col0], depth[row0 + 1, col0 + 1]])
    corners = corners.astype(np.float64)
    touches_background = np.any(corners == 0, axis=0)
    inverse = 1.0 / np.where(corners == 0, 1.0, corners)
    top = inverse[0] * (1 - fx) + inverse[1] * fx
    bottom = inverse[2] * (1 - fx) + inverse[3] * fx
    seen = 1.0 / (top * (1 - fy) + bottom * fy)
    hidden = ~touches_background & (seen < z - tolerance - relative * z)
    return np.where(hidden, OCCLUDED, VISIBLE).astype(np.float64)


def polyline_labels(
    points_world: np.ndarray,
    camera: Camera,
    depth: np.ndarray,
    spacing: float,
    tolerance: float,
    relative_tolerance: float,
) -> list[np.ndarray]:
    """Image polylines of one 3D polyline.

    Args:
        points_world: (N, 3) float world points along the line.
        camera: The camera.
        depth: (H, W) float32 metres, 0 where nothing was hit.
        spacing: Resampling distance in metres.
        tolerance: Depth slack in metres.
        relative_tolerance: Extra slack per metre of depth (raster error grows with distance).

    Returns:
        Connected pieces inside the image, each (M, 3) float64 rows ``x, y, v``.
    """
    dense = resample_polyline(np.asarray(points_world, dtype=np.float64), spacing)
    pieces = []
    for run, _ in _runs(camera.to_camera(dense), _frustum_planes(camera)):
        uv = camera.project_camera_points(run)
        uv = np.clip(uv, 0.0, [camera.width, camera.height])  # border points: rounding only
        pieces.append(np.column_stack([uv, _visibility(uv, run[:, 2], depth, tolerance, relative_tolerance)]))
    return pieces
