"""A format-neutral view of a labeled dataset: what exporters write and readers return.

Synthetic stores and real datasets (COCO, YOLO, VOC, Label Studio) become the same
``LabeledDataset``: categories, and per image its file, size and objects with boxes,
optional masks (COCO RLE) and keypoints, plus whatever 3D labels the source has.
Coordinates follow synthgen's conventions (continuous pixels, ``xyxy`` boxes with
exclusive maxima, keypoints ``x, y, v`` with COCO visibility).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypedDict

import numpy as np

from synthgen.core import CategoryInfo

__all__ = ["CameraRecord", "FrameRecord", "ImageFiles", "LabeledDataset", "LabeledImage", "LabeledObject", "PolylineRecord",
           "Source", "TrackRecord", "clips_of"]


class CameraRecord(TypedDict):
    """A synthetic image's camera: ``K`` (3x3 intrinsics) and ``world_to_camera`` (4x4,
    OpenCV camera frame), as nested lists of floats."""

    K: list[list[float]]
    world_to_camera: list[list[float]]


class Source(TypedDict, total=False):
    """Provenance of an image: ``kind`` synthetic | real, the ``dataset`` it came from (set
    by readers and mix; a store leaves it out so its bytes do not depend on its folder),
    and its id there."""

    kind: str
    dataset: str
    original_id: int | str


class PolylineRecord(TypedDict):
    """A line label: its category and (M, 3) float64 points ``x, y, v`` (continuous pixels,
    COCO visibility)."""

    category_id: int
    points: np.ndarray


class FrameRecord(TypedDict):
    """Where a sequence frame sits: clip number, frame in the clip (0-based), frames per
    clip, frames per second and time in seconds from the clip's start."""

    clip: int
    frame: int
    frames: int
    fps: float
    time: float


class TrackRecord(TypedDict):
    """One object's track in one frame, as the store records it (see ``synthgen.core.Track``):
    ``amodal_bbox`` xyxy pixels, camera-frame ``position`` (m) and ``velocity`` (m/s)."""

    track_id: int
    category_id: int
    category: str
    state: str
    visibility: float
    amodal_bbox: list[float]
    position: list[float]
    velocity: list[float]


class ImageFiles(TypedDict, total=False):
    """A store image's other files (relative to the store) and its depth unit in metres."""

    depth_file: str
    depth_unit_m: float
    instance_ids_file: str


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
    polylines: list[PolylineRecord] = field(default_factory=list)
    camera: CameraRecord | None = None
    source: Source = field(default_factory=dict)
    split: str = "train"
    weight: float = 1.0
    extra: ImageFiles = field(default_factory=dict)
    frame: FrameRecord | None = None
    tracks: list[TrackRecord] = field(default_factory=list)


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


def clips_of(dataset: LabeledDataset) -> dict[int, list[LabeledImage]]:
    """Clip number -> its images in frame order (sequence datasets; empty for still images)."""
    clips: dict[int, list[LabeledImage]] = {}
    for image in dataset.images:
        if image.frame is not None:
            clips.setdefault(image.frame["clip"], []).append(image)
    return {clip: sorted(images, key=lambda image: image.frame["frame"]) for clip, images in sorted(clips.items())}


