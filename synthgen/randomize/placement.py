"""Placement: object count, pose and position on a support plane, without interpenetration.

Objects rest on the horizontal plane z = 0 of the world frame. Each one gets a rest
pose (``upright``: as modelled, turned about z; ``stable``: one of the mesh's stable
resting poses from ``trimesh.poses.compute_stable_poses``, drawn by how likely a
dropped object ends in it, then turned about z) and a position whose footprint circle
overlaps no other: objects standing on a plane with disjoint footprints cannot
intersect.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import trimesh

from synthgen.core import MeshGeometry
from synthgen.core.validation import check_choice, check_number, check_range_pair

__all__ = ["Footprint", "Placement", "rest_on_plane", "rotation_z"]


def rotation_z(angle: float) -> np.ndarray:
    """(3, 3) float64 rotation by ``angle`` radians about the world z axis."""
    c, s = np.cos(angle), np.sin(angle)
    return np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])


def rest_on_plane(vertices: np.ndarray, rotation: np.ndarray) -> tuple[np.ndarray, float]:
    """Footprint of a rotated object resting on the plane z = 0.

    Args:
        vertices: (V, 3) float object-frame vertices (scaled).
        rotation: (3, 3) float object -> world rotation.

    Returns:
        offset: (3,) float64 translation putting the footprint centre at the origin and
            the lowest vertex on z = 0.
        radius: Radius of the footprint's bounding circle around that centre (metres).
    """
    rotated = vertices @ rotation.T
    low, high = rotated.min(axis=0), rotated.max(axis=0)
    centre_xy = (low[:2] + high[:2]) / 2.0
    radius = float(np.max(np.linalg.norm(rotated[:, :2] - centre_xy, axis=1)))
    return np.array([-centre_xy[0], -centre_xy[1], -low[2]]), radius


class Footprint:
    """Occupied circles on the support plane (x, y centre and radius, metres)."""

    def __init__(self):
        self.circles: list[tuple[np.ndarray, float]] = []

    def add(self, centre: np.ndarray, radius: float) -> None:
        self.circles.append((np.asarray(centre, dtype=np.float64)[:2], float(radius)))

    def is_free(self, centre: np.ndarray, radius: float, gap: float) -> bool:
        return all(np.linalg.norm(centre[:2] - c) >= radius + r + gap for c, r in self.circles)

    def free_position(self, rng: np.random.Generator, radius: float, region: float, gap: float,
                      attempts: int) -> np.ndarray | None:
        """A uniformly drawn (2,) position within ``region`` of the origin whose circle is free."""
        for _ in range(attempts):
            distance = region * np.sqrt(rng.uniform())
            angle = rng.uniform(0.0, 2.0 * np.pi)
            position = np.array([distance * np.cos(angle), distance * np.sin(angle)])
            if self.is_free(position, radius, gap):
                return position
        return None


class Placement:
    """How many objects, in which pose, where on the support.

    Args:
        count: [min, max] objects drawn per image.
        region_radius: Object centres lie within this distance of the origin (metres).
        min_gap: Minimum horizontal gap between footprints (metres).
        rest: ``upright`` (as modelled, turned about the vertical) or ``stable``
            (a stable resting pose, as if dropped, then turned about the vertical).
        yaw_deg: [min, max] turn about the vertical axis, degrees.
        max_attempts: Position draws per object before it is left out.
    """

    def __init__(
        self,
        count: Sequence[int] = (4, 8),
        region_radius: float = 0.2,
        min_gap: float = 0.005,
        rest: str = "upright",
        yaw_deg: Sequence[float] = (0.0, 360.0),
        max_attempts: int = 100,
    ):
        self.count = check_range_pair("count", count, minimum=0, maximum=1000, integer=True)
        self.region_radius = check_number("region_radius", region_radius, minimum=0.0)
        self.min_gap = check_number("min_gap", min_gap, minimum=0.0)
        self.rest = check_choice("rest", rest, ["upright", "stable"])
        self.yaw_deg = check_range_pair("yaw_deg", yaw_deg, minimum=-360.0, maximum=720.0)
        self.max_attempts = check_number("max_attempts", max_attempts, minimum=1, integer=True)
        self._stable: dict[str, tuple[np.ndarray, np.ndarray]] = {}

    def draw_count(self, rng: np.random.Generator) -> int:
        return int(rng.integers(self.count[0], self.count[1] + 1))

    def rest_rotation(self, rng: np.random.Generator, geometry: MeshGeometry) -> np.ndarray:
        """(3, 3) float64 object -> world rotation of a resting object."""
        yaw = rotation_z(np.deg2rad(rng.uniform(*self.yaw_deg)))
        if self.rest == "upright" or not geometry.cacheable:
            return yaw
        transforms, probabilities = self._stable_poses(geometry)
        choice = int(rng.choice(len(transforms), p=probabilities))
        return yaw @ transforms[choice][:3, :3]

    def _stable_poses(self, geometry: MeshGeometry) -> tuple[np.ndarray, np.ndarray]:
        if geometry.key not in self._stable:
            # The convex hull rests exactly like the mesh and is quick to analyse.
            hull = trimesh.Trimesh(geometry.vertices, geometry.faces, process=False).convex_hull
            transforms, probabilities = hull.compute_stable_poses()
            probabilities = np.asarray(probabilities, dtype=np.float64)
            self._stable[geometry.key] = (np.asarray(transforms), probabilities / probabilities.sum())
        return self._stable[geometry.key]

    def place(self, rng: np.random.Generator, vertices: np.ndarray, rotation: np.ndarray,
              footprint: Footprint) -> np.ndarray | None:
        """(4, 4) pose resting on z = 0 at a free spot (recorded in ``footprint``), or None."""
        offset, radius = rest_on_plane(vertices, rotation)
        position = footprint.free_position(rng, radius, self.region_radius, self.min_gap, self.max_attempts)
        if position is None:
            return None
        footprint.add(position, radius)
        pose = np.eye(4)
        pose[:3, :3] = rotation
        pose[:3, 3] = offset + np.array([position[0], position[1], 0.0])
        return pose
