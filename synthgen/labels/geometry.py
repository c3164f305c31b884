"""Label geometry: boxes, keypoint visibility, cuboids, truncation. Pure numpy.

Image coordinates are continuous (pixel column c spans [c, c + 1)); boxes are xyxy
with exclusive maxima. See ``synthgen.types`` for all frame conventions.
"""

from __future__ import annotations

import numpy as np

from synthgen.types import CUBOID_CORNER_SIGNS, Camera, Cuboid, SceneObject

__all__ = [
    "cuboid_of",
    "keypoint_labels",
    "mask_box",
    "object_to_camera",
    "truncation_ratio",
]

# COCO keypoint visibility values.
NOT_LABELED, OCCLUDED, VISIBLE = 0, 1, 2


def mask_box(mask: np.ndarray) -> np.ndarray:
    """Extent of a mask.

    Args:
        mask: (H, W) bool.

    Returns:
        (4,) float64 xyxy with exclusive maxima (a mask on columns 10..19 gives x
        10..20); all zeros for an empty mask.
    """
    columns = np.flatnonzero(mask.any(axis=0))
    if columns.size == 0:
        return np.zeros(4)
    rows = np.flatnonzero(mask.any(axis=1))
    return np.array([columns[0], rows[0], columns[-1] + 1, rows[-1] + 1], dtype=np.float64)


def object_to_camera(obj: SceneObject, camera: Camera) -> np.ndarray:
    """(4, 4) float64 rigid object -> OpenCV camera transform (scale excluded)."""
    return camera.world_to_camera @ obj.pose


def keypoint_labels(
    obj: SceneObject,
    camera: Camera,
    instance_ids: np.ndarray,
    depth: np.ndarray,
    tolerance: float,
    search_radius: int = 1,
) -> np.ndarray:
    """Project an object's keypoints and decide COCO visibility from depth and ids.

    A keypoint in front of the camera and inside the image is visible (2) when a pixel
    within ``search_radius`` of it shows this object at a depth within ``tolerance`` of
    the keypoint's own depth; otherwise something hides it (1): another object, or the
    object itself (a back corner). Keypoints outside the image or behind the camera
    get 0. The neighbourhood makes keypoints on the silhouette (a box corner) count
    as visible.

    Args:
        obj: The object; its keypoints are in its (unscaled) frame.
        camera: The camera.
        instance_ids: (H, W) int32 visible instance ids.
        depth: (H, W) float32 metres, sampled in the same pass as ``instance_ids``.
        tolerance: Depth slack in metres.
        search_radius: Neighbourhood half-size in pixels.

    Returns:
        (K, 3) float64 rows ``x, y, v``; x, y are continuous pixel coordinates (the
        projection even when v is 0, NaN behind the camera).
    """
    if len(obj.keypoints) == 0:
        return np.zeros((0, 3))
    uv, z = camera.project(obj.to_world(obj.keypoints))
    height, width = instance_ids.shape
    labels = np.zeros((len(uv), 3))
    labels[:, :2] = uv
    for k, ((u, v), point_depth) in enumerate(zip(uv, z)):
        if not (point_depth > 0 and 0 <= u < width and 0 <= v < height):
            continue
        row, col = int(v), int(u)
        window = np.s_[max(row - search_radius, 0): row + search_radius + 1,
                       max(col - search_radius, 0): col + search_radius + 1]
        on_surface = (instance_ids[window] == obj.instance_id) & (np.abs(depth[window] - point_depth) <= tolerance)
        labels[k, 2] = VISIBLE if on_surface.any() else OCCLUDED
    return labels


def cuboid_of(obj: SceneObject, camera: Camera) -> Cuboid:
    """The object's 3D box (its scaled local bounds) in the camera frame.

    Returns:
        A ``Cuboid`` whose corners follow ``CUBOID_CORNER_SIGNS``.
    """
    low, high = obj.mesh.bounds * obj.scale
    dimensions = high - low
    corners_local = (low + high) / 2.0 + CUBOID_CORNER_SIGNS * dimensions / 2.0
    transform = object_to_camera(obj, camera)
    rotation = transform[:3, :3]
    corners_cam = corners_local @ rotation.T + transform[:3, 3]
    center = rotation @ ((low + high) / 2.0) + transform[:3, 3]
    return Cuboid(dimensions, center, rotation.copy(), corners_cam, camera.project_camera_points(corners_cam))


def truncation_ratio(obj: SceneObject, camera: Camera) -> float:
    """Share of the object's projected 2D box that lies outside the image (KITTI style).

    The box spans the projected mesh vertices in front of the camera (vertices behind
    it are ignored). 0: fully inside; 1: fully outside.
    """
    uv, z = camera.project(obj.world_vertices())
    uv = uv[z > 0]
    if len(uv) == 0:
        return 1.0
    box = np.concatenate([uv.min(axis=0), uv.max(axis=0)])
    area = (box[2] - box[0]) * (box[3] - box[1])
    if area <= 0:
        return 0.0
    clipped = np.clip(box, 0.0, [camera.width, camera.height, camera.width, camera.height])
    inside = max(clipped[2] - clipped[0], 0.0) * max(clipped[3] - clipped[1], 0.0)
    return float(np.clip(1.0 - inside / area, 0.0, 1.0))
