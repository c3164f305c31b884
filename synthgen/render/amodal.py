"""Planning amodal passes: which instances need one, and which can share one.

An amodal mask is the set of pixels an object covers when rendered alone. Two facts
make most of those renders unnecessary, exactly:

* An object that nothing can hide has amodal mask == visible mask. Object X can hide
  object O only if their image footprints share a pixel and X can come between the
  camera and O. It cannot when a plane has X on one side and both O and the camera
  on the other (a ray crosses a plane once); candidate planes are the world axes and
  the direction between the two objects' centroids (a table under everything, objects
  side by side in front of each other).
* Objects whose footprints share no pixel can be drawn together in one pass without
  hiding each other; each still covers exactly the pixels it covers alone
  (rasterising a triangle does not depend on what else is drawn).

A footprint is the convex hull of the projected mesh vertices: a pixel an object covers
has its centre inside one of its triangles, so inside this hull. Hulls are widened by
a hundredth of a pixel so that touching counts as sharing; a mesh reaching behind the
camera gets the whole image. Depth ties between touching surfaces are decided by the
GPU in either case.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from synthgen.core import SceneObject, SceneSpec, footprint_box

__all__ = ["AmodalPlan", "plan_amodal_passes"]

_HULL_MARGIN_PX = 0.01


@dataclass
class AmodalPlan:
    """Which instances get an amodal render, and in which passes.

    Attributes:
        passes: Lists of instance ids drawn together, one list per pass.
        unoccludable: Instance ids nothing can hide (amodal mask == visible mask).
        boxes: Instance id -> (4,) float64 integer xyxy box containing its footprint.
    """

    passes: list[list[int]]
    unoccludable: list[int]
    boxes: dict[int, np.ndarray]


@dataclass
class _Footprint:
    obj: SceneObject
    vertices: np.ndarray  # (V, 3) world
    hull: np.ndarray  # (N, 1, 2) float32 image convex hull, widened
    box: np.ndarray  # (4,) integer xyxy box containing the hull, clipped to the image


def _footprint(obj: SceneObject, spec: SceneSpec) -> _Footprint:
    vertices = obj.world_vertices()
    camera = spec.camera
    uv, z = camera.project(vertices)
    box = footprint_box(uv, z, camera)
    if np.any(z <= 0):
        uv = np.array([[0.0, 0.0], [camera.width, 0.0], [camera.width, camera.height], [0.0, camera.height]])
    hull = cv2.convexHull(uv.astype(np.float32)).reshape(-1, 2).astype(np.float64)
    outward = hull - hull.mean(axis=0)
    norms = np.linalg.norm(outward, axis=1, keepdims=True)
    hull = hull + _HULL_MARGIN_PX * np.divide(outward, norms, out=np.zeros_like(outward), where=norms > 0)
    return _Footprint(obj, vertices, hull.astype(np.float32).reshape(-1, 1, 2), box)


def _share_pixels(a: _Footprint, b: _Footprint) -> bool:
    # The boxes contain the hulls (padded by a pixel): disjoint boxes settle most pairs cheaply.
    if a.box[0] >= b.box[2] or b.box[0] >= a.box[2] or a.box[1] >= b.box[3] or b.box[1] >= a.box[3]:
        return False
    area, points = cv2.intersectConvexConvex(a.hull, b.hull)
    return area > 0 or (points is not None and len(points) > 0)


_AXES = np.concatenate([np.eye(3), -np.eye(3)])


def _separated(other: np.ndarray, target: np.ndarray, camera_position: np.ndarray) -> bool:
    """Whether a candidate plane has ``other`` (V, 3) on one side, ``target`` and the camera on the other."""
    between = target.mean(axis=0) - other.mean(axis=0)
    candidates = [_AXES]
    for direction in (between, between * np.array([1.0, 1.0, 0.0])):
        length = np.linalg.norm(direction)
        if length > 1e-12:
            candidates.append((direction / length)[None])
    normals = np.concatenate(candidates).T  # (3, N)
    plane = (other @ normals).max(axis=0)
    return bool(np.any(((target @ normals).min(axis=0) >= plane) & (camera_position @ normals > plane)))


def plan_amodal_passes(spec: SceneSpec) -> AmodalPlan:
    """Plan the fewest simple passes that give every instance its exact amodal mask.

    Instances that something may hide are grouped greedily, in id order
    (deterministic), into passes whose footprints share no pixel.
    """
    camera_position = spec.camera.position
    footprints = [_footprint(obj, spec) for obj in spec.objects]
    instances = {f.obj.instance_id: f for f in footprints if f.obj.is_instance}
    passes: list[list[int]] = []
    unoccludable = []
    for instance_id in sorted(instances):
        target = instances[instance_id]
        hideable = any(
            other is not target
            and _share_pixels(target, other)
            and not _separated(other.vertices, target.vertices, camera_position)
            for other in footprints
        )
        if not hideable:
            unoccludable.append(instance_id)
            continue
        for members in passes:
            if not any(_share_pixels(target, instances[member]) for member in members):
                members.append(instance_id)
                break
        else:
            passes.append([instance_id])
    return AmodalPlan(passes, unoccludable, {i: f.box for i, f in instances.items()})
