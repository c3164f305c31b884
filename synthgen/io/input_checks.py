"""Checks every dataset reader makes at its edge, before any value reaches numpy, OpenCV or
pycocotools: types, finiteness, ranges, lengths, encodings, declared sizes against the image
files' headers, and files kept inside the dataset root (symlinks resolved).

A reader is built from these helpers, so it gets the same checks by construction: it takes
values only through ``field`` / ``integer`` / ``number`` / ``numbers`` / ``text``, files only
through ``dataset_path`` / ``image_file`` / ``read_text`` / ``load_json`` / ``load_yaml``,
masks only through ``polygons_rle`` / ``rle_of``, keypoints only through ``keypoint_array``,
and is wrapped in ``guarded_reader`` (a last line for anything a check missed). Every problem
is one ``InputError`` naming the file, the entry and the fix.

Caps on declared sizes (``ReaderLimits``) keep a hostile file from asking for a billion
keypoints or a terapixel image; both limits can be raised with environment variables named
in the messages.
"""

from __future__ import annotations

import functools
import json
import math
import os
import threading
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import cv2
import numpy as np
import yaml
from PIL import Image
from pycocotools import mask as mask_utils

from synthgen.core import CategoryInfo
from synthgen.core.errors import InputError, SynthgenError

__all__ = [
    "BOX_TOLERANCE",
    "POINT_TOLERANCE",
    "ImageFile",
    "ReaderLimits",
    "boolean_text",
    "camera_record",
    "category_list",
    "check_box",
    "check_unique",
    "checked_keypoints",
    "contained",
    "cuboid_record",
    "dataset_path",
    "field",
    "guarded_reader",
    "image_file",
    "integer",
    "integer_text",
    "is_file",
    "keypoint_array",
    "keypoint_names",
    "listing",
    "load_json",
    "load_yaml",
    "mapping",
    "matrix",
    "number",
    "number_text",
    "numbers",
    "polygons_rle",
    "read_color_image",
    "read_text",
    "rle_of",
    "skeleton_pairs",
    "text",
]

BOX_TOLERANCE = 1e-6
# Outlines and keypoints may touch the image border from just outside (annotation tools
# snap to pixel centres or edges); farther out is a wrong image size or a broken file.
POINT_TOLERANCE = 1.0

# Longest file name and path Linux file systems accept (NAME_MAX, PATH_MAX); longer ones make
# every os call fail with ENAMETOOLONG, even the existence checks.
_NAME_MAX, _PATH_MAX = 255, 4096

T = TypeVar("T")
_MISSING = object()


@dataclass(frozen=True)
class ReaderLimits:
    """Caps on what a dataset file may declare.

    Attributes:
        max_image_pixels: Largest width x height of one image (default 2^28, about 16k x 16k);
            environment variable ``SYNTHGEN_MAX_IMAGE_PIXELS``.
        max_keypoints: Most keypoints per category or object (default 1024); environment
            variable ``SYNTHGEN_MAX_KEYPOINTS``.
    """

    max_image_pixels: int = 2**28
    max_keypoints: int = 1024

    @classmethod
    def current(cls) -> ReaderLimits:
        """The defaults, raised or lowered by the environment variables."""
        values = {}
        for name, variable in (("max_image_pixels", "SYNTHGEN_MAX_IMAGE_PIXELS"), ("max_keypoints", "SYNTHGEN_MAX_KEYPOINTS")):
            raw = os.environ.get(variable)
            if raw is not None:
                try:
                    values[name] = int(raw)
                except ValueError:
                    raise InputError(f"{variable}={raw!r}: must be a positive integer") from None
                if values[name] < 1:
                    raise InputError(f"{variable}={raw!r}: must be a positive integer")
        return cls(**values)


# Values ------------------------------------------------------------------------


def mapping(value, where: str) -> dict:
    """``value`` if it is a JSON object (dict), else an InputError."""
    if not isinstance(value, dict):
        raise InputError(f"{where}: must be an object {{...}}, got {_show(value)}")
    return value


