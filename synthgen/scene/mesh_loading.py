"""Mesh files with their appearance: geometry, PBR materials, textures and vertex colours.

A file is read once into a ``LoadedMesh`` (one ``MeshGeometry`` whose parts carry one
``Material`` each) and kept in a ``MeshCache``, an LRU under a memory budget, so asset
sets with many files cost one read per file per process, not one per sample.

What is kept of each format:

* GLB/GLTF: every primitive with its node transform; the metallic-roughness material
  (base colour factor and texture, metallic and roughness factors and texture, normal
  map, emissive factor and texture, alpha mode and cutoff, double-sidedness; glTF's
  defaults of metallic 1 and roughness 1 when a factor is absent); COLOR_0 vertex
  colours (linear, as glTF defines them).
* OBJ + MTL: ``map_Kd`` and ``Kd`` (taken as linear, as Blender's importer does), the
  specular exponent as roughness (trimesh's conversion), one part per material.
* PLY/OBJ vertex colours (sRGB encoded, as scanners write them), PLY texture files.
* STL/OFF: geometry only.

Coordinates: the file's units times ``scale``; ``up_axis: y`` turns y-up files (ShapeNet,
most OBJ exports) so that their up is synthgen's z.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import trimesh
from PIL import Image

from synthgen.core import Material, MeshGeometry, Texture, default_uv
from synthgen.core.caching import ByteBudgetCache
from synthgen.core.color import srgb_to_linear
from synthgen.core.errors import InputError
from synthgen.paths import scene_data_dir

__all__ = ["LoadedMesh", "MESH_SUFFIXES", "MeshCache", "load_mesh", "resolve_mesh_path", "shared_mesh_cache"]

MESH_SUFFIXES = (".obj", ".ply", ".stl", ".glb", ".gltf", ".off")
_GLTF_SUFFIXES = (".glb", ".gltf")
_Y_UP_TO_Z_UP = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, -1.0], [0.0, 1.0, 0.0]])


@dataclass(frozen=True, eq=False)
class LoadedMesh:
    """A mesh file as synthgen renders it.

    Attributes:
        geometry: All primitives in one mesh (metres, z up), one part per material.
        materials: One ``Material`` per part of ``geometry``; empty when the file has no
            appearance of its own (STL, OFF, a bare OBJ or GLB).
        source: The file read.
    """

    geometry: MeshGeometry
    materials: tuple[Material, ...]
    source: Path

    @property
    def has_appearance(self) -> bool:
        """Whether the file brings its own look: materials, textures or vertex colours."""
        return bool(self.materials)

    @property
    def nbytes(self) -> int:
        """Approximate memory held: vertex arrays plus texture images."""
        arrays = [self.geometry.vertices, self.geometry.faces, self.geometry.uv, self.geometry.colors]
        total = sum(a.nbytes for a in arrays if a is not None)
        for material in self.materials:
            for texture in _textures(material):
                total += texture.image.nbytes
        return total


def _textures(material: Material) -> list[Texture]:
    return [t for t in (material.base_color_texture, material.metallic_roughness_texture,
                        material.normal_texture, material.emissive_texture) if t is not None]


def resolve_mesh_path(path: str | Path) -> Path:
    """``path`` as given when absolute or present, else inside synthgen's ``scenes/`` folder."""
    candidate = Path(path).expanduser()
    if candidate.is_absolute():
        return candidate
    if candidate.exists():
        return candidate.resolve()
    packaged = scene_data_dir() / candidate
    return packaged if packaged.exists() else candidate


def _texture(image, source: Path, role: str, max_size: int) -> Texture | None:
    if image is None:
        return None
    if not isinstance(image, Image.Image):
        raise InputError(f"mesh file {str(source)!r}: its {role} texture is not an image; re-export the file")
    mode = "RGBA" if image.mode in ("RGBA", "LA", "P") and role == "base colour" else "RGB"
    image = image.convert(mode)
    if max(image.size) > max_size:
        scale = max_size / max(image.size)
        image = image.resize((max(1, round(image.width * scale)), max(1, round(image.height * scale))), Image.LANCZOS)
    array = np.asarray(image, dtype=np.uint8)
    if mode == "RGBA" and array[..., 3].min() == 255:
        array = np.ascontiguousarray(array[..., :3])  # opaque: no alpha to carry
    return Texture(array)


