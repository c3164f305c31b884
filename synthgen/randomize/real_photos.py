"""A small labeled real set as a source of surfaces and backgrounds.

* ``object_patch``: the pixels of one labeled object of a category: the bounding
  rectangle of its mask with the pixels outside the mask filled by OpenCV inpainting
  (Telea; small holes), so the patch is all object surface; with a box only, the mask comes
  from GrabCut seeded by the box (``synthgen.randomize.cutouts``), or, when that mask is
  implausible, the central half of the box (``DatasetPhotos.cutout_counts`` counts both).
  Wrapped on a mesh, it gives randomized shapes the real surface of the category.
* ``clean_photo``: a photo with its labeled objects taken out, so it can serve as a
  background or a support texture without unlabeled positives in it: ``inpaint``
  fills every object's mask (or box), grown past its rim and contact shadow, with the local
  mean colour of the surface around it (normalised convolution; Telea inpainting smears
  large clustered holes); ``crop`` takes the largest random crop of the requested aspect
  that stays a margin clear of every labeled box, at the scale the whole photo has in the
  output and mirror-tiled (at most three tiles a side) where it is smaller, falling back to
  inpainting when none is found: no labeled instance, whole or cut, is in it, and the
  surface's texture keeps its true size.

Any dataset ``synthgen.io.read_dataset`` reads (COCO, YOLO, VOC, Label Studio, a
synthgen store). Photos, their inpainted forms, patches and textures are made on first use and
kept in LRUs bounded by bytes that every instance reading the same photos shares.
"""

from __future__ import annotations

import collections
import hashlib
from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np

from synthgen.core import Texture
from synthgen.core.caching import ByteBudgetCache
from synthgen.core.errors import ConfigError, InputError
from synthgen.io.dataset import LabeledDataset, LabeledImage, LabeledObject
from synthgen.io.formats import read_dataset
from synthgen.io.record import decode_rle
from synthgen.randomize.cutouts import box_cutout

__all__ = ["CLEAN_MODES", "DatasetPhotos"]

CLEAN_MODES = ("inpaint", "crop")
_MAX_EDGE = 1024
_MARGIN_PX = 4
# Photos, inpainted photos and object patches are kept while they fit; a budget by bytes (not
# a count) keeps a small dataset's inpainted photos from being pushed out by its many patches.
_PIXEL_BYTES = 512 * 2**20
_TEXTURE_BYTES = 256 * 2**20


# Photos, inpainted photos and object patches; and the textures made from them (one per object
# or photo). Shared by every instance, most recently used kept.
_PIXELS: ByteBudgetCache[np.ndarray] = ByteBudgetCache(_PIXEL_BYTES, lambda array: array.nbytes)
_TEXTURES: ByteBudgetCache[Texture] = ByteBudgetCache(_TEXTURE_BYTES, lambda texture: texture.image.nbytes)
_DATASETS: collections.OrderedDict[tuple, LabeledDataset] = collections.OrderedDict()


def _read_once(path: str) -> LabeledDataset:
    """The dataset at ``path``, read once per process while unchanged (several randomizers share it)."""
    resolved = Path(path).expanduser().resolve()
    key = (str(resolved), resolved.stat().st_mtime_ns if resolved.exists() else None)
    if key not in _DATASETS:
        _DATASETS[key] = read_dataset(resolved)
        while len(_DATASETS) > 4:
            _DATASETS.popitem(last=False)
    return _DATASETS[key]


