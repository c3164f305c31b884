"""The canonical dataset store: the truth every export is derived from.

Layout of a dataset folder::

    manifest.json              resolved config, seed, versions, categories, counts
    images/000000.png          RGB (or .jpg)
    depth/000000.png           uint16 millimetres, 0 = no surface (or .npz float32 metres)
    instance_ids/000000.png    visible instance id per pixel (uint8, or uint16 above 255)
    semantic/000000.png        category id per pixel (uint8, or uint16 above 255)
    flow_forward/000000.npy    sequences: flow to the next frame (.npy float32 px, or KITTI .png)
    flow_backward/000000.npy   sequences: flow to the previous frame
    occlusion_forward/000000.png  sequences: 255 where the flow's target is hidden or off-image
    occlusion_backward/000000.png
    labels/000000.json         label record (compact JSON); written last, it commits the sample
    quarantine/000000.json     samples that failed the label self-checks (+ their image)
    annotations/instances.json COCO export (derived; rebuilt at the end of every run)
    exports/<format>/          other exports run by generate (derived; rebuilt likewise)

Each file is written to a temporary name and renamed into place, so a reader never sees
a partial file; a sample counts as committed only once its label record exists.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import threading
import shutil
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path

import cv2
import numpy as np
from pycocotools import mask as mask_utils

from synthgen.errors import InputError
from synthgen.io.flow_files import kitti_flow_image, read_kitti_flow
from synthgen.types import (
    Camera,
    CategoryInfo,
    Cuboid,
    FlowField,
    FrameInfo,
    Instance,
    PolylineLabel,
    Sample,
    Track,
)
from synthgen.validation import check_choice, check_number

__all__ = [
    "DatasetWriter",
    "MANIFEST",
    "OMIT",
    "array_from_json",
    "clear_dataset",
    "encode_rle",
    "decode_rle",
    "iter_records",
    "read_manifest",
    "read_sample",
    "remove_partial_files",
    "write_json_atomic",
    "write_json_list_streamed",
    "write_json_streamed",
]

MANIFEST = "manifest.json"
OMIT = object()  # a streamed JSON field's callable returns this to leave its key out
RECORD_FORMAT = "synthgen-sample/1"
_DEPTH_MM = 0.001
_UINT16_MAX = 65535


def _name(index: int) -> str:
    return f"{index:06d}"


@contextlib.contextmanager
def _atomic_file(path: Path, mode: str):
    """An open temporary file that replaces ``path`` when the block ends without error.

    Raises:
        InputError: The file cannot be written (disk full, permissions, file size
            limit); the temporary is removed and nothing committed is touched.
    """
    temporary = path.with_name(f".{path.name}.tmp-{os.getpid()}-{threading.get_ident()}")
    try:
        with open(temporary, mode) as handle:
            yield handle
        os.replace(temporary, path)
    except OSError as error:
        with contextlib.suppress(OSError):
            temporary.unlink()
        raise InputError(
            f"{path}: cannot write ({error.strerror or error}); free disk space or fix permissions, "
            "then run the same command with resume=true (committed samples are intact)"
        ) from error
    except BaseException:
        with contextlib.suppress(OSError):
            temporary.unlink()
        raise


def write_bytes_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` via a temporary file and an atomic rename (see ``_atomic_file``)."""
    with _atomic_file(path, "wb") as handle:
        handle.write(data)


def write_json_atomic(path: Path, value, indent: int | None = 1) -> None:
    """Write ``value`` as key-sorted JSON (compact when ``indent`` is None), atomically."""
    separators = (",", ":") if indent is None else None
    text = json.dumps(value, indent=indent, separators=separators, sort_keys=True, allow_nan=False)
    write_bytes_atomic(path, (text + "\n").encode())


def _dumps(value) -> str:
    return json.dumps(value, separators=(",", ":"), sort_keys=True, allow_nan=False)


def _write_items(handle, items: Iterable) -> None:
    handle.write("[")
    for number, item in enumerate(items):
        handle.write(("," if number else "") + _dumps(item))
    handle.write("]")


def write_json_streamed(path: Path, fields: Mapping[str, object]) -> None:
    """Write a JSON object item by item, atomically, so memory does not grow with list lengths.

    Keys are written sorted. A value that is an iterator (a generator) is written as a JSON
    array one item at a time; a callable is called when its key is reached (so it can return
    what an earlier key's iterator gathered, or ``OMIT`` to leave the key out); anything else
    is dumped whole. The bytes equal ``write_json_atomic(path, materialized, indent=None)``.
    """
    with _atomic_file(path, "w") as handle:
        handle.write("{")
        written = 0
        for key in sorted(fields):
            value = fields[key]
            value = value() if callable(value) else value
            if value is OMIT:
                continue
            handle.write(("," if written else "") + _dumps(key) + ":")
            written += 1
            if isinstance(value, Iterator):
                _write_items(handle, value)
            else:
                handle.write(_dumps(value))
        handle.write("}\n")


