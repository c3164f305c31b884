"""Cut-outs: labeled instances lifted out of photos (or renders) with their exact masks.

From a labeled dataset, every object gives a cut-out: the pixels of its box and its mask,
from its segmentation when it has one, else segmented inside its box by GrabCut
(``DatasetPhotos.mask_in_box``, the mask photo textures use) and refused when implausible.
Objects under a size, or cut by the photo's border (their cut edge would be pasted as if it
were the object's outline), are left out. ``CutoutLibrary.counts`` says how many of each.

From a render (render-and-paste), every labeled instance that is whole in the image (no
occlusion, no truncation) gives one, with its exact visible mask.
"""

from __future__ import annotations

import collections
import functools
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from synthgen.core import Sample
from synthgen.core.errors import ConfigError
from synthgen.io.dataset import LabeledObject
from synthgen.randomize.real_photos import DatasetPhotos

__all__ = ["Cutout", "CutoutLibrary", "render_cutouts"]

_BORDER_PX = 2  # an object's box this close to the photo's edge is cut by it


@dataclass(frozen=True)
class Cutout:
    """One object lifted out of its image.

    Attributes:
        rgb: (h, w, 3) uint8 pixels of the object's box.
        mask: (h, w) bool object pixels.
        category: Category name.
        keypoints: (K, 3) float64 ``x, y, v`` in the cut-out's pixels (COCO visibility).
        reference: The source image's shorter side in pixels (``size: source`` keeps the
            object's share of it).
        source: ``real`` or ``render``.
        image: Id of the source image (the dataset's image index, or the render's sample index).
        file: File name of the source image ("" for renders).
        object: Position of the object among its image's objects (its instance id for renders).
    """

    rgb: np.ndarray
    mask: np.ndarray
    category: str
    keypoints: np.ndarray
    reference: float
    source: str
    image: int | str
    file: str
    object: int


class CutoutLibrary:
    """The cut-outs of a labeled dataset, made once (every mask checked before anything is generated).

    Args:
        photos: The dataset's photos (already limited to the images a run may use).
        categories: Category names to keep (None: all).
        min_object_pixels: Objects with fewer mask pixels are left out.
        skip_truncated: Leave out objects whose box touches the photo's border.

    Raises:
        ConfigError: No object gives a usable cut-out (the message says why each kind was left out).
    """

    def __init__(self, photos: DatasetPhotos, categories: Sequence[str] | None = None, min_object_pixels: int = 64,
                 skip_truncated: bool = True):
        self.counts: collections.Counter[str] = collections.Counter(
            objects=0, from_masks=0, segmented=0, refused=0, too_small=0, truncated=0, other_category=0)
        self.by_category: dict[str, list[Cutout]] = {}
        wanted = None if categories is None else set(categories)
        for position, image in enumerate(photos.images):
            for number, obj in enumerate(image.objects):
                self.counts["objects"] += 1
                name = photos.dataset.category(obj.category_id).name
                if wanted is not None and name not in wanted:
                    self.counts["other_category"] += 1
                    continue
                cutout = self._cut(photos, position, number, obj, name, min_object_pixels, skip_truncated)
                if cutout is not None:
                    self.by_category.setdefault(name, []).append(cutout)
        if not self.by_category:
            raise ConfigError(f"{photos.name}: no object of {len(photos.images)} images gives a cut-out "
                              f"({self.describe()}); give a dataset with labeled objects (masks, or boxes around "
                              "objects that stand out from their surroundings), lower min_object_pixels, or set "
                              "skip_truncated=false")

    def _cut(self, photos: DatasetPhotos, position: int, number: int, obj: LabeledObject, name: str,
             min_pixels: int, skip_truncated: bool) -> Cutout | None:
        image, photo = photos.images[position], photos.photo(position)
        x0, y0, x1, y1 = photos.object_box(position, number)
        height, width = photo.shape[:2]
        if skip_truncated and (x0 < _BORDER_PX or y0 < _BORDER_PX or x1 > width - _BORDER_PX
                               or y1 > height - _BORDER_PX):
            self.counts["truncated"] += 1
            return None
        if (x1 - x0) * (y1 - y0) < min_pixels:
            self.counts["too_small"] += 1
            return None
        mask = photos.mask_in_box(position, number)  # the mask photo textures use too
        if mask is None:
            self.counts["refused"] += 1
            return None
        if int(mask.sum()) < min_pixels:
            self.counts["too_small"] += 1
            return None
        self.counts["from_masks" if obj.segmentation is not None else "segmented"] += 1
        keypoints = np.asarray(obj.keypoints, np.float64).reshape(-1, 3).copy()
        keypoints[:, :2] -= [x0, y0]
        return Cutout(rgb=np.ascontiguousarray(photo[y0:y1, x0:x1]), mask=np.ascontiguousarray(mask), category=name,
                      keypoints=keypoints, reference=float(min(width, height)), source="real",
                      image=image.index, file=image.path.name, object=number)

    @property
    def categories(self) -> list[str]:
        """Names of the categories with at least one cut-out."""
        return sorted(self.by_category)

    @functools.cached_property
    def cutouts(self) -> list[Cutout]:
        """Every cut-out, category by category (in ``categories`` order)."""
        return [cutout for name in self.categories for cutout in self.by_category[name]]

    @property
    def refused_share(self) -> float:
        """Share of the box-only objects whose GrabCut mask was refused as implausible."""
        tried = self.counts["segmented"] + self.counts["refused"]
        return self.counts["refused"] / tried if tried else 0.0

    def describe(self) -> str:
        """The counts in words."""
        counts = self.counts
        return (f"{counts['objects']} objects: {counts['from_masks']} cut by their masks, {counts['segmented']} "
                f"segmented in their boxes, {counts['refused']} refused (implausible mask, "
                f"{self.refused_share:.0%} of box-only objects), {counts['too_small']} too small, "
                f"{counts['truncated']} cut by the photo's border, {counts['other_category']} of other categories")


def render_cutouts(sample: Sample) -> list[Cutout]:
    """Cut-outs of a render's labeled instances that are whole in the image (no occlusion, no truncation).

    Args:
        sample: A labeled render.

    Returns:
        One cut-out per whole instance (its box, its visible mask, its keypoints).
    """
    height, width = sample.instance_ids.shape
    cutouts = []
    for instance in sample.instances:
        if instance.occlusion > 0 or instance.truncation > 0 or instance.area == 0:
            continue
        x0, y0, x1, y1 = (int(v) for v in instance.bbox)
        keypoints = np.asarray(instance.keypoints, np.float64).reshape(-1, 3).copy()
        keypoints[:, :2] -= [x0, y0]
        cutouts.append(Cutout(rgb=np.ascontiguousarray(sample.image[y0:y1, x0:x1]),
                              mask=np.ascontiguousarray(instance.mask[y0:y1, x0:x1]), category=instance.category,
                              keypoints=keypoints, reference=float(min(width, height)), source="render",
                              image=sample.index, file="", object=instance.instance_id))
    return cutouts
