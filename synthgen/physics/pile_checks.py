"""Checks of settled piles on the objects' real surfaces, not the engine's convex stand-ins.

The simulation collides convex parts and soft contacts let them sink a little into each
other; these checks measure what the rendered meshes do: how deep any object reaches
into another (signed distance of surface points), which objects touch, which rest on
others instead of the floor, and how high the pile is. They need ``rtree`` (part of the
``physics`` extra) for trimesh's nearest-surface queries.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import trimesh

from synthgen.core import SceneObject

__all__ = ["PileReport", "pile_report"]


@dataclass(frozen=True)
class PileReport:
    """What a settled pile looks like, measured on the objects' meshes (metres).

    Attributes:
        penetration: (N,) float64 deepest reach of each object into another one (0 when
            none: surfaces at most touch).
        touching: (N,) bool objects within ``contact_tolerance`` of another object.
        stacked: (N,) bool objects whose lowest point is above the floor by more than
            ``contact_tolerance``: they rest on other objects (or lean on a wall).
        pile_height: Highest point of any object above the floor.
    """

    penetration: np.ndarray
    touching: np.ndarray
    stacked: np.ndarray
    pile_height: float

    @property
    def share_touching(self) -> float:
        return float(self.touching.mean()) if len(self.touching) else 0.0

    @property
    def share_stacked(self) -> float:
        return float(self.stacked.mean()) if len(self.stacked) else 0.0


def _world_mesh(obj: SceneObject) -> trimesh.Trimesh:
    vertices = obj.mesh.vertices * obj.scale @ obj.pose[:3, :3].T + obj.pose[:3, 3]
    return trimesh.Trimesh(vertices, obj.mesh.faces, process=True)


def _surface_points(mesh: trimesh.Trimesh, count: int) -> np.ndarray:
    """Vertices plus evenly spread surface points (fixed seed: the check is repeatable)."""
    points, _ = trimesh.sample.sample_surface_even(mesh, count, seed=0)
    return np.concatenate([mesh.vertices, points])


def pile_report(objects: Sequence[SceneObject], floor_z: float, contact_tolerance: float = 0.002,
                points_per_object: int = 400) -> PileReport:
    """Measure a settled pile.

    Args:
        objects: The dropped objects with their settled poses (supports excluded).
        floor_z: Height of the surface they were dropped onto, metres.
        contact_tolerance: Surfaces closer than this touch, metres.
        points_per_object: Surface points sampled per object (besides its vertices).
    """
    meshes = [_world_mesh(obj) for obj in objects]
    points = [_surface_points(mesh, points_per_object) for mesh in meshes]
    count = len(meshes)
    penetration = np.zeros(count)
    touching = np.zeros(count, dtype=bool)
    for i in range(count):
        for j in range(count):
            low = np.maximum(meshes[i].bounds[0], meshes[j].bounds[0]) - contact_tolerance
            high = np.minimum(meshes[i].bounds[1], meshes[j].bounds[1]) + contact_tolerance
            if i == j or np.any(low > high):
                continue
            near = points[i][np.all((points[i] >= low) & (points[i] <= high), axis=1)]
            if not len(near):
                continue
            signed = trimesh.proximity.signed_distance(meshes[j], near)  # > 0 inside
            penetration[i] = max(penetration[i], float(signed.max()))
            touching[i] |= bool(np.any(signed > -contact_tolerance))
    lowest = np.array([mesh.bounds[0, 2] for mesh in meshes]) if count else np.zeros(0)
    stacked = lowest > floor_z + contact_tolerance
    height = max((mesh.bounds[1, 2] for mesh in meshes), default=floor_z) - floor_z
    return PileReport(np.maximum(penetration, 0.0), touching, stacked, float(height))
