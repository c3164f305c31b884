"""Read any labeled dataset: the format is detected, the reader lives beside its writer.

``read_dataset`` dispatches to ``read_coco`` (``synthgen.io.coco``), ``read_yolo``
(``yolo``), ``read_voc`` (``voc``), ``read_labelstudio`` (``labelstudio``) and
``open_store`` (a synthgen store). Each returns a ``LabeledDataset`` (see
``synthgen.io.dataset``) in synthgen's conventions, and validates as it reads: every
problem is one ``InputError`` naming the file and the entry (malformed JSON/XML/TXT,
undeclared category ids, boxes outside the image, missing image files, duplicate ids, and
any file path that escapes the dataset root — ``..`` or absolute paths are refused; see
``synthgen.io.input_checks``). Readers never write.
"""

from __future__ import annotations

from pathlib import Path

from synthgen.core.errors import InputError
from synthgen.io.coco import polylines_path_owner, read_coco
from synthgen.io.dataset import LabeledDataset
from synthgen.io.input_checks import is_file, load_json
from synthgen.io.labelstudio import read_labelstudio
from synthgen.io.manifest import MANIFEST
from synthgen.io.store import open_store
from synthgen.io.voc import read_voc
from synthgen.io.yolo import read_yolo

__all__ = ["READ_FORMATS", "detect_format", "read_coco", "read_dataset", "read_labelstudio", "read_voc", "read_yolo"]

READ_FORMATS = ("synthgen", "coco", "yolo", "voc", "labelstudio")







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
    owners = [polylines_path_owner(c) for c in candidates]
    candidates = [c for c, owner in zip(candidates, owners) if owner is None or not is_file(owner)]
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
