"""Readers of real labeled datasets: COCO, YOLO (detect/segment/pose), Pascal VOC, Label Studio.

Each returns a ``LabeledDataset`` (see ``synthgen.io.dataset``) in synthgen's
conventions, and validates as it reads: every problem is one ``InputError`` naming the
file and the entry (malformed JSON/XML/TXT, undeclared category ids, boxes outside the
image, missing image files, duplicate ids, and any file path that escapes the dataset
root — ``..`` or absolute paths are refused). Readers never write.
"""

from __future__ import annotations

import json
import os
import xml.etree.ElementTree as ET
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlparse

import numpy as np
import yaml
from PIL import Image
from pycocotools import mask as mask_utils

from synthgen.errors import InputError
from synthgen.io.coco import polylines_path
from synthgen.io.dataset import LabeledDataset, LabeledImage, LabeledObject, open_store
from synthgen.io.store import MANIFEST
from synthgen.types import CategoryInfo

__all__ = ["detect_format", "load_json", "read_coco", "read_dataset", "read_labelstudio", "read_voc", "read_yolo"]

_BOX_TOLERANCE = 1e-6
READ_FORMATS = ("synthgen", "coco", "yolo", "voc", "labelstudio")


def _inside(root: Path, relative: str, where: str) -> Path:
    """``root / relative``, refusing absolute paths and paths that climb out of ``root``."""
    text = str(relative)
    if not text or Path(text).is_absolute() or os.path.isabs(text) or text.startswith(("\\", "~")):
        raise InputError(f"{where}: path {text!r} is absolute; paths must be relative to the dataset root {root}")
    normal = os.path.normpath(text)
    if normal == ".." or normal.startswith(".." + os.sep) or normal.startswith("../"):
        raise InputError(f"{where}: path {text!r} escapes the dataset root {root}")
    return root / normal


def _existing_image(root: Path, relative: str, where: str) -> Path:
    path = _inside(root, relative, where)
    if not path.is_file():
        raise InputError(f"{where}: image file {str(path)!r} is missing")
    return path


def load_json(path: Path):
    """Parsed JSON of ``path``; a missing or malformed file is one InputError naming it."""
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise InputError(f"{path}: not found") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise InputError(f"{path}: malformed JSON ({error})") from error


def _check_box(box: np.ndarray, width: int, height: int, where: str) -> None:
    x0, y0, x1, y1 = box
    if not np.isfinite(box).all() or x1 <= x0 or y1 <= y0:
        raise InputError(f"{where}: box {box.tolist()} is empty or not finite")
    if x0 < -_BOX_TOLERANCE or y0 < -_BOX_TOLERANCE or x1 > width + _BOX_TOLERANCE or y1 > height + _BOX_TOLERANCE:
        raise InputError(f"{where}: box {box.tolist()} (xyxy) lies outside the {width}x{height} image")


def _unique(ids: list, what: str, where: str) -> None:
    seen = set()
    for value in ids:
        if value in seen:
            raise InputError(f"{where}: duplicate {what} {value!r}")
        seen.add(value)


def _image_size(path: Path, where: str) -> tuple[int, int]:
    try:
        with Image.open(path) as image:
            return image.size
    except OSError as error:
        raise InputError(f"{where}: image file {str(path)!r} could not be read ({error})") from error


def _polygons_to_rle(polygons: list[list[float]], width: int, height: int) -> dict:
    rle = mask_utils.merge(mask_utils.frPyObjects(polygons, height, width))
    return {"size": [int(s) for s in rle["size"]], "counts": rle["counts"].decode("ascii")}


# COCO ---------------------------------------------------------------------------------


