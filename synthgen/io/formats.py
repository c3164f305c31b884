"""The format registry: every dataset format in one place, and reading any dataset.

Each format module (``coco``, ``yolo``, ``voc``, ``labelstudio``, ``kitti``, ``mot``,
``cvat``, ``bop``, ``shards`` (webdataset tars), ``semantic_kitti``, ``pointcloud`` (LiDAR
sweeps) and ``store``: synthgen's own) declares a ``Format`` (see
``synthgen.io.format_spec``): its reader and detection beside its writer. ``FORMATS`` lists
them; detection (``detect_format``), ``read_dataset``, ``synthgen export``'s choices and
options and the CLI help come from it, so adding a format is one module (plus its writer's
``conf/export/<name>.yaml``) and one line here.

Readers return a ``LabeledDataset`` (``synthgen.io.dataset``) in synthgen's conventions and
validate as they read: every problem is one ``InputError`` naming the file and the entry
(malformed JSON/XML/TXT, undeclared category ids, boxes outside the image, missing image
files, duplicate ids, and any file path that escapes the dataset root — ``..`` or absolute
paths are refused; see ``synthgen.io.input_checks``). Readers never write.
"""

from __future__ import annotations

from pathlib import Path

from synthgen.core.errors import InputError
from synthgen.io import bop, coco, cvat, kitti, labelstudio, mot, pointcloud, semantic_kitti, shards, store, voc, yolo
from synthgen.io.coco import read_coco
from synthgen.io.dataset import LabeledDataset
from synthgen.io.format_spec import Format
from synthgen.io.labelstudio import read_labelstudio
from synthgen.io.voc import read_voc
from synthgen.io.yolo import read_yolo

__all__ = ["FORMATS", "READ_FORMATS", "WRITE_ANY_FORMATS", "WRITE_FORMATS", "dataset_format", "detect_format",
           "read_coco", "read_dataset", "read_labelstudio", "read_voc", "read_yolo"]

# Detection order: the most specific layouts first (a store or a BOP tree may hold JSON files too).
FORMATS: tuple[Format, ...] = (store.FORMAT, bop.FORMAT, yolo.FORMAT, voc.FORMAT, labelstudio.FORMAT, coco.FORMAT,
                               labelstudio.GOLD_FORMAT, kitti.FORMAT, mot.FORMAT, cvat.FORMAT, shards.FORMAT,
                               semantic_kitti.FORMAT, pointcloud.FORMAT)
READ_FORMATS = tuple(f.name for f in FORMATS if f.read is not None)
WRITE_FORMATS = tuple(f.name for f in FORMATS if f.writes)
# The formats any labeled dataset (real ones, mixes) can be written in.
WRITE_ANY_FORMATS = tuple(f.name for f in FORMATS if f.writes and f.needs is None)


def dataset_format(name: str) -> Format:
    """The registered format called ``name``.

    Raises:
        InputError: No format has that name (the message lists them).
    """
    for entry in FORMATS:
        if entry.name == name:
            return entry
    raise InputError(f"format={name!r}: must be one of {[f.name for f in FORMATS]}")


def detect_format(path: str | Path) -> str:
    """The name of the readable format a dataset path (file or folder) is in."""
    path = Path(path)
    for entry in FORMATS:
        if entry.detect is not None and entry.detect(path):
            return entry.name
    raise InputError(f"{path}: not a dataset synthgen can read ({', '.join(READ_FORMATS)}); pass format= explicitly")


def read_dataset(path: str | Path, format: str = "auto", name: str | None = None) -> LabeledDataset:
    """Read any supported dataset (``format``: auto, or one of ``READ_FORMATS``)."""
    path = Path(path).expanduser()
    if not path.exists():
        raise InputError(f"{path}: not found")
    kind = detect_format(path) if format == "auto" else format
    if kind not in READ_FORMATS:
        raise InputError(f"format={format!r}: must be auto or one of {list(READ_FORMATS)}")
    return dataset_format(kind).read(path, name)
