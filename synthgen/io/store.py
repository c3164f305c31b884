"""The canonical dataset store, the truth every export is derived from: its writer
(``DatasetWriter``), its reader (``read_sample``, ``open_store``, ``iter_records``), counts,
and making a folder ready for a run. The label record's layout is in ``synthgen.io.record``,
the manifest's in ``synthgen.io.manifest``.

Layout of a dataset folder:

    manifest.json              resolved config, seed, versions, categories, counts
    images/000000.png          RGB (or .jpg)
    depth/000000.png           uint16 millimetres, 0 = no surface (or .npz float32 metres)
    instance_ids/000000.png    visible instance id per pixel (uint8, or uint16 above 255)
    semantic/000000.png        category id per pixel (uint8, or uint16 above 255)
    flow_forward/000000.npy    sequences: flow to the next frame (.npy float32 px, or KITTI .png)
    flow_backward/000000.npy   sequences: flow to the previous frame
    occlusion_forward/000000.png  sequences: 255 where the flow's target is hidden or off-image
    occlusion_backward/000000.png
    lidar/000000.pcd           with a LiDAR: the sweep's points (binary PCD: x y z intensity ring t
                               instance label xd yd zd; synthgen.io.point_files)
    labels/000000.json         label record (compact JSON); written last, it commits the sample
    quarantine/000000.json     samples that failed the label self-checks (+ their image)
    models/<name>.ply          the labeled objects' rigid meshes (metres, object frame; BOP export)
    annotations/instances.json COCO export (derived; rebuilt at the end of every run)
    annotations/polylines.json its polylines, when the scene has line labels
    exports/<format>/          other exports run by generate (derived; rebuilt likewise)

Each file is written to a temporary name and renamed into place, so a reader never sees
a partial file; a sample counts as committed only once its label record exists.
"""

from __future__ import annotations

import collections
import io
import itertools
import shutil
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

import cv2
import numpy as np

from synthgen.core import CategoryInfo, FlowField, Sample
from synthgen.core.errors import ConfigError, InputError
from synthgen.core.validation import check_choice, check_number
from synthgen.io.dataset import LabeledDataset, LabeledImage
from synthgen.io.files import write_bytes_atomic, write_json_atomic
from synthgen.io.flow_files import kitti_flow_image, read_kitti_flow
from synthgen.io.format_spec import Format
from synthgen.io.input_checks import contained, guarded_reader, load_json, mapping
from synthgen.io.manifest import MANIFEST, categories_from_manifest, config_diff, read_manifest
from synthgen.io.point_files import pcd_bytes, read_sweep, sweep_array
from synthgen.io.record import labeled_image, model_ply, sample_from_record, sample_record

__all__ = [
    "SHARDS",
    "STORE_ENTRIES",
    "DatasetWriter",
    "StoreImages",
    "clear_dataset",
    "committed_records",
    "has_shards",
    "iter_records",
    "open_store",
    "prepare_store",
    "read_sample",
    "remove_partial_files",
    "store_counts",
    "FORMAT",
]

_DEPTH_MM = 0.001
SHARDS = "shards"  # tar shards of writer.layout=webdataset (synthgen.io.shards)
_SAMPLE_RECORDS = ("labels", "quarantine")  # a sample is committed by its record in one of them
_UINT16_MAX = 65535