def read_coco(annotations: str | Path, image_root: str | Path | None = None, name: str | None = None) -> LabeledDataset:
    """Read a COCO instances (and keypoints) file.

    Args:
        annotations: The JSON file.
        image_root: Folder the ``file_name`` entries are relative to; by default the
            JSON's folder's ``images/`` if that exists, else the JSON's folder (or, for
            ``annotations/*.json``, the dataset folder's ``images/``).
        name: Dataset name (default: the image root's parent folder name).
    """
    path = Path(annotations)
    data = load_json(path)
    if not isinstance(data, dict) or not all(isinstance(data.get(k), list) for k in ("images", "annotations", "categories")):
        raise InputError(f"{path}: not a COCO instances file (needs lists 'images', 'annotations', 'categories')")
    root = Path(image_root) if image_root is not None else _coco_image_root(path)
    _unique([c.get("id") for c in data["categories"]], "category id", f"{path}: categories")
    _unique([i.get("id") for i in data["images"]], "image id", f"{path}: images")
    _unique([a.get("id") for a in data["annotations"]], "annotation id", f"{path}: annotations")
    categories = tuple(
        CategoryInfo(int(c["id"]), str(c["name"]), tuple(c.get("keypoints", [])),
                     tuple((a - 1, b - 1) for a, b in c.get("skeleton", [])), c.get("synthgen_kind", "object"))
        for c in data["categories"]
    )
    by_category = {c.id: c for c in categories}
    images, by_id = [], {}
    for position, entry in enumerate(data["images"]):
        where = f"{path}: images[{position}] (id {entry.get('id')})"
        file = _existing_image(root, entry.get("file_name", ""), where)
        width, height = int(entry["width"]), int(entry["height"])
        image = LabeledImage(index=int(entry["id"]), path=file.resolve(), width=width, height=height,
                             camera=entry.get("camera"),
                             source={"kind": "real", "dataset": name or root.parent.name, "original_id": entry["id"]})
        images.append(image)
        by_id[entry["id"]] = image
    for position, entry in enumerate(data["annotations"]):
        where = f"{path}: annotations[{position}] (id {entry.get('id')})"
        image = by_id.get(entry.get("image_id"))
        if image is None:
            raise InputError(f"{where}: image_id {entry.get('image_id')!r} is not in 'images'")
        category = by_category.get(entry.get("category_id"))
        if category is None:
            raise InputError(f"{where}: category_id {entry.get('category_id')!r} is not declared in 'categories'")
        if category.kind == "polyline":  # datasets written before polylines had their own file
            image.polylines.append(_coco_polyline(entry, category, where))
            continue
        image.objects.append(_coco_object(entry, category, image, where))
    categories += _read_coco_polylines(polylines_path(path), data["images"], by_id, {c.id for c in categories})
    return LabeledDataset(name or root.parent.name, categories, images)


def _coco_polyline(entry: dict, category: CategoryInfo, where: str) -> dict:
    try:
        points = np.asarray(entry["polyline"], dtype=np.float64).reshape(-1, 3)
    except (KeyError, TypeError, ValueError):
        raise InputError(f"{where}: 'polyline' must be a flat list [x1, y1, v1, ...]") from None
    points[:, :2] += 0.5  # COCO's pixel-index convention -> continuous
    return {"category_id": category.id, "points": points}


def polylines_path_owner(polylines: Path) -> Path:
    """The instances file whose polylines ``polylines`` holds (inverse of ``polylines_path``)."""
    return polylines.with_name("instances" + polylines.name[len("polylines"):])