def write_json_list_streamed(path: Path, items: Iterable) -> None:
    """Write a JSON array one item at a time (compact, keys sorted), atomically."""
    with _atomic_file(path, "w") as handle:
        _write_items(handle, items)
        handle.write("\n")


def encode_rle(mask: np.ndarray) -> dict:
    """COCO compressed RLE of a (H, W) bool mask: ``{"size": [H, W], "counts": str}``.

    Fortran-ordered masks (as ``LabelDeriver`` makes them) are encoded without a copy.
    """
    as_bytes = mask.view(np.uint8) if mask.dtype == bool and mask.flags.f_contiguous else mask
    rle = mask_utils.encode(np.asfortranarray(as_bytes, dtype=np.uint8))
    return {"size": [int(s) for s in rle["size"]], "counts": rle["counts"].decode("ascii")}


def decode_rle(rle: dict) -> np.ndarray:
    """(H, W) bool mask of a COCO compressed RLE as written by ``encode_rle``."""
    return mask_utils.decode({"size": rle["size"], "counts": rle["counts"].encode("ascii")}).astype(bool)


def _json_array(array: np.ndarray) -> list:
    """Nested lists of floats for JSON, with NaN (JSON has none) written as null."""
    values = np.asarray(array, dtype=np.float64)
    if np.isfinite(values).all():
        return values.tolist()
    return np.where(np.isfinite(values), values, None).tolist()


def array_from_json(value) -> np.ndarray:
    """Float64 array of JSON lists written by ``_json_array`` (null back to NaN)."""
    def restore(item):
        if isinstance(item, list):
            return [restore(x) for x in item]
        return np.nan if item is None else item

    return np.asarray(restore(value), dtype=np.float64)


def _instance_record(instance: Instance, tracked: bool = False) -> dict:
    cuboid = instance.cuboid
    segmentation = encode_rle(instance.mask)
    # Unoccluded objects have amodal == visible; comparing is ~6x cheaper than encoding. Compared,
    # not inferred from the areas: quarantined samples failed the checks that would justify that.
    same = instance.amodal_area == instance.area and np.array_equal(instance.amodal_mask, instance.mask)
    amodal = segmentation if same else encode_rle(instance.amodal_mask)
    return {
        "instance_id": instance.instance_id,
        "category_id": instance.category_id,
        "category": instance.category,
        "bbox": _json_array(instance.bbox),
        "amodal_bbox": _json_array(instance.amodal_bbox),
        "area": instance.area,
        "amodal_area": instance.amodal_area,
        "occlusion": instance.occlusion,
        "truncation": instance.truncation,
        "keypoints": _json_array(instance.keypoints),
        "cuboid": {
            "dimensions": _json_array(cuboid.dimensions),
            "center": _json_array(cuboid.center),
            "rotation": _json_array(cuboid.rotation),
            "corners_3d": _json_array(cuboid.corners_3d),
            "corners_2d": _json_array(cuboid.corners_2d),
        },
        "pose": _json_array(instance.pose),
        "segmentation": segmentation,
        "amodal_segmentation": amodal,
        **({"track_id": instance.instance_id} if tracked else {}),
    }


# The SUB filter with run-length zlib is ~3x faster than OpenCV's default filtering at
# the same size for renders, depth and label maps (filter option: OpenCV >= 4.10).
_PNG_FAST = [cv2.IMWRITE_PNG_STRATEGY, cv2.IMWRITE_PNG_STRATEGY_RLE]
if hasattr(cv2, "IMWRITE_PNG_FILTER"):
    _PNG_FAST += [cv2.IMWRITE_PNG_FILTER, cv2.IMWRITE_PNG_FILTER_SUB]


def _encode_png(array: np.ndarray, compression: int) -> bytes:
    ok, encoded = cv2.imencode(".png", array, [cv2.IMWRITE_PNG_COMPRESSION, compression, *_PNG_FAST])
    if not ok:
        raise OSError("PNG encoding failed")
    return encoded.tobytes()


