"""COCO export: a pure function of the canonical store.

Writes ``annotations/instances.json`` (image root: the dataset's ``images/`` folder).
Standard fields load in pycocotools, detectron2, mmdetection and torchvision; synthgen
adds, per annotation: ``amodal_bbox`` (xywh), ``amodal_segmentation``, ``amodal_area``,
``occlusion``, ``truncation``, ``cuboid`` and ``pose`` (object -> OpenCV camera), and
per image its ``camera`` and the paths of its depth and id maps. ``instances.json`` holds
only objects with real masks (standard COCO, as torchvision and detectron2 expect).

Polyline labels (lane markings) go to ``polylines.json`` beside it (``polylines_<split>.json``
beside ``instances_<split>.json``), written only when the dataset has polyline categories:
the same ``images`` (same ids), the polyline ``categories`` (``synthgen_kind: polyline``),
and per line an annotation ``{id, image_id, category_id, polyline: [x1, y1, v1, ...],
num_polyline_points, bbox}`` (points in the keypoint convention below; ``bbox`` xywh of the
points). ``read_coco`` reads it back when it lies beside the instances file.

Both files are written record by record (``write_json_streamed``): memory does not grow
with the number of images.

Coordinates: boxes and polygons are continuous (pixel column c spans [c, c + 1)), as
COCO's. Keypoints follow COCO's pixel-index convention (detectron2 adds 0.5 on load),
so they are written as continuous coordinates minus 0.5; unlabeled ones are (0, 0, 0).
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import IO

import numpy as np
from pycocotools import mask as mask_utils

from synthgen.core import CategoryInfo, PolylineLabel
from synthgen.core.errors import InputError
from synthgen.core.validation import check_choice
from synthgen.io.dataset import LabeledDataset, LabeledImage, LabeledObject
from synthgen.io.export_files import StoreExporter, place_image
from synthgen.io.files import OMIT, write_json_streamed
from synthgen.io.format_spec import Format
from synthgen.io.input_checks import (
    camera_record,
    category_list,
    check_box,
    contained,
    cuboid_record,
    field,
    guarded_reader,
    image_file,
    integer,
    is_file,
    keypoint_array,
    load_json,
    mapping,
    matrix,
    number,
    numbers,
    polygons_rle,
    rle_of,
    text,
)
from synthgen.io.polygons import mask_to_polygons
from synthgen.io.record import cuboid_from_record, cuboid_to_record, decode_rle
from synthgen.io.store import open_store

__all__ = ["FORMAT", "CocoExporter", "coco_dict", "export_coco", "polylines_path", "polylines_path_owner", "read_coco",
           "write_coco"]


def _xywh(box: list[float]) -> list[float]:
    return [box[0], box[1], box[2] - box[0], box[3] - box[1]]


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


def _polyline_annotation(line: PolylineLabel) -> dict:
    """A polyline for ``polylines.json``: ``polyline`` [x1, y1, v1, ...] in COCO's pixel-index
    convention (like keypoints) and its points' box (xywh)."""
    points = np.asarray(line.points, dtype=np.float64)
    low, high = points[:, :2].min(axis=0), points[:, :2].max(axis=0)
    flat = [value for x, y, v in points for value in (float(x) - 0.5, float(y) - 0.5, int(v))]
    return {
        "category_id": line.category_id,
        "polyline": flat,
        "num_polyline_points": len(points),
        "bbox": [float(low[0]), float(low[1]), float(high[0] - low[0]), float(high[1] - low[1])],
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
        "iscrowd": int(obj.iscrowd),
        **_keypoints(obj.keypoints, category),
    }
    if obj.segmentation is not None:
        annotation["segmentation"] = _segmentation(obj.segmentation, segmentation)
    if obj.amodal_bbox is not None:
        annotation["amodal_bbox"] = _xywh([float(v) for v in obj.amodal_bbox])
    if obj.amodal_area is not None:
        annotation["amodal_area"] = obj.amodal_area
    if obj.amodal_segmentation is not None:
        annotation["amodal_segmentation"] = _segmentation(obj.amodal_segmentation, segmentation)
    optional = {"occlusion": obj.occlusion, "truncation": obj.truncation,
                "cuboid": None if obj.cuboid is None else cuboid_to_record(obj.cuboid),
                "pose": None if obj.pose is None else obj.pose.tolist(),
                "synthgen_instance_id": obj.instance_id, "synthgen_track_id": obj.track_id}
    annotation.update({key: value for key, value in optional.items() if value is not None})
    return annotation