def _read_coco_polylines(path: Path, images: list[dict], by_id: dict, taken: set[int]) -> tuple[CategoryInfo, ...]:
    """Add the polylines of the ``polylines*.json`` beside an instances file (written by
    synthgen's COCO export) to the images; returns their categories."""
    if not path.is_file():
        return ()
    data = load_json(path)
    if not isinstance(data, dict) or not all(isinstance(data.get(k), list) for k in ("images", "annotations", "categories")):
        raise InputError(f"{path}: not a synthgen polylines file (needs lists 'images', 'annotations', 'categories')")
    names = {entry.get("id"): entry.get("file_name") for entry in images}
    for position, entry in enumerate(data["images"]):
        if names.get(entry.get("id"), object()) != entry.get("file_name"):
            raise InputError(f"{path}: images[{position}] (id {entry.get('id')}) does not match the instances file "
                             "beside it; export the dataset again")
    categories = tuple(CategoryInfo(int(c["id"]), str(c["name"]), kind="polyline") for c in data["categories"])
    clashes = sorted({c.id for c in categories} & taken)
    if clashes:
        raise InputError(f"{path}: category ids {clashes} are also object categories of the instances file")
    by_category = {c.id: c for c in categories}
    for position, entry in enumerate(data["annotations"]):
        where = f"{path}: annotations[{position}] (id {entry.get('id')})"
        category = by_category.get(entry.get("category_id"))
        if category is None:
            raise InputError(f"{where}: category_id {entry.get('category_id')!r} is not declared in 'categories'")
        if entry.get("image_id") not in by_id:
            raise InputError(f"{where}: image_id {entry.get('image_id')!r} is not in 'images'")
        by_id[entry["image_id"]].polylines.append(_coco_polyline(entry, category, where))
    return categories


def _coco_image_root(path: Path) -> Path:
    folder = path.parent
    for candidate in (folder / "images", folder.parent / "images" if folder.name == "annotations" else None):
        if candidate is not None and candidate.is_dir():
            return candidate
    return folder


def _coco_object(entry: dict, category: CategoryInfo, image: LabeledImage, where: str) -> LabeledObject:
    try:
        x, y, w, h = (float(v) for v in entry["bbox"])
    except (KeyError, TypeError, ValueError):
        raise InputError(f"{where}: 'bbox' must be [x, y, width, height]") from None
    box = np.array([x, y, x + w, y + h])
    _check_box(box, image.width, image.height, where)
    segmentation = entry.get("segmentation")
    rle = None
    if isinstance(segmentation, list) and segmentation:
        rle = _polygons_to_rle(segmentation, image.width, image.height)
    elif isinstance(segmentation, dict) and "counts" in segmentation:
        counts = segmentation["counts"]
        if isinstance(counts, list):  # uncompressed RLE
            segmentation = mask_utils.frPyObjects(segmentation, *segmentation["size"])
            counts = segmentation["counts"]
        rle = {"size": list(segmentation["size"]), "counts": counts if isinstance(counts, str) else counts.decode("ascii")}
    keypoints = np.zeros((0, 3))
    if category.keypoint_names and entry.get("keypoints"):
        keypoints = np.asarray(entry["keypoints"], dtype=np.float64).reshape(-1, 3)
        if len(keypoints) != len(category.keypoint_names):
            raise InputError(f"{where}: {len(keypoints)} keypoints but category {category.name!r} declares "
                             f"{len(category.keypoint_names)}")
        keypoints[keypoints[:, 2] > 0, :2] += 0.5  # COCO's pixel-index convention -> continuous
    extra = {key: entry[key] for key in ("amodal_bbox", "occlusion", "truncation", "cuboid", "pose", "iscrowd")
             if key in entry}
    if "amodal_bbox" in extra:
        ax, ay, aw, ah = extra["amodal_bbox"]
        extra["amodal_bbox"] = [ax, ay, ax + aw, ay + ah]
    return LabeledObject(category.id, box, rle, keypoints, float(entry.get("area", w * h)), extra)


# YOLO ---------------------------------------------------------------------------------