def _label_map(values: np.ndarray) -> np.ndarray:
    """Smallest PNG dtype that holds a non-negative label map (uint8 or uint16)."""
    peak = int(values.max(initial=0))
    if peak > _UINT16_MAX:
        raise ValueError(f"label values above {_UINT16_MAX} do not fit a 16-bit PNG")
    return values.astype(np.uint8 if peak <= 255 else np.uint16)


class DatasetWriter:
    """Writes samples into a dataset folder, each committed atomically.

    Thread-safe for distinct sample indices (the pipeline writes from a thread pool).
    Writers see only ``Sample`` data.

    Args:
        root: Dataset folder (created if missing).
        image_format: ``png`` (lossless) or ``jpg``.
        jpeg_quality: JPEG quality 1..100 when ``image_format`` is ``jpg``.
        depth_format: ``png16`` (uint16 millimetres, max 65.535 m) or ``npz``
            (float32 metres, exact).
        png_compression: zlib level 0..9 for every PNG (1 is fast and nearly as small).
        semantic: Also write the semantic (category id) mask.
        flow_format: How sequences' optical flow is written: ``npy`` ((H, W, 2) float32
            pixels, NaN where no surface) or ``kitti_png`` (KITTI 16-bit flow PNG);
            ``generate`` passes ``sequence.flow_format``.
    """

    def __init__(
        self,
        root: str | Path,
        image_format: str = "png",
        jpeg_quality: int = 95,
        depth_format: str = "png16",
        png_compression: int = 1,
        semantic: bool = True,
        flow_format: str = "npy",
    ):
        self.root = Path(root)
        self.image_format = check_choice("image_format", image_format, ["png", "jpg"])
        self.jpeg_quality = check_number("jpeg_quality", jpeg_quality, minimum=1, maximum=100, integer=True)
        self.depth_format = check_choice("depth_format", depth_format, ["png16", "npz"])
        self.png_compression = check_number("png_compression", png_compression, minimum=0, maximum=9, integer=True)
        self.semantic = bool(semantic)
        self.flow_format = check_choice("flow_format", flow_format, ["npy", "kitti_png"])

    def __enter__(self) -> DatasetWriter:
        for folder in ("images", "depth", "instance_ids", "labels", "quarantine") + (("semantic",) if self.semantic else ()):
            (self.root / folder).mkdir(parents=True, exist_ok=True)
        return self

    def __exit__(self, *exc_info) -> None:
        return None

    def committed_indices(self) -> set[int]:
        """Indices already committed (labeled or quarantined): a resumed run skips them."""
        return {int(path.stem) for folder in ("labels", "quarantine") for path in (self.root / folder).glob("*.json")}

    def add(self, sample: Sample) -> dict:
        """Encode and commit one sample; returns its label record."""
        name = _name(sample.index)
        files = {"image": f"images/{name}.{self.image_format}", "instance_ids": f"instance_ids/{name}.png"}
        self._write_image(self.root / files["image"], sample.image)
        write_bytes_atomic(
            self.root / files["instance_ids"], _encode_png(_label_map(sample.instance_ids), self.png_compression)
        )
        files["depth"] = self._write_depth(name, sample.depth)
        if self.semantic:
            files["semantic"] = f"semantic/{name}.png"
            semantic = _label_map(sample.semantic_mask())
            write_bytes_atomic(self.root / files["semantic"], _encode_png(semantic, self.png_compression))
        for direction, field in (("forward", sample.flow_forward), ("backward", sample.flow_backward)):
            if field is not None:
                files.update(self._write_flow(name, direction, field))
        record = self._record(sample, files)
        # Compact JSON uses the C encoder (an indented dump is ~10x slower).
        write_json_atomic(self.root / "labels" / f"{name}.json", record, indent=None)
        return record

    def quarantine(self, sample: Sample, problems: list[str]) -> dict:
        """Set a sample that failed its checks aside, with the reasons; it is never exported."""
        name = _name(sample.index)
        image_file = f"quarantine/{name}.{self.image_format}"
        self._write_image(self.root / image_file, sample.image)
        record = self._record(sample, {"image": image_file})
        record["problems"] = list(problems)
        write_json_atomic(self.root / "quarantine" / f"{name}.json", record)
        return record

    def _record(self, sample: Sample, files: dict) -> dict:
        height, width = sample.instance_ids.shape
        return {
            "format": RECORD_FORMAT,
            "index": sample.index,
            "width": width,
            "height": height,
            "files": files,
            "depth_unit_m": _DEPTH_MM if self.depth_format == "png16" else 1.0,
            "camera": {"K": _json_array(sample.camera.K), "world_to_camera": _json_array(sample.camera.world_to_camera)},
            "instances": [_instance_record(instance, sample.frame is not None) for instance in sample.instances],
            "dropped_instance_ids": list(sample.dropped_instance_ids),
            "polylines": [
                {"category_id": line.category_id, "category": line.category, "points": _json_array(line.points)}
                for line in sample.polylines
            ],
            "augmentations": list(sample.augmentations),
            **(_sequence_fields(sample) if sample.frame is not None else {}),
            **({"generation": sample.generation} if sample.generation is not None else {}),
        }

    def _write_flow(self, name: str, direction: str, field: FlowField) -> dict[str, str]:
        files = {}
        if self.flow_format == "npy":
            files[f"flow_{direction}"] = f"flow_{direction}/{name}.npy"
            buffer = io.BytesIO()
            np.save(buffer, field.flow.astype(np.float32))
            data = buffer.getvalue()
        else:
            files[f"flow_{direction}"] = f"flow_{direction}/{name}.png"
            data = _encode_png(kitti_flow_image(field.flow), self.png_compression)
        files[f"occlusion_{direction}"] = f"occlusion_{direction}/{name}.png"
        for folder in (f"flow_{direction}", f"occlusion_{direction}"):
            (self.root / folder).mkdir(exist_ok=True)
        write_bytes_atomic(self.root / files[f"flow_{direction}"], data)
        occlusion = field.occluded.astype(np.uint8) * 255
        write_bytes_atomic(self.root / files[f"occlusion_{direction}"], _encode_png(occlusion, self.png_compression))
        return files

    def _write_image(self, path: Path, image: np.ndarray) -> None:
        bgr = cv2.cvtColor(image, cv2.COLOR_RGB2BGR)
        if self.image_format == "png":
            data = _encode_png(bgr, self.png_compression)
        else:
            ok, encoded = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, self.jpeg_quality])
            data = encoded.tobytes()
        write_bytes_atomic(path, data)

    def _write_depth(self, name: str, depth: np.ndarray) -> str:
        if self.depth_format == "npz":
            relative = f"depth/{name}.npz"
            buffer = io.BytesIO()
            np.savez_compressed(buffer, depth=depth.astype(np.float32))
            write_bytes_atomic(self.root / relative, buffer.getvalue())
            return relative
        relative = f"depth/{name}.png"
        millimetres = np.clip(np.rint(depth / _DEPTH_MM), 0, _UINT16_MAX).astype(np.uint16)
        write_bytes_atomic(self.root / relative, _encode_png(millimetres, self.png_compression))
        return relative


