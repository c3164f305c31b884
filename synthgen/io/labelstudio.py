"""Label Studio export: tasks with pre-annotations, and gold-standard tasks for annotator QA.

Layout::

    tasks.json               Label Studio tasks (import them in the project's Data Manager)
    labeling_config.xml      the project's labeling interface: boxes, outlines, keypoints
    images/<stem>.<ext>      the images; tasks point at /data/local-files/?d=images/<stem>.<ext>

Serve the images with Label Studio's local file storage: start it with
``LABEL_STUDIO_LOCAL_FILES_SERVING_ENABLED=true`` and
``LABEL_STUDIO_LOCAL_FILES_DOCUMENT_ROOT`` set to the export folder, and add a Local
Storage for the export's ``images/`` folder to the project (a storage path must lie below
the document root; the root itself is refused); until then image URLs answer 404 (README:
"Label Studio"). Tasks are written one at a time. Each object becomes a
``rectanglelabels`` region, an outline ``polygonlabels`` region when it has a mask, and
``keypointlabels`` regions for its labeled keypoints (occluded ones carry the region
meta text ``occluded``), in percent of the image size as Label Studio stores them.
``labelstudio`` writes them as ``predictions`` (pre-annotations for humans to review);
``gold`` writes them as ``annotations`` with ``ground_truth: true`` and can mix them into
an existing queue of human tasks at a chosen rate, to measure annotators against exact
labels. Polylines have no Label Studio tool and are left out.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlparse

import numpy as np
from pycocotools import mask as mask_utils

from synthgen.core import CategoryInfo
from synthgen.core.errors import InputError
from synthgen.core.validation import check_number
from synthgen.io.dataset import LabeledDataset, LabeledImage, LabeledObject
from synthgen.io.export_files import StoreExporter, place_image
from synthgen.io.files import write_json_list_streamed
from synthgen.io.format_spec import Format
from synthgen.io.input_checks import (
    ImageFile,
    check_box,
    check_unique,
    contained,
    field,
    guarded_reader,
    image_file,
    integer,
    listing,
    load_json,
    mapping,
    number,
    numbers,
    polygons_rle,
    read_text,
    text,
)
from synthgen.io.polygons import largest_polygon

__all__ = ["annotation_objects", "export_gold", "export_labelstudio", "GoldExporter", "labeling_config",
           "labelstudio_regions", "LabelStudioExporter",
           "read_labelstudio", "FORMAT", "GOLD_FORMAT"]


def _percent(value: float, size: int) -> float:
    return float(np.clip(value / size * 100.0, 0.0, 100.0))


def labelstudio_regions(image: LabeledImage, dataset: LabeledDataset) -> list[dict]:
    """An image's objects as Label Studio regions (percent of the image size).

    Each object gives a ``rectanglelabels`` box, a ``polygonlabels`` outline when it has a
    mask and ``keypointlabels`` for its labeled keypoints; an object with a ``score``
    (a model's confidence) passes it on as every one of its regions' ``score``.
    """
    width, height = image.width, image.height
    common = {"to_name": "image", "original_width": width, "original_height": height, "image_rotation": 0}
    regions = []
    for k, obj in enumerate(image.objects):
        category = dataset.category(obj.category_id)
        if category.kind != "object":
            continue
        first = len(regions)
        x0, y0, x1, y1 = obj.bbox
        regions.append({**common, "id": f"{image.index}-{k}-box", "from_name": "box", "type": "rectanglelabels",
                        "value": {"x": _percent(x0, width), "y": _percent(y0, height),
                                  "width": _percent(x1 - x0, width), "height": _percent(y1 - y0, height),
                                  "rotation": 0, "rectanglelabels": [category.name]}})
        polygon = largest_polygon(obj.segmentation) if obj.segmentation else None
        if polygon is not None:
            points = [[_percent(x, width), _percent(y, height)] for x, y in zip(polygon[0::2], polygon[1::2])]
            regions.append({**common, "id": f"{image.index}-{k}-outline", "from_name": "outline",
                            "type": "polygonlabels", "value": {"points": points, "polygonlabels": [category.name]}})
        for j, (x, y, v) in enumerate(obj.keypoints):
            if v > 0:
                region = {**common, "id": f"{image.index}-{k}-kp{j}", "from_name": "keypoint",
                          "type": "keypointlabels",
                          "value": {"x": _percent(x, width), "y": _percent(y, height), "width": 0.5,
                                    "keypointlabels": [category.keypoint_names[j]]}}
                if v == 1:
                    region["meta"] = {"text": ["occluded"]}
                regions.append(region)
        if obj.score is not None:
            for region in regions[first:]:
                region["score"] = float(obj.score)
    return regions


def labeling_config(dataset: LabeledDataset) -> str:
    """The Label Studio labeling interface XML matching the exported regions."""
    view = ET.Element("View")
    ET.SubElement(view, "Image", name="image", value="$image")
    objects = [c for c in dataset.categories if c.kind == "object"]
    for tag, name in (("RectangleLabels", "box"), ("PolygonLabels", "outline")):
        control = ET.SubElement(view, tag, name=name, toName="image")
        for category in objects:
            ET.SubElement(control, "Label", value=category.name)
    keypoint_names = sorted({name for c in objects for name in c.keypoint_names})
    if keypoint_names:
        control = ET.SubElement(view, "KeyPointLabels", name="keypoint", toName="image")
        for name in keypoint_names:
            ET.SubElement(control, "Label", value=name)
    ET.indent(view)
    return ET.tostring(view, encoding="unicode") + "\n"


def _task(image: LabeledImage, dataset: LabeledDataset, file_name: str, gold: bool) -> dict:
    regions = labelstudio_regions(image, dataset)
    task = {"data": {"image": f"/data/local-files/?d=images/{file_name}", "synthgen_index": image.index,
                     "split": image.split, "source": image.source}}
    if gold:
        task["annotations"] = [{"result": regions, "ground_truth": True}]
    else:
        task["predictions"] = [{"model_version": "synthgen", "score": 1.0, "result": regions}]
    return task


def _tasks(dataset: LabeledDataset, out: Path, gold: bool) -> Iterator[dict]:
    """Each image placed in ``out/images`` and its task, one at a time."""
    for image in dataset.images:
        # Gold images get a name of their own: a queue exported by synthgen uses the plain names,
        # and a gold task must never share a task's image (its key) with a human one.
        file_name = f"{'gold_' if gold else ''}{image.index:06d}{image.path.suffix}"
        place_image(image.path, out / "images" / file_name)
        yield _task(image, dataset, file_name, gold)


def export_labelstudio(dataset: LabeledDataset, out: str | Path) -> Path:
    """Write Label Studio tasks with the labels as pre-annotations; returns ``tasks.json``."""
    out = Path(out)
    path = out / "tasks.json"
    (out / "labeling_config.xml").write_text(labeling_config(dataset))
    write_json_list_streamed(path, _tasks(dataset, out, gold=False))
    return path


def _read_queue(queue: str | Path) -> list[dict]:
    path = Path(queue).expanduser()
    tasks = load_json(path)
    if not isinstance(tasks, list) or not all(isinstance(t, dict) and "data" in t for t in tasks):
        raise InputError(f"queue={path}: must be a list of Label Studio tasks, each with a 'data' field")
    return tasks


def _with_local_images(tasks: list[dict], queue_root: Path, out: Path) -> Iterator[dict]:
    """The queue's tasks, each local image (``/data/local-files/?d=REL`` below the queue's folder)
    placed at ``out/REL`` too, so the mixed queue is served from one document root."""
    for task in tasks:
        value = str(task["data"].get("image", ""))
        if value.startswith("/data/local-files/"):
            relative = unquote(parse_qs(urlparse(value).query).get("d", [""])[0])
            source = (queue_root / relative).resolve()
            if relative and source.is_file() and source.is_relative_to(queue_root.resolve()):
                if (out / relative).exists():
                    raise InputError(f"queue: task image {relative!r} has the name of a gold image; rename it")
                place_image(source, out / relative)
        yield task


def export_gold(dataset: LabeledDataset, out: str | Path, rate: float = 0.1, queue: str | Path | None = None,
                seed: int = 0) -> Path:
    """Write gold-standard tasks (exact labels as ground-truth annotations) for annotator QA.

    Args:
        dataset: Synthetic dataset whose labels are the gold standard.
        out: An empty output folder.
        rate: Share of gold tasks in the written queue, 0 < rate < 1.
        queue: Label Studio tasks JSON of the human queue to mix the gold tasks into;
            None writes the gold tasks alone. Its local images (``/data/local-files/?d=``
            paths below its folder, as synthgen writes them) are placed in ``out`` too.
        seed: Seed of the gold positions in the queue.

    Returns:
        ``tasks.json``; ``gold_tasks.json`` lists which positions are gold.

    Raises:
        InputError: Too few synthetic images for the rate, or an unreadable queue.
    """
    check_number("rate", rate, minimum=0.0, maximum=1.0, exclusive_minimum=True)
    out = Path(out)
    available = len(dataset.images)
    (out / "labeling_config.xml").write_text(labeling_config(dataset))
    gold = _tasks(dataset, out, gold=True)
    if queue is None:
        tasks, positions, total = gold, list(range(available)), available
    else:
        human = _read_queue(queue)
        wanted = int(round(rate / (1.0 - rate) * len(human))) if rate < 1 else available
        if wanted > available:
            raise InputError(f"rate={rate}: {len(human)} human tasks need {wanted} gold tasks but the dataset has "
                             f"{available} images; generate more or lower the rate")
        rng = np.random.default_rng(seed)
        total = len(human) + wanted
        positions = sorted(rng.choice(total, size=wanted, replace=False).tolist())
        gold_at, remaining = set(positions), iter(_with_local_images(human, Path(queue).expanduser().parent, out))
        tasks = (next(gold) if i in gold_at else next(remaining) for i in range(total))
    write_json_list_streamed(out / "tasks.json", tasks)
    (out / "gold_tasks.json").write_text(json.dumps({"positions": positions, "rate": len(positions) / max(total, 1)}))
    return out / "tasks.json"


class LabelStudioExporter(StoreExporter):
    """Config node: Label Studio tasks with pre-annotations (writes ``<out>/exports/labelstudio``)."""

    folder = "labelstudio"

    def write(self, dataset: LabeledDataset, out: Path) -> Path:
        return export_labelstudio(dataset, out)


class GoldExporter(StoreExporter):
    """Config node: Label Studio gold-standard tasks (writes ``<out>/exports/gold``).

    Args:
        rate: Share of gold tasks in the queue, 0 < rate < 1 (5-10% is usual).
        queue: Label Studio tasks JSON of the human queue to mix into, or null.
        seed: Seed of the gold positions.
    """

    folder = "gold"

    def __init__(self, rate: float = 0.1, queue: str | None = None, seed: int = 0):
        self.rate = check_number("rate", rate, minimum=0.0, maximum=1.0, exclusive_minimum=True)
        self.queue = queue
        self.seed = check_number("seed", seed, minimum=0, integer=True)

    def write(self, dataset: LabeledDataset, out: Path) -> Path:
        return export_gold(dataset, out, self.rate, self.queue, self.seed)


# Reader -----------------------------------------------------------------------


def _task_image(value, root: Path, where: str) -> ImageFile:
    value = text(value, f"{where}: data.image")
    if value.startswith("/data/local-files/"):
        query = parse_qs(urlparse(value).query)
        if "d" not in query:
            raise InputError(f"{where}: image {value!r} has no d= path")
        return image_file(root, unquote(query["d"][0]), where)
    if "://" in value:
        raise InputError(f"{where}: image {value!r} is a URL; download the images and point tasks at local files")
    return image_file(root, value, where)


@guarded_reader
def read_labelstudio(tasks_json: str | Path, name: str | None = None) -> LabeledDataset:
    """Read Label Studio tasks (JSON export or import format) with their annotations.

    The first annotation of a task is read (predictions when it has none):
    ``rectanglelabels`` give objects; a ``polygonlabels`` region gives the mask of the
    object whose region id it shares up to its suffix (as synthgen writes them) or, else,
    of the same-label box that contains it; ``keypointlabels`` attach likewise. Image
    paths are relative to the tasks file's folder (``/data/local-files/?d=...`` too).

    Raises:
        InputError: Anything malformed (regions without a label, non-numeric coordinates,
            images outside the folder...); the message names the task and region.
    """
    path = Path(tasks_json)
    tasks = load_json(path)
    if not isinstance(tasks, list):
        raise InputError(f"{path}: must be a list of Label Studio tasks")
    root = path.parent
    labels: list[str] = _configured_labels(root / "labeling_config.xml")
    keypoint_labels: dict[str, list[str]] = {}
    images, task_ids = [], set()
    for position, task in enumerate(tasks):
        where = f"{path}: task[{position}]"
        if not isinstance(task, dict) or not isinstance(task.get("data"), dict) or "image" not in task["data"]:
            raise InputError(f"{where}: needs data.image")
        task_id = field(task, "id", where, integer, default=None)
        if task_id is not None and task_id in task_ids:
            raise InputError(f"{where}: duplicate task id {task_id}")
        task_ids.add(task_id)
        file = _task_image(task["data"]["image"], root, where)
        split = task["data"].get("split", "train")
        if split not in ("train", "val", "test"):
            raise InputError(f"{where}: data.split must be train, val or test, got {split!r}")
        image = LabeledImage(index=position, path=file.path, width=file.width, height=file.height, split=split,
                             source={"kind": "real", "dataset": name or root.name,
                                     "original_id": position if task_id is None else task_id})
        image.objects = _labelstudio_objects(_first_result(task, where), image, labels, keypoint_labels, where)
        images.append(image)
    categories = tuple(CategoryInfo(i + 1, label, tuple(keypoint_labels.get(label, ()))) for i, label in enumerate(labels))
    for image in images:
        for obj in image.objects:
            names = keypoint_labels.get(labels[obj.category_id - 1], [])
            points = np.zeros((len(names), 3))
            for keypoint_name, (x, y, v) in obj.named_keypoints.items():
                points[names.index(keypoint_name)] = (x, y, v)
            obj.keypoints, obj.named_keypoints = points, {}  # one form: the category's order
    return LabeledDataset(name or root.name, categories, images)


def _first_result(task: dict, where: str) -> list:
    """The regions of a task's first annotation (its first prediction when it has none)."""
    # A server's JSON export lists predictions by id only (ints): those carry no regions.
    found = []
    for key in ("annotations", "predictions"):
        entries = task.get(key) or []
        found = [entry for entry in listing(entries, f"{where}: '{key}'") if isinstance(entry, dict)]
        if found:
            break
    results = (found or [{}])[0].get("result")
    return [] if results is None else listing(results, f"{where}: 'result'")