def read_yolo(data_yaml: str | Path, name: str | None = None) -> LabeledDataset:
    """Read an ultralytics YOLO dataset (detect, segment or pose lines, found per line).

    Args:
        data_yaml: The dataset's ``data.yaml`` (``path``, ``train``/``val``/``test``
            image folders, ``names``, and ``kpt_shape`` for pose).
        name: Dataset name (default: the folder name).
    """
    path = Path(data_yaml)
    try:
        config = yaml.safe_load(path.read_text())
    except FileNotFoundError:
        raise InputError(f"{path}: not found") from None
    except yaml.YAMLError as error:
        raise InputError(f"{path}: malformed YAML ({error})") from error
    if not isinstance(config, dict) or "names" not in config:
        raise InputError(f"{path}: needs 'names' and image folders ('train', 'val', 'test')")
    root = path.parent  # a data.yaml's own folder: its 'path' may point elsewhere on the writer's machine
    names = config["names"]
    names = dict(enumerate(names)) if isinstance(names, list) else {int(k): str(v) for k, v in names.items()}
    keypoint_count = int(config["kpt_shape"][0]) if config.get("kpt_shape") else 0
    keypoint_names = tuple(config.get("kpt_names") or (f"kp{i}" for i in range(keypoint_count)))
    categories = tuple(CategoryInfo(i + 1, names[i], keypoint_names) for i in sorted(names))
    images, seen = [], set()
    for split in ("train", "val", "test"):
        folder_value = config.get(split)
        if not folder_value:
            continue
        folder = _inside(root, str(folder_value), f"{path}: {split}")
        if not folder.is_dir():
            raise InputError(f"{path}: {split}: image folder {str(folder)!r} is missing")
        if folder in seen:
            continue  # val may repeat train
        seen.add(folder)
        labels = Path(str(folder).replace(f"{os.sep}images{os.sep}", f"{os.sep}labels{os.sep}").replace(
            f"{os.sep}images", f"{os.sep}labels", 1) if (os.sep + "images") in str(folder) else folder)
        for file in sorted(p for p in folder.iterdir() if p.suffix.lower() in (".png", ".jpg", ".jpeg", ".bmp")):
            width, height = _image_size(file, f"{path}: {split}")
            image = LabeledImage(index=len(images), path=file.resolve(), width=width, height=height, split=split,
                                 source={"kind": "real", "dataset": name or root.name, "original_id": file.stem})
            label = labels / f"{file.stem}.txt"
            if label.is_file():
                image.objects = _yolo_objects(label, image, names, keypoint_count)
            images.append(image)
    return LabeledDataset(name or root.name, categories, images)


def _yolo_objects(label: Path, image: LabeledImage, names: dict, keypoint_count: int) -> list[LabeledObject]:
    objects = []
    width, height = image.width, image.height
    for number, line in enumerate(label.read_text().splitlines(), start=1):
        where = f"{label}:{number}"
        if not line.strip():
            continue
        try:
            values = [float(v) for v in line.split()]
        except ValueError:
            raise InputError(f"{where}: malformed line {line!r}; expected numbers") from None
        class_index = values[0]
        if class_index != int(class_index) or int(class_index) not in names:
            raise InputError(f"{where}: class {values[0]:g} is not declared in names ({sorted(names)})")
        numbers = np.array(values[1:])
        keypoints = np.zeros((0, 3))
        rle = None
        if keypoint_count and len(numbers) == 4 + 3 * keypoint_count:
            keypoints = numbers[4:].reshape(-1, 3) * [width, height, 1]
            coordinates = np.concatenate([numbers[:4], numbers[4:].reshape(-1, 3)[:, :2].ravel()])
            numbers = numbers[:4]
        else:
            coordinates = numbers
        if np.any((coordinates < 0) | (coordinates > 1)):
            raise InputError(f"{where}: coordinates must be normalised to [0, 1]; the box lies outside the image")
        if len(numbers) == 4:
            cx, cy, w, h = numbers
            box = np.array([(cx - w / 2) * width, (cy - h / 2) * height, (cx + w / 2) * width, (cy + h / 2) * height])
        elif len(numbers) >= 6 and len(numbers) % 2 == 0:
            polygon = numbers.reshape(-1, 2) * [width, height]
            box = np.concatenate([polygon.min(axis=0), polygon.max(axis=0)])
            rle = _polygons_to_rle([polygon.ravel().tolist()], width, height)
        else:
            raise InputError(f"{where}: {len(values)} values; expected class + 4 (detect), + 4 + 3*K (pose) "
                             "or + an even number >= 6 (segment)")
        _check_box(box, width, height, where)
        area = float(mask_utils.area(rle)) if rle else float((box[2] - box[0]) * (box[3] - box[1]))
        objects.append(LabeledObject(int(class_index) + 1, box, rle, keypoints, area))
    return objects


