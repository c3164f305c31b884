"""Distractors: unlabeled objects that clutter the scene and hide labeled ones.

Distractors are occluders (instance id 0): they appear in the image and in depth, so
visible masks, occlusion and keypoint visibility of labeled objects account for them,
but they get no labels. They rest on the support plane among the objects (never
intersecting them) or float between the camera and the scene.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np

from synthgen.core import MeshGeometry, SceneObject, SceneSpec
from synthgen.core.color import srgb_to_linear
from synthgen.core.validation import check_choices, check_number, check_range_pair
from synthgen.randomize.placement import Footprint, Placement
from synthgen.randomize.textures import random_color
from synthgen.scene.assets import PRIMITIVE_SHAPES, Primitive

__all__ = ["DistractorRandomizer", "random_rotation"]

# Unit-sized shapes (largest extent about 1) in a few proportions per primitive.
_UNIT_SIZES = {
    "box": ([1, 1, 1], [1, 0.6, 0.3], [1, 0.3, 0.3]),
    "sphere": ([0.5],),
    "cylinder": ([0.15, 1.0], [0.5, 0.4]),
    "capsule": ([0.2, 0.6],),
    "cone": ([0.4, 1.0],),
    "torus": ([0.4, 0.12],),
}


def random_rotation(rng: np.random.Generator) -> np.ndarray:
    """(3, 3) float64 rotation drawn uniformly (normalised Gaussian quaternion)."""
    w, x, y, z = (q := rng.normal(size=4)) / np.linalg.norm(q)
    return np.array([
        [1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
        [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
        [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)],
    ])


def _bounding_sphere(obj: SceneObject) -> tuple[np.ndarray, float]:
    vertices = obj.world_vertices()
    centre = (vertices.min(axis=0) + vertices.max(axis=0)) / 2.0
    return centre, float(np.linalg.norm(vertices - centre, axis=1).max())


class DistractorRandomizer:
    """Adds unlabeled primitive shapes that occlude labeled objects.

    Args:
        count: [min, max] distractors per image.
        shapes: Primitive shapes to draw from (box, sphere, cylinder, capsule, cone, torus).
        size: [min, max] largest extent of a distractor in metres.
        floating_probability: Share of distractors floating between camera and scene
            (the rest rest on the support plane, when the scene has one).
        floating_depth: [min, max] depth of a floating distractor as a share of the
            scene centre's depth (0.5: halfway between camera and scene).
        region_radius: Resting distractors lie within this distance of the origin (m).
        max_attempts: Position draws per distractor before it is left out.
    """

    def __init__(
        self,
        count: Sequence[int] = (1, 4),
        shapes: Sequence[str] = PRIMITIVE_SHAPES,
        size: Sequence[float] = (0.03, 0.12),
        floating_probability: float = 0.3,
        floating_depth: Sequence[float] = (0.4, 0.8),
        region_radius: float = 0.3,
        max_attempts: int = 50,
    ):
        self.count = check_range_pair("count", count, minimum=0, maximum=100, integer=True)
        shapes = check_choices("shapes", shapes, PRIMITIVE_SHAPES)
        self.size = check_range_pair("size", size, minimum=1e-3)
        self.floating_probability = check_number("floating_probability", floating_probability, minimum=0.0, maximum=1.0)
        self.floating_depth = check_range_pair("floating_depth", floating_depth, minimum=0.05, maximum=0.99)
        self.region_radius = check_number("region_radius", region_radius, minimum=0.0)
        self.max_attempts = check_number("max_attempts", max_attempts, minimum=1, integer=True)
        self._placement = Placement(count=0, region_radius=region_radius, max_attempts=max_attempts)
        self._shapes: list[MeshGeometry] = []
        for shape in shapes:
            for unit in _UNIT_SIZES[shape]:
                geometry = Primitive(shape, unit).geometry
                extent = float((geometry.bounds[1] - geometry.bounds[0]).max())
                self._shapes.append(dataclasses.replace(geometry, vertices=geometry.vertices / extent,
                                                        key=f"distractor:{geometry.key}"))

    def __call__(self, spec: SceneSpec, rng: np.random.Generator) -> SceneSpec:
        has_support = any(obj.role == "support" for obj in spec.objects)
        footprint = Footprint()
        for obj in spec.objects:
            if obj.role != "support":
                centre, radius = _bounding_sphere(obj)
                footprint.add(centre, radius)
        spheres = [_bounding_sphere(obj) for obj in spec.objects if obj.role != "support"]
        added = []
        for _ in range(int(rng.integers(self.count[0], self.count[1] + 1))):
            geometry = self._shapes[int(rng.integers(len(self._shapes)))]
            scale = rng.uniform(*self.size)
            color = np.append(srgb_to_linear(random_color(rng)), 1.0)
            floating = not has_support or rng.uniform() < self.floating_probability
            if floating:
                pose = self._floating_pose(rng, spec, geometry, scale, spheres, above_support=has_support)
            else:
                rotation = self._placement.rest_rotation(rng, geometry)
                pose = self._placement.place(rng, geometry.vertices * scale, rotation, footprint)
            if pose is None:
                continue
            distractor = SceneObject(geometry, pose, scale=scale, color=color, role="distractor",
                                     roughness=float(rng.uniform(0.3, 1.0)))
            spheres.append(_bounding_sphere(distractor))
            added.append(distractor)
        return dataclasses.replace(spec, objects=(*spec.objects, *added))

    def _floating_pose(self, rng, spec: SceneSpec, geometry: MeshGeometry, scale: float, spheres,
                       above_support: bool) -> np.ndarray | None:
        camera = spec.camera
        instances = [obj.pose[:3, 3] for obj in spec.instances] or [np.zeros(3)]
        scene_depth = float(camera.to_camera(np.mean(instances, axis=0))[0, 2])
        radius = scale * float(np.linalg.norm(geometry.vertices, axis=1).max())
        camera_to_world = np.linalg.inv(camera.world_to_camera)
        for _ in range(self.max_attempts):
            depth = scene_depth * rng.uniform(*self.floating_depth)
            u, v = rng.uniform(0, camera.width), rng.uniform(0, camera.height)
            if depth <= radius + 0.02:
                continue
            ray = np.linalg.solve(camera.K, [u, v, 1.0])
            centre = camera_to_world[:3, :3] @ (ray * depth) + camera_to_world[:3, 3]
            clear_of_support = not above_support or centre[2] > radius
            if clear_of_support and all(np.linalg.norm(centre - c) >= radius + r for c, r in spheres):
                pose = np.eye(4)
                pose[:3, :3] = random_rotation(rng)
                pose[:3, 3] = centre
                return pose
        return None