FileName = Callable[[LabeledImage], str]


def _default_file_name(image: LabeledImage) -> str:
    return image.path.name


class _Videos:
    """The video fields (CocoVID / TAO convention) of a sequence dataset, gathered as the
    images are visited (the image and annotation passes visit them in the same order).

    Videos are clips, numbered from 1 in order of appearance (a store's clip c is video
    c + 1 when all its clips are there; a mixed dataset's clips are told apart by source
    dataset, and its still images get no video fields); images get ``video_id`` and
    ``frame_id`` (0-based); annotations get ``video_id`` and a dataset-wide ``track_id``
    (also as ``instance_id``, the name CocoVID readers use); ``tracks`` lists every track.
    """

    def __init__(self):
        self.videos: dict[tuple[str, int], dict] = {}
        self.track_ids: dict[tuple[int, int], int] = {}
        self.tracks: list[dict] = []

    def video_id(self, image: LabeledImage) -> int | None:
        frame = image.frame
        if frame is None:
            return None
        source = image.source.get("dataset", "")
        key = (source, frame.clip)
        if key not in self.videos:
            name = f"clip_{frame.clip:06d}"
            self.videos[key] = {"id": len(self.videos) + 1, "name": f"{source}/{name}" if source else name,
                                "width": image.width, "height": image.height, "fps": frame.fps,
                                "length": frame.frames}
        return self.videos[key]["id"]

    def image_fields(self, image: LabeledImage) -> dict:
        video = self.video_id(image)
        return {} if video is None else {"video_id": video, "frame_id": image.frame.frame, "time": image.frame.time}

    def annotation_fields(self, image: LabeledImage, annotation: dict) -> dict:
        video = self.video_id(image)
        if video is None or "synthgen_track_id" not in annotation:
            return {}  # still images have no track
        key = (video, annotation["synthgen_track_id"])
        if key not in self.track_ids:
            self.track_ids[key] = len(self.track_ids) + 1
            self.tracks.append({"id": self.track_ids[key], "category_id": annotation["category_id"], "video_id": video,
                                "synthgen_track_id": key[1]})
        return {"video_id": video, "track_id": self.track_ids[key], "instance_id": self.track_ids[key]}

    def fields(self, name: str):
        """``videos`` or ``tracks`` once every image was visited; ``OMIT`` for a dataset of stills."""
        if not self.videos:
            return OMIT
        return list(self.videos.values()) if name == "videos" else self.tracks


def _image_entry(image_id: int, image: LabeledImage, file_name: FileName, videos: _Videos | None) -> dict:
    entry = {"id": image_id, "file_name": file_name(image), "width": image.width, "height": image.height,
             "synthgen_index": image.index, **_image_files(image)}
    if image.camera is not None:
        entry["camera"] = image.camera
    if image.source:
        entry["source"] = image.source
    if image.weight != 1.0:
        entry["weight"] = image.weight
    if videos is not None:
        entry.update(videos.image_fields(image))
    return entry


def _image_entries(images: Iterable[LabeledImage], file_name: FileName, videos: _Videos | None) -> Iterator[dict]:
    return (_image_entry(image_id, image, file_name, videos) for image_id, image in enumerate(images, 1))


def _image_files(image: LabeledImage) -> dict:
    """A synthetic image's depth and id-map files, as the image entry's own keys."""
    files = {"depth_file": image.depth_file, "depth_unit_m": image.depth_unit_m,
             "instance_ids_file": image.instance_ids_file}
    return {key: value for key, value in files.items() if value is not None}


