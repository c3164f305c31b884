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

import numpy as np

from synthgen.errors import InputError
from synthgen.io.dataset import LabeledDataset, LabeledImage
from synthgen.io.export_files import StoreExporter, largest_polygon, place_image
from synthgen.io.readers import load_json
from synthgen.io.store import write_json_list_streamed
from synthgen.validation import check_number

__all__ = ["GoldExporter", "LabelStudioExporter", "export_gold", "export_labelstudio", "labeling_config"]


def _percent(value: float, size: int) -> float:
    return float(np.clip(value / size * 100.0, 0.0, 100.0))


def _regions(image: LabeledImage, dataset: LabeledDataset) -> list[dict]:
    width, height = image.width, image.height
    common = {"to_name": "image", "original_width": width, "original_height": height, "image_rotation": 0}
    regions = []
    for k, obj in enumerate(image.objects):
        category = dataset.category(obj.category_id)
        if category.kind != "object":
            continue
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
    regions = _regions(image, dataset)
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
        file_name = f"{image.index:06d}{image.path.suffix}"
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


def export_gold(dataset: LabeledDataset, out: str | Path, rate: float = 0.1, queue: str | Path | None = None,
                seed: int = 0) -> Path:
    """Write gold-standard tasks (exact labels as ground-truth annotations) for annotator QA.

    Args:
        dataset: Synthetic dataset whose labels are the gold standard.
        out: An empty output folder.
        rate: Share of gold tasks in the written queue, 0 < rate < 1.
        queue: Label Studio tasks JSON of the human queue to mix the gold tasks into;
            None writes the gold tasks alone.
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
        tasks, positions = gold, list(range(available))
    else:
        human = _read_queue(queue)
        wanted = int(round(rate / (1.0 - rate) * len(human))) if rate < 1 else available
        if wanted > available:
            raise InputError(f"rate={rate}: {len(human)} human tasks need {wanted} gold tasks but the dataset has "
                             f"{available} images; generate more or lower the rate")
        rng = np.random.default_rng(seed)
        total = len(human) + wanted
        positions = sorted(rng.choice(total, size=wanted, replace=False).tolist())
        gold_at, remaining = set(positions), iter(human)
        tasks = (next(gold) if i in gold_at else next(remaining) for i in range(total))
    write_json_list_streamed(out / "tasks.json", tasks)
    total = available if queue is None else len(human) + len(positions)
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
