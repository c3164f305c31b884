"""YOLO export (ultralytics layout): detect, segment and pose.

Layout::

    data.yaml                  train/val/test image folders (relative to it), names (+ kpt_shape, flip_idx)
    images/<split>/<stem>.png
    labels/<split>/<stem>.txt  one line per object, coordinates normalised to [0, 1]

Lines: ``detect``: ``class cx cy w h``; ``segment``: ``class x1 y1 x2 y2 ...`` (the
outline of the mask's largest part along pixel edges; the box's corners when there is
no mask); ``pose``: ``class cx cy w h x1 y1 v1 ...`` with COCO visibility, every class
padded to the largest keypoint count (ultralytics needs one ``kpt_shape``). Classes
are the dataset's object categories in order, from 0; polyline categories are left out.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import yaml
from pycocotools import mask as mask_utils

from synthgen.core import CategoryInfo, mirror_permutation
from synthgen.core.errors import InputError
from synthgen.core.validation import check_choice
from synthgen.io.dataset import LabeledDataset, LabeledImage, LabeledObject
from synthgen.io.export_files import StoreExporter, place_image
from synthgen.io.input_checks import (
    check_box,
    image_size,
    inside_root,
    polygons_to_rle,
)
from synthgen.io.polygons import largest_polygon

__all__ = ["export_yolo", "read_yolo", "YoloExporter"]

TASKS = ("detect", "segment", "pose")


def _number(value: float) -> str:
    return f"{min(max(value, 0.0), 1.0):.6f}"


def _box(obj: LabeledObject, width: int, height: int) -> list[str]:
    x0, y0, x1, y1 = obj.bbox
    return [_number((x0 + x1) / 2 / width), _number((y0 + y1) / 2 / height),
            _number((x1 - x0) / width), _number((y1 - y0) / height)]


def _line(task: str, obj: LabeledObject, image: LabeledImage, class_index: int, keypoint_count: int) -> str:
    width, height = image.width, image.height
    if task == "detect":
        return " ".join([str(class_index), *_box(obj, width, height)])
    if task == "segment":
        polygon = largest_polygon(obj.segmentation) if obj.segmentation else None
        if polygon is None:
            x0, y0, x1, y1 = obj.bbox
            polygon = [x0, y0, x1, y0, x1, y1, x0, y1]
        coordinates = [_number(v / (width if i % 2 == 0 else height)) for i, v in enumerate(polygon)]
        return " ".join([str(class_index), *coordinates])
    points = np.zeros((keypoint_count, 3))
    points[:len(obj.keypoints)] = np.nan_to_num(obj.keypoints)
    flat = []
    for x, y, v in points:
        flat += ["0", "0", "0"] if v == 0 else [_number(x / width), _number(y / height), str(int(v))]
    return " ".join([str(class_index), *_box(obj, width, height), *flat])


def export_yolo(dataset: LabeledDataset, out: str | Path, task: str = "detect") -> Path:
    """Write a dataset in the ultralytics YOLO layout.

    Args:
        dataset: The dataset (splits from ``LabeledImage.split``).
        out: An empty output folder.
        task: ``detect``, ``segment`` or ``pose``.

    Returns:
        The path of ``data.yaml``.

    Raises:
        InputError: ``pose`` on a dataset whose categories have no keypoints.
    """
    check_choice("task", task, TASKS)
    out = Path(out)
    classes = [c for c in dataset.categories if c.kind == "object"]
    index_of = {c.id: i for i, c in enumerate(classes)}
    keypoint_count = max((len(c.keypoint_names) for c in classes), default=0)
    if task == "pose" and keypoint_count == 0:
        raise InputError(f"{dataset.name}: task=pose needs categories with keypoints; use task=detect or segment")
    splits = set()
    for image in dataset.images:
        stem = f"{image.index:06d}"
        place_image(image.path, out / "images" / image.split / f"{stem}{image.path.suffix}")
        lines = [_line(task, obj, image, index_of[obj.category_id], keypoint_count)
                 for obj in image.objects if obj.category_id in index_of]
        label = out / "labels" / image.split / f"{stem}.txt"
        label.parent.mkdir(parents=True, exist_ok=True)
        label.write_text("".join(line + "\n" for line in lines))
        splits.add(image.split)
    # ultralytics needs train and val; a dataset with one split uses it for both.
    train = "train" if "train" in splits or not splits else sorted(splits)[0]
    val = "val" if "val" in splits else "test" if "test" in splits else train  # held-out data when there is some
    # No `path:`: ultralytics then resolves the folders against data.yaml's own folder, so
    # the export can move (and is byte-identical wherever it is written).
    yaml_lines = [f"train: images/{train}", f"val: images/{val}"]
    if "test" in splits:
        yaml_lines.append("test: images/test")
    yaml_lines.append("names:")
    yaml_lines += [f"  {i}: {c.name}" for i, c in enumerate(classes)]
    if task == "pose":
        yaml_lines.append(f"kpt_shape: [{keypoint_count}, 3]")
        flips = [c for c in classes if len(c.keypoint_names) == keypoint_count]
        flip = mirror_permutation(flips[0]).tolist() if flips else list(range(keypoint_count))
        yaml_lines.append(f"flip_idx: {flip}")
        if flips:
            yaml_lines.append(f"kpt_names: [{', '.join(flips[0].keypoint_names)}]")
    data_yaml = out / "data.yaml"
    data_yaml.write_text("\n".join(yaml_lines) + "\n")
    return data_yaml


class YoloExporter(StoreExporter):
    """Config node for the YOLO export (``export=[yolo]``; writes ``<out>/exports/yolo_<task>``).

    Args:
        task: ``detect``, ``segment`` or ``pose``.
    """

    def __init__(self, task: str = "detect"):
        self.task = check_choice("task", task, TASKS)
        self.folder = f"yolo_{task}"

    def write(self, dataset: LabeledDataset, out: Path) -> Path:
        return export_yolo(dataset, out, self.task)


# Reader -----------------------------------------------------------------------


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
        folder = inside_root(root, str(folder_value), f"{path}: {split}")
        if not folder.is_dir():
            raise InputError(f"{path}: {split}: image folder {str(folder)!r} is missing")
        if folder in seen:
            continue  # val may repeat train
        seen.add(folder)
        labels = Path(str(folder).replace(f"{os.sep}images{os.sep}", f"{os.sep}labels{os.sep}").replace(
            f"{os.sep}images", f"{os.sep}labels", 1) if (os.sep + "images") in str(folder) else folder)
        for file in sorted(p for p in folder.iterdir() if p.suffix.lower() in (".png", ".jpg", ".jpeg", ".bmp")):
            width, height = image_size(file, f"{path}: {split}")
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
            rle = polygons_to_rle([polygon.ravel().tolist()], width, height)
        else:
            raise InputError(f"{where}: {len(values)} values; expected class + 4 (detect), + 4 + 3*K (pose) "
                             "or + an even number >= 6 (segment)")
        check_box(box, width, height, where)
        area = float(mask_utils.area(rle)) if rle else float((box[2] - box[0]) * (box[3] - box[1]))
        objects.append(LabeledObject(int(class_index) + 1, box, rle, keypoints, area))
    return objects