def _name(index: int) -> str:
    return f"{index:06d}"


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

    Thread-safe for distinct sample indices (generate writes from a thread pool).
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
        layout: ``files`` (one file per sample and modality) or ``webdataset``: while a
            run goes, each range of ``shard_size`` indices is packed into
            ``shards/NNNNNN.tar`` once all of it is committed (``synthgen.io.shards``), and
            its loose files removed.
        shard_size: Samples per tar shard (``layout=webdataset``).
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
        layout: str = "files",
        shard_size: int = 1000,
    ):
        self.root = Path(root)
        self.image_format = check_choice("image_format", image_format, ["png", "jpg"])
        self.jpeg_quality = check_number("jpeg_quality", jpeg_quality, minimum=1, maximum=100, integer=True)
        self.depth_format = check_choice("depth_format", depth_format, ["png16", "npz"])
        self.png_compression = check_number("png_compression", png_compression, minimum=0, maximum=9, integer=True)
        self.semantic = bool(semantic)
        self.flow_format = check_choice("flow_format", flow_format, ["npy", "kitti_png"])
        self.layout = check_choice("layout", layout, ["files", "webdataset"])
        self.shard_size = check_number("shard_size", shard_size, minimum=1, integer=True)

    def __enter__(self) -> DatasetWriter:
        folders = ("images", "depth", "instance_ids", "labels", "quarantine", "models")
        for folder in folders + (("semantic",) if self.semantic else ()):
            (self.root / folder).mkdir(parents=True, exist_ok=True)
        return self

    def __exit__(self, *exc_info) -> None:
        return None

    def committed_indices(self) -> set[int]:
        """Indices already committed (labeled or quarantined): a resumed run skips them."""
        return set(committed_records(self.root))

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
        if sample.lidar is not None:
            files["lidar"] = f"lidar/{name}.pcd"
            (self.root / "lidar").mkdir(exist_ok=True)
            write_bytes_atomic(self.root / files["lidar"], pcd_bytes(sweep_array(sample.lidar)))
        files.update(self._write_models(sample))
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
        return sample_record(sample, files, _DEPTH_MM if self.depth_format == "png16" else 1.0)

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

    def _write_models(self, sample: Sample) -> dict[str, str]:
        """Each instance's rigid mesh as ``models/<name>.ply`` (metres, object frame), written once
        per store: a model is the same bytes whichever sample or process writes it."""
        files = {}
        for name in sorted({instance.model for instance in sample.instances if instance.model}):
            relative = f"models/{name}.ply"
            if not (self.root / relative).is_file():
                write_bytes_atomic(self.root / relative, model_ply(sample.models[name]))
            files[f"model_{name}"] = relative
        return files

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


def _read_flow(root: Path, files: dict, direction: str) -> FlowField | None:
    name = files.get(f"flow_{direction}")
    if name is None:
        return None
    flow = np.load(root / name) if name.endswith(".npy") else read_kitti_flow(root / name)
    occluded = _read_image(root / files[f"occlusion_{direction}"], cv2.IMREAD_UNCHANGED) > 0
    return FlowField(flow, occluded)


def iter_records(root: str | Path, folder: str = "labels") -> Iterator[dict]:
    """Committed label records in index order (``folder="quarantine"`` for quarantined).

    Raises:
        InputError: A record that is not a JSON object (named).
    """
    for path in sorted((Path(root) / folder).glob("*.json")):
        yield mapping(load_json(path), str(path))


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
    record = mapping(load_json(record_path), str(record_path))
    categories = categories_from_manifest(read_manifest(root))
    labeled = labeled_image(root, record, categories, str(record_path))  # every field checked before the arrays are read
    files = record["files"]
    image = _read_image(root / files["image"], cv2.IMREAD_COLOR)[..., ::-1].copy()
    ids = _read_image(root / files["instance_ids"], cv2.IMREAD_UNCHANGED).astype(np.int32)
    if files["depth"].endswith(".npz"):
        with np.load(root / files["depth"]) as archive:
            depth = archive["depth"]
    else:
        depth = (_read_image(root / files["depth"], cv2.IMREAD_UNCHANGED) * record["depth_unit_m"]).astype(np.float32)
    lidar = read_sweep(labeled.lidar) if labeled.lidar is not None else None
    return sample_from_record(record, image, depth, ids, categories,
                              _read_flow(root, files, "forward"), _read_flow(root, files, "backward"), lidar)


def committed_records(root: Path) -> dict[int, Path]:
    """Index -> record path of every committed sample (labeled or quarantined), listed once."""
    return {int(path.stem): path for folder in _SAMPLE_RECORDS for path in (root / folder).glob("*.json")}


def store_counts(root: Path, categories: tuple[CategoryInfo, ...], packed: Iterable[dict] = ()) -> dict:
    """What a store holds, for its manifest: images, instances (per category), quarantined, dropped.

    Args:
        root: The store.
        categories: Its categories.
        packed: Label records of samples packed into tar shards (``synthgen.io.shards``),
            counted with the loose ones.
    """
    per_category = collections.Counter()
    images = dropped = 0
    for record in itertools.chain(iter_records(root), packed):
        images += 1
        dropped += len(record["dropped_instance_ids"])
        per_category.update(item["category"] for item in record["instances"])
    return {
        "images": images,
        "instances": sum(per_category.values()),
        "instances_per_category": {c.name: per_category.get(c.name, 0) for c in categories},
        "quarantined": sum(1 for _ in (root / "quarantine").glob("*.json")),
        "dropped_instances": dropped,
    }