def _factor(value, default: np.ndarray) -> np.ndarray:
    if value is None:
        return default
    array = np.asarray(value, dtype=np.float64).ravel()
    if array.dtype.kind in "ui" or array.max(initial=0) > 1.0:
        array = array / 255.0  # trimesh keeps colour factors as uint8
    return np.concatenate([array, default[len(array):]])[: len(default)]


def _material(visual, source: Path, max_texture_size: int) -> Material:
    """A trimesh material (PBR or OBJ's simple one) as a synthgen ``Material``."""
    raw = visual.material
    gltf = source.suffix.lower() in _GLTF_SUFFIXES
    if isinstance(raw, trimesh.visual.material.SimpleMaterial):
        pbr = raw.to_pbr()
        base = _factor(raw.diffuse, np.ones(4))
    else:
        pbr = raw
        base = _factor(getattr(pbr, "baseColorFactor", None), np.ones(4))
    spec_default = 1.0 if gltf else 0.0  # glTF: absent metallic means 1; OBJ has no metalness
    metallic = pbr.metallicFactor if getattr(pbr, "metallicFactor", None) is not None else spec_default
    roughness = pbr.roughnessFactor if getattr(pbr, "roughnessFactor", None) is not None else 1.0 if gltf else 0.8
    emissive = _factor(getattr(pbr, "emissiveFactor", None), np.zeros(3))
    return Material(
        base_color=base,
        base_color_texture=_texture(getattr(pbr, "baseColorTexture", None), source, "base colour", max_texture_size),
        metallic=float(np.clip(metallic, 0, 1)),
        roughness=float(np.clip(roughness, 0, 1)),
        metallic_roughness_texture=_texture(getattr(pbr, "metallicRoughnessTexture", None), source,
                                            "metallic-roughness", max_texture_size),
        normal_texture=_texture(getattr(pbr, "normalTexture", None), source, "normal", max_texture_size),
        emissive=emissive,
        emissive_texture=_texture(getattr(pbr, "emissiveTexture", None), source, "emissive", max_texture_size),
        alpha_mode=str(getattr(pbr, "alphaMode", None) or "OPAQUE").upper(),
        alpha_cutoff=float(getattr(pbr, "alphaCutoff", None) or 0.5),
        double_sided=bool(getattr(pbr, "doubleSided", False)),
        name=str(getattr(pbr, "name", None) or ""),
    )


@dataclass
class _Part:
    vertices: np.ndarray
    faces: np.ndarray
    uv: np.ndarray | None
    colors: np.ndarray | None
    material: Material | None


def _part(mesh: trimesh.Trimesh, source: Path, max_texture_size: int, fallback_texture: Path | None) -> _Part:
    visual = mesh.visual
    uv, colors, material = None, None, None
    kind = getattr(visual, "kind", None)
    if kind == "texture":
        material = _material(visual, source, max_texture_size)
        if material.base_color_texture is None and fallback_texture is not None:
            material = _with_texture(material, fallback_texture, max_texture_size)
        if visual.uv is not None and len(visual.uv) == len(mesh.vertices):
            uv = np.asarray(visual.uv, dtype=np.float64)
    elif kind in ("vertex", "face"):
        rgba = np.asarray(visual.vertex_colors, dtype=np.float64) / 255.0
        linear = rgba[:, :3] if source.suffix.lower() in _GLTF_SUFFIXES else srgb_to_linear(rgba[:, :3] * 255.0)
        colors = np.column_stack([linear, rgba[:, 3]])
        material = Material(roughness=0.8, metallic=0.0)
    return _Part(np.asarray(mesh.vertices, np.float64), np.asarray(mesh.faces, np.int64), uv, colors, material)


def _with_texture(material: Material, path: Path, max_texture_size: int) -> Material:
    with Image.open(path) as image:
        return dataclasses.replace(material, base_color_texture=_texture(image.copy(), path, "base colour", max_texture_size))