def listing(value, where: str) -> list:
    """``value`` if it is a JSON array (list), else an InputError."""
    if not isinstance(value, list):
        raise InputError(f"{where}: must be a list [...], got {_show(value)}")
    return value


def integer(value, where: str, minimum: int | None = None, maximum: int | None = None) -> int:
    """``value`` if it is an int (not a bool, a float or a string) within bounds."""
    if not isinstance(value, int) or isinstance(value, bool):
        raise InputError(f"{where}: must be an integer, got {_show(value)}")
    _check_bounds(value, where, minimum, maximum)
    return value


def number(value, where: str, minimum: float | None = None, maximum: float | None = None) -> float:
    """``value`` as a float if it is a finite int or float (not a bool or a string) within bounds."""
    if not isinstance(value, (int, float)) or isinstance(value, bool) or not math.isfinite(value):
        raise InputError(f"{where}: must be a finite number, got {_show(value)}")
    _check_bounds(value, where, minimum, maximum)
    return float(value)


def text(value, where: str) -> str:
    """``value`` if it is a non-empty string."""
    if not isinstance(value, str) or not value.strip():
        raise InputError(f"{where}: must be a non-empty string, got {_show(value)}")
    return value


def field(entry: dict, key: str, where: str, check: Callable[..., T], *args, default=_MISSING, **kwargs) -> T:
    """``check(entry[key], ...)``; a missing key is an error unless a ``default`` is given
    (returned unchecked). The error names ``where`` and the key."""
    if key not in entry:
        if default is not _MISSING:
            return default
        raise InputError(f"{where}: missing '{key}'")
    return check(entry[key], f"{where}: '{key}'", *args, **kwargs)


def numbers(value, where: str, length: int | None = None, multiple: int = 1, min_length: int = 0) -> np.ndarray:
    """A list of finite numbers as a (N,) float64 array; ``length``: exactly N values,
    ``multiple``: N a multiple of it (pairs, triples), ``min_length``: at least that many."""
    listing(value, where)
    if length is not None and len(value) != length:
        raise InputError(f"{where}: must hold {length} numbers, got {len(value)}")
    if len(value) % multiple or len(value) < min_length:
        raise InputError(f"{where}: must hold a multiple of {multiple} numbers, at least {min_length}, got {len(value)}")
    if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value):
        bad = next(v for v in value if not isinstance(v, (int, float)) or isinstance(v, bool))
        raise InputError(f"{where}: must hold numbers only, got {_show(bad)}")
    try:
        array = np.asarray(value, dtype=np.float64)
    except OverflowError:
        raise InputError(f"{where}: holds a number too large for a float") from None
    if not np.isfinite(array).all():
        raise InputError(f"{where}: holds NaN or infinite values")
    return array


def integer_text(value: str, where: str, minimum: int | None = None) -> int:
    """An integer written in a text file (``"64"``; ``"64.0"`` is taken, ``"64.5"`` is not)."""
    result = number_text(value, where)
    if result != int(result):
        raise InputError(f"{where}: must be a whole number, got {value!r}")
    _check_bounds(int(result), where, minimum, None)
    return int(result)


def number_text(value: str | None, where: str) -> float:
    """A finite number written in a text file."""
    try:
        result = float(str(value).strip())
    except ValueError:
        raise InputError(f"{where}: must be a number, got {value!r}") from None
    if not math.isfinite(result):
        raise InputError(f"{where}: must be a finite number, got {value!r}")
    return result


def boolean_text(value: str | None, where: str) -> float:
    """A 0/1 flag of a text file as 0.0 or 1.0 (``true``/``false`` and fractions in [0, 1] taken)."""
    stripped = (value or "0").strip().lower()
    if stripped in ("true", "yes"):
        return 1.0
    if stripped in ("false", "no", ""):
        return 0.0
    result = number_text(stripped, where)
    _check_bounds(result, where, 0, 1)
    return result