class _OnePass:
    """The annotations and image entries of an instances file from one visit of the images.

    ``annotations`` (written first: keys are sorted) visits each image once and keeps its
    entry, spilled to a temporary file one JSON line each so memory stays flat however many
    images there are; ``image_entries`` then reads them back in order. Reading a store's
    records twice (once per list) cost as much as everything else the export does.
    """

    def __init__(self, dataset: LabeledDataset, images: Iterable[LabeledImage], segmentation: str,
                 file_name: FileName, videos: _Videos, spill_dir: Path | None = None):
        self.dataset, self.images, self.segmentation = dataset, images, segmentation
        self.file_name, self.videos, self.spill_dir = file_name, videos, spill_dir
        self._spill: IO[str] | None = None

    def annotations(self) -> Iterator[dict]:
        # Beside the output (the disk sized for it); a full disk fails the output's atomic write.
        self._spill = tempfile.TemporaryFile("w+", encoding="utf-8", dir=self.spill_dir)
        number = 0
        for image_id, image in enumerate(self.images, 1):
            self._spill.write(json.dumps(_image_entry(image_id, image, self.file_name, self.videos)) + "\n")
            for obj in image.objects:
                number += 1
                annotation = {"id": number, "image_id": image_id,
                              **_object_annotation(obj, self.dataset.category(obj.category_id), self.segmentation)}
                annotation.update(self.videos.annotation_fields(image, annotation))
                yield annotation

    def image_entries(self) -> Iterator[dict]:
        if self._spill is None:  # the annotations were not asked for: visit the images for their entries
            yield from _image_entries(self.images, self.file_name, self.videos)
            return
        with self._spill:
            self._spill.seek(0)
            yield from (json.loads(line) for line in self._spill)


def _polyline_annotations(images: Iterable[LabeledImage]) -> Iterator[dict]:
    number = 0
    for image_id, image in enumerate(images, 1):
        for line in image.polylines:
            number += 1
            yield {"id": number, "image_id": image_id, **_polyline_annotation(line)}


class _Images:
    """A re-iterable view of a dataset's images, optionally of one split (nothing is copied)."""

    def __init__(self, dataset: LabeledDataset, split: str | None):
        self.dataset, self.split = dataset, split

    def __iter__(self) -> Iterator[LabeledImage]:
        return (image for image in self.dataset.images if self.split is None or image.split == self.split)


def _coco_fields(dataset: LabeledDataset, segmentation: str, file_name: FileName, split: str | None,
                 spill_dir: Path | None = None) -> dict:
    """The instances file's fields; list fields are generators (see ``write_json_streamed``)."""
    check_choice("segmentation", segmentation, ["rle", "polygon"])
    videos = _Videos()
    one_pass = _OnePass(dataset, _Images(dataset, split), segmentation, file_name, videos, spill_dir)
    return {
        "info": {"description": "written by synthgen"},
        "licenses": [],
        "annotations": one_pass.annotations(),
        # Called after the annotations are written (the keys sort after them), as are the two below.
        "images": one_pass.image_entries,
        "categories": [_category_entry(c) for c in dataset.categories if c.kind == "object"],
        "tracks": lambda: videos.fields("tracks"),
        "videos": lambda: videos.fields("videos"),
    }


def coco_dict(dataset: LabeledDataset, segmentation: str = "rle", file_name: FileName = _default_file_name) -> dict:
    """A dataset's objects as a COCO instances dictionary in memory (image and annotation ids
    count from 1 in order); polylines are left out (see ``write_coco``).

    Sequence datasets also get the video fields of CocoVID / TAO: ``videos``, ``tracks``,
    ``video_id`` + ``frame_id`` per image, ``video_id`` + ``track_id`` per annotation.

    Args:
        dataset: The dataset.
        segmentation: ``rle`` or ``polygon`` (pixel-edge polygons; masks with holes keep RLE).
        file_name: Each image's ``file_name`` (relative to the image root).
    """
    coco = {}
    for key, value in sorted(_coco_fields(dataset, segmentation, file_name, None).items()):
        value = value() if callable(value) else value
        if value is not OMIT:
            coco[key] = list(value) if isinstance(value, Iterator) else value
    return coco


def polylines_path(instances: Path) -> Path:
    """Where the polylines of an instances file go: ``instances*.json`` -> ``polylines*.json``."""
    name = instances.name
    return instances.with_name("polylines" + name[len("instances"):] if name.startswith("instances")
                               else f"{instances.stem}_polylines.json")