class DatasetPhotos:
    """Photos and labeled objects of a real dataset, for textures and backgrounds.

    Args:
        path: Dataset folder or file (any format ``read_dataset`` detects).
        name: Config key named in errors.
        image_ids: Only these images (by the dataset's image index, e.g. COCO ids), or
            null for all: keep the images you evaluate on out of the textures.
        min_object_pixels: Objects smaller than this (mask or box area) give no patches.

    Raises:
        ConfigError: The dataset cannot be read, or none of ``image_ids`` is in it.
    """

    def __init__(self, path: str, name: str, image_ids: Sequence[int | str] | None = None,
                 min_object_pixels: int = 64):
        try:
            dataset = _read_once(path)
        except InputError as error:
            raise ConfigError(f"{name}: {error}") from error
        images = list(dataset.images)
        if image_ids is not None:
            wanted = {str(i) for i in image_ids}
            images = [image for image in images if str(image.index) in wanted]
            if not images:
                raise ConfigError(f"{name}: none of image_ids {list(image_ids)[:10]} is in {path!r}")
        if not images:
            raise ConfigError(f"{name}: dataset {path!r} has no images")
        self.name = name
        self.dataset: LabeledDataset = dataset
        self.images: list[LabeledImage] = images
        self.min_object_pixels = min_object_pixels
        self._objects: dict[str, list[tuple[int, int, LabeledObject]]] = {}
        for index, image in enumerate(images):
            for number, obj in enumerate(image.objects):
                if obj.area >= min_object_pixels:
                    label = dataset.category(obj.category_id).name
                    self._objects.setdefault(label, []).append((index, number, obj))
        # Box-only objects whose patch came from a GrabCut mask, and those whose mask was implausible.
        self.cutout_counts: collections.Counter[str] = collections.Counter(segmented=0, rejected=0)
        self._box_masks: dict[tuple[int, int], np.ndarray | None] = {}
        # Names these photos and objects in the caches every instance shares (skins, cloth and
        # background of one scene read the same photos): a different subset or size limit differs.
        chosen = hashlib.sha1(repr([image.index for image in images]).encode()).hexdigest()[:16]
        resolved = Path(path).expanduser().resolve()
        self.key = f"{resolved}:{resolved.stat().st_mtime_ns}:{len(images)}:{chosen}:{min_object_pixels}"

    @property
    def category_names(self) -> list[str]:
        """Names of the categories with at least one usable object."""
        return sorted(self._objects)

    def has_objects(self, category: str) -> bool:
        return category in self._objects

    def _cached(self, key: tuple, make) -> np.ndarray:
        return _PIXELS.get((self.key, *key), make)

    def photo(self, index: int) -> np.ndarray:
        """(h, w, 3) uint8 RGB image ``index`` at full size."""
        image = self.images[index]

        def read() -> np.ndarray:
            pixels = cv2.imread(str(image.path), cv2.IMREAD_COLOR)
            if pixels is None:
                raise InputError(f"{self.name}: image file {str(image.path)!r} could not be read; remove or replace it")
            return cv2.cvtColor(pixels, cv2.COLOR_BGR2RGB)

        return self._cached(("photo", index), read)

    def _object_mask(self, image: LabeledImage, obj: LabeledObject, shape: tuple[int, int]) -> np.ndarray:
        """(h, w) bool mask of an object: its segmentation, else its box."""
        if obj.segmentation is not None:
            mask = decode_rle(obj.segmentation)
            if mask.shape == shape:
                return mask
        mask = np.zeros(shape, bool)
        x0, y0, x1, y1 = np.clip(np.rint(obj.bbox), 0, [shape[1], shape[0]] * 2).astype(int)
        mask[y0:y1, x0:x1] = True
        return mask

    def object_patch(self, rng: np.random.Generator, category: str) -> np.ndarray:
        """(h, w, 3) uint8 RGB surface of a random labeled object of ``category``."""
        choice = int(rng.integers(len(self._objects[category])))
        return self._patch_of(category, choice)

    def _patch_of(self, category: str, choice: int) -> np.ndarray:
        index, number, obj = self._objects[category][choice]
        return self._cached(("patch", category, choice), lambda: self._patch(index, number, obj))

    def object_texture(self, rng: np.random.Generator, category: str) -> Texture:
        """A random labeled object's surface as a texture: a square, mirrored tile of its patch
        (textures wrap around objects; the mirror hides the seam). One ``Texture`` per object,
        so renderers upload each once however many samples use it."""
        choice = int(rng.integers(len(self._objects[category])))
        def make() -> Texture:
            patch = self._patch_of(category, choice)
            side = int(np.clip(max(patch.shape[:2]), 16, 256))  # objects are seldom larger on screen
            square = cv2.resize(patch, (side, side), interpolation=cv2.INTER_AREA)
            tiled = np.ascontiguousarray(np.concatenate([square, square[:, ::-1]], axis=1))
            return Texture(tiled, key=f"dataset:{self.key}:{category}:{choice}")

        return self._texture(("object texture", category, choice), make)

    def surface_texture(self, rng: np.random.Generator, size: int) -> Texture:
        """A random photo with its labeled objects filled in (``inpaint``), as a ``size`` x
        ``size`` texture of the whole photo (a support of the photo's aspect undoes the
        squeeze). One ``Texture`` per photo, uploaded once."""
        index = int(rng.integers(len(self.images)))

        def make() -> Texture:
            filled = self._cached(("inpainted", index), lambda: self._inpainted(index))
            image = cv2.resize(filled, (size, size), interpolation=cv2.INTER_AREA)
            return Texture(image, key=f"dataset:{self.key}:surface:{index}:{size}")

        return self._texture(("surface texture", index, size), make)

    def _texture(self, key: tuple, make) -> Texture:
        """A texture from the LRU (under ``_TEXTURE_BYTES``), made on first use."""
        return _TEXTURES.get((self.key, *key), make)

    def box_mask(self, index: int, number: int) -> np.ndarray | None:
        """The GrabCut mask inside the box of object ``number`` of image ``index`` (box-only
        labels), or None when implausible: the one mask photo textures and copy-paste cut-outs
        both use (seeded by the image and object, so the same every time)."""
        if (index, number) not in self._box_masks:  # box-sized booleans: all kept
            obj = self.images[index].objects[number]
            mask = box_cutout(self.photo(index), obj.bbox, seed=index * 100_003 + number, iterations=3)
            self.cutout_counts["rejected" if mask is None else "segmented"] += 1
            self._box_masks[index, number] = mask
        return self._box_masks[index, number]

    def object_box(self, index: int, number: int) -> tuple[int, int, int, int]:
        """``x0, y0, x1, y1`` whole pixels of object ``number``'s box in photo ``index``, clipped to it."""
        height, width = self.photo(index).shape[:2]
        bbox = self.images[index].objects[number].bbox
        return tuple(int(v) for v in np.clip(np.rint(bbox), 0, [width, height] * 2))

    def mask_in_box(self, index: int, number: int) -> np.ndarray | None:
        """(y1 - y0, x1 - x0) bool pixels of object ``number`` of photo ``index`` inside its
        ``object_box``: its segmentation, or for a box-only label its GrabCut ``box_mask``
        (None when that is implausible). Photo textures and copy-paste cut-outs both use it."""
        image, (x0, y0, x1, y1) = self.images[index], self.object_box(index, number)
        obj = image.objects[number]
        if obj.segmentation is None:
            return self.box_mask(index, number)
        return self._object_mask(image, obj, self.photo(index).shape[:2])[y0:y1, x0:x1]

    def _patch(self, index: int, number: int, obj: LabeledObject) -> np.ndarray:
        photo = self.photo(index)
        x0, y0, x1, y1 = self.object_box(index, number)
        if x1 - x0 < 2 or y1 - y0 < 2:
            raise InputError(f"{self.name}: an object of image {self.images[index].path} has an empty box")
        crop = np.ascontiguousarray(photo[y0:y1, x0:x1])
        inside = self.mask_in_box(index, number)
        if inside is None:  # a box whose GrabCut mask was refused: its central half is surely the object
            dx, dy = (x1 - x0) // 4, (y1 - y0) // 4
            return np.ascontiguousarray(crop[dy:(y1 - y0) - dy, dx:(x1 - x0) - dx])
        # Erode: the mask's rim mixes in the background; fill everything else from the surface.
        inside = cv2.erode(inside.astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool)
        if inside.sum() < 16:
            return crop
        return cv2.inpaint(crop, (~inside).astype(np.uint8), 3, cv2.INPAINT_TELEA)

    def clean_photo(self, rng: np.random.Generator, width: int, height: int, mode: str,
                    margin: float = 0.01) -> np.ndarray:
        """(height, width, 3) uint8 RGB: a random photo without its labeled objects.

        Args:
            rng: Source of the photo, crop and zoom draws.
            width: Output width in pixels.
            height: Output height in pixels.
            mode: ``inpaint`` or ``crop`` (see the module docstring).
            margin: ``crop``: clearance from every labeled box, as a share of the photo's
                longer side (at least ``_MARGIN_PX`` pixels).
        """
        index = int(rng.integers(len(self.images)))
        if mode == "crop":
            photo_height, photo_width = self.photo(index).shape[:2]
            scale = min(width / photo_width, height / photo_height)  # the whole photo's scale in the output
            # At most three tiles a side: smaller free crops would repeat as a kaleidoscope.
            crop = self._free_crop(rng, index, width / height, margin, min_width=width / (3 * scale))
            if crop is not None:
                return _mirror_tiled(crop, rng, width, height, scale)
        filled = self._cached(("inpainted", index), lambda: self._inpainted(index))
        return _fit_crop(filled, rng, width, height)

    def _boxes(self, index: int, scale: float = 1.0) -> np.ndarray:
        boxes = [obj.bbox for obj in self.images[index].objects]
        return np.reshape(boxes, (-1, 4)) * scale

    def _free_crop(self, rng: np.random.Generator, index: int, aspect: float, margin: float,
                   min_width: float = 0.0) -> np.ndarray | None:
        photo = self.photo(index)
        h, w = photo.shape[:2]
        pad = max(_MARGIN_PX, margin * max(h, w))
        boxes = self._boxes(index) + [-pad, -pad, pad, pad]
        for share in (0.6, 0.45, 0.3, 0.2, 0.12):
            crop_w = min(w, h * aspect) * share
            crop_h = crop_w / aspect
            if crop_w < min_width:
                break
            for _ in range(20):
                x0, y0 = rng.uniform(0, w - crop_w), rng.uniform(0, h - crop_h)
                overlap = ((boxes[:, 0] < x0 + crop_w) & (boxes[:, 2] > x0) & (boxes[:, 1] < y0 + crop_h) & (boxes[:, 3] > y0))
                if not overlap.any():
                    return photo[int(y0):int(y0 + crop_h), int(x0):int(x0 + crop_w)]
        return None

    def _inpainted(self, index: int) -> np.ndarray:
        photo = self.photo(index)
        h, w = photo.shape[:2]
        scale = min(1.0, 400 / max(h, w))  # filled at low resolution: the fill is smooth anyway
        small = cv2.resize(photo, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=cv2.INTER_AREA)
        holes = np.zeros((h, w), np.uint8)
        image = self.images[index]
        for obj in image.objects:
            holes |= self._object_mask(image, obj, (h, w)).astype(np.uint8)
        holes = cv2.resize(holes, small.shape[1::-1], interpolation=cv2.INTER_NEAREST)
        # Grow the holes past each object's rim and contact shadow, which the masks leave outside.
        margin = max(_MARGIN_PX, int(0.02 * max(small.shape[:2])))
        holes = cv2.dilate(holes, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * margin + 1,) * 2))
        filled = _fill_holes(small, holes.astype(bool))
        # Filled at low resolution; keep the photo's own pixels wherever no object was.
        up = cv2.resize(filled, (w, h), interpolation=cv2.INTER_LINEAR)
        keep = cv2.resize(holes, (w, h), interpolation=cv2.INTER_NEAREST) == 0
        return np.where(keep[..., None], photo, up)


