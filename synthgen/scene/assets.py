"""Assets: geometry plus optional named keypoints and a skeleton.

An asset's constructor is its config schema. Geometry comes from trimesh primitives
(``Primitive``) or mesh files (``MeshFile``: OBJ, PLY, STL, GLB/GLTF, OFF). Keypoints
are given in the asset's own frame (metres); primitives can name built-in sets.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import trimesh

from synthgen.core import BOX_EDGES, CUBOID_CORNER_SIGNS, Material, MeshGeometry, Texture
from synthgen.core.errors import ConfigError
from synthgen.core.validation import check_choice, check_number, check_vector
from synthgen.scene.mesh_loading import load_mesh, shared_mesh_cache

__all__ = ["Asset", "AssetDraw", "MeshFile", "Primitive", "load_mesh_file"]

PRIMITIVE_SHAPES = ("box", "sphere", "cylinder", "capsule", "cone", "torus")
# corner_x-y-z- ... corner_x-y+z+: the signs of the corner's coordinates.
BOX_CORNER_NAMES = tuple(
    "corner_" + "".join(f"{axis}{'+' if s > 0 else '-'}" for axis, s in zip("xyz", signs))
    for signs in CUBOID_CORNER_SIGNS
)


@dataclass(frozen=True)
class AssetDraw:
    """One instance's geometry and keypoints, as an asset draws them.

    Attributes:
        geometry: Mesh in the asset frame.
        keypoints: (K, 3) float64 keypoints in the asset frame.
        keypoint_slack: (K,) float64 metres a keypoint may lie below the visible surface
            (see ``SceneObject.keypoint_slack``), or None for zeros.
        texture: A texture that belongs to the asset (a printed pattern), or None.
        materials: The file's own surface, one ``Material`` per part of ``geometry``
            (see ``SceneObject.materials``); empty when it has none.
        scale: Factor the asset asks for on top of the category's scale (asset sets
            normalising their files' sizes).
    """

    geometry: MeshGeometry
    keypoints: np.ndarray
    keypoint_slack: np.ndarray | None = None
    texture: Texture | None = None
    materials: tuple[Material, ...] = ()
    scale: float = 1.0


class Asset:
    """Geometry with named keypoints; the base of every asset.

    Fixed assets (``Primitive``, ``MeshFile``) draw the same geometry every time;
    procedural ones (shape variants, posed figures) override ``draw``.

    Attributes:
        geometry: Mesh in the asset frame.
        keypoint_names: Names of the keypoints, in label order.
        keypoints: (K, 3) float64 keypoints in the asset frame.
        skeleton: Pairs of 0-based keypoint indices.
    """

    def __init__(
        self,
        geometry: MeshGeometry,
        keypoints: Mapping[str, Sequence[float]] | None = None,
        skeleton: Sequence[Sequence[str]] | None = None,
    ):
        self.geometry = geometry
        keypoints = dict(keypoints or {})
        self.keypoint_names = tuple(keypoints)
        self.keypoints = np.array(
            [check_vector(f"keypoints.{name}", point, 3) for name, point in keypoints.items()], dtype=np.float64
        ).reshape(-1, 3)
        self.skeleton = tuple(self._skeleton_indices(skeleton or ()))

    def draw(self, rng: np.random.Generator) -> AssetDraw:
        """The geometry and keypoints of one instance (fixed assets ignore ``rng``)."""
        return AssetDraw(self.geometry, self.keypoints)

    def _skeleton_indices(self, skeleton: Sequence[Sequence[str]]):
        for i, limb in enumerate(skeleton):
            if isinstance(limb, str) or len(limb) != 2:
                raise ConfigError(f"skeleton[{i}]: must be a pair of keypoint names, got {limb!r}")
            for name in limb:
                if name not in self.keypoint_names:
                    raise ConfigError(
                        f"skeleton[{i}]: unknown keypoint {name!r}; keypoints: {list(self.keypoint_names)}"
                    )
            yield self.keypoint_names.index(limb[0]), self.keypoint_names.index(limb[1])


def _primitive_mesh(shape: str, size: tuple[float, ...]) -> trimesh.Trimesh:
    if shape == "box":
        return trimesh.creation.box(extents=size)
    if shape == "sphere":
        return trimesh.creation.icosphere(subdivisions=3, radius=size[0])
    if shape == "cylinder":
        return trimesh.creation.cylinder(radius=size[0], height=size[1], sections=32)
    if shape == "capsule":
        return trimesh.creation.capsule(radius=size[0], height=size[1], count=[16, 16])
    if shape == "cone":
        return trimesh.creation.cone(radius=size[0], height=size[1], sections=32)
    return trimesh.creation.torus(major_radius=size[0], minor_radius=size[1], major_sections=32, minor_sections=16)


_SIZE_ARITY = {"box": 3, "sphere": 1, "cylinder": 2, "capsule": 2, "cone": 2, "torus": 2}
_SIZE_HELP = {
    "box": "[x, y, z] edge lengths",
    "sphere": "[radius]",
    "cylinder": "[radius, height]",
    "capsule": "[radius, height of the straight part]",
    "cone": "[radius, height]",
    "torus": "[major radius, minor radius]",
}


class Primitive(Asset):
    """A trimesh primitive, centred on the origin (the cone's base is at z = 0).

    Args:
        shape: One of ``box, sphere, cylinder, capsule, cone, torus``.
        size: Dimensions in metres: box ``[x, y, z]``; sphere ``[radius]``; cylinder,
            cone ``[radius, height]``; capsule ``[radius, straight height]``; torus
            ``[major radius, minor radius]``.
        keypoints: ``{name: [x, y, z]}`` in the primitive's frame, or ``"corners"``
            for a box's 8 corners (with its 12 edges as skeleton).
        skeleton: Pairs of keypoint names.
    """

    def __init__(
        self,
        shape: str,
        size: Sequence[float],
        keypoints: Mapping[str, Sequence[float]] | str | None = None,
        skeleton: Sequence[Sequence[str]] | None = None,
    ):
        check_choice("shape", shape, PRIMITIVE_SHAPES)
        arity = _SIZE_ARITY[shape]
        if isinstance(size, (int, float)):
            size = [size]
        if not isinstance(size, Sequence) or len(size) != arity:
            raise ConfigError(f"size: a {shape} takes {_SIZE_HELP[shape]}, got {size!r}")
        size = tuple(check_number(f"size[{i}]", s, minimum=0, exclusive_minimum=True) for i, s in enumerate(size))
        if shape == "torus" and size[1] >= size[0]:
            raise ConfigError(f"size: a torus needs minor radius < major radius, got {list(size)}")
        if keypoints == "corners":
            if shape != "box":
                raise ConfigError(f"keypoints: 'corners' is only defined for shape=box, not {shape!r}")
            half = np.asarray(size) / 2
            keypoints = {name: (signs * half).tolist() for name, signs in zip(BOX_CORNER_NAMES, CUBOID_CORNER_SIGNS)}
            skeleton = skeleton or [[BOX_CORNER_NAMES[a], BOX_CORNER_NAMES[b]] for a, b in BOX_EDGES]
        elif isinstance(keypoints, str):
            raise ConfigError(f"keypoints: must be a mapping name -> [x, y, z] or 'corners', got {keypoints!r}")
        mesh = _primitive_mesh(shape, size)
        smooth = shape not in ("box",)
        geometry = MeshGeometry(mesh.vertices, mesh.faces, smooth=smooth, key=f"primitive:{shape}:{list(size)}")
        super().__init__(geometry, keypoints, skeleton)


def load_mesh_file(path: str | Path, *, smooth: bool = True) -> MeshGeometry:
    """Load a mesh file's geometry (all primitives in one mesh; see ``mesh_loading.load_mesh``).

    Relative paths are looked up in the current directory, then in synthgen's
    ``scenes/`` folder (so ``assets/bottle.glb`` finds the shipped asset).

    Raises:
        InputError: The file is missing, of an unsupported type, unreadable, or has no
            triangles; the message names the file.
    """
    return load_mesh(path, smooth=smooth).geometry


class MeshFile(Asset):
    """A mesh loaded from a file, with its materials, textures and vertex colours.

    Args:
        path: Mesh file (see ``synthgen.scene.mesh_loading`` for formats, what is kept
            of each, and lookup).
        scale: Uniform scale applied to the file's coordinates (e.g. 0.001 for mm).
        smooth: Shade with vertex normals (curved surfaces).
        keypoints: ``{name: [x, y, z]}`` in the file's frame after scaling (metres).
        skeleton: Pairs of keypoint names.
        up_axis: ``z`` (synthgen's up) or ``y`` (files modelled y-up).
        max_texture_size: Textures are downscaled to at most this many pixels per edge.
    """

    def __init__(
        self,
        path: str,
        scale: float = 1.0,
        smooth: bool = True,
        keypoints: Mapping[str, Sequence[float]] | None = None,
        skeleton: Sequence[Sequence[str]] | None = None,
        up_axis: str = "z",
        max_texture_size: int = 2048,
    ):
        check_number("scale", scale, minimum=0, exclusive_minimum=True)
        check_choice("up_axis", up_axis, ["z", "y"])
        check_number("max_texture_size", max_texture_size, minimum=8, maximum=16384, integer=True)
        loaded = shared_mesh_cache().get(path, smooth=smooth, scale=float(scale), up_axis=up_axis,
                                         max_texture_size=int(max_texture_size))
        self.path = str(path)
        self.materials = loaded.materials
        super().__init__(loaded.geometry, keypoints, skeleton)

    def draw(self, rng: np.random.Generator) -> AssetDraw:
        """The file's geometry, keypoints and materials (``rng`` is not used)."""
        return AssetDraw(self.geometry, self.keypoints, materials=self.materials)
