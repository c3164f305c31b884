"""Material randomization: base colour, metalness, roughness and textures through UVs."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np

from synthgen.core import SceneObject, SceneSpec, Texture
from synthgen.core.color import linear_to_srgb, srgb_to_linear
from synthgen.core.errors import ConfigError
from synthgen.core.validation import check_choice, check_number, check_range_pair, check_vector
from synthgen.randomize.base import check_roles
from synthgen.randomize.textures import ImageFolder, check_texture_kinds, procedural_texture, random_color

__all__ = ["MaterialRandomizer"]


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
    """

    def __init__(
        self,
        roles: Sequence[str] = ("instance",),
        color: str = "keep",
        palette: Sequence[Sequence[float]] = (),
        palette_jitter: float = 15.0,
        metallic: Sequence[float] | None = (0.0, 0.3),
        roughness: Sequence[float] | None = (0.3, 1.0),
        texture_probability: float = 0.5,
        textures: Sequence[str] = ("noise", "checker", "stripes", "marble"),
        texture_folder: str | None = None,
        folder_probability: float = 0.5,
        texture_size: int = 256,
        repeats: Sequence[float] = (1.0, 6.0),
        contrast: Sequence[float] = (0.2, 0.7),
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
        if not self.textures and self.folder is None and self.texture_probability > 0:
            raise ConfigError("textures: empty and no texture_folder; set texture_probability: 0 or list textures")

    def __call__(self, spec: SceneSpec, rng: np.random.Generator) -> SceneSpec:
        objects = tuple(self._vary(obj, rng) if obj.role in self.roles else obj for obj in spec.objects)
        return dataclasses.replace(spec, objects=objects)

    def _vary(self, obj: SceneObject, rng: np.random.Generator) -> SceneObject:
        base = self._base_color(obj, rng)
        metallic = rng.uniform(*self.metallic) if self.metallic else obj.metallic
        roughness = rng.uniform(*self.roughness) if self.roughness else obj.roughness
        texture = self._texture(rng, base) if rng.uniform() < self.texture_probability else None
        # A texture carries the colour itself; the base colour then only passes it through.
        color = np.ones(3) if texture is not None else srgb_to_linear(base)
        return dataclasses.replace(obj, color=np.append(color, obj.color[3]), metallic=metallic,
                                   roughness=roughness, texture=texture)

    def _base_color(self, obj: SceneObject, rng: np.random.Generator) -> np.ndarray:
        """(3,) sRGB 0..255."""
        if self.color == "random":
            return random_color(rng)
        if self.color == "palette":
            choice = self.palette[int(rng.integers(len(self.palette)))]
            return np.clip(choice + rng.uniform(-1, 1, size=3) * self.palette_jitter, 0, 255)
        return linear_to_srgb(obj.color[:3])

    def _texture(self, rng: np.random.Generator, base: np.ndarray) -> Texture:
        if self.folder is not None and (not self.textures or rng.uniform() < self.folder_probability):
            return Texture(self.folder.draw(rng))
        kind = self.textures[int(rng.integers(len(self.textures)))]
        second = base * (1.0 - rng.uniform(*self.contrast))
        image = procedural_texture(kind, rng, self.texture_size, (base, second), rng.uniform(*self.repeats))
        return Texture(image)