def _sequence_fields(sample: Sample) -> dict:
    frame = sample.frame
    return {
        "frame": {"clip": frame.clip, "frame": frame.frame, "frames": frame.frames, "fps": frame.fps,
                  "time": frame.time},
        "tracks": [
            {"track_id": track.track_id, "category_id": track.category_id, "category": track.category,
             "state": track.state, "visibility": track.visibility, "amodal_bbox": _json_array(track.amodal_bbox),
             "position": _json_array(track.position), "velocity": _json_array(track.velocity)}
            for track in sample.tracks
        ],
    }


def _read_flow(root: Path, files: dict, direction: str) -> FlowField | None:
    name = files.get(f"flow_{direction}")
    if name is None:
        return None
    flow = np.load(root / name) if name.endswith(".npy") else read_kitti_flow(root / name)
    occluded = _read_image(root / files[f"occlusion_{direction}"], cv2.IMREAD_UNCHANGED) > 0
    return FlowField(flow, occluded)


def read_manifest(root: str | Path) -> dict:
    """The manifest of a dataset folder.

    Raises:
        InputError: The folder has no readable manifest.
    """
    path = Path(root) / MANIFEST
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise InputError(f"{path}: not found; is {root} a synthgen dataset folder?") from None
    except json.JSONDecodeError as error:
        raise InputError(f"{path}: malformed JSON ({error})") from error


def iter_records(root: str | Path, folder: str = "labels") -> Iterator[dict]:
    """Committed label records in index order (``folder="quarantine"`` for quarantined)."""
    for path in sorted((Path(root) / folder).glob("*.json")):
        with open(path) as handle:
            yield json.load(handle)


def _read_image(path: Path, flags: int) -> np.ndarray:
    image = cv2.imread(str(path), flags)
    if image is None:
        raise InputError(f"{path}: missing or unreadable image")
    return image