def load_mesh(path: str | Path, *, smooth: bool = True, scale: float = 1.0, up_axis: str = "z",
              max_texture_size: int = 2048, fallback_texture: str | Path | None = None) -> LoadedMesh:
    """Read a mesh file with its materials (not cached; see ``MeshCache``).

    Args:
        path: OBJ, PLY, STL, GLB, GLTF or OFF file (see ``resolve_mesh_path`` for lookup).
        smooth: Shade with vertex normals.
        scale: Uniform scale from the file's units to metres (0.001 for millimetres).
        up_axis: ``z`` or ``y``: the file's up direction.
        max_texture_size: Textures are downscaled to at most this many pixels per edge.
        fallback_texture: Image used as base colour of textured parts whose own image is
            missing (Google Scanned Objects' MTL names a texture in another folder).

    Raises:
        InputError: The file is missing, of an unsupported type, unreadable, or has no
            triangles; the message names the file.
    """
    resolved = resolve_mesh_path(path)
    if resolved.suffix.lower() not in MESH_SUFFIXES:
        raise InputError(f"mesh file {str(path)!r}: unsupported type; use one of {list(MESH_SUFFIXES)}")
    if not resolved.is_file():
        raise InputError(
            f"mesh file {str(path)!r} not found (looked in the current directory and {scene_data_dir()}); "
            "fix the path or use an absolute one"
        )
    try:
        scene = trimesh.load(resolved, force="scene", process=False)
        meshes = [m for m in scene.dump() if isinstance(m, trimesh.Trimesh) and len(m.faces)]
    except Exception as error:  # trimesh raises many types for corrupt files
        raise InputError(f"mesh file {str(resolved)!r} could not be read: {error}") from error
    if not meshes or not all(np.all(np.isfinite(m.vertices)) for m in meshes):
        raise InputError(f"mesh file {str(resolved)!r} has no triangles or non-finite vertices")
    fallback = None if fallback_texture is None else Path(fallback_texture)
    parts = [_part(m, resolved, max_texture_size, fallback) for m in meshes]
    return _combine(parts, resolved, smooth, scale, up_axis)


def _combine(parts: list[_Part], source: Path, smooth: bool, scale: float, up_axis: str) -> LoadedMesh:
    rotation = _Y_UP_TO_Z_UP if up_axis == "y" else np.eye(3)
    vertices = np.concatenate([p.vertices for p in parts]) @ rotation.T * scale
    starts = np.cumsum([0] + [len(p.vertices) for p in parts])
    faces = np.concatenate([p.faces + start for p, start in zip(parts, starts)])
    offsets = np.cumsum([0] + [len(p.faces) for p in parts])
    has_uv = any(p.uv is not None for p in parts)
    uv = np.concatenate([p.uv if p.uv is not None else default_uv(p.vertices) for p in parts]) if has_uv else None
    has_colors = any(p.colors is not None for p in parts)
    colors = np.concatenate([p.colors if p.colors is not None else np.ones((len(p.vertices), 4)) for p in parts]) \
        if has_colors else None
    has_materials = any(p.material is not None for p in parts)
    materials = tuple(p.material if p.material is not None else Material() for p in parts) if has_materials else ()
    key = f"file:{source}:{scale}:{up_axis}:{int(smooth)}"
    # Parts only matter when they have their own materials (vertex colours come with one).
    geometry = MeshGeometry(vertices, faces, smooth=smooth, key=key, uv=uv, colors=colors,
                            part_offsets=offsets if has_materials else None)
    return LoadedMesh(geometry, materials, source)


class MeshCache:
    """Loaded mesh files kept under a memory budget, least recently used dropped first.

    Args:
        budget_mb: Memory budget in MiB for geometry and textures together; a single
            file larger than the budget is still loaded, and kept alone.
    """

    def __init__(self, budget_mb: float = 1024.0):
        self._cache: ByteBudgetCache[LoadedMesh] = ByteBudgetCache(int(budget_mb * 2**20), lambda loaded: loaded.nbytes)

    @property
    def budget_bytes(self) -> int:
        """The memory budget in bytes; a new budget applies from the next file read."""
        return self._cache.budget_bytes

    @budget_bytes.setter
    def budget_bytes(self, value: int) -> None:
        self._cache.budget_bytes = int(value)

    def get(self, path: str | Path, **options) -> LoadedMesh:
        """``load_mesh(path, **options)``, read once while it stays in the budget."""
        resolved = resolve_mesh_path(path)
        stat = resolved.stat() if resolved.is_file() else None
        key = (str(resolved), stat and stat.st_mtime_ns, stat and stat.st_size, tuple(sorted(options.items())))
        return self._cache.get(key, lambda: load_mesh(resolved, **options))

    @property
    def loads(self) -> int:
        """Files read so far (a file dropped from the budget and used again is read again)."""
        return self._cache.misses

    @property
    def nbytes(self) -> int:
        """Memory held by the cached meshes."""
        return self._cache.nbytes

    def __len__(self) -> int:
        return len(self._cache)


_SHARED = MeshCache()


def shared_mesh_cache() -> MeshCache:
    """The process's mesh cache used by mesh assets (1 GiB budget)."""
    return _SHARED
