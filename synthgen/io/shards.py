"""Tar shards of a store (the webdataset layout): few large files instead of one per sample and modality.

A shard store is a store whose committed samples are packed into ``shards/NNNNNN.tar``:
shard ``k`` holds the samples with index ``k * shard_size`` to ``(k + 1) * shard_size - 1``
in index order, each as consecutive tar members named by webdataset's convention (one key
per sample, the rest of the name is the field)::

    000123.png                 the image (or .jpg)
    000123.depth.png           every other file of the record: <key>.<files key>.<extension>
    000123.instance_ids.png
    000123.semantic.png
    000123.json                the label record, unchanged (its ``files`` name the loose layout)

``manifest.json``, ``models/`` (meshes shared by many samples) and ``quarantine/`` stay
loose. Members carry no time stamp, owner or permissions of the machine, so the same
samples give the same tar bytes; unpacking restores the loose store byte for byte, which is
how a resumed run or ``synthgen merge`` works on shards. ``webdataset.WebDataset`` reads the
tars as they are; ``synthgen.torch.StoreDataset`` reads them by index.
"""

from __future__ import annotations

import io
import json
import shutil
import tarfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from synthgen.core.errors import InputError
from synthgen.core.validation import check_number
from synthgen.io.export_files import StoreExporter, place_image
from synthgen.io.files import write_bytes_atomic
from synthgen.io.format_spec import Format
from synthgen.io.input_checks import dataset_path, guarded_reader
from synthgen.io.manifest import MANIFEST
from synthgen.io.store import committed_records

__all__ = ["FORMAT", "SHARDS", "ShardIndex", "ShardSample", "WebDatasetExporter", "is_shard_store", "member_name", "pack_store",
           "unpack_store"]

SHARDS = "shards"
_LOOSE_FOLDERS = {"images", "depth", "instance_ids", "semantic", "labels", "flow_forward", "flow_backward",
                  "occlusion_forward", "occlusion_backward"}
_MODEL_PREFIX = "model_"  # record files keys of shared meshes: they stay loose in models/


def member_name(key: str, files_key: str, relative: str) -> str:
    """The tar member of a record's file: ``<key>.<ext>`` for the image, ``<key>.<files key>.<ext>`` else."""
    extension = relative.rsplit(".", 1)[-1]
    return f"{key}.{extension}" if files_key == "image" else f"{key}.{files_key}.{extension}"


def _packed_files(record: dict) -> list[tuple[str, str]]:
    """(files key, relative path) of the record's files that go into its shard, in a fixed order."""
    files = record["files"]
    return [("image", files["image"])] + sorted((key, value) for key, value in files.items()
                                                if key != "image" and not key.startswith(_MODEL_PREFIX))


def _add_member(archive: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size, info.mode, info.mtime = len(data), 0o644, 0  # nothing of this machine or moment
    archive.addfile(info, io.BytesIO(data))


def _write_shard(path: Path, root: Path, records: list[tuple[int, Path]]) -> None:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.USTAR_FORMAT) as archive:
        for index, record_path in records:
            record_bytes = record_path.read_bytes()
            record = json.loads(record_bytes)
            key = f"{index:06d}"
            for files_key, relative in _packed_files(record):
                _add_member(archive, member_name(key, files_key, relative), (root / relative).read_bytes())
            _add_member(archive, f"{key}.json", record_bytes)  # last, as in the store: it commits the sample
    write_bytes_atomic(path, buffer.getvalue())


