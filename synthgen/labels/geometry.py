"""Label geometry: boxes, keypoint visibility, cuboids, truncation. Pure numpy.

Image coordinates are continuous (pixel column c spans [c, c + 1)); boxes are xyxy
with exclusive maxima. See ``synthgen.core.scene_model`` for all frame conventions;
``mask_box`` and ``footprint_box`` are in ``synthgen.core``.
"""

from __future__ import annotations

import numpy as np

from synthgen.core import CUBOID_CORNER_SIGNS, Camera, Cuboid, SceneObject

__all__ = [
    "cuboid_of",
    "keypoint_labels",
    "object_to_camera",
    "truncation_ratio",
]

# COCO keypoint visibility values.
NOT_LABELED, OCCLUDED, VISIBLE = 0, 1, 2


def object_to_camera(obj: SceneObject, camera: Camera) -> np.ndarray:
    """(4, 4) float64 rigid object -> OpenCV camera transform (scale excluded)."""
    return camera.world_to_camera @ obj.pose


def _surface_slope(ids: np.ndarray, depth: np.ndarray, instance_id: int, max_slope: float) -> float:
    """Steepest depth change (metres per pixel) between adjacent pixels of one object, capped."""
    same = ids == instance_id
    steps = []
    for axis in (0, 1):
        both = np.logical_and(*((same[:-1], same[1:]) if axis == 0 else (same[:, :-1], same[:, 1:])))
        steps.append(np.abs(np.diff(depth, axis=axis))[both])
    steepest = max((float(step.max()) for step in steps if step.size), default=0.0)
    return min(steepest, max_slope)


def _keypoint_visible(
    u: float, v: float, point_depth: float, instance_id: int,
    instance_ids: np.ndarray, depth: np.ndarray, tolerance: float, max_slope: float,
) -> bool:
    """Whether nothing hides the point at continuous pixel position (u, v) and depth ``point_depth``."""
    seen = depth[int(v), int(u)]
    if seen == 0 or seen >= point_depth - tolerance:
        return True  # nothing in front of the point at its own pixel
    # The 2x2 block of pixel centres around (u, v), clipped to the image.
    height, width = instance_ids.shape
    col0 = int(np.clip(np.floor(u - 0.5), 0, width - 2))
    row0 = int(np.clip(np.floor(v - 0.5), 0, height - 2))
    ids = instance_ids[row0:row0 + 2, col0:col0 + 2]
    block = depth[row0:row0 + 2, col0:col0 + 2].astype(np.float64)
    fx = float(np.clip(u - 0.5 - col0, 0.0, 1.0))
    fy = float(np.clip(v - 0.5 - row0, 0.0, 1.0))
    if np.all(ids == instance_id):
        # Inside the object's own surface: depth at the exact sub-pixel position.
        top = block[0, 0] * (1 - fx) + block[0, 1] * fx
        bottom = block[1, 0] * (1 - fx) + block[1, 1] * fx
        return abs(top * (1 - fy) + bottom * fy - point_depth) <= tolerance
    # On a silhouette or occlusion boundary: allow the local slope over the distance
    # from each of the object's pixel centres.
    rows = slice(max(row0 - 1, 0), row0 + 3)
    cols = slice(max(col0 - 1, 0), col0 + 3)
    slope = _surface_slope(instance_ids[rows, cols], depth[rows, cols], instance_id, max_slope)
    distance = np.hypot(np.array([[0.0, 1.0], [0.0, 1.0]]) - fx, np.array([[0.0, 0.0], [1.0, 1.0]]) - fy)
    return bool(np.any((ids == instance_id) & (np.abs(block - point_depth) <= tolerance + slope * distance)))


def keypoint_labels(
    obj: SceneObject,
    camera: Camera,
    instance_ids: np.ndarray,
    depth: np.ndarray,
    tolerance: float | np.ndarray,
    max_grazing_deg: float = 80.0,
) -> np.ndarray:
    """Project an object's keypoints and decide COCO visibility from depth and ids.

    A keypoint in front of the camera and inside the image is visible (2) when nothing
    lies in front of it, else something hides it (1): another object, or the object
    itself (a back corner). Keypoints outside the image or behind the camera get 0.

    Depth is sampled at pixel centres while keypoints sit anywhere inside a pixel, so:
    a keypoint is visible when its own pixel shows no surface closer than the keypoint
    (minus ``tolerance``); inside the object's own region, when the depth interpolated
    bilinearly at its exact position matches (within ``tolerance``); on a boundary,
    when one of the object's neighbouring pixel centres matches within ``tolerance``
    plus the object's local depth slope times the distance. The slope is capped at
    that of a surface tilted ``max_grazing_deg`` from the view direction, so depth
    jumps between parts of one object never count as slope.

    Args:
        obj: The object; its keypoints are in its (unscaled) frame.
        camera: The camera.
        instance_ids: (H, W) int32 visible instance ids.
        depth: (H, W) float32 metres, sampled in the same pass as ``instance_ids``.
        tolerance: Depth slack in metres, one for all keypoints or (K,) per keypoint
            (joints inside a limb get the limb's radius on top).
        max_grazing_deg: Steepest surface tilt treated as a continuous surface.

    Returns:
        (K, 3) float64 rows ``x, y, v``; x, y are continuous pixel coordinates (the
        projection even when v is 0, NaN behind the camera).
    """
    if len(obj.keypoints) == 0:
        return np.zeros((0, 3))
    uv, z = camera.project(obj.to_world(obj.keypoints))
    height, width = instance_ids.shape
    slope_per_metre = np.tan(np.deg2rad(max_grazing_deg)) / camera.K[0, 0]
    labels = np.zeros((len(uv), 3))
    labels[:, :2] = uv
    tolerances = np.broadcast_to(np.asarray(tolerance, dtype=np.float64), (len(uv),))
    for k, ((u, v), point_depth) in enumerate(zip(uv, z)):
        if not (point_depth > 0 and 0 <= u < width and 0 <= v < height):
            continue
        visible = _keypoint_visible(u, v, point_depth, obj.instance_id, instance_ids, depth,
                                    tolerances[k], slope_per_metre * point_depth)
        labels[k, 2] = VISIBLE if visible else OCCLUDED
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


def truncation_ratio(uv: np.ndarray, z: np.ndarray, camera: Camera) -> float:
    """Share of an object's projected 2D box that lies outside the image (KITTI style).

    The box spans the projected mesh vertices in front of the camera (vertices behind
    it are ignored). 0: fully inside; 1: fully outside.

    Args:
        uv: (V, 2) float projected vertices (``Camera.project`` of the world vertices).
        z: (V,) float their depths.
        camera: The camera.
    """
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
