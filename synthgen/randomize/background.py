"""Background randomization: plain colours, gradients, procedural textures, a folder of your
own (unlabeled) photos, or the photos of a labeled real dataset with its labeled objects taken
out. ``BackgroundRandomizer.draw`` gives the image itself (copy-paste synthesis pastes onto it)."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import cv2
import numpy as np

from synthgen.core import SceneSpec
from synthgen.core.errors import ConfigError
from synthgen.core.validation import check_choice, check_choices, check_number, check_range_pair
from synthgen.randomize.real_photos import CLEAN_MODES, DatasetPhotos
from synthgen.randomize.textures import ImageFolder, check_texture_kinds, procedural_texture, random_color

__all__ = ["BackgroundRandomizer", "linear_gradient", "random_crop"]

# ``images`` is the former name of ``folder``, still accepted.
KINDS = ("color", "gradient", "procedural", "folder", "images", "dataset")


def random_crop(image: np.ndarray, rng: np.random.Generator, width: int, height: int,
                zoom: tuple[float, float]) -> np.ndarray:
    """A random crop of ``image`` with the target aspect ratio, resized to ``width`` x ``height``.

    Args:
        image: (h, w, 3) uint8.
        rng: Source of the crop's zoom and position.
        width: Output width.
        height: Output height.
        zoom: [min, max] share of the largest fitting crop that is kept (1: whole).

    Returns:
        (height, width, 3) uint8.
    """
    source_h, source_w = image.shape[:2]
    fit = min(source_w / width, source_h / height)
    share = rng.uniform(*zoom)
    crop_w = max(int(round(width * fit * share)), 1)
    crop_h = max(int(round(height * fit * share)), 1)
    x0 = int(rng.integers(source_w - crop_w + 1))
    y0 = int(rng.integers(source_h - crop_h + 1))
    crop = image[y0:y0 + crop_h, x0:x0 + crop_w]
    interpolation = cv2.INTER_AREA if crop_w > width else cv2.INTER_LINEAR
    return cv2.resize(crop, (width, height), interpolation=interpolation)


def linear_gradient(rng: np.random.Generator, width: int, height: int) -> np.ndarray:
    """(height, width, 3) uint8: two random colours blended linearly along a random direction."""
    first, second = random_color(rng).astype(np.float32), random_color(rng).astype(np.float32)
    angle = rng.uniform(0.0, 2.0 * np.pi)
    x, y = np.meshgrid(np.linspace(-0.5, 0.5, width, dtype=np.float32), np.linspace(-0.5, 0.5, height, dtype=np.float32))
    along = x * np.float32(np.cos(angle)) + y * np.float32(np.sin(angle))
    share = (along - along.min()) / max(float(along.max() - along.min()), 1e-6)
    return (first + share[..., None] * (second - first)).round().astype(np.uint8)


class BackgroundRandomizer:
    """Sets what is seen where no surface is hit.

    Args:
        kinds: Kinds drawn uniformly per image: ``color`` (random plain colour),
            ``gradient`` (a linear blend of two random colours at a random angle),
            ``procedural`` (a procedural texture), ``folder`` (a random crop of an
            image from ``image_folder``; ``images`` is its former name) and ``dataset``
            (a photo of ``dataset`` with its labeled objects taken out, see ``dataset_mode``).
        image_folder: Folder of unlabeled background images (needed for ``folder``).
        dataset: A labeled real dataset (any readable format; needed for ``dataset``).
        dataset_mode: ``inpaint`` (labeled objects filled in from the surface around them) or
            ``crop`` (crops that stay ``crop_margin`` clear of every labeled box), so no
            unlabeled positives remain.
        crop_margin: Clearance of ``crop`` crops from every labeled box, as a share of the
            photo's longer side (a rim, a shadow or a loosely drawn box stays out).
        dataset_image_ids: Only these images of ``dataset``, or null for all.
        textures: Procedural textures to draw from.
        zoom: [min, max] share of the largest fitting crop of a background image.
        repeats: [min, max] pattern periods across the image (procedural).
    """

    def __init__(
        self,
        kinds: Sequence[str] = ("color", "procedural"),
        image_folder: str | None = None,
        textures: Sequence[str] = ("noise", "checker", "stripes", "marble", "cloth"),
        zoom: Sequence[float] = (0.5, 1.0),
        repeats: Sequence[float] = (2.0, 12.0),
        dataset: str | None = None,
        dataset_mode: str = "inpaint",
        dataset_image_ids: Sequence[int | str] | None = None,
        crop_margin: float = 0.01,
    ):
        self.kinds = check_choices("kinds", kinds, KINDS)
        if {"folder", "images"} & set(self.kinds) and image_folder is None:
            raise ConfigError("image_folder: needed for kinds: [folder]; give a folder of background images")
        self.folder = None if image_folder is None else ImageFolder(image_folder, "image_folder")
        self.textures = check_texture_kinds("textures", textures)
        if "procedural" in self.kinds and not self.textures:
            raise ConfigError("textures: must list at least one texture for kinds: [procedural]")
        self.zoom = check_range_pair("zoom", zoom, minimum=0.01, maximum=1.0)
        if "dataset" in self.kinds and dataset is None:
            raise ConfigError("dataset: needed for kinds: [dataset]; give a labeled dataset (COCO, YOLO, VOC, ...)")
        self.dataset = None if dataset is None else DatasetPhotos(dataset, "dataset", image_ids=dataset_image_ids)
        self.dataset_mode = check_choice("dataset_mode", dataset_mode, CLEAN_MODES)
        self.repeats = check_range_pair("repeats", repeats, minimum=0.1, maximum=256.0)
        self.crop_margin = check_number("crop_margin", crop_margin, minimum=0.0, maximum=0.5)

    def __call__(self, spec: SceneSpec, rng: np.random.Generator) -> SceneSpec:
        kind = self.kinds[int(rng.integers(len(self.kinds)))]
        if kind == "color":
            return dataclasses.replace(spec, background=random_color(rng) / 255.0, background_image=None)
        return dataclasses.replace(spec, background_image=self._image(kind, rng, spec.camera.width, spec.camera.height))

    def draw(self, rng: np.random.Generator, width: int, height: int) -> np.ndarray:
        """(height, width, 3) uint8 RGB background of a kind drawn from ``kinds``."""
        kind = self.kinds[int(rng.integers(len(self.kinds)))]
        if kind == "color":
            return np.broadcast_to(random_color(rng).astype(np.uint8), (height, width, 3)).copy()
        return self._image(kind, rng, width, height)

    def _image(self, kind: str, rng: np.random.Generator, width: int, height: int) -> np.ndarray:
        if kind in ("folder", "images"):
            return random_crop(self.folder.draw(rng), rng, width, height, self.zoom)
        if kind == "dataset":
            return self.dataset.clean_photo(rng, width, height, self.dataset_mode, self.crop_margin)
        if kind == "gradient":
            return linear_gradient(rng, width, height)
        texture_kind = self.textures[int(rng.integers(len(self.textures)))]
        colors = (random_color(rng), random_color(rng))
        # Drawn at up to 256 pixels and scaled up: backgrounds are seen out of focus
        # anyway, and a full-size pattern costs several times more than rendering.
        size = min(max(width, height), 256)
        square = procedural_texture(texture_kind, rng, size, colors, rng.uniform(*self.repeats))
        scale = size / max(width, height)
        crop = square[:max(int(round(height * scale)), 1), :max(int(round(width * scale)), 1)]
        return cv2.resize(crop, (width, height), interpolation=cv2.INTER_LINEAR)