def pack_store(root: str | Path, out: str | Path | None = None, shard_size: int = 1000,
               complete_only: Iterable[int] | None = None) -> list[Path]:
    """Pack a store's labeled samples into tar shards.

    Args:
        root: The store (loose files).
        out: Where ``shards/`` goes: ``root`` itself (default), whose packed loose files are
            then deleted, or another folder (an export: the store is left as it is, and the
            manifest and models are copied beside the shards).
        shard_size: Samples per shard (by index range: shard k holds indices k*size..).
        complete_only: The indices this store will hold; a shard is packed only once all
            of its indices among them are committed (None: pack every shard).

    Returns:
        The shard files written.
    """
    root = Path(root)
    out = root if out is None else Path(out)
    in_place = out.resolve() == root.resolve()
    shard_size = check_number("shard_size", shard_size, minimum=1, integer=True)
    labeled = {index: path for index, path in committed_records(root).items() if path.parent.name == "labels"}
    committed = set(committed_records(root))
    expected: dict[int, set[int]] = {}
    for index in (committed if complete_only is None else complete_only):
        expected.setdefault(index // shard_size, set()).add(index)
    (out / SHARDS).mkdir(parents=True, exist_ok=True)
    written = []
    for shard, indices in sorted(expected.items()):
        if not indices <= committed:
            continue  # still being made: packed by the run that completes it
        members = sorted((index, labeled[index]) for index in indices if index in labeled)
        if not members:
            continue
        path = out / SHARDS / f"{shard:06d}.tar"
        _write_shard(path, root, members)
        written.append(path)
        if in_place:  # the tar is in place: the loose copies go, the record last
            for _, record_path in members:
                record = json.loads(record_path.read_text())
                for _, relative in _packed_files(record):
                    (root / relative).unlink()
                record_path.unlink()
    if in_place:  # folders the shards emptied
        for folder in sorted(_LOOSE_FOLDERS):
            if (root / folder).is_dir() and not any((root / folder).iterdir()):
                (root / folder).rmdir()
    else:
        place_image(root / MANIFEST, out / MANIFEST)
        for model in sorted((root / "models").glob("*.ply")):
            place_image(model, out / "models" / model.name)
    return written


def unpack_store(root: str | Path, into: str | Path | None = None) -> list[int]:
    """Restore a shard store's loose files (byte for byte) from its tars.

    Args:
        root: The shard store.
        into: Where the loose files go: ``root`` itself (default; the tars are deleted
            once unpacked), or another folder (a loose copy; ``root`` is left as it is).

    Returns:
        The indices unpacked.

    Raises:
        InputError: A damaged shard, or a member whose name leaves the store.
    """
    root = Path(root)
    into = root if into is None else Path(into)
    unpacked = []
    for tar_path in sorted((root / SHARDS).glob("*.tar")):
        index = ShardIndex.of_file(tar_path)
        for sample in index.samples:
            for files_key, relative in _packed_files(sample.record):
                destination = dataset_path(into, relative, f"{tar_path}: {sample.key}")
                destination.parent.mkdir(parents=True, exist_ok=True)
                write_bytes_atomic(destination, index.read(sample.members[files_key]))
            (into / "labels").mkdir(parents=True, exist_ok=True)
            write_bytes_atomic(into / "labels" / f"{sample.key}.json", index.read(sample.members["json"]))
            unpacked.append(sample.index)
        if into.resolve() == root.resolve():
            tar_path.unlink()
    if into.resolve() != root.resolve():
        for entry in (MANIFEST, "models", "quarantine"):
            source = root / entry
            if source.is_file():
                place_image(source, into / entry)
            elif source.is_dir():
                shutil.copytree(source, into / entry, dirs_exist_ok=True)
    if (root / SHARDS).is_dir() and not any((root / SHARDS).iterdir()):
        (root / SHARDS).rmdir()
    return sorted(unpacked)


@dataclass
class ShardSample:
    """One sample of a shard: its index, key, label record and member offsets (files key -> (offset, size))."""

    index: int
    key: str
    record: dict
    members: dict[str, tuple[Path, int, int]]  # files key (and "json") -> (tar, offset, size)


class ShardIndex:
    """Random access to the samples of a shard store's tars (members located once, read by offset).

    Args:
        root: A shard store (``manifest.json`` and ``shards/*.tar``), or an export of one.

    Raises:
        InputError: Not a shard store, a damaged tar, or a sample whose record is missing.
    """

    def __init__(self, root: str | Path):
        root = Path(root)
        tars = sorted((root / SHARDS).glob("*.tar"))
        if not tars:
            raise InputError(f"{root}: no {SHARDS}/*.tar; not a shard store (writer.layout=webdataset)")
        self.root = root
        self.samples = [sample for tar_path in tars for sample in ShardIndex.of_file(tar_path).samples]

    @classmethod
    def of_file(cls, tar_path: Path) -> ShardIndex:
        """The index of one tar."""
        return _index_of_tar(tar_path, cls.__new__(cls))

    def __len__(self) -> int:
        return len(self.samples)

    @staticmethod
    def read(member: tuple[Path, int, int]) -> bytes:
        """A member's bytes."""
        path, offset, size = member
        with open(path, "rb") as handle:
            handle.seek(offset)
            return handle.read(size)


@guarded_reader
def _index_of_tar(tar_path: Path, index: ShardIndex) -> ShardIndex:
    index.root = tar_path.parent.parent
    grouped: dict[str, dict[str, tuple[Path, int, int]]] = {}
    try:
        with tarfile.open(tar_path, mode="r:") as archive:
            for info in archive:
                if not info.isfile():
                    raise InputError(f"{tar_path}: member {info.name!r} is not a file; a shard holds files only")
                key, _, field = info.name.partition(".")
                grouped.setdefault(key, {})[field] = (tar_path, info.offset_data, info.size)
    except (tarfile.TarError, EOFError) as error:
        raise InputError(f"{tar_path}: not a readable tar ({error}); rewrite the shard") from error
    samples = []
    for key, members in grouped.items():
        if "json" not in members:
            raise InputError(f"{tar_path}: sample {key!r} has no label record ({key}.json)")
        record = json.loads(index.read(members["json"]))
        named = {files_key: members.get(member_name(key, files_key, relative).partition(".")[2])
                 for files_key, relative in _packed_files(record)}
        missing = [files_key for files_key, member in named.items() if member is None]
        if missing:
            raise InputError(f"{tar_path}: sample {key!r} lacks its {missing} member(s)")
        samples.append(ShardSample(int(record["index"]), key, record, {**named, "json": members["json"]}))
    index.samples = samples
    return index


def is_shard_store(path: str | Path) -> bool:
    """A folder with a manifest and ``shards/*.tar`` (a store written with ``writer.layout=webdataset``)."""
    path = Path(path)
    return (path / MANIFEST).is_file() and any((path / SHARDS).glob("*.tar"))


class WebDatasetExporter(StoreExporter):
    """A store as webdataset tar shards (``synthgen export format=webdataset``; conf/export/webdataset.yaml).

    Args:
        shard_size: Samples per shard (index ranges of this size).
    """

    folder = "webdataset"

    def __init__(self, shard_size: int = 1000):
        self.shard_size = check_number("shard_size", shard_size, minimum=1, integer=True)

    def export_to(self, root: str | Path, out: Path) -> Path:
        pack_store(root, out, self.shard_size)
        return out / SHARDS

    def write(self, dataset, out: Path) -> Path:
        raise InputError("format=webdataset: packs a synthgen store (images, depth and id maps with their records); "
                         "give a synthgen dataset folder as in=")


FORMAT = Format("webdataset", "tar shards of a synthgen store (webdataset's layout; read by synthgen.torch, webdataset)",
                writes=True, needs="store")