def read_sample(root: str | Path, index: int) -> Sample:
    """Load a committed sample back from the store (the inverse of ``DatasetWriter.add``)."""
    root = Path(root)
    record_path = root / "labels" / f"{_name(index)}.json"
    if not record_path.is_file():
        raise InputError(f"{record_path}: sample {index} is not committed in {root}")
    record = json.loads(record_path.read_text())
    files = record["files"]
    image = _read_image(root / files["image"], cv2.IMREAD_COLOR)[..., ::-1].copy()
    ids = _read_image(root / files["instance_ids"], cv2.IMREAD_UNCHANGED).astype(np.int32)
    if files["depth"].endswith(".npz"):
        with np.load(root / files["depth"]) as archive:
            depth = archive["depth"]
    else:
        depth = (_read_image(root / files["depth"], cv2.IMREAD_UNCHANGED) * record["depth_unit_m"]).astype(np.float32)
    camera = Camera(np.array(record["camera"]["K"]), np.array(record["camera"]["world_to_camera"]),
                    record["width"], record["height"])
    manifest = read_manifest(root)
    categories = tuple(
        CategoryInfo(c["id"], c["name"], tuple(c["keypoints"]), tuple(tuple(p) for p in c["skeleton"]),
                     c.get("kind", "object"))
        for c in manifest["categories"]
    )
    instances = [_instance_from_record(item, ids) for item in record["instances"]]
    polylines = [
        PolylineLabel(line["category_id"], line["category"], array_from_json(line["points"]).reshape(-1, 3))
        for line in record.get("polylines", [])
    ]
    frame = record.get("frame")
    tracks = [Track(t["track_id"], t["category_id"], t["category"], t["state"], t["visibility"],
                    array_from_json(t["amodal_bbox"]), array_from_json(t["position"]), array_from_json(t["velocity"]))
              for t in record.get("tracks", [])]
    return Sample(index, image, depth, ids, camera, instances, categories, tuple(record["dropped_instance_ids"]),
                  polylines, tuple(record.get("augmentations", [])),
                  frame=FrameInfo(frame["clip"], frame["frame"], frame["frames"], frame["fps"]) if frame else None,
                  tracks=tracks, flow_forward=_read_flow(root, files, "forward"),
                  flow_backward=_read_flow(root, files, "backward"), generation=record.get("generation"))


def _instance_from_record(item: dict, ids: np.ndarray) -> Instance:
    cuboid = item["cuboid"]
    return Instance(
        instance_id=item["instance_id"],
        category_id=item["category_id"],
        category=item["category"],
        mask=ids == item["instance_id"],
        amodal_mask=decode_rle(item["amodal_segmentation"]),
        bbox=array_from_json(item["bbox"]),
        amodal_bbox=array_from_json(item["amodal_bbox"]),
        area=item["area"],
        amodal_area=item["amodal_area"],
        occlusion=item["occlusion"],
        truncation=item["truncation"],
        keypoints=array_from_json(item["keypoints"]).reshape(-1, 3),
        cuboid=Cuboid(*(array_from_json(cuboid[key]) for key in ("dimensions", "center", "rotation", "corners_3d", "corners_2d"))),
        pose=array_from_json(item["pose"]),
    )


STORE_ENTRIES = (MANIFEST, "images", "depth", "instance_ids", "semantic", "labels", "quarantine", "annotations",
                 "exports", "flow_forward", "flow_backward", "occlusion_forward", "occlusion_backward")


def remove_partial_files(root: Path) -> list[Path]:
    """Delete temporary files a killed run left behind (never a committed file); returns them."""
    leftovers = [path for folder in STORE_ENTRIES if (root / folder).is_dir()
                 for path in (root / folder).rglob(".*.tmp-*") if path.is_file()]
    leftovers += [path for path in root.glob(".*.tmp-*") if path.is_file()]
    for path in leftovers:
        path.unlink()
    return leftovers


def clear_dataset(root: Path) -> None:
    """Delete a synthgen dataset's contents.

    Only a folder holding a manifest and nothing but what synthgen writes is cleared;
    anything else there is left untouched and reported.

    Raises:
        InputError: ``root`` is not a synthgen dataset or holds other files.
    """
    if not (root / MANIFEST).is_file():
        raise InputError(f"{root}: refusing to delete a folder that is not a synthgen dataset (no {MANIFEST})")
    foreign = sorted(child.name for child in root.iterdir() if child.name not in STORE_ENTRIES)
    if foreign:
        raise InputError(
            f"{root}: refusing to overwrite, it holds files synthgen did not write: {foreign}; "
            "move them or choose another out="
        )
    for child in root.iterdir():
        if child.is_dir() and not child.is_symlink():
            shutil.rmtree(child)
        else:
            child.unlink()
