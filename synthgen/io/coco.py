"""COCO export: a pure function of the canonical store.

Writes ``annotations/instances.json`` (image root: the dataset's ``images/`` folder).
Standard fields load in pycocotools, detectron2, mmdetection and torchvision; synthgen
adds, per annotation: ``amodal_bbox`` (xywh), ``amodal_segmentation``, ``amodal_area``,
``occlusion``, ``truncation``, ``cuboid`` and ``pose`` (object -> OpenCV camera), and
per image its ``camera`` and the paths of its depth and id maps. Polyline labels (lane
markings) are annotations of their own category (``synthgen_kind: polyline``) with a
``polyline`` field ``[x1, y1, v1, ...]`` (keypoint convention), the points' ``bbox``,
``area`` 0 and an empty RLE mask, so COCO tools that read every annotation still work.

Coordinates: boxes and polygons are continuous (pixel column c spans [c, c + 1)), as
COCO's. Keypoints follow COCO's pixel-index convention (detectron2 adds 0.5 on load),
so they are written as continuous coordinates minus 0.5; unlabeled ones are (0, 0, 0).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np

from synthgen.io.dataset import LabeledDataset, LabeledImage, LabeledObject, open_store
from synthgen.io.store import decode_rle, encode_rle, write_json_atomic
from synthgen.types import CategoryInfo
from synthgen.validation import check_choice

__all__ = ["CocoExporter", "coco_dict", "export_coco", "mask_to_polygons", "outer_polygon", "write_coco"]


def _xywh(box: list[float]) -> list[float]:
    return [box[0], box[1], box[2] - box[0], box[3] - box[1]]


def mask_to_polygons(mask: np.ndarray) -> list[list[float]] | None:
    """COCO polygons that trace a mask's pixel edges, or None when the mask has holes.

    OpenCV traces the contour of the mask upsampled 2x, so the polygon follows the
    pixels' outer edges rather than their centres; pycocotools rasterises it back to
    exactly the same mask. COCO polygons cannot express holes: callers keep RLE then.

    Args:
        mask: (H, W) bool.

    Returns:
        Flat ``[x0, y0, x1, y1, ...]`` lists in continuous pixel coordinates, one per
        connected part, or None.
    """
    contours, hierarchy = _edge_contours(mask, cv2.RETR_CCOMP)
    if hierarchy is not None and np.any(hierarchy[0][:, 3] >= 0):
        return None
    return [((contour.reshape(-1, 2) + 0.5) / 2.0).ravel().tolist() for contour in contours]


def _edge_contours(mask: np.ndarray, mode: int):
    upsampled = np.kron(mask.astype(np.uint8), np.ones((2, 2), np.uint8))
    return cv2.findContours(upsampled, mode, cv2.CHAIN_APPROX_SIMPLE)


def outer_polygon(mask: np.ndarray) -> list[float] | None:
    """The pixel-edge outline of a mask's largest part (holes ignored), flat ``[x0, y0, ...]``, or None if empty.

    For formats that take one polygon per object (YOLO segment, Label Studio).
    """
    contours, _ = _edge_contours(mask, cv2.RETR_EXTERNAL)
    if not contours:
        return None
    largest = max(contours, key=cv2.contourArea)
    return ((largest.reshape(-1, 2) + 0.5) / 2.0).ravel().tolist()


def _segmentation(rle: dict, mode: str):
    if mode == "rle":
        return rle
    polygons = mask_to_polygons(decode_rle(rle))
    return rle if polygons is None else polygons


def _keypoints(keypoints: np.ndarray, category: CategoryInfo) -> dict:
    if not category.keypoint_names:
        return {}
    flat = []
    for x, y, v in keypoints:
        flat.extend([float(x) - 0.5, float(y) - 0.5, int(v)] if v > 0 else [0.0, 0.0, 0])
    return {"keypoints": flat, "num_keypoints": int(sum(1 for *_, v in keypoints if v > 0))}


def _polyline_annotation(line: dict, width: int, height: int) -> dict:
    """A polyline as a COCO annotation: ``polyline`` [x1, y1, v1, ...] in COCO's pixel-index
    convention (like keypoints), its points' box, no area and an empty mask (so COCO
    tools that read every annotation's segmentation keep working)."""
    points = np.asarray(line["points"], dtype=np.float64)
    low, high = points[:, :2].min(axis=0), points[:, :2].max(axis=0)
    flat = [value for x, y, v in points for value in (float(x) - 0.5, float(y) - 0.5, int(v))]
    return {
        "category_id": line["category_id"],
        "polyline": flat,
        "num_polyline_points": len(points),
        "bbox": [float(low[0]), float(low[1]), float(high[0] - low[0]), float(high[1] - low[1])],
        "area": 0,
        "iscrowd": 0,
        "segmentation": encode_rle(np.zeros((height, width), dtype=bool)),
    }


