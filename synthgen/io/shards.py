"""Tar shards of a store (the webdataset layout): few large files instead of one per sample and modality.

A shard store is a store whose committed samples are packed into ``shards/NNNNNN.tar``:
shard ``k`` holds the samples with index ``k * shard_size`` to ``(k + 1) * shard_size - 1``
in index order, each as consecutive tar members named by webdataset's convention (one key
per sample, the rest of the name is the field):

    000123.png                 the image (or .jpg)
    000123.depth.png           every other file of the record: <key>.<files key>.<extension>
    000123.instance_ids.png
    000123.semantic.png
    000123.json                the label record, unchanged (its ``files`` name the loose layout)

``manifest.json``, ``models/`` (meshes shared by many samples) and ``quarantine/`` stay
loose. ``generate`` packs a shard once all its indices are committed (``ShardPacker``), so
only the shards in flight are loose files. Members carry no time stamp, owner or permissions
of the machine, so the same samples give the same tar bytes whenever they are packed;
unpacking restores the loose store byte for byte, which is how ``synthgen merge`` works on
shards and how a resumed run reopens a tar that a larger ``n`` outgrew. ``webdataset.WebDataset``
reads the tars as they are; ``synthgen.torch.StoreDataset`` reads them by index.
"""

from __future__ import annotations

import io
import json
import shutil
import tarfile
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from synthgen.core.errors import InputError
from synthgen.core.validation import check_number
from synthgen.io.export_files import StoreExporter, place_image
from synthgen.io.files import open_atomic, write_bytes_atomic
from synthgen.io.format_spec import Format
from synthgen.io.input_checks import dataset_path, guarded_reader
from synthgen.io.manifest import MANIFEST
from synthgen.io.store import SHARDS, committed_records, has_shards

__all__ = ["FORMAT", "SHARDS", "ShardIndex", "ShardPacker", "ShardSample", "WebDatasetExporter", "is_shard_store",
           "member_name", "pack_store", "read_member", "unpack_store"]

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


def _labeled(indices: set[int], records: dict[int, Path]) -> list[tuple[int, Path]]:
    """(index, record path) of the labeled samples among ``indices``, in index order (quarantined
    samples stay loose)."""
    return sorted((index, records[index]) for index in indices if records[index].parent.name == "labels")