def write_coco(dataset: LabeledDataset, path: str | Path, segmentation: str = "rle",
               file_name: FileName = _default_file_name, split: str | None = None) -> Path:
    """Write a COCO instances file for a dataset (or one ``split`` of it), streaming its images;
    and, when the dataset has polyline categories, ``polylines_path(path)``. Returns ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_json_streamed(path, _coco_fields(dataset, segmentation, file_name, split, path.parent))
    lines = [_category_entry(c) for c in dataset.categories if c.kind == "polyline"]
    if lines:
        images = _Images(dataset, split)
        write_json_streamed(polylines_path(path), {
            "info": {"description": "polyline labels written by synthgen; image ids as in " + path.name},
            "images": _image_entries(images, file_name, None),
            "annotations": _polyline_annotations(images),
            "categories": lines,
        })
    return path


def export_coco(root: str | Path, segmentation: str = "rle", output: str | Path | None = None) -> Path:
    """Build a COCO instances file from a synthgen dataset's committed samples.

    Args:
        root: Dataset folder.
        segmentation: ``rle`` (compressed RLE) or ``polygon`` (pixel-edge polygons;
            masks with holes keep RLE). Both decode to the exact masks.
        output: Output path; defaults to ``root/annotations/instances.json`` (polylines,
            if any, to ``polylines.json`` beside it).

    Returns:
        The written path. Image ids are sample index + 1; annotation ids count from 1.
    """
    root = Path(root)
    output = Path(output) if output is not None else root / "annotations" / "instances.json"
    return write_coco(open_store(root), output, segmentation)


class CocoExporter(StoreExporter):
    """Config node for the COCO export run at the end of ``generate`` (and by ``synthgen export``).

    Unlike the other formats, ``generate`` writes COCO into the store itself
    (``annotations/instances.json``, beside the images it names) rather than into ``exports/``.

    Args:
        segmentation: ``rle`` or ``polygon`` (masks with holes keep RLE).
    """

    def __init__(self, segmentation: str = "rle"):
        self.segmentation = check_choice("segmentation", segmentation, ["rle", "polygon"])

    def __call__(self, root: str | Path) -> Path:
        return export_coco(root, self.segmentation)

    def write(self, dataset: LabeledDataset, out: Path) -> Path:
        """``out/images/<split>/`` and ``out/annotations/instances_<split>.json`` (one split:
        ``images/`` and ``instances.json``)."""
        splits = sorted({image.split for image in dataset.images}) or ["train"]
        written = None
        for split in splits:
            folder = Path(out) / "images" / (split if len(splits) > 1 else "")
            for image in _Images(dataset, split):
                place_image(image.path, folder / _stem_name(image))
            name = f"instances_{split}.json" if len(splits) > 1 else "instances.json"
            written = write_coco(dataset, Path(out) / "annotations" / name, self.segmentation, _stem_name, split)
        return written


def _stem_name(image: LabeledImage) -> str:
    return f"{image.index:06d}{image.path.suffix}"


# Reader -----------------------------------------------------------------------


@guarded_reader
def read_coco(annotations: str | Path, image_root: str | Path | None = None, name: str | None = None) -> LabeledDataset:
    """Read a COCO instances (and keypoints) file.

    Every entry is checked before use (``synthgen.io.input_checks``): integer ids, unique and
    referenced; image files inside the image root whose headers match the declared size;
    boxes, polygons, RLE and keypoints finite and inside their image.

    Args:
        annotations: The JSON file.
        image_root: Folder the ``file_name`` entries are relative to; by default the
            JSON's folder's ``images/`` if that exists, else the JSON's folder (or, for
            ``annotations/*.json``, the dataset folder's ``images/``).
        name: Dataset name (default: the image root's parent folder name).

    Raises:
        InputError: Anything malformed; the message names the file, the entry and the fix.
    """
    path = Path(annotations)
    data = load_json(path)
    if not isinstance(data, dict) or not all(isinstance(data.get(k), list) for k in ("images", "annotations", "categories")):
        raise InputError(f"{path}: not a COCO instances file (needs lists 'images', 'annotations', 'categories')")
    root = Path(image_root) if image_root is not None else _coco_image_root(path)
    categories = category_list(data["categories"], f"{path}: categories", skeleton_base=1)
    by_category = {c.id: c for c in categories}
    images, by_id = [], {}
    for position, entry in enumerate(data["images"]):
        image = _coco_image(entry, root, f"{path}: images[{position}]", name or root.parent.name)
        if image.index in by_id:
            raise InputError(f"{path}: images[{position}]: duplicate image id {image.index}")
        images.append(image)
        by_id[image.index] = image
    annotation_ids = set()
    for position, entry in enumerate(data["annotations"]):
        where = f"{path}: annotations[{position}]"
        mapping(entry, where)
        annotation_id = field(entry, "id", where, integer, default=None)
        if annotation_id is not None:
            if annotation_id in annotation_ids:
                raise InputError(f"{where}: duplicate annotation id {annotation_id}")
            annotation_ids.add(annotation_id)
            where = f"{where} (id {annotation_id})"
        image = by_id.get(field(entry, "image_id", where, integer))
        if image is None:
            raise InputError(f"{where}: image_id {entry['image_id']!r} is not in 'images'")
        category = by_category.get(field(entry, "category_id", where, integer))
        if category is None:
            raise InputError(f"{where}: category_id {entry['category_id']!r} is not declared in 'categories'")
        if category.kind == "polyline":  # datasets written before polylines had their own file
            image.polylines.append(_coco_polyline(entry, category, image, where))
            continue
        image.objects.append(_coco_object(entry, category, image, where))
    categories += _read_coco_polylines(polylines_path(path), data["images"], by_id, {c.id for c in categories})
    return LabeledDataset(name or root.parent.name, categories, images)


def _coco_image(entry, root: Path, where: str, dataset: str) -> LabeledImage:
    mapping(entry, where)
    image_id = field(entry, "id", where, integer)
    where = f"{where} (id {image_id})"
    declared = (field(entry, "width", where, integer, 1), field(entry, "height", where, integer, 1))
    file = image_file(root, field(entry, "file_name", where, text), where, declared)
    camera = entry.get("camera")
    if camera is not None:
        camera = camera_record(camera, f"{where}: 'camera'")
    return LabeledImage(index=image_id, path=file.path, width=file.width, height=file.height, camera=camera,
                        source={"kind": "real", "dataset": dataset, "original_id": image_id})


def _coco_polyline(entry: dict, category: CategoryInfo, image: LabeledImage, where: str) -> PolylineLabel:
    """A line label of ``polylines.json``: ``polyline`` [x1, y1, v1, ...] (at least 2 points)."""
    flat = field(entry, "polyline", where, numbers, multiple=3, min_length=6)
    points = keypoint_array(flat.tolist(), len(flat) // 3, image.width, image.height, f"{where}: 'polyline'")
    points[:, :2] += 0.5  # COCO's pixel-index convention -> continuous
    return PolylineLabel(category.id, category.name, points)


def polylines_path_owner(polylines: Path) -> Path | None:
    """The instances file whose polylines ``polylines`` would hold (the inverse of
    ``polylines_path``), or None when the name is not one ``polylines_path`` gives."""
    name = polylines.name
    if name.startswith("polylines"):
        return polylines.with_name("instances" + name[len("polylines"):])
    if name.endswith("_polylines.json"):
        return polylines.with_name(name[: -len("_polylines.json")] + ".json")
    return None


def _read_coco_polylines(path: Path, images: list[dict], by_id: dict, taken: set[int]) -> tuple[CategoryInfo, ...]:
    """Add the polylines of the ``polylines*.json`` beside an instances file (written by
    synthgen's COCO export) to the images; returns their categories."""
    if not is_file(path):
        return ()
    contained(path.parent, path, str(path))
    data = load_json(path)
    if not isinstance(data, dict) or not all(isinstance(data.get(k), list) for k in ("images", "annotations", "categories")):
        raise InputError(f"{path}: not a synthgen polylines file (needs lists 'images', 'annotations', 'categories')")
    names = {entry["id"]: entry["file_name"] for entry in images}  # checked by read_coco
    for position, entry in enumerate(data["images"]):
        if not isinstance(entry, dict) or not isinstance(entry.get("id"), int) \
                or names.get(entry["id"], object()) != entry.get("file_name"):
            raise InputError(f"{path}: images[{position}] does not match the instances file "
                             "beside it; export the dataset again")
    categories = tuple(CategoryInfo(c.id, c.name, kind="polyline")
                       for c in category_list(data["categories"], f"{path}: categories", skeleton_base=1))
    clashes = sorted({c.id for c in categories} & taken)
    if clashes:
        raise InputError(f"{path}: category ids {clashes} are also object categories of the instances file")
    by_category = {c.id: c for c in categories}
    for position, entry in enumerate(data["annotations"]):
        where = f"{path}: annotations[{position}]"
        mapping(entry, where)
        category = by_category.get(field(entry, "category_id", where, integer))
        if category is None:
            raise InputError(f"{where}: category_id {entry['category_id']!r} is not declared in 'categories'")
        image = by_id.get(field(entry, "image_id", where, integer))
        if image is None:
            raise InputError(f"{where}: image_id {entry['image_id']!r} is not in 'images'")
        image.polylines.append(_coco_polyline(entry, category, image, where))
    return categories


def _coco_image_root(path: Path) -> Path:
    folder = path.parent
    for candidate in (folder / "images", folder.parent / "images" if folder.name == "annotations" else None):
        if candidate is not None and candidate.is_dir():
            return candidate
    return folder


def _coco_object(entry: dict, category: CategoryInfo, image: LabeledImage, where: str) -> LabeledObject:
    x, y, w, h = field(entry, "bbox", where, numbers, length=4)
    box = np.array([x, y, x + w, y + h])
    check_box(box, image.width, image.height, where)
    segmentation = entry.get("segmentation")
    rle = None
    if isinstance(segmentation, list) and segmentation:
        rle = polygons_rle(segmentation, f"{where}: 'segmentation'", image.width, image.height)
    elif isinstance(segmentation, dict):
        rle = rle_of(segmentation, f"{where}: 'segmentation'", image.width, image.height)
    elif segmentation not in (None, []):
        raise InputError(f"{where}: 'segmentation' must be polygons [[x1, y1, ...], ...] or an RLE "
                         f"{{'size', 'counts'}}, got {type(segmentation).__name__}")
    keypoints = np.zeros((0, 3))
    flat = entry.get("keypoints")
    if flat and not category.keypoint_names:
        raise InputError(f"{where}: has keypoints but category {category.name!r} declares none; add its 'keypoints' "
                         "names to the category")
    if flat:
        keypoints = keypoint_array(flat, len(category.keypoint_names), image.width, image.height,
                                   f"{where}: 'keypoints'")
        keypoints[keypoints[:, 2] > 0, :2] += 0.5  # COCO's pixel-index convention -> continuous
    area = field(entry, "area", where, number, 0, default=None)
    if area is None:
        area = float(mask_utils.area(rle)) if rle is not None else float(w * h)
    return LabeledObject(category.id, box, rle, keypoints, area, **_coco_labels(entry, where))


def _coco_labels(entry: dict, where: str) -> dict:
    """The ``LabeledObject`` fields of an annotation's optional keys (synthgen's amodal and 3D
    labels), checked, in synthgen's conventions."""
    labels = {}
    if "iscrowd" in entry:
        labels["iscrowd"] = bool(field(entry, "iscrowd", where, integer, 0, 1))
    for key in ("occlusion", "truncation"):
        if key in entry:
            labels[key] = field(entry, key, where, number, 0, 1)
    if "amodal_bbox" in entry:
        ax, ay, aw, ah = field(entry, "amodal_bbox", where, numbers, length=4)
        labels["amodal_bbox"] = np.array([ax, ay, ax + aw, ay + ah])
    if "pose" in entry:
        labels["pose"] = field(entry, "pose", where, matrix, (4, 4))
    if "cuboid" in entry:
        labels["cuboid"] = cuboid_from_record(field(entry, "cuboid", where, cuboid_record))
    return labels


def _json_files(folder: Path) -> list[Path]:
    """The JSON files a COCO dataset folder may hold its annotations in."""
    return sorted(folder.glob("*.json")) + sorted(folder.glob("annotations/*.json"))


def _is_coco(path: Path) -> bool:
    return bool(_json_files(path)) if path.is_dir() else path.suffix == ".json"


def _coco_file(path: Path) -> Path:
    if path.is_file():
        return path
    candidates = _json_files(path)
    # A polylines file is read with the instances file beside it, not on its own.
    owners = [polylines_path_owner(c) for c in candidates]
    candidates = [c for c, owner in zip(candidates, owners) if owner is None or not is_file(owner)]
    if len(candidates) != 1:
        raise InputError(f"{path}: expected one COCO JSON file, found {[c.name for c in candidates]}; "
                         "pass the file itself")
    return candidates[0]


FORMAT = Format("coco", "COCO instances + keypoints (+ amodal, 3D, videos/tracks) JSON (segmentation=rle|polygon)",
                read=lambda path, name: read_coco(_coco_file(path), name=name), detect=_is_coco)