# Pascal VOC ---------------------------------------------------------------------------


def _text(node: ET.Element, tag: str, where: str) -> str:
    child = node.find(tag)
    if child is None or child.text is None:
        raise InputError(f"{where}: missing <{tag}>")
    return child.text.strip()


def read_voc(root: str | Path, name: str | None = None) -> LabeledDataset:
    """Read a Pascal VOC folder (``Annotations/*.xml``, ``JPEGImages/``, optional ``ImageSets/Main/*.txt``).

    Categories are the object names in sorted order (ids 1..). Boxes convert from VOC's
    1-based inclusive pixel indices: ``x0 = xmin - 1``, ``x1 = xmax``.
    """
    root = Path(root)
    annotations = sorted((root / "Annotations").glob("*.xml"))
    if not annotations:
        raise InputError(f"{root}: no Annotations/*.xml; is this a Pascal VOC folder?")
    splits = {}
    for split_file in sorted((root / "ImageSets" / "Main").glob("*.txt")):
        if split_file.stem in ("train", "val", "test", "trainval"):
            for stem in split_file.read_text().split():
                splits.setdefault(stem, "train" if split_file.stem == "trainval" else split_file.stem)
    parsed = []
    for file in annotations:
        try:
            parsed.append((file, ET.parse(file).getroot()))
        except ET.ParseError as error:
            raise InputError(f"{file}: malformed XML ({error})") from error
    names = sorted({_text(obj, "name", str(file)) for file, tree in parsed for obj in tree.findall("object")})
    categories = tuple(CategoryInfo(i + 1, n) for i, n in enumerate(names))
    ids = {n: i + 1 for i, n in enumerate(names)}
    images = []
    for file, tree in parsed:
        where = str(file)
        image_path = _existing_image(root / "JPEGImages", _text(tree, "filename", where), where)
        size = tree.find("size")
        if size is None:
            raise InputError(f"{where}: missing <size>")
        width, height = int(_text(size, "width", where)), int(_text(size, "height", where))
        image = LabeledImage(index=len(images), path=image_path.resolve(), width=width, height=height,
                             split=splits.get(file.stem, "train"),
                             source={"kind": "real", "dataset": name or root.name, "original_id": file.stem})
        for k, obj in enumerate(tree.findall("object")):
            box_node = obj.find("bndbox")
            if box_node is None:
                raise InputError(f"{where}: object {k}: missing <bndbox>")
            try:
                xmin, ymin, xmax, ymax = (float(_text(box_node, tag, f"{where}: object {k}"))
                                          for tag in ("xmin", "ymin", "xmax", "ymax"))
            except ValueError:
                raise InputError(f"{where}: object {k}: bndbox values must be numbers") from None
            box = np.array([xmin - 1, ymin - 1, xmax, ymax])
            _check_box(box, width, height, f"{where}: object {k}")
            extra = {"truncation": float(obj.findtext("truncated", "0") or 0),
                     "occlusion": float(obj.findtext("occluded", "0") or 0)}
            image.objects.append(LabeledObject(ids[_text(obj, "name", where)], box,
                                               area=float((box[2] - box[0]) * (box[3] - box[1])), extra=extra))
        images.append(image)
    return LabeledDataset(name or root.name, categories, images)


# Label Studio -------------------------------------------------------------------------


def _task_image(value: str, root: Path, where: str) -> Path:
    if value.startswith("/data/local-files/"):
        query = parse_qs(urlparse(value).query)
        if "d" not in query:
            raise InputError(f"{where}: image {value!r} has no d= path")
        return _existing_image(root, unquote(query["d"][0]), where)
    if "://" in value:
        raise InputError(f"{where}: image {value!r} is a URL; download the images and point tasks at local files")
    return _existing_image(root, value, where)