class StoreImages(Sequence[LabeledImage]):
    """The committed images of a synthgen store, read from their records when accessed.

    A sequence (``len``, indexing, slicing, iteration in index order) that keeps only the
    record paths in memory, so exporters that iterate over it stream the dataset: their
    memory does not grow with its size. Each access reads the record again.

    Args:
        root: Dataset folder.
    """

    def __init__(self, root: Path, categories: tuple[CategoryInfo, ...]):
        self.root, self.categories = root, categories
        self._records = sorted((root / "labels").glob("*.json"))

    def __len__(self) -> int:
        return len(self._records)

    def __getitem__(self, position):
        if isinstance(position, slice):
            return [self._image(path) for path in self._records[position]]
        return self._image(self._records[position])

    def __iter__(self) -> Iterator[LabeledImage]:
        for path in self._records:
            yield self._image(path)

    def _image(self, path: Path) -> LabeledImage:
        return _stored_image(path, self.root, self.categories)


@guarded_reader
def _stored_image(path: Path, root: Path, categories: tuple[CategoryInfo, ...]) -> LabeledImage:
    contained(root, path, str(path))
    return labeled_image(root, load_json(path), categories, str(path))


def has_shards(root: Path) -> bool:
    """Whether the store's samples are (partly) packed in tar shards (``writer.layout=webdataset``)."""
    return any((root / SHARDS).glob("*.tar"))


@guarded_reader
def open_store(root: str | Path) -> LabeledDataset:
    """The committed samples of a synthgen dataset folder as a ``LabeledDataset``.

    Its ``images`` are a ``StoreImages`` sequence: records are read as they are visited,
    not held in memory.

    Records are checked as they are read (``synthgen.io.record.labeled_image``): a damaged
    one is an InputError naming it when it is visited.

    Raises:
        InputError: ``root`` is not a synthgen dataset (no manifest) or its manifest is malformed.
    """
    root = Path(root)
    categories = categories_from_manifest(read_manifest(root))
    if has_shards(root):
        raise InputError(f"{root}: its samples are packed in tar shards (writer.layout=webdataset): read it with "
                         "synthgen.torch.StoreDataset or webdataset; for the other tools, unpack a loose copy "
                         "(synthgen.io.shards.unpack_store(root, into)) or generate with writer.layout=files")
    return LabeledDataset(root.name, categories, StoreImages(root, categories))


STORE_ENTRIES = (MANIFEST, SHARDS, "images", "depth", "instance_ids", "semantic", "labels", "quarantine", "annotations",
                 "exports", "flow_forward", "flow_backward", "occlusion_forward", "occlusion_backward", "models", "lidar")


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


def prepare_store(root: Path, config: dict, *, resume: bool, overwrite: bool) -> None:
    """Make ``root`` ready for a run without losing anything by accident.

    A non-empty folder is refused unless ``resume`` (same config, committed samples are
    kept) or ``overwrite`` (a synthgen dataset there is deleted; a folder holding
    anything synthgen did not write is refused).

    Raises:
        ConfigError: ``resume`` and ``overwrite`` are both set.
        InputError: The folder is not usable, or resuming with a different config.
    """
    if resume and overwrite:
        raise ConfigError("resume/overwrite: choose one; resume=true keeps committed samples, overwrite=true deletes them")
    if root.exists() and not root.is_dir():
        raise InputError(f"out={root}: exists and is not a folder; choose another out=")
    if root.is_dir() and any(root.iterdir()):
        if overwrite:
            clear_dataset(root)
        elif resume:
            remove_partial_files(root)  # writes cut short by a crash or kill -9
            previous = read_manifest(root).get("config", {})
            differences = config_diff(previous, config)
            if differences:
                raise InputError(
                    f"out={root}: cannot resume, the config differs from the one that started this dataset:\n  "
                    + "\n  ".join(differences)
                    + "\nrun with the original settings, or overwrite=true to start over"
                )
        else:
            raise InputError(
                f"out={root}: folder is not empty; pass resume=true to complete the dataset there, "
                "overwrite=true to replace it, or choose another out="
            )
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise InputError(f"out={root}: cannot create the folder ({error.strerror or error}); choose another out=") from error


def _is_store(path: Path) -> bool:
    return path.is_dir() and (path / MANIFEST).is_file()


FORMAT = Format("synthgen", "synthgen's own store: every label, depth, id maps, flow", read=lambda path, name: open_store(path),
                detect=_is_store, writes=False)
