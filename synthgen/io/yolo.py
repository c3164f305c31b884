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
from pycocotools import mask as mask_utils

from synthgen.core import CategoryInfo, mirror_permutation
from synthgen.core.errors import InputError
from synthgen.core.validation import check_choice
from synthgen.io.dataset import LabeledDataset, LabeledImage, LabeledObject
from synthgen.io.export_files import StoreExporter, place_image
from synthgen.io.format_spec import Format
from synthgen.io.input_checks import (
    ReaderLimits,
    check_box,
    check_unique,
    contained,
    dataset_path,
    guarded_reader,
    image_file,
    integer,
    keypoint_array,
    load_yaml,
    polygons_rle,
    read_text,
    text,
)
from synthgen.io.input_checks import (
    keypoint_names as keypoint_names_of,
)
from synthgen.io.polygons import largest_polygon

__all__ = ["export_yolo", "label_path", "read_yolo", "YoloExporter", "FORMAT"]

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


@guarded_reader
def read_yolo(data_yaml: str | Path, name: str | None = None) -> LabeledDataset:
    """Read an ultralytics YOLO dataset (detect, segment or pose lines, found per line).

    Label files are found as ultralytics finds them: the image path with its last
    ``/images/`` folder replaced by ``/labels/`` and the suffix by ``.txt`` (next to the
    image when the path has no ``images`` folder).

    Args:
        data_yaml: The dataset's ``data.yaml`` (``path``, ``train``/``val``/``test``
            image folders, ``names``, and ``kpt_shape`` for pose).
        name: Dataset name (default: the folder name).

    Raises:
        InputError: Anything malformed; the message names the file and line.
    """
    path = Path(data_yaml)
    config = load_yaml(path)
    if not isinstance(config, dict) or "names" not in config:
        raise InputError(f"{path}: needs 'names' and image folders ('train', 'val', 'test')")
    root = path.parent  # a data.yaml's own folder: its 'path' may point elsewhere on the writer's machine
    names = _class_names(config["names"], f"{path}: names")
    keypoint_count, dimensions = _keypoint_shape(config.get("kpt_shape"), f"{path}: kpt_shape")
    keypoint_names = _keypoint_names(config.get("kpt_names"), keypoint_count, f"{path}: kpt_names")
    if len(keypoint_names) != keypoint_count:
        raise InputError(f"{path}: kpt_names lists {len(keypoint_names)} names but kpt_shape declares {keypoint_count}")
    categories = tuple(CategoryInfo(i + 1, names[i], keypoint_names) for i in sorted(names))
    images, seen = [], set()
    for split in ("train", "val", "test"):
        folder_value = config.get(split)
        if not folder_value:
            continue
        folder = dataset_path(root, text(folder_value, f"{path}: {split}"), f"{path}: {split}")
        if not folder.is_dir():
            raise InputError(f"{path}: {split}: image folder {str(folder)!r} is missing")
        if folder in seen:
            continue  # val may repeat train
        seen.add(folder)
        for file in sorted(p for p in folder.iterdir() if p.suffix.lower() in (".png", ".jpg", ".jpeg", ".bmp")):
            checked = image_file(root, file, f"{path}: {split}")
            image = LabeledImage(index=len(images), path=checked.path, width=checked.width, height=checked.height,
                                 split=split, source={"kind": "real", "dataset": name or root.name,
                                                      "original_id": file.stem})
            label = label_path(folder / file.name)
            if label.is_file():
                contained(root, label, str(label))
                image.objects = _yolo_objects(label, image, names, keypoint_count, dimensions)
            images.append(image)
    return LabeledDataset(name or root.name, categories, images)


def label_path(image: Path) -> Path:
    """The label file of an image, by ultralytics' rule: the last ``/images/`` of the path
    becomes ``/labels/`` (only that one: a dataset may sit below another ``images`` folder),
    the suffix ``.txt``."""
    images, labels = f"{os.sep}images{os.sep}", f"{os.sep}labels{os.sep}"
    head, found, tail = str(image).rpartition(images)
    return Path((head + labels + tail) if found else str(image)).with_suffix(".txt")