def check_box(box: np.ndarray, width: int, height: int, where: str) -> None:
    """A (4,) ``xyxy`` box must be finite, non-empty and inside the ``width`` x ``height`` image."""
    x0, y0, x1, y1 = box
    if not np.isfinite(box).all() or x1 <= x0 or y1 <= y0:
        raise InputError(f"{where}: box {box.tolist()} is empty or not finite")
    if x0 < -BOX_TOLERANCE or y0 < -BOX_TOLERANCE or x1 > width + BOX_TOLERANCE or y1 > height + BOX_TOLERANCE:
        raise InputError(f"{where}: box {box.tolist()} (xyxy) lies outside the {width}x{height} image")


def check_unique(ids: list, what: str, where: str) -> None:
    """Every value of ``ids`` (hashable) must occur once."""
    seen = set()
    for value in ids:
        if value in seen:
            raise InputError(f"{where}: duplicate {what} {value!r}")
        seen.add(value)


def _check_bounds(value, where: str, minimum, maximum) -> None:
    if minimum is not None and value < minimum:
        raise InputError(f"{where}: must be >= {minimum}, got {value!r}")
    if maximum is not None and value > maximum:
        raise InputError(f"{where}: must be <= {maximum}, got {value!r}")


def _show(value) -> str:
    shown = repr(value)
    return shown if len(shown) <= 60 else shown[:57] + "..."


# Masks and keypoints -----------------------------------------------------------


def _inside_image(points: np.ndarray, width: int, height: int, where: str, what: str) -> None:
    """(N, 2) points must lie in the image, up to ``POINT_TOLERANCE`` pixels outside it."""
    low, high = -POINT_TOLERANCE, np.array([width, height]) + POINT_TOLERANCE
    outside = np.any((points < low) | (points > high), axis=1)
    if outside.any():
        x, y = points[int(np.argmax(outside))]
        raise InputError(f"{where}: {what} point ({x:g}, {y:g}) lies outside the {width}x{height} image; "
                         "is the image size right?")


def polygons_rle(polygons, where: str, width: int, height: int) -> dict:
    """COCO polygons ``[[x1, y1, x2, y2, ...], ...]`` (continuous pixels) as one compressed RLE.

    Each polygon needs at least 3 points, finite and inside the image (see ``POINT_TOLERANCE``):
    pycocotools rasterises whatever it is given, and dies on NaN or far-away coordinates.
    """
    listing(polygons, where)
    if not polygons:
        raise InputError(f"{where}: an empty list of polygons; leave the segmentation out instead")
    checked = []
    for k, polygon in enumerate(polygons):
        flat = numbers(polygon, f"{where}[{k}]", multiple=2, min_length=6)
        _inside_image(flat.reshape(-1, 2), width, height, f"{where}[{k}]", "polygon")
        checked.append(flat.tolist())
    rle = mask_utils.merge(mask_utils.frPyObjects(checked, height, width))
    return {"size": [int(s) for s in rle["size"]], "counts": rle["counts"].decode("ascii")}


def _compressed_counts(counts: str, where: str) -> np.ndarray:
    """The (N,) int64 run lengths of pycocotools' compressed RLE string, decoded here first:
    pycocotools' C decoder writes runs without bounds checks, so a malformed string overruns
    its buffer instead of failing. The format: 5 bits a character (offset 48), 0x20 = more
    characters follow, 0x10 in the last one = negative, runs from the third on stored as the
    difference to the run two before."""
    try:
        codes = np.frombuffer(counts.encode("ascii"), dtype=np.uint8).astype(np.int64) - 48
    except UnicodeEncodeError:
        raise InputError(f"{where}: malformed compressed RLE counts (not ASCII)") from None
    if ((codes < 0) | (codes > 63)).any():
        raise InputError(f"{where}: malformed compressed RLE counts at character {int(np.argmax((codes < 0) | (codes > 63)))}")
    last = (codes & 0x20) == 0  # the last character of each number
    if len(codes) and not last[-1]:
        raise InputError(f"{where}: compressed RLE counts end in the middle of a number")
    ends = np.flatnonzero(last)
    starts = np.concatenate([[0], ends[:-1] + 1])
    lengths = ends - starts + 1
    if (lengths > 7).any():  # 7 characters hold 35 bits, more than any image that fits in memory needs
        raise InputError(f"{where}: malformed compressed RLE counts (a number of {int(lengths.max())} characters)")
    number = np.repeat(np.arange(len(ends)), lengths)
    shift = 5 * (np.arange(len(codes)) - starts[number])
    values = np.bincount(number, weights=(codes & 0x1F) << shift, minlength=len(ends)).astype(np.int64)
    negative = (codes[ends] & 0x10) != 0
    values[negative] -= np.left_shift(1, 5 * lengths[negative])
    runs = values.copy()
    runs[3::2] = np.cumsum(values[1::2])[1:]  # run i = value i + run i-2, from i = 3 on
    runs[4::2] = np.cumsum(values[2::2])[1:]
    return runs


