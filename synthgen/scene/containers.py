"""Containers: a bin, tray or bowl standing on the table, for objects dropped into them.

Every container stands with its base on z = 0, centred on the origin (world frame,
metres, z up). Primitives are built with their exact convex parts (a bin's floor and
four walls; a bowl's shell cut into sectors), so they need no decomposition; a mesh
file is split into convex parts by ``coacd`` (cached per file).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np
import trimesh

from synthgen.core import MeshGeometry, SceneObject
from synthgen.core.color import srgb_to_linear
from synthgen.core.errors import ConfigError
from synthgen.core.validation import check_choice, check_number, check_vector
from synthgen.physics import BodyMaterial, DropZone, StaticBody, convex_parts
from synthgen.scene.mesh_loading import shared_mesh_cache

__all__ = ["CONTAINER_KINDS", "Container"]

CONTAINER_KINDS = ("bin", "tray", "bowl", "mesh")
_DEFAULT_SIZE = {"bin": (0.30, 0.20, 0.10), "tray": (0.34, 0.24, 0.03), "bowl": (0.24, 0.08)}
_SIZE_HELP = {"bin": "[inner x, inner y, wall height]", "tray": "[inner x, inner y, rim height]",
              "bowl": "[rim diameter, height]"}
_BOWL_SECTORS = 16
_BOWL_RINGS = 6


def _box(low: Sequence[float], high: Sequence[float]) -> trimesh.Trimesh:
    low, high = np.asarray(low, dtype=np.float64), np.asarray(high, dtype=np.float64)
    return trimesh.creation.box(extents=high - low, transform=trimesh.transformations.translation_matrix((low + high) / 2))


def _open_box(inner_x: float, inner_y: float, height: float, wall: float) -> list[trimesh.Trimesh]:
    """Floor and four walls of an open box whose inside is inner_x x inner_y x height above the floor."""
    ox, oy, top = inner_x / 2 + wall, inner_y / 2 + wall, wall + height
    return [
        _box([-ox, -oy, 0.0], [ox, oy, wall]),
        _box([-ox, -oy, wall], [-inner_x / 2, oy, top]),
        _box([inner_x / 2, -oy, wall], [ox, oy, top]),
        _box([-inner_x / 2, -oy, wall], [inner_x / 2, -inner_y / 2, top]),
        _box([-inner_x / 2, inner_y / 2, wall], [inner_x / 2, oy, top]),
    ]


def _bowl_profile(radius: float, height: float, wall: float) -> tuple[np.ndarray, np.ndarray]:
    """(M, 2) outer and inner (r, z) curves of a bowl's wall, from its flat foot up to the rim."""
    foot = 0.45 * radius
    s = np.linspace(0.0, 1.0, _BOWL_RINGS) * math.pi / 2
    outer = np.stack([foot + (radius - foot) * np.sin(s), height * (1 - np.cos(s))], axis=1)
    inner = np.stack([foot + (radius - wall - foot) * np.sin(s), wall + (height - wall) * (1 - np.cos(s))], axis=1)
    return outer, inner


def _bowl(radius: float, height: float, wall: float) -> tuple[trimesh.Trimesh, list[np.ndarray]]:
    """A bowl's surface (a revolved closed profile) and its convex parts (the foot disc plus the
    wall cut into sectors and rings: 8 corners each)."""
    outer, inner = _bowl_profile(radius, height, wall)
    profile = np.concatenate([[[0.0, 0.0]], outer, inner[::-1], [[0.0, wall]]])
    surface = trimesh.creation.revolve(profile, sections=64)
    angles = np.linspace(0.0, 2 * math.pi, _BOWL_SECTORS + 1)
    foot = outer[0, 0]
    ring = np.stack([np.cos(angles[:-1]), np.sin(angles[:-1])], axis=1) * foot
    parts = [np.concatenate([np.c_[ring, np.zeros(len(ring))], np.c_[ring, np.full(len(ring), wall)]])]
    for a0, a1 in zip(angles[:-1], angles[1:]):
        for k in range(_BOWL_RINGS - 1):
            corners = [(curve[j, 0] * math.cos(a), curve[j, 0] * math.sin(a), curve[j, 1])
                       for curve in (outer, inner) for j in (k, k + 1) for a in (a0, a1)]
            parts.append(np.asarray(corners, dtype=np.float64))
    return surface, parts