def _write_shard(path: Path, root: Path, records: list[tuple[int, Path]]) -> None:
    """Stream the records' samples into the tar at ``path`` (atomically: a reader never sees part of it)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open_atomic(path) as handle, tarfile.open(fileobj=handle, mode="w", format=tarfile.USTAR_FORMAT) as archive:
        for index, record_path in records:
            record_bytes = record_path.read_bytes()
            record = json.loads(record_bytes)
            key = f"{index:06d}"
            for files_key, relative in _packed_files(record):
                _add_member(archive, member_name(key, files_key, relative), (root / relative).read_bytes())
            _add_member(archive, f"{key}.json", record_bytes)  # last, as in the store: it commits the sample


def _by_shard(indices: Iterable[int], shard_size: int) -> dict[int, set[int]]:
    shards: dict[int, set[int]] = {}
    for index in indices:
        shards.setdefault(index // shard_size, set()).add(index)
    return shards


class ShardPacker:
    """Packs a store's shards in place as they complete (``writer.layout=webdataset``).

    A shard is packed once every index it holds in this run's plan is committed (labeled or
    quarantined); its labeled samples go into ``shards/NNNNNN.tar`` and their loose files are
    deleted, so a running generation keeps only the shards in flight loose. Thread-safe:
    ``generate`` calls ``pack_ready`` from a thread of its own while samples are committed.

    Args:
        root: The store.
        shard_size: Samples per shard (shard k holds indices ``k * shard_size`` ...).
        indices: The indices this store holds when the run is complete (this run's plan).
    """

    def __init__(self, root: str | Path, shard_size: int, indices: Iterable[int]):
        self.root = Path(root)
        self.shard_size = check_number("shard_size", shard_size, minimum=1, integer=True)
        self.expected = _by_shard(indices, self.shard_size)
        self.packed = {int(path.stem) for path in (self.root / SHARDS).glob("*.tar")}
        self._lock = threading.Lock()

    def reconcile(self) -> None:
        """Before a resumed run: unpack (byte for byte) each tar that no longer holds exactly its
        shard's labeled indices of this run's plan (``n`` grew), so it is packed again when complete."""
        quarantined = {index for index, path in committed_records(self.root).items() if path.parent.name == "quarantine"}
        for tar_path in sorted((self.root / SHARDS).glob("*.tar")):
            shard = int(tar_path.stem)
            samples = _tar_samples(tar_path)
            if {sample.index for sample in samples} != self.expected.get(shard, set()) - quarantined:
                _unpack_tar(tar_path, self.root)
                tar_path.unlink()
                self.packed.discard(shard)
                continue
            for sample in samples:  # a run killed between writing a tar and deleting its loose copies
                loose = self.root / "labels" / f"{sample.key}.json"
                if loose.is_file():
                    self._delete_loose(sample.record, loose)

    def _delete_loose(self, record: dict, record_path: Path) -> None:
        """Delete a packed sample's loose files, the record last (missing ones are fine)."""
        for _, relative in _packed_files(record):
            (self.root / relative).unlink(missing_ok=True)
        record_path.unlink(missing_ok=True)

    def packed_indices(self) -> set[int]:
        """The indices held in this store's tars."""
        return {sample.index for sample in self.packed_samples()}

    def packed_samples(self) -> list[ShardSample]:
        """The samples held in this store's tars, in shard order."""
        return [sample for path in sorted((self.root / SHARDS).glob("*.tar")) for sample in _tar_samples(path)]

    def pack_ready(self) -> list[Path]:
        """Pack every complete shard not packed yet; returns the tars written."""
        with self._lock:
            records = committed_records(self.root)
            written = []
            for shard, indices in sorted(self.expected.items()):
                if shard in self.packed or not indices <= records.keys():
                    continue  # packed already, or still being made
                labeled = _labeled(indices, records)
                if labeled:
                    path = self.root / SHARDS / f"{shard:06d}.tar"
                    _write_shard(path, self.root, labeled)
                    written.append(path)
                    for _, record_path in labeled:  # the tar is in place: the loose copies go
                        self._delete_loose(json.loads(record_path.read_text()), record_path)
                self.packed.add(shard)
            return written

    def remove_empty_folders(self) -> None:
        """Drop the loose folders the shards emptied (at the end of a run)."""
        for folder in sorted(_LOOSE_FOLDERS):
            if (self.root / folder).is_dir() and not any((self.root / folder).iterdir()):
                (self.root / folder).rmdir()


def pack_store(root: str | Path, out: str | Path | None = None, shard_size: int = 1000) -> list[Path]:
    """Pack every committed, labeled sample of a store into tar shards.

    Args:
        root: The store (loose files).
        out: Where ``shards/`` goes: ``root`` itself (default), whose packed loose files are
            then deleted, or another folder (an export: the store is left as it is, and the
            manifest and models are copied beside the shards).
        shard_size: Samples per shard (by index range: shard k holds indices k*size..).

    Returns:
        The shard files written.
    """
    root = Path(root)
    out = root if out is None else Path(out)
    if out.resolve() == root.resolve():
        packer = ShardPacker(root, shard_size, committed_records(root))
        written = packer.pack_ready()
        packer.remove_empty_folders()
        return written
    records = committed_records(root)
    written = []
    for shard, indices in sorted(_by_shard(records, check_number("shard_size", shard_size, minimum=1, integer=True)).items()):
        labeled = _labeled(indices, records)
        if labeled:
            written.append(out / SHARDS / f"{shard:06d}.tar")
            _write_shard(written[-1], root, labeled)
    place_image(root / MANIFEST, out / MANIFEST)
    for model in sorted((root / "models").glob("*.ply")):
        place_image(model, out / "models" / model.name)
    return written


@guarded_reader
def _unpack_tar(tar_path: Path, into: Path) -> list[int]:
    """Write a tar's samples as loose files into ``into`` (each record last: it commits the sample)."""
    samples = _tar_samples(tar_path)
    for sample in samples:
        for files_key, relative in _packed_files(sample.record):
            destination = dataset_path(into, relative, f"{tar_path}: {sample.key}")
            destination.parent.mkdir(parents=True, exist_ok=True)
            write_bytes_atomic(destination, read_member(sample.member(files_key, relative)))
        (into / "labels").mkdir(parents=True, exist_ok=True)
        write_bytes_atomic(into / "labels" / f"{sample.key}.json", read_member(sample.fields["json"]))
    return [sample.index for sample in samples]


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
        unpacked += _unpack_tar(tar_path, into)
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
    """One sample of a shard: its index, key and members, located (not read) when the tar is indexed.

    Attributes:
        index: The sample's index (its key as a number).
        key: Its key, the members' shared name (``000123``).
        fields: Member field -> (tar, offset, size): ``png`` (or ``jpg``), ``depth.png``,
            ``instance_ids.png``, ..., ``json``.
    """

    index: int
    key: str
    fields: dict[str, tuple[Path, int, int]]

    @property
    def record(self) -> dict:
        """The label record (read and parsed on each access: a large shard store holds no records in memory)."""
        return json.loads(read_member(self.fields["json"]))

    @property
    def image(self) -> tuple[Path, int, int]:
        """The image's member."""
        return next(member for field, member in self.fields.items() if "." not in field and field != "json")

    def member(self, files_key: str, relative: str) -> tuple[Path, int, int]:
        """The member holding the record's file ``files_key`` (at ``relative`` in the loose layout).

        Raises:
            InputError: The shard lacks it.
        """
        field = member_name(self.key, files_key, relative).partition(".")[2]
        if field not in self.fields:
            path = self.fields["json"][0]
            raise InputError(f"{path}: sample {self.key!r} lacks its {files_key} member ({self.key}.{field})")
        return self.fields[field]


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
        self.samples = [sample for tar_path in tars for sample in _tar_samples(tar_path)]

    def __len__(self) -> int:
        return len(self.samples)


def read_member(member: tuple[Path, int, int]) -> bytes:
    """A tar member's bytes, from its (tar, offset, size)."""
    path, offset, size = member
    with open(path, "rb") as handle:
        handle.seek(offset)
        return handle.read(size)


@guarded_reader
def _tar_samples(tar_path: Path) -> list[ShardSample]:
    """The samples of one tar, their members located (nothing read but the tar's headers)."""
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
        if not key.isdigit() or not any("." not in field and field != "json" for field in members):
            raise InputError(f"{tar_path}: sample {key!r} is not a synthgen sample (a numeric key with an image)")
        samples.append(ShardSample(int(key), key, members))
    return samples


def is_shard_store(path: str | Path) -> bool:
    """A folder with a manifest and ``shards/*.tar`` (a store written with ``writer.layout=webdataset``)."""
    path = Path(path)
    return (path / MANIFEST).is_file() and has_shards(path)


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