def _configured_labels(config: Path) -> list[str]:
    """Box labels in the order of the project's labeling config, when it is next to the tasks."""
    if not config.is_file():
        return []
    contained(config.parent, config, str(config))
    try:
        view = ET.fromstring(read_text(config))
    except ET.ParseError as error:
        raise InputError(f"{config}: malformed XML ({error})") from error
    control = view.find("RectangleLabels")
    labels = [] if control is None else [label.get("value") for label in control.findall("Label")]
    for k, label in enumerate(labels):
        text(label, f"{config}: RectangleLabels <Label> {k + 1}: 'value'")
    check_unique(labels, "label", str(config))
    return labels


def _region_label(value: dict, kind: str, where: str) -> str:
    names = field(value, kind, where, listing)
    if not names:
        raise InputError(f"{where}: '{kind}' is empty; a region needs its label")
    return text(names[0], f"{where}: '{kind}'[0]")


def _percent_point(value: dict, width: int, height: int, where: str) -> np.ndarray:
    return np.array([[field(value, "x", where, number, -1, 101) * width / 100,
                      field(value, "y", where, number, -1, 101) * height / 100]])


def _labelstudio_objects(results: list, image, labels, keypoint_labels, where) -> list[LabeledObject]:
    width, height = image.width, image.height
    objects, region_of, others = [], {}, []
    for k, result in enumerate(results):
        at = f"{where}: result[{k}]"
        mapping(result, at)
        if result.get("type") not in ("rectanglelabels", "polygonlabels", "keypointlabels"):
            continue
        value = field(result, "value", at, mapping)
        if result["type"] != "rectanglelabels":
            others.append((at, result, value))
            continue
        label = _region_label(value, "rectanglelabels", at)
        if label not in labels:
            labels.append(label)
        x, y = _percent_point(value, 100, 100, at)[0]
        w, h = field(value, "width", at, number), field(value, "height", at, number)
        box = np.array([x * width / 100, y * height / 100, (x + w) * width / 100, (y + h) * height / 100])
        check_box(box, width, height, at)
        obj = LabeledObject(labels.index(label) + 1, box, area=float((box[2] - box[0]) * (box[3] - box[1])))
        objects.append(obj)
        region_of[str(result.get("id", "")).rsplit("-", 1)[0]] = obj
    for at, result, value in others:
        if result["type"] == "polygonlabels":
            pairs = field(value, "points", at, listing)
            flat = [v for pair in pairs for v in (pair if isinstance(pair, list) and len(pair) == 2 else [None])]
            if any(v is None for v in flat):
                raise InputError(f"{at}: 'points' must be a list of [x, y] pairs (percent of the image)")
            points = numbers(flat, f"{at}: 'points'", min_length=6).reshape(-1, 2) * [width / 100, height / 100]
            label = _region_label(value, "polygonlabels", at)
            segmentation = polygons_rle([points.ravel().tolist()], f"{at}: 'points'", width, height)
            owner = _owner(region_of, result, objects, points, labels, label)
            if owner is None:  # an outline drawn without a box is an object of its own
                if label not in labels:
                    labels.append(label)
                x, y, w, h = mask_utils.toBbox(segmentation)
                if w <= 0 or h <= 0:
                    raise InputError(f"{at}: the outline covers no pixel")
                owner = LabeledObject(labels.index(label) + 1, np.array([x, y, x + w, y + h]))
                objects.append(owner)
            owner.segmentation = segmentation
            owner.area = float(mask_utils.area(segmentation))
            continue
        point = _percent_point(value, width, height, at)
        name = _region_label(value, "keypointlabels", at)
        owner = _owner(region_of, result, objects, point, labels, None)
        if owner is None:
            continue
        names = keypoint_labels.setdefault(labels[owner.category_id - 1], [])
        if name not in names:
            names.append(name)
        meta = result.get("meta") if isinstance(result.get("meta"), dict) else {}
        notes = meta.get("text") if isinstance(meta.get("text"), list) else []
        visibility = 1 if "occluded" in notes else 2
        owner.named_keypoints[name] = (point[0, 0], point[0, 1], visibility)
    return objects


