"""Placement: object count, pose and position on a support, without interpenetration.

With ``rest: upright`` or ``stable`` objects rest on the horizontal plane z = 0 of the
world frame. Each one gets a rest pose (``upright``: as modelled, turned about z;
``stable``: one of the mesh's stable resting poses from
``trimesh.poses.compute_stable_poses``, drawn by how likely a dropped object ends in it,
then turned about z) and a position whose footprint circle overlaps no other: objects
standing on a plane with disjoint footprints cannot intersect.

With ``rest: physics`` objects are dropped from above the support (a table, or a bin,
tray or bowl on it) in random orientations and settled by a rigid-body simulation
(``synthgen.physics``): they touch, lean and pile up as real clutter does.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import trimesh

from synthgen.core import MeshGeometry, SceneObject
from synthgen.core.errors import ConfigError
from synthgen.core.validation import check_choice, check_number, check_range_pair
from synthgen.physics import (
    BodyMaterial,
    DropBody,
    DropZone,
    SettleResult,
    Settling,
    StaticBody,
    convex_parts,
    import_coacd,
    import_mujoco,
    mass_properties,
)

__all__ = ["Footprint", "PhysicsDrop", "Placement", "REST_MODES", "random_rotation", "rest_on_plane", "rotation_z"]

REST_MODES = ("upright", "stable", "physics")


def rotation_z(angle: float) -> np.ndarray:
    """(3, 3) float64 rotation by ``angle`` radians about the world z axis."""
    c, s = np.cos(angle), np.sin(angle)
    return np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])


def random_rotation(rng: np.random.Generator) -> np.ndarray:
    """(3, 3) float64 rotation drawn uniformly (a normalised 4D Gaussian is a uniform quaternion)."""
    w, x, y, z = _unit(rng.normal(size=4))
    return np.array([
        [1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)],
        [2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)],
        [2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)],
    ])


def _unit(vector: np.ndarray) -> np.ndarray:
    return vector / max(float(np.linalg.norm(vector)), 1e-12)


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
        rest: ``upright`` (as modelled, turned about the vertical), ``stable``
            (a stable resting pose, as if dropped, then turned about the vertical) or
            ``physics`` (dropped in a random orientation and settled by simulation;
            objects may touch and pile up; ``region_radius``, ``min_gap``, ``yaw_deg``
            and ``max_attempts`` then do not apply: the support's drop zone does).
        yaw_deg: [min, max] turn about the vertical axis, degrees.
        max_attempts: Position draws per object before it is left out.
        physics: How ``rest: physics`` simulates (``synthgen.physics.Settling``; its
            defaults when null).
    """

    def __init__(
        self,
        count: Sequence[int] = (4, 8),
        region_radius: float = 0.2,
        min_gap: float = 0.005,
        rest: str = "upright",
        yaw_deg: Sequence[float] = (0.0, 360.0),
        max_attempts: int = 100,
        physics: Settling | None = None,
    ):
        self.count = check_range_pair("count", count, minimum=0, maximum=1000, integer=True)
        self.region_radius = check_number("region_radius", region_radius, minimum=0.0)
        self.min_gap = check_number("min_gap", min_gap, minimum=0.0)
        self.rest = check_choice("rest", rest, REST_MODES)
        if physics is not None and not isinstance(physics, Settling):
            raise ConfigError(f"physics: must be a synthgen.physics.Settling node, got {physics!r}")
        self.physics = physics if physics is not None else Settling()
        if self.rest == "physics":  # a missing extra fails when the config is built, before anything is written
            import_mujoco()
            import_coacd()
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

    def drop(self, rng: np.random.Generator, objects: list[SceneObject], materials: list[BodyMaterial],
             statics: list[StaticBody], zone: DropZone) -> PhysicsDrop:
        """Drop ``objects`` (poses ignored) from above ``zone`` in random orientations and
        settle them on ``statics``; redraw the drop up to ``physics.redraws`` times while
        an object leaves the zone or keeps moving.

        Args:
            rng: Draws the starting orientations and positions (the simulation itself
                is deterministic).
            objects: The objects, scaled by their ``scale``.
            materials: One ``BodyMaterial`` per object.
            statics: The support's convex parts (world frame).
            zone: Where the objects must come to rest.
        """
        if not objects:
            nothing = SettleResult(np.zeros((0, 4, 4)), np.zeros(0, bool), 0.0, 0.0)
            return PhysicsDrop([], (), 0, nothing)
        return _drop(self, rng, objects, materials, statics, zone)

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