def _class_names(names, where: str) -> dict[int, str]:
    """``names`` as a list or a {index: name} mapping, indices from 0."""
    if isinstance(names, list):
        names = dict(enumerate(names))
    if not isinstance(names, dict) or not names:
        raise InputError(f"{where}: must be a list of class names or a mapping {{0: name, ...}}, got {names!r}"[:200])
    checked = {integer(index, f"{where}: key {index!r}", 0): str(value) if isinstance(value, int) and not isinstance(value, bool)
               else text(value, f"{where}[{index}]") for index, value in names.items()}
    check_unique(list(checked.values()), "class name", where)
    return checked


def _keypoint_names(names, count: int, where: str) -> tuple[str, ...]:
    """``kpt_names`` as a list, or per class ({0: [...], ...}: every class shares kpt_shape, so
    the first class's list); ``kp0, kp1, ...`` when absent."""
    if not names:
        return tuple(f"kp{i}" for i in range(count))
    if isinstance(names, dict):
        names = names[min(names, key=str)]
    return keypoint_names_of(names, where)


def _keypoint_shape(shape, where: str) -> tuple[int, int]:
    """``kpt_shape: [K, 2 | 3]`` as (K, dimensions); no pose (0, 3) when absent."""
    if shape is None:
        return 0, 3
    if not isinstance(shape, list) or len(shape) != 2:
        raise InputError(f"{where}: must be [keypoints, 2 or 3], got {shape!r}"[:200])
    limit = ReaderLimits.current().max_keypoints
    count = integer(shape[0], f"{where}[0]", 1)
    if count > limit:
        raise InputError(f"{where}: {count} keypoints, over the limit of {limit} "
                         "(raise it with SYNTHGEN_MAX_KEYPOINTS if the dataset is real)")
    return count, integer(shape[1], f"{where}[1]", 2, 3)


def _yolo_objects(label: Path, image: LabeledImage, names: dict, keypoint_count: int,
                  dimensions: int) -> list[LabeledObject]:
    objects = []
    width, height = image.width, image.height
    for number, line in enumerate(read_text(label).splitlines(), start=1):
        where = f"{label}:{number}"
        if not line.strip():
            continue
        try:
            values = [float(v) for v in line.split()]
        except ValueError:
            raise InputError(f"{where}: malformed line {line!r}"[:200] + "; expected numbers") from None
        if not np.isfinite(values).all():
            raise InputError(f"{where}: NaN or infinite values in {line!r}"[:200])
        class_index = values[0]
        if class_index != int(class_index) or int(class_index) not in names:
            raise InputError(f"{where}: class {values[0]:g} is not declared in names ({sorted(names)})"[:300])
        numbers = np.array(values[1:])
        keypoints = np.zeros((0, 3))
        rle = None
        if keypoint_count and len(numbers) == 4 + dimensions * keypoint_count:
            points = numbers[4:].reshape(-1, dimensions)
            coordinates = np.concatenate([numbers[:4], points[:, :2].ravel()])
            keypoints = keypoint_array((points * [width, height, 1][:dimensions]).ravel().tolist(), keypoint_count,
                                       width, height, f"{where}: keypoints", dimensions)
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
            check_box(box, width, height, where)
            rle = polygons_rle([polygon.ravel().tolist()], where, width, height)
        else:
            raise InputError(f"{where}: {len(values)} values; expected class + 4 (detect), + 4 + {dimensions}*K (pose) "
                             "or + an even number >= 6 (segment)")
        check_box(box, width, height, where)
        area = float(mask_utils.area(rle)) if rle else float((box[2] - box[0]) * (box[3] - box[1]))
        objects.append(LabeledObject(int(class_index) + 1, box, rle, keypoints, area))
    return objects


def _is_yolo(path: Path) -> bool:
    return (path / "data.yaml").is_file() if path.is_dir() else path.suffix in (".yaml", ".yml")


FORMAT = Format("yolo", "Ultralytics YOLO detect | segment | pose (task=)",
                read=lambda path, name: read_yolo(path if path.is_file() else path / "data.yaml", name=name),
                detect=_is_yolo)