def _category_entry(category: CategoryInfo) -> dict:
    return {
        "id": category.id,
        "name": category.name,
        "supercategory": "object",
        "keypoints": list(category.keypoint_names),
        "skeleton": [[a + 1, b + 1] for a, b in category.skeleton],  # COCO skeletons are 1-based
        "synthgen_kind": category.kind,
    }


def _object_annotation(obj: LabeledObject, category: CategoryInfo, segmentation: str) -> dict:
    annotation = {
        "category_id": obj.category_id,
        "bbox": _xywh([float(v) for v in obj.bbox]),
        "area": obj.area,
        "iscrowd": int(obj.extra.get("iscrowd", 0)),
        **_keypoints(obj.keypoints, category),
    }
    if obj.segmentation is not None:
        annotation["segmentation"] = _segmentation(obj.segmentation, segmentation)
    extra = obj.extra
    if "amodal_bbox" in extra:
        annotation["amodal_bbox"] = _xywh(extra["amodal_bbox"])
    if "amodal_area" in extra:
        annotation["amodal_area"] = extra["amodal_area"]
    if extra.get("amodal_segmentation") is not None:
        annotation["amodal_segmentation"] = _segmentation(extra["amodal_segmentation"], segmentation)
    for key in ("occlusion", "truncation", "cuboid", "pose"):
        if key in extra:
            annotation[key] = extra[key]
    if "instance_id" in extra:
        annotation["synthgen_instance_id"] = extra["instance_id"]
    if "track_id" in extra:
        annotation["synthgen_track_id"] = extra["track_id"]
    return annotation


def _video_fields(dataset: LabeledDataset, images: list[dict], annotations: list[dict]) -> dict:
    """Add the video fields (CocoVID / TAO convention) of a sequence dataset in place.

    Videos are clips, numbered from 1 in order of appearance (a store's clip c is video
    c + 1 when all its clips are there; a mixed dataset's clips are told apart by source
    dataset, and its still images get no video fields); images get ``video_id`` and
    ``frame_id`` (0-based); annotations get ``video_id`` and a dataset-wide ``track_id``
    (also as ``instance_id``, the name CocoVID readers use); ``tracks`` lists every track.
    """
    video_of: dict[int, int] = {}  # image id -> video id
    videos: dict[tuple[str, int], dict] = {}
    for entry, image in zip(images, dataset.images):
        frame = image.frame
        if frame is None:
            continue
        source = image.source.get("dataset", "")
        key = (source, frame["clip"])
        if key not in videos:
            name = f"clip_{frame['clip']:06d}"
            videos[key] = {"id": len(videos) + 1, "name": f"{source}/{name}" if source else name,
                           "width": image.width, "height": image.height, "fps": frame["fps"],
                           "length": frame["frames"]}
        video_of[entry["id"]] = videos[key]["id"]
        entry.update(video_id=videos[key]["id"], frame_id=frame["frame"], time=frame["time"])
    track_ids: dict[tuple[int, int], int] = {}
    tracks = []
    for annotation in annotations:
        video = video_of.get(annotation["image_id"])
        if video is None or "synthgen_track_id" not in annotation:
            continue  # still images and polylines have no track
        key = (video, annotation["synthgen_track_id"])
        if key not in track_ids:
            track_ids[key] = len(track_ids) + 1
            tracks.append({"id": track_ids[key], "category_id": annotation["category_id"], "video_id": video,
                           "synthgen_track_id": key[1]})
        annotation.update(video_id=video, track_id=track_ids[key], instance_id=track_ids[key])
    return {"videos": list(videos.values()), "tracks": tracks}