def _fill_holes(image: np.ndarray, holes: np.ndarray) -> np.ndarray:
    """Fill ``holes`` with the local mean colour of the pixels around them (normalised convolution).

    Telea inpainting smears the boundary into large holes (grey streaks between clustered
    objects); a Gaussian-weighted mean of the valid pixels, at the smallest of a few widths
    that reaches every hole pixel, gives the surface's own colour and shading instead, and
    the fine texture (weave, grain) is borrowed from nearby object-free places.
    """
    valid = (~holes).astype(np.float32)
    pixels = image.astype(np.float32)
    result = pixels.copy()
    todo = holes.copy()
    for sigma in (0.02, 0.06, 0.2, 0.6):
        size = sigma * max(image.shape[:2])
        weight = cv2.GaussianBlur(valid, (0, 0), size)
        mean = cv2.GaussianBlur(pixels * valid[..., None], (0, 0), size) / np.maximum(weight, 1e-6)[..., None]
        reached = todo & (weight > 0.05)
        result[reached] = mean[reached]
        todo &= ~reached
        if not todo.any():
            break
    if todo.any():  # a photo that is all object: its mean colour
        result[todo] = pixels[~holes].mean(axis=0) if (~holes).any() else pixels.mean(axis=(0, 1))
    result += _borrowed_detail(pixels, holes)
    # Feather the seam: a 3 px blend between the fill and the photo.
    alpha = cv2.GaussianBlur(holes.astype(np.float32), (0, 0), 1.5)[..., None]
    return np.clip(pixels * (1 - alpha) + result * alpha, 0, 255).astype(np.uint8)