def rle_of(segmentation, where: str, width: int, height: int) -> dict:
    """A COCO RLE (``{"size": [H, W], "counts": str | [int, ...]}``) as compressed RLE, after
    checking its size is the image's and its runs cover the image exactly."""
    mapping(segmentation, where)
    size = field(segmentation, "size", where, numbers, length=2)
    if size.tolist() != [height, width]:
        raise InputError(f"{where}: RLE size {size.tolist()} is not the image's [height, width] [{height}, {width}]")
    counts = field(segmentation, "counts", where, lambda value, at: value)
    if isinstance(counts, str):
        runs = _compressed_counts(counts, f"{where}: 'counts'")
    elif isinstance(counts, list) and all(isinstance(c, int) and not isinstance(c, bool) and abs(c) < 2**62 for c in counts):
        runs = np.asarray(counts, dtype=np.int64)
    else:
        raise InputError(f"{where}: 'counts' must be a compressed RLE string or a list of run lengths")
    if (runs < 0).any() or int(runs.sum()) != width * height:
        raise InputError(f"{where}: RLE runs must be >= 0 and add up to {width}x{height} = {width * height} pixels, "
                         f"got {int(runs.sum())}")
    if isinstance(counts, list):
        counts = mask_utils.frPyObjects({"size": [height, width], "counts": counts}, height, width)["counts"].decode("ascii")
    return {"size": [height, width], "counts": counts}


def keypoint_array(values, count: int, width: int, height: int, where: str, dimensions: int = 3) -> np.ndarray:
    """Flat keypoints ``[x1, y1, v1, ...]`` (``dimensions`` 3) or ``[x1, y1, ...]`` (2: all
    labeled and visible) as a (count, 3) float64 array; see ``checked_keypoints``."""
    flat = numbers(values, where, length=count * dimensions)
    points = flat.reshape(count, dimensions)
    if dimensions == 2:
        points = np.column_stack([points, np.full(count, 2.0)])
    return checked_keypoints(points, width, height, where)


def checked_keypoints(points: np.ndarray, width: int, height: int, where: str) -> np.ndarray:
    """(K, 3) keypoints ``x, y, v``: COCO visibility v in {0, 1, 2}; labeled points (v > 0)
    finite and inside the image (unlabeled ones may be NaN)."""
    if not np.isin(points[:, 2], (0, 1, 2)).all():
        shown = sorted({float(v) for v in points[:, 2] if v not in (0, 1, 2)})[:5]
        raise InputError(f"{where}: keypoint visibility must be 0, 1 or 2 (COCO), got {shown}")
    labeled = points[points[:, 2] > 0, :2]
    if not np.isfinite(labeled).all():
        raise InputError(f"{where}: a labeled keypoint (v > 0) has NaN or infinite coordinates")
    _inside_image(labeled, width, height, where, "keypoint")
    return points


# Files -------------------------------------------------------------------------