def read_labelstudio(tasks_json: str | Path, name: str | None = None) -> LabeledDataset:
    """Read Label Studio tasks (JSON export or import format) with their annotations.

    The first annotation of a task is read (predictions when it has none):
    ``rectanglelabels`` give objects; a ``polygonlabels`` region gives the mask of the
    object whose region id it shares up to its suffix (as synthgen writes them) or, else,
    of the same-label box that contains it; ``keypointlabels`` attach likewise. Image
    paths are relative to the tasks file's folder (``/data/local-files/?d=...`` too).
    """
    path = Path(tasks_json)
    tasks = load_json(path)
    if not isinstance(tasks, list):
        raise InputError(f"{path}: must be a list of Label Studio tasks")
    root = path.parent
    _unique([t.get("id") for t in tasks if isinstance(t, dict) and t.get("id") is not None], "task id", str(path))
    labels: list[str] = _configured_labels(root / "labeling_config.xml")
    keypoint_labels: dict[str, list[str]] = {}
    images = []
    for position, task in enumerate(tasks):
        where = f"{path}: task[{position}]"
        if not isinstance(task, dict) or not isinstance(task.get("data"), dict) or "image" not in task["data"]:
            raise InputError(f"{where}: needs data.image")
        file = _task_image(str(task["data"]["image"]), root, where)
        width, height = _image_size(file, where)
        results = (task.get("annotations") or task.get("predictions") or [{}])[0].get("result", [])
        image = LabeledImage(index=position, path=file.resolve(), width=width, height=height,
                             split=str(task["data"].get("split", "train")),
                             source={"kind": "real", "dataset": name or root.name,
                                     "original_id": task.get("id", position)})
        image.objects = _labelstudio_objects(results, image, labels, keypoint_labels, where)
        images.append(image)
    categories = tuple(CategoryInfo(i + 1, label, tuple(keypoint_labels.get(label, ()))) for i, label in enumerate(labels))
    for image in images:
        for obj in image.objects:
            names = keypoint_labels.get(labels[obj.category_id - 1], [])
            points = np.zeros((len(names), 3))
            for keypoint_name, (x, y, v) in obj.extra.pop("_keypoints", {}).items():
                points[names.index(keypoint_name)] = (x, y, v)
            obj.keypoints = points
    return LabeledDataset(name or root.name, categories, images)


def _configured_labels(config: Path) -> list[str]:
    """Box labels in the order of the project's labeling config, when it is next to the tasks."""
    if not config.is_file():
        return []
    try:
        view = ET.parse(config).getroot()
    except ET.ParseError as error:
        raise InputError(f"{config}: malformed XML ({error})") from error
    control = view.find("RectangleLabels")
    return [] if control is None else [label.get("value") for label in control.findall("Label")]


def _labelstudio_objects(results, image, labels, keypoint_labels, where) -> list[LabeledObject]:
    width, height = image.width, image.height
    objects, region_of = [], {}
    for k, result in enumerate(results):
        value = result.get("value", {})
        if result.get("type") != "rectanglelabels":
            continue
        label = value["rectanglelabels"][0]
        if label not in labels:
            labels.append(label)
        box = np.array([value["x"] * width / 100, value["y"] * height / 100,
                        (value["x"] + value["width"]) * width / 100, (value["y"] + value["height"]) * height / 100])
        _check_box(box, width, height, f"{where}: result[{k}]")
        obj = LabeledObject(labels.index(label) + 1, box, area=float((box[2] - box[0]) * (box[3] - box[1])),
                            extra={"_keypoints": {}})
        objects.append(obj)
        region_of[str(result.get("id", "")).rsplit("-", 1)[0]] = obj
    for k, result in enumerate(results):
        value = result.get("value", {})
        kind = result.get("type")
        if kind not in ("polygonlabels", "keypointlabels"):
            continue
        if kind == "polygonlabels":
            points = np.asarray(value["points"], dtype=np.float64) * [width / 100, height / 100]
            owner = _owner(region_of, result, objects, points, labels, value["polygonlabels"][0])
            if owner is not None:
                owner.segmentation = _polygons_to_rle([points.ravel().tolist()], width, height)
                owner.area = float(mask_utils.area(owner.segmentation))
            continue
        point = np.array([[value["x"] * width / 100, value["y"] * height / 100]])
        owner = _owner(region_of, result, objects, point, labels, None)
        if owner is None:
            continue
        name = value["keypointlabels"][0]
        names = keypoint_labels.setdefault(labels[owner.category_id - 1], [])
        if name not in names:
            names.append(name)
        visibility = 1 if "occluded" in (result.get("meta") or {}).get("text", []) else 2
        owner.extra["_keypoints"][name] = (point[0, 0], point[0, 1], visibility)
    return objects