class Container:
    """A bin, tray or bowl on the table that objects are dropped into (``placement.rest: physics``).

    Args:
        kind: ``bin`` (an open box), ``tray`` (a shallow one), ``bowl`` (a round bowl
            with a flat foot) or ``mesh`` (a mesh file, ``path``).
        size: Metres: bin and tray ``[inner x, inner y, wall height]``; bowl ``[rim
            diameter, height]``; null for the kind's default. Ignored for ``mesh``.
        wall: Wall and floor thickness, metres (primitives).
        path: The mesh file of a ``mesh`` container (its base on z = 0 after ``scale``).
        scale: Scale of the mesh file's coordinates (0.001 for millimetres).
        up_axis: ``z`` or ``y``: the mesh file's up axis.
        color: [r, g, b] sRGB 0..255 (primitives; a mesh file keeps its own look).
        roughness: PBR roughness 0..1.
        physics: The container's friction and restitution (``synthgen.physics.BodyMaterial``
            keys), defaults when null.
    """

    def __init__(self, kind: str = "bin", size: Sequence[float] | None = None, wall: float = 0.008,
                 path: str | None = None, scale: float = 1.0, up_axis: str = "z",
                 color: Sequence[float] = (60, 84, 120), roughness: float = 0.6,
                 physics: Mapping | None = None):
        self.kind = check_choice("kind", kind, CONTAINER_KINDS)
        wall = check_number("wall", wall, minimum=0.001, maximum=0.1)
        self.color = np.array(check_vector("color", color, 3, minimum=0, maximum=255))
        self.roughness = check_number("roughness", roughness, minimum=0.0, maximum=1.0)
        self.physics = BodyMaterial.from_config(physics, "physics")
        self.materials: tuple = ()
        if kind == "mesh":
            self._from_file(path, scale, up_axis)
            return
        if path is not None:
            raise ConfigError(f"path: only a kind: mesh container reads a file; kind {kind!r} is built from size")
        size = tuple(_DEFAULT_SIZE[kind] if size is None else size)
        arity = 2 if kind == "bowl" else 3
        if len(size) != arity:
            raise ConfigError(f"size: a {kind} takes {_SIZE_HELP[kind]}, got {list(size)}")
        size = tuple(check_number(f"size[{i}]", s, minimum=0.01, maximum=5.0) for i, s in enumerate(size))
        if kind == "bowl":
            radius, height = size[0] / 2, size[1]
            if not 2 * wall < height < radius:
                raise ConfigError(f"size: a bowl needs 2 x wall < height < rim radius, got {list(size)} with wall {wall}")
            surface, parts = _bowl(radius, height, wall)
            self.geometry = MeshGeometry(surface.vertices, surface.faces, smooth=True, key=f"bowl:{size}:{wall}")
            self.collision = tuple(parts)
            inner = radius - wall
            self.zone = DropZone(np.zeros(2), np.array([inner, inner]), floor_z=wall, shape="disc", rim_z=height)
        else:
            boxes = _open_box(size[0], size[1], size[2], wall)
            surface = trimesh.util.concatenate(boxes)
            self.geometry = MeshGeometry(surface.vertices, surface.faces, smooth=False, key=f"{kind}:{size}:{wall}")
            self.collision = tuple(np.asarray(box.vertices) for box in boxes)
            self.zone = DropZone(np.zeros(2), np.array(size[:2]) / 2, floor_z=wall, rim_z=wall + size[2])

    def _from_file(self, path: str | None, scale: float, up_axis: str) -> None:
        if not path:
            raise ConfigError("path: a kind: mesh container needs a mesh file (e.g. a tray OBJ)")
        check_number("scale", scale, minimum=0, exclusive_minimum=True)
        loaded = shared_mesh_cache().get(path, smooth=True, scale=float(scale), up_axis=check_choice(
            "up_axis", up_axis, ["z", "y"]), max_texture_size=2048)
        low, high = loaded.geometry.bounds
        # Stand it on z = 0, centred on the origin.
        offset = -np.array([(low[0] + high[0]) / 2, (low[1] + high[1]) / 2, low[2]])
        self.geometry = MeshGeometry(loaded.geometry.vertices + offset, loaded.geometry.faces, loaded.geometry.smooth,
                                     uv=loaded.geometry.uv, colors=loaded.geometry.colors,
                                     part_offsets=loaded.geometry.part_offsets)
        self.materials = loaded.materials
        self.collision = convex_parts(self.geometry, "decompose", self.physics.decomposition_threshold)
        extent = (high - low)[:2] / 2
        # Its floor: the top of the lowest part under the centre (what a drop through the middle lands on).
        under_centre = [part[:, 2].max() for part in self.collision
                        if np.all(part[:, :2].min(axis=0) <= 0) and np.all(part[:, :2].max(axis=0) >= 0)]
        floor = float(min(under_centre)) if under_centre else 0.0
        self.zone = DropZone(np.zeros(2), extent * 0.85, floor_z=floor, rim_z=float(high[2] - low[2]))

    def scene_object(self) -> SceneObject:
        """The container as an unlabeled occluder (role ``container``) at the origin."""
        color = np.append(srgb_to_linear(self.color) if not self.materials else np.ones(3), 1.0)
        return SceneObject(self.geometry, np.eye(4), color=color, role="container", roughness=self.roughness,
                           materials=self.materials)

    def static_body(self) -> StaticBody:
        """Its convex parts in the world frame, for the simulation."""
        return StaticBody(self.collision, self.physics)
