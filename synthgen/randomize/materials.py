"""Material randomization: base colour, metalness, roughness and textures through UVs.

Textures come from procedural patterns, a folder of photos, or a labeled real dataset
(the pixels of the category's own labeled objects, or its photos with the objects
taken out, see ``synthgen.randomize.real_photos``). Objects that carry a mesh file's
own look (``SceneObject.materials``) keep their textures: the randomizer changes what
it is told to (metalness, roughness, a hue and brightness tint) on each of their
materials, unless ``file_textures: replace``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence

import cv2
import numpy as np

from synthgen.core import MeshGeometry, SceneObject, SceneSpec, Texture, default_uv_wraps, project_uv
from synthgen.core.color import linear_to_srgb, srgb_to_linear
from synthgen.core.errors import ConfigError
from synthgen.core.scene_model import UV_PROJECTIONS, WRAPPING_UV_PROJECTIONS
from synthgen.core.validation import check_choice, check_number, check_range_pair, check_vector
from synthgen.randomize.base import check_roles
from synthgen.randomize.real_photos import DatasetPhotos
from synthgen.randomize.textures import ImageFolder, PatternPool, check_texture_kinds, procedural_texture, random_color

__all__ = ["DATASET_TEXTURES", "MaterialRandomizer"]

DATASET_TEXTURES = ("objects", "inpaint", "crop")
_UV_CACHE = 512


class MaterialRandomizer:
    """Varies the surface of the objects of chosen roles.

    Args:
        roles: Object roles to vary (``instance``, ``support``, ``distractor``, ``scenery``).
        color: ``keep`` (the colour the scene gave the object), ``random`` (random
            hue, saturation and value) or ``palette`` (one of ``palette``, jittered).
        palette: [[r, g, b], ...] sRGB 0..255 colours for ``color: palette``.
        palette_jitter: Each channel of a palette colour moves by up to this much.
        metallic: [min, max] PBR metalness 0..1, or null to keep.
        roughness: [min, max] PBR roughness 0..1, or null to keep.
        texture_probability: Share of objects that get a texture, 0..1.
        textures: Procedural textures to draw from (``noise``, ``checker``,
            ``stripes``, ``marble``, ``cloth``).
        texture_folder: Folder of your own texture images, or null.
        folder_probability: Share of textured objects that take an image from
            ``texture_folder`` instead of a procedural texture, 0..1.
        texture_size: Edge of procedural textures in pixels.
        repeats: [min, max] pattern periods across an object's texture.
        contrast: [min, max] darkening of the pattern's second colour, 0..1 (0: flat).
        pattern_pool: Distinct procedural patterns per kind, each drawn once per process
            and coloured afresh per object (``textures.PatternPool``: large textures cost
            more to draw than to render); 0 draws a new pattern for every object.
        categories: Only objects of these category names (labeled instances), or null
            for every object of ``roles``.
        texture_dataset: A labeled real dataset (any readable format) as texture source, or null.
        dataset_probability: Share of textured objects that take their texture from
            ``texture_dataset``, 0..1.
        dataset_textures: ``objects`` (pixels inside the labeled objects of the
            object's category, see ``dataset_categories``), ``inpaint`` or ``crop``
            (the photos with their labeled objects taken out: supports, walls).
        dataset_categories: {scene category: dataset category} names for ``objects``
            (default: the same name); objects whose category has no labeled objects
            in the dataset get a procedural or folder texture instead.
        dataset_image_ids: Only these images of ``texture_dataset`` (keep the images you
            evaluate on out), or null for all.
        uv_projection: How image textures wrap meshes: ``keep`` (the mesh's own texture
            coordinates, else ``auto``), ``auto``, ``box``, ``sphere``, ``cylinder``, ``planar``.
        file_textures: ``keep`` (objects with a file's look keep its textures) or
            ``replace`` (they take this randomizer's textures like any object).
        tint_saturation: [min, max] saturation 0..1 of a random-hue tint multiplied
            into a file's look (0: no change of hue).
        brightness: [min, max] brightness factor multiplied into a file's look (1: as authored).
    """

    def __init__(
        self,
        roles: Sequence[str] = ("instance",),
        color: str = "keep",
        palette: Sequence[Sequence[float]] = (),
        palette_jitter: float = 15.0,
        metallic: Sequence[float] | None = (0.0, 0.3),
        roughness: Sequence[float] | None = (0.3, 1.0),
        texture_probability: float = 0.3,
        textures: Sequence[str] = ("noise", "checker", "stripes", "marble"),
        texture_folder: str | None = None,
        folder_probability: float = 0.5,
        texture_size: int = 256,
        repeats: Sequence[float] = (1.0, 6.0),
        contrast: Sequence[float] = (0.2, 0.7),
        pattern_pool: int = 0,
        categories: Sequence[str] | None = None,
        texture_dataset: str | None = None,
        dataset_probability: float = 1.0,
        dataset_textures: str = "objects",
        dataset_categories: Mapping[str, str] | None = None,
        dataset_image_ids: Sequence[int | str] | None = None,
        uv_projection: str = "keep",
        file_textures: str = "keep",
        tint_saturation: Sequence[float] = (0.0, 0.0),
        brightness: Sequence[float] = (1.0, 1.0),
    ):
        self.roles = check_roles("roles", roles)
        self.color = check_choice("color", color, ["keep", "random", "palette"])
        self.palette = [np.array(check_vector(f"palette[{i}]", c, 3, minimum=0, maximum=255)) for i, c in enumerate(palette)]
        if self.color == "palette" and not self.palette:
            raise ConfigError("palette: color: palette needs at least one [r, g, b] colour")
        self.palette_jitter = check_number("palette_jitter", palette_jitter, minimum=0, maximum=255)
        self.metallic = None if metallic is None else check_range_pair("metallic", metallic, minimum=0.0, maximum=1.0)
        self.roughness = None if roughness is None else check_range_pair("roughness", roughness, minimum=0.0, maximum=1.0)
        self.texture_probability = check_number("texture_probability", texture_probability, minimum=0.0, maximum=1.0)
        self.textures = check_texture_kinds("textures", textures)
        self.folder = None if texture_folder is None else ImageFolder(texture_folder, "texture_folder")
        self.folder_probability = check_number("folder_probability", folder_probability, minimum=0.0, maximum=1.0)
        self.texture_size = check_number("texture_size", texture_size, minimum=8, maximum=4096, integer=True)
        self.repeats = check_range_pair("repeats", repeats, minimum=0.1, maximum=256.0)
        self.contrast = check_range_pair("contrast", contrast, minimum=0.0, maximum=1.0)
        self.pattern_pool = check_number("pattern_pool", pattern_pool, minimum=0, integer=True)
        self._patterns = PatternPool(self.pattern_pool, self.repeats) if self.pattern_pool else None
        self.categories = None if categories is None else {str(c) for c in categories}
        self.dataset = None if texture_dataset is None else DatasetPhotos(
            texture_dataset, "texture_dataset", image_ids=dataset_image_ids)
        self.dataset_probability = check_number("dataset_probability", dataset_probability, minimum=0.0, maximum=1.0)
        self.dataset_textures = check_choice("dataset_textures", dataset_textures, DATASET_TEXTURES)
        self.dataset_categories = dict(dataset_categories or {})
        self.uv_projection = check_choice("uv_projection", uv_projection, ("keep", *UV_PROJECTIONS))
        self.file_textures = check_choice("file_textures", file_textures, ["keep", "replace"])
        self.tint_saturation = check_range_pair("tint_saturation", tint_saturation, minimum=0.0, maximum=1.0)
        self.brightness = check_range_pair("brightness", brightness, minimum=0.0, maximum=4.0)
        if not self.textures and self.folder is None and self.dataset is None and self.texture_probability > 0:
            raise ConfigError("textures: empty and no texture_folder or texture_dataset; set texture_probability: 0 "
                              "or list textures")
        if self.dataset is not None and self.dataset_textures == "objects" and self.categories is not None:
            missing = [c for c in self.categories if not self.dataset.has_objects(self.dataset_categories.get(c, c))]
            if missing and not self.textures and self.folder is None:
                raise ConfigError(f"dataset_categories: {missing} have no labeled objects in texture_dataset "
                                  f"(it has {self.dataset.category_names}); map them with dataset_categories")
        self._uv_meshes: dict[tuple[str, str], MeshGeometry] = {}

    def __call__(self, spec: SceneSpec, rng: np.random.Generator) -> SceneSpec:
        names = {c.id: c.name for c in spec.categories}
        objects = tuple(self._vary(obj, names.get(obj.category_id, ""), rng) if self._selects(obj, names) else obj
                        for obj in spec.objects)
        return dataclasses.replace(spec, objects=objects)

    def _selects(self, obj: SceneObject, names: dict[int, str]) -> bool:
        if obj.role not in self.roles:
            return False
        return self.categories is None or names.get(obj.category_id) in self.categories

    def _vary(self, obj: SceneObject, category: str, rng: np.random.Generator) -> SceneObject:
        if obj.materials and self.file_textures == "keep":
            return self._vary_file_look(obj, rng)
        base = self._base_color(obj, rng)
        metallic = rng.uniform(*self.metallic) if self.metallic else obj.metallic
        roughness = rng.uniform(*self.roughness) if self.roughness else obj.roughness
        texture = self._texture(rng, base, category) if rng.uniform() < self.texture_probability else None
        # A texture carries the colour itself; the base colour then only passes it through.
        color = np.ones(3) if texture is not None else srgb_to_linear(base)
        mesh = obj.mesh if texture is None else self._projected(obj.mesh)
        return dataclasses.replace(obj, mesh=mesh, color=np.append(color, obj.color[3]), metallic=metallic,
                                   roughness=roughness, texture=texture, materials=())

    def _vary_file_look(self, obj: SceneObject, rng: np.random.Generator) -> SceneObject:
        """Metalness, roughness and a tint on each of a file's materials; its textures stay."""
        materials = tuple(
            dataclasses.replace(
                m,
                metallic=rng.uniform(*self.metallic) if self.metallic else m.metallic,
                roughness=rng.uniform(*self.roughness) if self.roughness else m.roughness,
            )
            for m in obj.materials
        )
        tint = self._tint(rng)
        return dataclasses.replace(obj, materials=materials, color=np.append(obj.color[:3] * tint, obj.color[3]))

    def _tint(self, rng: np.random.Generator) -> np.ndarray:
        """(3,) linear multiplier: a colour of random hue and ``tint_saturation``, times a brightness."""
        saturation = rng.uniform(*self.tint_saturation)
        hsv = np.array([[[rng.uniform(0, 180), saturation * 255, 255]]], dtype=np.float32)
        tint = srgb_to_linear(cv2.cvtColor(hsv.astype(np.uint8), cv2.COLOR_HSV2RGB)[0, 0].astype(np.float64))
        # Same luminance as white: the tint changes the hue, ``brightness`` the level.
        return tint / max(float(tint @ [0.2126, 0.7152, 0.0722]), 1e-6) * rng.uniform(*self.brightness)

    def _projected(self, mesh: MeshGeometry) -> MeshGeometry:
        """The mesh with texture coordinates from ``uv_projection`` (cached per mesh)."""
        method = "auto" if self.uv_projection == "keep" else self.uv_projection
        if (self.uv_projection == "keep" and mesh.uv is not None) or (method == "auto" and mesh.uv is None):
            return mesh  # its own uv, or none: renderers project ``default_uv`` (= auto) themselves
        key = (mesh.key, method)
        wraps = method in WRAPPING_UV_PROJECTIONS or (method == "auto" and default_uv_wraps(mesh.vertices))
        if not mesh.cacheable:  # made for one sample: nothing to reuse
            return dataclasses.replace(mesh, uv=project_uv(mesh.vertices, method, _vertex_normals(mesh)), uv_wraps=wraps)
        if key not in self._uv_meshes:
            if len(self._uv_meshes) >= _UV_CACHE:
                self._uv_meshes.pop(next(iter(self._uv_meshes)))
            uv = project_uv(mesh.vertices, method, _vertex_normals(mesh))
            self._uv_meshes[key] = dataclasses.replace(mesh, uv=uv, key=f"{mesh.key}|uv={method}", uv_wraps=wraps)
        return self._uv_meshes[key]

    def _base_color(self, obj: SceneObject, rng: np.random.Generator) -> np.ndarray:
        """(3,) sRGB 0..255."""
        if self.color == "random":
            return random_color(rng)
        if self.color == "palette":
            choice = self.palette[int(rng.integers(len(self.palette)))]
            return np.clip(choice + rng.uniform(-1, 1, size=3) * self.palette_jitter, 0, 255)
        return linear_to_srgb(obj.color[:3])

    def _texture(self, rng: np.random.Generator, base: np.ndarray, category: str) -> Texture | None:
        """A texture for one object, or None when no source has one for it (it keeps a flat colour)."""
        if self.dataset is not None and rng.uniform() < self.dataset_probability:
            texture = self._dataset_texture(rng, category)
            if texture is not None:
                return texture
        if self.folder is not None and (not self.textures or rng.uniform() < self.folder_probability):
            return Texture(self.folder.draw(rng))
        if not self.textures:
            return None
        kind = self.textures[int(rng.integers(len(self.textures)))]
        second = base * (1.0 - rng.uniform(*self.contrast))
        if self._patterns is not None:
            return Texture(self._patterns.texture(kind, rng, self.texture_size, (base, second)))
        image = procedural_texture(kind, rng, self.texture_size, (base, second), rng.uniform(*self.repeats))
        return Texture(image)

    def _dataset_texture(self, rng: np.random.Generator, category: str) -> Texture | None:
        if self.dataset_textures == "inpaint":
            return self.dataset.surface_texture(rng, min(self.texture_size * 2, 1024))
        if self.dataset_textures == "crop":  # a new crop each time: not shared between samples
            size = min(self.texture_size * 2, 1024)
            return Texture(self.dataset.clean_photo(rng, size, size, "crop"))
        label = self.dataset_categories.get(category, category)
        if not self.dataset.has_objects(label):
            return None
        return self.dataset.object_texture(rng, label)


def _vertex_normals(mesh: MeshGeometry) -> np.ndarray:
    """(V, 3) float64 area-weighted vertex normals."""
    triangles = mesh.vertices[mesh.faces]
    face_normals = np.cross(triangles[:, 1] - triangles[:, 0], triangles[:, 2] - triangles[:, 0])
    normals = np.zeros_like(mesh.vertices)
    for corner in range(3):
        np.add.at(normals, mesh.faces[:, corner], face_normals)
    return normals / np.maximum(np.linalg.norm(normals, axis=1, keepdims=True), 1e-12)