@dataclass(frozen=True)
class PhysicsDrop:
    """Objects dropped and settled (``Placement.drop``).

    Attributes:
        objects: The objects with their settled poses.
        problems: Why the drop failed after every redraw (objects that left the support
            or never came to rest), empty when it succeeded: the sample is quarantined
            with them.
        drops: Drops simulated (1 + redraws used).
        result: The last simulation (final poses, what still moved, simulated and wall time).
    """

    objects: list[SceneObject]
    problems: tuple[str, ...]
    drops: int
    result: SettleResult


def _bounding_sphere(vertices: np.ndarray) -> tuple[np.ndarray, float]:
    centre = (vertices.min(axis=0) + vertices.max(axis=0)) / 2.0
    return centre, float(np.max(np.linalg.norm(vertices - centre, axis=1)))


def _stack_height(xy: np.ndarray, radius: float, base: float, placed: list[tuple[np.ndarray, float]],
                  gap: float) -> float:
    """Lowest centre height >= ``base`` whose sphere overlaps none already ``placed`` (centre, radius)."""
    z = base
    for _ in range(len(placed) + 1):
        raised = z
        for centre, other in placed:
            reach = radius + other + gap
            distance = float(np.linalg.norm(xy - centre[:2]))
            if distance < reach and abs(z - centre[2]) < np.sqrt(reach**2 - distance**2):
                raised = max(raised, centre[2] + np.sqrt(reach**2 - distance**2))
        if raised == z:
            return z
        z = raised
    return z


def _drop_problems(zone: DropZone, result: SettleResult, objects: list[SceneObject]) -> list[str]:
    centres = result.poses[:, :3, 3]
    left = ~zone.contains(centres, margin=0.005)
    problems = []
    if left.any():
        ids = [objects[i].instance_id or i + 1 for i in np.flatnonzero(left)]
        problems.append(f"physics: object(s) {ids} left the support")
    still = result.moving & ~left
    if still.any():
        ids = [objects[i].instance_id or i + 1 for i in np.flatnonzero(still)]
        problems.append(f"physics: object(s) {ids} did not come to rest within {result.simulated_s:.2f} s")
    return problems


def _drop(placement: Placement, rng: np.random.Generator, objects: list[SceneObject],
          materials: list[BodyMaterial], statics: list[StaticBody], zone: DropZone) -> PhysicsDrop:
    settling = placement.physics
    shapes, masses, spheres = [], [], []
    for obj, material in zip(objects, materials):
        parts = convex_parts(obj.mesh, material.collision, material.decomposition_threshold)
        shapes.append(tuple(part * obj.scale for part in parts))
        masses.append(mass_properties(obj.mesh, obj.scale, material))
        spheres.append(_bounding_sphere(obj.mesh.vertices * obj.scale))
    problems: list[str] = []
    drops = 0
    while drops <= settling.redraws:
        drops += 1
        bodies, placed = [], []
        for shape, mass, material, (centre, radius) in zip(shapes, masses, materials, spheres):
            rotation = random_rotation(rng)
            xy = zone.draw_xy(rng, inset=radius)
            # Above the rim: a start overlapping a wall would be pushed out of it explosively.
            base = max(zone.floor_z, zone.rim_z) + radius + settling.drop_gap
            z = _stack_height(xy, radius, base, placed, settling.drop_gap)
            placed.append((np.array([xy[0], xy[1], z]), radius))
            pose = np.eye(4)
            pose[:3, :3] = rotation
            pose[:3, 3] = placed[-1][0] - rotation @ centre
            bodies.append(DropBody(shape, mass, material, pose))
        result = settling.simulate(bodies, statics, zone.floor_z)
        problems = _drop_problems(zone, result, objects)
        if not problems:
            break
    settled = [dataclasses.replace(obj, pose=pose) for obj, pose in zip(objects, result.poses)]
    reason = tuple(f"{problem} after {drops} drop(s)" for problem in problems)
    return PhysicsDrop(settled, reason, drops, result)
