"""Geometry helpers every layer shares (labels, render, augment, io, preview). numpy only.

Boxes are ``xyxy`` float with exclusive maxima in continuous pixel coordinates (see
``synthgen.core.scene_model``).
"""

from __future__ import annotations

import numpy as np

from synthgen.core.scene_model import Camera, CategoryInfo

__all__ = ["BOX_EDGES", "footprint_box", "mask_box", "mirror_permutation", "rotation_facing"]

# The 12 edges of a box between corners in CUBOID_CORNER_SIGNS order.
BOX_EDGES = ((0, 1), (1, 2), (2, 3), (3, 0), (4, 5), (5, 6), (6, 7), (7, 4), (0, 4), (1, 5), (2, 6), (3, 7))


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


def footprint_box(uv: np.ndarray, z: np.ndarray, camera: Camera) -> np.ndarray:
    """Integer xyxy box containing every pixel an object can cover, clipped to the image.

    The box of the projected mesh vertices, widened to whole pixels plus one; a mesh
    reaching behind the camera gets the whole image.

    Args:
        uv: (V, 2) float projected vertices (``Camera.project`` of the world vertices).
        z: (V,) float their depths.
        camera: The camera.

    Returns:
        (4,) float64 xyxy with integer values and exclusive maxima.
    """
    image = np.array([0.0, 0.0, camera.width, camera.height])
    if np.any(z <= 0):
        return image
    box = np.concatenate([np.floor(uv.min(axis=0)) - 1.0, np.ceil(uv.max(axis=0)) + 1.0])
    return np.clip(box, image[[0, 1, 0, 1]], image[[2, 3, 2, 3]])


def mirror_permutation(category: CategoryInfo) -> np.ndarray:
    """(K,) int permutation swapping each left/right-named keypoint with its partner."""
    names = list(category.keypoint_names)
    permutation = np.arange(len(names))
    for i, name in enumerate(names):
        for a, b in (("left", "right"), ("right", "left"), ("Left", "Right"), ("Right", "Left")):
            if a in name and name.replace(a, b) in names:
                permutation[i] = names.index(name.replace(a, b))
                break
    return permutation


def rotation_facing(direction: np.ndarray) -> np.ndarray:
    """(3, 3) float64 rotation whose -z axis points along ``direction`` (3,), world frame.

    Lights and cameras in OpenGL-style renderers (pyrender, Blender) shine or look along
    their local -z; the x axis is kept horizontal unless ``direction`` is near vertical.
    """
    back = -np.asarray(direction, dtype=np.float64)
    back /= np.linalg.norm(back)
    helper = np.array([0.0, 0.0, 1.0]) if abs(back[2]) < 0.9 else np.array([1.0, 0.0, 0.0])
    x_axis = np.cross(helper, back)
    x_axis /= np.linalg.norm(x_axis)
    return np.stack([x_axis, np.cross(back, x_axis), back], axis=1)
