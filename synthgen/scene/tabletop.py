"""Tabletop scenes: labeled objects resting on a table, seen from above at an angle."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from synthgen.errors import ConfigError
from synthgen.scene.assets import Asset, Primitive
from synthgen.scene.camera import LookAtCamera
from synthgen.scene.color import srgb_to_linear
from synthgen.scene.lighting import Lighting
from synthgen.types import CategoryInfo, SceneObject, SceneSpec
from synthgen.validation import check_number, check_range_pair, check_vector

__all__ = ["Category", "TabletopSampler", "rest_on_plane"]


class Category:
    """A labeled category: an asset, its color and size variation.

    Args:
        name: Category name written into the labels.
        asset: The category's geometry and keypoints (``Primitive`` or ``MeshFile``).
        color: [r, g, b] base color, 0..255.
        color_jitter: Each channel moves by up to this much (0..255 units) per instance.
        scale: [min, max] uniform scale factor per instance.
    """

    def __init__(
        self,
        name: str,
        asset: Asset,
        color: Sequence[float] = (180, 180, 180),
        color_jitter: float = 20.0,
        scale: Sequence[float] = (1.0, 1.0),
    ):
        if not isinstance(name, str) or not name:
            raise ConfigError(f"name: must be a non-empty string, got {name!r}")
        if not isinstance(asset, Asset):
            raise ConfigError(f"asset: must be an asset node (synthgen.scene.assets.Primitive or MeshFile), got {asset!r}")
        self.name = name
        self.asset = asset
        self.color = np.array(check_vector("color", color, 3, minimum=0, maximum=255))
        self.color_jitter = check_number("color_jitter", color_jitter, minimum=0, maximum=255)
        self.scale = check_range_pair("scale", scale, minimum=0.01)


def _rotation_z(angle: float) -> np.ndarray:
    c, s = np.cos(angle), np.sin(angle)
    return np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])


def rest_on_plane(vertices: np.ndarray, rotation: np.ndarray) -> tuple[np.ndarray, float]:
    """Footprint of a rotated object resting on the plane z = 0.

    Args:
        vertices: (V, 3) float object-frame vertices.
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


class TabletopSampler:
    """Objects of several categories resting upright on a table, without interpenetration.

    Objects stand on the table top (z = 0) with a random rotation about the vertical
    axis; their footprint circles never overlap, so no two objects intersect. An
    object that finds no free spot after ``max_attempts`` draws is left out.

    Args:
        categories: The labeled categories (ids are 1.. in this order).
        objects_per_image: [min, max] number of objects drawn per image.
        placement_radius: Object centres lie within this distance of the table centre (m).
        min_gap: Minimum horizontal gap between object footprints (m).
        table_size: [x, y] table top size in metres.
        table_color: [r, g, b] 0..255.
        background_color: [r, g, b] 0..255 seen where no surface is hit.
        camera: Camera rig.
        lighting: Lighting rig.
        max_attempts: Placement draws per object before it is left out.
    """

    def __init__(
        self,
        categories: Sequence[Category],
        objects_per_image: Sequence[int] = (4, 8),
        placement_radius: float = 0.25,
        min_gap: float = 0.005,
        table_size: Sequence[float] = (1.6, 1.2),
        table_color: Sequence[float] = (150, 120, 90),
        background_color: Sequence[float] = (40, 40, 48),
        camera: LookAtCamera | None = None,
        lighting: Lighting | None = None,
        max_attempts: int = 100,
    ):
        if not isinstance(categories, Sequence) or len(categories) == 0:
            raise ConfigError("categories: must list at least one category")
        names = [category.name for category in categories]
        if len(set(names)) != len(names):
            raise ConfigError(f"categories: names must be unique, got {names}")
        self.category_list = list(categories)
        self.objects_per_image = check_range_pair("objects_per_image", objects_per_image, minimum=0, integer=True)
        self.placement_radius = check_number("placement_radius", placement_radius, minimum=0.0)
        self.min_gap = check_number("min_gap", min_gap, minimum=0.0)
        self.table_size = check_vector("table_size", table_size, 2, minimum=0.01)
        self.table_color = np.array(check_vector("table_color", table_color, 3, minimum=0, maximum=255))
        self.background_color = np.array(check_vector("background_color", background_color, 3, minimum=0, maximum=255))
        self.camera = camera if camera is not None else LookAtCamera()
        self.lighting = lighting if lighting is not None else Lighting()
        self.max_attempts = check_number("max_attempts", max_attempts, minimum=1, integer=True)
        self.categories = tuple(
            CategoryInfo(i + 1, c.name, c.asset.keypoint_names, c.asset.skeleton)
            for i, c in enumerate(self.category_list)
        )
        table = Primitive("box", [self.table_size[0], self.table_size[1], 0.02])
        self._table = SceneObject(
            table.geometry, _translation([0.0, 0.0, -0.01]), color=np.append(srgb_to_linear(self.table_color), 1)
        )

    def sample(self, rng: np.random.Generator, width: int, height: int) -> SceneSpec:
        """Draw one tabletop scene for a ``width`` x ``height`` image."""
        objects = self._place_objects(rng)
        camera = self.camera.sample(rng, width, height)
        ambient, lights = self.lighting.sample(rng)
        return SceneSpec(
            camera=camera,
            objects=(self._table, *objects),
            lights=lights,
            categories=self.categories,
            ambient=ambient,
            background=self.background_color / 255,
        )

    def _place_objects(self, rng: np.random.Generator) -> list[SceneObject]:
        count = int(rng.integers(self.objects_per_image[0], self.objects_per_image[1] + 1))
        placed: list[tuple[np.ndarray, float]] = []
        objects = []
        for _ in range(count):
            category_index = int(rng.integers(len(self.category_list)))
            category = self.category_list[category_index]
            scale = rng.uniform(*category.scale)
            rotation = _rotation_z(rng.uniform(0.0, 2.0 * np.pi))
            color = srgb_to_linear(category.color + rng.uniform(-1, 1, size=3) * category.color_jitter)
            offset, radius = rest_on_plane(category.asset.geometry.vertices * scale, rotation)
            position = self._free_position(rng, radius, placed)
            if position is None:
                continue
            placed.append((position, radius))
            pose = np.eye(4)
            pose[:3, :3] = rotation
            pose[:3, 3] = offset + np.array([position[0], position[1], 0.0])
            objects.append(
                SceneObject(
                    mesh=category.asset.geometry,
                    pose=pose,
                    scale=scale,
                    color=np.append(color, 1.0),
                    instance_id=len(objects) + 1,
                    category_id=category_index + 1,
                    keypoints=category.asset.keypoints,
                )
            )
        return objects

    def _free_position(self, rng, radius: float, placed) -> np.ndarray | None:
        for _ in range(self.max_attempts):
            r = self.placement_radius * np.sqrt(rng.uniform())
            angle = rng.uniform(0.0, 2.0 * np.pi)
            position = np.array([r * np.cos(angle), r * np.sin(angle)])
            if all(np.linalg.norm(position - p) >= radius + q + self.min_gap for p, q in placed):
                return position
        return None


def _translation(xyz) -> np.ndarray:
    pose = np.eye(4)
    pose[:3, 3] = xyz
    return pose