def annotation_objects(results: list, width: int, height: int, where: str) -> tuple[list[str], list[LabeledObject]]:
    """The objects of one Label Studio annotation (its ``result`` list), as ``read_labelstudio`` reads them.

    Args:
        results: The annotation's regions (``rectanglelabels``, ``polygonlabels``, ``keypointlabels``).
        width: Image width in pixels (regions are in percent of it).
        height: Image height in pixels.
        where: Names the annotation in error messages.

    Returns:
        The labels in order of appearance and the objects (``category_id`` = position in the
        labels + 1; box ``xyxy`` pixels; mask RLE from an outline; ``named_keypoints``
        {keypoint name: (x, y, v)} with v 1 for regions marked occluded, else 2).
    """
    labels: list[str] = []
    frame = LabeledImage(index=0, path=Path(), width=width, height=height)
    return labels, _labelstudio_objects(results, frame, labels, {}, where)


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


def _is_labelstudio(path: Path) -> bool:
    if path.is_dir():
        return (path / "tasks.json").is_file()
    return path.suffix == ".json" and isinstance(load_json(path), list)


FORMAT = Format("labelstudio", "Label Studio tasks (boxes, polygons, keypoints) + labeling config",
                read=lambda path, name: read_labelstudio(path if path.is_file() else path / "tasks.json", name=name),
                detect=_is_labelstudio)
GOLD_FORMAT = Format("gold", "Label Studio gold tasks mixed into a human queue (rate=, queue=, seed=)")
