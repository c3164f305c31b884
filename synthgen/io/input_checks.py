"""Checks shared by the dataset readers: paths kept inside the dataset root, boxes inside
the image, unique ids, readable files. Every problem is one ``InputError`` naming the file
and the entry.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import cv2
import numpy as np
from PIL import Image
from pycocotools import mask as mask_utils

from synthgen.core.errors import InputError

__all__ = ["BOX_TOLERANCE", "check_box", "check_unique", "existing_image", "image_size", "inside_root", "load_json",
           "read_color_image",
           "polygons_to_rle"]


BOX_TOLERANCE = 1e-6


def inside_root(root: Path, relative: str, where: str) -> Path:
    """``root / relative``, refusing absolute paths and paths that climb out of ``root``."""
    text = str(relative)
    if not text or Path(text).is_absolute() or os.path.isabs(text) or text.startswith(("\\", "~")):
        raise InputError(f"{where}: path {text!r} is absolute; paths must be relative to the dataset root {root}")
    normal = os.path.normpath(text)
    if normal == ".." or normal.startswith(".." + os.sep) or normal.startswith("../"):
        raise InputError(f"{where}: path {text!r} escapes the dataset root {root}")
    return root / normal


def existing_image(root: Path, relative: str, where: str) -> Path:
    path = inside_root(root, relative, where)
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


def check_box(box: np.ndarray, width: int, height: int, where: str) -> None:
    x0, y0, x1, y1 = box
    if not np.isfinite(box).all() or x1 <= x0 or y1 <= y0:
        raise InputError(f"{where}: box {box.tolist()} is empty or not finite")
    if x0 < -BOX_TOLERANCE or y0 < -BOX_TOLERANCE or x1 > width + BOX_TOLERANCE or y1 > height + BOX_TOLERANCE:
        raise InputError(f"{where}: box {box.tolist()} (xyxy) lies outside the {width}x{height} image")


def check_unique(ids: list, what: str, where: str) -> None:
    seen = set()
    for value in ids:
        if value in seen:
            raise InputError(f"{where}: duplicate {what} {value!r}")
        seen.add(value)


def image_size(path: Path, where: str) -> tuple[int, int]:
    try:
        with Image.open(path) as image:
            return image.size
    except OSError as error:
        raise InputError(f"{where}: image file {str(path)!r} could not be read ({error})") from error


def polygons_to_rle(polygons: list[list[float]], width: int, height: int) -> dict:
    rle = mask_utils.merge(mask_utils.frPyObjects(polygons, height, width))
    return {"size": [int(s) for s in rle["size"]], "counts": rle["counts"].decode("ascii")}


def read_color_image(path: str | Path, longer_side: int | None = None) -> np.ndarray:
    """(H, W, 3) uint8 BGR image (OpenCV's order), shrunk with area averaging so its longer
    side is at most ``longer_side`` pixels (None: as stored).

    Raises:
        InputError: The file cannot be decoded; the message names it.
    """
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        raise InputError(f"image file {str(path)!r} could not be read; remove or replace it")
    scale = (longer_side or max(image.shape[:2])) / max(image.shape[:2])
    if scale < 1:
        image = cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    return image
