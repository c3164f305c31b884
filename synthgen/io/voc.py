"""Pascal VOC export: one XML per image.

Layout::

    JPEGImages/<stem>.<ext>          the images (as they are; the folder name is VOC's)
    Annotations/<stem>.xml           size and objects: name, pose, truncated, occluded,
                                     difficult, bndbox
    ImageSets/Main/<split>.txt       stems per split

Boxes use VOC's 1-based inclusive pixel indices: an object covering pixel columns
10..19 (0-based) has ``xmin 11``, ``xmax 20``, i.e. ``xmin = x0 + 1``, ``xmax = x1`` of
synthgen's continuous ``xyxy`` box, rounded to whole pixels. ``truncated`` is 1 when
any of the object lies outside the image, ``occluded`` when any of it is hidden.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np

from synthgen.core import CategoryInfo
from synthgen.core.errors import InputError
from synthgen.io.dataset import LabeledDataset, LabeledImage, LabeledObject
from synthgen.io.export_files import StoreExporter, place_image
from synthgen.io.format_spec import Format
from synthgen.io.input_checks import (
    boolean_text,
    check_box,
    contained,
    guarded_reader,
    image_file,
    integer_text,
    number_text,
    read_text,
)

__all__ = ["export_voc", "read_voc", "VocExporter", "FORMAT"]


def _element(parent: ET.Element, tag: str, text) -> ET.Element:
    child = ET.SubElement(parent, tag)
    child.text = str(text)
    return child


def _annotation(image: LabeledImage, file_name: str, dataset: LabeledDataset) -> ET.ElementTree:
    root = ET.Element("annotation")
    _element(root, "folder", "JPEGImages")
    _element(root, "filename", file_name)
    source = ET.SubElement(root, "source")
    _element(source, "database", dataset.name)
    size = ET.SubElement(root, "size")
    _element(size, "width", image.width)
    _element(size, "height", image.height)
    _element(size, "depth", 3)
    _element(root, "segmented", 0)
    for obj in image.objects:
        category = dataset.category(obj.category_id)
        if category.kind != "object":
            continue
        node = ET.SubElement(root, "object")
        _element(node, "name", category.name)
        _element(node, "pose", "Unspecified")
        _element(node, "truncated", int((obj.truncation or 0.0) > 0))
        _element(node, "occluded", int((obj.occlusion or 0.0) > 0))
        _element(node, "difficult", 0)
        x0, y0, x1, y1 = (int(round(v)) for v in obj.bbox)
        box = ET.SubElement(node, "bndbox")
        for tag, value in (("xmin", x0 + 1), ("ymin", y0 + 1), ("xmax", x1), ("ymax", y1)):
            _element(box, tag, value)
    tree = ET.ElementTree(root)
    ET.indent(tree)
    return tree


def export_voc(dataset: LabeledDataset, out: str | Path) -> Path:
    """Write a dataset in the Pascal VOC layout; returns the ``Annotations`` folder."""
    out = Path(out)
    splits: dict[str, list[str]] = {}
    (out / "Annotations").mkdir(parents=True, exist_ok=True)
    for image in dataset.images:
        stem = f"{image.index:06d}"
        file_name = f"{stem}{image.path.suffix}"
        place_image(image.path, out / "JPEGImages" / file_name)
        _annotation(image, file_name, dataset).write(out / "Annotations" / f"{stem}.xml", encoding="unicode")
        splits.setdefault(image.split, []).append(stem)
    (out / "ImageSets" / "Main").mkdir(parents=True, exist_ok=True)
    for split, stems in splits.items():
        (out / "ImageSets" / "Main" / f"{split}.txt").write_text("".join(f"{stem}\n" for stem in stems))
    return out / "Annotations"


class VocExporter(StoreExporter):
    """Config node for the Pascal VOC export (``export=[voc]``; writes ``<out>/exports/voc``)."""

    folder = "voc"

    def write(self, dataset: LabeledDataset, out: Path) -> Path:
        return export_voc(dataset, out)


# Reader -----------------------------------------------------------------------


def _text(node: ET.Element, tag: str, where: str) -> str:
    child = node.find(tag)
    if child is None or child.text is None or not child.text.strip():
        raise InputError(f"{where}: missing <{tag}>")
    return child.text.strip()


def _image_splits(root: Path) -> dict[str, str]:
    """Stem -> split from ``ImageSets/Main/{train,val,test,trainval}.txt``."""
    splits = {}
    for split_file in sorted((root / "ImageSets" / "Main").glob("*.txt")):
        if split_file.stem in ("train", "val", "test", "trainval"):
            contained(root, split_file, str(split_file))
            for stem in read_text(split_file).split():
                splits.setdefault(stem, "train" if split_file.stem == "trainval" else split_file.stem)
    return splits


def _parse(file: Path, root: Path) -> ET.Element:
    contained(root, file, str(file))
    try:
        return ET.fromstring(read_text(file))
    except ET.ParseError as error:
        raise InputError(f"{file}: malformed XML ({error})") from error


@guarded_reader
def read_voc(root: str | Path, name: str | None = None) -> LabeledDataset:
    """Read a Pascal VOC folder (``Annotations/*.xml``, ``JPEGImages/``, optional ``ImageSets/Main/*.txt``).

    Categories are the object names in sorted order (ids 1..). Boxes convert from VOC's
    1-based inclusive pixel indices: ``x0 = xmin - 1``, ``x1 = xmax``. ``<truncated>`` and
    ``<occluded>`` take 0/1, true/false or a fraction; sizes and coordinates take whole
    or decimal numbers (some tools write ``64.0``).

    Raises:
        InputError: Anything malformed; the message names the XML file and the object.
    """
    root = Path(root)
    annotations = sorted((root / "Annotations").glob("*.xml"))
    if not annotations:
        raise InputError(f"{root}: no Annotations/*.xml; is this a Pascal VOC folder?")
    splits = _image_splits(root)
    parsed = [(file, _parse(file, root)) for file in annotations]
    names = sorted({_text(obj, "name", str(file)) for file, tree in parsed for obj in tree.findall("object")})
    categories = tuple(CategoryInfo(i + 1, n) for i, n in enumerate(names))
    ids = {n: i + 1 for i, n in enumerate(names)}
    images = []
    for file, tree in parsed:
        where = str(file)
        size = tree.find("size")
        if size is None:
            raise InputError(f"{where}: missing <size>")
        declared = tuple(integer_text(_text(size, tag, where), f"{where}: <size><{tag}>", 1) for tag in ("width", "height"))
        checked = image_file(root / "JPEGImages", _text(tree, "filename", where), where, declared)
        image = LabeledImage(index=len(images), path=checked.path, width=checked.width, height=checked.height,
                             split=splits.get(file.stem, "train"),
                             source={"kind": "real", "dataset": name or root.name, "original_id": file.stem})
        image.objects = [_voc_object(obj, ids, image, f"{where}: object {k}") for k, obj in enumerate(tree.findall("object"))]
        images.append(image)
    return LabeledDataset(name or root.name, categories, images)


def _voc_object(obj: ET.Element, ids: dict[str, int], image: LabeledImage, where: str) -> LabeledObject:
    box_node = obj.find("bndbox")
    if box_node is None:
        raise InputError(f"{where}: missing <bndbox>")
    xmin, ymin, xmax, ymax = (number_text(_text(box_node, tag, where), f"{where}: <{tag}>")
                              for tag in ("xmin", "ymin", "xmax", "ymax"))
    box = np.array([xmin - 1, ymin - 1, xmax, ymax])
    check_box(box, image.width, image.height, where)
    return LabeledObject(ids[_text(obj, "name", where)], box, area=float((box[2] - box[0]) * (box[3] - box[1])),
                         truncation=float(boolean_text(obj.findtext("truncated"), f"{where}: <truncated>")),
                         occlusion=float(boolean_text(obj.findtext("occluded"), f"{where}: <occluded>")))


def _is_voc(path: Path) -> bool:
    return path.is_dir() and (path / "Annotations").is_dir()


FORMAT = Format("voc", "Pascal VOC XML boxes", read=lambda path, name: read_voc(path, name=name), detect=_is_voc)
