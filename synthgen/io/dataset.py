"""A format-neutral view of a labeled dataset: what exporters write and readers return.

Synthetic stores and real datasets (COCO, YOLO, VOC, Label Studio) become the same
``LabeledDataset``: categories, and per image its file, size and objects with boxes,
optional masks (COCO RLE) and keypoints, plus whatever amodal and 3D labels the source
has, each a typed optional field of ``LabeledObject``.
Coordinates follow synthgen's conventions (continuous pixels, ``xyxy`` boxes with
exclusive maxima, keypoints ``x, y, v`` with COCO visibility).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypedDict

import numpy as np

from synthgen.core import CategoryInfo, Cuboid, FrameInfo, LidarBox, PolylineLabel, Track

__all__ = ["CameraRecord", "LabeledDataset", "LabeledImage", "LabeledObject", "LidarFrame", "Source", "clips_of"]


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


@dataclass
class LabeledObject:
    """One labeled object in one image: the one object record every reader produces and every
    writer and tool consumes.

    Only ``category_id`` and ``bbox`` are always known; a field a format does not carry is
    None (or empty), so a writer tests ``obj.cuboid is None`` rather than a key of a dict.

    Attributes:
        category_id: Id of its category in the dataset's ``categories``.
        bbox: (4,) float64 visible box, ``xyxy`` continuous pixels, exclusive maxima.
        segmentation: Visible mask as COCO compressed RLE (``{"size", "counts"}``), or None.
        keypoints: (K, 3) float64 ``x, y, v`` (K is 0 without keypoints).
        area: Visible area in pixels (mask pixel count, else box area).
        amodal_bbox: (4,) float64 ``xyxy`` box of the whole object, hidden parts included.
        amodal_segmentation: The whole object's mask as COCO RLE.
        amodal_area: The whole object's area in pixels.
        occlusion: Share of the whole object hidden by others, 0..1.
        truncation: Share of the whole object outside the image, 0..1.
        cuboid: Its 3D box in the camera frame (metres, OpenCV axes) and projected corners.
        pose: (4, 4) float64 model -> camera transform (metres, OpenCV axes).
        instance_id: Its id in the image's instance id map (synthetic stores).
        track_id: Id of its track across a clip's frames (sequences).
        score: Detector confidence 0..1 (pre-labels).
        model: Its mesh's model name (the BOP model it is an instance of).
        scale: Scale of that model in the scene.
        iscrowd: COCO's crowd flag.
        named_keypoints: Keypoints by name, ``name -> (x, y, v)`` continuous pixels (Label
            Studio's keypoint regions, whose order no skeleton fixes).
        extra: Foreign fields a reader keeps that have no meaning across formats (BOP's
            ``gt_id``), never one of the fields above.
    """

    category_id: int
    bbox: np.ndarray
    segmentation: dict | None = None
    keypoints: np.ndarray = field(default_factory=lambda: np.zeros((0, 3)))
    area: float = 0.0
    amodal_bbox: np.ndarray | None = None
    amodal_segmentation: dict | None = None
    amodal_area: float | None = None
    occlusion: float | None = None
    truncation: float | None = None
    cuboid: Cuboid | None = None
    pose: np.ndarray | None = None
    instance_id: int | None = None
    track_id: int | None = None
    score: float | None = None
    model: str | None = None
    scale: float | None = None
    iscrowd: bool = False
    named_keypoints: dict[str, tuple[float, float, int]] = field(default_factory=dict)
    extra: dict = field(default_factory=dict)


@dataclass
class LidarFrame:
    """A synthetic sample's LiDAR sweep as a store holds it: its point file and its labels.

    Attributes:
        path: The sweep's binary PCD (``synthgen.io.point_files``; in a tar shard, only a name).
        points: Number of points.
        lidar_to_camera: (4, 4) float64 LiDAR (x forward, y left, z up) -> OpenCV camera frame.
        lidar_to_world: (4, 4) float64 LiDAR -> world at the frame's time.
        start_s: Sweep start relative to the frame's time, seconds.
        duration_s: Sweep duration, seconds.
        boxes: 3D boxes in the LiDAR frame with point counts and visibility.
    """

    path: Path
    points: int
    lidar_to_camera: np.ndarray
    lidar_to_world: np.ndarray
    start_s: float
    duration_s: float
    boxes: list[LidarBox] = field(default_factory=list)


@dataclass
class LabeledImage:
    """One image and its labels.

    Attributes:
        index: Position-independent id of the image within its dataset.
        path: Absolute path of the image file.
        width: Image width in pixels.
        height: Image height in pixels.
        objects: Labeled objects.
        polylines: Line labels (``core.PolylineLabel``: category and (M, 3) points ``x, y, v``).
        camera: ``{"K", "world_to_camera"}`` for synthetic images, else None.
        source: Provenance: ``{"kind": synthetic|real, "dataset": name, "original_id": ...}``.
        split: ``train``, ``val`` or ``test``.
        weight: Sample weight for training.
        depth_file: The depth map's file (relative to a store, or absolute), or None.
        depth_unit_m: Metres per unit of the depth file's values.
        instance_ids_file: The instance id map's file (relative to a store), or None.
        frame: Sequences: where the frame sits in its clip, else None.
        tracks: Sequences: every object's track state in this frame.
        lidar: The sample's LiDAR sweep (synthetic stores with a LiDAR), else None.
    """

    index: int
    path: Path
    width: int
    height: int
    objects: list[LabeledObject] = field(default_factory=list)
    polylines: list[PolylineLabel] = field(default_factory=list)
    camera: CameraRecord | None = None
    source: Source = field(default_factory=dict)
    split: str = "train"
    weight: float = 1.0
    depth_file: str | None = None
    depth_unit_m: float | None = None
    instance_ids_file: str | None = None
    frame: FrameInfo | None = None
    tracks: list[Track] = field(default_factory=list)
    lidar: LidarFrame | None = None


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
            clips.setdefault(image.frame.clip, []).append(image)
    return {clip: sorted(images, key=lambda image: image.frame.frame) for clip, images in sorted(clips.items())}