def coco_dict(dataset: LabeledDataset, segmentation: str = "rle",
              file_name: Callable[[LabeledImage], str] = lambda image: image.path.name) -> dict:
    """A dataset as a COCO instances dictionary (image and annotation ids count from 1 in order).

    Sequence datasets also get the video fields of CocoVID / TAO: ``videos``, ``tracks``,
    ``video_id`` + ``frame_id`` per image, ``video_id`` + ``track_id`` per annotation.

    Args:
        dataset: The dataset.
        segmentation: ``rle`` or ``polygon`` (pixel-edge polygons; masks with holes keep RLE).
        file_name: Each image's ``file_name`` (relative to the image root).
    """
    check_choice("segmentation", segmentation, ["rle", "polygon"])
    images, annotations = [], []
    for position, image in enumerate(dataset.images):
        image_id = position + 1
        entry = {"id": image_id, "file_name": file_name(image), "width": image.width, "height": image.height,
                 "synthgen_index": image.index, **image.extra}
        if image.camera is not None:
            entry["camera"] = image.camera
        if image.source:
            entry["source"] = image.source
        if image.weight != 1.0:
            entry["weight"] = image.weight
        images.append(entry)
        for obj in image.objects:
            annotation = _object_annotation(obj, dataset.category(obj.category_id), segmentation)
            annotations.append({"id": len(annotations) + 1, "image_id": image_id, **annotation})
        for line in image.polylines:
            annotations.append({"id": len(annotations) + 1, "image_id": image_id,
                                **_polyline_annotation(line, image.width, image.height)})
    video = _video_fields(dataset, images, annotations) if any(i.frame for i in dataset.images) else {}
    return {
        "info": {"description": "written by synthgen"},
        "licenses": [],
        **video,
        "images": images,
        "annotations": annotations,
        "categories": [_category_entry(c) for c in dataset.categories],
    }


def write_coco(dataset: LabeledDataset, path: str | Path, segmentation: str = "rle",
               file_name: Callable[[LabeledImage], str] = lambda image: image.path.name) -> Path:
    """Write a COCO instances file for a dataset (see :func:`coco_dict`); returns ``path``."""
    coco = coco_dict(dataset, segmentation, file_name)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_json_atomic(path, coco, indent=None)
    return path


def export_coco(root: str | Path, segmentation: str = "rle", output: str | Path | None = None) -> Path:
    """Build a COCO instances file from a synthgen dataset's committed samples.

    Args:
        root: Dataset folder.
        segmentation: ``rle`` (compressed RLE) or ``polygon`` (pixel-edge polygons;
            masks with holes keep RLE). Both decode to the exact masks.
        output: Output path; defaults to ``root/annotations/instances.json``.

    Returns:
        The written path. Image ids are sample index + 1; annotation ids count from 1.
    """
    root = Path(root)
    output = Path(output) if output is not None else root / "annotations" / "instances.json"
    return write_coco(open_store(root), output, segmentation)


class CocoExporter:
    """Config node for the COCO export run at the end of ``generate`` (and by ``synthgen export``).

    Args:
        segmentation: ``rle`` or ``polygon`` (masks with holes keep RLE).
    """

    def __init__(self, segmentation: str = "rle"):
        self.segmentation = check_choice("segmentation", segmentation, ["rle", "polygon"])

    def __call__(self, root: str | Path) -> Path:
        return export_coco(root, self.segmentation)

    def export_to(self, root: str | Path, out: Path) -> Path:
        """COCO of the store at ``root`` in ``out``."""
        return self.write(open_store(root), out)

    def write(self, dataset: LabeledDataset, out: Path) -> Path:
        """``out/images/<split>/`` and ``out/annotations/instances_<split>.json`` (one split:
        ``images/`` and ``instances.json``)."""
        from synthgen.io.export_files import place_image  # export_files builds on this module

        splits = sorted({image.split for image in dataset.images}) or ["train"]
        written = None
        for split in splits:
            part = LabeledDataset(dataset.name, dataset.categories, [i for i in dataset.images if i.split == split])
            folder = Path(out) / "images" / (split if len(splits) > 1 else "")
            for image in part.images:
                place_image(image.path, folder / _stem_name(image))
            name = f"instances_{split}.json" if len(splits) > 1 else "instances.json"
            written = write_coco(part, Path(out) / "annotations" / name, self.segmentation, _stem_name)
        return written


def _stem_name(image: LabeledImage) -> str:
    return f"{image.index:06d}{image.path.suffix}"
