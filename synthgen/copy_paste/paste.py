"""``generator=paste``: copy-paste synthesis with exact labels.

Instances are cut out of a labeled dataset (``synthgen.copy_paste.cutout_library``) and pasted
onto backgrounds (the dataset's photos with their objects taken out, a folder of unlabeled
images, gradients, colours, procedural textures: ``BackgroundRandomizer.draw``), each scaled,
turned, flipped, colour-matched to the background, blended and optionally given a soft contact
shadow. Placement keeps every earlier object at least ``1 - max_occlusion`` visible, so the
occlusion in the data is controlled. Labels are exact for what is pasted: the id map is
written paste by paste (later over earlier), so visible masks, amodal masks (the whole warped
mask inside the image), boxes, occlusion, truncation and surviving keypoints follow from it;
each object's source photo and object are recorded in the sample's ``generation``.

With ``render_objects: true`` (render-and-paste) the scene is rendered as usual and its
whole instances become cut-outs too (``render_share`` of the pasted objects, by chance);
otherwise nothing is rendered and the output size is ``render.width`` x ``render.height``.
Pasted samples have no 3D labels: depth is 0 (no surface), poses and cuboids are unknown
(NaN, written as null), and the camera is a nominal pinhole (focal length = width).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping, Sequence

import numpy as np

from synthgen.copy_paste.blending import BLENDS, Placed, blend_onto, contact_shadow, harmonized, place
from synthgen.copy_paste.cutout_library import Cutout, CutoutLibrary, render_cutouts
from synthgen.core import PASTE_STREAM, Camera, CategoryInfo, Cuboid, Instance, Sample
from synthgen.core.errors import ConfigError
from synthgen.core.validation import check_choice, check_choices, check_number, check_range_pair
from synthgen.randomize.background import BackgroundRandomizer
from synthgen.randomize.real_photos import DatasetPhotos

__all__ = ["Paste", "SIZE_MODES"]

SIZE_MODES = ("source", "relative", "pixels")
_ATTEMPTS = 12  # placements tried per object before it is left out


def _unknown_cuboid() -> Cuboid:
    return Cuboid(np.full(3, np.nan), np.full(3, np.nan), np.full((3, 3), np.nan), np.full((8, 3), np.nan),
                  np.full((8, 2), np.nan))


def _source_density(photos: DatasetPhotos) -> tuple[float, float]:
    """[10th, 90th] percentile of the labeled objects per source photo (at least one)."""
    counts = [len(image.objects) for image in photos.images]
    low = max(1, int(np.floor(np.percentile(counts, 10))))
    return float(low), float(max(low, int(np.ceil(np.percentile(counts, 90)))))


def _extent(mask: np.ndarray) -> np.ndarray:
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    if not len(rows):
        return np.zeros(4)
    return np.array([cols[0], rows[0], cols[-1] + 1, rows[-1] + 1], np.float64)


class Paste:
    """Copy-paste synthesis (``conf/generator/paste.yaml`` documents every key).

    Args:
        dataset: Labeled photos to cut instances from (any format ``read_dataset`` reads).
        dataset_image_ids: Only these images (by the dataset's image ids), or null for all:
            keep the images you evaluate on out.
        render_objects: Render the scene too and paste its whole instances (render-and-paste).
        render_share: Chance that a pasted object comes from the render (with ``render_objects``).
        objects: [min, max] objects pasted per image, or ``auto``: the 10th to 90th
            percentile of the labeled objects per image of the source photos (paste as
            densely as the user's own photos are filled).
        balance: ``categories`` (a category drawn uniformly, then one of its cut-outs) or
            ``objects`` (every cut-out equally likely: the source's category frequencies).
        size: How a cut-out is sized: ``source`` (its share of the source image's shorter
            side kept, times ``scale``), ``relative`` (its longer side ``scale`` times the
            output's shorter side) or ``pixels`` (its longer side ``scale`` pixels).
        scale: [min, max] of the factor ``size`` uses.
        rotation: [min, max] turn in degrees.
        flip: Chance of a left-right mirror (never for objects with keypoints: left and
            right would swap).
        brightness: [min, max] lightness factor of an object.
        harmonize: [min, max] share of the colour difference to the background removed.
        blend: Blends drawn uniformly per object: ``none``, ``feather``, ``poisson``.
        feather_px: [min, max] width of the faded rim (``feather``), pixels.
        shadow: Chance of a soft contact shadow under an object.
        shadow_strength: [min, max] darkening at the shadow's core.
        max_occlusion: Largest share of an earlier object a later one may cover.
        min_visible_pixels: Objects (also earlier ones, once covered) keep at least this
            many visible pixels.
        min_object_pixels: Source objects smaller than this give no cut-out.
        skip_truncated: Leave out source objects cut by their photo's border.
        background: ``BackgroundRandomizer`` arguments (``kinds``, ``image_folder``,
            ``dataset``, ``dataset_mode``, ...); ``dataset`` and ``dataset_image_ids``
            default to the ones above.

    Raises:
        ConfigError: A value out of range; at ``load``: the dataset cannot be read, gives
            no cut-out, shares no category with the scene (``render_objects``), or the
            background folder is empty or unreadable.
    """

    kind = "paste"
    stage = "paste"  # its seconds in the run's per-stage timings
    stream = PASTE_STREAM  # the per-sample random stream it draws from
    verifies_labels = False  # exact by construction
    batch_size = 1

    def __init__(self, dataset: str | None = None, dataset_image_ids: Sequence[int | str] | None = None,
                 render_objects: bool = False, render_share: float = 0.5, objects: Sequence[int] | str = "auto",
                 balance: str = "categories", size: str = "source", scale: Sequence[float] = (0.7, 1.3),
                 rotation: Sequence[float] = (-30.0, 30.0), flip: float = 0.5, brightness: Sequence[float] = (0.8, 1.2),
                 harmonize: Sequence[float] = (0.0, 0.4), blend: Sequence[str] = ("none", "feather"),
                 feather_px: Sequence[float] = (1.0, 3.0), shadow: float = 0.3,
                 shadow_strength: Sequence[float] = (0.15, 0.4), max_occlusion: float = 0.5,
                 min_visible_pixels: int = 64, min_object_pixels: int = 64, skip_truncated: bool = True,
                 background: Mapping | None = None):
        if not isinstance(dataset, str) or dataset in ("", "???"):
            raise ConfigError("dataset: required: a labeled dataset to cut instances from, e.g. "
                              "generator.dataset=../shared/data/fruits_nuts")
        self.dataset, self.dataset_image_ids = dataset, None if dataset_image_ids is None else list(dataset_image_ids)
        for key, value in (("render_objects", render_objects), ("skip_truncated", skip_truncated)):
            if not isinstance(value, bool):
                raise ConfigError(f"{key}: must be true or false, got {value!r}")
        self.render_objects, self.skip_truncated = render_objects, skip_truncated
        self.render_share = check_number("render_share", render_share, minimum=0.0, maximum=1.0)
        if objects != "auto":
            objects = check_range_pair("objects", objects, minimum=1, maximum=100)
            if any(v != int(v) for v in objects):
                raise ConfigError(f"objects: must be auto or two whole numbers, got {list(objects)}")
        self.objects = objects
        self.balance = check_choice("balance", balance, ("categories", "objects"))
        self.size = check_choice("size", size, SIZE_MODES)
        self.scale = check_range_pair("scale", scale, minimum=1e-3, maximum=10_000.0)
        self.rotation = check_range_pair("rotation", rotation, minimum=-180.0, maximum=180.0)
        self.flip = check_number("flip", flip, minimum=0.0, maximum=1.0)
        self.brightness = check_range_pair("brightness", brightness, minimum=0.05, maximum=5.0)
        self.harmonize = check_range_pair("harmonize", harmonize, minimum=0.0, maximum=1.0)
        self.blend = check_choices("blend", blend, BLENDS)
        self.feather_px = check_range_pair("feather_px", feather_px, minimum=0.0, maximum=64.0)
        self.shadow = check_number("shadow", shadow, minimum=0.0, maximum=1.0)
        self.shadow_strength = check_range_pair("shadow_strength", shadow_strength, minimum=0.0, maximum=1.0)
        self.max_occlusion = check_number("max_occlusion", max_occlusion, minimum=0.0, maximum=1.0)
        self.min_visible_pixels = check_number("min_visible_pixels", min_visible_pixels, minimum=1, integer=True)
        self.min_object_pixels = check_number("min_object_pixels", min_object_pixels, minimum=1, integer=True)
        self.background_settings = dict(background or {"kinds": ["dataset", "gradient", "color"], "dataset_mode": "crop"})
        self.width = self.height = 0
        self.library: CutoutLibrary | None = None
        self.backgrounds: BackgroundRandomizer | None = None
        self.categories: tuple[CategoryInfo, ...] = ()
        self._lock = threading.Lock()
        self._seconds = threading.local()

    @property
    def needs_render(self) -> bool:
        """Whether the scene must be rendered (render-and-paste) or not (paste alone)."""
        return self.render_objects

    # -- set-up -----------------------------------------------------------------------------
    def check_size(self, width: int, height: int) -> None:
        """Take the output size (``render.width`` x ``render.height``)."""
        self.width, self.height = int(width), int(height)

    def load(self, scene_categories: Sequence[CategoryInfo] = ()) -> None:
        """Read the dataset, cut every object out and open the backgrounds (before anything is
        written: a bad source fails early).

        Args:
            scene_categories: The scene's categories; with ``render_objects`` the pasted
                categories are those the dataset shares with the scene (by name).
        """
        with self._lock:
            if self.library is not None:
                return
            photos = DatasetPhotos(self.dataset, "generator.dataset", image_ids=self.dataset_image_ids,
                                   min_object_pixels=1)
            shared = None
            if self.render_objects:
                shared = [c.name for c in scene_categories if c.kind == "object"]
                if not set(shared) & {c.name for c in photos.dataset.categories}:
                    raise ConfigError(f"generator.dataset: none of its categories "
                                      f"{[c.name for c in photos.dataset.categories]} is a category of the scene "
                                      f"{shared}; render-and-paste pastes the categories both have")
            library = CutoutLibrary(photos, shared, self.min_object_pixels, self.skip_truncated)
            if self.objects == "auto":
                self.objects = _source_density(photos)
            settings = {"dataset": self.dataset, "dataset_image_ids": self.dataset_image_ids,
                        **self.background_settings}
            try:
                backgrounds = BackgroundRandomizer(**settings)
            except TypeError as error:
                raise ConfigError(f"generator.background: {error}") from error
            except ConfigError as error:
                raise ConfigError(f"generator.background.{error}") from error
            if backgrounds.folder is not None:
                backgrounds.folder.check_readable()
            self.categories = tuple(scene_categories) if self.render_objects else tuple(
                c for c in photos.dataset.categories if c.kind == "object")
            self.library, self.backgrounds = library, backgrounds

    def last_call_seconds(self) -> float:
        """Wall seconds of this thread's last composition."""
        return getattr(self._seconds, "value", 0.0)

    def problems(self, sample: Sample) -> list[str]:
        return []  # labels are exact by construction

    # -- per sample -------------------------------------------------------------------------
    def __call__(self, samples: list[Sample], seeds: list[int]) -> list[Sample]:
        """Render-and-paste: each render's whole instances and real cut-outs pasted onto a new background."""
        return [self.compose(sample.index, seed, sample) for sample, seed in zip(samples, seeds)]

    def compose(self, index: int, seed: int, render: Sample | None = None) -> Sample:
        """One pasted sample.

        Args:
            index: Sample index.
            seed: The sample's generator stream seed (every draw comes from it).
            render: The labeled render whose whole instances may be pasted (render-and-paste).

        Returns:
            The sample: image, id map, instances with exact visible and amodal labels,
            zero depth, and ``generation`` provenance.
        """
        self.load(render.categories if render is not None else ())
        started = time.perf_counter()
        rng = np.random.default_rng(seed)
        image = self.backgrounds.draw(rng, self.width, self.height).copy()
        ids = np.zeros((self.height, self.width), np.int32)
        amodal_areas = [0]  # each pasted object's whole (amodal) pixel count, by instance id
        pasted: list[tuple[int, Cutout, Placed, dict]] = []
        rendered = render_cutouts(render) if render is not None else []
        for _ in range(int(rng.integers(int(self.objects[0]), int(self.objects[1]) + 1))):
            cutout = self._draw_cutout(rng, rendered)
            placement = self._place(rng, cutout, ids, np.asarray(amodal_areas))
            if placement is None:
                continue
            placed, settings = placement
            instance_id = len(pasted) + 1
            self._paint(rng, image, placed, settings)
            ids[placed.window][placed.mask] = instance_id
            amodal_areas.append(int(placed.mask.sum()))
            pasted.append((instance_id, cutout, placed, settings))
        sample = self._sample(index, image, ids, pasted, render)
        self._seconds.value = time.perf_counter() - started
        return sample

    def _draw_cutout(self, rng: np.random.Generator, rendered: list[Cutout]) -> Cutout:
        if rendered and rng.uniform() < self.render_share:
            return rendered[int(rng.integers(len(rendered)))]
        if self.balance == "categories":
            names = self.library.categories
            choices = self.library.by_category[names[int(rng.integers(len(names)))]]
        else:
            choices = self.library.cutouts
        return choices[int(rng.integers(len(choices)))]

    def _scale(self, rng: np.random.Generator, cutout: Cutout) -> float:
        factor = rng.uniform(*self.scale)
        longer = max(cutout.mask.shape)
        if self.size == "source":
            return factor * min(self.width, self.height) / cutout.reference
        if self.size == "relative":
            return factor * min(self.width, self.height) / longer
        return factor / longer

    def _place(self, rng: np.random.Generator, cutout: Cutout, ids: np.ndarray,
               amodal_areas: np.ndarray) -> tuple[Placed, dict] | None:
        """A placement that keeps every earlier object visible enough, or None after ``_ATTEMPTS`` tries."""
        visible = np.bincount(ids.ravel(), minlength=len(amodal_areas))  # the id map is the same for every try
        for _ in range(_ATTEMPTS):
            scale = self._scale(rng, cutout)
            degrees = rng.uniform(*self.rotation)
            flip = bool(rng.uniform() < self.flip) and not len(cutout.keypoints)
            centre = rng.uniform([0.0, 0.0], [self.width, self.height])
            settings = {"scale": float(scale), "rotation": float(degrees), "flip": flip,
                        "blend": self.blend[int(rng.integers(len(self.blend)))],
                        "feather_px": float(rng.uniform(*self.feather_px)),
                        "harmonize": float(rng.uniform(*self.harmonize)),
                        "brightness": float(rng.uniform(*self.brightness)),
                        "shadow": bool(rng.uniform() < self.shadow)}
            placed = place(cutout.rgb, cutout.mask, (self.width, self.height), centre, scale, degrees, flip)
            if placed is None or int(placed.mask.sum()) < self.min_visible_pixels:
                continue
            if self._keeps_others_visible(placed, ids, visible, amodal_areas):
                return placed, settings
        return None

    def _keeps_others_visible(self, placed: Placed, ids: np.ndarray, visible: np.ndarray,
                              amodal_areas: np.ndarray) -> bool:
        """Whether every object ``placed`` would cover keeps ``1 - max_occlusion`` of its whole
        area (and ``min_visible_pixels``) visible."""
        covered = np.bincount(ids[placed.window][placed.mask], minlength=len(amodal_areas))
        touched = np.flatnonzero(covered[1:]) + 1
        left = visible[touched] - covered[touched]
        return bool(np.all(left >= np.maximum(self.min_visible_pixels, (1.0 - self.max_occlusion) * amodal_areas[touched])))

    def _paint(self, rng: np.random.Generator, image: np.ndarray, placed: Placed, settings: dict) -> None:
        if settings["shadow"]:
            size = float(np.sqrt(placed.mask.sum()))
            offset = rng.uniform(-0.08, 0.08, size=2) * size
            contact_shadow(image, placed, rng.uniform(*self.shadow_strength), offset, 0.08 * size + 1.0)
        rgb = harmonized(placed.rgb, placed.mask, image[placed.window], settings["harmonize"], settings["brightness"])
        settings["blend"] = blend_onto(image, placed, rgb, settings["blend"], settings["feather_px"])

    def _camera(self, render: Sample | None) -> Camera:
        if render is not None:
            return render.camera
        K = np.array([[self.width, 0.0, self.width / 2.0], [0.0, self.width, self.height / 2.0], [0.0, 0.0, 1.0]])
        return Camera(K=K, world_to_camera=np.eye(4), width=self.width, height=self.height)

    def _keypoints(self, cutout: Cutout, placed: Placed, instance_id: int, ids: np.ndarray) -> np.ndarray:
        """(K, 3) the cut-out's keypoints moved with it: 0 outside the image, 1 under a later paste."""
        points = cutout.keypoints.copy()
        if not len(points):
            return points
        # The map works on pixel centres (OpenCV's warp): continuous coordinates are centres + 0.5.
        moved = np.c_[points[:, :2] - 0.5, np.ones(len(points))] @ placed.matrix.T + 0.5
        labeled = points[:, 2] > 0
        points[~labeled] = 0.0
        inside = (moved[:, 0] >= 0) & (moved[:, 0] < self.width) & (moved[:, 1] >= 0) & (moved[:, 1] < self.height)
        points[labeled, :2] = moved[labeled]
        points[labeled & ~inside] = 0.0
        for k in np.flatnonzero(labeled & inside):
            owner = ids[int(moved[k, 1]), int(moved[k, 0])]
            if owner > instance_id:  # covered by an object pasted later
                points[k, 2] = 1.0
        return points

    def _sample(self, index: int, image: np.ndarray, ids: np.ndarray, pasted: list, render: Sample | None) -> Sample:
        category_ids = {category.name: category.id for category in self.categories}
        instances, records = [], []
        counts = np.bincount(ids.ravel(), minlength=len(pasted) + 1)
        dropped = []
        for instance_id, cutout, placed, settings in pasted:
            if counts[instance_id] < self.min_visible_pixels:
                dropped.append(instance_id)
                continue
            whole = np.zeros_like(ids, dtype=bool)
            whole[placed.window] = placed.mask
            visible = ids == instance_id
            area, amodal_area = int(counts[instance_id]), int(whole.sum())
            box = placed.full_box
            inside = (min(box[2], self.width) - max(box[0], 0)) * (min(box[3], self.height) - max(box[1], 0))
            truncation = float(np.clip(1.0 - inside / ((box[2] - box[0]) * (box[3] - box[1])), 0.0, 1.0))
            instances.append(Instance(
                instance_id=instance_id, category_id=category_ids[cutout.category], category=cutout.category,
                mask=visible, amodal_mask=whole, bbox=_extent(visible), amodal_bbox=_extent(whole), area=area,
                amodal_area=amodal_area, occlusion=1.0 - area / amodal_area, truncation=truncation,
                keypoints=self._keypoints(cutout, placed, instance_id, ids), cuboid=_unknown_cuboid(),
                pose=np.full((4, 4), np.nan)))
            records.append({"instance_id": instance_id, "source": cutout.source, "image": cutout.image,
                            "file": cutout.file, "object": cutout.object, **settings})
        return Sample(index=index, image=image, depth=np.zeros(ids.shape, np.float32), instance_ids=ids,
                      camera=self._camera(render), instances=instances,
                      categories=render.categories if render is not None else self.categories,
                      dropped_instance_ids=tuple(dropped),
                      generation={"generator": "paste", "objects": records,
                                  "cutouts": {"refused_share": round(self.library.refused_share, 4),
                                              "counts": dict(self.library.counts)}})