def dataset_path(root: Path, relative, where: str) -> Path:
    """``root / relative`` resolved (symlinks followed), refused unless it stays inside
    ``root``: absolute paths, ``..`` escapes and links pointing out of the dataset."""
    if not isinstance(relative, str) or not relative:
        raise InputError(f"{where}: path must be a non-empty string relative to the dataset root {root}, "
                         f"got {_show(relative)}")
    if Path(relative).is_absolute() or os.path.isabs(relative) or relative.startswith(("\\", "~")) or "\0" in relative:
        raise InputError(f"{where}: path {relative!r} is absolute; paths must be relative to the dataset root {root}")
    normal = os.path.normpath(relative)
    if normal == ".." or normal.startswith(".." + os.sep):
        raise InputError(f"{where}: path {relative!r} escapes the dataset root {root}")
    return contained(root, root / normal, where)


def contained(root: Path, path: Path, where: str) -> Path:
    """``path`` resolved, refused unless it lies inside ``root`` (also resolved)."""
    too_long = next((part for part in path.parts if len(os.fsencode(part)) > _NAME_MAX), None)
    if too_long is not None or len(os.fsencode(str(path))) > _PATH_MAX:
        raise InputError(f"{where}: path {str(path)[:80]!r}... has a name over {_NAME_MAX} bytes or is over "
                         f"{_PATH_MAX} bytes in all; no file system stores it")
    try:
        resolved, base = path.resolve(), _resolved_root(root)
    except (OSError, RuntimeError) as error:  # a symlink loop, a name too long
        raise InputError(f"{where}: path {str(path)!r} cannot be resolved ({error})") from None
    if resolved != base and base not in resolved.parents:
        raise InputError(f"{where}: {str(path)!r} leads to {str(resolved)!r}, outside the dataset root {base} "
                         "(a symlink?); copy the file into the dataset")
    return resolved


# PIL's bomb limit and the warning filters are process-wide: swapped only under this lock, so a
# reader on another thread (the scene-sampling thread reads photo datasets) never restores a stale value.
_PIL_GLOBALS = threading.Lock()


@functools.lru_cache(maxsize=64)
def _resolved_root(root: Path) -> Path:
    """A dataset root resolved once per process (readers check every file against it)."""
    return root.resolve()


@dataclass(frozen=True)
class ImageFile:
    """An image file checked by its header: absolute ``path``, ``width`` and ``height`` in pixels
    (as stored; a declared size may be the EXIF-rotated one)."""

    path: Path
    width: int
    height: int


def image_file(root: Path, relative, where: str, declared: tuple[int, int] | None = None) -> ImageFile:
    """An image of the dataset, opened lazily (header only): it must exist inside ``root``,
    be an image PIL can identify, have at most ``ReaderLimits.max_image_pixels`` pixels and,
    when the dataset declares a ``(width, height)``, that size (or the size its EXIF
    orientation rotates it to)."""
    # A Path is a file the reader found in the dataset's folders; a string is a name the dataset declares.
    path = contained(root, relative, where) if isinstance(relative, Path) else dataset_path(root, relative, where)
    if not path.is_file():
        raise InputError(f"{where}: image file {str(path)!r} is missing")
    width, height, rotated = _header_size(path, where)
    if declared is not None and tuple(declared) not in ((width, height), (height, width) if rotated else (width, height)):
        raise InputError(f"{where}: declared size {declared[0]}x{declared[1]} but the image file {str(path)!r} is "
                         f"{width}x{height}; fix the width/height entries")
    return ImageFile(path, *(declared if declared is not None else (width, height)))


def _header_size(path: Path, where: str) -> tuple[int, int, bool]:
    """Width and height from the file's header, and whether its EXIF orientation turns it 90
    degrees; refused over ``ReaderLimits.max_image_pixels`` before anything else is read."""
    limit = ReaderLimits.current().max_image_pixels
    try:
        with _PIL_GLOBALS, warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            saved, Image.MAX_IMAGE_PIXELS = Image.MAX_IMAGE_PIXELS, None  # our own limit applies
            try:
                with Image.open(path) as image:
                    width, height = image.size
                    if width * height > limit:
                        raise InputError(f"{where}: image {str(path)!r} has {width}x{height} pixels, over the limit of "
                                         f"{limit} (raise it with SYNTHGEN_MAX_IMAGE_PIXELS if the image is real)")
                    # Formats whose EXIF sits in the header (PNG's may follow the pixels: not decoded for it).
                    exif = image.getexif() if image.format in ("JPEG", "MPO", "TIFF", "WEBP") else {}
                    orientation = exif.get(0x0112, 1)
            finally:
                Image.MAX_IMAGE_PIXELS = saved
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as error:
        raise InputError(f"{where}: image file {str(path)!r} could not be read ({error}); replace or remove it") from None
    if width < 1 or height < 1:
        raise InputError(f"{where}: image file {str(path)!r} is empty ({width}x{height})")
    return width, height, orientation in (5, 6, 7, 8)


