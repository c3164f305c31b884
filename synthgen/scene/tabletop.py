"""Tabletop scenes: labeled objects resting on a support plane, seen by a camera rig.

The same sampler serves every "objects on a surface" scene of the library: the
default tabletop, fruit and nuts on a cloth, a chessboard lying on nothing (no
table, a background behind it) and mannequins standing on a floor.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence

import numpy as np

from synthgen.core import CategoryInfo, SceneObject, SceneSpec
from synthgen.core.color import srgb_to_linear
from synthgen.core.errors import ConfigError
from synthgen.core.validation import check_choice, check_number, check_range_pair, check_vector
from synthgen.physics import BodyMaterial, DropZone, StaticBody
from synthgen.randomize.base import SceneRandomizer, apply_randomizers, check_randomizers
from synthgen.randomize.camera import LookAtCamera
from synthgen.randomize.lighting import Lighting
from synthgen.randomize.placement import Footprint, PhysicsDrop, Placement
from synthgen.scene.assets import Asset, MeshFile, Primitive
from synthgen.scene.containers import Container

__all__ = ["APPEARANCES", "Category", "TabletopSampler"]

APPEARANCES = ("auto", "file", "category", "tint")


class Category:
    """A labeled category: an asset, its colour and size variation.

    Args:
        name: Category name written into the labels.
        asset: The category's geometry and keypoints (``Primitive``, ``MeshFile``,
            ``ProceduralShape``, ``Mannequin``, ...).
        color: [r, g, b] base colour, sRGB 0..255.
        color_jitter: Each channel moves by up to this much (0..255 units) per instance.
        scale: [min, max] uniform scale factor per instance.
        metallic: [min, max] PBR metalness per instance, 0..1 (``category`` appearance).
        roughness: [min, max] PBR roughness per instance, 0..1 (``category`` appearance).
        appearance: How instances look: ``file`` (the mesh file's own materials,
            textures and vertex colours, as authored), ``category`` (one flat ``color``
            per instance, jittered), ``tint`` (the file's look multiplied by the jittered
            ``color``), or ``auto``: ``file`` when the asset brings a look of its own,
            else ``category``.
        physics: How instances behave when dropped (``placement.rest: physics``):
            ``{friction, restitution, density, mass, collision, decomposition_threshold}``
            (``synthgen.physics.BodyMaterial``; its defaults for missing keys).
    """

    def __init__(
        self,
        name: str,
        asset: Asset,
        color: Sequence[float] = (180, 180, 180),
        color_jitter: float = 20.0,
        scale: Sequence[float] = (1.0, 1.0),
        metallic: Sequence[float] = (0.0, 0.0),
        roughness: Sequence[float] = (0.8, 0.8),
        appearance: str = "auto",
        physics: Mapping | None = None,
    ):
        if not isinstance(name, str) or not name:
            raise ConfigError(f"name: must be a non-empty string, got {name!r}")
        if not isinstance(asset, Asset):
            raise ConfigError(
                "asset: must be an asset node (synthgen.scene.assets.Primitive or MeshFile, "
                f"synthgen.scene.procedural.ProceduralShape, synthgen.scene.mannequin.Mannequin), got {asset!r}"
            )
        self.name = name
        self.asset = asset
        self.color = np.array(check_vector("color", color, 3, minimum=0, maximum=255))
        self.color_jitter = check_number("color_jitter", color_jitter, minimum=0, maximum=255)
        self.scale = check_range_pair("scale", scale, minimum=0.01)
        self.metallic = check_range_pair("metallic", metallic, minimum=0.0, maximum=1.0)
        self.roughness = check_range_pair("roughness", roughness, minimum=0.0, maximum=1.0)
        self.appearance = check_choice("appearance", appearance, APPEARANCES)
        self.physics = BodyMaterial.from_config(physics, "physics")
        if appearance in ("file", "tint") and isinstance(asset, MeshFile) and not asset.materials:
            raise ConfigError(f"appearance: {appearance!r} needs a mesh file with materials, textures or vertex "
                              f"colours; {asset.path!r} has none (use appearance: category)")

    def draw(self, rng: np.random.Generator, instance_id: int, category_id: int) -> SceneObject:
        """One instance of this category at the origin: geometry, scale and surface drawn."""
        drawn = self.asset.draw(rng)
        scale = rng.uniform(*self.scale) * drawn.scale
        color = srgb_to_linear(self.color + rng.uniform(-1, 1, size=3) * self.color_jitter)
        metallic, roughness = rng.uniform(*self.metallic), rng.uniform(*self.roughness)
        # Without a look of its own an asset can only take the category's colour.
        appearance = "category" if not drawn.materials else "file" if self.appearance == "auto" else self.appearance
        materials = drawn.materials if appearance in ("file", "tint") else ()
        if drawn.texture is not None or appearance == "file":
            color = np.ones(3)  # the asset's own texture or materials carry its colours
        return SceneObject(
            mesh=drawn.geometry, pose=np.eye(4), scale=scale, color=np.append(color, 1.0),
            instance_id=instance_id, category_id=category_id, keypoints=drawn.keypoints,
            metallic=metallic, roughness=roughness,
            keypoint_slack=drawn.keypoint_slack, texture=drawn.texture, materials=materials,
        )

    def instance(self, rng: np.random.Generator, placement: Placement, footprint: Footprint,
                 instance_id: int, category_id: int) -> SceneObject | None:
        """Draw one instance resting at a free spot, or None when no spot is free."""
        obj = self.draw(rng, instance_id, category_id)
        rotation = placement.rest_rotation(rng, obj.mesh)
        pose = placement.place(rng, obj.mesh.vertices * obj.scale, rotation, footprint)
        return None if pose is None else dataclasses.replace(obj, pose=pose)


class TabletopSampler:
    """Objects of several categories resting on a support plane (z = 0), without interpenetration.

    Args:
        categories: The labeled categories (ids are 1.. in this order).
        placement: Count, rest pose and position of the objects (``Placement``).
        table_size: [x, y] support plane size in metres, or null for no visible support
            (objects then float on z = 0 in front of the background).
        table_color: [r, g, b] sRGB 0..255.
        background_color: [r, g, b] sRGB 0..255 seen where no surface is hit.
        camera: Camera rig (``LookAtCamera`` or ``ForwardCamera``).
        lighting: Lighting rig.
        randomize: Name -> randomizer applied to every scene in this order (materials,
            background, distractors, ...; see ``synthgen.randomize``).
        container: A bin, tray or bowl on the table (``Container``) that the objects are
            dropped into; needs ``placement.rest: physics``.
    """

    def __init__(
        self,
        categories: Sequence[Category],
        placement: Placement | None = None,
        table_size: Sequence[float] | None = (1.6, 1.2),
        table_color: Sequence[float] = (150, 120, 90),
        background_color: Sequence[float] = (40, 40, 48),
        camera: LookAtCamera | None = None,
        lighting: Lighting | None = None,
        randomize: Mapping[str, SceneRandomizer] | None = None,
        container: Container | None = None,
    ):
        if not isinstance(categories, Sequence) or len(categories) == 0:
            raise ConfigError("categories: must list at least one category")
        names = [category.name for category in categories]
        if len(set(names)) != len(names):
            raise ConfigError(f"categories: names must be unique, got {names}")
        if placement is not None and not isinstance(placement, Placement):
            raise ConfigError(f"placement: must be a synthgen.randomize.placement.Placement node, got {placement!r}")
        self.category_list = list(categories)
        self.placement = placement if placement is not None else Placement()
        self.table_color = np.array(check_vector("table_color", table_color, 3, minimum=0, maximum=255))
        self.background_color = np.array(check_vector("background_color", background_color, 3, minimum=0, maximum=255))
        self.camera = camera if camera is not None else LookAtCamera()
        self.lighting = lighting if lighting is not None else Lighting()
        self.randomize = check_randomizers("randomize", randomize)
        self.categories = tuple(
            CategoryInfo(i + 1, c.name, c.asset.keypoint_names, c.asset.skeleton)
            for i, c in enumerate(self.category_list)
        )
        self._support: tuple[SceneObject, ...] = ()
        self._statics: list[StaticBody] = []
        self.last_drop: PhysicsDrop | None = None  # the latest physics drop, for reports
        if table_size is not None:
            size = check_vector("table_size", table_size, 2, minimum=0.01)
            table = Primitive("box", [size[0], size[1], 0.02])
            pose = np.eye(4)
            pose[2, 3] = -0.01
            color = np.append(srgb_to_linear(self.table_color), 1)
            self._support = (SceneObject(table.geometry, pose, color=color, role="support"),)
            self._statics.append(StaticBody((table.geometry.vertices + pose[:3, 3],)))
            # Dropped on the bare table: they land around the origin and must stay on the table.
            self._zone = DropZone(np.zeros(2), np.full(2, min(size) / 2), shape="disc",
                                  drop_half_size=np.full(2, min(self.placement.region_radius, min(size) / 2)))
        self.container = self._check_container(container, table_size)

    def _check_container(self, container, table_size) -> Container | None:
        if container is None:
            if self.placement.rest == "physics" and table_size is None:
                raise ConfigError("placement.rest: physics needs something to drop onto: a table_size or a container")
            return None
        if not isinstance(container, Container):
            raise ConfigError(f"container: must be a synthgen.scene.containers.Container node, got {container!r}")
        if self.placement.rest != "physics":
            raise ConfigError(f"container: objects only get into a container by falling: set placement.rest: physics "
                              f"(got {self.placement.rest!r})")
        self._support = (*self._support, container.scene_object())
        self._statics.append(container.static_body())
        self._zone = container.zone
        return container

    def sample(self, rng: np.random.Generator, width: int, height: int) -> SceneSpec:
        """Draw one scene for a ``width`` x ``height`` image (``problems`` set when a physics
        drop failed after its redraws: the sample is then quarantined)."""
        objects, problems = self._drop_objects(rng) if self.placement.rest == "physics" else (self._place_objects(rng), ())
        camera = self.camera.sample(rng, width, height)
        ambient, lights = self.lighting.sample(rng)
        spec = SceneSpec(
            camera=camera,
            objects=(*self._support, *objects),
            lights=lights,
            categories=self.categories,
            ambient=ambient,
            background=self.background_color / 255,
            problems=problems,
        )
        return apply_randomizers(spec, self.randomize, rng)

    def _drop_objects(self, rng: np.random.Generator) -> tuple[list[SceneObject], tuple[str, ...]]:
        drawn, materials = [], []
        for _ in range(self.placement.draw_count(rng)):
            category_index = int(rng.integers(len(self.category_list)))
            category = self.category_list[category_index]
            drawn.append(category.draw(rng, len(drawn) + 1, category_index + 1))
            materials.append(category.physics)
        self.last_drop = self.placement.drop(rng, drawn, materials, self._statics, self._zone)
        return self.last_drop.objects, self.last_drop.problems

    def _place_objects(self, rng: np.random.Generator) -> list[SceneObject]:
        footprint = Footprint()
        objects = []
        for _ in range(self.placement.draw_count(rng)):
            category_index = int(rng.integers(len(self.category_list)))
            obj = self.category_list[category_index].instance(
                rng, self.placement, footprint, len(objects) + 1, category_index + 1
            )
            if obj is not None:
                objects.append(obj)
        return objects