def _owner(region_of, result, objects, points, labels, label):
    key = str(result.get("id", "")).rsplit("-", 1)[0]
    if key in region_of:
        return region_of[key]
    for obj in objects:
        if label is not None and labels[obj.category_id - 1] != label:
            continue
        x0, y0, x1, y1 = obj.bbox
        if np.all((points[:, 0] >= x0 - 1) & (points[:, 0] <= x1 + 1) & (points[:, 1] >= y0 - 1) & (points[:, 1] <= y1 + 1)):
            return obj
    return None


# Any dataset --------------------------------------------------------------------------


def detect_format(path: str | Path) -> str:
    """The format of a dataset path: ``synthgen``, ``coco``, ``yolo``, ``voc`` or ``labelstudio``."""
    path = Path(path)
    if path.is_dir():
        if (path / MANIFEST).is_file():
            return "synthgen"
        if (path / "data.yaml").is_file():
            return "yolo"
        if (path / "Annotations").is_dir():
            return "voc"
        if (path / "tasks.json").is_file():
            return "labelstudio"
        if list(path.glob("*.json")) or list(path.glob("annotations/*.json")):
            return "coco"
    elif path.suffix in (".yaml", ".yml"):
        return "yolo"
    elif path.suffix == ".json":
        data = load_json(path)
        return "labelstudio" if isinstance(data, list) else "coco"
    raise InputError(f"{path}: not a dataset synthgen can read (synthgen, COCO, YOLO, VOC, Label Studio); "
                     "pass format= explicitly")


def _coco_file(path: Path) -> Path:
    if path.is_file():
        return path
    candidates = sorted(path.glob("*.json")) + sorted(path.glob("annotations/*.json"))
    # A polylines file is read with the instances file beside it, not on its own.
    candidates = [c for c in candidates if not (c.name.startswith("polylines") and polylines_path_owner(c).is_file())]
    if len(candidates) != 1:
        raise InputError(f"{path}: expected one COCO JSON file, found {[c.name for c in candidates]}; "
                         "pass the file itself")
    return candidates[0]


def read_dataset(path: str | Path, format: str = "auto", name: str | None = None) -> LabeledDataset:
    """Read any supported dataset (``format``: auto, synthgen, coco, yolo, voc, labelstudio)."""
    path = Path(path).expanduser()
    if not path.exists():
        raise InputError(f"{path}: not found")
    kind = detect_format(path) if format == "auto" else format
    if kind not in READ_FORMATS:
        raise InputError(f"format={format!r}: must be auto or one of {list(READ_FORMATS)}")
    if kind == "synthgen":
        return open_store(path)
    if kind == "coco":
        return read_coco(_coco_file(path), name=name)
    if kind == "yolo":
        return read_yolo(path if path.is_file() else path / "data.yaml", name=name)
    if kind == "voc":
        return read_voc(path, name=name)
    return read_labelstudio(path if path.is_file() else path / "tasks.json", name=name)