def is_file(path: Path) -> bool:
    """``path.is_file()``, False for a path no file system can hold (a name over 255 bytes
    derived from a long one raises ENAMETOOLONG in the plain check)."""
    try:
        return path.is_file()
    except OSError:
        return False


def read_text(path: Path, where: str | None = None) -> str:
    """A text file's contents (UTF-8; a byte-order mark is dropped); one InputError for a
    missing file, a folder, an unreadable path or another encoding."""
    where = where or str(path)
    try:
        return path.read_bytes().decode("utf-8-sig")
    except FileNotFoundError:
        raise InputError(f"{where}: not found") from None
    except IsADirectoryError:
        raise InputError(f"{where}: is a folder, expected a file") from None
    except UnicodeDecodeError as error:
        raise InputError(f"{where}: not UTF-8 text ({error}); save it as UTF-8") from None
    except OSError as error:
        raise InputError(f"{where}: cannot be read ({error.strerror or error})") from None


def load_json(path: Path):
    """Parsed JSON of ``path``; a missing, unreadable or malformed file is one InputError naming it."""
    return _parsed(path, "JSON", json.loads, json.JSONDecodeError)


def load_yaml(path: Path):
    """Parsed YAML of ``path`` (safe loader); one InputError for any problem."""
    return _parsed(path, "YAML", yaml.safe_load, yaml.YAMLError)


def _parsed(path: Path, kind: str, parse: Callable[[str], object], malformed: type[Exception]):
    content = read_text(path)
    try:
        return parse(content)
    except malformed as error:
        raise InputError(f"{path}: malformed {kind} ({error})") from None
    except RecursionError:
        raise InputError(f"{path}: {kind} nested too deeply") from None


def guarded_reader(function: Callable[..., T]) -> Callable[..., T]:
    """Wrap a reader so that an error its checks did not foresee still reaches the user as one
    InputError naming the dataset (and marked as a reader bug to report), never a traceback."""

    @functools.wraps(function)
    def read(path, *args, **kwargs):
        try:
            return function(path, *args, **kwargs)
        except SynthgenError:
            raise
        except (RecursionError, MemoryError, ArithmeticError, LookupError, TypeError, ValueError, AttributeError,
                OSError, cv2.error) as error:
            raise InputError(f"{path}: could not be read ({type(error).__name__}: {error}); the dataset has an entry "
                             "synthgen's reader did not expect (an unchecked input: please report it)") from error

    return read


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


# Shared label structures ---------------------------------------------------------


def matrix(value, where: str, shape: tuple[int, ...], allow_null: bool = False) -> np.ndarray:
    """Nested lists of finite numbers of exactly ``shape`` as a float64 array (a 4x4 pose, a 3x3 K);
    ``allow_null``: JSON nulls stand for NaN (synthgen's records write NaN so)."""
    try:  # the common case at numpy's speed: a well-formed nested list of numbers
        array = np.asarray(value)
    except (ValueError, OverflowError):
        array = None
    if array is not None and array.shape == tuple(shape) and array.dtype.kind in "iuf":
        array = array.astype(np.float64)
        if not np.isfinite(array).all():
            raise InputError(f"{where}: holds NaN or infinite values")
        return array
    flat: list = []

    def gather(item, depth: int) -> None:
        if depth == len(shape):
            flat.append(item)
            return
        if not isinstance(item, list) or len(item) != shape[depth]:
            raise InputError(f"{where}: must be a {'x'.join(map(str, shape))} nested list of numbers")
        for element in item:
            gather(element, depth + 1)

    gather(value, 0)
    nulls = np.array([item is None for item in flat], dtype=bool)
    if allow_null and nulls.any():
        array = numbers([0.0 if item is None else item for item in flat], where)
        array[nulls] = np.nan
        return array.reshape(shape)
    return numbers(flat, where).reshape(shape)