# Where hole pixels borrow fine texture from: shifts by shares of the image size, nearest first.
_DETAIL_SHIFTS = [(dy, dx) for share in (0.25, 0.5) for dy, dx in
                  ((0, share), (share, 0), (0, -share), (-share, 0), (share, share), (-share, -share),
                   (share, -share), (-share, share))]


def _borrowed_detail(pixels: np.ndarray, holes: np.ndarray) -> np.ndarray:
    """(h, w, 3) float32 fine texture (the photo minus its blur) copied into the holes from
    the nearest of a fixed list of shifted places that lie outside every hole."""
    detail = pixels - cv2.GaussianBlur(pixels, (0, 0), 2.0)
    borrowed = np.zeros_like(pixels)
    todo = holes.copy()
    h, w = holes.shape
    for dy, dx in _DETAIL_SHIFTS:
        shift = (int(round(dy * h)), int(round(dx * w)))
        source_ok = ~np.roll(holes, shift, axis=(0, 1))
        take = todo & source_ok
        borrowed[take] = np.roll(detail, shift, axis=(0, 1))[take]
        todo &= ~take
        if not todo.any():
            break
    return borrowed


def _mirror_tiled(crop: np.ndarray, rng: np.random.Generator, width: int, height: int, scale: float) -> np.ndarray:
    """(height, width, 3) uint8: ``crop`` at the scale the whole photo has in the output, mirror-tiled
    (each seam meets its own mirror image) and cut at a random offset: a small object-free crop
    keeps the surface's texture at its true size instead of being magnified into blocks."""
    size = (max(1, round(crop.shape[1] * scale)), max(1, round(crop.shape[0] * scale)))
    tile = cv2.resize(crop, size, interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)
    block = np.concatenate([np.concatenate([tile, tile[:, ::-1]], axis=1),
                            np.concatenate([tile[::-1], tile[::-1, ::-1]], axis=1)], axis=0)
    tiled = np.tile(block, (height // block.shape[0] + 2, width // block.shape[1] + 2, 1))
    y0, x0 = int(rng.integers(block.shape[0])), int(rng.integers(block.shape[1]))
    return np.ascontiguousarray(tiled[y0:y0 + height, x0:x0 + width])


def _fit_crop(image: np.ndarray, rng: np.random.Generator, width: int, height: int) -> np.ndarray:
    """A random 70-100% crop of ``image`` with the target aspect, resized to ``width`` x ``height``."""
    h, w = image.shape[:2]
    fit = min(w / width, h / height) * rng.uniform(0.7, 1.0)
    crop_w, crop_h = max(1, int(width * fit)), max(1, int(height * fit))
    x0, y0 = int(rng.integers(w - crop_w + 1)), int(rng.integers(h - crop_h + 1))
    return cv2.resize(image[y0:y0 + crop_h, x0:x0 + crop_w], (width, height), interpolation=cv2.INTER_AREA)

