"""A format-neutral view of a labeled dataset: what exporters write and readers return.

Synthetic stores and real datasets (COCO, YOLO, VOC, Label Studio) become the same
``LabeledDataset``: categories, and per image its file, size and objects with boxes,
optional masks (COCO RLE) and keypoints, plus whatever 3D labels the source has.
Coordinates follow synthgen's conventions (continuous pixels, ``xyxy`` boxes with
exclusive maxima, keypoints ``x, y, v`` with COCO visibility).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from synthgen.io.store import array_from_json, read_manifest
from synthgen.types import CategoryInfo

__all__ = ["LabeledDataset", "LabeledImage", "LabeledObject", "StoreImages", "clips_of", "open_store"]


@dataclass
class LabeledObject:
    """One labeled object in one image.

    Attributes:
        category_id: Id of its category in the dataset's ``categories``.
        bbox: (4,) float64 visible box, ``xyxy`` continuous pixels, exclusive maxima.
        segmentation: Visible mask as COCO compressed RLE (``{"size", "counts"}``), or None.
        keypoints: (K, 3) float64 ``x, y, v`` (K is 0 without keypoints).
        area: Visible area in pixels (mask pixel count, else box area).
        extra: Source labels without a common meaning across formats: ``amodal_bbox``,
            ``occlusion``, ``truncation``, ``cuboid``, ``pose`` (synthetic stores).
    """

    category_id: int
    bbox: np.ndarray
    segmentation: dict | None = None
    keypoints: np.ndarray = field(default_factory=lambda: np.zeros((0, 3)))
    area: float = 0.0
    extra: dict = field(default_factory=dict)


@dataclass
class LabeledImage:
    """One image and its labels.

    Attributes:
        index: Position-independent id of the image within its dataset.
        path: Absolute path of the image file.
        width: Image width in pixels.
        height: Image height in pixels.
        objects: Labeled objects.
        polylines: ``{"category_id", "points": (M, 3) x, y, v}`` line labels.
        camera: ``{"K", "world_to_camera"}`` for synthetic images, else None.
        source: Provenance: ``{"kind": synthetic|real, "dataset": name, "original_id": ...}``.
        split: ``train``, ``val`` or ``test``.
        weight: Sample weight for training.
        extra: Per-image fields of the source (a store's depth and id-map files).
        frame: Sequences: ``{"clip", "frame", "frames", "fps", "time"}``, else None.
        tracks: Sequences: every object's track state in this frame (store ``tracks``
            records: ``track_id``, ``category_id``, ``state``, ``visibility``,
            ``amodal_bbox`` xyxy, ``position``, ``velocity``).
    """

    index: int
    path: Path
    width: int
    height: int
    objects: list[LabeledObject] = field(default_factory=list)
    polylines: list[dict] = field(default_factory=list)
    camera: dict | None = None
    source: dict = field(default_factory=dict)
    split: str = "train"
    weight: float = 1.0
    extra: dict = field(default_factory=dict)
    frame: dict | None = None
    tracks: list[dict] = field(default_factory=list)


@dataclass
class LabeledDataset:
    """Categories and images of a dataset, synthetic or real.

    Attributes:
        name: Dataset name (used in provenance).
        categories: Categories, ids unique (any positive ints).
        images: Images in order: a list, or a ``StoreImages`` sequence that reads a
            store's records as they are visited.
    """

    name: str
    categories: tuple[CategoryInfo, ...]
    images: Sequence[LabeledImage]

    def category(self, category_id: int) -> CategoryInfo:
        for category in self.categories:
            if category.id == category_id:
                return category
        raise KeyError(category_id)


def _object_from_record(item: dict) -> LabeledObject:
    return LabeledObject(
        category_id=item["category_id"],
        bbox=np.asarray(item["bbox"], dtype=np.float64),
        segmentation=item["segmentation"],
        keypoints=array_from_json(item["keypoints"]).reshape(-1, 3),
        area=float(item["area"]),
        extra={key: item[key] for key in ("amodal_bbox", "amodal_area", "occlusion", "truncation", "cuboid", "pose",
                                          "instance_id", "amodal_segmentation")}
        | ({"track_id": item["track_id"]} if "track_id" in item else {}),
    )


def clips_of(dataset: LabeledDataset) -> dict[int, list[LabeledImage]]:
    """Clip number -> its images in frame order (sequence datasets; empty for still images)."""
    clips: dict[int, list[LabeledImage]] = {}
    for image in dataset.images:
        if image.frame is not None:
            clips.setdefault(image.frame["clip"], []).append(image)
    return {clip: sorted(images, key=lambda image: image.frame["frame"]) for clip, images in sorted(clips.items())}


class StoreImages(Sequence[LabeledImage]):
    """The committed images of a synthgen store, read from their records when accessed.

    A sequence (``len``, indexing, slicing, iteration in index order) that keeps only the
    record paths in memory, so exporters that iterate over it stream the dataset: their
    memory does not grow with its size. Each access reads the record again.

    Args:
        root: Dataset folder.
    """

    def __init__(self, root: Path):
        self.root = root
        self._records = sorted((root / "labels").glob("*.json"))

    def __len__(self) -> int:
        return len(self._records)

    def __getitem__(self, position):
        if isinstance(position, slice):
            return [self._image(path) for path in self._records[position]]
        return self._image(self._records[position])

    def __iter__(self) -> Iterator[LabeledImage]:
        for path in self._records:
            yield self._image(path)

    def _image(self, path: Path) -> LabeledImage:
        with open(path) as handle:
            return _image_from_record(self.root, json.load(handle))


def _image_from_record(root: Path, record: dict) -> LabeledImage:
    return LabeledImage(
        index=record["index"],
        path=(root / record["files"]["image"]).resolve(),
        width=record["width"],
        height=record["height"],
        objects=[_object_from_record(item) for item in record["instances"]],
        polylines=[{"category_id": line["category_id"],
                    "points": np.asarray(line["points"], dtype=np.float64).reshape(-1, 3)}
                   for line in record.get("polylines", [])],
        camera=record["camera"],
        # No folder name here: the same dataset written anywhere has the same bytes.
        source={"kind": "synthetic", "original_id": record["index"]},
        extra={"depth_file": record["files"]["depth"], "depth_unit_m": record["depth_unit_m"],
               "instance_ids_file": record["files"]["instance_ids"]},
        frame=record.get("frame"),
        tracks=record.get("tracks", []),
    )


def open_store(root: str | Path) -> LabeledDataset:
    """The committed samples of a synthgen dataset folder as a ``LabeledDataset``.

    Its ``images`` are a ``StoreImages`` sequence: records are read as they are visited,
    not held in memory.

    Raises:
        InputError: ``root`` is not a synthgen dataset (no manifest).
    """
    root = Path(root)
    manifest = read_manifest(root)
    categories = tuple(
        CategoryInfo(c["id"], c["name"], tuple(c["keypoints"]), tuple(tuple(p) for p in c["skeleton"]),
                     c.get("kind", "object"))
        for c in manifest["categories"]
    )
    return LabeledDataset(root.name, categories, StoreImages(root))