_CUBOID_SHAPES = {"dimensions": (3,), "center": (3,), "rotation": (3, 3), "corners_3d": (8, 3), "corners_2d": (8, 2)}


def cuboid_record(value, where: str, nullable: tuple[str, ...] = ("corners_2d",)) -> dict:
    """A stored cuboid (``synthgen.core.Cuboid``'s fields as nested lists), each field of its shape;
    JSON nulls (NaN) are taken in the ``nullable`` fields (projected corners behind the camera)."""
    mapping(value, where)
    return {key: field(value, key, where, matrix, shape, key in nullable).tolist() for key, shape in _CUBOID_SHAPES.items()}


def keypoint_names(value, where: str) -> tuple[str, ...]:
    """A category's keypoint names: distinct non-empty strings, at most ``ReaderLimits.max_keypoints``."""
    names = listing([] if value is None else value, where)
    limit = ReaderLimits.current().max_keypoints
    if len(names) > limit:
        raise InputError(f"{where}: {len(names)} keypoints, over the limit of {limit} "
                         "(raise it with SYNTHGEN_MAX_KEYPOINTS if the dataset is real)")
    names = tuple(text(name, f"{where}[{k}]") for k, name in enumerate(names))
    check_unique(list(names), "keypoint name", where)
    return names


def skeleton_pairs(value, count: int, where: str, base: int) -> tuple[tuple[int, int], ...]:
    """Skeleton limbs ``[[a, b], ...]`` with ``base``-based indices (COCO: 1) as 0-based pairs."""
    pairs = []
    for k, pair in enumerate(listing([] if value is None else value, where)):
        if not isinstance(pair, list) or len(pair) != 2:
            raise InputError(f"{where}[{k}]: a limb must be a pair [a, b] of keypoint indices")
        a, b = (integer(v, f"{where}[{k}]", base, count - 1 + base) for v in pair)
        pairs.append((a - base, b - base))
    return tuple(pairs)


def category_list(entries, where: str, *, skeleton_base: int, id_key: str = "id",
                  kind_key: str = "synthgen_kind") -> tuple[CategoryInfo, ...]:
    """Categories of a JSON file (COCO ``categories``, a store manifest's): integer ids >= 0,
    unique; names non-empty and unique; keypoint names and skeletons checked."""
    categories = []
    for position, entry in enumerate(listing(entries, where)):
        at = f"{where}[{position}]"
        mapping(entry, at)
        category_id = field(entry, id_key, at, integer, 0)
        at = f"{at} (id {category_id})"
        names = keypoint_names(entry.get("keypoints"), f"{at}: 'keypoints'")
        kind = entry.get(kind_key, "object")
        if kind not in ("object", "polyline"):
            raise InputError(f"{at}: '{kind_key}' must be 'object' or 'polyline', got {_show(kind)}")
        categories.append(CategoryInfo(category_id, field(entry, "name", at, text), names,
                                       skeleton_pairs(entry.get("skeleton"), len(names), f"{at}: 'skeleton'", skeleton_base),
                                       kind))
    check_unique([c.id for c in categories], "category id", where)
    check_unique([c.name for c in categories], "category name", where)
    return tuple(categories)


def camera_record(camera, where: str) -> dict:
    """A stored camera ``{"K": 3x3, "world_to_camera": 4x4[, "distortion": 5 (OpenCV k1, k2, p1, p2, k3)]}``, checked."""
    mapping(camera, where)
    checked = {"K": field(camera, "K", where, matrix, (3, 3)).tolist(),
               "world_to_camera": field(camera, "world_to_camera", where, matrix, (4, 4)).tolist()}
    if "distortion" in camera:
        checked["distortion"] = field(camera, "distortion", where, numbers, length=5).tolist()
    return checked
